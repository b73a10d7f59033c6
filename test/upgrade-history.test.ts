import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { generateLines } from '../scripts/access-log-generator.js';
import { SCHEMA_VERSION } from '../daemon/store/schema-version.js';
import { tempDir, waitFor, withDaemon, writeConfig, type RunningDaemon } from './helpers/daemon.js';
import { countBy, parseLine, type ParsedLine } from './helpers/dimension-counts.js';
import { ownTime } from './helpers/real-log-shapes.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');
const iso = (ms: number) => new Date(ms).toISOString();

interface RangeAnswer {
  total: number;
  keys: number;
  items: { key: string; count: number; bytes: number; visitors: number | null; visitorsExact: boolean }[];
  urls: { url: string; count: number }[];
}
interface Made {
  log: { lines: number; urls: number; clients: number; seed: number; startMs: number; spanSeconds: number; malformed: number };
  conf: string;
}

const parsed = (lines: readonly string[]) => lines.map((l) => ({ p: parseLine(l), ms: ownTime(l) })).filter((x): x is { p: ParsedLine; ms: number } => x.p !== undefined);

/** The daemon started on a copy of a fixture's checkpoint and results.db, with the fixture's config. */
async function fromFixture(t: TestContext, name: string): Promise<{ made: Made; dir: string; d: RunningDaemon }> {
  const from = path.join(FIXTURES, name);
  const made = JSON.parse(readFileSync(path.join(from, 'made.json'), 'utf8')) as Made;
  const dir = tempDir();
  cpSync(path.join(from, 'checkpoint'), path.join(dir, 'checkpoint'), { recursive: true });
  mkdirSync(path.join(dir, 'data'));
  cpSync(path.join(from, 'results.db'), path.join(dir, 'data', 'results.db'));
  await writeConfig(dir, made.conf);
  return { made, dir, d: await withDaemon(t, { dir }) };
}

describe('upgrades keep the history: schema 2 (by URL only) to 3 (by dimension), 3 to 4 (visitors per rollup row)', () => {
  test('a schema-2 results.db by 0ca2306: migrated; by URL (and its status codes) exact before and after the rollups are made again; new lines by every dimension', { timeout: 120_000 }, async (t) => {
    const { made, dir, d } = await fromFixture(t, 'history-v2');
    assert.ok(d.logs.some((l) => l.includes(`results database migrated from schema 2 to ${SCHEMA_VERSION}`)), 'schema migration logged');

    const old = parsed([...generateLines(made.log)]).map((x) => x.p);
    const oldRange = `from=${iso(made.log.startMs)}&to=${iso(made.log.startMs + made.log.spanSeconds * 1000 + 86_400_000)}`;
    const checkOld = async (read: string) => {
      const byUrl = await d.get<RangeAnswer>(`/api/top?n=1000&${oldRange}`);
      assert.equal(byUrl.status, 200, JSON.stringify(byUrl.body));
      const want = countBy(old, 'url');
      assert.equal(byUrl.body.total, old.length, `${read}: total`);
      assert.deepEqual(byUrl.body.urls.map((u) => [u.url, u.count]), want.map((w) => [w.key, w.count]), `${read}: URL by URL`);
      const notFound = await d.get<RangeAnswer>(`/api/top?n=1000&by=url&status=404&${oldRange}`);
      assert.deepEqual(notFound.body.items.map((i) => [i.key, i.count, i.bytes]), countBy(old, 'url', 404, 404).map((w) => [w.key, w.count, w.bytes]), `${read}: 404 URLs (0ca2306 kept the URL's status codes)`);
      // The rows by 0ca2306 hold the URL alone: no status dimension in them.
      const byStatus = await d.get<RangeAnswer>(`/api/top?by=status&${oldRange}`);
      assert.deepEqual([byStatus.status, byStatus.body.total, byStatus.body.keys], [200, 0, 0], `${read}: older rows have no other dimension`);
      const series = await d.get<{ points: { count: number }[] }>(`/api/series?${oldRange}`);
      assert.equal(series.body.points.reduce((n, p) => n + p.count, 0), old.length, `${read}: the series sums to the total`);
    };
    await checkOld('migrated, rollups not made again yet');
    const db = new Database(path.join(dir, 'data', 'results.db'), { readonly: true });
    try {
      await waitFor('the rollups made again', async () => ((db.prepare('SELECT COUNT(*) FROM dirty').pluck().get() as number) === 0 ? true : undefined), 60_000);
      assert.ok((db.prepare("SELECT COUNT(*) FROM dim_counts WHERE level = 5 AND dimension = 'url'").pluck().get() as number) > 0, 'url rollups by dimension made from the old rows');
    } finally {
      db.close();
    }
    await checkOld('from the rollups made again');

    // New lines (own time 2021) count by every dimension.
    const log = { ...made.log, seed: 77, startMs: Date.UTC(2021, 0, 1), spanSeconds: 86_400 };
    const lines = [...generateLines(log)];
    writeFileSync(path.join(dir, 'staged'), lines.join('\n') + '\n');
    renameSync(path.join(dir, 'staged'), path.join(dir, 'spool', 'new.log'));
    const fresh = parsed(lines).map((x) => x.p);
    const newRange = `from=${iso(log.startMs)}&to=${iso(log.startMs + 2 * 86_400_000)}`;
    const byStatus = await waitFor('the new log in the history', async () => {
      const r = await d.get<RangeAnswer>(`/api/top?by=status&n=100&${newRange}`);
      return r.body.total === fresh.length ? r.body : undefined;
    }, 60_000);
    assert.deepEqual(byStatus.items.map((i) => [i.key, i.count, i.bytes]), countBy(fresh, 'status').map((w) => [w.key, w.count, w.bytes]));
    assert.equal(await d.stop('SIGTERM'), 0);
  });

  test('a schema-3 results.db by 0e1eedd (rollups by dimension without visitors): migrated to 4; visitors over a range exact before and after the rollups are made again with their sketches', { timeout: 120_000 }, async (t) => {
    const { made, dir, d } = await fromFixture(t, 'history-v3');
    assert.ok(d.logs.some((l) => l.includes(`results database migrated from schema 3 to ${SCHEMA_VERSION}`)), 'schema migration logged');
    const old = parsed([...generateLines(made.log)]).map((x) => x.p);
    const range = `from=${iso(made.log.startMs)}&to=${iso(made.log.startMs + 86_400_000)}`;
    const check = async (read: string) => {
      for (const [query, dim, lo, hi] of [['by=url', 'url', 0, 999], ['by=status', 'status', 0, 999], ['by=url&status=4xx', 'url', 400, 499]] as const) {
        const { status, body } = await d.get<RangeAnswer>(`/api/top?n=1000&${query}&${range}`);
        assert.equal(status, 200, JSON.stringify(body));
        // 180 clients in all: every key's distinct clients exact, against the regex and a dict.
        const want = countBy(old, dim, lo, hi).map((w) => [w.key, w.count, w.bytes, w.visitors, true]);
        assert.deepEqual(body.items.map((i) => [i.key, i.count, i.bytes, i.visitors, i.visitorsExact]), want, `${read}: ${query}`);
      }
    };
    await check('migrated, rollups not made again yet');
    const db = new Database(path.join(dir, 'data', 'results.db'), { readonly: true });
    try {
      await waitFor('the rollups made again', async () => ((db.prepare('SELECT COUNT(*) FROM dirty').pluck().get() as number) === 0 ? true : undefined), 60_000);
      const rows = db.prepare("SELECT COUNT(*) FROM dim_counts WHERE dimension = 'url' AND status >= 0 AND visitors IS NULL").pluck().get() as number;
      assert.equal(rows, 0, 'every url row of a status code has its visitors');
    } finally {
      db.close();
    }
    await check('from the rollups made again');
    assert.equal(await d.stop('SIGTERM'), 0);
  });
});
