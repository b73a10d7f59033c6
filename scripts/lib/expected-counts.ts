import { readFileSync } from 'node:fs';

/**
 * Counts URLs in a log file the simple way (a regex per line, like the seed's Spark job),
 * independently of the daemon's byte-level parser, as the reference for end-to-end tests.
 */
export function expectedCounts(file: string): { counts: Map<string, number>; total: number; parseErrors: number; lines: number } {
  const LINE = /^\S+ \S+ \S+ \[[^\]]*\] "([^"]*)" \d{3} (?:\d+|-)(?: .*)?$/;
  const counts = new Map<string, number>();
  let total = 0;
  let parseErrors = 0;
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) {
    const url = LINE.exec(line.replace(/\r$/, ''))?.[1]!.split(/\s+/)[1];
    if (!url) {
      parseErrors++;
      continue;
    }
    counts.set(url, (counts.get(url) ?? 0) + 1);
    total++;
  }
  return { counts, total, parseErrors, lines: lines.length };
}
