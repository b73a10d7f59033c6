export interface UrlCount {
  readonly url: string;
  readonly count: number;
}

/** Orders by count descending, then URL ascending: the order of every answer. */
export function compareUrlCounts(a: UrlCount, b: UrlCount): number {
  return b.count - a.count || (a.url < b.url ? -1 : a.url > b.url ? 1 : 0);
}

/**
 * The k largest entries of `counts` in answer order, with a bounded min-heap:
 * O(n log k) and no sort of every key.
 */
export function topK(counts: ReadonlyMap<string, number>, k: number): UrlCount[] {
  if (k <= 0) return [];
  const urls: string[] = [];
  const values: number[] = [];
  // heap[0] is the worst entry kept: the smallest count, and among equals the largest URL.
  const worse = (i: number, j: number) =>
    values[i]! < values[j]! || (values[i] === values[j] && urls[i]! > urls[j]!);
  const swap = (i: number, j: number) => {
    const u = urls[i]!; urls[i] = urls[j]!; urls[j] = u;
    const v = values[i]!; values[i] = values[j]!; values[j] = v;
  };
  const siftDown = (i: number) => {
    const n = urls.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && worse(l, m)) m = l;
      if (r < n && worse(r, m)) m = r;
      if (m === i) return;
      swap(i, m);
      i = m;
    }
  };
  for (const [url, count] of counts) {
    if (urls.length < k) {
      urls.push(url);
      values.push(count);
      for (let i = urls.length - 1; i > 0;) {
        const parent = (i - 1) >> 1;
        if (!worse(i, parent)) break;
        swap(i, parent);
        i = parent;
      }
    } else if (count > values[0]! || (count === values[0] && url < urls[0]!)) {
      urls[0] = url;
      values[0] = count;
      siftDown(0);
    }
  }
  const out = urls.map((url, i) => ({ url, count: values[i]! }));
  return out.sort(compareUrlCounts);
}
