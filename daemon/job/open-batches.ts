import type { BatchSet } from '../counts/window-set.js';
import type { SegmentRef } from './checkpoint-manifest.js';

/** One batch interval still counting: its counts by dimension, events, and what a checkpoint holds of it. */
export interface OpenBatch {
  readonly counts: BatchSet;
  events: number;
  parseErrors: number;
  /** Where a checkpoint holds its counts, valid while `events` is still `savedEvents`. */
  saved: SegmentRef | undefined;
  savedEvents: number;
  /** The bytes that checkpoint wrote (small batches only), valid as `saved` is: the history row's counts. */
  savedBytes?: Buffer;
}

/**
 * The batches not yet closed, by batch index (`slot`: start time / batch interval). The
 * counting side adds to them; the window slider takes them out in order, from `nextToClose`.
 */
export class OpenBatches {
  readonly #bySlot = new Map<number, OpenBatch>();
  readonly #window: { openBatch(): BatchSet };
  readonly #batchIntervalMs: number;
  /**
   * Earliest slot not yet closed. NaN in event time until the first line time places it.
   */
  nextToClose = NaN;
  /**
   * Event time: slots below `nextToClose` opened again (lines within the watermark of a
   * batch an idle flush fired early); the slider adds them to what was shown.
   */
  readonly #reopened = new Set<number>();

  constructor(window: { openBatch(): BatchSet }, batchIntervalMs: number) {
    this.#window = window;
    this.#batchIntervalMs = batchIntervalMs;
  }

  get size(): number {
    return this.#bySlot.size;
  }

  slotOf(ms: number): number {
    return Math.floor(ms / this.#batchIntervalMs);
  }

  /** Slot `k`'s batch, opened (empty) if it is not yet. */
  batch(k: number): OpenBatch {
    let b = this.#bySlot.get(k);
    if (!b) {
      b = { counts: this.#window.openBatch(), events: 0, parseErrors: 0, saved: undefined, savedEvents: 0 };
      this.#bySlot.set(k, b);
      if (k < this.nextToClose) this.#reopened.add(k);
    }
    return b;
  }

  /** The slots opened again below `nextToClose`, each once (see `#reopened`). */
  takeReopened(): [number, OpenBatch][] {
    if (this.#reopened.size === 0) return [];
    const out: [number, OpenBatch][] = [];
    for (const k of [...this.#reopened].sort((a, b) => a - b)) {
      const b = this.#bySlot.get(k);
      this.#bySlot.delete(k);
      if (b) out.push([k, b]);
    }
    this.#reopened.clear();
    return out;
  }

  /** Removes slot `k`'s batch (closing it); undefined if no event came for it. */
  take(k: number): OpenBatch | undefined {
    const b = this.#bySlot.get(k);
    this.#bySlot.delete(k);
    return b;
  }

  /** Puts back a batch a checkpoint held open (call once `nextToClose` is restored). */
  restore(k: number, batch: OpenBatch): void {
    this.#bySlot.set(k, batch);
    if (k < this.nextToClose) this.#reopened.add(k);
  }

  /** The open slots in [from, to), in order. */
  slotsIn(from: number, to: number): number[] {
    const out: number[] = [];
    for (const k of this.#bySlot.keys()) if (k >= from && k < to) out.push(k);
    return out.sort((a, b) => a - b);
  }

  entries(): [number, OpenBatch][] {
    return [...this.#bySlot];
  }
}
