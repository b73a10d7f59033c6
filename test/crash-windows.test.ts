import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { CrashPoint } from '../daemon/durable/crash-points.js';
import type { Stats } from './helpers/api-types.js';
import { tempDir, visible, waitFor, withDaemon, writeConfig, type RunningDaemon } from './helpers/daemon.js';
import { dropLog, type Expected } from './helpers/expected-counts.js';

interface FileRow {
  name: string;
  state: string;
  lines: number;
}

const log = { lines: 2_000, urls: 150, malformed: 0.01 };
/** Checkpoints every 250 ms: the windows come sooner. */
const fast = { 'a1.jobs.j1.batchInterval': '0.25' };

/**
 * A real kill -9 in each window between two durable steps of counting and finishing a file
 * (`LOGFLOW_CRASH_AT`, daemon/durable/crash-points.ts), then a restart: every line is
 * counted once, against an independent count, and the file is finished and listed once.
 */
/** The source positions in the job's checkpoint (none before its first). */
function positions(dir: string): [string, number][] {
  const file = path.join(dir, 'checkpoint', 'manifest.json');
  if (!existsSync(file)) return [];
  const outer = JSON.parse(readFileSync(file, 'utf8')) as { manifest: string };
  return (JSON.parse(outer.manifest) as { positions: [string, number][] }).positions;
}

describe('kill -9 at each step of finishing a file: counted once, finished once', () => {
  /** Starts the daemon armed to kill itself at `point`, runs `drop` with it; resolves once it did. */
  async function crashAt(t: TestContext, dir: string, point: CrashPoint, drop: (d: RunningDaemon) => Promise<unknown>): Promise<void> {
    const d = await withDaemon(t, { dir, env: { LOGFLOW_CRASH_AT: point } });
    await drop(d);
    await waitFor(`the daemon killed at ${point}`, () => (d.proc.signalCode === 'SIGKILL' ? true : undefined), 30_000);
  }

  async function assertExact(d: RunningDaemon, want: Expected, completed: number): Promise<void> {
    await waitFor('every line counted and the file finished', async () => {
      const { body } = await d.get<Stats>('/api/stats');
      return body.files.completed === completed && body.files.pending + body.files.inProgress === 0 &&
        body.eventsCounted + body.parseErrors >= want.lines ? body : undefined;
    });
    const { body: stats } = await d.get<Stats>('/api/stats');
    assert.deepEqual([stats.eventsCounted, stats.parseErrors], [want.total, want.parseErrors]);
    const { body: top } = await d.get<{ urls: { url: string; count: number }[] }>('/api/top?n=1000');
    assert.deepEqual(new Map(top.urls.map((u) => [u.url, u.count])), want.counts);
  }

  // (Between the manifest and the record, the host hearing of the checkpoint changes nothing on disk.)
  const points: CrashPoint[] = ['checkpoint.segment-written', 'checkpoint.manifest-written', 'finish.recorded', 'finish.renamed'];
  for (const point of points) {
    test(`at ${point}`, async (t) => {
      const dir = tempDir();
      await writeConfig(dir, '', fast);
      let want: Expected | undefined;
      await crashAt(t, dir, point, async () => (want = await dropLog(dir, 'a.log', { ...log, seed: 1 })));
      const heldBefore = positions(dir).length;
      const d = await withDaemon(t, { dir });
      await assertExact(d, want!, 1);
      assert.deepEqual(readdirSync(path.join(dir, 'spool')).filter(visible), ['a.log.COMPLETED']);
      const { body } = await d.get<{ files: FileRow[] }>('/api/files');
      assert.deepEqual(body.files.map((f) => [f.name, f.state, f.lines]), [['a.log', 'completed', log.lines]]);
      assert.equal(await d.stop('SIGTERM'), 0);
      // A position must not outlive its file: a later file on its inode with its first line
      // (file-identity.ts) would resume there. After finish.renamed the killed daemon's
      // checkpoint still held it; the restart forgets it.
      if (point === 'finish.renamed') assert.equal(heldBefore, 1);
      assert.deepEqual(positions(dir), []);
    });
  }

  test('at duplicate.recorded: the copy is a duplicate after the restart, nothing counted twice', async (t) => {
    const dir = tempDir();
    await writeConfig(dir, '', fast);
    let want: Expected | undefined;
    await crashAt(t, dir, 'duplicate.recorded', async (d) => {
      want = await dropLog(dir, 'a.log', { ...log, seed: 2 });
      await waitFor('a.log completed', async () => ((await d.get<Stats>('/api/stats')).body.files.completed === 1 ? true : undefined));
      await dropLog(dir, 'copy.log', { ...log, seed: 2 });
    });
    const d = await withDaemon(t, { dir });
    await waitFor('copy.log finished', async () => {
      const { body } = await d.get<{ files: FileRow[] }>('/api/files');
      return body.files.find((f) => f.name === 'copy.log' && f.state === 'duplicate');
    });
    await assertExact(d, want!, 1);
    assert.deepEqual(readdirSync(path.join(dir, 'spool')).filter(visible).sort(), ['a.log.COMPLETED', 'copy.log.DUPLICATE']);
    assert.equal(await d.stop('SIGTERM'), 0);
  });

});
