import { appendFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { CRASH_POINTS } from '../../daemon/durable/crash-points.js';
import { generateLines, prng } from '../access-log-generator.js';
import { startDaemon, tempDir, visible, waitFor, writeConfig, type RunningDaemon } from '../lib/daemon-process.js';
import { dropGeneratedLogs, dropLog, expectedCounts } from '../lib/expected-counts.js';
import { exactAgainst, type ChaosContext, type Stats } from './harness.js';

/** kill -9 at random moments of a multi-file ingest, then a clean finish. */
async function randomKills(ctx: ChaosContext): Promise<void> {
  const { kills, lines, seed } = ctx.options;
  await ctx.row('kill -9, random', `${kills} kills during a 4-file, ${4 * lines}-line ingest`, 'every line counted once', async () => {
    const dir = tempDir('logflow-chaos-');
    await writeConfig(dir, '', { 'a1.jobs.j1.batchInterval': '0.25' });
    const expected = await dropGeneratedLogs(dir, { files: 4, lines, urls: 300, seed: seed * 1000 });
    const rand = prng(seed);
    for (let k = 0; k < kills; k++) {
      const d = await startDaemon(dir);
      // Spread over the ingest whatever its speed: a growing share of it, then a random moment.
      const target = (expected.lines * (k + 1)) / (kills + 2);
      await waitFor('progress', async () => ((await d.get<Stats>('/api/stats')).body.eventsIn >= target ? true : undefined), 10_000).catch(() => undefined);
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 50)));
      d.proc.kill('SIGKILL');
      await d.exited;
    }
    return finish(dir, expected);
  });
}

/**
 * kill -9 while a file is still being appended to (issue 22 item 1), within the spool
 * source's contract (docs/configuration.md, "A file still being written"): the writer may
 * pause before the source opens the file, and then appends every 100 ms (under pollDelay),
 * so the source reads on as it grows. A restarted source opens a file only once it has
 * settled, like any file it finds: so after each restart the writer pauses until the source
 * is reading the file again (it resumes at the checkpoint), then appends on; the kill comes
 * once more than 1,000 lines were counted since the restart.
 */
async function growingFile(ctx: ChaosContext): Promise<void> {
  const kills = 3;
  await ctx.row('kill -9, growing file', `${kills} kills while a writer appends to a spool file every 100 ms (under pollDelay)`, 'every line counted once', async () => {
    const dir = tempDir('logflow-chaos-');
    await writeConfig(dir, '', { 'a1.sources.r1.pollDelay': '2000', 'a1.jobs.j1.batchInterval': '0.25' });
    const file = path.join(dir, 'spool', 'growing.log');
    const lines = generateLines({ lines: 1_000_000, urls: 300, seed: ctx.options.seed + 7, malformed: 0.01 });
    const append = (n: number) => {
      let text = '';
      for (let i = 0; i < n; i++) text += lines.next().value + '\n';
      appendFileSync(file, text);
    };
    let d = await startDaemon(dir);
    let writing = false;
    const writer = setInterval(() => writing && append(100), 100);
    ctx.cleanup(() => clearInterval(writer));
    const readingAgain = () => waitFor('the source reading it', async () => {
      const { body } = await d.get<{ files: { name: string; state: string }[] }>('/api/files');
      return body.files.some((f) => f.name === 'growing.log' && f.state === 'reading') ? true : undefined;
    });
    append(2_000);
    let resumed = 0;
    try {
      for (let k = 0; k <= kills; k++) {
        await readingAgain();
        writing = true;
        const at = (await d.get<Stats>('/api/stats')).body.eventsCounted;
        await waitFor('more counted', async () => ((await d.get<Stats>('/api/stats')).body.eventsCounted > at + 1_000 ? true : undefined));
        if (k > 0 && d.logs.some((l) => l.includes('"file resumed"') && l.includes('growing.log'))) resumed++;
        if (k === kills) break;
        d.proc.kill('SIGKILL');
        await d.exited;
        writing = false;
        d = await startDaemon(dir);
      }
    } finally {
      writing = false;
      clearInterval(writer);
    }
    // Once the writer stopped, the file settles and is completed: count what it holds.
    const result = await waitFor('growing.log finished', () => (readdirSync(path.join(dir, 'spool')).includes('growing.log.COMPLETED') ? true : undefined), 30_000)
      .then(async () => exactAgainst(d, expectedCounts(file + '.COMPLETED')))
      .catch(() => ({ got: 'growing.log never completed', pass: false }));
    await d.stop('SIGTERM');
    return { got: `resumed after ${resumed} of ${kills} kills; ${result.got}`, pass: result.pass && resumed === kills };
  });
}

/** A real kill -9 at each named step between two durable writes (LOGFLOW_CRASH_AT). */
async function crashPoints(ctx: ChaosContext): Promise<void> {
  for (const point of CRASH_POINTS) {
    await ctx.row(`kill -9 at ${point}`, 'the daemon kills itself exactly between two durable steps, then restarts', 'counted once, finished once', async () => {
      const dir = tempDir('logflow-chaos-');
      await writeConfig(dir, '', { 'a1.jobs.j1.batchInterval': '0.25' });
      const crashing = await startDaemon(dir, undefined, undefined, { env: { LOGFLOW_CRASH_AT: point } });
      const want = await dropLog(dir, 'a.log', { lines: 3_000, urls: 300, seed: 31, malformed: 0.01 });
      // A duplicate's record is written only for a copy of a counted file.
      if (point === 'duplicate.recorded') {
        await waitFor('a.log completed', async () => ((await crashing.get<Stats>('/api/stats')).body.files.completed === 1 ? true : undefined));
        await dropLog(dir, 'copy.log', { lines: 3_000, urls: 300, seed: 31, malformed: 0.01 });
      }
      const killed = await waitFor('the crash', () => (crashing.proc.signalCode === 'SIGKILL' ? true : undefined), 20_000).catch(() => false);
      if (!killed) {
        await crashing.stop('SIGKILL');
        return { got: `${point} was never reached`, pass: false };
      }
      return finish(dir, want);
    });
  }
}

/** A clean start after the faults: the independent count, and nothing left in the spool. */
async function finish(dir: string, want: Parameters<typeof exactAgainst>[1]): Promise<{ got: string; pass: boolean }> {
  const d: RunningDaemon = await startDaemon(dir);
  try {
    const result = await exactAgainst(d, want);
    const left = readdirSync(path.join(dir, 'spool')).filter(visible).filter((n) => !/\.(COMPLETED|DUPLICATE)$/.test(n));
    return left.length === 0 ? result : { got: `${result.got}; left in the spool: ${left.join(', ')}`, pass: false };
  } finally {
    await d.stop('SIGTERM');
  }
}

export async function crashScenarios(ctx: ChaosContext): Promise<void> {
  await randomKills(ctx);
  await growingFile(ctx);
  await crashPoints(ctx);
}
