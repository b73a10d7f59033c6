import { LogflowError } from '../errors.js';
import type { DimensionPoint, DimensionRangeTop, RangeTop } from './history.js';
import type { StatusRange } from '../counts/dimension-window.js';
import { ALL_INSTANCES, type LatestTop, type LatestWindow, type ResultsQueries, type SeriesPoint } from './results-queries.js';
import { ResultsReader } from './results-store.js';
import { inThreadQueries, type HistoryAnswers, type HistoryQueries, type HistoryQuery } from './history-queries.js';

/**
 * The HTTP side's queries on a SQLite results file: one writer, `instance` (the job's), so
 * `*` reads the same. The newest window is answered at once from this thread's connection
 * (better-sqlite3 is synchronous; the promises only fit the port); the history's range
 * queries go to `pool` (the query threads, each with its own connection: http/query-pool.ts),
 * or run here when there is none.
 */
export class SqliteQueries implements ResultsQueries {
  readonly #reader: ResultsReader;
  readonly #instance: string;
  readonly #pool: HistoryQueries;

  constructor(file: string, batchIntervalMs: number, instance: string, pool?: HistoryQueries) {
    this.#reader = new ResultsReader(file, batchIntervalMs);
    this.#instance = instance;
    this.#pool = pool ?? inThreadQueries(this.#reader);
  }

  async history<Q extends HistoryQuery>(query: Q, instance: string): Promise<HistoryAnswers[Q['kind']]> {
    this.#check(instance);
    return this.#pool.run(query);
  }

  async extent(instance: string): Promise<{ fromMs: number; toMs: number } | undefined> {
    this.#check(instance);
    return this.#reader.history().extent();
  }

  async instances(): Promise<string[]> {
    return [this.#instance];
  }

  async latestTop(n: number, instance: string): Promise<LatestTop> {
    this.#check(instance);
    return this.#reader.latestTop(n);
  }

  async latestTopJson(n: number, instance: string, render: (r: LatestTop) => unknown): Promise<string> {
    this.#check(instance);
    return this.#reader.latestTopJson(n, render);
  }

  async windows(afterMs: number, toMs: number, limit: number, instance: string): Promise<LatestWindow[]> {
    this.#check(instance);
    return this.#reader.windows(afterMs, toMs, limit);
  }

  async rangeTop(fromMs: number, toMs: number, n: number, instance: string): Promise<RangeTop> {
    return this.history({ kind: 'top', fromMs, toMs, n }, instance);
  }

  async series(url: string, fromMs: number, toMs: number, stepMs: number, instance: string): Promise<SeriesPoint[]> {
    return this.history({ kind: 'urlSeries', url, fromMs, toMs, stepMs }, instance);
  }

  async dimensionTop(dimension: string, status: StatusRange, fromMs: number, toMs: number, n: number, instance: string): Promise<DimensionRangeTop> {
    return this.history({ kind: 'dimensionTop', dimension, status, fromMs, toMs, n }, instance);
  }

  async dimensionSeries(dimension: string, key: string, status: StatusRange, fromMs: number, toMs: number, stepMs: number, instance: string): Promise<DimensionPoint[]> {
    return this.history({ kind: 'dimensionSeries', dimension, key, status, fromMs, toMs, stepMs }, instance);
  }

  async totalSeries(fromMs: number, toMs: number, stepMs: number, instance: string): Promise<SeriesPoint[]> {
    return this.history({ kind: 'totalSeries', fromMs, toMs, stepMs }, instance);
  }

  async rebuiltWindows(afterMs: number, toMs: number, limit: number, opts: { windowMs: number; slideMs: number; newestEndMs: number }, instance: string): Promise<{ startMs: number; endMs: number; total: number }[]> {
    this.#check(instance);
    return this.#reader.history().windows(afterMs, toMs, limit, opts);
  }

  async close(): Promise<void> {
    this.#reader.close();
  }

  /** The routes ask only for instances that `instances()` lists (or `*`). */
  #check(instance: string): void {
    if (instance !== this.#instance && instance !== ALL_INSTANCES) throw new LogflowError('LF_INVARIANT', `asked for instance ${instance}, which this results file does not hold`);
  }
}
