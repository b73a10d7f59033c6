import type { HttpConfig } from './config.js';
import { LogflowError } from '../errors.js';
import type { JobResults } from '../job/url-window-config.js';
import type { Logger } from '../log.js';
import type { HttpCommand, HttpEvent, HttpWorkerData } from './http-messages.js';
import type { FileView, FollowedFileView } from './deps.js';
import type { ApiStats, Stats } from '../telemetry/stats.js';
import type { LiveTop, LiveTopQuery } from '../job/live-top.js';
import { httpThreadCrashed, pipelineAnswerFailed } from '../telemetry/index.js';
import { WorkerHost } from '../worker-host.js';

/**
 * Under a query load the HTTP thread makes garbage fast, and V8 lets the young generation
 * grow to its 48 MB default. Its objects die young (a request's), so a small one costs no
 * throughput; measured with the 10M-line ingest and 64 connections: peak RSS 429 -> 392 MB,
 * /api/top p99 11 -> 8 ms, 24.5k -> 27k req/s.
 */
const HTTP_YOUNG_GENERATION_MB = 8;

/** What the main thread answers the HTTP thread with. */
export interface PipelineView {
  readonly stats: () => ApiStats;
  readonly files: () => FileView[];
  readonly followed: () => FollowedFileView[];
  readonly metrics: () => Stats;
  /** The live window's top by dimension: asked of the job's thread in turn. */
  readonly top: (query: LiveTopQuery) => Promise<LiveTop>;
}

/** The main thread's handle on the HTTP server, which runs in a worker thread. */
export class HttpHost {
  readonly #thread: WorkerHost<HttpWorkerData, HttpEvent, HttpCommand>;
  readonly #view: PipelineView;
  readonly #log: Logger;
  #loaded: () => void = () => {};
  #address: string | undefined;
  #threadId: number | undefined;
  #listening: Promise<void> | undefined;

  constructor(config: HttpConfig, results: JobResults | undefined, view: PipelineView, logger: Logger) {
    this.#view = view;
    this.#log = logger;
    this.#thread = new WorkerHost({
      thread: 'http',
      script: new URL('./http-worker.js', import.meta.url),
      data: { config, results },
      resourceLimits: { maxYoungGenerationSizeMb: HTTP_YOUNG_GENERATION_MB },
      ready: 'listening',
      readyVerb: 'listened',
      log: logger,
      crashed: httpThreadCrashed,
      onEvent: (event) => this.#onEvent(event),
    });
  }

  /** The address actually bound (the configured port may be 0). */
  get address(): string | undefined {
    return this.#address;
  }

  /** The kernel's id of the HTTP thread (Linux), for the log and for `ps -L`. */
  get threadId(): number | undefined {
    return this.#threadId;
  }

  /** Starts the thread, which loads its modules (while the job starts, say). */
  load(): Promise<void> {
    const loading = new Promise<void>((resolve) => (this.#loaded = resolve));
    this.#listening = this.#thread.start();
    // A thread that fails before it loaded rejects `listening`; `load` must not hang then.
    return Promise.race([loading, this.#listening]);
  }

  /** Opens the results database and listens; resolves once the port is bound. */
  listen(): Promise<void> {
    if (!this.#listening) throw new LogflowError('LF_THREAD_FAILED', 'the http thread was told to listen before it was loaded');
    this.#thread.send({ type: 'listen' });
    return this.#listening;
  }

  close(): Promise<void> {
    return this.#thread.stop({ type: 'close' });
  }

  #onEvent(event: HttpEvent): void {
    switch (event.type) {
      case 'loaded':
        this.#loaded();
        break;
      case 'listening':
        this.#address = event.address;
        this.#threadId = event.threadId;
        break;
      case 'ask':
        void this.#answer(event.id, event.what, event.args);
        break;
      case 'closed':
        break;
    }
  }

  /** A figure that cannot be made is an error answer (a 500 naming it), never a request left hanging. */
  async #answer(id: number, what: keyof PipelineView, args: unknown): Promise<void> {
    try {
      const value = what === 'top' ? await this.#view.top(args as LiveTopQuery) : this.#view[what]();
      this.#thread.send({ type: 'answer', id, value });
    } catch (err) {
      pipelineAnswerFailed.emit(this.#log, { err, what });
      this.#thread.send({ type: 'answer', id, value: undefined, error: `the pipeline's ${what} could not be read: ${(err as Error).message}` });
    }
  }
}
