import assert from 'node:assert/strict';
import { closeSync, cpSync, mkdirSync, openSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { batchFromLines } from '../daemon/channel/index.js';
import { AvroRpcClient } from '../daemon/avro/index.js';
import { WriteAheadLog } from '../daemon/job/write-ahead-log.js';
import { tempDir, waitFor, withDaemon, writeConfig } from './helpers/daemon.js';
import type { Stats, Top } from './helpers/api-types.js';
import { startFails } from './helpers/start-fails.js';

// The write-ahead log's side of the checkpoint (checkpoint.test.ts has the rest): two files that run side by side.
const line = (url: string) => `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET ${url} HTTP/1.1" 200 5`;

describe('events from outside senders', () => {
  async function send(port: number, batches: Parameters<AvroRpcClient['appendBatch']>[0]): Promise<string> {
    const client = await AvroRpcClient.connect({ host: '127.0.0.1', port, connectTimeout: 2000, requestTimeout: 5000 });
    try {
      return await client.appendBatch(batches);
    } finally {
      client.close();
    }
  }

  test('an event answered OK survives kill -9 (write-ahead log)', async (t) => {
    let d = await withDaemon(t);
    const { dir, avroPort } = d;
    const now = String(Date.now());
    assert.equal(await send(avroPort!, [batchFromLines([line('/remote'), line('/remote'), 'junk'], { timestamp: now })]), 'OK');
    d.proc.kill('SIGKILL');
    await d.exited;
    d = await withDaemon(t, { dir });
    assert.ok(d.logs.some((l) => l.includes('"walEventsReplayed":3')), 'the log was replayed');
    await waitFor('the replayed events', async () => {
      const { body } = await d.get<Top>('/api/top');
      return body.total === 2 ? body : undefined;
    });
    const { body } = await d.get<Top>('/api/top');
    assert.deepEqual(body.urls, [{ url: '/remote', count: 2 }]);
    assert.equal((await d.get<Stats>('/api/stats')).body.parseErrors, 1);
    assert.equal(await d.stop('SIGTERM'), 0);
  });

  test('a resent batch is not counted twice when its events carry ids or a position', async (t) => {
    const d = await withDaemon(t);
    const now = String(Date.now());
    const withIds = [0, 1, 2].map((i) => batchFromLines([line('/id')], { timestamp: now, id: `uuid-${i}` }));
    const withPos = { ...batchFromLines([line('/pos'), line('/pos')], { timestamp: now }), firstHeaders: { 'lf.pos': 'edge1-abc:400:2' } };
    for (let attempt = 0; attempt < 3; attempt++) {
      assert.equal(await send(d.avroPort!, [...withIds, withPos]), 'OK');
    }
    // Every resent event is seen (15 events of 5 calls x 3) before the counts are read: the
    // duplicates' figure is the state that says the resends were judged, not a time.
    await waitFor('the resends judged', async () => {
      const { body } = await d.get<Stats>('/api/stats');
      return body.eventsIn + body.duplicates === 15 && body.eventsCounted === 5 ? true : undefined;
    });
    const { body } = await d.get<Top>('/api/top');
    assert.deepEqual(body.urls, [{ url: '/id', count: 3 }, { url: '/pos', count: 2 }]);
    assert.equal((await d.get<Stats>('/api/stats')).body.duplicates, 10);
    assert.equal(await d.stop('SIGTERM'), 0);
  });
});

describe('damaged state stops start-up, naming the file and the way out; nothing acknowledged is lost in silence', () => {
  const BATCHES = 20;
  const PER_BATCH = 10;

  /**
   * A daemon that checkpointed once (so a manifest names the write-ahead log's segment), then
   * acknowledged 200 events from an outside sender (20 calls, one WAL record each) and was
   * killed before the next checkpoint: they are only in the write-ahead log.
   */
  async function walWithAckedEvents(t: TestContext): Promise<{ dir: string; segment: string }> {
    // Batches are 30 s, aligned to the clock: if a batch ended while the calls were made, a
    // checkpoint took some of them out of the log. Made again then.
    for (;;) {
      const made = await walWithAckedEventsOnce(t);
      if ([...WriteAheadLog.replay(path.dirname(made.segment), 0)].length === BATCHES) return made;
    }
  }

  async function walWithAckedEventsOnce(t: TestContext): Promise<{ dir: string; segment: string }> {
    let d = await withDaemon(t, { overrides: { 'a1.jobs.j1.batchInterval': '30', 'a1.jobs.j1.slideDuration': '30' } });
    const { dir, avroPort } = d;
    assert.equal(await d.stop('SIGTERM'), 0);
    d = await withDaemon(t, { dir });
    const now = String(Date.now());
    for (let i = 0; i < BATCHES; i++) {
      const client = await AvroRpcClient.connect({ host: '127.0.0.1', port: avroPort!, connectTimeout: 2000, requestTimeout: 5000 });
      assert.equal(await client.appendBatch([batchFromLines(Array.from({ length: PER_BATCH }, () => line(`/r${i}`)), { timestamp: now })]), 'OK');
      client.close();
    }
    d.proc.kill('SIGKILL');
    await d.exited;
    const walDir = path.join(dir, 'checkpoint', 'wal');
    const { readdirSync } = await import('node:fs');
    const segments = readdirSync(walDir).sort();
    assert.equal(segments.length, 1, `one segment, the one the checkpoint names: ${segments}`);
    return { dir, segment: path.join(walDir, segments[0]!) };
  }

  /** A copy of the fixture, damaged by `damage`. */
  function damaged(fixture: string, damage: (dir: string) => void): string {
    const dir = tempDir();
    cpSync(fixture, dir, { recursive: true });
    damage(dir);
    return dir;
  }

  test('write-ahead log: intact, every acknowledged event is replayed; a record cut short at its end is dropped with an error naming the file; damage inside it, a bad header or a deleted segment stop start-up with LF_CHECKPOINT_CORRUPT', { timeout: 90_000 }, async (t) => {
    const { dir: fixture, segment } = await walWithAckedEvents(t);
    const inFixture = (dir: string) => path.join(dir, path.relative(fixture, segment));
    const size = statSync(segment).size;

    const intact = damaged(fixture, () => undefined);
    let d = await withDaemon(t, { dir: intact });
    assert.ok(d.logs.some((l) => l.includes(`"walEventsReplayed":${BATCHES * PER_BATCH}`)), 'all 200 replayed');
    assert.equal(await d.stop('SIGTERM'), 0);

    const cut = damaged(fixture, (dir) => truncateSync(inFixture(dir), size - 100));
    d = await withDaemon(t, { dir: cut });
    const torn = d.logs.find((l) => l.includes('is cut short'));
    assert.ok(torn, 'an error line says so');
    assert.match(torn!, /"level":50/);
    assert.match(torn!, new RegExp(`"file":"${inFixture(cut)}".*"bytes":\\d+`));
    assert.ok(d.logs.some((l) => l.includes(`"walEventsReplayed":${(BATCHES - 1) * PER_BATCH}`)), 'the other 19 calls replayed');
    assert.equal(await d.stop('SIGTERM'), 0);
    // The cut record is gone from the file too: appends went on after it, and a restart reads them.
    d = await withDaemon(t, { dir: cut });
    assert.ok(!d.logs.some((l) => l.includes('is cut short')));
    assert.equal(await d.stop('SIGTERM'), 0);

    const garbled = damaged(fixture, (dir) => {
      const fd = openSync(inFixture(dir), 'r+');
      writeSync(fd, Buffer.from('GARBAGE!'), 0, 8, Math.floor(size / 2));
      closeSync(fd);
    });
    let message = await startFails(garbled);
    assert.match(message, /LF_CHECKPOINT_CORRUPT|checkpoint is unusable/);
    assert.match(message, new RegExp(`write-ahead log ${inFixture(garbled)} is damaged at byte \\d+: bytes \\d+ to \\d+ are not a record, and records follow them`));
    assert.match(message, /--reset-checkpoint .*answered OK, are lost; or put the file back as it was/);

    const badMagic = damaged(fixture, (dir) => {
      const fd = openSync(inFixture(dir), 'r+');
      writeSync(fd, Buffer.from('XX'), 0, 2, 0);
      closeSync(fd);
    });
    message = await startFails(badMagic);
    assert.match(message, /is damaged at byte 0: it starts with neither the write-ahead-log segment header nor a whole record/);

    const deleted = damaged(fixture, (dir) => rmSync(inFixture(dir)));
    message = await startFails(deleted);
    assert.match(message, new RegExp(`write-ahead log ${inFixture(deleted)}, which the checkpoint names, is missing`));
    // --reset-checkpoint is the way out it names.
    d = await withDaemon(t, { dir: deleted, args: ['--conf-file', 'agent.conf', '--reset-checkpoint'] });
    assert.equal(await d.stop('SIGTERM'), 0);
  });

  test('a missing manifest.json of a checkpoint that had one stops start-up, and deletes nothing', { timeout: 60_000 }, async (t) => {
    const dir = tempDir();
    await writeConfig(dir, '', { 'a1.jobs.j1.batchInterval': '0.25' });
    mkdirSync(path.join(dir, 'spool'));
    writeFileSync(path.join(dir, 'spool', 'a.log'), `${line('/a')}\n${line('/b')}\n`);
    const d = await withDaemon(t, { dir });
    await waitFor('the file', async () => ((await d.get<Stats>('/api/stats')).body.eventsCounted === 2 ? true : undefined));
    const segmentsDir = path.join(dir, 'checkpoint', 'segments');
    const { readdirSync } = await import('node:fs');
    await waitFor('a checkpoint segment', () => readdirSync(segmentsDir).length > 0);
    // A later checkpoint with new counts writes a later segment.
    writeFileSync(path.join(dir, 'spool', 'b.log'), `${line('/c')}\n`);
    await waitFor('the second file', async () => ((await d.get<Stats>('/api/stats')).body.eventsCounted === 3 ? true : undefined));
    await waitFor('a second checkpoint segment', () => readdirSync(segmentsDir).some((n) => Number.parseInt(n, 10) >= 2));
    assert.equal(await d.stop('SIGTERM'), 0);
    rmSync(path.join(dir, 'checkpoint', 'manifest.json'));
    const before = readdirSync(segmentsDir).sort();
    const message = await startFails(dir);
    assert.match(message, /checkpoint is unusable: \S+\/checkpoint\/manifest\.json is missing, but the directory holds files of a checkpoint that had one \(\S+\/segments\/\d+\.bin/);
    assert.match(message, /Put it back/);
    assert.match(message, /--reset-checkpoint/);
    assert.deepEqual(readdirSync(segmentsDir).sort(), before, 'nothing deleted');
  });
});
