#!/usr/bin/env node
/**
 * The benchmark: generates its inputs (seeded), runs the daemon as a user would (a child
 * process, files renamed into its spool), measures every target of the performance issue
 * in one run and prints one table. Exits 1 if a target is missed.
 *
 *   npm run bench                 # the full run (1M-line and 10M-line logs; a few minutes)
 *   npm run bench -- --smoke      # small inputs, targets not enforced (part of npm test)
 *   npm run bench -- --only e2e,history   # some parts only (references, e2e, latency, rpc, filechannel, memory, history, rangeload, eventtime, replay, decade, analyze, dimensions, tail, tailscale, subsecond, postgres, start)
 *   npm run bench -- --set a1.http.pipelineNice=0   # the daemon's config with a key changed (repeatable)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, closeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { batchFromLines, FileChannel, type EventBatch } from '../daemon/channel/index.js';
import { AvroRpcClient } from '../daemon/avro/index.js';
import { LogAnalyzer } from '../daemon/analyze/analyzer.js';
import { readLogLines } from '../daemon/analyze/log-lines.js';
import { generateLines, writeLog } from './access-log-generator.js';
import { startDaemon, tempDir, writeConfig, type RunningDaemon } from './lib/daemon-process.js';
import { PostgresServer, skipWithoutPostgres } from './lib/postgres-server.js';
import { encodeCounts, ResultsStore, SqliteQueries, type BatchResult, type ResultItem, type ResultsQueries, type WindowResultSink } from '../daemon/store/index.js';
import { PostgresQueries } from '../daemon/store/postgres/postgres-queries.js';
import { WindowSet } from '../daemon/counts/window-set.js';
import { PostgresResultsStore } from '../daemon/store/postgres/postgres-store.js';
import { pino } from 'pino';
import { subSecond, tailLatency, tailScale } from './lib/bench-tail.js';
import { daemonStart } from './lib/bench-start.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const smoke = process.argv.includes('--smoke');
/** `--set KEY=VALUE` pairs, applied to every daemon the benchmark starts. */
const SETTINGS: Record<string, string> = Object.fromEntries(
  process.argv.flatMap((a, i) => (process.argv[i - 1] === '--set' ? [[a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]] : [])),
);
const SIZES = smoke
  ? { lines: 8_000, bigLines: 20_000, bigUrls: 8_000, repeat: 1, loadSeconds: 1, rpcSeconds: 0.5 }
  : { lines: 1_000_000, bigLines: 10_000_000, bigUrls: 1_000_000, repeat: 3, loadSeconds: 5, rpcSeconds: 3 };

interface Row {
  figure: string;
  target: string;
  measured: string;
  pass: boolean;
}
const rows: Row[] = [];
const row = (figure: string, target: string, measured: string, pass: boolean) => {
  rows.push({ figure, target, measured, pass });
  console.error(`  ${figure}: ${measured} (${pass ? 'pass' : 'FAIL'})`);
};

interface Stats {
  eventsIn: number;
  eventsCounted: number;
  parseErrors: number;
  window?: { distinctUrls: number; lastSlideMs: number; maxSlideMs: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** The reference: read the file in 1 MiB chunks and split it into line strings. */
function bareReadAndSplit(file: string): { lines: number; ms: number } {
  const started = performance.now();
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  let lines = 0;
  let rest = '';
  for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) {
    const parts = (rest + buf.toString('latin1', 0, n)).split('\n');
    rest = parts.pop()!;
    lines += parts.length;
  }
  closeSync(fd);
  if (rest) lines++;
  return { lines, ms: performance.now() - started };
}

async function daemonIn(dir: string, overrides: Record<string, string> = {}): Promise<RunningDaemon> {
  mkdirSync(path.join(dir, 'spool'), { recursive: true });
  await writeConfig(dir, '', { ...SETTINGS, ...overrides });
  return startDaemon(dir, ['--conf-file', 'agent.conf'], 30_000);
}

/** Renames a prepared file into the spool and follows /api/stats until all of it is in. */
async function ingest(d: RunningDaemon, dir: string, file: string, lines: number, onTick?: (s: Stats) => void, fileLines = lines) {
  const before = (await d.get<Stats>('/api/stats')).body;
  const target = before.eventsCounted + before.parseErrors + lines;
  const dropped = performance.now();
  renameSync(file, path.join(dir, 'spool', path.basename(file)));
  let countedMs = 0;
  for (;;) {
    const { body } = await d.get<Stats>('/api/stats');
    onTick?.(body);
    if (!countedMs && body.eventsIn >= before.eventsIn + fileLines) countedMs = performance.now() - dropped;
    if (body.eventsCounted + body.parseErrors >= target) return { countedMs, visibleMs: performance.now() - dropped };
    // Every 20 ms: each poll asks the pipeline's thread for its figures (at every 5 ms, 9% of
    // that thread's time during an event-time replay, cpu profile); the figures move by <1%.
    await sleep(20);
  }
}

/** CPU seconds (user + system, all threads) the process has used so far (Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name; in clock ticks (100 per second).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds per thread of the process so far (Linux): thread id -> seconds. */
function threadCpuSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      out.set(tid, (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // (a thread that ended meanwhile)
    }
  }
  return out;
}

/** The busiest threads between two readings, for the log: "main 1.20 s, 1234 0.80 s, ...". */
function busiestThreads(pid: number, before: Map<string, number>, after: Map<string, number>): string {
  return [...after]
    .map(([tid, s]) => [tid === String(pid) ? 'main' : `thread ${tid} (${threadName(pid, tid)})`, s - (before.get(tid) ?? 0)] as const)
    .filter(([, s]) => s >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .map(([name, s]) => `${name} ${s.toFixed(2)} s`)
    .join(', ');
}

/** A thread's name (Linux comm): node's worker threads and its helper threads. */
function threadName(pid: number, tid: string): string {
  try {
    return readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** A file written in advance: old enough that the source trusts it at once. */
async function prepare(dir: string, name: string, options: Parameters<typeof writeLog>[1]): Promise<string> {
  const file = path.join(dir, name);
  await writeLog(file, options);
  const past = new Date(Date.now() - 60_000);
  utimesSync(file, past, past);
  return file;
}

async function endToEnd(work: string): Promise<void> {
  console.error(`end to end: ${fmt(SIZES.lines)} lines, ${SIZES.repeat} runs`);
  const rates: number[] = [];
  const visible: number[] = [];
  const bare: number[] = [];
  for (let r = 0; r < SIZES.repeat; r++) {
    const dir = path.join(work, `e2e-${r}`);
    mkdirSync(dir, { recursive: true });
    const file = await prepare(dir, 'access.log', { lines: SIZES.lines, urls: 10_000, seed: 7 + r, malformed: 0.001 });
    const ref = bareReadAndSplit(file);
    bare.push(ref.lines / (ref.ms / 1000));
    const d = await daemonIn(dir);
    const threadsBefore = threadCpuSeconds(d.proc.pid!);
    const t = await ingest(d, dir, file, SIZES.lines);
    console.error(`  run ${r + 1}: ${fmt(SIZES.lines / (t.countedMs / 1000))} lines/s (bare ${fmt(ref.lines / (ref.ms / 1000))}); CPU by thread: ${busiestThreads(d.proc.pid!, threadsBefore, threadCpuSeconds(d.proc.pid!))}`);
    rates.push(SIZES.lines / (t.countedMs / 1000));
    visible.push(t.visibleMs);
    await d.stop();
  }
  const rate = median(rates);
  const bareRate = median(bare);
  const size = statSync(path.join(work, 'e2e-0', 'spool', 'access.log.COMPLETED')).size;
  // Issue 28's targets: 2M lines/s, >= 0.30 of the bare read-and-split (the share holds on a slower box), >= 30x GoAccess.
  row(`end to end, ${fmt(SIZES.lines)} lines (${(size / 1e6).toFixed(0)} MB): lines/s from rename to counted`, '>= 2,000,000', fmt(rate), rate >= 2_000_000);
  row('  same, as a share of the bare read-and-split rate', `>= 30% (of ${fmt(bareRate)} lines/s)`, `${((100 * rate) / bareRate).toFixed(1)}%`, rate >= 0.3 * bareRate);
  if (goaccessRate !== undefined) row('  same, as a multiple of GoAccess on the same log (references part)', '>= 30x', `${(rate / goaccessRate).toFixed(1)}x`, rate >= 30 * goaccessRate);
  row('  rename to persisted in /api/top (includes the wait for the 1 s batch to close)', '<= counted + 1 s', `${(median(visible) / 1000).toFixed(2)} s`, median(visible) <= SIZES.lines / rate * 1000 + 1200);
}

/** GoAccess's rate on the end-to-end log, when the references part ran (before end to end). */
let goaccessRate: number | undefined;

/** The references on the end-to-end log: the bare read-and-split and GoAccess (if installed), median of the runs. */
async function references(work: string): Promise<void> {
  const dir = path.join(work, 'references');
  mkdirSync(dir, { recursive: true });
  const file = await prepare(dir, 'access.log', { lines: SIZES.lines, urls: 10_000, seed: 7, malformed: 0.001 });
  const bare: number[] = [];
  const goaccess: number[] = [];
  const hasGoaccess = spawnSync('goaccess', ['--version']).status === 0;
  for (let r = 0; r < SIZES.repeat; r++) {
    const ref = bareReadAndSplit(file);
    bare.push(ref.lines / (ref.ms / 1000));
    if (hasGoaccess) {
      const started = performance.now();
      const g = spawnSync('goaccess', [file, '--log-format=COMBINED', '--no-progress', '-o', path.join(dir, 'report.json')], { stdio: 'ignore' });
      if (g.status === 0) goaccess.push(SIZES.lines / ((performance.now() - started) / 1000));
    }
  }
  console.error(`  bare read-and-split runs: ${bare.map(fmt).join(', ')}; GoAccess runs: ${goaccess.map(fmt).join(', ')}`);
  row(`bare read-and-split of the end-to-end log, ${fmt(SIZES.lines)} lines: lines/s, median of ${bare.length}`, 'informational', fmt(median(bare)), true);
  if (goaccess.length) row(`GoAccess ${'on the same log (COMBINED, JSON report)'}: lines/s, median of ${goaccess.length}`, 'informational', fmt(median(goaccess)), true);
  if (goaccess.length) goaccessRate = median(goaccess);
}

async function memorySlidesAndQueries(work: string): Promise<void> {
  console.error(`memory, slides, queries: ${fmt(SIZES.bigLines)} lines, up to ${fmt(SIZES.bigUrls)} URLs`);
  const dir = path.join(work, 'big');
  mkdirSync(dir, { recursive: true });
  const small = await prepare(dir, 'small.log', { lines: SIZES.lines, urls: SIZES.bigUrls, seed: 11 });
  const big = await prepare(dir, 'big.log', { lines: SIZES.bigLines, urls: SIZES.bigUrls, seed: 12, everyUrl: true });
  const d = await daemonIn(dir);
  const pid = d.proc.pid!;
  await ingest(d, dir, small, SIZES.lines);
  const rssSmall = peakRssMb(pid);

  // The load generator runs while the big file ingests at full speed.
  let load: Promise<{ p99: number; rps: number; errors: number }> | undefined;
  let maxSlide = 0;
  let distinct = 0;
  const t = await ingest(d, dir, big, SIZES.bigLines, (s) => {
    load ??= runLoad(d.url);
    if (s.window && s.window.distinctUrls >= distinct) {
      distinct = s.window.distinctUrls;
      maxSlide = Math.max(maxSlide, s.window.lastSlideMs);
    }
  });
  const rssBig = peakRssMb(pid);
  const q = await load!;
  // Slides with the whole window in place: a steady trickle of new lines enters each batch.
  const slides: number[] = [];
  let inWindow = 0;
  for (let i = 0; i < (smoke ? 2 : 6); i++) {
    const trickle = await prepare(dir, `trickle-${i}.log`, { lines: 20_000, urls: SIZES.bigUrls, seed: 100 + i });
    await ingest(d, dir, trickle, 20_000);
    const w = (await d.get<Stats>('/api/stats')).body.window!;
    slides.push(w.lastSlideMs);
    inWindow = w.distinctUrls;
  }
  const rssEnd = peakRssMb(pid);
  const idle = await runLoad(d.url);
  await d.stop();

  row(`peak RSS, ${fmt(SIZES.bigLines)}-line log, ${fmt(distinct)} distinct URLs`, '<= 400 MB', `${Math.max(rssBig, rssEnd).toFixed(0)} MB`, Math.max(rssBig, rssEnd) <= 400);
  row(`  peak RSS after the ${fmt(SIZES.lines)}-line log (memory does not grow with file size)`, 'informational', `${rssSmall.toFixed(0)} MB`, true);
  row(`  ingest rate of the big log`, 'informational', `${fmt(SIZES.bigLines / (t.countedMs / 1000))} lines/s`, true);
  const worstSlide = Math.max(...slides);
  row(`slide with ${fmt(inWindow)} URLs in the window, 20,000 lines entering (enter, leave, top, persist)`, '<= 50 ms', `${worstSlide.toFixed(1)} ms`, worstSlide <= 50);
  row('  slide during the big ingest (~1 s of lines entering each), max', 'informational', `${maxSlide.toFixed(1)} ms`, true);
  row('GET /api/top p99 while ingesting (64 connections)', '<= 10 ms', `${q.p99} ms`, q.p99 <= 10 && q.errors === 0);
  row('GET /api/top requests/s while ingesting', '>= 10,000', fmt(q.rps), q.rps >= 10_000);
  row('  the same load with no ingest running: p99, requests/s', 'informational', `${idle.p99} ms, ${fmt(idle.rps)}/s`, true);
}

/** autocannon in its own process, so the load does not share this process's event loop. */
function runLoad(url: string, connections = 64): Promise<{ p99: number; rps: number; errors: number }> {
  const bin = path.resolve(HERE, '../../node_modules/autocannon/autocannon.js');
  const child = spawn(process.execPath, [bin, '-c', String(connections), '-d', String(SIZES.loadSeconds), '-j', `${url}/api/top?n=10`], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c));
  return new Promise((resolve) => child.on('exit', () => {
    const r = JSON.parse(out);
    // A request that never got an answer is a timeout, not a latency: counted as an error;
    // with no answer at all in the run, autocannon's p99 is 0: it is the run's length at least.
    const answered = r.requests.total > 0;
    resolve({ p99: answered ? r.latency.p99 : SIZES.loadSeconds * 1000, rps: r.requests.average, errors: r.errors + r.non2xx + r.timeouts + (answered ? 0 : 1) });
  }));
}

async function latency(work: string): Promise<void> {
  const dir = path.join(work, 'latency');
  const d = await daemonIn(dir);
  const times: number[] = [];
  for (let i = 0; i < (smoke ? 2 : 5); i++) {
    const staged = path.join(dir, `small-${i}.log`);
    writeFileSync(staged, [...generateLines({ lines: 10, seed: i })].join('\n') + '\n');
    const t = await ingest(d, dir, staged, 10);
    times.push(t.visibleMs);
    await sleep(Math.random() * 1000);
  }
  await d.stop();
  const worst = Math.max(...times);
  row('a small file renamed into the spool, to visible in /api/top (worst of several)', '<= 1.5 s', `${(worst / 1000).toFixed(2)} s`, worst <= 1500);
}

async function avroRpc(): Promise<void> {
  await avroRpcOnce(false);
  await avroRpcOnce(true);
}

async function avroRpcOnce(deflate: boolean): Promise<void> {
  const receiver = spawn(process.execPath, [path.join(HERE, 'lib/avro-null-receiver.js'), ...(deflate ? ['deflate'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  receiver.stdout.on('data', (c: Buffer) => (out += c));
  while (!/port \d+/.test(out)) await sleep(10);
  const port = Number(/port (\d+)/.exec(out)![1]);
  const lines = [...generateLines({ lines: 1000, seed: 3 })];
  const batch: EventBatch = {
    ...batchFromLines(lines, { file: '/var/spool/logflow/access.log', timestamp: String(Date.now()) }),
    firstHeaders: { 'lf.pos': 'abcdef01-0123456789ab:123456:1000' },
  };
  const client = await AvroRpcClient.connect({ host: '127.0.0.1', port, connectTimeout: 2000, requestTimeout: 10_000, ...(deflate && { deflateLevel: 6 }) });
  let events = 0;
  const started = performance.now();
  const until = started + SIZES.rpcSeconds * 1000;
  // Four calls in flight, as the sink does.
  await Promise.all([0, 1, 2, 3].map(async () => {
    while (performance.now() < until) {
      await client.appendBatch([batch]);
      events += batch.count;
    }
  }));
  const rate = events / ((performance.now() - started) / 1000);
  client.close();
  receiver.kill('SIGTERM');
  if (deflate) row('Avro RPC, compression-type = deflate (level 6) both ways: events/s', 'informational', fmt(rate), true);
  else row('Avro RPC alone: events/s, one loopback connection, batches of 1000', '>= 1,000,000', fmt(rate), rate >= 1_000_000);
}

/** The file channel alone: a source's puts (one at a time, 1000 events each) and a sink's take/commit. */
async function fileChannel(work: string): Promise<void> {
  const dir = path.join(work, 'filechannel');
  const ch = new FileChannel({
    name: 'c1', type: 'file', capacity: 100_000, transactionCapacity: 1000,
    checkpointDir: path.join(dir, 'checkpoint'), dataDir: path.join(dir, 'data'), maxFileSize: 64 * 1024 * 1024,
  }, (await import('pino')).pino({ level: 'silent' }));
  await ch.open();
  const batch = batchFromLines([...generateLines({ lines: 1000, seed: 5 })], { file: '/var/spool/logflow/access.log', timestamp: String(Date.now()) });
  const until = performance.now() + SIZES.rpcSeconds * 1000;
  const started = performance.now();
  let put = 0;
  let committed = 0;
  let done = false;
  const sink = (async () => {
    while (!done || ch.size > 0) {
      const taken = ch.take(1000);
      if (taken.length === 0) {
        await sleep(1);
        continue;
      }
      ch.commit(taken);
      for (const b of taken) committed += b.count;
    }
  })();
  while (performance.now() < until) {
    await ch.put(batch);
    put += batch.count;
  }
  done = true;
  await sink;
  const seconds = (performance.now() - started) / 1000;
  const mb = (put * (batch.data.length / batch.count)) / 1048576 / seconds;
  await ch.close();
  row('file channel: events/s put (fdatasync per put of 1000) and taken/committed', 'informational', `${fmt(committed / seconds)} (${mb.toFixed(0)} MB/s, ${ch.syncs} syncs)`, committed === put);
}

/**
 * Replaying a historical log (issue 12): the same 27-hour log ingested in processing time
 * and in event time (watermark 60 and 7200), each from the rename until the counts are
 * persisted; in event time that is every line older than the newest minus the watermark
 * (the rest closes after `flushAfterIdle`, measured apart), and the slowest checkpoint.
 */
async function eventTime(work: string): Promise<void> {
  const lines = SIZES.lines;
  const span = 27 * 3600;
  console.error(`event-time replay: ${fmt(lines)} lines over ${span / 3600} h`);
  const rates: Record<string, number> = {};
  for (const [label, overrides] of [
    ['processing', {}],
    ['event, watermark 60', { 'a1.jobs.j1.time': 'event', 'a1.jobs.j1.watermark': '60' }],
    // (No idle flush: the 7,200 open batches stay open for the steady-state checkpoint below.)
    ['event, watermark 7200', { 'a1.jobs.j1.time': 'event', 'a1.jobs.j1.watermark': '7200', 'a1.jobs.j1.flushAfterIdle': '0' }],
  ] as [string, Record<string, string>][]) {
    const dir = path.join(work, `replay-${Object.keys(rates).length}`);
    mkdirSync(dir, { recursive: true });
    const file = await prepare(dir, 'access.log', { lines, urls: 5000, seed: 27, startMs: Date.UTC(2025, 2, 1), spanSeconds: span });
    const d = await daemonIn(dir, overrides);
    const watermark = Number(overrides['a1.jobs.j1.watermark'] ?? 0);
    // Lines are evenly spread over the span: those within the watermark of the end stay open.
    const closing = lines - Math.ceil((lines * (watermark + 1)) / span);
    let maxCheckpoint = 0;
    const cpuBefore = cpuSeconds(d.proc.pid!);
    const threadsBefore = threadCpuSeconds(d.proc.pid!);
    const t = await ingest(d, dir, file, closing, (s) => {
      maxCheckpoint = Math.max(maxCheckpoint, (s as { checkpoint?: { lastWriteMs: number } }).checkpoint?.lastWriteMs ?? 0);
    }, lines);
    rates[label] = closing / (t.visibleMs / 1000);
    const cpu = cpuSeconds(d.proc.pid!) - cpuBefore;
    console.error(`  ${label}: CPU by thread: ${busiestThreads(d.proc.pid!, threadsBefore, threadCpuSeconds(d.proc.pid!))}`);
    const steady = watermark === 7200 ? await steadyCheckpointMs(d, dir, Date.UTC(2025, 2, 1) + span * 1000) : undefined;
    // Open batches then: one per second of log within the watermark that has a line.
    const open = Math.min(watermark, Math.round((lines * watermark) / span));
    await d.stop();
    const rate = rates[label];
    if (label === 'processing') {
      row(`replay, ${fmt(lines)} lines over 27 h, processing time: lines/s from rename to persisted`, 'informational', fmt(rate), true);
      row('  processing time: CPU seconds of the daemon (all threads) from rename to persisted', 'informational', `${cpu.toFixed(2)} s`, true);
      continue;
    }
    const share = rate / rates.processing!;
    // Issue 28: event time >= 0.8 of processing time, whose target is 2M lines/s.
    row(`  ${label}: lines/s from rename to persisted (all but the watermark's tail)`, `>= 1,600,000 and >= 80% of processing`, `${fmt(rate)} (${(100 * share).toFixed(0)}%)`, rate >= 1_600_000 && share >= 0.8);
    row(`  ${label}: CPU seconds of the daemon (all threads) from rename to persisted`, 'informational', `${cpu.toFixed(2)} s`, true);
    row(`  ${label}: slowest checkpoint during the replay (writes what changed: every batch read since the last)`, 'informational', `${maxCheckpoint.toFixed(1)} ms`, true);
    if (steady !== undefined) {
      const ms = steady;
      row(`  ${label}: checkpoint with ${fmt(open)} batches open, a few lines arriving (slowest of 5)`, '<= 50 ms', `${ms.toFixed(1)} ms`, ms <= 50);
    }
  }
}

/** After a replay: a few lines near the log's end, 5 times; the slowest checkpoint that follows each. */
async function steadyCheckpointMs(d: RunningDaemon, dir: string, endMs: number): Promise<number> {
  type Checkpointed = Stats & { checkpoint: { seq: number; lastWriteMs: number } };
  let worst = 0;
  for (let i = 0; i < 5; i++) {
    const file = path.join(dir, `trickle-${i}.log`);
    writeFileSync(file, [...generateLines({ lines: 10, seed: 300 + i, startMs: endMs - 60_000 + i * 1000, spanSeconds: 1 })].join('\n') + '\n');
    const before = (await d.get<Checkpointed>('/api/stats')).body;
    renameSync(file, path.join(dir, 'spool', path.basename(file)));
    for (;;) {
      const { body } = await d.get<Checkpointed>('/api/stats');
      // The checkpoint after the lines are in (the one that holds them).
      if (body.eventsIn >= before.eventsIn + 10 && body.checkpoint.seq >= before.checkpoint.seq + 2) {
        worst = Math.max(worst, body.checkpoint.lastWriteMs);
        break;
      }
      await sleep(20);
    }
  }
  return worst;
}

/** What the dimensions cost: the throughput of url alone, the default (url status) and all seven; peak RSS per dimension at 1M keys. */
async function dimensionsCost(work: string): Promise<void> {
  const all: [string, string][] = [
    ['url', 'url'],
    ['url status (the default)', 'url status'],
    ['all seven', 'url status client referrer agent method user'],
  ];
  // (The smoke run, part of npm test on a busy box: the default only, to see that the part runs.)
  const sets = smoke ? all.slice(1, 2) : all;
  console.error(`dimensions: ${fmt(SIZES.lines)} lines end to end, ${sets.length} sets alternating, ${SIZES.repeat} rounds`);
  const rates = new Map<string, number[]>(sets.map(([label]) => [label, []]));
  const cpu = new Map<string, number[]>(sets.map(([label]) => [label, []]));
  for (let r = 0; r < SIZES.repeat; r++) {
    for (const [label, dims] of sets) {
      const dir = path.join(work, `dims-${r}-${label.split(' ')[0]}-${dims.split(' ').length}`);
      mkdirSync(dir, { recursive: true });
      const file = await prepare(dir, 'access.log', { lines: SIZES.lines, urls: 10_000, seed: 7 + r, malformed: 0.001 });
      const d = await daemonIn(dir, { 'a1.jobs.j1.dimensions': dims });
      const before = cpuSeconds(d.proc.pid!);
      const t = await ingest(d, dir, file, SIZES.lines);
      cpu.get(label)!.push(cpuSeconds(d.proc.pid!) - before);
      rates.get(label)!.push(SIZES.lines / (t.countedMs / 1000));
      await d.stop();
    }
  }
  const urlOnly = rates.get('url')?.length ? median(rates.get('url')!) : NaN;
  for (const [label] of sets) {
    const rate = median(rates.get(label)!);
    const cpuPerMillion = (median(cpu.get(label)!) * 1_000_000) / SIZES.lines;
    const figure = `dimensions ${label}: lines/s from rename to counted, median of ${SIZES.repeat} (CPU s per 1M lines, all threads)`;
    const share = Number.isNaN(urlOnly) ? 'url alone not run' : `${((100 * rate) / urlOnly).toFixed(0)}%`;
    if (label.startsWith('url status')) row(figure, '>= 85% of url alone', `${fmt(rate)} (${share}; ${cpuPerMillion.toFixed(2)} s)`, !(rate < 0.85 * urlOnly));
    else row(figure, 'informational', `${fmt(rate)} (${share}; ${cpuPerMillion.toFixed(2)} s)`, true);
  }
  if (smoke) return;
  // Peak RSS with one dimension of 1M distinct keys (2 lines each) in the window; capped
  // dimensions uncapped here (maxKeys 0), then the client's default cap for comparison.
  const keys = SIZES.bigUrls;
  const memory: [string, Parameters<typeof writeLog>[1], Record<string, string>][] = [
    ['url', { urls: keys, everyUrl: true }, { 'a1.jobs.j1.dimensions': 'url' }],
    ['client', { distinct: { dimension: 'client', count: keys } }, { 'a1.jobs.j1.dimensions': 'client', 'a1.jobs.j1.maxKeys.client': '0' }],
    ['referrer', { distinct: { dimension: 'referrer', count: keys } }, { 'a1.jobs.j1.dimensions': 'referrer', 'a1.jobs.j1.maxKeys.referrer': '0' }],
    ['agent', { distinct: { dimension: 'agent', count: keys } }, { 'a1.jobs.j1.dimensions': 'agent', 'a1.jobs.j1.maxKeys.agent': '0' }],
    ['user', { distinct: { dimension: 'user', count: keys } }, { 'a1.jobs.j1.dimensions': 'user', 'a1.jobs.j1.maxKeys.user': '0' }],
    ['client, maxKeys 100,000 (the default)', { distinct: { dimension: 'client', count: keys } }, { 'a1.jobs.j1.dimensions': 'client' }],
  ];
  for (const [label, options, overrides] of memory) {
    const dir = path.join(work, `dims-rss-${label.split(',')[0]}-${Object.keys(overrides).length}`);
    mkdirSync(dir, { recursive: true });
    const file = await prepare(dir, 'access.log', { lines: 2 * keys, seed: 41, urls: options?.urls ?? 10_000, ...options });
    const d = await daemonIn(dir, overrides);
    await ingest(d, dir, file, 2 * keys);
    const rss = peakRssMb(d.proc.pid!);
    // (The window's figures come with the job's next stats message, within 100 ms.)
    await sleep(300);
    const keysIn = (await d.get<{ window?: { distinctUrls: number } }>('/api/stats')).body.window?.distinctUrls ?? 0;
    await d.stop();
    row(`  peak RSS, dimension ${label} alone, ${fmt(keys)} distinct keys in ${fmt(2 * keys)} lines (${fmt(keysIn)} kept)`, 'informational', `${rss.toFixed(0)} MB`, true);
  }
}

/** `logflow analyze` on the end-to-end log: the whole command, from start to exit (module loading included). */
async function analyzeCommand(work: string): Promise<void> {
  const dir = path.join(work, 'analyze');
  mkdirSync(dir, { recursive: true });
  const file = await prepare(dir, 'access.log', { lines: SIZES.lines, urls: 10_000, seed: 7, malformed: 0.001 });
  const cli = path.resolve(HERE, '../daemon/cli.js');
  const rates: number[] = [];
  let lines = 0;
  for (let r = 0; r < SIZES.repeat; r++) {
    const started = performance.now();
    const run = spawnSync(process.execPath, [cli, 'analyze', file, '--json'], { encoding: 'utf8', maxBuffer: 16 << 20 });
    const ms = performance.now() - started;
    if (run.status !== 0) throw new Error(`logflow analyze failed: ${run.stderr}`);
    lines = (JSON.parse(run.stdout) as { lines: number }).lines;
    rates.push(lines / (ms / 1000));
  }
  const rate = median(rates);
  row(`logflow analyze, ${fmt(lines)} lines (event time): lines/s of the whole command, start to exit`, '>= 1,000,000', fmt(rate), rate >= 1_000_000);
  // The same work in this process, by CPU time: what the box's load does not move.
  const cpu = process.cpuUsage();
  const analyzer = new LogAnalyzer({ time: 'event', logFormat: 'auto', windowSeconds: 300, slideSeconds: 1, top: 10 });
  analyzer.startFile('access.log');
  await readLogLines(file, analyzer.onLines);
  analyzer.finish();
  const used = process.cpuUsage(cpu);
  row('  same, in process: lines per CPU second (user + system)', 'informational', fmt(lines / ((used.user + used.system) / 1e6)), true);
}

/** Event time over a day-long log, then `/api/top?from&to` over the whole day. */
async function historyQuery(work: string): Promise<void> {
  const dir = path.join(work, 'history');
  const hours = smoke ? 2 : 24;
  const lines = smoke ? 20_000 : 1_000_000;
  const start = Date.UTC(2025, 0, 1);
  const d = await daemonIn(dir, { 'a1.jobs.j1.time': 'event' });
  const file = await prepare(dir, 'day.log', { lines, urls: 10_000, seed: 31, startMs: start, spanSeconds: hours * 3600 });
  await ingest(d, dir, file, Math.floor(lines * 0.99));
  const from = new Date(start).toISOString();
  const to = new Date(start + hours * 3600_000).toISOString();
  const query = async () => {
    const times: number[] = [];
    let total = 0;
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      const { body } = await d.get<{ total: number }>(`/api/top?n=10&from=${from}&to=${to}`);
      times.push(performance.now() - t);
      total = body.total;
    }
    return { total, figure: `${median(times).toFixed(1)} ms, ${Math.max(...times).toFixed(1)} ms` };
  };
  // Right after the replay the minute and hour rollups are still being written behind the
  // batches (the query reads batches where they are missing); then once they are all there.
  const early = await query();
  // (The last hour stays open with its last minute, which more lines may still join.)
  const rolledUpMs = await waitForRollups(path.join(dir, 'data', 'results.db'), start + (hours - 2) * 3600_000);
  const late = await query();
  await d.stop();
  row(`GET /api/top?from&to over ${hours} h of history (${fmt(early.total)} lines), right after the replay: median, max of 20`, 'informational', early.figure, true);
  row(`  the same once the minute and hour rollups are written (${(rolledUpMs / 1000).toFixed(1)} s after the replay)`, 'informational', late.figure, true);
}

/**
 * Heavy range queries (top of the whole history, windows with their top URLs, series) in a
 * loop from 4 clients, while a second file ingests and /api/top (newest window) and /health
 * are asked by 16 and 1 connections: their p99 must not follow the range queries' time.
 */
async function rangeLoad(work: string): Promise<void> {
  const dir = path.join(work, 'rangeload');
  const lines = smoke ? 20_000 : 1_000_000;
  const urls = smoke ? 8_000 : 300_000;
  console.error(`range queries under load: ${fmt(lines)} lines with ${fmt(urls)} URLs counted, then another ${fmt(lines)} ingesting`);
  const d = await daemonIn(dir);
  const first = await prepare(dir, 'first.log', { lines, urls, seed: 41, everyUrl: true });
  const second = await prepare(dir, 'second.log', { lines, urls, seed: 42, everyUrl: true });
  const started = Date.now();
  await ingest(d, dir, first, lines);
  const from = new Date(started - 60_000).toISOString();
  const heavy = [
    `/api/top?n=1000&from=${from}`,
    `/api/windows?n=100&limit=200&from=${from}`,
    `/api/series?from=${from}&step=1`,
    `/api/urls/${encodeURIComponent('/page/1.html')}/series?from=${from}&step=1`,
  ];
  let stop = false;
  const rangeTimes: number[] = [];
  const ranging = Array.from({ length: 4 }, async (_, c) => {
    for (let i = c; !stop; i++) {
      const t = performance.now();
      const res = await fetch(d.url + heavy[i % heavy.length]!);
      await res.arrayBuffer();
      rangeTimes.push(performance.now() - t);
    }
  });
  const healthTimes: number[] = [];
  const health = (async () => {
    while (!stop) {
      const t = performance.now();
      await (await fetch(d.url + '/health')).arrayBuffer();
      healthTimes.push(performance.now() - t);
      await sleep(10);
    }
  })();
  await sleep(1000);
  const ingesting = ingest(d, dir, second, lines);
  const load = await runLoad(d.url, 16);
  stop = true;
  await Promise.all([...ranging, health, ingesting]);
  await d.stop();
  const p = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;
  const loadAvg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  row(`GET /api/top p99 while 4 clients run heavy range queries during an ingest (16 connections; load ${loadAvg})`, '<= 50 ms', `${load.p99} ms${load.errors ? `, ${load.errors} errors (no answer)` : ''}`, load.p99 <= 50 && load.errors === 0);
  row('  GET /health: p99, max', 'informational', `${p(healthTimes, 0.99).toFixed(1)} ms, ${Math.max(...healthTimes).toFixed(1)} ms`, true);
  row('  the range queries meanwhile: count, median, max', 'informational', `${rangeTimes.length}, ${median(rangeTimes).toFixed(0)} ms, ${Math.max(...rangeTimes).toFixed(0)} ms`, true);
}

/** Waits until the hour row of `lastHour` is in the results database and nothing is left to roll up; the ms waited. */
async function waitForRollups(file: string, lastHour: number): Promise<number> {
  const started = performance.now();
  const db = new Database(file, { readonly: true });
  try {
    const hour = db.prepare('SELECT COUNT(*) FROM totals WHERE level = 2 AND start_ms = ?').pluck();
    const dirty = db.prepare('SELECT COUNT(*) FROM dirty').pluck();
    while ((hour.get(lastHour) as number) === 0 || (dirty.get() as number) > 0) await sleep(100);
  } finally {
    db.close();
  }
  return performance.now() - started;
}

/**
 * The results in PostgreSQL against SQLite: history rows written per second (the job's
 * write port, in process), an event-time replay of a day's log through the daemon (lines/s
 * from rename to persisted), then `/api/top?from&to` over the day once rolled up.
 */
async function postgresVsSqlite(work: string): Promise<void> {
  if (skipWithoutPostgres) {
    row('PostgreSQL against SQLite', 'informational', `skipped: ${skipWithoutPostgres}`, true);
    return;
  }
  const server = await PostgresServer.start();
  try {
    await server.sql('CREATE DATABASE rows', 'postgres');
    const batches = smoke ? 2_000 : 86_400;
    const urls = 50;
    const start = Date.UTC(2025, 0, 1);
    const items: ResultItem[] = Array.from({ length: batches }, (_, b) => ({
      kind: 'batch',
      batch: { startMs: start + b * 1000, events: urls * 3, parseErrors: 0, counts: encodeCounts(Array.from({ length: urls }, (_, u) => [`/page/${(b * 7 + u * 13) % 10_000}.html`, 3] as [string, number])) },
    }));
    const silent = pino({ level: 'silent' });
    const rowsPerSecond = async (sink: WindowResultSink) => {
      const started = performance.now();
      for (let i = 0; i < items.length; i += 1000) await sink.write(items.slice(i, i + 1000), 1);
      return (batches * urls) / ((performance.now() - started) / 1000);
    };
    const sqlite = new ResultsStore(path.join(work, 'rows.db'));
    const sqliteRate = await rowsPerSecond(sqlite);
    sqlite.close();
    const pg = await PostgresResultsStore.open(
      { host: '127.0.0.1', port: server.port, user: 'postgres', password: undefined, database: 'rows', sslMode: 'disable', sslRootCert: undefined },
      { instance: 'bench', where: 'rows', batchIntervalMs: 1000, windowMs: 300_000, history: true, retentionMs: 30 * 86_400_000 },
      silent,
    );
    const pgRate = await rowsPerSecond(pg);
    await pg.close();
    row(`history rows written (${fmt(batches)} batches of ${urls} URLs, 1,000 per write): URL counts/s, SQLite`, 'informational', fmt(sqliteRate), true);
    row('  same, PostgreSQL (pg, one array row per batch, in one transaction per write)', 'informational', fmt(pgRate), true);

    const hours = smoke ? 2 : 24;
    const lines = smoke ? 20_000 : 1_000_000;
    const rates: Record<string, number> = {};
    for (const [label, database] of [['SQLite', undefined], ['PostgreSQL', server.url('replay')]] as const) {
      if (database) await server.sql('CREATE DATABASE replay', 'postgres');
      const dir = path.join(work, `store-${label}`);
      const d = await daemonIn(dir, { 'a1.jobs.j1.time': 'event', ...(database && { 'a1.jobs.j1.database': database }) });
      const file = await prepare(dir, 'day.log', { lines, urls: 10_000, seed: 31, startMs: start, spanSeconds: hours * 3600 });
      const t = await ingest(d, dir, file, Math.floor(lines * 0.99));
      rates[label] = (lines * 0.99) / (t.visibleMs / 1000);
      // Once the rollups are written behind (the last hour stays open with its last minute).
      const rolledUp = async () => {
        if (!database) return ((await waitForRollups(path.join(dir, 'data', 'results.db'), start + (hours - 2) * 3600_000)) ?? 0) >= 0;
        for (;;) {
          const [row] = await server.sql<{ n: number }>('SELECT COUNT(*)::int AS n FROM logflow_dirty WHERE level IN (1, 2) AND start_ms < $1', 'replay', [start + (hours - 1) * 3600_000]);
          if (row?.n === 0) return true;
          await sleep(100);
        }
      };
      await rolledUp();
      const from = new Date(start).toISOString();
      const to = new Date(start + hours * 3600_000).toISOString();
      const timed = async (query: string, runs: number) => {
        const times: number[] = [];
        for (let i = 0; i < runs; i++) {
          const q = performance.now();
          const { status } = await d.get(`/api/top?${query}&from=${from}&to=${to}`);
          if (status !== 200) throw new Error(`${label}: /api/top?${query} answered ${status}`);
          times.push(performance.now() - q);
        }
        times.sort((a, b) => a - b);
        return `${median(times).toFixed(1)} ms, ${times[Math.min(times.length - 1, Math.floor(times.length * 0.99))]!.toFixed(1)} ms`;
      };
      const runs = smoke ? 20 : 200;
      row(`GET /api/top?from&to over ${hours} h, rolled up, ${label}: median, p99 of ${runs}`, 'informational', await timed('n=10', runs), true);
      // By dimension and status (the default dimensions, url status).
      const dimRuns = smoke ? 4 : 100;
      for (const query of ['by=status&n=10', 'by=url&status=404&n=10']) {
        row(`  GET /api/top?${query}&from&to over ${hours} h, ${label}: median, p99 of ${dimRuns}`, 'informational', await timed(query, dimRuns), true);
      }
      await d.stop();
    }
    row(`event-time replay of ${fmt(lines)} lines over ${hours} h, lines/s from rename to persisted: SQLite`, 'informational', fmt(rates.SQLite!), true);
    row('  same into PostgreSQL (share of SQLite)', 'informational', `${fmt(rates.PostgreSQL!)} (${((100 * rates.PostgreSQL!) / rates.SQLite!).toFixed(0)}%)`, true);
    await yearsByDimension(server, work);
  } finally {
    await server.stop();
  }
}

/**
 * Years of history in both stores, written through their write ports from the same batches
 * (a day's traffic as one batch of URLs with a status and a client each, by url, status and
 * client, as the decade part builds it) and rolled up (to 30-day and 360-day spans), then
 * range queries over all of it through the read port, in process: by URL, by status, 404
 * URLs, clients getting 5xx, and status 500 per 30 days. Each answer's total is checked
 * against the lines written.
 */
async function yearsByDimension(server: PostgresServer, work: string): Promise<void> {
  const days = smoke ? 12 : 1096;
  const urlsPerDay = smoke ? 10 : 200;
  const start = Date.UTC(2021, 0, 1);
  const tally = { lines: 0, of500: 0, notFound: 0 };
  const items: ResultItem[] = [...dailyBatches(days, urlsPerDay, start, 29, tally)].map((batch) => ({ kind: 'batch', batch }));
  const { lines, of500, notFound } = tally;
  const years = days >= 365 ? `${(days / 365.25).toFixed(0)} years` : `${days} days`;
  console.error(`${years} of history by url, status and client (${fmt(days)} batches of ${urlsPerDay} URLs), SQLite and PostgreSQL`);
  const job = { batchIntervalMs: 1000, windowDurationMs: 300_000, instance: 'bench' };
  const sqliteFile = path.join(work, 'years.db');
  let built = performance.now();
  const sqlite = new ResultsStore(sqliteFile, { retentionMs: 0 });
  for (let i = 0; i < items.length; i += 100) sqlite.write(items.slice(i, i + 100), 1, 1);
  while (sqlite.rollUp(5000, true));
  sqlite.close();
  const sqliteBuildS = (performance.now() - built) / 1000;
  await server.sql('CREATE DATABASE years', 'postgres');
  const config = { host: '127.0.0.1', port: server.port, user: 'postgres', password: undefined, database: 'years', sslMode: 'disable' as const, sslRootCert: undefined };
  built = performance.now();
  const pg = await PostgresResultsStore.open(config, { instance: job.instance, where: 'years', batchIntervalMs: 1000, windowMs: 300_000, history: true, retentionMs: 0 }, pino({ level: 'silent' }));
  await pg.restoreEpochs(0);
  for (let i = 0; i < items.length; i += 100) await pg.write(items.slice(i, i + 100), 1, 1);
  await pg.rolledUp();
  await pg.close();
  const pgBuildS = (performance.now() - built) / 1000;
  const stores: [string, ResultsQueries][] = [['SQLite', new SqliteQueries(sqliteFile, 1000, job.instance)], ['PostgreSQL', new PostgresQueries(config, job)]];
  const from = start;
  const to = start + days * 86_400_000;
  const all = { lo: 0, hi: 999 };
  const queries: [string, (q: ResultsQueries) => Promise<number>, number][] = [
    ['top 10 URLs', async (q) => (await q.rangeTop(from, to, 10, job.instance)).total, lines],
    ['by=status', async (q) => (await q.dimensionTop('status', all, from, to, 10, job.instance)).total, lines],
    ['by=url&status=404', async (q) => (await q.dimensionTop('url', { lo: 404, hi: 404 }, from, to, 10, job.instance)).total, notFound],
    ['by=client&status=5xx', async (q) => (await q.dimensionTop('client', { lo: 500, hi: 599 }, from, to, 10, job.instance)).total, of500],
    ['series of status 500 per 30 days', async (q) => (await q.dimensionSeries('status', '500', all, from, to, 30 * 86_400_000, job.instance)).reduce((n, p) => n + p.count, 0), of500],
  ];
  const results = new Map<string, string[]>();
  try {
    for (const [label, q] of stores) {
      for (const [what, run, want] of queries) {
        const times: number[] = [];
        for (let i = 0; i < (smoke ? 1 : 10); i++) {
          const t = performance.now();
          const got = await run(q);
          times.push(performance.now() - t);
          if (got !== want) throw new Error(`${years} in ${label}: ${what} counts ${got}, not the ${want} lines written`);
        }
        results.set(what, [...(results.get(what) ?? []), `${label} ${median(times).toFixed(0)} ms, ${Math.max(...times).toFixed(0)} ms`]);
      }
    }
  } finally {
    for (const [, q] of stores) await q.close();
  }
  row(`${years} by url, status and client (${fmt(lines)} lines in ${fmt(days)} daily batches of ${urlsPerDay} URLs): written and rolled up to 360-day spans, s`, 'informational', `SQLite ${sqliteBuildS.toFixed(1)}, PostgreSQL ${pgBuildS.toFixed(1)}`, true);
  for (const [what, answers] of results) row(`  ${what} over the ${years}, through the read port: median, max of ${smoke ? 1 : 10}`, 'informational', answers.join('; '), true);
}

/**
 * Several years of logs replayed out of order (newest first, as the issue's six logs were
 * dropped) and in order, in both time modes: lines/s from the renames until every file is
 * completed (a file completes once a checkpoint holds all of its lines, and the history rows
 * are written before the checkpoint), and the out-of-order rate as a share of the in-order one.
 */
async function outOfOrderReplay(work: string): Promise<void> {
  const years = 6;
  const perFile = smoke ? 1000 : Math.round(SIZES.lines / years);
  console.error(`replay of ${years} years of logs, ${fmt(perFile)} lines each, newest first and oldest first`);
  const modes: [string, Record<string, string>][] = [
    ['processing time', {}],
    ['event time, watermark 60', { 'a1.jobs.j1.time': 'event', 'a1.jobs.j1.watermark': '60' }],
  ];
  // (The smoke run, part of npm test, starts two daemons here, not four.)
  for (const [mode, overrides] of smoke ? modes.slice(1) : modes) {
    const rates: Record<string, number> = {};
    for (const order of ['in order', 'newest first'] as const) {
      const dir = path.join(work, `years-${mode.split(' ')[0]}-${order.split(' ')[0]}`);
      mkdirSync(path.join(dir, 'staged'), { recursive: true });
      const files: string[] = [];
      for (let y = 0; y < years; y++) {
        // A week of 2012 + y; consumeOrder = oldest (mtime): the order they are read in.
        const file = path.join(dir, 'staged', `access-${2012 + y}.log`);
        await writeLog(file, { lines: perFile, urls: 5000, seed: 70 + y, startMs: Date.UTC(2012 + y, 5, 1), spanSeconds: 7 * 86_400, malformed: 0.001 });
        const rank = order === 'in order' ? y : years - 1 - y;
        const t = new Date(Date.now() - 600_000 + rank * 1000);
        utimesSync(file, t, t);
        files.push(file);
      }
      const d = await daemonIn(dir, overrides);
      const cpuBefore = cpuSeconds(d.proc.pid!);
      const started = performance.now();
      // Renamed in the order they are to be read too: a file renamed in alone is read at once.
      for (const f of order === 'in order' ? files : [...files].reverse()) renameSync(f, path.join(dir, 'spool', path.basename(f)));
      for (;;) {
        const { body } = await d.get<Stats & { files: { completed: number } }>('/api/stats');
        if (body.files.completed === years) break;
        await sleep(20);
      }
      const seconds = (performance.now() - started) / 1000;
      rates[order] = (perFile * years) / seconds;
      console.error(`  ${mode}, ${order}: ${fmt(rates[order]!)} lines/s, ${(cpuSeconds(d.proc.pid!) - cpuBefore).toFixed(2)} CPU s`);
      await d.stop();
    }
    const share = rates['newest first']! / rates['in order']!;
    row(`replay of ${years} years of logs (${fmt(perFile * years)} lines), newest first, ${mode}: lines/s from renames to completed`, 'informational', fmt(rates['newest first']!), true);
    row(`  same, as a share of the in-order replay (${fmt(rates['in order']!)} lines/s)`, '>= 80%', `${(100 * share).toFixed(0)}%`, share >= 0.8);
  }
}

/**
 * Days of a site's traffic, a batch each (at noon) of `urlsPerDay` URLs of a pool of 20,000
 * (a few of them most of it), each with a status of five and a client of a pool of 50,000:
 * the blobs by url, status and client the job writes. `tally` counts the lines, the 500s and
 * the 404s, the answers the parts check.
 */
function* dailyBatches(days: number, urlsPerDay: number, start: number, seed: number, tally: { lines: number; of500: number; notFound: number }): Generator<BatchResult> {
  const win = new WindowSet(['url', 'status', 'client'].map((name, field) => ({ name, field, visitors: false, maxKeys: 0 })), 2);
  const CODES = [200, 200, 200, 304, 404, 500];
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (let day = 0; day < days; day++) {
    const b = win.openBatch();
    let events = 0;
    for (let u = 0; u < urlsPerDay; u++) {
      const url = `/page/${Math.floor(20_000 * rand() ** 3)}.html`;
      const n = 1 + Math.floor(rand() * 200);
      const code = CODES[Math.floor(rand() * CODES.length)]!;
      const keys = [url, String(code), `10.${Math.floor(rand() * 50_000)}`];
      keys.forEach((k, i) => b.dims[i]!.add(win.dims[i]!.keys.idOfString(k), code, 0, 0, n * 1000, n));
      tally.lines += n;
      events += n;
      if (code === 500) tally.of500 += n;
      if (code === 404) tally.notFound += n;
    }
    yield { startMs: start + day * 86_400_000 + 12 * 3_600_000, events, parseErrors: 0, counts: win.encodeBatch(b) };
    win.pass(b);
  }
}

/**
 * Ten years of history (a day of a site's traffic as one batch of 300 URLs of a pool of
 * 20,000, a few of them most of it, each with a status of five and a client of a pool of
 * 50,000: the batch blobs by dimension url, status and client, written through the store and
 * rolled up: 3.4 million per-URL rows and as many by dimension), then the daemon on it:
 * /api/top and /api/series over the ten years, by URL and by dimension and status.
 */
async function decadeQuery(work: string): Promise<void> {
  const dir = path.join(work, 'decade');
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  const days = smoke ? 60 : 3653;
  const urlsPerDay = smoke ? 50 : 300;
  const start = Date.UTC(2015, 0, 1);
  console.error(`ten years of history: ${fmt(days)} days of ${urlsPerDay} URLs each, by url, status and client`);
  const built = performance.now();
  const store = new ResultsStore(path.join(dir, 'data', 'results.db'), { retentionMs: 0 });
  const tally = { lines: 0, of500: 0, notFound: 0 };
  const batches = dailyBatches(days, urlsPerDay, start, 17, tally);
  for (let day = 0; day < days; day += 30) {
    store.transaction(() => {
      for (let d = day; d < Math.min(days, day + 30); d++) store.saveBatch(batches.next().value!, 1);
    });
  }
  const { lines, of500, notFound } = tally;
  store.markCovered(1);
  while (store.rollUp(5000, true));
  store.close();
  const buildS = (performance.now() - built) / 1000;
  const d = await daemonIn(dir, { 'a1.jobs.j1.retention': '0', 'a1.jobs.j1.dimensions': 'url status client' });
  const from = new Date(start).toISOString();
  const to = new Date(start + days * 86_400_000).toISOString();
  const timed = async (route: string) => {
    const times: number[] = [];
    let body: { total?: number; points?: { count: number }[] } = {};
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      body = (await d.get<typeof body>(route)).body;
      times.push(performance.now() - t);
    }
    return { body, median: median(times), max: Math.max(...times) };
  };
  const range = `from=${from}&to=${to}`;
  const top = await timed(`/api/top?n=10&${range}`);
  const series = await timed(`/api/series?${range}`);
  const byStatus = await timed(`/api/top?by=status&${range}`);
  const notFoundUrls = await timed(`/api/top?by=url&status=404&${range}`);
  const byClient = await timed(`/api/top?by=client&status=5xx&${range}`);
  const series500 = await timed(`/api/series?by=status&key=500&${range}`);
  await d.stop();
  const sum = (b: { points?: { count: number }[] }) => b.points!.reduce((a, p) => a + p.count, 0);
  const checks: [string, number | undefined, number][] = [
    ['top', top.body.total, lines], ['series', sum(series.body), lines], ['by=status', byStatus.body.total, lines],
    ['by=url&status=404', notFoundUrls.body.total, notFound], ['by=client&status=5xx', byClient.body.total, of500], ['series of status 500', sum(series500.body), of500],
  ];
  for (const [what, got, want] of checks) if (got !== want) throw new Error(`ten years: ${what} counts ${got}, not the ${want} lines written`);
  const years = days >= 365 ? `${(days / 365.25).toFixed(0)} years` : `${days} days`;
  const timedRow = (label: string, t: { median: number; max: number }) => row(label, '<= 1 s', `${t.median.toFixed(0)} ms, ${t.max.toFixed(0)} ms`, t.max <= 1000);
  timedRow(`GET /api/top?from&to over ${years} of history (${fmt(lines)} lines, by url, status and client, built in ${buildS.toFixed(0)} s): median, max of 10`, top);
  timedRow(`  GET /api/series over the same ${years} (~300 points, from the day rollups): median, max of 10`, series);
  timedRow(`  GET /api/top?by=status over the same ${years}: median, max of 10`, byStatus);
  timedRow(`  GET /api/top?by=url&status=404 over the same ${years}: median, max of 10`, notFoundUrls);
  timedRow(`  GET /api/top?by=client&status=5xx over the same ${years}: median, max of 10`, byClient);
  timedRow(`  GET /api/series?by=status&key=500 over the same ${years}: median, max of 10`, series500);
}

async function main(): Promise<void> {
  const work = tempDir('logflow-bench-');
  console.error(`logflow bench${smoke ? ' (smoke)' : ''}: working in ${work}`);
  // `--only NAME[,NAME]` runs some parts: references, e2e, latency, rpc, filechannel, memory, history, rangeload, eventtime, replay, decade, analyze, dimensions, tail, tailscale, subsecond, postgres, start.
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1]!.split(',') : undefined;
  const parts: [string, () => Promise<void>][] = [
    ['references', () => references(work)],
    ['e2e', () => endToEnd(work)],
    ['latency', () => latency(work)],
    ['rpc', () => avroRpc()],
    ['filechannel', () => fileChannel(work)],
    ['memory', () => memorySlidesAndQueries(work)],
    ['history', () => historyQuery(work)],
    ['rangeload', () => rangeLoad(work)],
    ['eventtime', () => eventTime(work)],
    ['replay', () => outOfOrderReplay(work)],
    ['decade', () => decadeQuery(work)],
    ['analyze', () => analyzeCommand(work)],
    ['dimensions', () => dimensionsCost(work)],
    ['tail', () => tailLatency(work, row, smoke, SETTINGS)],
    ['tailscale', () => tailScale(work, row, smoke, SETTINGS)],
    ['subsecond', () => subSecond(work, row, smoke, SETTINGS)],
    ['postgres', () => postgresVsSqlite(work)],
    ['start', () => daemonStart(work, row, smoke)],
  ];
  // (subsecond is left out of the smoke run of npm test, which runs the tail part at 0.1 s already; `--smoke --only subsecond` runs it.)
  const inSmoke = (name: string) => !smoke || name !== 'subsecond';
  for (const [name, run] of parts) if (only ? only.includes(name) : inSmoke(name)) await run();

  const w = [Math.max(6, ...rows.map((r) => r.figure.length)), Math.max(6, ...rows.map((r) => r.target.length)), Math.max(8, ...rows.map((r) => r.measured.length))];
  const line = (a: string, b: string, c: string, d: string) => `| ${a.padEnd(w[0]!)} | ${b.padEnd(w[1]!)} | ${c.padStart(w[2]!)} | ${d.padEnd(4)} |`;
  console.log(line('figure', 'target', 'measured', 'pass'));
  console.log(`|${'-'.repeat(w[0]! + 2)}|${'-'.repeat(w[1]! + 2)}|${'-'.repeat(w[2]! + 2)}|------|`);
  for (const r of rows) console.log(line(r.figure, r.target, r.measured, r.pass ? 'yes' : 'NO'));
  const failed = rows.filter((r) => !r.pass).length;
  // Gigabytes of logs and databases: kept only when asked for.
  if (!process.env.LOGFLOW_KEEP_TMP) rmSync(work, { recursive: true, force: true });
  if (smoke) console.log('\nsmoke run: small inputs, targets not enforced');
  else if (failed > 0) {
    console.log(`\n${failed} target(s) missed`);
    process.exitCode = 1;
  }
}

void main();
