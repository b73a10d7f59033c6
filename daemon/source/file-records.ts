import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { LogflowError } from '../errors.js';
import type { Fingerprint } from './fingerprint.js';
import type { FileStatus } from './file-registry.js';
import type { OpenedInode } from './spool-open.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS files (
  key TEXT PRIMARY KEY,          -- the source's file key (file-identity.ts); an older file's with the same one gets key~rowid
  name TEXT NOT NULL,
  path TEXT NOT NULL,
  state TEXT NOT NULL,           -- completed, failed, duplicate
  size INTEGER NOT NULL,
  bytes_read INTEGER NOT NULL,
  lines INTEGER NOT NULL,
  truncated_lines INTEGER NOT NULL,
  parse_errors INTEGER,
  started_at INTEGER,
  finished_at INTEGER NOT NULL,
  reason TEXT,
  warning TEXT,
  duplicate_of TEXT,
  note TEXT,
  content_size INTEGER,          -- the fingerprint of a completed file (fileIdentity = content)
  head_hash TEXT,
  full_hash TEXT,
  opened TEXT                    -- JSON: device, inode (and a link's target) of the file read
);
CREATE INDEX IF NOT EXISTS files_by_fingerprint ON files (content_size, head_hash) WHERE head_hash IS NOT NULL;
CREATE INDEX IF NOT EXISTS files_by_finish ON files (finished_at);
`;

interface Row {
  key: string;
  name: string;
  path: string;
  state: 'completed' | 'failed' | 'duplicate';
  size: number;
  bytes_read: number;
  lines: number;
  truncated_lines: number;
  parse_errors: number | null;
  started_at: number | null;
  finished_at: number;
  reason: string | null;
  warning: string | null;
  duplicate_of: string | null;
  opened: string | null;
  note: string | null;
}

/**
 * A write to the records failed (SQLITE_FULL on a full spool file system, SQLITE_READONLY,
 * SQLITE_IOERR...): the file it was for waits, and the write is tried again (FileFinisher).
 */
export class RecordsUnwritable extends LogflowError {
  constructor(file: string, cause: unknown) {
    const e = cause as { message?: string; code?: string };
    super('LF_RECORDS_UNWRITABLE', `${file}: ${e?.message ?? String(cause)}${e?.code ? ` (${e.code})` : ''}`);
    this.name = 'RecordsUnwritable';
  }
}

/** Opens (or makes) files.db: an error names the file and keeps SQLite's code as its cause (LF_DATABASE). */
function openRecords(file: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(SCHEMA);
    // Records written before the column existed have none: their files are not served back.
    const columns = db.prepare('PRAGMA table_info(files)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'opened')) db.exec('ALTER TABLE files ADD COLUMN opened TEXT');
    // Records from before the note (issue 21): the column is added once.
    if (!columns.some((c) => c.name === 'note')) db.exec('ALTER TABLE files ADD COLUMN note TEXT');
    return db;
  } catch (err) {
    db?.close();
    const e = err as Error & { code?: string };
    throw new LogflowError('LF_DATABASE', `cannot open the source's records of finished files ${file}: ${e.message} (${e.code ?? 'error'})`, { cause: err });
  }
}

/** A completed file whose fingerprint may match a new file's. */
export interface Original {
  readonly key: string;
  readonly name: string;
  readonly fullHash: string | null;
}

/**
 * The source's durable memory of finished files (`trackerDir/files.db`): what `/api/files`
 * shows of them after a restart, and the fingerprints that recognise a file counted before.
 * A record is written before the file is renamed, so a `kill -9` between the two finds the
 * record of the same file (same key) at the restart, never a lost one. SQLite in WAL mode
 * with `synchronous = NORMAL`: a commit survives the process being killed, and costs tens of
 * microseconds, so 10,000 small files do not wait for it.
 */
export class FileRecords {
  readonly #db: Database.Database;
  /** files.db's path, named in errors. */
  readonly file: string;
  readonly #retentionMs: number;
  readonly #upsert: Database.Statement;
  readonly #candidates: Database.Statement;
  readonly #prune: Database.Statement;
  readonly #retire: Database.Statement;
  #saves = 0;

  constructor(dir: string, retentionMs: number) {
    this.file = path.join(dir, 'files.db');
    this.#db = openRecords(this.file);
    this.#retentionMs = retentionMs;
    this.#upsert = this.#db.prepare(
      `INSERT OR REPLACE INTO files (key, name, path, state, size, bytes_read, lines, truncated_lines, parse_errors,
         started_at, finished_at, reason, warning, duplicate_of, note, content_size, head_hash, full_hash, opened)
       VALUES (@key, @name, @path, @state, @size, @bytes_read, @lines, @truncated_lines, @parse_errors,
         @started_at, @finished_at, @reason, @warning, @duplicate_of, @note, @content_size, @head_hash, @full_hash, @opened)`,
    );
    this.#candidates = this.#db.prepare(
      `SELECT key, name, full_hash AS fullHash FROM files WHERE state = 'completed' AND content_size = ? AND head_hash = ? ORDER BY finished_at`,
    );
    this.#prune = this.#db.prepare('DELETE FROM files WHERE finished_at < ?');
    this.#retire = this.#db.prepare("UPDATE files SET key = key || '~' || rowid WHERE key = ? AND state = 'completed'");
    this.prune();
  }

  /** Records a finished file (again, under the same key, if it was recorded before). Throws RecordsUnwritable. */
  save(status: FileStatus, fingerprint?: Fingerprint): void {
    this.#write(() => this.#upsert.run({
      key: status.key ?? `${status.path}\u0000${status.finishedAt}`,
      name: status.name,
      path: status.path,
      state: status.state,
      size: status.size,
      bytes_read: status.bytesRead,
      lines: status.lines,
      truncated_lines: status.truncatedLines,
      parse_errors: status.parseErrors ?? null,
      started_at: status.startedAt ?? null,
      finished_at: status.finishedAt ?? Date.now(),
      reason: status.reason ?? null,
      warning: status.warning ?? null,
      duplicate_of: status.duplicateOf ?? null,
      note: status.note ?? null,
      content_size: fingerprint?.size ?? null,
      head_hash: fingerprint?.head ?? null,
      full_hash: fingerprint?.full ?? null,
      opened: status.opened ? JSON.stringify(status.opened) : null,
    }));
    if (++this.#saves % 1000 === 0) this.prune();
  }

  #write<T>(write: () => T): T {
    try {
      return write();
    } catch (err) {
      throw new RecordsUnwritable(this.file, err);
    }
  }

  /**
   * Moves the completed file's record under `key` (if any) to a key of its own (`key~rowid`),
   * with its fingerprint: the key now names another file (see FileFinisher.claimKey). True if
   * there was one. (A failed or duplicate file's record holds no fingerprint: the new file's
   * record replaces it.)
   */
  retire(key: string): boolean {
    return this.#write(() => this.#retire.run(key).changes > 0);
  }

  /** Completed files with the same size and first 64 KB, oldest first. */
  candidates(fingerprint: Fingerprint): Original[] {
    return this.#candidates.all(fingerprint.size, fingerprint.head) as Original[];
  }

  /** The most recent `limit` finished files, oldest first, as the registry holds them. */
  recent(limit: number): FileStatus[] {
    const rows = this.#db.prepare('SELECT * FROM files ORDER BY finished_at DESC LIMIT ?').all(limit) as Row[];
    return rows.reverse().map((r) => ({
      name: r.name,
      path: r.path,
      state: r.state,
      size: r.size,
      bytesRead: r.bytes_read,
      lines: r.lines,
      truncatedLines: r.truncated_lines,
      startedAt: r.started_at ?? undefined,
      finishedAt: r.finished_at,
      reason: r.reason ?? undefined,
      parseErrors: r.parse_errors ?? undefined,
      key: r.key,
      warning: r.warning ?? undefined,
      duplicateOf: r.duplicate_of ?? undefined,
      opened: r.opened ? (JSON.parse(r.opened) as OpenedInode) : undefined,
      note: r.note ?? undefined,
    }));
  }

  /** How many files of each finished state are recorded. */
  counts(): Record<'completed' | 'failed' | 'duplicate', number> {
    const out = { completed: 0, failed: 0, duplicate: 0 };
    for (const r of this.#db.prepare('SELECT state, COUNT(*) AS n FROM files GROUP BY state').all() as { state: keyof typeof out; n: number }[]) out[r.state] = r.n;
    return out;
  }

  /** Forgets files finished longer than the retention ago (and their fingerprints). */
  prune(now = Date.now()): void {
    try {
      this.#prune.run(now - this.#retentionMs);
    } catch {
      // Pruning waits for a write that works (a full file system at start is not a reason to stop).
    }
  }

  close(): void {
    this.#db.close();
  }
}
