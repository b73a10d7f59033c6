import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { renameSync, utimesSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { waitFor, withDaemon, type RunningDaemon } from './helpers/daemon.js';
import { EventStreamReader } from './helpers/event-stream.js';

/**
 * Hostile neighbours on the daemon's ports, for real: floods of idle TCP connections on the
 * HTTP port and on the job's Avro port, with the daemon's open-file limit lowered (prlimit)
 * so that a flood can take every descriptor it has.
 */

const line = (i: number) => `10.0.0.${i % 7} - - [01/Jan/2026:00:00:00 +0000] "GET /p/${i % 13} HTTP/1.1" 200 ${i}`;

/** `count` lines dropped into the spool (written aside, renamed in), counted on their own. */
function drop(dir: string, name: string, count: number, mtime?: number): Map<string, number> {
  const lines = Array.from({ length: count }, (_, i) => line(i));
  writeFileSync(path.join(dir, `${name}.staged`), lines.join('\n') + '\n');
  if (mtime !== undefined) utimesSync(path.join(dir, `${name}.staged`), mtime, mtime);
  renameSync(path.join(dir, `${name}.staged`), path.join(dir, 'spool', name));
  const expected = new Map<string, number>();
  for (const l of lines) {
    const url = /"GET (\S+)/.exec(l)![1]!;
    expected.set(url, (expected.get(url) ?? 0) + 1);
  }
  return expected;
}

/**
 * `count` connections to `port` that send nothing (or, with `trickle`, one byte of a frame
 * that never ends, every 200 ms, so no idle timeout closes them), and, with `reconnect`,
 * come back 100 ms after being closed. Stopped when the test ends, if not before.
 */
function flood(t: Pick<TestContext, 'after'>, port: number, count: number, opts: { trickle?: boolean; reconnect?: boolean } = {}) {
  const state = { open: 0, closed: 0, stopped: false, sockets: new Set<net.Socket>() };
  const timers = new Set<NodeJS.Timeout>();
  const connect = () => {
    if (state.stopped) return;
    const s = net.connect(port, '127.0.0.1');
    state.sockets.add(s);
    s.on('connect', () => state.open++);
    s.on('error', () => {});
    let trickle: NodeJS.Timeout | undefined;
    if (opts.trickle) {
      // A Netty frame header claiming a long frame, one byte at a time.
      const header = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0x10, 0]);
      let sent = 0;
      trickle = setInterval(() => s.write(header.subarray(sent % header.length, (sent++ % header.length) + 1)), 200);
      timers.add(trickle);
    }
    s.on('close', () => {
      state.closed++;
      state.sockets.delete(s);
      if (trickle) clearInterval(trickle);
      if (opts.reconnect && !state.stopped) timers.add(setTimeout(connect, 100));
    });
  };
  for (let i = 0; i < count; i++) connect();
  const stop = () => {
    state.stopped = true;
    for (const timer of timers) clearTimeout(timer);
    for (const s of state.sockets) s.destroy();
  };
  t.after(stop);
  return { state, stop };
}

async function topMatches(daemon: RunningDaemon, expected: Map<string, number>, total: number): Promise<void> {
  const { body } = await daemon.get<{ total: number; urls: { url: string; count: number }[] }>('/api/top?n=100');
  assert.equal(body.total, total);
  assert.deepEqual(new Map(body.urls.map((u) => [u.url, u.count])), expected);
}

function metric(text: string, series: string): number {
  const m = new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm').exec(text);
  assert.ok(m, `${series} in /metrics`);
  return Number(m[1]);
}

describe('connection floods', () => {
  test('HTTP past a1.http.maxConnections is closed and counted while files are counted; every descriptor taken on the Avro port is survived; the limit check names the keys', async (t) => {
    // 50 + the job's 1000 + 256 do not fit in 400: the warning at start names the keys.
    const daemon = await withDaemon(t, { extra: 'a1.http.maxConnections = 50\n', openFiles: 400 });
    const { dir, avroPort } = daemon;
    const warning = daemon.logs.find((l) => l.includes('open-file limit'));
    assert.ok(warning, 'a warning about the open-file limit at start');
    assert.match(JSON.parse(warning).msg, /^the open-file limit \(ulimit -n\) is 400, below the 1306 descriptors the connection caps allow \(a1\.http\.maxConnections = 50, a1\.jobs\.j1\.maxConnections = 1000, plus 256 for files and databases\)/);

    // 1. 1000 idle connections to HTTP: 50 held, 950 closed for newer ones (without the cap
    // they took every descriptor, and the job thread crashed on EMFILE).
    const http = flood(t, Number(new URL(daemon.url).port), 1000);
    await waitFor('950 HTTP connections closed by the server', () => (http.state.closed >= 950 ? true : undefined));
    const first = drop(dir, 'during-http-flood.log', 1000);
    await waitFor('the file counted during the flood', () => (daemon.logs.some((l) => l.includes('"file completed"') && l.includes('during-http-flood.log')) ? true : undefined));
    // Asked during the flood: the request closes the idle connection opened longest ago.
    const metrics = await (await fetch(daemon.url + '/metrics')).text();
    assert.equal(metric(metrics, 'logflow_http_refused_connections_total{reason="maxConnections"}'), 951);
    http.stop();
    await waitFor('the slide with the file', async () => ((await daemon.get<{ total: number }>('/api/top')).body.total === 1000 ? true : undefined));
    await topMatches(daemon, first, 1000);

    // 2. The Avro port's cap (1000) is above the limit: the flood takes every descriptor.
    // A file found before (its mtime in the future keeps it settling) is opened during it.
    const second = drop(dir, 'during-avro-flood.log', 500, Date.now() / 1000 + 3600);
    await waitFor('the file found', async () => ((await daemon.get<{ files: { name: string }[] }>('/api/files?state=pending')).body.files.length === 1 ? true : undefined));
    const avro = flood(t, avroPort!, 600);
    await waitFor('connections closed for want of descriptors', () => (avro.state.closed > 0 ? true : undefined));
    utimesSync(path.join(dir, 'spool', 'during-avro-flood.log'), new Date(), new Date(Date.now() - 60_000));
    await waitFor('the open failed for want of descriptors', () => (daemon.logs.some((l) => /"file (could not be opened|failed)/.test(l)) ? true : undefined));
    avro.stop();
    await waitFor('the file dropped during the flood counted', async () => ((await daemon.get<{ total: number }>('/api/top')).body.total === 1500 ? true : undefined), 30_000);
    for (const [url, n] of second) first.set(url, (first.get(url) ?? 0) + n);
    await topMatches(daemon, first, 1500);
    assert.equal(daemon.proc.exitCode, null, 'the daemon runs on');
    assert.ok(!daemon.logs.some((l) => l.includes('crashed')), 'no thread crashed');
  });

  test('HTTP at a1.http.maxConnections: a new connection closes the one idle longest, so /health answers through a flood of idle connections; an event stream (a request in flight) is never closed', async (t) => {
    const daemon = await withDaemon(t, { extra: 'a1.http.maxConnections = 20\n' });
    // The dashboard's stream first: one slot, busy for as long as it is open.
    const stream = await EventStreamReader.open(daemon.url + '/api/stream');
    t.after(() => stream.close());
    await waitFor('the stream\'s first stats', () => stream.last('stats'));
    const held = flood(t, Number(new URL(daemon.url).port), 40);
    // 19 slots left for 40 idle connections: the 21 opened first are closed for newer ones.
    await waitFor('21 idle connections closed for newer ones', () => (held.state.open === 40 && held.state.closed >= 21 ? true : undefined));
    // A real client gets through while 19 idle outsiders still hold their slots.
    const health = await fetch(daemon.url + '/health').then((r) => r.status, (e: Error) => e.message);
    assert.equal(health, 200, 'GET /health during the flood');
    await waitFor('the probe closed the one idle longest', () => (held.state.closed === 22 ? true : undefined));
    // The stream was never closed: it still delivers (a file counted shows in its stats).
    drop(daemon.dir, 'a.log', 100);
    await waitFor('the stream showing the file counted', () => (stream.last<{ eventsCounted: number }>('stats')?.eventsCounted === 100 ? true : undefined));
    const metrics = await (await fetch(daemon.url + '/metrics')).text();
    assert.ok(metric(metrics, 'logflow_http_refused_connections_total{reason="maxConnections"}') >= 22, 'every closed one counted');
    assert.ok(daemon.logs.some((l) => l.includes('the one idle longest is closed for the new one')), 'logged');
  });

  test('with every descriptor taken, the stats sample of the job and main threads does not throw (process.memoryUsage() did: EMFILE crashed the job thread)', () => {
    // A process at its open-file limit (prlimit 64, every descriptor opened), sampling twice.
    const script = `
      const { openSync } = require('node:fs');
      import(${JSON.stringify(new URL('../daemon/job/job-stats.js', import.meta.url).href)}).then(({ jobMemory }) => {
        const before = jobMemory();
        let emfile = false;
        try { for (;;) openSync('/dev/null', 'r'); } catch (err) { emfile = err.code === 'EMFILE'; }
        let raw = 'ok';
        try { process.memoryUsage(); } catch (err) { raw = err.code; }
        const after = jobMemory();
        process.stdout.write(JSON.stringify({ emfile, raw, same: after.heapUsedMb >= 0 && before.heapUsedMb >= 0 }));
      });`;
    const out = execFileSync('prlimit', ['--nofile=64:64', '--', process.execPath, '-e', script], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), { emfile: true, raw: 'EMFILE', same: true });
  });

  test('outsiders holding every Avro slot (trickling, coming back when closed) cannot starve the daemon\'s own sink', async (t) => {
    // The sink's idle connection is closed after 1 s, so it must connect again through the flood.
    const daemon = await withDaemon(t, { extra: 'a1.jobs.j1.maxConnections = 20\na1.jobs.j1.idleTimeout = 1\n' });
    const outsiders = flood(t, daemon.avroPort!, 40, { trickle: true, reconnect: true });
    await waitFor('the outsiders past the cap', () => (outsiders.state.open >= 40 ? true : undefined));
    const expected = drop(daemon.dir, 'a.log', 2000);
    await waitFor('the file counted', async () => ((await daemon.get<{ total: number }>('/api/top')).body.total === 2000 ? true : undefined));
    await topMatches(daemon, expected, 2000);
    const metrics = await (await fetch(daemon.url + '/metrics')).text();
    assert.ok(metric(metrics, 'logflow_avro_refused_connections_total{reason="maxConnections"}') >= 20, 'outsiders were closed at the cap');
  });
});
