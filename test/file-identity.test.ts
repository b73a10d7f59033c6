import assert from 'node:assert/strict';
import { appendFileSync, closeSync, openSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { FINGERPRINT_MAX_BYTES, fingerprintOf, identityKey, identityOf, provisionalIdentityOf } from '../daemon/source/file-identity.js';
import { olderFileKeyOf } from '../daemon/source/file-key.js';
import { tempDir } from './helpers/daemon.js';

const fp = (bytes: string) => fingerprintOf(Buffer.from(bytes).subarray(0, FINGERPRINT_MAX_BYTES));
const key = (ino: number, bytes: string) => identityKey('src12345', { dev: 2049, ino, fingerprint: fp(bytes)! });

describe('file identity: device, inode and first line, the same however far the file grows', () => {
  test('a file with a whole first line keeps its key whatever is appended', () => {
    const line = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '/', '"', '\u00e9'), maxLength: 300 }).map((s) => s + '\n');
    fc.assert(fc.property(fc.nat(1e9), line, fc.string({ maxLength: 3000 }), fc.string({ maxLength: 3000 }), (ino, first, more, evenMore) => {
      assert.equal(key(ino, first + more), key(ino, first));
      assert.equal(key(ino, first + more + evenMore), key(ino, first));
    }));
  });

  test('another inode, or another first line, is another file; the lines after the first do not matter', () => {
    assert.notEqual(key(7, 'a\nb\n'), key(8, 'a\nb\n'));
    assert.notEqual(key(7, 'a\nb\n'), key(7, 'c\nb\n'));
    assert.equal(key(7, 'a\nb\n'), key(7, 'a\nc\n'));
  });

  test('no line feed yet: no identity, and the provisional one never equals a complete first line\'s', () => {
    assert.equal(fp('10.0.0.1 - - [10/Oct'), undefined);
    assert.equal(fp(''), undefined);
    const long = 'x'.repeat(FINGERPRINT_MAX_BYTES + 100);
    assert.equal(fp(long), fp(long + 'more\nlines\n'));
    const file = path.join(tempDir(), 'f');
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => {
      const text = s.replaceAll('\n', '');
      writeFileSync(file, text);
      const fd = openSync(file, 'r');
      try {
        const st = statSync(file);
        assert.equal(identityOf(fd, st), undefined);
        const provisional = provisionalIdentityOf(fd, st);
        assert.notEqual(provisional.fingerprint, fp(text + '\n'));
      } finally {
        closeSync(fd);
      }
    }), { numRuns: 30 });
  });

  test('read from a real file as it is appended to: no identity before its first line feed, the same key from then on', () => {
    const file = path.join(tempDir(), 'growing.log');
    writeFileSync(file, '10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200');
    const keyNow = () => {
      const fd = openSync(file, 'r');
      try {
        const id = identityOf(fd, statSync(file));
        return id && identityKey('src12345', id);
      } finally {
        closeSync(fd);
      }
    };
    assert.equal(keyNow(), undefined);
    appendFileSync(file, ' 512\n');
    const first = keyNow();
    assert.ok(first);
    for (let i = 0; i < 3; i++) {
      appendFileSync(file, '10.0.0.2 - - [10/Oct/2000:13:55:37 -0700] "GET /b HTTP/1.1" 200 1\n'.repeat(200));
      assert.equal(keyNow(), first);
    }
  });

  test('the older key (name, inode, size, mtime: the key before file identity) is computed as that version did', () => {
    // The value the older version's fileKeyOf('src12345', 'access.log', { ino: 1234, size: 5678, mtimeMs: 1700000000123.5 }) gave.
    assert.equal(olderFileKeyOf('src12345', 'access.log', { ino: 1234, size: 5678, mtimeMs: 1700000000123.5 }), 'src12345-85f85d6e9cd7');
  });
});
