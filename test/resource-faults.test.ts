import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import type { Stats, Top } from './helpers/api-types.js';
import { tempDir, visible, waitFor, withDaemon, writeConfig, type RunningDaemon } from './helpers/daemon.js';
import { canMountTmpfs } from './helpers/tmpfs.js';
import { writeLog } from '../scripts/access-log-generator.js';
import { dropLog, expectedCounts, type Expected } from './helpers/expected-counts.js';

/** A 20,000-line log with 1% malformed lines dropped into the daemon's spool; its expected counts. */
const drop = (dir: string, name: string, seed: number): Promise<Expected> => dropLog(dir, name, { lines: 20_000, urls: 200, seed, malformed: 0.01 });

function merged(...all: Expected[]): { total: number; parseErrors: number; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  for (const e of all) for (const [url, n] of e.counts) counts.set(url, (counts.get(url) ?? 0) + n);
  return { total: all.reduce((s, e) => s + e.total, 0), parseErrors: all.reduce((s, e) => s + e.parseErrors, 0), counts };
}

/** Waits until everything dropped is counted and its files completed, then checks every count. */
async function assertExact(daemon: RunningDaemon, files: number | 'spool empty', ...all: Expected[]): Promise<void> {
  const want = merged(...all);
  await waitFor('every line counted and every file completed', async () => {
    const { body } = await daemon.get<Stats>('/api/stats');
    const finished = files === 'spool empty' ? body.files.pending + body.files.inProgress === 0 : body.files.completed === files;
    return body.eventsCounted === want.total && body.parseErrors === want.parseErrors && finished ? body : undefined;
  }, 60_000);
  const { body: top } = await daemon.get<Top>('/api/top?n=1000');
  assert.equal(top.total, want.total);
  assert.deepEqual(new Map(top.urls.map((u) => [u.url, u.count])), want.counts);
  // The history too (by the lines' own time: the generated logs' hour): nothing was lost
  // while the store failed, nothing counted twice.
  const { body: range } = await daemon.get<Top>('/api/top?n=1000&from=2025-12-31T23:00:00Z&to=2026-01-01T02:00:00Z');
  assert.equal(range.total, want.total);
  assert.deepEqual(new Map(range.urls.map((u) => [u.url, u.count])), want.counts);
}

/** The source positions in the job's checkpoint (none before its first). */
function checkpointPositions(dir: string): [string, number][] {
  const file = path.join(dir, 'checkpoint', 'manifest.json');
  if (!existsSync(file)) return [];
  const outer = JSON.parse(readFileSync(file, 'utf8')) as { manifest: string };
  return (JSON.parse(outer.manifest) as { positions: [string, number][] }).positions;
}

const alive = (d: RunningDaemon) => d.proc.exitCode === null && d.proc.signalCode === null;


describe('resource faults: the daemon waits, retries, and loses nothing', () => {
  const mounts: string[] = [];
  after(async () => {
    for (const m of mounts) execFileSync('umount', [m]);
  });


  /**
   * A daemon whose checkpoint directory is an 8 MB tmpfs: first.log counted (seed `a`), then
   * the tmpfs filled and second.log dropped (seed `b`); resolves once the failed checkpoint
   * is logged.
   */
  async function checkpointDiskFull(t: TestContext, a: number, b: number) {
    const dir = tempDir();
    await writeConfig(dir);
    const checkpointDir = path.join(dir, 'checkpoint');
    mkdirSync(checkpointDir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', checkpointDir]);
    mounts.push(checkpointDir);
    const daemon = await withDaemon(t, { dir });
    const first = await drop(dir, 'first.log', a);
    await assertExact(daemon, 1, first);
    // The checkpoint cannot be written; the results (window and history) still are.
    const filler = path.join(checkpointDir, 'filler');
    assert.throws(() => writeFileSync(filler, Buffer.alloc(16 << 20, 1)), /ENOSPC/);
    const second = await drop(dir, 'second.log', b);
    await waitFor('the checkpoint error in the log', () => daemon.logs.find((l) => l.includes('checkpoint failed')), 30_000);
    return { dir, daemon, filler, first, second };
  }
  test('the results database locked by another process (an exclusive transaction): logged, retried; counts exact once it is released', { timeout: 120_000 }, async (t) => {
    const daemon = await withDaemon(t);
    const { dir } = daemon;
    const first = await drop(dir, 'first.log', 1);
    await assertExact(daemon, 1, first);

    const other = new Database(path.join(dir, 'data', 'results.db'));
    other.exec('BEGIN EXCLUSIVE');
    const second = await drop(dir, 'second.log', 2);
    await waitFor('the store error in the log', () => daemon.logs.find((l) => l.includes('writing results failed')), 30_000);
    // The slides the store refused wait (a state, not a time): then what readers see is checked.
    const during = await waitFor('slides waiting for the database', async () => {
      const { body } = await daemon.get<Stats>('/api/stats');
      return (body.resultsWaiting ?? 0) > 0 ? body : undefined;
    }, 30_000);
    assert.ok(alive(daemon), 'the daemon keeps running');
    // second.log may be finished already: its 20,000 lines can all land in one open batch
    // that a checkpoint holds before the first failed write (then they are durable there).
    // That a file is never finished on counts held nowhere is the next test's kill -9.
    assert.equal(during.eventsCounted, first.total, 'what readers see is what the database holds');
    assert.ok(during.resultsWaiting! > 0, `/api/stats shows the slides waiting (${during.resultsWaiting})`);
    const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
    assert.ok(Number(/^logflow_results_waiting (\d+)$/m.exec(metrics)?.[1]) > 0, 'and /metrics too');
    assert.ok(daemon.logs.find((l) => l.includes('writing results failed'))!.includes('SQLITE_BUSY'));
    other.exec('COMMIT');
    other.close();

    await assertExact(daemon, 2, first, second);
    assert.ok(daemon.logs.some((l) => l.includes('results written again')));
    assert.equal(daemon.logs.filter((l) => l.includes('writing results failed')).length, 1, 'one error per outage, not one per second');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  test('kill -9 while the database is locked: nothing unwritten was checkpointed, so the restart recounts it exactly', { timeout: 120_000 }, async (t) => {
    const dir = tempDir();
    await writeConfig(dir);
    let daemon = await withDaemon(t, { dir });
    const first = await drop(dir, 'first.log', 5);
    await assertExact(daemon, 1, first);
    const other = new Database(path.join(dir, 'data', 'results.db'));
    other.exec('BEGIN EXCLUSIVE');
    const second = await drop(dir, 'second.log', 6);
    await waitFor('the store error in the log', () => daemon.logs.find((l) => l.includes('writing results failed')), 30_000);
    await waitFor('the second file read', async () => {
      const { body } = await daemon.get<Stats>('/api/stats');
      return body.eventsIn === first.lines + second.lines ? body : undefined;
    }, 30_000);
    daemon.proc.kill('SIGKILL');
    await daemon.exited;
    other.exec('COMMIT');
    other.close();
    daemon = await withDaemon(t, { dir });
    // The killed daemon's last checkpoint may already hold all of second.log (its lines in
    // the open batch it saved): the restart then finishes the file at once, or it was
    // finished before the kill. Either way every line is counted once, and nothing waits.
    await assertExact(daemon, 'spool empty', first, second);
    assert.deepEqual(readdirSync(path.join(dir, 'spool')).filter(visible).sort(), ['first.log.COMPLETED', 'second.log.COMPLETED']);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  test('the results database deleted while the daemon runs: noticed and written back from the open one; the history holds every line, after a restart too', { timeout: 120_000 }, async (t) => {
    const dir = tempDir();
    await writeConfig(dir);
    let daemon = await withDaemon(t, { dir });
    const first = await drop(dir, 'first.log', 11);
    await assertExact(daemon, 1, first);
    const data = path.join(dir, 'data');
    for (const name of readdirSync(data)) if (name.startsWith('results.db')) rmSync(path.join(data, name));
    await waitFor('the deletion noticed', () => daemon.logs.find((l) => l.includes('results database was deleted')), 30_000);
    assert.ok(existsSync(path.join(data, 'results.db')), 'written back');
    const second = await drop(dir, 'second.log', 12);
    await assertExact(daemon, 2, first, second);
    assert.equal(await daemon.stop('SIGTERM'), 0);
    daemon = await withDaemon(t, { dir });
    await assertExact(daemon, 2, first, second);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  test('the checkpoint disk full (a tmpfs filled up): logged, retried, files wait; counts exact once space is back, and after a restart',
    { timeout: 120_000, skip: canMountTmpfs() ? false : 'mounting a tmpfs is not permitted here' },
    async (t) => {
      const outage = await checkpointDiskFull(t, 3, 4);
      const { dir, filler, first, second } = outage;
      let { daemon } = outage;
      await waitFor('the second file counted', async () => {
        const { body } = await daemon.get<Stats>('/api/stats');
        return body.eventsCounted === first.total + second.total ? body : undefined;
      }, 30_000);
      await new Promise((r) => setTimeout(r, 1500));
      assert.ok(alive(daemon), 'the daemon keeps running');
      const { body: during } = await daemon.get<Stats>('/api/stats');
      assert.equal(during.files.completed, 1, 'a file is finished only once a checkpoint holds its counts');
      assert.ok(existsSync(path.join(dir, 'spool', 'second.log')));
      assert.ok(daemon.logs.find((l) => l.includes('checkpoint failed'))!.includes('ENOSPC'));

      rmSync(filler);
      await assertExact(daemon, 2, first, second);
      assert.ok(daemon.logs.some((l) => l.includes('checkpoint written again')));
      assert.equal(daemon.logs.filter((l) => l.includes('checkpoint failed')).length, 1, 'one error per outage');
      assert.equal(await daemon.stop('SIGTERM'), 0);

      // The checkpoint written after the fault is whole: a restart resumes with the same counts
      // (and still lists the two files completed before it).
      daemon = await withDaemon(t, { dir });
      await assertExact(daemon, 2, first, second);
      assert.equal(await daemon.stop('SIGTERM'), 0);
    });
  test('the spool\'s file system full (a tmpfs filled up): the finished file (and a duplicate) wait, unrecorded, through a kill -9 and a restart still full; completed and recorded once there is room, counts exact',
    { timeout: 120_000, skip: canMountTmpfs() ? false : 'mounting a tmpfs is not permitted here' },
    async (t) => {
      const dir = tempDir();
      await writeConfig(dir);
      const spool = path.join(dir, 'spool');
      mkdirSync(spool);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', spool]);
      mounts.push(spool);
      let daemon = await withDaemon(t, { dir });
      // Written in the spool under a hidden name (a rename cannot cross into the tmpfs).
      const stage = async (name: string, seed: number) => {
        const staged = path.join(spool, `.${name}`);
        await writeLog(staged, { lines: 5_000, urls: 200, seed, malformed: 0.01 });
        return { staged, expected: expectedCounts(staged) };
      };
      const one = await stage('first.log', 9);
      renameSync(one.staged, path.join(spool, 'first.log'));
      const first = one.expected;
      await assertExact(daemon, 1, first);

      // The second log waits under a hidden name while the file system is filled, then is renamed in.
      const two = await stage('second.log', 10);
      const second = two.expected;
      const copy = await stage('copy.log', 9);
      const filler = path.join(spool, '.filler');
      assert.throws(() => writeFileSync(filler, Buffer.alloc(16 << 20, 1)), /ENOSPC/);
      renameSync(two.staged, path.join(spool, 'second.log'));
      // And a copy of first.log: a duplicate, whose record cannot be written either.
      renameSync(copy.staged, path.join(spool, 'copy.log'));
      await waitFor('the finishing error in the log (or the daemon dead)', () => !alive(daemon) || daemon.logs.find((l) => l.includes('finishing the file failed')), 30_000);
      assert.ok(alive(daemon), `the daemon died:\n${daemon.logs.slice(-6).join('\n')}`);
      await waitFor('the finishing error in the log', () => daemon.logs.find((l) => l.includes('finishing the file failed')), 30_000);
      await waitFor('the second file counted', async () => {
        const { body } = await daemon.get<Stats>('/api/stats');
        return body.eventsCounted === first.total + second.total ? body : undefined;
      }, 30_000);
      // Killed once the checkpoint holds all of second.log: its record is what waits. (A kill
      // before that recounts it, and the history then holds it twice: results are written
      // before the checkpoint, issue 22 item 5, not this test's.)
      const size = statSync(path.join(spool, 'second.log')).size;
      await waitFor('the checkpoint holding second.log', () => checkpointPositions(dir).some(([, offset]) => offset === size));
      assert.ok(alive(daemon), 'the daemon keeps running');
      assert.match(daemon.logs.find((l) => l.includes('finishing the file failed'))!, /SQLITE_FULL|ENOSPC/);
      assert.deepEqual(readdirSync(spool).filter(visible).sort(), ['copy.log', 'first.log.COMPLETED', 'second.log']);

      daemon.proc.kill('SIGKILL');
      await daemon.exited;
      daemon = await withDaemon(t, { dir });
      await waitFor('the finishing error in the log', () => daemon.logs.find((l) => l.includes('finishing the file failed')), 30_000);
      assert.deepEqual(readdirSync(spool).filter(visible).sort(), ['copy.log', 'first.log.COMPLETED', 'second.log'], 'not .FAILED: it is counted, only its record waits');

      rmSync(filler);
      await assertExact(daemon, 2, first, second);
      await waitFor('the copy found a duplicate', () => readdirSync(spool).includes('copy.log.DUPLICATE'));
      assert.deepEqual(readdirSync(spool).filter(visible).sort(), ['copy.log.DUPLICATE', 'first.log.COMPLETED', 'second.log.COMPLETED']);
      assert.ok(daemon.logs.some((l) => l.includes('finishing files works again')));
      assert.equal(daemon.logs.filter((l) => l.includes('"level":50') && l.includes('finishing the file failed')).length, 1, 'one error per outage');
      assert.equal(await daemon.stop('SIGTERM'), 0);
      // Recorded: listed after a restart.
      daemon = await withDaemon(t, { dir });
      const { body } = await daemon.get<{ files: { name: string; state: string; lines: number }[] }>('/api/files');
      assert.deepEqual(body.files.map((f) => [f.name, f.state]).sort(), [['copy.log', 'duplicate'], ['first.log', 'completed'], ['second.log', 'completed']]);
      assert.deepEqual(body.files.filter((f) => f.state === 'completed').map((f) => f.lines), [5_000, 5_000]);
      assert.equal(await daemon.stop('SIGTERM'), 0);
    });
  test('the spool made read-only (a read-only bind mount; the log arrives through a writable view of it): the counted file waits under its name, not failed; completed once writable',
    { timeout: 120_000, skip: canMountTmpfs() ? false : 'mounting is not permitted here' },
    async (t) => {
      const dir = tempDir();
      await writeConfig(dir);
      const spool = path.join(dir, 'spool');
      const view = path.join(dir, 'spool-view');
      mkdirSync(spool);
      mkdirSync(view);
      execFileSync('mount', ['--bind', spool, view]);
      mounts.push(view);
      const daemon = await withDaemon(t, { dir });
      execFileSync('mount', ['--bind', spool, spool]);
      mounts.push(spool);
      execFileSync('mount', ['-o', 'remount,bind,ro', spool]);
      const staged = path.join(view, '.first.log');
      await writeLog(staged, { lines: 5_000, urls: 200, seed: 13, malformed: 0.01 });
      const first = expectedCounts(staged);
      renameSync(staged, path.join(view, 'first.log'));
      await waitFor('the finishing error in the log', () => daemon.logs.find((l) => l.includes('finishing the file failed: it could not be renamed')), 30_000);
      assert.match(daemon.logs.find((l) => l.includes('it could not be renamed'))!, /EROFS/);
      const { body: during } = await daemon.get<Stats>('/api/stats');
      assert.deepEqual([during.eventsCounted, during.files.failed, during.files.completed], [first.total, 0, 0], 'counted, neither failed nor completed');
      execFileSync('umount', [spool]);
      mounts.splice(mounts.indexOf(spool), 1);
      await assertExact(daemon, 1, first);
      assert.deepEqual(readdirSync(spool).filter(visible), ['first.log.COMPLETED']);
      assert.ok(daemon.logs.some((l) => l.includes('finishing files works again')));
      assert.equal(await daemon.stop('SIGTERM'), 0);
    });
  test('kill -9 during a checkpoint outage (a full tmpfs): the history is exact after the restart, as the window is (issue 22 item 5)',
    { timeout: 120_000, skip: canMountTmpfs() ? false : 'mounting a tmpfs is not permitted here' },
    async (t) => {
      const outage = await checkpointDiskFull(t, 9, 10);
      const { dir, filler, first, second } = outage;
      let { daemon } = outage;
      await waitFor('the second file counted and in the history', async () => {
        const { body } = await daemon.get<Top>('/api/top?n=1&from=2025-12-31T23:00:00Z&to=2026-01-01T02:00:00Z');
        return body.total === first.total + second.total ? body : undefined;
      }, 30_000);
      daemon.proc.kill('SIGKILL');
      await daemon.exited;
      rmSync(filler);
      daemon = await withDaemon(t, { dir });
      assert.ok(daemon.logs.some((l) => l.includes('rows written after the last checkpoint undone')), 'the undone rows are logged');
      await assertExact(daemon, 'spool empty', first, second);
      assert.equal(await daemon.stop('SIGTERM'), 0);
    });

  test('the checkpoint dir made read-only (a read-only bind mount over it): EROFS logged, retried; counts exact once it is writable again',
    { timeout: 120_000, skip: canMountTmpfs() ? false : 'mounting is not permitted here' },
    async (t) => {
      const dir = tempDir();
      await writeConfig(dir);
      const checkpointDir = path.join(dir, 'checkpoint');
      const daemon = await withDaemon(t, { dir });
      const first = await drop(dir, 'first.log', 7);
      await assertExact(daemon, 1, first);

      // Read-only for root too, unlike a chmod; files the daemon holds open stay writable,
      // as on a file system the kernel remounted read-only under a running process.
      execFileSync('mount', ['--bind', checkpointDir, checkpointDir]);
      mounts.push(checkpointDir);
      execFileSync('mount', ['-o', 'remount,bind,ro', checkpointDir]);
      const second = await drop(dir, 'second.log', 8);
      await waitFor('the checkpoint error in the log', () => daemon.logs.find((l) => l.includes('checkpoint failed')), 30_000);
      await new Promise((r) => setTimeout(r, 1500));
      assert.ok(alive(daemon), 'the daemon keeps running');
      assert.ok(daemon.logs.find((l) => l.includes('checkpoint failed'))!.includes('EROFS'));
      assert.ok(existsSync(path.join(dir, 'spool', 'second.log')), 'the file waits for a checkpoint that holds it');

      execFileSync('umount', [checkpointDir]);
      mounts.splice(mounts.indexOf(checkpointDir), 1);
      await assertExact(daemon, 2, first, second);
      assert.ok(daemon.logs.some((l) => l.includes('checkpoint written again')));
      assert.equal(await daemon.stop('SIGTERM'), 0);
    });
});
