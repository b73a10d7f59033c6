import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDaemon, tempDir, waitFor, type RunningDaemon } from './helpers/daemon.js';
import { NatsCluster, skipWithoutNats } from './helpers/nats-cluster.js';
import { dropGenerated, noneExpected, writeClusterConf, type Topology } from './helpers/cluster-conf.js';
import type { Stats, Top } from './helpers/api-types.js';

const START = Date.UTC(2026, 0, 1, 0, 0, 0);

/**
 * The event-time watermark over partitions and edges, end to end (issue 26, item 4); alone
 * in its file because its point is timing: the second edge starts seconds after the first.
 */
describe('scale-out in event time', { skip: skipWithoutNats }, () => {
  const daemons = new Set<RunningDaemon>();
  let nats: NatsCluster;
  let dir: string;
  before(async () => {
    dir = tempDir('logflow-watermark-');
    nats = await NatsCluster.start(path.join(dir, 'nats'), 1);
    process.env.NATS_SERVERS = nats.servers;
  });
  after(async () => {
    for (const d of daemons) await d.stop('SIGKILL');
    await nats?.stop();
  });

  test('two edges replaying the same hour in event time, seconds apart, into different partitions: no line is late', async () => {
    // Seen failing on the code before: with the watermark the maximum over partitions, the
    // second edge's lines were late (49,166 of 100,000 with a 2 s stagger, scaleout-repro).
    // (An edge is waited for `idleTimeout` after the first events: 8 s, for a 2 s stagger on a busy box.)
    const t: Topology = { tag: 'wm', edges: ['edge1', 'edge2'], partitions: 2, shards: 2, time: 'event', merge: { watermark: 60, idleTimeout: 8 } };
    const conf = writeClusterConf(dir, t);
    // (`node`: a counter, a merge worker and the query node in one process.)
    const started = await Promise.all(['node', 'edge1', 'edge2'].map((n) => startDaemon(dir, ['--conf-file', conf, '--name', n], 60_000)));
    for (const d of started) daemons.add(d);
    const query = started[0]!;
    const expected = noneExpected();
    await dropGenerated(dir, 'wm/edge1', 'a.log', { lines: 15_000, urls: 300, seed: 1, startMs: START, spanSeconds: 3600 }, expected);
    await new Promise((r) => setTimeout(r, 2000));
    await dropGenerated(dir, 'wm/edge2', 'b.log', { lines: 15_000, urls: 300, seed: 2, startMs: START, spanSeconds: 3600 }, expected);
    // Once every input is idle (idleTimeout after the last lines) the last batches close.
    const range = `from=${START / 1000}&to=${START / 1000 + 3601}`;
    let last: unknown;
    const top = await waitFor('every line in the history', async () => {
      const { body } = await query.get<Top>(`/api/top?n=1000&${range}`);
      last = { total: body.total, stats: (await query.get<Stats>('/api/stats')).body };
      return body.total === expected.total ? body : undefined;
    }, 90_000).catch((err: Error) => assert.fail(`${err.message}: expected ${expected.total}, last ${JSON.stringify(last)}`));
    assert.deepEqual(new Map(top.urls.map((u) => [u.url, u.count])), expected.counts);
    const s = (await query.get<Stats>('/api/stats')).body;
    assert.equal(s.historyOnlyEvents, 0);
    assert.equal(s.eventsIn, expected.lines);
    assert.equal(s.parseErrors, expected.parseErrors);
  });
});
