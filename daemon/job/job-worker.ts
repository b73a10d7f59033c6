import path from 'node:path';
import { threadFailureOf } from '../errors.js';
import { createLogger } from '../log.js';
import { listenSetting, type FailedSetting } from '../startup-errors.js';
import { lowerThreadPriority } from '../thread-priority.js';
import { ResultsStore } from '../store/index.js';
import type { PostgresResultsStore } from '../store/postgres/postgres-store.js';
import type { JobStats } from './job-stats.js';
import { COUNTER, JOB_WORKER_DATA, type JobCommand, type JobEvent, type JobWorkerData } from './job-messages.js';
import { UrlWindowJob } from './url-window-job.js';
import { resultsDatabaseMigrated, resultsDatabaseReplaced, resultsDatabaseRestored } from '../telemetry/index.js';
import { fromHost } from '../worker-host.js';

/**
 * The job in its own thread: decoding, parsing and counting use the second core while the
 * main thread reads files, encodes and serves HTTP. It reports to the host by messages.
 */
const host = fromHost<JobWorkerData, JobEvent, JobCommand>('job', JOB_WORKER_DATA);
const { data, post } = host;
lowerThreadPriority(data.nice);
const log = createLogger('logflow');

/** The setting a start-up failure is about, so the user is told which key to change. */
function settingOf(err: { code?: string; syscall?: string; path?: string; message: string }): FailedSetting | undefined {
  // The path first: the checkpoint directory's lock is a SQLite file too.
  if (typeof err.path === 'string') {
    if (err.path.startsWith(data.config.checkpointDir)) return 'checkpointDir';
    if (err.path.startsWith(path.dirname(data.config.database))) return 'database';
  }
  if (err.code?.startsWith('SQLITE_')) return 'database';
  return listenSetting(err);
}
/** A failure as the host gets it: message, declared or system code, and the key it is about. */
const fail = (err: unknown) => post({ type: 'failed', ...threadFailureOf(err, settingOf(err as Error)) });

/** The results database, or undefined with the failure posted (a throw here would reach the host without its message). */
async function openStore(): Promise<ResultsStore | PostgresResultsStore | undefined> {
  const c = data.config;
  try {
    if (c.postgres) {
      // Loaded when configured, as the query node below: a job on SQLite starts without the
      // PostgreSQL driver and the NATS client (a tenth of a second of CPU).
      const { PostgresResultsStore } = await import('../store/postgres/postgres-store.js');
      return await PostgresResultsStore.open(
        c.postgres,
        { instance: c.instance, where: c.database, batchIntervalMs: c.batchIntervalMs, windowMs: c.windowDurationMs, history: c.history, retentionMs: c.retentionMs },
        log,
      );
    }
    return new ResultsStore(c.database, {
      retentionMs: c.retentionMs,
      history: c.history,
      lost: (what, database) => (what === 'restored' ? resultsDatabaseRestored : resultsDatabaseReplaced).emit(log, { database }),
    });
  } catch (err) {
    // Outside job.start, so reported here, naming the key that sets the database (or the instance).
    post({ type: 'failed', ...threadFailureOf(err, (err as { setting?: string }).setting ?? 'database') });
    return undefined;
  }
}

function run(store: ResultsStore | PostgresResultsStore): void {
  if (store instanceof ResultsStore && store.migration) {
    resultsDatabaseMigrated.emit(log, { database: data.config.database, fromVersion: store.migration.from, toVersion: store.migration.to });
  }
  if (data.config.input === 'jetstream') {
    void import('../cluster/query-node.js').then(({ QueryNode }) => runQueryNode(QueryNode, store), fail);
    return;
  }
  const job = new UrlWindowJob(data.config, store, log, new Float64Array(data.counters));
  for (const id of data.localSources) job.addLocalSource(id);

  // A server's store adds whether it is connected, for /metrics.
  const stats = (): JobStats => (store instanceof ResultsStore ? job.stats() : { ...job.stats(), resultsDatabase: store.status });
  // Forget commands handled so far: a 'committed' message names it, so the host knows which
  // of its forgets the checkpoint it reports had seen.
  let forgets = 0;
  job.onCommit(() => post({ type: 'committed', committed: job.committedEntries(), files: job.fileFigures(), forgets, stats: stats() }));
  job.onTick(() => post({ type: 'stats', stats: stats() }));
  // Between ticks too, so that /api/stats shows events arriving within a tenth of a second.
  setInterval(() => post({ type: 'stats', stats: stats() }), 100).unref();

  host.onCommand((cmd) => {
    if (cmd.type === 'forget') {
      job.forget(cmd.key);
      forgets++;
    } else if (cmd.type === 'top') {
      try {
        post({ type: 'top', id: cmd.id, answer: job.top(cmd.query) });
      } catch (err) {
        post({ type: 'top', id: cmd.id, answer: undefined, error: (err as Error).message });
      }
    }
    else if (cmd.type === 'stop') {
      void job.stop().then(
        async () => {
          await store.close();
          post({ type: 'stopped', committed: job.committedEntries(), files: job.fileFigures(), forgets });
          host.close();
        },
        fail,
      );
    }
  });

  job.start(data.options).then(
    () => post({ type: 'started', port: job.port, committed: job.committedEntries(), files: job.fileFigures(), stats: stats() }),
    async (err: Error) => {
      await store.close();
      fail(err);
    },
  );
}

/** A query node (`input = jetstream`): the merge workers' results into the database, no counting here. */
function runQueryNode(QueryNode: typeof import('../cluster/query-node.js').QueryNode, store: ResultsStore | PostgresResultsStore): void {
  const node = new QueryNode(data.config, store, log);
  const live = new Float64Array(data.counters);
  const stats = (): JobStats => (store instanceof ResultsStore ? node.stats() : { ...node.stats(), resultsDatabase: store.status });
  const postStats = () => {
    const s = stats();
    live[COUNTER.eventsIn] = s.eventsIn;
    live[COUNTER.eventsCounted] = s.eventsCounted;
    live[COUNTER.parseErrors] = s.parseErrors;
    live[COUNTER.duplicates] = s.duplicates;
    post({ type: 'stats', stats: s });
  };
  node.onTick(postStats);
  host.onCommand((cmd) => {
    if (cmd.type === 'top') {
      // The node's live window, made from the merge workers' rows.
      try {
        post({ type: 'top', id: cmd.id, answer: node.top(cmd.query) });
      } catch (err) {
        post({ type: 'top', id: cmd.id, answer: undefined, error: (err as Error).message });
      }
      return;
    }
    if (cmd.type !== 'stop') return;
    void node.stop().then(
      async () => {
        await store.close();
        post({ type: 'stopped', committed: [], files: [], forgets: 0 });
        host.close();
      },
      fail,
    );
  });
  try {
    node.start(data.options);
  } catch (err) {
    void Promise.resolve(store.close()).finally(() => fail(err));
    return;
  }
  post({ type: 'started', port: 0, committed: [], files: [], stats: stats() });
}

void openStore().then((opened) => opened && run(opened));
