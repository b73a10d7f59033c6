import { closeSync, fstatSync, statSync } from 'node:fs';
import type { Logger } from '../log.js';
import type { FileStatus } from './file-registry.js';
import { spoolFileWrittenAfterFinish } from '../telemetry/index.js';

/** A finished file is watched this long, if it was written this recently when it was finished. */
export const LATE_WRITE_WATCH_MS = 5 * 60_000;
/** At most this many finished files are watched at once (the newest). */
const MAX_WATCHED = 1_000;

/** Where a just-finished file is: its new name, or a descriptor on it (deleted); its inode, the bytes read of it, its last write. */
export interface LateWriteTarget {
  readonly path?: string;
  readonly fd?: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

interface Watched {
  readonly status: FileStatus;
  /** Its name after it was finished (`.COMPLETED`), or, when it was deleted, a descriptor kept open on it. */
  readonly path: string | undefined;
  readonly fd: number | undefined;
  readonly ino: number;
  /** Bytes it had when it was finished: all of them were read. */
  readonly size: number;
  readonly until: number;
  /** Called when its reason changed, so its record is saved again. */
  readonly changed: () => void;
  /** Bytes written after it was finished, as last seen, and as last logged. */
  late: number;
  logged: number;
}

/**
 * The spool is for finished files. A writer that pauses longer than the source waits (about
 * twice pollDelay) and then goes on writes into a file the source has finished: renamed
 * `.COMPLETED` (the writer's descriptor follows the rename) or deleted. Those bytes are never
 * counted. This watch makes that loud instead of silent: a file finished while it was still
 * recent is looked at for a few minutes; if it grows, a warning names it and the bytes not
 * counted, the file's entry says so in `/api/files` (its reason, kept in the records too),
 * and both point to the TAILDIR source, which follows live files.
 */
export class LateWriteWatch {
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #watched: Watched[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(intervalMs: number, log: Logger) {
    this.#intervalMs = intervalMs;
    this.#log = log;
  }

  /**
   * A file was just finished with `size` bytes, all read; `mtimeMs` its last write. A file
   * written long ago (dropped whole) has no writer left and is not watched.
   */
  watch(status: FileStatus, at: LateWriteTarget, changed: () => void): void {
    const now = Date.now();
    if (now - at.mtimeMs > LATE_WRITE_WATCH_MS) {
      if (at.fd !== undefined) closeSync(at.fd);
      return;
    }
    this.#watched.push({ status, path: at.path, fd: at.fd, ino: at.ino, size: at.size, until: now + LATE_WRITE_WATCH_MS, changed, late: 0, logged: 0 });
    if (this.#watched.length > MAX_WATCHED) this.#drop(this.#watched.shift()!);
    this.#timer ??= setInterval(() => this.#check(), this.#intervalMs);
    this.#timer.unref();
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const w of this.#watched.splice(0)) this.#drop(w);
  }

  #check(): void {
    const now = Date.now();
    for (let i = this.#watched.length - 1; i >= 0; i--) {
      const w = this.#watched[i]!;
      let size: number | undefined;
      try {
        const st = w.fd !== undefined ? fstatSync(w.fd) : statSync(w.path!);
        if (st.ino === w.ino) size = st.size;
      } catch {
        size = undefined; // renamed or removed since: nothing to watch any more
      }
      const late = size === undefined ? w.late : Math.max(0, size - w.size);
      if (late > w.late) {
        // Logged when first seen; after that, the entry follows the count, logged again at the end.
        w.late = late;
        if (w.logged === 0) this.#report(w);
        w.status.writtenAfterFinish = late;
        w.status.reason = `written to after it was finished: ${late} bytes not counted (the spool is for finished files; follow a live log with a TAILDIR source)`;
        w.changed();
      }
      if (size === undefined || now >= w.until) {
        this.#watched.splice(i, 1);
        this.#drop(w);
      }
    }
    if (this.#watched.length === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #report(w: Watched): void {
    w.logged = w.late;
    spoolFileWrittenAfterFinish.emit(this.#log, { file: w.status.path, bytesNotCounted: w.late, bytesCounted: w.size, renamedTo: w.path });
  }

  #drop(w: Watched): void {
    if (w.late > w.logged) this.#report(w);
    if (w.fd !== undefined) {
      try {
        closeSync(w.fd);
      } catch {
        // (closed already)
      }
    }
  }
}
