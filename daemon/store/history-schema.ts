import type Database from 'better-sqlite3';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
/**
 * The size of each level's buckets: 0 the batches, 1 minutes, 2 hours, 3 days (UTC), 4 and
 * 5 spans of 30 and 360 days from the epoch (not calendar months and years: they only make
 * long ranges cheap to sum, 12 to a span of 360, and nest in each other as the others do).
 */
export const LEVEL_MS = [0, MINUTE, HOUR, DAY, 30 * DAY, 360 * DAY] as const;
export const TOP_LEVEL = 5;

/**
 * The history, by the lines' own time, in four levels:
 * - `batches`: a batch interval's URL counts as one blob (the checkpoint's encoding), one
 *   row per batch and per epoch that added to it: rows add up, so lines that come late
 *   (another file of the same hour, a log older than everything) join their own second;
 * - `counts`/`totals` levels 1 to 5: per-minute, -hour, -day, -30-day and -360-day rows per
 *   URL, rolled up behind the batches (`dirty` marks the buckets whose rows are stale or
 *   missing). Ten years of history is about 10 rows per URL.
 * - `dim_counts` levels 1 to 5 (schema 3): the same rollups by every dimension of the batch
 *   blobs (url, status, client...), per key and status code, with lines and bytes; keys in
 *   `dim_keys`. Schema 4: each (key, status code) row's distinct visitors (`visitors`: a
 *   `VisitorSketch`'s bytes, an exact set of client hashes up to 512, then HyperLogLog
 *   registers deflated), merged up the levels by `visitors_union` (visitors-union-sql.ts);
 *   null where not known: a dimension that counts no visitors (`client`), rows from before
 *   the dimensions, and the rows of every status (a range unions its codes' sketches).
 *
 * Exactly once: every batch row carries the epoch that wrote it, the checkpoint records the
 * last epoch it covers (`progress.covered_epoch` keeps it here too), and a restart deletes
 * the rows of epochs no checkpoint covers, which are then counted again. `epochs` says when
 * each epoch counted, for the retention.
 */
export const HISTORY_SCHEMA = `
CREATE TABLE IF NOT EXISTS batches (
  start_ms INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  events INTEGER NOT NULL,
  parse_errors INTEGER NOT NULL,
  counts BLOB NOT NULL,
  PRIMARY KEY (start_ms, epoch)
);
CREATE TABLE IF NOT EXISTS epochs (
  epoch INTEGER PRIMARY KEY,
  counted_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS progress (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  covered_epoch INTEGER NOT NULL
);
INSERT OR IGNORE INTO progress (id, covered_epoch) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS dirty (
  level INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,
  PRIMARY KEY (level, start_ms)
) WITHOUT ROWID;
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
CREATE TABLE IF NOT EXISTS dim_keys (
  id INTEGER PRIMARY KEY,
  dimension TEXT NOT NULL,
  key TEXT NOT NULL,
  UNIQUE (dimension, key)
);
CREATE TABLE IF NOT EXISTS dim_counts (
  level INTEGER NOT NULL,
  dimension TEXT NOT NULL,
  start_ms INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  status INTEGER NOT NULL,
  count INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  visitors BLOB,
  PRIMARY KEY (level, dimension, start_ms, key_id, status)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dim_counts_by_key ON dim_counts (key_id, level, start_ms);
CREATE TABLE IF NOT EXISTS totals (
  level INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,
  events INTEGER NOT NULL,
  parse_errors INTEGER NOT NULL,
  PRIMARY KEY (level, start_ms)
) WITHOUT ROWID;
`;

/**
 * `dim_counts.status` of a key's row that sums all its statuses, written beside its per-code
 * rows at every level: ranges without a status filter (the default top by URL) read one row
 * per key and bucket, not one per code (a key of a 360-day bucket has as many codes as it
 * got, ~5 in the bench's decade); a status filter reads codes >= 0 only.
 */
export const ANY_STATUS_ROW = -1;

/** Indexes on columns an older schema lacks: made once the migration has added them. */
export const HISTORY_INDEXES = `
CREATE INDEX IF NOT EXISTS batches_by_epoch ON batches (epoch);
CREATE INDEX IF NOT EXISTS windows_by_counted ON windows (counted_ms);
`;

/** `start_ms` floored to `size` in SQL (`%` truncates towards zero: times before 1970 are negative). */
export function floorSql(column: string, size: number): string {
  return `(${column} - ((${column} % ${size}) + ${size}) % ${size})`;
}

export function floorTo(ms: number, size: number): number {
  return Math.floor(ms / size) * size;
}

/**
 * Schema 0/1 -> 2: batch rows get an epoch (0, counted at the migration: the retention
 * counts from it), the windows their counting time, and the buckets whose rollups an older
 * version may not have written (past its last minute and hour), and every day, are marked
 * dirty: the rollups catch up behind, and range queries read below them meanwhile.
 */
export function migrateHistoryTo2(db: Database.Database, nowMs: number): void {
  const hasEpoch = (db.prepare("SELECT COUNT(*) FROM pragma_table_info('batches') WHERE name = 'epoch'").pluck().get() as number) > 0;
  if (!hasEpoch) {
    db.exec(`
      DROP INDEX IF EXISTS batches_by_epoch;
      ALTER TABLE batches RENAME TO batches_v1;
      CREATE TABLE batches (
        start_ms INTEGER NOT NULL, epoch INTEGER NOT NULL, events INTEGER NOT NULL, parse_errors INTEGER NOT NULL, counts BLOB NOT NULL,
        PRIMARY KEY (start_ms, epoch)
      );
      INSERT INTO batches (start_ms, epoch, events, parse_errors, counts) SELECT start_ms, 0, events, parse_errors, counts FROM batches_v1;
      DROP TABLE batches_v1;
    `);
  }
  db.prepare('INSERT OR IGNORE INTO epochs (epoch, counted_ms) SELECT 0, ? WHERE EXISTS (SELECT 1 FROM batches)').run(nowMs);
  const hasCounted = (db.prepare("SELECT COUNT(*) FROM pragma_table_info('windows') WHERE name = 'counted_ms'").pluck().get() as number) > 0;
  if (!hasCounted) {
    db.exec('ALTER TABLE windows ADD COLUMN counted_ms INTEGER');
    db.prepare('UPDATE windows SET counted_ms = ?').run(nowMs);
  }
  const lastMinute = db.prepare('SELECT MAX(start_ms) FROM totals WHERE level = 1').pluck().get() as number | null;
  const lastHour = db.prepare('SELECT MAX(start_ms) FROM totals WHERE level = 2').pluck().get() as number | null;
  db.exec(`
    INSERT OR IGNORE INTO dirty (level, start_ms)
      SELECT DISTINCT 1, ${floorSql('start_ms', MINUTE)} FROM batches
      WHERE ${floorSql('start_ms', MINUTE)} NOT IN (SELECT start_ms FROM totals WHERE level = 1);
    INSERT OR IGNORE INTO dirty (level, start_ms)
      SELECT DISTINCT 2, ${floorSql('start_ms', HOUR)} FROM totals
      WHERE level = 1 AND ${floorSql('start_ms', HOUR)} NOT IN (SELECT start_ms FROM totals WHERE level = 2);
    INSERT OR IGNORE INTO dirty (level, start_ms)
      SELECT DISTINCT 3, ${floorSql('start_ms', DAY)} FROM batches;
    INSERT OR IGNORE INTO dirty (level, start_ms)
      SELECT DISTINCT 3, ${floorSql('start_ms', DAY)} FROM totals WHERE level IN (1, 2);
    INSERT OR IGNORE INTO dirty (level, start_ms) SELECT DISTINCT 4, ${floorSql('start_ms', 30 * DAY)} FROM dirty WHERE level = 3;
    INSERT OR IGNORE INTO dirty (level, start_ms) SELECT DISTINCT 5, ${floorSql('start_ms', 360 * DAY)} FROM dirty WHERE level = 3;
  `);
  // The last minute and hour an older version rolled up may have been rolled up early.
  if (lastMinute !== null) db.prepare('INSERT OR IGNORE INTO dirty (level, start_ms) VALUES (1, ?)').run(lastMinute);
  if (lastHour !== null) db.prepare('INSERT OR IGNORE INTO dirty (level, start_ms) VALUES (2, ?)').run(lastHour);
}

/**
 * Schema 2 -> 3: the rollups by dimension (`dim_counts`, `dim_keys`, created empty). Every
 * minute that has batch rows is marked dirty, so the rollups are made again behind, by URL
 * and by every dimension the rows hold (older rows hold the URL alone, with status 0);
 * range queries read the batch rows below them meanwhile.
 */
export function migrateHistoryTo3(db: Database.Database): void {
  markEveryMinuteDirty(db);
}

/**
 * Schema 3 -> 4: the rollups by dimension keep visitors (`dim_counts.visitors`, null in the
 * rows schema 3 wrote). Every minute with batch rows is marked dirty, as at 3: the rollups are
 * made again behind with their sketches from the batch rows' visits (which schema 3 kept),
 * and range queries read the batch rows below them meanwhile, visitors included.
 */
export function migrateHistoryTo4(db: Database.Database): void {
  const hasVisitors = (db.prepare("SELECT COUNT(*) FROM pragma_table_info('dim_counts') WHERE name = 'visitors'").pluck().get() as number) > 0;
  if (!hasVisitors) db.exec('ALTER TABLE dim_counts ADD COLUMN visitors BLOB');
  markEveryMinuteDirty(db);
}

function markEveryMinuteDirty(db: Database.Database): void {
  db.exec(`INSERT OR IGNORE INTO dirty (level, start_ms) SELECT DISTINCT 1, ${floorSql('start_ms', MINUTE)} FROM batches`);
}
