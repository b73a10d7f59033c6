import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LogflowError } from '../daemon/errors.js';
import { HTTP_WORKER_DATA } from '../daemon/http/http-messages.js';
import { JOB_WORKER_DATA } from '../daemon/job/job-messages.js';
import { jobThreadCrashed } from '../daemon/telemetry/index.js';
import { dataProblems, WorkerHost } from '../daemon/worker-host.js';
import { capturingLogger } from './helpers/logger.js';

describe('the thread boundary (worker-host.ts)', () => {
  test('a thread\'s data is checked field by field: missing, of another kind, unexpected', () => {
    const good = { config: {}, options: {}, localSources: [], counters: new SharedArrayBuffer(32), nice: 0 };
    assert.deepEqual(dataProblems(good, JOB_WORKER_DATA), []);
    assert.deepEqual(dataProblems({ ...good, nice: '10', counters: new ArrayBuffer(32), extra: 1 }, JOB_WORKER_DATA), [
      'counters: expected SharedArrayBuffer, got object',
      'nice: expected number, got string',
      'extra: not expected',
    ]);
    assert.deepEqual(dataProblems({ config: {} }, HTTP_WORKER_DATA), [], 'results may be undefined (an agent without a job)');
    assert.deepEqual(dataProblems({ config: {}, results: 'db' }, HTTP_WORKER_DATA), ['results: expected object?, got string']);
    assert.deepEqual(dataProblems(undefined, HTTP_WORKER_DATA), ['expected an object, got undefined']);
  });

  test('the job thread started with data it cannot use fails at once, naming the field and the job', async () => {
    const { logger, lines } = capturingLogger();
    const host = new WorkerHost({
      thread: 'job',
      script: new URL('../daemon/job/job-worker.js', import.meta.url),
      // What an older host might send: no shared counters.
      data: { config: {}, options: {}, localSources: [], nice: 0 } as never,
      ready: 'started',
      readyVerb: 'started',
      key: 'a1.jobs.j1',
      log: logger,
      crashed: jobThreadCrashed,
      onEvent: () => assert.fail('no event but the failure'),
    });
    await assert.rejects(host.start(), (err: unknown) => {
      assert.ok(err instanceof LogflowError);
      assert.equal(err.code, 'LF_THREAD_FAILED');
      assert.equal(err.message, 'job thread started with data it cannot use: counters: expected SharedArrayBuffer, got undefined (a1.jobs.j1)');
      return true;
    });
    assert.deepEqual(lines, [], 'a refusal, not a crash');
  });
});
