import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { after, before, describe, test } from 'node:test';
import { encodeCounts, ResultsStore, SqliteQueries, type BatchResult, type ResultItem, type ResultsQueries, type WindowResult, type WindowResultSink } from '../daemon/store/index.js';
import { PostgresQueries } from '../daemon/store/postgres/postgres-queries.js';
import { PostgresResultsStore } from '../daemon/store/postgres/postgres-store.js';
import { batchBlob } from './helpers/batch-blobs.js';
import { tempDir, waitFor } from './helpers/daemon.js';
import { testLogger } from './helpers/logger.js';
import { postgresForSuite, skipWithoutPostgres } from './helpers/postgres-server.js';
import { sumBatches } from './helpers/range-sums.js';

/**
 * One suite, both stores: what the job writes through WindowResultSink, the HTTP side reads
 * back through ResultsQueries the same way from SQLite and from PostgreSQL. Every expected
 * answer is summed here from the batches as written (a dict per range), not by a store.
 */

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const T0 = Date.UTC(2024, 2, 10, 22, 0, 0);
/** Ties and bytes order: `/b` < `/Z`? No: `/Z` (0x5A) < `/b` (0x62) < `/é` (0xC3 0xA9), whatever the locale. */
const URLS = ['/', '/index.html', '/a', '/b', '/Z', '/é', '/ü?x=1', '/api/v1/items', '/static/app.js', '/img/logo.png', '/\u{1F600}', '/search?q=%20'];

interface Batch {
  readonly startMs: number;
  readonly counts: Map<string, number>;
  readonly parseErrors: number;
}

/** Deterministic batches every 7 s over 2 h 20 min from 22:00 (across midnight), some URLs tied. */
function makeBatches(): Batch[] {
  const out: Batch[] = [];
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  for (let t = T0; t < T0 + 2 * H + 20 * M; t += 7 * S) {
    const counts = new Map<string, number>();
    for (let i = rand(4); i < 4; i++) {
      const url = URLS[rand(URLS.length)]!;
      counts.set(url, (counts.get(url) ?? 0) + 1 + rand(3));
    }
    out.push({ startMs: t, counts, parseErrors: rand(2) });
  }
  return out;
}

const toResult = (b: Batch): BatchResult => ({
  startMs: b.startMs,
  events: [...b.counts.values()].reduce((a, c) => a + c, 0) + b.parseErrors,
  parseErrors: b.parseErrors,
  counts: encodeCounts(b.counts),
});

/** The independent answer: URL counts and the total of the batches starting in [from, to). */
const expectedTop = (batches: readonly Batch[], from: number, to: number, n: number) => sumBatches(batches, from, to, n);

function expectedSeries(batches: readonly Batch[], url: string | undefined, fromMs: number, to: number, step: number): { start: number; count: number }[] {
  const from = Math.floor(fromMs / step) * step;
  const points = Array.from({ length: Math.ceil((to - from) / step) }, (_, i) => ({ start: from + i * step, count: 0 }));
  for (const b of batches) {
    if (b.startMs < from || b.startMs >= to) continue;
    const n = url === undefined ? [...b.counts.values()].reduce((a, c) => a + c, 0) : b.counts.get(url) ?? 0;
    points[Math.floor((b.startMs - from) / step)]!.count += n;
  }
  return points;
}

interface StoreUnderTest {
  readonly sink: WindowResultSink;
  readonly queries: ResultsQueries;
  /** Rolls the history up until nothing remains, as idle ticks would (PostgreSQL: in the background, waited for). */
  rollUpAll(): Promise<void>;
  /** Makes `epoch` counted `agoMs` earlier than it was (the retention counts from then). */
  ageEpoch(epoch: number, agoMs: number): Promise<void>;
  /** The rollup levels that hold rows of `dimension`. */
  levels(dimension: string): Promise<number[]>;
  close(): Promise<void>;
}

type Open = (name: string, opts?: { retentionMs?: number }) => Promise<StoreUnderTest>;

const JOB = { batchIntervalMs: 1000, windowDurationMs: 300_000, instance: 'a1' };

/** Writes `items` through the sink, as the job's outbox does (a promise from PostgreSQL). */
const write = async (sink: WindowResultSink, items: ResultItem[], epoch = 1) => sink.write(items, epoch);

/** A slide's top as the job makes it: each URL with its bytes and visitors (a visitor per 2 lines; past 3, an estimate). */
const itemsOf = (top: { url: string; count: number }[]) =>
  top.map((u) => ({ key: u.url, count: u.count, bytes: u.count * 100, visitors: Math.ceil(u.count / 2), visitorsExact: u.count < 3 }));
const window = (endMs: number, top: { url: string; count: number }[], changed = true, total = 0): WindowResult => ({ startMs: endMs - 300_000, endMs, total, distinctUrls: top.length, top: itemsOf(top), changed });

/** A line of the dimension cases: its own second and the fields the job counts by. */
type Line = {
  readonly ms: number;
  readonly url: string;
  readonly status: number;
  readonly client: string;
  readonly bytes: number;
};
const DIMS = ['url', 'status', 'client'] as const;
type Dim = (typeof DIMS)[number];
const keyOf = (l: Line, dim: Dim) => (dim === 'status' ? String(l.status) : l[dim]);
const DAY = 24 * H;

/**
 * Lines every 7 s over T0's 2 h 20 min (minutes, hours, midnight), and every 61 h from 2019 to
 * 2022 (days, 30-day and 360-day spans), 1 to 4 a second, of a few statuses, clients and sizes.
 */
function makeDimensionLines(): Line[] {
  let seed = 24;
  // The generator's high bits: its low bits repeat with a short period.
  const rand = (n: number) => Math.floor((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 16) % n;
  const clients = ['10.0.0.1', '10.0.0.2', '2001:db8::1', '192.168.1.20', '10.0.0.10'];
  const statuses = [200, 200, 200, 200, 304, 404, 404, 500, 503, 301];
  const out: Line[] = [];
  const second = (ms: number) => {
    for (let i = rand(4); i < 4; i++) {
      const status = statuses[rand(statuses.length)]!;
      out.push({ ms, url: URLS[rand(URLS.length)]!, status, client: clients[rand(clients.length)]!, bytes: status === 304 ? 0 : rand(5000) });
    }
  };
  for (let t = T0; t < T0 + 2 * H + 20 * M; t += 7 * S) second(t);
  for (let t = Date.UTC(2019, 0, 1, 3, 17, 0); t < Date.UTC(2022, 0, 1); t += 61 * H + 7 * S) second(t);
  return out;
}

/** The lines as batch results, a batch per second, with their visits (as the job writes them: its format has a client). */
function batchesOfLines(lines: readonly Line[]): ResultItem[] {
  const bySecond = new Map<number, Line[]>();
  for (const l of lines) {
    const same = bySecond.get(l.ms);
    if (same) same.push(l);
    else bySecond.set(l.ms, [l]);
  }
  return [...bySecond].map(([startMs, ls]) => ({ kind: 'batch', batch: { startMs, events: ls.length, parseErrors: 0, counts: batchBlob(ls, DIMS, true) } }));
}

/** A key's distinct clients as the stores answer them: exact up to 512; a client its own one. */
const visitorsOf = (dim: Dim, clients: Set<string>) => ({ visitors: dim === 'client' ? 1 : clients.size, visitorsExact: dim === 'client' || clients.size <= 512 });

/** The independent answer by dimension: a dict of the lines in [from, to) whose status is in [lo, hi]. */
function expectedDimTop(lines: readonly Line[], dim: Dim, lo: number, hi: number, from: number, to: number, n: number) {
  const sums = new Map<string, { count: number; bytes: number; clients: Set<string> }>();
  for (const l of lines) {
    if (l.ms < from || l.ms >= to || l.status < lo || l.status > hi) continue;
    const m = sums.get(keyOf(l, dim)) ?? { count: 0, bytes: 0, clients: new Set<string>() };
    m.count++;
    m.bytes += l.bytes;
    m.clients.add(l.client);
    sums.set(keyOf(l, dim), m);
  }
  // Visitors: each key's distinct clients (the blobs carry visits: batchesOfLines).
  const items = [...sums].map(([key, m]) => ({ key, count: m.count, bytes: m.bytes, ...visitorsOf(dim, m.clients) })).sort((a, b) => b.count - a.count || Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  return { total: items.reduce((t, i) => t + i.count, 0), keys: items.length, items: items.slice(0, n) };
}

function expectedDimSeries(lines: readonly Line[], dim: Dim, key: string, lo: number, hi: number, fromMs: number, to: number, step: number) {
  const from = Math.floor(fromMs / step) * step;
  const points = Array.from({ length: Math.ceil((to - from) / step) }, (_, i) => ({ start: from + i * step, count: 0, bytes: 0, clients: new Set<string>() }));
  for (const l of lines) {
    if (l.ms < from || l.ms >= to || l.status < lo || l.status > hi || keyOf(l, dim) !== key) continue;
    const p = points[Math.floor((l.ms - from) / step)]!;
    p.count++;
    p.bytes += l.bytes;
    p.clients.add(l.client);
  }
  return points.map(({ clients, ...p }) => ({ ...p, ...visitorsOf(dim, clients), ...(dim === 'client' && { visitors: p.count > 0 ? 1 : 0 }) }));
}

function contract(kind: string, open: Open): void {
  describe(`results store contract: ${kind}`, () => {
    const batches = makeBatches();
    let store: StoreUnderTest;
    before(async () => {
      store = await open('contract');
      const items: ResultItem[] = batches.map((b) => ({ kind: 'batch', batch: toResult(b) }));
      // In two chunks, the first rolled up before the second is written: later batches land in dirty minutes.
      const half = Math.floor(items.length / 2);
      await write(store.sink, items.slice(0, half));
      await store.rollUpAll();
      await write(store.sink, items.slice(half));
    });
    after(async () => store?.close());

    const ranges: [string, number, number][] = [
      ['batch edges inside one minute', T0 + 10 * S, T0 + 50 * S],
      ['minutes and batch edges', T0 + 3 * M + 13 * S, T0 + 17 * M + 2 * S],
      ['across hours and midnight', T0 + 37 * M + 5 * S, T0 + 2 * H + 3 * M + 30 * S],
      ['the whole history and beyond', T0 - H, T0 + 4 * H],
      ['whole days', Date.UTC(2024, 2, 9), Date.UTC(2024, 2, 13)],
      ['nothing', T0 - 2 * H, T0 - H],
    ];

    test('range top: every URL and the total equal the sums of the batches, before and after the rollups, ties in byte order', async () => {
      for (const rolled of [false, true]) {
        if (rolled) await store.rollUpAll();
        for (const [what, from, to] of ranges) {
          const want = expectedTop(batches, from, to, 100);
          const got = await store.queries.rangeTop(from, to, 100, 'a1');
          assert.equal(got.total, want.total, `${what} (rolled up: ${rolled}): total`);
          assert.deepEqual(got.urls, want.urls, `${what} (rolled up: ${rolled})`);
          assert.deepEqual(await store.queries.rangeTop(from, to, 3, 'a1').then((r) => r.urls), want.urls.slice(0, 3), `${what}: n = 3`);
          assert.deepEqual(await store.queries.rangeTop(from, to, 100, '*'), got, `${what}: * is the one instance`);
        }
      }
    });

    test('URL-only batch rows by dimension: by url of every status equals the range top, rolled up or not; of 404, nothing (these rows carry no status)', async () => {
      const q = (from: number, to: number, lo: number, hi: number) =>
        store.queries.history({ kind: 'dimensionTop', dimension: 'url', status: { lo, hi }, fromMs: from, toMs: to, n: 100 }, 'a1');
      for (const rolled of [false, true]) {
        if (rolled) await store.rollUpAll();
        for (const [what, from, to] of ranges) {
          const want = expectedTop(batches, from, to, 100);
          const got = await q(from, to, 0, 999);
          assert.equal(got.total, want.total, `${what} (rolled up: ${rolled}): total`);
          assert.deepEqual(got.items.map((i) => ({ url: i.key, count: i.count })), want.urls, `${what} (rolled up: ${rolled})`);
          assert.equal((await q(from, to, 404, 404)).total, 0, `${what}: status 404`);
        }
      }
      const series = await store.queries.history({ kind: 'dimensionSeries', dimension: 'url', key: '/é', status: { lo: 0, hi: 999 }, fromMs: T0 - H, toMs: T0 + 3 * H, stepMs: M }, 'a1');
      assert.equal(series.reduce((n, p) => n + p.count, 0), expectedTop(batches, T0 - H, T0 + 3 * H, 100).urls.find((u) => u.url === '/é')?.count ?? 0, '/é per minute sums to its range count');
    });

    test('the history by dimension and status: each dimension\'s top (lines, bytes, total, keys) and a key\'s series equal a dict of the lines, over batch edges, days, 30-day and 360-day spans, before and after the rollups', async () => {
      const s = await open('dims');
      try {
        const lines = makeDimensionLines();
        const items = batchesOfLines(lines);
        // Seconds counted again (rows add up): two in the second write (one row of two parts), one in a write of its own.
        const again = [lines[40]!, lines.at(-30)!, lines[900]!];
        const half = Math.floor(items.length / 2);
        await write(s.sink, items.slice(0, half));
        await s.rollUpAll();
        await write(s.sink, [...items.slice(half), ...batchesOfLines(again.slice(0, 2))]);
        await write(s.sink, batchesOfLines(again.slice(2)));
        const all = [...lines, ...again];
        const ranges: [string, number, number][] = [
          ['batch edges inside one minute', T0 + 10 * S, T0 + 50 * S],
          ['across hours and midnight', T0 + 37 * M + 5 * S, T0 + 2 * H + 3 * M + 30 * S],
          ['whole days', Date.UTC(2024, 2, 9), Date.UTC(2024, 2, 13)],
          ['years: 360-day and 30-day spans, days and seconds at the edges', Date.UTC(2019, 5, 1, 7, 3, 11), Date.UTC(2021, 8, 15, 13, 0, 9)],
          ['everything', Date.UTC(2018, 0, 1), Date.UTC(2025, 0, 1)],
        ];
        const statuses: [number, number][] = [[0, 999], [404, 404], [500, 599], [200, 299]];
        for (const rolled of [false, true]) {
          if (rolled) await s.rollUpAll();
          for (const [what, from, to] of ranges) {
            for (const dim of DIMS) {
              for (const [lo, hi] of statuses) {
                const label = `${what}, by ${dim}, status ${lo}-${hi} (rolled up: ${rolled})`;
                const got = await s.queries.dimensionTop(dim, { lo, hi }, from, to, 100, 'a1');
                assert.deepEqual({ total: got.total, keys: got.keys, items: got.items }, expectedDimTop(all, dim, lo, hi, from, to, 100), label);
              }
              const top2 = await s.queries.history({ kind: 'dimensionTop', dimension: dim, status: { lo: 0, hi: 999 }, fromMs: from, toMs: to, n: 2 }, '*');
              assert.deepEqual(top2.items, expectedDimTop(all, dim, 0, 999, from, to, 2).items, `${what}, by ${dim}: n = 2, instance *`);
            }
          }
        }
        assert.deepEqual(await s.levels('status'), [1, 2, 3, 4, 5], 'rolled up to 30-day and 360-day spans');
        const series: [Dim, string, number, number, number, number, number][] = [
          ['status', '500', 0, 999, T0, T0 + 2 * H + 20 * M, M],
          ['url', '/é', 400, 499, T0 - H, T0 + 3 * H, H],
          ['status', '404', 0, 999, Date.UTC(2019, 0, 1), Date.UTC(2022, 1, 1), 30 * DAY],
          ['client', '10.0.0.1', 500, 599, Date.UTC(2018, 0, 1), Date.UTC(2025, 0, 1), 360 * DAY],
        ];
        for (const [dim, key, lo, hi, from, to, step] of series) {
          const got = await s.queries.history({ kind: 'dimensionSeries', dimension: dim, key, status: { lo, hi }, fromMs: from, toMs: to, stepMs: step }, 'a1');
          const want = expectedDimSeries(all, dim, key, lo, hi, from, to, step);
          assert.ok(want.some((p) => p.count > 0), `${dim}=${key}: some lines`);
          assert.deepEqual(got, want, `${dim}=${key} of ${lo}-${hi} per ${step / 1000} s`);
        }
      } finally {
        await s.close();
      }
    });

    test('visitors past 512 distinct clients: estimates within 3 standard errors, exact below, by status, by url of 404 and 2xx, by client and per step of a series, before and after the rollups', async () => {
      const s = await open('visitors');
      try {
        // 4,000 lines over 2 h 10 min of 1,000 clients, 3 URLs, about one a second.
        let seed = 512;
        const rand = (n: number) => Math.floor((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 16) % n;
        const statuses = [200, 200, 200, 200, 200, 404, 500];
        const span = 2 * H + 10 * M;
        const lines: Line[] = Array.from({ length: 4_000 }, (_, i) => {
          const status = statuses[rand(statuses.length)]!;
          return { ms: T0 + Math.floor((i * span) / 4_000 / S) * S, url: URLS[rand(3)]!, status, client: `10.${rand(4)}.${rand(250)}.1`, bytes: rand(900) };
        });
        await write(s.sink, batchesOfLines(lines));
        // Seconds and minutes at the edges, a whole hour, across midnight.
        const from = T0 + 7 * M + 13 * S;
        const to = T0 + 2 * H + 5 * M + 5 * S;
        const estimate = 3 * 0.01625;
        const check = async (when: string) => {
          let estimated = 0;
          for (const [dim, lo, hi] of [['status', 0, 999], ['url', 404, 404], ['url', 200, 299], ['client', 500, 599]] as const) {
            const label = `${when}: by ${dim}, status ${lo}-${hi}`;
            const want = expectedDimTop(lines, dim, lo, hi, from, to, 100);
            const got = await s.queries.dimensionTop(dim, { lo, hi }, from, to, 100, 'a1');
            assert.deepEqual(got.items.map((i) => [i.key, i.count, i.bytes]), want.items.map((i) => [i.key, i.count, i.bytes]), `${label}: lines and bytes`);
            got.items.forEach((item, k) => {
              const exact = want.items[k]!;
              const what = `${label}, ${item.key}: ${item.visitors} visitors, ${exact.visitors} distinct clients`;
              assert.equal(item.visitorsExact, exact.visitorsExact, `${what}: exact up to 512`);
              if (exact.visitorsExact) assert.equal(item.visitors, exact.visitors, what);
              else assert.ok(Math.abs(item.visitors! - exact.visitors) <= estimate * exact.visitors, what), estimated++;
            });
          }
          assert.ok(estimated >= 3, `${when}: ${estimated} keys past 512 visitors`);
          // Status 200 per hour (past 512 each) and 404 per 10 minutes (exact), a point's visitors those of its step.
          for (const [key, step] of [['200', H], ['404', 10 * M]] as const) {
            const got = await s.queries.dimensionSeries('status', key, { lo: 0, hi: 999 }, from, to, step, 'a1');
            const want = expectedDimSeries(lines, 'status', key, 0, 999, from, to, step);
            assert.deepEqual(got.map((p) => [p.start, p.count, p.bytes, p.visitorsExact]), want.map((p) => [p.start, p.count, p.bytes, p.visitorsExact]), `${when}: status ${key} per ${step / M} min`);
            got.forEach((p, i) => {
              const exact = want[i]!.visitors;
              const what = `${when}: status ${key} at ${new Date(p.start).toISOString()}: ${p.visitors} visitors, ${exact} distinct clients`;
              if (want[i]!.visitorsExact) assert.equal(p.visitors, exact, what);
              else assert.ok(Math.abs(p.visitors! - exact) <= estimate * exact, what);
            });
          }
        };
        await check('from the batch rows');
        await s.rollUpAll();
        await check('from the rollups');
      } finally {
        await s.close();
      }
    });

    test('series of one URL and of all, at steps of a batch, a minute and an hour', async () => {
      await store.rollUpAll();
      for (const [step, from, to] of [[7 * S, T0 + 3 * M, T0 + 9 * M], [M, T0 + 50 * M, T0 + 2 * H + 10 * M], [H, T0 - H, T0 + 3 * H]] as const) {
        for (const url of ['/a', '/é', '/\u{1F600}', '/never']) {
          assert.deepEqual(await store.queries.series(url, from, to, step, 'a1'), expectedSeries(batches, url, from, to, step), `${url} step ${step}`);
        }
        assert.deepEqual(await store.queries.totalSeries(from, to, step, 'a1'), expectedSeries(batches, undefined, from, to, step), `all, step ${step}`);
      }
    });

    test('windows rebuilt from the batches: each the events of [end - window, end)', async () => {
      const opts = { windowMs: 5 * M, slideMs: M, newestEndMs: T0 + 2 * H };
      const got = await store.queries.rebuiltWindows(T0 + 30 * M, T0 + 40 * M, 5, opts, 'a1');
      assert.deepEqual(got.map((w) => w.endMs), [31, 32, 33, 34, 35].map((m) => T0 + m * M));
      for (const w of got) assert.equal(w.total, expectedTop(batches, w.startMs, w.endMs, 0).total);
      assert.deepEqual(await store.queries.rebuiltWindows(T0 + 2 * H, T0 + 3 * H, 5, opts, 'a1'), [], 'none after the newest window');
    });

    test('the newest window: its bounds, its top (n of it), kept by a slide that changed nothing; window rows by end', async () => {
      const s = await open('latest');
      try {
        assert.deepEqual(await s.queries.latestTop(10, 'a1'), { window: undefined, dimension: undefined, items: [] });
        // As the window lists them (ties by URL); a store keeps that order.
        const top = [{ url: '/a', count: 5 }, { url: '/b', count: 5 }, { url: '/é', count: 2 }];
        await write(s.sink, [{ kind: 'window', result: window(T0, top, true, 12) }]);
        const first = await s.queries.latestTop(2, 'a1');
        assert.deepEqual(first, { window: { startMs: T0 - 300_000, endMs: T0, total: 12, distinctUrls: 3 }, dimension: 'url', items: itemsOf(top.slice(0, 2)) });
        // Cached answers follow the writes.
        const render = (r: unknown) => r;
        assert.equal(await s.queries.latestTopJson(2, 'a1', render), JSON.stringify(first));
        await write(s.sink, [{ kind: 'window', result: window(T0 + S, [], false, 12) }]);
        assert.deepEqual((await s.queries.latestTop(3, 'a1')).items, itemsOf(top), 'an unchanged slide keeps the top');
        assert.equal((await s.queries.latestTop(3, 'a1')).window?.endMs, T0 + S);
        // (PostgreSQL: the writer's NOTIFY reaches the listening connection after the commit, not with it.)
        await waitFor('the cache to see the write', async () => (JSON.parse(await s.queries.latestTopJson(2, 'a1', render)).window.endMs === T0 + S ? true : undefined), 10_000);
        await write(s.sink, [{ kind: 'window', result: window(T0 + 2 * S, [{ url: '/c', count: 1 }], true, 1) }, { kind: 'window', result: { ...window(T0 - 5 * S, [], true, 9), rowOnly: true } }]);
        assert.deepEqual((await s.queries.latestTop(3, 'a1')).items, itemsOf([{ url: '/c', count: 1 }]));
        assert.deepEqual((await s.queries.windows(T0 - 10 * S, T0 + 10 * S, 10, 'a1')).map((w) => [w.endMs, w.total]), [[T0 - 5 * S, 9], [T0, 12], [T0 + 2 * S, 1]], 'rows of changed slides only');
        assert.deepEqual((await s.queries.windows(T0 - 5 * S, T0 + 10 * S, 1, 'a1')).map((w) => w.endMs), [T0], '(after, to], limit');
        assert.deepEqual(await s.queries.instances(), ['a1']);
      } finally {
        await s.close();
      }
    });

    test('a batch saved again adds up; the rows of an epoch no checkpoint covers are undone at restart, in the rollups too', async () => {
      const s = await open('again');
      try {
        const b = { startMs: T0 + 5 * S, counts: new Map([['/x', 3]]), parseErrors: 0 };
        const later = { startMs: T0 + 2 * M, counts: new Map([['/y', 1]]), parseErrors: 0 };
        await write(s.sink, [{ kind: 'batch', batch: toResult(b) }, { kind: 'batch', batch: toResult(later) }], 1);
        await s.rollUpAll();
        // Epoch 2 (a checkpoint covered 1): more lines of b's second, twice in one write.
        const again = { ...b, counts: new Map([['/x', 2], ['/z', 1]]) };
        // And a line of that second by every dimension (a 500 of 9 bytes).
        const fiveHundred: ResultItem = { kind: 'batch', batch: { startMs: b.startMs, events: 1, parseErrors: 0, counts: batchBlob([{ url: '/x', status: 500, bytes: 9 }], ['url', 'status']) } };
        await s.sink.write([{ kind: 'batch', batch: toResult(again) }, fiveHundred, { kind: 'batch', batch: toResult(again) }], 2, 1);
        await s.rollUpAll();
        const its500 = { ...b, counts: new Map([['/x', 1]]) };
        assert.deepEqual(await s.queries.rangeTop(T0, T0 + H, 10, 'a1'), { fromMs: T0, toMs: T0 + H, ...expectedTop([b, again, again, its500, later], T0, T0 + H, 10) });
        assert.deepEqual(await s.queries.series('/x', T0, T0 + 2 * M, S, 'a1').then((p) => p.filter((x) => x.count > 0)), [{ start: b.startMs, count: 8 }]);
        const fives = () => s.queries.dimensionTop('status', { lo: 500, hi: 599 }, T0, T0 + H, 10, 'a1');
        assert.deepEqual((await fives()).items, [{ key: '500', count: 1, bytes: 9, visitors: null, visitorsExact: false }]);
        // A restart whose checkpoint covers epoch 1: epoch 2's row is undone (its lines are counted again), every dimension's.
        assert.deepEqual(await s.sink.restoreEpochs(1), { epoch: 2, rolledBack: 1 });
        assert.equal((await fives()).total, 0, 'the 500 undone, before the rollups');
        await s.rollUpAll();
        assert.equal((await fives()).total, 0, 'the 500 undone, rolled up');
        assert.deepEqual(await s.queries.rangeTop(T0, T0 + H, 10, 'a1'), { fromMs: T0, toMs: T0 + H, ...expectedTop([b, later], T0, T0 + H, 10) });
        // No checkpoint (or one from before epochs): the store's own record, 1 now.
        assert.deepEqual(await s.sink.restoreEpochs(undefined), { epoch: 2, rolledBack: 0 });
        // A busy batch (more URLs than a statement takes) among small ones, in one write.
        const busy = { startMs: T0 + 3 * H, counts: new Map(Array.from({ length: 9_000 }, (_, i) => [`/u/${i}`, 1 + (i % 7)] as [string, number])), parseErrors: 0 };
        const small = Array.from({ length: 300 }, (_, i) => ({ startMs: T0 + 3 * H + (i + 1) * S, counts: new Map([[`/u/${i}`, 2]]), parseErrors: 0 }));
        await write(s.sink, [busy, ...small].map((b) => ({ kind: 'batch', batch: toResult(b) })), 2);
        const all = [busy, ...small];
        assert.deepEqual(await s.queries.rangeTop(T0 + 3 * H, T0 + 4 * H, 20, 'a1'), { fromMs: T0 + 3 * H, toMs: T0 + 4 * H, ...expectedTop(all, T0 + 3 * H, T0 + 4 * H, 20) });
      } finally {
        await s.close();
      }
    });

    test('retention counts from when lines were counted, not their own time: an epoch counted longer ago goes, its rollups with it', async () => {
      const retentionMs = 10 * M;
      let s = await open('retention', { retentionMs });
      const old = Array.from({ length: 30 }, (_, m) => ({ startMs: T0 + m * M, counts: new Map([['/x', 1]]), parseErrors: 0 }));
      const fresh = { startMs: T0 - 2 * H, counts: new Map([['/y', 5]]), parseErrors: 0 };
      try {
        for (const b of old) await write(s.sink, [{ kind: 'batch', batch: toResult(b) }], 1);
        await s.rollUpAll();
        // Lines a day old by their own time, counted just now: all kept.
        assert.equal(await s.queries.rangeTop(T0, T0 + H, 10, 'a1').then((r) => r.total), old.length);
        await s.ageEpoch(1, retentionMs + M);
      } finally {
        await s.close();
      }
      // Opened again (the retention is applied at the first chance), and more written.
      s = await open('retention', { retentionMs });
      try {
        await write(s.sink, [{ kind: 'batch', batch: toResult(fresh) }], 2);
        await s.rollUpAll();
        assert.equal(await s.queries.rangeTop(T0, T0 + H, 10, 'a1').then((r) => r.total), 0, 'epoch 1 counted longer ago than the retention');
        assert.deepEqual(await s.queries.rangeTop(T0 - 3 * H, T0 + H, 10, 'a1'), { fromMs: T0 - 3 * H, toMs: T0 + H, ...expectedTop([fresh], T0 - 3 * H, T0 + H, 10) });
      } finally {
        await s.close();
      }
    });
  });
}

const sqliteDir = tempDir();
contract('SQLite', async (name, opts = {}) => {
  const file = path.join(sqliteDir, `${name}.db`);
  const sink = new ResultsStore(file, opts);
  const queries = new SqliteQueries(file, 1000, 'a1');
  const ageEpoch = async (epoch: number, agoMs: number) => {
    const db = new Database(file);
    db.prepare('UPDATE epochs SET counted_ms = counted_ms - ? WHERE epoch = ?').run(agoMs, epoch);
    db.close();
  };
  const levels = async (dimension: string) => {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare('SELECT DISTINCT level FROM dim_counts WHERE dimension = ? ORDER BY level').pluck().all(dimension) as number[];
    } finally {
      db.close();
    }
  };
  return { sink, queries, rollUpAll: async () => { while (sink.rollUp(1000, true)); }, ageEpoch, levels, close: async () => { await queries.close(); sink.close(); } };
});

describe('PostgreSQL', { skip: skipWithoutPostgres }, () => {
  const pg = postgresForSuite();
  const config = pg.config;
  const made = new Set<string>();
  contract('PostgreSQL', async (name, opts = {}) => {
    if (!made.has(name)) await pg.server.sql(`CREATE DATABASE ${name}`, 'postgres');
    made.add(name);
    const sink = await PostgresResultsStore.open(config(name), { instance: 'a1', where: name, batchIntervalMs: 1000, windowMs: 300_000, history: true, retentionMs: opts.retentionMs ?? 7 * 24 * H }, testLogger);
    const queries = new PostgresQueries(config(name), JOB);
    const ageEpoch = async (epoch: number, agoMs: number) => {
      await pg.server.sql('UPDATE logflow_epochs SET counted_ms = counted_ms - $1 WHERE epoch = $2', name, [agoMs, epoch]);
    };
    const levels = async (dimension: string) =>
      (await pg.server.sql<{ level: number }>('SELECT DISTINCT level FROM logflow_rollups WHERE dimension = $1 ORDER BY level', name, [dimension])).map((r) => r.level);
    return { sink, queries, rollUpAll: () => sink.rolledUp(), ageEpoch, levels, close: async () => { await queries.close(); await sink.close(); } };
  });
});
