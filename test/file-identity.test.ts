import assert from 'node:assert/strict';
import { appendFileSync, closeSync, openSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { fileKeyOf, identityOf, IDENTITY_BYTES, olderFileKeyOf, readIdentity } from '../daemon/source/file-identity.js';
import { tempDir } from './helpers/daemon.js';

const key = (ino: number, bytes: string | Buffer) => fileKeyOf('src12345', identityOf(ino, Buffer.from(bytes).subarray(0, IDENTITY_BYTES)));

describe('file identity: inode and first line, the same however far the file grows', () => {
  test('a file with a whole first line keeps its key whatever is appended', () => {
    const line = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '/', '"', '\u00e9'), maxLength: 300 }).map((s) => s + '\n');
    fc.assert(fc.property(fc.nat(1e9), line, fc.string({ maxLength: 5000 }), fc.string({ maxLength: 5000 }), (ino, first, more, evenMore) => {
      assert.equal(key(ino, first + more), key(ino, first));
      assert.equal(key(ino, first + more + evenMore), key(ino, first));
      assert.ok(identityOf(ino, Buffer.from(first)).settled);
    }));
  });

  test('another inode, or another first line, is another file; the lines after the first do not matter', () => {
    assert.notEqual(key(7, 'a\nb\n'), key(8, 'a\nb\n'));
    assert.notEqual(key(7, 'a\nb\n'), key(7, 'c\nb\n'));
    assert.equal(key(7, 'a\nb\n'), key(7, 'a\nc\n'));
    assert.match(key(7, 'a\n'), /^src12345-[0-9a-f]{16}$/);
  });

  test('no line feed yet: not settled, the head covers what there is; a first line longer than IDENTITY_BYTES is covered up to there', () => {
    const partial = identityOf(3, Buffer.from('10.0.0.1 - - [10/Oct'));
    assert.deepEqual([partial.settled, partial.headBytes], [false, 20]);
    assert.notEqual(key(3, '10.0.0.1 - - [10/Oct'), key(3, '10.0.0.1 - - [10/Oct/2000] "GET /"\n'));
    const long = 'x'.repeat(IDENTITY_BYTES + 100);
    const id = identityOf(3, Buffer.from(long).subarray(0, IDENTITY_BYTES));
    assert.deepEqual([id.settled, id.headBytes], [true, IDENTITY_BYTES]);
    assert.equal(key(3, long), key(3, long + 'more\nlines\n'));
  });

  test('read from a real file as it is appended to: the same key from its first line feed on', () => {
    const file = path.join(tempDir(), 'growing.log');
    writeFileSync(file, '10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200');
    const keyNow = () => {
      const fd = openSync(file, 'r');
      try {
        const id = readIdentity(fd, statSync(file));
        return { key: fileKeyOf('src12345', id), settled: id.settled, ino: id.ino };
      } finally {
        closeSync(fd);
      }
    };
    const before = keyNow();
    assert.equal(before.settled, false);
    assert.equal(before.ino, statSync(file).ino);
    appendFileSync(file, ' 512\n');
    const first = keyNow();
    assert.equal(first.settled, true);
    assert.notEqual(first.key, before.key);
    for (let i = 0; i < 3; i++) {
      appendFileSync(file, '10.0.0.2 - - [10/Oct/2000:13:55:37 -0700] "GET /b HTTP/1.1" 200 1\n'.repeat(200));
      assert.equal(keyNow().key, first.key);
    }
  });

  test('the older key (up to 19a16f9: name, inode, size, mtime) is computed as that version did', () => {
    // Value from 19a16f9's fileKeyOf('src12345', 'access.log', { ino: 1234, size: 5678, mtimeMs: 1700000000123.5 }).
    assert.equal(olderFileKeyOf('src12345', 'access.log', { ino: 1234, size: 5678, mtimeMs: 1700000000123.5 }), 'src12345-85f85d6e9cd7');
  });
});
