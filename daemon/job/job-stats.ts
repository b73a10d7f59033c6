import { memoryUsage } from '../telemetry/memory.js';

/** Declared with the one stats shape it feeds (telemetry/stats.ts); the job produces it. */
export type { JobStats } from '../telemetry/stats.js';

/**
 * The counters a checkpoint holds (`historyOnly` was `late` in checkpoints before the
 * history by the lines' own time, and is absent in those older than event time).
 */
export interface CounterState {
  readonly eventsIn: number;
  readonly eventsCounted: number;
  readonly parseErrors: number;
  readonly duplicates: number;
  readonly historyOnly?: number;
  readonly late?: number;
}

/** What readers of the results can see: the counters as of the last persisted slide. */
export interface VisibleCounters {
  readonly eventsCounted: number;
  readonly parseErrors: number;
}

/**
 * The job's event counters. Plain fields, incremented in the counting loop (no call per
 * event). `publish` copies the ones another thread reads into the shared `live` array.
 */
export class JobCounters {
  eventsIn = 0;
  /** In closed batches (the window), not yet necessarily visible. */
  eventsCounted = 0;
  parseErrors = 0;
  duplicates = 0;
  /**
   * Lines older than the live window (event time: than the watermark, or than the window
   * once it has moved past them): counted in the history only, at their own time.
   */
  historyOnly = 0;
  /** When events last came (wall clock, ms); undefined since the start until they do. */
  lastEventMs: number | undefined;
  /** As of the last persisted slide: what a reader of the results can see. */
  visible: VisibleCounters = { eventsCounted: 0, parseErrors: 0 };
  readonly #live: Float64Array;

  /**
   * `live` receives eventsIn, eventsCounted (visible), parseErrors (visible) and duplicates
   * as they change: another thread can read them at any time.
   */
  constructor(live: Float64Array) {
    this.#live = live;
  }

  publish(): void {
    const live = this.#live;
    live[0] = this.eventsIn;
    live[1] = this.visible.eventsCounted;
    live[2] = this.visible.parseErrors;
    live[3] = this.duplicates;
  }

  state(): CounterState {
    return { eventsIn: this.eventsIn, eventsCounted: this.eventsCounted, parseErrors: this.parseErrors, duplicates: this.duplicates, historyOnly: this.historyOnly };
  }

  restore(counters: CounterState, visible: VisibleCounters): void {
    this.eventsIn = counters.eventsIn;
    this.eventsCounted = counters.eventsCounted;
    this.parseErrors = counters.parseErrors;
    this.duplicates = counters.duplicates;
    this.visible = { ...visible };
    this.publish();
    this.historyOnly = counters.historyOnly ?? counters.late ?? 0;
  }
}

/** The job thread's memory, in MB. */
export function jobMemory(): { heapUsedMb: number; buffersMb: number } {
  const m = memoryUsage();
  return { heapUsedMb: Math.round(m.heapUsed / 1048576), buffersMb: Math.round(m.arrayBuffers / 1048576) };
}
