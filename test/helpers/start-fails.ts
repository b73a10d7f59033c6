import assert from 'node:assert/strict';
import { START_TIMEOUT_MS, startDaemon, type DaemonOptions } from './daemon.js';

/**
 * Starts the daemon expecting it to refuse (withDaemon is for daemons that start); resolves
 * with what it said. A daemon that started after all is killed at once and fails the test,
 * so none is left running.
 */
export function startFails(dir: string, args: string[] = ['--conf-file', 'agent.conf'], options: DaemonOptions = {}): Promise<string> {
  return startDaemon(dir, args, options.timeoutMs ?? START_TIMEOUT_MS, options).then(
    async (d) => {
      await d.stop('SIGKILL');
      assert.fail('the daemon started');
    },
    (err: Error) => err.message,
  );
}

/** A start-up failure (exit code 1) and its one line for the user: stderr's `logflow: ...` (the whole message if there is none). */
export async function startUpFailure(dir: string, options: DaemonOptions = {}): Promise<string> {
  const message = await startFails(dir, options.args, options);
  assert.match(message, /exited with 1 before listening/);
  return message.split('\n').find((l) => l.startsWith('logflow: ')) ?? message;
}
