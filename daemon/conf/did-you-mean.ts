/**
 * The known key nearest to a typo, for "did you mean" in configuration errors: the
 * optimal-string-alignment distance (Levenshtein plus swapped neighbours, the commonest
 * typo), case-insensitive, within a small bound so that unrelated keys are never offered.
 */
export function nearest(typo: string, known: Iterable<string>): string | undefined {
  const last = typo.slice(typo.lastIndexOf('.') + 1);
  const bound = last.length >= 5 ? 2 : 1;
  let best: string | undefined;
  let bestDistance = bound + 1;
  for (const candidate of known) {
    if (candidate === typo) continue;
    const d = distance(typo.toLowerCase(), candidate.toLowerCase(), bestDistance);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance; stops early (returns `stop`) once it cannot be below `stop`. */
export function distance(a: string, b: string, stop = Infinity): number {
  if (Math.abs(a.length - b.length) >= stop) return stop;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      row.push(d);
      rowMin = Math.min(rowMin, d);
    }
    if (rowMin >= stop) return stop;
    prev2 = prev;
    prev = row;
  }
  return prev[b.length]!;
}
