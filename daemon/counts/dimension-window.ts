import { CellTable } from './cell-table.js';
import type { DimensionBatch } from './dimension-batch.js';
import { HLL_ERROR } from './hyperloglog.js';
import { PackedCells } from './packed-cells.js';
import { UrlInterner } from './url-interner.js';
import { VisitorSketch } from './visitor-sketch.js';
import { WindowVisitors } from './window-visitors.js';

/** What the job counts by: a dimension and how. */
export interface DimensionSpec {
  /** `url`, `status`, `client`, `referrer`, `agent`, `method`, `vhost`, `user`, or a JSON format's own field. */
  readonly name: string;
  /** Its field in `LineFields`. */
  readonly field: number;
  /** Whether its keys' visitors (distinct clients) are counted: the format has a client field. */
  readonly visitors: boolean;
  /** Keys kept in the window, past which the least counted are dropped (0: every key, exact). */
  readonly maxKeys: number;
}

/** A status filter: codes from `lo` to `hi` (`404`: 404-404, `4xx`: 400-499; none: 0-999, which takes lines without a status too). */
export interface StatusRange {
  readonly lo: number;
  readonly hi: number;
}

export const ANY_STATUS: StatusRange = Object.freeze({ lo: 0, hi: 999 });

/** One key of an answer, with its measures. */
export interface TopItem {
  readonly key: string;
  readonly count: number;
  readonly bytes: number;
  /** Distinct clients, null when the format has no client; exact or estimated (`visitorsExact`). */
  readonly visitors: number | null;
  readonly visitorsExact: boolean;
}

/** A dimension's answer: its top keys, and how exact the counts are. */
export interface DimensionTop {
  readonly items: TopItem[];
  /** Keys with lines in the window (of the status asked for). */
  readonly keys: number;
  /** True when keys were dropped past `maxKeys`: each count may be short by up to `errorBound`. */
  readonly approximate: boolean;
  readonly errorBound: number;
  /** The standard error of an estimated `visitors`. */
  readonly visitorsError: number;
}

/** A closed batch as a dimension keeps it in the window: its cells with their lines and bytes. */
export type StoredCells = PackedCells;

/** Scratch: the window's cell of each cell of a batch entering. */
let enterCells = new Int32Array(1024);

/** Keys dropped past maxKeys go in rounds, down to this share of it (a round per slot would tighten nothing). */
const EVICT_TO = 0.9;
/** Visitor regions swept for clients gone, per slot. */
const SWEEP_PER_SLOT = 4096;

/**
 * One dimension of the sliding window, as Spark's `reduceByKeyAndWindow(add, subtract)`:
 * each slot entering adds its cells' lines and bytes, each slot leaving subtracts them;
 * cells that fall to zero are dropped. Keys are interned by their bytes, cells (key,
 * status) by two integers; counts are typed arrays by cell and by key (the unfiltered top
 * reads the key arrays; a status filter sums the cells). Visitors are the clients of each
 * cell in the window (`WindowVisitors`); a key's are the union of its cells'.
 *
 * With `maxKeys`, the window keeps at most that many keys: past it, the least counted keys
 * not in an open batch are dropped at the end of a slot (down to 90% of it). A key dropped
 * loses what it had counted, so any count may be short by up to the sum of the largest
 * count dropped in each slot still in the window: `errorBound`. Below the cap nothing is
 * dropped and every count is exact.
 */
export class DimensionWindow {
  readonly spec: DimensionSpec;
  readonly windowSlots: number;
  readonly keys = new UrlInterner();
  readonly cells = new CellTable();
  readonly visitors: WindowVisitors | undefined;
  #count = new Float64Array(1024);
  #bytes = new Float64Array(1024);
  #keyCount = new Float64Array(1024);
  #liveKeys = 0;
  /** Keys whose last cell left: released (unless an open batch counts them) by `releaseEmptied`. */
  #emptied: number[] = [];
  /** Cell -> the first slot whose entries count for it (a dropped cell's older entries do not): with maxKeys. */
  #validFrom: Float64Array | undefined;
  /** Per ring slot: the slot number and the largest count dropped then. */
  readonly #droppedSlot: Float64Array;
  readonly #dropped: Float64Array;
  /** Scratch: the window's cell of each visit of a batch entering. */
  #visitIds = new Int32Array(1024);

  constructor(spec: DimensionSpec, windowSlots: number) {
    this.spec = spec;
    this.windowSlots = windowSlots;
    this.visitors = spec.visitors ? new WindowVisitors(windowSlots) : undefined;
    const ring = spec.maxKeys > 0 ? windowSlots : 0;
    this.#droppedSlot = new Float64Array(ring).fill(NaN);
    this.#dropped = new Float64Array(ring);
    if (spec.maxKeys > 0) this.#validFrom = new Float64Array(1024).fill(-Infinity);
  }

  get name(): string {
    return this.spec.name;
  }

  /** Keys with lines in the window. */
  get size(): number {
    return this.#liveKeys;
  }

  /** Bytes held by part (the interner, cells, counts, visitors). */
  heldBytes(): Record<string, number> {
    const counts = this.#count.byteLength * 2 + this.#keyCount.byteLength + (this.#validFrom?.byteLength ?? 0);
    const v = this.visitors?.heldBytes;
    return { keys: this.keys.heldBytes, cells: this.cells.heldBytes, counts, visitorSlab: v?.slab ?? 0, visitorSlabUsed: v?.slabUsed ?? 0, visitorIds: v?.ids ?? 0, visitorClients: v?.clients ?? 0, visitorSketches: v?.sketches ?? 0 };
  }

  /** A key's lines in the window (by key id). */
  keyCount(key: number): number {
    return key < this.#keyCount.length ? this.#keyCount[key]! : 0;
  }

  /** What the window may under-count any key by, for the window ending with slot `end`. */
  errorBound(end: number): number {
    let bound = 0;
    for (let i = 0; i < this.#dropped.length; i++) {
      const s = this.#droppedSlot[i]!;
      if (s > end - this.windowSlots && s <= end) bound += this.#dropped[i]!;
    }
    return bound;
  }

  /** Adds a closed batch entering in slot `k`; returns what the window keeps of it. */
  enter(k: number, batch: DimensionBatch): StoredCells {
    const n = batch.size;
    const cells = this.cells;
    // The batch's cells are distinct (key, status) pairs: each is one of the window's.
    if (enterCells.length < n) enterCells = new Int32Array(n * 2);
    const ids = enterCells;
    for (let i = 0; i < n; i++) ids[i] = cells.id(batch.keys[i]!, batch.codes[i]!);
    if (cells.idLimit > this.#count.length) this.#growCells(cells.idLimit);
    if (this.keys.idLimit > this.#keyCount.length) this.#growKeys(this.keys.idLimit);
    for (let i = 0; i < n; i++) {
      const cell = ids[i]!;
      const key = cells.keyOf(cell);
      if (this.#keyCount[key] === 0) this.#liveKeys++;
      const count = batch.counts[i]!;
      const bytes = batch.bytes[i]!;
      this.#count[cell]! += count;
      this.#bytes[cell]! += bytes;
      this.#keyCount[key]! += count;
    }
    if (this.visitors && batch.visits > 0) {
      // The visits' batch cells as window cells.
      const v = batch.visits;
      if (this.#visitIds.length < v) this.#visitIds = new Int32Array(v * 2);
      const visitIds = this.#visitIds;
      for (let i = 0; i < v; i++) visitIds[i] = ids[batch.visitCells[i]!]!;
      this.visitors.enter(k, visitIds, batch.visitHashes, v);
    }
    this.visitors?.sweep(k, SWEEP_PER_SLOT);
    return PackedCells.pack(ids, batch.counts, batch.bytes, n);
  }

  /**
   * Adds a closed batch to slot `k`, which entered already (`stored`: what the window kept
   * of it) and is still in the window ending with slot `now`; returns what it keeps of both.
   * A cell dropped by `maxKeys` since slot `k` entered gets nothing of it (its count stays
   * short, as the cap's counts may be: what slot `k` adds would not be subtracted when it leaves).
   */
  amend(k: number, batch: DimensionBatch, stored: StoredCells | undefined, now: number): StoredCells {
    const n = batch.size;
    const cells = this.cells;
    const merged = new Map<number, number>();
    const outCells: number[] = [];
    const outCounts: number[] = [];
    const outBytes: number[] = [];
    stored?.forEach((cell, count, bytes) => {
      merged.set(cell, outCells.length);
      outCells.push(cell);
      outCounts.push(count);
      outBytes.push(bytes);
    });
    const batchCells = new Int32Array(n).fill(-1);
    for (let i = 0; i < n; i++) batchCells[i] = cells.id(batch.keys[i]!, batch.codes[i]!);
    if (cells.idLimit > this.#count.length) this.#growCells(cells.idLimit);
    if (this.keys.idLimit > this.#keyCount.length) this.#growKeys(this.keys.idLimit);
    const validFrom = this.#validFrom;
    for (let i = 0; i < n; i++) {
      const cell = batchCells[i]!;
      if (validFrom && k < validFrom[cell]!) {
        batchCells[i] = -1;
        if (this.#count[cell] === 0) this.#releaseCell(cell, cells.keyOf(cell));
        continue;
      }
      const key = cells.keyOf(cell);
      if (this.#keyCount[key] === 0) this.#liveKeys++;
      const count = batch.counts[i]!;
      const bytes = batch.bytes[i]!;
      this.#count[cell]! += count;
      this.#bytes[cell]! += bytes;
      this.#keyCount[key]! += count;
      const at = merged.get(cell);
      if (at === undefined) {
        merged.set(cell, outCells.length);
        outCells.push(cell);
        outCounts.push(count);
        outBytes.push(bytes);
      } else {
        outCounts[at]! += count;
        outBytes[at]! += bytes;
      }
    }
    if (this.visitors && batch.visits > 0) {
      const ids = new Int32Array(batch.visits);
      const hashes = new Int32Array(2 * batch.visits);
      let v = 0;
      for (let i = 0; i < batch.visits; i++) {
        const cell = batchCells[batch.visitCells[i]!]!;
        if (cell < 0) continue;
        ids[v] = cell;
        hashes[2 * v] = batch.visitHashes[2 * i]!;
        hashes[2 * v + 1] = batch.visitHashes[2 * i + 1]!;
        v++;
      }
      this.visitors.enterOlder(k, ids, hashes, v, now);
    }
    return PackedCells.pack(Int32Array.from(outCells), Int32Array.from(outCounts), Float64Array.from(outBytes), outCells.length);
  }

  /** Subtracts the stored cells of slot `j`, which leaves the window. */
  leave(j: number, stored: StoredCells): void {
    const validFrom = this.#validFrom;
    stored.forEach((cell, count, bytes) => {
      if (validFrom && j < validFrom[cell]!) return; // dropped since: counted for another key now
      const key = this.cells.keyOf(cell);
      this.#bytes[cell]! -= bytes;
      this.#keyCount[key]! -= count;
      if ((this.#count[cell]! -= count) === 0) {
        this.#bytes[cell] = 0;
        this.#releaseCell(cell, key);
      }
    });
  }

  /** A batch that closes without entering (its history row is all that is kept): its keys may be released. */
  pass(batch: DimensionBatch): void {
    for (let i = 0; i < batch.size; i++) {
      const key = batch.keys[i]!;
      if (this.cells.firstOfKey(key) === -1) this.#emptied.push(key);
    }
  }

  /** Keys emptied since the last call, released unless `keep[key]` (an open batch counts them). */
  releaseEmptied(keep: (dimension: DimensionWindow) => Uint8Array): void {
    if (this.#emptied.length === 0) return;
    const emptied = this.#emptied;
    this.#emptied = [];
    const kept = keep(this);
    for (const key of emptied) {
      if (kept[key] === 1 || this.cells.firstOfKey(key) !== -1 || this.keys.byteLength(key) < 0) continue;
      kept[key] = 1; // (a key emptied twice is released once)
      this.keys.release(key);
    }
  }

  /** Ids emptied and waiting for `releaseEmptied`. */
  get emptiedWaiting(): number {
    return this.#emptied.length;
  }

  /** Drops the least counted keys past maxKeys (none an open batch holds); call after the slot `k` entered. */
  capKeys(k: number, keep: (dimension: DimensionWindow) => Uint8Array): void {
    const max = this.spec.maxKeys;
    if (max === 0 || this.#liveKeys <= max) return;
    const kept = keep(this);
    const limit = this.keys.idLimit;
    const candidates: number[] = [];
    for (let key = 0; key < limit; key++) if (this.#keyCount[key]! > 0 && kept[key] !== 1) candidates.push(key);
    const drop = Math.min(candidates.length, this.#liveKeys - Math.floor(max * EVICT_TO));
    if (drop <= 0) return;
    const keyCount = this.#keyCount;
    candidates.sort((a, b) => keyCount[a]! - keyCount[b]! || a - b);
    let largest = 0;
    for (let i = 0; i < drop; i++) {
      const key = candidates[i]!;
      largest = Math.max(largest, keyCount[key]!);
      for (let cell = this.cells.firstOfKey(key); cell !== -1;) {
        const next = this.cells.nextOfKey(cell);
        this.#validFrom![cell] = k + 1;
        this.#count[cell] = 0;
        this.#bytes[cell] = 0;
        this.#releaseCell(cell, key);
        cell = next;
      }
    }
    const r = ((k % this.windowSlots) + this.windowSlots) % this.windowSlots;
    this.#droppedSlot[r] = k;
    this.#dropped[r] = largest;
    // (Released at once: no open batch holds them.)
    for (const key of this.#emptied.splice(0)) if (this.cells.firstOfKey(key) === -1 && this.keys.byteLength(key) >= 0 && kept[key] !== 1) this.keys.release(key);
  }

  /** Empties the window (a gap longer than the window). */
  clear(): void {
    for (let cell = 0; cell < this.cells.idLimit; cell++) {
      if (this.#count[cell]! > 0) {
        const key = this.cells.keyOf(cell);
        this.#count[cell] = 0;
        this.#bytes[cell] = 0;
        this.#keyCount[key] = 0;
        this.#releaseCell(cell, key);
      }
    }
    this.#liveKeys = 0;
    this.#droppedSlot.fill(NaN);
    this.#dropped.fill(0);
  }

  /**
   * The `n` keys with the most lines of status `status` in the window ending with slot
   * `end`, count descending, ties by key ascending (byte order), with their bytes and visitors.
   */
  top(n: number, status: StatusRange, end: number): DimensionTop {
    const filtered = status.lo !== ANY_STATUS.lo || status.hi !== ANY_STATUS.hi;
    let counts = this.#keyCount;
    let bytes: Float64Array | undefined;
    let touched: number[] | undefined;
    if (filtered) {
      // Sum the matching cells by key.
      counts = new Float64Array(this.keys.idLimit);
      bytes = new Float64Array(this.keys.idLimit);
      touched = [];
      for (let cell = 0; cell < this.cells.idLimit; cell++) {
        const c = this.#count[cell]!;
        if (!(c > 0)) continue;
        const code = this.cells.codeOf(cell);
        if (code < status.lo || code > status.hi) continue;
        const key = this.cells.keyOf(cell);
        if (counts[key] === 0) touched.push(key);
        counts[key]! += c;
        bytes[key]! += this.#bytes[cell]!;
      }
    }
    const ids = topIds(counts, touched, this.keys.idLimit, n, this.keys);
    // (A key's bytes, unfiltered, are its cells' sum: whole numbers, the same in any order; no array by key.)
    const items = ids.map((key) => ({ key: this.keys.url(key)!, count: counts[key]!, bytes: bytes ? bytes[key]! : this.#keyBytes(key), ...this.#visitorsOf(key, status, end) }));
    const bound = this.errorBound(end);
    return {
      items,
      keys: touched ? touched.length : this.#liveKeys,
      approximate: bound > 0,
      errorBound: bound,
      visitorsError: HLL_ERROR,
    };
  }

  /** Bytes of `key` in the window, over its cells. */
  #keyBytes(key: number): number {
    let sum = 0;
    for (let cell = this.cells.firstOfKey(key); cell !== -1; cell = this.cells.nextOfKey(cell)) sum += this.#bytes[cell]!;
    return sum;
  }

  /**
   * The visitors of key `key` (its text) of `status` in the window ending with slot `end`, the
   * newest: for a top made elsewhere (a cluster's shards) of keys the window holds.
   */
  visitorsOfKey(key: string, status: StatusRange, end: number): { visitors: number | null; visitorsExact: boolean } {
    return this.#visitorsOf(this.keys.idOfString(key), status, end);
  }

  /** The visitors of `key`'s cells of `status` in the window ending with slot `end`. */
  #visitorsOf(key: number, status: StatusRange, end: number): { visitors: number | null; visitorsExact: boolean } {
    if (!this.visitors) return this.spec.name === 'client' ? { visitors: 1, visitorsExact: true } : { visitors: null, visitorsExact: true };
    const union = new VisitorSketch();
    // Estimated cells first: the union is registers from then on, and an exact cell's
    // clients go straight into them, not into a set turned to registers at the first
    // estimated cell (the same registers either way; a slide's top at 1M URLs spent 47 of
    // its 120 ms of unions on those sets).
    for (const estimated of [true, false]) {
      for (let cell = this.cells.firstOfKey(key); cell !== -1; cell = this.cells.nextOfKey(cell)) {
        const code = this.cells.codeOf(cell);
        if (code >= status.lo && code <= status.hi && this.visitors.exact(cell) !== estimated) this.visitors.unionInto(cell, end, union);
      }
    }
    return { visitors: union.count(), visitorsExact: union.exact };
  }

  #releaseCell(cell: number, key: number): void {
    if (this.cells.release(cell)) {
      this.#keyCount[key] = 0;
      this.#liveKeys--;
      this.#emptied.push(key);
    }
    this.visitors?.release(cell);
  }

  #growCells(limit: number): void {
    let n = this.#count.length;
    while (n < limit) n *= 2;
    const grow = (a: Float64Array, fill = 0) => {
      const b = new Float64Array(n).fill(fill);
      b.set(a);
      return b;
    };
    this.#count = grow(this.#count);
    this.#bytes = grow(this.#bytes);
    if (this.#validFrom) this.#validFrom = grow(this.#validFrom, -Infinity);
  }

  #growKeys(limit: number): void {
    let n = this.#keyCount.length;
    while (n < limit) n *= 2;
    const grow = (a: Float64Array) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    this.#keyCount = grow(this.#keyCount);
  }
}

/**
 * The ids of the `n` largest values (over `among`, or every id below `limit`), values
 * descending, ties by key bytes ascending: a bounded heap, no sort of every key.
 */
export function topIds(values: Float64Array, among: readonly number[] | undefined, limit: number, n: number, keys: { compare(a: number, b: number): number }): number[] {
  if (n <= 0) return [];
  const heap: number[] = []; // heap[0] is the worst kept
  const worse = (a: number, b: number) => values[a]! < values[b]! || (values[a] === values[b] && keys.compare(a, b) > 0);
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && worse(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && worse(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  let floor = 0;
  const consider = (id: number) => {
    const c = values[id]!;
    if (!(c > 0) || c < floor) return;
    if (heap.length < n) {
      heap.push(id);
      for (let i = heap.length - 1; i > 0;) {
        const p = (i - 1) >> 1;
        if (!worse(heap[i]!, heap[p]!)) break;
        [heap[i], heap[p]] = [heap[p]!, heap[i]!];
        i = p;
      }
      if (heap.length === n) floor = values[heap[0]!]!;
    } else if (worse(heap[0]!, id)) {
      heap[0] = id;
      siftDown(0);
      floor = values[heap[0]!]!;
    }
  };
  if (among) for (const id of among) consider(id);
  else {
    // Every key of the window (a million at the bench's scale, each slide): most are below
    // the floor once the heap is full, and are passed over here, not in a call each.
    for (let id = 0; id < limit; id++) {
      const c = values[id]!;
      if (c > 0 && c >= floor) consider(id);
    }
  }
  return heap.sort((a, b) => values[b]! - values[a]! || keys.compare(a, b));
}
