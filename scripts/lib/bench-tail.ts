/**
 * The TAILDIR source's benchmark rows (issue 25): the latency of a line appended to a
 * followed file until it is in /api/top, the CPU of idle following (1 and 1,000 files),
 * 1,000 followed files, and 10 files written at 20,000 lines/s each. Run by scripts/bench.ts
 * (`npm run bench -- --only tail,tailscale`).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { startDaemon, writeConfig, type RunningDaemon } from './daemon-process.js';

export type Row = (figure: string, target: string, measured: string, pass: boolean) => void;

interface Stats {
  eventsIn: number;
  eventsCounted: number;
  parseErrors: number;
  followed?: { files: number; lagBytes: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const line = (tag: string, i: number) => `10.0.0.${i % 250} - - [10/Oct/2000:13:55:36 -0700] "GET /${tag}/${i % 997} HTTP/1.1" 200 ${i}\n`;

/** A daemon with one TAILDIR source following `logs/<pattern>` (the bundled agent otherwise). */
async function tailDaemon(dir: string, pattern: string, settings: Record<string, string>, overrides: Record<string, string> = {}): Promise<RunningDaemon> {
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  await writeConfig(dir, '', {
    ...settings,
    'a1.sources.r1.type': 'TAILDIR',
    'a1.sources.r1.spoolDir': '',
    'a1.sources.r1.pollDelay': '',
    'a1.sources.r1.filegroups': 'f1',
    'a1.sources.r1.filegroups.f1': `logs/${pattern}`,
    'a1.sources.r1.positionFile': 'data/taildir_position.json',
    ...overrides,
  });
  return startDaemon(dir, ['--conf-file', 'agent.conf'], 60_000);
}

/** CPU seconds (user + system) of the whole process, and of its main thread (the sources, channel and sink), Linux. */
function cpu(pid: number): { process: number; main: number } {
  const of = (file: string) => {
    const f = readFileSync(file, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  return { process: of(`/proc/${pid}/stat`), main: of(`/proc/${pid}/task/${pid}/stat`) };
}

/** Share of one core over `seconds` of idling (nothing written). */
async function idleCpu(d: RunningDaemon, seconds: number): Promise<{ process: number; main: number }> {
  const c0 = cpu(d.proc.pid!);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const c1 = cpu(d.proc.pid!);
  const wall = (performance.now() - t0) / 1000;
  return { process: (100 * (c1.process - c0.process)) / wall, main: (100 * (c1.main - c0.main)) / wall };
}

async function waitCounted(d: RunningDaemon, n: number, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const { body } = await d.get<Stats>('/api/stats');
    if (body.eventsCounted + body.parseErrors >= n) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`only ${body.eventsCounted + body.parseErrors} of ${n} lines counted after ${timeoutMs} ms`);
    await sleep(20);
  }
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

/**
 * A line appended at a moment uniformly spread over the batch interval, until /api/top
 * lists its URL (polled every 2 ms). The batch it lands in is published when it closes, so
 * this is up to one batchInterval (the wait for the batch to end) plus the pipeline's own
 * time (append -> counted, measured apart from /api/stats) plus the slide.
 */
export async function tailLatency(work: string, row: Row, smoke: boolean, settings: Record<string, string>): Promise<void> {
  // The smoke run (part of npm test) only checks that the steps run: one daemon, a few probes.
  const settingsToRun = smoke ? ([['0.1', 3, 300]] as const) : ([['1', 150, 1000], ['0.1', 300, 300]] as const);
  for (const [batchInterval, probes, target] of settingsToRun) {
    const dir = path.join(work, `tail-latency-${batchInterval}`);
    const d = await tailDaemon(dir, 'access\\\\.log', settings, { 'a1.jobs.j1.batchInterval': batchInterval, 'a1.jobs.j1.slideDuration': batchInterval });
    const fd = openSync(path.join(dir, 'logs', 'access.log'), 'a');
    const visible: number[] = [];
    const counted: number[] = [];
    const bi = Number(batchInterval) * 1000;
    try {
      for (let i = 0; i < probes; i++) {
        await sleep(Math.random() * bi);
        const url = `/lat/${i}`;
        const before = (await d.get<Stats>('/api/stats')).body.eventsIn;
        const t0 = performance.now();
        writeSync(fd, `10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET ${url} HTTP/1.1" 200 5\n`);
        let inAt: number | undefined;
        for (;;) {
          if (inAt === undefined && (await d.get<Stats>('/api/stats')).body.eventsIn > before) inAt = performance.now() - t0;
          const { body } = await d.get<{ urls: { url: string }[] }>('/api/top?n=1000');
          if (body.urls.some((u) => u.url === url)) break;
          await sleep(2);
        }
        visible.push(performance.now() - t0);
        counted.push(inAt ?? performance.now() - t0);
      }
    } finally {
      closeSync(fd);
    }
    visible.sort((a, b) => a - b);
    counted.sort((a, b) => a - b);
    const p99 = quantile(visible, 0.99);
    row(`TAILDIR: a line appended to a followed file, to listed in /api/top, p99 of ${probes} (batchInterval ${batchInterval} s)`, `<= ${target} ms`,
      `${fmt(p99)} ms (p50 ${fmt(quantile(visible, 0.5))}, max ${fmt(visible.at(-1)!)})`, p99 <= target);
    row(`  same, appended to counted by the job (the pipeline's part), p99`, 'informational', `${fmt(quantile(counted, 0.99))} ms (p50 ${fmt(quantile(counted, 0.5))})`, true);
    if (batchInterval === '1' || smoke) {
      const idle = await idleCpu(d, smoke ? 0.5 : 30);
      row('TAILDIR idle, 1 file followed: CPU, main thread (sources, channel, sink)', '< 1% of a core', `${idle.main.toFixed(2)}% (whole process ${idle.process.toFixed(2)}%)`, idle.main < 1);
    }
    await d.stop();
  }
}

/**
 * A writer in its own process: `files` files, `rate` lines a second each, for `seconds`, in
 * ticks of 10 ms (each tick one write per file), as a busy web server appends; prints the
 * lines written per file.
 */
const WRITER = String.raw`
const fs = require('node:fs');
const [dir, files, rate, seconds] = [process.argv[1], +process.argv[2], +process.argv[3], +process.argv[4]];
const line = (f, i) => '10.0.0.' + (i % 250) + ' - - [10/Oct/2000:13:55:36 -0700] "GET /w' + f + '/' + (i % 997) + ' HTTP/1.1" 200 ' + i + '\n';
const fds = Array.from({ length: files }, (_, f) => fs.openSync(dir + '/w' + f + '.log', 'a'));
const written = new Array(files).fill(0);
const started = Date.now();
const tick = () => {
  const due = Math.min(rate * seconds, Math.floor(((Date.now() - started) / 1000) * rate));
  for (let f = 0; f < files; f++) {
    let text = '';
    for (let i = written[f]; i < due; i++) text += line(f, i);
    if (text) fs.writeSync(fds[f], text);
    written[f] = Math.max(written[f], due);
  }
  if (due >= rate * seconds) { process.stdout.write(JSON.stringify({ written: written.reduce((a, b) => a + b, 0), ms: Date.now() - started })); return; }
  setTimeout(tick, 10);
};
tick();
`;

/**
 * 1,000 followed files (found at start, a line appended to each, idle CPU), then 10 files
 * written at 20,000 lines/s each: does the source keep up (the lag while written, the time
 * from the writer's end to every line counted) and at what CPU.
 */
export async function tailScale(work: string, row: Row, smoke: boolean, settings: Record<string, string>): Promise<void> {
  const many = smoke ? 20 : 1000;
  {
    const dir = path.join(work, 'tail-many');
    mkdirSync(path.join(dir, 'logs'), { recursive: true });
    const past = new Date(Date.now() - 3_600_000);
    for (let f = 0; f < many; f++) {
      const file = path.join(dir, 'logs', `f${f}.log`);
      writeFileSync(file, line(`f${f}`, 0));
      utimesSync(file, past, past);
    }
    const t0 = performance.now();
    const d = await tailDaemon(dir, 'f.*\\\\.log', settings);
    const startMs = performance.now() - t0;
    await waitCounted(d, many, 120_000);
    const followedMs = performance.now() - t0;
    await sleep(smoke ? 0 : 2000);
    const idle = await idleCpu(d, smoke ? 0.5 : 30);
    const t1 = performance.now();
    for (let f = 0; f < many; f++) writeFileSync(path.join(dir, 'logs', `f${f}.log`), line(`f${f}`, 1), { flag: 'a' });
    await waitCounted(d, 2 * many, 120_000);
    const appendedMs = performance.now() - t1;
    const { body } = await d.get<Stats & { memory: { rssMb: number } }>('/api/stats');
    row(`TAILDIR, ${fmt(many)} followed files: start to every file's line counted`, 'informational', `${(followedMs / 1000).toFixed(2)} s (listening at ${(startMs / 1000).toFixed(2)} s), RSS ${body.memory.rssMb} MB`, body.followed?.files === many);
    row(`  a line appended to each of the ${fmt(many)}, to all counted (includes the wait for the 1 s batch)`, '<= 2 s', `${(appendedMs / 1000).toFixed(2)} s`, appendedMs <= 2000);
    row(`  idle, ${fmt(many)} files followed: CPU, main thread (sources, channel, sink)`, '< 1% of a core', `${idle.main.toFixed(2)}% (whole process ${idle.process.toFixed(2)}%)`, idle.main < 1);
    await d.stop();
  }
  {
    const files = smoke ? 2 : 10;
    const rate = smoke ? 2_000 : 20_000;
    const seconds = smoke ? 0.5 : 10;
    const dir = path.join(work, 'tail-busy');
    const d = await tailDaemon(dir, 'w.*\\\\.log', settings);
    const c0 = cpu(d.proc.pid!);
    const t0 = performance.now();
    const writer = spawn(process.execPath, ['-e', WRITER, path.join(dir, 'logs'), String(files), String(rate), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    writer.stdout.on('data', (c: Buffer) => (out += c));
    const exited = new Promise<void>((r) => writer.on('exit', () => r()));
    let maxLag = 0;
    let done = false;
    void exited.then(() => (done = true));
    while (!done) {
      const { body } = await d.get<Stats>('/api/stats');
      maxLag = Math.max(maxLag, body.followed?.lagBytes ?? 0);
      await sleep(100);
    }
    const { written } = JSON.parse(out) as { written: number; ms: number };
    const wroteMs = performance.now() - t0;
    const drainMs = await waitCounted(d, written, 120_000);
    const c1 = cpu(d.proc.pid!);
    const wall = (performance.now() - t0) / 1000;
    row(`TAILDIR, ${files} files written at ${fmt(rate)} lines/s each for ${seconds} s (${fmt(written)} lines): writer's end to every line counted`, '<= 2 s',
      `${(drainMs / 1000).toFixed(2)} s (largest lag seen ${fmt(maxLag / 1024)} KiB)`, drainMs <= 2000);
    row('  CPU of the daemon meanwhile, cores (whole process; main thread)', 'informational', `${((c1.process - c0.process) / wall).toFixed(2)}; ${((c1.main - c0.main) / wall).toFixed(2)} (over ${(wroteMs / 1000).toFixed(1)} s of writing)`, true);
    await d.stop();
  }
}
