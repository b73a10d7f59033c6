/** What the job counted of one file, for the file's figures (`/api/files`) across restarts. */
export interface FileFigures {
  /** Lines (events) counted. */
  lines: number;
  /** Lines that were not access-log lines. */
  parseErrors: number;
  /** Lines older than the live window: counted in the history only. */
  historyOnly: number;
  /** When the job first counted a line of it (ms). */
  startedMs: number;
}

/** What a checkpoint holds of the positions (see `CountedPositions`). */
export interface PositionsState {
  readonly positions: [string, number][];
  /** Per file: key, lines, parse errors, history-only lines, first counted (ms). */
  readonly files: [string, number, number, number, number][];
  readonly seenIds: [string, number][];
}

/**
 * Dedupe: what the job has counted, so an event a sender sends again is counted once.
 *
 * - Source positions: a source batch is a run of events whose first carries
 *   `lf.pos = key:offset:n`; the job records each file's offset as it counts it, and a run
 *   at or below the recorded offset was counted before. As of the last committed
 *   checkpoint these say where a restarted source resumes (`committed`).
 * - Event ids: events without a position but with an `id` header are remembered until they
 *   leave the window.
 * - Per file, its figures (lines, parse errors, lines outside the live window, when it was
 *   first counted): checkpointed with the positions, so a file resumed after a restart
 *   reports the whole file's figures, not what was read since.
 *
 * All of it is checkpointed together with the window.
 */
export class CountedPositions {
  readonly #positions = new Map<string, number>();
  #committed = new Map<string, number>();
  readonly #files = new Map<string, FileFigures>();
  #committedFiles = new Map<string, FileFigures>();
  /** Id -> the slot after which it has left the window. */
  readonly #seenIds = new Map<string, number>();
  readonly #batchIntervalMs: number;
  readonly #windowSlots: number;

  constructor(batchIntervalMs: number, windowSlots: number) {
    this.#batchIntervalMs = batchIntervalMs;
    this.#windowSlots = windowSlots;
  }

  /** Files with a position. */
  get size(): number {
    return this.#positions.size;
  }

  /**
   * A run of `events` events up to `offset` of file `key`: true if counted already, else it
   * is recorded as counted (and its lines as the file's).
   */
  countedAlready(key: string, offset: number, events = 0): boolean {
    if ((this.#positions.get(key) ?? -1) >= offset) return true;
    this.#positions.set(key, offset);
    this.#figures(key).lines += events;
    return false;
  }

  /** True if the id was seen within the window; remembers it until it leaves the window. */
  seen(id: string): boolean {
    if (this.#seenIds.has(id)) return true;
    this.#seenIds.set(id, Math.floor(Date.now() / this.#batchIntervalMs) + this.#windowSlots);
    return false;
  }

  addParseError(fileKey: string): void {
    this.#figures(fileKey).parseErrors++;
  }

  addHistoryOnly(fileKey: string, n = 1): void {
    this.#figures(fileKey).historyOnly += n;
  }

  parseErrors(fileKey: string): number {
    return this.#files.get(fileKey)?.parseErrors ?? 0;
  }

  /** The figures of every file as of the last committed checkpoint. */
  committedFigures(): [string, FileFigures][] {
    return [...this.#committedFiles];
  }

  /** Offset below which a file's lines are durably counted (in the last committed checkpoint). */
  committed(fileKey: string): number | undefined {
    return this.#committed.get(fileKey);
  }

  committedEntries(): [string, number][] {
    return [...this.#committed];
  }

  /** A finished file: its source will not send it again. */
  forget(fileKey: string): void {
    this.#positions.delete(fileKey);
    this.#files.delete(fileKey);
  }

  /** Drops the ids that expired before slot `oldest` (they can no longer be in the window). */
  expireIds(oldest: number): void {
    for (const [id, expires] of this.#seenIds) if (expires < oldest) this.#seenIds.delete(id);
  }

  /** For a checkpoint. */
  state(): PositionsState {
    return {
      positions: [...this.#positions],
      files: [...this.#files].map(([k, f]) => [k, f.lines, f.parseErrors, f.historyOnly, f.startedMs]),
      seenIds: [...this.#seenIds],
    };
  }

  /** The state a checkpoint has just committed is what sources may now rely on. */
  markCommitted(): void {
    this.#committed = new Map(this.#positions);
    this.#committedFiles = new Map([...this.#files].map(([k, f]) => [k, { ...f }]));
  }

  /** From a checkpoint; one older than file figures has only the parse errors (`fileParseErrors`). */
  restore(state: Partial<PositionsState> & { positions: [string, number][]; seenIds: [string, number][]; fileParseErrors?: [string, number][] }): void {
    for (const [k, v] of state.positions) this.#positions.set(k, v);
    for (const [k, lines, parseErrors, historyOnly, startedMs] of state.files ?? []) this.#files.set(k, { lines, parseErrors, historyOnly, startedMs });
    for (const [k, v] of state.fileParseErrors ?? []) this.#figures(k).parseErrors = v;
    for (const [k, v] of state.seenIds) this.#seenIds.set(k, v);
  }

  #figures(key: string): FileFigures {
    let f = this.#files.get(key);
    if (!f) {
      f = { lines: 0, parseErrors: 0, historyOnly: 0, startedMs: Date.now() };
      this.#files.set(key, f);
    }
    return f;
  }
}
