import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { prng } from '../scripts/access-log-generator.js';
import { freePort, tempDir, withDaemon } from './helpers/daemon.js';
import { expectLines, LogWriter, type Rotation } from './helpers/log-writer.js';
import { assertTop, counted, lineText, tailAgent, type Stats } from './helpers/tail-daemon.js';

describe('TAILDIR: kill -9 at any moment, each line counted once', () => {
  test('kill -9 five times, at random and right after rotations, of a writer that rotates (rename, reopen, gzip) every 1,500 lines: every line counted once', { timeout: 120_000 }, async (t) => {
    const dir = tempDir();
    await tailAgent(dir);
    const w = new LogWriter();
    t.after(() => w.kill());
    const log = path.join(dir, 'logs', 'access.log');
    const rand = prng(25);
    let daemon = await withDaemon(t, { dir });
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
      daemon = await withDaemon(t, { dir });
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

  test('an edge (TAILDIR, file channel, avro sink) killed -9 while a writer rotates: the job at the other end counts every line once', { timeout: 120_000 }, async (t) => {
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
    const job = await withDaemon(t, { dir: jobDir });
    let edge = await withDaemon(t, { dir: edgeDir });
    const edges = [edge];
    const w = new LogWriter();
    t.after(() => w.kill());
    await w.do('open', { file: path.join(edgeDir, 'logs', 'access.log') });
    const TOTAL = 12_000;
    const done = w.do<{ written: number }>('run', { tag: 'e', rate: 2000, rotateEvery: 2000, total: TOTAL });
    const rand = prng(7);
    for (let k = 0; k < 3; k++) {
      await new Promise((r) => setTimeout(r, 500 + rand() * 1000));
      edge.proc.kill('SIGKILL');
      await edge.exited;
      edge = await withDaemon(t, { dir: edgeDir });
      edges.push(edge);
    }
    assert.equal((await done).written, TOTAL);
    await w.do('close');
    const expected = new Map<string, number>();
    expectLines(expected, 'e', 0, TOTAL);
    try {
      await counted(job, TOTAL, 30_000);
      await assertTop(job, expected);
    } catch (err) {
      const logs = path.join(edgeDir, 'daemon-logs.txt');
      writeFileSync(logs, [...edges.flatMap((d) => ['--- edge', ...d.logs]), '--- job', ...job.logs].join('\n'));
      console.log(`# daemon logs: ${logs} (LOGFLOW_KEEP_TMP=1 keeps them)`);
      throw err;
    }
    assert.equal(await edge.stop('SIGTERM'), 0);
    assert.equal(await job.stop('SIGTERM'), 0);
  });

  test("a position file naming a reused inode is not trusted once the checkpoint holds this source's positions", { timeout: 60_000 }, async (t) => {
    const dir = tempDir();
    await tailAgent(dir);
    const log = path.join(dir, 'logs', 'access.log');
    const posFile = path.join(dir, 'data', 'taildir_position.json');
    const expected = new Map<string, number>();
    writeFileSync(log, Array.from({ length: 40 }, (_, i) => lineText('old', i)).join(''));
    expectLines(expected, 'old', 0, 40);
    const first = await withDaemon(t, { dir });
    await counted(first, 40);
    assert.equal(await first.stop('SIGTERM'), 0);
    // The file is deleted and a new one created under its name; its inode happens to be the
    // old one's (ext4 reuses them): the position file, which knows inode and path only, would
    // resume it past its first 10 lines.
    unlinkSync(log);
    writeFileSync(log, Array.from({ length: 30 }, (_, i) => lineText('new', i)).join(''));
    expectLines(expected, 'new', 0, 30);
    const entries = JSON.parse(readFileSync(posFile, 'utf8')) as { inode: number; pos: number; file: string }[];
    assert.deepEqual(entries.map((e) => e.file), [log]);
    const tenLines = Array.from({ length: 10 }, (_, i) => Buffer.byteLength(lineText('new', i))).reduce((a, b) => a + b, 0);
    writeFileSync(posFile, JSON.stringify([{ inode: statSync(log).ino, pos: tenLines, file: log }]));
    const second = await withDaemon(t, { dir });
    await counted(second, 70);
    await assertTop(second, expected);
    assert.equal(await second.stop('SIGTERM'), 0);
  });
});
