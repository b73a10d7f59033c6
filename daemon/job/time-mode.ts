import type { OpenBatches } from './open-batches.js';

/**
 * When batches of the live window are over. Processing time (`time = processing`): by the
 * clock, events placed by their `timestamp` header. Event time (`time = event`): the lines'
 * own times place them and a watermark behind the newest line time closes batches;
 * `flushAfterIdle` fires all of them early once no event has come for that long (the tail
 * of a historical log would wait for newer lines forever): they are shown, and lines that
 * come later within the watermark are added to what was shown. (The history is by the
 * lines' own time in both modes; see event-counter.ts.)
 *
 * The counting side records what it sees here (`maxEventMs`, `lastArrivalMs`,
 * `pendingParseErrors`); the checkpoint saves and restores it.
 */
export class TimeMode {
  readonly eventTime: boolean;
  readonly #batchIntervalMs: number;
  readonly #watermarkMs: number;
  readonly #flushAfterIdleMs: number;
  /** Event time: the newest line time counted; NaN before the first. */
  maxEventMs = NaN;
  /** When the last event arrived (wall clock), for `flushAfterIdle`. */
  lastArrivalMs = 0;
  /** Event time: parse errors seen before the first line time (no batch to put them in yet). */
  pendingParseErrors = 0;

  constructor(config: { readonly time: 'processing' | 'event'; readonly batchIntervalMs: number; readonly watermarkMs: number; readonly flushAfterIdleMs: number }) {
    this.eventTime = config.time === 'event';
    this.#batchIntervalMs = config.batchIntervalMs;
    this.#watermarkMs = config.watermarkMs;
    this.#flushAfterIdleMs = config.flushAfterIdleMs;
  }

  /** The first slot that counts: processing time starts at the clock, event time at the first line (`firstSlot`). */
  initialNextToClose(open: OpenBatches): number {
    return this.eventTime ? NaN : open.slotOf(Date.now());
  }

  /**
   * Event time: the first slot of the live window, from the first line's time: the
   * watermark before it, so lines that come after it and are older by less than the
   * watermark are on time, as they are after any other line.
   */
  firstSlot(open: OpenBatches, firstMs: number): number {
    return open.slotOf(firstMs - this.#watermarkMs);
  }

  /** Whether a line of time `time` is late by the watermark as of this line: older than the newest line time by more than it. */
  isLate(time: number): boolean {
    return time < this.maxEventMs - this.#watermarkMs;
  }

  /**
   * Batches below this slot are over: by the clock, or by the watermark in event time; or
   * all of them once no event has come for `flushAfterIdle` (an early firing: the watermark
   * stays, so a line within it that comes later reopens its batch, see OpenBatches).
   */
  closeLimit(open: OpenBatches): number {
    if (!this.eventTime) return open.slotOf(Date.now());
    if (Number.isNaN(this.maxEventMs)) return -Infinity;
    const idleMs = this.#flushAfterIdleMs;
    if (idleMs > 0 && open.size > 0 && Date.now() - this.lastArrivalMs >= idleMs) return open.slotOf(this.maxEventMs) + 1;
    return open.slotOf(this.maxEventMs - this.#watermarkMs);
  }

  /**
   * The oldest slot a line may still reopen once it closed (event time, after an early
   * firing: a line within the watermark of the newest); none in processing time, where a
   * late line joins the oldest open batch.
   */
  reopenableFrom(open: OpenBatches): number {
    if (!this.eventTime) return Infinity;
    if (Number.isNaN(this.maxEventMs)) return -Infinity;
    return open.slotOf(this.maxEventMs - this.#watermarkMs);
  }

  /**
   * Event time, as events come: batches below this slot can close now, all but the newest
   * slide's (they wait for the tick, which persists that window's top). NaN before the
   * first line time.
   */
  watermarkLimit(open: OpenBatches, slideSlots: number): number {
    return open.slotOf(this.maxEventMs - this.#watermarkMs) - slideSlots;
  }

  /** When the next tick is due. Processing time: at the end of the oldest open batch. Event time: every interval. */
  nextTickMs(nextToClose: number): number {
    const bi = this.#batchIntervalMs;
    return this.eventTime ? (Math.floor(Date.now() / bi) + 1) * bi : (nextToClose + 1) * bi;
  }
}
