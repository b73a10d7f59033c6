import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Fingerprint } from './fingerprint.js';
import type { FileStatus } from './file-registry.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS files (
  key TEXT PRIMARY KEY,          -- the source's file key: name, inode, size, mtime
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
  full_hash TEXT
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
  note: string | null;
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
  readonly #retentionMs: number;
  readonly #upsert: Database.Statement;
  readonly #candidates: Database.Statement;
  readonly #prune: Database.Statement;
  #saves = 0;

  constructor(dir: string, retentionMs: number) {
    mkdirSync(dir, { recursive: true });
    this.#db = new Database(path.join(dir, 'files.db'));
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.exec(SCHEMA);
    // Records from before the note (issue 21): the column is added once.
    if (!(this.#db.prepare("SELECT COUNT(*) FROM pragma_table_info('files') WHERE name = 'note'").pluck().get() as number)) {
      this.#db.exec('ALTER TABLE files ADD COLUMN note TEXT');
    }
    this.#retentionMs = retentionMs;
    this.#upsert = this.#db.prepare(
      `INSERT OR REPLACE INTO files (key, name, path, state, size, bytes_read, lines, truncated_lines, parse_errors,
         started_at, finished_at, reason, warning, duplicate_of, note, content_size, head_hash, full_hash)
       VALUES (@key, @name, @path, @state, @size, @bytes_read, @lines, @truncated_lines, @parse_errors,
         @started_at, @finished_at, @reason, @warning, @duplicate_of, @note, @content_size, @head_hash, @full_hash)`,
    );
    this.#candidates = this.#db.prepare(
      `SELECT key, name, full_hash AS fullHash FROM files WHERE state = 'completed' AND content_size = ? AND head_hash = ? ORDER BY finished_at`,
    );
    this.#prune = this.#db.prepare('DELETE FROM files WHERE finished_at < ?');
    this.prune();
  }

  /** Records a finished file (again, under the same key, if it was recorded before). */
  save(status: FileStatus, fingerprint?: Fingerprint): void {
    this.#upsert.run({
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
    });
    if (++this.#saves % 1000 === 0) this.prune();
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
    this.#prune.run(now - this.#retentionMs);
  }

  close(): void {
    this.#db.close();
  }
}
