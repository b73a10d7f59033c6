import { BatchCounts, UrlInterner } from '../counts/index.js';
import { FIELD, LineFields } from '../logformat/line-fields.js';
import { LineClock } from '../logformat/line-clock.js';
import type { LineParser } from '../logformat/log-format.js';
import { DIMENSION_URL, encodePartial, type SlotKeys } from './partial-wire.js';
import { hashBytes } from './wire-bytes.js';

interface SlotAccumulator {
  parseErrors: number;
  readonly counts: BatchCounts;
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
 * Counts the lines of one partition's event messages into per-slot URL counts: the
 * counter's whole work. A line is placed by the time the stream stored its message
 * (`time = processing`: the cluster's ingestion time, the same whoever counts it and
 * whenever) or by its own time (`event`: `[time]`, an ISO time or a JSON one). The URL
 * is the format's `url` field; it is counted by its bytes (an interner, as the job does),
 * so no string is made per line; `build` splits the keys by shard.
 *
 * Deterministic: the same messages give the same partial, byte for byte (a counter that
 * takes a partition over republishes its predecessor's pending partial as it was).
 */
export class PartialBuilder {
  readonly #parse: LineParser;
  readonly #batchMs: number;
  readonly #eventTime: boolean;
  readonly #clock = new LineClock();
  readonly #range = new LineFields();
  readonly #keys = new UrlInterner(1024);
  readonly #slots = new Map<number, SlotAccumulator>();
  #lastSlot = NaN;
  #lastAcc: SlotAccumulator | undefined;
  #events = 0;
  #maxEventMs = NaN;
  #unplacedErrors = 0;
  /** Distinct (slot, URL) pairs: what the partial's size grows with. */
  #entries = 0;
  #lastSeq = 0;
  #lastTimeMs = 0;
  #firstTimeMs = 0;
  #messages = 0;
  /** Event time: each edge's (its subject's last token) newest line time. */
  readonly #sources = new Map<string, number>();
  #source = '';
  #sourceMax = NaN;
  /** Lines whose URL is longer than a message can hold: counted as parse errors, and told. */
  oversizedUrls = 0;

  /** `parse`: the log format's line parser (the `url` field is what is counted). */
  constructor(parse: LineParser, batchMs: number, eventTime: boolean) {
    this.#parse = parse;
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
        acc = { parseErrors: 0, counts: new BatchCounts() };
        this.#slots.set(slot, acc);
      }
      this.#lastSlot = slot;
      this.#lastAcc = acc;
    }
    if (!ok) {
      acc.parseErrors++;
      return;
    }
    const counts = acc.counts;
    const before = counts.size;
    // The URL's bytes: the line's own, or a JSON string's unescaped copy (`scratch`).
    counts.add(this.#keys.id(range.bufs[FIELD.url]!, range.starts[FIELD.url]!, range.ends[FIELD.url]!));
    if (counts.size !== before) this.#entries++;
  }

  /**
   * The partial's messages, per shard (`shards` of them, each at least one message of at
   * most `maxBytes`). Slots go in time order and keys in the order they were first counted.
   */
  build(place: PartialPlace, shards: number, maxBytes: number): Buffer[][] {
    const keys = this.#keys;
    const shardOf = new Int32Array(keys.idLimit).fill(-1);
    const scratch = Buffer.allocUnsafe(4096);
    const shardOfId = (id: number) => {
      let s = shardOf[id]!;
      if (s >= 0) return s;
      const len = keys.byteLength(id);
      const bytes = len <= scratch.length ? scratch : Buffer.allocUnsafe(len);
      keys.copyBytes(id, bytes, 0);
      s = shardOf[id] = hashBytes(DIMENSION_URL, bytes, 0, len) % shards;
      return s;
    };
    // A URL that cannot fit in a message even alone: a parse error of its slot (said in the log).
    const keyRoom = maxBytes - 256;
    const perShard: SlotKeys[][] = Array.from({ length: shards }, () => []);
    const ordered = [...this.#slots.entries()].sort((a, b) => a[0] - b[0]);
    for (const [slot, acc] of ordered) {
      const ids: number[][] = Array.from({ length: shards }, () => []);
      const counts: number[][] = Array.from({ length: shards }, () => []);
      let parseErrors = acc.parseErrors;
      const c = acc.counts;
      for (let i = 0; i < c.size; i++) {
        const id = c.touched[i]!;
        if (keys.byteLength(id) > keyRoom) {
          parseErrors += c.values[i]!;
          this.oversizedUrls += c.values[i]!;
          continue;
        }
        const s = shardOfId(id);
        ids[s]!.push(id);
        counts[s]!.push(c.values[i]!);
      }
      for (let s = 0; s < shards; s++) {
        // Parse errors have no URL: shard 0 takes them.
        const pe = s === 0 ? parseErrors : 0;
        if (ids[s]!.length > 0 || pe > 0) perShard[s]!.push({ slot, parseErrors: pe, ids: ids[s]!, counts: counts[s]!, n: ids[s]!.length });
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
    };
    return perShard.map((slots, shard) => encodePartial({ ...head, shard, unplacedErrors: shard === 0 ? this.#unplacedErrors : 0 }, slots, keys, maxBytes));
  }
}
