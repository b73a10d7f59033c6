import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDaemon, tempDir, waitFor, type RunningDaemon } from './helpers/daemon.js';
import { NatsCluster, skipWithoutNats } from './helpers/nats-cluster.js';
import { dropGenerated, noneExpected, writeClusterConf, type Topology } from './helpers/cluster-conf.js';
import type { Stats, Top } from './helpers/api-types.js';

const START = Date.UTC(2026, 0, 1, 0, 0, 0);

/**
 * Issue 26's faults at the ends of the scale-out, each scenario on its own streams of one
 * nats-server: real edges, counters, merge workers and query nodes as child processes.
 */
describe('scale-out, exact at the ends', { skip: skipWithoutNats }, () => {
  const daemons = new Set<RunningDaemon>();
  let nats: NatsCluster;
  let dir: string;
  before(async () => {
    dir = tempDir('logflow-exact-');
    nats = await NatsCluster.start(path.join(dir, 'nats'), 1);
    process.env.NATS_SERVERS = nats.servers;
  });
  after(async () => {
    for (const d of daemons) await d.stop('SIGKILL');
    await nats?.stop();
  });
  const run = async (conf: string, name: string) => {
    const d = await startDaemon(dir, ['--conf-file', conf, '--name', name], 30_000);
    daemons.add(d);
    return d;
  };
  const stopAll = async () => {
    for (const d of daemons) await d.stop();
    daemons.clear();
  };
  const stats = async (d: RunningDaemon) => (await d.get<Stats>('/api/stats')).body;
  const tail = (d: RunningDaemon) => d.logs.filter((l) => !l.includes('"level":20')).slice(-12).join('\n');

  test('two edges replaying the same hour in event time, seconds apart, into different partitions: no line is late', async () => {
    // Seen failing on the code before: with the watermark the maximum over partitions, the
    // second edge's lines were late (49,166 of 100,000 with a 2 s stagger, scaleout-repro).
    const t: Topology = { tag: 'wm', edges: ['edge1', 'edge2'], partitions: 2, shards: 2, time: 'event', merge: { watermark: 60, idleTimeout: 4 } };
    const conf = writeClusterConf(dir, t);
    const query = await run(conf, 'query');
    await run(conf, 'merge');
    await run(conf, 'counter');
    await run(conf, 'edge1');
    await run(conf, 'edge2');
    const expected = noneExpected();
    await dropGenerated(dir, 'edge1', 'a.log', { lines: 30_000, urls: 300, seed: 1, startMs: START, spanSeconds: 3600 }, expected);
    await new Promise((r) => setTimeout(r, 2000));
    await dropGenerated(dir, 'edge2', 'b.log', { lines: 30_000, urls: 300, seed: 2, startMs: START, spanSeconds: 3600 }, expected);
    // Once every partition is idle (idleTimeout after the last lines) the last batches close.
    const range = `from=${START / 1000}&to=${START / 1000 + 3601}`;
    let last: unknown;
    const top = await waitFor('every line in the history', async () => {
      const { body } = await query.get<Top>(`/api/top?n=1000&${range}`);
      last = { total: body.total, stats: await stats(query) };
      return body.total === expected.total ? body : undefined;
    }, 60_000).catch((err: Error) => assert.fail(`${err.message}: expected ${expected.total}, last ${JSON.stringify(last)}\n${tail(query)}`));
    assert.deepEqual(new Map(top.urls.map((u) => [u.url, u.count])), expected.counts);
    const s = await stats(query);
    assert.equal(s.lateEvents, 0);
    assert.equal(s.eventsIn, expected.lines);
    assert.equal(s.parseErrors, expected.parseErrors);
    await stopAll();
  });
});
