import type Database from 'better-sqlite3';
import type { UrlCount } from '../counts/index.js';
import { countOfUrl, decodeCounts } from '../counts/counts-codec.js';
import { slidingTotals, windowEnds, type WindowLayout } from './rebuilt-windows.js';
import { ANY_STATUS_ROW, floorTo, LEVEL_MS, TOP_LEVEL } from './history-schema.js';
import { BlobReader } from '../counts/batch-blob.js';
import type { StatusRange, TopItem } from '../counts/dimension-window.js';
import { VisitorUnion } from '../counts/visitor-union.js';

export { ANY_STATUS_ROW, DAY, floorTo, HISTORY_SCHEMA, HOUR, LEVEL_MS, MINUTE, TOP_LEVEL } from './history-schema.js';
export { decodeCounts, encodeCounts } from '../counts/counts-codec.js';

export interface RangeTop {
  readonly fromMs: number;
  readonly toMs: number;
  readonly total: number;
  readonly urls: UrlCount[];
}

/**
 * A key of a dimension over a range of the history, measured as the live window's keys are:
 * lines, bytes, distinct visitors (null also when the lines came without visits: rows
 * written before the dimensions).
 */
export type RangeItem = TopItem;

/** The top keys of a dimension over a range, of the lines whose status is in a range. */
export interface DimensionRangeTop {
  readonly fromMs: number;
  readonly toMs: number;
  /** The lines of the status range (every key's, not only the top `n`). */
  readonly total: number;
  /** Distinct keys with lines of the status range. */
  readonly keys: number;
  readonly items: RangeItem[];
}

/**
 * A point of a key's series: lines, bytes and distinct visitors of the step (as a range's:
 * exact up to 512, null where some part of it came without visits; the client dimension's 1).
 */
export interface DimensionPoint {
  readonly start: number;
  readonly count: number;
  readonly bytes: number;
  readonly visitors: number | null;
  readonly visitorsExact: boolean;
}

/** A piece of a range read from one level: 0 the batches, 1-5 the minute, hour, day, 30-day and 360-day rollups. */
export interface RangePiece {
  readonly level: number;
  readonly from: number;
  readonly to: number;
}

/**
 * For each level 1-5, the bucket starts whose rollup is not to be read: the level's own
 * dirty marks and the buckets holding a dirty mark of a finer level. Sorted.
 */
export type Unusable = readonly (readonly number[])[];

/**
 * Past this many top keys a piece's sketches are read in one pass over its rows, not key by
 * key: each key's rows come by the index by key, then a lookup of the row. Measured on 1M
 * lines over 27 h (url status), n = 1000: 2.7 -> 1.8 s; n = 10-50 the same either way.
 */
const PIECE_SCAN_KEYS = 50;

const NONE: Unusable = Array.from({ length: TOP_LEVEL + 1 }, () => []);

/** Answers range queries from the history, choosing the coarsest rows that fit and are rolled up. */
export class HistoryReader {
  readonly #batchMs: number;
  readonly #dirtyIn: Database.Statement;
  readonly #batches: Database.Statement;
  readonly #levelCounts: Database.Statement;
  readonly #levelTotals: Database.Statement;
  readonly #urlLevel: Database.Statement;
  readonly #batchesWithStart: Database.Statement;
  readonly #levelTotalRows: Database.Statement;
  readonly #batchTotals: Database.Statement;
  readonly #firstBatch: Database.Statement;
  readonly #extent: Database.Statement;
  readonly #dimLevel: Database.Statement;
  readonly #dimKeyLevel: Database.Statement;
  readonly #dimKeyId: Database.Statement;
  readonly #dimKeyName: Database.Statement;
  readonly #dimKeyVisitors: Database.Statement;
  readonly #dimPieceVisitors: Database.Statement;
  readonly #dimKeyStepVisitors: Database.Statement;

  constructor(db: Database.Database, batchIntervalMs: number) {
    this.#batchMs = batchIntervalMs;
    // By level: the marks' primary key is (level, start_ms), so each is a range of it.
    this.#dirtyIn = db.prepare('SELECT level, start_ms AS start FROM dirty WHERE level = ? AND start_ms >= ? AND start_ms < ?');
    this.#batches = db.prepare('SELECT events, parse_errors AS parseErrors, counts FROM batches WHERE start_ms >= ? AND start_ms < ?');
    this.#levelCounts = db.prepare(
      `SELECT u.url AS url, s.count AS count FROM
         (SELECT url_id, SUM(count) AS count FROM counts WHERE level = ? AND start_ms >= ? AND start_ms < ? GROUP BY url_id) AS s
       JOIN urls AS u ON u.id = s.url_id`,
    );
    this.#levelTotals = db.prepare('SELECT COALESCE(SUM(events - parse_errors), 0) FROM totals WHERE level = ? AND start_ms >= ? AND start_ms < ?').pluck();
    this.#urlLevel = db.prepare(
      `SELECT c.start_ms AS start, c.count AS count FROM counts AS c JOIN urls AS u ON u.id = c.url_id
       WHERE u.url = ? AND c.level = ? AND c.start_ms >= ? AND c.start_ms < ?`,
    );
    this.#batchesWithStart = db.prepare('SELECT start_ms AS start, counts FROM batches WHERE start_ms >= ? AND start_ms < ?');
    this.#levelTotalRows = db.prepare('SELECT start_ms AS start, events - parse_errors AS count FROM totals WHERE level = ? AND start_ms >= ? AND start_ms < ?');
    this.#batchTotals = db.prepare('SELECT start_ms AS start, events - parse_errors AS count FROM batches WHERE start_ms >= ? AND start_ms < ? ORDER BY start_ms');
    this.#firstBatch = db.prepare('SELECT MIN(start_ms) FROM batches').pluck();
    // Seconds with counted lines (not only lines that did not parse).
    this.#extent = db.prepare('SELECT MIN(start_ms) AS first, MAX(start_ms) AS last FROM batches WHERE events > parse_errors');
    // By the primary key (level, dimension, start_ms, ...): one dimension's rows of the range.
    this.#dimLevel = db.prepare(
      `SELECT key_id AS id, SUM(count) AS count, SUM(bytes) AS bytes FROM dim_counts
       WHERE level = ? AND dimension = ? AND start_ms >= ? AND start_ms < ? AND status BETWEEN ? AND ? GROUP BY key_id`,
    );
    this.#dimKeyId = db.prepare('SELECT id FROM dim_keys WHERE dimension = ? AND key = ?').pluck();
    this.#dimKeyName = db.prepare('SELECT key FROM dim_keys WHERE id = ?').pluck();
    // By the index (key_id, level, start_ms): one top key's sketches of a piece, per status code.
    this.#dimKeyVisitors = db.prepare(
      'SELECT visitors FROM dim_counts WHERE key_id = ? AND level = ? AND start_ms >= ? AND start_ms < ? AND status BETWEEN ? AND ?',
    ).pluck();
    // By the primary key (level, dimension, start_ms, ...): a piece's sketches of many top keys
    // in one pass (`+key_id`: not by the index by key, a lookup per row).
    this.#dimPieceVisitors = db.prepare(
      `SELECT key_id AS id, visitors FROM dim_counts WHERE level = ? AND dimension = ? AND start_ms >= ? AND start_ms < ?
         AND status BETWEEN ? AND ? AND +key_id IN (SELECT value FROM json_each(?))`,
    );
    // A key's sketches of a piece, per bucket and status code (its series' visitors).
    this.#dimKeyStepVisitors = db.prepare(
      `SELECT start_ms AS start, visitors FROM dim_counts
       WHERE key_id = (SELECT id FROM dim_keys WHERE dimension = ? AND key = ?) AND level = ? AND start_ms >= ? AND start_ms < ?
         AND status BETWEEN ? AND ?`,
    );
    this.#dimKeyLevel = db.prepare(
      `SELECT start_ms AS start, SUM(count) AS count, SUM(bytes) AS bytes FROM dim_counts
       WHERE key_id = (SELECT id FROM dim_keys WHERE dimension = ? AND key = ?) AND level = ? AND start_ms >= ? AND start_ms < ?
         AND status BETWEEN ? AND ? GROUP BY start_ms`,
    );
  }

  /** The own time the history spans: [first batch, end of the last one), or undefined when it is empty. */
  extent(): { fromMs: number; toMs: number } | undefined {
    const { first, last } = this.#extent.get() as { first: number | null; last: number | null };
    return first === null || last === null ? undefined : { fromMs: first, toMs: last + this.#batchMs };
  }

  /** [from, to) in pieces of the coarsest rolled-up levels up to `topLevel`. */
  #pieces(from: number, to: number, topLevel = TOP_LEVEL): RangePiece[] {
    if (from >= to) return [];
    const marks: { level: number; start: number }[] = [];
    for (let level = 1; level <= topLevel; level++) marks.push(...(this.#dirtyIn.all(level, from, to) as { level: number; start: number }[]));
    return decompose(from, to, this.#batchMs, unusableOf(marks), topLevel);
  }

  /** One URL's counts in steps of `stepMs` over [fromMs, toMs), from the coarsest rows that fit a step. */
  series(url: string, fromMs: number, toMs: number, stepMs: number): { start: number; count: number }[] {
    const from = floorTo(fromMs, stepMs);
    const counts = new Float64Array(Math.ceil((toMs - from) / stepMs));
    const target = Buffer.from(url, 'utf8');
    for (const piece of this.#pieces(from, toMs, levelForStep(stepMs))) {
      if (piece.level === 0) {
        for (const b of this.#batchesWithStart.iterate(piece.from, piece.to) as IterableIterator<{ start: number; counts: Buffer }>) {
          const n = countOfUrl(b.counts, target);
          if (n > 0) counts[Math.floor((b.start - from) / stepMs)]! += n;
        }
      } else {
        for (const r of this.#urlLevel.iterate(url, piece.level, piece.from, piece.to) as IterableIterator<{ start: number; count: number }>) {
          counts[Math.floor((r.start - from) / stepMs)]! += r.count;
        }
      }
    }
    return Array.from(counts, (count, i) => ({ start: from + i * stepMs, count }));
  }

  /** Counted events (all URLs) in steps of `stepMs` over [fromMs, toMs), read as `series` reads one URL. */
  totalSeries(fromMs: number, toMs: number, stepMs: number): { start: number; count: number }[] {
    const from = floorTo(fromMs, stepMs);
    const counts = new Float64Array(Math.ceil((toMs - from) / stepMs));
    for (const piece of this.#pieces(from, toMs, levelForStep(stepMs))) {
      const rows = piece.level === 0 ? this.#batchTotals.iterate(piece.from, piece.to) : this.#levelTotalRows.iterate(piece.level, piece.from, piece.to);
      for (const r of rows as IterableIterator<{ start: number; count: number }>) counts[Math.floor((r.start - from) / stepMs)]! += r.count;
    }
    return Array.from(counts, (count, i) => ({ start: from + i * stepMs, count }));
  }

  /**
   * Event time: the windows along the history, rebuilt from the batch rows (the job does not
   * store a row per slide of a replay). Every slide end in (afterMs, toMs] after the first
   * batch and up to `newestEndMs` (the newest window persisted), oldest first, at most
   * `limit`, each with the events counted in [end - windowMs, end).
   */
  windows(afterMs: number, toMs: number, limit: number, opts: WindowLayout): { startMs: number; endMs: number; total: number }[] {
    const ends = windowEnds(this.#firstBatch.get() as number | null, afterMs, toMs, limit, opts);
    if (!ends) return [];
    return slidingTotals(this.#batchTotals.all(ends.firstEnd - opts.windowMs, ends.lastEnd) as { start: number; count: number }[], ends, opts);
  }

  /**
   * The top `n` keys of `dimension` over [fromMs, toMs) (aligned to batch intervals), of the
   * lines whose status is in `status`: the rollups by dimension where rolled up, the batch
   * rows' blobs below them (rows written before the dimensions hold the URL alone, status 0).
   */
  dimensionTop(dimension: string, status: StatusRange, fromMs: number, toMs: number, n: number): DimensionRangeTop {
    const from = floorTo(fromMs, this.#batchMs);
    const to = floorTo(toMs, this.#batchMs);
    // The batch rows' keys by their text, the rollups' by id (named only for the top, below).
    const sums = new Map<string, { count: number; bytes: number }>();
    const byId = new Map<number, { count: number; bytes: number }>();
    const add = <K>(key: K, count: number, bytes: number, into = (typeof key === 'string' ? sums : byId) as Map<K, { count: number; bytes: number }>) => {
      const m = into.get(key);
      if (m) {
        m.count += count;
        m.bytes += bytes;
      } else {
        into.set(key, { count, bytes });
      }
    };
    const pieces = this.#pieces(from, to);
    for (const piece of pieces) {
      if (piece.level === 0) {
        for (const b of this.#batchesWithStart.iterate(piece.from, piece.to) as IterableIterator<{ counts: Buffer }>) {
          const r = sectionOf(b.counts, dimension);
          if (!r) continue;
          const keys: (string | undefined)[] = new Array(r.keyCount);
          while (r.nextCell()) {
            if (r.code < status.lo || r.code > status.hi) continue;
            add((keys[r.key] ??= b.counts.toString('utf8', r.keyStart(r.key), r.keyEnd(r.key))), r.count, r.bytes);
          }
        }
      } else {
        const [lo, hi] = rollupStatuses(status);
        for (const row of this.#dimLevel.iterate(piece.level, dimension, piece.from, piece.to, lo, hi) as IterableIterator<{ id: number; count: number; bytes: number }>) {
          add(row.id, row.count, row.bytes);
        }
      }
    }
    // Keys of the batch rows as the rollups' ids where known (a key counts once), then every
    // key's total; only keys counted at least as the n-th are named (ties by bytes order).
    for (const [key, m] of sums) {
      const id = this.#dimKeyId.get(dimension, key) as number | undefined;
      if (id === undefined) continue;
      add(id, m.count, m.bytes);
      sums.delete(key);
    }
    let total = 0;
    const counted: { key: string | number; count: number; bytes: number }[] = [];
    for (const map of [sums, byId] as Map<string | number, { count: number; bytes: number }>[]) {
      for (const [key, m] of map) {
        if (m.count <= 0) continue;
        total += m.count;
        counted.push({ key, count: m.count, bytes: m.bytes });
      }
    }
    let candidates = n > 0 ? counted : [];
    if (n > 0 && counted.length > n) {
      const counts = Float64Array.from(counted, (c) => c.count).sort();
      const threshold = counts[counts.length - n]!;
      candidates = counted.filter((c) => c.count >= threshold);
    }
    const named = candidates.map((c) => ({ id: typeof c.key === 'number' ? c.key : undefined, key: typeof c.key === 'string' ? c.key : (this.#dimKeyName.get(c.key) as string), count: c.count, bytes: c.bytes }));
    named.sort((a, b) => b.count - a.count || compareBytes(a.key, b.key));
    const top = named.slice(0, n);
    const visitors = this.#visitorsOf(dimension, status, pieces, top);
    const items = top.map((c, i) => ({ key: c.key, count: c.count, bytes: c.bytes, ...visitors[i]! }));
    return { fromMs: from, toMs: to, total, keys: counted.length, items };
  }

  /**
   * The distinct visitors of each of `top`'s keys over `pieces`, of the lines of `status`: the
   * union of its rollup rows' sketches (a row per status code and bucket) and of the batch
   * rows' visits below them. Only the top keys are merged (a range's other keys need none).
   * Each client is its own one visitor of the `client` dimension (as the live window says).
   */
  #visitorsOf(dimension: string, status: StatusRange, pieces: readonly RangePiece[], top: readonly { id: number | undefined; key: string }[]): { visitors: number | null; visitorsExact: boolean }[] {
    if (dimension === 'client') return top.map(() => ({ visitors: 1, visitorsExact: true }));
    const unions = top.map(() => new VisitorUnion());
    const byKey = new Map(top.map((t, i) => [t.key, i]));
    const byId = new Map(top.flatMap((t, i) => (t.id === undefined ? [] : [[t.id, i] as const])));
    const idList = JSON.stringify([...byId.keys()]);
    const lo = Math.max(0, status.lo);
    for (const piece of pieces) {
      if (piece.level > 0) {
        if (top.length > PIECE_SCAN_KEYS) {
          const rows = this.#dimPieceVisitors.iterate(piece.level, dimension, piece.from, piece.to, lo, status.hi, idList) as IterableIterator<{ id: number; visitors: Buffer | null }>;
          for (const row of rows) unions[byId.get(row.id)!]!.add(row.visitors);
          continue;
        }
        top.forEach((t, i) => {
          if (t.id === undefined) return;
          for (const bytes of this.#dimKeyVisitors.iterate(t.id, piece.level, piece.from, piece.to, lo, status.hi) as IterableIterator<Buffer | null>) unions[i]!.add(bytes);
        });
        continue;
      }
      for (const b of this.#batchesWithStart.iterate(piece.from, piece.to) as IterableIterator<{ counts: Buffer }>) {
        const r = sectionOf(b.counts, dimension);
        if (!r) continue;
        // The blob's keys that are top keys (by index), then its cells of `status` of them.
        const itemOfKey = new Int32Array(r.keyCount).fill(-1);
        for (let k = 0; k < r.keyCount; k++) itemOfKey[k] = byKey.get(b.counts.toString('utf8', r.keyStart(k), r.keyEnd(k))) ?? -1;
        const itemOfCell: number[] = [];
        while (r.nextCell()) {
          const item = r.code < status.lo || r.code > status.hi ? -1 : itemOfKey[r.key]!;
          itemOfCell.push(item);
          if (item >= 0 && !r.visitors) unions[item]!.add(null);
        }
        while (r.nextVisit()) {
          const item = itemOfCell[r.cell]!;
          if (item >= 0) unions[item]!.addHash(r.hi, r.lo);
        }
      }
    }
    return unions.map((u) => {
      const sketch = u.sketch();
      return sketch ? { visitors: sketch.count(), visitorsExact: sketch.exact } : { visitors: null, visitorsExact: false };
    });
  }

  /**
   * One key of `dimension` in steps of `stepMs` over [fromMs, toMs), its lines, bytes and
   * visitors of `status`, read as `series` reads a URL: a step's visitors are the union of
   * its rollup rows' sketches (a row per status code) and of the batch rows' visits.
   */
  dimensionSeries(dimension: string, key: string, status: StatusRange, fromMs: number, toMs: number, stepMs: number): DimensionPoint[] {
    const from = floorTo(fromMs, stepMs);
    const steps = Math.ceil((toMs - from) / stepMs);
    const counts = new Float64Array(steps);
    const bytes = new Float64Array(steps);
    const client = dimension === 'client';
    const unions = client ? [] : Array.from({ length: steps }, () => new VisitorUnion());
    const target = Buffer.from(key, 'utf8');
    for (const piece of this.#pieces(from, toMs, levelForStep(stepMs))) {
      if (piece.level === 0) {
        for (const b of this.#batchesWithStart.iterate(piece.from, piece.to) as IterableIterator<{ start: number; counts: Buffer }>) {
          const r = sectionOf(b.counts, dimension);
          if (!r) continue;
          let index = -1;
          for (let i = 0; i < r.keyCount && index < 0; i++) {
            if (b.counts.compare(target, 0, target.length, r.keyStart(i), r.keyEnd(i)) === 0) index = i;
          }
          if (index < 0) continue;
          const at = Math.floor((b.start - from) / stepMs);
          const mine: boolean[] = [];
          while (r.nextCell()) {
            const hit = r.key === index && r.code >= status.lo && r.code <= status.hi;
            mine.push(hit);
            if (!hit) continue;
            counts[at]! += r.count;
            bytes[at]! += r.bytes;
            if (!client && !r.visitors) unions[at]!.add(null);
          }
          if (client) continue;
          while (r.nextVisit()) if (mine[r.cell]) unions[at]!.addHash(r.hi, r.lo);
        }
      } else {
        const [lo, hi] = rollupStatuses(status);
        const rows = this.#dimKeyLevel.iterate(dimension, key, piece.level, piece.from, piece.to, lo, hi) as IterableIterator<DimensionPoint>;
        for (const row of rows) {
          const at = Math.floor((row.start - from) / stepMs);
          counts[at]! += row.count;
          bytes[at]! += row.bytes;
        }
        if (client) continue;
        const sketches = this.#dimKeyStepVisitors.iterate(dimension, key, piece.level, piece.from, piece.to, Math.max(0, status.lo), status.hi) as IterableIterator<{ start: number; visitors: Buffer | null }>;
        for (const row of sketches) unions[Math.floor((row.start - from) / stepMs)]!.add(row.visitors);
      }
    }
    return Array.from(counts, (count, i) => ({ start: from + i * stepMs, count, bytes: bytes[i]!, ...stepVisitors(client, count, unions[i]) }));
  }

  /** The top `n` URLs of [fromMs, toMs) (aligned to batch intervals), summed from the history. */
  top(fromMs: number, toMs: number, n: number): RangeTop {
    const from = floorTo(fromMs, this.#batchMs);
    const to = floorTo(toMs, this.#batchMs);
    const sums = new Map<string, number>();
    let total = 0;
    for (const piece of this.#pieces(from, to)) {
      if (piece.level === 0) {
        for (const b of this.#batches.iterate(piece.from, piece.to) as IterableIterator<{ events: number; parseErrors: number; counts: Buffer }>) {
          total += b.events - b.parseErrors;
          for (const [url, c] of decodeCounts(b.counts)) sums.set(url, (sums.get(url) ?? 0) + c);
        }
      } else {
        total += this.#levelTotals.get(piece.level, piece.from, piece.to) as number;
        for (const { url, count } of this.#levelCounts.iterate(piece.level, piece.from, piece.to) as IterableIterator<UrlCount>) {
          sums.set(url, (sums.get(url) ?? 0) + count);
        }
      }
    }
    const urls = [...sums]
      .filter(([, c]) => c > 0)
      .map(([url, count]) => ({ url, count }))
      .sort((a, b) => b.count - a.count || compareBytes(a.url, b.url))
      .slice(0, n);
    return { fromMs: from, toMs: to, total, urls };
  }
}

/** A series step's visitors: its union's (null when a part was unknown); a client's own one where it has lines. */
export function stepVisitors(client: boolean, count: number, union: VisitorUnion | undefined): { visitors: number | null; visitorsExact: boolean } {
  if (client || !union) return { visitors: count > 0 ? 1 : 0, visitorsExact: true };
  const sketch = union.sketch();
  return sketch ? { visitors: sketch.count(), visitorsExact: sketch.exact } : { visitors: null, visitorsExact: false };
}

/** The coarsest level whose buckets fit whole in a step of `stepMs` (points start at multiples of it). */
export function levelForStep(stepMs: number): number {
  for (let level = TOP_LEVEL; level > 0; level--) if (stepMs % LEVEL_MS[level]! === 0) return level;
  return 0;
}

/** Dirty marks as the buckets of each level that are not to be read (see `Unusable`). */
export function unusableOf(marks: readonly { level: number; start: number }[]): Unusable {
  if (marks.length === 0) return NONE;
  const out: number[][] = [[]];
  for (let level = 1; level <= TOP_LEVEL; level++) {
    const size = LEVEL_MS[level]!;
    out.push([...new Set(marks.filter((m) => m.level <= level).map((m) => floorTo(m.start, size)))].sort((a, b) => a - b));
  }
  return out;
}

/**
 * Splits [from, to) into whole days, hours and minutes and batch intervals at the edges; a
 * bucket whose rollup is unusable (dirty) is read from the level below it.
 */
export function decompose(from: number, to: number, batchMs: number, unusable: Unusable = NONE, topLevel = TOP_LEVEL): RangePiece[] {
  const pieces: RangePiece[] = [];
  const split = (lo: number, hi: number, level: number): void => {
    if (lo >= hi) return;
    if (level === 0) {
      pieces.push({ level: 0, from: lo, to: hi });
      return;
    }
    const size = LEVEL_MS[level]!;
    const first = Math.ceil(lo / size) * size;
    const last = floorTo(hi, size);
    if (first >= last || size <= batchMs) {
      split(lo, hi, level - 1);
      return;
    }
    split(lo, first, level - 1);
    let at = first;
    for (const bucket of unusable[level]!) {
      if (bucket < first || bucket >= last) continue;
      if (bucket > at) pieces.push({ level, from: at, to: bucket });
      split(bucket, bucket + size, level - 1);
      at = bucket + size;
    }
    if (at < last) pieces.push({ level, from: at, to: last });
    split(last, hi, level - 1);
  };
  split(from, to, topLevel);
  return pieces;
}

/**
 * The rollups' status rows to read for a status filter (both stores): the summed row
 * (ANY_STATUS_ROW) for every status, else the codes.
 */
export function rollupStatuses(status: StatusRange): [number, number] {
  return status.lo <= 0 && status.hi >= 999 ? [ANY_STATUS_ROW, ANY_STATUS_ROW] : [Math.max(0, status.lo), status.hi];
}

/** A reader at `dimension`'s section of a batch blob (its keys and cells next), or undefined when the blob has none. */
function sectionOf(blob: Buffer, dimension: string): BlobReader | undefined {
  const r = new BlobReader(blob);
  while (r.nextSection()) if (r.name === dimension) return r;
  return undefined;
}

/** Code point order, as the window's ties are ordered (by UTF-8 bytes). */
export function compareBytes(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b));
}
