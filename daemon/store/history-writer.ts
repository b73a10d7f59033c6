import type Database from 'better-sqlite3';
import { BatchCounts, UrlInterner } from '../counts/index.js';
import type { BatchResult } from './window-results.js';
import { CountsCursor } from '../counts/counts-codec.js';
import { BlobReader, mergeBatchBlobs } from '../counts/batch-blob.js';
import { VisitorSketch } from '../counts/visitor-sketch.js';
import { ANY_STATUS_ROW, floorSql, floorTo, HOUR, LEVEL_MS, MINUTE, TOP_LEVEL } from './history-schema.js';
import { registerVisitorsUnion, VISITORS_UNION } from './visitors-union-sql.js';

/** A minute saved to within this long is left for later while lines come (it is still filling). */
const SETTLE_MS = 2000;
/** How often the retention is applied. */
const PRUNE_EVERY_MS = 60_000;

/**
 * Writes the history: batch rows that add up, tagged with the epoch that wrote them, and
 * their minute, hour and day rollups behind them, a bounded amount of work at a time
 * (`rollUp`).
 *
 * Rows add up, in any order: a batch saved again (more lines of that second: another file,
 * a late line, an early firing updated) is merged into its epoch's row, or is a row of its
 * own epoch. Every save marks its minute dirty; rolling a minute up marks its hour, an hour
 * its day, and so on up. A range query reads the rollups only of buckets with no dirty mark inside, and
 * below them otherwise, so a rollup not yet written costs a slower query, never a wrong
 * answer, wherever in time the late lines went.
 *
 * Why behind and not as each minute ends: replaying a 27-hour log ends 1,620 minutes in
 * about a second, ~800,000 per-URL minute rows for 1M lines; written as part of each
 * batch's save they took ~8 s of the job's thread (profile of a 200k-line replay).
 *
 * Exactly once (`restoreEpochs`): rows of an epoch that no checkpoint covers are deleted at
 * start (their minutes marked dirty), since the job counts those lines again. The retention
 * counts from when an epoch counted (`epochs`), not from the lines' own time.
 */
export class HistoryWriter {
  readonly #db: Database.Database;
  readonly #retentionMs: number;
  readonly #s: ReturnType<typeof statements>;
  /** Minutes marked dirty (the database's level-1 marks), so a save marks each once. */
  #dirtyMinutes = new Set<number>();
  /** When each minute was last saved to, in this process: a minute still filling waits. */
  readonly #savedAt = new Map<number, number>();
  /** The newest epoch recorded in `epochs`. */
  #epochRecorded = -1;
  #prunedAt = 0;
  /**
   * A transaction failed (a full disk...) after this writer moved on in memory: the marks
   * it made in that transaction were rolled back. It reads them again before its next work.
   */
  #stale = false;

  constructor(db: Database.Database, retentionMs: number) {
    this.#db = db;
    this.#retentionMs = retentionMs;
    registerVisitorsUnion(db);
    this.#s = statements(db);
    this.#reload();
  }

  /** Adds a closed batch's counts to its second of the history, as part of `epoch`. */
  save(b: BatchResult, epoch: number): void {
    if (b.events === 0 && b.parseErrors === 0) return;
    this.#guard(() => {
      const s = this.#s;
      if (s.insertBatch.run(b.startMs, epoch, b.events, b.parseErrors, b.counts).changes === 0) {
        const row = s.getBatch.get(b.startMs, epoch) as { events: number; parseErrors: number; counts: Buffer };
        s.updateBatch.run(row.events + b.events, row.parseErrors + b.parseErrors, mergeBatchBlobs([row.counts, b.counts]), b.startMs, epoch);
      }
      if (epoch > this.#epochRecorded) {
        s.insertEpoch.run(epoch, Date.now());
        this.#epochRecorded = epoch;
      }
      const minute = floorTo(b.startMs, MINUTE);
      if (!this.#dirtyMinutes.has(minute)) {
        s.markDirty.run(1, minute);
        this.#dirtyMinutes.add(minute);
      }
      this.#savedAt.set(minute, Date.now());
    });
  }

  /** Epochs up to `epoch` are in a committed checkpoint (called in the caller's transaction). */
  markCovered(epoch: number): void {
    this.#guard(() => this.#s.setCovered.run(epoch, epoch));
  }

  /**
   * At start, with the epoch the restored checkpoint covers (undefined: no checkpoint, or
   * one older than epochs: the database's own record then). Deletes the rows of later
   * epochs: the job counts their lines again. Returns the epoch to write in and how many
   * rows were rolled back.
   */
  restoreEpochs(checkpointCovered: number | undefined): { epoch: number; rolledBack: number } {
    const s = this.#s;
    const covered = checkpointCovered ?? (s.covered.get() as number);
    let rolledBack = 0;
    this.#db.transaction(() => {
      rolledBack = s.countAfter.get(covered) as number;
      if (rolledBack > 0) {
        s.markMinutesAfter.run(covered);
        s.deleteAfter.run(covered);
      }
      s.deleteEpochsAfter.run(covered);
      s.resetCovered.run(covered);
    })();
    this.#reload();
    return { epoch: covered + 1, rolledBack };
  }

  /**
   * Rolls up dirty minutes, then hours, days and the longer spans whose parts are clean, for about
   * `budgetMs`; while lines come (`idle` false) a minute saved to in the last 2 s waits.
   * True if some remain for the next call.
   */
  rollUp(budgetMs: number, idle = true): boolean {
    if (this.#stale) this.#reload();
    return this.#guard(() => this.#db.transaction(() => this.#rollUp(budgetMs, idle))());
  }

  /** The caller's transaction, which held this writer's work, failed. */
  rolledBack(): void {
    this.#stale = true;
  }

  #rollUp(budgetMs: number, idle: boolean): boolean {
    const started = performance.now();
    const s = this.#s;
    const now = Date.now();
    const over = () => performance.now() - started >= budgetMs;
    this.#prune(now);
    let waiting = false;
    for (const minute of s.dirtyOf.all(1) as number[]) {
      if (over()) return true;
      if (!idle && now - (this.#savedAt.get(minute) ?? 0) < SETTLE_MS) {
        waiting = true;
        continue;
      }
      this.#rollUpMinute(minute);
    }
    // Each coarser level from the one below it, once every finer bucket inside is clean.
    for (let level = 2; level <= TOP_LEVEL; level++) {
      const size = LEVEL_MS[level]!;
      for (const start of s.dirtyOf.all(level) as number[]) {
        if (over()) return true;
        let clean = true;
        for (let finer = 1; finer < level && clean; finer++) clean = s.anyDirtyIn.get(finer, start, start + size) === undefined;
        if (!clean) continue;
        s.clear.run(level, start);
        s.clearTotals.run(level, start);
        s.clearDim.run(level, start);
        s.fromBelow.run(level, start, level - 1, start, start + size);
        s.dimFromBelow.run(level, start, level - 1, start, start + size);
        s.totalsFromBelow.run(level, start, level - 1, start, start + size);
        if (level < TOP_LEVEL) s.markDirty.run(level + 1, floorTo(start, LEVEL_MS[level + 1]!));
        s.clean.run(level, start);
      }
    }
    return waiting;
  }

  #rollUpMinute(minute: number): void {
    const s = this.#s;
    s.clear.run(1, minute);
    s.clearTotals.run(1, minute);
    s.clearDim.run(1, minute);
    // Summed by the URLs' bytes: a minute of a million distinct URLs costs an arena and
    // typed arrays, not a Map of a million strings (measured: ~90 MB less at peak).
    const interner = new UrlInterner(1024);
    const sums = new BatchCounts();
    const cells: DimCells = new Map();
    let events = 0;
    let parseErrors = 0;
    let rows = 0;
    for (const b of s.minuteBatches.iterate(minute, minute + MINUTE) as IterableIterator<{ events: number; parseErrors: number; counts: Buffer }>) {
      rows++;
      events += b.events;
      parseErrors += b.parseErrors;
      const c = new CountsCursor(b.counts);
      while (c.next()) sums.add(interner.id(c.blob, c.start, c.end), c.count);
      addCells(cells, b.counts);
    }
    for (let i = 0; i < sums.size; i++) {
      s.putCount.run(1, minute, this.#urlId(interner.url(sums.touched[i]!)!), sums.values[i]!);
    }
    for (const [dimension, byKey] of cells) {
      for (const [key, byCode] of byKey) {
        const id = this.#dimKeyId(dimension, key);
        let count = 0;
        let bytes = 0;
        for (const [code, m] of byCode) {
          s.putDimCount.run(1, dimension, minute, id, code, m.count, m.bytes, visitorsOf(m));
          count += m.count;
          bytes += m.bytes;
        }
        // Every status summed (ANY_STATUS_ROW): a range without a status filter reads one row
        // per key, not one per code. Its visitors are its codes' union, read from them (a
        // sketch here would repeat the only code's of most keys, and every key's of `status`).
        s.putDimCount.run(1, dimension, minute, id, ANY_STATUS_ROW, count, bytes, null);
      }
    }
    if (rows > 0) s.putTotals.run(1, minute, events, parseErrors);
    s.clean.run(1, minute);
    s.markDirty.run(2, floorTo(minute, HOUR));
    this.#dirtyMinutes.delete(minute);
    this.#savedAt.delete(minute);
  }

  /**
   * Looked up first, inserted only when new: an upsert (`ON CONFLICT DO UPDATE ... RETURNING`)
   * rewrote the row for every URL of every minute, 6.4 of the 12 s that rolling up a 27-hour,
   * 1M-line replay took (867k minute rows); a lookup is ~2 us.
   */
  #urlId(url: string): number {
    return (this.#s.findUrl.get(url) as number | undefined) ?? (this.#s.addUrl.get(url) as number);
  }

  /** A dimension's key id, as `#urlId`. */
  #dimKeyId(dimension: string, key: string): number {
    return (this.#s.findDimKey.get(dimension, key) as number | undefined) ?? (this.#s.addDimKey.get(dimension, key) as number);
  }

  /** The retention: rows of epochs that counted longer ago than it go, and their buckets are rolled up again. */
  #prune(now: number): void {
    if (this.#retentionMs <= 0 || now - this.#prunedAt < PRUNE_EVERY_MS) return;
    this.#prunedAt = now;
    const s = this.#s;
    const old = s.lastEpochBefore.get(now - this.#retentionMs) as number | null;
    if (old === null) return;
    s.markMinutesThrough.run(old);
    s.deleteThrough.run(old);
    s.deleteEpochsThrough.run(old);
    for (const m of s.dirtyOf.all(1) as number[]) this.#dirtyMinutes.add(m);
  }

  #reload(): void {
    this.#dirtyMinutes = new Set(this.#s.dirtyOf.all(1) as number[]);
    this.#epochRecorded = (this.#s.lastEpoch.get() as number | null) ?? -1;
    this.#stale = false;
  }

  #guard<T>(work: () => T): T {
    try {
      return work();
    } catch (err) {
      this.#stale = true;
      throw err;
    }
  }
}

/**
 * A minute's (key, status) cell: lines, bytes, and its distinct visitors (the batch rows'
 * visits), unknown when some row held the cell without visits (a dimension that counts none,
 * such as `client`, or rows written before the dimensions).
 */
interface DimCell {
  count: number;
  bytes: number;
  visitors: VisitorSketch | undefined;
  unknown: boolean;
}

/** A minute's cells by dimension, key and status. */
type DimCells = Map<string, Map<string, Map<number, DimCell>>>;

/** A cell's visitors as the row stores them: a sketch's bytes, or null when not known. */
function visitorsOf(m: DimCell): Buffer | null {
  return m.unknown ? null : (m.visitors ?? new VisitorSketch()).encode();
}

/** Adds a batch blob's cells and visits, every dimension's, to `cells`. */
function addCells(cells: DimCells, blob: Buffer): void {
  const r = new BlobReader(blob);
  while (r.nextSection()) {
    let byKey = cells.get(r.name);
    if (!byKey) cells.set(r.name, (byKey = new Map()));
    const keys: string[] = [];
    for (let i = 0; i < r.keyCount; i++) keys.push(blob.toString('utf8', r.keyStart(i), r.keyEnd(i)));
    const cellOf: DimCell[] = [];
    while (r.nextCell()) {
      const key = keys[r.key]!;
      let byCode = byKey.get(key);
      if (!byCode) byKey.set(key, (byCode = new Map()));
      let m = byCode.get(r.code);
      if (m) {
        m.count += r.count;
        m.bytes += r.bytes;
      } else {
        byCode.set(r.code, (m = { count: r.count, bytes: r.bytes, visitors: undefined, unknown: false }));
      }
      if (!r.visitors) m.unknown = true;
      cellOf.push(m);
    }
    while (r.nextVisit()) {
      const m = cellOf[r.cell]!;
      (m.visitors ??= new VisitorSketch()).add(r.hi, r.lo);
    }
  }
}

/**
 * The dimensions the history holds, as `dims(name)`: a skip scan of `dim_keys`' unique index
 * (one probe per dimension, not a read of every key), so a bucket's rows are found by the
 * primary key (level, dimension, start_ms, ...) dimension by dimension.
 */
const DIMENSIONS = `WITH RECURSIVE dims(name) AS (
  SELECT MIN(dimension) FROM dim_keys
  UNION ALL SELECT (SELECT MIN(dimension) FROM dim_keys WHERE dimension > dims.name) FROM dims WHERE dims.name IS NOT NULL
)`;

function statements(db: Database.Database) {
  const minuteOf = floorSql('start_ms', MINUTE);
  return {
    insertBatch: db.prepare('INSERT OR IGNORE INTO batches (start_ms, epoch, events, parse_errors, counts) VALUES (?, ?, ?, ?, ?)'),
    getBatch: db.prepare('SELECT events, parse_errors AS parseErrors, counts FROM batches WHERE start_ms = ? AND epoch = ?'),
    updateBatch: db.prepare('UPDATE batches SET events = ?, parse_errors = ?, counts = ? WHERE start_ms = ? AND epoch = ?'),
    insertEpoch: db.prepare('INSERT OR IGNORE INTO epochs (epoch, counted_ms) VALUES (?, ?)'),
    lastEpoch: db.prepare('SELECT MAX(epoch) FROM epochs').pluck(),
    lastEpochBefore: db.prepare('SELECT MAX(epoch) FROM epochs WHERE counted_ms < ?').pluck(),
    covered: db.prepare('SELECT covered_epoch FROM progress WHERE id = 1').pluck(),
    setCovered: db.prepare('UPDATE progress SET covered_epoch = ? WHERE id = 1 AND covered_epoch < ?'),
    resetCovered: db.prepare('UPDATE progress SET covered_epoch = ? WHERE id = 1'),
    countAfter: db.prepare('SELECT COUNT(*) FROM batches WHERE epoch > ?').pluck(),
    markMinutesAfter: db.prepare(`INSERT OR IGNORE INTO dirty (level, start_ms) SELECT DISTINCT 1, ${minuteOf} FROM batches WHERE epoch > ?`),
    deleteAfter: db.prepare('DELETE FROM batches WHERE epoch > ?'),
    deleteEpochsAfter: db.prepare('DELETE FROM epochs WHERE epoch > ?'),
    markMinutesThrough: db.prepare(`INSERT OR IGNORE INTO dirty (level, start_ms) SELECT DISTINCT 1, ${minuteOf} FROM batches WHERE epoch <= ?`),
    deleteThrough: db.prepare('DELETE FROM batches WHERE epoch <= ?'),
    deleteEpochsThrough: db.prepare('DELETE FROM epochs WHERE epoch <= ?'),
    markDirty: db.prepare('INSERT OR IGNORE INTO dirty (level, start_ms) VALUES (?, ?)'),
    clean: db.prepare('DELETE FROM dirty WHERE level = ? AND start_ms = ?'),
    dirtyOf: db.prepare('SELECT start_ms FROM dirty WHERE level = ? ORDER BY start_ms').pluck(),
    anyDirtyIn: db.prepare('SELECT 1 FROM dirty WHERE level = ? AND start_ms >= ? AND start_ms < ? LIMIT 1').pluck(),
    minuteBatches: db.prepare('SELECT events, parse_errors AS parseErrors, counts FROM batches WHERE start_ms >= ? AND start_ms < ?'),
    findUrl: db.prepare('SELECT id FROM urls WHERE url = ?').pluck(),
    addUrl: db.prepare('INSERT INTO urls (url) VALUES (?) RETURNING id').pluck(),
    clear: db.prepare('DELETE FROM counts WHERE level = ? AND start_ms = ?'),
    clearTotals: db.prepare('DELETE FROM totals WHERE level = ? AND start_ms = ?'),
    findDimKey: db.prepare('SELECT id FROM dim_keys WHERE dimension = ? AND key = ?').pluck(),
    addDimKey: db.prepare('INSERT INTO dim_keys (dimension, key) VALUES (?, ?) RETURNING id').pluck(),
    // By dimension: the primary key is (level, dimension, start_ms, ...).
    clearDim: db.prepare(`${DIMENSIONS} DELETE FROM dim_counts WHERE level = ? AND dimension IN (SELECT name FROM dims) AND start_ms = ?`),
    putDimCount: db.prepare('INSERT INTO dim_counts (level, dimension, start_ms, key_id, status, count, bytes, visitors) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    // The summed rows (ANY_STATUS_ROW) keep no visitors (null), as at the minutes: the
    // aggregate, a call into JS per row, is not run for them.
    dimFromBelow: db.prepare(
      `${DIMENSIONS} INSERT INTO dim_counts (level, dimension, start_ms, key_id, status, count, bytes, visitors)
       SELECT ?, dimension, ?, key_id, status, SUM(count), SUM(bytes), ${VISITORS_UNION}(visitors) FILTER (WHERE status >= 0) FROM dim_counts
       WHERE level = ? AND dimension IN (SELECT name FROM dims) AND start_ms >= ? AND start_ms < ? GROUP BY dimension, key_id, status`,
    ),
    putCount: db.prepare('INSERT INTO counts (level, start_ms, url_id, count) VALUES (?, ?, ?, ?)'),
    putTotals: db.prepare('INSERT INTO totals (level, start_ms, events, parse_errors) VALUES (?, ?, ?, ?)'),
    fromBelow: db.prepare(
      `INSERT INTO counts (level, start_ms, url_id, count)
       SELECT ?, ?, url_id, SUM(count) FROM counts WHERE level = ? AND start_ms >= ? AND start_ms < ? GROUP BY url_id`,
    ),
    totalsFromBelow: db.prepare(
      `INSERT INTO totals (level, start_ms, events, parse_errors)
       SELECT ?, ?, SUM(events), SUM(parse_errors) FROM totals WHERE level = ? AND start_ms >= ? AND start_ms < ? HAVING COUNT(*) > 0`,
    ),
  };
}

/** `fn` in a transaction of its own, or in the caller's when one is open (no savepoint per call). */
export function inTransaction<A extends unknown[], R>(db: Database.Database, fn: (...args: A) => R): (...args: A) => R {
  const alone = db.transaction(fn);
  return (...args: A) => (db.inTransaction ? fn(...args) : alone(...args));
}
