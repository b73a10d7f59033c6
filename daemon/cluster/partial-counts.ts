import { UrlInterner } from '../counts/index.js';
import { DimensionBatch } from '../counts/dimension-batch.js';
import { KeyHash } from '../counts/key-hash.js';
import { FIELD, LineFields } from '../logformat/line-fields.js';
import { LineClock } from '../logformat/line-clock.js';
import type { LineParser } from '../logformat/log-format.js';
import { groupByKey, type SectionPart } from './cells-wire.js';
import { encodePartial, type SlotCells } from './partial-wire.js';
import { hashBytes } from './wire-bytes.js';

interface SlotAccumulator {
  parseErrors: number;
  /** Per dimension, its cells (key, status) with their lines and bytes, and their distinct clients where visitors are counted. */
  readonly dims: DimensionBatch[];
}

/** What a counter counts by: a dimension's name, its field in the parsed line, and whether its keys' visitors are counted (as a single process's job: the format has a client, and it is not the client). */
export interface CountedDimension {
  readonly name: string;
  readonly field: number;
  readonly visitors: boolean;
}

/** A (dimension, key)'s merge shard: the key's bytes hashed with the dimension's name. */
export function shardOfKey(dimensionTag: number, bytes: Uint8Array, start: number, end: number, shards: number): number {
  return hashBytes(dimensionTag, bytes, start, end) % shards;
}

/** The tag a dimension's keys are hashed with. */
export function dimensionTag(name: string): number {
  const bytes = Buffer.from(name, 'utf8');
  return hashBytes(0, bytes, 0, bytes.length);
}

/** What the counter decides about a partial besides what it counted (see PartialHead). */
export interface PartialPlace {
  readonly partition: number;
  readonly after: number;
  readonly to: number;
  readonly atMs: number;
  readonly wmMs: number;
}

/**
 * Counts the lines of one partition's event messages into per-slot counts by dimension:
 * the counter's whole work. A line is placed by the time the stream stored its message
 * (`time = processing`: the cluster's ingestion time, the same whoever counts it and
 * whenever) or by its own time (`event`: `[time]`, an ISO time or a JSON one). Each
 * dimension's key is its field's bytes (an interner per dimension, as the job has), counted
 * in the cell of the line's status with its bytes, as a single process counts; no string is
 * made per line. `build` splits the (dimension, key) pairs by shard.
 *
 * Deterministic: the same messages give the same partial, byte for byte (a counter that
 * takes a partition over republishes its predecessor's pending partial as it was).
 */
export class PartialBuilder {
  readonly #parse: LineParser;
  readonly #batchMs: number;
  readonly #eventTime: boolean;
  readonly #clock = new LineClock();
  readonly #range: LineFields;
  readonly #dims: readonly CountedDimension[];
  readonly #fields: Int32Array;
  readonly #visitors: Uint8Array;
  readonly #anyVisitors: boolean;
  /** The line's client hashed as the single process's job hashes it (its window's visitors). */
  readonly #hash = new KeyHash();
  readonly #keys: UrlInterner[];
  readonly #slots = new Map<number, SlotAccumulator>();
  #lastSlot = NaN;
  #lastAcc: SlotAccumulator | undefined;
  #events = 0;
  #maxEventMs = NaN;
  #unplacedErrors = 0;
  /** Distinct (slot, dimension, key, status) cells: what the partial's size grows with. */
  #entries = 0;
  #lastSeq = 0;
  #lastTimeMs = 0;
  #firstTimeMs = 0;
  #messages = 0;
  /** Event time: each edge's (its subject's last token) newest line time. */
  readonly #sources = new Map<string, number>();
  #source = '';
  #sourceMax = NaN;
  /** Lines whose first dimension's key is longer than a message can hold: counted as parse errors, and told. */
  oversizedUrls = 0;

  /** `parse`: the log format's line parser, with `fieldCount` fields; `dims` what is counted (the first: lines are counted by it). */
  constructor(parse: LineParser, fieldCount: number, dims: readonly CountedDimension[], batchMs: number, eventTime: boolean) {
    this.#parse = parse;
    this.#range = new LineFields(fieldCount);
    this.#dims = dims;
    this.#fields = Int32Array.from(dims.map((d) => d.field));
    this.#visitors = Uint8Array.from(dims.map((d) => (d.visitors ? 1 : 0)));
    this.#anyVisitors = dims.some((d) => d.visitors);
    this.#keys = dims.map(() => new UrlInterner(1024));
    this.#batchMs = batchMs;
    this.#eventTime = eventTime;
  }

  get events(): number {
    return this.#events;
  }

  get entries(): number {
    return this.#entries;
  }

  /** The sequence and stored time of the last message added (0: none). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  get lastTimeMs(): number {
    return this.#lastTimeMs;
  }

  /** Messages added, and when the first of them was stored (0: none). */
  get messages(): number {
    return this.#messages;
  }

  get firstTimeMs(): number {
    return this.#firstTimeMs;
  }

  /** Counts one message's lines (its bodies joined by LF); `source` is the edge that sent it. */
  add(seq: number, data: Buffer, storedMs: number, source = ''): void {
    if (this.#messages++ === 0) this.#firstTimeMs = storedMs;
    if (this.#eventTime && source !== this.#source) {
      this.#saveSource();
      this.#source = source;
      this.#sourceMax = this.#sources.get(source) ?? NaN;
    }
    this.#lastSeq = seq;
    this.#lastTimeMs = storedMs;
    const processingSlot = Math.floor(storedMs / this.#batchMs);
    let start = 0;
    for (;;) {
      const lf = data.indexOf(10, start);
      const end = lf < 0 ? data.length : lf;
      this.#line(data, start, end, processingSlot);
      if (lf < 0) break;
      start = lf + 1;
    }
  }

  #saveSource(): void {
    if (!Number.isNaN(this.#sourceMax)) this.#sources.set(this.#source, this.#sourceMax);
  }

  #line(data: Buffer, start: number, end: number, processingSlot: number): void {
    const range = this.#range;
    this.#events++;
    const ok = this.#parse(data, start, end, range);
    let slot = processingSlot;
    if (this.#eventTime) {
      const time = ok ? this.#clock.timeOf(data, range) : NaN;
      if (Number.isNaN(time)) {
        this.#unplacedErrors++;
        return;
      }
      if (!(time <= this.#maxEventMs)) this.#maxEventMs = time;
      if (!(time <= this.#sourceMax)) this.#sourceMax = time;
      slot = Math.floor(time / this.#batchMs);
    }
    let acc = this.#lastAcc;
    if (slot !== this.#lastSlot || acc === undefined) {
      acc = this.#slots.get(slot);
      if (!acc) {
        acc = { parseErrors: 0, dims: this.#dims.map((d) => new DimensionBatch(d.visitors)) };
        this.#slots.set(slot, acc);
      }
      this.#lastSlot = slot;
      this.#lastAcc = acc;
    }
    if (!ok) {
      acc.parseErrors++;
      return;
    }
    const code = range.status;
    const bytes = range.bytes;
    const fields = this.#fields;
    let hi = 0;
    let lo = 0;
    if (this.#anyVisitors) {
      const c = FIELD.client;
      this.#hash.of(range.bufs[c]!, range.starts[c]!, range.ends[c]!);
      hi = this.#hash.hi;
      lo = this.#hash.lo;
    }
    const visitors = this.#visitors;
    for (let d = 0; d < fields.length; d++) {
      const batch = acc.dims[d]!;
      const fi = fields[d]!;
      const before = batch.size;
      // The field's bytes: the line's own, or a JSON string's unescaped copy.
      const key = this.#keys[d]!.id(range.bufs[fi]!, range.starts[fi]!, range.ends[fi]!);
      if (visitors[d] === 1) batch.add(key, code, hi, lo, bytes);
      else batch.add(key, code, 0, 0, bytes);
      if (batch.size !== before) this.#entries++;
    }
  }

  /**
   * The partial's messages, per shard (`shards` of them, each at least one message of at
   * most `maxBytes`). Slots go in time order and keys in the order they were first counted.
   */
  build(place: PartialPlace, shards: number, maxBytes: number): Buffer[][] {
    const dims = this.#dims;
    const tags = dims.map((d) => dimensionTag(d.name));
    const shardOf = this.#keys.map((keys) => new Int32Array(keys.idLimit).fill(-1));
    const scratch = Buffer.allocUnsafe(4096);
    // A key that cannot fit in a message even alone: dropped from its dimension (a parse
    // error of its slot when it is the first's, which lines are counted by; said in the log).
    const keyRoom = maxBytes - 256;
    const perShard: SlotCells[][] = Array.from({ length: shards }, () => []);
    const ordered = [...this.#slots.entries()].sort((a, b) => a[0] - b[0]);
    for (const [slot, acc] of ordered) {
      let parseErrors = acc.parseErrors;
      const parts: SectionPart[][] = Array.from({ length: shards }, () => []);
      for (let d = 0; d < dims.length; d++) {
        const keys = this.#keys[d]!;
        const batch = acc.dims[d]!;
        if (batch.size === 0) continue;
        const cells = groupByKey(d, keys, batch);
        const orders = Array.from({ length: shards }, () => new Int32Array(cells.groupKeys.length));
        const n = new Int32Array(shards);
        const shardOfD = shardOf[d]!;
        for (let g = 0; g < cells.groupKeys.length; g++) {
          const id = cells.groupKeys[g]!;
          const len = keys.byteLength(id);
          if (len > keyRoom) {
            let lines = 0;
            for (let j = cells.groupStarts[g]!; j < cells.groupStarts[g + 1]!; j++) lines += batch.counts[cells.groupCells[j]!]!;
            if (d === 0) {
              parseErrors += lines;
              this.oversizedUrls += lines;
            }
            continue;
          }
          let s = shardOfD[id]!;
          if (s < 0) {
            const bytes = len <= scratch.length ? scratch : Buffer.allocUnsafe(len);
            keys.copyBytes(id, bytes, 0);
            s = shardOfD[id] = shardOfKey(tags[d]!, bytes, 0, len, shards);
          }
          orders[s]![n[s]!++] = g;
        }
        for (let s = 0; s < shards; s++) if (n[s]! > 0) parts[s]!.push({ cells, order: orders[s]!, n: n[s]! });
      }
      for (let s = 0; s < shards; s++) {
        // Parse errors have no key: shard 0 takes them.
        const pe = s === 0 ? parseErrors : 0;
        if (parts[s]!.length > 0 || pe > 0) perShard[s]!.push({ slot, parseErrors: pe, parts: parts[s]! });
      }
    }
    this.#saveSource();
    const head = {
      ...place,
      sources: [...this.#sources].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
      shards,
      batchMs: this.#batchMs,
      maxEventMs: Number.isNaN(this.#maxEventMs) ? null : this.#maxEventMs,
      rangeEvents: this.#events,
      dims: dims.map((d) => d.name),
    };
    return perShard.map((slots, shard) => encodePartial({ ...head, shard, unplacedErrors: shard === 0 ? this.#unplacedErrors : 0 }, slots, maxBytes));
  }
}
