import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { TopItem } from '../counts/dimension-window.js';
import type { BatchResult, WindowResult, WindowResultSink } from './window-results.js';
import { LogflowError } from '../errors.js';
import { HISTORY_SCHEMA, HistoryReader } from './history.js';
import { HistoryWriter, inTransaction } from './history-writer.js';
import { openSchema, type SchemaMigration } from './schema-version.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS latest_window (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  total INTEGER NOT NULL,
  distinct_urls INTEGER NOT NULL
);
-- The newest window's most counted URLs, as up to schema 1 kept them (no longer written:
-- latest_items has them with their measures).
CREATE TABLE IF NOT EXISTS latest_top (
  rank INTEGER PRIMARY KEY,
  url TEXT NOT NULL,
  count INTEGER NOT NULL
);
-- The newest window's most counted keys of the default dimension (the URL) with their
-- measures, replaced whenever the window changes. visitors is NULL when the log format has
-- no client; visitors_exact 0 when it is HyperLogLog's estimate.
CREATE TABLE IF NOT EXISTS latest_items (
  dimension TEXT NOT NULL,
  rank INTEGER NOT NULL,
  key TEXT NOT NULL,
  count INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  visitors INTEGER,
  visitors_exact INTEGER NOT NULL,
  PRIMARY KEY (dimension, rank)
) WITHOUT ROWID;
-- One row per slide that changed the window: a quiet site adds nothing.
CREATE TABLE IF NOT EXISTS windows (
  end_ms INTEGER PRIMARY KEY,
  start_ms INTEGER NOT NULL,
  total INTEGER NOT NULL,
  distinct_urls INTEGER NOT NULL
);
`;

export interface LatestWindow {
  readonly startMs: number;
  readonly endMs: number;
  readonly total: number;
  readonly distinctUrls: number;
}

/** The newest window persisted and its top keys of the default dimension (`dimension`; undefined before any). */
export interface LatestTop {
  readonly window: LatestWindow | undefined;
  readonly dimension: string | undefined;
  readonly items: TopItem[];
}

/**
 * Results in SQLite (WAL, so HTTP readers never wait for the writer). Each slide is one
 * transaction: a reader sees the previous slide or the next, never half of one.
 */
export class ResultsStore implements WindowResultSink {
  readonly #db: Database.Database;
  readonly #saveSlide: (r: WindowResult) => void;
  readonly #transaction: (write: () => void) => void;
  /** What opening did to an older database's schema (undefined when nothing). */
  readonly migration: SchemaMigration | undefined;
  readonly #retentionMs: number;
  readonly #history: HistoryWriter | undefined;

  /** `history`: keep per-batch counts and their rollups for range queries (`retentionMs` of them). */
  constructor(file: string, opts: { retentionMs?: number; history?: boolean } = {}) {
    this.#db = openDatabase(file, () => {
      mkdirSync(path.dirname(file), { recursive: true });
      return new Database(file);
    });
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.migration = openSchema(
      this.#db,
      file,
      () => this.#db.exec(SCHEMA + HISTORY_SCHEMA),
      // 0 -> 1: no table changed; the rollups a restart skipped are written at start (below).
      () => undefined,
    );
    this.#retentionMs = opts.retentionMs ?? 7 * 24 * 3600 * 1000;
    this.#history = opts.history === false ? undefined : new HistoryWriter(this.#db, this.#retentionMs);
    this.#transaction = this.#db.transaction((write: () => void) => write());
    const upsertLatest = this.#db.prepare(
      `INSERT INTO latest_window (id, start_ms, end_ms, total, distinct_urls) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET start_ms = excluded.start_ms, end_ms = excluded.end_ms,
         total = excluded.total, distinct_urls = excluded.distinct_urls`,
    );
    const clearTop = this.#db.prepare('DELETE FROM latest_items');
    const insertTop = this.#db.prepare('INSERT INTO latest_items (dimension, rank, key, count, bytes, visitors, visitors_exact) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const insertWindow = this.#db.prepare(
      'INSERT OR REPLACE INTO windows (end_ms, start_ms, total, distinct_urls) VALUES (?, ?, ?, ?)',
    );
    const prune = this.#db.prepare('DELETE FROM windows WHERE end_ms < ?');
    const saveSlide = (r: WindowResult) => {
      if (r.rowOnly) {
        insertWindow.run(r.endMs, r.startMs, r.total, r.distinctUrls);
        return;
      }
      upsertLatest.run(r.startMs, r.endMs, r.total, r.distinctUrls);
      if (!r.changed) return;
      clearTop.run();
      r.top.forEach((u, i) => insertTop.run(r.dimension ?? 'url', i + 1, u.key, u.count, u.bytes, u.visitors, u.visitorsExact ? 1 : 0));
      insertWindow.run(r.endMs, r.startMs, r.total, r.distinctUrls);
      prune.run(r.endMs - this.#retentionMs);
    };
    this.#saveSlide = inTransaction(this.#db, saveSlide);
  }

  /** Minute and hour rollups that were missing at start and were written. */
  get repaired(): { minutes: number; hours: number } {
    return this.#history?.repaired ?? { minutes: 0, hours: 0 };
  }

  saveWindow(result: WindowResult): void {
    this.#saveSlide(result);
  }

  transaction(write: () => void): void {
    try {
      this.#transaction(write);
    } catch (err) {
      this.#history?.rolledBack();
      throw err;
    }
  }

  rollUp(budgetMs: number): boolean {
    return this.#history?.rollUp(budgetMs) ?? false;
  }

  saveBatch(batch: BatchResult): void {
    this.#history?.save(batch);
  }

  close(): void {
    this.#db.close();
  }
}

/** Read side for the HTTP API: its own read-only connection. */
export class ResultsReader {
  readonly #db: Database.Database;
  readonly #latestTop: (n: number) => LatestTop;
  readonly #version: Database.Statement;
  readonly #windows: Database.Statement;
  /** Answers by `n`, valid while the database's data_version stays the same. */
  #cache = new Map<number, string>();
  #cachedVersion = -1;
  readonly #batchIntervalMs: number;
  #historyReader: HistoryReader | undefined;

  /** `batchIntervalMs`: the job's, which its history rows are keyed by. */
  constructor(file: string, batchIntervalMs: number) {
    this.#batchIntervalMs = batchIntervalMs;
    this.#db = openDatabase(file, () => new Database(file, { readonly: true, fileMustExist: true }));
    const latest = this.#db.prepare(
      'SELECT start_ms AS startMs, end_ms AS endMs, total, distinct_urls AS distinctUrls FROM latest_window WHERE id = 1',
    );
    const top = this.#db.prepare('SELECT dimension, key, count, bytes, visitors, visitors_exact AS exact FROM latest_items ORDER BY rank LIMIT ?');
    this.#latestTop = this.#db.transaction((n: number) => {
      const rows = top.all(n) as { dimension: string; key: string; count: number; bytes: number; visitors: number | null; exact: number }[];
      return {
        window: latest.get() as LatestWindow | undefined,
        dimension: rows[0]?.dimension,
        items: rows.map((r) => ({ key: r.key, count: r.count, bytes: r.bytes, visitors: r.visitors, visitorsExact: r.exact === 1 })),
      };
    });
    this.#version = this.#db.prepare('PRAGMA data_version').pluck();
    this.#windows = this.#db.prepare(
      `SELECT start_ms AS startMs, end_ms AS endMs, total, distinct_urls AS distinctUrls FROM windows
       WHERE end_ms > ? AND end_ms <= ? ORDER BY end_ms LIMIT ?`,
    );
  }

  /** Range queries over the history (per-batch counts and their rollups). */
  history(): HistoryReader {
    this.#historyReader ??= new HistoryReader(this.#db, this.#batchIntervalMs);
    return this.#historyReader;
  }

  /** Window rows (one per slide that changed the window) with end in (afterMs, toMs], oldest first. */
  windows(afterMs: number, toMs: number, limit: number): LatestWindow[] {
    return this.#windows.all(afterMs, toMs, limit) as LatestWindow[];
  }

  /** The newest window and its top `n` keys of the default dimension, read in one snapshot. */
  latestTop(n: number): LatestTop {
    return this.#latestTop(n);
  }

  /**
   * `latestTop` rendered by `render`, cached until the writer commits again: the answer
   * changes once per slide, while readers may ask thousands of times a second.
   */
  latestTopJson(n: number, render: (r: LatestTop) => unknown): string {
    const version = this.#version.get() as number;
    if (version !== this.#cachedVersion) {
      this.#cache = new Map();
      this.#cachedVersion = version;
    }
    let json = this.#cache.get(n);
    if (json === undefined) {
      json = JSON.stringify(render(this.#latestTop(n)));
      this.#cache.set(n, json);
    }
    return json;
  }

  close(): void {
    this.#db.close();
  }
}

/** Opens the database with an error that names the file (SQLite's own says only "unable to open"). */
function openDatabase(file: string, open: () => Database.Database): Database.Database {
  try {
    return open();
  } catch (err) {
    const e = err as Error & { code?: string };
    throw new LogflowError('LF_DATABASE', `cannot open the results database ${file}: ${e.message} (${e.code ?? 'error'})`, { cause: err });
  }
}
