import type pg from 'pg';
import { ANY_STATUS_ROW, LEVEL_MS, MINUTE, TOP_LEVEL } from '../history.js';
import { floorSql } from './pg-schema.js';
import { partsSql, unionOfParts } from './pg-visitors.js';

/** Buckets rolled up per statement. */
const GROUP = 30;

/**
 * The dimensions the rollups of level $2 hold (of every instance), as `dims(name)`: a loose
 * scan of the primary key (level, dimension, start_ms, instance, ...), one probe per
 * dimension, so that a bucket's rows are found dimension by dimension through it (as
 * SQLite's history writer does).
 */
const DIMENSIONS = `WITH RECURSIVE dims(name) AS (
  SELECT MIN(dimension) FROM logflow_rollups WHERE level = $2
  UNION ALL SELECT (SELECT MIN(dimension) FROM logflow_rollups WHERE level = $2 AND dimension > dims.name) FROM dims WHERE dims.name IS NOT NULL
)`;

/**
 * The history's rollups, in the server, behind the batches, as SQLite's history writer
 * does them in the job's thread: a batch written marks its minute dirty; a dirty minute is
 * summed again from its batches' cells (per dimension, key and status, and per key of every
 * status: ANY_STATUS_ROW), which marks its hour dirty; an hour, then a day, a 30-day and a
 * 360-day span whose finer buckets are all clean is summed from the level below. Only
 * buckets that are over (before the newest minute with a batch) are rolled up. One call
 * rolls up a group of minutes and a group of each coarser level, in the caller's
 * transaction; true if some remain.
 *
 * The marks rolled up are locked (FOR UPDATE): a write that marks one of them again while
 * this runs waits for it and marks it after, so no batch is left behind a clean mark.
 */
export async function rollUpGroup(c: pg.ClientBase, instance: string, openMinute: number): Promise<boolean> {
  const minutes = (await c.query<{ start_ms: number }>(
    'SELECT start_ms FROM logflow_dirty WHERE instance = $1 AND level = 1 AND start_ms < $2 ORDER BY start_ms LIMIT $3 FOR UPDATE',
    [instance, openMinute, GROUP],
  )).rows.map((r) => r.start_ms);
  if (minutes.length > 0) await rollUpMinutes(c, instance, minutes);
  let more = minutes.length === GROUP;
  for (let level = 2; level <= TOP_LEVEL; level++) more = (await rollUpLevel(c, instance, level, openMinute)) || more;
  return more;
}

async function rollUpMinutes(c: pg.ClientBase, instance: string, minutes: number[]): Promise<void> {
  const args = [instance, minutes];
  await clear(c, instance, 1, minutes);
  const inMinutes = (t: string) => `${t}instance = $1 AND ${t}start_ms >= $3 AND ${t}start_ms < $4 AND ${floorSql(t + 'start_ms', MINUTE)} = ANY($2::bigint[])`;
  const span = [instance, minutes, minutes[0]!, minutes.at(-1)! + MINUTE];
  // Cells of rows written before the statuses (schema 4) are status 0 with no bytes; before the visits (schema 5), visitors unknown.
  const cells = (where = '') => `SELECT ${floorSql('b.start_ms', MINUTE)} AS m, b.dimension, u.key, COALESCE(u.status, 0) AS status, u.count, COALESCE(u.bytes, 0) AS bytes, u.v
    FROM logflow_batch_keys b CROSS JOIN LATERAL unnest(b.keys, b.statuses, b.counts, b.bytes, b.visits) AS u(key, status, count, bytes, v)
   WHERE ${inMinutes('b.')}${where}`;
  const unions = await visitorUnions(c, `SELECT m, dimension, key, status, ${partsSql('v')} AS parts FROM (${cells(' AND b.visits IS NOT NULL')}) AS cells
    GROUP BY 1, 2, 3, 4 HAVING COUNT(*) > 1`, span);
  await c.query(
    `INSERT INTO logflow_rollups (instance, level, start_ms, dimension, key, status, count, bytes, visitors)
     SELECT $1, 1, g.m, g.dimension, g.key, g.status, g.count, g.bytes, ${VISITORS_OF_GROUP}
       FROM (SELECT m, dimension, key, CASE WHEN GROUPING(status) = 1 THEN ${ANY_STATUS_ROW} ELSE status END AS status, SUM(count) AS count, SUM(bytes) AS bytes,
                    COUNT(*) AS parts, COUNT(v) AS known, CASE WHEN COUNT(*) = 1 THEN string_agg(v, ''::bytea) END AS one
               FROM (${cells()}) AS cells
              GROUP BY GROUPING SETS ((m, dimension, key, status), (m, dimension, key))) AS g
       ${JOIN_UNIONS}`,
    [...span, ...unions],
  );
  await c.query(
    `INSERT INTO logflow_rollup_totals (instance, level, start_ms, events, parse_errors)
     SELECT $1, 1, ${floorSql('start_ms', MINUTE)}, SUM(events), SUM(parse_errors) FROM logflow_batches WHERE ${inMinutes('')} GROUP BY 3`,
    span,
  );
  await c.query('DELETE FROM logflow_dirty WHERE instance = $1 AND level = 1 AND start_ms = ANY($2::bigint[])', args);
  await markCoarser(c, instance, 2, minutes);
}

/**
 * A group's visitors (g: `parts` rows, `known` of them with visitors, `one` the only part's):
 * none on the every-status rows (a range without a status filter reads its codes' rows, as
 * SQLite's); unknown (NULL) when a part is; the only part as it is; else the union made in
 * Node (`visitorUnions`, joined as j).
 */
const VISITORS_OF_GROUP = `CASE WHEN g.status < 0 OR g.known < g.parts THEN NULL WHEN g.parts = 1 THEN g.one ELSE j.visitors END`;
/** The unions made in Node, $5-$9 after the statement's own four arguments. */
const JOIN_UNIONS = `LEFT JOIN unnest($5::bigint[], $6::text[], $7::text[], $8::int[], $9::bytea[]) AS j(start_ms, dimension, key, status, visitors)
  ON g.parts > 1 AND j.start_ms = g.m AND j.dimension = g.dimension AND j.key = g.key AND j.status = g.status`;

/**
 * The unions of the groups that `sql` gives as (m, dimension, key, status, parts) rows (those
 * of several parts, which the server cannot merge), as the column arrays JOIN_UNIONS reads.
 * A group with an unknown part may come too: the insert leaves it NULL.
 */
async function visitorUnions(c: pg.ClientBase, sql: string, args: unknown[]): Promise<[number[], string[], string[], number[], (Buffer | null)[]]> {
  const rows = (await c.query<{ m: number; dimension: string; key: string; status: number; parts: Buffer | null }>(sql, args)).rows;
  const out: [number[], string[], string[], number[], (Buffer | null)[]] = [[], [], [], [], []];
  for (const r of rows) {
    out[0].push(r.m);
    out[1].push(r.dimension);
    out[2].push(r.key);
    out[3].push(r.status);
    // (A NULL part makes the group's string_agg skip it: the insert sees `known < parts` and keeps NULL.)
    out[4].push(r.parts === null ? null : unionOfParts(r.parts));
  }
  return out;
}

/** Buckets of `level` that are over and whose finer buckets are all clean, summed from the level below. */
async function rollUpLevel(c: pg.ClientBase, instance: string, level: number, openMinute: number): Promise<boolean> {
  const size = LEVEL_MS[level]!;
  const starts = (await c.query<{ start_ms: number }>(
    `SELECT b.start_ms FROM logflow_dirty b WHERE b.instance = $1 AND b.level = $2 AND b.start_ms + ${size} <= $3
       AND NOT EXISTS (SELECT 1 FROM logflow_dirty f WHERE f.instance = $1 AND f.level < $2 AND f.start_ms >= b.start_ms AND f.start_ms < b.start_ms + ${size})
     ORDER BY b.start_ms LIMIT $4 FOR UPDATE`,
    [instance, level, openMinute, GROUP],
  )).rows.map((r) => r.start_ms);
  if (starts.length === 0) return false;
  await clear(c, instance, level, starts);
  // The finer rows of the buckets: a range of the primary key per dimension (the buckets are in order).
  const from = starts[0]!;
  const to = starts.at(-1)! + size;
  const finer = (lo: string, hi: string) => `instance = $1 AND level = $2 AND start_ms >= ${lo} AND start_ms < ${hi} AND ${floorSql('start_ms', size)} = ANY($3::bigint[])`;
  const unions = await visitorUnions(
    c,
    `${DIMENSIONS} SELECT ${floorSql('start_ms', size)} AS m, dimension, key, status, ${partsSql('visitors')} AS parts FROM logflow_rollups
      WHERE ${finer('$4', '$5')} AND dimension IN (SELECT name FROM dims) AND status >= 0 AND visitors IS NOT NULL GROUP BY 1, 2, 3, 4 HAVING COUNT(*) > 1`,
    [instance, level - 1, starts, from, to],
  );
  await c.query(
    `${DIMENSIONS} INSERT INTO logflow_rollups (instance, level, start_ms, dimension, key, status, count, bytes, visitors)
     SELECT $1, $4::smallint, g.m, g.dimension, g.key, g.status, g.count, g.bytes, ${VISITORS_OF_GROUP}
       FROM (SELECT ${floorSql('start_ms', size)} AS m, dimension, key, status, SUM(count) AS count, SUM(bytes) AS bytes,
                    COUNT(*) AS parts, COUNT(visitors) AS known, CASE WHEN COUNT(*) = 1 THEN string_agg(visitors, ''::bytea) END AS one
               FROM logflow_rollups WHERE ${finer('$10', '$11')} AND dimension IN (SELECT name FROM dims) GROUP BY 1, 2, 3, 4) AS g
       ${JOIN_UNIONS}`,
    [instance, level - 1, starts, level, ...unions, from, to],
  );
  const args = [instance, level - 1, starts, level, from, to];
  const finerTotals = finer('$5', '$6');
  await c.query(
    `INSERT INTO logflow_rollup_totals (instance, level, start_ms, events, parse_errors)
     SELECT $1, $4::smallint, ${floorSql('start_ms', size)}, SUM(events), SUM(parse_errors) FROM logflow_rollup_totals
      WHERE ${finerTotals} GROUP BY 3`,
    args,
  );
  await c.query('DELETE FROM logflow_dirty WHERE instance = $1 AND level = $2 AND start_ms = ANY($3::bigint[])', [instance, level, starts]);
  if (level < TOP_LEVEL) await markCoarser(c, instance, level + 1, starts);
  return starts.length === GROUP;
}

async function clear(c: pg.ClientBase, instance: string, level: number, starts: number[]): Promise<void> {
  const args = [instance, level, starts];
  await c.query(`${DIMENSIONS} DELETE FROM logflow_rollups WHERE instance = $1 AND level = $2 AND dimension IN (SELECT name FROM dims) AND start_ms = ANY($3::bigint[])`, args);
  await c.query('DELETE FROM logflow_rollup_totals WHERE instance = $1 AND level = $2 AND start_ms = ANY($3::bigint[])', args);
}

/** The buckets of `level` that hold `starts` are stale now. */
async function markCoarser(c: pg.ClientBase, instance: string, level: number, starts: number[]): Promise<void> {
  await c.query(
    `INSERT INTO logflow_dirty (instance, level, start_ms)
     SELECT DISTINCT $1, $2::smallint, ${floorSql('s', LEVEL_MS[level]!)} FROM unnest($3::bigint[]) AS t(s) ON CONFLICT DO NOTHING`,
    [instance, level, starts],
  );
}

/**
 * The retention, as SQLite's history: the rows of epochs that counted before `cutoffMs` go
 * (the retention counts from when lines were counted, not from their own time, so a year-old
 * log replayed today is kept), and their minutes are marked dirty: the rollups are summed
 * again without them, and their hours, days... after them. Returns how many rows went.
 */
export async function pruneEpochs(c: pg.ClientBase, instance: string, cutoffMs: number): Promise<number> {
  const old = (await c.query<{ e: number | null }>('SELECT MAX(epoch) AS e FROM logflow_epochs WHERE instance = $1 AND counted_ms < $2', [instance, cutoffMs])).rows[0]!.e;
  if (old === null) return 0;
  return undoEpochs(c, instance, 'epoch <= $2', old);
}

/**
 * Deletes the batch rows of `instance` whose epoch matches `where` ($2 is `epoch`), marking
 * their minutes dirty, and the epochs themselves. Returns how many batch rows went.
 */
export async function undoEpochs(c: pg.ClientBase, instance: string, where: 'epoch <= $2' | 'epoch > $2', epoch: number): Promise<number> {
  const args = [instance, epoch];
  await c.query(
    `INSERT INTO logflow_dirty (instance, level, start_ms)
     SELECT DISTINCT $1, 1, ${floorSql('start_ms', MINUTE)} FROM logflow_batches WHERE instance = $1 AND ${where} ON CONFLICT DO NOTHING`,
    args,
  );
  await c.query(`DELETE FROM logflow_batch_keys WHERE instance = $1 AND ${where}`, args);
  const gone = (await c.query(`DELETE FROM logflow_batches WHERE instance = $1 AND ${where}`, args)).rowCount ?? 0;
  await c.query(`DELETE FROM logflow_epochs WHERE instance = $1 AND ${where}`, args);
  return gone;
}
