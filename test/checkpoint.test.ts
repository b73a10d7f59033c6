import assert from 'node:assert/strict';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { batchFromLines } from '../daemon/channel/index.js';
import { AvroRpcClient } from '../daemon/avro/index.js';
import { WriteAheadLog } from '../daemon/job/write-ahead-log.js';
import { writeLog } from '../scripts/access-log-generator.js';
import { tempDir, waitFor, withDaemon, writeConfig } from './helpers/daemon.js';
import type { Stats, Top } from './helpers/api-types.js';
import { dropLog, expectedCounts } from './helpers/expected-counts.js';
import { startFails } from './helpers/start-fails.js';


const line = (url: string) => `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET ${url} HTTP/1.1" 200 5`;

/** A daemon that has counted one small file, so its checkpoint exists; then stopped. */
async function daemonWithCheckpoint(t: TestContext): Promise<{ dir: string }> {
  const dir = tempDir();
  await writeConfig(dir);
  mkdirSync(path.join(dir, 'spool'));
  writeFileSync(path.join(dir, 'spool', 'a.log'), `${line('/a')}\n${line('/b')}\n`);
  const d = await withDaemon(t, { dir });
  await waitFor('the file', async () => ((await d.get<Stats>('/api/stats')).body.eventsCounted === 2 ? true : undefined));
  assert.equal(await d.stop('SIGTERM'), 0);
  return { dir };
}

describe('checkpoints', () => {
  test('a truncated manifest stops start-up with a clear error; --reset-checkpoint starts afresh', async (t) => {
    const { dir } = await daemonWithCheckpoint(t);
    const manifest = path.join(dir, 'checkpoint', 'manifest.json');
    const text = readFileSync(manifest, 'utf8');
    writeFileSync(manifest, text.slice(0, text.length / 2));
    const message = await startFails(dir);
    assert.match(message, /exited with 1/);
    assert.match(message, /checkpoint is unusable/);
    assert.match(message, /--reset-checkpoint/);
    const d = await withDaemon(t, { dir, args: ['--conf-file', 'agent.conf', '--reset-checkpoint'] });
    const { body } = await d.get<Stats>('/api/stats');
    assert.equal(body.eventsCounted, 0);
    assert.ok(d.logs.some((l) => l.includes('checkpoint discarded')));
    assert.equal(await d.stop('SIGTERM'), 0);
  });

  test('a garbage manifest, or a segment file that does not match its checksum, is refused', async (t) => {
    const { dir } = await daemonWithCheckpoint(t);
    const segmentsDir = path.join(dir, 'checkpoint', 'segments');
    const { readdirSync } = await import('node:fs');
    const segment = readdirSync(segmentsDir)[0]!;
    writeFileSync(path.join(segmentsDir, segment), '[["/a",999]]');
    assert.match(await startFails(dir), /does not match its checksum/);
    writeFileSync(path.join(dir, 'checkpoint', 'manifest.json'), Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    assert.match(await startFails(dir), /not a checkpoint manifest/);
  });

  test('a crash while writing a checkpoint (a torn temporary file) leaves the previous one usable', async (t) => {
    const { dir } = await daemonWithCheckpoint(t);
    writeFileSync(path.join(dir, 'checkpoint', 'manifest.json.tmp'), '{"sha1":"torn');
    const d = await withDaemon(t, { dir });
    await waitFor('the restored window', async () => ((await d.get<Top>('/api/top')).body.total === 2 ? true : undefined));
    assert.equal((await d.get<Stats>('/api/stats')).body.eventsCounted, 2);
    assert.equal(await d.stop('SIGTERM'), 0);
  });

  test('a checkpoint of another window length is refused, naming both values', async (t) => {
    const { dir } = await daemonWithCheckpoint(t);
    await writeConfig(dir, '', { 'a1.jobs.j1.windowDuration': '600' });
    const message = await startFails(dir);
    assert.match(message, /windowDurationMs 300000 in the checkpoint, 600000 configured/);
    assert.match(message, /--reset-checkpoint/);
  });

  test('a results database the job thread cannot open stops start-up naming the file and the key', async (t) => {
    const dir = tempDir();
    // A path under a regular file: neither its directory nor the database can be made.
    await writeConfig(dir, '', { 'a1.jobs.j1.database': 'agent.conf/results.db' });
    const message = await startFails(dir);
    // As every start-up failure about a setting (startup-errors.ts): the file, the key, then why.
    assert.match(message, /logflow: \S*agent\.conf: a1\.jobs\.j1\.database: cannot open the results database \S*agent\.conf\/results\.db: /);
  });

  test('a second daemon on the same checkpoint directory refuses to start', async (t) => {
    const dir = tempDir();
    const { file } = await writeConfig(dir);
    const first = await withDaemon(t, { dir });
    // Same checkpoint directory, other ports.
    const other = readFileSync(file, 'utf8').replace(/^a1\.jobs\.j1\.port = \d+$/m, 'a1.jobs.j1.port = 0');
    writeFileSync(path.join(dir, 'second.conf'), other);
    const message = await startFails(dir, ['--conf-file', 'second.conf']);
    assert.match(message, /in use by another logflow process \(pid \d+/);
    assert.equal(await first.stop('SIGTERM'), 0);
  });

  test('a LOCK naming a live process that is not a logflow (its pid reused after a reboot) does not stop start-up; a killed daemon\'s lock is free at once', async (t) => {
    const { dir } = await daemonWithCheckpoint(t);
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    t.after(() => other.kill('SIGKILL'));
    writeFileSync(path.join(dir, 'checkpoint', 'LOCK'), `${other.pid}\n`);
    let d = await withDaemon(t, { dir });
    assert.equal((await d.get<Stats>('/api/stats')).body.eventsCounted, 2);
    // Killed, and started again before this process has reaped it (no await of its exit):
    // a lock the kernel holds for the process is gone the moment it dies.
    d.proc.kill('SIGKILL');
    await waitFor('the kill', () => {
      try {
        process.kill(d.proc.pid!, 0);
        return /^State:\s+Z/m.test(readFileSync(`/proc/${d.proc.pid}/status`, 'utf8')) ? true : undefined;
      } catch {
        return true;
      }
    });
    d = await withDaemon(t, { dir });
    assert.equal((await d.get<Stats>('/api/stats')).body.eventsCounted, 2);
    assert.equal(await d.stop('SIGTERM'), 0);
  });

  test('SIGTERM mid-ingest: exit 0 without reading on to the end, final checkpoint, and a restart finishes the count exactly', async (t) => {
    const d = await withDaemon(t);
    const { dir } = d;
    const expected = await dropLog(dir, 'big.log', { lines: 300_000, urls: 300, seed: 9, malformed: 0.01 });
    // Stopped once lines reached the job, by state rather than after a time; and the stop
    // is checked to have cut the file short (not by the clock: a busy box only slows both).
    await waitFor('lines to reach the job', async () => ((await d.get<Stats>('/api/stats')).body.eventsIn > 0 ? true : undefined));
    assert.equal(await d.stop('SIGTERM'), 0);
    assert.ok(d.logs.some((l) => l.includes('"stopped cleanly"')));
    assert.ok(existsSync(path.join(dir, 'checkpoint', 'manifest.json')));
    assert.ok(!existsSync(path.join(dir, 'spool', 'big.log.COMPLETED')), 'the stop came mid-file and did not read on to its end');
    const outer = JSON.parse(readFileSync(path.join(dir, 'checkpoint', 'manifest.json'), 'utf8')) as { manifest: string };
    const kept = (JSON.parse(outer.manifest) as { counters: { eventsIn: number } }).counters.eventsIn;
    assert.ok(kept > 0 && kept < expected.lines, `the final checkpoint holds part of the file: ${kept} of ${expected.lines} lines`);

    const again = await withDaemon(t, { dir });
    await waitFor('the whole file', async () => {
      const { body } = await again.get<Stats>('/api/stats');
      return body.eventsCounted + body.parseErrors === expected.lines ? body : undefined;
    });
    const { body: top } = await again.get<Top>('/api/top?n=1000');
    assert.equal(top.total, expected.total);
    for (const { url, count } of top.urls) assert.equal(count, expected.counts.get(url), url);
    assert.equal(top.urls.length, expected.counts.size);
    await waitFor('the rename', () => (existsSync(path.join(dir, 'spool', 'big.log.COMPLETED')) ? true : undefined));
    assert.equal(await again.stop('SIGTERM'), 0);
  });
});

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
