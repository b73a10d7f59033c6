import { LogflowError } from '../errors.js';
import type { UrlBytes as KeyBytes } from '../counts/counts-codec.js';
import { type ByteReader, type ByteWriter, WireError } from './wire-bytes.js';

/**
 * A batch's counts by dimension as partials (counter -> merge) and rows (merge -> query
 * node) carry them: per dimension, its keys, and per key its cells (status code, lines,
 * bytes), as a single process counts them (dimension-batch.ts). A message lists its
 * dimensions' names once; a section names one by its index there:
 *
 *   sections: varint dimension + 1 (0 ends them), varint keys, then per key its bytes
 *             (varint length, bytes), varint cells, then per cell varint code, count, bytes.
 *
 * A key with one status costs its bytes and 5-7 more (the URL-only partial of version 1
 * cost 2-3): what `by=url&status=404` and the bytes per key need.
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
}

/** What a section writes: `order[0..n)`, groups of `cells`. */
export interface SectionPart {
  readonly cells: KeyCells;
  readonly order: ArrayLike<number>;
  readonly n: number;
}

/** The cells of a batch's dimension (arrays as DimensionBatch keeps them) grouped by key. */
export function groupByKey(
  dim: number,
  keys: KeyBytes & { readonly idLimit: number },
  batch: { readonly keys: Int32Array; readonly codes: ArrayLike<number>; readonly counts: ArrayLike<number>; readonly bytes: ArrayLike<number>; readonly size: number },
): KeyCells {
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
  return { dim, keys, codes: batch.codes, counts: batch.counts, bytes: batch.bytes, groupKeys: Int32Array.from(groupKeys), groupStarts, groupCells };
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
  for (let j = c.groupStarts[g]!; j < c.groupStarts[g + 1]!; j++) {
    const i = c.groupCells[j]!;
    size += varintSize(c.codes[i]!) + varintSize(c.counts[i]!) + varintSize(c.bytes[i]!);
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
      w.varint(c.dim + 1);
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
 * Walks sections without making an object or a string per key: `nextSection()` (`dim`),
 * `nextKey()` (its bytes at `reader.data[keyStart, keyEnd)`), `nextCell()` (`code`, `count`,
 * `bytes`). What is not walked is skipped.
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
    if (tag > this.#dims) throw new WireError(`a section of dimension ${tag - 1}, in a message of ${this.#dims}`);
    this.dim = tag - 1;
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

