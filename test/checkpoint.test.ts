import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { tempDir, waitFor, withDaemon, writeConfig } from './helpers/daemon.js';
import type { Stats, Top } from './helpers/api-types.js';
import { dropLog } from './helpers/expected-counts.js';
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
