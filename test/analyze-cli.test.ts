import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { writeLog } from '../scripts/access-log-generator.js';
import { CHROMIUM, CHROMIUM_ARGS, SKIP_WITHOUT_CHROMIUM } from './helpers/chromium.js';
import { logflow } from './helpers/run-cli.js';

interface UrlCount {
  url: string;
  count: number;
}
interface ReportJson {
  lines: number;
  parsed: number;
  parseErrors: number;
  from: string | null;
  to: string | null;
  urls: UrlCount[];
  peakWindow: { start: string; end: string; total: number; urls: UrlCount[] } | null;
  files: { name: string; lines: number; parseErrors: number }[];
}

const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';
const LINE = /^\S+ \S+ \S+ \[(\d\d)\/(\w{3})\/(\d{4}):(\d\d):(\d\d):(\d\d) \+0000\] "\S+ (\S+)[^"]*" \d{3} (?:\d+|-)(?: .*)?$/;

/** The answer computed the simple way: a regex per line, then a brute-force scan of every window. */
function expectedReport(texts: string[], windowSeconds: number, top: number): Omit<ReportJson, 'files'> {
  const lines = texts.flatMap((t) => t.split('\n').filter((l, i, all) => i < all.length - 1 || l !== ''));
  const parsed: { sec: number; url: string }[] = [];
  for (const line of lines) {
    const m = LINE.exec(line);
    if (!m) continue;
    const ms = Date.UTC(+m[3]!, MONTHS.indexOf(m[2]!) / 3, +m[1]!, +m[4]!, +m[5]!, +m[6]!);
    parsed.push({ sec: ms / 1000, url: m[7]! });
  }
  const topOf = (entries: { url: string }[]) => {
    const counts = new Map<string, number>();
    for (const e of entries) counts.set(e.url, (counts.get(e.url) ?? 0) + 1);
    return [...counts].map(([url, count]) => ({ url, count })).sort((a, b) => b.count - a.count || (a.url < b.url ? -1 : 1)).slice(0, top);
  };
  const secs = parsed.map((p) => p.sec);
  const first = Math.min(...secs);
  const last = Math.max(...secs);
  let best = { end: 0, total: 0 };
  for (let end = first + 1; end <= last + windowSeconds; end++) {
    let total = 0;
    for (const s of secs) if (s >= end - windowSeconds && s < end) total++;
    if (total > best.total) best = { end, total };
  }
  const iso = (s: number) => new Date(s * 1000).toISOString();
  return {
    lines: lines.length,
    parsed: parsed.length,
    parseErrors: lines.length - parsed.length,
    from: iso(first),
    to: iso(last),
    urls: topOf(parsed),
    peakWindow: { start: iso(best.end - windowSeconds), end: iso(best.end), total: best.total, urls: topOf(parsed.filter((p) => p.sec >= best.end - windowSeconds && p.sec < best.end)) },
  };
}

describe('logflow analyze', () => {
  let dir: string;
  let a: string;
  let b: string;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'logflow-analyze-'));
    a = path.join(dir, 'a.log');
    b = path.join(dir, 'b.log');
    // An hour of light traffic, then two minutes of a burst: the busiest window is in the burst.
    await writeLog(a, { lines: 6_000, urls: 50, seed: 1, malformed: 0.02, startMs: Date.UTC(2026, 0, 1), spanSeconds: 3600 });
    await writeLog(b, { lines: 4_000, urls: 50, seed: 2, malformed: 0.01, startMs: Date.UTC(2026, 0, 1, 1, 0, 30), spanSeconds: 120 });
    writeFileSync(b + '.gz', gzipSync(readFileSync(b)));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--json: exact counts, top URLs, time span and busiest window against a count made the simple way; .gz is read', async () => {
    const run = await logflow(['analyze', 'a.log', 'b.log.gz', '--json', '--top', '5', '--window', '60'], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '', 'no progress bar off a terminal');
    const got = JSON.parse(run.stdout) as ReportJson;
    const want = expectedReport([readFileSync(a, 'utf8'), readFileSync(b, 'utf8')], 60, 5);
    assert.deepEqual(Object.keys(got), ['lines', 'parsed', 'parseErrors', 'from', 'to', 'urls', 'peakWindow', 'files']);
    assert.deepEqual({ ...got, files: undefined }, { ...want, files: undefined });
    assert.ok(want.peakWindow!.start >= '2026-01-01T01:00:00', 'the burst holds the busiest window');
    const errorsA = expectedReport([readFileSync(a, 'utf8')], 60, 1).parseErrors;
    assert.deepEqual(got.files, [
      { name: 'a.log', lines: 6_000, parseErrors: errorsA },
      { name: 'b.log.gz', lines: 4_000, parseErrors: want.parseErrors - errorsA },
    ]);
  });

  test('text: the same figures, three sample parse errors, the busiest window and the file table', async () => {
    const run = await logflow(['analyze', 'a.log', '--top', '3'], dir);
    assert.equal(run.code, 0, run.stderr);
    const want = expectedReport([readFileSync(a, 'utf8')], 300, 3);
    assert.match(run.stdout, new RegExp(`^parsed: ${want.parsed.toLocaleString('en-US')} \\(.*\\), parse errors: ${want.parseErrors.toLocaleString('en-US')} `, 'm'));
    assert.equal(run.stdout.match(/^ {2}a\.log:\d+: /gm)?.length, 3, 'three samples');
    assert.match(run.stdout, new RegExp(`^ {2}1 +${want.urls[0]!.count.toLocaleString('en-US')} +[\\d.]+% +${want.urls[0]!.url.replace(/[?.]/g, '\\$&')}$`, 'm'));
    assert.match(run.stdout, new RegExp(`^busiest 300 s window \\(sliding by 1 s\\): ${want.peakWindow!.start} \\.\\. ${want.peakWindow!.end}, ${want.peakWindow!.total.toLocaleString('en-US')} lines$`, 'm'));
    assert.match(run.stdout, /^a\.log +6,000 +\d+ +[\d.]+%$/m);
  });

  test('--time processing: every line counts when it is read, so one window holds them all', async () => {
    const run = await logflow(['analyze', 'a.log', '--json', '--time', 'processing', '--top', '3'], dir);
    assert.equal(run.code, 0, run.stderr);
    const got = JSON.parse(run.stdout) as ReportJson;
    const want = expectedReport([readFileSync(a, 'utf8')], 300, 3);
    assert.deepEqual([got.parsed, got.parseErrors, got.urls], [want.parsed, want.parseErrors, want.urls]);
    assert.equal(got.peakWindow!.total, want.parsed, 'read in well under the 300 s window');
    assert.deepEqual(got.peakWindow!.urls, want.urls);
    assert.ok(got.from! > '2026-06-01', `the span is when it was read (${got.from}), not the lines' times`);
  });

  test('files whose times overlap, in either order, give the report of their lines merged by time: exact, none late', async () => {
    // Two servers' logs of the same stretch: d.log starts 5 min into c.log's 10 min and holds a burst.
    const c = path.join(dir, 'c.log');
    const d = path.join(dir, 'd.log');
    await writeLog(c, { lines: 3_000, urls: 30, seed: 3, malformed: 0.01, startMs: Date.UTC(2026, 0, 2), spanSeconds: 600 });
    await writeLog(d, { lines: 3_000, urls: 30, seed: 4, malformed: 0.01, startMs: Date.UTC(2026, 0, 2, 0, 5), spanSeconds: 240 });
    const texts = [readFileSync(c, 'utf8'), readFileSync(d, 'utf8')];
    const keyed = texts.flatMap((t) => t.split('\n').filter((l) => l !== '')).map((l) => ({ l, time: LINE.exec(l)?.slice(1, 7).join(' ') ?? '' }));
    writeFileSync(path.join(dir, 'merged.log'), keyed.sort((x, y) => (x.time < y.time ? -1 : x.time > y.time ? 1 : 0)).map((k) => k.l).join('\n') + '\n');
    const want = expectedReport(texts, 300, 5);
    const report = async (files: string[]) => {
      const run = await logflow(['analyze', ...files, '--json', '--top', '5'], dir);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, '', `${files.join(' ')}: no line late`);
      return { ...(JSON.parse(run.stdout) as ReportJson), files: undefined };
    };
    const merged = await report(['merged.log']);
    assert.deepEqual(merged, { ...want, files: undefined });
    // So d.log's seconds come first when it is read first, and the window needs c.log's before them.
    assert.ok(want.peakWindow!.start < '2026-01-02T00:05:00' && want.peakWindow!.end > '2026-01-02T00:09:00', 'the busiest window spans d.log and c.log before it');
    assert.deepEqual(await report(['c.log', 'd.log']), merged);
    assert.deepEqual(await report(['d.log', 'c.log']), merged);
  });

  test('lines older than the watermark count in the totals, not in a window, and are reported', async () => {
    const late = path.join(dir, 'late.log');
    const line = (hms: string, url: string) => `1.2.3.4 - - [01/Jan/2026:${hms} +0000] "GET ${url} HTTP/1.1" 200 1`;
    writeFileSync(late, [line('00:10:00', '/new'), line('00:10:01', '/new'), line('00:00:00', '/old')].join('\n') + '\n');
    const run = await logflow(['analyze', 'late.log', '--json', '--watermark', '30'], dir);
    assert.equal(run.code, 0, run.stderr);
    const got = JSON.parse(run.stdout) as ReportJson;
    assert.deepEqual(got.urls, [{ url: '/new', count: 2 }, { url: '/old', count: 1 }]);
    assert.equal(got.peakWindow!.total, 2);
    assert.match(run.stderr, /1 line\(s\) were more than 30 s older than a line before them/);
  });

  test('usage errors exit 64 and say what is wrong', async () => {
    const cases: [string[], RegExp][] = [
      [['analyze'], /analyze needs at least one FILE/],
      [['analyze', 'a.log', '--window', '7', '--slide', '2'], /--window \(7 s\) must be a multiple of --slide \(2 s\)/],
      [['analyze', 'a.log', '--time', 'wall'], /--time must be event or processing/],
      [['analyze', 'a.log', '--top', '0'], /--top must be a whole number/],
      [['analyze', 'missing.log'], /cannot read missing\.log: ENOENT/],
      [['analyze', 'a.log', '--log-format', '%h %>s'], /--log-format %h %>s has no URL field: analyze counts URLs/],
      [['analyze', 'a.log', '--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const run = await logflow(args, dir);
      assert.equal(run.code, 64, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, '');
    }
    writeFileSync(path.join(dir, 'broken.log.gz'), 'not gzip at all\n');
    const broken = await logflow(['analyze', 'a.log', 'broken.log.gz'], dir);
    assert.equal(broken.code, 1, 'a file that cannot be read is a failure, not a usage error');
    assert.match(broken.stderr, /^logflow: reading broken\.log\.gz failed: incorrect header check$/m);
  });

  test('--html: one file that opens offline in Chromium and shows the bars, the chart and the file table', { skip: SKIP_WITHOUT_CHROMIUM }, async () => {
    const run = await logflow(['analyze', 'a.log', 'b.log.gz', '--json', '--top', '7', '--html', 'report.html'], dir);
    assert.equal(run.code, 0, run.stderr);
    const got = JSON.parse(run.stdout) as ReportJson;
    const browser = await chromium.launch({ executablePath: CHROMIUM!, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const requests: string[] = [];
      const errors: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith('file:')) requests.push(r.url());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pathToFileURL(path.join(dir, 'report.html')).href);
      await page.waitForSelector('#chart canvas');
      const bars = (id: string) => page.$$eval(`#${id} li`, (lis) => lis.map((li) => ({ url: (li as HTMLElement).dataset.url!, count: Number((li as HTMLElement).dataset.count) })));
      assert.deepEqual(await bars('bars-all'), got.urls);
      assert.deepEqual(await bars('bars-peak'), got.peakWindow!.urls);
      assert.equal(await page.textContent('#lines'), got.lines.toLocaleString('en-US'));
      const rows = await page.$$eval('#files tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
      assert.deepEqual(rows, got.files.map((f) => [f.name, f.lines.toLocaleString('en-US'), f.parseErrors.toLocaleString('en-US')]));
      assert.equal(await page.locator('#chart .u-legend').count(), 1, 'uPlot drew the chart');
      assert.deepEqual(errors, []);
      assert.deepEqual(requests, [], 'no request leaves the file');
    } finally {
      await browser.close();
    }
  });
});
