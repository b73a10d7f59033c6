import { LogflowError } from '../errors.js';
import type { UrlBytes } from '../counts/counts-codec.js';
import { ByteReader, ByteWriter, WireError } from './wire-bytes.js';

/**
 * A partial count on the wire (LOGFLOW_COUNTS): what a counter counted of one partition's
 * events `(after, to]`, the part of it whose keys hash to one merge shard, cut below the
 * server's max_payload. Binary (varints, length-prefixed keys): a (URL, count) pair costs
 * its bytes plus 2-3.
 *
 *   u8 version (1) | u8 kind (1: partial) | u8 flags (bit 0: last part)
 *   varints: partition, after, to, shard, shards, part, batchMs, atMs, wmMs,
 *            maxEventMs + 1 (0: none), rangeEvents, unplacedErrors
 *   sources: varint n, then per source its id (bytes) and its newest line time + 1
 *   slots: u8 1, then svarint slot, varint parseErrors, varint sections;
 *          a section: u8 dimension, varint measures, varint keys, then per key its bytes
 *          and `measures` varints (count first); ... u8 0 ends the slots.
 *
 * The dimension tag and the measures per key are for counts by status, client ...
 * (issue 24): a reader skips a section it does not know, and reads the first measure of one
 * it knows, so adding either is not a format break.
 */
export const PARTIAL_VERSION = 1;
export const KIND_PARTIAL = 1;
/** Dimensions: what a section's keys are. */
export const DIMENSION_URL = 0;

const FLAG_LAST = 1;
/** Room kept under the limit for a slot's header and a section's (they are written before its keys). */
const SLOT_HEAD_MAX = 32;

/** What every message of one partial says (each shard gets at least one). */
export interface PartialHead {
  readonly partition: number;
  /** This partial covers the partition's events with stream sequences in (after, to]. */
  readonly after: number;
  readonly to: number;
  /** The merge shard this message is for, of `shards`. */
  readonly shard: number;
  readonly shards: number;
  /** 0, 1, ...: the message's place among this shard's messages of the partial. */
  readonly part: number;
  readonly last: boolean;
  /** The counter's batch interval: slot k starts at k * batchMs. */
  readonly batchMs: number;
  /** The counter's clock when it cut the partial: the cluster's processing time (idleness). */
  readonly atMs: number;
  /** Processing time: the partition's events stored before this are all counted (this partial included). */
  readonly wmMs: number;
  /** Event time: the newest line time in the range; null if none. */
  readonly maxEventMs: number | null;
  /** Lines in the range, over all shards (> 0: the partition was active). */
  readonly rangeEvents: number;
  /** Event time: lines without a time (in shard 0's first message only). */
  readonly unplacedErrors: number;
  /**
   * Event time: each edge's newest line time in the range (an edge reads its files in
   * order, so its lines of a partition come in time order: the watermark is per edge and
   * partition; the partition's maximum let one edge's hour make another's late).
   */
  readonly sources: readonly (readonly [string, number])[];
}

/** One slot's keys of one shard, as a counter built them: ids of `keys` and their counts. */
export interface SlotKeys {
  readonly slot: number;
  readonly parseErrors: number;
  readonly ids: ArrayLike<number>;
  readonly counts: ArrayLike<number>;
  readonly n: number;
}

export type PartialHeadFields = Omit<PartialHead, 'part' | 'last'>;

/**
 * Encodes one shard's share of a partial as messages of at most `maxBytes` each. The cut
 * depends on the content only, so counting the same events again gives the same messages
 * (a counter that takes a partition over republishes its predecessor's pending partial).
 * A shard with nothing still gets one message: it carries the partition's progress.
 */
export function encodePartial(head: PartialHeadFields, slots: readonly SlotKeys[], keys: UrlBytes, maxBytes: number): Buffer[] {
  const out: Buffer[] = [];
  const w = new ByteWriter(Math.min(maxBytes, 64 * 1024));
  let part = 0;
  const begin = () => {
    w.reset();
    w.u8(PARTIAL_VERSION);
    w.u8(KIND_PARTIAL);
    w.u8(0);
    for (const v of [head.partition, head.after, head.to, head.shard, head.shards, part, head.batchMs, head.atMs, head.wmMs]) w.varint(v);
    w.varint(head.maxEventMs === null ? 0 : head.maxEventMs + 1);
    w.varint(head.rangeEvents);
    w.varint(part === 0 ? head.unplacedErrors : 0);
    w.varint(head.sources.length);
    for (const [source, ms] of head.sources) {
      w.bytes(Buffer.from(source, 'utf8'));
      w.varint(ms + 1);
    }
    if (w.length + SLOT_HEAD_MAX + 1 > maxBytes) throw new LogflowError('LF_MESSAGE_TOO_LARGE', `a partial's header does not fit in ${maxBytes} bytes`);
  };
  const end = (last: boolean) => {
    w.u8(0);
    if (last) w.patchU8(2, FLAG_LAST);
    out.push(w.toBuffer());
    part++;
  };
  begin();
  for (const s of slots) {
    if (w.length + SLOT_HEAD_MAX + 1 > maxBytes) {
      end(false);
      begin();
    }
    let i = 0;
    let parseErrors = s.parseErrors;
    do {
      // How many of the rest fit after this slot's header (the end byte stays reserved).
      const room = maxBytes - w.length - SLOT_HEAD_MAX - 1;
      let fit = 0;
      let size = 0;
      for (let j = i; j < s.n; j++) {
        const len = keys.byteLength(s.ids[j]!);
        const entry = varintSize(len) + len + varintSize(s.counts[j]!);
        if (size + entry > room) break;
        size += entry;
        fit++;
      }
      if (fit === 0 && i < s.n) {
        if (w.length > headSize(head, part)) {
          // Not even one more key fits here: the next message, with this slot again.
          end(false);
          begin();
          continue;
        }
        throw new LogflowError('LF_MESSAGE_TOO_LARGE', `a key of ${keys.byteLength(s.ids[i]!)} bytes does not fit in a ${maxBytes}-byte message`);
      }
      w.u8(1);
      w.svarint(s.slot);
      w.varint(parseErrors);
      parseErrors = 0;
      w.varint(fit > 0 ? 1 : 0);
      if (fit > 0) {
        w.u8(DIMENSION_URL);
        w.varint(1);
        w.varint(fit);
        for (let j = i; j < i + fit; j++) {
          w.key(keys, s.ids[j]!);
          w.varint(s.counts[j]!);
        }
      }
      i += fit;
      if (i < s.n) {
        end(false);
        begin();
      }
    } while (i < s.n);
  }
  end(true);
  return out;
}

/**
 * Reads a partial message without making an object or a string per key: `head` is read at
 * once; then `nextSlot()` / `nextKey()` walk the slots and their URL keys (the bytes are
 * `reader.data[reader.start, reader.end)`, the count `count`). Sections of other dimensions
 * are skipped (and counted in `skippedKeys`).
 */
export class PartialCursor {
  readonly head: PartialHead;
  readonly reader: ByteReader;
  slot = 0;
  parseErrors = 0;
  count = 0;
  skippedKeys = 0;
  #sectionsLeft = 0;
  #keysLeft = 0;
  #measures = 0;

  constructor(data: Uint8Array) {
    const r = (this.reader = new ByteReader(data));
    const version = r.u8();
    if (version !== PARTIAL_VERSION) throw new WireError(`not a partial of version ${PARTIAL_VERSION} (version byte ${version})`);
    const kind = r.u8();
    if (kind !== KIND_PARTIAL) throw new WireError(`not a partial (kind ${kind})`);
    const flags = r.u8();
    const [partition, after, to, shard, shards, part, batchMs, atMs, wmMs, maxEvent, rangeEvents, unplacedErrors] = Array.from({ length: 12 }, () => r.varint()) as number[];
    if (to! < after! || shards! < 1 || shard! >= shards! || batchMs! < 1) throw new WireError(`a partial with impossible fields (range ${after}..${to}, shard ${shard} of ${shards}, batch ${batchMs} ms)`);
    const sources: [string, number][] = [];
    for (let n = r.varint(); n > 0; n--) {
      r.bytes();
      sources.push([r.data.toString('utf8', r.start, r.end), r.varint() - 1]);
    }
    this.head = {
      partition: partition!,
      after: after!,
      to: to!,
      shard: shard!,
      shards: shards!,
      part: part!,
      last: (flags & FLAG_LAST) !== 0,
      batchMs: batchMs!,
      atMs: atMs!,
      wmMs: wmMs!,
      maxEventMs: maxEvent === 0 ? null : maxEvent! - 1,
      rangeEvents: rangeEvents!,
      unplacedErrors: unplacedErrors!,
      sources,
    };
  }

  /** The next slot (`slot`, `parseErrors`); false at the end. */
  nextSlot(): boolean {
    while (this.#keysLeft > 0 || this.#sectionsLeft > 0) this.nextKey();
    const r = this.reader;
    if (r.u8() === 0) return false;
    this.slot = r.svarint();
    this.parseErrors = r.varint();
    this.#sectionsLeft = r.varint();
    return true;
  }

  /** The slot's next URL key (`reader.start/end`, `count`); false when the slot has no more. */
  nextKey(): boolean {
    const r = this.reader;
    for (;;) {
      if (this.#keysLeft > 0) {
        this.#keysLeft--;
        r.bytes();
        this.count = r.varint();
        for (let m = 1; m < this.#measures; m++) r.varint();
        return true;
      }
      if (this.#sectionsLeft === 0) return false;
      this.#sectionsLeft--;
      const dimension = r.u8();
      this.#measures = r.varint();
      const keys = r.varint();
      if (dimension === DIMENSION_URL && this.#measures >= 1) {
        this.#keysLeft = keys;
        continue;
      }
      for (let k = 0; k < keys; k++) {
        r.bytes();
        for (let m = 0; m < this.#measures; m++) r.varint();
      }
      this.skippedKeys += keys;
    }
  }
}

function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

/** The bytes a message's header takes (a message holding only that has room for nothing else). */
function headSize(head: PartialHeadFields, part: number): number {
  let n = 3 + varintSize(head.sources.length);
  for (const [source, ms] of head.sources) n += varintSize(Buffer.byteLength(source)) + Buffer.byteLength(source) + varintSize(ms + 1);
  for (const v of [head.partition, head.after, head.to, head.shard, head.shards, part, head.batchMs, head.atMs, head.wmMs, head.maxEventMs === null ? 0 : head.maxEventMs + 1, head.rangeEvents, part === 0 ? head.unplacedErrors : 0]) n += varintSize(v);
  return n;
}
