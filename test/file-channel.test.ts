import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { batchFromLines, eventBody, FileChannel, type EventBatch } from '../daemon/channel/index.js';
import type { FileChannelConfig } from '../daemon/agent-config.js';
import { tempDir } from './helpers/daemon.js';
import { testLogger } from './helpers/logger.js';

function config(dir: string, extra: Partial<FileChannelConfig> = {}): FileChannelConfig {
  return {
    name: 'c1',
    type: 'file',
    capacity: 100_000,
    transactionCapacity: 1000,
    checkpointDir: path.join(dir, 'checkpoint'),
    dataDir: path.join(dir, 'data'),
    maxFileSize: 2_146_435_071,
    ...extra,
  };
}

async function opened(cfg: FileChannelConfig): Promise<FileChannel> {
  const ch = new FileChannel(cfg, testLogger);
  await ch.open();
  return ch;
}

function batch(tag: string, n: number, pos?: string): EventBatch {
  const b = batchFromLines(Array.from({ length: n }, (_, i) => `${tag} ${i} ünï`), { file: `/spool/${tag}`, timestamp: '1700000000000' });
  return pos ? { ...b, firstHeaders: { 'lf.pos': pos } } : b;
}

function bodies(batches: readonly EventBatch[]): string[] {
  return batches.flatMap((b) => Array.from({ length: b.count }, (_, i) => eventBody(b, i).toString()));
}

const dataFiles = (dir: string) => readdirSync(path.join(dir, 'data')).filter((n) => n.startsWith('log-'));

describe('file channel', () => {
  test('what was put and not committed is read back after a restart, headers and all; committed batches are not', async () => {
    const dir = tempDir('logflow-fc-');
    let ch = await opened(config(dir));
    for (let i = 0; i < 5; i++) await ch.put(batch(`b${i}`, 100 + i, `src-k:${i}:1`));
    assert.equal(ch.size, 510);
    const taken = ch.take(205);
    assert.deepEqual(taken.map((b) => b.count), [100, 101]);
    ch.commit(taken);
    await ch.close();

    ch = await opened(config(dir));
    assert.equal(ch.size, 102 + 103 + 104);
    const rest = ch.take(1e9);
    assert.deepEqual(rest.map((b) => b.count), [102, 103, 104]);
    assert.equal(bodies(rest)[0], 'b2 0 ünï');
    assert.deepEqual(rest[0]!.headers, { file: '/spool/b2', timestamp: '1700000000000' });
    assert.deepEqual(rest[0]!.firstHeaders, { 'lf.pos': 'src-k:2:1' });
    await ch.close();
  });

  test('a sink\'s out-of-order commits (after a failed call) are kept: only the uncommitted batch comes back', async () => {
    const dir = tempDir('logflow-fc-');
    let ch = await opened(config(dir));
    for (const t of ['a', 'b', 'c']) await ch.put(batch(t, 10));
    const [a, b, c] = ch.take(1e9).map((x) => [x]);
    ch.commit(c!);
    ch.commit(a!);
    void b;
    await ch.close();
    ch = await opened(config(dir));
    assert.deepEqual(bodies(ch.take(1e9)).slice(0, 1), ['b 0 ünï']);
    assert.equal(ch.size, 10);
    await ch.close();
  });

  test('a record torn by a crash is cut off; the records before it and puts after the restart survive', async () => {
    const dir = tempDir('logflow-fc-');
    let ch = await opened(config(dir));
    await ch.put(batch('whole', 50));
    await ch.close();
    const file = path.join(dir, 'data', dataFiles(dir)[0]!);
    const size = statSync(file).size;
    // A record header that announces 4 KB, followed by only some of it.
    appendFileSync(file, Buffer.concat([Buffer.from([0, 0, 16, 0, 1, 2, 3, 4]), Buffer.alloc(100, 7)]));
    ch = await opened(config(dir));
    assert.equal(statSync(file).size, size, 'the torn record is truncated away');
    assert.equal(ch.size, 50);
    await ch.put(batch('after', 5));
    await ch.close();
    ch = await opened(config(dir));
    assert.deepEqual(ch.take(1e9).map((b) => b.count), [50, 5]);
    await ch.close();
  });

  test('a last record whose bytes do not match its CRC is cut off too', async () => {
    const dir = tempDir('logflow-fc-');
    let ch = await opened(config(dir));
    await ch.put(batch('kept', 20));
    await ch.put(batch('flipped', 30));
    await ch.close();
    const file = path.join(dir, 'data', dataFiles(dir)[0]!);
    const bytes = readFileSync(file);
    bytes[bytes.length - 5]! ^= 0xff;
    writeFileSync(file, bytes);
    ch = await opened(config(dir));
    assert.deepEqual(ch.take(1e9).map((b) => b.count), [20]);
    await ch.close();
  });

  test('data files are rolled at maxFileSize and deleted once all their batches are committed', async () => {
    const dir = tempDir('logflow-fc-');
    const ch = await opened(config(dir, { maxFileSize: 64 * 1024 }));
    for (let i = 0; i < 40; i++) await ch.put(batch(`roll${i}`, 200));
    assert.ok(dataFiles(dir).length >= 3, `rolled: ${dataFiles(dir).join(', ')}`);
    for (const f of dataFiles(dir)) assert.ok(statSync(path.join(dir, 'data', f)).size <= 64 * 1024, `${f} stays within maxFileSize`);
    for (let taken = ch.take(1000); taken.length > 0; taken = ch.take(1000)) ch.commit(taken);
    await ch.close();
    assert.equal(dataFiles(dir).length, 1, 'only the current data file is left');
    const again = await opened(config(dir, { maxFileSize: 64 * 1024 }));
    assert.equal(again.size, 0);
    await again.close();
  });

  test('positions of this process\'s sources survive commits, data file deletion and restarts; relayed ones are not kept', async () => {
    const dir = tempDir('logflow-fc-');
    let ch = new FileChannel(config(dir, { maxFileSize: 64 * 1024 }), testLogger);
    ch.trackSource('mine');
    await ch.open();
    for (let i = 1; i <= 30; i++) await ch.put(batch(`p${i}`, 200, `mine-f1:${i * 1000}:200`));
    await ch.put(batch('relayed', 10, 'other-f9:555:10'));
    assert.equal(ch.committed('mine-f1'), 30_000);
    assert.equal(ch.committed('other-f9'), undefined);
    for (let taken = ch.take(1000); taken.length > 0; taken = ch.take(1000)) ch.commit(taken);
    await ch.close();
    ch = new FileChannel(config(dir, { maxFileSize: 64 * 1024 }), testLogger);
    ch.trackSource('mine');
    await ch.open();
    assert.equal(ch.committed('mine-f1'), 30_000);
    ch.forget('mine-f1');
    await ch.close();
    ch = new FileChannel(config(dir), testLogger);
    ch.trackSource('mine');
    await ch.open();
    assert.equal(ch.committed('mine-f1'), undefined);
    await ch.close();
  });

  test('concurrent puts share a write and an fdatasync; a put over transactionCapacity is refused', async () => {
    const dir = tempDir('logflow-fc-');
    const ch = await opened(config(dir, { transactionCapacity: 100 }));
    await assert.rejects(ch.put(batch('big', 101)), /transactionCapacity/);
    const before = ch.syncs;
    await Promise.all(Array.from({ length: 50 }, (_, i) => ch.put(batch(`c${i}`, 100))));
    assert.equal(ch.size, 5000);
    assert.ok(ch.syncs - before < 50, `${ch.syncs - before} syncs for 50 puts`);
    await ch.close();
  });
});
