import assert from 'node:assert/strict';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { clfTime, generateLines } from '../scripts/access-log-generator.js';
import { startDaemon, tempDir, waitFor, type RunningDaemon } from './helpers/daemon.js';
import { expectedCounts, type Expected } from './helpers/expected-counts.js';
import { NatsCluster, skipWithoutNats } from './helpers/nats-cluster.js';
import type { Stats, Top } from './helpers/api-types.js';


const START = Date.UTC(2026, 0, 1, 0, 0, 0);
const SPAN_S = 60;
const PARTITIONS = 4;

/** Two edges, two counters, one query node: one file, `${NATS_SERVERS}` from the environment. */
function clusterConf(): string {
  const edge = (name: string) => `
${name}.sources = r1
${name}.channels = c1
${name}.sinks = k1
${name}.sources.r1.type = spooldir
${name}.sources.r1.spoolDir = ${name}/spool
${name}.sources.r1.pollDelay = 100
${name}.sources.r1.channels = c1
${name}.channels.c1.type = memory
${name}.channels.c1.capacity = 20000
${name}.channels.c1.transactionCapacity = 1000
${name}.sinks.k1.type = jetstream
${name}.sinks.k1.channel = c1
${name}.sinks.k1.servers = \${NATS_SERVERS}
${name}.sinks.k1.partitions = ${PARTITIONS}
${name}.sinks.k1.replicas = 3
`;
  return `${edge('edge1')}${edge('edge2')}
counter.jobs = j1
counter.jobs.j1.type = url-count-partial
counter.jobs.j1.servers = \${NATS_SERVERS}
counter.jobs.j1.partitions = ${PARTITIONS}
counter.jobs.j1.replicas = 3
counter.jobs.j1.time = event
counter.jobs.j1.batchInterval = 0.5
counter.jobs.j1.leaseTimeout = 3

query.jobs = j1
query.jobs.j1.type = url-window-count
query.jobs.j1.input = jetstream
query.jobs.j1.servers = \${NATS_SERVERS}
query.jobs.j1.replicas = 3
query.jobs.j1.time = event
query.jobs.j1.watermark = 3600
query.jobs.j1.flushAfterIdle = 0
query.jobs.j1.windowDuration = 60
query.jobs.j1.slideDuration = 60
query.jobs.j1.checkpointDir = query/checkpoint
query.jobs.j1.database = query/results.db
query.http.bind = 127.0.0.1
query.http.port = 0
`;
}

/** A generated log made untidy (CRLF ends, blank lines, garbage), staged then renamed into the edge's spool. */
function dropUntidy(dir: string, edge: string, name: string, seed: number, into: Expected): void {
  const lines = [...generateLines({ lines: 1500, urls: 150, seed, startMs: START, spanSeconds: SPAN_S, malformed: 0.02 })];
  const untidy = lines.map((l, i) => (i % 97 === 5 ? l + '\r' : i % 131 === 7 ? `${l}\n` : l));
  const staged = path.join(dir, `${edge}-${name}.staged`);
  writeFileSync(staged, untidy.join('\n') + '\n');
  const e = expectedCounts(staged);
  for (const [u, c] of e.counts) into.counts.set(u, (into.counts.get(u) ?? 0) + c);
  into.total += e.total;
  into.parseErrors += e.parseErrors;
  into.lines += e.lines;
  renameSync(staged, path.join(dir, edge, 'spool', name));
}

describe('scale-out on a JetStream cluster', { skip: skipWithoutNats }, () => {
  const daemons = new Set<RunningDaemon>();
  let cluster: NatsCluster | undefined;
  after(async () => {
    for (const d of daemons) await d.stop('SIGKILL');
    await cluster?.stop();
  });

  test('edges -> counters -> query node count every line exactly once while a counter, the events leader and the query node are killed', async () => {
    const dir = tempDir('logflow-js-');
    cluster = await NatsCluster.start(path.join(dir, 'nats'));
    process.env.NATS_SERVERS = cluster.servers;
    writeFileSync(path.join(dir, 'cluster.conf'), clusterConf());
    for (const e of ['edge1', 'edge2']) mkdirSync(path.join(dir, e, 'spool'), { recursive: true });
    const run = async (name: string) => {
      const d = await startDaemon(dir, ['--conf-file', 'cluster.conf', '--name', name], 30_000);
      daemons.add(d);
      return d;
    };
    const kill = async (d: RunningDaemon) => {
      await d.stop('SIGKILL');
      daemons.delete(d);
    };
    const nc = await connect({ servers: cluster.servers.split(','), maxReconnectAttempts: -1, waitOnFirstConnect: true });
    try {
      let query = await run('query');
      let counter1 = await run('counter');
      const counter2 = await run('counter');
      await run('edge1');
      await run('edge2');
      const expected: Expected = { counts: new Map(), total: 0, parseErrors: 0, lines: 0 };

      dropUntidy(dir, 'edge1', 'a.log', 1, expected);
      dropUntidy(dir, 'edge2', 'a.log', 2, expected);
      await waitFor('a first partial count', async () => ((await query.get<Stats>('/api/stats')).body.eventsIn > 0 ? true : undefined), 30_000);
      await kill(counter1);
      dropUntidy(dir, 'edge1', 'b.log', 3, expected);
      dropUntidy(dir, 'edge2', 'b.log', 4, expected);
      counter1 = await run('counter');

      const jsm = await jetstreamManager(nc);
      const leader = (await jsm.streams.info('LOGFLOW_EVENTS')).cluster!.leader!;
      cluster.kill(leader);
      dropUntidy(dir, 'edge1', 'c.log', 5, expected);
      dropUntidy(dir, 'edge2', 'c.log', 6, expected);
      await new Promise((r) => setTimeout(r, 5_000));
      await cluster.restart(leader);

      await kill(query);
      query = await run('query');

      // Every NATS server down: the edge keeps its file, and finishes it once they are back.
      for (const n of ['n1', 'n2', 'n3']) cluster.kill(n);
      dropUntidy(dir, 'edge2', 'd.log', 7, expected);
      const spool2 = path.join(dir, 'edge2', 'spool');
      await new Promise((r) => setTimeout(r, 1_500));
      assert.ok(existsSync(path.join(spool2, 'd.log')), 'd.log stays in the spool while no server is up');
      for (const n of ['n1', 'n2', 'n3']) await cluster.restart(n);
      await waitFor('d.log to be completed', () => (existsSync(path.join(spool2, 'd.log.COMPLETED')) ? true : undefined), 60_000);

      let eventsIn = 0;
      await waitFor('every line at the query node', async () => {
        const { body } = await query.get<Stats>('/api/stats');
        eventsIn = body.eventsIn;
        // More than the lines: a count doubled; no use waiting.
        return body.eventsIn >= expected.lines ? true : undefined;
      }, 60_000).catch((err: Error) => {
        const tail = (d: RunningDaemon) => d.logs.slice(-8).join('\n');
        assert.fail(`${err.message}: ${eventsIn} of ${expected.lines}\nquery:\n${tail(query)}\ncounter 1:\n${tail(counter1)}\ncounter 2:\n${tail(counter2)}`);
      });
      assert.equal(eventsIn, expected.lines, `eventsIn ${eventsIn} of ${expected.lines} lines: a count doubled`);
      // A line an hour later closes every batch of the logs (watermark 3600 s).
      const closer = path.join(dir, 'closer.staged');
      writeFileSync(closer, `10.0.0.9 - - [${clfTime(START + 2 * 3600_000)}] "GET /closer HTTP/1.1" 200 1\n`);
      renameSync(closer, path.join(dir, 'edge1', 'spool', 'closer.log'));
      const range = `from=${START / 1000}&to=${START / 1000 + SPAN_S + 1}`;
      let last: unknown;
      const top = await waitFor('the logs\' batches to close', async () => {
        const { body } = await query.get<Top>(`/api/top?n=1000&${range}`);
        last = { total: body.total, stats: (await query.get<Stats>('/api/stats')).body };
        return body.total === expected.total ? body : undefined;
      }, 30_000).catch((err: Error) => assert.fail(`${query.logs.filter((l) => !l.includes('"level":20')).slice(-15).join('\n')}\n` + `${err.message}: expected ${expected.total}, last ${JSON.stringify(last)}`));
      assert.equal(top.total, expected.total);
      assert.deepEqual(new Map(top.urls.map((u) => [u.url, u.count])), expected.counts);
      const { body: stats } = await query.get<Stats>('/api/stats');
      assert.equal(stats.historyOnlyEvents, 0);
      assert.equal(stats.parseErrors, expected.parseErrors);

      // One counter stopped for good: the other holds every partition within 10 s.
      await kill(counter2);
      const kv = await new Kvm(nc).open('LOGFLOW_LEASES');
      const survivor = counterId(counter1);
      const stoppedAt = Date.now();
      await waitFor('the survivor to own every partition', async () => {
        for (let p = 0; p < PARTITIONS; p++) if ((await kv.get(`partition.${p}`))?.string() !== survivor) return undefined;
        return true;
      }, 10_000);
      assert.ok(Date.now() - stoppedAt <= 10_000);
    } finally {
      await nc.close();
    }
  });
});

function counterId(d: RunningDaemon): string {
  const line = d.logs.find((l) => l.includes('"counter started"'));
  assert.ok(line, `the counter logged its id:\n${d.logs.slice(-10).join('\n')}`);
  return JSON.parse(line).counter as string;
}
