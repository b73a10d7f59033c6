import { parentPort, workerData } from 'node:worker_threads';
import { threadFailureOf } from '../errors.js';
import { createLogger } from '../log.js';
import { lowerThreadPriority } from '../thread-priority.js';
import { ResultsStore } from '../store/index.js';
import type { JobCommand, JobEvent, JobWorkerData } from './job-messages.js';
import { UrlWindowJob } from './url-window-job.js';

/**
 * The job in its own thread: decoding, parsing and counting use the second core while the
 * main thread reads files, encodes and serves HTTP. It reports to the host by messages.
 */
const data = workerData as JobWorkerData;
const port = parentPort!;
lowerThreadPriority(data.nice);
const post = (event: JobEvent) => port.postMessage(event);
const log = createLogger('logflow');
const store = openStore();
if (store) run(store);

function openStore(): ResultsStore | undefined {
  try {
    return new ResultsStore(data.config.database, { retentionMs: data.config.retentionMs, history: data.config.history });
  } catch (err) {
    // Outside job.start, so reported here, naming the key that sets the file.
    post({ type: 'failed', ...threadFailureOf(err, 'database') });
    port.close();
    return undefined;
  }
}

function run(store: ResultsStore): void {
  const job = new UrlWindowJob(data.config, store, log, new Float64Array(data.counters));
  for (const id of data.localSources) job.addLocalSource(id);

  job.onCommit(() => post({ type: 'committed', committed: job.committedEntries(), parseErrors: job.parseErrorEntries(), stats: job.stats() }));
  job.onTick(() => post({ type: 'stats', stats: job.stats() }));
  // Between ticks too, so that /api/stats shows events arriving within a tenth of a second.
  setInterval(() => post({ type: 'stats', stats: job.stats() }), 100).unref();

  port.on('message', (cmd: JobCommand) => {
    if (cmd.type === 'forget') job.forget(cmd.key);
    else if (cmd.type === 'stop') {
      void job.stop().then(
        () => {
          store.close();
          post({ type: 'stopped', committed: job.committedEntries(), parseErrors: job.parseErrorEntries() });
          port.close();
        },
        (err: unknown) => post({ type: 'failed', ...threadFailureOf(err) }),
      );
    }
  });

  job.start(data.options).then(
    () => post({ type: 'started', port: job.port, committed: job.committedEntries(), stats: job.stats() }),
    (err: unknown) => {
      store.close();
      post({ type: 'failed', ...threadFailureOf(err) });
    },
  );
}
