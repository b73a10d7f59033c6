import { Worker } from 'node:worker_threads';
import { build, type UrlWindowJobConfig } from './url-window-config.js';
import { LineFields } from '../logformat/line-fields.js';
import { errorOfThreadFailure, LogflowError, threadFailureOf } from '../errors.js';
import { startFailure } from '../startup-errors.js';
import type { Logger } from '../log.js';
import { COUNTER, COUNTER_SLOTS, type JobCommand, type JobEvent, type JobWorkerData } from './job-messages.js';
import type { JobStartOptions } from './url-window-job.js';
import type { JobStats } from './job-stats.js';
import type { LiveTop, LiveTopQuery } from './live-top.js';
import { jobFailed, jobStopTimedOut, jobThreadCrashed } from '../telemetry/index.js';

/** A stop (final checkpoint) that takes longer than this is cut short. */
const STOP_TIMEOUT_MS = 10_000;

/**
 * The main thread's handle on the job, which runs in a worker thread. It mirrors what the
 * source needs synchronously (committed positions, per-file parse errors) from the
 * worker's messages, so the source's calls stay cheap and local.
 */
export class JobHost {
  readonly name: string;
  readonly #config: UrlWindowJobConfig;
  readonly #log: Logger;
  readonly #key: string;
  readonly #localSources: string[] = [];
  readonly #commitListeners: (() => void)[] = [];
  #worker: Worker | undefined;
  #committed = new Map<string, number>();
  #parseErrors = new Map<string, number>();
  #lineCheck: JobHost['lineCheck'] | undefined;
  #stats: JobStats | undefined;
  #port = 0;
  #stopped: Promise<void> | undefined;
  readonly #counters = new SharedArrayBuffer(COUNTER_SLOTS * 8);
  /** Top queries sent to the job's thread, by id. */
  readonly #queries = new Map<number, { resolve: (a: LiveTop) => void; reject: (e: Error) => void }>();
  #nextQuery = 0;
  readonly #live = new Float64Array(this.#counters);

  /** `key`: the job's config prefix (`a1.jobs.j1`), named in its failures. */
  constructor(config: UrlWindowJobConfig, logger: Logger, key = `jobs.${config.name}`) {
    this.name = config.name;
    this.#key = key;
    this.#config = config;
    this.#log = logger.child({ job: config.name });
  }

  get port(): number {
    return this.#port;
  }

  addLocalSource(sourceId: string): void {
    this.#localSources.push(sourceId);
  }

  onCommit(listener: () => void): void {
    this.#commitListeners.push(listener);
  }

  committed(fileKey: string): number | undefined {
    return this.#committed.get(fileKey);
  }

  parseErrors(fileKey: string): number | undefined {
    return this.#parseErrors.get(fileKey);
  }

  /** The job's log format and parser, for the source's warning about a file in another format. */
  get lineCheck(): { readonly format: string; readonly parses: (buf: Buffer, start: number, end: number) => boolean } {
    if (!this.#lineCheck) {
      const parse = build(this.#config).format.parse;
      const out = new LineFields();
      this.#lineCheck = { format: this.#config.logFormat, parses: (buf, start, end) => parse(buf, start, end, out) };
    }
    return this.#lineCheck;
  }

  forget(fileKey: string): void {
    this.#committed.delete(fileKey);
    this.#parseErrors.delete(fileKey);
    this.#send({ type: 'forget', key: fileKey });
  }

  /** The live window's top keys of a dimension and status, answered by the job's thread. */
  top(query: LiveTopQuery): Promise<LiveTop> {
    if (!this.#worker || this.#stopped) return Promise.reject(new Error('the job is not running'));
    const id = this.#nextQuery++;
    return new Promise((resolve, reject) => {
      this.#queries.set(id, { resolve, reject });
      this.#send({ type: 'top', id, query });
    });
  }

  /** The last stats the job posted, with its counters read live. */
  stats(): JobStats | undefined {
    const s = this.#stats;
    if (!s) return undefined;
    const live = this.#live;
    return {
      ...s,
      eventsIn: live[COUNTER.eventsIn]!,
      eventsCounted: live[COUNTER.eventsCounted]!,
      parseErrors: live[COUNTER.parseErrors]!,
      duplicates: live[COUNTER.duplicates]!,
    };
  }

  /** Starts the job's thread; `nice` lowers its priority (see lowerThreadPriority). */
  start(options: JobStartOptions = {}, nice = 0): Promise<void> {
    const data: JobWorkerData = { config: this.#config, options, localSources: this.#localSources, counters: this.#counters, nice };
    const worker = new Worker(new URL('./job-worker.js', import.meta.url), { workerData: data });
    this.#worker = worker;
    return new Promise((resolve, reject) => {
      let started = false;
      worker.on('message', (event: JobEvent) => {
        switch (event.type) {
          case 'started':
            started = true;
            this.#port = event.port;
            this.#committed = new Map(event.committed);
            this.#stats = event.stats;
            resolve();
            break;
          case 'failed':
            if (!started) reject(startFailure(event, this.#key));
            else jobFailed.emit(this.#log, { err: event.message, code: event.code, key: event.key });
            // A failure while stopping must not leave the process waiting for the thread.
            if (this.#stopped) void worker.terminate();
            break;
          case 'committed':
            this.#committed = new Map(event.committed);
            this.#parseErrors = new Map(event.parseErrors);
            this.#stats = event.stats;
            for (const listener of this.#commitListeners) listener();
            break;
          case 'stats':
            this.#stats = event.stats;
            break;
          case 'stopped':
            this.#committed = new Map(event.committed);
            this.#parseErrors = new Map(event.parseErrors);
            for (const q of this.#queries.values()) q.reject(new Error('the job stopped'));
            this.#queries.clear();
            break;
          case 'top': {
            const q = this.#queries.get(event.id);
            this.#queries.delete(event.id);
            if (event.answer) q?.resolve(event.answer);
            else q?.reject(new Error(event.error ?? 'no answer'));
            break;
          }
        }
      });
      worker.on('error', (err) => {
        jobThreadCrashed.emit(this.#log, { err });
        if (!started) reject(errorOfThreadFailure(threadFailureOf(err), this.#key));
        else process.exit(1);
      });
      worker.on('exit', (code) => {
        // After any message still on its way (a 'failed' that says why).
        if (!started) setImmediate(() => reject(new LogflowError('LF_THREAD_FAILED', `job thread exited with ${code} before it started (${this.#key})`)));
      });
    });
  }

  /** Stops the job (final checkpoint) and waits for its thread to end. */
  stop(): Promise<void> {
    const worker = this.#worker;
    if (!worker) return Promise.resolve();
    this.#stopped ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        jobStopTimedOut.emit(this.#log, { afterMs: STOP_TIMEOUT_MS });
        void worker.terminate();
      }, STOP_TIMEOUT_MS);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.#send({ type: 'stop' });
    });
    return this.#stopped;
  }

  #send(cmd: JobCommand): void {
    this.#worker?.postMessage(cmd);
  }
}
