import { spawn } from 'node:child_process';
import { closeSync, cpSync, mkdirSync, openSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { AvroRpcClient } from '../../daemon/avro/index.js';
import { batchFromLines } from '../../daemon/channel/index.js';
import { WriteAheadLog } from '../../daemon/job/write-ahead-log.js';
import { startDaemon, tempDir, waitFor, writeConfig } from '../lib/daemon-process.js';
import type { ChaosContext, Stats } from './harness.js';

const CALLS = 20;
const PER_CALL = 10;
const line = (url: string) => `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET ${url} HTTP/1.1" 200 5`;

/**
 * A checkpoint directory whose write-ahead log holds 200 events an outside sender was told OK
 * about (20 calls), and nothing else: the daemon checkpointed once, took the calls, was killed.
 */
async function walWithAckedEvents(): Promise<{ dir: string; segment: string }> {
  for (;;) {
    const dir = tempDir('logflow-chaos-');
    const { avroPort } = await writeConfig(dir, '', { 'a1.jobs.j1.batchInterval': '30', 'a1.jobs.j1.slideDuration': '30' });
    let d = await startDaemon(dir);
    await d.stop('SIGTERM');
    d = await startDaemon(dir);
    const now = String(Date.now());
    for (let i = 0; i < CALLS; i++) {
      const client = await AvroRpcClient.connect({ host: '127.0.0.1', port: avroPort, connectTimeout: 2000, requestTimeout: 5000 });
      await client.appendBatch([batchFromLines(Array.from({ length: PER_CALL }, () => line(`/r${i}`)), { timestamp: now })]);
      client.close();
    }
    d.proc.kill('SIGKILL');
    await d.exited;
    const walDir = path.join(dir, 'checkpoint', 'wal');
    // A 30 s batch that ended meanwhile checkpointed some of them: made again.
    if ([...WriteAheadLog.replay(walDir, 0)].length !== CALLS) continue;
    return { dir, segment: path.join(walDir, readdirSync(walDir).sort().at(-1)!) };
  }
}

/** Starts the daemon on `dir`; what it said if it refused. */
async function refusal(dir: string): Promise<string | undefined> {
  try {
    const d = await startDaemon(dir);
    await d.stop('SIGKILL');
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n').find((l) => l.startsWith('logflow: ')) ?? (err as Error).message;
  }
}

/** A refusal as a table cell: its reason, the temp directory shortened, and whether it names the way out. */
function brief(said: string, dir: string): string {
  const reason = said.replace(/^logflow: (the checkpoint is unusable: )?/, '').split('. Start with')[0]!.replaceAll(dir, '…');
  return `refused: ${reason}${said.includes('--reset-checkpoint') ? ' (names --reset-checkpoint)' : ''}`;
}

async function walScenarios(ctx: ChaosContext): Promise<void> {
  const { dir: fixture, segment } = await walWithAckedEvents();
  const copy = () => {
    const dir = tempDir('logflow-chaos-');
    cpSync(fixture, dir, { recursive: true });
    return { dir, segment: path.join(dir, path.relative(fixture, segment)) };
  };
  const size = statSync(segment).size;
  await ctx.row('WAL: 8 bytes garbled mid-file', `${CALLS * PER_CALL} acknowledged events only in the WAL; 8 bytes overwritten in the middle`, 'start refused: LF_CHECKPOINT_CORRUPT naming the file', async () => {
    const c = copy();
    const fd = openSync(c.segment, 'r+');
    writeSync(fd, Buffer.from('GARBAGE!'), 0, 8, Math.floor(size / 2));
    closeSync(fd);
    const said = await refusal(c.dir);
    return { got: said ? brief(said, c.dir) : 'started (events after the damage lost in silence)', pass: said !== undefined && said.includes(c.segment) && said.includes('--reset-checkpoint') };
  });
  await ctx.row('WAL: bad magic', 'the segment header overwritten', 'start refused, naming the file', async () => {
    const c = copy();
    const fd = openSync(c.segment, 'r+');
    writeSync(fd, Buffer.from('XX'), 0, 2, 0);
    closeSync(fd);
    const said = await refusal(c.dir);
    return { got: said ? brief(said, c.dir) : 'started (all its events lost in silence)', pass: said !== undefined && said.includes(c.segment) };
  });
  await ctx.row('WAL: segment deleted', 'the segment the checkpoint names removed', 'start refused, naming the file', async () => {
    const c = copy();
    rmSync(c.segment);
    const said = await refusal(c.dir);
    return { got: said ? brief(said, c.dir) : 'started (all its events lost in silence)', pass: said !== undefined && said.includes(c.segment) };
  });
  await ctx.row('WAL: 100 bytes cut at its end', 'the last record cut short (what a crash mid-append leaves)', 'starts; an error line names the file; the other 190 counted', async () => {
    const c = copy();
    truncateSync(c.segment, size - 100);
    const d = await startDaemon(c.dir);
    const said = d.logs.find((l) => l.includes('is cut short'));
    const counted = await waitFor('the replay', async () => ((await d.get<Stats>('/api/stats')).body.eventsCounted >= (CALLS - 1) * PER_CALL ? (await d.get<Stats>('/api/stats')).body.eventsCounted : undefined)).catch(() => -1);
    await d.stop('SIGTERM');
    return { got: `${said ? 'error line names the file' : 'NO error line'}; counted ${counted}`, pass: !!said && said.includes(c.segment) && counted === (CALLS - 1) * PER_CALL };
  });
}

async function manifestMissing(ctx: ChaosContext): Promise<void> {
  await ctx.row('manifest.json deleted', 'a checkpoint with several segments loses its manifest', 'start refused, naming it; nothing deleted', async () => {
    const dir = tempDir('logflow-chaos-');
    await writeConfig(dir, '', { 'a1.jobs.j1.batchInterval': '0.25' });
    mkdirSync(path.join(dir, 'spool'));
    const d = await startDaemon(dir);
    const segments = path.join(dir, 'checkpoint', 'segments');
    for (const [i, url] of ['/a', '/b', '/c'].entries()) {
      writeFileSync(path.join(dir, 'spool', `${i}.log`), `${line(url)}\n`);
      await waitFor('counted', async () => ((await d.get<Stats>('/api/stats')).body.eventsCounted === i + 1 ? true : undefined));
      await waitFor('a segment for it', () => (readdirSync(segments).some((n) => Number.parseInt(n, 10) >= i + 1) ? true : undefined)).catch(() => undefined);
    }
    await d.stop('SIGTERM');
    rmSync(path.join(dir, 'checkpoint', 'manifest.json'));
    const before = readdirSync(segments).length;
    const said = await refusal(dir);
    const after = readdirSync(segments).length;
    return { got: `${said ? brief(said, dir) : 'started afresh (window and positions gone)'}; segments ${before} -> ${after}`, pass: said !== undefined && said.includes('manifest.json is missing') && after === before };
  });
}

async function lockOfAnotherProcess(ctx: ChaosContext): Promise<void> {
  await ctx.row('LOCK names a live pid', 'the checkpoint LOCK holds the pid of a running non-logflow process (a pid reused after a reboot)', 'starts', async () => {
    const dir = tempDir('logflow-chaos-');
    await writeConfig(dir);
    mkdirSync(path.join(dir, 'checkpoint'));
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    ctx.cleanup(() => other.kill('SIGKILL'));
    writeFileSync(path.join(dir, 'checkpoint', 'LOCK'), `${other.pid}\n`);
    const said = await refusal(dir);
    return { got: said ?? 'started', pass: said === undefined };
  });
}

export async function damageScenarios(ctx: ChaosContext): Promise<void> {
  await walScenarios(ctx);
  await manifestMissing(ctx);
  await lockOfAnotherProcess(ctx);
}
