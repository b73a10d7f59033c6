import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { ResultsReader, ResultsStore } from '../daemon/store/index.js';
import { tempDir } from './helpers/daemon.js';

describe('results store', () => {
  test('a slide is one transaction; a quiet window only moves its bounds and adds no rows', () => {
    const file = path.join(tempDir(), 'r.db');
    const store = new ResultsStore(file);
    const reader = new ResultsReader(file, 1000);
    const top = [{ url: '/a', count: 2 }, { url: '/b', count: 1 }];
    const items = top.map((u) => ({ key: u.url, count: u.count, bytes: 0, visitors: null, visitorsExact: true }));
    store.saveWindow({ startMs: 0, endMs: 1000, total: 3, distinctUrls: 2, top: items, changed: true });
    for (let end = 2000; end <= 100_000; end += 1000) {
      store.saveWindow({ startMs: end - 1000, endMs: end, total: 3, distinctUrls: 2, top: [], changed: false });
    }
    const latest = reader.latestTop(10);
    assert.deepEqual(latest.window, { startMs: 99_000, endMs: 100_000, total: 3, distinctUrls: 2 });
    assert.deepEqual(latest.items, items);
    const db = new Database(file, { readonly: true });
    assert.equal((db.prepare('SELECT count(*) AS n FROM windows').get() as { n: number }).n, 1);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
    store.saveWindow({ startMs: 100_000, endMs: 101_000, total: 0, distinctUrls: 0, top: [], changed: true });
    assert.deepEqual(reader.latestTop(10).items, []);
    reader.close();
    store.close();
  });

  test('a window saved twice (a replay after recovery) keeps one row', () => {
    const file = path.join(tempDir(), 'r.db');
    const store = new ResultsStore(file);
    const w = { startMs: 0, endMs: 1000, total: 1, distinctUrls: 1, top: [{ key: '/x', count: 1, bytes: 0, visitors: null, visitorsExact: true }], changed: true };
    store.saveWindow(w);
    store.saveWindow(w);
    store.close();
    const db = new Database(file, { readonly: true });
    assert.equal((db.prepare('SELECT count(*) AS n FROM windows WHERE end_ms = 1000').get() as { n: number }).n, 1);
    db.close();
  });
});
