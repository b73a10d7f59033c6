import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { dropInvalidUtf8, replaceInvalidUtf8 } from '../daemon/source/utf8.js';

describe('decodeErrorPolicy repairs (fast-check)', () => {
  test('IGNORE and REPLACE always give valid UTF-8, and leave valid UTF-8 as it is', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const buf = Buffer.from(bytes);
        const dropped = dropInvalidUtf8(buf, 0, buf.length);
        const replaced = replaceInvalidUtf8(buf, 0, buf.length);
        assert.ok(isUtf8(dropped) && isUtf8(replaced));
        if (isUtf8(buf)) {
          assert.deepEqual(dropped, buf);
          assert.deepEqual(replaced, buf);
        }
      }),
      { numRuns: 5000 },
    );
  });

  test('IGNORE keeps exactly the well-formed characters: the same text as REPLACE without its U+FFFD', () => {
    // Input without U+FFFD of its own, so every U+FFFD in REPLACE's output marks a dropped sequence.
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ unit: 'grapheme' }).map((s) => Buffer.from(s.replace(/\uFFFD/g, ''))), fc.uint8Array({ maxLength: 4 }).map((b) => Buffer.from(b))), { maxLength: 20 }), (parts) => {
        const buf = Buffer.concat(parts);
        if (buf.includes(Buffer.from('\uFFFD'))) return;
        assert.equal(dropInvalidUtf8(buf, 0, buf.length).toString(), replaceInvalidUtf8(buf, 0, buf.length).toString().replace(/\uFFFD/g, ''));
      }),
      { numRuns: 3000 },
    );
  });

  test('surrogates, overlong forms and code points above U+10FFFF are invalid', () => {
    for (const bad of [[0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0x80], [0xe2, 0x82]]) {
      const buf = Buffer.from([0x61, ...bad, 0x62]);
      assert.equal(dropInvalidUtf8(buf, 0, buf.length).toString(), 'ab', bad.join(','));
    }
    const ok = Buffer.from('a\u00e9\u20ac\u{1F600}b');
    assert.deepEqual(dropInvalidUtf8(ok, 0, ok.length), ok);
  });
});
