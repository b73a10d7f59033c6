import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, test } from 'node:test';
import { decompose, encodeCounts, ResultsReader, ResultsStore } from '../daemon/store/index.js';
import { unusableOf } from '../daemon/store/history.js';
import { tempDir } from './helpers/daemon.js';
import { SCHEMA_VERSION } from '../daemon/store/schema-version.js';
import { sumBatches } from './helpers/range-sums.js';

const D = 86_400_000;
const H = 3_600_000;
const M = 60_000;

interface Saved {
  startMs: number;
  epoch: number;
  counts: [string, number][];
}

/** The brute-force answer over what was saved (and not undone). */
const sumOf = (saved: readonly Saved[], from: number, to: number) => sumBatches(saved, from, to);

function save(store: ResultsStore, saved: Saved[], b: Saved): void {
  saved.push(b);
  store.saveBatch({ startMs: b.startMs, events: b.counts.reduce((a, [, c]) => a + c, 0) + 1, parseErrors: 1, counts: encodeCounts(b.counts) }, b.epoch);
}

function random(seed: number): () => number {
  return () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
}

function rollupRows(file: string): { level: number; n: number }[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT level, COUNT(*) AS n FROM totals GROUP BY level ORDER BY level').all() as { level: number; n: number }[];
  } finally {
    db.close();
  }
}

describe('history', () => {
  test('a range splits into days, hours, minutes and batch intervals at the edges; a dirty bucket is read from the level below', () => {
    assert.deepEqual(decompose(0, 3 * H, 1000), [{ level: 2, from: 0, to: 3 * H }]);
    assert.deepEqual(decompose(30_000, 2 * H + 5 * M + 7000, 1000), [
      { level: 0, from: 30_000, to: M },
      { level: 1, from: M, to: H },
      { level: 2, from: H, to: 2 * H },
      { level: 1, from: 2 * H, to: 2 * H + 5 * M },
      { level: 0, from: 2 * H + 5 * M, to: 2 * H + 5 * M + 7000 },
    ]);
    // Ten years: spans of 360 and 30 days, days and hours at the edges; the pieces follow
    // each other, each whole buckets of its level.
    const from = Date.UTC(2010, 0, 1, 22);
    const to = Date.UTC(2020, 0, 1, 3);
    const pieces = decompose(from, to, 1000);
    assert.equal(pieces[0]!.from, from);
    assert.equal(pieces.at(-1)!.to, to);
    const size = [1000, M, H, D, 30 * D, 360 * D];
    pieces.forEach((p, i) => {
      if (i > 0) assert.equal(p.from, pieces[i - 1]!.to);
      assert.equal(p.from % size[p.level]!, 0, JSON.stringify(p));
      assert.equal(p.to % size[p.level]!, 0, JSON.stringify(p));
    });
    assert.deepEqual(pieces.map((p) => p.level), [2, 3, 4, 5, 4, 3, 2], JSON.stringify(pieces));
    assert.equal(pieces.filter((p) => p.level === 5).reduce((n, p) => n + (p.to - p.from) / (360 * D), 0), 9);
    // A dirty minute (10:07) makes its minute, hour and day unusable; a dirty hour its day.
    const t0 = Date.UTC(2026, 0, 1);
    const unusable = unusableOf([{ level: 1, start: t0 + 10 * H + 7 * M }, { level: 2, start: t0 + D + 4 * H }]);
    assert.deepEqual(decompose(t0, t0 + 3 * D, 1000, unusable), [
      { level: 2, from: t0, to: t0 + 10 * H },
      { level: 1, from: t0 + 10 * H, to: t0 + 10 * H + 7 * M },
      { level: 0, from: t0 + 10 * H + 7 * M, to: t0 + 10 * H + 8 * M },
      { level: 1, from: t0 + 10 * H + 8 * M, to: t0 + 11 * H },
      { level: 2, from: t0 + 11 * H, to: t0 + D },
      { level: 2, from: t0 + D, to: t0 + D + 4 * H },
      { level: 1, from: t0 + D + 4 * H, to: t0 + D + 5 * H },
      { level: 2, from: t0 + D + 5 * H, to: t0 + 2 * D },
      { level: 3, from: t0 + 2 * D, to: t0 + 3 * D },
    ]);
    assert.deepEqual(decompose(5000, 9000, 1000), [{ level: 0, from: 5000, to: 9000 }]);
    assert.deepEqual(decompose(5000, 5000, 1000), []);
  });

  test('rows add up in any order and over epochs; every range equals the sum of what was saved, before, during and after the rollups', () => {
    const file = path.join(tempDir(), 'r.db');
    const store = new ResultsStore(file);
    const reader = new ResultsReader(file, 1000);
    const history = reader.history();
    const start = Date.UTC(2026, 0, 1, 22, 58, 0);
    const saved: Saved[] = [];
    const rand = random(5);
    const batch = (startMs: number, epoch: number): Saved => {
      const counts = new Map<string, number>();
      for (let u = 0; u < 5; u++) counts.set(`/u${Math.floor(rand() * 40)}'"`, 1 + Math.floor(rand() * 9));
      return { startMs, epoch, counts: [...counts] };
    };
    // Three hours across midnight, every 7 s, epoch 1.
    for (let s = 0; s < 3 * 3600; s += 7) save(store, saved, batch(start + s * 1000, 1));
    const ranges: [number, number][] = [
      [start, start + 3 * H], [start + 90_000, start + 2 * H + 17_000], [start + 5000, start + 6000], [start - H, start + 30 * M],
      [Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 3)], [Date.UTC(2000, 0, 1), Date.UTC(2030, 0, 1)],
    ];
    const check = (label: string) => {
      for (const [from, to] of ranges) {
        const want = sumOf(saved, from, to);
        const got = history.top(from, to, 1000);
        assert.deepEqual(got.urls, want.urls, `${label}: range ${new Date(from).toISOString()}..${new Date(to).toISOString()}`);
        assert.equal(got.total, want.total, `${label}: total`);
        for (const step of [60_000, 3_600_000, 86_400_000]) {
          if ((to - from) / step > 100_000) continue;
          const f = Math.floor(from / step) * step;
          const points = history.totalSeries(f, to, step).reduce((a, p) => a + p.count, 0);
          assert.equal(points, sumOf(saved, f, to).total, `${label}: series of step ${step}`);
        }
        const url = want.urls[0]?.url;
        if (url) {
          const one = history.series(url, Math.floor(from / H) * H, to, H).reduce((a, p) => a + p.count, 0);
          assert.equal(one, sumOf(saved, Math.floor(from / H) * H, to).urls.find((u) => u.url === url)?.count, `${label}: ${url}'s series`);
        }
      }
    };
    check('from the batches');
    while (store.rollUp(1000, true));
    assert.deepEqual(rollupRows(file), [{ level: 1, n: 180 }, { level: 2, n: 4 }, { level: 3, n: 2 }, { level: 4, n: 1 }, { level: 5, n: 1 }], '22:58 to 01:58: 4 hours of 2 days');
    check('from the rollups');
    // Late lines: into seconds already rolled up (saved again, same epoch and a later one),
    // and a day long before everything.
    save(store, saved, batch(start + 14_000, 1));
    save(store, saved, batch(start + 3600_000 + 7000, 2));
    save(store, saved, batch(Date.UTC(2003, 5, 1, 12), 2));
    check('with late batches, rollups stale');
    store.rollUp(0, true);
    check('part rolled up');
    while (store.rollUp(1000, true));
    check('rolled up again');
    reader.close();
    store.close();
  });

  test('restoreEpochs undoes what no checkpoint covers, and the rollups follow', () => {
    const file = path.join(tempDir(), 'r.db');
    let store = new ResultsStore(file);
    const t0 = Date.UTC(2015, 4, 17, 10);
    const saved: Saved[] = [];
    for (let e = 1; e <= 3; e++) for (let s = 0; s < 600; s += 10) save(store, saved, { startMs: t0 + s * 1000, epoch: e, counts: [[`/e${e}`, 1], ['/all', 2]] });
    store.markCovered(1);
    while (store.rollUp(1000, true));
    store.close();

    // The checkpoint covers epoch 2: epoch 3 is undone.
    store = new ResultsStore(file);
    assert.deepEqual(store.restoreEpochs(2), { epoch: 3, rolledBack: 60 });
    const reader = new ResultsReader(file, 1000);
    const kept = saved.filter((b) => b.epoch <= 2);
    assert.deepEqual(reader.history().top(t0, t0 + H, 10).urls, sumOf(kept, t0, t0 + H).urls, 'read below the stale rollups');
    while (store.rollUp(1000, true));
    assert.deepEqual(reader.history().top(t0, t0 + H, 10).urls, sumOf(kept, t0, t0 + H).urls, 'rolled up again');
    store.close();

    // No checkpoint at all: the database's own record (epoch 1, marked covered) is kept.
    store = new ResultsStore(file);
    assert.deepEqual(store.restoreEpochs(undefined), { epoch: 3, rolledBack: 0 }, 'restoreEpochs(2) recorded 2 as covered');
    assert.deepEqual(store.restoreEpochs(1), { epoch: 2, rolledBack: 60 });
    while (store.rollUp(1000, true));
    assert.deepEqual(reader.history().top(t0, t0 + H, 10).urls, sumOf(saved.filter((b) => b.epoch === 1), t0, t0 + H).urls);
    reader.close();
    store.close();
  });

  test('the retention counts from when rows were counted, not from their own time; 0 keeps everything', async () => {
    const file = path.join(tempDir(), 'r.db');
    const store = new ResultsStore(file, { retentionMs: 60_000 });
    const reader = new ResultsReader(file, 1000);
    const old = Date.UTC(2015, 4, 17);
    const newer = Date.UTC(2017, 2, 5);
    // 2017 first, then a 2015 log: both were counted just now, both stay.
    store.saveBatch({ startMs: newer, events: 3, parseErrors: 0, counts: encodeCounts([['/2017', 3]]) }, 1);
    store.saveBatch({ startMs: old, events: 2, parseErrors: 0, counts: encodeCounts([['/2015', 2]]) }, 2);
    while (store.rollUp(1000, true));
    assert.equal(reader.history().top(old, old + D, 10).total, 2, 'the 2015 rows are kept after a 2017 log');
    // Epoch 1 counted more than the retention ago: its rows go, the 2015 ones (epoch 2) stay.
    const db = new Database(file);
    db.prepare('UPDATE epochs SET counted_ms = ? WHERE epoch = 1').run(Date.now() - 120_000);
    db.close();
    const fresh = new ResultsStore(file, { retentionMs: 60_000 });
    while (fresh.rollUp(1000, true));
    assert.equal(reader.history().top(newer, newer + D, 10).total, 0, 'counted 2 minutes ago: gone');
    assert.equal(reader.history().top(old, old + D, 10).total, 2, 'counted now: kept');
    fresh.close();
    // retention = 0: nothing goes.
    const keep = new ResultsStore(file, { retentionMs: 0 });
    const db2 = new Database(file);
    db2.prepare('UPDATE epochs SET counted_ms = 0').run();
    db2.close();
    while (keep.rollUp(1000, true));
    assert.equal(reader.history().top(old, old + D, 10).total, 2);
    keep.close();
    reader.close();
    store.close();
  });

  test('a schema-1 database is migrated: its batches and rollups kept, the buckets it had not rolled up marked and rolled up', () => {
    const file = path.join(tempDir(), 'r.db');
    const db = new Database(file);
    db.exec(`
      CREATE TABLE latest_window (id INTEGER PRIMARY KEY CHECK (id = 1), start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, total INTEGER NOT NULL, distinct_urls INTEGER NOT NULL);
      CREATE TABLE latest_top (rank INTEGER PRIMARY KEY, url TEXT NOT NULL, count INTEGER NOT NULL);
      CREATE TABLE windows (end_ms INTEGER PRIMARY KEY, start_ms INTEGER NOT NULL, total INTEGER NOT NULL, distinct_urls INTEGER NOT NULL);
      CREATE TABLE batches (start_ms INTEGER PRIMARY KEY, events INTEGER NOT NULL, parse_errors INTEGER NOT NULL, counts BLOB NOT NULL);
      CREATE TABLE urls (id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE);
      CREATE TABLE counts (level INTEGER NOT NULL, start_ms INTEGER NOT NULL, url_id INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (level, start_ms, url_id)) WITHOUT ROWID;
      CREATE INDEX counts_by_url ON counts (url_id, level, start_ms);
      CREATE TABLE totals (level INTEGER NOT NULL, start_ms INTEGER NOT NULL, events INTEGER NOT NULL, parse_errors INTEGER NOT NULL, PRIMARY KEY (level, start_ms)) WITHOUT ROWID;
      PRAGMA user_version = 1;
    `);
    const t0 = Date.UTC(2026, 2, 3, 9, 0);
    const put = db.prepare('INSERT INTO batches VALUES (?, ?, 0, ?)');
    for (let m = 0; m < 90; m++) put.run(t0 + m * M, 2, encodeCounts([['/a', 1], ['/b', 1]]));
    // The old writer had rolled up the first 30 minutes (its last one early) and no hour.
    db.exec(`INSERT INTO urls (id, url) VALUES (1, '/a'), (2, '/b')`);
    for (let m = 0; m < 30; m++) {
      db.prepare('INSERT INTO counts VALUES (1, ?, 1, 1), (1, ?, 2, 1)').run(t0 + m * M, t0 + m * M);
      db.prepare('INSERT INTO totals VALUES (1, ?, 2, 0)').run(t0 + m * M);
    }
    db.close();
    const store = new ResultsStore(file);
    assert.deepEqual(store.migration, { from: 1, to: SCHEMA_VERSION });
    const reader = new ResultsReader(file, 1000);
    assert.equal(reader.history().top(t0, t0 + 2 * H, 10).total, 180, 'read from below the unrolled buckets');
    while (store.rollUp(1000, true));
    assert.equal(reader.history().top(t0, t0 + 2 * H, 10).total, 180);
    assert.deepEqual(rollupRows(file), [{ level: 1, n: 90 }, { level: 2, n: 2 }, { level: 3, n: 1 }, { level: 4, n: 1 }, { level: 5, n: 1 }]);
    reader.close();
    store.close();
  });
});
