import type { UrlCount } from './top-k.js';

/** Counts of one batch interval: URL -> events. */
export type SlotCounts = Map<string, number>;

/** A closed batch as the window keeps it: interned URL ids and their counts (12 bytes each). */
interface StoredSlot {
  readonly ids: Int32Array;
  readonly counts: Float64Array;
  readonly total: number;
}

/**
 * Spark's `reduceByKeyAndWindow(add, subtract, window, slide)` over batch slots: each
 * batch interval the slot entering is added to the window and the slot leaving it is
 * subtracted; keys that fall to zero are removed, so the window only holds live URLs.
 *
 * Each URL of the window is interned once (an id); slots keep ids and counts in typed
 * arrays, so 300 slots of a busy site cost megabytes, not a Map entry per URL per slot.
 */
export class SlidingWindow {
  readonly windowSlots: number;
  #total = 0;
  readonly #ids = new Map<string, number>();
  #urls: (string | undefined)[] = [];
  #counts = new Float64Array(1024);
  readonly #freeIds: number[] = [];
  /** Ring of the slots inside the window; slot k lives at k % windowSlots. */
  readonly #ring: (StoredSlot | undefined)[];
  #lastSlot: number | undefined;

  constructor(windowSlots: number) {
    this.windowSlots = windowSlots;
    this.#ring = new Array(windowSlots).fill(undefined);
  }

  get total(): number {
    return this.#total;
  }

  /** Distinct URLs in the window. */
  get size(): number {
    return this.#ids.size;
  }

  /** The newest slot that entered, or undefined before the first. */
  get lastSlot(): number | undefined {
    return this.#lastSlot;
  }

  get(url: string): number | undefined {
    const id = this.#ids.get(url);
    return id === undefined ? undefined : this.#counts[id];
  }

  *entries(): IterableIterator<[string, number]> {
    for (const [url, id] of this.#ids) yield [url, this.#counts[id]!];
  }

  /**
   * Slot k enters with `entering` (possibly empty); slot k - windowSlots leaves. Returns
   * whether the window's counts changed.
   */
  advance(k: number, entering: SlotCounts | undefined, enteringTotal: number): boolean {
    let changed = false;
    if (this.#lastSlot !== undefined) {
      if (k <= this.#lastSlot) throw new RangeError(`slot ${k} is not after ${this.#lastSlot}`);
      if (k - this.#lastSlot > this.windowSlots) changed = this.#clear();
      else for (let j = this.#lastSlot + 1; j < k; j++) changed = this.#replace(j, undefined, 0) || changed;
    }
    changed = this.#replace(k, entering, enteringTotal) || changed;
    this.#lastSlot = k;
    return changed;
  }

  /** Rebuilds the window from checkpointed slots (`lastSlot` is the newest that entered). */
  restore(slots: readonly { slot: number; counts: SlotCounts; total: number }[], lastSlot: number | undefined): void {
    this.#clear();
    this.#lastSlot = lastSlot;
    for (const { slot, counts, total } of slots) {
      if (lastSlot === undefined || slot <= lastSlot - this.windowSlots || slot > lastSlot) continue;
      this.#replace(slot, counts, total);
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
   * The k most counted URLs, counts descending, ties by URL ascending: a bounded heap
   * over the count array, no sort of every key.
   */
  top(k: number): UrlCount[] {
    if (k <= 0) return [];
    const counts = this.#counts;
    const urls = this.#urls;
    const heap: number[] = []; // ids; heap[0] is the worst kept
    const worse = (a: number, b: number) => counts[a]! < counts[b]! || (counts[a] === counts[b] && urls[a]! > urls[b]!);
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
    const end = urls.length;
    for (let id = 0; id < end; id++) {
      const c = counts[id]!;
      if (c === 0 || urls[id] === undefined) continue;
      if (heap.length < k) {
        heap.push(id);
        for (let i = heap.length - 1; i > 0;) {
          const p = (i - 1) >> 1;
          if (!worse(heap[i]!, heap[p]!)) break;
          [heap[i], heap[p]] = [heap[p]!, heap[i]!];
          i = p;
        }
      } else if (c > counts[heap[0]!]! || (c === counts[heap[0]!] && urls[id]! < urls[heap[0]!]!)) {
        heap[0] = id;
        siftDown(0);
      }
    }
    return heap
      .map((id) => ({ url: urls[id]!, count: counts[id]! }))
      .sort((a, b) => b.count - a.count || (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
  }

  #replace(k: number, entering: SlotCounts | undefined, enteringTotal: number): boolean {
    const i = mod(k, this.windowSlots);
    const leaving = this.#ring[i];
    const changed = leaving !== undefined || (entering !== undefined && entering.size > 0);
    if (leaving) {
      this.#subtract(leaving);
      this.#total -= leaving.total;
    }
    if (entering && entering.size > 0) {
      this.#ring[i] = this.#add(entering, enteringTotal);
      this.#total += enteringTotal;
    } else {
      this.#ring[i] = undefined;
    }
    return changed;
  }

  #add(entering: SlotCounts, total: number): StoredSlot {
    const ids = new Int32Array(entering.size);
    const counts = new Float64Array(entering.size);
    let j = 0;
    for (const [url, c] of entering) {
      let id = this.#ids.get(url);
      if (id === undefined) id = this.#intern(url);
      this.#counts[id]! += c;
      ids[j] = id;
      counts[j++] = c;
    }
    return { ids, counts, total };
  }

  #subtract(slot: StoredSlot): void {
    const { ids, counts } = slot;
    const windowCounts = this.#counts;
    for (let j = 0; j < ids.length; j++) {
      const id = ids[j]!;
      const v = (windowCounts[id]! -= counts[j]!);
      if (v === 0) this.#release(id);
    }
  }

  #intern(url: string): number {
    let id = this.#freeIds.pop();
    if (id === undefined) {
      id = this.#urls.length;
      this.#urls.push(undefined);
      if (id >= this.#counts.length) {
        const bigger = new Float64Array(this.#counts.length * 2);
        bigger.set(this.#counts);
        this.#counts = bigger;
      }
    }
    this.#urls[id] = url;
    this.#counts[id] = 0;
    this.#ids.set(url, id);
    return id;
  }

  #release(id: number): void {
    this.#ids.delete(this.#urls[id]!);
    this.#urls[id] = undefined;
    this.#freeIds.push(id);
  }

  #clear(): boolean {
    const changed = this.#ids.size > 0;
    this.#ids.clear();
    this.#urls = [];
    this.#counts = new Float64Array(1024);
    this.#freeIds.length = 0;
    this.#ring.fill(undefined);
    this.#total = 0;
    return changed;
  }
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}
