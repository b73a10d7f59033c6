import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildHttpServer } from '../daemon/http/server.js';
import { QueriesBusy, QueryPool } from '../daemon/http/query-pool.js';
import { runHistoryQuery, type HistoryQuery } from '../daemon/store/history-queries.js';
import { encodeCounts, ResultsReader, ResultsStore, SqliteQueries } from '../daemon/store/index.js';
import { tempDir, waitFor } from './helpers/daemon.js';
import { testLogger } from './helpers/logger.js';

/**
 * The history's range queries run on query threads (http/query-pool.ts), so the HTTP
 * thread answers /health and the newest window while one runs. How long /api/top waits
 * under such a load is measured by `npm run bench -- --only rangeload`, not here.
 */
const START = Date.UTC(2026, 0, 1, 10, 0, 0);
const BATCHES = 300;
const URLS = 2000;

describe('range queries on query threads', () => {
  let dir: string;
  let database: string;
  let reader: ResultsReader;
  let pool: QueryPool;
  let app: FastifyInstance;
  let url: string;
  before(async () => {
    dir = tempDir();
    database = path.join(dir, 'results.db');
    // 300 one-second batches of 2,000 URLs each: a range over all of them decodes 600,000 counts.
    const store = new ResultsStore(database);
    for (let b = 0; b < BATCHES; b++) {
      const counts: [string, number][] = Array.from({ length: URLS }, (_, u) => [`/u/${u}`, 1 + ((u * 7 + b) % 5)]);
      store.saveBatch({ startMs: START + b * 1000, events: counts.reduce((n, [, c]) => n + c, 0), parseErrors: 0, counts: encodeCounts(counts) });
    }
    store.close();
    reader = new ResultsReader(database, 1000);
    pool = new QueryPool({ database, batchIntervalMs: 1000, nice: 0 }, 1, testLogger);
    await pool.start();
    app = await buildHttpServer({
      results: new SqliteQueries(database, 1000, 'a1', pool),
      job: { batchIntervalMs: 1000, windowDurationMs: 300_000, instance: 'a1' },
      stats: () => ({ eventsIn: 0, eventsCounted: 0, parseErrors: 0, duplicates: 0, historyOnlyEvents: 0, files: { pending: 0, inProgress: 0, completed: 0, failed: 0 } }),
      files: () => [],
      followed: () => [],
      metrics: () => ({ eventsIn: 0, eventsCounted: 0, parseErrors: 0, duplicates: 0, historyOnlyEvents: 0, files: { pending: 0, inProgress: 0, completed: 0, failed: 0 } }),
      logger: testLogger,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await app?.close();
    await pool?.close();
    reader?.close();
  });

  const from = new Date(START).toISOString();
  const to = new Date(START + BATCHES * 1000).toISOString();

  test('answers equal the same queries run in this thread, for every kind', async () => {
    const get = async (route: string) => (await (await fetch(url + route)).json()) as Record<string, unknown>;
    const top = runHistoryQuery(reader, { kind: 'top', fromMs: START, toMs: START + BATCHES * 1000, n: 50 });
    const body = await get(`/api/top?n=50&from=${from}&to=${to}`);
    assert.deepEqual({ window: body.window, by: body.by, total: body.total, urls: body.urls }, { window: { start: from, end: to }, by: 'url', total: top.total, urls: top.urls });
    // Its items are the same URLs and counts (with their bytes: none in these rows).
    assert.deepEqual((body.items as { key: string; count: number; bytes: number }[]).map((i) => ({ url: i.key, count: i.count, bytes: i.bytes })), top.urls.map((u) => ({ ...u, bytes: 0 })));
    // An independent count: every URL u is in every batch with 1 + (7u + b) % 5.
    let expected0 = 0;
    for (let b = 0; b < BATCHES; b++) expected0 += 1 + (b % 5);
    assert.equal(top.urls.find((u) => u.url === '/u/0')!.count, expected0);
    const series = runHistoryQuery(reader, { kind: 'urlSeries', url: '/u/3', fromMs: START, toMs: START + BATCHES * 1000, stepMs: 60_000 });
    const got = await get(`/api/urls/%2Fu%2F3/series?from=${from}&to=${to}&step=60`);
    assert.deepEqual(got.points, series.map((p) => ({ start: new Date(p.start).toISOString(), count: p.count })));
    const totals = runHistoryQuery(reader, { kind: 'totalSeries', fromMs: START, toMs: START + BATCHES * 1000, stepMs: 10_000 });
    assert.deepEqual((await get(`/api/series?from=${from}&to=${to}&step=10`)).points, totals.map((p) => ({ start: new Date(p.start).toISOString(), count: p.count })));
  });

  test('/health and the newest window answer while a range query runs', async () => {
    let rangeSeen = false;
    const seen = (req: { url?: string }) => (rangeSeen ||= req.url?.includes('from=') === true);
    app.server.on('request', seen);
    let rangeDone = false;
    const range = fetch(`${url}/api/top?n=1000&from=${from}&to=${to}`).then(async (r) => {
      await r.arrayBuffer();
      rangeDone = true;
      return r.status;
    });
    // In this thread, the query would run as soon as the request is parsed, before this wait
    // ends: it would answer first.
    await waitFor('the range query received', () => (rangeSeen ? true : undefined));
    app.server.off('request', seen);
    assert.equal(pool.busy, 1, 'on its thread');
    assert.equal((await fetch(`${url}/health`)).status, 200);
    assert.equal((await fetch(`${url}/api/top?n=5`)).status, 200);
    assert.equal(rangeDone, false, 'answered while the range query still ran');
    assert.equal(await range, 200);
  });

  test('past 64 waiting queries a range query is refused at once: 503 LF_HTTP_BUSY, Retry-After', async () => {
    // Cheap queries: the 66 calls are queued at once, before the thread can answer one.
    const query: HistoryQuery = { kind: 'top', fromMs: START, toMs: START + 1000, n: 10 };
    const runs = Array.from({ length: 66 }, () => pool.run(query).then(() => 'answered', (err: unknown) => (err instanceof QueriesBusy ? 'busy' : String(err))));
    assert.deepEqual((await Promise.all(runs)).filter((r) => r !== 'answered'), ['busy'], 'one running, 64 waiting, the 66th refused');
    const busy = await buildHttpServer({
      results: new SqliteQueries(database, 1000, 'a1', { run: () => Promise.reject(new QueriesBusy('64 range queries wait for a query thread already; try again')) }),
      job: { batchIntervalMs: 1000, windowDurationMs: 300_000, instance: 'a1' },
      stats: () => { throw new Error('unused'); },
      files: () => [],
      followed: () => [],
      metrics: () => { throw new Error('unused'); },
      logger: testLogger,
    });
    try {
      const res = await busy.inject({ url: `/api/top?from=${from}&to=${to}` });
      assert.equal(res.statusCode, 503);
      assert.equal(res.headers['retry-after'], '1');
      assert.deepEqual(res.json(), { error: 'Service Unavailable', code: 'LF_HTTP_BUSY', message: '64 range queries wait for a query thread already; try again' });
    } finally {
      await busy.close();
    }
  });
});
