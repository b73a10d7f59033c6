import { mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { TopItem } from '../counts/dimension-window.js';
import type { BatchResult, ResultItem, RestoredEpochs, WindowResult, WindowResultSink } from './window-results.js';
import { LogflowError } from '../errors.js';
import { HistoryReader } from './history.js';
import { HISTORY_INDEXES, HISTORY_SCHEMA, migrateHistoryTo2, migrateHistoryTo3, migrateHistoryTo4 } from './history-schema.js';
import { HistoryWriter, inTransaction } from './history-writer.js';
import { openSchema, type SchemaMigration } from './schema-version.js';
import type { LatestTop, LatestWindow } from './window-results.js';
import { DatabaseFile } from './database-file.js';

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

export type { LatestTop, LatestWindow };

/** How often the windows' retention is applied (one row per slide). */
const PRUNE_WINDOWS_EVERY_MS = 60_000;

/** What a writer's connection holds: the statements of one open file. */
class WriterConnection {
  readonly db: Database.Database;
  readonly saveSlide: (r: WindowResult) => void;
  readonly transaction: (write: () => void) => void;
  readonly history: HistoryWriter | undefined;
  readonly migration: SchemaMigration | undefined;

  /**
   * `history`: keep per-batch counts and their rollups for range queries, for `retentionMs`
   * from when they were counted (0: for ever).
   */
  constructor(file: string, retentionMs: number, history: boolean) {
    let migration: SchemaMigration | undefined;
    let historyWriter: HistoryWriter | undefined;
    const db = (this.db = openDatabase(
      file,
      () => {
        mkdirSync(path.dirname(file), { recursive: true });
        return new Database(file);
      },
      (opened) => {
        opened.pragma('journal_mode = WAL');
        opened.pragma('synchronous = NORMAL');
        // A file the daemon may not write opens all the same (read-only) and fails at the first
        // write, which names no file: writing the header's user_version as it is fails here.
        opened.pragma(`user_version = ${Number(opened.pragma('user_version', { simple: true }))}`);
        migration = openSchema(opened, file, {
          create: () => opened.exec(SCHEMA + HISTORY_SCHEMA),
          // 0 -> 1 changed no table (the rollups a restart skipped were written at start); to 2
          // the history's rows get epochs, and the buckets an older version left are marked dirty.
          migrate: (from) => {
            if (from < 2) migrateHistoryTo2(opened, Date.now());
            if (from < 3) migrateHistoryTo3(opened);
            if (from < 4) migrateHistoryTo4(opened);
          },
          indexes: () => opened.exec(HISTORY_INDEXES),
        });
        historyWriter = history ? new HistoryWriter(opened, retentionMs) : undefined;
      },
    ));
    this.migration = migration;
    this.history = historyWriter;
    this.transaction = db.transaction((write: () => void) => write());
    const upsertLatest = db.prepare(
      `INSERT INTO latest_window (id, start_ms, end_ms, total, distinct_urls) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET start_ms = excluded.start_ms, end_ms = excluded.end_ms,
         total = excluded.total, distinct_urls = excluded.distinct_urls`,
    );
    const clearTop = db.prepare('DELETE FROM latest_items');
    const insertTop = db.prepare('INSERT INTO latest_items (dimension, rank, key, count, bytes, visitors, visitors_exact) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const insertWindow = db.prepare(
      'INSERT OR REPLACE INTO windows (end_ms, start_ms, total, distinct_urls, counted_ms) VALUES (?, ?, ?, ?, ?)',
    );
    const prune = db.prepare('DELETE FROM windows WHERE counted_ms < ?');
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
      r.top.forEach((u, i) => insertTop.run(r.dimension ?? 'url', i + 1, u.key, u.count, u.bytes, u.visitors, u.visitorsExact ? 1 : 0));
      insertWindow.run(r.endMs, r.startMs, r.total, r.distinctUrls, now);
      if (retentionMs > 0 && now - prunedAt >= PRUNE_WINDOWS_EVERY_MS) {
        prunedAt = now;
        prune.run(now - retentionMs);
      }
    };
    this.saveSlide = inTransaction(db, saveSlide);
  }
}

/** What the results database's owner is told when its file is gone or replaced while running. */
export type DatabaseFileLost = (what: 'restored' | 'replaced', file: string) => void;

/**
 * Results in SQLite (WAL, so HTTP readers never wait for the writer). Each slide is one
 * transaction: a reader sees the previous slide or the next, never half of one.
 *
 * The file is looked at once a second (before a write transaction or a rollup): one deleted
 * under the running daemon is written back from the open connection (`VACUUM INTO` a
 * temporary file, renamed into place) and reopened, so no history is lost at the restart;
 * one replaced by another file is reported (`lost`), and this one is written on.
 */
export class ResultsStore implements WindowResultSink {
  #conn: WriterConnection;
  readonly #file: DatabaseFile;
  readonly #retentionMs: number;
  readonly #history: boolean;
  readonly #lost: DatabaseFileLost | undefined;
  #replacedTold = false;
  /** What opening did to an older database's schema (undefined when nothing). */
  readonly migration: SchemaMigration | undefined;

  /** `history`: keep per-batch counts and their rollups for range queries (`retentionMs` of them). */
  constructor(file: string, opts: { retentionMs?: number; history?: boolean; lost?: DatabaseFileLost } = {}) {
    this.#retentionMs = opts.retentionMs ?? 7 * 24 * 3600 * 1000;
    this.#history = opts.history !== false;
    this.#lost = opts.lost;
    this.#conn = new WriterConnection(file, this.#retentionMs, this.#history);
    this.migration = this.#conn.migration;
    this.#file = new DatabaseFile(file);
  }

  /** The job's results, in order, in one transaction; `covered` recorded with them. */
  write(items: readonly ResultItem[], epoch = 0, covered?: number): void {
    this.transaction(() => {
      if (covered !== undefined) this.markCovered(covered);
      for (const item of items) {
        if (item.kind === 'batch') this.saveBatch(item.batch, epoch);
        else this.saveWindow(item.result);
      }
    });
  }

  saveWindow(result: WindowResult): void {
    this.#conn.saveSlide(result);
  }

  transaction(write: () => void): void {
    this.#checkFile();
    try {
      this.#conn.transaction(write);
    } catch (err) {
      this.#conn.history?.rolledBack();
      throw err;
    }
  }

  rollUp(budgetMs: number, idle?: boolean): boolean {
    this.#checkFile();
    return this.#conn.history?.rollUp(budgetMs, idle) ?? false;
  }

  saveBatch(batch: BatchResult, epoch = 0): void {
    this.#conn.history?.save(batch, epoch);
  }

  markCovered(epoch: number): void {
    this.#conn.history?.markCovered(epoch);
  }

  restoreEpochs(checkpointCovered: number | undefined): RestoredEpochs {
    return this.#conn.history?.restoreEpochs(checkpointCovered) ?? { epoch: (checkpointCovered ?? 0) + 1, rolledBack: 0 };
  }

  close(): void {
    this.#conn.db.close();
  }

  /** Outside any transaction: writes the file back if it was deleted (throws if that fails: retried with the results). */
  #checkFile(): void {
    const state = this.#file.check();
    if (state === 'replaced' && !this.#replacedTold) {
      this.#replacedTold = true;
      this.#lost?.('replaced', this.#file.path);
    }
    if (state !== 'gone') return;
    const file = this.#file.path;
    const tmp = `${file}.restoring`;
    rmSync(tmp, { force: true });
    mkdirSync(path.dirname(file), { recursive: true });
    try {
      this.#conn.db.prepare('VACUUM INTO ?').run(tmp);
      // In WAL mode before it is in place, as a reader may open it at once.
      const copy = new Database(tmp);
      copy.pragma('journal_mode = WAL');
      copy.close();
      renameSync(tmp, file);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    this.#conn.db.close();
    this.#conn = new WriterConnection(file, this.#retentionMs, this.#history);
    this.#file.opened();
    this.#lost?.('restored', file);
  }
}

/** What a reader's connection holds: the statements of one open file. */
class ReaderConnection {
  readonly db: Database.Database;
  readonly latestTop: (n: number) => LatestTop;
  readonly version: Database.Statement;
  readonly windows: Database.Statement;
  historyReader: HistoryReader | undefined;

  constructor(file: string) {
    const db = (this.db = openDatabase(file, () => new Database(file, { readonly: true, fileMustExist: true })));
    const latest = db.prepare(
      'SELECT start_ms AS startMs, end_ms AS endMs, total, distinct_urls AS distinctUrls FROM latest_window WHERE id = 1',
    );
    const top = db.prepare('SELECT dimension, key, count, bytes, visitors, visitors_exact AS exact FROM latest_items ORDER BY rank LIMIT ?');
    this.latestTop = db.transaction((n: number) => {
      const rows = top.all(n) as { dimension: string; key: string; count: number; bytes: number; visitors: number | null; exact: number }[];
      return {
        window: latest.get() as LatestWindow | undefined,
        dimension: rows[0]?.dimension,
        items: rows.map((r) => ({ key: r.key, count: r.count, bytes: r.bytes, visitors: r.visitors, visitorsExact: r.exact === 1 })),
      };
    });
    this.version = db.prepare('PRAGMA data_version').pluck();
    this.windows = db.prepare(
      `SELECT start_ms AS startMs, end_ms AS endMs, total, distinct_urls AS distinctUrls FROM windows
       WHERE end_ms > ? AND end_ms <= ? ORDER BY end_ms LIMIT ?`,
    );
  }
}

/**
 * Read side for the HTTP API: its own read-only connection. When the file at the path is
 * another than the one it opened (the writer wrote back a deleted one), it opens that one.
 */
export class ResultsReader {
  #conn: ReaderConnection;
  readonly #file: DatabaseFile;
  /** Answers by `n`, valid while the database's data_version stays the same. */
  #cache = new Map<number, string>();
  #cachedVersion = -1;
  readonly #batchIntervalMs: number;

  /** `batchIntervalMs`: the job's, which its history rows are keyed by. */
  constructor(file: string, batchIntervalMs: number) {
    this.#batchIntervalMs = batchIntervalMs;
    this.#conn = new ReaderConnection(file);
    this.#file = new DatabaseFile(file);
  }

  /** Range queries over the history (per-batch counts and their rollups). */
  history(): HistoryReader {
    const conn = this.#current();
    conn.historyReader ??= new HistoryReader(conn.db, this.#batchIntervalMs);
    return conn.historyReader;
  }

  /** Window rows (one per slide that changed the window) with end in (afterMs, toMs], oldest first. */
  windows(afterMs: number, toMs: number, limit: number): LatestWindow[] {
    return this.#current().windows.all(afterMs, toMs, limit) as LatestWindow[];
  }

  /** The newest window and its top `n` keys of the default dimension, read in one snapshot. */
  latestTop(n: number): LatestTop {
    return this.#current().latestTop(n);
  }

  /**
   * `latestTop` rendered by `render`, cached until the writer commits again: the answer
   * changes once per slide, while readers may ask thousands of times a second.
   */
  latestTopJson(n: number, render: (r: LatestTop) => unknown): string {
    const conn = this.#current();
    const version = conn.version.get() as number;
    if (version !== this.#cachedVersion) {
      this.#cache = new Map();
      this.#cachedVersion = version;
    }
    let json = this.#cache.get(n);
    if (json === undefined) {
      json = JSON.stringify(render(conn.latestTop(n)));
      this.#cache.set(n, json);
    }
    return json;
  }

  close(): void {
    this.#conn.db.close();
  }

  /** The connection to the file now at the path (another one: reopened; none: the open one, until the writer puts it back). */
  #current(): ReaderConnection {
    if (this.#file.check() !== 'replaced') return this.#conn;
    const conn = new ReaderConnection(this.#file.path);
    this.#conn.db.close();
    this.#conn = conn;
    this.#file.opened();
    this.#cachedVersion = -1;
    return conn;
  }
}

/** Opens the database with an error that names the file (SQLite's own says only "unable to open"). */
function openDatabase(file: string, open: () => Database.Database, setUp: (db: Database.Database) => void = () => undefined): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = open();
    // Its first reads and writes are here: a damaged file, a full disk show up now, not at open.
    setUp(db);
    return db;
  } catch (err) {
    db?.close();
    if (err instanceof LogflowError) throw err;
    const e = err as Error & { code?: string };
    throw Object.assign(new LogflowError('LF_DATABASE', `cannot open the results database ${file}: ${e.message} (${e.code ?? 'error'})`, { cause: err }), { path: file });
  }
}
