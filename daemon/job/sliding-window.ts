/** Counts of one batch interval: URL -> events. */
export type SlotCounts = Map<string, number>;

/**
 * Spark's `reduceByKeyAndWindow(add, subtract, window, slide)` over batch slots: each
 * batch interval the slot entering is added to the window and the slot leaving it is
 * subtracted; keys that fall to zero are removed, so the window only holds live URLs.
 */
export class SlidingWindow {
  readonly windowSlots: number;
  readonly counts = new Map<string, number>();
  #total = 0;
  /** Ring of the slots inside the window; slot k lives at k % windowSlots. */
  readonly #ring: (SlotCounts | undefined)[];
  readonly #ringTotals: Float64Array;
  #lastSlot: number | undefined;

  constructor(windowSlots: number) {
    this.windowSlots = windowSlots;
    this.#ring = new Array(windowSlots).fill(undefined);
    this.#ringTotals = new Float64Array(windowSlots);
  }

  get total(): number {
    return this.#total;
  }

  /** The newest slot that entered, or undefined before the first. */
  get lastSlot(): number | undefined {
    return this.#lastSlot;
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

  /** Each live slot with its index, oldest first: what a checkpoint stores. */
  slots(): { slot: number; counts: SlotCounts; total: number }[] {
    const out: { slot: number; counts: SlotCounts; total: number }[] = [];
    if (this.#lastSlot === undefined) return out;
    for (let k = this.#lastSlot - this.windowSlots + 1; k <= this.#lastSlot; k++) {
      const i = mod(k, this.windowSlots);
      const counts = this.#ring[i];
      if (counts) out.push({ slot: k, counts, total: this.#ringTotals[i]! });
    }
    return out;
  }

  #replace(k: number, entering: SlotCounts | undefined, enteringTotal: number): boolean {
    const i = mod(k, this.windowSlots);
    const leaving = this.#ring[i];
    const changed = leaving !== undefined || (entering !== undefined && entering.size > 0);
    if (leaving) {
      const counts = this.counts;
      for (const [url, c] of leaving) {
        const v = counts.get(url)! - c;
        if (v === 0) counts.delete(url);
        else counts.set(url, v);
      }
      this.#total -= this.#ringTotals[i]!;
    }
    if (entering && entering.size > 0) {
      const counts = this.counts;
      for (const [url, c] of entering) counts.set(url, (counts.get(url) ?? 0) + c);
      this.#ring[i] = entering;
      this.#ringTotals[i] = enteringTotal;
      this.#total += enteringTotal;
    } else {
      this.#ring[i] = undefined;
      this.#ringTotals[i] = 0;
    }
    return changed;
  }

  #clear(): boolean {
    const changed = this.counts.size > 0;
    this.counts.clear();
    this.#ring.fill(undefined);
    this.#ringTotals.fill(0);
    this.#total = 0;
    return changed;
  }
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}
