import type pg from 'pg';
import { LogflowError } from '../../errors.js';
import { ANY_STATUS_ROW, DAY, HOUR, MINUTE } from '../history.js';

/**
 * The PostgreSQL schema, as numbered migrations. Each runs once, in its own transaction
 * with the version it stamps (`logflow_schema_migrations`), under a lock, so that several
 * daemons starting against one database at once migrate it once. Tables and views go in
 * the first schema of the user's search_path (normally `public`); every name starts with
 * `logflow_`. Every row carries its writer's `instance` (a1.jobs.<job>.instance).
 *
 * Readers (Grafana, psql) should use the views, which stay stable across migrations:
 * - `logflow_counts(dimension, key, minute, count, bytes)`: one row per dimension, key and
 *   minute, all instances summed (`logflow_counts_by_instance` keeps them apart);
 * - `logflow_counts_hourly(dimension, key, hour, count, bytes)` (and `_by_instance`);
 * - `logflow_counts_by_status(dimension, key, status, minute, count, bytes)` (V5): the same
 *   minutes per status code (top 404 URLs, clients getting 5xx);
 * - `logflow_top(instance, dimension, rank, key, count, window_start, window_end)`: each
 *   instance's newest window and its most counted keys.
 * The tables behind them are the job's: per-batch cells of every dimension (key, status,
 * lines, bytes, visits: `logflow_batch_keys`, one row per batch interval, epoch and
 * dimension: rows add up, see V3), rolled up behind into minute, hour, day, 30-day and
 * 360-day rows per key and status (with a visitor sketch, V6) plus an every-status row
 * (`logflow_rollups`, levels 1-5, as SQLite's `dim_counts`), with `logflow_dirty` marking the buckets whose rollup is missing or stale
 * (the views and the API read those from the finer rows).
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

/** `start_ms` floored to `size` (`%` truncates towards zero: times before 1970 are negative). */
export function floorSql(column: string, size: number): string {
  return `(${column} - ((${column} % ${size}) + ${size}) % ${size})`;
}

const V1 = `
CREATE TABLE logflow_instances (
  instance text PRIMARY KEY,
  batch_interval_ms bigint NOT NULL,
  window_ms bigint NOT NULL,
  host text NOT NULL,
  pid integer NOT NULL,
  started_at timestamptz NOT NULL
);
CREATE TABLE logflow_latest_window (
  instance text PRIMARY KEY,
  start_ms bigint NOT NULL,
  end_ms bigint NOT NULL,
  total bigint NOT NULL,
  distinct_urls bigint NOT NULL
);
CREATE TABLE logflow_latest_top (
  instance text NOT NULL,
  dimension text NOT NULL,
  rank integer NOT NULL,
  key text NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (instance, dimension, rank)
);
CREATE TABLE logflow_windows (
  instance text NOT NULL,
  end_ms bigint NOT NULL,
  start_ms bigint NOT NULL,
  total bigint NOT NULL,
  distinct_urls bigint NOT NULL,
  PRIMARY KEY (instance, end_ms)
);
CREATE TABLE logflow_batches (
  instance text NOT NULL,
  start_ms bigint NOT NULL,
  events bigint NOT NULL,
  parse_errors bigint NOT NULL,
  PRIMARY KEY (instance, start_ms)
);
CREATE TABLE logflow_batch_keys (
  instance text NOT NULL,
  start_ms bigint NOT NULL,
  dimension text NOT NULL,
  keys text[] NOT NULL,
  counts bigint[] NOT NULL,
  PRIMARY KEY (instance, start_ms, dimension)
);
CREATE TABLE logflow_rollups (
  instance text NOT NULL,
  level smallint NOT NULL,
  start_ms bigint NOT NULL,
  dimension text NOT NULL,
  key text NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (instance, level, start_ms, dimension, key)
);
CREATE INDEX logflow_rollups_by_key ON logflow_rollups (dimension, key, level, start_ms);
-- For the views' time ranges (WHERE minute >= ...): the expression they show.
CREATE INDEX logflow_rollups_by_time ON logflow_rollups (level, dimension, to_timestamp(start_ms / 1000.0));
CREATE TABLE logflow_rollup_totals (
  instance text NOT NULL,
  level smallint NOT NULL,
  start_ms bigint NOT NULL,
  events bigint NOT NULL,
  parse_errors bigint NOT NULL,
  PRIMARY KEY (instance, level, start_ms)
);
CREATE TABLE logflow_dirty (
  instance text NOT NULL,
  level smallint NOT NULL,
  start_ms bigint NOT NULL,
  PRIMARY KEY (instance, level, start_ms)
);

-- Minute rows: the rollup where it is current, else summed from the batches of the dirty minute
-- (driven by the marks, which are few: the minutes behind the rollups).
CREATE VIEW logflow_minute_rows AS
  SELECT r.instance, r.dimension, r.key, r.start_ms, to_timestamp(r.start_ms / 1000.0) AS minute, r.count
    FROM logflow_rollups r
   WHERE r.level = 1
     AND NOT EXISTS (SELECT 1 FROM logflow_dirty d WHERE d.instance = r.instance AND d.level = 1 AND d.start_ms = r.start_ms)
  UNION ALL
  SELECT d.instance, b.dimension, u.key, d.start_ms, to_timestamp(d.start_ms / 1000.0), SUM(u.count)::bigint
    FROM logflow_dirty d
    JOIN logflow_batch_keys b ON b.instance = d.instance AND b.start_ms >= d.start_ms AND b.start_ms < d.start_ms + ${MINUTE}
    CROSS JOIN LATERAL unnest(b.keys, b.counts) AS u(key, count)
   WHERE d.level = 1
   GROUP BY d.instance, b.dimension, u.key, d.start_ms;

-- Hour rows: the rollup where neither it nor a minute of its hour is dirty, else summed from the minute rows.
CREATE VIEW logflow_hour_rows AS
  SELECT r.instance, r.dimension, r.key, r.start_ms, to_timestamp(r.start_ms / 1000.0) AS hour, r.count
    FROM logflow_rollups r
   WHERE r.level = 2
     AND NOT EXISTS (SELECT 1 FROM logflow_dirty d WHERE d.instance = r.instance AND d.level IN (1, 2) AND d.start_ms >= r.start_ms AND d.start_ms < r.start_ms + ${HOUR})
  UNION ALL
  SELECT m.instance, m.dimension, m.key, s.hour_ms, to_timestamp(s.hour_ms / 1000.0), SUM(m.count)::bigint
    FROM (SELECT DISTINCT instance, ${floorSql('start_ms', HOUR)} AS hour_ms FROM logflow_dirty WHERE level IN (1, 2)) s
    JOIN logflow_minute_rows m ON m.instance = s.instance AND m.start_ms >= s.hour_ms AND m.start_ms < s.hour_ms + ${HOUR}
   GROUP BY m.instance, m.dimension, m.key, s.hour_ms;

CREATE VIEW logflow_counts_by_instance AS
  SELECT instance, dimension, key, minute, count, NULL::bigint AS bytes FROM logflow_minute_rows;

CREATE VIEW logflow_counts AS
  SELECT dimension, key, minute, SUM(count)::bigint AS count, NULL::bigint AS bytes
    FROM logflow_minute_rows GROUP BY dimension, key, minute;

CREATE VIEW logflow_counts_hourly_by_instance AS
  SELECT instance, dimension, key, hour, count, NULL::bigint AS bytes FROM logflow_hour_rows;

CREATE VIEW logflow_counts_hourly AS
  SELECT dimension, key, hour, SUM(count)::bigint AS count, NULL::bigint AS bytes
    FROM logflow_hour_rows GROUP BY dimension, key, hour;

CREATE VIEW logflow_top AS
  SELECT t.instance, t.dimension, t.rank, t.key, t.count,
         to_timestamp(w.start_ms / 1000.0) AS window_start, to_timestamp(w.end_ms / 1000.0) AS window_end
    FROM logflow_latest_top t JOIN logflow_latest_window w USING (instance);
`;

/**
 * Day rollups (level 3): a range of months or years reads a row per day and URL. Every day
 * that has rows is marked dirty, so its rollup is written behind, as new ones are; range
 * queries read the hours meanwhile.
 */
const V2 = `
INSERT INTO logflow_dirty (instance, level, start_ms)
  SELECT DISTINCT instance, 3, ${floorSql('start_ms', DAY)} FROM logflow_rollup_totals WHERE level IN (1, 2)
  ON CONFLICT DO NOTHING;
INSERT INTO logflow_dirty (instance, level, start_ms)
  SELECT DISTINCT instance, 3, ${floorSql('start_ms', DAY)} FROM logflow_batches
  ON CONFLICT DO NOTHING;
`;

/**
 * The history by the lines' own time, exactly once (as SQLite's schema 2): batch rows add up,
 * one per batch interval and epoch that added to it (the epoch of the rows an older version
 * wrote is 0); `logflow_epochs` says when each epoch counted (the retention counts from
 * then), `logflow_progress` the last epoch a checkpoint of the instance covers (the rows of
 * later ones are undone at its next start); window rows say when they were written.
 */
const V3 = `
ALTER TABLE logflow_batches ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE logflow_batches DROP CONSTRAINT logflow_batches_pkey;
ALTER TABLE logflow_batches ADD PRIMARY KEY (instance, start_ms, epoch);
ALTER TABLE logflow_batches ALTER COLUMN epoch DROP DEFAULT;
ALTER TABLE logflow_batch_keys ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE logflow_batch_keys DROP CONSTRAINT logflow_batch_keys_pkey;
ALTER TABLE logflow_batch_keys ADD PRIMARY KEY (instance, start_ms, epoch, dimension);
ALTER TABLE logflow_batch_keys ALTER COLUMN epoch DROP DEFAULT;
CREATE INDEX logflow_batches_by_epoch ON logflow_batches (instance, epoch);
CREATE INDEX logflow_batch_keys_by_epoch ON logflow_batch_keys (instance, epoch);
CREATE TABLE logflow_epochs (
  instance text NOT NULL,
  epoch bigint NOT NULL,
  counted_ms bigint NOT NULL,
  PRIMARY KEY (instance, epoch)
);
INSERT INTO logflow_epochs (instance, epoch, counted_ms)
  SELECT DISTINCT instance, 0, (extract(epoch FROM now()) * 1000)::bigint FROM logflow_batches;
CREATE TABLE logflow_progress (
  instance text PRIMARY KEY,
  covered_epoch bigint NOT NULL
);
ALTER TABLE logflow_windows ADD COLUMN counted_ms bigint;
UPDATE logflow_windows SET counted_ms = (extract(epoch FROM now()) * 1000)::bigint;
CREATE INDEX logflow_windows_by_counted ON logflow_windows (instance, counted_ms);
`;

/**
 * The newest window's top keys carry their measures (issue 24's dimensions): bytes, and
 * visitors (distinct clients; NULL when the format has none, not exact past 512: HyperLogLog).
 * The view shows them too (a view's columns are only added at its end).
 */
const V4 = `
ALTER TABLE logflow_latest_top ADD COLUMN bytes bigint NOT NULL DEFAULT 0;
ALTER TABLE logflow_latest_top ADD COLUMN visitors bigint;
ALTER TABLE logflow_latest_top ADD COLUMN visitors_exact boolean NOT NULL DEFAULT true;
CREATE OR REPLACE VIEW logflow_top AS
  SELECT t.instance, t.dimension, t.rank, t.key, t.count,
         to_timestamp(w.start_ms / 1000.0) AS window_start, to_timestamp(w.end_ms / 1000.0) AS window_end,
         t.bytes, t.visitors, t.visitors_exact
    FROM logflow_latest_top t JOIN logflow_latest_window w USING (instance);
`;

/**
 * The history by dimension and status (issue 24 in PostgreSQL, as SQLite's schema 3), and
 * 30-day and 360-day rollups (levels 4 and 5, as SQLite's):
 * - a batch row holds every dimension of the job (one row per dimension, as the URL's was),
 *   each cell with its status and bytes: `statuses`/`bytes` beside `keys`/`counts`; rows
 *   written before hold the URL alone and have them NULL: status 0, no bytes (as SQLite
 *   reads a version-1 blob);
 * - a rollup row is per key and status, with its bytes, beside a row of every status summed
 *   (status ${ANY_STATUS_ROW}, what a range without a status filter and the views read); the rows
 *   before were those, by URL. The primary key leads with the level, dimension and time (as
 *   SQLite's), so that a range by one dimension reads its rows only, not those of a busier
 *   one, a piece at a time (postgres-queries.ts), for one instance or all;
 * - every minute with batch rows is marked dirty: the rollups are made again behind, by every
 *   dimension the rows hold, up to the new levels; ranges read the batch rows meanwhile.
 * The views read the every-status rows and show bytes; `logflow_counts_by_status` is new.
 */
const V5 = `
ALTER TABLE logflow_batch_keys ADD COLUMN statuses integer[], ADD COLUMN bytes bigint[];
ALTER TABLE logflow_rollups ADD COLUMN status integer NOT NULL DEFAULT ${ANY_STATUS_ROW}, ADD COLUMN bytes bigint NOT NULL DEFAULT 0;
ALTER TABLE logflow_rollups DROP CONSTRAINT logflow_rollups_pkey;
ALTER TABLE logflow_rollups ADD PRIMARY KEY (level, dimension, start_ms, instance, key, status);
ALTER TABLE logflow_rollups ALTER COLUMN status DROP DEFAULT, ALTER COLUMN bytes DROP DEFAULT;
INSERT INTO logflow_dirty (instance, level, start_ms)
  SELECT DISTINCT instance, 1, ${floorSql('start_ms', MINUTE)} FROM logflow_batches
  ON CONFLICT DO NOTHING;

CREATE OR REPLACE VIEW logflow_minute_rows AS
  SELECT r.instance, r.dimension, r.key, r.start_ms, to_timestamp(r.start_ms / 1000.0) AS minute, r.count, r.bytes
    FROM logflow_rollups r
   WHERE r.level = 1 AND r.status = ${ANY_STATUS_ROW}
     AND NOT EXISTS (SELECT 1 FROM logflow_dirty d WHERE d.instance = r.instance AND d.level = 1 AND d.start_ms = r.start_ms)
  UNION ALL
  SELECT d.instance, b.dimension, u.key, d.start_ms, to_timestamp(d.start_ms / 1000.0), SUM(u.count)::bigint, COALESCE(SUM(u.bytes), 0)::bigint
    FROM logflow_dirty d
    JOIN logflow_batch_keys b ON b.instance = d.instance AND b.start_ms >= d.start_ms AND b.start_ms < d.start_ms + ${MINUTE}
    CROSS JOIN LATERAL unnest(b.keys, b.counts, b.bytes) AS u(key, count, bytes)
   WHERE d.level = 1
   GROUP BY d.instance, b.dimension, u.key, d.start_ms;

CREATE OR REPLACE VIEW logflow_hour_rows AS
  SELECT r.instance, r.dimension, r.key, r.start_ms, to_timestamp(r.start_ms / 1000.0) AS hour, r.count, r.bytes
    FROM logflow_rollups r
   WHERE r.level = 2 AND r.status = ${ANY_STATUS_ROW}
     AND NOT EXISTS (SELECT 1 FROM logflow_dirty d WHERE d.instance = r.instance AND d.level IN (1, 2) AND d.start_ms >= r.start_ms AND d.start_ms < r.start_ms + ${HOUR})
  UNION ALL
  SELECT m.instance, m.dimension, m.key, s.hour_ms, to_timestamp(s.hour_ms / 1000.0), SUM(m.count)::bigint, SUM(m.bytes)::bigint
    FROM (SELECT DISTINCT instance, ${floorSql('start_ms', HOUR)} AS hour_ms FROM logflow_dirty WHERE level IN (1, 2)) s
    JOIN logflow_minute_rows m ON m.instance = s.instance AND m.start_ms >= s.hour_ms AND m.start_ms < s.hour_ms + ${HOUR}
   GROUP BY m.instance, m.dimension, m.key, s.hour_ms;

CREATE OR REPLACE VIEW logflow_counts_by_instance AS
  SELECT instance, dimension, key, minute, count, bytes FROM logflow_minute_rows;

CREATE OR REPLACE VIEW logflow_counts AS
  SELECT dimension, key, minute, SUM(count)::bigint AS count, SUM(bytes)::bigint AS bytes
    FROM logflow_minute_rows GROUP BY dimension, key, minute;

CREATE OR REPLACE VIEW logflow_counts_hourly_by_instance AS
  SELECT instance, dimension, key, hour, count, bytes FROM logflow_hour_rows;

CREATE OR REPLACE VIEW logflow_counts_hourly AS
  SELECT dimension, key, hour, SUM(count)::bigint AS count, SUM(bytes)::bigint AS bytes
    FROM logflow_hour_rows GROUP BY dimension, key, hour;

-- Per status code: the rollups' per-code rows, the batch cells of dirty minutes (status 0 for
-- rows written before V5).
CREATE VIEW logflow_minute_status_rows AS
  SELECT r.instance, r.dimension, r.key, r.status, r.start_ms, to_timestamp(r.start_ms / 1000.0) AS minute, r.count, r.bytes
    FROM logflow_rollups r
   WHERE r.level = 1 AND r.status >= 0
     AND NOT EXISTS (SELECT 1 FROM logflow_dirty d WHERE d.instance = r.instance AND d.level = 1 AND d.start_ms = r.start_ms)
  UNION ALL
  SELECT d.instance, b.dimension, u.key, COALESCE(u.status, 0), d.start_ms, to_timestamp(d.start_ms / 1000.0), SUM(u.count)::bigint, COALESCE(SUM(u.bytes), 0)::bigint
    FROM logflow_dirty d
    JOIN logflow_batch_keys b ON b.instance = d.instance AND b.start_ms >= d.start_ms AND b.start_ms < d.start_ms + ${MINUTE}
    CROSS JOIN LATERAL unnest(b.keys, b.counts, b.statuses, b.bytes) AS u(key, count, status, bytes)
   WHERE d.level = 1
   GROUP BY d.instance, b.dimension, u.key, COALESCE(u.status, 0), d.start_ms;

CREATE VIEW logflow_counts_by_status AS
  SELECT dimension, key, status, minute, SUM(count)::bigint AS count, SUM(bytes)::bigint AS bytes
    FROM logflow_minute_status_rows GROUP BY dimension, key, status, minute;
`;

/**
 * Visitors over a range (issue 24, as SQLite's schema 4): a batch row keeps its cells' distinct
 * clients, `visits[i]` the visitor set of cell i (`VisitorSketch.encode`'s bytes: the client
 * hashes; NULL for a cell of a dimension that counts no visitors, and the whole array NULL in
 * rows written before), and each rollup row of a key and status code its sketch (`visitors`:
 * the union of its cells' or finer rows', merged by the roller in Node, pg-visitors.ts; NULL
 * when some part was not known, and on the every-status rows). Nothing is marked dirty: the
 * rows written before have no visits to roll up, so their visitors stay NULL (never short).
 */
const V6 = `
ALTER TABLE logflow_batch_keys ADD COLUMN visits bytea[];
ALTER TABLE logflow_rollups ADD COLUMN visitors bytea;
`;

/** Released migrations are never edited: a change is a new one (test/postgres-upgrade.test.ts opens a version-1 database). */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'results, history (batches, minute and hour rollups) and the views, per instance', sql: V1 },
  { version: 2, description: 'day rollups', sql: V2 },
  { version: 3, description: 'history rows by epoch (exactly once across restarts), retention by when counted', sql: V3 },
  { version: 4, description: 'the newest window\'s top keys with their bytes and visitors (dimensions)', sql: V4 },
  { version: 5, description: 'the history by dimension and status with bytes; 30-day and 360-day rollups', sql: V5 },
  { version: 6, description: 'visitors over a range: the batch cells\' visits, a visitor sketch per rollup row of a key and status', sql: V6 },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;

/** Held while migrating: several daemons may start against one database at once. */
const MIGRATION_LOCK = 0x6c6f67666c6f77n; // "logflow"

/** What migrating did, for the log (undefined: nothing to do, or a new database). */
export interface PgMigration {
  readonly from: number;
  readonly to: number;
}

/**
 * Brings the schema to SCHEMA_VERSION; refuses one written by a newer logflow. `where`
 * names the database in errors.
 */
export async function migrate(client: pg.ClientBase, where: string, upTo: number = SCHEMA_VERSION): Promise<PgMigration | undefined> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS logflow_schema_migrations (
      version integer PRIMARY KEY,
      description text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const found = Number((await client.query('SELECT COALESCE(MAX(version), 0) AS v FROM logflow_schema_migrations')).rows[0].v);
    if (found > SCHEMA_VERSION) {
      throw new LogflowError(
        'LF_CHECKPOINT_INCOMPATIBLE',
        `the results database ${where} has schema version ${found}, written by a newer logflow; this one reads versions up to ${SCHEMA_VERSION}. ` +
          'Run the logflow that wrote it, or point a1.jobs.<job>.database at another database.',
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= found || m.version > upTo) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO logflow_schema_migrations (version, description) VALUES ($1, $2)', [m.version, m.description]);
    }
    await client.query('COMMIT');
    return found > 0 && found < upTo ? { from: found, to: upTo } : undefined;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
