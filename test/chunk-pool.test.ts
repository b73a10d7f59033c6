import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChunkPool } from '../daemon/source/chunk-pool.js';

describe('ChunkPool', () => {
  test('a chunk comes back only when the reader and every batch have let go of it', () => {
    const pool = new ChunkPool(1024);
    const a = pool.take(1024);
    a.retain(); // batch 1
    a.retain(); // batch 2
    a.release(); // the reader, after copying the carried line out
    assert.notEqual(pool.take(1024).buf, a.buf, 'two batches still hold it');
    a.release(); // batch 1 delivered
    assert.notEqual(pool.take(1024).buf, a.buf, 'one batch still holds it');
    a.release(); // batch 2 delivered
    const again = pool.take(1024);
    assert.equal(again.buf, a.buf, 'reused');
    assert.equal(again.refs, 1, 'held once, by its new reader');
  });

  test('chunks of another size (a small file) are never pooled; the pool keeps at most maxFree', () => {
    const pool = new ChunkPool(1024, 2);
    const small = pool.take(100);
    small.release();
    assert.notEqual(pool.take(100).buf, small.buf);
    const chunks = [pool.take(1024), pool.take(1024), pool.take(1024)];
    for (const c of chunks) c.release();
    const reused = [pool.take(1024), pool.take(1024), pool.take(1024)].map((c) => c.buf);
    assert.equal(reused.filter((b) => chunks.some((c) => c.buf === b)).length, 2);
  });
});
