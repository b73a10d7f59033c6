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

/** One closed batch interval, for the history: its totals and URL counts. */
export interface BatchResult {
  readonly startMs: number;
  readonly events: number;
  readonly parseErrors: number;
  /** The batch's counts by dimension (counts/batch-blob.ts; `WindowSet.encodeSlot`). */
  readonly counts: Buffer;
}

/** The port the job writes through; the store implements it (the job never imports SQLite). */
export interface WindowResultSink {
  saveWindow(result: WindowResult): void;
  /** Records a closed batch in the history; saving the same batch again replaces it. */
  saveBatch(batch: BatchResult): void;
  /**
   * Runs `write` (calls of the two above) as one transaction, all or nothing. A replay
   * closes thousands of batches per second: one transaction each was the whole cost.
   */
  transaction?(write: () => void): void;
  /** Background work on what is stored (history rollups) for about `budgetMs`; true if some remains. */
  rollUp?(budgetMs: number): boolean;
}
