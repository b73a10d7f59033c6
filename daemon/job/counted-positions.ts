/** What a checkpoint holds of the positions (see `CountedPositions`). */
export interface PositionsState {
  readonly positions: [string, number][];
  readonly fileParseErrors: [string, number][];
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
 * - Parse errors per file, for the source's report when it finishes the file.
 *
 * All of it is checkpointed together with the window.
 */
export class CountedPositions {
  readonly #positions = new Map<string, number>();
  #committed = new Map<string, number>();
  readonly #fileParseErrors = new Map<string, number>();
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

  /** A run of events up to `offset` of file `key`: true if counted already, else it is recorded as counted. */
  countedAlready(key: string, offset: number): boolean {
    if ((this.#positions.get(key) ?? -1) >= offset) return true;
    this.#positions.set(key, offset);
    return false;
  }

  /** True if the id was seen within the window; remembers it until it leaves the window. */
  seen(id: string): boolean {
    if (this.#seenIds.has(id)) return true;
    this.#seenIds.set(id, Math.floor(Date.now() / this.#batchIntervalMs) + this.#windowSlots);
    return false;
  }

  addParseError(fileKey: string): void {
    this.#fileParseErrors.set(fileKey, (this.#fileParseErrors.get(fileKey) ?? 0) + 1);
  }

  parseErrors(fileKey: string): number {
    return this.#fileParseErrors.get(fileKey) ?? 0;
  }

  parseErrorEntries(): [string, number][] {
    return [...this.#fileParseErrors];
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
    this.#fileParseErrors.delete(fileKey);
  }

  /** Drops the ids that expired before slot `oldest` (they can no longer be in the window). */
  expireIds(oldest: number): void {
    for (const [id, expires] of this.#seenIds) if (expires < oldest) this.#seenIds.delete(id);
  }

  /** For a checkpoint. */
  state(): PositionsState {
    return { positions: [...this.#positions], fileParseErrors: [...this.#fileParseErrors], seenIds: [...this.#seenIds] };
  }

  /** The state a checkpoint has just committed is what sources may now rely on. */
  markCommitted(): void {
    this.#committed = new Map(this.#positions);
  }

  restore(state: PositionsState): void {
    for (const [k, v] of state.positions) this.#positions.set(k, v);
    for (const [k, v] of state.fileParseErrors) this.#fileParseErrors.set(k, v);
    for (const [k, v] of state.seenIds) this.#seenIds.set(k, v);
  }
}
