/** What the source knows about each file it has seen; `/api/stats` and `/api/files` read it. */
export const FILE_STATES = ['pending', 'reading', 'completed', 'failed'] as const;
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
}

export type FileCounts = Record<'pending' | 'inProgress' | 'completed' | 'failed', number>;

/** Keeps every pending and active file, and the most recent finished ones. */
export class FileRegistry {
  readonly #files = new Map<string, FileStatus>();
  readonly #finished: string[] = [];
  readonly #keepFinished: number;
  readonly #totals = { completed: 0, failed: 0 };

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

  finish(status: FileStatus, state: 'completed' | 'failed', reason?: string): void {
    status.state = state;
    status.reason = reason;
    status.finishedAt = Date.now();
    this.#totals[state]++;
    // A finished file is keyed by a unique name so a reused file name can start afresh.
    this.#files.delete(status.path);
    const key = `${status.path}\u0000${status.finishedAt}\u0000${this.#totals.completed + this.#totals.failed}`;
    this.#files.set(key, status);
    this.#finished.push(key);
    if (this.#finished.length > this.#keepFinished) this.#files.delete(this.#finished.shift()!);
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
