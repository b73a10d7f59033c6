import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jetstreamManager, type JetStreamManager, type StreamState } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { clfTime, writeLog } from '../scripts/access-log-generator.js';
import { after, before, describe, test } from 'node:test';
import { startDaemon, tempDir, waitFor, type RunningDaemon } from './helpers/daemon.js';
import type { DaemonOptions as ProcessOptions } from '../scripts/lib/daemon-process.js';
import { NatsCluster, skipWithoutNats } from './helpers/nats-cluster.js';
import { canRunPostgres, PostgresServer } from './helpers/postgres-server.js';
import { clusterNames, dropGenerated, dropStaged, noneExpected, writeClusterConf, type Topology } from './helpers/cluster-conf.js';
import { expectedCounts, merged, type Expected } from './helpers/expected-counts.js';
import type { Stats, Top } from './helpers/api-types.js';

const START = Date.UTC(2026, 0, 1, 0, 0, 0);

/**
 * Issue 26's faults at the ends of the scale-out, each scenario on its own streams of one
 * nats-server: real edges, counters, merge workers and query nodes as child processes.
 */
// Scenarios run three at a time: each is on its own streams, and most of their time is waiting.
describe('scale-out, exact at the ends', { skip: skipWithoutNats, concurrency: 3 }, () => {
  const all = new Set<RunningDaemon>();
  let nats: NatsCluster;
  let dir: string;
  before(async () => {
    dir = tempDir('logflow-exact-');
    nats = await NatsCluster.start(path.join(dir, 'nats'), 1);
    process.env.NATS_SERVERS = nats.servers;
  });
  after(async () => {
    for (const d of all) await d.stop('SIGKILL');
    await nats?.stop();
  });
  /**
   * A scenario's daemons, each scenario on its own streams. (`node` runs a counter, a merge
   * worker and the query node in one process, `qm` the merge worker and the query node:
   * fewer processes to start on a busy box; the roles apart where one is killed.)
   */
  const scenario = () => {
    const mine = new Set<RunningDaemon>();
    const run = async (conf: string, name: string, options: ProcessOptions = {}) => {
      const d = await startDaemon(dir, ['--conf-file', conf, '--name', name], 60_000, options);
      mine.add(d);
      all.add(d);
      return d;
    };
    return {
      run,
      /** Starts the named agents at once (each tier waits for the streams of the one before it). */
      runAll: <N extends readonly string[]>(conf: string, ...names: N) =>
        Promise.all(names.map((n) => run(conf, n))) as Promise<{ [K in keyof N]: RunningDaemon }>,
      kill: async (d: RunningDaemon) => {
        await d.stop('SIGKILL');
        mine.delete(d);
        all.delete(d);
      },
      stopAll: async () => {
        for (const d of mine) {
          await d.stop();
          all.delete(d);
        }
      },
    };
  };
  const stats = async (d: RunningDaemon) => (await d.get<Stats>('/api/stats')).body;
  const tail = (d: RunningDaemon) => d.logs.filter((l) => !l.includes('"level":20')).slice(-12).join('\n');

  /** Waits until the query node's history over `range` holds `expected` exactly (and says what it held if not). */
  const historyHolds = async (query: RunningDaemon, range: string, expected: Expected, ms = 60_000) => {
    let last: unknown;
    const top = await waitFor('every line in the history', async () => {
      const { body } = await query.get<Top>(`/api/top?n=1000&${range}`);
      last = { total: body.total, stats: await stats(query) };
      return body.total >= expected.total ? body : undefined;
    }, ms).catch((err: Error) => assert.fail(`${err.message}: expected ${expected.total}, last ${JSON.stringify(last)}\n${tail(query)}`));
    assert.equal(top.total, expected.total, 'a count doubled');
    assert.deepEqual(new Map(top.urls.map((u) => [u.url, u.count])), expected.counts);
    return top;
  };
  const hour = `from=${START / 1000}&to=${START / 1000 + 3601}`;
  /** Runs `f` with a JetStream manager of the test's server. */
  const bus = async (f: (jsm: JetStreamManager) => Promise<unknown>) => {
    const nc = await connect({ ...nats.connectOptions, servers: nats.servers.split(',') });
    try {
      await f(await jetstreamManager(nc));
    } finally {
      await nc.close();
    }
  };

  test('20,000 distinct 122-byte URLs in one second: the partial is cut below max_payload, every URL counted', async () => {
    const { runAll, stopAll } = scenario();
    // Seen failing on the code before: the 2.5 MB JSON partial was refused ("max_payload size
    // exceeded") and retried for ever; the query node counted 0 of 20,000.
    const t: Topology = { tag: 'long', partitions: 1, shards: 2, time: 'event', merge: { idleTimeout: 2 } };
    const conf = writeClusterConf(dir, t);
    const [query] = await runAll(conf, 'node', 'edge1');
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i++) lines.push(`10.0.0.1 - - [${clfTime(START)}] "GET /${String(i).padStart(8, '0')}/${'x'.repeat(112)} HTTP/1.1" 200 1`);
    const staged = path.join(dir, 'long.staged');
    writeFileSync(staged, lines.join('\n') + '\n');
    const expected = dropStaged(dir, 'long/edge1', 'long.log', staged);
    await historyHolds(query, hour, { ...expected, counts: new Map([...expected.counts].sort((a, b) => (a[0] < b[0] ? -1 : 1)).slice(0, 1000)) });
    await stopAll();
  });

  test('an edge killed mid-file and back after its duplicate window resends nothing the stream holds', async () => {
    const { run, runAll, kill, stopAll } = scenario();
    // Seen failing on the code before: the stream took the resent batches again, 300,000
    // lines became 304,000 (file channel) and 358,819 (memory channel).
    // (Processing time: the test is about what is stored twice, not about when lines are late.)
    const t: Topology = { tag: 'dup', partitions: 2, shards: 2, time: 'processing', channel: 'file', sink: { duplicateWindow: 1 } };
    const now = `from=${Math.floor(Date.now() / 1000) - 5}&to=${Math.floor(Date.now() / 1000) + 600}`;
    const conf = writeClusterConf(dir, t);
    const [query, first] = await runAll(conf, 'node', 'edge1');
    let edge = first!;
    const expected = await dropGenerated(dir, 'dup/edge1', 'big.log', { lines: 60_000, urls: 500, seed: 3, startMs: START, spanSeconds: 3600 });
    const nc = await connect({ ...nats.connectOptions, servers: nats.servers.split(',') });
    const jsm = await jetstreamManager(nc);
    let storedAtKill = 0;
    try {
      // Mid-file: some of its batches stored, not all.
      await waitFor('some batches stored', async () => ((await jsm.streams.info(clusterNames('dup').events)).state.last_seq >= 20 ? true : undefined), 60_000);
      await kill(edge);
      storedAtKill = (await jsm.streams.info(clusterNames('dup').events)).state.last_seq;
    } finally {
      await nc.close();
    }
    // Down for more than the stream's duplicate window: it no longer knows the ids.
    await new Promise((r) => setTimeout(r, 2_500));
    edge = await run(conf, 'edge1');
    await waitFor('big.log completed', () => (existsSync(path.join(dir, 'dup', 'edge1', 'spool', 'big.log.COMPLETED')) ? true : undefined), 60_000);
    await historyHolds(query, now, expected);
    const nc2 = await connect({ ...nats.connectOptions, servers: nats.servers.split(',') });
    const batches = (await (await jetstreamManager(nc2)).streams.info(clusterNames('dup').events)).state.last_seq;
    await nc2.close();
    assert.ok(storedAtKill < batches, `the edge was killed mid-file (${storedAtKill} of ${batches} batches stored)`);
    assert.equal((await stats(query)).eventsIn, expected.lines);
    await stopAll();
  });

  test('a TAILDIR edge re-created with another host name resends nothing the stream holds', async () => {
    const { run, runAll, kill, stopAll } = scenario();
    // As a container re-created from its image with its volumes: the position file and the
    // file channel outlive it, the host name does not.
    const t: Topology = { tag: 'host', partitions: 1, shards: 1, time: 'processing', channel: 'file', source: 'taildir', edge: { writePosInterval: 3_600_000 } };
    const now = `from=${Math.floor(Date.now() / 1000) - 5}&to=${Math.floor(Date.now() / 1000) + 600}`;
    const conf = writeClusterConf(dir, t);
    const log = path.join(dir, 'host', 'edge1', 'logs', 'access.log');
    const append = async (name: string, seed: number) => {
      const staged = path.join(dir, name);
      await writeLog(staged, { lines: 4_000, urls: 300, seed, startMs: START, spanSeconds: 600 });
      appendFileSync(log, readFileSync(staged));
      return expectedCounts(staged);
    };
    const [query] = await runAll(conf, 'node');
    const edgeA = await run(conf, 'edge1', { hostname: 'edge-a' });
    const first = await append('host-1.staged', 21);
    await historyHolds(query, now, first);
    // Killed before it wrote its position file (written at start and stop only here): what
    // it had sent is known to its file channel, under its files' keys.
    await kill(edgeA);
    await run(conf, 'edge1', { hostname: 'edge-b' });
    const expected = merged(first, await append('host-2.staged', 22));
    await historyHolds(query, now, expected);
    assert.equal((await stats(query)).eventsIn, expected.lines);
    await stopAll();
  });

  test('LOGFLOW_EVENTS with a message limit: the edges wait while the counters trim (discard new), nothing is lost', async () => {
    const { runAll, stopAll } = scenario();
    // Seen failing on the code before: with max_msgs and discard old, 213,083 of 300,000 lines
    // were dropped without a word, the file marked COMPLETED; with discard new, ingest stalled.
    const t: Topology = { tag: 'lim', partitions: 2, shards: 1, time: 'event', sink: { maxMsgs: 20 }, merge: { idleTimeout: 2 } };
    const conf = writeClusterConf(dir, t);
    const [query, edge] = await runAll(conf, 'node', 'edge1');
    const expected = await dropGenerated(dir, 'lim/edge1', 'a.log', { lines: 25_000, urls: 500, seed: 4, startMs: START, spanSeconds: 3600 });
    await waitFor('a.log completed', () => (existsSync(path.join(dir, 'lim', 'edge1', 'spool', 'a.log.COMPLETED')) ? true : undefined), 90_000);
    await historyHolds(query, hour, expected);
    // Loud: the edge said the stream was full and retried.
    assert.ok(edge!.logs.some((l) => l.includes('jetstream sink publish failed') && /maximum messages/.test(l)), 'the edge reports the full stream');
    await stopAll();
  });

  test('LOGFLOW_EVENTS with a message limit and discard old: a counter that finds events removed before it counted them stops the partition, loudly', async () => {
    const { run, runAll, stopAll } = scenario();
    const t: Topology = { tag: 'gap', partitions: 1, shards: 1, time: 'event', sink: { maxMsgs: 20, discard: 'old' }, http: true, merge: { idleTimeout: 2 } };
    const conf = writeClusterConf(dir, t);
    const [query] = await runAll(conf, 'qm', 'edge1');
    // No counter yet: the stream keeps its last 20 of 40 batches.
    await dropGenerated(dir, 'gap/edge1', 'a.log', { lines: 40_000, urls: 100, seed: 5, startMs: START, spanSeconds: 3600 });
    await waitFor('a.log completed', () => (existsSync(path.join(dir, 'gap', 'edge1', 'spool', 'a.log.COMPLETED')) ? true : undefined), 60_000);
    const counter = await run(conf, 'counter');
    type ClusterStats = Stats & { cluster: { counters: { partitions: { partition: number; gap: { from: number; to: number } | null }[] }[] } };
    const gap = await waitFor('the gap in the counter\'s stats', async () => (await counter.get<ClusterStats>('/api/stats')).body.cluster.counters[0]?.partitions[0]?.gap ?? undefined, 30_000);
    let state!: StreamState;
    await bus(async (jsm) => ({ state } = await jsm.streams.info(clusterNames('gap').events)));
    assert.deepEqual(gap, { from: 1, to: state.first_seq - 1 });
    assert.equal(state.messages, 20, 'the stream kept its last 20 batches');
    assert.ok(counter.logs.some((l) => l.includes('"level":50') && l.includes('were removed from the stream before this partition counted them')), 'an error names the gap');
    const metrics = await fetch(counter.url + '/metrics').then((r) => r.text());
    assert.match(metrics, /^logflow_counter_partition_stopped\{partition="0"\} 1$/m);
    // Nothing past the gap is counted.
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal((await stats(query)).eventsIn, 0);
    // The operator accepts the loss (`nats kv put PROGRESS counter.0 '{"acceptGapTo": N}'`):
    // every shard sees the partition go on, and what is left is counted.
    const nc2 = await connect({ ...nats.connectOptions, servers: nats.servers.split(',') });
    try {
      const kv = await new Kvm(nc2).open(clusterNames('gap').progress);
      await kv.put('counter.0', JSON.stringify({ acceptGapTo: gap.to }));
    } finally {
      await nc2.close();
    }
    let left = 0;
    await bus(async (jsm) => {
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(clusterNames('gap').events, { seq });
        if (m) left += new TextDecoder().decode(m.data).split('\n').length;
      }
    });
    await waitFor('the rest counted', async () => ((await stats(query)).eventsIn === left ? true : undefined), 30_000).catch(async (err: Error) => {
      assert.fail(`${err.message}: ${left} expected, ${JSON.stringify(await stats(query))}\n${JSON.stringify((await counter.get<ClusterStats>('/api/stats')).body.cluster)}\n${tail(counter)}`);
    });
    await stopAll();
  });

  test('LOGFLOW_COUNTS with a max age: a counter back after its partials expired resumes from its progress, not from 0', async () => {
    const { run, runAll, kill, stopAll } = scenario();
    // Seen failing on the code before: the counter resumed from the last partial's id; that
    // partial had expired, it resumed from 0, and 100,000 lines became 200,000.
    const t: Topology = { tag: 'age', partitions: 2, shards: 2, time: 'processing', counter: { countsMaxAge: 2, countsDuplicateWindow: 1 } };
    const now = `from=${Math.floor(Date.now() / 1000) - 5}&to=${Math.floor(Date.now() / 1000) + 600}`;
    const conf = writeClusterConf(dir, t);
    const [query, first] = await runAll(conf, 'qm', 'counter', 'edge1');
    let counter = first!;
    const expected = noneExpected();
    await dropGenerated(dir, 'age/edge1', 'a.log', { lines: 30_000, urls: 300, seed: 6, startMs: START, spanSeconds: 3600 }, expected);
    await waitFor('every line at the query node', async () => ((await stats(query)).eventsIn >= expected.lines ? true : undefined), 60_000);
    await kill(counter);
    await new Promise((r) => setTimeout(r, 4_000));
    counter = await run(conf, 'counter');
    await dropGenerated(dir, 'age/edge1', 'b.log', { lines: 10_000, urls: 300, seed: 7, startMs: START, spanSeconds: 3600 }, expected);
    await historyHolds(query, now, expected);
    assert.equal((await stats(query)).eventsIn, expected.lines);
    await stopAll();
  });

  test('LOGFLOW_COUNTS with a max age and a merge worker down past it: the shard stops at the gap, loudly, and goes on once it is accepted', async () => {
    const { run, runAll, stopAll } = scenario();
    const t: Topology = { tag: 'mgap', partitions: 1, shards: 1, time: 'processing', http: true, counter: { countsMaxAge: 2, countsDuplicateWindow: 1 } };
    const conf = writeClusterConf(dir, t);
    const now = `from=${Math.floor(Date.now() / 1000) - 5}&to=${Math.floor(Date.now() / 1000) + 600}`;
    const [query, merge, counter] = await runAll(conf, 'query', 'merge', 'counter', 'edge1');
    const kept = await dropGenerated(dir, 'mgap/edge1', 'a.log', { lines: 10_000, urls: 100, seed: 9, startMs: START, spanSeconds: 3600 });
    await historyHolds(query!, now, kept);
    // Every batch closed (no partial left to replay): the merge worker goes away, for longer than the partials live.
    await merge!.stop();
    const lost = await dropGenerated(dir, 'mgap/edge1', 'b.log', { lines: 5_000, urls: 100, seed: 10, startMs: START, spanSeconds: 3600 });
    type CounterStats = Stats & { cluster: { counters: { partitions: { linesOut: number }[] }[]; merges: { shards: { gap: { partition: number } | null }[] }[] } };
    await waitFor('b.log counted and published', async () => (((await counter!.get<CounterStats>('/api/stats')).body.cluster.counters[0]?.partitions[0]?.linesOut ?? 0) >= kept.lines + lost.lines ? true : undefined), 30_000);
    await new Promise((r) => setTimeout(r, 3_000));
    const again = await run(conf, 'merge');
    await waitFor('the shard\'s gap', async () => ((await again.get<CounterStats>('/api/stats')).body.cluster.merges[0]?.shards[0]?.gap ? true : undefined), 30_000);
    assert.ok(again.logs.some((l) => l.includes('"level":50') && l.includes('were removed from the counts stream before this shard read them')), again.logs.filter((l) => l.includes('"level":50')).join('\n'));
    const gapLine = JSON.parse(again.logs.find((l) => l.includes('"shard gap"') || l.includes('were removed from the counts stream'))!) as { partition: number; after: number };
    // Accepted (`nats kv put CLUSTER accept-gap.shard.0 '{"partition":0,"after":N}'`): what comes next is counted.
    const nc = await connect({ ...nats.connectOptions, servers: nats.servers.split(',') });
    try {
      await (await new Kvm(nc).open(clusterNames('mgap').settings)).put('accept-gap.shard.0', JSON.stringify({ partition: gapLine.partition, after: gapLine.after }));
    } finally {
      await nc.close();
    }
    const more = await dropGenerated(dir, 'mgap/edge1', 'c.log', { lines: 3_000, urls: 100, seed: 11, startMs: START, spanSeconds: 3600 });
    const expected = noneExpected();
    for (const e of [kept, more]) {
      for (const [u, c] of e.counts) expected.counts.set(u, (expected.counts.get(u) ?? 0) + c);
      expected.total += e.total;
    }
    await historyHolds(query!, now, expected);
    await stopAll();
  });

  test('a query node started after the counting agrees with the first one, batch by batch (processing time); the second writes to PostgreSQL', async (t) => {
    const { run, runAll, stopAll } = scenario();
    // Seen failing on the code before: the late node put every partial under its own "now":
    // 57,974 vs 0 in one second, 0 vs 100,000 in another.
    // (The second query node's results go to a PostgreSQL server when one can run here:
    // main's asynchronous store behind the query node's outbox; SQLite otherwise.)
    const pgServer = canRunPostgres() ? await PostgresServer.start() : undefined;
    t.after(() => pgServer?.stop());
    const topology: Topology = {
      tag: 'late', partitions: 2, shards: 2, time: 'processing', queries: ['query', 'query2'],
      ...(pgServer && { queryNamed: { query2: { database: pgServer.url() } } }),
    };
    const conf = writeClusterConf(dir, topology);
    const startedS = Math.floor(Date.now() / 1000);
    const [first] = await runAll(conf, 'node', 'edge1');
    const expected = await dropGenerated(dir, 'late/edge1', 'a.log', { lines: 30_000, urls: 100, seed: 8, startMs: START, spanSeconds: 3600 });
    const all = `from=${startedS - 5}&to=${startedS + 600}`;
    await historyHolds(first, all, expected);
    const second = await run(conf, 'query2');
    await historyHolds(second, all, expected);
    const nowS = Math.ceil(Date.now() / 1000);
    for (let s = startedS - 5; s < nowS; s++) {
      const range = `n=1000&from=${s}&to=${s + 1}`;
      const [a, b] = [(await first.get<Top>(`/api/top?${range}`)).body, (await second.get<Top>(`/api/top?${range}`)).body];
      assert.deepEqual({ s, total: b.total, urls: b.urls }, { s, total: a.total, urls: a.urls });
    }
    // By status over the whole range, visitors included (the partials carry visits): PostgreSQL's answer is SQLite's.
    type ByStatus = { items: { visitors: number | null }[] };
    const [byA, byB] = [(await first.get<ByStatus>(`/api/top?by=status&n=100&${all}`)).body, (await second.get<ByStatus>(`/api/top?by=status&n=100&${all}`)).body];
    assert.ok(byA.items.length > 0 && byA.items.every((i) => typeof i.visitors === 'number'), JSON.stringify(byA.items));
    assert.deepEqual(byB.items, byA.items, 'by=status over the range, visitors included');
    // (Its rows are the server's: the history it answered from is PostgreSQL's.)
    if (pgServer) assert.ok((await pgServer.sql<{ n: number }>("SELECT count(*)::int AS n FROM logflow_batches WHERE instance = 'query2'"))[0]!.n > 0, 'query2 wrote to PostgreSQL');
    await stopAll();
  });

  test('two edges replaying the same hour in event time, seconds apart, into different partitions: no line is late', async () => {
    const { runAll, stopAll } = scenario();
    // Seen failing on the code before: with the watermark the maximum over partitions, the
    // second edge's lines were late (49,166 of 100,000 with a 2 s stagger, scaleout-repro).
    // (An edge is waited for `idleTimeout` after the first events: 8 s, for a 2 s stagger on a busy box.)
    const t: Topology = { tag: 'wm', edges: ['edge1', 'edge2'], partitions: 2, shards: 2, time: 'event', merge: { watermark: 60, idleTimeout: 8 } };
    const conf = writeClusterConf(dir, t);
    const [query] = await runAll(conf, 'node', 'edge1', 'edge2');
    const expected = noneExpected();
    await dropGenerated(dir, 'wm/edge1', 'a.log', { lines: 15_000, urls: 300, seed: 1, startMs: START, spanSeconds: 3600 }, expected);
    await new Promise((r) => setTimeout(r, 2000));
    await dropGenerated(dir, 'wm/edge2', 'b.log', { lines: 15_000, urls: 300, seed: 2, startMs: START, spanSeconds: 3600 }, expected);
    // Once every input is idle (idleTimeout after the last lines) the last batches close.
    await historyHolds(query, hour, expected, 90_000);
    const s = await stats(query);
    assert.equal(s.historyOnlyEvents, 0, 'no line late');
    assert.equal(s.eventsIn, expected.lines);
    assert.equal(s.parseErrors, expected.parseErrors);
    await stopAll();
  });
});
