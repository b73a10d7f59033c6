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
 *             n varint indexes into the message's client table.
 *   client table (where the message says, after its sections): per client its hash (hi,
 *             lo: two u32 little-endian), in the order the sections first name them.
 *
 * A key with one status costs its bytes and 5-7 more (the URL-only partial of version 1
 * cost 2-3): what `by=url&status=404` and the bytes per key need. A dimension that counts
 * visitors (the single process's: the format has a client, and it is not the client)
 * carries each cell's distinct clients of the batch as their 64-bit hashes (the job's
 * `KeyHash`), 8 bytes each: unions of them are the window's and the history's visitors
 * downstream, exact up to 512 as on one process. A message names each client's 8 bytes
 * once, in its table, and a visit by its index there (1-2 bytes): a client visits many
 * keys, and every dimension (`url status`, 1,000 clients, 2,500 lines a partition and
 * second: 19.2 MB of partials per 1M lines without visits, 33.3 MB with the hashes in every
 * visit, 28.4 MB with the table; rows 18.4, 29.8, 23.2 MB). Sorted and delta-coded per cell
 * they would not be smaller than 8: the gaps of n random 64-bit values need 64 - log2(n) bits.
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

/**
 * A message's client table while it is written: each distinct client hash once, numbered in
 * the order first named (open addressing over (hi, lo, index + 1)). Reused: `reset` per message.
 */
export class ClientTable {
  #slots = new Int32Array(3 * 1024);
  #mask = 1023;
  #hashes = new Int32Array(2 * 512);
  size = 0;

  reset(): void {
    if (this.size > 0) this.#slots.fill(0);
    this.size = 0;
  }

  /** The bytes the table takes in the message. */
  get byteLength(): number {
    return 8 * this.size;
  }

  /** The index of (hi, lo), or -1. */
  find(hi: number, lo: number): number {
    const slots = this.#slots;
    for (let b = (hi ^ Math.imul(lo, 0x9e3779b1)) & this.#mask; ; b = (b + 1) & this.#mask) {
      const at = 3 * b;
      const slot = slots[at + 2]!;
      if (slot === 0) return -1;
      if (slots[at] === hi && slots[at + 1] === lo) return slot - 1;
    }
  }

  /** The index of (hi, lo), numbered next if new. */
  indexOf(hi: number, lo: number): number {
    const slots = this.#slots;
    for (let b = (hi ^ Math.imul(lo, 0x9e3779b1)) & this.#mask; ; b = (b + 1) & this.#mask) {
      const at = 3 * b;
      const slot = slots[at + 2]!;
      if (slot === 0) {
        const i = this.size++;
        slots[at] = hi;
        slots[at + 1] = lo;
        slots[at + 2] = i + 1;
        if (2 * i + 2 > this.#hashes.length) {
          const more = new Int32Array(this.#hashes.length * 2);
          more.set(this.#hashes);
          this.#hashes = more;
        }
        this.#hashes[2 * i] = hi;
        this.#hashes[2 * i + 1] = lo;
        if (2 * this.size > this.#mask) this.#grow();
        return i;
      }
      if (slots[at] === hi && slots[at + 1] === lo) return slot - 1;
    }
  }

  /** Writes the table (8 bytes a client, in index order). */
  writeTo(w: ByteWriter): void {
    for (let i = 0; i < 2 * this.size; i++) w.u32le(this.#hashes[i]! >>> 0);
  }

  #grow(): void {
    const cap = 2 * (this.#mask + 1);
    this.#slots = new Int32Array(3 * cap);
    this.#mask = cap - 1;
    for (let i = 0; i < this.size; i++) {
      const hi = this.#hashes[2 * i]!;
      const lo = this.#hashes[2 * i + 1]!;
      let b = (hi ^ Math.imul(lo, 0x9e3779b1)) & this.#mask;
      while (this.#slots[3 * b + 2] !== 0) b = (b + 1) & this.#mask;
      this.#slots[3 * b] = hi;
      this.#slots[3 * b + 1] = lo;
      this.#slots[3 * b + 2] = i + 1;
    }
  }
}

/**
 * The bytes group `g` takes in a section, and in the client table: a client not in the
 * table yet counts its 8 bytes there and a 3-byte index (more than it may take: a client
 * new twice in the group counts twice; the cut only needs a bound).
 */
function groupSize(c: KeyCells, g: number, clients: ClientTable): number {
  const len = c.keys.byteLength(c.groupKeys[g]!);
  let size = varintSize(len) + len + varintSize(c.groupStarts[g + 1]! - c.groupStarts[g]!);
  const v = c.visits;
  for (let j = c.groupStarts[g]!; j < c.groupStarts[g + 1]!; j++) {
    const i = c.groupCells[j]!;
    size += varintSize(c.codes[i]!) + varintSize(c.counts[i]!) + varintSize(c.bytes[i]!);
    if (v) {
      const from = v.visitStarts[i]!;
      const to = v.visitStarts[i + 1]!;
      size += varintSize(to - from);
      for (let x = from; x < to; x++) {
        const at = 2 * v.visitOrder[x]!;
        const known = clients.find(v.visitHashes[at]!, v.visitHashes[at + 1]!);
        size += known >= 0 ? varintSize(known) : 11;
      }
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
export function writeSections(w: ByteWriter, parts: readonly SectionPart[], maxBytes: number, next: () => void, message: { empty: boolean; readonly clients: ClientTable }): void {
  const clients = message.clients;
  for (const p of parts) {
    const c = p.cells;
    let i = 0;
    while (i < p.n) {
      const room = maxBytes - w.length - clients.byteLength - SECTION_HEAD_MAX - END_BYTES;
      let fit = 0;
      let size = 0;
      for (let j = i; j < p.n; j++) {
        const entry = groupSize(c, p.order[j]!, clients);
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
              w.varint(clients.indexOf(v.visitHashes[at]!, v.visitHashes[at + 1]!));
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
 * (`code`, `count`, `bytes`, and its `visitCount` clients), `nextVisit()` (`hi`, `lo`, from
 * the message's client table). What is not walked is skipped.
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
  /** The cell's distinct clients (0 without visits). */
  visitCount = 0;
  /** The client `nextVisit` read. */
  hi = 0;
  lo = 0;
  #visitsLeft = 0;
  /** The message's client table (8 bytes a client), or none. */
  readonly #clients: Buffer | undefined;
  #keysLeft = 0;
  #cellsLeft = 0;
  #done = true;

  constructor(reader: ByteReader, dims: number, clients?: Buffer) {
    this.reader = reader;
    this.#dims = dims;
    this.#clients = clients;
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
    while (this.#visitsLeft > 0) {
      this.reader.varint();
      this.#visitsLeft--;
    }
    if (this.#cellsLeft === 0) return false;
    this.#cellsLeft--;
    const r = this.reader;
    this.code = r.varint();
    this.count = r.varint();
    this.bytes = r.varint();
    if (this.code > 999) throw new WireError(`a status code ${this.code}`);
    this.visitCount = this.#visitsLeft = this.visits ? r.varint() : 0;
    return true;
  }

  /** The cell's next client (`hi`, `lo`: the halves of its hash, int32 as the job's `KeyHash` makes them); false when it has no more. */
  nextVisit(): boolean {
    if (this.#visitsLeft === 0) return false;
    this.#visitsLeft--;
    const i = this.reader.varint();
    const table = this.#clients;
    if (!table || 8 * i + 8 > table.length) throw new WireError(`a visit of client ${i}, in a table of ${table ? table.length / 8 : 0}`);
    this.hi = table.readInt32LE(8 * i);
    this.lo = table.readInt32LE(8 * i + 4);
    return true;
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

