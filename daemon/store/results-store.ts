import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { UrlCount } from '../counts/index.js';
import type { BatchResult, WindowResult, WindowResultSink } from './window-results.js';
import { LogflowError } from '../errors.js';
import { HistoryReader } from './history.js';
import { HISTORY_INDEXES, HISTORY_SCHEMA, migrateHistoryTo2 } from './history-schema.js';
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
-- The newest window's most counted URLs, replaced whenever the window changes.
CREATE TABLE IF NOT EXISTS latest_top (
  rank INTEGER PRIMARY KEY,
  url TEXT NOT NULL,
  count INTEGER NOT NULL
);
-- One row per slide that changed the window: a quiet site adds nothing. counted_ms: when
-- it was written (the retention counts from then).
CREATE TABLE IF NOT EXISTS windows (
  end_ms INTEGER PRIMARY KEY,
  start_ms INTEGER NOT NULL,
  total INTEGER NOT NULL,
  distinct_urls INTEGER NOT NULL,
  counted_ms INTEGER
);
`;

export interface LatestWindow {
  readonly startMs: number;
  readonly endMs: number;
  readonly total: number;
  readonly distinctUrls: number;
}

/** How often the windows' retention is applied (one row per slide). */
const PRUNE_WINDOWS_EVERY_MS = 60_000;

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

  /**
   * `history`: keep per-batch counts and their rollups for range queries, for `retentionMs`
   * from when they were counted (0: for ever).
   */
  constructor(file: string, opts: { retentionMs?: number; history?: boolean } = {}) {
    this.#db = openDatabase(file, () => {
      mkdirSync(path.dirname(file), { recursive: true });
      return new Database(file);
    });
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.migration = openSchema(this.#db, file, {
      create: () => this.#db.exec(SCHEMA + HISTORY_SCHEMA),
      // 0 -> 1 changed no table (the rollups a restart skipped were written at start); to 2
      // the history's rows get epochs, and the buckets an older version left are marked dirty.
      migrate: (from) => {
        if (from < 2) migrateHistoryTo2(this.#db, Date.now());
      },
      indexes: () => this.#db.exec(HISTORY_INDEXES),
    });
    this.#retentionMs = opts.retentionMs ?? 7 * 24 * 3600 * 1000;
    this.#history = opts.history === false ? undefined : new HistoryWriter(this.#db, this.#retentionMs);
    this.#transaction = this.#db.transaction((write: () => void) => write());
    const upsertLatest = this.#db.prepare(
      `INSERT INTO latest_window (id, start_ms, end_ms, total, distinct_urls) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET start_ms = excluded.start_ms, end_ms = excluded.end_ms,
         total = excluded.total, distinct_urls = excluded.distinct_urls`,
    );
    const clearTop = this.#db.prepare('DELETE FROM latest_top');
    const insertTop = this.#db.prepare('INSERT INTO latest_top (rank, url, count) VALUES (?, ?, ?)');
    const insertWindow = this.#db.prepare(
      'INSERT OR REPLACE INTO windows (end_ms, start_ms, total, distinct_urls, counted_ms) VALUES (?, ?, ?, ?, ?)',
    );
    const prune = this.#db.prepare('DELETE FROM windows WHERE counted_ms < ?');
    let prunedAt = 0;
    const saveSlide = (r: WindowResult) => {
      const now = Date.now();
      if (r.rowOnly) {
        insertWindow.run(r.endMs, r.startMs, r.total, r.distinctUrls, now);
        return;
      }
      upsertLatest.run(r.startMs, r.endMs, r.total, r.distinctUrls);
      if (!r.changed) return;
      clearTop.run();
      r.top.forEach((u, i) => insertTop.run(i + 1, u.url, u.count));
      insertWindow.run(r.endMs, r.startMs, r.total, r.distinctUrls, now);
      if (this.#retentionMs > 0 && now - prunedAt >= PRUNE_WINDOWS_EVERY_MS) {
        prunedAt = now;
        prune.run(now - this.#retentionMs);
      }
    };
    this.#saveSlide = inTransaction(this.#db, saveSlide);
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

  rollUp(budgetMs: number, idle?: boolean): boolean {
    return this.#history?.rollUp(budgetMs, idle) ?? false;
  }

  saveBatch(batch: BatchResult, epoch = 0): void {
    this.#history?.save(batch, epoch);
  }

  markCovered(epoch: number): void {
    this.#history?.markCovered(epoch);
  }

  restoreEpochs(checkpointCovered: number | undefined): { epoch: number; rolledBack: number } {
    return this.#history?.restoreEpochs(checkpointCovered) ?? { epoch: (checkpointCovered ?? 0) + 1, rolledBack: 0 };
  }

  close(): void {
    this.#db.close();
  }
}

/** Read side for the HTTP API: its own read-only connection. */
export class ResultsReader {
  readonly #db: Database.Database;
  readonly #latestTop: (n: number) => { window: LatestWindow | undefined; urls: UrlCount[] };
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
    const top = this.#db.prepare('SELECT url, count FROM latest_top ORDER BY rank LIMIT ?');
    this.#latestTop = this.#db.transaction((n: number) => ({
      window: latest.get() as LatestWindow | undefined,
      urls: top.all(n) as UrlCount[],
    }));
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

  /** The newest window and its top `n` URLs, read in one snapshot. */
  latestTop(n: number): { window: LatestWindow | undefined; urls: UrlCount[] } {
    return this.#latestTop(n);
  }

  /**
   * `latestTop` rendered by `render`, cached until the writer commits again: the answer
   * changes once per slide, while readers may ask thousands of times a second.
   */
  latestTopJson(n: number, render: (r: { window: LatestWindow | undefined; urls: UrlCount[] }) => unknown): string {
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
