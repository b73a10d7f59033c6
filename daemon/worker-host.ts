import v8 from 'node:v8';
import { parentPort, Worker, workerData, type ResourceLimits } from 'node:worker_threads';
import { errorOfThreadFailure, LogflowError, threadFailureOf, type ThreadFailure } from './errors.js';
import type { Logger } from './log.js';
import { startFailure } from './startup-errors.js';
import type { LogEvent } from './telemetry/index.js';

/**
 * The thread boundary, both sides of it: the job and the HTTP server each run in a worker
 * thread, started by a WorkerHost on the main thread with data the thread checks before it
 * uses it (`fromHost`). The two sides speak typed messages; a thread reports a failure as
 * `{ type: 'failed', ...ThreadFailure }` (errors do not cross threads intact), and says it
 * is up with its own ready event ('started', 'listening').
 */

/** What one field of a thread's data is; structured clone keeps these kinds. */
type Kind<V> = V extends string ? 'string'
  : V extends number ? 'number'
  : V extends boolean ? 'boolean'
  : V extends SharedArrayBuffer ? 'SharedArrayBuffer'
  : V extends readonly unknown[] ? 'array'
  : V extends object ? 'object'
  : never;

/**
 * The kind of every field of a thread's data, `?` for one that may be undefined: derived
 * from the data's type, so a field added to the type and not here does not compile.
 */
export type DataShape<T> = { readonly [K in keyof T]-?: undefined extends T[K] ? `${Kind<Exclude<T[K], undefined>>}?` : Kind<T[K]> };

/** The fields of `data` that are missing or not of their kind in `shape`, as readable lines. */
export function dataProblems(data: unknown, shape: Readonly<Record<string, string>>): string[] {
  if (typeof data !== 'object' || data === null) return [`expected an object, got ${kindOf(data)}`];
  const fields = data as Record<string, unknown>;
  const problems: string[] = [];
  for (const [field, want] of Object.entries(shape)) {
    const optional = want.endsWith('?');
    const kind = optional ? want.slice(0, -1) : want;
    const got = kindOf(fields[field]);
    if (got !== kind && !(optional && got === 'undefined')) problems.push(`${field}: expected ${want}, got ${got}`);
  }
  for (const field of Object.keys(fields)) if (!(field in shape)) problems.push(`${field}: not expected`);
  return problems;
}

function kindOf(v: unknown): string {
  if (v instanceof SharedArrayBuffer) return 'SharedArrayBuffer';
  if (Array.isArray(v)) return 'array';
  return v === null ? 'null' : typeof v;
}

/** A thread's failure message (worker -> host). */
type Failed = { readonly type: 'failed' } & ThreadFailure;

/** What the main thread starts a worker thread with, and how it hears from it. */
export interface ThreadSpec<Data, Event extends { readonly type: string }> {
  /** `job`, `http`: named in its errors. */
  readonly thread: string;
  /** The worker's module, compiled: `new URL('./job-worker.js', import.meta.url)`. */
  readonly script: URL;
  readonly data: Data;
  readonly resourceLimits?: ResourceLimits;
  /**
   * The thread heap's first old-generation limit, in MB (V8's --initial-old-space-size,
   * which `resourceLimits` does not offer): set while the thread's isolate is made, then
   * back to V8's default for isolates made later.
   */
  readonly initialOldSpaceMb?: number;
  /** The event that says the thread is up, and how errors say it ("before it started"). */
  readonly ready: Event['type'];
  readonly readyVerb: string;
  /** The component's config key (`a1.jobs.j1`), named in its start-up failures. */
  readonly key?: string;
  readonly log: Logger;
  /** Logged when the thread dies of an error it did not catch. */
  readonly crashed: LogEvent<{ err: unknown }>;
  /** Every event but 'failed', the ready one included (before start() resolves). */
  onEvent(event: Event): void;
  /** A failure the thread reports after it is up (before, start() rejects with it). */
  onFailure?(failure: ThreadFailure): void;
}

/**
 * The main thread's side of a worker thread: starts it, routes its messages, and turns its
 * failures into errors that name the component; a crash after start-up ends the process
 * (the pipeline cannot run without the thread).
 */
export class WorkerHost<Data, Event extends { readonly type: string }, Command> {
  readonly #spec: ThreadSpec<Data, Event>;
  #worker: Worker | undefined;
  #stopped: Promise<void> | undefined;

  constructor(spec: ThreadSpec<Data, Event>) {
    this.#spec = spec;
  }

  /** Starts the thread; resolves at its ready event, rejects if it fails or ends before. */
  start(): Promise<void> {
    const { thread, script, data, resourceLimits, initialOldSpaceMb, ready, readyVerb, key, log, crashed } = this.#spec;
    // (V8 reads its flags as an isolate is made, in the new thread: the flag stays set until
    // the thread is online, and a thread made meanwhile would get it too; none is.)
    if (initialOldSpaceMb !== undefined) v8.setFlagsFromString(`--initial-old-space-size=${initialOldSpaceMb}`);
    const worker = new Worker(script, { workerData: data, ...(resourceLimits && { resourceLimits }) });
    if (initialOldSpaceMb !== undefined) {
      const unset = () => v8.setFlagsFromString('--initial-old-space-size=0');
      worker.once('online', unset);
      worker.once('exit', unset);
    }
    this.#worker = worker;
    return new Promise((resolve, reject) => {
      let up = false;
      worker.on('message', (event: Event | Failed) => {
        if (event.type === 'failed') {
          const failure = event as Failed;
          if (!up) reject(startFailure(failure, key));
          else this.#spec.onFailure?.(failure);
          // A failure while stopping must not leave the process waiting for the thread.
          if (this.#stopped) void worker.terminate();
          return;
        }
        if (event.type === ready) up = true;
        this.#spec.onEvent(event as Event);
        if (event.type === ready) resolve();
      });
      worker.on('error', (err) => {
        crashed.emit(log, { err });
        if (!up) reject(errorOfThreadFailure(threadFailureOf(err), key));
        else process.exit(1);
      });
      worker.on('exit', (code) => {
        // After any message still on its way (a 'failed' that says why).
        const where = key === undefined ? '' : ` (${key})`;
        if (!up) setImmediate(() => reject(new LogflowError('LF_THREAD_FAILED', `${thread} thread exited with ${code} before it ${readyVerb}${where}`)));
      });
    });
  }

  send(command: Command): void {
    this.#worker?.postMessage(command);
  }

  /**
   * Sends `command` (the thread's stop) and waits for the thread to end; after `timeoutMs`,
   * `onTimeout` runs and the thread is ended.
   */
  stop(command: Command, timeout?: { readonly ms: number; readonly onTimeout: () => void }): Promise<void> {
    const worker = this.#worker;
    if (!worker) return Promise.resolve();
    this.#stopped ??= new Promise<void>((resolve) => {
      const timer = timeout && setTimeout(() => {
        timeout.onTimeout();
        void worker.terminate();
      }, timeout.ms);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.send(command);
    });
    return this.#stopped;
  }
}

/** The thread's side: the data it was started with, and typed messages to and from its host. */
export interface HostLink<Data, Event, Command> {
  readonly data: Data;
  post(event: Event | Failed): void;
  onCommand(handler: (command: Command) => void): void;
  /** Ends the link (the thread then ends when nothing else keeps it alive). */
  close(): void;
}

/**
 * In a worker thread: the data its host started it with, checked against `shape` first. A
 * thread started with other data (another host, a build of another version) fails at once,
 * naming the fields, instead of later on a field it does not have.
 */
export function fromHost<Data, Event, Command>(thread: string, shape: DataShape<Data>): HostLink<Data, Event, Command> {
  const port = parentPort;
  if (!port) throw new LogflowError('LF_THREAD_FAILED', `the ${thread} thread's module was loaded outside a worker thread`);
  const problems = dataProblems(workerData, shape as Readonly<Record<string, string>>);
  if (problems.length > 0) {
    const failed: Failed = { type: 'failed', code: 'LF_THREAD_FAILED', message: `${thread} thread started with data it cannot use: ${problems.join('; ')}` };
    port.postMessage(failed);
    process.exit(1);
  }
  return {
    data: workerData as Data,
    post: (event) => port.postMessage(event),
    onCommand: (handler) => port.on('message', handler),
    close: () => port.close(),
  };
}
