import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { PostgresConfig } from '../daemon/store/database-config.js';
import { encodeCounts } from '../daemon/store/index.js';
import { PostgresQueries } from '../daemon/store/postgres/postgres-queries.js';
import { SCHEMA_VERSION } from '../daemon/store/postgres/pg-schema.js';
import { PostgresResultsStore } from '../daemon/store/postgres/postgres-store.js';
import { capturingLogger, testLogger } from './helpers/logger.js';
import { PostgresServer, skipWithoutPostgres } from './helpers/postgres-server.js';

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/postgres-v1');
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
  let server: PostgresServer;
  before(async () => {
    server = await PostgresServer.start();
  });
  after(async () => server?.stop());

  const config = (database: string): PostgresConfig => ({ host: '127.0.0.1', port: server.port, user: 'postgres', password: undefined, database, sslMode: 'disable', sslRootCert: undefined });
  const open = (database: string, instance: string, log = testLogger) =>
    PostgresResultsStore.open(config(database), { instance, where: database, batchIntervalMs: 1000, windowMs: 300_000, history: true, retentionMs: 3650 * DAY }, log);

  test('a schema-1 database (test/fixtures/postgres-v1) opens with this release: migrated and logged; the history answers as its own batch rows sum, over hours and whole days, before and after the new rollups; writing goes on', async () => {
    const made = JSON.parse(readFileSync(path.join(FIXTURE, 'made.json'), 'utf8')) as Made;
    await server.sql('CREATE DATABASE v1', 'postgres');
    await server.sql(readFileSync(path.join(FIXTURE, 'dump.sql'), 'utf8'), 'v1');
    assert.deepEqual((await server.sql<{ v: number }>('SELECT MAX(version) AS v FROM logflow_schema_migrations', 'v1'))[0]!.v, 1);

    const { logger, lines } = capturingLogger();
    const store = await open('v1', made.instance, logger);
    const queries = new PostgresQueries(config('v1'), { batchIntervalMs: made.batchIntervalMs, windowDurationMs: made.windowMs, instance: made.instance });
    try {
      assert.ok(lines.some((l) => l.includes(`"results database migrated from schema 1 to ${SCHEMA_VERSION}"`)), lines.join(''));
      const versions = await server.sql<{ version: number }>('SELECT version FROM logflow_schema_migrations ORDER BY version', 'v1');
      assert.deepEqual(versions.map((v) => v.version), Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));

      // The answer, from the fixture's own rows: URL counts of the batches in [from, to).
      const raw = await server.sql<{ start: number; url: string; count: number }>(
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
      const days = await server.sql<{ n: number }>('SELECT COUNT(*)::int AS n FROM logflow_dirty WHERE level = 3', 'v1');
      assert.equal(days[0]!.n, 2, 'both days of the fixture are marked for their new rollup');
      await store.rolledUp();
      const rolled = await server.sql<{ n: number }>('SELECT COUNT(*)::int AS n FROM logflow_rollup_totals WHERE level = 3', 'v1');
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

  test('a schema of a newer logflow is refused, naming both versions', async () => {
    await server.sql('CREATE DATABASE newer', 'postgres');
    await (await open('newer', 'a1')).close();
    await server.sql(`INSERT INTO logflow_schema_migrations (version, description) VALUES (${SCHEMA_VERSION + 5}, 'from the future')`, 'newer');
    await assert.rejects(open('newer', 'a1'), (err: Error & { code?: string; setting?: string }) => {
      assert.equal(err.code, 'LF_CHECKPOINT_INCOMPATIBLE');
      assert.equal(err.setting, 'database');
      assert.match(err.message, new RegExp(`has schema version ${SCHEMA_VERSION + 5}, written by a newer logflow; this one reads versions up to ${SCHEMA_VERSION}`));
      return true;
    });
  });

  test('daemons starting together on an empty database migrate it once', async () => {
    await server.sql('CREATE DATABASE together', 'postgres');
    const stores = await Promise.all(['w1', 'w2', 'w3'].map((i) => open('together', i)));
    for (const s of stores) await s.close();
    const rows = await server.sql<{ version: number }>('SELECT version FROM logflow_schema_migrations ORDER BY version', 'together');
    assert.deepEqual(rows.map((r) => r.version), Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
  });
});
