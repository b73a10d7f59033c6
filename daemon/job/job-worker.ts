import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { threadFailureOf } from '../errors.js';
import { createLogger } from '../log.js';
import { listenSetting, type FailedSetting } from '../startup-errors.js';
import { lowerThreadPriority } from '../thread-priority.js';
import { ResultsStore } from '../store/index.js';
import type { JobCommand, JobEvent, JobWorkerData } from './job-messages.js';
import { UrlWindowJob } from './url-window-job.js';
import { QueryNode } from '../cluster/query-node.js';
import { historyRepaired, resultsDatabaseMigrated } from '../telemetry/index.js';

/**
 * The job in its own thread: decoding, parsing and counting use the second core while the
 * main thread reads files, encodes and serves HTTP. It reports to the host by messages.
 */
const data = workerData as JobWorkerData;
const port = parentPort!;
lowerThreadPriority(data.nice);
const post = (event: JobEvent) => port.postMessage(event);
const log = createLogger('logflow');

/** The setting a start-up failure is about, so the user is told which key to change. */
function settingOf(err: { code?: string; syscall?: string; path?: string; message: string }): FailedSetting | undefined {
  if (err.code?.startsWith('SQLITE_')) return 'database';
  if (typeof err.path === 'string') {
    if (err.path.startsWith(data.config.checkpointDir)) return 'checkpointDir';
    if (err.path.startsWith(path.dirname(data.config.database))) return 'database';
  }
  return listenSetting(err);
}
/** A failure as the host gets it: message, declared or system code, and the key it is about. */
const fail = (err: unknown) => post({ type: 'failed', ...threadFailureOf(err, settingOf(err as Error)) });

/** The results database, or undefined with the failure posted (a throw here would reach the host without its message). */
function openStore(): ResultsStore | undefined {
  try {
    return new ResultsStore(data.config.database, { retentionMs: data.config.retentionMs, history: data.config.history });
  } catch (err) {
    // Outside job.start, so reported here, naming the key that sets the file.
    post({ type: 'failed', ...threadFailureOf(err, 'database') });
    return undefined;
  }
}

function run(store: ResultsStore): void {
  if (store.migration) {
    resultsDatabaseMigrated.emit(log, { database: data.config.database, fromVersion: store.migration.from, toVersion: store.migration.to });
  }
  if (store.repaired.minutes + store.repaired.hours > 0) {
    historyRepaired.emit(log, { database: data.config.database, ...store.repaired });
  }
  if (data.config.input === 'jetstream') return runQueryNode(store);
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
        fail,
      );
    }
  });

  job.start(data.options).then(
    () => post({ type: 'started', port: job.port, committed: job.committedEntries(), stats: job.stats() }),
    (err: Error) => {
      store.close();
      fail(err);
    },
  );
}

/** A query node (`input = jetstream`): the merge workers' results into the database, no counting here. */
function runQueryNode(store: ResultsStore): void {
  const node = new QueryNode(data.config, store, log);
  const live = new Float64Array(data.counters);
  const postStats = () => {
    const stats = node.stats();
    live[0] = stats.eventsIn;
    live[1] = stats.eventsCounted;
    live[2] = stats.parseErrors;
    live[3] = stats.duplicates;
    post({ type: 'stats', stats });
  };
  node.onTick(postStats);
  port.on('message', (cmd: JobCommand) => {
    if (cmd.type !== 'stop') return;
    void node.stop().then(
      () => {
        store.close();
        post({ type: 'stopped', committed: [], parseErrors: [] });
        port.close();
      },
      fail,
    );
  });
  try {
    node.start(data.options);
  } catch (err) {
    store.close();
    fail(err);
    return;
  }
  post({ type: 'started', port: 0, committed: [], stats: node.stats() });
}

const opened = openStore();
if (opened) run(opened);
