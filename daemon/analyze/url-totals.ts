// The job's modules one by one: job/index.js would load the whole job (Avro, SQLite).
import { topK, type UrlCount } from '../counts/top-k.js';
import { UrlInterner } from '../counts/url-interner.js';

/** Counts of every URL over the whole input: interned bytes and a count array by id. */
export class UrlTotals {
  readonly #urls = new UrlInterner(16_384);
  #counts = new Float64Array(16_384);

  add(buf: Buffer, start: number, end: number): void {
    const id = this.#urls.id(buf, start, end);
    if (id >= this.#counts.length) {
      const grown = new Float64Array(this.#counts.length * 2);
      grown.set(this.#counts);
      this.#counts = grown;
    }
    this.#counts[id]!++;
  }

  /**
   * The n most counted URLs in answer order. Only URLs at or above the n-th largest count
   * become strings: a million distinct URLs cost a sort of numbers, not a million strings.
   */
  top(n: number): UrlCount[] {
    const limit = this.#urls.idLimit;
    if (n <= 0 || limit === 0) return [];
    const counts = this.#counts.subarray(0, limit);
    const sorted = Float64Array.from(counts).sort();
    const floor = sorted[Math.max(0, limit - n)]!;
    const candidates = new Map<string, number>();
    for (let id = 0; id < limit; id++) if (counts[id]! >= floor) candidates.set(this.#urls.url(id)!, counts[id]!);
    return topK(candidates, n);
  }
}
