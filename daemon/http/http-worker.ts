import type { FastifyInstance } from 'fastify';
import { LogflowError, threadFailureOf } from '../errors.js';
import { createLogger } from '../log.js';
import { openQueries, type ResultsQueries } from '../store/index.js';
import { threadId } from '../thread-priority.js';
import { HTTP_WORKER_DATA, type HttpCommand, type HttpEvent, type HttpWorkerData, type PipelineQuestion } from './http-messages.js';
import { QueryPool } from './query-pool.js';
import { startHttpServer } from './server.js';
import { fromHost } from '../worker-host.js';

/**
 * The HTTP server in its own thread: queries read the results here and never wait behind the
 * pipeline's work on the main thread. Figures only the pipeline has (files, channel,
 * counters) are asked of the main thread per request. The thread loads its modules while
 * the job starts, and listens when told (the job's database exists by then).
 */
const host = fromHost<HttpWorkerData, HttpEvent, HttpCommand>('http', HTTP_WORKER_DATA);
const { data, post } = host;
const log = createLogger('logflow');

const pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
let nextId = 0;
function ask<T>(what: PipelineQuestion, args?: unknown): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    post({ type: 'ask', id, what, args });
  });
}

let app: FastifyInstance | undefined;
let results: ResultsQueries | undefined;
let queries: QueryPool | undefined;

async function listen(): Promise<void> {
  try {
    if (data.results && !data.results.postgres) {
      // SQLite's range queries run in query threads, which start with the first one; a
      // PostgreSQL server answers them itself, on the queries' pool.
      queries = new QueryPool({ database: data.results.database, batchIntervalMs: data.results.timing.batchIntervalMs, nice: data.config.pipelineNice }, data.config.queryThreads, log);
    }
    results = data.results && (await openQueries(data.results, queries));
    app = await startHttpServer(data.config, {
      authToken: data.config.authToken,
      allowedHosts: data.config.allowedHosts,
      results,
      job: data.results?.timing,
      stats: () => ask('stats'),
      files: () => ask('files'),
      followed: () => ask('followed'),
      metrics: () => ask('metrics'),
      liveTop: (query) => ask('top', query),
      logger: log,
    });
    const a = app.server.address();
    post({ type: 'listening', address: a && typeof a === 'object' ? `http://${a.address}:${a.port}` : String(a), threadId: threadId() });
  } catch (e) {
    await queries?.close();
    await results?.close();
    post({ type: 'failed', ...threadFailureOf(e) });
    host.close();
  }
}

async function close(): Promise<void> {
  await app?.close();
  await queries?.close();
  await results?.close();
  post({ type: 'closed' });
  host.close();
}

host.onCommand((cmd) => {
  if (cmd.type === 'answer') {
    const waiter = pending.get(cmd.id);
    pending.delete(cmd.id);
    if (cmd.error === undefined) waiter?.resolve(cmd.value);
    else waiter?.reject(new LogflowError('LF_HTTP_INTERNAL', cmd.error));
  } else if (cmd.type === 'listen') void listen();
  else if (cmd.type === 'close') void close();
});
post({ type: 'loaded' });
