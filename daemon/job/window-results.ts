import type { UrlCount } from './top-k.js';

/** One slide's answer: the window [startMs, endMs) and its most counted URLs. */
export interface WindowResult {
  readonly startMs: number;
  readonly endMs: number;
  readonly total: number;
  readonly distinctUrls: number;
  readonly top: readonly UrlCount[];
  /** False when nothing entered or left since the previous slide: only the bounds moved. */
  readonly changed: boolean;
}

/** The port the job writes through; the store implements it (the job never imports SQLite). */
export interface WindowResultSink {
  saveWindow(result: WindowResult): void;
}
