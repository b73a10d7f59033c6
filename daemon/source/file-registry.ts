import type { OpenedInode } from './spool-open.js';

/** What the source knows about each file it has seen; `/api/stats` and `/api/files` read it. */
export const FILE_STATES = ['pending', 'reading', 'completed', 'failed', 'duplicate'] as const;
export type FileState = (typeof FILE_STATES)[number];

export interface FileStatus {
  readonly name: string;
  readonly path: string;
  state: FileState;
  size: number;
  bytesRead: number;
  lines: number;
  truncatedLines: number;
  startedAt: number | undefined;
  finishedAt: number | undefined;
  reason: string | undefined;
  /** Lines that were not access-log lines (known where the job runs in this process). */
  parseErrors: number | undefined;
  /** The file's key in position headers, once reading started. */
  key: string | undefined;
  /** Something the user should look at (most lines did not parse), for a finished file. */
  warning?: string | undefined;
  /** A duplicate: the name of the completed file with the same content. */
  duplicateOf?: string | undefined;
  /** Bytes written to it after it was finished (its writer went on): not counted. */
  writtenAfterFinish?: number | undefined;
  /** The file the source opened and read (device, inode, a link's target): only that one is served back (`/api/files/:name/check`). */
  opened?: OpenedInode | undefined;
  /** Something worth knowing about a completed file (its lines older than the live window). */
  note?: string | undefined;
}

type Finished = 'completed' | 'failed' | 'duplicate';

export type FileCounts = Record<'pending' | 'inProgress' | 'completed' | 'failed', number>;

/** Keeps every pending and active file, and the most recent finished ones. */
export class FileRegistry {
  readonly #files = new Map<string, FileStatus>();
  readonly #finished: string[] = [];
  readonly #keepFinished: number;
  #finishedCount = 0;
  /** Registry keys of the files restored from the records, by file key. */
  readonly #restored = new Map<string, string>();
  readonly #totals = { completed: 0, failed: 0, duplicate: 0 };

  constructor(keepFinished = 10_000) {
    this.#keepFinished = keepFinished;
  }

  get(path: string): FileStatus | undefined {
    return this.#files.get(path);
  }

  add(path: string, name: string, size: number): FileStatus {
    const status: FileStatus = {
      name, path, state: 'pending', size, bytesRead: 0, lines: 0, truncatedLines: 0,
      startedAt: undefined, finishedAt: undefined, reason: undefined, parseErrors: undefined, key: undefined,
    };
    this.#files.set(path, status);
    return status;
  }

  remove(path: string): void {
    this.#files.delete(path);
  }

  /**
   * The files finished before a restart, from the records (oldest first), and the totals:
   * they are listed and counted as if this process had finished them.
   */
  restore(finished: FileStatus[], totals: Record<Finished, number>): void {
    Object.assign(this.#totals, totals);
    for (const status of finished) this.#restored.set(status.key!, this.#keep(status));
  }

  /** The record restored under `key` was another file's (its key is reused): no file finishing now is that one. */
  unrestore(key: string): void {
    this.#restored.delete(key);
  }

  finish(status: FileStatus, state: Finished, reason?: string): void {
    status.state = state;
    status.reason = reason;
    status.finishedAt = Date.now();
    // Recorded already (finished just before a crash, before its rename): listed once.
    const before = status.key === undefined ? undefined : this.#restored.get(status.key);
    if (before !== undefined && this.#files.get(before)?.state === state) this.#files.delete(before);
    else this.#totals[state]++;
    this.#keep(status);
  }

  #keep(status: FileStatus): string {
    // A finished file is keyed by a unique name so a reused file name can start afresh.
    this.#files.delete(status.path);
    const key = `${status.path}\u0000${status.finishedAt}\u0000${this.#finishedCount++}`;
    this.#files.set(key, status);
    this.#finished.push(key);
    if (this.#finished.length > this.#keepFinished) this.#files.delete(this.#finished.shift()!);
    return key;
  }

  counts(): FileCounts {
    let pending = 0;
    let inProgress = 0;
    for (const f of this.#files.values()) {
      if (f.state === 'pending') pending++;
      else if (f.state === 'reading') inProgress++;
    }
    return { pending, inProgress, completed: this.#totals.completed, failed: this.#totals.failed };
  }

  list(): FileStatus[] {
    return [...this.#files.values()];
  }
}
