import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { generateLines } from '../scripts/access-log-generator.js';
import { CHROMIUM, CHROMIUM_ARGS, SKIP_WITHOUT_CHROMIUM } from './helpers/chromium.js';
import { countBy, parseLine, type ParsedLine } from './helpers/dimension-counts.js';
import { logflow } from './helpers/run-cli.js';
import type { TopItem } from '../daemon/counts/dimension-window.js';

const UAParser = createRequire(import.meta.url)('ua-parser-js') as new (ua: string) => { getBrowser(): { name?: string } };

/** One key of a dimension's top, as the daemon and `logflow analyze` answer it. */
type Item = TopItem;

const DIMS = ['url', 'status', 'client', 'referrer', 'agent', 'method', 'user'] as const;

describe('logflow analyze --by, --status, the HTML report\'s panels', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'logflow-analyze-by-'));
  // Two days of log, 300 clients: every key's visitors are exact.
  const lines = [...generateLines({ lines: 8000, urls: 120, clients: 300, seed: 31, spanSeconds: 2 * 86_400, malformed: 0.01 })];
  const file = path.join(dir, 'access.log');
  writeFileSync(file, lines.join('\n') + '\n');
  const parsed = lines.map(parseLine).filter((l): l is ParsedLine => l !== undefined);
  const simple = (items: Item[]) => items.map(({ key, count, bytes, visitors }) => ({ key, count, bytes, visitors }));

  test('--by every dimension, with and without --status: lines, bytes and visitors of every key equal a regex-and-dict count', async () => {
    for (const [status, lo, hi] of [[undefined, 0, 999], ['5xx', 500, 599]] as const) {
      const r = await logflow(['analyze', file, '--json', '--top', '1000', '--by', DIMS.join(','), ...(status ? ['--status', status] : [])], dir);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as { by: Record<string, Item[]>; status?: string; bytes: number; visitors: number };
      assert.equal(report.status, status);
      for (const dim of DIMS) {
        const want = countBy(parsed, dim, lo, hi).map((k) => ({ ...k, visitors: dim === 'client' ? 1 : k.visitors }));
        assert.deepEqual(simple(report.by[dim]!), want, `--by ${dim} --status ${status}`);
      }
      assert.equal(report.bytes, parsed.reduce((n, l) => n + l.bytes, 0));
      assert.equal(report.visitors, new Set(parsed.map((l) => l.client)).size);
    }
  });

  test('--by a dimension the format lacks, or --status without --by, is a usage error naming it', async () => {
    const r = await logflow(['analyze', file, '--log-format', 'common', '--by', 'agent'], dir);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /--by agent: the log format common has no agent field/);
    const s = await logflow(['analyze', file, '--status', '404'], dir);
    assert.equal(s.code, 64);
    assert.match(s.stderr, /--status filters the --by dimensions/);
  });

  test('the HTML report has GoAccess\'s panels, equal to the independent count, and draws them in Chromium, offline', { skip: SKIP_WITHOUT_CHROMIUM }, async () => {
    const html = path.join(dir, 'report.html');
    const r = await logflow(['analyze', file, '--html', html, '--top', '10'], dir);
    assert.equal(r.code, 0, r.stderr);
    const text = readFileSync(html, 'utf8');
    const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(text)![1]!) as { details: { panels: Record<string, unknown> } };
    const p = data.details.panels as {
      statusClasses: { status: string; count: number }[];
      notFound: Item[];
      notFoundUrls: number;
      clients: Item[];
      browsers: Item[];
      days: { day: string; requests: number; bytes: number; visitors: number }[];
      hours: { hour: number; requests: number; bytes: number }[];
      bytes: number;
    };
    const classes = new Map<string, number>();
    for (const l of parsed) classes.set(`${String(l.status)[0]}xx`, (classes.get(`${String(l.status)[0]}xx`) ?? 0) + 1);
    assert.deepEqual(p.statusClasses, [...classes].sort().map(([status, count]) => ({ status, count })));
    assert.deepEqual(simple(p.notFound), countBy(parsed, 'url', 404, 404).slice(0, 10));
    assert.equal(p.notFoundUrls, countBy(parsed, 'url', 404, 404).length);
    assert.deepEqual(simple(p.clients), countBy(parsed, 'client').slice(0, 10).map((k) => ({ ...k, visitors: 1 })));
    // Browsers: each line's agent read by ua-parser-js, here, line by line.
    const browsers = countBy(parsed.map((l) => ({ ...l, agent: new UAParser(l.agent === '-' ? '' : l.agent).getBrowser().name ?? 'Unknown' })), 'agent');
    assert.deepEqual(simple(p.browsers), browsers.slice(0, 10));
    // Days and hours by the lines' own times (+0000 in the generator's log).
    const day = (l: string) => /\[(\d\d)\/(\w{3})\/(\d{4}):(\d\d)/.exec(l)!;
    const days = new Map<string, { requests: number; bytes: number; clients: Set<string> }>();
    const hours = new Array(24).fill(0);
    lines.forEach((raw) => {
      const l = parseLine(raw);
      if (!l) return;
      const m = day(raw);
      const key = new Date(`${m[2]} ${m[1]} ${m[3]} UTC`).toISOString().slice(0, 10);
      const e = days.get(key) ?? { requests: 0, bytes: 0, clients: new Set<string>() };
      e.requests++;
      e.bytes += l.bytes;
      e.clients.add(l.client);
      days.set(key, e);
      hours[Number(m[4])]++;
    });
    assert.deepEqual(p.days.map(({ day: d, requests, bytes, visitors }) => ({ d, requests, bytes, visitors })), [...days].sort().map(([d, e]) => ({ d, requests: e.requests, bytes: e.bytes, visitors: e.clients.size })));
    assert.deepEqual(p.hours.map((h) => h.requests), hours);
    // Drawn, and with no request leaving the page.
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const requests: string[] = [];
      page.on('request', (req) => requests.push(req.url()));
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pathToFileURL(html).href);
      await page.waitForSelector('#panel-hours tbody tr');
      assert.deepEqual(errors, []);
      assert.deepEqual(requests, [pathToFileURL(html).href]);
      const shown = await page.$$eval('#panel-notfound tbody tr', (rows) => rows.map((r) => [(r as HTMLElement).dataset.key, r.children[1]!.textContent]));
      assert.deepEqual(shown, countBy(parsed, 'url', 404, 404).slice(0, 10).map((k) => [k.key, k.count.toLocaleString('en-US')]));
      assert.equal(await page.$$eval('#panel-hours tbody tr', (rows) => rows.length), 24);
      await page.screenshot({ path: path.join(dir, 'report.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
