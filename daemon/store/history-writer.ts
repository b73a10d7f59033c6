import type Database from 'better-sqlite3';
import { BatchCounts, UrlInterner } from '../counts/index.js';
import type { BatchResult } from './window-results.js';
import { CountsCursor } from '../counts/counts-codec.js';
import { floorTo, HOUR, LEVEL_MS, MINUTE } from './history.js';

/**
 * Writes closed batches (one insert each) and rolls them up into minute and hour rows
 * behind them, in time order, a bounded amount of work at a time (`rollUp`). Range queries
 * read the rollups up to the newest one and the batches after it, so a rollup that has not
 * been written yet costs a slower query, never a wrong answer.
 *
 * Why behind and not as each minute ends: replaying a 27-hour log in event time ends 1,620
 * minutes in about a second, ~800,000 per-URL minute rows for 1M lines; written as part of
 * each batch's save they took ~8 s of the job's thread (profile of a 200k-line replay: 2.1 s
 * of 18 s in the minute rollups, the rest in the window's id release, since fixed).
 *
 * Rolled up in order, every minute with batches gets its rows: after a restart, and after a
 * gap in the data (with schema version 0 a restart rolled up only the minute before its
 * first new batch; the minutes before were skipped for good and range queries
 * under-counted). At start, minutes that schema 0's writer skipped are rolled up too.
 */
export class HistoryWriter {
  readonly #save: (b: BatchResult) => void;
  readonly #rollUp: (budgetMs: number) => boolean;
  /** The newest minute with a batch (still open: more batches may come). */
  #openMinute: number | undefined;
  /** Minutes before this one are rolled up (or have no batches). */
  #rolledTo: number;
  /** The hour of the last minute rolled up, while its hour row is not written. */
  #hourPending: number | undefined;
  /** Rollups written at start because an older version skipped them. */
  repaired = { minutes: 0, hours: 0 };
  /**
   * A transaction failed (a full disk...) after this writer moved on in memory: the minutes
   * it rolled up in that transaction were rolled back. Its place is read again from the
   * database before the next rollup, which then rolls them up again.
   */
  #stale = false;
  readonly #resume: () => number;

  constructor(db: Database.Database, retentionMs: number) {
    const putBatch = db.prepare('INSERT OR REPLACE INTO batches (start_ms, events, parse_errors, counts) VALUES (?, ?, ?, ?)');
    const minuteBatches = db.prepare('SELECT events, parse_errors AS parseErrors, counts FROM batches WHERE start_ms >= ? AND start_ms < ?');
    const nextBatch = db.prepare('SELECT MIN(start_ms) FROM batches WHERE start_ms >= ? AND start_ms < ?').pluck();
    // Looked up first, inserted only when new: an upsert (`ON CONFLICT DO UPDATE ... RETURNING`)
    // rewrote the row for every URL of every minute, 6.4 of the 12 s that rolling up a 27-hour,
    // 1M-line replay took (867k minute rows); a lookup is ~2 us.
    const findUrl = db.prepare('SELECT id FROM urls WHERE url = ?').pluck();
    const addUrl = db.prepare('INSERT INTO urls (url) VALUES (?) RETURNING id').pluck();
    const urlId = (url: string) => (findUrl.get(url) as number | undefined) ?? (addUrl.get(url) as number);
    const clearLevel = db.prepare('DELETE FROM counts WHERE level = ? AND start_ms = ?');
    const clearTotals = db.prepare('DELETE FROM totals WHERE level = ? AND start_ms = ?');
    const putCount = db.prepare('INSERT INTO counts (level, start_ms, url_id, count) VALUES (?, ?, ?, ?)');
    const putTotals = db.prepare('INSERT INTO totals (level, start_ms, events, parse_errors) VALUES (?, ?, ?, ?)');
    const hourFromMinutes = db.prepare(
      `INSERT INTO counts (level, start_ms, url_id, count)
       SELECT 2, ?, url_id, SUM(count) FROM counts WHERE level = 1 AND start_ms >= ? AND start_ms < ? GROUP BY url_id`,
    );
    const hourTotals = db.prepare(
      `INSERT INTO totals (level, start_ms, events, parse_errors)
       SELECT 2, ?, COALESCE(SUM(events), 0), COALESCE(SUM(parse_errors), 0) FROM totals WHERE level = 1 AND start_ms >= ? AND start_ms < ?`,
    );
    const pruneBatches = db.prepare('DELETE FROM batches WHERE start_ms < ?');
    const pruneCounts = db.prepare('DELETE FROM counts WHERE level = ? AND start_ms < ?');
    const pruneTotals = db.prepare('DELETE FROM totals WHERE level = ? AND start_ms < ?');

    const rollUpMinute = (minute: number) => {
      clearLevel.run(1, minute);
      clearTotals.run(1, minute);
      // Summed by the URLs' bytes: a minute of a million distinct URLs costs an arena and
      // typed arrays, not a Map of a million strings (measured: ~90 MB less at peak).
      const interner = new UrlInterner(1024);
      const sums = new BatchCounts();
      let events = 0;
      let parseErrors = 0;
      for (const b of minuteBatches.iterate(minute, minute + MINUTE) as IterableIterator<{ events: number; parseErrors: number; counts: Buffer }>) {
        events += b.events;
        parseErrors += b.parseErrors;
        const c = new CountsCursor(b.counts);
        while (c.next()) sums.add(interner.id(c.blob, c.start, c.end), c.count);
      }
      for (let i = 0; i < sums.size; i++) {
        putCount.run(1, minute, urlId(interner.url(sums.touched[i]!)!), sums.values[i]!);
      }
      putTotals.run(1, minute, events, parseErrors);
    };
    const rollUpHour = (hour: number) => {
      clearLevel.run(2, hour);
      clearTotals.run(2, hour);
      hourFromMinutes.run(hour, hour, hour + HOUR);
      hourTotals.run(hour, hour, hour + HOUR);
    };
    const prune = (now: number) => {
      // A rollup row goes once all of its minute or hour is older than the retention.
      pruneBatches.run(now - retentionMs);
      for (const level of [1, 2]) {
        pruneCounts.run(level, now - retentionMs - LEVEL_MS[level]!);
        pruneTotals.run(level, now - retentionMs - LEVEL_MS[level]!);
      }
    };
    /** Minutes up to `to` are done: an hour whose minutes are all rolled up gets its row. */
    const advanceTo = (to: number) => {
      if (this.#hourPending !== undefined && floorTo(to, HOUR) > this.#hourPending) {
        rollUpHour(this.#hourPending);
        this.#hourPending = undefined;
      }
      this.#rolledTo = Math.max(this.#rolledTo, to);
    };

    this.#resume = () => this.#start(db, rollUpMinute, rollUpHour);
    this.#rolledTo = this.#resume();

    const save = (b: BatchResult) => {
      putBatch.run(b.startMs, b.events, b.parseErrors, b.counts);
      const minute = floorTo(b.startMs, MINUTE);
      if (this.#openMinute === undefined || minute > this.#openMinute) {
        this.#openMinute = minute;
        prune(b.startMs);
      } else if (minute < this.#rolledTo) {
        // A batch of a minute rolled up already (a replay): roll it up again, and its hour.
        rollUpMinute(minute);
        const hour = floorTo(minute, HOUR);
        if (hour === this.#hourPending) return;
        if (hour < floorTo(this.#rolledTo, HOUR)) rollUpHour(hour);
        else {
          if (this.#hourPending !== undefined) rollUpHour(this.#hourPending);
          this.#hourPending = hour;
        }
      }
    };
    const rollUp = (budgetMs: number): boolean => {
      const started = performance.now();
      const open = this.#openMinute;
      while (open !== undefined && this.#rolledTo < open) {
        if (performance.now() - started >= budgetMs) return true;
        const next = nextBatch.get(this.#rolledTo, open) as number | null;
        if (next === null) {
          advanceTo(open);
          break;
        }
        const minute = floorTo(next, MINUTE);
        advanceTo(minute);
        rollUpMinute(minute);
        this.#hourPending = floorTo(minute, HOUR);
        this.#rolledTo = minute + MINUTE;
      }
      if (open !== undefined) advanceTo(open);
      return false;
    };
    this.#save = inTransaction(db, save);
    this.#rollUp = inTransaction(db, rollUp);
  }

  save(batch: BatchResult): void {
    this.#guard(() => this.#save(batch));
  }

  /**
   * Rolls up minutes that are over (and their hours), for about `budgetMs`; true if some
   * remain for the next call.
   */
  rollUp(budgetMs: number): boolean {
    if (this.#stale) {
      const repaired = this.repaired;
      this.#openMinute = undefined;
      this.#hourPending = undefined;
      this.#rolledTo = this.#resume();
      this.repaired = repaired;
      this.#stale = false;
    }
    return this.#guard(() => this.#rollUp(budgetMs));
  }

  /** The caller's transaction, which held this writer's work, failed. */
  rolledBack(): void {
    this.#stale = true;
  }

  #guard<T>(work: () => T): T {
    try {
      return work();
    } catch (err) {
      this.#stale = true;
      throw err;
    }
  }

  /** Where rolling up resumes; rolls up what an older version skipped. Returns `rolledTo`. */
  #start(db: Database.Database, rollUpMinute: (m: number) => void, rollUpHour: (h: number) => void): number {
    const one = (sql: string) => db.prepare(sql).pluck().get() as number | null;
    const newest = one('SELECT MAX(start_ms) FROM batches');
    const oldest = one('SELECT MIN(start_ms) FROM batches');
    const lastMinute = one('SELECT MAX(start_ms) FROM totals WHERE level = 1');
    if (newest !== null) this.#openMinute = floorTo(newest, MINUTE);
    const rolledTo = lastMinute !== null ? lastMinute + MINUTE : oldest !== null ? floorTo(oldest, MINUTE) : 0;
    if (lastMinute !== null && one(`SELECT COUNT(*) FROM totals WHERE level = 2 AND start_ms = ${floorTo(lastMinute, HOUR)}`) === 0) {
      this.#hourPending = floorTo(lastMinute, HOUR);
    }
    const skipped = db.prepare(
      `SELECT DISTINCT start_ms - start_ms % ${MINUTE} AS minute FROM batches
       WHERE start_ms < ? AND start_ms - start_ms % ${MINUTE} NOT IN (SELECT start_ms FROM totals WHERE level = 1) ORDER BY minute`,
    ).pluck();
    const hourless = db.prepare(
      `SELECT DISTINCT start_ms - start_ms % ${HOUR} AS hour FROM totals
       WHERE level = 1 AND start_ms < ? AND start_ms - start_ms % ${HOUR} NOT IN (SELECT start_ms FROM totals WHERE level = 2)`,
    ).pluck();
    db.transaction(() => {
      const minutes = skipped.all(rolledTo) as number[];
      for (const minute of minutes) rollUpMinute(minute);
      const lastHour = this.#hourPending ?? floorTo(rolledTo, HOUR);
      const hours = new Set([...minutes.map((m) => floorTo(m, HOUR)), ...(hourless.all(lastHour) as number[])].filter((h) => h < lastHour));
      for (const hour of hours) rollUpHour(hour);
      this.repaired = { minutes: minutes.length, hours: hours.size };
    })();
    return rolledTo;
  }
}

/** `fn` in a transaction of its own, or in the caller's when one is open (no savepoint per call). */
export function inTransaction<A extends unknown[], R>(db: Database.Database, fn: (...args: A) => R): (...args: A) => R {
  const alone = db.transaction(fn);
  return (...args: A) => (db.inTransaction ? fn(...args) : alone(...args));
}
