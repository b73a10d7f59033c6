import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { hashOf } from '../daemon/counts/key-hash.js';
import { ANY_STATUS, type DimensionSpec, type StatusRange } from '../daemon/counts/dimension-window.js';
import { WindowSet, type BatchSet } from '../daemon/counts/window-set.js';
import { decodeCounts } from '../daemon/counts/counts-codec.js';
import { mergeBatchBlobs } from '../daemon/counts/batch-blob.js';
import { DimensionBatch } from '../daemon/counts/dimension-batch.js';
import { countBy } from './helpers/dimension-counts.js';

/** A line as the test's model sees it. */
interface Line {
  url: string;
  status: number;
  client: string;
  bytes: number;
}

const DIMS = ['url', 'status', 'client'] as const;
const specs = (maxKeys = 0): DimensionSpec[] => [
  { name: 'url', field: 0, visitors: true, maxKeys: 0 },
  { name: 'status', field: 1, visitors: true, maxKeys: 0 },
  { name: 'client', field: 2, visitors: false, maxKeys },
];

/** Counts a slot's lines into an open batch, as the job's counter does (keys interned per dimension). */
function fill(w: WindowSet, lines: readonly Line[]): BatchSet {
  const b = w.openBatch();
  for (const l of lines) {
    const h = hashOf(l.client);
    const values = [l.url, String(l.status), l.client];
    w.dims.forEach((d, i) => {
      const key = d.keys.idOfString(values[i]!);
      const visitors = d.visitors !== undefined;
      b.dims[i]!.add(key, l.status, visitors ? h.hi : 0, visitors ? h.lo : 0, l.bytes);
    });
  }
  return b;
}

/** The independent answer: a dict over the lines of the last `w` slots (visitors are exact there). */
function expected(history: { slot: number; lines: Line[] }[], end: number, w: number, dim: (typeof DIMS)[number], status: StatusRange) {
  const lines = history.filter((h) => h.slot > end - w && h.slot <= end).flatMap((h) => h.lines);
  return countBy(lines, dim, status.lo, status.hi).map((e) => ({ ...e, visitorsExact: true }));
}

const line = fc.record({
  url: fc.constantFrom('/', '/a', '/b?x=1', '/ünï', '/c'),
  status: fc.constantFrom(200, 200, 304, 404, 500, 0),
  client: fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3', '::1'),
  bytes: fc.nat(100_000),
});

const FILTERS: StatusRange[] = [ANY_STATUS, { lo: 404, hi: 404 }, { lo: 400, hi: 499 }, { lo: 200, hi: 299 }];

describe('the window by dimension', () => {
  test('count, bytes and visitors of every key, with and without a status filter, equal a dict over the last W slots, slot after slot; a window restored from its slots\' bytes answers the same', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.array(line, { maxLength: 12 })), { minLength: 1, maxLength: 20 }), (w, slots) => {
        const win = new WindowSet(specs(), w);
        const history: { slot: number; lines: Line[] }[] = [];
        let k = 100;
        for (const [gap, lines] of slots) {
          k += gap;
          win.advance(k, fill(win, lines), lines.length);
          history.push({ slot: k, lines });
          for (const dim of DIMS) {
            for (const status of FILTERS) {
              const want = expected(history, k, w, dim, status);
              const got = win.top(dim, 100, status);
              assert.deepEqual(got.items, want, `${dim} status ${status.lo}-${status.hi} at slot ${k}`);
              assert.equal(got.total, want.reduce((n, x) => n + x.count, 0));
              assert.equal(got.approximate, false);
            }
          }
        }
        win.releaseEmptied();
        // A checkpoint keeps each slot's bytes: a new window rebuilt from them answers the same.
        const saved = win.slots().map((s) => ({ ...s, data: win.encodeSlot(s.slot) }));
        const back = new WindowSet(specs(), w);
        back.restore(saved, win.lastSlot);
        for (const dim of DIMS) for (const status of FILTERS) assert.deepEqual(back.top(dim, 100, status), win.top(dim, 100, status));
      }),
      { numRuns: 200 },
    );
  });

  test('keys that leave the window are released at the tick, and their ids are reused', () => {
    const win = new WindowSet(specs(), 2);
    for (let k = 0; k < 50; k++) {
      win.advance(k, fill(win, [{ url: `/u${k}`, status: 200, client: `c${k}`, bytes: 1 }]), 1);
      win.releaseEmptied(); // (the job does at each tick)
    }
    assert.equal(win.dims[0]!.keys.size, 2);
    assert.ok(win.dims[0]!.keys.idLimit <= 4, `${win.dims[0]!.keys.idLimit} ids`);
    assert.equal(win.dims[0]!.cells.size, 2);
  });

  test('a slot\'s bytes give the history its URL counts (the codec\'s version-1 view of the url dimension)', () => {
    const win = new WindowSet(specs(), 3);
    win.advance(1, fill(win, [
      { url: '/a', status: 200, client: 'x', bytes: 1 },
      { url: '/a', status: 404, client: 'y', bytes: 1 },
      { url: '/b', status: 200, client: 'x', bytes: 1 },
    ]), 3);
    assert.deepEqual(new Map(decodeCounts(win.encodeSlot(1))), new Map([['/a', 2], ['/b', 1]]));
  });

  test('past maxKeys the least counted keys are dropped: the heavy hitters stay, each count is at most errorBound short, approximate says so', () => {
    const w = 10;
    const max = 50;
    const win = new WindowSet(specs(max), w);
    const history: { slot: number; lines: Line[] }[] = [];
    let seed = 7;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let k = 0; k < 40; k++) {
      const lines: Line[] = [];
      // Three heavy clients and a stream of one-off ones: 240 distinct clients per slot.
      for (let i = 0; i < 300; i++) {
        const heavy = rand() < 0.2;
        lines.push({ url: '/', status: 200, client: heavy ? `heavy-${i % 3}` : `once-${k}-${i}`, bytes: 1 });
      }
      win.advance(k, fill(win, lines), lines.length);
      history.push({ slot: k, lines });
      assert.ok(win.dimension('client')!.size <= max, `slot ${k}: ${win.dimension('client')!.size} keys`);
    }
    const got = win.top('client', 10, ANY_STATUS);
    const want = expected(history, 39, w, 'client', ANY_STATUS);
    assert.equal(got.approximate, true);
    assert.ok(got.errorBound > 0);
    assert.deepEqual(got.items.slice(0, 3).map((i) => i.key).sort(), ['heavy-0', 'heavy-1', 'heavy-2']);
    for (const item of got.items) {
      const truth = want.find((x) => x.key === item.key)!.count;
      assert.ok(item.count <= truth && truth <= item.count + got.errorBound, `${item.key}: ${item.count}, truly ${truth}, bound ${got.errorBound}`);
    }
    // The other dimensions are not capped: exact.
    assert.deepEqual(win.top('url', 10, ANY_STATUS).items.map((i) => i.count), [w * 300]);
    assert.equal(win.top('url', 10, ANY_STATUS).approximate, false);
  });
  test('a slot amended after it entered (an early firing\'s update, event time) answers as if its lines had come before it closed: every key, filter and visitor; its bytes restore it whole', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.array(line, { maxLength: 10 }), fc.nat(4), fc.array(line, { maxLength: 6 })), { minLength: 1, maxLength: 16 }),
        (w, slots) => {
          const win = new WindowSet(specs(), w);
          const history: { slot: number; lines: Line[] }[] = [];
          let k = 100;
          for (const [gap, lines, back, late] of slots) {
            k += gap;
            win.advance(k, fill(win, lines), lines.length);
            history.push({ slot: k, lines: [...lines] });
            // Lines for a slot still in the window (`back` slots before the newest).
            const target = k - Math.min(back, w - 1);
            assert.equal(win.holds(target), true);
            win.amend(target, fill(win, late), late.length);
            const h = history.find((x) => x.slot === target);
            if (h) h.lines.push(...late);
            else history.push({ slot: target, lines: [...late] });
            for (const dim of DIMS) {
              for (const status of FILTERS) {
                const want = expected(history, k, w, dim, status);
                const got = win.top(dim, 100, status);
                assert.deepEqual(got.items, want, `${dim} status ${status.lo}-${status.hi} at slot ${k}, amended ${target}`);
                assert.equal(got.total, want.reduce((n, x) => n + x.count, 0));
              }
            }
          }
          assert.equal(win.holds(k - w), false);
          assert.throws(() => win.amend(k - w, win.openBatch(), 0), /not in the window/);
          const saved = win.slots().map((s) => ({ ...s, data: win.encodeSlot(s.slot) }));
          const restored = new WindowSet(specs(), w);
          restored.restore(saved, win.lastSlot);
          for (const dim of DIMS) for (const status of FILTERS) assert.deepEqual(restored.top(dim, 100, status), win.top(dim, 100, status));
          // The amended slots leave whole: a window moved past them is empty.
          win.advance(k + w, undefined, 0);
          for (const dim of DIMS) assert.deepEqual(win.top(dim, 100, ANY_STATUS).items, []);
          assert.equal(win.total, 0);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('a batch\'s cells appended without their hash (a cluster\'s disjoint shard rows)', () => {
  test('cells appended, then added to: each (key, status) is found again, not made twice', () => {
    const b = new DimensionBatch(false);
    for (let key = 0; key < 100; key++) b.append(key, 200 + (key % 3), key + 1, 10 * key);
    // (Seen hanging without the hash made after the appends: the table, sized for the cells it had hashed, filled up.)
    for (let key = 0; key < 100; key++) b.add(key, 200 + (key % 3), 0, 0, 1);
    b.add(500, 404, 0, 0, 7);
    assert.equal(b.size, 101);
    assert.deepEqual([...b.counts.subarray(0, 3)], [2, 3, 4]);
    assert.equal(b.lines(), 100 * 101 / 2 + 100 + 1);
  });
});

describe('batch blobs merged (a history row saved again)', () => {
  test('blobs of the same batch merged (mergeBatchBlobs) answer as one batch of all their lines: count, bytes and visitors by every dimension and status filter equal the dict', () => {
    fc.assert(
      fc.property(fc.array(fc.array(line, { maxLength: 30 }), { minLength: 1, maxLength: 4 }), (chunks) => {
        const win = new WindowSet(specs(), 4);
        const blobs = chunks.map((lines) => {
          const b = fill(win, lines);
          const bytes = win.encodeBatch(b);
          win.pass(b);
          return bytes;
        });
        const back = new WindowSet(specs(), 4);
        back.advance(1, back.openBatchFromBytes(mergeBatchBlobs(blobs)), 0);
        const all = [{ slot: 1, lines: chunks.flat() }];
        for (const dim of DIMS) for (const status of FILTERS) assert.deepEqual(back.top(dim, 100, status).items, expected(all, 1, 4, dim, status));
      }),
      { numRuns: 200 },
    );
  });
});
