import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { prng } from '../../scripts/access-log-generator.js';

/**
 * Access logs with the shapes of six real ones (1995-2017) that issue 21 was found with:
 * several files across years, one older than everything, one over 13 months, lines older
 * than their file's first line (a server writes a line when the request ends, stamped with
 * when it began), a log split in two with a pause between, a few malformed lines. Small,
 * seeded and fast; the expected answers come from `ownTimeCounts`, a regex and a map, not
 * from the daemon's parser.
 */
export interface ShapedLog {
  readonly name: string;
  readonly lines: string[];
  /** The log's own time span [from, to) in ms, whole days around it (what a user asks for). */
  readonly from: number;
  readonly to: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A deterministic generator (mulberry32, the log generator's). */
const random = prng;

/** `[10/Oct/2000:13:55:36 -0700]`'s inside, in the given zone (minutes east of UTC). */
function clf(ms: number, zoneMinutes: number): string {
  const d = new Date(ms + zoneMinutes * 60_000);
  const p = (n: number) => String(n).padStart(2, '0');
  const z = Math.abs(zoneMinutes);
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ` +
    `${zoneMinutes < 0 ? '-' : '+'}${p(Math.floor(z / 60))}${p(z % 60)}`;
}

interface Shape {
  name: string;
  startMs: number;
  spanMs: number;
  lines: number;
  urls: number;
  seed: number;
  zone: number;
  /** Lines stamped up to `earlyMs` before the line before them (some before the file's first line). */
  early: number;
  earlyMs: number;
}

function shaped(s: Shape): string[] {
  const rnd = random(s.seed);
  const out: string[] = [];
  const step = s.spanMs / s.lines;
  const earlyAt = new Set<number>();
  // The first few stragglers right after the first line: older than the file's first line.
  for (let i = 0; i < s.early; i++) earlyAt.add(i < 3 ? 1 + i : 1 + Math.floor(rnd() * (s.lines - 1)));
  for (let i = 0; i < s.lines; i++) {
    let t = s.startMs + Math.floor(i * step + rnd() * step * 0.5);
    if (earlyAt.has(i)) t -= 1000 + Math.floor(rnd() * (s.earlyMs - 1000));
    if (rnd() < 0.004) {
      out.push(rnd() < 0.5 ? `garbage line ${i} of ${s.name}` : `10.0.0.${i % 250} - - [${clf(t, s.zone)}] "-" 400 0`);
      continue;
    }
    // Zipf-like: a few URLs are most of the traffic.
    const u = Math.floor(s.urls * rnd() ** 3);
    const url = u % 5 === 4 ? `/search?q=${u}&page=${u % 3}` : `/${s.name.replace(/\W/g, '')}/page/${u}.html`;
    const agent = u % 2 === 0 ? '"-" "Mozilla/5.0"' : '"http://example.com/" "curl/7.1"';
    out.push(`192.168.${u % 200}.${i % 250} - - [${clf(t, s.zone)}] "GET ${url} HTTP/1.1" ${u % 9 === 0 ? 404 : 200} ${100 + u} ${agent}`);
  }
  return out;
}

/** One combined-format line at `ms` (UTC) for `url`. */
export function lineAt(ms: number, url: string): string {
  return `10.2.3.4 - - [${clf(ms, 0)}] "GET ${url} HTTP/1.1" 200 512 "-" "Mozilla/5.0"`;
}

const day = 86_400_000;
const utc = (y: number, m: number, d: number, h = 0) => Date.UTC(y, m - 1, d, h);

/** The six logs, newest first (the order they are dropped in). `split` is one log in two parts. */
export function sixLogs(scale = 1): { logs: ShapedLog[]; split: [ShapedLog, ShapedLog] } {
  const n = (x: number) => Math.max(50, Math.round(x * scale));
  const make = (s: Omit<Shape, 'lines'> & { lines: number }): ShapedLog => ({
    name: s.name,
    lines: shaped({ ...s, lines: n(s.lines) }),
    from: Math.floor((s.startMs - day) / day) * day,
    to: Math.ceil((s.startMs + s.spanMs + day) / day) * day,
  });
  const logs = [
    // 2017: a busy site's 3 days, in a zone west of UTC; 60 lines stamped before the line before them.
    make({ name: 'site-2017.log', startMs: utc(2017, 3, 5, 6), spanMs: 3 * day, lines: 15000, urls: 400, seed: 17, zone: -420, early: 60, earlyMs: 50_000 }),
    // The elastic 2015 log: 5 days, 2 lines older than its first line.
    make({ name: 'elastic-2015.log', startMs: utc(2015, 5, 17), spanMs: 4 * day, lines: 4000, urls: 150, seed: 15, zone: 0, early: 2, earlyMs: 30_000 }),
    // 13 months, 2006-04 to 2007-04: a range of more than 366 days.
    make({ name: 'apache-2006.log', startMs: utc(2006, 4, 10), spanMs: 375 * day, lines: 3000, urls: 120, seed: 6, zone: 120, early: 4, earlyMs: 20_000 }),
    // Older than everything.
    make({ name: 'nasa-1995.log', startMs: utc(1995, 7, 1), spanMs: 2 * day, lines: 2000, urls: 100, seed: 95, zone: -240, early: 6, earlyMs: 40_000 }),
  ];
  // The seed's own log, split in two files with a pause between: the second part's first 3
  // lines are older than the first part's newest line (by minutes, within a 2 h watermark).
  const whole = shaped({ name: 'seed-2011.log', startMs: utc(2011, 9, 1), spanMs: 8 * 3600_000, lines: n(5000), urls: 80, seed: 11, zone: 0, early: 0, earlyMs: 0 });
  const cut = Math.floor(whole.length * 0.6);
  const first = whole.slice(0, cut);
  const second = whole.slice(cut);
  const lastTime = Math.max(...first.map(ownTime).filter((t) => !Number.isNaN(t)));
  second.unshift(...[3, 2, 1].map((k) => `10.1.1.${k} - - [${clf(lastTime - k * 10 * 60_000, 0)}] "GET /seed/late-${k}.html HTTP/1.0" 200 10`));
  const span = { from: utc(2011, 8, 31), to: utc(2011, 9, 3) };
  const split: [ShapedLog, ShapedLog] = [{ name: 'seed-2011-a.log', lines: first, ...span }, { name: 'seed-2011-b.log', lines: second, ...span }];
  return { logs, split };
}

const LINE = /^\S+ \S+ \S+ \[(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\] "(?:[^"]*)" \d{3} (?:\d+|-)(?: .*)?$/;
const REQUEST = /\] "([^"]*)"/;

/** A line's own time in ms (NaN when it has none), the simple way. */
export function ownTime(line: string): number {
  const m = LINE.exec(line);
  if (!m) return NaN;
  const [, d, mon, y, h, mi, s, sign, zh, zm] = m;
  const local = Date.UTC(Number(y), MONTHS.indexOf(mon!), Number(d), Number(h), Number(mi), Number(s));
  return local - (sign === '-' ? -1 : 1) * (Number(zh) * 60 + Number(zm)) * 60_000;
}

/** URL counts of the lines whose own time is in [from, to), and how many lines did not parse. */
export function ownTimeCounts(lines: readonly string[], from = -Infinity, to = Infinity): { counts: Map<string, number>; total: number; unparsed: number } {
  const counts = new Map<string, number>();
  let total = 0;
  let unparsed = 0;
  for (const line of lines) {
    const t = ownTime(line);
    const url = Number.isNaN(t) ? undefined : REQUEST.exec(line)![1]!.split(' ')[1];
    if (!url) {
      unparsed++;
      continue;
    }
    if (t < from || t >= to) continue;
    counts.set(url, (counts.get(url) ?? 0) + 1);
    total++;
  }
  return { counts, total, unparsed };
}

/** Writes the log next to the spool and renames it in whole, as a user's `mv` would. */
export function dropShaped(dir: string, log: ShapedLog): void {
  const staged = path.join(dir, `${log.name}.staged`);
  writeFileSync(staged, log.lines.join('\n') + '\n');
  renameSync(staged, path.join(dir, 'spool', log.name));
}
