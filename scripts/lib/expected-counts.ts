import { mkdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { writeLog } from '../access-log-generator.js';

/**
 * Counts URLs in a log file the simple way (a regex per line, like the seed's Spark job),
 * independently of the daemon's byte-level parser, as the reference for end-to-end tests.
 */
export function expectedCounts(file: string): { counts: Map<string, number>; total: number; parseErrors: number; lines: number } {
  // After the size: the end of the line, or a quoted field (logFormat = auto; junk there is an error).
  const LINE = /^\S+ \S+ \S+ \[[^\]]*\] "([^"]*)" \d{3} (?:\d+|-)(?: ".*)?$/;
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

export type Expected = ReturnType<typeof expectedCounts>;

/**
 * Generates one log into `<dir>/<name>.staged`, counts it the simple way, and renames it
 * into `<dir>/spool/<name>` (whole, as a user would drop it); returns its answer.
 */
export async function dropLog(dir: string, name: string, options: Parameters<typeof writeLog>[1]): Promise<Expected> {
  const staged = path.join(dir, `${name}.staged`);
  await writeLog(staged, options);
  const expected = expectedCounts(staged);
  renameSync(staged, path.join(dir, 'spool', name));
  return expected;
}

/**
 * Generates `files` logs of `lines` each (seeds `seed`, `seed + 1`, ...), counts them the
 * simple way, and renames them into `<dir>/spool`: a multi-file ingest with its answer.
 */
export async function dropGeneratedLogs(
  dir: string,
  opts: { files: number; lines: number; urls: number; seed: number },
): Promise<Expected> {
  const spool = path.join(dir, 'spool');
  mkdirSync(spool, { recursive: true });
  const expected: Expected = { counts: new Map(), total: 0, parseErrors: 0, lines: 0 };
  for (let f = 0; f < opts.files; f++) {
    const staged = path.join(dir, `part-${f}.log`);
    await writeLog(staged, { lines: opts.lines, urls: opts.urls, seed: opts.seed + f, malformed: 0.01 });
    const e = expectedCounts(staged);
    for (const [u, c] of e.counts) expected.counts.set(u, (expected.counts.get(u) ?? 0) + c);
    expected.total += e.total;
    expected.parseErrors += e.parseErrors;
    expected.lines += e.lines;
    renameSync(staged, path.join(spool, `part-${f}.log`));
  }
  return expected;
}
