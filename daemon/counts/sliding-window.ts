import type { UrlCount } from './top-k.js';
import { BatchCounts } from './batch-counts.js';
import { CountsCursor, encodeInterned } from './counts-codec.js';
import { UrlInterner } from './url-interner.js';
import { LogflowError } from '../errors.js';


/** Counts of one batch interval by URL string: what checkpoints store and tests write. */
export type SlotCounts = Map<string, number>;

/** A closed batch as the window keeps it: URL ids and their counts (8 bytes each). */
interface StoredSlot {
  readonly ids: Int32Array;
  readonly counts: Int32Array;
  readonly total: number;
}

/**
 * Spark's `reduceByKeyAndWindow(add, subtract, window, slide)` over batch slots: each
 * batch interval the slot entering is added to the window and the slot leaving it is
 * subtracted; keys that fall to zero are removed, so the window only holds live URLs.
 *
 * URLs are interned by their bytes (`UrlInterner`): events are counted by id in open
 * `BatchCounts`, closed slots keep ids and counts in typed arrays, and strings exist once
 * per live URL. A busy window of a million URLs and 300 slots costs typed arrays, not a
 * Map entry per URL per slot.
 */
export class SlidingWindow {
  readonly windowSlots: number;
  readonly urls = new UrlInterner();
  #total = 0;
  #counts = new Float64Array(1024);
  /** Ids with a non-zero window count. */
  #live = 0;
  /** Ring of the slots inside the window; slot k lives at k % windowSlots. */
  readonly #ring: (StoredSlot | undefined)[];
  #lastSlot: number | undefined;
  /** Open batches: their ids must survive even when the window count is zero. */
  readonly #open = new Set<BatchCounts>();
  /**
   * Closed batches kept for reuse. At a million URLs a batch's dense counts grow to 4 MB
   * by doubling; a new one each batch interval made ~10 MB/s of garbage in the job thread.
   * A closed batch is cleared when it is taken again, not when it closes: its owner may
   * still read its size right after `advance`.
   */
  readonly #spare: BatchCounts[] = [];
  #spareBytes = 0;
  /**
   * Ids whose window count fell to zero, released (unless an open batch counts them) in one
   * pass over the open batches. Checking the open batches per id was 10 s of an 18 s event-time
   * replay of 200k lines (cpu profile): ~100 open batches were scanned per emptied id.
   */
  #emptied: number[] = [];

  constructor(windowSlots: number) {
    this.windowSlots = windowSlots;
    this.#ring = new Array(windowSlots).fill(undefined);
  }

  get total(): number {
    return this.#total;
  }

  /** Distinct URLs in the window. */
  get size(): number {
    return this.#live;
  }

  /** The newest slot that entered, or undefined before the first. */
  get lastSlot(): number | undefined {
    return this.#lastSlot;
  }

  /** A new open batch, counted by this window's URL ids. */
  openBatch(): BatchCounts {
    const spare = this.#spare.pop();
    if (spare) this.#spareBytes -= spare.byteLength;
    spare?.clear();
    const batch = spare ?? new BatchCounts();
    this.#open.add(batch);
    return batch;
  }

  /** An open batch rebuilt from strings (a test, a tool). */
  openBatchFrom(counts: Iterable<[string, number]>): BatchCounts {
    const batch = this.openBatch();
    for (const [url, n] of counts) batch.add(this.urls.idOfString(url), n);
    return batch;
  }

  /** An open batch rebuilt from `encodeBatch` bytes (a checkpoint). */
  openBatchFromBytes(data: Buffer): BatchCounts {
    const batch = this.openBatch();
    const c = new CountsCursor(data);
    while (c.next()) batch.add(this.urls.id(data, c.start, c.end), c.count);
    return batch;
  }

  /**
   * An open batch's counts as bytes, `[count u32][length u32][URL bytes]` per URL: what a
   * checkpoint stores, made without a string per URL.
   */
  encodeBatch(batch: BatchCounts): Buffer {
    return encodeInterned(this.urls, batch.touched, batch.size, (_id, j) => batch.values[j]!);
  }

  /** A closed slot's counts, encoded as `encodeBatch` does. */
  encodeSlot(k: number): Buffer {
    const stored = this.#ring[mod(k, this.windowSlots)];
    if (!stored) return Buffer.alloc(0);
    return encodeInterned(this.urls, stored.ids, stored.ids.length, (_id, j) => stored.counts[j]!);
  }

  *entries(): IterableIterator<[string, number]> {
    const limit = this.urls.idLimit;
    for (let id = 0; id < limit; id++) if (this.#counts[id]! > 0) yield [this.urls.url(id)!, this.#counts[id]!];
  }

  /**
   * Slot k enters with `entering` (an open batch, now closed; possibly none); slot
   * k - windowSlots leaves. Returns whether the window's counts changed.
   */
  advance(k: number, entering: BatchCounts | undefined, enteringTotal: number): boolean {
    let changed = false;
    if (this.#lastSlot !== undefined) {
      if (k <= this.#lastSlot) throw new LogflowError('LF_INVARIANT', `slot ${k} is not after ${this.#lastSlot}`);
      if (k - this.#lastSlot > this.windowSlots) changed = this.#clear();
      else for (let j = this.#lastSlot + 1; j < k; j++) changed = this.#replace(j, undefined, 0) || changed;
    }
    changed = this.#replace(k, entering, enteringTotal) || changed;
    this.#lastSlot = k;
    return changed;
  }

  /** Whether slot `k` is inside the window (it entered, or could have, and has not left). */
  holds(k: number): boolean {
    return this.#lastSlot !== undefined && k <= this.#lastSlot && k > this.#lastSlot - this.windowSlots;
  }

  /**
   * Adds more counts to slot `k`, which entered already and is still inside the window
   * (`holds(k)`): lines of a batch an idle flush fired early, come within the watermark.
   * The batch is closed with it.
   */
  amend(k: number, batch: BatchCounts, total: number): void {
    if (!this.holds(k)) throw new LogflowError('LF_INVARIANT', `slot ${k} is not in the window (last slot ${this.#lastSlot})`);
    this.#open.delete(batch);
    const i = mod(k, this.windowSlots);
    const before = this.#ring[i];
    const extra = this.#add(batch, total);
    this.#total += total;
    this.#keepSpare(batch);
    if (!before) {
      this.#ring[i] = extra.ids.length > 0 ? extra : undefined;
      return;
    }
    const merged = new Map<number, number>();
    for (const slot of [before, extra]) for (let j = 0; j < slot.ids.length; j++) merged.set(slot.ids[j]!, (merged.get(slot.ids[j]!) ?? 0) + slot.counts[j]!);
    this.#ring[i] = { ids: Int32Array.from(merged.keys()), counts: Int32Array.from(merged.values()), total: before.total + total };
  }

  /**
   * An open batch that closes without entering: in a catch-up it would leave again before
   * any window that is persisted (its history row is all that is kept of it). Its ids are
   * released unless the window or an open batch counts them, and it is kept for reuse.
   * The caller reads what it needs of the batch first.
   */
  pass(batch: BatchCounts): void {
    this.#open.delete(batch);
    const counts = this.#counts;
    for (let i = 0; i < batch.size; i++) {
      const id = batch.touched[i]!;
      if (!(counts[id]! > 0)) this.#emptied.push(id);
    }
    if (this.#emptied.length >= RELEASE_EVERY) this.releaseEmptied();
    this.#keepSpare(batch);
  }

  /** Rebuilds the window from checkpointed slots (`lastSlot` is the newest that entered). */
  restore(slots: readonly { slot: number; data: Buffer; total: number }[], lastSlot: number | undefined): void {
    this.#clear();
    this.#lastSlot = lastSlot;
    for (const { slot, data, total } of slots) {
      if (lastSlot === undefined || slot <= lastSlot - this.windowSlots || slot > lastSlot) continue;
      this.#replace(slot, this.openBatchFromBytes(data), total);
    }
  }

  /** Each live slot with its index and total, oldest first: what a checkpoint lists. */
  slots(): { slot: number; total: number }[] {
    const out: { slot: number; total: number }[] = [];
    if (this.#lastSlot === undefined) return out;
    for (let k = this.#lastSlot - this.windowSlots + 1; k <= this.#lastSlot; k++) {
      const stored = this.#ring[mod(k, this.windowSlots)];
      if (stored) out.push({ slot: k, total: stored.total });
    }
    return out;
  }

  /**
   * The k most counted URLs, counts descending, ties by URL ascending (byte order, which
   * is code point order): a bounded heap over the count array, no sort of every key.
   */
  top(k: number): UrlCount[] {
    if (k <= 0) return [];
    const counts = this.#counts;
    const urls = this.urls;
    const heap: number[] = []; // ids; heap[0] is the worst kept
    const worse = (a: number, b: number) =>
      counts[a]! < counts[b]! || (counts[a] === counts[b] && urls.compare(a, b) > 0);
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
    // Ids past the counts array were interned after the last batch entered (a line counted in
    // the history only): none is in the window.
    const limit = Math.min(urls.idLimit, counts.length);
    let floor = 0; // the worst kept count once the heap is full: most ids fail this test
    for (let id = 0; id < limit; id++) {
      const c = counts[id]!;
      if (c <= 0 || c < floor) continue;
      if (heap.length < k) {
        heap.push(id);
        for (let i = heap.length - 1; i > 0;) {
          const p = (i - 1) >> 1;
          if (!worse(heap[i]!, heap[p]!)) break;
          [heap[i], heap[p]] = [heap[p]!, heap[i]!];
          i = p;
        }
        if (heap.length === k) floor = counts[heap[0]!]!;
      } else if (worse(heap[0]!, id)) {
        heap[0] = id;
        siftDown(0);
        floor = counts[heap[0]]!;
      }
    }
    return heap
      .sort((a, b) => counts[b]! - counts[a]! || urls.compare(a, b))
      .map((id) => ({ url: urls.url(id)!, count: counts[id]! }));
  }

  #replace(k: number, entering: BatchCounts | undefined, enteringTotal: number): boolean {
    const i = mod(k, this.windowSlots);
    const leaving = this.#ring[i];
    const changed = leaving !== undefined || (entering !== undefined && entering.size > 0);
    let emptied: number[] | undefined;
    if (leaving) {
      emptied = this.#subtract(leaving);
      this.#total -= leaving.total;
    }
    if (entering) this.#open.delete(entering);
    if (entering && entering.size > 0) {
      this.#ring[i] = this.#add(entering, enteringTotal);
      this.#total += enteringTotal;
    } else {
      this.#ring[i] = undefined;
    }
    if (emptied) for (const id of emptied) this.#emptied.push(id);
    if (this.#emptied.length >= RELEASE_EVERY) this.releaseEmptied();
    // Spare batches up to SPARE_BYTES: an event-time replay opens a batch per second of log
    // (a new one each allocated and grew its counts to the id space: 1.2 s of 18 s, profile).
    if (entering) this.#keepSpare(entering);
    return changed;
  }

  #keepSpare(batch: BatchCounts): void {
    if (this.#spareBytes + batch.byteLength > SPARE_BYTES) return;
    this.#spare.push(batch);
    this.#spareBytes += batch.byteLength;
  }

  #add(batch: BatchCounts, total: number): StoredSlot {
    const n = batch.size;
    const ids = batch.touched.slice(0, n);
    const counts = batch.values.slice(0, n);
    this.#ensureCounts(this.urls.idLimit);
    const windowCounts = this.#counts;
    for (let j = 0; j < n; j++) {
      const id = ids[j]!;
      const c = counts[j]!;
      if (windowCounts[id] === 0) this.#live++;
      windowCounts[id]! += c;
    }
    return { ids, counts, total };
  }

  /** Subtracts a leaving slot; returns the ids whose window count fell to zero. */
  #subtract(slot: StoredSlot): number[] {
    const { ids, counts } = slot;
    const windowCounts = this.#counts;
    const emptied: number[] = [];
    for (let j = 0; j < ids.length; j++) {
      const id = ids[j]!;
      if ((windowCounts[id]! -= counts[j]!) === 0) {
        this.#live--;
        emptied.push(id);
      }
    }
    return emptied;
  }

  /** Releases the ids emptied since the last call that neither the window nor an open batch counts. */
  releaseEmptied(): void {
    const emptied = this.#emptied;
    if (emptied.length === 0) return;
    this.#emptied = [];
    const keep = new Uint8Array(this.urls.idLimit);
    for (const b of this.#open) for (let i = 0; i < b.size; i++) keep[b.touched[i]!] = 1;
    for (const id of emptied) {
      if (this.#counts[id]! > 0 || keep[id] === 1) continue; // (an id past the array never entered: 0)
      keep[id] = 1; // (an id emptied twice is released once)
      this.urls.release(id);
    }
  }

  #ensureCounts(limit: number): void {
    if (limit <= this.#counts.length) return;
    let n = this.#counts.length * 2;
    while (n < limit) n *= 2;
    const c = new Float64Array(n);
    c.set(this.#counts);
    this.#counts = c;
  }

  #clear(): boolean {
    const changed = this.#live > 0;
    const limit = this.urls.idLimit;
    for (let id = 0; id < limit; id++) {
      if (this.#counts[id] !== 0) {
        this.#counts[id] = 0;
        this.#emptied.push(id);
      }
    }
    this.releaseEmptied();
    this.#live = 0;
    this.#ring.fill(undefined);
    this.#total = 0;
    return changed;
  }
}

/** Emptied ids are released in passes of this many (or at the end of each `closeSlotsBefore`). */
const RELEASE_EVERY = 65_536;
/** Memory kept in closed batches for reuse: at a million URLs two batches, at 5k URLs ~1000. */
const SPARE_BYTES = 8 * 1024 * 1024;

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}
