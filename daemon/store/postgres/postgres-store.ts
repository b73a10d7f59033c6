import os from 'node:os';
import pg from 'pg';
import { LogflowError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { PostgresConfig } from '../database-config.js';
import { floorTo, MINUTE } from '../history.js';
import type { ResultItem, WindowResultSink } from '../window-results.js';
import { resultsDatabaseMigrated, resultsDatabaseReachable, resultsDatabaseRefused, resultsDatabaseUnreachable } from '../../telemetry/index.js';
import { classify, clientConfig, databaseError } from './pg-connection.js';
import { PgResultRows, URL_DIMENSION } from './pg-results-rows.js';
import { prune } from './pg-rollups.js';
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
  readonly retentionMs: number;
}

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
 * Exactly once: a batch's row is keyed by (instance, batch start) and saved again replaces
 * it, as in SQLite; the job checkpoints only after the write committed (ResultsOutbox).
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

  async write(items: readonly ResultItem[]): Promise<void> {
    const rows = new PgResultRows(items);
    await this.#transaction(async (c) => {
      const inst = this.#opts.instance;
      if (rows.batches > 0 && this.#opts.history) await this.#writeBatches(c, rows);
      if (rows.windowEnds.length > 0) {
        await c.query(
          `INSERT INTO logflow_windows (instance, end_ms, start_ms, total, distinct_urls)
           SELECT $1, e, s, t, d FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS w(e, s, t, d)
           ON CONFLICT (instance, end_ms) DO UPDATE SET start_ms = excluded.start_ms, total = excluded.total, distinct_urls = excluded.distinct_urls`,
          [inst, rows.windowEnds, rows.windowStarts, rows.windowTotals, rows.windowDistinct],
        );
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
        await c.query('DELETE FROM logflow_latest_top WHERE instance = $1 AND dimension = $2', [inst, URL_DIMENSION]);
        await c.query(
          `INSERT INTO logflow_latest_top (instance, dimension, rank, key, count)
           SELECT $1, $2, r, k, n FROM unnest($3::text[], $4::bigint[]) WITH ORDINALITY AS t(k, n, r)`,
          [inst, URL_DIMENSION, top.top.map((u) => u.url.replaceAll('\0', '\uFFFD')), top.top.map((u) => u.count)],
        );
        await c.query('DELETE FROM logflow_windows WHERE instance = $1 AND end_ms < $2', [inst, top.endMs - this.#opts.retentionMs]);
      }
      // Readers drop their cached answers once this commits.
      await c.query('SELECT pg_notify($1, $2)', [RESULTS_CHANNEL, inst]);
    });
  }

  async #writeBatches(c: pg.ClientBase, rows: PgResultRows): Promise<void> {
    const inst = this.#opts.instance;
    await c.query(
      `INSERT INTO logflow_batches (instance, start_ms, events, parse_errors)
       SELECT $1, s, e, p FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS b(s, e, p)
       ON CONFLICT (instance, start_ms) DO UPDATE SET events = excluded.events, parse_errors = excluded.parse_errors`,
      [inst, rows.batchStarts, rows.batchEvents, rows.batchParseErrors],
    );
    for (const part of rows.keyChunks()) {
      await c.query(
        `INSERT INTO logflow_batch_keys (instance, start_ms, dimension, keys, counts)
         SELECT $1, s, $2, ($3::text[])[lo:hi], ($4::bigint[])[lo:hi] FROM unnest($5::bigint[], $6::int[], $7::int[]) AS b(s, lo, hi)
         ON CONFLICT (instance, start_ms, dimension) DO UPDATE SET keys = excluded.keys, counts = excluded.counts`,
        [inst, URL_DIMENSION, part.keys, part.counts, part.starts, part.from, part.to],
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
    if (floorTo(newest, MINUTE) > this.#openMinute) {
      this.#openMinute = floorTo(newest, MINUTE);
      await prune(c, this.#opts.instance, newest - this.#opts.retentionMs);
    }
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
