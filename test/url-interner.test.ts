import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UrlInterner } from '../daemon/counts/index.js';

describe('URL interner', () => {
  test('the same bytes give the same id; release and reuse keep every other lookup right', () => {
    const t = new UrlInterner(16);
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const live = new Map<string, number>();
    for (let step = 0; step < 20_000; step++) {
      const url = `/p/${Math.floor(rand() * 3000)}/ü`;
      if (live.has(url) && rand() < 0.3) {
        t.release(live.get(url)!);
        live.delete(url);
        continue;
      }
      const id = t.idOfString(url);
      if (live.has(url)) assert.equal(id, live.get(url), url);
      else {
        assert.ok(![...live.values()].includes(id), 'a fresh id is not in use');
        live.set(url, id);
      }
      assert.equal(t.url(id), url);
    }
    assert.equal(t.size, live.size);
    for (const [url, id] of live) assert.equal(t.idOfString(url), id);
  });
});
