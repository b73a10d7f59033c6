import { Worker } from 'node:worker_threads';
import { LogflowError } from '../errors.js';
import type { Logger } from '../log.js';
import type { HistoryAnswers, HistoryQueries, HistoryQuery } from '../store/history-queries.js';
import { queryThreadCrashed } from '../telemetry/index.js';

/** Range queries waiting for a thread at most; past it a query is answered 503 at once. */
const MAX_WAITING = 64;

export interface QueryThreadData {
  readonly database: string;
  readonly batchIntervalMs: number;
  /** How much lower the thread runs than the HTTP thread (a nice increment). */
  readonly nice: number;
}

export type QueryThreadEvent =
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly error: string }
  | { readonly type: 'answer'; readonly id: number; readonly value?: unknown; readonly error?: string };

/** Every query thread is busy and `MAX_WAITING` queries wait already: answered 503 with Retry-After (http/errors.ts). */
export class QueriesBusy extends LogflowError {
  constructor(message: string) {
    super('LF_HTTP_BUSY', message);
  }
}

interface Job {
  readonly id: number;
  readonly query: HistoryQuery;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface Thread {
  readonly worker: Worker;
  job: Job | undefined;
}

/**
 * The history's range queries (a range's top URLs, windows, series) read as many rows as
 * the range holds: 9 s for one was measured, and on the HTTP thread `/health` and the
 * newest window's `/api/top` waited behind it (p99 2-3 s). Here they run on `threads`
 * worker threads, each with its own read-only SQLite connection, first come first served;
 * the HTTP thread only hands them over and sends the answer.
 */
export class QueryPool implements HistoryQueries {
  readonly #data: QueryThreadData;
  readonly #size: number;
  readonly #log: Logger;
  readonly #threads = new Set<Thread>();
  readonly #waiting: Job[] = [];
  #nextId = 0;
  #closed = false;
  /** The threads' start, begun by the first query: ~8 MB each that an unused pool never costs. */
  #starting: Promise<void> | undefined;

  constructor(data: QueryThreadData, threads: number, log: Logger) {
    this.#data = data;
    this.#size = threads;
    this.#log = log;
  }

  /** Starts the threads (the first query does, if this is not called); resolves once each has opened the database. */
  start(): Promise<void> {
    this.#starting ??= Promise.all(Array.from({ length: this.#size }, () => this.#spawn())).then(
      () => undefined,
      (err: unknown) => {
        // The waiting queries fail with it; the next query tries again.
        this.#starting = undefined;
        for (const job of this.#waiting.splice(0)) job.reject(err as Error);
        throw err;
      },
    );
    return this.#starting;
  }

  run<Q extends HistoryQuery>(query: Q): Promise<HistoryAnswers[Q['kind']]> {
    if (this.#closed) return Promise.reject(new LogflowError('LF_THREAD_FAILED', 'the query threads are closed'));
    if (this.#waiting.length >= MAX_WAITING) return Promise.reject(new QueriesBusy(`${MAX_WAITING} range queries wait for a query thread already; try again`));
    const answer = new Promise<HistoryAnswers[Q['kind']]>((resolve, reject) => {
      this.#waiting.push({ id: this.#nextId++, query, resolve: resolve as (value: unknown) => void, reject });
      this.#dispatch();
    });
    this.start().catch(() => undefined); // a failed start has rejected the waiting queries
    return answer;
  }

  /** Threads running a query now. */
  get busy(): number {
    let n = 0;
    for (const t of this.#threads) if (t.job) n++;
    return n;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#waiting.splice(0)) job.reject(new LogflowError('LF_THREAD_FAILED', 'the server is closing'));
    await Promise.all([...this.#threads].map((t) => t.worker.terminate()));
    this.#threads.clear();
  }

  #dispatch(): void {
    for (const thread of this.#threads) {
      if (this.#waiting.length === 0) return;
      if (thread.job) continue;
      thread.job = this.#waiting.shift()!;
      thread.worker.postMessage({ id: thread.job.id, query: thread.job.query });
    }
  }

  #spawn(): Promise<void> {
    const worker = new Worker(new URL('./query-worker.js', import.meta.url), { workerData: this.#data });
    const thread: Thread = { worker, job: undefined };
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (event: QueryThreadEvent) => {
        if (event.type === 'ready') {
          ready = true;
          // Closed while it started: not kept.
          if (this.#closed) {
            void worker.terminate();
            resolve();
            return;
          }
          this.#threads.add(thread);
          resolve();
          this.#dispatch();
        } else if (event.type === 'failed') reject(new LogflowError('LF_DATABASE', event.error));
        else {
          const job = thread.job;
          thread.job = undefined;
          if (job?.id === event.id) {
            if (event.error === undefined) job.resolve(event.value);
            // A query that failed in its thread (SQLite's error): a 500, the message in the log.
            else job.reject(new LogflowError('LF_DATABASE', event.error));
          }
          this.#dispatch();
        }
      });
      // A thread that dies (out of memory in a huge query, say) fails its query; another takes its place.
      worker.on('error', (err) => {
        queryThreadCrashed.emit(this.#log, { err });
        thread.job?.reject(err);
        thread.job = undefined;
      });
      worker.on('exit', () => {
        this.#threads.delete(thread);
        if (!ready) reject(new LogflowError('LF_THREAD_FAILED', 'a query thread exited before it opened the database'));
        else if (!this.#closed) void this.#spawn().catch((err: unknown) => queryThreadCrashed.emit(this.#log, { err }));
      });
    });
  }
}
