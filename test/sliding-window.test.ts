import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BatchCounts, SlidingWindow, topK } from '../daemon/counts/index.js';

const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

describe('sliding window', () => {
  test('adds the entering batch and subtracts the leaving one', () => {
    const w = new SlidingWindow(3);
    const batches: Record<string, number>[] = [{ a: 1 }, { a: 2, b: 1 }, { c: 5 }, { b: 2 }, {}, {}];
    const seen: Record<string, number>[] = [];
    batches.forEach((b, k) => {
      w.advance(k, w.openBatchFrom(Object.entries(b)), sum(b));
      seen.push(Object.fromEntries(w.entries()));
    });
    assert.deepEqual(seen, [
      { a: 1 },
      { a: 3, b: 1 },
      { a: 3, b: 1, c: 5 },
      { a: 2, b: 3, c: 5 }, // batch 0 left
      { b: 2, c: 5 }, // a reached 0 and was removed
      { b: 2 },
    ]);
    w.advance(6, undefined, 0);
    assert.equal(w.size, 0);
    assert.equal(w.total, 0);
  });

  test('top() leaves out URLs interned after the last batch entered (counted in the history only): no count of undefined', () => {
    const w = new SlidingWindow(3);
    w.advance(0, w.openBatchFrom([['/a', 2]]), 2);
    // A batch the window never takes (a late line's history batch), with URLs of its own.
    const other = w.openBatch();
    for (let i = 0; i < 2000; i++) other.add(w.urls.idOfString(`/late/${i}`));
    assert.deepEqual(w.top(10), [{ url: '/a', count: 2 }]);
    w.pass(other);
    assert.deepEqual(w.top(10), [{ url: '/a', count: 2 }]);
  });

  test('an amended slot (an early firing updated) adds to the window, and leaves it whole', () => {
    const w = new SlidingWindow(3);
    w.advance(0, w.openBatchFrom([['/a', 2], ['/b', 1]]), 3);
    w.advance(1, w.openBatchFrom([['/b', 1]]), 1);
    assert.ok(w.holds(-1) && w.holds(0) && w.holds(1) && !w.holds(2) && !w.holds(-2), "the last 3 slots, entered or not");
    w.amend(0, w.openBatchFrom([['/a', 1], ['/c', 4]]), 5);
    assert.deepEqual(Object.fromEntries(w.entries()), { '/a': 3, '/b': 2, '/c': 4 });
    assert.equal(w.total, 9);
    w.advance(3, undefined, 0);
    assert.deepEqual(Object.fromEntries(w.entries()), { '/b': 1 }, 'slot 0 left with its amendment');
    assert.equal(w.total, 1);
    assert.throws(() => w.amend(0, w.openBatch(), 0), /not in the window/);
  });

  test('keeps the window total', () => {
    const w = new SlidingWindow(2);
    w.advance(0, w.openBatchFrom(Object.entries({ a: 1 })), 1);
    w.advance(1, w.openBatchFrom(Object.entries({ a: 1, b: 1 })), 2);
    assert.equal(w.total, 3);
    w.advance(2, w.openBatchFrom(Object.entries({ c: 4 })), 4);
    assert.equal(w.total, 6);
  });

  test('skipped batch intervals leave the window as empty batches', () => {
    const w = new SlidingWindow(3);
    w.advance(10, w.openBatchFrom(Object.entries({ a: 1 })), 1);
    w.advance(12, w.openBatchFrom(Object.entries({ b: 1 })), 1);
    assert.deepEqual(Object.fromEntries(w.entries()), { a: 1, b: 1 });
    w.advance(13, undefined, 0);
    assert.deepEqual(Object.fromEntries(w.entries()), { b: 1 });
    w.advance(100, w.openBatchFrom(Object.entries({ z: 1 })), 1);
    assert.deepEqual(Object.fromEntries(w.entries()), { z: 1 });
    assert.deepEqual(w.slots().map((s) => s.slot), [100]);
  });

  test('reports whether the window changed', () => {
    const w = new SlidingWindow(2);
    assert.equal(w.advance(0, undefined, 0), false);
    assert.equal(w.advance(1, w.openBatchFrom(Object.entries({ a: 1 })), 1), true);
    assert.equal(w.advance(2, undefined, 0), false);
    assert.equal(w.advance(3, undefined, 0), true); // batch 1 left
    assert.equal(w.advance(4, undefined, 0), false);
  });

  test('top(k) agrees with a full sort, after many slots entered and left', () => {
    let seed = 3;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const w = new SlidingWindow(5);
    for (let k = 0; k < 40; k++) {
      const s = new Map<string, number>();
      for (let i = 0; i < 300; i++) s.set(`/u${Math.floor(rand() * rand() * 2000)}`, 1 + Math.floor(rand() * 5));
      w.advance(k, w.openBatchFrom(s), [...s.values()].reduce((a, b) => a + b, 0));
      const full = [...w.entries()].map(([url, count]) => ({ url, count }))
        .sort((a, b) => b.count - a.count || (a.url < b.url ? -1 : 1));
      assert.deepEqual(w.top(25), full.slice(0, 25));
      assert.equal(w.total, full.reduce((a, b) => a + b.count, 0));
    }
  });

  test('a batch counts like a Map, sparse and then dense past 2048 URLs, and again after clear()', () => {
    const batch = new BatchCounts();
    for (const distinct of [10, 3000, 100]) {
      batch.clear();
      const want = new Map<number, number>();
      let seed = distinct;
      for (let i = 0; i < distinct * 5; i++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const id = (seed % distinct) * 37;
        batch.add(id, 1 + (i % 3));
        want.set(id, (want.get(id) ?? 0) + 1 + (i % 3));
      }
      assert.equal(batch.size, want.size);
      for (const [id, n] of want) assert.equal(batch.count(id), n, `id ${id}`);
      assert.equal(batch.count(1), 0);
      assert.ok(!batch.has(distinct * 37 + 1));
      const listed = new Map(Array.from(batch.touched.subarray(0, batch.size), (id, i) => [id, batch.values[i]!]));
      assert.deepEqual(listed, want);
    }
  });

  test('closed batches are reused for new ones: every window equals a brute-force sum of its slots', () => {
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const w = new SlidingWindow(4);
    const history: Map<string, number>[] = [];
    const reused = new Set<unknown>();
    for (let k = 0; k < 60; k++) {
      const batch = w.openBatch();
      reused.add(batch);
      const s = new Map<string, number>();
      for (let i = 0; i < 200; i++) {
        const url = `/u${Math.floor(rand() * rand() * 500)}`;
        batch.add(w.urls.idOfString(url));
        s.set(url, (s.get(url) ?? 0) + 1);
      }
      history.push(s);
      w.advance(k, batch, 200);
      const want = new Map<string, number>();
      for (const slot of history.slice(-4)) for (const [url, n] of slot) want.set(url, (want.get(url) ?? 0) + n);
      assert.deepEqual(new Map(w.entries()), want, `slot ${k}`);
    }
    assert.ok(reused.size < 10, `batches' arrays are reused (${reused.size} distinct for 60 batches)`);
  });

  test('ids of URLs that left are released and reused; open batches keep theirs', () => {
    const w = new SlidingWindow(2);
    const open = w.openBatchFrom([['/kept', 1]]);
    w.advance(0, w.openBatchFrom([['/a', 1], ['/kept', 2]]), 3);
    w.advance(1, undefined, 0);
    w.advance(2, undefined, 0); // slot 0 left: /a is gone, /kept is still in the open batch
    w.releaseEmptied(); // (the job does this after each run of advances)
    assert.equal(w.size, 0);
    assert.equal(w.urls.size, 1);
    w.advance(3, open, 1);
    assert.deepEqual(Object.fromEntries(w.entries()), { '/kept': 1 });
    for (let k = 4; k < 200; k++) {
      w.advance(k, w.openBatchFrom([[`/u${k}`, 1]]), 1);
      w.releaseEmptied();
    }
    assert.ok(w.urls.idLimit < 10, `ids are reused (${w.urls.idLimit} allocated)`);
    assert.deepEqual(Object.fromEntries(w.entries()), { '/u198': 1, '/u199': 1 });
  });

  test('a batch that passes by the window (a catch-up) releases the ids nothing else counts, and the window then slides on', () => {
    const w = new SlidingWindow(3);
    w.advance(0, w.openBatchFrom([['/in', 2]]), 2);
    const open = w.openBatchFrom([['/open', 1]]);
    for (let k = 1; k < 500; k++) {
      // Each passed batch has a URL of its own, one the window counts and one an open batch counts.
      const batch = w.openBatchFrom([[`/p${k}`, 1], ['/in', 1], ['/open', 1]]);
      w.pass(batch);
      if (k % 50 === 0) w.releaseEmptied(); // (the job does this each tick)
    }
    w.releaseEmptied();
    assert.deepEqual(Object.fromEntries(w.entries()), { '/in': 2 }, 'passed batches are not in the window');
    assert.equal(w.urls.size, 2, 'only /in (the window) and /open (an open batch) keep their ids');
    assert.ok(w.urls.idLimit < 60, `ids are reused (${w.urls.idLimit} allocated)`);
    w.advance(600, open, 1);
    assert.deepEqual(Object.fromEntries(w.entries()), { '/open': 1 }, 'slot 0 left: the window holds what entered since');
  });

  test('refuses to go back in time', () => {
    const w = new SlidingWindow(2);
    w.advance(5, undefined, 0);
    assert.throws(() => w.advance(5, undefined, 0), { code: 'LF_INVARIANT' });
  });
});

describe('top-k', () => {
  test('counts descending, ties by URL ascending, cut at k', () => {
    const counts = new Map([['/b', 3], ['/a', 3], ['/c', 5], ['/d', 1], ['/e', 3]]);
    assert.deepEqual(topK(counts, 3), [
      { url: '/c', count: 5 },
      { url: '/a', count: 3 },
      { url: '/b', count: 3 },
    ]);
    assert.equal(topK(counts, 10).length, 5);
    assert.deepEqual(topK(counts, 0), []);
  });

  test('agrees with a full sort on random data', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const counts = new Map<string, number>();
    for (let i = 0; i < 5000; i++) counts.set(`/u${Math.floor(rand() * 100000)}`, 1 + Math.floor(rand() * 20));
    const full = [...counts].map(([url, count]) => ({ url, count }))
      .sort((a, b) => b.count - a.count || (a.url < b.url ? -1 : 1));
    for (const k of [1, 10, 100, 1000]) assert.deepEqual(topK(counts, k), full.slice(0, k));
  });
});
