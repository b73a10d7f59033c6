import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { writeLog } from '../scripts/access-log-generator.js';
import type { Stats, Top } from './helpers/api-types.js';
import { tempDir, waitFor, withDaemon, writeConfig } from './helpers/daemon.js';
import { startUpFailure } from './helpers/start-fails.js';
import { expectedCounts } from './helpers/expected-counts.js';

describe('the daemon end to end', () => {
  test('a dropped 100k-line log is counted exactly, per URL, and renamed .COMPLETED', async (t) => {
    const daemon = await withDaemon(t);
    const { dir } = daemon;

    const staged = path.join(dir, 'access.log.tmp');
    await writeLog(staged, { lines: 100_000, urls: 500, seed: 42, malformed: 0.01 });
    const expected = expectedCounts(staged);
    assert.ok(expected.parseErrors > 500, 'the generated log has malformed lines');
    const dropped = Date.now();
    renameSync(staged, path.join(dir, 'spool', 'access.log'));

    const stats = await waitFor('the file to be counted', async () => {
      const { body } = await daemon.get<Stats>('/api/stats');
      return body.eventsCounted + body.parseErrors === expected.lines && body.files.completed === 1 ? body : undefined;
    });
    const seconds = (Date.now() - dropped) / 1000;
    console.log(`# e2e: 100k lines counted and persisted ${seconds.toFixed(2)} s after the drop (${Math.round(100_000 / seconds)} lines/s including settle and batch wait)`);
    assert.equal(stats.eventsIn, expected.lines);
    assert.equal(stats.eventsCounted, expected.total);
    assert.equal(stats.parseErrors, expected.parseErrors);
    assert.deepEqual(stats.files, { pending: 0, inProgress: 0, completed: 1, failed: 0 });

    const { status, body: top } = await daemon.get<Top>('/api/top?n=1000');
    assert.equal(status, 200);
    assert.equal(top.total, expected.total);
    assert.equal(top.urls.length, expected.counts.size);
    for (const { url, count } of top.urls) assert.equal(count, expected.counts.get(url), url);
    const sorted = [...top.urls].sort((a, b) => b.count - a.count || (a.url < b.url ? -1 : 1));
    assert.deepEqual(top.urls, sorted, 'counts descending, ties by URL');
    assert.equal(Date.parse(top.window.end) - Date.parse(top.window.start), 300_000);

    // The same counts from the history, by the lines' own time: the generated log's hour,
    // 2026-01-01T00:00Z (epoch seconds and ISO 8601).
    const from = Date.UTC(2025, 11, 31, 23, 59) / 1000;
    const to = '2026-01-01T01:01:00Z';
    const { status: rangeStatus, body: range } = await daemon.get<Top>(`/api/top?n=1000&from=${from}&to=${to}`);
    assert.equal(rangeStatus, 200);
    assert.equal(range.total, expected.total);
    assert.deepEqual(range.urls, top.urls);
    // Any range can be asked: 1970 to the year 5138.
    const { status: wide, body: all } = await daemon.get<Top>('/api/top?n=3&from=0&to=99999999999');
    assert.deepEqual([wide, all.total], [200, expected.total]);
    for (const [query, parameter] of [['from=yesterday', 'from'], ['to=12:00', 'to'], [`from=${from}&to=${from}`, 'from'], ['from=2026-01-02&to=2026-01-01', 'from']] as const) {
      const { status: s400, body } = await daemon.get<{ parameter: string }>(`/api/top?${query}`);
      assert.equal(s400, 400, query);
      assert.equal(body.parameter, parameter, query);
    }

    const { body: top3 } = await daemon.get<Top>('/api/top?n=3');
    assert.deepEqual(top3.urls, top.urls.slice(0, 3));

    const { body: files } = await daemon.get<{ files: Record<string, unknown>[] }>('/api/files');
    assert.equal(files.files.length, 1);
    assert.deepEqual(
      { name: files.files[0]!.name, state: files.files[0]!.state, lines: files.files[0]!.lines, parseErrors: files.files[0]!.parseErrors, reason: files.files[0]!.reason },
      { name: 'access.log', state: 'completed', lines: 100_000, parseErrors: expected.parseErrors, reason: null },
    );
    assert.equal(files.files[0]!.bytesRead, files.files[0]!.size);
    assert.ok(Date.parse(files.files[0]!.finishedAt as string) >= Date.parse(files.files[0]!.startedAt as string));
    assert.equal((await daemon.get<{ parameter: string }>('/api/files?state=bogus')).body.parameter, 'state');
    assert.equal((await daemon.get<{ files: unknown[] }>('/api/files?state=failed')).body.files.length, 0);

    const metrics = await (await fetch(daemon.url + '/metrics')).text();
    assert.match(metrics, new RegExp(`^logflow_events_counted_total ${expected.total}$`, 'm'));
    assert.match(metrics, new RegExp(`^logflow_parse_errors_total ${expected.parseErrors}$`, 'm'));
    assert.match(metrics, /^logflow_files\{state="completed"\} 1$/m);
    assert.match(metrics, /^# TYPE logflow_batch_processing_seconds histogram$/m);
    assert.match(metrics, /^logflow_batch_processing_seconds_bucket\{le="\+Inf"\} [1-9]\d*$/m);

    assert.ok(existsSync(path.join(dir, 'spool', 'access.log.COMPLETED')));
    assert.ok(!existsSync(path.join(dir, 'spool', 'access.log')));
    assert.ok(daemon.logs.some((l) => l.includes('"file completed"') && l.includes('"lines":100000')));

    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  test('files already in the spool at start-up, CRLF lines, a last line without a newline, a .gz file', async (t) => {
    const dir = tempDir();
    await writeConfig(dir);
    const spool = path.join(dir, 'spool');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(spool);
    const line = (url: string) => `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET ${url} HTTP/1.1" 200 5 "-" "ua"`;
    writeFileSync(path.join(spool, 'one.log'), [line('/a'), line('/b'), line('/a')].join('\r\n') + '\r\n');
    writeFileSync(path.join(spool, 'two.log'), [line('/a'), 'not a log line', line('/c')].join('\n'));
    const { gzipSync } = await import('node:zlib');
    writeFileSync(path.join(spool, 'three.log.gz'), gzipSync([line('/gz'), line('/a')].join('\n') + '\n'));
    const daemon = await withDaemon(t, { dir });
    await waitFor('all three files', async () => {
      const { body } = await daemon.get<Stats>('/api/stats');
      return body.files.completed === 3 && body.eventsCounted + body.parseErrors === 8 ? body : undefined;
    });
    assert.ok(existsSync(path.join(spool, 'three.log.gz.COMPLETED')));
    const { body } = await daemon.get<Top>('/api/top?n=10');
    assert.deepEqual(body.urls, [{ url: '/a', count: 4 }, { url: '/b', count: 1 }, { url: '/c', count: 1 }, { url: '/gz', count: 1 }]);
    const { body: stats } = await daemon.get<Stats>('/api/stats');
    assert.equal(stats.parseErrors, 1);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  test('logFormat and stripQueryString: a custom nginx format, /a?x=1 and /a?y=2 counted as /a', async (t) => {
    const daemon = await withDaemon(t, { extra: 'a1.jobs.j1.logFormat = $remote_addr "$request" $status\na1.jobs.j1.stripQueryString = true\n' });
    const { dir } = daemon;
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(path.join(dir, 'spool'), { recursive: true });
    writeFileSync(path.join(dir, 'stage.log'), ['1.1.1.1 "GET /a?x=1 HTTP/1.1" 200', '2.2.2.2 "GET /a?y=2 HTTP/1.1" 200', '3.3.3.3 "GET /b HTTP/1.1" 404', 'junk'].join('\n') + '\n');
    renameSync(path.join(dir, 'stage.log'), path.join(dir, 'spool', 'nginx.log'));
    await waitFor('the file', async () => {
      const { body } = await daemon.get<Stats>('/api/stats');
      return body.eventsCounted + body.parseErrors === 4 ? body : undefined;
    });
    const { body } = await daemon.get<Top>('/api/top');
    assert.deepEqual(body.urls, [{ url: '/a', count: 2 }, { url: '/b', count: 1 }]);
    assert.equal((await daemon.get<Stats>('/api/stats')).body.parseErrors, 1);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  test('URLs with any bytes round-trip exactly: quotes, percent, unicode, SQL', async (t) => {
    const daemon = await withDaemon(t);
    const { dir } = daemon;
    const urls = ["/%27;%20DROP%20TABLE%20urls;--", "/';DROP+TABLE+latest_top;--", '/ünïcödé/路径/😀', '/say\\"hi\\"', '/a?b=c&d=%E2%82%AC'];
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(path.join(dir, 'spool'), { recursive: true });
    const lines = urls.flatMap((u, i) => Array.from({ length: i + 1 }, () => `1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET ${u} HTTP/1.1" 200 1`));
    writeFileSync(path.join(dir, 'stage.log'), lines.join('\n') + '\n');
    renameSync(path.join(dir, 'stage.log'), path.join(dir, 'spool', 'odd.log'));
    await waitFor('the file', async () => {
      const { body } = await daemon.get<Stats>('/api/stats');
      return body.eventsCounted === lines.length ? body : undefined;
    });
    const { body } = await daemon.get<Top>('/api/top?n=10');
    assert.deepEqual(body.urls, urls.map((url, i) => ({ url, count: i + 1 })).reverse());
    // The history is by the lines' own time: 10/Oct/2000:13:55:36 -0700.
    const own = Date.UTC(2000, 9, 10, 20, 55, 36) / 1000;
    const { body: range } = await daemon.get<Top>(`/api/top?n=10&from=${own - 120}&to=${own + 60}`);
    assert.deepEqual(range.urls, body.urls);
    const { body: series } = await daemon.get<{ url: string; points: { count: number }[] }>(`/api/urls/${encodeURIComponent(urls[2]!)}/series?step=60&from=${own - 600}&to=${own + 600}`);
    assert.equal(series.url, urls[2]);
    assert.equal(series.points.reduce((a, p) => a + p.count, 0), 3);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  test('a bad request gets a 400 that names the parameter; /health answers', async (t) => {
    const daemon = await withDaemon(t);
    const { dir } = daemon;
    for (const [query, parameter] of [['n=0', 'n'], ['n=1001', 'n'], ['n=abc', 'n'], ['n=5&sort=x', 'sort'], ['n=99999999999999999999', 'n'], ['n=1%27%20OR%201=1', 'n'], ['n=1e309', 'n'], ['n=-Infinity', 'n']] as const) {
      const { status, body } = await daemon.get<{ parameter: string; message: string }>(`/api/top?${query}`);
      assert.equal(status, 400, query);
      assert.equal(body.parameter, parameter, query);
    }
    for (const route of ['/api/stats?verbose=1', '/metrics?x=1', '/health?x=1', '/api/files?x=1']) {
      const { status, body } = await daemon.get<{ parameter: string }>(route);
      assert.equal(status, 400, route);
      assert.equal(body.parameter, route.includes('verbose') ? 'verbose' : 'x', route);
    }
    assert.deepEqual((await daemon.get('/health')).body, { status: 'ok' });
    const { status: docsStatus, body: openapi } = await daemon.get<{ openapi: string; paths: Record<string, unknown> }>('/docs/json');
    assert.equal(docsStatus, 200);
    assert.match(openapi.openapi, /^3\./);
    for (const route of ['/api/top', '/api/stats', '/api/files', '/metrics', '/health']) assert.ok(openapi.paths[route], route);
    const ui = await fetch(daemon.url + '/docs');
    assert.equal(ui.status, 200);
    assert.match(await ui.text(), /swagger/i);
    const { body: empty } = await daemon.get<Top>('/api/top');
    assert.deepEqual(empty.urls, []);
    assert.equal(await daemon.stop('SIGINT'), 0);
  });

  test('queries come first: the pipeline threads run pipelineNice below the HTTP thread', { skip: process.platform !== 'linux' && 'thread priorities are set on Linux only' }, async (t) => {
    const daemon = await withDaemon(t, { extra: 'a1.http.pipelineNice = 7\n' });
    const { dir } = daemon;
    const listening = JSON.parse(daemon.logs.find((l) => l.includes('"http listening"'))!) as { httpThread: number; pipelineNice: number };
    const pid = daemon.proc.pid!;
    // Field 19 of /proc/<pid>/task/<tid>/stat is the thread's nice value (after the name in parentheses).
    const nice = (tid: number) => Number(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
    assert.equal(listening.pipelineNice, 7);
    assert.equal(nice(listening.httpThread), 0, 'the HTTP thread keeps its priority');
    assert.equal(nice(pid), 7, 'the main thread (source, sink) steps down');
    const lowered = readdirSync(`/proc/${pid}/task`).map(Number).filter((tid) => nice(tid) === 7);
    assert.ok(lowered.length >= 2, `the job's thread steps down too (threads at nice 7: ${lowered.join(', ')})`);
    // The API still answers from its own thread.
    assert.deepEqual((await daemon.get('/health')).body, { status: 'ok' });
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  test('with a.http.authToken, /api/* and /metrics want the bearer token; /health and /docs do not', async (t) => {
    const daemon = await withDaemon(t, { extra: 'a1.http.authToken = s3cret-token-of-length\n' });
    const { dir } = daemon;
    for (const route of ['/api/top', '/api/stats', '/api/files', '/metrics']) {
      assert.equal((await fetch(daemon.url + route)).status, 401, route);
      assert.equal((await fetch(daemon.url + route, { headers: { authorization: 'Bearer wrong-token-of-length!' } })).status, 401, route);
      assert.equal((await fetch(daemon.url + route, { headers: { authorization: 'Bearer s3cret-token-of-length' } })).status, 200, route);
    }
    assert.equal((await fetch(daemon.url + '/health')).status, 200);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  test('a configuration error stops start-up with the key and line, exit code 1', async () => {
    const dir = tempDir();
    await writeConfig(dir, 'a1.sinks.k1.batchSize = 10\n');
    assert.match(await startUpFailure(dir), /agent\.conf:\d+: a1\.sinks\.k1\.batchSize/);
  });
});
