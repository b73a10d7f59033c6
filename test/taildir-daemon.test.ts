import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { prng } from '../scripts/access-log-generator.js';
import { freePort, startDaemon, tempDir, waitFor, writeConfig, type RunningDaemon } from './helpers/daemon.js';
import { expectLines, LogWriter, type Rotation } from './helpers/log-writer.js';

interface Stats {
  eventsIn: number;
  eventsCounted: number;
  parseErrors: number;
  duplicates: number;
}
interface Followed {
  files: { path: string; state: string; position: number; size: number; lagBytes: number; lines: number; inode: number }[];
}
interface Top {
  total: number;
  urls: { url: string; count: number }[];
}

/** The bundled agent with a TAILDIR source instead of the spool: `logs/access.log*` (and `ct/app.log`). */
async function tailAgent(dir: string, extra: Record<string, string> = {}): Promise<void> {
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  mkdirSync(path.join(dir, 'ct'), { recursive: true });
  await writeConfig(dir, '', {
    'a1.sources.r1.type': 'TAILDIR',
    'a1.sources.r1.spoolDir': '',
    'a1.sources.r1.filegroups': 'f1 f2',
    'a1.sources.r1.filegroups.f1': 'logs/access.log.*',
    'a1.sources.r1.filegroups.f2': 'ct/app\\\\.log',
    'a1.sources.r1.positionFile': 'data/taildir_position.json',
    'a1.jobs.j1.batchInterval': '0.25',
    ...extra,
  });
}

/** Waits until the daemon counted `n` lines in all, then checks it counted no more (and nothing twice). */
async function counted(d: RunningDaemon, n: number, timeoutMs = 20_000): Promise<Stats> {
  let seen = -1;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { body } = await d.get<Stats>('/api/stats');
    seen = body.eventsCounted + body.parseErrors;
    assert.ok(seen <= n, `counted ${seen}, more than the ${n} lines written`);
    if (seen === n) return body;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`counted ${seen} of the ${n} lines written within ${timeoutMs} ms`);
}

async function assertTop(d: RunningDaemon, expected: Map<string, number>): Promise<void> {
  const { body: top } = await d.get<Top>('/api/top?n=1000');
  const want = [...expected].map(([url, count]) => ({ url, count })).sort((a, b) => b.count - a.count || (a.url < b.url ? -1 : 1));
  const got = [...top.urls].sort((a, b) => b.count - a.count || (a.url < b.url ? -1 : 1));
  assert.deepEqual(got, want);
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const lineText = (tag: string, i: number) => `10.0.0.${i % 250} - - [10/Oct/2000:13:55:36 -0700] "GET /${tag}/${i % 97} HTTP/1.1" 200 ${i}\n`;

describe('TAILDIR against the real daemon, with a real writer', () => {
  const writers: LogWriter[] = [];
  const daemons: RunningDaemon[] = [];
  after(async () => {
    for (const w of writers) w.kill();
    for (const d of daemons) await d.stop('SIGKILL');
  });

  test('pauses of seconds, a line written in two parts, rename-and-create, a .gz rotation, a file deleted while written, a name recreated, copytruncate: each line counted once', { timeout: 90_000 }, async () => {
    const dir = tempDir();
    await tailAgent(dir);
    const d = await startDaemon(dir);
    daemons.push(d);
    const w = new LogWriter();
    const ct = new LogWriter();
    writers.push(w, ct);
    const expected = new Map<string, number>();
    const log = path.join(dir, 'logs', 'access.log');

    await w.do('open', { file: log });
    await w.do('lines', { tag: 'a', from: 0, n: 1000 });
    expectLines(expected, 'a', 0, 1000);
    await counted(d, total(expected));

    // Half a line, then a pause of 3 s (longer than every timer of the source), then its rest.
    const half = lineText('a', 1000).slice(0, 40);
    await w.do('write', { text: half });
    await waitFor('the half line seen', async () => ((await d.get<Followed>('/api/followed')).body.files.find((f) => f.path === log)?.lagBytes === half.length ? true : undefined));
    await w.do('pause', { ms: 3000 });
    await w.do('write', { text: lineText('a', 1000).slice(40) });
    await w.do('lines', { tag: 'a', from: 1001, n: 500 });
    expectLines(expected, 'a', 1000, 501);
    await counted(d, total(expected));

    // logrotate's default: rename, the server writes on through its descriptor, then reopens.
    await w.do('rename', { from: log, to: log + '.1' });
    await w.do('lines', { tag: 'a', from: 1501, n: 300 });
    await w.do('reopen');
    await w.do('lines', { tag: 'b', from: 0, n: 400 });
    expectLines(expected, 'a', 1501, 300);
    expectLines(expected, 'b', 0, 400);
    await counted(d, total(expected));

    // The next rotation with compress + delaycompress: .1 is gzipped (and removed), the live file becomes .1.
    await w.do('gzip', { file: log + '.1', to: log + '.2.gz' });
    await w.do('rename', { from: log, to: log + '.1' });
    await w.do('lines', { tag: 'b', from: 400, n: 50 });
    await w.do('reopen');
    await w.do('lines', { tag: 'c', from: 0, n: 200 });
    expectLines(expected, 'b', 400, 50);
    expectLines(expected, 'c', 0, 200);
    await counted(d, total(expected));
    const gz = await waitFor('the .gz looked at', async () => (await d.get<Followed>('/api/followed')).body.files.find((f) => f.path.endsWith('.2.gz') && (f.state === 'copy' || f.state === 'done')));
    assert.ok(gz);

    // Deleted while the server still writes to it, then a new file under the same name,
    // whose first line is the same as the deleted one's.
    await w.do('unlink', { file: log });
    await w.do('lines', { tag: 'c', from: 200, n: 100 });
    await w.do('reopen');
    await w.do('lines', { tag: 'c', from: 0, n: 150 });
    expectLines(expected, 'c', 200, 100);
    expectLines(expected, 'c', 0, 150);

    // copytruncate, on a file followed by its live name only.
    const app = path.join(dir, 'ct', 'app.log');
    await ct.do('open', { file: app });
    await ct.do('lines', { tag: 'e', from: 0, n: 300 });
    expectLines(expected, 'e', 0, 300);
    await counted(d, total(expected));
    await ct.do('copytruncate', { file: app, to: app + '.1' });
    await ct.do('lines', { tag: 'f', from: 0, n: 200 });
    expectLines(expected, 'f', 0, 200);

    const stats = await counted(d, total(expected));
    assert.equal(stats.duplicates, 0, 'nothing was sent twice (the .gz was not read again)');
    assert.equal(stats.parseErrors, 0);
    await assertTop(d, expected);
    assert.equal(await d.stop('SIGTERM'), 0);
  });

  test('kill -9 five times, at random and right after rotations, of a writer that rotates (rename, reopen, gzip) every 1,500 lines: every line counted once', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    await tailAgent(dir);
    const w = new LogWriter();
    writers.push(w);
    const log = path.join(dir, 'logs', 'access.log');
    const rand = prng(25);
    let daemon = await startDaemon(dir);
    daemons.push(daemon);
    await w.do('open', { file: log });
    const rotations: Rotation[] = [];
    let rotated: (() => void) | undefined;
    w.onRotation = (r) => {
      rotations.push(r);
      rotated?.();
    };
    const done = w.do<{ written: number; rotations: number }>('run', { tag: 'r', rate: 2500, rotateEvery: 1500, total: 1_000_000 });
    const kills: string[] = [];
    for (let k = 0; k < 5; k++) {
      // Half the kills right after a rotation (before the next position write), half anywhere.
      if (k % 2 === 0) await new Promise<void>((r) => (rotated = r));
      else await new Promise((r) => setTimeout(r, 200 + rand() * 800));
      rotated = undefined;
      await new Promise((r) => setTimeout(r, rand() * 30));
      const { body } = await daemon.get<Stats>('/api/stats');
      kills.push(`${body.eventsIn} in after ${rotations.length} rotations`);
      daemon.proc.kill('SIGKILL');
      await daemon.exited;
      daemon = await startDaemon(dir);
      daemons.push(daemon);
    }
    // A last rotation with the daemon up, then the writer stops.
    await new Promise<void>((r) => (rotated = r));
    await w.do('stop');
    const { written: TOTAL, rotations: n } = await done;
    await w.do('close');
    console.log(`# kills: ${kills.join('; ')}; ${n} rotations, ${TOTAL} lines`);
    const expected = new Map<string, number>();
    expectLines(expected, 'r', 0, TOTAL);
    const stats = await counted(daemon, TOTAL, 30_000);
    assert.equal(stats.parseErrors, 0);
    await assertTop(daemon, expected);
    assert.ok(readdirSync(path.join(dir, 'logs')).filter((f) => f.endsWith('.gz')).length >= 5, 'the .gz rotations are there to be read again');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  test('an edge (TAILDIR, file channel, avro sink) killed -9 while a writer rotates: the job at the other end counts every line once', { timeout: 120_000 }, async () => {
    const jobDir = tempDir();
    const edgeDir = tempDir();
    mkdirSync(path.join(edgeDir, 'logs'));
    const port = await freePort();
    writeFileSync(path.join(jobDir, 'agent.conf'), [
      'a1.jobs = j1', 'a1.jobs.j1.type = url-window-count', 'a1.jobs.j1.bind = 127.0.0.1', `a1.jobs.j1.port = ${port}`,
      'a1.jobs.j1.batchInterval = 0.25', 'a1.jobs.j1.checkpointDir = checkpoint', 'a1.jobs.j1.database = data/results.db',
      'a1.http.bind = 127.0.0.1', 'a1.http.port = 0',
    ].join('\n') + '\n');
    writeFileSync(path.join(edgeDir, 'agent.conf'), [
      'a1.sources = r1', 'a1.channels = c1', 'a1.sinks = k1',
      'a1.sources.r1.type = TAILDIR', 'a1.sources.r1.channels = c1', 'a1.sources.r1.filegroups = f1',
      'a1.sources.r1.filegroups.f1 = logs/access.log.*', 'a1.sources.r1.positionFile = state/taildir_position.json',
      'a1.sources.r1.interceptors = ts', 'a1.sources.r1.interceptors.ts.type = timestamp',
      'a1.channels.c1.type = file', 'a1.channels.c1.checkpointDir = channel/checkpoint', 'a1.channels.c1.dataDirs = channel/data',
      'a1.channels.c1.capacity = 100000', 'a1.channels.c1.transactionCapacity = 1000',
      'a1.sinks.k1.type = avro', 'a1.sinks.k1.hostname = 127.0.0.1', `a1.sinks.k1.port = ${port}`, 'a1.sinks.k1.batch-size = 1000', 'a1.sinks.k1.channel = c1',
    ].join('\n') + '\n');
    const job = await startDaemon(jobDir);
    daemons.push(job);
    let edge = await startDaemon(edgeDir);
    daemons.push(edge);
    const w = new LogWriter();
    writers.push(w);
    await w.do('open', { file: path.join(edgeDir, 'logs', 'access.log') });
    const TOTAL = 12_000;
    const done = w.do<{ written: number }>('run', { tag: 'e', rate: 2000, rotateEvery: 2000, total: TOTAL });
    const rand = prng(7);
    for (let k = 0; k < 3; k++) {
      await new Promise((r) => setTimeout(r, 500 + rand() * 1000));
      edge.proc.kill('SIGKILL');
      await edge.exited;
      edge = await startDaemon(edgeDir);
      daemons.push(edge);
    }
    assert.equal((await done).written, TOTAL);
    await w.do('close');
    const expected = new Map<string, number>();
    expectLines(expected, 'e', 0, TOTAL);
    await counted(job, TOTAL, 30_000);
    await assertTop(job, expected);
    assert.equal(await edge.stop('SIGTERM'), 0);
    assert.equal(await job.stop('SIGTERM'), 0);
  });
});
