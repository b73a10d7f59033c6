import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Top } from './helpers/api-types.js';
import { crashAndRestart, waitFor, withDaemon } from './helpers/daemon.js';
import { assertExact, assertWaitsForCheckpoint, checkpointOutage, Mounts, MOUNTING } from './helpers/resource-faults.js';

// resource-faults-database and resource-faults-spool have the other faults: three files run side by side.
describe('resource faults, the checkpoint directory: the daemon waits, retries, and loses nothing', () => {
  const mounts = new Mounts();
  after(() => mounts.unmountAll());

  // The two ways a checkpoint directory fails under a running daemon (a disk full, a file
  // system remounted read-only): the same steps, the error code aside.
  for (const [how, code, a, b] of [['disk full', 'ENOSPC', 3, 4], ['read-only', 'EROFS', 7, 8]] as const) {
    test(`the checkpoint directory ${how === 'disk full' ? 'on a full disk (a tmpfs filled up)' : 'made read-only (a read-only bind mount over it)'}: ${code} logged, retried, files wait; counts exact once it is mended, and after a restart`, MOUNTING, async (t) => {
      let { dir, daemon, first, second, mend } = await checkpointOutage(t, mounts, how, a, b);
      await assertWaitsForCheckpoint(daemon, dir, first.total + second.total);
      assert.ok(daemon.logs.find((l) => l.includes('checkpoint failed'))!.includes(code));

      mend();
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
  }

  test('kill -9 during a checkpoint outage (a full tmpfs): the history is exact after the restart, as the window is (issue 22 item 5)',
    MOUNTING,
    async (t) => {
      let { daemon, first, second, mend } = await checkpointOutage(t, mounts, 'disk full', 9, 10);
      await waitFor('the second file counted and in the history', async () => {
        const { body } = await daemon.get<Top>('/api/top?n=1&from=2025-12-31T23:00:00Z&to=2026-01-01T02:00:00Z');
        return body.total === first.total + second.total ? body : undefined;
      }, 30_000);
      daemon = await crashAndRestart(t, daemon, mend);
      assert.ok(daemon.logs.some((l) => l.includes('rows written after the last checkpoint undone')), 'the undone rows are logged');
      await assertExact(daemon, 'spool empty', first, second);
      assert.equal(await daemon.stop('SIGTERM'), 0);
    });
});
