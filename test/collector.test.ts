import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { writeLog } from '../scripts/access-log-generator.js';
import type { Stats, Top } from './helpers/api-types.js';
import { aggregatorConf, freePort, tempDir, visible, waitFor, withDaemon } from './helpers/daemon.js';
import { expectedCounts } from './helpers/expected-counts.js';
import { PEER, runPython, skipPython } from './helpers/python.js';
import { avroSinkTo, flumeTier } from './helpers/flume-conf.js';


/** The edges' source: the spool, read in batches of 1000. */
const SPOOL_SOURCE = ['type = spooldir', 'spoolDir = spool', 'batchSize = 1000'];

function sorted(expected: Map<string, number>) {
  return [...expected].map(([url, count]) => ({ url, count })).sort((a, b) => b.count - a.count || (a.url < b.url ? -1 : 1));
}

/** Writes a log into `dir`, adds its counts to `expected`, and drops it into `spool`. */
async function drop(dir: string, spool: string, name: string, lines: number, seed: number, expected: Map<string, number>): Promise<number> {
  const staged = path.join(dir, `${name}.tmp`);
  await writeLog(staged, { lines, urls: 300, seed, malformed: 0.01 });
  const c = expectedCounts(staged);
  for (const [u, n] of c.counts) expected.set(u, (expected.get(u) ?? 0) + n);
  renameSync(staged, path.join(spool, name));
  return c.lines;
}

describe('Flume tiers without a job in the middle', () => {
  test('edges -> a Flume-style collector (avro source -> memory channel -> avro sink) -> a job, deflate on both hops: counts exact', { timeout: 120_000 }, async (t) => {
    const jobPort = await freePort();
    const collectorPort = await freePort();
    const jobDir = tempDir('logflow-job-');
    writeFileSync(path.join(jobDir, 'job.conf'), aggregatorConf(jobPort, 'agg.jobs.j1.compression-type = deflate\n'));
    const job = await withDaemon(t, { dir: jobDir, args: ['--conf-file', 'job.conf', '--name', 'agg'] });

    // The collector tier, in Flume's own words: nothing logflow-specific.
    const colDir = tempDir('logflow-collector-');
    writeFileSync(path.join(colDir, 'collector.conf'), flumeTier({
      agent: 'collector',
      source: ['type = avro', 'bind = 127.0.0.1', `port = ${collectorPort}`, 'threads = 8', 'compression-type = deflate', 'interceptors = host', 'interceptors.host.type = host'],
      channel: ['type = memory', 'capacity = 50000', 'transactionCapacity = 1000'],
      sink: avroSinkTo(jobPort, 'compression-type = deflate', 'compression-level = 1'),
    }));
    const collector = await withDaemon(t, { dir: colDir, args: ['--conf-file', 'collector.conf', '--name', 'collector'] });
    assert.ok(collector.logs.some((l) => l.includes('"avro source listening"')), collector.logs.join('\n'));
    assert.ok(collector.logs.some((l) => l.includes('collector.sources.r1.threads')), 'threads is accepted and named in the not-implemented warning');

    const expected = new Map<string, number>();
    let lines = 0;
    const edges: string[] = [];
    for (let e = 0; e < 2; e++) {
      const dir = tempDir(`logflow-edge${e}-`);
      const spool = path.join(dir, 'spool');
      mkdirSync(spool);
      writeFileSync(path.join(dir, 'edge.conf'), flumeTier({
        source: SPOOL_SOURCE,
        channel: ['type = memory', 'capacity = 20000', 'transactionCapacity = 1000'],
        sink: avroSinkTo(collectorPort, 'compression-type = deflate'),
      }));
      await withDaemon(t, { dir, args: ['--conf-file', 'edge.conf'] });
      edges.push(spool);
      for (let f = 0; f < 2; f++) lines += await drop(dir, spool, `part${f}.log`, 25_000, 300 + e * 10 + f, expected);
    }
    if (!skipPython) {
      // A non-logflow client (Apache Avro's Python Requestor, its own zlib) on the same source.
      const run = await runPython([PEER, 'send', String(collectorPort), '4', '250', 'deflate']);
      assert.equal(run.status, 0, run.stderr);
      lines += 1 + 4 * 250;
      expected.set('/python/append', 1);
      for (let i = 0; i < 4 * 250; i++) expected.set(`/python/${i % 250 % 7}`, (expected.get(`/python/${i % 250 % 7}`) ?? 0) + 1);
    }

    const stats = await waitFor('every event counted and every edge file completed', async () => {
      const { body } = await job.get<Stats>('/api/stats');
      const done = edges.every((s) => readdirSync(s).filter(visible).every((n) => n.endsWith('.COMPLETED')));
      return done && body.eventsCounted + body.parseErrors === lines ? body : undefined;
    }, 60_000);
    assert.equal(stats.duplicates, 0);
    const { body: top } = await job.get<Top>('/api/top?n=1000');
    assert.deepEqual(top.urls, sorted(expected));
    assert.equal(await collector.stop('SIGTERM'), 0);
  });

  test('an edge with a file channel whose downstream is down, killed -9 mid-file: after restarts, counts exact and nothing twice', { timeout: 120_000 }, async (t) => {
    const jobPort = await freePort();
    const edgeDir = tempDir('logflow-fcedge-');
    const spool = path.join(edgeDir, 'spool');
    mkdirSync(spool);
    writeFileSync(path.join(edgeDir, 'edge.conf'), flumeTier({
      source: SPOOL_SOURCE,
      channel: ['type = file', 'checkpointDir = fc/checkpoint', 'dataDirs = fc/data', 'capacity = 50000', 'transactionCapacity = 1000', 'maxFileSize = 1048576', 'checkpointInterval = 30000'],
      sink: avroSinkTo(jobPort),
      extra: 'a1.http.bind = 127.0.0.1\na1.http.port = 0\n',
    }));
    let edge = await withDaemon(t, { dir: edgeDir, args: ['--conf-file', 'edge.conf'] });
    const expected = new Map<string, number>();
    let lines = 0;
    for (let f = 0; f < 3; f++) lines += await drop(edgeDir, spool, `part${f}.log`, 20_000, 500 + f, expected);

    // Downstream is down: two files fit in the channel and are finished (durable there);
    // the third stops half-way when the channel is full.
    // (Batches end at read-chunk boundaries too, so "full" is within a batch of 50,000.)
    // Full: the source's put waits for room, so what the channel holds cannot move until the kill.
    const full = await waitFor('two files completed and the source waiting for room', async () => {
      const { body } = await edge.get<Stats>('/api/stats');
      const completed = readdirSync(spool).filter((n) => n.endsWith('.COMPLETED')).length;
      return completed === 2 && body.channel!.waitingPuts > 0 ? body : undefined;
    }, 30_000);
    assert.ok(full.channel!.size > 49_000, `the channel is full (${full.channel!.size} of 50,000)`);
    assert.ok(full.eventsIn > full.channel!.size, 'the source read more than fits: it waits for room');
    edge.proc.kill('SIGKILL');
    await edge.exited;
    const killedAt = full.channel!.size;
    assert.deepEqual(readdirSync(spool).filter(visible).sort(), ['part0.log.COMPLETED', 'part1.log.COMPLETED', 'part2.log']);

    // Started again with downstream still down, the channel is full at once; a SIGTERM
    // must still stop the edge (a source waiting for room used to block the shutdown).
    edge = await withDaemon(t, { dir: edgeDir, args: ['--conf-file', 'edge.conf'] });
    await waitFor('the edge reading the third file again', () => edge.logs.some((l) => l.includes('"file resumed"')) || undefined);
    assert.ok(edge.logs.some((l) => l.includes('"file channel opened"') && l.includes(`"events":${killedAt}`)), 'what was put before the kill is read back');
    // The stop comes once the source waits for room (a stop that waited with it would never
    // end: the test's timeout fails it, no clock here).
    await waitFor('the source waiting for room', async () => (await edge.get<Stats>('/api/stats')).body.channel!.waitingPuts > 0 || undefined);
    assert.equal(await edge.stop('SIGTERM'), 0);

    const jobDir = tempDir('logflow-fcjob-');
    writeFileSync(path.join(jobDir, 'job.conf'), aggregatorConf(jobPort));
    const job = await withDaemon(t, { dir: jobDir, args: ['--conf-file', 'job.conf', '--name', 'agg'] });
    edge = await withDaemon(t, { dir: edgeDir, args: ['--conf-file', 'edge.conf'] });
    assert.ok(edge.logs.some((l) => l.includes('"file channel opened"') && /"events":[1-9]/.test(l)), edge.logs.join('\n'));

    const stats = await waitFor('every event counted and every file completed', async () => {
      const { body } = await job.get<Stats>('/api/stats');
      const done = readdirSync(spool).filter(visible).every((n) => n.endsWith('.COMPLETED'));
      return done && body.eventsCounted + body.parseErrors === lines ? body : undefined;
    }, 60_000);
    assert.equal(stats.duplicates, 0, 'no event was sent twice');
    const { body: top } = await job.get<Top>('/api/top?n=1000');
    assert.deepEqual(top.urls, sorted(expected));
    await waitFor('the edge\'s channel empty', async () => (await edge.get<Stats>('/api/stats')).body.channel!.size === 0 || undefined);
    assert.equal(await edge.stop('SIGTERM'), 0);
    const data = readdirSync(path.join(edgeDir, 'fc', 'data')).filter((n) => n.startsWith('log-'));
    assert.equal(data.length, 1, `fully taken data files are deleted: ${data.join(', ')}`);
  });
});
