import type { DimensionPoint, DimensionRangeTop, RangeTop } from './history.js';
import type { StatusRange } from '../counts/dimension-window.js';
import type { HistoryAnswers, HistoryQuery, SeriesPoint } from './history-queries.js';
import type { LatestTop, LatestWindow } from './window-results.js';

export type { SeriesPoint };

export type { LatestTop, LatestWindow };

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
  /** The newest window and its top `n` keys of the default dimension (all instances: each one's newest window, summed). */
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
  /** The top `n` keys of `dimension` over [fromMs, toMs) of the lines of `status`, with bytes, the total and the number of keys. */
  dimensionTop(dimension: string, status: StatusRange, fromMs: number, toMs: number, n: number, instance: string): Promise<DimensionRangeTop>;
  /** One key of `dimension`, its lines and bytes of `status`, in steps of `stepMs` over [fromMs, toMs). */
  dimensionSeries(dimension: string, key: string, status: StatusRange, fromMs: number, toMs: number, stepMs: number, instance: string): Promise<DimensionPoint[]>;
  /** Counted events (all URLs) in steps of `stepMs` over [fromMs, toMs). */
  totalSeries(fromMs: number, toMs: number, stepMs: number, instance: string): Promise<SeriesPoint[]>;
  /**
   * Event time: the windows along the history, rebuilt from the batch rows; slide ends in
   * (afterMs, toMs] up to `newestEndMs`, oldest first, at most `limit`.
   */
  rebuiltWindows(afterMs: number, toMs: number, limit: number, opts: { windowMs: number; slideMs: number; newestEndMs: number }, instance: string): Promise<{ startMs: number; endMs: number; total: number }[]>;
  /**
   * A range query of the history as the routes ask it (history-queries.ts): SQLite runs it
   * in the query threads, PostgreSQL on its pool (`answerHistory`).
   */
  history<Q extends HistoryQuery>(query: Q, instance: string): Promise<HistoryAnswers[Q['kind']]>;
  /** The time the history spans, by the lines' own time (undefined: it is empty). */
  extent(instance: string): Promise<{ fromMs: number; toMs: number } | undefined>;
  close(): Promise<void>;
}

/** A history query answered with the port's own queries (a store whose queries are asynchronous already). */
export async function answerHistory<Q extends HistoryQuery>(results: ResultsQueries, q: Q, instance: string): Promise<HistoryAnswers[Q['kind']]> {
  return (await answer(results, q, instance)) as HistoryAnswers[Q['kind']];
}

async function answer(results: ResultsQueries, q: HistoryQuery, instance: string): Promise<HistoryAnswers[HistoryQuery['kind']]> {
  switch (q.kind) {
    case 'top':
      return results.rangeTop(q.fromMs, q.toMs, q.n, instance);
    case 'totalSeries':
      return results.totalSeries(q.fromMs, q.toMs, q.stepMs, instance);
    case 'urlSeries':
      return results.series(q.url, q.fromMs, q.toMs, q.stepMs, instance);
    case 'dimensionTop':
      return results.dimensionTop(q.dimension, q.status, q.fromMs, q.toMs, q.n, instance);
    case 'dimensionSeries':
      return results.dimensionSeries(q.dimension, q.key, q.status, q.fromMs, q.toMs, q.stepMs, instance);
    case 'windows': {
      // Event time: the windows along a replayed log are rebuilt from the history's batches
      // (the job stores no row per slide of a replay); processing time: the stored rows.
      const newestEndMs = q.shape.eventTime ? (await results.latestTop(0, instance)).window?.endMs : undefined;
      const rows = newestEndMs !== undefined
        ? await results.rebuiltWindows(q.fromMs, q.toMs, q.limit, { windowMs: q.shape.windowMs, slideMs: q.shape.slideMs, newestEndMs }, instance)
        : await results.windows(q.fromMs, q.toMs, q.limit, instance);
      const tops = q.n > 0 ? await Promise.all(rows.map((w) => results.rangeTop(w.startMs, w.endMs, q.n, instance))) : [];
      return rows.map((w, i) => ({ startMs: w.startMs, endMs: w.endMs, total: w.total, urls: tops[i]?.urls ?? [] }));
    }
  }
}
