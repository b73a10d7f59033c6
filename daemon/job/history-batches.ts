import type { ResultsOutbox } from './results-outbox.js';
import type { BatchSet, WindowSet } from '../counts/window-set.js';

/** The counts of one batch interval of the lines' own time, since the last flush. */
export interface HistoryBatch {
  readonly counts: BatchSet;
  events: number;
  parseErrors: number;
}

/**
 * Flushed once this many seconds of own time are held (a replay of a day in processing time
 * touches 86,400 of them in a second or two), or this many lines: what is held stays small.
 */
const MAX_SLOTS = 4096;
const MAX_EVENTS = 200_000;

/**
 * Counts by the lines' own time that go to the history without passing through the live
 * window: in processing time every line (the window is by arrival), in event time the lines
 * outside the live window (older than the watermark, or than the window). Held per batch
 * interval of own time and flushed as history rows that add to what that interval has
 * (every tick, before the results are written and the checkpoint taken, so nothing held
 * here needs a checkpoint; and whenever much is held).
 */
export class HistoryBatches {
  readonly #bySlot = new Map<number, HistoryBatch>();
  readonly #window: WindowSet;
  readonly #results: ResultsOutbox;
  readonly #batchIntervalMs: number;
  #events = 0;
  /** The last batch asked for and its slot: a log's lines come in time order, mostly. */
  #lastSlot = NaN;
  #last: HistoryBatch | undefined;

  constructor(window: WindowSet, results: ResultsOutbox, batchIntervalMs: number) {
    this.#window = window;
    this.#results = results;
    this.#batchIntervalMs = batchIntervalMs;
  }

  /** Slot `k`'s batch (`k`: own time / batch interval), counted by the window's key ids, every dimension. */
  batch(k: number): HistoryBatch {
    if (k === this.#lastSlot && this.#last) return this.#last;
    let b = this.#bySlot.get(k);
    if (!b) {
      b = { counts: this.#window.openBatch(true), events: 0, parseErrors: 0 };
      this.#bySlot.set(k, b);
    }
    this.#lastSlot = k;
    this.#last = b;
    return b;
  }

  /** One line at own-time slot `k`: its batch's counts, which the caller adds the line to in every dimension. */
  line(k: number): BatchSet {
    const b = this.batch(k);
    b.events++;
    this.#events++;
    return b.counts;
  }

  /**
   * One line that is not an access-log line (it has no time to read): kept with the line
   * before it, or at slot `k` (when it was read) when none came before it since the last flush.
   */
  countParseError(k: number): void {
    const b = this.#last ?? this.batch(k);
    b.events++;
    b.parseErrors++;
    this.#events++;
  }

  /** Whether so much is held that it should be flushed now. */
  get full(): boolean {
    return this.#bySlot.size >= MAX_SLOTS || this.#events >= MAX_EVENTS;
  }

  /** Hands every batch held to the results as a history row (in slot order) and lets it go. */
  flush(): void {
    if (this.#bySlot.size === 0) return;
    const slots = [...this.#bySlot.keys()].sort((a, b) => a - b);
    for (const k of slots) {
      const b = this.#bySlot.get(k)!;
      this.#results.saveBatch({
        startMs: k * this.#batchIntervalMs,
        events: b.events,
        parseErrors: b.parseErrors,
        counts: this.#window.encodeBatch(b.counts),
      });
      this.#window.pass(b.counts);
    }
    this.#bySlot.clear();
    this.#events = 0;
    this.#lastSlot = NaN;
    this.#last = undefined;
  }
}
