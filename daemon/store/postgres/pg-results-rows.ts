import { CountsCursor } from '../../counts/index.js';
import type { BatchResult, ResultItem, WindowResult } from '../window-results.js';

/** Batches and keys per statement of a batch's keys (see `keyChunks`). */
const CHUNK_BATCHES = 256;
const CHUNK_KEYS = 8192;

/** The dimension the job counts today; rows are keyed by dimension so that others can join it. */
export const URL_DIMENSION = 'url';

/**
 * A chunk of the job's results as the column arrays one statement per table takes
 * (`INSERT ... SELECT FROM unnest($1, $2, ...)`): a statement per chunk, not per row.
 * Measured with 2,000 batches of 50 URLs: 550-650k URL counts/s as one array row per
 * batch, 60-140k/s as one row per URL (the text index of each row was the cost).
 */
export class PgResultRows {
  readonly batchStarts: number[] = [];
  readonly batchEvents: number[] = [];
  readonly batchParseErrors: number[] = [];
  /** Every batch's keys and counts, end to end; batch i's are [keysFrom[i], keysTo[i]] (1-based, as SQL slices). */
  readonly keys: string[] = [];
  readonly counts: number[] = [];
  readonly keysFrom: number[] = [];
  readonly keysTo: number[] = [];
  readonly windowEnds: number[] = [];
  readonly windowStarts: number[] = [];
  readonly windowTotals: number[] = [];
  readonly windowDistinct: number[] = [];
  /** The newest window of the chunk (its bounds and totals), and the newest that changed (its top). */
  latest: WindowResult | undefined;
  latestTop: WindowResult | undefined;

  constructor(items: readonly ResultItem[]) {
    // A batch interval saved twice in a chunk (lines of the same second from two flushes)
    // is one row, whose counts add up; a window saved twice: the later replaces the earlier.
    const batches = new Map<number, BatchResult[]>();
    const windowAt = new Map<number, number>();
    for (const item of items) {
      if (item.kind === 'batch') {
        // An empty interval adds nothing (as in SQLite).
        if (item.batch.events === 0 && item.batch.parseErrors === 0) continue;
        const same = batches.get(item.batch.startMs);
        if (same) same.push(item.batch);
        else batches.set(item.batch.startMs, [item.batch]);
        continue;
      }
      const r = item.result;
      if (r.rowOnly || r.changed) {
        const w = windowAt.get(r.endMs) ?? this.windowEnds.length;
        windowAt.set(r.endMs, w);
        this.windowEnds[w] = r.endMs;
        this.windowStarts[w] = r.startMs;
        this.windowTotals[w] = r.total;
        this.windowDistinct[w] = r.distinctUrls;
      }
      if (r.rowOnly) continue;
      this.latest = r;
      if (r.changed) this.latestTop = r;
    }
    // Each batch's keys follow the previous batch's: `keyChunks` cuts them in order. A key
    // may come twice in one row's arrays (two parts of its second): readers sum them.
    for (const [startMs, parts] of batches) {
      this.batchStarts.push(startMs);
      this.batchEvents.push(parts.reduce((n, b) => n + b.events, 0));
      this.batchParseErrors.push(parts.reduce((n, b) => n + b.parseErrors, 0));
      this.keysFrom.push(this.keys.length + 1);
      for (const b of parts) {
        const c = new CountsCursor(b.counts);
        while (c.next()) {
          this.keys.push(textKey(c.blob.toString('utf8', c.start, c.end)));
          this.counts.push(c.count);
        }
      }
      this.keysTo.push(this.keys.length);
    }
  }

  get batches(): number {
    return this.batchStarts.length;
  }

  /**
   * The batches' keys in statements of at most CHUNK_BATCHES batches and about CHUNK_KEYS
   * keys: each batch's slice of the statement's arrays is found by walking them, so one
   * statement for a replay's 7,000 batches took 1.4 s (quadratic), in parts 0.2 s.
   */
  *keyChunks(): Generator<{ starts: number[]; keys: string[]; counts: number[]; from: number[]; to: number[] }> {
    for (let i = 0; i < this.batchStarts.length;) {
      const first = i;
      const base = this.keysFrom[i]! - 1;
      while (i < this.batchStarts.length && i - first < CHUNK_BATCHES && this.keysTo[i]! - base <= CHUNK_KEYS) i++;
      if (i === first) i++; // a batch with more keys than CHUNK_KEYS: a statement of its own
      const end = this.keysTo[i - 1]!;
      yield {
        starts: this.batchStarts.slice(first, i),
        keys: this.keys.slice(base, end),
        counts: this.counts.slice(base, end),
        from: this.keysFrom.slice(first, i).map((k) => k - base),
        to: this.keysTo.slice(first, i).map((k) => k - base),
      };
    }
  }
}

/**
 * A key as PostgreSQL's text holds it: no NUL (which text cannot store; SQLite can). The
 * bytes that were not UTF-8 are U+FFFD already, as every reader of the counts decodes them.
 */
function textKey(key: string): string {
  return key.includes('\0') ? key.replaceAll('\0', '\uFFFD') : key;
}
