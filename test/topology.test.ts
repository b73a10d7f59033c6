import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { writeLog } from '../scripts/access-log-generator.js';
import type { Stats } from './helpers/api-types.js';
import { aggregatorConf, freePort, tempDir, visible, waitFor, withDaemon } from './helpers/daemon.js';
import { expectedCounts } from './helpers/expected-counts.js';

/** The seed's Flume agent, unchanged but for the spool path and the port. */
const seedConfig = (spool: string, port: number) => `a1.sources = r1
a1.sinks = k1
a1.channels = c1
a1.sources.r1.type = spooldir
a1.sources.r1.spoolDir = ${spool}
a1.sources.r1.fileHeader = true
a1.sources.r1.interceptors = timestampInterceptor
a1.sources.r1.interceptors.timestampInterceptor.type = timestamp
a1.sinks.k1.type = avro
a1.sinks.k1.hostname = localhost
a1.sinks.k1.port = ${port}
a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.channels.c1.transactionCapacity = 100
a1.sinks.k1.channel = c1
a1.sources.r1.channels = c1
`;

describe('scaling out: edge agents -> one aggregator', () => {
  test('three edges (one on the seed\'s Flume config) and an aggregator killed once mid-way: the sum of all drops, counted once', { timeout: 120_000 }, async (t) => {
    const port = await freePort();
    const aggDir = tempDir('logflow-agg-');
    writeFileSync(path.join(aggDir, 'aggregator.conf'), aggregatorConf(port));
    const aggArgs = ['--conf-file', 'aggregator.conf', '--name', 'agg'];
    let agg = await withDaemon(t, { dir: aggDir, args: aggArgs });

    const expected = new Map<string, number>();
    let lines = 0;
    const edges: { dir: string; spool: string }[] = [];
    for (let e = 0; e < 3; e++) {
      const dir = tempDir(`logflow-edge${e}-`);
      const spool = path.join(dir, 'spool');
      mkdirSync(spool);
      const conf = e === 0
        ? seedConfig(spool, port)
        : `a1.sources = r1\na1.channels = c1\na1.sinks = k1\na1.sources.r1.type = spooldir\na1.sources.r1.spoolDir = spool\na1.sources.r1.batchSize = 500\na1.sources.r1.interceptors = ts\na1.sources.r1.interceptors.ts.type = timestamp\na1.sources.r1.channels = c1\na1.channels.c1.type = memory\na1.channels.c1.capacity = 20000\na1.channels.c1.transactionCapacity = 1000\na1.sinks.k1.type = avro\na1.sinks.k1.hostname = 127.0.0.1\na1.sinks.k1.port = ${port}\na1.sinks.k1.batch-size = 1000\na1.sinks.k1.channel = c1\n`;
      writeFileSync(path.join(dir, 'edge.conf'), conf);
      const d = await withDaemon(t, { dir, args: ['--conf-file', 'edge.conf'] });
      edges.push({ dir, spool });
    }
    for (const [e, edge] of edges.entries()) {
      for (let f = 0; f < 2; f++) {
        const staged = path.join(edge.dir, `part${f}.tmp`);
        await writeLog(staged, { lines: 30_000, urls: 400, seed: 70 + e * 10 + f, malformed: 0.01 });
        const c = expectedCounts(staged);
        for (const [u, n] of c.counts) expected.set(u, (expected.get(u) ?? 0) + n);
        lines += c.lines;
        renameSync(staged, path.join(edge.spool, `part${f}.log`));
      }
    }
    // The aggregator dies mid-way and comes back: the edges hold their events until OK.
    // Mid-way by state, not after a time: once events reached it, and checked to be before
    // all of them did.
    const before = agg;
    const seen = await waitFor('events at the aggregator', async () => {
      const { eventsIn } = (await before.get<Stats>('/api/stats')).body;
      return eventsIn > 0 ? eventsIn : undefined;
    });
    agg.proc.kill('SIGKILL');
    await agg.exited;
    assert.ok(seen < lines, `the aggregator was killed mid-way: ${seen} of ${lines} events in`);
    agg = await withDaemon(t, { dir: aggDir, args: aggArgs });

    await waitFor('every drop counted and every edge file completed', async () => {
      const { body } = await agg.get<Stats>('/api/stats');
      const done = edges.every((e) => readdirSync(e.spool).filter(visible).every((n) => n.endsWith('.COMPLETED')));
      return done && body.eventsCounted + body.parseErrors === lines ? body : undefined;
    }, 60_000);
    const { body: top } = await agg.get<{ total: number; urls: { url: string; count: number }[] }>('/api/top?n=1000');
    const want = [...expected].map(([url, count]) => ({ url, count })).sort((a, b) => b.count - a.count || (a.url < b.url ? -1 : 1));
    assert.equal(top.total, want.reduce((a, b) => a + b.count, 0));
    assert.deepEqual(top.urls, want);
    assert.equal(await agg.stop('SIGTERM'), 0);
  });
});
