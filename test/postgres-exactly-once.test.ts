import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { prng } from '../scripts/access-log-generator.js';
import { startDaemon, tempDir, visible, waitFor, writeConfig, type RunningDaemon } from './helpers/daemon.js';
import { dropLog, type Expected } from './helpers/expected-counts.js';
import { PostgresServer, skipWithoutPostgres } from './helpers/postgres-server.js';
import { EventStreamReader } from './helpers/event-stream.js';
import { logflow } from './helpers/run-cli.js';
import { countBy, parseLine, type ParsedLine } from './helpers/dimension-counts.js';
import { ownTime } from './helpers/real-log-shapes.js';

interface Stats {
  eventsIn: number;
  eventsCounted: number;
  parseErrors: number;
  historyOnlyEvents: number;
  files: { completed: number; pending: number; inProgress: number };
  channel: { size: number };
  resultsWaiting: number;
}
interface Top {
  total: number;
  urls: { url: string; count: number }[];
}
interface RangeItems {
  total: number;
  keys: number;
  items: { key: string; count: number; bytes: number; visitors: number | null; visitorsExact: boolean }[];
}

const asMap = (t: Top) => new Map(t.urls.map((u) => [u.url, u.count]));

/** Every file completed and every line counted (or a parse error). */
async function done(d: RunningDaemon, spool: string, e: Expected, timeoutMs = 60_000): Promise<Stats> {
  let last: Stats | undefined;
  return waitFor(`${e.lines} lines counted and every file completed`, async () => {
    const { body } = await d.get<Stats>('/api/stats');
    last = body;
    const finished = readdirSync(spool).filter(visible).every((n) => n.endsWith('.COMPLETED'));
    return finished && body.eventsCounted + body.parseErrors === e.lines ? body : undefined;
  }, timeoutMs).catch((err: Error) => assert.fail(`${err.message}: ${JSON.stringify(last)} ${readdirSync(spool)}\n${d.logs.filter((l) => !l.includes('"level":30')).slice(-5).join('\n')}`));
}

describe('PostgreSQL results: exactly once through outages and kill -9, the same answers as SQLite', { skip: skipWithoutPostgres }, () => {
  let server: PostgresServer;
  const daemons: RunningDaemon[] = [];
  before(async () => {
    server = await PostgresServer.start();
    for (const db of ['outage', 'replay']) await server.sql(`CREATE DATABASE ${db}`, 'postgres');
  });
  after(async () => {
    for (const d of daemons) await d.stop('SIGKILL');
    await server?.stop();
  });

  test('the server goes away while running: past a window of waiting batches events are refused and the channel holds them; kill -9 then, the server back, a restart: every count exact', { timeout: 150_000 }, async () => {
    const dir = tempDir();
    const spool = path.join(dir, 'spool');
    mkdirSync(spool);
    // A window of 4 batches: a second of ingest fills it.
    await writeConfig(dir, '', {
      'a1.jobs.j1.database': server.url('outage'),
      'a1.jobs.j1.batchInterval': '0.25',
      'a1.jobs.j1.windowDuration': '1',
      'a1.jobs.j1.slideDuration': '0.25',
    });
    let d = await startDaemon(dir);
    daemons.push(d);
    const first = await dropLog(dir, 'first.log', { lines: 5_000, urls: 100, seed: 41, malformed: 0.01 });
    await done(d, spool, first);

    await server.crash();
    // Small files one after another, each its own batch: past 4 batches waiting, the job refuses events.
    const parts: Expected[] = [];
    const refused = () => d.logs.some((l) => l.includes('events are refused until they are written'));
    while (!refused()) {
      assert.ok(parts.length < 40, 'the job kept taking events');
      const part = await dropLog(dir, `part-${parts.length}.log`, { lines: 500, urls: 100, seed: 100 + parts.length, malformed: 0.01 });
      const before = first.lines + parts.reduce((n, p) => n + p.lines, 0);
      parts.push(part);
      await waitFor('the part read, or refused', async () => (refused() || (await d.get<Stats>('/api/stats')).body.eventsIn >= before + part.lines ? true : undefined), 30_000);
      await new Promise((r) => setTimeout(r, 300));
    }
    const second = await dropLog(dir, 'second.log', { lines: 20_000, urls: 100, seed: 42, malformed: 0.01 });
    const refusing = await waitFor('the channel holding the refused events', async () => {
      const { body } = await d.get<Stats>('/api/stats');
      return body.channel.size > 0 ? body : undefined;
    }, 30_000);
    const dropped = [first, ...parts, second];
    const lines = dropped.reduce((n, p) => n + p.lines, 0);
    assert.ok(refusing.eventsIn < lines, `the job stopped taking events (${refusing.eventsIn} of ${lines})`);
    assert.equal(refusing.eventsCounted, first.total, 'readers see what the database held');
    assert.ok(existsIn(spool, 'second.log'), 'the file waits in the spool');
    d.proc.kill('SIGKILL');
    await d.exited;

    await server.begin();
    d = await startDaemon(dir);
    daemons.push(d);
    const all = { lines, total: dropped.reduce((n, p) => n + p.total, 0), parseErrors: dropped.reduce((n, p) => n + p.parseErrors, 0), counts: sum(...dropped) };
    await done(d, spool, all as Expected);
    // The history by the lines' own time: the generated logs' hour (2026-01-01, 00:00 to 01:00 UTC), and around it.
    const { body: range } = await d.get<Top>('/api/top?n=1000&from=2025-12-31T23:00:00Z&to=2026-01-01T02:00:00Z');
    assert.equal(range.total, all.total);
    assert.deepEqual(asMap(range), all.counts);
    const rows = await server.sql<{ n: number }>("SELECT SUM(count)::int AS n FROM logflow_counts WHERE dimension = 'url'", 'outage');
    assert.equal(rows[0]!.n, all.total, 'the view: nothing lost, nothing twice');
    assert.equal(await d.stop('SIGTERM'), 0);
  });

  test('kill -9 at random moments while an event-time replay writes to PostgreSQL; then every answer (API, the dashboard\'s stream, CLI) equals a clean SQLite run, and the independent count', { timeout: 170_000 }, async () => {
    const KILLS = 3;
    const config = {
      'a1.jobs.j1.time': 'event',
      // (Not 1 s: on a loaded box a pause that long mid-file closes the batches, and the next line is late.)
      'a1.jobs.j1.flushAfterIdle': '5',
      'a1.jobs.j1.batchInterval': '1',
      'a1.jobs.j1.windowDuration': '600',
      'a1.jobs.j1.slideDuration': '60',
    };
    const [pgDir, sqDir] = [tempDir(), tempDir()];
    for (const dir of [pgDir, sqDir]) mkdirSync(path.join(dir, 'spool'));
    await writeConfig(pgDir, '', { ...config, 'a1.jobs.j1.database': server.url('replay') });
    await writeConfig(sqDir, '', config);
    // Six hours of log (across minutes, hours and a day), 1% malformed; the last line ends a slide
    // (an idle flush closes a batch into the window, and readers see it at the next slide boundary).
    const log = await dropLog(pgDir, 'day.log', { lines: 30_000, urls: 400, seed: 51, malformed: 0.01, startMs: Date.UTC(2026, 0, 1, 21, 0, 0), spanSeconds: 6 * 3600 - 1 });
    copyFileSync(path.join(pgDir, 'spool', 'day.log'), path.join(sqDir, 'spool', 'day.log'));
    // The lines by status, the independent way (a regex per line and a dict), for the history by dimension.
    const parsed: (ParsedLine & { ms: number })[] = [];
    for (const line of readFileSync(path.join(sqDir, 'spool', 'day.log'), 'utf8').split('\n')) {
      const p = parseLine(line);
      if (p) parsed.push({ ...p, ms: ownTime(line) });
    }

    const sqlite = await startDaemon(sqDir);
    daemons.push(sqlite);
    const rand = prng(2027);
    let pg: RunningDaemon | undefined;
    const killedAt: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      pg = await startDaemon(pgDir);
      daemons.push(pg);
      const target = (log.lines * (k + 1)) / (KILLS + 1);
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && (await pg.get<Stats>('/api/stats')).body.eventsIn < target) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 50)));
      killedAt.push((await pg.get<Stats>('/api/stats')).body.eventsIn);
      pg.proc.kill('SIGKILL');
      await pg.exited;
    }
    pg = await startDaemon(pgDir);
    daemons.push(pg);
    console.log(`# lines received when each kill came: ${killedAt.join(', ')} of ${log.lines}`);
    const [a, b] = [await done(pg, path.join(pgDir, 'spool'), log), await done(sqlite, path.join(sqDir, 'spool'), log)];
    // The same lines went to the history alone (older than the live window) in both.
    assert.equal(a.historyOnlyEvents, b.historyOnlyEvents);
    // Both have closed every batch (flushAfterIdle) once the newest window stands still.
    const newest = async (d: RunningDaemon) => (await d.get<{ window: { end: string } | null }>('/api/top?n=1')).body.window?.end;
    await waitFor('both at the log\'s last window', async () => ((await newest(pg!)) !== undefined && (await newest(pg!)) === (await newest(sqlite)) ? true : undefined), 30_000);

    const from = '2026-01-01T21:00:00Z';
    const to = '2026-01-02T03:00:01Z';
    const { body: range } = await pg.get<Top>(`/api/top?n=1000&from=${from}&to=${to}`);
    assert.equal(range.total, log.total, 'the independent count: nothing lost, nothing twice');
    assert.deepEqual(asMap(range), log.counts);
    const url = encodeURIComponent(range.urls[0]!.url);
    const routes = [
      '/api/top?n=50',
      `/api/top?n=1000&from=${from}&to=${to}`,
      '/api/top?n=20&from=2026-01-01T21:59:30Z&to=2026-01-01T23:00:07Z',
      `/api/series?from=${from}&to=${to}&step=60`,
      `/api/series?from=${from}&to=${to}&step=3600`,
      `/api/series?from=2026-01-01T22:10:00Z&to=2026-01-01T22:12:00Z&step=1`,
      `/api/urls/${url}/series?from=${from}&to=${to}&step=300`,
      '/api/windows?from=2026-01-01T23:00:00Z&to=2026-01-02T01:00:00Z&n=5&limit=30',
      // The history by dimension and status (default dimensions: url status).
      `/api/top?by=status&n=100&from=${from}&to=${to}`,
      `/api/top?by=url&status=404&n=1000&from=${from}&to=${to}`,
      `/api/top?by=url&status=5xx&n=7&from=2026-01-01T21:59:30Z&to=2026-01-01T23:00:07Z`,
      `/api/series?by=status&key=500&from=${from}&to=${to}&step=60`,
      `/api/series?by=url&key=${url}&status=2xx&from=${from}&to=${to}&step=3600`,
    ];
    // The same answers, visitors over a range and per step of a key's series included (sketches per rollup row in both).
    for (const route of routes) {
      const p: { status: number; body: unknown } = await pg.get(route);
      const s: { status: number; body: unknown } = await sqlite.get(route);
      assert.equal(p.status, 200, route);
      assert.deepEqual(p.body, s.body, route);
    }
    // Nothing lost, nothing twice by dimension either: lines and bytes per status, the 404 URLs.
    const inLog = parsed.filter((l) => l.ms >= Date.parse(from) && l.ms < Date.parse(to));
    // And each key's visitors: its distinct clients, exact up to 512, else within 3 standard errors.
    for (const [query, dim, lo, hi] of [['by=status', 'status', 0, 999], ['by=url&status=404', 'url', 404, 404], ['by=url&status=2xx', 'url', 200, 299]] as const) {
      const { body }: { body: RangeItems } = await pg.get<RangeItems>(`/api/top?${query}&n=1000&from=${from}&to=${to}`);
      const want = countBy(inLog, dim, lo, hi);
      assert.deepEqual([body.total, body.keys], [want.reduce((n, i) => n + i.count, 0), want.length], query);
      assert.deepEqual(body.items.map((i) => [i.key, i.count, i.bytes]), want.map((i) => [i.key, i.count, i.bytes]), query);
      body.items.forEach((item, k) => {
        const exact = want[k]!.visitors;
        const label = `${query} ${item.key}: ${item.visitors} visitors, ${exact} distinct clients`;
        assert.equal(item.visitorsExact, exact <= 512, `${label}: exact up to 512`);
        if (exact <= 512) assert.equal(item.visitors, exact, label);
        else assert.ok(Math.abs(item.visitors! - exact) <= 3 * 0.01625 * exact, label);
      });
    }
    // The dashboard's stream: its `top` message.
    const tops: unknown[] = [];
    for (const d of [pg, sqlite]) {
      const stream = await EventStreamReader.open(`${d.url}/api/stream`);
      tops.push(await waitFor('the stream\'s top message', () => stream.last('top'), 10_000));
      await stream.close();
    }
    assert.deepEqual(tops[0], tops[1], '/api/stream top');
    for (const args of [['top', '-n', '15'], ['top', '-n', '15', '--from', from, '--to', to]]) {
      const p = await logflow([...args, '--url', pg!.url], pgDir);
      const s = await logflow([...args, '--url', sqlite.url], sqDir);
      assert.equal(p.code, 0, p.stderr);
      assert.equal(p.stdout, s.stdout, args.join(' '));
    }
    const rows = await server.sql<{ n: number }>("SELECT SUM(count)::int AS n FROM logflow_counts WHERE dimension = 'url'", 'replay');
    assert.equal(rows[0]!.n, log.total, 'the view too');
    // The README's '5xx per minute' from the view, and the top 404 URLs from the one by status.
    const perMinute = new Map<number, number>();
    for (const l of inLog) if (l.status >= 500) perMinute.set(Math.floor(l.ms / 60_000) * 60_000, (perMinute.get(Math.floor(l.ms / 60_000) * 60_000) ?? 0) + 1);
    const fives = await server.sql<{ minute: Date; n: number }>(
      "SELECT minute, SUM(count)::int AS n FROM logflow_counts WHERE dimension = 'status' AND key LIKE '5__' GROUP BY minute ORDER BY minute", 'replay');
    assert.deepEqual(new Map(fives.map((r) => [r.minute.getTime(), r.n])), perMinute, '5xx per minute, from the view');
    const notFound = await server.sql<{ key: string; n: number; bytes: number }>(
      "SELECT key, SUM(count)::int AS n, SUM(bytes)::float8 AS bytes FROM logflow_counts_by_status WHERE dimension = 'url' AND status = 404 GROUP BY key ORDER BY 2 DESC, key COLLATE \"C\" LIMIT 10", 'replay');
    assert.deepEqual(notFound.map((r) => [r.key, r.n, r.bytes]), countBy(inLog, 'url', 404, 404).slice(0, 10).map((i) => [i.key, i.count, i.bytes]), 'top 404 URLs, from the view by status');
    for (const d of [pg, sqlite]) assert.equal(await d.stop('SIGTERM'), 0);
  });
});

function existsIn(dir: string, name: string): boolean {
  return readdirSync(dir).includes(name);
}

function sum(...all: Expected[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of all) for (const [url, n] of e.counts) counts.set(url, (counts.get(url) ?? 0) + n);
  return counts;
}
