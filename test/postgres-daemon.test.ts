import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDaemon, tempDir, waitFor, writeConfig, type RunningDaemon } from './helpers/daemon.js';
import { dropLog, type Expected } from './helpers/expected-counts.js';
import type { PostgresConfig } from '../daemon/store/database-config.js';
import { PostgresResultsStore } from '../daemon/store/postgres/postgres-store.js';
import { testLogger } from './helpers/logger.js';
import { PostgresServer, skipWithoutPostgres } from './helpers/postgres-server.js';
import { logflow } from './helpers/run-cli.js';
import { startFails } from './helpers/start-fails.js';

interface Top {
  total: number;
  urls: { url: string; count: number }[];
}
interface Stats {
  eventsIn: number;
  eventsCounted: number;
  files: { completed: number };
}

/** A daemon directory whose job writes to `database` (as `instance`, when given). */
async function daemonDir(database: string, instance?: string): Promise<string> {
  const dir = tempDir();
  mkdirSync(path.join(dir, 'spool'));
  // topN 1000: each writer persists its whole top (150 URLs), so that `instance=*` sums every URL.
  await writeConfig(dir, '', { 'a1.jobs.j1.database': database, 'a1.jobs.j1.topN': '1000', ...(instance && { 'a1.jobs.j1.instance': instance }) });
  return dir;
}

const drop = (dir: string, name: string, seed: number): Promise<Expected> => dropLog(dir, name, { lines: 6_000, urls: 150, seed, malformed: 0.01 });

function merged(...all: Expected[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of all) for (const [url, n] of e.counts) counts.set(url, (counts.get(url) ?? 0) + n);
  return counts;
}

/** The history by the lines' own time: the generated logs' hour (2026-01-01, 00:00 to 01:00 UTC) and around it. */
const recent = () => 'from=2025-12-31T23:00:00Z&to=2026-01-01T02:00:00Z';

/** Waits until `files` are completed and every line is counted in the live window, the history and the database. */
async function counted(d: RunningDaemon, files: number, ...all: Expected[]): Promise<void> {
  const total = all.reduce((s, e) => s + e.total, 0);
  await waitFor(`${total} events counted, ${files} files completed`, async () => {
    const { body } = await d.get<Stats>('/api/stats');
    return body.eventsCounted === total && body.files.completed === files ? body : undefined;
  }, 60_000);
  const want = merged(...all);
  const { body: live } = await d.get<Top>('/api/top?n=1000');
  assert.equal(live.total, total);
  assert.deepEqual(new Map(live.urls.map((u) => [u.url, u.count])), want);
  const { body: range } = await d.get<Top>(`/api/top?n=1000&${recent()}`);
  assert.equal(range.total, total);
  assert.deepEqual(new Map(range.urls.map((u) => [u.url, u.count])), want);
}

describe('PostgreSQL results: start-up, a server that comes late, several writers', { skip: skipWithoutPostgres }, () => {
  let server: PostgresServer;
  const daemons: RunningDaemon[] = [];
  before(async () => {
    server = await PostgresServer.start();
    await server.sql("CREATE ROLE lf_writer LOGIN PASSWORD 'right-password'; CREATE ROLE lf_reader LOGIN PASSWORD 'reader-password'", 'postgres');
    for (const db of ['norights', 'late', 'shared']) await server.sql(`CREATE DATABASE ${db}`, 'postgres');
  });
  after(async () => {
    for (const d of daemons) await d.stop('SIGKILL');
    await server?.stop();
  });

  test('what no retry cures stops start-up naming the key: a refused password, a missing database, no right to create the tables, a host that does not resolve', async () => {
    const config = (over: Partial<PostgresConfig>): PostgresConfig => ({ host: '127.0.0.1', port: server.port, user: 'postgres', password: undefined, database: 'logflow', sslMode: 'disable', sslRootCert: undefined, ...over });
    const cases: [Partial<PostgresConfig>, RegExp][] = [
      [{ user: 'lf_writer', password: 'wrong-password' }, /password authentication failed for user "lf_writer" \(28P01\); the server refused the password/],
      [{ database: 'nosuchdb' }, /database "nosuchdb" does not exist \(3D000\); the database does not exist/],
      [{ user: 'lf_reader', password: 'reader-password', database: 'norights' }, /permission denied for schema public \(42501\); the user may not create the tables logflow needs/],
      [{ host: 'no-such-host.invalid' }, /ENOTFOUND.*; the host name does not resolve/],
    ];
    for (const [over, why] of cases) {
      const opened = PostgresResultsStore.open(config(over), { instance: 'a1', where: 'the-url', batchIntervalMs: 1000, windowMs: 300_000, history: true, retentionMs: 3_600_000 }, testLogger);
      await assert.rejects(opened, (err: Error & { code?: string; setting?: string }) => {
        assert.equal(err.code, 'LF_CONFIG_UNUSABLE');
        assert.equal(err.setting, 'database');
        assert.match(err.message, /^cannot use the results database the-url: /);
        assert.match(err.message, why);
        return true;
      }, JSON.stringify(over));
    }
  });

  test('as the daemon says it: the file, the key, the URL without its password; an instance another daemon writes as names a1.jobs.j1.instance', async () => {
    process.env.LF_TEST_PG_PASSWORD = 'wrong-password';
    const message = await startFails(await daemonDir(`postgres://lf_writer:\${LF_TEST_PG_PASSWORD}@127.0.0.1:${server.port}/logflow`));
    assert.match(message, /^logflow: \S*agent\.conf: a1\.jobs\.j1\.database: cannot use the results database postgres:\/\/lf_writer:\*\*\*@127\.0\.0\.1:\d+\/logflow: password authentication failed/m);
    assert.doesNotMatch(message, /wrong-password/, 'the password is never shown');
    const first = await startDaemon(await daemonDir(server.url()));
    daemons.push(first);
    const second = await startFails(await daemonDir(server.url()));
    assert.match(second, /agent\.conf: a1\.jobs\.j1\.instance: another logflow writes as instance a1 to postgres:\/\/postgres@127\.0\.0\.1:\d+\/logflow \(pid \d+ on .*\): give each daemon its own a1\.jobs\.<job>\.instance/);
    assert.equal(await first.stop('SIGTERM'), 0);
  });

  test('a server not there at start-up: the daemon starts, says so in the log and /metrics, results wait; once it is up every count is exact', { timeout: 120_000 }, async () => {
    await server.crash();
    const dir = await daemonDir(server.url('late'));
    let d: RunningDaemon;
    let log: Expected;
    try {
      d = await startDaemon(dir);
      daemons.push(d);
      log = await drop(dir, 'while-down.log', 11);
      await waitFor('the log read and counted, its results waiting', async () => {
        const { body } = await d.get<Stats & { resultsWaiting: number }>('/api/stats');
        return body.eventsIn === log.lines && body.resultsWaiting > 0 ? body : undefined;
      }, 30_000);
      assert.ok(d.logs.some((l) => l.includes('"results database not reachable; results wait in order, reconnecting"')));
      const metrics = await (await fetch(`${d.url}/metrics`)).text();
      assert.match(metrics, /^logflow_results_database_up 0$/m);
      const { status, body } = await d.get<{ code: string }>('/api/top');
      assert.equal(status, 503);
      assert.equal(body.code, 'LF_HTTP_STORE_UNAVAILABLE');
      const cli = await logflow(['status', '--url', d.url], dir);
      assert.match(cli.stdout, /^results {4}[\d,]+ waiting for the database$/m);
      assert.match(cli.stdout, /^database {3}PostgreSQL, not reachable: reconnecting \(\d+ reconnects\)$/m);
      await server.begin();
      await counted(d, 1, log);
    } finally {
      await server.begin();
    }
    const metrics = await (await fetch(`${d.url}/metrics`)).text();
    assert.match(metrics, /^logflow_results_database_up 1$/m);
    assert.ok(Number(/^logflow_results_database_reconnects_total (\d+)$/m.exec(metrics)?.[1]) > 0);
    assert.ok(d.logs.some((l) => l.includes('"results database reachable again"')));
    // The history by dimension answers here too: every line has a status, and a status's series sums to its range count.
    const { body: byStatus } = await d.get<{ total: number; items: { key: string; count: number }[] }>(`/api/top?by=status&n=100&${recent()}`);
    assert.equal(byStatus.total, log.total, 'by=status over the range: every counted line');
    const busiest = byStatus.items[0]!;
    const { body: perMinute } = await d.get<{ total: number }>(`/api/series?by=status&key=${busiest.key}&step=60&${recent()}`);
    assert.equal(perMinute.total, busiest.count, `status ${busiest.key} per minute`);
    assert.equal((await d.get(`/api/top?${recent()}`)).status, 200);
    assert.equal(await d.stop('SIGTERM'), 0);
  });

  test('several writers, one database: each reads its own by default, instance=* sums them, an unknown name is a 400; the SQL views sum them too', { timeout: 120_000 }, async () => {
    const url = server.url('shared');
    const dirs = [await daemonDir(url, 'web1'), await daemonDir(url, 'web2')];
    const [web1, web2] = [await startDaemon(dirs[0]!), await startDaemon(dirs[1]!)];
    daemons.push(web1!, web2!);
    const [log1, log2] = [await drop(dirs[0]!, 'one.log', 21), await drop(dirs[1]!, 'two.log', 22)];
    await counted(web1!, 1, log1!);
    await counted(web2!, 1, log2!);

    const both = merged(log1!, log2!);
    const asMap = (t: Top) => new Map(t.urls.map((u) => [u.url, u.count]));
    const { body: other } = await web1!.get<Top>(`/api/top?n=1000&${recent()}&instance=web2`);
    assert.deepEqual(asMap(other), log2!.counts, 'web1 reads web2 by name');
    for (const route of [`/api/top?n=1000&${recent()}&instance=*`, '/api/top?n=1000&instance=*']) {
      const { body } = await web2!.get<Top>(route);
      assert.equal(body.total, log1!.total + log2!.total, route);
      assert.deepEqual(asMap(body), both, route);
    }
    const { body: series } = await web1!.get<{ points: { count: number }[] }>(`/api/series?${recent()}&step=60&instance=*`);
    assert.equal(series.points.reduce((s, p) => s + p.count, 0), log1!.total + log2!.total);
    const { status, body: refused } = await web1!.get<{ code: string; message: string }>(`/api/top?${recent()}&instance=web3`);
    assert.equal(status, 400);
    assert.match(refused.message, /"instance" names no writer of this database \(instances: web1, web2, \*\)/);

    // What Grafana or psql read: the views, all instances summed.
    const rows = await server.sql<{ key: string; count: number }>("SELECT key, SUM(count)::int AS count FROM logflow_counts WHERE dimension = 'url' GROUP BY key", 'shared');
    assert.deepEqual(new Map(rows.map((r) => [r.key, r.count])), both);
    const hourly = await server.sql<{ n: number }>("SELECT SUM(count)::int AS n FROM logflow_counts_hourly WHERE dimension = 'url'", 'shared');
    assert.equal(hourly[0]!.n, log1!.total + log2!.total);
    const tops = await server.sql<{ instance: string; n: number }>('SELECT instance, COUNT(*)::int AS n FROM logflow_top GROUP BY instance ORDER BY instance', 'shared');
    assert.deepEqual(tops.map((t) => t.instance), ['web1', 'web2']);

    const cli = await logflow(['top', '--url', web1!.url, '--instance', '*', '-n', '3'], dirs[0]!);
    assert.equal(cli.code, 0, cli.stderr);
    const top3 = [...both].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 3);
    for (const [u] of top3) assert.match(cli.stdout, new RegExp(` ${u.replace(/[.?*+^$[\]\\(){}|-]/g, '\\$&')}\\n`));
    // `logflow reset` of a running web1 is refused; once web1 stops, it deletes web1's rows
    // only (the database is shared): web2's rows, the tables and the views stay.
    const byInstance = async () => new Map((await server.sql<{ instance: string; n: number }>(
      'SELECT instance, COUNT(*)::int AS n FROM logflow_batches GROUP BY instance ORDER BY instance', 'shared')).map((r) => [r.instance, r.n]));
    const before = await byInstance();
    assert.ok((before.get('web1') ?? 0) > 0 && (before.get('web2') ?? 0) > 0);
    assert.equal(await web1!.stop('SIGTERM'), 0);
    const web2Running = await logflow(['reset', '--yes', '--conf-file', 'agent.conf'], dirs[1]!);
    assert.equal(web2Running.code, 1, web2Running.stdout);
    assert.match(web2Running.stderr, /refused: .*(checkpoint directory|writes as instance web2)/);
    const dry = await logflow(['reset', '--conf-file', 'agent.conf'], dirs[0]!);
    assert.equal(dry.code, 1);
    assert.match(dry.stdout, /job j1's results and history in PostgreSQL \(instance web1; .*other instances' rows are kept\): postgres:\/\/.*\/shared \([\d,]+ rows\)/);
    assert.deepEqual(await byInstance(), before, 'without --yes nothing is removed');
    const reset = await logflow(['reset', '--yes', '--conf-file', 'agent.conf'], dirs[0]!);
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stdout, /removed .*\n.*instance web1/);
    assert.deepEqual(await byInstance(), new Map([['web2', before.get('web2')]]), "web1's rows gone, web2's kept");
    const left = await server.sql<{ n: number }>("SELECT SUM(count)::int AS n FROM logflow_counts WHERE dimension = 'url'", 'shared');
    assert.equal(left[0]!.n, log2!.total, 'the views read web2 alone');
    assert.equal(await web2!.stop('SIGTERM'), 0);
  });
});
