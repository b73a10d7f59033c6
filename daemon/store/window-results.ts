import type { TopItem } from '../counts/dimension-window.js';

/** One slide's answer: the window [startMs, endMs) and its most counted keys of the default dimension (the URL). */
export interface WindowResult {
  readonly startMs: number;
  readonly endMs: number;
  readonly total: number;
  /** Keys of the default dimension in the window. */
  readonly distinctUrls: number;
  readonly top: readonly TopItem[];
  /** The dimension `top` is of (default `url`). */
  readonly dimension?: string;
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
  /** The batch's counts by dimension (counts/batch-blob.ts; `WindowSet.encodeSlot`). */
  readonly counts: Buffer;
}

/** One result, in the order the job made it. */
export type ResultItem = { readonly kind: 'batch'; readonly batch: BatchResult } | { readonly kind: 'window'; readonly result: WindowResult };

/** What `restoreEpochs` did: the epoch to write in from now on, and how many history rows it undid. */
export interface RestoredEpochs {
  readonly epoch: number;
  readonly rolledBack: number;
}

/**
 * The port the job writes through; each store implements it (the job never imports a
 * driver). `write` stores the items in order as one transaction, all or nothing: a replay
 * closes thousands of batches per second, and one transaction each was the whole cost.
 *
 * Exactly once for the history, whose rows add up: every batch is written as part of an
 * epoch; a checkpoint records the epoch it covers (the results are written before it), the
 * store records it with its next write (`covered`), and at start `restoreEpochs` undoes the
 * rows of later epochs, whose lines the job counts again from the checkpoint (a crash
 * between the results and the checkpoint, or during a checkpoint outage).
 *
 * SQLite's client is synchronous: its `write` returns when the rows are committed. A
 * server's is not: `write` returns a promise, and the job writes no checkpoint until it
 * settles and nothing else waits (ResultsOutbox, UrlWindowJob's tick), so a checkpoint never
 * gets ahead of what the database holds. Its `restoreEpochs` is a promise too, settled once
 * the server was reached and the rows undone; nothing is written before.
 */
export interface WindowResultSink {
  /** `items` in order, batches added to the history as part of `epoch`; `covered`: a committed checkpoint covers epochs up to it. */
  write(items: readonly ResultItem[], epoch: number, covered?: number): void | Promise<void>;
  /** Background work on what is stored (history rollups) for about `budgetMs`; true if some remains. */
  rollUp?(budgetMs: number, idle: boolean): boolean | Promise<boolean>;
  /**
   * At start: undoes the history written after the epoch the restored checkpoint covers
   * (undefined: no checkpoint, or one from before epochs: the store's own record then).
   */
  restoreEpochs(checkpointCovered: number | undefined): RestoredEpochs | Promise<RestoredEpochs>;
}

/** The newest window a writer persisted. */
export interface LatestWindow {
  readonly startMs: number;
  readonly endMs: number;
  readonly total: number;
  readonly distinctUrls: number;
}

/** The newest window and its top keys of the default dimension (the URL) with their measures, as one snapshot. */
export interface LatestTop {
  readonly window: LatestWindow | undefined;
  /** The dimension `items` are of (undefined before any). */
  readonly dimension: string | undefined;
  readonly items: TopItem[];
}
