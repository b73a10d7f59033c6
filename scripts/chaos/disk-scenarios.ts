import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createGzip } from 'node:zlib';
import { writeLog } from '../access-log-generator.js';
import { startDaemon, tempDir, waitFor, writeConfig, type RunningDaemon } from '../lib/daemon-process.js';
import { clfTimeMs, expectedCounts, merged, type Expected } from '../lib/expected-counts.js';
import { alive, exactAgainst, fill, memoryOf, mountTmpfs, readOnly, type ChaosContext, type Stats } from './harness.js';

/** A log written under a hidden name in `spool` (a rename cannot cross file systems), counted the simple way. */
async function stage(spool: string, name: string, seed: number, lines = 5_000): Promise<{ drop: () => void; want: Expected }> {
  const staged = path.join(spool, `.${name}`);
  await writeLog(staged, { lines, urls: 300, seed, malformed: 0.01 });
  return { drop: () => renameSync(staged, path.join(spool, name)), want: expectedCounts(staged) };
}

const logged = (d: RunningDaemon, text: string) => waitFor(`"${text}" in the log`, () => d.logs.find((l) => l.includes(text)), 30_000);

/** Waits until `want` is counted; else fails saying how far it got and the daemon's last warning. */
async function counted(d: RunningDaemon, want: Expected): Promise<void> {
  let last: Stats | undefined;
  try {
    await waitFor('counted', async () => ((last = (await d.get<Stats>('/api/stats')).body).eventsCounted === want.total ? true : undefined), 30_000);
  } catch {
    const warning = d.logs.filter((l) => /"level":(40|50|60)/.test(l)).at(-1);
    throw new Error(`timed out waiting for ${want.total} counted: ${last ? `${last.eventsCounted} (files ${JSON.stringify(last.files)})` : 'no answer'}; last warning: ${warning ?? 'none'}`);
  }
}

/** The spool's file system full: records cannot be written (issue 22 item 4). */
async function spoolFull(ctx: ChaosContext): Promise<void> {
  await ctx.row('disk full: spool', 'tmpfs spool filled; a log and a copy of a counted one dropped; kill -9 and restart while full; space freed', 'alive, nothing .FAILED, counted once', async () => {
    const dir = tempDir('logflow-chaos-');
    await writeConfig(dir);
    const spool = path.join(dir, 'spool');
    mountTmpfs(ctx, spool, '8m');
    let d = await startDaemon(dir);
    const one = await stage(spool, 'first.log', 1);
    one.drop();
    await counted(d, one.want);
    const two = await stage(spool, 'second.log', 2);
    const copy = await stage(spool, 'copy.log', 1);
    const free = fill(spool);
    two.drop();
    copy.drop();
    await counted(d, merged(one.want, two.want));
    const wasAlive = alive(d);
    d.proc.kill('SIGKILL');
    await d.exited;
    d = await startDaemon(dir);
    await new Promise((r) => setTimeout(r, 1500));
    const failed = readdirSync(spool).filter((n) => n.endsWith('.FAILED'));
    free();
    const result = await exactAgainst(d, merged(one.want, two.want));
    await d.stop('SIGTERM');
    const ok = wasAlive && failed.length === 0;
    return { got: `${wasAlive ? 'alive' : 'DIED'}; .FAILED: ${failed.length}; ${result.got}`, pass: ok && result.pass };
  });
}

/** The checkpoint's file system full, then kill -9 during the outage (issue 22 item 5 is the history part). */
async function checkpointFull(ctx: ChaosContext): Promise<void> {
  await ctx.row('disk full: checkpoint', 'tmpfs checkpointDir filled while a log is counted; kill -9 during the outage; space freed', 'counted once, window and history', async () => {
    const dir = tempDir('logflow-chaos-');
    await writeConfig(dir);
    mountTmpfs(ctx, path.join(dir, 'checkpoint'), '8m');
    let d = await startDaemon(dir);
    const spool = path.join(dir, 'spool');
    mkdirSync(spool, { recursive: true });
    const one = await stage(spool, 'first.log', 3);
    one.drop();
    await counted(d, one.want);
    const free = fill(path.join(dir, 'checkpoint'));
    const two = await stage(spool, 'second.log', 4);
    two.drop();
    await logged(d, 'checkpoint failed');
    await counted(d, merged(one.want, two.want));
    d.proc.kill('SIGKILL');
    await d.exited;
    free();
    d = await startDaemon(dir);
    const result = await exactAgainst(d, merged(one.want, two.want));
    await d.stop('SIGTERM');
    return result;
  });
}

/** The results database's file system full: results wait in the outbox. */
async function resultsFull(ctx: ChaosContext): Promise<void> {
  await ctx.row('disk full: results', 'tmpfs under data/ (results.db) filled while a log is counted; space freed', 'alive, counted once, history whole', async () => {
    const dir = tempDir('logflow-chaos-');
    await writeConfig(dir);
    const data = path.join(dir, 'data');
    mountTmpfs(ctx, data, '16m');
    const d = await startDaemon(dir);
    const spool = path.join(dir, 'spool');
    mkdirSync(spool, { recursive: true });
    const one = await stage(spool, 'first.log', 5);
    one.drop();
    await counted(d, one.want);
    const free = fill(data);
    const two = await stage(spool, 'second.log', 6);
    two.drop();
    await logged(d, 'writing results failed').catch(() => undefined);
    const wasAlive = alive(d);
    free();
    const result = await exactAgainst(d, merged(one.want, two.want));
    await d.stop('SIGTERM');
    return { got: `${wasAlive ? 'alive' : 'DIED'}; ${result.got}`, pass: wasAlive && result.pass };
  });
}

/** The spool made read-only (a read-only bind mount; logs arrive through a writable view of it). */
async function spoolReadOnly(ctx: ChaosContext): Promise<void> {
  await ctx.row('read-only: spool', 'spool remounted read-only; a log arrives (through a writable view); made writable again', 'alive, nothing .FAILED, counted once', async () => {
    const dir = tempDir('logflow-chaos-');
    await writeConfig(dir);
    const spool = path.join(dir, 'spool');
    const view = path.join(dir, 'spool-view');
    mkdirSync(spool, { recursive: true });
    mkdirSync(view);
    execFileSync('mount', ['--bind', spool, view]);
    ctx.cleanup(() => execFileSync('umount', [view]));
    const d = await startDaemon(dir);
    const undo = readOnly(ctx, spool);
    const one = await stage(view, 'first.log', 7);
    one.drop();
    await counted(d, one.want);
    await new Promise((r) => setTimeout(r, 1500));
    const failed = readdirSync(spool).filter((n) => n.endsWith('.FAILED'));
    const wasAlive = alive(d);
    undo();
    const result = await exactAgainst(d, one.want);
    await d.stop('SIGTERM');
    return { got: `${wasAlive ? 'alive' : 'DIED'}; .FAILED: ${failed.length}; ${result.got}`, pass: wasAlive && failed.length === 0 && result.pass };
  });
}

async function checkpointReadOnly(ctx: ChaosContext): Promise<void> {
  await ctx.row('read-only: checkpoint', 'checkpointDir remounted read-only while a log is counted; made writable again', 'alive, counted once', async () => {
    const dir = tempDir('logflow-chaos-');
    await writeConfig(dir);
    const d = await startDaemon(dir);
    const spool = path.join(dir, 'spool');
    const undo = readOnly(ctx, path.join(dir, 'checkpoint'));
    const one = await stage(spool, 'first.log', 8);
    one.drop();
    await logged(d, 'checkpoint failed');
    const wasAlive = alive(d);
    undo();
    const result = await exactAgainst(d, one.want);
    await d.stop('SIGTERM');
    return { got: `${wasAlive ? 'alive' : 'DIED'}; ${result.got}`, pass: wasAlive && result.pass };
  });
}

/** results.db deleted under the running daemon (issue 22 item 11). */
async function resultsDeleted(ctx: ChaosContext): Promise<void> {
  await ctx.row('results.db deleted', 'data/results.db* removed while running; another log; restart', 'noticed, history whole after the restart', async () => {
    const dir = tempDir('logflow-chaos-');
    await writeConfig(dir);
    let d = await startDaemon(dir);
    const spool = path.join(dir, 'spool');
    const one = await stage(spool, 'first.log', 9);
    one.drop();
    await counted(d, one.want);
    for (const n of readdirSync(path.join(dir, 'data'))) if (n.startsWith('results.db')) rmSync(path.join(dir, 'data', n));
    const noticed = await logged(d, 'results database was deleted').then(() => true, () => false);
    const two = await stage(spool, 'second.log', 10);
    two.drop();
    await counted(d, merged(one.want, two.want));
    await d.stop('SIGTERM');
    d = await startDaemon(dir);
    const result = await exactAgainst(d, merged(one.want, two.want));
    await d.stop('SIGTERM');
    return { got: `${noticed ? 'noticed' : 'NOT noticed'}; ${result.got}`, pass: noticed && result.pass };
  });
}

/** A gzip bomb: 300 MB of lines in ~1 MB of gzip. Peak memory, and after. */
async function gzipBomb(ctx: ChaosContext): Promise<void> {
  await ctx.row('gzip bomb', '1 MB .gz that inflates to 300 MB of access-log lines (4.4M lines)', 'counted once; peak RSS near a plain file\'s', async () => {
    const dir = tempDir('logflow-chaos-');
    await writeConfig(dir);
    const spool = path.join(dir, 'spool');
    mkdirSync(spool, { recursive: true });
    const staged = path.join(dir, 'bomb.log.gz');
    const time = '10/Oct/2000:13:55:36 -0700';
    const line = `10.0.0.1 - - [${time}] "GET /bomb HTTP/1.1" 200 512\n`;
    // Whole blocks of 10,000 lines, about 300 MB: the count is what was written.
    const blocks = Math.ceil((300 << 20) / line.length / 10_000);
    const lines = blocks * 10_000;
    await new Promise<void>((resolve, reject) => {
      const gz = createGzip({ level: 9 });
      gz.pipe(createWriteStream(staged)).on('finish', resolve).on('error', reject);
      const block = line.repeat(10_000);
      for (let i = 0; i < blocks; i++) gz.write(block);
      gz.end();
    });
    const d = await startDaemon(dir);
    const before = memoryOf(d.proc.pid!).rss;
    renameSync(staged, path.join(spool, 'bomb.log.gz'));
    const want: Expected = { counts: new Map([['/bomb', lines]]), total: lines, parseErrors: 0, lines, first: clfTimeMs(time), last: clfTimeMs(time) };
    const result = await exactAgainst(d, want, 180_000);
    const { rss, peak } = memoryOf(d.proc.pid!);
    await d.stop('SIGTERM');
    return { got: `${result.got}; RSS ${before} MB at start, peak ${peak} MB, ${rss} MB after`, pass: result.pass && existsSync(path.join(spool, 'bomb.log.gz.COMPLETED')) };
  });
}

export async function diskScenarios(ctx: ChaosContext): Promise<void> {
  if (!ctx.root) {
    await ctx.row('disk full / read-only', 'needs mount (root)', '-', async () => ({ got: 'skipped: cannot mount here', pass: true }));
  } else {
    await spoolFull(ctx);
    await checkpointFull(ctx);
    await resultsFull(ctx);
    await spoolReadOnly(ctx);
    await checkpointReadOnly(ctx);
  }
  await resultsDeleted(ctx);
  await gzipBomb(ctx);
}
