import type { Logger } from '../log.js';
import { Histogram, type HistogramSnapshot } from '../telemetry/histogram.js';
import type { JobCounters } from './job-stats.js';
import type { OpenBatch, OpenBatches } from './open-batches.js';
import type { ResultsOutbox } from './results-outbox.js';
import type { WindowSet } from '../counts/window-set.js';
import { ANY_STATUS } from '../counts/dimension-window.js';
import type { TimeMode } from './time-mode.js';
import type { UrlWindowJobConfig } from './url-window-config.js';
import { closingBatchFailed } from '../telemetry/index.js';

/** Told when the state a checkpoint holds has changed. */
export interface ChangeListener {
  markChanged(): void;
}

/**
 * Event time: batches behind the watermark close once this many windows' worth can (and
 * at every tick); all but the newest window's then pass by the window.
 */
const CATCH_UP_WINDOWS = 8;
/**
 * ...and while fewer events than this came since the last close. The batches then hold
 * few URLs each (sparse counts); a busy site's second of log can hold thousands, each batch
 * past 2,048 URLs indexed by an array over the id space (4 MB at a million URLs): thousands
 * of those kept open would not fit in memory.
 */
const CATCH_UP_MAX_EVENTS = 50_000;
const EMPTY = Buffer.alloc(0);

type SliderConfig = Pick<UrlWindowJobConfig, 'batchIntervalMs' | 'windowDurationMs' | 'slideDurationMs' | 'topN' | 'history'>;

/**
 * Closes open batches, in order, into the sliding window; at each slide boundary persists
 * the window's result, and in event time per closed batch its history row (the lines' own
 * time), through the results outbox. Batches reopened after an early firing (event time)
 * are added to the window and the history as they are. What readers see (`visible`
 * counters, `windowEndMs`) follows what the database holds.
 */
export class WindowSlider {
  readonly #config: SliderConfig;
  readonly #slideSlots: number;
  readonly #window: WindowSet;
  readonly #open: OpenBatches;
  readonly #time: TimeMode;
  readonly #counters: JobCounters;
  readonly #results: ResultsOutbox;
  readonly #changes: ChangeListener;
  readonly #log: Logger;
  /** Event time with the history on: batches of a catch-up pass by the window (`#passBelow`). */
  readonly #passesOld: boolean;
  /** Event time with the history on: a closed batch is its own time's history row. */
  readonly #writesHistory: boolean;
  /** `eventsIn` at the last close: how many events the open batches may hold since. */
  #eventsAtClose = 0;
  /** Whether the window changed since the last slide persisted its top (if not, the top is not recomputed). */
  #changedSinceSlide = true;
  #windowEndMs: number | undefined;
  /** Durations of the last slides (enter, leave, top-N, persist), for /api/stats. */
  readonly #slideMs: number[] = [];
  readonly #slideHistogram = new Histogram();

  constructor(
    config: SliderConfig,
    parts: { window: WindowSet; open: OpenBatches; time: TimeMode; counters: JobCounters; results: ResultsOutbox; changes: ChangeListener },
    log: Logger,
  ) {
    this.#config = config;
    this.#slideSlots = config.slideDurationMs / config.batchIntervalMs;
    this.#window = parts.window;
    this.#open = parts.open;
    this.#time = parts.time;
    this.#counters = parts.counters;
    this.#results = parts.results;
    this.#changes = parts.changes;
    this.#log = log;
    this.#passesOld = parts.time.eventTime && config.history;
    this.#writesHistory = parts.time.eventTime && config.history;
  }

  /** End of the last window persisted (visible to readers). */
  get windowEndMs(): number | undefined {
    return this.#windowEndMs;
  }

  /** The last slide's duration and the longest of the last 60, in ms. */
  slideTimes(): { last: number; max: number } {
    return { last: this.#slideMs.at(-1) ?? 0, max: Math.max(0, ...this.#slideMs) };
  }

  slideHistogram(): HistogramSnapshot {
    return this.#slideHistogram.snapshot();
  }

  /**
   * Closes every slot below `limit` in order; each slide boundary persists a result.
   * `newest`: the last slide boundary before `limit` is the newest window (its top is
   * persisted), and the ids that left are released (a pass over the open batches: done per
   * tick, not per call, since 7,200 open batches made it the replay's largest cost).
   */
  closeBefore(limit: number, newest = true): void {
    this.#eventsAtClose = this.#counters.eventsIn;
    try {
      const amended = this.#addReopened();
      const persisted = this.#closeEach(limit, newest);
      // An update of what an early firing showed, with no slide since: the same window again.
      const last = this.#window.lastSlot;
      if (amended && newest && !persisted && last !== undefined && this.#windowEndMs !== undefined) {
        this.#persist(Math.min(last, this.#windowEndMs / this.#config.batchIntervalMs - 1));
      }
    } finally {
      if (newest) this.#window.releaseEmptied();
    }
  }

  /**
   * Event time: batches reopened below `nextToClose` (lines within the watermark of batches
   * an idle flush fired early) are added to the window's slots and, as rows that add up, to
   * the history. Returns whether there were any.
   */
  #addReopened(): boolean {
    const reopened = this.#open.takeReopened();
    const counters = this.#counters;
    for (const [k, batch] of reopened) {
      const counted = batch.events - batch.parseErrors;
      counters.eventsCounted += counted;
      counters.parseErrors += batch.parseErrors;
      if (this.#writesHistory) this.#saveHistoryRow(k, batch, false);
      if (this.#window.holds(k)) this.#window.amend(k, batch.counts, counted);
      else this.#window.pass(batch.counts);
      this.#changedSinceSlide = true;
      this.#changes.markChanged();
    }
    return reopened.length > 0;
  }

  /**
   * Event time: closes the batches the watermark has passed as events come, not only at the
   * tick. A replay reads ~27 hours of log per second: waiting for the tick kept ~100,000
   * batches open (one per second of log) and allocated each. The newest slide's batches wait
   * for the tick, which persists that window's top; the ones closed here write their history rows.
   */
  closeBehindWatermark(): void {
    if (Number.isNaN(this.#time.maxEventMs)) return;
    const limit = this.#time.watermarkLimit(this.#open, this.#slideSlots);
    // With the history on, closing waits for several windows' worth of batches: all but the
    // newest window's then pass by the window (`#passBelow`). Closed as they came, ~100 per
    // call (a call of 1,000 lines spans ~100 s of the bench's log), each entered the window
    // and left it again 300 batches later, and each slide wrote a `windows` row.
    // (Not while many events wait: a busy site's batches are large, and their per-batch cost small.)
    const wait = this.#passesOld && this.#counters.eventsIn - this.#eventsAtClose < CATCH_UP_MAX_EVENTS ? CATCH_UP_WINDOWS * this.#window.windowSlots : 1;
    if (!(limit - this.#open.nextToClose >= wait)) return;
    try {
      this.closeBefore(limit, false);
    } catch (err) {
      closingBatchFailed.emit(this.#log, { err });
    }
  }

  /**
   * Event time with the history on: batches below this slot, of those closing below
   * `limit`, are in no window that will be persisted (the newest one persisted ends at a
   * slide boundary at or after `limit - slideSlots`, since the limit only grows). They close
   * into their history row without entering the window; `/api/windows` rebuilds the
   * windows along the log from those rows.
   */
  #passBelow(limit: number): number {
    return this.#passesOld ? limit - this.#slideSlots - this.#window.windowSlots : -Infinity;
  }

  /** Closes a batch that passes by the window: its counters and its history row. */
  #pass(k: number): void {
    const batch = this.#open.take(k);
    this.#open.nextToClose = k + 1;
    if (!batch) return;
    const counters = this.#counters;
    counters.eventsCounted += batch.events - batch.parseErrors;
    counters.parseErrors += batch.parseErrors;
    this.#changes.markChanged();
    this.#saveHistoryRow(k, batch, false);
    this.#window.pass(batch.counts);
  }

  /** A closed batch's history row, its counts encoded from the window's slot once it `entered`, else from the batch. */
  #saveHistoryRow(k: number, batch: OpenBatch, entered: boolean): void {
    // A batch unchanged since a checkpoint wrote it has those bytes already; see `savedBytes`.
    const saved = batch.savedBytes !== undefined && batch.savedEvents === batch.events ? batch.savedBytes : undefined;
    this.#results.saveBatch({
      startMs: k * this.#config.batchIntervalMs,
      events: batch.events,
      parseErrors: batch.parseErrors,
      counts: batch.counts.size === 0 ? EMPTY : saved ?? (entered ? this.#window.encodeSlot(k) : this.#window.encodeBatch(batch.counts)),
    });
  }

  /** Closes the slots below `limit`; returns whether the newest window was persisted. */
  #closeEach(limit: number, newest: boolean): boolean {
    const open = this.#open;
    const counters = this.#counters;
    let persisted = false;
    // Slot by slot only where there is something to do: the open batches, and the last
    // slide's slots (persisted). Logs a year apart, read in order, left 31 million empty
    // slots between them, walked one by one: 40 s for 20,000 lines (bench, replay).
    const slots = open.slotsIn(open.nextToClose, limit);
    let next = 0;
    const passBelow = this.#passBelow(limit);
    for (; next < slots.length && slots[next]! < passBelow; next++) this.#pass(slots[next]!);
    if (open.nextToClose < passBelow) open.nextToClose = passBelow;
    // (With no history in event time every slide along the log writes its row: no skipping.)
    const everySlot = this.#time.eventTime && !this.#config.history;
    while (open.nextToClose < limit) {
      if (!everySlot) {
        // The window's advance takes the empty slots skipped here out of it.
        const to = Math.min(slots[next] ?? Infinity, limit - this.#slideSlots);
        if (to > open.nextToClose) open.nextToClose = to;
      }
      if (slots[next] === open.nextToClose) next++;
      const started = performance.now();
      const k = open.nextToClose;
      const batch = open.take(k);
      const counted = batch ? batch.events - batch.parseErrors : 0;
      open.nextToClose++;
      if (this.#window.advance(k, batch?.counts, counted)) this.#changedSinceSlide = true;
      if (batch) {
        counters.eventsCounted += counted;
        counters.parseErrors += batch.parseErrors;
        this.#changes.markChanged();
      }
      if ((k + 1) % this.#slideSlots === 0) {
        if (newest && limit - k <= this.#slideSlots) {
          this.#persist(k);
          persisted = true;
          const ms = performance.now() - started;
          this.#slideMs.push(ms);
          this.#slideHistogram.observe(ms);
          if (this.#slideMs.length > 60) this.#slideMs.shift();
        } else if (this.#time.eventTime && !this.#config.history) {
          // A historical log's timeline, with no history to rebuild it from: every window's row.
          this.#persist(k, true);
        }
        // (Processing time after a pause: the intermediate slides are skipped.)
      }
      // The closed batch's history row: not the slide's work.
      if (batch && this.#writesHistory) this.#saveHistoryRow(k, batch, true);
    }
    return persisted;
  }

  #persist(k: number, rowOnly = false): void {
    const endMs = (k + 1) * this.#config.batchIntervalMs;
    const w = this.#window;
    if (rowOnly) {
      this.#results.saveWindow({ startMs: endMs - this.#config.windowDurationMs, endMs, total: w.total, distinctUrls: w.size, top: [], changed: true, rowOnly });
      return;
    }
    const counters = this.#counters;
    const visible = { eventsCounted: counters.eventsCounted, parseErrors: counters.parseErrors };
    this.#results.saveWindow(
      {
        startMs: endMs - this.#config.windowDurationMs,
        endMs,
        total: w.total,
        distinctUrls: w.size,
        top: this.#changedSinceSlide ? w.top(w.defaultDimension, this.#config.topN, ANY_STATUS).items : [],
        dimension: w.defaultDimension,
        changed: this.#changedSinceSlide,
      },
      // What readers see follows what the database holds.
      () => {
        this.#windowEndMs = endMs;
        counters.visible = visible;
        counters.publish();
      },
    );
    this.#changedSinceSlide = false;
  }
}
