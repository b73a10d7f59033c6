import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { HLL_ERROR } from '../daemon/counts/hyperloglog.js';
import { hashOf } from '../daemon/counts/key-hash.js';
import { EXACT_VISITORS, VisitorSketch } from '../daemon/counts/visitor-sketch.js';
import { WindowVisitors } from '../daemon/counts/window-visitors.js';
import { VisitorUnion } from '../daemon/counts/visitor-union.js';

/** A deterministic stream of 32-bit numbers (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The hash of client address number `i` (as key-hash.ts hashes `10.x.y.z`). */
const client = (i: number) => hashOf(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);

describe('visitor sketch (history, totals)', () => {
  test(`counts exactly up to ${EXACT_VISITORS} distinct clients, whatever the repeats, and survives its bytes`, () => {
    for (const n of [0, 1, 2, 17, 100, EXACT_VISITORS]) {
      const v = new VisitorSketch();
      const next = random(n);
      for (let i = 0; i < n * 5; i++) {
        const c = client(i % n === 0 ? 0 : next() % n);
        v.add(c.hi, c.lo);
      }
      for (let i = 0; i < n; i++) v.add(client(i).hi, client(i).lo);
      assert.equal(v.count(), n);
      assert.equal(v.exact, true);
      const back = VisitorSketch.decode(v.encode());
      assert.equal(back.count(), n);
      assert.equal(back.exact, true);
    }
  });

  test('past that it is an estimate within HyperLogLog\'s error: root mean square of the relative error <= 2% (1.63% in theory)', () => {
    for (const n of [EXACT_VISITORS + 1, 2_000, 10_000, 50_000, 200_000]) {
      let squares = 0;
      const trials = n >= 50_000 ? 8 : 30;
      for (let t = 0; t < trials; t++) {
        const v = new VisitorSketch();
        const next = random(1000 * n + t);
        for (let i = 0; i < n; i++) v.add(next() | 0, next() | 0);
        assert.equal(v.exact, false);
        squares += ((v.count() - n) / n) ** 2;
      }
      const rms = Math.sqrt(squares / trials);
      assert.ok(rms <= 0.02, `n = ${n}: rms error ${(100 * rms).toFixed(2)}%`);
    }
    assert.ok(HLL_ERROR < 0.02);
  });

  test('merging is the union: sets stay exact while small, a sketch and a set estimate the union', () => {
    const a = new VisitorSketch();
    const b = new VisitorSketch();
    for (let i = 0; i < 300; i++) a.add(client(i).hi, client(i).lo);
    for (let i = 200; i < 450; i++) b.add(client(i).hi, client(i).lo);
    a.merge(b);
    assert.deepEqual([a.count(), a.exact], [450, true]);
    const big = new VisitorSketch();
    for (let i = 0; i < 40_000; i++) big.add(client(i).hi, client(i).lo);
    const union = VisitorSketch.decode(big.encode());
    union.merge(a);
    assert.equal(union.exact, false);
    assert.ok(Math.abs(union.count() - 40_000) / 40_000 < 3 * HLL_ERROR, `${union.count()}`);
  });
});

describe('stored sketches (the history\'s rollups): bytes, merges from bytes, unions with unknown parts', () => {
  const sketchOf = (from: number, to: number) => {
    const v = new VisitorSketch();
    for (let i = from; i < to; i++) v.add(client(i).hi, client(i).lo);
    return v;
  };

  test('registers are stored deflated (a fraction of 4,096 bytes), raw ones still read; merging bytes is merging sketches', () => {
    for (const n of [EXACT_VISITORS + 1, 5_000, 100_000]) {
      const v = sketchOf(0, n);
      const bytes = v.encode();
      assert.equal(bytes[0], 3, 'deflated');
      assert.ok(bytes.length < 2_000, `${n} visitors in ${bytes.length} bytes`);
      assert.equal(VisitorSketch.decode(bytes).count(), v.count());
      // The raw form (kind 2) of the same registers reads the same.
      const raw = new Uint8Array(4096);
      v.registersInto(raw);
      assert.equal(VisitorSketch.decode(Buffer.concat([Buffer.from([2]), raw])).count(), v.count());
    }
    const a = sketchOf(0, 300);
    const b = sketchOf(250, 3_000);
    const merged = sketchOf(0, 300);
    merged.merge(b);
    const fromBytes = sketchOf(0, 300);
    fromBytes.mergeEncoded(b.encode());
    assert.equal(fromBytes.count(), merged.count());
    const exact = new VisitorSketch();
    exact.mergeEncoded(a.encode());
    exact.mergeEncoded(sketchOf(200, 400).encode());
    assert.deepEqual([exact.count(), exact.exact], [400, true]);
    assert.throws(() => VisitorSketch.decode(Buffer.from([3, 1, 2, 3])), /LF_CHECKPOINT_CORRUPT|does not inflate|registers/);
  });

  test('a union is exact while its parts are, an estimate past 512, and unknown (null) when any part is', () => {
    const u = new VisitorUnion();
    u.add(sketchOf(0, 100).encode());
    u.add(sketchOf(50, 200).encode());
    u.addHash(client(500).hi, client(500).lo);
    assert.deepEqual([u.sketch()!.count(), u.sketch()!.exact], [201, true]);
    const one = new VisitorUnion();
    const bytes = sketchOf(0, 10).encode();
    one.add(bytes);
    assert.equal(one.bytes(), bytes, 'a single part passes through');
    const big = new VisitorUnion();
    for (let h = 0; h < 10; h++) big.add(sketchOf(h * 100, h * 100 + 150).encode());
    const s = big.sketch()!;
    assert.equal(s.exact, false);
    assert.ok(Math.abs(s.count() - 1_050) / 1_050 < 3 * HLL_ERROR, `${s.count()}`);
    const unknown = new VisitorUnion();
    unknown.add(sketchOf(0, 5).encode());
    unknown.add(null);
    unknown.add(sketchOf(5, 9).encode());
    assert.deepEqual([unknown.bytes(), unknown.sketch(), unknown.unknown], [null, undefined, true]);
    assert.equal(new VisitorUnion().bytes(), null);
  });
});

describe('window visitors (the live window)', () => {
  test('equal an independent count of distinct clients per id over the last W slots, slot after slot, ids released on the way; no client held once all have left', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 30 })), { maxLength: 40 }), { minLength: 1, maxLength: 25 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 25, maxLength: 25 }),
        fc.array(fc.integer({ min: -1, max: 4 }), { minLength: 25, maxLength: 25 }),
        (w, slots, gaps, releases) => {
          const v = new WindowVisitors(w);
          const history: { slot: number; visits: [number, number][] }[] = [];
          // (An id released after slot k forgets its visits up to k: its key left the window.)
          const releasedAt = [-Infinity, -Infinity, -Infinity, -Infinity, -Infinity];
          let k = 1_000_000;
          slots.forEach((visits, s) => {
            k += gaps[s]!;
            const ids = Int32Array.from(visits.map(([id]) => id));
            const hashes = new Int32Array(2 * visits.length);
            visits.forEach(([, c], i) => {
              hashes[2 * i] = client(c).hi;
              hashes[2 * i + 1] = client(c).lo;
            });
            v.enter(k, ids, hashes, visits.length);
            history.push({ slot: k, visits });
            if (s % 3 === 2) v.sweep(k, 2);
            if (releases[s]! >= 0) {
              v.release(releases[s]!);
              releasedAt[releases[s]!] = k;
            }
            for (let id = 0; id <= 4; id++) {
              const expected = new Set(history.filter((h) => h.slot > k - w && h.slot > releasedAt[id]!).flatMap((h) => h.visits.filter(([i]) => i === id).map(([, c]) => c))).size;
              assert.equal(v.count(id, k), expected, `id ${id} at slot ${k}, window ${w}`);
              assert.equal(v.exact(id), true);
            }
          });
          // Every visit leaves the window; a sweep over every id clears them: the client ids go with them.
          k += w;
          v.enter(k, new Int32Array(0), new Int32Array(0), 0);
          v.sweep(k, 1 << 20);
          assert.equal(v.entries, 0);
          assert.equal(v.clients, 0);
        },
      ),
      { numRuns: 300 },
    );
  });

  test(`an id with more than ${EXACT_VISITORS} clients in the window is estimated, and clients that left the window leave the estimate`, () => {
    const w = 10;
    const v = new WindowVisitors(w);
    // Slot k brings clients [1000k, 1000k + 1000): 1,000 new ones per slot, id 7.
    const perSlot = 1000;
    const ids = new Int32Array(perSlot).fill(7);
    const hashes = new Int32Array(2 * perSlot);
    for (let k = 0; k < 30; k++) {
      for (let i = 0; i < perSlot; i++) {
        const c = client(k * perSlot + i);
        hashes[2 * i] = c.hi;
        hashes[2 * i + 1] = c.lo;
      }
      v.enter(k, ids, hashes, perSlot);
      const truth = Math.min(k + 1, w) * perSlot;
      const got = v.count(7, k);
      if (truth > EXACT_VISITORS) {
        assert.equal(v.exact(7), false);
        assert.ok(Math.abs(got - truth) / truth < 4 * HLL_ERROR, `slot ${k}: ${got} for ${truth}`);
      }
    }
    // No new client: the window empties slot by slot.
    for (let k = 30; k < 45; k++) {
      v.enter(k, ids, hashes, 0);
      const truth = Math.max(0, 30 - (k - w + 1)) * perSlot;
      const got = v.count(7, k);
      if (truth === 0) assert.equal(got, 0);
      else assert.ok(Math.abs(got - truth) / truth < 4 * HLL_ERROR, `slot ${k}: ${got} for ${truth}`);
    }
  });

  test('a union over ids (a URL over its statuses) counts each client once', () => {
    const v = new WindowVisitors(5);
    const hashes = new Int32Array(2 * 6);
    const ids = Int32Array.from([1, 1, 2, 2, 3, 3]);
    [0, 1, 1, 2, 2, 9].forEach((c, i) => {
      hashes[2 * i] = client(c).hi;
      hashes[2 * i + 1] = client(c).lo;
    });
    v.enter(0, ids, hashes, 6);
    const u = new VisitorSketch();
    for (const id of [1, 2]) v.unionInto(id, 0, u);
    assert.deepEqual([u.count(), u.exact], [3, true]);
  });
  test('visits entered for an older slot still in the window (enterOlder) count as if they had come in order: exact below 512 clients, the same sliding-HLL registers past it', () => {
    let sketched = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.array(fc.array(fc.tuple(fc.nat(1500), fc.nat(5)), { maxLength: 400, size: 'max' }), { minLength: 2, maxLength: 8 }),
        fc.integer({ min: 1, max: 1500 }),
        (w, slots, clients) => {
        // Slot 10 + i's visits (client, back) come for slot 10 + i - back (not before 10).
        const inOrder = new WindowVisitors(w);
        const late = new WindowVisitors(w);
        const bySlot = new Map<number, number[]>();
        const seen = new Map<number, number>();
        const last = 10 + slots.length - 1;
        slots.forEach((visits, i) => {
          for (const [c, back] of visits) {
            const s = Math.max(10, 10 + i - Math.min(back, w - 1));
            (bySlot.get(s) ?? bySlot.set(s, []).get(s)!).push(c % clients);
          }
        });
        const one = (c: number) => {
          const h = hashOf(`10.1.${c >> 8}.${c & 255}`);
          return Int32Array.of(h.hi, h.lo);
        };
        // In order: each slot's visits as it enters.
        for (let s = 10; s <= last; s++) {
          const cs = bySlot.get(s) ?? [];
          const hashes = new Int32Array(cs.length * 2);
          cs.forEach((c, j) => hashes.set(one(c), 2 * j));
          inOrder.enter(s, new Int32Array(cs.length), hashes, cs.length);
          for (const c of cs) seen.set(c, s);
        }
        // Late: slots enter empty, then every slot's visits arrive at the end, newest slot first.
        for (let s = 10; s <= last; s++) late.enter(s, new Int32Array(0), new Int32Array(0), 0);
        for (let s = last; s >= Math.max(10, last - w + 1); s--) {
          const cs = bySlot.get(s) ?? [];
          const hashes = new Int32Array(cs.length * 2);
          cs.forEach((c, j) => hashes.set(one(c), 2 * j));
          late.enterOlder(s, new Int32Array(cs.length), hashes, cs.length, last);
        }
        for (let e = last; e < last + w; e++) {
          const want = [...seen.values()].filter((s) => s > e - w && s <= e).length;
          if (inOrder.exact(0) && late.exact(0)) {
            assert.equal(late.count(0, e), want, `exact, window ending ${e}`);
            assert.equal(inOrder.count(0, e), want);
          } else if (!inOrder.exact(0) && !late.exact(0)) {
            assert.equal(late.count(0, e), inOrder.count(0, e), `sketched, window ending ${e}`);
            sketched++;
          }
        }
      }),
      // The example is past 512 clients in both (800 distinct, the second slot's a slot late):
      // the sketched branch is checked whatever the random runs draw.
      { numRuns: 150, examples: [[3, [Array.from({ length: 400 }, (_, i): [number, number] => [i, 0]), Array.from({ length: 400 }, (_, i): [number, number] => [400 + i, 1])], 1500]] },
    );
    assert.ok(sketched > 0, 'some runs were past 512 clients in both');
  });
  test('a sketched id given an older slot\'s 800 clients late (enterOlder) counts them as in order, and lets them leave with their slot', () => {
    const hashes = (from: number, n: number) => {
      const h = new Int32Array(2 * n);
      for (let i = 0; i < n; i++) {
        const x = hashOf(`c${from + i}`);
        h[2 * i] = x.hi;
        h[2 * i + 1] = x.lo;
      }
      return h;
    };
    const inOrder = new WindowVisitors(3);
    const late = new WindowVisitors(3);
    inOrder.enter(10, new Int32Array(800), hashes(0, 800), 800);
    inOrder.enter(11, new Int32Array(800), hashes(800, 800), 800);
    late.enter(10, new Int32Array(0), new Int32Array(0), 0);
    late.enter(11, new Int32Array(800), hashes(800, 800), 800);
    late.enterOlder(10, new Int32Array(800), hashes(0, 800), 800, 11);
    assert.equal(late.exact(0), false, 'sketched');
    for (const e of [11, 12, 13]) assert.equal(late.count(0, e), inOrder.count(0, e), `window ending ${e}`);
    assert.ok(Math.abs(late.count(0, 12) - 1600) < 1600 * 4 * HLL_ERROR, 'about 1,600 while slot 10 is in the window');
    assert.ok(Math.abs(late.count(0, 13) - 800) < 800 * 4 * HLL_ERROR, 'about 800 once it left');
  });
});
