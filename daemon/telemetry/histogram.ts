/** Bucket bounds in ms, as Prometheus histograms count them (cumulative, `le`). */
export const BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000] as const;

export interface HistogramSnapshot {
  /** Observations at or below each bound of BUCKETS_MS. */
  readonly buckets: number[];
  readonly count: number;
  readonly sumMs: number;
}

/** A fixed-bucket histogram of durations: a few numbers, cheap to copy across threads. */
export class Histogram {
  readonly #counts = new Array<number>(BUCKETS_MS.length).fill(0);
  #count = 0;
  #sum = 0;

  observe(ms: number): void {
    this.#count++;
    this.#sum += ms;
    for (let i = 0; i < BUCKETS_MS.length; i++) if (ms <= BUCKETS_MS[i]!) this.#counts[i]!++;
  }

  snapshot(): HistogramSnapshot {
    return { buckets: [...this.#counts], count: this.#count, sumMs: this.#sum };
  }
}
