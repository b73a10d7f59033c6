import { mkdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { writeLog } from '../access-log-generator.js';

/**
 * The independent answer for a log: URL counts, totals, and the own time its counted lines
 * span (`first` and `last`, ms: the earliest and latest line time; absent when no counted
 * line has one), so the history can be asked over the logs' own range.
 */
export interface Expected {
  counts: Map<string, number>;
  total: number;
  parseErrors: number;
  lines: number;
  first?: number;
  last?: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const CLF_TIME = /^(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;

/** A `[10/Oct/2000:13:55:36 -0700]` time in ms since the epoch, the simple way (NaN if not one). */
export function clfTimeMs(text: string): number {
  const m = CLF_TIME.exec(text);
  if (!m) return NaN;
  const [, d, mon, y, h, mi, s, sign, zh, zm] = m;
  const local = Date.UTC(Number(y), MONTHS.indexOf(mon!), Number(d), Number(h), Number(mi), Number(s));
  return local - (sign === '-' ? -1 : 1) * (Number(zh) * 60 + Number(zm)) * 60_000;
}

/**
 * Counts URLs in a log file the simple way (a regex per line, like the seed's Spark job),
 * independently of the daemon's byte-level parser, as the reference for end-to-end tests.
 */
export function expectedCounts(file: string): Expected {
  // After the size: the end of the line, or a quoted field (logFormat = auto; junk there is an error).
  const LINE = /^\S+ \S+ \S+ \[([^\]]*)\] "([^"]*)" \d{3} (?:\d+|-)(?: ".*)?$/;
  const counts = new Map<string, number>();
  let total = 0;
  let parseErrors = 0;
  let first = Infinity;
  let last = -Infinity;
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) {
    const m = LINE.exec(line.replace(/\r$/, ''));
    const url = m?.[2]!.split(/\s+/)[1];
    if (!url) {
      parseErrors++;
      continue;
    }
    counts.set(url, (counts.get(url) ?? 0) + 1);
    total++;
    const t = clfTimeMs(m![1]!);
    if (t < first) first = t;
    if (t > last) last = t;
  }
  return { counts, total, parseErrors, lines: lines.length, ...(total > 0 && Number.isFinite(first) ? { first, last } : {}) };
}

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
  const parts: Expected[] = [];
  for (let f = 0; f < opts.files; f++) {
    const staged = path.join(dir, `part-${f}.log`);
    await writeLog(staged, { lines: opts.lines, urls: opts.urls, seed: opts.seed + f, malformed: 0.01 });
    parts.push(expectedCounts(staged));
    renameSync(staged, path.join(spool, `part-${f}.log`));
  }
  return merged(...parts);
}

/** Several logs' independent answers as one: counts added up, own-time spans joined. */
export function merged(...all: Expected[]): Expected {
  const counts = new Map<string, number>();
  for (const e of all) for (const [url, n] of e.counts) counts.set(url, (counts.get(url) ?? 0) + n);
  const firsts = all.flatMap((e) => (e.first === undefined ? [] : [e.first]));
  const lasts = all.flatMap((e) => (e.last === undefined ? [] : [e.last]));
  return {
    counts,
    total: all.reduce((s, e) => s + e.total, 0),
    parseErrors: all.reduce((s, e) => s + e.parseErrors, 0),
    lines: all.reduce((s, e) => s + e.lines, 0),
    ...(firsts.length > 0 ? { first: Math.min(...firsts), last: Math.max(...lasts) } : {}),
  };
}
