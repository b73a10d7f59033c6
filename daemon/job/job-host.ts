import { LogflowError } from '../errors.js';
import { lineFormatOf, resultsOf, type UrlWindowJobConfig } from './url-window-config.js';
import { LineFields } from '../logformat/line-fields.js';
import { listening } from '../startup-errors.js';
import type { Logger } from '../log.js';
import { COUNTER, COUNTER_SLOTS, type JobCommand, type JobEvent, type JobWorkerData } from './job-messages.js';
import type { JobStartOptions } from './url-window-job.js';
import type { JobStats } from './job-stats.js';
import type { LiveTop, LiveTopQuery } from './live-top.js';
import type { FileFigures } from './counted-positions.js';
import { jobFailed, jobStopTimedOut, jobThreadCrashed } from '../telemetry/index.js';
import type { StatsPart } from '../telemetry/stats.js';
import { WorkerHost } from '../worker-host.js';

/** A stop (final checkpoint) that takes longer than this is cut short. */
const STOP_TIMEOUT_MS = 10_000;

/**
 * The job heap's first old-generation limit. Left to V8, the job's small heap (~13 MB of
 * objects) was fully collected every half second while lines came: 25-28 mark-compacts
 * per 1M lines end to end, each started by V8's marking task with the heap at a third of
 * its limit (--trace-gc, --trace-incremental-marking; likely because the job makes array
 * buffers fast: socket reads, blobs, rows read back). With a first limit of 64 MB they
 * are a few. A/B, end to end and replays, alternating (BENCHMARKS.md, issue 28 session
 * 4): at load 20-30 the process's CPU per 1M lines lower in 8 of 9 pairs (median -13%),
 * peak RSS -36..+33 MB; on a quiet box -16..-22% end to end, none in the 27 h replays.
 * 32 / 64 / 128 MB trade CPU for peak RSS (128 saved the most CPU, +11-70 MB peak RSS);
 * 64 is the middle. It is a limit, not memory taken: the heap's dead objects
 * may grow towards it.
 */
const JOB_INITIAL_OLD_SPACE_MB = 64;

/**
 * The main thread's handle on the job, which runs in a worker thread. It mirrors what the
 * source needs synchronously (committed positions, per-file figures) from the worker's
 * messages, so the source's calls stay cheap and local.
 */
export class JobHost {
  readonly name: string;
  readonly #config: UrlWindowJobConfig;
  readonly #log: Logger;
  readonly #key: string;
  readonly #localSources: string[] = [];
  readonly #commitListeners: (() => void)[] = [];
  #thread: WorkerHost<JobWorkerData, JobEvent, JobCommand> | undefined;
  #committed = new Map<string, number>();
  #files = new Map<string, FileFigures>();
  /** Forgets sent, and those the worker may not have handled yet: (ordinal, key). */
  #forgetsSent = 0;
  #forgetting: { readonly n: number; readonly key: string }[] = [];
  #lineCheck: JobHost['lineCheck'] | undefined;
  #stats: JobStats | undefined;
  #port = 0;
  readonly #counters = new SharedArrayBuffer(COUNTER_SLOTS * 8);
  readonly #live = new Float64Array(this.#counters);
  /** Top queries sent to the job's thread, by id. */
  readonly #queries = new Map<number, { resolve: (a: LiveTop) => void; reject: (e: Error) => void }>();
  #nextQuery = 0;

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

  committedEntries(): Iterable<[string, number]> {
    return this.#committed.entries();
  }

  /** What the job counted of the file as of its last checkpoint. */
  figures(fileKey: string): FileFigures | undefined {
    return this.#files.get(fileKey);
  }

  /** The job's log format and parser, for the source's warning about a file in another format. */
  get lineCheck(): { readonly format: string; readonly parses: (buf: Buffer, start: number, end: number) => boolean } {
    if (!this.#lineCheck) {
      const format = lineFormatOf(this.#config);
      const parse = format.parse;
      const out = new LineFields(format.fieldNames.length);
      this.#lineCheck = { format: this.#config.logFormat, parses: (buf, start, end) => parse(buf, start, end, out) };
    }
    return this.#lineCheck;
  }

  /**
   * A finished file's position is dropped here at once, and in the worker when it handles the
   * command. A checkpoint the worker took before that still holds it: its 'committed' message
   * must not bring the position back, or a file that reuses the key (the same inode and first
   * line, see file-identity.ts) would resume at the finished one's end.
   */
  forget(fileKey: string): void {
    this.#committed.delete(fileKey);
    this.#files.delete(fileKey);
    this.#forgetting.push({ n: ++this.#forgetsSent, key: fileKey });
    this.#send({ type: 'forget', key: fileKey });
  }

  /** The live window's top keys of a dimension and status, answered by the job's thread. */
  top(query: LiveTopQuery): Promise<LiveTop> {
    if (!this.#thread) return Promise.reject(new LogflowError('LF_THREAD_FAILED', 'the job is not running'));
    const id = this.#nextQuery++;
    return new Promise((resolve, reject) => {
      this.#queries.set(id, { resolve, reject });
      this.#send({ type: 'top', id, query });
    });
  }

  /** The worker's positions as of a checkpoint that had seen its first `forgets` forget commands. */
  #positionsAsOf(forgets: number, committed: [string, number][], files: [string, FileFigures][]): void {
    this.#forgetting = this.#forgetting.filter((f) => f.n > forgets);
    this.#committed = new Map(committed);
    this.#files = new Map(files);
    for (const { key } of this.#forgetting) {
      this.#committed.delete(key);
      this.#files.delete(key);
    }
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
    this.#thread = new WorkerHost({
      thread: 'job',
      script: new URL('./job-worker.js', import.meta.url),
      data: { config: this.#config, options, localSources: this.#localSources, counters: this.#counters, nice },
      initialOldSpaceMb: JOB_INITIAL_OLD_SPACE_MB,
      ready: 'started',
      readyVerb: 'started',
      key: this.#key,
      log: this.#log,
      crashed: jobThreadCrashed,
      onEvent: (event) => this.#onEvent(event),
      onFailure: (f) => jobFailed.emit(this.#log, { err: f.message, code: f.code, key: f.key }),
    });
    return this.#thread.start();
  }

  /** Stops the job (final checkpoint) and waits for its thread to end. */
  stop(): Promise<void> {
    return this.#thread?.stop({ type: 'stop' }, {
      ms: STOP_TIMEOUT_MS,
      onTimeout: () => jobStopTimedOut.emit(this.#log, { afterMs: STOP_TIMEOUT_MS }),
    }) ?? Promise.resolve();
  }

  #onEvent(event: JobEvent): void {
    switch (event.type) {
      case 'started':
        this.#port = event.port;
        this.#committed = new Map(event.committed);
        this.#files = new Map(event.files);
        this.#stats = event.stats;
        break;
      case 'committed':
        this.#positionsAsOf(event.forgets, event.committed, event.files);
        this.#stats = event.stats;
        for (const listener of this.#commitListeners) listener();
        break;
      case 'stats':
        this.#stats = event.stats;
        break;
      case 'stopped':
        this.#positionsAsOf(event.forgets, event.committed, event.files);
        for (const q of this.#queries.values()) q.reject(new LogflowError('LF_THREAD_FAILED', 'the job stopped'));
        this.#queries.clear();
        break;
      case 'top': {
        const q = this.#queries.get(event.id);
        this.#queries.delete(event.id);
        if (event.answer) q?.resolve(event.answer);
        else q?.reject(new LogflowError('LF_THREAD_FAILED', event.error ?? 'no answer'));
        break;
      }
    }
  }

  #send(cmd: JobCommand): void {
    this.#thread?.send(cmd);
  }
}

/** What the job's `build(config, ctx)` gets from the agent (components.ts BuildContext). */
export interface JobContext {
  readonly logger: Logger;
  /** The configuration file, and the job's key in it (`a1.jobs.j1`): a start-up failure names the setting. */
  readonly file: string;
  readonly key: string;
  readonly options: JobStartOptions;
  readonly pipelineNice: number;
}

/**
 * `type = url-window-count` (components.ts). It declares where its Avro receiver listens;
 * that it keeps positions (when a sink of this agent feeds it, a source's file finishes on
 * the job's checkpoint and resumes from it after a crash: exactly-once instead of
 * at-least-once); and its results, which the HTTP API serves.
 */
export function build(config: UrlWindowJobConfig, ctx: JobContext) {
  const host = new JobHost(config, ctx.logger, ctx.key);
  return {
    name: config.name,
    start: () => listening(ctx.file, ctx.key, () => host.start(ctx.options, ctx.pipelineNice)),
    stop: () => host.stop(),
    stats: (): StatsPart => ({ job: host.stats() }),
    receivesAt: { host: config.bind, port: config.port },
    positionKeeper: {
      keepPositions(sourceId: string, onCommit: () => void) {
        host.addLocalSource(sourceId);
        host.onCommit(onCommit);
        return host;
      },
    },
    results: resultsOf(config),
    liveTop: (query: LiveTopQuery) => host.top(query),
  };
}
