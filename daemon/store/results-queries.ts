import type { UrlCount } from '../counts/index.js';
import type { RangeTop } from './history.js';

/** The newest window a writer persisted. */
export interface LatestWindow {
  readonly startMs: number;
  readonly endMs: number;
  readonly total: number;
  readonly distinctUrls: number;
}

/** The newest window and its top URLs, as one snapshot. */
export interface LatestTop {
  readonly window: LatestWindow | undefined;
  readonly urls: UrlCount[];
}

/** A point of a series: the count in [start, start + step). */
export interface SeriesPoint {
  readonly start: number;
  readonly count: number;
}

/** `instance=*`: every writer of the database, summed. */
export const ALL_INSTANCES = '*';

/**
 * The port the HTTP side reads through: the few queries its routes ask, each for one
 * instance (a writer's name, `a1.jobs.<job>.instance`) or all of them (`*`). Each store
 * implements it: SQLite (one writer, answered at once from its own connection) and
 * PostgreSQL (several writers, a pool). Both answer the same questions the same way;
 * test/results-contract.test.ts runs one suite against both.
 */
export interface ResultsQueries {
  /** The instances that wrote here, sorted. */
  instances(): Promise<string[]>;
  /** The newest window and its top `n` URLs (all instances: each one's newest window, summed). */
  latestTop(n: number, instance: string): Promise<LatestTop>;
  /**
   * `latestTop` rendered by `render`, cached while the store's data stay the same: the answer
   * changes once per slide, while readers may ask thousands of times a second.
   */
  latestTopJson(n: number, instance: string, render: (r: LatestTop) => unknown): Promise<string>;
  /** Window rows (one per slide that changed the window) with end in (afterMs, toMs], oldest first (all instances: summed by end). */
  windows(afterMs: number, toMs: number, limit: number, instance: string): Promise<LatestWindow[]>;
  /** The top `n` URLs of [fromMs, toMs) (aligned to batch intervals), from the history. */
  rangeTop(fromMs: number, toMs: number, n: number, instance: string): Promise<RangeTop>;
  /** One URL's counts in steps of `stepMs` over [fromMs, toMs). */
  series(url: string, fromMs: number, toMs: number, stepMs: number, instance: string): Promise<SeriesPoint[]>;
  /** Counted events (all URLs) in steps of `stepMs` over [fromMs, toMs). */
  totalSeries(fromMs: number, toMs: number, stepMs: number, instance: string): Promise<SeriesPoint[]>;
  /**
   * Event time: the windows along the history, rebuilt from the batch rows; slide ends in
   * (afterMs, toMs] up to `newestEndMs`, oldest first, at most `limit`.
   */
  rebuiltWindows(afterMs: number, toMs: number, limit: number, opts: { windowMs: number; slideMs: number; newestEndMs: number }, instance: string): Promise<{ startMs: number; endMs: number; total: number }[]>;
  close(): Promise<void>;
}
