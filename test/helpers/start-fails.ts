import assert from 'node:assert/strict';
import { startDaemon } from './daemon.js';

/** Starts the daemon expecting it to refuse; resolves with what it said (fails the test if it started). */
export function startFails(dir: string, args: string[] = ['--conf-file', 'agent.conf']): Promise<string> {
  return startDaemon(dir, args).then(
    async (d) => {
      await d.stop('SIGKILL');
      assert.fail('the daemon started');
    },
    (err: Error) => err.message,
  );
}
