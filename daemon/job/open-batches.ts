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
   * Earliest slot not yet closed; events for older slots go here (they arrived late).
   * NaN in event time until the first line time places it.
   */
  nextToClose = NaN;

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
    }
    return b;
  }

  /** Removes slot `k`'s batch (closing it); undefined if no event came for it. */
  take(k: number): OpenBatch | undefined {
    const b = this.#bySlot.get(k);
    this.#bySlot.delete(k);
    return b;
  }

  /** Puts back a batch a checkpoint held open. */
  restore(k: number, batch: OpenBatch): void {
    this.#bySlot.set(k, batch);
  }

  entries(): [number, OpenBatch][] {
    return [...this.#bySlot];
  }
}
