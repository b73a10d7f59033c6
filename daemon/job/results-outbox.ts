import type { Logger } from '../log.js';
import type { BatchResult, WindowResult, WindowResultSink } from '../store/window-results.js';
import { resultsWriteFailed, resultsWrittenAgain, rollupFailed } from '../telemetry/index.js';

/**
 * Results per transaction: a replay's catch-up writes ~200,000 per second of work, and a
 * chunk keeps one transaction (and the memory of its journal) bounded.
 */
const CHUNK = 20_000;

type Pending =
  | { readonly kind: 'batch'; readonly batch: BatchResult }
  | { readonly kind: 'window'; result: WindowResult; onWritten: (() => void) | undefined; superseded: boolean };

/**
 * Results on their way to the store, in the order the job made them. When the store fails
 * (the database locked by another process, a full disk) they wait here and are written by
 * a later `flush`; the job checkpoints only once nothing waits, so a crash meanwhile
 * recounts from the last checkpoint instead of losing the unwritten rows. While they wait,
 * only the newest window keeps its top (older ones keep their row): an hour of outage
 * holds a few MB, not an hour of top lists.
 *
 * The other way round, rows written and no checkpoint after them (a crash right after the
 * write, or a checkpoint outage): history rows are written as part of the current epoch,
 * which ends as a checkpoint is written and which that checkpoint records (`endEpoch`); at
 * start the store undoes the epochs the restored checkpoint does not cover (`restore`), so
 * the recount is not added twice.
 */
export class ResultsOutbox {
  readonly #sink: WindowResultSink;
  readonly #log: Logger;
  #queue: Pending[] = [];
  #failures = 0;
  #lastFull: Extract<Pending, { kind: 'window' }> | undefined;
  /** The epoch the history rows written now belong to. */
  #epoch = 1;
  /** An epoch a checkpoint covers that the store has not recorded yet (it is, with the next write). */
  #coveredToRecord: number | undefined;

  constructor(sink: WindowResultSink, log: Logger) {
    this.#sink = sink;
    this.#log = log;
  }

  get pending(): number {
    return this.#queue.length;
  }


  /**
   * At start, with the epoch the restored checkpoint covers: the store undoes what later
   * epochs wrote. Returns how many history rows it undid.
   */
  restore(checkpointCovered: number | undefined): number {
    const restored = this.#sink.restoreEpochs?.(checkpointCovered) ?? { epoch: (checkpointCovered ?? 0) + 1, rolledBack: 0 };
    this.#epoch = restored.epoch;
    return restored.rolledBack;
  }

  /** Ends the current epoch (a checkpoint is about to record it): later rows are the next one's. */
  endEpoch(): number {
    return this.#epoch++;
  }

  /** A checkpoint that covers epochs up to `epoch` has committed: the store records it with its next write. */
  committed(epoch: number): void {
    this.#coveredToRecord = epoch;
  }

  /** Queues a slide's result; `onWritten` runs once it (or a newer one replacing it) is stored. */
  saveWindow(result: WindowResult, onWritten?: () => void): void {
    if (!result.rowOnly) {
      const prev = this.#lastFull;
      if (prev && !prev.superseded) {
        // The newer window replaces the older's top; the older keeps its row if it had one.
        if (!result.changed) result = { ...result, top: prev.result.top, changed: prev.result.changed };
        if (prev.result.changed) prev.result = { ...prev.result, top: [], rowOnly: true };
        else prev.superseded = true;
        prev.onWritten = undefined;
      }
    }
    const entry = { kind: 'window' as const, result, onWritten, superseded: false };
    if (!result.rowOnly) this.#lastFull = entry;
    this.#queue.push(entry);
  }

  saveBatch(batch: BatchResult): void {
    this.#queue.push({ kind: 'batch', batch });
  }

  /** Whether results wait to be written. */
  get waiting(): boolean {
    return this.#queue.length > 0;
  }

  /**
   * Writes what waits, in order, up to `CHUNK` results per transaction; false if the store
   * failed (the rest waits for the next call).
   */
  flush(): boolean {
    let i = 0;
    try {
      while (i < this.#queue.length) {
        const end = Math.min(this.#queue.length, i + CHUNK);
        this.#write(i, end);
        this.#coveredToRecord = undefined;
        for (let j = i; j < end; j++) {
          const p = this.#queue[j]!;
          if (p.kind === 'window' && !p.superseded) p.onWritten?.();
        }
        i = end;
      }
    } catch (err) {
      this.#queue = this.#queue.slice(i);
      if (this.#failures++ === 0) {
        resultsWriteFailed.emit(this.#log, { err, waiting: this.#queue.length });
      }
      return false;
    }
    this.#queue = [];
    this.#lastFull = undefined;
    if (this.#failures > 0) {
      resultsWrittenAgain.emit(this.#log, { failedAttempts: this.#failures, written: i });
      this.#failures = 0;
    }
    return true;
  }

  /**
   * The store's background work (history rollups), once nothing waits; true if some remains.
   * A failure is logged with the store's others and retried at the next call.
   */
  rollUp(budgetMs: number, idle: boolean): boolean {
    if (this.#queue.length > 0 || !this.#sink.rollUp) return false;
    try {
      return this.#sink.rollUp(budgetMs, idle);
    } catch (err) {
      if (this.#failures++ === 0) rollupFailed.emit(this.#log, { err });
      return false;
    }
  }

  /** Writes queue[from, to) in one transaction where the sink has them. */
  #write(from: number, to: number): void {
    const epoch = this.#epoch;
    const covered = this.#coveredToRecord;
    const write = () => {
      if (covered !== undefined) this.#sink.markCovered?.(covered);
      for (let j = from; j < to; j++) {
        const p = this.#queue[j]!;
        if (p.kind === 'batch') this.#sink.saveBatch(p.batch, epoch);
        else if (!p.superseded) this.#sink.saveWindow(p.result);
      }
    };
    if (this.#sink.transaction) this.#sink.transaction(write);
    else write();
  }
}
