import type { UrlCount } from '../counts/top-k.js';
import type { RangeTop } from './history.js';
import type { ResultsReader } from './results-store.js';

/** A count per step of a series. */
export interface SeriesPoint {
  readonly start: number;
  readonly count: number;
}

/** A window along the history with its top URLs. */
export interface HistoryWindow {
  readonly startMs: number;
  readonly endMs: number;
  readonly total: number;
  readonly urls: UrlCount[];
}

/** How the job's windows lie (for `/api/windows`): its time mode and window and slide lengths. */
export interface WindowShape {
  readonly eventTime: boolean;
  readonly windowMs: number;
  readonly slideMs: number;
}

/**
 * The range queries of the history: they read as many rows as the range holds, and may take
 * seconds. The HTTP server runs them off its own thread (http/query-pool.ts), so `/health`
 * and the newest window's `/api/top` never wait behind one; `runHistoryQuery` is what a
 * query thread runs, the same function an in-thread server calls.
 */
export type HistoryQuery =
  | { readonly kind: 'top'; readonly fromMs: number; readonly toMs: number; readonly n: number }
  | { readonly kind: 'windows'; readonly fromMs: number; readonly toMs: number; readonly n: number; readonly limit: number; readonly shape: WindowShape }
  | { readonly kind: 'totalSeries'; readonly fromMs: number; readonly toMs: number; readonly stepMs: number }
  | { readonly kind: 'urlSeries'; readonly url: string; readonly fromMs: number; readonly toMs: number; readonly stepMs: number };

/** The answer to each kind of query. */
export interface HistoryAnswers {
  top: RangeTop;
  windows: HistoryWindow[];
  totalSeries: SeriesPoint[];
  urlSeries: SeriesPoint[];
}

/** Where range queries go: a pool of query threads, or this thread. */
export interface HistoryQueries {
  run<Q extends HistoryQuery>(query: Q): Promise<HistoryAnswers[Q['kind']]>;
}

export function runHistoryQuery<Q extends HistoryQuery>(results: ResultsReader, q: Q): HistoryAnswers[Q['kind']] {
  return answer(results, q) as HistoryAnswers[Q['kind']];
}

function answer(results: ResultsReader, q: HistoryQuery): HistoryAnswers[HistoryQuery['kind']] {
  const history = results.history();
  switch (q.kind) {
    case 'top':
      return history.top(q.fromMs, q.toMs, q.n);
    case 'totalSeries':
      return history.totalSeries(q.fromMs, q.toMs, q.stepMs);
    case 'urlSeries':
      return history.series(q.url, q.fromMs, q.toMs, q.stepMs);
    case 'windows': {
      // Event time: the windows along a replayed log are rebuilt from the history's batches
      // (the job stores no row per slide of a replay); processing time: the stored rows.
      const newestEndMs = q.shape.eventTime ? results.latestTop(0).window?.endMs : undefined;
      const rows = newestEndMs !== undefined
        ? history.windows(q.fromMs, q.toMs, q.limit, { windowMs: q.shape.windowMs, slideMs: q.shape.slideMs, newestEndMs })
        : results.windows(q.fromMs, q.toMs, q.limit);
      return rows.map((w) => ({ startMs: w.startMs, endMs: w.endMs, total: w.total, urls: q.n > 0 ? history.top(w.startMs, w.endMs, q.n).urls : [] }));
    }
  }
}

/** Runs the queries in this thread (a server built without query threads: tests, tools). */
export function inThreadQueries(results: ResultsReader): HistoryQueries {
  return { run: async (q) => runHistoryQuery(results, q) };
}
