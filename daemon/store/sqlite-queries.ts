import { LogflowError } from '../errors.js';
import type { RangeTop } from './history.js';
import { ALL_INSTANCES, type LatestTop, type LatestWindow, type ResultsQueries, type SeriesPoint } from './results-queries.js';
import { ResultsReader } from './results-store.js';

/**
 * The HTTP side's queries on a SQLite results file: one writer, `instance` (the job's), so
 * `*` reads the same. The answers are there at once (better-sqlite3 is synchronous); the
 * promises only fit the port.
 */
export class SqliteQueries implements ResultsQueries {
  readonly #reader: ResultsReader;
  readonly #instance: string;

  constructor(file: string, batchIntervalMs: number, instance: string) {
    this.#reader = new ResultsReader(file, batchIntervalMs);
    this.#instance = instance;
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
    this.#check(instance);
    return this.#reader.history().top(fromMs, toMs, n);
  }

  async series(url: string, fromMs: number, toMs: number, stepMs: number, instance: string): Promise<SeriesPoint[]> {
    this.#check(instance);
    return this.#reader.history().series(url, fromMs, toMs, stepMs);
  }

  async totalSeries(fromMs: number, toMs: number, stepMs: number, instance: string): Promise<SeriesPoint[]> {
    this.#check(instance);
    return this.#reader.history().totalSeries(fromMs, toMs, stepMs);
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
