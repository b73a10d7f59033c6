import type { UrlCount } from '../counts/top-k.js';

/** One slide's answer: the window [startMs, endMs) and its most counted URLs. */
export interface WindowResult {
  readonly startMs: number;
  readonly endMs: number;
  readonly total: number;
  readonly distinctUrls: number;
  readonly top: readonly UrlCount[];
  /** False when nothing entered or left since the previous slide: only the bounds moved. */
  readonly changed: boolean;
  /** Only the window's row (a slide along a historical log), not the newest window's top. */
  readonly rowOnly?: boolean;
}

/**
 * Counts of one batch interval of the lines' own time, for the history: its totals and URL
 * counts. Several for the same interval add up (a late file, an early firing updated).
 */
export interface BatchResult {
  readonly startMs: number;
  readonly events: number;
  readonly parseErrors: number;
  /** `[count u32][length u32][URL bytes]` per URL (`SlidingWindow.encodeSlot`). */
  readonly counts: Buffer;
}

/**
 * The port the job writes through; the store implements it (the job never imports SQLite).
 *
 * Exactly once for the history, whose rows add up: every row is written as part of an
 * epoch; a checkpoint records the epoch it covers (the results are written before it), and
 * at start `restoreEpochs` undoes the rows of later epochs, whose lines the job counts
 * again from the checkpoint (a crash between the results and the checkpoint, or during a
 * checkpoint outage).
 */
export interface WindowResultSink {
  saveWindow(result: WindowResult): void;
  /** Adds a batch's counts to the history at its own time, as part of `epoch`. */
  saveBatch(batch: BatchResult, epoch: number): void;
  /**
   * Runs `write` (calls of these methods) as one transaction, all or nothing. A replay
   * closes thousands of batches per second: one transaction each was the whole cost.
   */
  transaction?(write: () => void): void;
  /** Background work on what is stored (history rollups) for about `budgetMs`; true if some remains. */
  rollUp?(budgetMs: number, idle: boolean): boolean;
  /** Epochs up to `epoch` are in a committed checkpoint (recorded with the next write). */
  markCovered?(epoch: number): void;
  /**
   * At start: undoes the history written after the epoch the restored checkpoint covers
   * (undefined: no checkpoint, or one from before epochs). Returns the epoch to write in.
   */
  restoreEpochs?(checkpointCovered: number | undefined): { epoch: number; rolledBack: number };
}
