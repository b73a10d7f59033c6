import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../log.js';
import { lowerThreadPriority } from '../thread-priority.js';
import { ResultsStore } from '../store/index.js';
import type { JobCommand, JobEvent, JobWorkerData } from './job-messages.js';
import { UrlWindowJob } from './url-window-job.js';
import { CountsInput } from './partial/counts-input.js';

/**
 * The job in its own thread: decoding, parsing and counting use the second core while the
 * main thread reads files, encodes and serves HTTP. It reports to the host by messages.
 */
const data = workerData as JobWorkerData;
const port = parentPort!;
lowerThreadPriority(data.nice);
const post = (event: JobEvent) => port.postMessage(event);
const log = createLogger('logflow');
const store = new ResultsStore(data.config.database, { retentionMs: data.config.retentionMs, history: data.config.history });
const job = new UrlWindowJob(data.config, store, log, new Float64Array(data.counters));
for (const id of data.localSources) job.addLocalSource(id);

job.onCommit(() => post({ type: 'committed', committed: job.committedEntries(), parseErrors: job.parseErrorEntries(), stats: job.stats() }));
job.onTick(() => post({ type: 'stats', stats: job.stats() }));
// Between ticks too, so that /api/stats shows events arriving within a tenth of a second.
setInterval(() => post({ type: 'stats', stats: job.stats() }), 100).unref();

port.on('message', (cmd: JobCommand) => {
  if (cmd.type === 'forget') job.forget(cmd.key);
  else if (cmd.type === 'stop') {
    void (input?.stop() ?? Promise.resolve()).then(() => job.stop()).then(
      () => {
        store.close();
        post({ type: 'stopped', committed: job.committedEntries(), parseErrors: job.parseErrorEntries() });
        port.close();
      },
      (err: Error) => post({ type: 'failed', message: err.message, code: (err as { code?: string }).code }),
    );
  }
});

// A query node (`input = jetstream`) reads partial counts once its checkpoint is restored.
const input = data.config.jetstream && new CountsInput(data.config.jetstream, job, log);
job.start(data.options).then(
  () => input?.start(),
).then(
  () => post({ type: 'started', port: job.port, committed: job.committedEntries(), stats: job.stats() }),
  (err: Error) => {
    store.close();
    post({ type: 'failed', message: err.message, code: (err as { code?: string }).code });
  },
);
