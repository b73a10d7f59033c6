import type Database from 'better-sqlite3';
import type { UrlCount } from '../counts/index.js';
import { countOfUrl, decodeCounts } from '../counts/counts-codec.js';

/**
 * The history, in three levels:
 * - `batches`: one row per closed batch interval with its URL counts as one blob (the
 *   same encoding as the checkpoint's slot files, so saving a batch costs one insert);
 * - `counts`/`totals` level 1: per-minute rows per URL, rolled up when a minute is over;
 * - level 2: per-hour rows per URL, rolled up from the minutes when an hour is over.
 * A range query reads the coarsest rows that fit: a day is 24 hourly rows per URL.
 */
export const HISTORY_SCHEMA = `
CREATE TABLE IF NOT EXISTS batches (
  start_ms INTEGER PRIMARY KEY,
  events INTEGER NOT NULL,
  parse_errors INTEGER NOT NULL,
  counts BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS urls (
  id INTEGER PRIMARY KEY,
  url TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS counts (
  level INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,
  url_id INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (level, start_ms, url_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS counts_by_url ON counts (url_id, level, start_ms);
CREATE TABLE IF NOT EXISTS totals (
  level INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,
  events INTEGER NOT NULL,
  parse_errors INTEGER NOT NULL,
  PRIMARY KEY (level, start_ms)
) WITHOUT ROWID;
`;

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const LEVEL_MS = [0, MINUTE, HOUR] as const;

export { decodeCounts, encodeCounts } from '../counts/counts-codec.js';

export interface RangeTop {
  readonly fromMs: number;
  readonly toMs: number;
  readonly total: number;
  readonly urls: UrlCount[];
}

/** Answers range queries from the history, choosing the coarsest rows that fit. */
export class HistoryReader {
  readonly #batchMs: number;
  readonly #frontier: Database.Statement;
  readonly #batches: Database.Statement;
  readonly #levelCounts: Database.Statement;
  readonly #levelTotals: Database.Statement;
  readonly #urlMinutes: Database.Statement;
  readonly #batchesWithStart: Database.Statement;
  readonly #minuteTotals: Database.Statement;
  readonly #batchTotals: Database.Statement;
  readonly #firstBatch: Database.Statement;

  constructor(db: Database.Database, batchIntervalMs: number) {
    this.#urlMinutes = db.prepare(
      `SELECT c.start_ms AS start, c.count AS count FROM counts AS c JOIN urls AS u ON u.id = c.url_id
       WHERE u.url = ? AND c.level = 1 AND c.start_ms >= ? AND c.start_ms < ?`,
    );
    this.#batchesWithStart = db.prepare('SELECT start_ms AS start, counts FROM batches WHERE start_ms >= ? AND start_ms < ?');
    this.#minuteTotals = db.prepare('SELECT start_ms AS start, events - parse_errors AS count FROM totals WHERE level = 1 AND start_ms >= ? AND start_ms < ?');
    this.#batchTotals = db.prepare('SELECT start_ms AS start, events - parse_errors AS count FROM batches WHERE start_ms >= ? AND start_ms < ? ORDER BY start_ms');
    this.#firstBatch = db.prepare('SELECT MIN(start_ms) FROM batches').pluck();
    this.#batchMs = batchIntervalMs;
    this.#frontier = db.prepare('SELECT MAX(start_ms) FROM totals WHERE level = ?').pluck();
    this.#batches = db.prepare('SELECT events, parse_errors AS parseErrors, counts FROM batches WHERE start_ms >= ? AND start_ms < ?');
    this.#levelCounts = db.prepare(
      `SELECT u.url AS url, s.count AS count FROM
         (SELECT url_id, SUM(count) AS count FROM counts WHERE level = ? AND start_ms >= ? AND start_ms < ? GROUP BY url_id) AS s
       JOIN urls AS u ON u.id = s.url_id`,
    );
    this.#levelTotals = db.prepare(
      'SELECT COALESCE(SUM(events - parse_errors), 0) FROM totals WHERE level = ? AND start_ms >= ? AND start_ms < ?',
    ).pluck();
  }

  /**
   * One URL's counts in steps of `stepMs` over [fromMs, toMs): from minute rows where the
   * step is whole minutes and they are rolled up, from the batches otherwise.
   */
  series(url: string, fromMs: number, toMs: number, stepMs: number): { start: number; count: number }[] {
    const from = floorTo(fromMs, stepMs);
    const points = Math.ceil((toMs - from) / stepMs);
    const counts = new Float64Array(points);
    const minuteEnd = stepMs % MINUTE === 0 ? ((this.#frontier.get(1) as number | null) ?? -Infinity) + MINUTE : -Infinity;
    const split = Math.max(from, Math.min(toMs, floorTo(minuteEnd, MINUTE)));
    if (split > from) {
      for (const r of this.#urlMinutes.all(url, from, split) as { start: number; count: number }[]) {
        counts[Math.floor((r.start - from) / stepMs)]! += r.count;
      }
    }
    const target = Buffer.from(url, 'utf8');
    for (const b of this.#batchesWithStart.all(split, toMs) as { start: number; counts: Buffer }[]) {
      const n = countOfUrl(b.counts, target);
      if (n > 0) counts[Math.floor((b.start - from) / stepMs)]! += n;
    }
    return Array.from(counts, (count, i) => ({ start: from + i * stepMs, count }));
  }

  /** Counted events (all URLs) in steps of `stepMs` over [fromMs, toMs), read as `series` reads one URL. */
  totalSeries(fromMs: number, toMs: number, stepMs: number): { start: number; count: number }[] {
    const from = floorTo(fromMs, stepMs);
    const counts = new Float64Array(Math.ceil((toMs - from) / stepMs));
    const minuteEnd = stepMs % MINUTE === 0 ? ((this.#frontier.get(1) as number | null) ?? -Infinity) + MINUTE : -Infinity;
    const split = Math.max(from, Math.min(toMs, floorTo(minuteEnd, MINUTE)));
    const add = (rows: { start: number; count: number }[]) => {
      for (const r of rows) counts[Math.floor((r.start - from) / stepMs)]! += r.count;
    };
    if (split > from) add(this.#minuteTotals.all(from, split) as { start: number; count: number }[]);
    add(this.#batchTotals.all(split, toMs) as { start: number; count: number }[]);
    return Array.from(counts, (count, i) => ({ start: from + i * stepMs, count }));
  }

  /**
   * Event time: the windows along the history, rebuilt from the batch rows (the job does not
   * store a row per slide of a replay). Every slide end in (afterMs, toMs] after the first
   * batch and up to `newestEndMs` (the newest window persisted), oldest first, at most
   * `limit`, each with the events counted in [end - windowMs, end).
   */
  windows(afterMs: number, toMs: number, limit: number, opts: { windowMs: number; slideMs: number; newestEndMs: number }): { startMs: number; endMs: number; total: number }[] {
    const { windowMs, slideMs } = opts;
    const first = this.#firstBatch.get() as number | null;
    if (first === null) return [];
    const last = Math.min(toMs, opts.newestEndMs);
    const firstEnd = Math.max(floorTo(afterMs, slideMs), floorTo(first, slideMs)) + slideMs;
    const count = Math.max(0, Math.min(limit, Math.floor((last - firstEnd) / slideMs) + 1));
    if (count === 0) return [];
    const lastEnd = firstEnd + (count - 1) * slideMs;
    const rows = this.#batchTotals.all(firstEnd - windowMs, lastEnd) as { start: number; count: number }[];
    // A sliding sum over the rows (in start order): rows in [end - windowMs, end).
    const out: { startMs: number; endMs: number; total: number }[] = [];
    let total = 0;
    let entered = 0;
    let left = 0;
    for (let end = firstEnd; end <= lastEnd; end += slideMs) {
      for (; entered < rows.length && rows[entered]!.start < end; entered++) total += rows[entered]!.count;
      for (; left < entered && rows[left]!.start < end - windowMs; left++) total -= rows[left]!.count;
      out.push({ startMs: end - windowMs, endMs: end, total });
    }
    return out;
  }

  /** The top `n` URLs of [fromMs, toMs) (aligned to batch intervals), summed from the history. */
  top(fromMs: number, toMs: number, n: number): RangeTop {
    const from = floorTo(fromMs, this.#batchMs);
    const to = floorTo(toMs, this.#batchMs);
    // Rollups exist only for minutes and hours that are over.
    const minuteEnd = ((this.#frontier.get(1) as number | null) ?? -Infinity) + MINUTE;
    const hourEnd = ((this.#frontier.get(2) as number | null) ?? -Infinity) + HOUR;
    const sums = new Map<string, number>();
    let total = 0;
    for (const piece of decompose(from, to, this.#batchMs, [Infinity, minuteEnd, hourEnd])) {
      if (piece.level === 0) {
        for (const b of this.#batches.all(piece.from, piece.to) as { events: number; parseErrors: number; counts: Buffer }[]) {
          total += b.events - b.parseErrors;
          for (const [url, c] of decodeCounts(b.counts)) sums.set(url, (sums.get(url) ?? 0) + c);
        }
      } else {
        total += this.#levelTotals.get(piece.level, piece.from, piece.to) as number;
        for (const { url, count } of this.#levelCounts.all(piece.level, piece.from, piece.to) as UrlCount[]) {
          sums.set(url, (sums.get(url) ?? 0) + count);
        }
      }
    }
    const urls = [...sums]
      .filter(([, c]) => c > 0)
      .map(([url, count]) => ({ url, count }))
      .sort((a, b) => b.count - a.count || compareBytes(a.url, b.url))
      .slice(0, n);
    return { fromMs: from, toMs: to, total, urls };
  }
}

/**
 * Splits [from, to) into whole hours, whole minutes and batch intervals at the edges; a
 * level is used only for buckets that end by its frontier (rolled up already).
 */
export function decompose(
  from: number,
  to: number,
  batchMs: number,
  frontier: readonly number[] = [Infinity, Infinity, Infinity],
): { level: number; from: number; to: number }[] {
  const pieces: { level: number; from: number; to: number }[] = [];
  const split = (lo: number, hi: number, level: number): void => {
    if (lo >= hi) return;
    if (level === 0) {
      pieces.push({ level: 0, from: lo, to: hi });
      return;
    }
    const size = LEVEL_MS[level]!;
    const first = Math.ceil(lo / size) * size;
    const last = Math.min(floorTo(hi, size), floorTo(frontier[level]!, size));
    if (first >= last || size <= batchMs) {
      split(lo, hi, level - 1);
      return;
    }
    split(lo, first, level - 1);
    pieces.push({ level, from: first, to: last });
    split(last, hi, level - 1);
  };
  split(from, to, 2);
  return pieces;
}

/** Code point order, as the window's ties are ordered (by UTF-8 bytes). */
function compareBytes(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export function floorTo(ms: number, size: number): number {
  return Math.floor(ms / size) * size;
}
