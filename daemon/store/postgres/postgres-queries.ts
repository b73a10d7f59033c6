import pg from 'pg';
import { LogflowError } from '../../errors.js';
import type { UrlCount } from '../../counts/index.js';
import type { JobTiming } from '../job-results.js';
import type { PostgresConfig } from '../database-config.js';
import { ANY_STATUS_ROW, decompose, floorTo, HOUR, levelForStep, rollupStatuses, stepVisitors, unusableOf } from '../history.js';
import type { DimensionPoint, DimensionRangeTop, RangePiece, RangeTop } from '../history.js';
import type { StatusRange } from '../../counts/dimension-window.js';
import { slidingTotals, windowEnds, type WindowLayout } from '../rebuilt-windows.js';
import { ALL_INSTANCES, answerHistory, type LatestTop, type LatestWindow, type ResultsQueries, type SeriesPoint } from '../results-queries.js';
import type { HistoryAnswers, HistoryQuery } from '../history-queries.js';
import { classify, clientConfig, databaseError } from './pg-connection.js';
import { URL_DIMENSION } from './pg-results-rows.js';
import { pieceArrays } from './pg-ranges.js';
import { addParts, partsSql } from './pg-visitors.js';
import { VisitorUnion } from '../../counts/visitor-union.js';
import { RESULTS_CHANNEL } from './postgres-store.js';

/** Connections the HTTP thread keeps to the server. */
const POOL_SIZE = 4;

/** The instance filter: $1 is the instances read, or null for all of them. */
const mine = (alias: string) => `($1::text[] IS NULL OR ${alias}instance = ANY($1))`;

/**
 * The instances read ($1), all of them (null: `*`) named: the batch tables' primary keys lead
 * with the instance, and a probe that does not name it would read the whole table.
 */
const EVERY_INSTANCE = 'COALESCE($1::text[], ARRAY(SELECT instance FROM logflow_instances))';

/** A range's pieces ($2-$4): each a level and [lo, hi) to read of it. */
const PIECES = 'unnest($2::int[], $3::bigint[], $4::bigint[]) AS p(level, lo, hi)';

/** The tables whose rows are the batches (level 0); the others hold rollups of levels 1-5. */
const BATCH_TABLES = new Set(['logflow_batches', 'logflow_batch_keys']);

/**
 * The rows of `table` (as `alias`) in a range's pieces, those of the batches in the pieces of
 * level 0, those of the rollups in the pieces of their level, that match `where`: a probe of
 * the table's primary key per piece. (OFFSET 0 keeps the planner from flattening it into a
 * join, which compared every piece with every row: 0.4 s for one range of 1,940 pieces.)
 */
function inPieces(table: string, alias: string, where: string): string {
  const level = BATCH_TABLES.has(table) ? 'p.level = 0' : `${alias}.level = p.level`;
  return `${PIECES} CROSS JOIN LATERAL (SELECT * FROM ${table} ${alias} WHERE ${level} AND ${alias}.start_ms >= p.lo AND ${alias}.start_ms < p.hi
    AND ${alias}.instance = ANY(${EVERY_INSTANCE}) AND ${where} OFFSET 0) ${alias}`;
}

/**
 * The HTTP side's queries on a PostgreSQL results database: a small pool, every answer read
 * in one snapshot (a REPEATABLE READ transaction, or one statement), for one instance or
 * all of them (`*`, summed). Range queries read the coarsest rollups that are not dirty and
 * the batches for the rest, as the SQLite reader does (the same split: history.ts), by any
 * dimension and status; ties in a top list are ordered by the keys' bytes (`COLLATE "C"`),
 * as the window orders them.
 *
 * `latestTopJson` is cached until a writer commits again: writers `NOTIFY logflow_results`
 * in each write's transaction and a listening connection clears the cache. While that
 * connection is down, nothing is cached.
 */
export class PostgresQueries implements ResultsQueries {
  readonly #pool: pg.Pool;
  readonly #config: PostgresConfig;
  readonly #job: JobTiming;
  readonly #where: string;
  readonly #cache = new Map<string, string>();
  /** Bumped by every notification: an answer read before one is not cached after it. */
  #generation = 0;
  #listener: pg.Client | undefined;
  #listening: Promise<void> | undefined;
  #closed = false;

  constructor(config: PostgresConfig, job: JobTiming) {
    this.#config = config;
    this.#job = job;
    this.#where = `${config.user}@${config.host}:${config.port}/${config.database}`;
    this.#pool = new pg.Pool({ ...clientConfig(config, `logflow ${job.instance} (http)`), max: POOL_SIZE });
    // An idle pooled connection that breaks is dropped by the pool; the next query opens another.
    this.#pool.on('error', () => undefined);
  }

  async instances(): Promise<string[]> {
    const rows = await this.#query<{ instance: string }>('SELECT instance FROM logflow_instances ORDER BY instance COLLATE "C"', []);
    return rows.map((r) => r.instance);
  }

  async latestTop(n: number, instance: string): Promise<LatestTop> {
    const inst = this.#instances(instance);
    type Item = [string, number, number, number | null, boolean];
    const [row] = await this.#query<{ window: LatestWindow | null; items: Item[] | null }>(
      `SELECT
         (SELECT json_build_object('startMs', MIN(start_ms), 'endMs', MAX(end_ms), 'total', SUM(total), 'distinctUrls', SUM(distinct_urls))
            FROM logflow_latest_window WHERE ${mine('')} HAVING COUNT(*) > 0) AS window,
         (SELECT json_agg(json_build_array(key, count, bytes, visitors, visitors_exact) ORDER BY ord) FROM (${
           // One instance: its window's own order; all: summed, by count then the key's bytes.
           // Visitors are distinct clients: those of several writers do not add up (NULL).
           inst ? `SELECT key, count, bytes, visitors, visitors_exact, rank AS ord FROM logflow_latest_top WHERE ${mine('')} AND dimension = $3 ORDER BY rank LIMIT $2`
             : `SELECT key, SUM(count)::bigint AS count, SUM(bytes)::bigint AS bytes, NULL::bigint AS visitors, false AS visitors_exact,
                       row_number() OVER (ORDER BY SUM(count) DESC, key COLLATE "C") AS ord
                  FROM logflow_latest_top WHERE ${mine('')} AND dimension = $3 GROUP BY key ORDER BY 6 LIMIT $2`}) t) AS items`,
      [inst, n, URL_DIMENSION],
    );
    const w = row?.window;
    return {
      window: w ? { startMs: Number(w.startMs), endMs: Number(w.endMs), total: Number(w.total), distinctUrls: Number(w.distinctUrls) } : undefined,
      dimension: row?.items?.length ? URL_DIMENSION : undefined,
      items: (row?.items ?? []).map(([key, count, bytes, visitors, exact]) => ({
        key,
        count: Number(count),
        bytes: Number(bytes),
        visitors: visitors === null ? null : Number(visitors),
        visitorsExact: exact,
      })),
    };
  }

  async latestTopJson(n: number, instance: string, render: (r: LatestTop) => unknown): Promise<string> {
    const key = `${instance}\n${n}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    // (Its failure is no request's: the answer is then not cached, and the next request tries again.)
    const listening = this.#listen().then(() => true, () => false);
    const generation = this.#generation;
    const json = JSON.stringify(render(await this.latestTop(n, instance)));
    // Cached only with the listener up and no commit since the read began.
    if ((await listening) && this.#listener && generation === this.#generation) this.#cache.set(key, json);
    return json;
  }

  async windows(afterMs: number, toMs: number, limit: number, instance: string): Promise<LatestWindow[]> {
    return this.#query<LatestWindow>(
      `SELECT MIN(start_ms) AS "startMs", end_ms AS "endMs", SUM(total)::bigint AS total, SUM(distinct_urls)::bigint AS "distinctUrls"
         FROM logflow_windows WHERE ${mine('')} AND end_ms > $2 AND end_ms <= $3
        GROUP BY end_ms ORDER BY end_ms LIMIT $4`,
      [this.#instances(instance), afterMs, toMs, limit],
    );
  }

  /**
   * The history's range queries run here, on the pool, as asynchronous queries: the server
   * does the work, so the HTTP thread only waits for a socket (SQLite's run in query threads).
   */
  history<Q extends HistoryQuery>(query: Q, instance: string): Promise<HistoryAnswers[Q['kind']]> {
    return answerHistory(this, query, instance);
  }

  async extent(instance: string): Promise<{ fromMs: number; toMs: number } | undefined> {
    // Seconds with counted lines (not only lines that did not parse), as SQLite's.
    const row = (await this.#query<{ first: number | null; last: number | null }>(
      `SELECT MIN(start_ms) AS first, MAX(start_ms) AS last FROM logflow_batches WHERE ${mine('')} AND events > parse_errors`,
      [this.#instances(instance)],
    ))[0];
    return !row || row.first === null || row.last === null ? undefined : { fromMs: row.first, toMs: row.last + this.#job.batchIntervalMs };
  }

  async rangeTop(fromMs: number, toMs: number, n: number, instance: string): Promise<RangeTop> {
    const batchMs = this.#job.batchIntervalMs;
    const from = floorTo(fromMs, batchMs);
    const to = floorTo(toMs, batchMs);
    const inst = this.#instances(instance);
    return this.#snapshot(async (c) => {
      const pieces = await this.#pieces(c, inst, from, to);
      if (pieces.length === 0) return { fromMs: from, toMs: to, total: 0, urls: [] };
      const args = [inst, ...pieceArrays(pieces)];
      const urls = (await c.query<UrlCount>(
        `SELECT key AS url, SUM(count)::bigint AS count FROM (
           SELECT r.key, r.count FROM ${inPieces('logflow_rollups', 'r', `r.dimension = $5 AND r.status = ${ANY_STATUS_ROW}`)}
           UNION ALL
           SELECT u.key, u.count FROM ${inPieces('logflow_batch_keys', 'b', 'b.dimension = $5')}
             CROSS JOIN LATERAL unnest(b.keys, b.counts) AS u(key, count)
         ) s GROUP BY key HAVING SUM(count) > 0 ORDER BY 2 DESC, key COLLATE "C" LIMIT $6`,
        [...args, URL_DIMENSION, n],
      )).rows;
      const total = (await c.query<{ total: number }>(
        `SELECT COALESCE(SUM(n), 0)::bigint AS total FROM (
           SELECT t.events - t.parse_errors AS n FROM ${inPieces('logflow_rollup_totals', 't', 'true')}
           UNION ALL
           SELECT b.events - b.parse_errors FROM ${inPieces('logflow_batches', 'b', 'true')}
         ) s`,
        args,
      )).rows[0]!.total;
      return { fromMs: from, toMs: to, total, urls };
    });
  }

  async series(url: string, fromMs: number, toMs: number, stepMs: number, instance: string): Promise<SeriesPoint[]> {
    const from = floorTo(fromMs, stepMs);
    const inst = this.#instances(instance);
    const rows = await this.#snapshot(async (c) => {
      const pieces = await this.#pieces(c, inst, from, toMs, levelForStep(stepMs));
      if (pieces.length === 0) return [];
      return (await c.query<{ start: number; count: number }>(
        `SELECT r.start_ms AS start, r.count FROM ${inPieces('logflow_rollups', 'r', `r.dimension = $5 AND r.key = $6 AND r.status = ${ANY_STATUS_ROW}`)}
         UNION ALL
         SELECT b.start_ms, u.count FROM ${inPieces('logflow_batch_keys', 'b', 'b.dimension = $5 AND $6 = ANY(b.keys)')}
            CROSS JOIN LATERAL unnest(b.keys, b.counts) AS u(key, count)
          WHERE u.key = $6`,
        [inst, ...pieceArrays(pieces), URL_DIMENSION, url],
      )).rows;
    });
    return inSteps(rows, from, toMs, stepMs);
  }

  /**
   * The top `n` keys of `dimension` over [fromMs, toMs) of the lines whose status is in
   * `status`, with their bytes, the total and the number of keys: as SQLite's
   * `HistoryReader.dimensionTop` (the every-status rollup rows without a filter, the codes'
   * with one; the batch rows' cells below them, status 0 for rows older than schema 5).
   */
  async dimensionTop(dimension: string, status: StatusRange, fromMs: number, toMs: number, n: number, instance: string): Promise<DimensionRangeTop> {
    const batchMs = this.#job.batchIntervalMs;
    const from = floorTo(fromMs, batchMs);
    const to = floorTo(toMs, batchMs);
    const inst = this.#instances(instance);
    const [lo, hi] = rollupStatuses(status);
    const answer = await this.#snapshot(async (c) => {
      const pieces = await this.#pieces(c, inst, from, to);
      if (pieces.length === 0) return undefined;
      type Item = [string, number, number];
      const row = (await c.query<{ total: number; keys: number; items: Item[] | null }>(
        `WITH s AS MATERIALIZED (
           SELECT key, SUM(count)::bigint AS count, SUM(bytes)::bigint AS bytes FROM (
             SELECT r.key, r.count, r.bytes FROM ${inPieces('logflow_rollups', 'r', 'r.dimension = $5 AND r.status BETWEEN $6 AND $7')}
             UNION ALL
             SELECT u.key, u.count, COALESCE(u.bytes, 0) FROM ${inPieces('logflow_batch_keys', 'b', 'b.dimension = $5')}
               CROSS JOIN LATERAL unnest(b.keys, b.statuses, b.counts, b.bytes) AS u(key, status, count, bytes)
              WHERE COALESCE(u.status, 0) BETWEEN $8 AND $9
           ) cells GROUP BY key HAVING SUM(count) > 0
         )
         SELECT (SELECT COALESCE(SUM(count), 0)::bigint FROM s) AS total, (SELECT COUNT(*)::bigint FROM s) AS keys,
                (SELECT json_agg(json_build_array(key, count, bytes) ORDER BY count DESC, key COLLATE "C")
                   FROM (SELECT key, count, bytes FROM s ORDER BY count DESC, key COLLATE "C" LIMIT $10) t) AS items`,
        [inst, ...pieceArrays(pieces), dimension, lo, hi, status.lo, status.hi, n],
      )).rows[0]!;
      const keys = (row.items ?? []).map((i) => i[0]);
      // Each client is its own one visitor of the client dimension (as SQLite and live say).
      const visitors = dimension === 'client' ? undefined : await this.#visitorsOf(c, inst, pieces, dimension, status, keys);
      return { ...row, visitors };
    });
    if (!answer) return { fromMs: from, toMs: to, total: 0, keys: 0, items: [] };
    // Ties in the keys' byte order, as SQLite's (COLLATE "C" compares UTF-8 bytes).
    const items = (answer.items ?? []).map(([key, count, bytes]) => ({ key, count: Number(count), bytes: Number(bytes), ...measured(answer.visitors?.get(key)) }));
    return { fromMs: from, toMs: to, total: Number(answer.total), keys: Number(answer.keys), items };
  }

  /**
   * The distinct visitors of each of `keys` (a range's top keys) over `pieces`, of the lines
   * of `status`: the union of its rollup rows' sketches (a row per status code and bucket) and
   * of the batch cells' visits below them, merged here (as SQLite's `#visitorsOf`). A part
   * without visitors (rows written before schema 6, a dimension that counts none) makes a
   * key's union unknown.
   */
  async #visitorsOf(c: pg.ClientBase, inst: string[] | null, pieces: readonly RangePiece[], dimension: string, status: StatusRange, keys: readonly string[]): Promise<Map<string, VisitorUnion>> {
    const unions = new Map(keys.map((k) => [k, new VisitorUnion()]));
    if (keys.length === 0) return unions;
    const rows = (await c.query<{ key: string; unknown: number; parts: Buffer | null }>(
      `SELECT key, COUNT(*) - COUNT(v) AS unknown, ${partsSql('v')} AS parts FROM (
         SELECT r.key, r.visitors AS v FROM ${inPieces('logflow_rollups', 'r', 'r.dimension = $5 AND r.key = ANY($6::text[]) AND r.status BETWEEN $7 AND $8')}
         UNION ALL
         SELECT u.key, u.v FROM ${inPieces('logflow_batch_keys', 'b', 'b.dimension = $5')}
           CROSS JOIN LATERAL unnest(b.keys, b.statuses, b.visits) AS u(key, status, v)
          WHERE u.key = ANY($6::text[]) AND COALESCE(u.status, 0) BETWEEN $9 AND $10
       ) s GROUP BY key`,
      [inst, ...pieceArrays(pieces), dimension, keys, Math.max(0, status.lo), status.hi, status.lo, status.hi],
    )).rows;
    for (const r of rows) {
      const union = unions.get(r.key)!;
      if (r.unknown > 0) union.add(null);
      else addParts(union, r.parts);
    }
    return unions;
  }

  /** One key of `dimension` in steps of `stepMs` over [fromMs, toMs), its lines, bytes and visitors of `status` (as SQLite's `dimensionSeries`). */
  async dimensionSeries(dimension: string, key: string, status: StatusRange, fromMs: number, toMs: number, stepMs: number, instance: string): Promise<DimensionPoint[]> {
    const from = floorTo(fromMs, stepMs);
    const inst = this.#instances(instance);
    const [lo, hi] = rollupStatuses(status);
    const client = dimension === 'client';
    type Row = { start: number; count: number; bytes: number };
    const [rows, sketches] = await this.#snapshot(async (c) => {
      const pieces = await this.#pieces(c, inst, from, toMs, levelForStep(stepMs));
      if (pieces.length === 0) return [[], []];
      const at = [inst, ...pieceArrays(pieces), dimension, key];
      const counted = (await c.query<Row>(
        `SELECT r.start_ms AS start, r.count, r.bytes FROM ${inPieces('logflow_rollups', 'r', 'r.dimension = $5 AND r.key = $6 AND r.status BETWEEN $7 AND $8')}
         UNION ALL
         SELECT b.start_ms, u.count, COALESCE(u.bytes, 0) FROM ${inPieces('logflow_batch_keys', 'b', 'b.dimension = $5 AND $6 = ANY(b.keys)')}
            CROSS JOIN LATERAL unnest(b.keys, b.statuses, b.counts, b.bytes) AS u(key, status, count, bytes)
          WHERE u.key = $6 AND COALESCE(u.status, 0) BETWEEN $9 AND $10`,
        [...at, lo, hi, status.lo, status.hi],
      )).rows;
      if (client) return [counted, []];
      // The step's parts of its visitors: its code rows' sketches, its batch cells' visits (NULL: not known).
      const parts = (await c.query<{ start: number; v: Buffer | null }>(
        `SELECT r.start_ms AS start, r.visitors AS v FROM ${inPieces('logflow_rollups', 'r', 'r.dimension = $5 AND r.key = $6 AND r.status BETWEEN $7 AND $8')}
         UNION ALL
         SELECT b.start_ms, u.v FROM ${inPieces('logflow_batch_keys', 'b', 'b.dimension = $5 AND $6 = ANY(b.keys)')}
            CROSS JOIN LATERAL unnest(b.keys, b.statuses, b.visits) AS u(key, status, v)
          WHERE u.key = $6 AND COALESCE(u.status, 0) BETWEEN $7 AND $8`,
        [...at, Math.max(0, status.lo), status.hi],
      )).rows;
      return [counted, parts];
    });
    const steps = Math.ceil((toMs - from) / stepMs);
    const counts = new Float64Array(steps);
    const bytes = new Float64Array(steps);
    for (const r of rows) {
      const at = Math.floor((r.start - from) / stepMs);
      counts[at]! += r.count;
      bytes[at]! += r.bytes;
    }
    const unions = client ? [] : Array.from({ length: steps }, () => new VisitorUnion());
    for (const p of sketches) unions[Math.floor((p.start - from) / stepMs)]!.add(p.v);
    return Array.from(counts, (count, i) => ({ start: from + i * stepMs, count, bytes: bytes[i]!, ...stepVisitors(client, count, unions[i]) }));
  }

  async totalSeries(fromMs: number, toMs: number, stepMs: number, instance: string): Promise<SeriesPoint[]> {
    const from = floorTo(fromMs, stepMs);
    const inst = this.#instances(instance);
    const rows = await this.#snapshot(async (c) => {
      const pieces = await this.#pieces(c, inst, from, toMs, levelForStep(stepMs));
      if (pieces.length === 0) return [];
      return (await c.query<{ start: number; count: number }>(
        `SELECT t.start_ms AS start, t.events - t.parse_errors AS count FROM ${inPieces('logflow_rollup_totals', 't', 'true')}
         UNION ALL
         SELECT b.start_ms, b.events - b.parse_errors FROM ${inPieces('logflow_batches', 'b', 'true')}`,
        [inst, ...pieceArrays(pieces)],
      )).rows;
    });
    return inSteps(rows, from, toMs, stepMs);
  }

  async rebuiltWindows(afterMs: number, toMs: number, limit: number, opts: WindowLayout, instance: string): Promise<{ startMs: number; endMs: number; total: number }[]> {
    const inst = this.#instances(instance);
    return this.#snapshot(async (c) => {
      const first = (await c.query<{ first: number | null }>(`SELECT MIN(start_ms) AS first FROM logflow_batches WHERE ${mine('')}`, [inst])).rows[0]!.first;
      const ends = windowEnds(first, afterMs, toMs, limit, opts);
      if (!ends) return [];
      const rows = (await c.query<{ start: number; count: number }>(
        `SELECT start_ms AS start, SUM(events - parse_errors)::bigint AS count FROM logflow_batches
          WHERE ${mine('')} AND start_ms >= $2 AND start_ms < $3 GROUP BY start_ms ORDER BY start_ms`,
        [inst, ends.firstEnd - opts.windowMs, ends.lastEnd],
      )).rows;
      return slidingTotals(rows, ends, opts);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.#pool.end();
  }

  /** The instances a query reads ($1): one, or null for all (`*`). */
  #instances(instance: string): string[] | null {
    return instance === ALL_INSTANCES ? null : [instance];
  }

  /** [from, to) in pieces of the coarsest rollups that no instance read has dirty. */
  async #pieces(c: pg.ClientBase, inst: string[] | null, from: number, to: number, topLevel?: number): Promise<RangePiece[]> {
    if (from >= to) return [];
    const marks = (await c.query<{ level: number; start: number }>(
      `SELECT level, start_ms AS start FROM logflow_dirty WHERE ${mine('')} AND start_ms >= $2 AND start_ms < $3`,
      [inst, floorTo(from, HOUR), to],
    )).rows;
    return decompose(from, to, this.#job.batchIntervalMs, unusableOf(marks), topLevel);
  }

  /** One statement, in one snapshot. */
  async #query<T extends pg.QueryResultRow>(sql: string, args: unknown[]): Promise<T[]> {
    return this.#snapshot(async (c) => (await c.query<T>(sql, args)).rows);
  }

  /** `read` in one REPEATABLE READ, read-only transaction: all of an answer from one snapshot. */
  async #snapshot<T>(read: (c: pg.ClientBase) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw databaseError(`the results database ${this.#where}`, err);
    }
    let broken: unknown;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const out = await read(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      broken = err;
      await client.query('ROLLBACK').catch(() => undefined);
      // Tables not made yet (the job has not reached the server): the same answer as a server not reachable.
      if ((err as { code?: string }).code === '42P01') {
        throw new LogflowError('LF_DATABASE_UNAVAILABLE', `the results database ${this.#where} has no logflow tables yet (the job makes them once it reaches the server)`, { cause: err });
      }
      throw databaseError(`the results database ${this.#where}`, err);
    } finally {
      // A broken connection leaves the pool; one that only failed a statement goes back.
      client.release(broken !== undefined && classify(broken) === 'unreachable' ? (broken as Error) : undefined);
    }
  }

  /** Connects the listener that clears the cache on every writer's commit. */
  #listen(): Promise<void> {
    if (this.#listening || this.#closed) return this.#listening ?? Promise.resolve();
    const client = new pg.Client(clientConfig(this.#config, `logflow ${this.#job.instance} (http listen)`));
    const down = () => {
      if (this.#listener === client) this.#listener = undefined;
      this.#listening = undefined;
      this.#cache.clear();
      this.#generation++;
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      void client.end().catch(() => undefined);
    };
    client.on('error', down);
    client.on('end', down);
    client.on('notification', () => {
      this.#generation++;
      this.#cache.clear();
    });
    this.#listening = client.connect().then(
      () => client.query(`LISTEN ${RESULTS_CHANNEL}`),
    ).then(
      () => {
        if (this.#closed) return void client.end().catch(() => undefined);
        this.#listener = client;
      },
      (err: unknown) => {
        down();
        throw err;
      },
    );
    return this.#listening;
  }
}

/** A union's visitors as an item or a point shows them (no union: the client dimension's own one). */
function measured(union: VisitorUnion | undefined): { visitors: number | null; visitorsExact: boolean } {
  if (!union) return { visitors: 1, visitorsExact: true };
  const sketch = union.sketch();
  return sketch ? { visitors: sketch.count(), visitorsExact: sketch.exact } : { visitors: null, visitorsExact: false };
}

/** Counts at their step: rows of [from, to) summed into `Math.ceil((to - from) / step)` points. */
function inSteps(rows: readonly { start: number; count: number }[], from: number, to: number, stepMs: number): SeriesPoint[] {
  const counts = new Float64Array(Math.ceil((to - from) / stepMs));
  for (const r of rows) counts[Math.floor((r.start - from) / stepMs)]! += r.count;
  return Array.from(counts, (count, i) => ({ start: from + i * stepMs, count }));
}
