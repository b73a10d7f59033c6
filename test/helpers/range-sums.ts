/** A saved batch as the independent count sees it: when it starts and its URL counts. */
export interface CountedBatch {
  readonly startMs: number;
  readonly counts: Iterable<readonly [string, number]>;
}

/**
 * The brute-force answer to a range's top: every URL's count over the batches starting in
 * [from, to), and their total; most counted first, ties by the URL's bytes (as the stores
 * order them); the first `n`.
 */
export function sumBatches(batches: readonly CountedBatch[], from: number, to: number, n = Infinity): { total: number; urls: { url: string; count: number }[] } {
  const sums = new Map<string, number>();
  let total = 0;
  for (const b of batches) {
    if (b.startMs < from || b.startMs >= to) continue;
    for (const [url, c] of b.counts) {
      sums.set(url, (sums.get(url) ?? 0) + c);
      total += c;
    }
  }
  const urls = [...sums].map(([url, count]) => ({ url, count }));
  urls.sort((a, b) => b.count - a.count || Buffer.compare(Buffer.from(a.url), Buffer.from(b.url)));
  return { total, urls: urls.slice(0, n) };
}
