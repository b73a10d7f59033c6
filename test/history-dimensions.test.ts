import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { generateLines } from '../scripts/access-log-generator.js';
import { waitFor, withDaemon } from './helpers/daemon.js';
import { countBy, parseLine, type ParsedLine } from './helpers/dimension-counts.js';
import { ownTime } from './helpers/real-log-shapes.js';
import type { TopItem } from './helpers/api-types.js';

type Item = TopItem;
interface RangeAnswer {
  by: string;
  total: number;
  keys: number;
  items: Item[];
  urls?: { url: string; count: number }[];
  visitorsError: number | null;
}
interface KeySeries {
  by: string;
  key: string;
  total: number;
  bytes: number;
  points: { start: string; count: number; bytes: number }[];
}

const iso = (ms: number) => new Date(ms).toISOString();
const H = 3_600_000;
/** The log's own time: three days of 2020, read in processing time (the history is by own time in both modes). */
const START = Date.UTC(2020, 2, 1, 0, 0, 0);

/** The lines' fields with their own time, by the regexes of the helpers (not the daemon's parser). */
function parsed(lines: readonly string[]): (ParsedLine & { ms: number })[] {
  const out: (ParsedLine & { ms: number })[] = [];
  for (const line of lines) {
    const p = parseLine(line);
    if (p) out.push({ ...p, ms: ownTime(line) });
  }
  return out;
}

describe('the history by dimension (issue 24 items 2, 4): ranges by own time, by every dimension and status, exact', () => {
  test('by=status, by=url&status=404, by=client over a fixed range; a key\'s series sums to the range\'s count: lines and bytes equal a regex-and-dict count', { timeout: 120_000 }, async (t) => {
    const d = await withDaemon(t, { extra: 'a1.jobs.j1.dimensions = url status client\n' });
    const { dir } = d;
    const lines = [...generateLines({ lines: 9_000, urls: 120, clients: 300, seed: 2424, startMs: START, spanSeconds: 3 * 86_400, malformed: 0.01 })];
    const staged = path.join(dir, 'access.log.staged');
    writeFileSync(staged, lines.join('\n') + '\n');
    renameSync(staged, path.join(dir, 'spool', 'access.log'));
    const all = parsed(lines);
    const whole = `from=${iso(START)}&to=${iso(START + 4 * 86_400_000)}`;
    // Every line in the history (read from the batch rows or the rollups, whichever are there).
    await waitFor('every line in the history', async () => {
      const r = await d.get<RangeAnswer>(`/api/top?by=status&n=1&${whole}`);
      assert.equal(r.status, 200, JSON.stringify(r.body) + d.logs.slice(-5).join('\n'));
      return r.body.total === all.length ? true : undefined;
    }, 60_000);

    // A fixed range that cuts days and hours: from 05:00 of the first day to 19:00 of the third.
    const from = START + 5 * H;
    const to = START + 2 * 86_400_000 + 19 * H;
    const inRange = all.filter((l) => l.ms >= from && l.ms < to);
    const range = `from=${iso(from)}&to=${iso(to)}`;
    const check = async (label: string, query: string, dim: keyof ParsedLine, lo: number, hi: number) => {
      const want = countBy(inRange, dim, lo, hi);
      const { status, body } = await d.get<RangeAnswer>(`/api/top?n=1000&${query}&${range}`);
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.total, want.reduce((n, i) => n + i.count, 0), `${label}: total`);
      assert.equal(body.keys, want.length, `${label}: distinct keys`);
      assert.deepEqual(body.items.map((i) => [i.key, i.count, i.bytes]), want.map((i) => [i.key, i.count, i.bytes]), `${label}: key by key, lines and bytes`);
      // Distinct clients of each key over the range (300 clients in all: exact), a client its own one.
      const visitors = want.map((i) => [i.key, dim === 'client' ? 1 : i.visitors, true]);
      assert.deepEqual(body.items.map((i) => [i.key, i.visitors, i.visitorsExact]), visitors, `${label}: key by key, visitors exact`);
      return body;
    };
    const checkAll = async (read: string) => {
      const byStatus = await check(`${read}: by=status`, 'by=status', 'status', 0, 999);
      assert.ok(byStatus.items.length >= 4, 'several status codes');
      const notFound = await check(`${read}: by=url&status=404`, 'by=url&status=404', 'url', 404, 404);
      assert.ok(notFound.items.length > 5, 'some 404 URLs');
      assert.deepEqual(notFound.urls, notFound.items.map((i) => ({ url: i.key, count: i.count })), 'by=url keeps urls');
      await check(`${read}: by=client`, 'by=client', 'client', 0, 999);
      await check(`${read}: by=client&status=5xx`, 'by=client&status=5xx', 'client', 500, 599);
    };
    // Read from the batch rows where the rollups are not made yet, then from the rollups:
    // both are exact (the database is read beside the daemon for when the rollups are done).
    await checkAll('as soon as counted');
    const db = new Database(path.join(dir, 'data', 'results.db'), { readonly: true });
    try {
      await waitFor('the rollups made (no dirty bucket left)', async () => ((db.prepare('SELECT COUNT(*) FROM dirty').pluck().get() as number) === 0 ? true : undefined), 60_000);
      const levels = db.prepare('SELECT level, COUNT(*) AS n FROM dim_counts GROUP BY level ORDER BY level').all() as { level: number; n: number }[];
      assert.deepEqual(levels.map((l) => l.level), [1, 2, 3, 4, 5], 'rollups by dimension at every level');
    } finally {
      db.close();
    }
    await checkAll('from the rollups');

    // Series: status 500 per hour, and the busiest URL's 4xx per 10 minutes, sum to the range's counts.
    const want500 = inRange.filter((l) => l.status === 500);
    const s500 = await d.get<KeySeries>(`/api/series?by=status&key=500&step=3600&${range}`);
    assert.equal(s500.status, 200, JSON.stringify(s500.body));
    assert.equal(s500.body.points.length, (to - from) / H);
    assert.equal(s500.body.total, want500.length);
    assert.equal(s500.body.points.reduce((n, p) => n + p.count, 0), want500.length, 'status 500 per hour sums to the range');
    // Hour by hour against the dict.
    const perHour = new Map<number, number>();
    for (const l of want500) perHour.set(Math.floor(l.ms / H) * H, (perHour.get(Math.floor(l.ms / H) * H) ?? 0) + 1);
    for (const p of s500.body.points) assert.equal(p.count, perHour.get(Date.parse(p.start)) ?? 0, p.start);
    const url = countBy(inRange, 'url', 400, 499)[0]!;
    const sUrl = await d.get<KeySeries>(`/api/series?by=url&key=${encodeURIComponent(url.key)}&status=4xx&step=600&${range}`);
    assert.equal(sUrl.status, 200, JSON.stringify(sUrl.body));
    assert.deepEqual([sUrl.body.total, sUrl.body.bytes], [url.count, url.bytes], `${url.key}'s 4xx per 10 minutes sums to the range`);

    // 400s name the parameter.
    const noKey = await d.get<{ parameter: string }>(`/api/series?by=status&${range}`);
    assert.deepEqual([noKey.status, noKey.body.parameter], [400, 'key']);
    const badBy = await d.get<{ parameter: string; message: string }>(`/api/top?by=agent&${range}`);
    assert.deepEqual([badBy.status, badBy.body.parameter], [400, 'by']);
    assert.match(badBy.body.message, /url, status, client/);
    // The OpenAPI document names the new parameters.
    const doc = await d.get<{ paths: Record<string, { get: { parameters: { name: string }[]; description: string } }> }>('/docs/json');
    assert.match(doc.body.paths['/api/top']!.get.description, /from`\/`to`.*`visitors` as live/, 'the OpenAPI document says what a range\'s visitors are');
    const names = (p: string) => doc.body.paths[p]!.get.parameters.map((x) => x.name);
    for (const name of ['by', 'key', 'status', 'from', 'to', 'step']) assert.ok(names('/api/series').includes(name), `/api/series ${name}`);
    for (const name of ['by', 'status', 'from', 'to', 'n']) assert.ok(names('/api/top').includes(name), `/api/top ${name}`);

    // Past 512 distinct clients a key's visitors over a range are an estimate within the
    // error (3 standard errors: the lines are fixed, so is the estimate), and exact below:
    // another log, ten days on, with 3,000 clients (status 200 and the busiest URLs go past 512).
    const busyStart = START + 10 * 86_400_000;
    const busyLines = [...generateLines({ lines: 4_500, urls: 20, clients: 3_000, seed: 2425, startMs: busyStart, spanSeconds: 3 * 86_400, malformed: 0 })];
    writeFileSync(staged, busyLines.join('\n') + '\n');
    renameSync(staged, path.join(dir, 'spool', 'busy.log'));
    const busy = parsed(busyLines);
    // From 05:00 of the first day to 19:00 of the third: hours, a whole day, hours.
    const busyRange = `from=${iso(busyStart + 5 * H)}&to=${iso(busyStart + 2 * 86_400_000 + 19 * H)}`;
    const busyIn = busy.filter((l) => l.ms >= busyStart + 5 * H && l.ms < busyStart + 2 * 86_400_000 + 19 * H);
    const checkBusy = async (read: string) => {
      let estimated = 0;
      for (const [query, dim, lo, hi] of [['by=status', 'status', 0, 999], ['by=url', 'url', 0, 999], ['by=url&status=2xx', 'url', 200, 299]] as const) {
        const want = countBy(busyIn, dim, lo, hi);
        const { body } = await d.get<RangeAnswer>(`/api/top?n=1000&${query}&${busyRange}`);
        assert.deepEqual(body.items.map((i) => [i.key, i.count]), want.map((i) => [i.key, i.count]), `${read}: ${query} lines`);
        assert.ok(body.visitorsError !== null && body.visitorsError < 0.02, `${read}: ${query} visitorsError ${body.visitorsError}`);
        body.items.forEach((item, k) => {
          const exact = want[k]!.visitors;
          const label = `${read}: ${query} ${item.key}: ${item.visitors} visitors, ${exact} distinct clients`;
          assert.equal(item.visitorsExact, exact <= 512, `${label}: exact up to 512`);
          if (exact <= 512) assert.equal(item.visitors, exact, label);
          else assert.ok(Math.abs(item.visitors! - exact) <= 3 * body.visitorsError! * exact, label);
          if (exact > 512) estimated++;
        });
      }
      assert.ok(estimated >= 3, `${read}: ${estimated} keys past 512 visitors`);
    };
    await waitFor('the busy log in the history', async () => {
      const r = await d.get<RangeAnswer>(`/api/top?by=status&n=1&${busyRange}`);
      return r.body.total === busyIn.length ? true : undefined;
    }, 60_000);
    await checkBusy('as soon as counted');
    const db2 = new Database(path.join(dir, 'data', 'results.db'), { readonly: true });
    try {
      await waitFor('the busy log rolled up', async () => ((db2.prepare('SELECT COUNT(*) FROM dirty').pluck().get() as number) === 0 ? true : undefined), 60_000);
      // HyperLogLog registers are kept deflated where a bucket's key passed 512 visitors.
      const sketched = db2.prepare('SELECT COUNT(*) FROM dim_counts WHERE visitors IS NOT NULL AND substr(visitors, 1, 1) = x\'03\'').pluck().get() as number;
      assert.ok(sketched > 0, 'some rollup rows hold registers');
    } finally {
      db2.close();
    }
    await checkBusy('from the rollups');
  });
});
