import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { batchFromLines, eventBody, FileChannel, type EventBatch } from '../daemon/channel/index.js';
import type { FileChannelConfig } from '../daemon/agent-config.js';
import { WAL_FORMAT, WriteAheadLog } from '../daemon/job/write-ahead-log.js';
import { tempDir } from './helpers/daemon.js';
import { testLogger } from './helpers/logger.js';

/**
 * Files written by logflow before daemon/durable/ existed (test/fixtures/durable-v1, made
 * with commit 2f37a76): they must still load, and today's code must write the same bytes
 * (the WAL: the same records, after the segment header that format 2 added).
 */
const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/durable-v1');

function channelConfig(dir: string): FileChannelConfig {
  return { name: 'c1', type: 'file', capacity: 1000, transactionCapacity: 100, checkpointDir: path.join(dir, 'checkpoint'), dataDir: path.join(dir, 'data'), maxFileSize: 2_146_435_071 };
}

function batch(tag: string, n: number): EventBatch {
  return batchFromLines(Array.from({ length: n }, (_, i) => `${tag} ${i} ünï`), { file: `/spool/${tag}`, timestamp: '1700000000000' });
}

/** What the fixture's channel was made with. */
async function fillChannel(ch: FileChannel): Promise<void> {
  await ch.put({ ...batch('a', 2), firstHeaders: { 'lf.pos': 'src-a.log:100' } });
  await ch.put({ ...batch('b', 3), firstHeaders: { 'lf.pos': 'src-b.log:200' } });
  await ch.put(batch('c', 1));
  ch.commit(ch.take(2));
}

const WAL_RECORDS = ['first record', 'second record ünï'];

describe('on-disk formats stay readable and byte-identical', () => {
  test('a file channel written before loads: uncommitted batches come back, positions are kept', async () => {
    const dir = tempDir();
    cpSync(path.join(FIXTURE, 'channel'), dir, { recursive: true });
    const ch = new FileChannel(channelConfig(dir), testLogger);
    ch.trackSource('src');
    await ch.open();
    assert.equal(ch.size, 4);
    assert.equal(ch.committed('src-a.log'), 100);
    assert.equal(ch.committed('src-b.log'), 200);
    const taken = ch.take(10);
    assert.deepEqual(taken.flatMap((b) => Array.from({ length: b.count }, (_, i) => eventBody(b, i).toString())), ['b 0 ünï', 'b 1 ünï', 'b 2 ünï', 'c 0 ünï']);
    await ch.close();
  });

  test('the file channel writes the same data file and checkpoint bytes', async () => {
    const dir = tempDir();
    const ch = new FileChannel(channelConfig(dir), testLogger);
    ch.trackSource('src');
    await ch.open();
    await fillChannel(ch);
    await ch.close();
    for (const file of ['data/log-00000001', 'checkpoint/checkpoint.json']) {
      assert.ok(readFileSync(path.join(dir, file)).equals(readFileSync(path.join(FIXTURE, 'channel', file))), file);
    }
  });

  // The WAL's segments got a header since (format 2, `LFWAL\0` + u16 LE): a format-1
  // segment must still replay, and the records after the header are the same bytes.
  test('a write-ahead log written before replays, and the same records are written byte for byte after the format-2 header', async () => {
    assert.deepEqual([...WriteAheadLog.replay(path.join(FIXTURE, 'wal'), 3)].map(String), WAL_RECORDS);
    const dir = path.join(tempDir(), 'wal');
    const wal = new WriteAheadLog(dir, 3);
    for (const r of WAL_RECORDS) wal.append(Buffer.from(r));
    await wal.sync();
    wal.close();
    const header = Buffer.concat([Buffer.from('LFWAL\0', 'latin1'), Buffer.from([WAL_FORMAT, 0])]);
    const expected = Buffer.concat([header, readFileSync(path.join(FIXTURE, 'wal', '0000000003.wal'))]);
    assert.ok(readFileSync(path.join(dir, '0000000003.wal')).equals(expected));
    assert.deepEqual([...WriteAheadLog.replay(dir, 3)].map(String), WAL_RECORDS);
  });
});
