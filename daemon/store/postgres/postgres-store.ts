import os from 'node:os';
import pg from 'pg';
import { LogflowError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { PostgresConfig } from '../database-config.js';
import { floorTo, MINUTE } from '../history.js';
import type { ResultItem, RestoredEpochs, WindowResultSink } from '../window-results.js';
import { resultsDatabaseMigrated, resultsDatabaseReachable, resultsDatabaseRefused, resultsDatabaseUnreachable } from '../../telemetry/index.js';
import { classify, clientConfig, databaseError } from './pg-connection.js';
import { PgResultRows, URL_DIMENSION } from './pg-results-rows.js';
import { pruneEpochs, undoEpochs } from './pg-rollups.js';
import { PgRoller } from './pg-roller.js';
import { floorSql, migrate } from './pg-schema.js';

export interface PostgresStoreOptions {
  /** `a1.jobs.<job>.instance`: the name every row is written under. */
  readonly instance: string;
  /** The URL without its password, for logs and errors. */
  readonly where: string;
  readonly batchIntervalMs: number;
  readonly windowMs: number;
  readonly history: boolean;
  /** How long history and window rows are kept from when they were counted (0: for ever). */
  readonly retentionMs: number;
}

/** A restore the job asked for at start, until it ran on a connection. */
interface RestoreAsked {
  readonly covered: number | undefined;
  readonly done: (r: RestoredEpochs) => void;
}

/** How often the retention is applied. */
const PRUNE_EVERY_MS = 60_000;

/** The setting a start-up failure names: a writer of the same instance holds it, or the database itself. */
export type PgSetting = 'database' | 'instance';

/** Reconnects back off from this to MAX_RETRY_MS, doubling. */
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 15_000;
/** `NOTIFY` channel: readers drop their cached answers when a write commits. */
export const RESULTS_CHANNEL = 'logflow_results';

/**
 * The job's results in PostgreSQL: one connection, which holds the instance's lock (a
 * second writer of the same instance is refused) and writes each chunk of results in one
 * transaction; another rolls the history up behind, in the server (PgRoller).
 *
 * Exactly once, as SQLite's history: batch rows add up, each written as part of the job's
 * epoch; a checkpoint records the epoch it covers, and the next write records it here
 * (`logflow_progress`); at start `restoreEpochs` deletes the instance's rows of later epochs
 * (the job counts their lines again), once the server is reached and before anything else
 * is written. The job checkpoints only after the write committed (ResultsOutbox).
 *
 * The server may be unreachable at start-up or go away later: `write` then fails at once
 * (the outbox keeps the results in order and the job refuses events past its bound), and
 * the store reconnects in the background, backing off from 250 ms to 15 s, logged and
 * counted (`status`). What retrying cannot cure (a password refused, a missing database,
 * no right to create the tables, another writer with this instance) stops start-up,
 * naming the key; met later, it is logged and retried the same way.
 */
export class PostgresResultsStore implements WindowResultSink {
  readonly #config: PostgresConfig;
  readonly #opts: PostgresStoreOptions;
  readonly #log: Logger;
  #client: pg.Client | undefined;
  readonly #roller: PgRoller;
  #retryTimer: NodeJS.Timeout | undefined;
  #attempts = 0;
  #retries = 0;
  #closed = false;
  /** The newest minute with a batch: minutes before it are over and can be rolled up. */
  #openMinute = -Infinity;
  /** Whether the last failure was logged as one to fix (a refused password...), so it is not repeated every try. */
  #lastRefusal: string | undefined;
  /** The restore asked at start, until it ran on a connection (`restoreEpochs`). */
  #restore: RestoreAsked | undefined;
  /** The newest epoch recorded in `logflow_epochs`. */
  #epochRecorded = -1;
  #restoreRunning = false;
  #prunedAt = 0;

  private constructor(config: PostgresConfig, opts: PostgresStoreOptions, log: Logger) {
    this.#config = config;
    this.#opts = opts;
    this.#log = log;
    this.#roller = new PgRoller(config, opts.instance, () => this.#openMinute, log);
  }

  /**
   * Connects, migrates the schema and takes the instance. A failure no retry cures throws
   * (with `setting`: the key it is about); an unreachable server is retried in the background.
   */
  static async open(config: PostgresConfig, opts: PostgresStoreOptions, log: Logger): Promise<PostgresResultsStore> {
    const store = new PostgresResultsStore(config, opts, log);
    try {
      await store.#connect();
    } catch (err) {
      if (classify(err) === 'config') throw store.#startupError(err);
      store.#failedToConnect(err);
    }
    return store;
  }

  /** Whether the store is connected, and how many reconnects it tried, for /metrics. */
  get status(): { up: boolean; retries: number } {
    return { up: this.#client !== undefined, retries: this.#retries };
  }

  /**
   * At start (the job's checkpoint restored): undoes the instance's history rows of epochs
   * after `checkpointCovered` (undefined: the database's own record of it). Settles once
   * that ran on a connection, which may be later (a server not reachable yet): the job
   * writes nothing before. Without history nothing is undone, at once.
   */
  restoreEpochs(checkpointCovered: number | undefined): RestoredEpochs | Promise<RestoredEpochs> {
    if (!this.#opts.history) return { epoch: (checkpointCovered ?? 0) + 1, rolledBack: 0 };
    return new Promise((done) => {
      this.#restore = { covered: checkpointCovered, done };
      const c = this.#client;
      if (c) void this.#restoreOn(c).catch((err: unknown) => this.#lost(c, err));
    });
  }

  /** Runs the restore asked for, if any (and not running already), in a transaction of its own on `c`. */
  async #restoreOn(c: pg.ClientBase): Promise<void> {
    const asked = this.#restore;
    if (!asked || this.#restoreRunning) return;
    this.#restoreRunning = true;
    try {
      await this.#undoAfter(c, asked);
    } finally {
      this.#restoreRunning = false;
    }
  }

  async #undoAfter(c: pg.ClientBase, asked: RestoreAsked): Promise<void> {
    const inst = this.#opts.instance;
    let rolledBack = 0;
    let covered = 0;
    await c.query('BEGIN');
    try {
      const recorded = (await c.query<{ covered_epoch: number }>('SELECT covered_epoch FROM logflow_progress WHERE instance = $1', [inst])).rows[0];
      covered = asked.covered ?? recorded?.covered_epoch ?? 0;
      rolledBack = await undoEpochs(c, inst, 'epoch > $2', covered);
      await c.query(
        `INSERT INTO logflow_progress (instance, covered_epoch) VALUES ($1, $2)
         ON CONFLICT (instance) DO UPDATE SET covered_epoch = excluded.covered_epoch`,
        [inst, covered],
      );
      if (rolledBack > 0) await c.query('SELECT pg_notify($1, $2)', [RESULTS_CHANNEL, inst]);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    if (this.#restore !== asked) return;
    this.#restore = undefined;
    this.#epochRecorded = covered;
    asked.done({ epoch: covered + 1, rolledBack });
  }

  /** `items` in one transaction, batches as part of `epoch`; `covered`: a committed checkpoint covers epochs up to it. */
  async write(items: readonly ResultItem[], epoch = 0, covered?: number): Promise<void> {
    const rows = new PgResultRows(items);
    await this.#transaction(async (c) => {
      const inst = this.#opts.instance;
      const now = Date.now();
      if (covered !== undefined) {
        await c.query(
          `INSERT INTO logflow_progress (instance, covered_epoch) VALUES ($1, $2)
           ON CONFLICT (instance) DO UPDATE SET covered_epoch = GREATEST(logflow_progress.covered_epoch, excluded.covered_epoch)`,
          [inst, covered],
        );
      }
      if (rows.batches > 0 && this.#opts.history) await this.#writeBatches(c, rows, epoch, now);
      if (rows.windowEnds.length > 0) {
        await c.query(
          `INSERT INTO logflow_windows (instance, end_ms, start_ms, total, distinct_urls, counted_ms)
           SELECT $1, e, s, t, d, $6 FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS w(e, s, t, d)
           ON CONFLICT (instance, end_ms) DO UPDATE SET start_ms = excluded.start_ms, total = excluded.total, distinct_urls = excluded.distinct_urls,
             counted_ms = excluded.counted_ms`,
          [inst, rows.windowEnds, rows.windowStarts, rows.windowTotals, rows.windowDistinct, now],
        );
      }
      // The retention, from when rows were counted: once a minute.
      if (this.#opts.retentionMs > 0 && now - this.#prunedAt >= PRUNE_EVERY_MS) {
        this.#prunedAt = now;
        await c.query('DELETE FROM logflow_windows WHERE instance = $1 AND counted_ms < $2', [inst, now - this.#opts.retentionMs]);
        if (this.#opts.history) await pruneEpochs(c, inst, now - this.#opts.retentionMs);
      }
      const latest = rows.latest;
      if (latest) {
        await c.query(
          `INSERT INTO logflow_latest_window (instance, start_ms, end_ms, total, distinct_urls) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (instance) DO UPDATE SET start_ms = excluded.start_ms, end_ms = excluded.end_ms, total = excluded.total, distinct_urls = excluded.distinct_urls`,
          [inst, latest.startMs, latest.endMs, latest.total, latest.distinctUrls],
        );
      }
      const top = rows.latestTop;
      if (top) {
        await c.query('DELETE FROM logflow_latest_top WHERE instance = $1', [inst]);
        await c.query(
          `INSERT INTO logflow_latest_top (instance, dimension, rank, key, count, bytes, visitors, visitors_exact)
           SELECT $1, $2, r, k, n, b, v, x FROM unnest($3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::boolean[]) WITH ORDINALITY AS t(k, n, b, v, x, r)`,
          [
            inst,
            top.dimension ?? URL_DIMENSION,
            top.top.map((u) => u.key.replaceAll('\0', '\uFFFD')),
            top.top.map((u) => u.count),
            top.top.map((u) => u.bytes),
            top.top.map((u) => u.visitors),
            top.top.map((u) => u.visitorsExact),
          ],
        );
      }
      // Readers drop their cached answers once this commits.
      await c.query('SELECT pg_notify($1, $2)', [RESULTS_CHANNEL, inst]);
    });
  }

  /**
   * Adds the batches to the history as part of `epoch`, a row per batch and dimension: a
   * batch interval this epoch wrote already gets the counts added (events summed, cells
   * appended: readers sum a key's cells).
   */
  async #writeBatches(c: pg.ClientBase, rows: PgResultRows, epoch: number, now: number): Promise<void> {
    const inst = this.#opts.instance;
    if (epoch !== this.#epochRecorded) {
      await c.query('INSERT INTO logflow_epochs (instance, epoch, counted_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [inst, epoch, now]);
    }
    await c.query(
      `INSERT INTO logflow_batches (instance, start_ms, epoch, events, parse_errors)
       SELECT $1, s, $5, e, p FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS b(s, e, p)
       ON CONFLICT (instance, start_ms, epoch) DO UPDATE SET events = logflow_batches.events + excluded.events,
         parse_errors = logflow_batches.parse_errors + excluded.parse_errors`,
      [inst, rows.batchStarts, rows.batchEvents, rows.batchParseErrors, epoch],
    );
    // A row of an older schema (no statuses, no bytes: status 0, none) gets its arrays filled as it is appended to;
    // visits stay NULL while no part has them, and a part without them is NULLs beside one with (not known).
    for (const part of rows.keyChunks()) {
      await c.query(
        `INSERT INTO logflow_batch_keys (instance, start_ms, epoch, dimension, keys, statuses, counts, bytes, visits)
         SELECT $1, s, $2, d, ($3::text[])[lo:hi], ($4::int[])[lo:hi], ($5::bigint[])[lo:hi], ($6::bigint[])[lo:hi], CASE WHEN v THEN ($11::bytea[])[lo:hi] END
           FROM unnest($7::bigint[], $8::text[], $9::int[], $10::int[], $12::boolean[]) AS b(s, d, lo, hi, v)
         ON CONFLICT (instance, start_ms, epoch, dimension) DO UPDATE SET keys = logflow_batch_keys.keys || excluded.keys,
           statuses = COALESCE(logflow_batch_keys.statuses, array_fill(0, ARRAY[cardinality(logflow_batch_keys.keys)])) || excluded.statuses,
           counts = logflow_batch_keys.counts || excluded.counts,
           bytes = COALESCE(logflow_batch_keys.bytes, array_fill(0::bigint, ARRAY[cardinality(logflow_batch_keys.keys)])) || excluded.bytes,
           visits = CASE WHEN logflow_batch_keys.visits IS NULL AND excluded.visits IS NULL THEN NULL
             ELSE COALESCE(logflow_batch_keys.visits, array_fill(NULL::bytea, ARRAY[cardinality(logflow_batch_keys.keys)]))
               || COALESCE(excluded.visits, array_fill(NULL::bytea, ARRAY[cardinality(excluded.keys)])) END`,
        [inst, epoch, part.keys, part.statuses, part.counts, part.bytes, part.starts, part.dims, part.from, part.to, part.visits, part.withVisits],
      );
    }
    // Their minutes' rollups are missing or stale until rolled up again.
    await c.query(
      `INSERT INTO logflow_dirty (instance, level, start_ms)
       SELECT DISTINCT $1, 1, ${floorSql('s', MINUTE)} FROM unnest($2::bigint[]) AS b(s) ON CONFLICT DO NOTHING`,
      [inst, rows.batchStarts],
    );
    let newest = -Infinity;
    for (const start of rows.batchStarts) newest = Math.max(newest, start);
    if (floorTo(newest, MINUTE) > this.#openMinute) this.#openMinute = floorTo(newest, MINUTE);
  }

  /** Rolls the history up behind the batches, in the server and in the background (PgRoller): nothing for the job to wait for. */
  rollUp(): boolean {
    if (this.#client && this.#opts.history) this.#roller.kick();
    return false;
  }

  /** Rolls up everything that is due, and resolves once it is (tests, the bench). */
  rolledUp(): Promise<void> {
    return this.#opts.history ? this.#roller.drain() : Promise.resolve();
  }

  /** Ends the connection (and with it the instance's lock). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    await this.#roller.close();
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  /** `work` in a transaction on the connection; a lost connection is dropped and reconnected in the background. */
  async #transaction<T>(work: (c: pg.ClientBase) => Promise<T>): Promise<T> {
    const c = this.#client;
    if (!c) {
      throw new LogflowError('LF_DATABASE_UNAVAILABLE', `the results database ${this.#opts.where} is not reachable (reconnecting)`);
    }
    try {
      await c.query('BEGIN');
      const out = await work(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      if (classify(err) === 'unreachable' || this.#client !== c) this.#lost(c, err);
      else await c.query('ROLLBACK').catch((e: unknown) => this.#lost(c, e));
      throw databaseError(`the results database ${this.#opts.where}`, err);
    }
  }

  /** Connects, checks the encoding, migrates, takes the instance's lock and registers it. */
  async #connect(): Promise<void> {
    const o = this.#opts;
    const client = new pg.Client(clientConfig(this.#config, `logflow ${o.instance} (writer)`));
    // A connection that breaks while idle: reconnect (a failure during a query is handled there).
    client.on('error', (err) => this.#lost(client, err));
    try {
      await client.connect();
      const encoding = (await client.query('SHOW server_encoding')).rows[0].server_encoding as string;
      if (encoding !== 'UTF8') {
        throw new LogflowError('LF_CONFIG_UNUSABLE', `the database's encoding is ${encoding}; URLs need UTF8 (CREATE DATABASE ... ENCODING 'UTF8')`);
      }
      const migration = await migrate(client, o.where);
      if (migration) resultsDatabaseMigrated.emit(this.#log, { database: o.where, fromVersion: migration.from, toVersion: migration.to });
      // One writer per instance: a session lock, so it goes with the connection.
      const locked = (await client.query("SELECT pg_try_advisory_lock(hashtextextended('logflow.instance:' || $1, 0)) AS ok", [o.instance])).rows[0].ok as boolean;
      if (!locked) {
        const other = (await client.query('SELECT host, pid FROM logflow_instances WHERE instance = $1', [o.instance])).rows[0] as { host: string; pid: number } | undefined;
        throw Object.assign(
          new LogflowError('LF_CONFIG_UNUSABLE', `another logflow writes as instance ${o.instance} to ${o.where}${other ? ` (pid ${other.pid} on ${other.host})` : ''}: give each daemon its own a1.jobs.<job>.instance`),
          { setting: 'instance' as PgSetting },
        );
      }
      await client.query(
        `INSERT INTO logflow_instances (instance, batch_interval_ms, window_ms, host, pid, started_at) VALUES ($1, $2, $3, $4, $5, now())
         ON CONFLICT (instance) DO UPDATE SET batch_interval_ms = excluded.batch_interval_ms, window_ms = excluded.window_ms,
           host = excluded.host, pid = excluded.pid, started_at = excluded.started_at`,
        [o.instance, o.batchIntervalMs, o.windowMs, os.hostname(), process.pid],
      );
      const newest = (await client.query('SELECT MAX(start_ms) AS m FROM logflow_batches WHERE instance = $1', [o.instance])).rows[0].m as number | null;
      this.#openMinute = newest === null ? -Infinity : floorTo(newest, MINUTE);
      // The job's restore, when it came before the server did: before anything is written.
      await this.#restoreOn(client);
    } catch (err) {
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    // A restore asked while this connection was being made, after its own turn to run it.
    if (this.#restore) void this.#restoreOn(client).catch((err: unknown) => this.#lost(client, err));
    if (this.#attempts > 0) resultsDatabaseReachable.emit(this.#log, { database: o.where, attempts: this.#attempts });
    this.#attempts = 0;
    this.#lastRefusal = undefined;
  }

  #lost(client: pg.Client, err: unknown): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    client.removeAllListeners('error');
    client.on('error', () => undefined);
    void client.end().catch(() => undefined);
    this.#failedToConnect(err);
  }

  /** Logs the failure (a refusal once, an unreachable server at warn the first time) and retries with backoff. */
  #failedToConnect(err: unknown): void {
    if (this.#closed || this.#retryTimer) return;
    const attempt = ++this.#attempts;
    const retryInMs = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(attempt - 1, 16));
    const e = databaseError(`the results database ${this.#opts.where}`, err);
    if (classify(err) === 'config') {
      if (e.message !== this.#lastRefusal) resultsDatabaseRefused.emit(this.#log, { database: this.#opts.where, err: e.message, retryInMs });
      this.#lastRefusal = e.message;
    } else {
      resultsDatabaseUnreachable.emitAt(this.#log, attempt === 1 || attempt % 50 === 0 ? 'warn' : 'debug', { database: this.#opts.where, err: e.message, retryInMs, attempt });
    }
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#retries++;
      this.#connect().catch((e2: unknown) => this.#failedToConnect(e2));
    }, retryInMs);
    this.#retryTimer.unref();
  }

  /** A start-up failure that names its key (`setting`), the password left out. */
  #startupError(err: unknown): Error {
    const setting: PgSetting = (err as { setting?: PgSetting }).setting ?? 'database';
    if (err instanceof LogflowError && err.code === 'LF_CHECKPOINT_INCOMPATIBLE') return Object.assign(err, { setting });
    const message = err instanceof LogflowError ? err.message : databaseError(`cannot use the results database ${this.#opts.where}`, err).message;
    return Object.assign(new LogflowError('LF_CONFIG_UNUSABLE', message, { cause: err }), { setting });
  }
}
