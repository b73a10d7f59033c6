#!/usr/bin/env node
/**
 * Scale-out cost on this machine (docs/scaling-out.md, BENCHMARKS.md): a real nats-server
 * and real daemons, one process per role, in the topology of conf/cluster/*.conf and
 * test/scaleout-exact.test.ts: edge -> counters -> merge workers (sharded by URL) -> query node.
 *
 *   npm run bench:cluster                                   # 1,000,000 lines, 200,000 URLs, 1 then 2 counters
 *   npm run bench:cluster -- --lines 100000 --counters 1,2,3 --merges 2 --replicas 3
 *   npm run bench:cluster -- --dimensions 'url status'        # what counters and the query node count by (default: url)
 *
 * On two cores every process shares the same CPUs, so events/s says little of what the
 * tiers can do apart. What carries over is the work per unit: each process's CPU seconds
 * (utime + stime from /proc/PID/stat, all threads), less what it spends idle (leases,
 * heartbeats: measured for 5 s before the log arrives), per million events, and per
 * (URL, count) pair or message for the merge workers and the query node, whose work grows
 * with pairs, not lines. From those it prints what 10M lines/s with 1M URLs would take.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { writeLog } from './access-log-generator.js';
import { startDaemon, tempDir, waitFor, type RunningDaemon } from './lib/daemon-process.js';
import { NatsCluster, NATS_SERVER } from './lib/nats-cluster.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const LINES = Number(arg('--lines', '1000000'));
const URLS = Number(arg('--urls', '200000'));
const REPLICAS = Number(arg('--replicas', '1'));
const PARTITIONS = Number(arg('--partitions', '4'));
const SHARDS = Number(arg('--shards', '2'));
const MERGES = Number(arg('--merges', '1'));
const COUNTERS = arg('--counters', '1,2').split(',').map(Number);
/** The URL-only path by default (the figures before the dimensions were carried); `url status` is a job's default. */
const DIMENSIONS = arg('--dimensions', 'url');
const START = Date.UTC(2026, 0, 1);
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function conf(): string {
  const keys = (prefix: string, values: Record<string, string | number>) => Object.entries(values).map(([k, v]) => `${prefix}.${k} = ${v}`).join('\n') + '\n';
  const http = (agent: string) => keys(`${agent}.http`, { bind: '127.0.0.1', port: 0 });
  const nats = { servers: '${NATS_SERVERS}', replicas: REPLICAS };
  return [
    'edge.sources = r1\nedge.channels = c1\nedge.sinks = k1\n',
    keys('edge.sources.r1', { type: 'spooldir', spoolDir: 'spool', batchSize: 1000, pollDelay: 50, channels: 'c1' }),
    keys('edge.channels.c1', { type: 'memory', capacity: 100_000, transactionCapacity: 10_000 }),
    keys('edge.sinks.k1', { type: 'jetstream', channel: 'c1', ...nats, partitions: PARTITIONS, partitionExtent: 1024 * 1024, 'batch-size': 1000 }),
    http('edge'),
    'counter.jobs = j1\n',
    keys('counter.jobs.j1', { type: 'url-count-partial', ...nats, partitions: PARTITIONS, shards: SHARDS, time: 'processing', batchInterval: 1, leaseTimeout: 3, dimensions: DIMENSIONS }),
    http('counter'),
    'merge.jobs = j1\n',
    keys('merge.jobs.j1', { type: 'url-count-merge', ...nats, partitions: PARTITIONS, shards: SHARDS, time: 'processing', batchInterval: 1, windowDuration: 300, slideDuration: 1, idleTimeout: 30, leaseTimeout: 3 }),
    http('merge'),
    'query.jobs = j1\n',
    keys('query.jobs.j1', { type: 'url-window-count', input: 'jetstream', ...nats, shards: SHARDS, time: 'processing', batchInterval: 1, windowDuration: 300, slideDuration: 1, checkpointDir: 'checkpoint', database: 'results.db', dimensions: DIMENSIONS }),
    http('query'),
  ].join('');
}

/** CPU seconds (user + system, every thread) a process has used, from /proc/PID/stat. */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), in parentheses: utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

interface ClusterStats {
  eventsIn: number;
  eventsCounted: number;
  parseErrors: number;
  historyOnlyEvents: number;
  cluster?: {
    counters: { partitions: { linesOut: number; pairsOut: number }[] }[];
    merges: { shards: { pairsIn: number; rowPairsOut: number }[] }[];
  };
}

interface Proc {
  readonly role: string;
  readonly pid: number;
}

interface Run {
  readonly counters: number;
  readonly seconds: number;
  /** CPU seconds per process while the log went through, less its idle rate. */
  readonly cpu: Map<string, number>;
  readonly idlePerSecond: Map<string, number>;
  readonly counterPairs: number;
  readonly mergePairs: number;
  readonly rowPairs: number;
  /** Messages published to LOGFLOW_COUNTS (partials) and LOGFLOW_RESULTS (merge results). */
  readonly partials: number;
  readonly results: number;
  /** Bytes of those messages' payloads (as published: a stream trims what is consumed). */
  readonly partialBytes: number;
  readonly resultBytes: number;
  /** The query node's figures at the end: every line should be counted, none late. */
  readonly counted: Pick<ClusterStats, 'eventsIn' | 'eventsCounted' | 'parseErrors' | 'historyOnlyEvents'>;
}

const sumOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

async function run(staged: string, counters: number): Promise<Run> {
  const dir = tempDir('logflow-bench-cluster-');
  const cluster = await NatsCluster.start(path.join(dir, 'nats'), REPLICAS > 1 ? 3 : 1);
  process.env.NATS_SERVERS = cluster.servers;
  writeFileSync(path.join(dir, 'cluster.conf'), conf());
  mkdirSync(path.join(dir, 'spool'));
  const started: RunningDaemon[] = [];
  const nc = await connect({ servers: cluster.servers.split(',') });
  const start = async (name: string) => {
    const d = await startDaemon(dir, ['--conf-file', 'cluster.conf', '--name', name], 60_000);
    started.push(d);
    return d;
  };
  try {
    const query = await start('query');
    const merges: RunningDaemon[] = [];
    for (let i = 0; i < MERGES; i++) merges.push(await start('merge'));
    const counterDs: RunningDaemon[] = [];
    for (let i = 0; i < counters; i++) counterDs.push(await start('counter'));
    const edge = await start('edge');
    const stats = async (d: RunningDaemon) => (await d.get<ClusterStats>('/api/stats')).body;
    // Each counter and merge worker holding its fair share, so the log is split as it would be.
    await waitFor('the counters and merge workers balanced', async () => {
      for (const c of counterDs) if ((await stats(c)).cluster?.counters[0]?.partitions.length !== Math.ceil(PARTITIONS / counters)) return undefined;
      for (const m of merges) if ((await stats(m)).cluster?.merges[0]?.shards.length !== Math.ceil(SHARDS / MERGES)) return undefined;
      return true;
    }, 120_000);
    const procs: Proc[] = [
      { role: 'edge', pid: edge.proc.pid! },
      ...counterDs.map((d, i) => ({ role: `counter ${i + 1}`, pid: d.proc.pid! })),
      ...merges.map((d, i) => ({ role: `merge ${i + 1}`, pid: d.proc.pid! })),
      { role: 'query', pid: query.proc.pid! },
      ...cluster.pids.map((pid, i) => ({ role: `nats-server ${i + 1}`, pid })),
    ];
    const cpuNow = () => new Map(procs.map((p) => [p.role, cpuSecondsOf(p.pid)]));
    // Every tier connected and idle (leases, heartbeats): that rate is taken off below.
    await new Promise((r) => setTimeout(r, 2_000));
    const idle0 = cpuNow();
    const idleStart = performance.now();
    await new Promise((r) => setTimeout(r, 5_000));
    const idle1 = cpuNow();
    const idleSeconds = (performance.now() - idleStart) / 1000;
    const idlePerSecond = new Map(procs.map((p) => [p.role, (idle1.get(p.role)! - idle0.get(p.role)!) / idleSeconds]));

    // The payloads published on the counts and results subjects (core subscriptions: they see every publish).
    const payloads = new Map<string, number>();
    for (const subject of ['logflow.counts', 'logflow.results']) {
      payloads.set(subject, 0);
      const sub = nc.subscribe(`${subject}.>`);
      void (async () => {
        for await (const m of sub) payloads.set(subject, payloads.get(subject)! + m.data.length);
      })();
    }
    await nc.flush();
    const t0 = performance.now();
    copyFileSync(staged, path.join(dir, 'access.staged'));
    renameSync(path.join(dir, 'access.staged'), path.join(dir, 'spool', 'access.log'));
    await waitFor('the edge to finish', () => (existsSync(path.join(dir, 'spool', 'access.log.COMPLETED')) ? true : undefined), 300_000);
    // Every line in the merge workers' results read by the query node.
    await waitFor('the query node to hold every line', async () => ((await stats(query)).eventsIn >= LINES ? true : undefined), 300_000);
    const seconds = (performance.now() - t0) / 1000;
    // And counted in a window: a line late in processing time is a defect (it was, 1 run in
    // ~10: a merge shard's first batch fixed before the watermark passed it). Said, not hung on.
    const counted = await waitFor('every line counted in a window', async () => {
      const s = await stats(query);
      return s.eventsCounted + s.parseErrors >= LINES ? s : undefined;
    }, 60_000).catch(() => stats(query));
    const cpu1 = cpuNow();
    const cpu = new Map(procs.map((p) => [p.role, Math.max(0, cpu1.get(p.role)! - idle1.get(p.role)! - idlePerSecond.get(p.role)! * seconds)]));
    const counterParts = (await Promise.all(counterDs.map(stats))).flatMap((s) => s.cluster!.counters[0]!.partitions);
    const shardParts = (await Promise.all(merges.map(stats))).flatMap((s) => s.cluster!.merges[0]!.shards);
    const jsm = await jetstreamManager(nc);
    const published = async (s: string) => (await jsm.streams.info(s).catch(() => undefined))?.state.last_seq ?? 0;

    return {
      counters,
      seconds,
      cpu,
      idlePerSecond,
      counterPairs: sumOf(counterParts.map((p) => p.pairsOut)),
      mergePairs: sumOf(shardParts.map((s) => s.pairsIn)),
      rowPairs: sumOf(shardParts.map((s) => s.rowPairsOut)),
      partials: await published('LOGFLOW_COUNTS'),
      results: await published('LOGFLOW_RESULTS'),
      partialBytes: payloads.get('logflow.counts')!,
      resultBytes: payloads.get('logflow.results')!,
      counted: { eventsIn: counted.eventsIn, eventsCounted: counted.eventsCounted, parseErrors: counted.parseErrors, historyOnlyEvents: counted.historyOnlyEvents },
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
  console.error(`bench:cluster: ${LINES.toLocaleString('en-US')} lines, ${URLS.toLocaleString('en-US')} URLs, R${REPLICAS}, ${PARTITIONS} partitions, ${SHARDS} shards, ${MERGES} merge worker(s), counters ${COUNTERS.join(' then ')}, dimensions ${DIMENSIONS}, ${os.cpus().length} cores, load ${load()}`);
  const dir = tempDir('logflow-bench-cluster-log-');
  const staged = path.join(dir, 'access.staged');
  await writeLog(staged, { lines: LINES, urls: URLS, seed: 7, startMs: START, spanSeconds: 3600, everyUrl: true });
  console.error(`  log: ${(statSync(staged).size / LINES).toFixed(1)} bytes per line`);
  const f = (n: number, digits = 2) => n.toFixed(digits);
  const perM = (cpu: number) => f((cpu * 1e6) / LINES);
  const runs: Run[] = [];
  for (const n of COUNTERS) {
    const r = await run(staged, n);
    runs.push(r);
    const c = r.counted;
    console.error(`  ${n} counter(s): ${f(r.seconds, 1)} s, load ${load()}; query node: eventsIn ${c.eventsIn}, eventsCounted ${c.eventsCounted}, parseErrors ${c.parseErrors}, historyOnlyEvents ${c.historyOnlyEvents}`);
  }
  const out: string[] = [];
  const roles = [...new Set(runs.flatMap((r) => [...r.cpu.keys()]))];
  out.push(`CPU seconds per 1M events (${LINES.toLocaleString('en-US')} lines, ${URLS.toLocaleString('en-US')} URLs; idle rate taken off):`, '');
  out.push(`| role | ${runs.map((r) => `${r.counters} counter${r.counters > 1 ? 's' : ''}`).join(' | ')} |`, `|---|${runs.map(() => '---:').join('|')}|`);
  for (const role of roles) out.push(`| ${role} | ${runs.map((r) => (r.cpu.has(role) ? perM(r.cpu.get(role)!) : '')).join(' | ')} |`);
  const total = (r: Run, prefix?: string) => sumOf([...r.cpu].filter(([k]) => !prefix || k.startsWith(prefix)).map(([, v]) => v));
  out.push(`| all counters | ${runs.map((r) => perM(total(r, 'counter'))).join(' | ')} |`);
  out.push(`| total | ${runs.map((r) => perM(total(r))).join(' | ')} |`);
  out.push(`| wall seconds, rename to every line at the query node | ${runs.map((r) => f(r.seconds, 1)).join(' | ')} |`);
  out.push(`| query node: eventsCounted (historyOnlyEvents) | ${runs.map((r) => `${r.counted.eventsCounted.toLocaleString('en-US')} (${r.counted.historyOnlyEvents})`).join(' | ')} |`);
  out.push(`| counter pairs out (= merge pairs in) | ${runs.map((r) => `${r.counterPairs.toLocaleString('en-US')} (${r.mergePairs.toLocaleString('en-US')})`).join(' | ')} |`);
  out.push(`| partial messages (LOGFLOW_COUNTS) / result messages (LOGFLOW_RESULTS) | ${runs.map((r) => `${r.partials} / ${r.results}`).join(' | ')} |`);
  out.push(`| bytes per partial message / per result message (payloads) | ${runs.map((r) => `${f(r.partialBytes / Math.max(1, r.partials), 0)} / ${f(r.resultBytes / Math.max(1, r.results), 0)}`).join(' | ')} |`);
  out.push(`| partial / result bytes per 1M events | ${runs.map((r) => `${f((r.partialBytes * 1e6) / LINES / 1e6, 1)} / ${f((r.resultBytes * 1e6) / LINES / 1e6, 1)} MB`).join(' | ')} |`);
  out.push(`| merge workers: us per pair in / ms per partial message | ${runs.map((r) => `${f((total(r, 'merge') * 1e6) / r.mergePairs)} / ${f((total(r, 'merge') * 1e3) / r.partials)}`).join(' | ')} |`);
  out.push(`| query node: us per row pair / ms per result message | ${runs.map((r) => `${f((r.cpu.get('query')! * 1e6) / r.rowPairs)} / ${f((r.cpu.get('query')! * 1e3) / r.results)}`).join(' | ')} |`);
  out.push(`| idle CPU s per s (taken off) | ${runs.map((r) => [...r.idlePerSecond].map(([k, v]) => `${k} ${f(v, 3)}`).join(', ')).join(' | ')} |`);
  if (runs.length > 1) {
    const one = runs[0]!;
    const last = runs.at(-1)!;
    out.push('', `all counters' CPU per event, ${last.counters} counters vs ${one.counters}: ${f((100 * total(last, 'counter')) / total(one, 'counter') - 100, 1)}%; every process: ${f((100 * total(last)) / total(one) - 100, 1)}%`);
  }
  // 10M lines/s, 1M distinct URLs, 96 partitions, 1 s batches, 16 shards: the tiers' cores.
  const r = runs.at(-1)!;
  const linesPerS = 10_000_000;
  const partitions = 96;
  const shards = 16;
  const perPartition = distinctIn(linesPerS / partitions, 1_000_000);
  const counterPairsPerS = perPartition * partitions;
  const rowPairsPerS = distinctIn(linesPerS, 1_000_000);
  const cores = {
    edge: (linesPerS * total(r, 'edge')) / LINES,
    counter: (linesPerS * total(r, 'counter')) / LINES,
    merge: (counterPairsPerS * total(r, 'merge')) / r.mergePairs,
    query: (rowPairsPerS * total(r, 'query')) / r.rowPairs,
    nats: (linesPerS * total(r, 'nats')) / LINES,
  };
  out.push(
    '',
    `10M lines/s, 1M URLs (this generator's popularity), ${partitions} partitions, 1 s batches, ${shards} merge shards, from the ${r.counters}-counter run:`,
    `  pairs/s: counters out ${Math.round(counterPairsPerS).toLocaleString('en-US')} (${Math.round(perPartition).toLocaleString('en-US')} per partition), rows out ${Math.round(rowPairsPerS).toLocaleString('en-US')} (${Math.round(rowPairsPerS / shards).toLocaleString('en-US')} per shard)`,
    `  cores (at this box's speed): edges ${f(cores.edge, 1)}, counters ${f(cores.counter, 1)}, merge workers ${f(cores.merge, 1)} (${f(cores.merge / shards)} per shard), query node ${f(cores.query, 1)}, nats-server at R${REPLICAS} ${f(cores.nats, 1)}`,
  );
  console.log(out.join('\n'));
  console.log(`load after: ${load()}`);
}

main().then(() => process.exit(0), (err: Error) => {
  console.error(err);
  process.exit(1);
});
