import { BlobReader } from '../../counts/batch-blob.js';
import type { BatchResult, ResultItem, WindowResult } from '../window-results.js';
import { cellVisits } from './pg-visitors.js';

/** Batches and keys per statement of a batch's keys (see `keyChunks`). */
const CHUNK_BATCHES = 256;
const CHUNK_KEYS = 8192;

/** The default dimension: the newest window's top is of it, and /api/top without `by`. */
export const URL_DIMENSION = 'url';

/** A batch's cells of one dimension, as the arrays of its row. */
interface Cells {
  readonly keys: string[];
  readonly statuses: number[];
  readonly counts: number[];
  readonly bytes: number[];
  /** Each cell's visitor set; null where its blob's section counts no visitors. */
  readonly visits: (Buffer | null)[];
  /** Whether some cell has visits (else the row's `visits` is NULL). */
  withVisits: boolean;
}

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
  /**
   * The batches' rows of `logflow_batch_keys`: row r is batch `rowStarts[r]`'s cells of
   * dimension `rowDims[r]`, [cellsFrom[r], cellsTo[r]] (1-based, as SQL slices) of the cell
   * arrays below, end to end: a cell is a key and status with its lines and bytes, and its
   * visitors (`visits`: NULL for the whole row when none of its cells has them).
   */
  readonly rowStarts: number[] = [];
  readonly rowDims: string[] = [];
  readonly rowVisits: boolean[] = [];
  readonly cellsFrom: number[] = [];
  readonly cellsTo: number[] = [];
  readonly keys: string[] = [];
  readonly statuses: number[] = [];
  readonly counts: number[] = [];
  readonly bytes: number[] = [];
  readonly visits: (Buffer | null)[] = [];
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
    // Each row's cells follow the previous row's: `keyChunks` cuts them in order. A key and
    // status may come twice in one row's arrays (two parts of its second): readers sum them.
    for (const [startMs, parts] of batches) {
      this.batchStarts.push(startMs);
      this.batchEvents.push(parts.reduce((n, b) => n + b.events, 0));
      this.batchParseErrors.push(parts.reduce((n, b) => n + b.parseErrors, 0));
      const byDimension = new Map<string, Cells>();
      for (const b of parts) {
        const r = new BlobReader(b.counts);
        while (r.nextSection()) {
          let cells = byDimension.get(r.name);
          if (!cells) byDimension.set(r.name, (cells = { keys: [], statuses: [], counts: [], bytes: [], visits: [], withVisits: false }));
          const names: string[] = [];
          for (let i = 0; i < r.keyCount; i++) names.push(textKey(b.counts.toString('utf8', r.keyStart(i), r.keyEnd(i))));
          const first = cells.keys.length;
          while (r.nextCell()) {
            cells.keys.push(names[r.key]!);
            cells.statuses.push(r.code);
            cells.counts.push(r.count);
            cells.bytes.push(r.bytes);
            cells.visits.push(null);
          }
          if (!r.visitors) continue;
          // The section's visits (cell, client), as each cell's set of client hashes.
          cells.withVisits = true;
          const n = cells.keys.length - first;
          const of: number[] = [];
          const hashes: number[] = [];
          while (r.nextVisit()) {
            of.push(r.cell);
            hashes.push(r.hi, r.lo);
          }
          const sets = cellVisits(n, of, hashes);
          for (let i = 0; i < n; i++) cells.visits[first + i] = sets[i]!;
        }
      }
      for (const [dimension, cells] of byDimension) {
        this.rowStarts.push(startMs);
        this.rowDims.push(dimension);
        this.rowVisits.push(cells.withVisits);
        this.cellsFrom.push(this.keys.length + 1);
        for (let i = 0; i < cells.keys.length; i++) {
          this.keys.push(cells.keys[i]!);
          this.statuses.push(cells.statuses[i]!);
          this.counts.push(cells.counts[i]!);
          this.bytes.push(cells.bytes[i]!);
          this.visits.push(cells.withVisits ? cells.visits[i]! : null);
        }
        this.cellsTo.push(this.keys.length);
      }
    }
  }

  get batches(): number {
    return this.batchStarts.length;
  }

  /**
   * The rows in statements of at most CHUNK_BATCHES rows and about CHUNK_KEYS cells: each
   * row's slice of the statement's arrays is found by walking them, so one statement for a
   * replay's 7,000 batches took 1.4 s (quadratic), in parts 0.2 s.
   */
  *keyChunks(): Generator<{ starts: number[]; dims: string[]; withVisits: boolean[]; keys: string[]; statuses: number[]; counts: number[]; bytes: number[]; visits: (Buffer | null)[]; from: number[]; to: number[] }> {
    for (let i = 0; i < this.rowStarts.length;) {
      const first = i;
      const base = this.cellsFrom[i]! - 1;
      while (i < this.rowStarts.length && i - first < CHUNK_BATCHES && this.cellsTo[i]! - base <= CHUNK_KEYS) i++;
      if (i === first) i++; // a row with more cells than CHUNK_KEYS: a statement of its own
      const end = this.cellsTo[i - 1]!;
      yield {
        starts: this.rowStarts.slice(first, i),
        dims: this.rowDims.slice(first, i),
        withVisits: this.rowVisits.slice(first, i),
        keys: this.keys.slice(base, end),
        statuses: this.statuses.slice(base, end),
        counts: this.counts.slice(base, end),
        bytes: this.bytes.slice(base, end),
        visits: this.visits.slice(base, end),
        from: this.cellsFrom.slice(first, i).map((k) => k - base),
        to: this.cellsTo.slice(first, i).map((k) => k - base),
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
