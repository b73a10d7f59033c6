import type Database from 'better-sqlite3';
import type { BatchResult, UrlCount } from '../job/index.js';

/**
 * The history: URL counts per batch interval (level 0) rolled up per minute (1) and per
 * hour (2), so a range of a day sums 24 hourly rows per URL instead of 86,400. Rows are
 * `(level, start_ms, url_id, count)`; URLs are stored once in `urls`.
 */
export const HISTORY_SCHEMA = `
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

export const LEVEL_MS = [0, 60_000, 3_600_000] as const;

/** Writes closed batches into the history and its rollups, idempotently. */
export class HistoryWriter {
  readonly #save: (b: BatchResult) => void;
  readonly #prune: Database.Statement;
  readonly #retentionMs: number;
  #lastPrune = 0;

  constructor(db: Database.Database, retentionMs: number) {
    this.#retentionMs = retentionMs;
    const urlId = db.prepare('INSERT INTO urls (url) VALUES (?) ON CONFLICT (url) DO UPDATE SET url = url RETURNING id').pluck();
    const existing = db.prepare('SELECT 1 FROM totals WHERE level = 0 AND start_ms = ?').pluck();
    // A batch saved again (after a crash) first takes its old counts out of the rollups.
    const unrollCounts = db.prepare(
      `UPDATE counts AS r SET count = r.count - o.count FROM counts AS o
       WHERE o.level = 0 AND o.start_ms = ? AND r.level = ? AND r.start_ms = ? AND r.url_id = o.url_id`,
    );
    const unrollTotals = db.prepare(
      `UPDATE totals AS r SET events = r.events - o.events, parse_errors = r.parse_errors - o.parse_errors FROM totals AS o
       WHERE o.level = 0 AND o.start_ms = ? AND r.level = ? AND r.start_ms = ?`,
    );
    const dropBatch = db.prepare('DELETE FROM counts WHERE level = 0 AND start_ms = ?');
    const addCount = db.prepare(
      `INSERT INTO counts (level, start_ms, url_id, count) VALUES (?, ?, ?, ?)
       ON CONFLICT (level, start_ms, url_id) DO UPDATE SET count = count + excluded.count`,
    );
    const addTotals = db.prepare(
      `INSERT INTO totals (level, start_ms, events, parse_errors) VALUES (?, ?, ?, ?)
       ON CONFLICT (level, start_ms) DO UPDATE SET events = events + excluded.events, parse_errors = parse_errors + excluded.parse_errors`,
    );
    const dropTotals = db.prepare('DELETE FROM totals WHERE level = 0 AND start_ms = ?');
    this.#prune = db.prepare('DELETE FROM counts WHERE level = ? AND start_ms < ?');
    const pruneTotals = db.prepare('DELETE FROM totals WHERE level = ? AND start_ms < ?');
    const starts = (ms: number) => [ms, floorTo(ms, LEVEL_MS[1]), floorTo(ms, LEVEL_MS[2])];
    this.#save = db.transaction((b: BatchResult) => {
      const at = starts(b.startMs);
      if (existing.get(b.startMs)) {
        for (const level of [1, 2]) {
          unrollCounts.run(b.startMs, level, at[level]);
          unrollTotals.run(b.startMs, level, at[level]);
        }
        dropBatch.run(b.startMs);
        dropTotals.run(b.startMs);
      }
      for (const [url, count] of b.counts) {
        const id = urlId.get(url) as number;
        for (let level = 0; level < 3; level++) addCount.run(level, at[level], id, count);
      }
      for (let level = 0; level < 3; level++) addTotals.run(level, at[level], b.events, b.parseErrors);
      if (b.startMs - this.#lastPrune >= 60_000) {
        this.#lastPrune = b.startMs;
        // A rollup row goes once all of its minute or hour is older than the retention.
        for (let level = 0; level < 3; level++) {
          const cutoff = b.startMs - this.#retentionMs - LEVEL_MS[level]!;
          this.#prune.run(level, cutoff);
          pruneTotals.run(level, cutoff);
        }
      }
    });
  }

  save(batch: BatchResult): void {
    this.#save(batch);
  }
}

export interface RangeTop {
  readonly fromMs: number;
  readonly toMs: number;
  readonly total: number;
  readonly urls: UrlCount[];
}

/** Answers range queries from the history, choosing the coarsest rows that fit. */
export class HistoryReader {
  readonly #db: Database.Database;
  readonly #batchMs: number;

  constructor(db: Database.Database, batchIntervalMs: number) {
    this.#db = db;
    this.#batchMs = batchIntervalMs;
  }

  /** The top `n` URLs of [fromMs, toMs) (aligned to batch intervals), summed from the history. */
  top(fromMs: number, toMs: number, n: number): RangeTop {
    const from = floorTo(fromMs, this.#batchMs);
    const to = floorTo(toMs, this.#batchMs);
    const pieces = decompose(from, to, this.#batchMs);
    if (pieces.length === 0) return { fromMs: from, toMs: to, total: 0, urls: [] };
    const where = pieces.map(() => '(level = ? AND start_ms >= ? AND start_ms < ?)').join(' OR ');
    const args = pieces.flatMap((p) => [p.level, p.from, p.to]);
    const urls = this.#db
      .prepare(
        `SELECT u.url AS url, s.count AS count FROM
           (SELECT url_id, SUM(count) AS count FROM counts WHERE ${where} GROUP BY url_id) AS s
         JOIN urls AS u ON u.id = s.url_id
         WHERE s.count > 0 ORDER BY s.count DESC, u.url ASC LIMIT ?`,
      )
      .all(...args, n) as UrlCount[];
    const total = this.#db
      .prepare(`SELECT COALESCE(SUM(events - parse_errors), 0) FROM totals WHERE ${where}`)
      .pluck()
      .get(...args) as number;
    return { fromMs: from, toMs: to, total, urls };
  }
}

/**
 * Splits [from, to) into whole hours, whole minutes and batch intervals at the edges:
 * at most five pieces, each a range of one level's rows.
 */
export function decompose(from: number, to: number, batchMs: number): { level: number; from: number; to: number }[] {
  const pieces: { level: number; from: number; to: number }[] = [];
  const split = (lo: number, hi: number, level: number): void => {
    if (lo >= hi) return;
    if (level === 0) {
      pieces.push({ level: 0, from: lo, to: hi });
      return;
    }
    const size = LEVEL_MS[level]!;
    const first = Math.ceil(lo / size) * size;
    const last = floorTo(hi, size);
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

function floorTo(ms: number, size: number): number {
  return Math.floor(ms / size) * size;
}
