import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LineScanner } from '../daemon/source/index.js';

/** Feeds `text` in chunks of `chunk` bytes, carrying partial lines as the source does. */
function lines(text: string | Buffer, maxLineLength = 1000, chunk = 7): { lines: string[]; truncated: number } {
  const all = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const scanner = new LineScanner(maxLineLength, 2);
  const out: string[] = [];
  let carry = Buffer.alloc(0);
  for (let pos = 0; ; pos += chunk) {
    const piece = all.subarray(pos, pos + chunk);
    const buf = Buffer.concat([carry, piece]);
    scanner.resetRanges(2);
    if (piece.length === 0) scanner.finish(buf, 0, buf.length);
    else scanner.scan(buf, 0, buf.length);
    for (let i = 0; i < scanner.count; i++) out.push(buf.toString('utf8', scanner.starts[i], scanner.ends[i]));
    if (piece.length === 0) return { lines: out, truncated: scanner.truncated };
    carry = Buffer.from(buf.subarray(scanner.rest, scanner.carryEnd));
    assert.ok(carry.length <= Math.max(maxLineLength, chunk) + chunk, 'the carry stays bounded');
  }
}

describe('line scanner', () => {
  test('LF and CRLF line ends, across chunk boundaries', () => {
    for (const chunk of [1, 2, 3, 7, 100]) {
      assert.deepEqual(lines('one\ntwo\r\nthree\n\nfive\r\n', 1000, chunk).lines, ['one', 'two', 'three', '', 'five'], `chunk ${chunk}`);
    }
  });

  test('a last line without a line feed is still a line', () => {
    assert.deepEqual(lines('a\nlast').lines, ['a', 'last']);
    assert.deepEqual(lines('').lines, []);
  });

  test('lines longer than maxLineLength are cut there, the rest skipped, and counted', () => {
    const long = 'x'.repeat(50);
    for (const chunk of [3, 16, 1000]) {
      const r = lines(`short\n${long}\nafter\n${long}`, 10, chunk);
      assert.deepEqual(r.lines, ['short', 'x'.repeat(10), 'after', 'x'.repeat(10)], `chunk ${chunk}`);
      assert.equal(r.truncated, 2);
    }
  });

  test('a cut never splits a UTF-8 character', () => {
    const r = lines('ab€€€\n', 4, 100); // € is 3 bytes: cut at 4 bytes would split the first one
    assert.deepEqual(r.lines, ['ab']);
    assert.deepEqual(lines('ab€€€', 4, 2).lines, ['ab']);
  });

  test('a cut line held across many chunks is emitted once, when its end is found', () => {
    const huge = 'y'.repeat(10_000);
    const r = lines(`a\n${huge}\nb\n${huge}`, 16, 64);
    assert.deepEqual(r.lines, ['a', 'y'.repeat(16), 'b', 'y'.repeat(16)]);
    assert.equal(r.truncated, 2);
  });

  test('maxLines stops a scan at a line start: the rest is not carried, and is read again from there', () => {
    const buf = Buffer.from('a\nbb\nccc\ndd');
    const scanner = new LineScanner(1000, 2);
    scanner.scan(buf, 0, buf.length, 2);
    assert.deepEqual([scanner.count, scanner.rest, scanner.carryEnd, scanner.stoppedEarly], [2, 5, 5, true]);
    scanner.resetRanges(2);
    scanner.scan(buf, 5, buf.length, 2);
    assert.deepEqual([scanner.count, scanner.rest, scanner.carryEnd, scanner.stoppedEarly], [1, 9, 11, false], 'fewer lines than allowed: carries as before');
    // A cut line held from the chunk before counts as the first of the lines allowed.
    const cut = new LineScanner(3, 2);
    const first = Buffer.from('xxxxxx');
    cut.scan(first, 0, first.length, 1);
    const next = Buffer.concat([first.subarray(cut.rest, cut.carryEnd), Buffer.from('x\nyy\nzz\n')]);
    cut.resetRanges(2);
    cut.scan(next, 0, next.length, 1);
    assert.deepEqual([cut.count, next.toString('utf8', cut.starts[0], cut.ends[0]), cut.truncated, next.toString('utf8', cut.rest)], [1, 'xxx', 1, 'yy\nzz\n']);
  });
});
