import assert from 'node:assert/strict';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { GunzipSource } from '../daemon/source/byte-source.js';
import { tempDir } from './helpers/daemon.js';

test('a gzip file fills each read whole: a chunk of the pool carries 1 MB of lines, not one 16 KB gunzip piece (a gzip bomb held ~0.4 GB of mostly empty chunks in the channel)', async () => {
  const file = path.join(tempDir(), 'bomb.log.gz');
  const line = '10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 512\n';
  const text = Buffer.from(line.repeat(Math.ceil((5 << 20) / line.length)));
  writeFileSync(file, gzipSync(text, { level: 9 }));
  const fd = openSync(file, 'r');
  const source = new GunzipSource(file, fd);
  const buf = Buffer.allocUnsafe(1 << 20);
  const reads: number[] = [];
  for (let n; (n = await source.read(buf, 0, buf.length)) > 0; ) reads.push(n);
  source.close();
  closeSync(fd);
  assert.equal(reads.reduce((a, b) => a + b, 0), text.length);
  assert.deepEqual(reads.slice(0, -1), reads.slice(0, -1).map(() => 1 << 20), 'every read but the last is full');
});
