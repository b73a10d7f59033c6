import { LogflowError } from '../errors.js';
import { HLL_M, hllRank, hllRegister } from '../counts/hyperloglog.js';
import type { UrlBytes as KeyBytes } from '../counts/counts-codec.js';
import { type ByteReader, type ByteWriter, WireError } from './wire-bytes.js';

/**
 * A batch's counts by dimension as partials (counter -> merge) and rows (merge -> query
 * node) carry them: per dimension, its keys, and per key its cells (status code, lines,
 * bytes), as a single process counts them (dimension-batch.ts). A message lists its
 * dimensions' names once; a section names one by its index there:
 *
 *   sections: varint tag (0 ends them: else dimension * 2 + 1, + 1 when its cells carry
 *             visits), varint keys, then per key its bytes (varint length, bytes), varint
 *             cells, then per cell varint code, count, bytes, and with visits varint n and
 *             n client hashes (hi, lo: two u32 little-endian).
 *
 * A key with one status costs its bytes and 5-7 more (the URL-only partial of version 1
 * cost 2-3): what `by=url&status=404` and the bytes per key need. A dimension that counts
 * visitors (the single process's: the format has a client, and it is not the client)
 * carries each cell's distinct clients of the batch as their 64-bit hashes (the job's
 * `KeyHash`), 8 bytes each: unions of them are the window's and the history's visitors
 * downstream, exact up to 512 as on one process. Sorted and delta-coded they would not be
 * smaller: the gaps of n random 64-bit values need 64 - log2(n) bits, 9 varint bytes below
 * n = 128.
 */

/** One dimension's cells of a batch, grouped by key (keys in the order they were first counted). */
export interface KeyCells {
  /** The dimension's index in the message's list. */
  readonly dim: number;
  readonly keys: KeyBytes;
  readonly codes: ArrayLike<number>;
  readonly counts: ArrayLike<number>;
  readonly bytes: ArrayLike<number>;
  /** Group g is key `groupKeys[g]`, its cells `groupCells[groupStarts[g] .. groupStarts[g + 1])`. */
  readonly groupKeys: Int32Array;
  readonly groupStarts: Int32Array;
  readonly groupCells: Int32Array;
  /** With visits: cell i's are `visitOrder[visitStarts[i] .. visitStarts[i + 1])`, indices into `visitHashes` pairs. */
  readonly visits: CellVisits | undefined;
}

/** A batch's visits (distinct clients per cell) grouped by cell. */
export interface CellVisits {
  readonly visitStarts: Int32Array;
  readonly visitOrder: Int32Array;
  readonly visitHashes: Int32Array;
}

/** What `groupByKey` reads of a batch (DimensionBatch's arrays). */
export interface BatchCells {
  readonly keys: Int32Array;
  readonly codes: ArrayLike<number>;
  readonly counts: ArrayLike<number>;
  readonly bytes: ArrayLike<number>;
  readonly size: number;
  readonly visitors: boolean;
  readonly visitCells: Int32Array;
  readonly visitHashes: Int32Array;
  readonly visits: number;
}

/** What a section writes: `order[0..n)`, groups of `cells`. */
export interface SectionPart {
  readonly cells: KeyCells;
  readonly order: ArrayLike<number>;
  readonly n: number;
}

/** The cells of a batch's dimension (arrays as DimensionBatch keeps them) grouped by key. */
export function groupByKey(dim: number, keys: KeyBytes & { readonly idLimit: number }, batch: BatchCells): KeyCells {
  const n = batch.size;
  if (groupOf.length < keys.idLimit) groupOf = new Int32Array(Math.max(keys.idLimit, 2 * groupOf.length)).fill(-1);
  const cellGroup = new Int32Array(n);
  const groupKeys: number[] = [];
  const sizes: number[] = [];
  for (let i = 0; i < n; i++) {
    const key = batch.keys[i]!;
    let g = groupOf[key]!;
    if (g === -1) {
      g = groupOf[key] = groupKeys.length;
      groupKeys.push(key);
      sizes.push(0);
    }
    cellGroup[i] = g;
    sizes[g]!++;
  }
  const groupStarts = new Int32Array(groupKeys.length + 1);
  for (let g = 0; g < groupKeys.length; g++) groupStarts[g + 1] = groupStarts[g]! + sizes[g]!;
  const fill = groupStarts.slice(0, groupKeys.length);
  const groupCells = new Int32Array(n);
  for (let i = 0; i < n; i++) groupCells[fill[cellGroup[i]!]!++] = i;
  for (const key of groupKeys) groupOf[key] = -1;
  // (A merge shard's batches keep visits in every dimension: the ones the partials carried none in carry none on.)
  const visits = batch.visitors && batch.visits > 0 ? visitsByCell(batch) : undefined;
  return { dim, keys, codes: batch.codes, counts: batch.counts, bytes: batch.bytes, groupKeys: Int32Array.from(groupKeys), groupStarts, groupCells, visits };
}

/** The batch's visits grouped by cell (a counting sort: two passes over them). */
function visitsByCell(batch: BatchCells): CellVisits {
  const n = batch.size;
  const v = batch.visits;
  const visitStarts = new Int32Array(n + 1);
  for (let i = 0; i < v; i++) visitStarts[batch.visitCells[i]! + 1]!++;
  let crowded = false;
  for (let i = 0; i < n; i++) {
    if (visitStarts[i + 1]! > HLL_M) crowded = true;
    visitStarts[i + 1]! += visitStarts[i]!;
  }
  const fill = visitStarts.slice(0, n);
  const visitOrder = new Int32Array(v);
  for (let i = 0; i < v; i++) visitOrder[fill[batch.visitCells[i]!]!++] = i;
  const visits = { visitStarts, visitOrder, visitHashes: batch.visitHashes };
  return crowded ? registerMaxima(visits, n) : visits;
}

/**
 * A cell with more than HLL_M (4,096) clients in a batch keeps, per HyperLogLog register,
 * the client of the highest rank (the first of equals): at most 4,096 hashes, 32 KB, where
 * all of them could pass max_payload (8 bytes each: 131,072 clients of one status in one
 * second). Nothing downstream can tell: its visitors are past 512, so every union that
 * holds it is a sketch, and the sketch's registers (the window's per slot, the history's)
 * are the maxima of the same ranks.
 */
function registerMaxima(visits: CellVisits, cells: number): CellVisits {
  const { visitStarts, visitOrder, visitHashes } = visits;
  const starts = new Int32Array(cells + 1);
  const order: number[] = [];
  const best = new Int32Array(HLL_M);
  const rank = new Uint8Array(HLL_M);
  for (let c = 0; c < cells; c++) {
    const from = visitStarts[c]!;
    const to = visitStarts[c + 1]!;
    if (to - from <= HLL_M) {
      for (let x = from; x < to; x++) order.push(visitOrder[x]!);
    } else {
      rank.fill(0);
      for (let x = from; x < to; x++) {
        const i = visitOrder[x]!;
        const hi = visitHashes[2 * i]!;
        const r = hllRegister(hi);
        const k = hllRank(hi, visitHashes[2 * i + 1]!);
        if (k > rank[r]!) {
          rank[r] = k;
          best[r] = i;
        }
      }
      for (let r = 0; r < HLL_M; r++) if (rank[r]! > 0) order.push(best[r]!);
    }
    starts[c + 1] = order.length;
  }
  return { visitStarts: starts, visitOrder: Int32Array.from(order), visitHashes };
}

/** Key id -> group while grouping (reused; -1 between calls). */
let groupOf = new Int32Array(1024).fill(-1);

/** Every group of `cells`, in order. */
export function allGroups(cells: KeyCells): SectionPart {
  const n = cells.groupKeys.length;
  const order = new Int32Array(n);
  for (let g = 0; g < n; g++) order[g] = g;
  return { cells, order, n };
}

/** The bytes group `g` takes in a section. */
function groupSize(c: KeyCells, g: number): number {
  const len = c.keys.byteLength(c.groupKeys[g]!);
  let size = varintSize(len) + len + varintSize(c.groupStarts[g + 1]! - c.groupStarts[g]!);
  const v = c.visits;
  for (let j = c.groupStarts[g]!; j < c.groupStarts[g + 1]!; j++) {
    const i = c.groupCells[j]!;
    size += varintSize(c.codes[i]!) + varintSize(c.counts[i]!) + varintSize(c.bytes[i]!);
    if (v) {
      const nv = v.visitStarts[i + 1]! - v.visitStarts[i]!;
      size += varintSize(nv) + 8 * nv;
    }
  }
  return size;
}

/** A section's header at most, and the end bytes a message keeps room for (its sections' and the message's). */
const SECTION_HEAD_MAX = 10;
const END_BYTES = 2;

/**
 * Writes `parts` as sections and their end byte; when the next key does not fit in
 * `maxBytes`, ends the sections, calls `next()` (which ends the message and begins the next
 * one, up to where sections start, setting `message.empty`) and goes on there. A key that
 * does not fit in an empty message is an error. The cut depends on the content only.
 */
export function writeSections(w: ByteWriter, parts: readonly SectionPart[], maxBytes: number, next: () => void, message: { empty: boolean }): void {
  for (const p of parts) {
    const c = p.cells;
    let i = 0;
    while (i < p.n) {
      const room = maxBytes - w.length - SECTION_HEAD_MAX - END_BYTES;
      let fit = 0;
      let size = 0;
      for (let j = i; j < p.n; j++) {
        const entry = groupSize(c, p.order[j]!);
        if (size + entry > room) break;
        size += entry;
        fit++;
      }
      if (fit === 0) {
        if (message.empty) throw new LogflowError('LF_MESSAGE_TOO_LARGE', `a key of ${c.keys.byteLength(c.groupKeys[p.order[i]!]!)} bytes and its cells do not fit in a ${maxBytes}-byte message`);
        w.u8(0);
        next();
        continue;
      }
      const v = c.visits;
      w.varint(c.dim * 2 + 1 + (v ? 1 : 0));
      w.varint(fit);
      for (let j = i; j < i + fit; j++) {
        const g = p.order[j]!;
        w.key(c.keys, c.groupKeys[g]!);
        const from = c.groupStarts[g]!;
        const to = c.groupStarts[g + 1]!;
        w.varint(to - from);
        for (let k = from; k < to; k++) {
          const cell = c.groupCells[k]!;
          w.varint(c.codes[cell]!);
          w.varint(c.counts[cell]!);
          w.varint(c.bytes[cell]!);
          if (v) {
            const from = v.visitStarts[cell]!;
            const to = v.visitStarts[cell + 1]!;
            w.varint(to - from);
            for (let x = from; x < to; x++) {
              const at = 2 * v.visitOrder[x]!;
              w.u32le(v.visitHashes[at]! >>> 0);
              w.u32le(v.visitHashes[at + 1]! >>> 0);
            }
          }
        }
      }
      message.empty = false;
      i += fit;
    }
  }
  w.u8(0);
}

/** The room sections need after a header: one key's section and the end bytes. */
export const SECTIONS_MIN = SECTION_HEAD_MAX + END_BYTES + 1;

/**
 * Walks sections without making an object or a string per key: `nextSection()` (`dim`,
 * `visits`), `nextKey()` (its bytes at `reader.data[keyStart, keyEnd)`), `nextCell()`
 * (`code`, `count`, `bytes`, and `visitCount` clients: `visitHi(i)`, `visitLo(i)`). What is
 * not walked is skipped.
 */
export class CellsCursor {
  readonly reader: ByteReader;
  readonly #dims: number;
  dim = 0;
  keyStart = 0;
  keyEnd = 0;
  code = 0;
  count = 0;
  bytes = 0;
  /** Whether the section's cells carry their visits. */
  visits = false;
  /** The cell's distinct clients (0 without visits), their hashes from `#visitAt`. */
  visitCount = 0;
  #visitAt = 0;
  #keysLeft = 0;
  #cellsLeft = 0;
  #done = true;

  constructor(reader: ByteReader, dims: number) {
    this.reader = reader;
    this.#dims = dims;
  }

  /** Starts a run of sections at the reader's position. */
  begin(): void {
    this.#done = false;
    this.#keysLeft = 0;
    this.#cellsLeft = 0;
  }

  /** The next section (`dim`); false at the end of the run (the end byte read). */
  nextSection(): boolean {
    if (this.#done) return false;
    while (this.nextKey());
    const tag = this.reader.varint();
    if (tag === 0) {
      this.#done = true;
      return false;
    }
    const dim = (tag - 1) >>> 1;
    if (dim >= this.#dims) throw new WireError(`a section of dimension ${dim}, in a message of ${this.#dims}`);
    this.dim = dim;
    this.visits = ((tag - 1) & 1) === 1;
    this.#keysLeft = this.reader.varint();
    return true;
  }

  /** The section's next key; false when it has no more. */
  nextKey(): boolean {
    while (this.nextCell());
    if (this.#keysLeft === 0) return false;
    this.#keysLeft--;
    const r = this.reader;
    r.bytes();
    this.keyStart = r.start;
    this.keyEnd = r.end;
    this.#cellsLeft = r.varint();
    return true;
  }

  /** The key's next cell; false when it has no more. */
  nextCell(): boolean {
    if (this.#cellsLeft === 0) return false;
    this.#cellsLeft--;
    const r = this.reader;
    this.code = r.varint();
    this.count = r.varint();
    this.bytes = r.varint();
    if (this.code > 999) throw new WireError(`a status code ${this.code}`);
    if (this.visits) {
      const n = (this.visitCount = r.varint());
      this.#visitAt = r.skip(8 * n);
    }
    return true;
  }

  /** The halves of the cell's client `i`'s hash (as the job's `KeyHash` makes them: int32). */
  visitHi(i: number): number {
    return this.reader.data.readInt32LE(this.#visitAt + 8 * i);
  }

  visitLo(i: number): number {
    return this.reader.data.readInt32LE(this.#visitAt + 8 * i + 4);
  }

  /** Walks the rest of the run. */
  finish(): void {
    while (this.nextSection());
  }
}

/** Writes a list of dimension names. */
export function writeDims(w: ByteWriter, dims: readonly string[]): void {
  w.varint(dims.length);
  for (const d of dims) w.bytes(Buffer.from(d, 'utf8'));
}

export function readDims(r: ByteReader): string[] {
  const dims: string[] = [];
  for (let n = r.varint(); n > 0; n--) {
    r.bytes();
    dims.push(r.data.toString('utf8', r.start, r.end));
  }
  if (dims.length === 0) throw new WireError('a message of no dimension');
  return dims;
}

function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

