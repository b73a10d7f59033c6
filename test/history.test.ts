import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, test } from 'node:test';
import { decompose, encodeCounts, ResultsReader, ResultsStore } from '../daemon/store/index.js';
import { tempDir } from './helpers/daemon.js';

const H = 3_600_000;
const M = 60_000;

describe('history', () => {
  test('a range splits into hours, minutes and batch intervals at the edges, rollups only where they exist', () => {
    assert.deepEqual(decompose(0, 3 * H, 1000, [Infinity, 2 * H + 10 * M, H]), [
      { level: 2, from: 0, to: H },
      { level: 1, from: H, to: 2 * H + 10 * M },
      { level: 0, from: 2 * H + 10 * M, to: 3 * H },
    ]);
    assert.deepEqual(decompose(0, 2 * H, 1000), [{ level: 2, from: 0, to: 2 * H }]);
    assert.deepEqual(decompose(30_000, 2 * H + 5 * M + 7000, 1000), [
      { level: 0, from: 30_000, to: M },
      { level: 1, from: M, to: H },
      { level: 2, from: H, to: 2 * H },
      { level: 1, from: 2 * H, to: 2 * H + 5 * M },
      { level: 0, from: 2 * H + 5 * M, to: 2 * H + 5 * M + 7000 },
    ]);
    assert.deepEqual(decompose(5000, 9000, 1000), [{ level: 0, from: 5000, to: 9000 }]);
    assert.deepEqual(decompose(5000, 5000, 1000), []);
  });

  test('range answers equal a brute-force sum of the batches; saving a batch again does not count it twice', () => {
    const file = path.join(tempDir(), 'r.db');
    const store = new ResultsStore(file);
    const reader = new ResultsReader(file, 1000);
    const start = Date.UTC(2026, 0, 1, 10, 58, 0);
    const batches: { startMs: number; counts: [string, number][] }[] = [];
    let seed = 5;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let s = 0; s < 3 * 3600; s += 7) {
      const counts: [string, number][] = [];
      for (let u = 0; u < 5; u++) counts.push([`/u${Math.floor(rand() * 40)}'"`, 1 + Math.floor(rand() * 9)]);
      const merged = [...counts.reduce((m, [u, c]) => m.set(u, (m.get(u) ?? 0) + c), new Map<string, number>())];
      const b = { startMs: start + s * 1000, counts: merged };
      batches.push(b);
      store.saveBatch({ startMs: b.startMs, events: merged.reduce((a, [, c]) => a + c, 0) + 1, parseErrors: 1, counts: encodeCounts(merged) });
    }
    // A replay after a crash: the same batch with other counts replaces the first save.
    const replayed = batches[100]!;
    replayed.counts = [['/replayed', 3]];
    store.saveBatch({ startMs: replayed.startMs, events: 4, parseErrors: 1, counts: encodeCounts(replayed.counts) });

    const history = reader.history();
    const ranges = [[start, start + 3 * H], [start + 90_000, start + 2 * H + 17_000], [start + 5000, start + 6000], [start - H, start + 30 * M]];
    // Read from the batches first, then from the minute and hour rollups (a batch after the
    // last minute makes every minute before it over).
    for (const range of [...ranges, null, ...ranges]) {
      if (range === null) {
        store.saveBatch({ startMs: start + 4 * H, events: 0, parseErrors: 0, counts: encodeCounts([]) });
        while (store.rollUp(1000));
        const db = new Database(file, { readonly: true });
        const rows = db.prepare('SELECT level, COUNT(*) AS n FROM totals GROUP BY level ORDER BY level').all();
        db.close();
        // 10:58 to 13:58: 180 minutes; hours 11 and 12 (10 and 13 are partial: rolled up too).
        assert.deepEqual(rows, [{ level: 1, n: 180 }, { level: 2, n: 4 }]);
        continue;
      }
      const [from, to] = range;
      const sums = new Map<string, number>();
      let total = 0;
      for (const b of batches) {
        if (b.startMs < from! || b.startMs >= to!) continue;
        for (const [u, c] of b.counts) {
          sums.set(u, (sums.get(u) ?? 0) + c);
          total += c;
        }
      }
      const want = [...sums].map(([url, count]) => ({ url, count })).sort((a, b) => b.count - a.count || (a.url < b.url ? -1 : 1));
      const got = history.top(from!, to!, 1000);
      assert.deepEqual(got.urls, want, `range ${from}..${to}`);
      assert.equal(got.total, total);
    }
    reader.close();
    store.close();
  });

  test('rows older than the retention are deleted', () => {
    const file = path.join(tempDir(), 'r.db');
    const store = new ResultsStore(file, { retentionMs: 10 * M });
    const reader = new ResultsReader(file, 1000);
    const t0 = Date.UTC(2026, 0, 1);
    for (let m = 0; m < 30; m++) store.saveBatch({ startMs: t0 + m * M, events: 1, parseErrors: 0, counts: encodeCounts([['/x', 1]]) });
    // Minute rows: about the last ten minutes are kept.
    const minutes = reader.history().top(t0, t0 + 30 * M, 10);
    assert.ok(minutes.total >= 10 && minutes.total <= 12, `kept about ten minutes: ${minutes.total}`);
    // The hour is not over, so it has no rollup yet: the same minutes answer.
    assert.equal(reader.history().top(t0, t0 + H, 10).total, minutes.total);
    reader.close();
    store.close();
  });
});
