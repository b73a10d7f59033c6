import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { LogflowError } from '../errors.js';

/** The lock: a SQLite database held in exclusive locking mode. */
const LOCK_DB = 'LOCK.db';
/** Who holds it, for the message another process gives, and for logflow versions before LOCK.db. */
const LOCK_NOTE = 'LOCK';
/** Written after the pid in LOCK: the pid is a note, LOCK.db is the lock. */
const HELD_BY_KERNEL = 'holds LOCK.db';

/**
 * A directory used by one logflow process at a time (a checkpoint or file-channel directory).
 *
 * The lock is one the kernel releases when its holder dies, however it dies: SQLite's
 * exclusive locking mode on `LOCK.db` (a POSIX fcntl lock on Unix, LockFileEx on Windows),
 * taken by a write transaction and kept until the connection closes. The pid file of older
 * versions took "that pid is alive" for "locked": a daemon killed with -9 and not yet reaped
 * (a zombie) refused the restart, and after a reboot the recorded pid could belong to any
 * process, which stopped the daemon for good (issue 22 item 12). Node has no flock(2);
 * better-sqlite3 is a dependency already, and SQLite keeps POSIX locks right within one
 * process (a second connection to the file, from any thread, is refused too).
 * Taking and giving it up costs 0.56 ms (0.21 ms for the pid file; 200 rounds at load 20).
 *
 * `LOCK` keeps the holder's pid as a note: named in the refusal, and read by older logflow
 * versions, which then refuse to start on a directory a newer one uses. A `LOCK` in the older
 * form (the pid alone), from an older version, is honoured only while that pid is a logflow
 * process (on Linux, where /proc says so; elsewhere while it is alive), so an upgrade with an
 * older daemon still running cannot run two on one directory.
 */
export class DirLock {
  readonly #db: Database.Database;
  readonly #note: string;

  private constructor(db: Database.Database, note: string) {
    this.#db = db;
    this.#note = note;
  }

  static acquire(dir: string, what: string): DirLock {
    const note = path.join(dir, LOCK_NOTE);
    const holder = olderVersionHolder(note);
    if (holder !== undefined) {
      throw new LogflowError('LF_LOCKED', `${what} ${dir} is in use by another logflow process (pid ${holder}, an older version, see ${note})`);
    }
    const file = path.join(dir, LOCK_DB);
    let db: Database.Database | undefined;
    try {
      db = new Database(file, { timeout: 0 });
      db.pragma('locking_mode = EXCLUSIVE');
      // The first write takes the exclusive lock; in this mode it is kept after the commit.
      db.exec('BEGIN EXCLUSIVE; COMMIT');
    } catch (err) {
      db?.close();
      const code = (err as { code?: string }).code;
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
        const pid = Number.parseInt(readQuietly(note), 10);
        throw new LogflowError('LF_LOCKED', `${what} ${dir} is in use by another logflow process (${Number.isInteger(pid) ? `pid ${pid}, ` : ''}it holds ${file})`);
      }
      // Not locked: it could not be made or written (a full or read-only file system, no
      // access). Thrown as what it is, naming the file, for the setting's hint (startup-errors.ts).
      (err as Error).message = `${file}: ${(err as Error).message}`;
      throw Object.assign(err as Error, { path: file });
    }
    writeFileSync(note, `${process.pid} ${HELD_BY_KERNEL}\n`);
    return new DirLock(db, note);
  }

  /** Gives the directory up (the lock would go with the process anyway). */
  release(): void {
    if (!this.#db.open) return;
    try {
      unlinkSync(this.#note);
    } catch {
      // already gone
    }
    this.#db.close();
  }
}

/** The pid in a LOCK written by a logflow before LOCK.db, if that process is still a logflow. */
function olderVersionHolder(note: string): number | undefined {
  const text = readQuietly(note);
  if (text === '' || text.includes(HELD_BY_KERNEL)) return undefined;
  const pid = Number.parseInt(text, 10);
  if (!Number.isInteger(pid) || pid === process.pid || !isAlive(pid)) return undefined;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    // No /proc (or not ours to read): alive is all that is known.
    return pid;
  }
  return /logflow|daemon[/\\]main\.js/.test(cmdline) ? pid : undefined;
}

function readQuietly(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
