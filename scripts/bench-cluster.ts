#!/usr/bin/env node
/**
 * Scale-out figures on this machine (README "Scaling out", BENCHMARKS.md): a real NATS
 * cluster (nats-server) and real daemons, as in test/jetstream-cluster.test.ts.
 *
 *   npm run bench:cluster                 # 300,000-line logs
 *   npm run bench:cluster -- --lines 50000
 *
 * Prints: sink publish throughput at R1 and R3, stored bytes per event, events/s from the
 * edges through the counters to the query node with 1 and 2 counters, and the bytes of
 * the partial counts against the raw bytes.
 */
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { writeLog } from './access-log-generator.js';
import { startDaemon, tempDir, waitFor, type RunningDaemon } from './lib/daemon-process.js';
import { NatsCluster, NATS_SERVER } from './lib/nats-cluster.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const LINES = arg('--lines', 300_000);
const START = Date.UTC(2026, 0, 1);

function conf(replicas: number, partitions: number): string {
  return `
edge.sources = r1
edge.channels = c1
edge.sinks = k1
edge.sources.r1.type = spooldir
edge.sources.r1.spoolDir = spool
edge.sources.r1.batchSize = 1000
edge.sources.r1.pollDelay = 50
edge.sources.r1.channels = c1
edge.channels.c1.type = memory
edge.channels.c1.capacity = 100000
edge.channels.c1.transactionCapacity = 10000
edge.sinks.k1.type = jetstream
edge.sinks.k1.channel = c1
edge.sinks.k1.servers = \${NATS_SERVERS}
edge.sinks.k1.partitions = ${partitions}
edge.sinks.k1.replicas = ${replicas}
edge.sinks.k1.batch-size = 10000

counter.jobs = j1
counter.jobs.j1.type = url-count-partial
counter.jobs.j1.servers = \${NATS_SERVERS}
counter.jobs.j1.partitions = ${partitions}
counter.jobs.j1.replicas = ${replicas}
counter.jobs.j1.time = processing

query.jobs = j1
query.jobs.j1.type = url-window-count
query.jobs.j1.input = jetstream
query.jobs.j1.servers = \${NATS_SERVERS}
query.jobs.j1.replicas = ${replicas}
query.jobs.j1.time = processing
query.jobs.j1.checkpointDir = checkpoint
query.jobs.j1.database = results.db
query.http.port = 0
`;
}

interface Run {
  readonly publishSeconds: number;
  readonly endToEndSeconds: number | undefined;
  readonly eventsBytes: number;
  readonly countsBytes: number;
  readonly rawBytes: number;
}

/** One cluster, one edge (and `counters` counters and a query node); times one log through. */
async function run(replicas: number, counters: number, log: string, rawBytes: number): Promise<Run> {
  const dir = tempDir('logflow-bench-cluster-');
  const cluster = await NatsCluster.start(path.join(dir, 'nats'));
  process.env.NATS_SERVERS = cluster.servers;
  writeFileSync(path.join(dir, 'cluster.conf'), conf(replicas, 8));
  mkdirSync(path.join(dir, 'spool'));
  const daemons: RunningDaemon[] = [];
  const start = async (name: string) => {
    const d = await startDaemon(dir, ['--conf-file', 'cluster.conf', '--name', name], 30_000);
    daemons.push(d);
    return d;
  };
  const nc = await connect({ servers: cluster.servers.split(',') });
  try {
    const query = counters > 0 ? await start('query') : undefined;
    for (let i = 0; i < counters; i++) await start('counter');
    await start('edge');
    const t0 = performance.now();
    renameSync(log, path.join(dir, 'spool', 'access.log'));
    await waitFor('the edge to finish', () => (existsSync(path.join(dir, 'spool', 'access.log.COMPLETED')) ? true : undefined), 600_000);
    const publishSeconds = (performance.now() - t0) / 1000;
    let endToEndSeconds: number | undefined;
    if (query) {
      await waitFor('the query node to hold every line', async () => ((await query.get<{ eventsIn: number }>('/api/stats')).body.eventsIn >= LINES ? true : undefined), 600_000);
      endToEndSeconds = (performance.now() - t0) / 1000;
    }
    const jsm = await jetstreamManager(nc);
    const bytes = async (s: string) => (await jsm.streams.info(s).catch(() => undefined))?.state.bytes ?? 0;
    return { publishSeconds, endToEndSeconds, eventsBytes: await bytes('LOGFLOW_EVENTS'), countsBytes: await bytes('LOGFLOW_COUNTS'), rawBytes };
  } finally {
    await nc.close();
    for (const d of daemons) await d.stop('SIGKILL');
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  if (!NATS_SERVER) throw new Error('nats-server is not installed (apt-get install nats-server)');
  const dir = tempDir('logflow-bench-logs-');
  const fresh = async () => {
    const file = path.join(dir, `log-${Math.random().toString(36).slice(2)}`);
    await writeLog(file, { lines: LINES, urls: 10_000, seed: 7, startMs: START, spanSeconds: 3600 });
    return { file, bytes: statSync(file).size };
  };
  console.error(`bench:cluster: ${LINES} lines per log, ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const out: string[] = [];
  const rate = (s: number) => `${Math.round(LINES / s).toLocaleString('en-US')} events/s`;
  for (const replicas of [1, 3]) {
    const log = await fresh();
    const r = await run(replicas, 0, log.file, log.bytes);
    out.push(`sink publish, R${replicas}: ${rate(r.publishSeconds)} (${r.publishSeconds.toFixed(1)} s); stored ${(r.eventsBytes / LINES).toFixed(1)} bytes/event (raw ${(log.bytes / LINES).toFixed(1)})`);
    console.error(out.at(-1));
  }
  for (const counters of [1, 2]) {
    const log = await fresh();
    const r = await run(3, counters, log.file, log.bytes);
    out.push(`edge -> ${counters} counter(s) -> query, R3: ${rate(r.endToEndSeconds!)} (${r.endToEndSeconds!.toFixed(1)} s); partials ${(r.countsBytes / 1024).toFixed(0)} KiB = ${((100 * r.countsBytes) / r.rawBytes).toFixed(2)}% of the raw ${(r.rawBytes / 1048576).toFixed(1)} MiB`);
    console.error(out.at(-1));
  }
  console.log(out.join('\n'));
  console.log(`load after: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
}

main().then(() => process.exit(0), (err: Error) => {
  console.error(err);
  process.exit(1);
});
