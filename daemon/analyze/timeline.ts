/**
 * Lines per slot over a span of any length in bounded memory: points of `step` slots, and
 * when a slot falls past the last point, neighbouring points merge pairwise (the step
 * doubles). A day of 1 s slots ends as 2,700 points of 32 s; the chart needs no more.
 */
export class Timeline {
  static readonly MAX_POINTS = 4096;
  #first: number | undefined;
  #step = 1;
  #counts = new Float64Array(Timeline.MAX_POINTS);
  #used = 0;

  /** Adds `n` lines to slot `k`; slots come in ascending order. */
  add(k: number, n: number): void {
    if (n === 0) return;
    this.#first ??= k;
    let i = Math.floor((k - this.#first) / this.#step);
    while (i >= Timeline.MAX_POINTS) {
      this.#halve();
      i = Math.floor((k - this.#first) / this.#step);
    }
    this.#counts[i]! += n;
    if (i + 1 > this.#used) this.#used = i + 1;
  }

  #halve(): void {
    const c = this.#counts;
    for (let i = 0; i < Timeline.MAX_POINTS / 2; i++) c[i] = c[2 * i]! + c[2 * i + 1]!;
    c.fill(0, Timeline.MAX_POINTS / 2);
    this.#used = Math.ceil(this.#used / 2);
    this.#step *= 2;
  }

  /** The points: the first slot, slots per point, and the counts. */
  points(): { firstSlot: number; step: number; counts: number[] } {
    return { firstSlot: this.#first ?? 0, step: this.#step, counts: Array.from(this.#counts.subarray(0, this.#used)) };
  }
}
