import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeCounts } from '../daemon/store/index.js';
import { PostgresQueries } from '../daemon/store/postgres/postgres-queries.js';
import { SCHEMA_VERSION } from '../daemon/store/postgres/pg-schema.js';
import { PostgresResultsStore } from '../daemon/store/postgres/postgres-store.js';
import { batchBlob, type BlobLine } from './helpers/batch-blobs.js';
import { capturingLogger, testLogger } from './helpers/logger.js';
import { postgresForSuite, skipWithoutPostgres } from './helpers/postgres-server.js';

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/postgres-v1');
const FIXTURE_V4 = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/postgres-v4');
const FIXTURE_V5 = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/postgres-v5');
const H = 3_600_000;
const DAY = 24 * H;

interface Made {
  instance: string;
  batchIntervalMs: number;
  windowMs: number;
  fromMs: number;
  toMs: number;
  batches: number;
}

describe('PostgreSQL schema versions', { skip: skipWithoutPostgres }, () => {
  const pg = postgresForSuite();
  const config = pg.config;
  const open = (database: string, instance: string, log = testLogger) =>
    PostgresResultsStore.open(config(database), { instance, where: database, batchIntervalMs: 1000, windowMs: 300_000, history: true, retentionMs: 3650 * DAY }, log);

  test('a schema-1 database (test/fixtures/postgres-v1) opens with this release: migrated and logged; the history answers as its own batch rows sum, over hours and whole days, before and after the new rollups; writing goes on', async () => {
    const made = JSON.parse(readFileSync(path.join(FIXTURE, 'made.json'), 'utf8')) as Made;
    await pg.server.sql('CREATE DATABASE v1', 'postgres');
    await pg.server.sql(readFileSync(path.join(FIXTURE, 'dump.sql'), 'utf8'), 'v1');
    assert.deepEqual((await pg.server.sql<{ v: number }>('SELECT MAX(version) AS v FROM logflow_schema_migrations', 'v1'))[0]!.v, 1);

    const { logger, lines } = capturingLogger();
    const store = await open('v1', made.instance, logger);
    const queries = new PostgresQueries(config('v1'), { batchIntervalMs: made.batchIntervalMs, windowDurationMs: made.windowMs, instance: made.instance });
    try {
      assert.ok(lines.some((l) => l.includes(`"results database migrated from schema 1 to ${SCHEMA_VERSION}"`)), lines.join(''));
      const versions = await pg.server.sql<{ version: number }>('SELECT version FROM logflow_schema_migrations ORDER BY version', 'v1');
      assert.deepEqual(versions.map((v) => v.version), Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));

      // The answer, from the fixture's own rows: URL counts of the batches in [from, to).
      const raw = await pg.server.sql<{ start: number; url: string; count: number }>(
        'SELECT b.start_ms::float8 AS start, u.key AS url, u.count::int AS count FROM logflow_batch_keys b, unnest(b.keys, b.counts) AS u(key, count)', 'v1');
      assert.equal(new Set(raw.map((r) => r.start)).size, made.batches);
      const expected = (from: number, to: number) => {
        const sums = new Map<string, number>();
        for (const r of raw) if (r.start >= from && r.start < to) sums.set(r.url, (sums.get(r.url) ?? 0) + r.count);
        return [...sums].map(([url, count]) => ({ url, count })).sort((a, b) => b.count - a.count || Buffer.compare(Buffer.from(a.url), Buffer.from(b.url)));
      };
      const day = Date.UTC(2026, 4, 1);
      const ranges = [[day, day + 3 * DAY], [made.fromMs + 90 * 60_000 + 17_000, made.fromMs + 20 * H], [day + DAY, day + DAY + 6 * H]];
      const check = async (when: string) => {
        for (const [from, to] of ranges) {
          const got = await queries.rangeTop(from!, to!, 100, made.instance);
          assert.deepEqual(got.urls, expected(from!, to!), `${when}: ${new Date(from!).toISOString()} .. ${new Date(to!).toISOString()}`);
        }
      };
      await check('as migrated (days dirty)');
      const days = await pg.server.sql<{ n: number }>('SELECT COUNT(*)::int AS n FROM logflow_dirty WHERE level = 3', 'v1');
      assert.equal(days[0]!.n, 2, 'both days of the fixture are marked for their new rollup');
      await store.rolledUp();
      const rolled = await pg.server.sql<{ n: number }>('SELECT COUNT(*)::int AS n FROM logflow_rollup_totals WHERE level = 3', 'v1');
      assert.equal(rolled[0]!.n, 1, 'the day that is over has its row');
      await check('rolled up by day');
      assert.deepEqual((await queries.latestTop(5, made.instance)).items.map((i) => [i.key, i.count, i.bytes]), [['/a', 5, 0], ['/b', 4, 0]], 'a version-1 top, with no bytes yet');

      // The migrated database takes new rows: a batch two days on.
      const next = made.toMs + 2 * DAY;
      await store.write([{ kind: 'batch', batch: { startMs: next, events: 3, parseErrors: 0, counts: encodeCounts([['/new', 3]]) } }]);
      assert.deepEqual((await queries.rangeTop(next, next + 1000, 5, made.instance)).urls, [{ url: '/new', count: 3 }]);
    } finally {
      await queries.close();
      await store.close();
    }
  });

  test('a schema-4 database (test/fixtures/postgres-v4: the history by URL only) opens as schema 5: every minute rolled up again by dimension; by URL exact against the fixture\'s own lines before and after, its rows status 0 without bytes, nothing by status; new rows by every dimension', async () => {
    const made = JSON.parse(readFileSync(path.join(FIXTURE_V4, 'made.json'), 'utf8')) as Made;
    const lines = (JSON.parse(readFileSync(path.join(FIXTURE_V4, 'lines.json'), 'utf8')) as [number, string, number, number][]).map(([ms, url, status, bytes]) => ({ ms, url, status, bytes }));
    await pg.server.sql('CREATE DATABASE v4', 'postgres');
    await pg.server.sql(readFileSync(path.join(FIXTURE_V4, 'dump.sql'), 'utf8'), 'v4');
    assert.deepEqual((await pg.server.sql<{ v: number }>('SELECT MAX(version) AS v FROM logflow_schema_migrations', 'v4'))[0]!.v, 4);

    const { logger, lines: logged } = capturingLogger();
    const store = await open('v4', made.instance, logger);
    const queries = new PostgresQueries(config('v4'), { batchIntervalMs: made.batchIntervalMs, windowDurationMs: made.windowMs, instance: made.instance });
    const all = { lo: 0, hi: 999 };
    try {
      assert.ok(logged.some((l) => l.includes(`"results database migrated from schema 4 to ${SCHEMA_VERSION}"`)), logged.join(''));
      const minutes = new Set(lines.map((l) => Math.floor(l.ms / 60_000)));
      const dirty = await pg.server.sql<{ n: number }>('SELECT COUNT(*)::int AS n FROM logflow_dirty WHERE level = 1', 'v4');
      assert.equal(dirty[0]!.n, minutes.size, 'every minute with batch rows marked, to be rolled up by dimension');

      // A dict of the fixture's lines by URL in [from, to): schema 4 kept their URL counts, not their statuses and sizes.
      const expected = (from: number, to: number) => {
        const sums = new Map<string, number>();
        for (const l of lines) if (l.ms >= from && l.ms < to) sums.set(l.url, (sums.get(l.url) ?? 0) + 1);
        // (No visitors: PostgreSQL's history keeps none.)
        const items = [...sums].map(([key, count]) => ({ key, count, bytes: 0, visitors: null, visitorsExact: false })).sort((a, b) => b.count - a.count || Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
        return { total: items.reduce((n, i) => n + i.count, 0), keys: items.length, items };
      };
      const day = Date.UTC(2026, 4, 1);
      const ranges = [[day, day + 3 * DAY], [made.fromMs + 90 * 60_000 + 17_000, made.fromMs + 20 * H], [day + DAY, day + 2 * DAY]] as const;
      const check = async (when: string) => {
        for (const [from, to] of ranges) {
          const label = `${when}: ${new Date(from).toISOString()} .. ${new Date(to).toISOString()}`;
          const want = expected(from, to);
          const got = await queries.dimensionTop('url', all, from, to, 100, made.instance);
          assert.deepEqual({ total: got.total, keys: got.keys, items: got.items }, want, label);
          assert.deepEqual((await queries.rangeTop(from, to, 100, made.instance)).urls, want.items.map((i) => ({ url: i.key, count: i.count })), `${label}: range top`);
          assert.deepEqual((await queries.dimensionTop('url', { lo: 0, hi: 0 }, from, to, 100, made.instance)).items, want.items, `${label}: status 0`);
          assert.equal((await queries.dimensionTop('url', { lo: 404, hi: 404 }, from, to, 100, made.instance)).total, 0, `${label}: no 404 kept`);
          assert.equal((await queries.dimensionTop('status', all, from, to, 100, made.instance)).total, 0, `${label}: no status dimension kept`);
        }
      };
      await check('as migrated (every minute dirty)');
      await store.rolledUp();
      const levels = await pg.server.sql<{ level: number; status: number }>("SELECT DISTINCT level, status FROM logflow_rollups WHERE dimension = 'url' ORDER BY 1, 2", 'v4');
      assert.deepEqual(levels.map((r) => [r.level, r.status]), [[1, -1], [1, 0], [2, -1], [2, 0], [3, -1], [3, 0]], 'rolled up again: every-status and status-0 rows');
      await check('rolled up again');
      const series = await queries.dimensionSeries('url', '/a', all, day, day + 2 * DAY, H, made.instance);
      assert.equal(series.reduce((n, p) => n + p.count, 0), lines.filter((l) => l.url === '/a').length, '/a per hour sums to its lines');

      // New rows carry every dimension, with statuses and sizes.
      const next = made.toMs + 2 * DAY;
      const fresh = [{ url: '/new', status: 500, bytes: 10 }, { url: '/new', status: 200, bytes: 7 }, { url: '/a', status: 503, bytes: 0 }];
      await store.write([{ kind: 'batch', batch: { startMs: next, events: 3, parseErrors: 0, counts: batchBlob(fresh, ['url', 'status']) } }]);
      const top = await queries.dimensionTop('status', { lo: 500, hi: 599 }, next, next + 1000, 5, made.instance);
      assert.deepEqual(top.items, [{ key: '500', count: 1, bytes: 10, visitors: null, visitorsExact: false }, { key: '503', count: 1, bytes: 0, visitors: null, visitorsExact: false }]);
      assert.deepEqual((await queries.rangeTop(next, next + 1000, 5, made.instance)).urls, [{ url: '/new', count: 2 }, { url: '/a', count: 1 }]);
    } finally {
      await queries.close();
      await store.close();
    }
  });

  test('a schema-5 database (test/fixtures/postgres-v5: the history without visits) opens as schema 6: counts and bytes by every dimension exact against the fixture\'s lines before and after the rollups, visitors null over its rows (never short), exact over new rows, null where a range holds both', async () => {
    const made = JSON.parse(readFileSync(path.join(FIXTURE_V5, 'made.json'), 'utf8')) as Made;
    type Line = { ms: number; url: string; status: number; client: string; bytes: number };
    const lines = (JSON.parse(readFileSync(path.join(FIXTURE_V5, 'lines.json'), 'utf8')) as [number, string, number, string, number][]).map(([ms, url, status, client, bytes]): Line => ({ ms, url, status, client, bytes }));
    await pg.server.sql('CREATE DATABASE v5', 'postgres');
    await pg.server.sql(readFileSync(path.join(FIXTURE_V5, 'dump.sql'), 'utf8'), 'v5');
    assert.deepEqual((await pg.server.sql<{ v: number }>('SELECT MAX(version) AS v FROM logflow_schema_migrations', 'v5'))[0]!.v, 5);

    const dirty = async () => (await pg.server.sql<{ n: number }>('SELECT COUNT(*)::int AS n FROM logflow_dirty', 'v5'))[0]!.n;
    const dirtyBefore = await dirty();
    const { logger, lines: logged } = capturingLogger();
    const store = await open('v5', made.instance, logger);
    const queries = new PostgresQueries(config('v5'), { batchIntervalMs: made.batchIntervalMs, windowDurationMs: made.windowMs, instance: made.instance });
    const keyOf = (l: Line, dim: 'url' | 'status' | 'client') => (dim === 'status' ? String(l.status) : l[dim]);
    // A dict of lines by key in [from, to): lines, bytes, distinct clients.
    const expected = (all: readonly Line[], dim: 'url' | 'status' | 'client', from: number, to: number) => {
      const sums = new Map<string, { count: number; bytes: number; clients: Set<string> }>();
      for (const l of all) {
        if (l.ms < from || l.ms >= to) continue;
        const m = sums.get(keyOf(l, dim)) ?? { count: 0, bytes: 0, clients: new Set<string>() };
        m.count++;
        m.bytes += l.bytes;
        m.clients.add(l.client);
        sums.set(keyOf(l, dim), m);
      }
      return [...sums].map(([key, m]) => ({ key, count: m.count, bytes: m.bytes, clients: m.clients.size })).sort((a, b) => b.count - a.count || Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    };
    const all = { lo: 0, hi: 999 };
    const day = Date.UTC(2026, 4, 1);
    try {
      assert.ok(logged.some((l) => l.includes(`"results database migrated from schema 5 to ${SCHEMA_VERSION}"`)), logged.join(''));
      assert.equal(await dirty(), dirtyBefore, 'nothing to roll up again: the rows before kept no visits');
      // The fixture's rows: counts and bytes exact, visitors unknown (null), a client its own one.
      const ranges = [[day, day + 3 * DAY], [made.fromMs + 90 * 60_000 + 17_000, made.fromMs + 20 * H]] as const;
      const check = async (when: string) => {
        for (const [from, to] of ranges) {
          for (const dim of ['url', 'status', 'client'] as const) {
            const label = `${when}: by ${dim}, ${new Date(from).toISOString()} .. ${new Date(to).toISOString()}`;
            const got = await queries.dimensionTop(dim, all, from, to, 100, made.instance);
            const client = dim === 'client';
            assert.deepEqual(got.items, expected(lines, dim, from, to).map((i) => ({ key: i.key, count: i.count, bytes: i.bytes, visitors: client ? 1 : null, visitorsExact: client })), label);
          }
        }
        const points = await queries.dimensionSeries('status', '200', all, day, day + 2 * DAY, H, made.instance);
        assert.ok(points.every((p) => (p.count > 0 ? p.visitors === null : p.visitors === 0)), `${when}: status 200 per hour, visitors unknown where it has lines`);
      };
      await check('as migrated');
      // The rollups made again behind (a day's last minutes were left dirty by the fixture's writer, if any): still null.
      await pg.server.sql('INSERT INTO logflow_dirty (instance, level, start_ms) SELECT DISTINCT instance, 1, start_ms - start_ms % 60000 FROM logflow_batches ON CONFLICT DO NOTHING', 'v5');
      await store.rolledUp();
      await check('rolled up again');

      // New rows, with visits: a day on (a range of them alone is exact), and a line in one of the fixture's minutes.
      const next = made.toMs + DAY;
      const fresh: Line[] = [
        { ms: next, url: '/new', status: 500, client: '10.1.1.1', bytes: 10 },
        { ms: next, url: '/new', status: 200, client: '10.1.1.2', bytes: 7 },
        { ms: next + 61_000, url: '/new', status: 500, client: '10.1.1.2', bytes: 3 },
        { ms: next + 61_000, url: '/a', status: 500, client: '10.1.1.1', bytes: 0 },
      ];
      const old = lines.find((l) => l.url === '/a')!;
      const late: Line = { ms: old.ms, url: '/a', status: 200, client: '10.1.1.3', bytes: 5 };
      const bySecond = new Map<number, Line[]>();
      for (const l of [...fresh, late]) bySecond.set(l.ms, [...(bySecond.get(l.ms) ?? []), l]);
      const batches = [...bySecond].map(([startMs, ls]) => ({ kind: 'batch' as const, batch: { startMs, events: ls.length, parseErrors: 0, counts: batchBlob(ls as unknown as BlobLine[], ['url', 'status', 'client'], true) } }));
      await store.write(batches, 2);
      const newer = async (when: string) => {
        for (const dim of ['url', 'status'] as const) {
          const got = await queries.dimensionTop(dim, all, next, next + H, 100, made.instance);
          assert.deepEqual(got.items, expected(fresh, dim, next, next + H).map((i) => ({ key: i.key, count: i.count, bytes: i.bytes, visitors: i.clients, visitorsExact: true })), `${when}: the new rows by ${dim}`);
        }
        // /a over the fixture's day and the new line in it: visitors not known (a part of them was not kept), never short.
        const mixed = await queries.dimensionTop('url', all, day, day + 3 * DAY, 100, made.instance);
        const a = mixed.items.find((i) => i.key === '/a')!;
        assert.deepEqual([a.count, a.visitors], [expected([...lines, late, ...fresh], 'url', day, day + 3 * DAY).find((i) => i.key === '/a')!.count, null], `${when}: /a, old and new lines`);
      };
      await newer('from the batch rows');
      await store.rolledUp();
      await newer('rolled up');
    } finally {
      await queries.close();
      await store.close();
    }
  });

  test('a schema of a newer logflow is refused, naming both versions', async () => {
    await pg.server.sql('CREATE DATABASE newer', 'postgres');
    await (await open('newer', 'a1')).close();
    await pg.server.sql(`INSERT INTO logflow_schema_migrations (version, description) VALUES (${SCHEMA_VERSION + 5}, 'from the future')`, 'newer');
    await assert.rejects(open('newer', 'a1'), (err: Error & { code?: string; setting?: string }) => {
      assert.equal(err.code, 'LF_CHECKPOINT_INCOMPATIBLE');
      assert.equal(err.setting, 'database');
      assert.match(err.message, new RegExp(`has schema version ${SCHEMA_VERSION + 5}, written by a newer logflow; this one reads versions up to ${SCHEMA_VERSION}`));
      return true;
    });
  });

  test('daemons starting together on an empty database migrate it once', async () => {
    await pg.server.sql('CREATE DATABASE together', 'postgres');
    const stores = await Promise.all(['w1', 'w2', 'w3'].map((i) => open('together', i)));
    for (const s of stores) await s.close();
    const rows = await pg.server.sql<{ version: number }>('SELECT version FROM logflow_schema_migrations ORDER BY version', 'together');
    assert.deepEqual(rows.map((r) => r.version), Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
  });
});
