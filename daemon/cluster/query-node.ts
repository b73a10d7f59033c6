import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { UrlWindowJobConfig } from '../job/url-window-config.js';
import type { LiveTop, LiveTopQuery } from '../job/live-top.js';
import type { JobStats } from '../telemetry/stats.js';
import type { Logger } from '../log.js';
import { DirLock, writeFileAtomic } from '../durable/index.js';
import { Histogram } from '../telemetry/histogram.js';
import { ConfigError, LogflowError } from '../errors.js';
import type { WindowResultSink } from '../store/window-results.js';
import { ResultsOutbox } from '../job/results-outbox.js';
import type { Bus, BusReader } from './bus.js';
import { StreamMissing } from './bus.js';
import { agreeOnSettings, recordedSettings, visitorDimensions } from './cluster-settings.js';
import { JetStreamBus } from './jetstream-bus.js';
import type { ResultsInputConfig } from './results-input-config.js';
import { ResultsCombiner, type Combined, type CombinerState } from './results-combiner.js';
import { decodeResults } from './results-wire.js';
import { WireError } from './wire-bytes.js';
import { checkpointFailed, checkpointWrittenAgain, clusterSettingsMismatch, mergeResultsExpired, notAMergeResult, readingMergeResults, resultsStreamUnreachable, waitingForStream } from '../telemetry/index.js';

/** How often what can be written is written (and the checkpoint after it). */
const WRITE_EVERY_MS = 200;
const CHECKPOINT_FILE = 'query-node.json';

/** What a query node's checkpoint holds: where to read again from, and the last epoch of history rows it covers. */
interface QueryNodeCheckpoint extends CombinerState {
  /** Absent in a checkpoint from before epochs. */
  readonly epoch?: number;
}

/** The input lag a query node's stats show. */
export interface InputFigures {
  /** Results stored and not read yet, and how long ago the oldest of them was stored. */
  readonly lagMessages: number;
  readonly lagSeconds: number;
  /** Shards that have closed less far than another (a slow or stopped merge worker). */
  readonly shardsBehind: number;
  readonly problem: string | null;
}

/**
 * A query node (`url-window-count` with `input = jetstream`), in the job's thread: reads the
 * merge workers' results (`<subject>.*.d` of LOGFLOW_RESULTS), combines the shards'
 * (results-combiner.ts) and writes them to its results database, whose history, windows
 * and top the HTTP API and the dashboard read as on a single process. Its checkpoint is the
 * sequence to read again from, written after each write of the database: a restart reads
 * what was not written yet again and skips what was. The rows go through the job's
 * ResultsOutbox, so a query node writes to SQLite or PostgreSQL alike (a server's writes are
 * asynchronous: the checkpoint waits until they committed, and while the server is away
 * the rows wait in order). History rows add up, so they are written in epochs as the job's
 * are: the checkpoint records the epoch its rows are in, and at start the store undoes the
 * rows of later epochs, which are read again (a crash between a write and its checkpoint).
 *
 * Any number run side by side, each with its own database; one started later reads the
 * results from the stream's start and holds the same history and windows.
 */
export class QueryNode {
  readonly #config: UrlWindowJobConfig;
  readonly #input: ResultsInputConfig;
  readonly #results: ResultsOutbox;
  readonly #log: Logger;
  readonly #tickListeners: (() => void)[] = [];
  readonly #checkpointHistogram = new Histogram();
  #combiner: ResultsCombiner | undefined;
  #bus: Bus | undefined;
  #reader: BusReader | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #connecting: Promise<void> = Promise.resolve();
  #lock: DirLock | undefined;
  #writtenAt: number | undefined;
  #checkpointSeq = 0;
  #lastCheckpointMs = 0;
  #windowEndMs: number | undefined;
  #pendingAfterLast = 0;
  #lastReadMs = 0;
  #problem: string | null = null;
  /** The end of the newest window queued, shown once it is written. */
  #queuedWindowEndMs: number | undefined;
  #checkpointFailures = 0;
  #checkpointDue = false;
  /** The write in progress (a server's is asynchronous): `stop` waits for it. */
  #writing: Promise<void> = Promise.resolve();

  constructor(config: UrlWindowJobConfig, store: WindowResultSink, logger: Logger) {
    this.#config = config;
    this.#input = config.jetstream!;
    this.#results = new ResultsOutbox(store, logger);
    this.#log = logger.child({ job: config.name, input: 'jetstream' });
  }

  get port(): number {
    return 0;
  }

  onTick(listener: () => void): void {
    this.#tickListeners.push(listener);
  }

  /** The live window's top keys of a dimension and status (`/api/top?by=&status=`), as a single process's job answers. */
  top(query: LiveTopQuery): LiveTop {
    if (!this.#combiner) throw new LogflowError('LF_THREAD_FAILED', 'the query node has not started');
    return this.#combiner.top(query);
  }

  get input(): InputFigures {
    const c = this.#combiner;
    return {
      lagMessages: this.#pendingAfterLast,
      lagSeconds: this.#pendingAfterLast === 0 || this.#lastReadMs === 0 ? 0 : Math.max(0, Math.round((Date.now() - this.#lastReadMs) / 100) / 10),
      shardsBehind: c?.shardsBehind ?? 0,
      problem: this.#problem,
    };
  }

  stats(): JobStats {
    const c = this.#combiner;
    const latest = c?.latestCounters;
    const shown = c?.shownCounters;
    const m = process.memoryUsage();
    return {
      eventsIn: latest?.eventsIn ?? 0,
      eventsCounted: shown?.eventsCounted ?? 0,
      parseErrors: shown?.parseErrors ?? 0,
      duplicates: latest?.duplicates ?? 0,
      // Lines the merge workers found behind their watermark: in the history (late rows) only.
      historyOnlyEvents: latest?.late ?? 0,
      lastEventMs: this.#lastReadMs || undefined,
      windowEndMs: this.#windowEndMs,
      checkpoint: { seq: this.#checkpointSeq, writtenAt: this.#writtenAt, lastMs: this.#lastCheckpointMs, failedAttempts: this.#checkpointFailures },
      slideMs: { last: 0, max: 0 },
      heapUsedMb: Math.round(m.heapUsed / 1048576),
      buffersMb: Math.round(m.arrayBuffers / 1048576),
      slideHistogram: new Histogram().snapshot(),
      checkpointHistogram: this.#checkpointHistogram.snapshot(),
      distinctUrls: c?.distinctUrls ?? 0,
      refusedConnections: { ipFilter: 0, maxConnections: 0 },
      resultsWaiting: this.#results.pending,
      input: this.input,
    };
  }

  /** Restores the checkpoint and starts reading (returns at once: the cluster may be down). */
  start(opts: { resetCheckpoint?: boolean } = {}): void {
    const dir = this.#config.checkpointDir;
    mkdirSync(dir, { recursive: true });
    this.#lock = DirLock.acquire(dir, 'checkpoint directory');
    const file = path.join(dir, CHECKPOINT_FILE);
    const state = !opts.resetCheckpoint && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as QueryNodeCheckpoint) : undefined;
    // A server's store undoes the unchecked epochs once reached: nothing is written before.
    void this.#results.restore(state?.epoch);
    const j = this.#config;
    this.#combiner = new ResultsCombiner({ shards: this.#input.shards, topN: j.topN, batchMs: j.batchIntervalMs, windowMs: j.windowDurationMs, dims: j.dimensions, history: j.history, state });
    this.#connecting = this.#connect(state?.resumeSeq ?? 1);
    this.#schedule();
  }

  async #connect(from: number): Promise<void> {
    const c = this.#input;
    const j = this.#config;
    let waits = 0;
    let failures = 0;
    while (!this.#stopping) {
      try {
        const bus = (this.#bus ??= await JetStreamBus.connect(c.nats, `logflow-query-${os.hostname()}`, this.#log));
        const settings = await bus.records(c.settingsBucket, c.replicas);
        await agreeOnSettings(settings, {
          shards: { value: c.shards, key: `${c.prefix}.shards` },
          time: { value: j.time, key: `${c.prefix}.time` },
          batchMs: { value: j.batchIntervalMs, key: `${c.prefix}.batchInterval` },
          windowMs: { value: j.windowDurationMs, key: `${c.prefix}.windowDuration` },
          slideMs: { value: j.slideDurationMs, key: `${c.prefix}.slideDuration` },
          // The counters' (the rows carry theirs; this node's window and history hold these).
          dimensions: { value: j.dimensions.map((d) => d.name).join(' '), key: `${c.prefix}.dimensions` },
          // The counters send the clients of these; this node's window and history count them.
          visitorDimensions: visitorDimensions(j.dimensions, `${c.prefix}.logFormat`),
        }, `${os.hostname()} ${c.prefix}`);
        const mergeTop = (await recordedSettings(settings)).topN;
        if (mergeTop && j.topN > Number(mergeTop.value)) {
          throw new ConfigError('LF_CLUSTER_MISMATCH', `${c.prefix}.topN = ${j.topN}, but the merge workers keep ${mergeTop.value} per shard (${mergeTop.key} of ${mergeTop.by}): the top ${j.topN} of all could not be known`, `${c.prefix}.topN`);
        }
        await bus.ensureStream(c.stream, false);
        const state = await bus.streamState(c.stream.name);
        if (from < state.firstSeq && state.firstSeq > 1 && from > 1) mergeResultsExpired.emit(this.#log, { from, firstSeq: state.firstSeq });
        break;
      } catch (err) {
        if (err instanceof ConfigError) {
          this.#problem = err.message;
          clusterSettingsMismatch.emit(this.#log, { err: err.message, key: err.key });
          return;
        }
        if (!(err instanceof StreamMissing)) resultsStreamUnreachable.emitAt(this.#log, failures++ % 50 === 0 ? 'warn' : 'debug', { err: (err as Error).message });
        else if (waits++ % 20 === 0) waitingForStream.emit(this.#log, { stream: c.stream.name });
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    if (this.#stopping) return;
    readingMergeResults.emit(this.#log, { from });
    this.#reader = this.#bus!.read(c.stream.name, `${c.stream.subject}.*.d`, from, (m) => {
      this.#pendingAfterLast = m.pending ?? 0;
      this.#lastReadMs = m.timeMs;
      try {
        this.#combiner!.add(m.seq, decodeResults(m.data));
      } catch (err) {
        if (!(err instanceof WireError) && !(err instanceof LogflowError && err.code === 'LF_CLUSTER_MISMATCH')) throw err;
        notAMergeResult.emit(this.#log, { seq: m.seq, err: err.message });
      }
    });
  }

  /** Writes every WRITE_EVERY_MS, the next write timed from the end of the last (a server's may take a while). */
  #schedule(): void {
    if (this.#stopping) return;
    this.#timer = setTimeout(() => {
      this.#writing = this.#write().then(() => this.#schedule());
    }, WRITE_EVERY_MS);
  }

  /**
   * Queues what every shard has closed, writes it, then the checkpoint (only once nothing
   * waits: the checkpoint's sequence must not pass a row the store does not hold); rolls the
   * history up behind. A failed write is logged by the outbox and retried at the next call.
   */
  async #write(): Promise<void> {
    const combiner = this.#combiner!;
    const taken: Combined = combiner.take();
    for (const b of taken.batches) this.#results.saveBatch(b);
    for (const w of taken.windows) this.#results.saveWindow(w);
    for (const w of taken.windows) if (!w.rowOnly) this.#queuedWindowEndMs = w.endMs;
    // What the checkpoint would say now: everything taken so far is queued.
    const state = combiner.state();
    // Rows written are in an epoch that only a checkpoint covers: one is due after them.
    if (this.#results.pending > 0) this.#checkpointDue = true;
    const written = (await this.#results.flush()) && this.#results.pending === 0;
    if (written) {
      this.#windowEndMs = this.#queuedWindowEndMs;
      if (state.resumeSeq !== this.#checkpointSeq || this.#checkpointDue) this.#checkpoint(state);
    }
    // The figures go out as soon as the rows are readable (before the rollup's budget):
    // /api/stats should not show less than the history the HTTP thread already reads.
    for (const listener of this.#tickListeners) listener();
    if (!written) return;
    const idle = taken.batches.length === 0;
    await this.#results.rollUp(idle ? 100 : 10, idle);
  }

  /** Writes the checkpoint; a failure (a full disk) is logged once and retried at the next write. */
  #checkpoint(state: CombinerState): void {
    const started = performance.now();
    // The rows written so far are this epoch's; later ones the next's (also when this fails).
    const epoch = this.#results.endEpoch();
    const checkpoint: QueryNodeCheckpoint = { ...state, epoch };
    try {
      writeFileAtomic(path.join(this.#config.checkpointDir, CHECKPOINT_FILE), JSON.stringify(checkpoint));
    } catch (err) {
      if (this.#checkpointFailures++ === 0) checkpointFailed.emit(this.#log, { err, checkpointDir: this.#config.checkpointDir });
      return;
    }
    if (this.#checkpointFailures > 0) checkpointWrittenAgain.emit(this.#log, { failedAttempts: this.#checkpointFailures });
    this.#checkpointFailures = 0;
    this.#checkpointDue = false;
    this.#results.committed(epoch);
    this.#lastCheckpointMs = performance.now() - started;
    this.#checkpointHistogram.observe(this.#lastCheckpointMs);
    this.#checkpointSeq = state.resumeSeq;
    this.#writtenAt = Date.now();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    await this.#connecting;
    await this.#reader?.stop();
    await this.#writing;
    if (this.#combiner) await this.#write();
    await this.#bus?.close();
    this.#lock?.release();
  }
}
