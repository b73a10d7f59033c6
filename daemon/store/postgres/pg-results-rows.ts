import { CountsCursor } from '../../counts/index.js';
import type { ResultItem, WindowResult } from '../window-results.js';

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
    // A batch or window saved twice in a chunk (a replay) is one row: the later replaces the earlier, as in SQLite.
    const batchAt = new Map<number, number>();
    const windowAt = new Map<number, number>();
    for (const item of items) {
      if (item.kind === 'batch') {
        const b = item.batch;
        const from = this.keys.length + 1;
        const c = new CountsCursor(b.counts);
        while (c.next()) {
          this.keys.push(textKey(c.blob.toString('utf8', c.start, c.end)));
          this.counts.push(c.count);
        }
        const at = batchAt.get(b.startMs);
        const i = at ?? this.batchStarts.length;
        batchAt.set(b.startMs, i);
        this.batchStarts[i] = b.startMs;
        this.batchEvents[i] = b.events;
        this.batchParseErrors[i] = b.parseErrors;
        this.keysFrom[i] = from;
        this.keysTo[i] = this.keys.length;
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
  }

  get batches(): number {
    return this.batchStarts.length;
  }
}

/**
 * A key as PostgreSQL's text holds it: no NUL (which text cannot store; SQLite can). The
 * bytes that were not UTF-8 are U+FFFD already, as every reader of the counts decodes them.
 */
function textKey(key: string): string {
  return key.includes('\0') ? key.replaceAll('\0', '\uFFFD') : key;
}
