/** What the pool needs of a batch: its size, and emptying it for another use. */
interface Reusable {
  readonly byteLength: number;
  clear(): void;
}

/**
 * Closed batches kept for reuse, in two sizes: a new batch is 16 typed arrays that grow
 * with it, and the arrays of a batch are worth reusing only for a batch of the same kind.
 * In processing time the window opens one large batch per second of arrival while the
 * history opens one small batch per second of the lines' own time (a 27 h replay: 97,000
 * of ~10 lines); with one pool, the window's large batches filled it, each history batch
 * was made anew and thrown away (~2.7 us and 16 array buffers of garbage each), and a
 * history batch given a large spare cleared its large tables for ten lines.
 *
 * A small batch asks the small pool only; a large one the large pool, then the small one
 * (an event-time replay's window batches are small too). A batch goes back to the pool
 * of its size. Each batch's size is taken once, when it is kept.
 */
export class SpareBatches<B extends Reusable> {
  readonly #large: B[] = [];
  readonly #largeSizes: number[] = [];
  readonly #small: B[] = [];
  readonly #smallSizes: number[] = [];
  #largeBytes = 0;
  #smallBytes = 0;
  readonly #maxLargeBytes: number;
  readonly #maxSmallBytes: number;

  constructor(maxLargeBytes: number, maxSmallBytes: number) {
    this.#maxLargeBytes = maxLargeBytes;
    this.#maxSmallBytes = maxSmallBytes;
  }

  /** Bytes the kept batches hold. */
  get bytes(): number {
    return this.#largeBytes + this.#smallBytes;
  }

  /** A kept batch, cleared (undefined: none fits, make a new one). `small`: the caller expects few lines. */
  take(small: boolean): B | undefined {
    let batch: B | undefined;
    if (!small && this.#large.length > 0) {
      batch = this.#large.pop()!;
      this.#largeBytes -= this.#largeSizes.pop()!;
    } else if (this.#small.length > 0) {
      batch = this.#small.pop()!;
      this.#smallBytes -= this.#smallSizes.pop()!;
    }
    batch?.clear();
    return batch;
  }

  /** Keeps a closed batch for reuse, if its pool has room. */
  keep(batch: B): void {
    const bytes = batch.byteLength;
    if (bytes <= SMALL_BATCH_BYTES) {
      if (this.#smallBytes + bytes > this.#maxSmallBytes) return;
      this.#small.push(batch);
      this.#smallSizes.push(bytes);
      this.#smallBytes += bytes;
    } else {
      if (this.#largeBytes + bytes > this.#maxLargeBytes) return;
      this.#large.push(batch);
      this.#largeSizes.push(bytes);
      this.#largeBytes += bytes;
    }
  }
}

/** A batch whose arrays hold at most this much is small (a few hundred lines of one second). */
export const SMALL_BATCH_BYTES = 64 * 1024;
