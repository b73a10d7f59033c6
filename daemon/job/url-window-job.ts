import { mkdirSync } from 'node:fs';
import type { UrlWindowJobConfig } from './url-window-config.js';
import type { Logger } from '../log.js';
import { CheckpointStore } from './checkpoint-store.js';
import { DirLock } from '../durable/index.js';
import { WindowSet } from '../counts/window-set.js';
import type { WindowResultSink } from '../store/window-results.js';
import { ResultsOutbox } from './results-outbox.js';
import type { DecodedEvents } from '../avro/index.js';
import { OpenBatches } from './open-batches.js';
import { HistoryBatches } from './history-batches.js';
import { TimeMode } from './time-mode.js';
import { CountedPositions, type FileFigures } from './counted-positions.js';
import { JobCounters, jobMemory, type JobStats } from './job-stats.js';
import { WindowSlider } from './window-slider.js';
import { EventCounter } from './event-counter.js';
import { JobCheckpoint } from './job-checkpoint.js';
import { JobReceiver } from './job-receiver.js';
import { LiveTopQueries, type LiveTop, type LiveTopQuery } from './live-top.js';
import { avroReceiverListening, checkpointDiscarded, closingBatchFailed, eventsRefusedResultsWaiting, noFinalCheckpoint } from '../telemetry/index.js';

export interface JobStartOptions {
  /** Discard the checkpoint instead of resuming from it. */
  readonly resetCheckpoint?: boolean;
}

/**
 * Time per tick for history rollups while events arrive (at least one minute is rolled up
 * per tick: live data needs one per 60 ticks), and when none do. Profile of a 1M-line,
 * 27-hour replay: at 50 ms per busy tick the rollups took 1 s of the job thread's 9.5 s.
 */
const ROLLUP_BUSY_MS = 10;
const ROLLUP_IDLE_MS = 400;

/**
 * Event time: when calls stop coming for this long after at least EARLY_TICK_EVENTS events
 * since the last tick (a replay's file is all read), the tick runs then, not at the next
 * second: the end of a replay was visible 0.5 s later on average (a 1M-line replay takes
 * ~3 s). A trickle of live lines never has that many, and ticks once a second as before.
 */
const QUIET_TICK_MS = 30;
/** Writes in a row a tick makes while results keep coming during an asynchronous store's writes (#flushAll). */
const FLUSH_ROUNDS = 3;
const EARLY_TICK_EVENTS = 10_000;

/**
 * The seed's Spark job: receives Flume events over Avro, takes each line's URL, counts
 * URLs per batch interval (by the `timestamp` header: processing time; or by the line's
 * own time: event time) and slides a window over the batches, persisting every slide's result.
 *
 * Exactly-once: events carry their source position (`lf.pos`), which the job records as
 * it counts them and checkpoints together with the window, so a restarted source resumes
 * where the counted state ends and a resent batch is recognised and skipped. Events from
 * other processes are written ahead to a log, synced before the sender hears OK.
 *
 * This class wires the parts and runs the tick; each part is one concern:
 * - `JobReceiver`: the Avro RPC server and the write-ahead log -> `EventCounter`;
 * - `EventCounter`: the hot loop, events into `OpenBatches`, deduped by `CountedPositions`,
 *   placed by the `TimeMode` (processing or event time, watermark, flushAfterIdle);
 * - `WindowSlider`: closes batches into the `WindowSet` (the window by dimension), results into the `ResultsOutbox`;
 * - `JobCheckpoint`: commits and restores all of the above;
 * - `JobCounters` (job-stats.ts): the counters, shared with another thread.
 */
export class UrlWindowJob {
  readonly name: string;
  readonly #config: UrlWindowJobConfig;
  readonly #log: Logger;
  readonly #window: WindowSet;
  readonly #open: OpenBatches;
  readonly #time: TimeMode;
  readonly #positions: CountedPositions;
  readonly #counters: JobCounters;
  readonly #results: ResultsOutbox;
  /** Counts by the lines' own time that do not pass through the window (undefined: history off). */
  readonly #history: HistoryBatches | undefined;
  readonly #slider: WindowSlider;
  readonly #counter: EventCounter;
  readonly #checkpoint: JobCheckpoint;
  readonly #receiver: JobReceiver;
  readonly #queries: LiveTopQueries;
  readonly #tickListeners: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** Event time: the early tick once calls stop coming (`QUIET_TICK_MS`). */
  #quiet: NodeJS.Timeout | undefined;
  /** `eventsIn` at the last tick: whether events came since. */
  #eventsAtLastTick = 0;
  #lock: DirLock | undefined;
  /** A tick waiting for the store (its asynchronous write or rollup); undefined when none. */
  #ticking: Promise<void> | undefined;
  #stopping = false;
  /** Events are refused: results wait for a failed store (`ResultsOutbox.full`). */
  #refusing = false;

  /**
   * `liveCounters`, when given, receives eventsIn, eventsCounted (visible), parseErrors
   * (visible) and duplicates as they change: another thread can read them at any time.
   */
  constructor(config: UrlWindowJobConfig, results: WindowResultSink, logger: Logger, liveCounters?: Float64Array) {
    this.name = config.name;
    this.#config = config;
    const log = (this.#log = logger.child({ job: config.name }));
    const window = (this.#window = new WindowSet(config.dimensions, config.windowDurationMs / config.batchIntervalMs));
    // Past a window's worth of batches waiting for a failed store, events are refused.
    this.#results = new ResultsOutbox(results, log, window.windowSlots);
    const time = (this.#time = new TimeMode(config));
    const open = (this.#open = new OpenBatches(window, config.batchIntervalMs));
    open.nextToClose = time.initialNextToClose(open);
    const positions = (this.#positions = new CountedPositions(config.batchIntervalMs, window.windowSlots));
    const counters = (this.#counters = new JobCounters(liveCounters ?? new Float64Array(4)));
    // The state parts above are shared; the parts below are told only what they use: the
    // counter and the slider tell the checkpoint of changes (`ChangeListener`), the slider
    // closes batches behind the watermark as the counter counts (`WatermarkCloser`).
    const checkpoint = (this.#checkpoint = new JobCheckpoint(config, { window, open, time, positions, counters, results: this.#results }, log));
    const slider = (this.#slider = new WindowSlider(config, { window, open, time, counters, results: this.#results, changes: checkpoint }, log));
    const history = (this.#history = config.history ? new HistoryBatches(window, this.#results, config.batchIntervalMs) : undefined);
    this.#counter = new EventCounter(config, { window, open, time, positions, counters, closer: slider, changes: checkpoint, history }, log);
    this.#receiver = new JobReceiver(config, { count: (ev) => this.#countCall(ev), accepting: () => this.#accepting() }, log);
    this.#queries = new LiveTopQueries(window, config.batchIntervalMs, config.windowDurationMs);
  }

  /** The live window's top keys of a dimension and status (`/api/top?by=&status=`). */
  top(query: LiveTopQuery): LiveTop {
    return this.#queries.top(query);
  }

  get port(): number {
    return this.#receiver.port;
  }

  stats(): JobStats {
    const counters = this.#counters;
    const checkpoint = this.#checkpoint.stats();
    return {
      eventsIn: counters.eventsIn,
      eventsCounted: counters.visible.eventsCounted,
      parseErrors: counters.visible.parseErrors,
      duplicates: counters.duplicates,
      historyOnlyEvents: counters.historyOnly,
      lastEventMs: counters.lastEventMs,
      windowEndMs: this.#slider.windowEndMs,
      checkpoint: checkpoint.checkpoint,
      slideMs: this.#slider.slideTimes(),
      ...jobMemory(),
      slideHistogram: this.#slider.slideHistogram(),
      checkpointHistogram: checkpoint.histogram,
      distinctUrls: this.#window.size,
      refusedConnections: this.#receiver.refusedConnections,
      resultsWaiting: this.#results.pending,
    };
  }

  /** Sources in this process: their events need no write-ahead log (the files replay them). */
  addLocalSource(sourceId: string): void {
    this.#receiver.addLocalSource(sourceId);
  }

  /** Called after every committed checkpoint. */
  onCommit(listener: () => void): void {
    this.#checkpoint.onCommit(listener);
  }

  /** Called after every batch interval's work (closing batches, persisting, checkpointing). */
  onTick(listener: () => void): void {
    this.#tickListeners.push(listener);
  }

  committedEntries(): [string, number][] {
    return this.#positions.committedEntries();
  }

  /** Every file's figures (lines, parse errors, history-only lines, first counted) as of the last checkpoint. */
  fileFigures(): [string, FileFigures][] {
    return this.#positions.committedFigures();
  }

  /** Offset below which a file's lines are durably counted (in the last committed checkpoint). */
  committed(fileKey: string): number | undefined {
    return this.#positions.committed(fileKey);
  }

  forget(fileKey: string): void {
    this.#positions.forget(fileKey);
    this.#checkpoint.markChanged();
  }

  /** Restores the checkpoint (and replays the write-ahead log), then starts receiving. */
  async start(opts: JobStartOptions = {}): Promise<void> {
    const dir = this.#config.checkpointDir;
    mkdirSync(dir, { recursive: true });
    this.#lock = DirLock.acquire(dir, 'checkpoint directory');
    try {
      if (opts.resetCheckpoint) {
        CheckpointStore.reset(dir);
        checkpointDiscarded.emit(this.#log, { checkpointDir: dir });
      }
      const { loaded, walSeq, started } = this.#checkpoint.restore();
      const replayed = this.#receiver.replayWal(walSeq, loaded !== undefined);
      this.#checkpoint.restored(loaded, replayed, started);
      // Idle counts from now: restored open batches wait for their files to resume.
      this.#time.lastArrivalMs = Date.now();
      const port = await this.#receiver.listen();
      avroReceiverListening.emit(this.#log, { bind: this.#config.bind, port });
    } catch (err) {
      this.#lock.release();
      throw err;
    }
    this.#schedule();
  }

  /** Stops receiving and writes a final checkpoint; open batches stay open for the restart. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#receiver.close();
    clearTimeout(this.#timer);
    clearTimeout(this.#quiet);
    this.#timer = undefined;
    await this.#ticking;
    this.#slider.closeBefore(this.#time.closeLimit(this.#open));
    if (!(await this.#flushAll()) || !this.#checkpoint.tryCommit(true, this.#receiver)) {
      noFinalCheckpoint.emit(this.#log, {});
    }
    this.#receiver.closeWal();
    this.#lock?.release();
  }

  #countCall(ev: DecodedEvents): void {
    this.#counter.count(ev);
    if (!this.#time.eventTime || this.#counters.eventsIn - this.#eventsAtLastTick < EARLY_TICK_EVENTS) return;
    if (this.#quiet) this.#quiet.refresh();
    else this.#quiet = setTimeout(() => this.#quietTick(), QUIET_TICK_MS);
  }

  #quietTick(): void {
    this.#quiet = undefined;
    // (Not before start has scheduled the first tick, nor after stop; and not when a tick ran
    // since the timer was set: a long tick (a minute's rollup of a busy site, ~1 s) holds the
    // calls back, and this timer, due meanwhile, fired before them, starting tick after tick.)
    if (this.#timer === undefined || this.#counters.eventsIn - this.#eventsAtLastTick < EARLY_TICK_EVENTS) return;
    clearTimeout(this.#timer);
    this.#tick();
  }

  #schedule(): void {
    if (this.#stopping) return;
    const due = this.#time.nextTickMs(this.#open.nextToClose);
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, due - Date.now()));
  }

  /** Whether the receiver takes a call: not while results wait for a failed store past the outbox's bound. */
  #accepting(): boolean {
    const full = this.#results.full;
    if (full && !this.#refusing) eventsRefusedResultsWaiting.emit(this.#log, { waiting: this.#results.pending });
    this.#refusing = full;
    return !full;
  }

  /**
   * Writes the results; true when all of them are written, nothing left queued: a
   * checkpoint may follow. With an asynchronous store the job counts and closes batches
   * while a write is in flight, and they are queued meanwhile: they are written next, up
   * to FLUSH_ROUNDS writes in a row (each writes what came during the one before, so they
   * shrink while the store keeps up); if some are still queued the checkpoint waits for the
   * next tick. With SQLite nothing comes meanwhile: one write.
   */
  #flushAll(round = 1): boolean | Promise<boolean> {
    // Everything counted by own time goes to the results before the checkpoint: now, and
    // again once an asynchronous write settles (the lines counted while it was in flight).
    this.#history?.flush();
    return andThen(this.#results.flush(), (written) => {
      if (!written) return false;
      this.#history?.flush();
      if (this.#results.pending === 0) return true;
      return round < FLUSH_ROUNDS ? this.#flushAll(round + 1) : false;
    });
  }

  /**
   * Closes the batches that are due, writes their results, then checkpoints and rolls up.
   * With SQLite all of it runs now; with an asynchronous store the rest runs once the write
   * (or rollup) settles, and no other tick starts before (`#ticking`).
   */
  #tick(): void {
    if (this.#ticking) return;
    this.#counter.newTick();
    try {
      this.#slider.closeBefore(this.#time.closeLimit(this.#open));
    } catch (err) {
      closingBatchFailed.emit(this.#log, { err });
    }
    // Results first: a checkpoint must not get ahead of what the database holds (and the
    // rows written before it are undone at restart if it does not come: see ResultsOutbox).
    const ticked = andThen(this.#flushAll(), (written) => {
      if (!written) return undefined;
      this.#checkpoint.tryCommit(false, this.#receiver);
      // History rollups, behind the batches: a slice of each tick while events come, more when
      // none came since the last tick (not "none for a batch interval": under load a tick that
      // flushes a replay's results lasts longer than that, and the rollups then ran at full length).
      const eventsIn = this.#counters.eventsIn;
      const idle = eventsIn === this.#eventsAtLastTick;
      this.#eventsAtLastTick = eventsIn;
      return this.#results.rollUp(idle ? ROLLUP_IDLE_MS : ROLLUP_BUSY_MS, idle);
    });
    const finish = () => {
      this.#ticking = undefined;
      for (const listener of this.#tickListeners) listener();
      this.#schedule();
    };
    if (!(ticked instanceof Promise)) return finish();
    this.#ticking = ticked.then(finish, (err: unknown) => {
      closingBatchFailed.emit(this.#log, { err });
      finish();
    });
  }
}

/** `f(value)` now, or once `value` resolves. */
function andThen<T, R>(value: T | Promise<T>, f: (v: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(f) : f(value);
}
