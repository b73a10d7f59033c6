#!/usr/bin/env node
/**
 * Scale-out figures on this machine (docs/scaling-out.md, BENCHMARKS.md): a real NATS
 * cluster (nats-server) and real daemons, one per role, as the cluster tests run them.
 *
 *   npm run bench:cluster                          # 1,000,000 lines, 10,000 and 200,000 URLs
 *   npm run bench:cluster -- --lines 200000 --replicas 1
 *
 * On two cores every process and server shares the same CPUs, so events/s says little of
 * what the tiers can do apart. What carries over is the work per unit: the CPU seconds each
 * role's process spent (user + system, all threads, /api/stats `cpuSeconds`, less what it
 * spends idle: leases, heartbeats) per million lines, and per (URL, count) pair for the
 * merge workers and the query nodes, whose work grows with pairs, not lines. From those it
 * prints what 10M lines/s with 1M distinct URLs would take, tier by tier.
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
const LINES = arg('--lines', 1_000_000);
const REPLICAS = arg('--replicas', 3);
const PARTITIONS = arg('--partitions', 4);
const SHARDS = arg('--shards', 2);
const WORKLOADS = [arg('--urls', 10_000), arg('--many-urls', 200_000)];
const START = Date.UTC(2026, 0, 1);

function conf(): string {
  const keys = (prefix: string, values: Record<string, string | number>) => Object.entries(values).map(([k, v]) => `${prefix}.${k} = ${v}`).join('\n') + '\n';
  const http = (agent: string) => keys(`${agent}.http`, { bind: '127.0.0.1', port: 0 });
  const nats = { servers: '${NATS_SERVERS}', replicas: REPLICAS };
  return [
    'edge.sources = r1\nedge.channels = c1\nedge.sinks = k1\n',
    keys('edge.sources.r1', { type: 'spooldir', spoolDir: 'spool', batchSize: 1000, pollDelay: 50, channels: 'c1' }),
    keys('edge.channels.c1', { type: 'memory', capacity: 100_000, transactionCapacity: 10_000 }),
    keys('edge.sinks.k1', { type: 'jetstream', channel: 'c1', ...nats, partitions: PARTITIONS, 'batch-size': 10_000 }),
    http('edge'),
    'counter.jobs = j1\n',
    keys('counter.jobs.j1', { type: 'url-count-partial', ...nats, partitions: PARTITIONS, shards: SHARDS, time: 'processing' }),
    http('counter'),
    'merge.jobs = j1\n',
    keys('merge.jobs.j1', { type: 'url-count-merge', ...nats, partitions: PARTITIONS, shards: SHARDS, time: 'processing', windowDuration: 300, idleTimeout: 30 }),
    http('merge'),
    'query.jobs = j1\n',
    keys('query.jobs.j1', { type: 'url-window-count', input: 'jetstream', ...nats, shards: SHARDS, time: 'processing', windowDuration: 300, checkpointDir: 'checkpoint', database: 'results.db' }),
    http('query'),
  ].join('');
}

const ROLES = ['edge', 'counter', 'merge', 'query'] as const;
type Role = (typeof ROLES)[number];

interface ClusterStats {
  eventsIn: number;
  eventsCounted: number;
  parseErrors: number;
  cpuSeconds: number;
  cluster?: {
    counters: { partitions: { linesOut: number; pairsOut: number }[] }[];
    merges: { shards: { pairsIn: number; rowPairsOut: number; distinctUrls: number }[] }[];
  };
}

interface Run {
  readonly urls: number;
  readonly seconds: number;
  /** CPU seconds per role while the log went through, less the role's idle rate. */
  readonly cpu: Record<Role, number>;
  readonly idlePerSecond: Record<Role, number>;
  readonly counterPairs: number;
  readonly mergePairs: number;
  readonly rowPairs: number;
  readonly rawBytes: number;
  readonly streamBytes: Record<'events' | 'counts' | 'results', number>;
}

async function cpuOf(d: Record<Role, RunningDaemon>): Promise<Record<Role, number>> {
  const out = {} as Record<Role, number>;
  for (const r of ROLES) out[r] = (await d[r].get<ClusterStats>('/api/stats')).body.cpuSeconds;
  return out;
}

async function run(urls: number): Promise<Run> {
  const dir = tempDir('logflow-bench-cluster-');
  const log = path.join(dir, 'access.staged');
  await writeLog(log, { lines: LINES, urls, seed: 7, startMs: START, spanSeconds: 3600, everyUrl: true });
  const rawBytes = statSync(log).size;
  const cluster = await NatsCluster.start(path.join(dir, 'nats'), REPLICAS > 1 ? 3 : 1);
  process.env.NATS_SERVERS = cluster.servers;
  writeFileSync(path.join(dir, 'cluster.conf'), conf());
  mkdirSync(path.join(dir, 'spool'));
  const started: RunningDaemon[] = [];
  const nc = await connect({ servers: cluster.servers.split(',') });
  try {
    const list = await Promise.all(ROLES.map(async (r) => {
      const d = await startDaemon(dir, ['--conf-file', 'cluster.conf', '--name', r], 60_000);
      started.push(d);
      return d;
    }));
    const d = Object.fromEntries(ROLES.map((r, i) => [r, list[i]!])) as Record<Role, RunningDaemon>;
    // Every tier connected and idle (leases, heartbeats): that rate is taken off below.
    await new Promise((r) => setTimeout(r, 4_000));
    const idle0 = await cpuOf(d);
    const idleStart = performance.now();
    await new Promise((r) => setTimeout(r, 3_000));
    const idle1 = await cpuOf(d);
    const idleSeconds = (performance.now() - idleStart) / 1000;
    const idlePerSecond = Object.fromEntries(ROLES.map((r) => [r, (idle1[r] - idle0[r]) / idleSeconds])) as Record<Role, number>;

    const t0 = performance.now();
    renameSync(log, path.join(dir, 'spool', 'access.log'));
    await waitFor('the edge to finish', () => (existsSync(path.join(dir, 'spool', 'access.log.COMPLETED')) ? true : undefined), 1_800_000);
    // Every line in the query node's results (counted, or a parse error), written.
    await waitFor('the query node to hold every line', async () => {
      const s = (await d.query.get<ClusterStats>('/api/stats')).body;
      return s.eventsCounted + s.parseErrors >= LINES ? true : undefined;
    }, 1_800_000);
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = await cpuOf(d);
    const cpu = Object.fromEntries(ROLES.map((r) => [r, Math.max(0, cpu1[r] - idle1[r] - idlePerSecond[r] * seconds)])) as Record<Role, number>;
    const counter = (await d.counter.get<ClusterStats>('/api/stats')).body.cluster!.counters[0]!.partitions;
    const merge = (await d.merge.get<ClusterStats>('/api/stats')).body.cluster!.merges[0]!.shards;
    const jsm = await jetstreamManager(nc);
    const bytes = async (s: string) => (await jsm.streams.info(s).catch(() => undefined))?.state.bytes ?? 0;
    return {
      urls,
      seconds,
      cpu,
      idlePerSecond,
      counterPairs: counter.reduce((n, p) => n + p.pairsOut, 0),
      mergePairs: merge.reduce((n, s) => n + s.pairsIn, 0),
      rowPairs: merge.reduce((n, s) => n + s.rowPairsOut, 0),
      rawBytes,
      streamBytes: { events: await bytes('LOGFLOW_EVENTS'), counts: await bytes('LOGFLOW_COUNTS'), results: await bytes('LOGFLOW_RESULTS') },
    };
  } finally {
    await nc.close();
    for (const p of started) await p.stop('SIGKILL');
    await cluster.stop();
  }
}

/**
 * The generator's URL popularity (access-log-generator.ts: index floor(urls^u) - 1, u
 * uniform): P(index k) = ln((k + 2) / (k + 1)) / ln(urls + 1). Expected distinct URLs in n
 * lines: the sum over URLs of 1 - (1 - p)^n.
 */
function distinctIn(n: number, urls: number): number {
  const logU = Math.log(urls + 1);
  let sum = 0;
  for (let k = 0; k < urls; k++) {
    const p = Math.log((k + 2) / (k + 1)) / logU;
    sum += -Math.expm1(n * Math.log1p(-p));
  }
  return sum;
}

async function main(): Promise<void> {
  if (!NATS_SERVER) throw new Error('nats-server is not installed (apt-get install nats-server)');
  const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');
  console.error(`bench:cluster: ${LINES.toLocaleString('en-US')} lines, R${REPLICAS}, ${PARTITIONS} partitions, ${SHARDS} shards, ${os.cpus().length} cores, load ${load()}`);
  const out: string[] = [];
  const runs: Run[] = [];
  const f = (n: number, digits = 2) => n.toFixed(digits);
  for (const urls of WORKLOADS) {
    const r = await run(urls);
    runs.push(r);
    const perM = (role: Role) => f((r.cpu[role] * 1e6) / LINES);
    out.push(
      `${urls.toLocaleString('en-US')} URLs: ${Math.round(LINES / r.seconds).toLocaleString('en-US')} lines/s end to end (${f(r.seconds, 1)} s, every process on the same 2 cores)`,
      `  CPU s per 1M lines: edge ${perM('edge')}, counter ${perM('counter')}, merge ${perM('merge')}, query ${perM('query')} (idle per s: ${ROLES.map((x) => `${x} ${f(r.idlePerSecond[x], 3)}`).join(', ')})`,
      `  pairs: counters out ${r.counterPairs.toLocaleString('en-US')} (${f(r.counterPairs / LINES, 3)}/line), merge in ${r.mergePairs.toLocaleString('en-US')}, rows out ${r.rowPairs.toLocaleString('en-US')}`,
      `  per pair: merge ${f((r.cpu.merge * 1e6) / r.mergePairs)} us per pair in; query ${f((r.cpu.query * 1e6) / r.rowPairs)} us per row pair`,
      `  stored bytes / raw: events ${f((100 * r.streamBytes.events) / r.rawBytes, 1)}% (trimmed as counted), counts ${f((100 * r.streamBytes.counts) / r.rawBytes, 2)}%, results ${f((100 * r.streamBytes.results) / r.rawBytes, 2)}%`,
    );
    console.error(out.slice(-5).join('\n'));
  }
  // 10M lines/s, 1M distinct URLs, 96 partitions, 1 s batches, 16 shards: the tiers' cores.
  const many = runs.at(-1)!;
  const linesPerS = 10_000_000;
  const partitions = 96;
  const shards = 16;
  const perPartition = distinctIn(linesPerS / partitions, 1_000_000);
  const counterPairsPerS = perPartition * partitions;
  const rowPairsPerS = distinctIn(linesPerS, 1_000_000);
  const cores = {
    edge: (linesPerS * many.cpu.edge) / LINES,
    counter: (linesPerS * many.cpu.counter) / LINES,
    merge: (counterPairsPerS * many.cpu.merge) / many.mergePairs,
    query: (rowPairsPerS * many.cpu.query) / many.rowPairs,
  };
  out.push(
    `10M lines/s, 1M URLs (this generator's popularity), ${partitions} partitions, 1 s batches, ${shards} merge shards:`,
    `  pairs/s: counters out ${Math.round(counterPairsPerS).toLocaleString('en-US')} (${Math.round(perPartition).toLocaleString('en-US')} per partition), rows out ${Math.round(rowPairsPerS).toLocaleString('en-US')} (${Math.round(rowPairsPerS / shards).toLocaleString('en-US')} per shard)`,
    `  cores (at this box's speed): edges ${f(cores.edge, 1)}, counters ${f(cores.counter, 1)}, merge workers ${f(cores.merge, 1)} (${f(cores.merge / shards)} per shard), a query node with history ${f(cores.query, 1)} (without: the shards' tops only)`,
  );
  console.log(out.join('\n'));
  console.log(`load after: ${load()}`);
}

main().then(() => process.exit(0), (err: Error) => {
  console.error(err);
  process.exit(1);
});
