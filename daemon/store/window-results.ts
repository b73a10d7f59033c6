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

/** One closed batch interval, for the history: its totals and URL counts. */
export interface BatchResult {
  readonly startMs: number;
  readonly events: number;
  readonly parseErrors: number;
  /** `[count u32][length u32][URL bytes]` per URL (`SlidingWindow.encodeSlot`). */
  readonly counts: Buffer;
}

/** One result, in the order the job made it. */
export type ResultItem = { readonly kind: 'batch'; readonly batch: BatchResult } | { readonly kind: 'window'; readonly result: WindowResult };

/**
 * The port the job writes through; each store implements it (the job never imports a
 * driver). `write` stores the items in order as one transaction, all or nothing: a replay
 * closes thousands of batches per second, and one transaction each was the whole cost.
 * Saving a batch again replaces it, so a recount after a crash does not add twice.
 *
 * SQLite's client is synchronous: its `write` returns when the rows are committed. A
 * server's is not: `write` returns a promise, and the job closes no batch and writes no
 * checkpoint until it settles (ResultsOutbox, UrlWindowJob's tick), so a checkpoint never
 * gets ahead of what the database holds.
 */
export interface WindowResultSink {
  write(items: readonly ResultItem[]): void | Promise<void>;
  /** Background work on what is stored (history rollups) for about `budgetMs`; true if some remains. */
  rollUp?(budgetMs: number): boolean | Promise<boolean>;
}
