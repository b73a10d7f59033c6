import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { AvroReader, AvroRpcServer, DecodedEvents, type Status } from '../channel/index.js';
import { decodeEvent, decodeEventArray, type EventDecodeOptions } from '../channel/avro/flume-event-codec.js';
import { parsePosition, POSITION_HEADER } from '../channel/position-header.js';
import type { UrlWindowJobConfig } from './url-window-config.js';
import type { Logger } from '../log.js';
import type { UrlRange } from './access-log.js';
import { ClfTimeParser } from './clf-time.js';
import { compileUrlParser, type UrlParser } from './log-format.js';
import { CHECKPOINT_FORMAT, CheckpointStore, type LoadedCheckpoint, type SegmentRef } from './checkpoint-store.js';
import { DirLock } from '../durable/index.js';
import { BatchCounts, SlidingWindow } from './sliding-window.js';
import type { WindowResultSink } from './window-results.js';
import { WriteAheadLog } from './write-ahead-log.js';
import { Histogram, type HistogramSnapshot } from './histogram.js';
import { ResultsOutbox } from './results-outbox.js';
import type { PartialCounts } from './partial/partial-counts.js';

interface OpenSlot {
  readonly counts: BatchCounts;
  events: number;
  parseErrors: number;
  /** Where a checkpoint holds its counts, valid while `events` is still `savedEvents`. */
  saved: SegmentRef | undefined;
  savedEvents: number;
  /** The bytes that checkpoint wrote (small batches only), valid as `saved` is: the history row's counts. */
  savedBytes?: Buffer;
}

export interface JobStats {
  /** Events received (parsed or not), duplicates excluded. */
  readonly eventsIn: number;
  /** Events whose URL is counted in a closed batch (visible in the results). */
  readonly eventsCounted: number;
  /** Lines that parsed to no URL, in closed batches. */
  readonly parseErrors: number;
  /** Events received again (a sender's retry) and not counted twice. */
  readonly duplicates: number;
  /** Event time: events older than the watermark, dropped. */
  readonly lateEvents: number;
  readonly windowEndMs: number | undefined;
  readonly checkpoint: { seq: number; writtenAt: number | undefined; lastMs: number };
  /** The last slide's duration and the longest of the last 60, in ms. */
  readonly slideMs: { last: number; max: number };
  /** Distinct URLs in the window now. */
  readonly distinctUrls: number;
  /** The job thread's JavaScript heap. */
  readonly heapUsedMb: number;
  /** Typed arrays and buffers of the job's thread (the interner, the window's slots). */
  readonly buffersMb: number;
  /** Durations of slides and of checkpoints, in ms, for /metrics. */
  readonly slideHistogram: HistogramSnapshot;
  readonly checkpointHistogram: HistogramSnapshot;
  /** Avro connections closed at once: refused by `ipFilterRules`, or past `maxConnections`. */
  readonly refusedConnections: { readonly ipFilter: number; readonly maxConnections: number };
  /** Results waiting for the database (it failed); 0 normally. */
  readonly resultsWaiting: number;
}

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

const WAL_KIND_ARRAY = 1;
const WAL_KIND_SINGLE = 2;

/**
 * The seed's Spark job: receives Flume events over Avro, takes each line's URL, counts
 * URLs per batch interval (by the `timestamp` header: processing time) and slides a
 * window over the batches, persisting every slide's result.
 *
 * Exactly-once: events carry their source position (`lf.pos`), which the job records as
 * it counts them and checkpoints together with the window, so a restarted source resumes
 * where the counted state ends and a resent batch is recognised and skipped. Events from
 * other processes are written ahead to a log, synced before the sender hears OK.
 */
export class UrlWindowJob {
  readonly name: string;
  readonly #config: UrlWindowJobConfig;
  readonly #log: Logger;
  readonly #results: ResultsOutbox;
  readonly #window: SlidingWindow;
  readonly #server: AvroRpcServer;
  readonly #open = new Map<number, OpenSlot>();
  readonly #range: UrlRange = { start: 0, end: 0 };
  readonly #findUrl: UrlParser;
  /** Event time (`time = event`): the lines' own times place them, the watermark closes batches. */
  readonly #eventTime: boolean;
  readonly #clock = new ClfTimeParser();
  #maxEventMs = NaN;
  /** When the last event arrived (wall clock), for `flushAfterIdle`. */
  #lastArrivalMs = 0;
  /** `eventsIn` at the last tick: whether events came since. */
  #eventsAtLastTick = 0;
  #late = 0;
  /** Parse errors seen before the first event time (no batch to put them in yet). */
  #pendingParseErrors = 0;
  readonly #slideSlots: number;
  readonly #decodeOpts: EventDecodeOptions;
  /** Earliest slot not yet closed; events for older slots go here (they arrived late). */
  #nextToClose: number;
  #timer: NodeJS.Timeout | undefined;
  #eventsIn = 0;
  #eventsCounted = 0;
  #parseErrors = 0;
  #duplicates = 0;
  /** Counters as of the last persisted slide: what a reader of the results can see. */
  #visible = { eventsCounted: 0, parseErrors: 0 };
  #windowEndMs: number | undefined;
  #changedSinceSlide = true;

  // Exactly-once state, checkpointed together with the window.
  readonly #positions = new Map<string, number>();
  #committedPositions = new Map<string, number>();
  readonly #fileParseErrors = new Map<string, number>();
  readonly #seenIds = new Map<string, number>();
  /** Closed slots of the window already in a checkpoint segment. */
  readonly #slotRefs = new Map<number, SegmentRef>();
  readonly #localSources = new Set<string>();
  readonly #commitListeners: (() => void)[] = [];
  readonly #tickListeners: (() => void)[] = [];
  #store: CheckpointStore | undefined;
  #wal: WriteAheadLog | undefined;
  #walAppended = false;
  #lock: DirLock | undefined;
  #dirty = false;
  #lastManifest: { seq: number; writtenAt: number } | undefined;
  #lastCheckpointMs = 0;
  /** Durations of the last slides (enter, leave, top-N, persist), for /api/stats. */
  readonly #slideMs: number[] = [];
  readonly #live: Float64Array;
  readonly #slideHistogram = new Histogram();
  readonly #checkpointHistogram = new Histogram();
  /** Malformed lines logged (at debug level) since the last batch closed: a few samples each. */
  #parseErrorSamples = 0;
  /** Checkpoints that failed in a row (a full disk...): logged once, then when it works again. */
  #checkpointFailures = 0;

  /**
   * `liveCounters`, when given, receives eventsIn, eventsCounted (visible), parseErrors
   * (visible) and duplicates as they change: another thread can read them at any time.
   */
  constructor(config: UrlWindowJobConfig, results: WindowResultSink, logger: Logger, liveCounters?: Float64Array) {
    this.name = config.name;
    this.#live = liveCounters ?? new Float64Array(4);
    this.#config = config;
    this.#log = logger.child({ job: config.name });
    this.#results = new ResultsOutbox(results, this.#log);
    this.#window = new SlidingWindow(config.windowDurationMs / config.batchIntervalMs);
    this.#slideSlots = config.slideDurationMs / config.batchIntervalMs;
    this.#findUrl = compileUrlParser(config.logFormat, config.stripQueryString);
    this.#eventTime = config.time === 'event';
    this.#nextToClose = config.time === 'event' ? NaN : this.#slotOf(Date.now());
    this.#server = new AvroRpcServer(
      {
        bind: config.bind,
        port: config.port,
        logger: this.#log,
        maxConnections: config.maxConnections,
        idleTimeoutMs: config.idleTimeoutMs,
        maxFrameBytes: config.maxFrameBytes,
        compressionType: config.compressionType,
        // The worker gets the keystore as a Uint8Array (structured clone), which TLS accepts.
        ...(config.tls && { tls: config.tls }),
        ipFilterRules: config.ipFilterRules,
      },
      (events) => this.#receive(events),
    );
    this.#decodeOpts = {
      timestampHeader: Buffer.from('timestamp'),
      positionHeader: Buffer.from(POSITION_HEADER),
      idHeader: Buffer.from('id'),
      maxEvents: 1_000_000,
    };
  }

  get port(): number {
    return this.#server.port;
  }

  stats(): JobStats {
    return {
      eventsIn: this.#eventsIn,
      eventsCounted: this.#visible.eventsCounted,
      parseErrors: this.#visible.parseErrors,
      duplicates: this.#duplicates,
      lateEvents: this.#late,
      windowEndMs: this.#windowEndMs,
      checkpoint: { seq: this.#lastManifest?.seq ?? 0, writtenAt: this.#lastManifest?.writtenAt, lastMs: this.#lastCheckpointMs },
      slideMs: { last: this.#slideMs.at(-1) ?? 0, max: Math.max(0, ...this.#slideMs) },
      ...jobMemory(),
      slideHistogram: this.#slideHistogram.snapshot(),
      checkpointHistogram: this.#checkpointHistogram.snapshot(),
      distinctUrls: this.#window.size,
      refusedConnections: this.#server.refusedConnections,
      resultsWaiting: this.#results.pending,
    };
  }

  /** Sources in this process: their events need no write-ahead log (the files replay them). */
  addLocalSource(sourceId: string): void {
    this.#localSources.add(sourceId);
  }

  /** Called after every committed checkpoint. */
  onCommit(listener: () => void): void {
    this.#commitListeners.push(listener);
  }

  /** Called after every batch interval's work (closing batches, persisting, checkpointing). */
  onTick(listener: () => void): void {
    this.#tickListeners.push(listener);
  }

  committedEntries(): [string, number][] {
    return [...this.#committedPositions];
  }

  parseErrorEntries(): [string, number][] {
    return [...this.#fileParseErrors];
  }

  /** Offset below which a file's lines are durably counted (in the last committed checkpoint). */
  committed(fileKey: string): number | undefined {
    return this.#committedPositions.get(fileKey);
  }

  forget(fileKey: string): void {
    this.#positions.delete(fileKey);
    this.#fileParseErrors.delete(fileKey);
    this.#dirty = true;
  }

  parseErrors(fileKey: string): number {
    return this.#fileParseErrors.get(fileKey) ?? 0;
  }

  /** Restores the checkpoint (and replays the write-ahead log), then starts receiving. */
  async start(opts: JobStartOptions = {}): Promise<void> {
    const dir = this.#config.checkpointDir;
    mkdirSync(dir, { recursive: true });
    this.#lock = DirLock.acquire(dir, 'checkpoint directory');
    try {
      if (opts.resetCheckpoint) {
        CheckpointStore.reset(dir);
        this.#log.warn({ checkpointDir: dir }, 'checkpoint discarded (--reset-checkpoint)');
      }
      this.#restore();
      // Idle counts from now: restored open batches wait for their files to resume.
      this.#lastArrivalMs = Date.now();
      const port = await this.#server.listen();
      this.#log.info({ bind: this.#config.bind, port }, 'avro receiver listening');
    } catch (err) {
      this.#lock.release();
      throw err;
    }
    this.#schedule();
  }

  /** Stops receiving and writes a final checkpoint; open batches stay open for the restart. */
  async stop(): Promise<void> {
    await this.#server.close();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#closeSlotsBefore(this.#closeLimit());
    if (!this.#results.flush() || !this.#tryCheckpoint(true)) {
      this.#log.error('no final checkpoint (see the errors above); a restart recounts from the last one');
    }
    this.#wal?.close();
    this.#lock?.release();
  }

  #restore(): void {
    const dir = this.#config.checkpointDir;
    const walDir = path.join(dir, 'wal');
    this.#store = new CheckpointStore(dir, {
      job: this.#config.name,
      type: this.#config.type,
      batchIntervalMs: this.#config.batchIntervalMs,
      windowDurationMs: this.#config.windowDurationMs,
      time: this.#config.time,
    });
    const started = performance.now();
    const loaded = this.#store.load();
    let walSeq = 0;
    if (loaded) {
      const m = loaded.manifest;
      this.#window.restore(loaded.slots, m.lastSlot);
      for (const s of loaded.slots) if (s.ref) this.#slotRefs.set(s.slot, s.ref);
      for (const o of loaded.open) {
        const counts = this.#window.openBatchFromBytes(o.data);
        this.#open.set(o.slot, { counts, events: o.events, parseErrors: o.parseErrors, saved: o.ref, savedEvents: o.events });
      }
      for (const [k, v] of m.positions) this.#positions.set(k, v);
      for (const [k, v] of m.fileParseErrors) this.#fileParseErrors.set(k, v);
      for (const [k, v] of m.seenIds) this.#seenIds.set(k, v);
      this.#eventsIn = m.counters.eventsIn;
      this.#eventsCounted = m.counters.eventsCounted;
      this.#parseErrors = m.counters.parseErrors;
      this.#duplicates = m.counters.duplicates;
      this.#visible = { ...m.visible };
      this.#publish();
      this.#nextToClose = m.nextToClose ?? NaN;
      this.#maxEventMs = m.maxEventMs ?? NaN;
      this.#late = m.counters.late ?? 0;
      this.#pendingParseErrors = m.pendingParseErrors ?? 0;
      this.#committedPositions = new Map(this.#positions);
      this.#lastManifest = m;
      walSeq = m.walSeq;
    } else {
      this.#nextToClose = this.#eventTime ? NaN : this.#slotOf(Date.now());
    }
    let replayed = 0;
    for (const record of WriteAheadLog.replay(walDir, walSeq)) replayed += this.#replay(record);
    this.#wal = new WriteAheadLog(walDir, Math.max(walSeq, WriteAheadLog.lastSegment(walDir) + 1));
    this.#dirty = replayed > 0;
    if (loaded?.migratedFrom !== undefined) this.#logMigration(loaded);
    if (loaded || replayed > 0) {
      this.#log.info(
        {
          checkpointSeq: loaded?.manifest.seq,
          slots: loaded?.slots.length ?? 0,
          openSlots: this.#open.size,
          files: this.#positions.size,
          walEventsReplayed: replayed,
          ms: Math.round(performance.now() - started),
        },
        'resumed from checkpoint',
      );
    }
  }

  #logMigration(loaded: LoadedCheckpoint): void {
    // The first checkpoint rewrites it in the current format.
    this.#dirty = true;
    this.#log.warn(
      { checkpointDir: this.#config.checkpointDir, fromFormat: loaded.migratedFrom, toFormat: CHECKPOINT_FORMAT, slots: loaded.slots.length, openBatches: loaded.open.length },
      `checkpoint migrated from format ${loaded.migratedFrom} to ${CHECKPOINT_FORMAT}`,
    );
  }

  #replay(record: Buffer): number {
    const events = new DecodedEvents();
    events.reset(record);
    const r = new AvroReader(record, 1);
    if (record[0] === WAL_KIND_SINGLE) decodeEvent(r, events, this.#decodeOpts);
    else decodeEventArray(r, events, this.#decodeOpts);
    this.#count(events);
    return events.count;
  }

  #slotOf(ms: number): number {
    return Math.floor(ms / this.#config.batchIntervalMs);
  }

  #receive(ev: DecodedEvents): Status | Promise<Status> {
    const local = this.#isLocal(ev);
    if (!local && this.#wal && ev.count > 0) {
      const kind = Buffer.from([ev.single ? WAL_KIND_SINGLE : WAL_KIND_ARRAY]);
      this.#wal.append(Buffer.concat([kind, ev.data.subarray(ev.encodedStart, ev.encodedEnd)]));
      this.#walAppended = true;
    }
    this.#count(ev);
    if (local || !this.#wal) return 'OK';
    return this.#wal.sync().then(() => 'OK' as const);
  }

  /** A call from a source of this process: its first event's position names it. */
  #isLocal(ev: DecodedEvents): boolean {
    if (ev.count === 0 || ev.posStarts[0] === -1) return false;
    const dash = ev.data.indexOf(45, ev.posStarts[0]);
    return dash > 0 && dash < ev.posEnds[0]! && this.#localSources.has(ev.data.toString('latin1', ev.posStarts[0], dash));
  }

  /**
   * Counts events into their open slots, skipping what was counted before. A source batch
   * is a run of events whose first carries `lf.pos = key:offset:n`; the run is skipped
   * when the position says it was counted already.
   */
  #count(ev: DecodedEvents): void {
    const data = ev.data;
    const range = this.#range;
    const findUrl = this.#findUrl;
    const now = this.#slotOf(Date.now());
    let lastTs = NaN;
    let slot: OpenSlot | undefined;
    let runLeft = 0;
    let runKey = '';
    let skipRun = false;
    for (let i = 0; i < ev.count; i++) {
      const ps = ev.posStarts[i]!;
      if (ps !== -1) {
        const run = parsePosition(data.toString('latin1', ps, ev.posEnds[i]));
        runKey = run.key;
        runLeft = run.events;
        skipRun = (this.#positions.get(run.key) ?? -1) >= run.offset;
        if (!skipRun) this.#positions.set(run.key, run.offset);
      }
      const inRun = runLeft > 0;
      if (inRun) {
        runLeft--;
        if (skipRun) {
          this.#duplicates++;
          continue;
        }
      } else if (ev.idStarts[i] !== -1 && this.#seen(data.toString('utf8', ev.idStarts[i], ev.idEnds[i]))) {
        this.#duplicates++;
        continue;
      }
      if (this.#eventTime) {
        this.#countByEventTime(data, ev.starts[i]!, ev.ends[i]!, inRun ? runKey : undefined);
        continue;
      }
      const ts = ev.timestamps[i]!;
      if (ts !== lastTs || slot === undefined) {
        lastTs = ts;
        // Late events join the oldest open batch; events from the future join the newest.
        const k = Number.isNaN(ts) ? now : Math.min(Math.max(this.#slotOf(ts), this.#nextToClose), Math.max(now, this.#nextToClose));
        slot = this.#slot(k);
      }
      slot.events++;
      this.#eventsIn++;
      if (findUrl(data, ev.starts[i]!, ev.ends[i]!, range)) {
        slot.counts.add(this.#window.urls.id(data, range.start, range.end));
      } else {
        slot.parseErrors++;
        if (this.#parseErrorSamples++ < 5) {
          this.#log.debug({ line: data.toString('utf8', ev.starts[i]!, Math.min(ev.ends[i]!, ev.starts[i]! + 300)), file: inRun ? runKey : undefined }, 'not an access-log line (sample)');
        }
        if (inRun) this.#fileParseErrors.set(runKey, (this.#fileParseErrors.get(runKey) ?? 0) + 1);
      }
    }
    if (ev.count > 0) {
      this.#dirty = true;
      this.#lastArrivalMs = Date.now();
    }
    if (this.#eventTime) this.#closeBehindWatermark();
    this.#publish();
  }

  /**
   * Event time: the line's own `[time]` places it; a line older than the watermark (its
   * batch has closed) is late, counted and dropped. Lines that are not access-log lines,
   * or have no time, are parse errors of the newest open batch.
   */
  #countByEventTime(data: Buffer, start: number, end: number, fileKey: string | undefined): void {
    const range = this.#range;
    range.timeStart = -1;
    const ok = this.#findUrl(data, start, end, range);
    const time = ok && range.timeStart !== undefined && range.timeStart >= 0 ? this.#clock.parse(data, range.timeStart, range.timeEnd!) : NaN;
    if (Number.isNaN(time)) {
      const k = Number.isNaN(this.#nextToClose) ? NaN : Math.max(this.#nextToClose, this.#slotOf(this.#maxEventMs));
      if (Number.isNaN(k)) this.#pendingParseErrors++;
      else this.#slot(k).parseErrors++;
      const slot = Number.isNaN(k) ? undefined : this.#slot(k);
      if (slot) slot.events++;
      this.#eventsIn++;
      if (fileKey) this.#fileParseErrors.set(fileKey, (this.#fileParseErrors.get(fileKey) ?? 0) + 1);
      return;
    }
    const k = this.#slotOf(time);
    if (Number.isNaN(this.#nextToClose)) this.#nextToClose = k;
    this.#eventsIn++;
    // Late by the watermark as of this line (not as of the last tick): the same log gives
    // the same answer however fast it is read.
    if (time < this.#maxEventMs - this.#config.watermarkMs || k < this.#nextToClose) {
      this.#late++;
      return;
    }
    if (!(time <= this.#maxEventMs)) this.#maxEventMs = time;
    const slot = this.#slot(k);
    if (this.#pendingParseErrors > 0) {
      slot.parseErrors += this.#pendingParseErrors;
      slot.events += this.#pendingParseErrors;
      this.#pendingParseErrors = 0;
    }
    slot.events++;
    slot.counts.add(this.#window.urls.id(data, range.start, range.end));
  }

  /**
   * Event time: closes the batches the watermark has passed as events come, not only at the
   * tick. A replay reads ~27 hours of log per second: waiting for the tick kept ~100,000
   * batches open (one per second of log) and allocated each. The newest slide's batches wait
   * for the tick, which persists that window's top; the ones closed here persist their rows.
   */
  #closeBehindWatermark(): void {
    if (Number.isNaN(this.#maxEventMs)) return;
    const limit = this.#slotOf(this.#maxEventMs - this.#config.watermarkMs) - this.#slideSlots;
    if (!(limit > this.#nextToClose)) return;
    try {
      this.#closeSlotsBefore(limit, false);
    } catch (err) {
      this.#log.error({ err }, 'closing a batch failed; retrying next batch interval');
    }
  }

  /**
   * A query node's input: a counter's partial counts, applied once. `key`'s recorded
   * sequence (checkpointed with the window) tells a partial applied before a crash.
   */
  applyPartial(key: string, seq: number, partial: PartialCounts): void {
    if ((this.#positions.get(key) ?? 0) >= seq) {
      this.#duplicates += partial.events;
      return;
    }
    this.#positions.set(key, seq);
    this.#eventsIn += partial.events;
    // A partial is this node's arrival: `flushAfterIdle` counts from it, as from an event.
    if (partial.events > 0) this.#lastArrivalMs = Date.now();
    // The counter's batches may be finer than ours: place each by its start time.
    const slotOf = (s: { slot: number }) => this.#slotOf(s.slot * partial.batchMs);
    if (this.#eventTime && Number.isNaN(this.#nextToClose) && partial.slots.length > 0) this.#nextToClose = Math.min(...partial.slots.map(slotOf));
    const now = this.#slotOf(Date.now());
    for (const s of partial.slots) {
      let k = slotOf(s);
      const urls = s.urls.reduce((n, [, c]) => n + c, 0);
      if (this.#eventTime && k < this.#nextToClose) {
        this.#late += urls;
        continue;
      }
      if (!this.#eventTime) k = Math.min(Math.max(k, this.#nextToClose), Math.max(now, this.#nextToClose));
      const slot = this.#slot(k);
      slot.events += urls + s.parseErrors;
      slot.parseErrors += s.parseErrors;
      for (const [url, n] of s.urls) slot.counts.add(this.#window.urls.idOfString(url), n);
    }
    if (partial.maxEventMs !== null && !(partial.maxEventMs <= this.#maxEventMs)) this.#maxEventMs = partial.maxEventMs;
    if (partial.unplacedErrors > 0) {
      const k = Number.isNaN(this.#nextToClose) ? NaN : Math.max(this.#nextToClose, this.#slotOf(this.#maxEventMs));
      if (Number.isNaN(k)) this.#pendingParseErrors += partial.unplacedErrors;
      else {
        const slot = this.#slot(k);
        slot.events += partial.unplacedErrors;
        slot.parseErrors += partial.unplacedErrors;
      }
    }
    this.#dirty = true;
    this.#publish();
  }

  #publish(): void {
    const live = this.#live;
    live[0] = this.#eventsIn;
    live[1] = this.#visible.eventsCounted;
    live[2] = this.#visible.parseErrors;
    live[3] = this.#duplicates;
  }

  /** True if the id was seen within the window; remembers it until it leaves the window. */
  #seen(id: string): boolean {
    if (this.#seenIds.has(id)) return true;
    this.#seenIds.set(id, this.#slotOf(Date.now()) + this.#window.windowSlots);
    return false;
  }

  #slot(k: number): OpenSlot {
    let s = this.#open.get(k);
    if (!s) {
      s = { counts: this.#window.openBatch(), events: 0, parseErrors: 0, saved: undefined, savedEvents: 0 };
      this.#open.set(k, s);
    }
    return s;
  }

  #schedule(): void {
    // Processing time: at the end of the oldest open batch. Event time: every interval.
    const bi = this.#config.batchIntervalMs;
    const due = this.#eventTime ? (Math.floor(Date.now() / bi) + 1) * bi : (this.#nextToClose + 1) * bi;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, due - Date.now()));
  }

  /**
   * Batches below this slot are over: by the clock, or by the watermark in event time; or
   * all of them once no event has come for `flushAfterIdle` (the tail of a historical log
   * would wait for newer lines forever). The closed slots move `nextToClose` past the newest
   * event, so a line that comes later and is older counts as late.
   */
  #closeLimit(): number {
    if (!this.#eventTime) return this.#slotOf(Date.now());
    if (Number.isNaN(this.#maxEventMs)) return -Infinity;
    const idleMs = this.#config.flushAfterIdleMs;
    if (idleMs > 0 && this.#open.size > 0 && Date.now() - this.#lastArrivalMs >= idleMs) return this.#slotOf(this.#maxEventMs) + 1;
    return this.#slotOf(this.#maxEventMs - this.#config.watermarkMs);
  }

  #tick(): void {
    this.#parseErrorSamples = 0;
    try {
      this.#closeSlotsBefore(this.#closeLimit());
    } catch (err) {
      this.#log.error({ err }, 'closing a batch failed; retrying next batch interval');
    }
    // Results first: a checkpoint must not get ahead of what the database holds.
    if (this.#results.flush()) {
      this.#tryCheckpoint(false);
      // History rollups, behind the batches: a slice of each tick while events come, more when
      // none came since the last tick (not "none for a batch interval": under load a tick that
      // flushes a replay's results lasts longer than that, and the rollups then ran at full length).
      const idle = this.#eventsIn === this.#eventsAtLastTick;
      this.#eventsAtLastTick = this.#eventsIn;
      this.#results.rollUp(idle ? ROLLUP_IDLE_MS : ROLLUP_BUSY_MS);
    }
    for (const listener of this.#tickListeners) listener();
    this.#schedule();
  }

  /** Closes every slot below `limit` in order; each slide boundary persists a result. */
  /**
   * `newest`: the last slide boundary before `limit` is the newest window (its top is
   * persisted), and the ids that left are released (a pass over the open batches: done per
   * tick, not per call, since 7,200 open batches made it the replay's largest cost).
   */
  #closeSlotsBefore(limit: number, newest = true): void {
    try {
      this.#closeEach(limit, newest);
    } finally {
      if (newest) this.#window.releaseEmptied();
    }
  }

  #closeEach(limit: number, newest: boolean): void {
    while (this.#nextToClose < limit) {
      const started = performance.now();
      const k = this.#nextToClose;
      const open = this.#open.get(k);
      const counted = open ? open.events - open.parseErrors : 0;
      this.#open.delete(k);
      this.#nextToClose++;
      if (this.#window.advance(k, open?.counts, counted)) this.#changedSinceSlide = true;
      if (open) {
        this.#eventsCounted += counted;
        this.#parseErrors += open.parseErrors;
        this.#dirty = true;
      }
      if ((k + 1) % this.#slideSlots === 0) {
        if (newest && limit - k <= this.#slideSlots) {
          this.#persist(k);
          const ms = performance.now() - started;
          this.#slideMs.push(ms);
          this.#slideHistogram.observe(ms);
          if (this.#slideMs.length > 60) this.#slideMs.shift();
        } else if (this.#eventTime) {
          // A historical log's timeline: every window's row (its top is rebuilt from the history).
          this.#persist(k, true);
        }
        // (Processing time after a pause: the intermediate slides are skipped.)
      }
      // The closed batch's history row: not the slide's work.
      if (open && this.#config.history) {
        // A batch unchanged since a checkpoint wrote it has those bytes already (encodeSlot
        // would make the same); see `savedBytes`.
        const saved = open.savedBytes !== undefined && open.savedEvents === open.events ? open.savedBytes : undefined;
        this.#results.saveBatch({
          startMs: k * this.#config.batchIntervalMs,
          events: open.events,
          parseErrors: open.parseErrors,
          counts: open.counts.size > 0 ? saved ?? this.#window.encodeSlot(k) : Buffer.alloc(0),
        });
      }
    }
  }

  #persist(k: number, rowOnly = false): void {
    const endMs = (k + 1) * this.#config.batchIntervalMs;
    const w = this.#window;
    if (rowOnly) {
      this.#results.saveWindow({ startMs: endMs - this.#config.windowDurationMs, endMs, total: w.total, distinctUrls: w.size, top: [], changed: true, rowOnly });
      return;
    }
    const visible = { eventsCounted: this.#eventsCounted, parseErrors: this.#parseErrors };
    this.#results.saveWindow(
      {
        startMs: endMs - this.#config.windowDurationMs,
        endMs,
        total: w.total,
        distinctUrls: w.size,
        top: this.#changedSinceSlide ? w.top(this.#config.topN) : [],
        changed: this.#changedSinceSlide,
      },
      // What readers see follows what the database holds.
      () => {
        this.#windowEndMs = endMs;
        this.#visible = visible;
        this.#publish();
      },
    );
    this.#changedSinceSlide = false;
  }

  /**
   * A checkpoint that fails (disk full, directory gone) is retried every batch interval;
   * counting goes on meanwhile, and files are finished only once one succeeds.
   */
  #tryCheckpoint(force: boolean): boolean {
    try {
      this.#checkpoint(force);
    } catch (err) {
      if (this.#checkpointFailures++ === 0) {
        this.#log.error({ err, checkpointDir: this.#config.checkpointDir }, 'checkpoint failed; counting goes on, files are finished once a checkpoint succeeds; retrying every batch interval');
      }
      return false;
    }
    if (this.#checkpointFailures > 0) {
      this.#log.warn({ failedAttempts: this.#checkpointFailures }, 'checkpoint written again');
      this.#checkpointFailures = 0;
    }
    return true;
  }

  /** Commits window, open slots, positions and counters together, if anything changed. */
  #checkpoint(force: boolean): void {
    if (!this.#store || (!this.#dirty && !force)) return;
    const started = performance.now();
    const windowSlots = this.#window.slots();
    const live = new Set(windowSlots.map((s) => s.slot));
    for (const slot of this.#slotRefs.keys()) if (!live.has(slot)) this.#slotRefs.delete(slot);
    // A closed batch's counts are written once, by the first checkpoint that finds it in the
    // window (a historical log closes thousands per second; most leave before then); an open
    // batch's again only when it counted more since.
    const slots = windowSlots.map((s) => {
      const ref = this.#slotRefs.get(s.slot);
      return ref ? { ...s, ref } : { ...s, data: this.#window.encodeSlot(s.slot) };
    });
    const openSlots = [...this.#open];
    const open = openSlots.map(([slot, o]) => {
      const state = { slot, events: o.events, parseErrors: o.parseErrors };
      return o.saved && o.savedEvents === o.events ? { ...state, ref: o.saved } : { ...state, data: this.#window.encodeBatch(o.counts) };
    });
    const oldest = this.#nextToClose;
    for (const [id, expires] of this.#seenIds) if (expires < oldest) this.#seenIds.delete(id);
    const walSeq = this.#walAppended ? this.#wal!.rotate() : this.#wal!.seq;
    this.#walAppended = false;
    const committed = this.#store.commit({
      nextToClose: Number.isNaN(this.#nextToClose) ? null : this.#nextToClose,
      maxEventMs: Number.isNaN(this.#maxEventMs) ? null : this.#maxEventMs,
      pendingParseErrors: this.#pendingParseErrors,
      lastSlot: this.#window.lastSlot,
      counters: { eventsIn: this.#eventsIn, eventsCounted: this.#eventsCounted, parseErrors: this.#parseErrors, duplicates: this.#duplicates, late: this.#late },
      visible: this.#visible,
      positions: [...this.#positions],
      fileParseErrors: [...this.#fileParseErrors],
      slots,
      open,
      seenIds: [...this.#seenIds],
      walSeq,
    });
    this.#lastManifest = committed.manifest;
    windowSlots.forEach((s, i) => this.#slotRefs.set(s.slot, committed.slotRefs[i]!));
    openSlots.forEach(([, o], i) => {
      o.saved = committed.openRefs[i];
      o.savedEvents = o.events;
      // Kept for the batch's history row when it closes: an event-time replay encoded each
      // batch twice, here and at close (cpu profile, watermark 7200: encoding at close was
      // 282 ms of the job thread's 4.8 s). Small batches only: a processing-time batch of a
      // million URLs would hold tens of MB more until it closes.
      const piece = open[i]!;
      if ('data' in piece) o.savedBytes = piece.data.length <= KEEP_SAVED_BYTES ? piece.data : undefined;
    });
    this.#wal!.deleteBefore(walSeq);
    this.#committedPositions = new Map(this.#positions);
    this.#dirty = false;
    this.#lastCheckpointMs = performance.now() - started;
    this.#checkpointHistogram.observe(this.#lastCheckpointMs);
    for (const listener of this.#commitListeners) listener();
  }
}

/** Open batches whose checkpointed counts are at most this many bytes keep them (`savedBytes`). */
const KEEP_SAVED_BYTES = 64 * 1024;

/** `key:offset:events` (events defaults to 1 for senders that mark every event). */
function jobMemory(): { heapUsedMb: number; buffersMb: number } {
  const m = process.memoryUsage();
  return { heapUsedMb: Math.round(m.heapUsed / 1048576), buffersMb: Math.round(m.arrayBuffers / 1048576) };
}
