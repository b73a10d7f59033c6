import assert from 'node:assert/strict';
import { readdirSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import type { Stats } from './helpers/api-types.js';
import { crashAndRestart, visible, waitFor, withDaemon } from './helpers/daemon.js';
import { alive, assertExact, drop, withFirstCounted } from './helpers/resource-faults.js';

// The disk faults are in resource-faults-checkpoint and resource-faults-spool: three files run side by side.
describe('resource faults, the results database: the daemon waits, retries, and loses nothing', () => {
  test('the results database locked by another process (an exclusive transaction): logged, retried; counts exact once it is released', { timeout: 120_000 }, async (t) => {
    const { daemon, dir, first } = await withFirstCounted(t, 1);

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
    const start = await withFirstCounted(t, 5);
    const { dir, first } = start;
    let { daemon } = start;
    const other = new Database(path.join(dir, 'data', 'results.db'));
    other.exec('BEGIN EXCLUSIVE');
    // Small: while the database is locked, each write the job tries holds it for SQLite's
    // busy timeout (5 s), and reading 20,000 lines then took half a minute.
    const second = await drop(dir, 'second.log', 6, 2_000);
    await waitFor('the store error in the log', () => daemon.logs.find((l) => l.includes('writing results failed')), 30_000);
    await waitFor('the second file read', async () => {
      const { body } = await daemon.get<Stats>('/api/stats');
      return body.eventsIn === first.lines + second.lines ? body : undefined;
    }, 30_000);
    daemon = await crashAndRestart(t, daemon, () => {
      other.exec('COMMIT');
      other.close();
    });
    // The killed daemon's last checkpoint may already hold all of second.log (its lines in
    // the open batch it saved): the restart then finishes the file at once, or it was
    // finished before the kill. Either way every line is counted once, and nothing waits.
    await assertExact(daemon, 'spool empty', first, second);
    assert.deepEqual(readdirSync(path.join(dir, 'spool')).filter(visible).sort(), ['first.log.COMPLETED', 'second.log.COMPLETED']);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  test('the results database deleted while the daemon runs: noticed and written back from the open one; the history holds every line, after a restart too', { timeout: 120_000 }, async (t) => {
    const start = await withFirstCounted(t, 11);
    const { dir, first } = start;
    let { daemon } = start;
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
});
