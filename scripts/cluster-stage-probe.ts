#!/usr/bin/env node
/**
 * The cluster's three stages in one process, each timed alone (process CPU, the input made
 * before): a counter building partials (PartialBuilder), merge shards applying them
 * (ShardMerge), a query node combining the rows (ResultsCombiner). What bench:cluster
 * measures per process, without the processes, the sockets and the other helpers' load in
 * between; `--visitors off` counts the same dimensions without the clients, so one build
 * gives both sides of the cost of carrying visitors.
 *
 *   node dist/scripts/cluster-stage-probe.js --lines 500000 --urls 200000 --clients 1000 --visitors on
 *
 * Prints one JSON line: CPU seconds per stage and per 1M lines, and bytes of partials and rows.
 */
import { compileLineFormat } from '../daemon/logformat/log-format.js';
import { PartialBuilder } from '../daemon/cluster/partial-counts.js';
import { ShardMerge } from '../daemon/cluster/shard-merge.js';
import { ResultsCombiner } from '../daemon/cluster/results-combiner.js';
import { decodeResults } from '../daemon/cluster/results-wire.js';
import { generateLines } from './access-log-generator.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const LINES = Number(arg('--lines', '500000'));
const URLS = Number(arg('--urls', '200000'));
const CLIENTS = Number(arg('--clients', '1000'));
const VISITORS = arg('--visitors', 'on') === 'on';
const DIMS = arg('--dimensions', 'url status').split(/\s+/);
const PARTITIONS = 4;
const SHARDS = 2;
/** Lines per second of stored time (a partial per partition per second, as a counter cuts them). */
const PER_SECOND = 10_000;
const START = Date.UTC(2026, 0, 1);
const MAX_BYTES = 1024 * 1024 - 4096;

const format = compileLineFormat('combined');
const dims = DIMS.map((name) => ({ name, field: format.fieldNames.indexOf(name), visitors: VISITORS && name !== 'client' }));
const lines = [...generateLines({ lines: LINES, urls: URLS, clients: CLIENTS, seed: 7, startMs: START, spanSeconds: 3600, everyUrl: true })];
const seconds = Math.ceil(LINES / PER_SECOND);
// Per second and partition, the lines as one message body.
const bodies: Buffer[][] = [];
for (let s = 0; s < seconds; s++) {
  const parts: string[][] = Array.from({ length: PARTITIONS }, () => []);
  for (let i = s * PER_SECOND; i < Math.min(LINES, (s + 1) * PER_SECOND); i++) parts[i % PARTITIONS]!.push(lines[i]!);
  bodies.push(parts.map((p) => Buffer.from(p.join('\n'))));
}

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

// Counters: one builder a partial, as a counter makes them.
let t = cpu();
const partials: { shard: number; data: Buffer }[] = [];
for (let s = 0; s < seconds; s++) {
  for (let p = 0; p < PARTITIONS; p++) {
    const b = new PartialBuilder(format.parse, format.fieldNames.length, dims, 1000, false);
    const at = START + s * 1000 + 500;
    b.add(s + 1, bodies[s]![p]!, at);
    const shards = b.build({ partition: p, after: s, to: s + 1, atMs: at + 500, wmMs: at + 500 }, SHARDS, MAX_BYTES);
    shards.forEach((messages, shard) => messages.forEach((data) => partials.push({ shard, data })));
  }
}
const counterCpu = cpu() - t;

// Merge shards, then the query node, each over what the stage before made.
t = cpu();
const merges = Array.from({ length: SHARDS }, (_, shard) => new ShardMerge({ shard, shards: SHARDS, partitions: PARTITIONS, batchMs: 1000, windowMs: 300_000, slideMs: 1000, topN: 100, eventTime: false, watermarkMs: 0, idleTimeoutMs: 30_000, maxBytes: MAX_BYTES }));
const results: Buffer[][] = Array.from({ length: SHARDS }, () => []);
const seqs = new Int32Array(SHARDS);
for (const p of partials) {
  const m = merges[p.shard]!;
  m.apply(++seqs[p.shard]!, p.data);
  for (const o of m.outbox.splice(0)) results[p.shard]!.push(o.data);
}
const mergeCpu = cpu() - t;

t = cpu();
const combiner = new ResultsCombiner({ shards: SHARDS, topN: 100, batchMs: 1000, windowMs: 300_000, dims: dims.map((d) => ({ ...d, maxKeys: 0 })), history: true, state: undefined });
let seq = 0;
let historyBytes = 0;
const longest = Math.max(...results.map((r) => r.length));
for (let i = 0; i < longest; i++) {
  for (const r of results) if (i < r.length) combiner.add(++seq, decodeResults(r[i]!));
  if (i % 16 === 15) for (const b of combiner.take().batches) historyBytes += b.counts.length;
}
for (const b of combiner.take().batches) historyBytes += b.counts.length;
const queryCpu = cpu() - t;

const perM = (x: number) => Number(((x * 1e6) / LINES).toFixed(3));
const sum = (xs: Buffer[]) => xs.reduce((n, b) => n + b.length, 0);
console.log(JSON.stringify({
  visitors: VISITORS,
  lines: LINES,
  urls: URLS,
  clients: CLIENTS,
  dims: DIMS.join(' '),
  cpuPerMillion: { counter: perM(counterCpu), merge: perM(mergeCpu), query: perM(queryCpu) },
  bytesPerMillion: { partials: perM(sum(partials.map((p) => p.data)) / 1e6), rows: perM(sum(results.flat()) / 1e6), history: perM(historyBytes / 1e6) },
  messages: { partials: partials.length, results: results.flat().length },
  eventsCounted: combiner.shownCounters.eventsCounted,
}));
