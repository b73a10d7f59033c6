#!/usr/bin/env node
/**
 * Chaos run: drops generated logs into a fresh spool, kills the daemon with SIGKILL at
 * random points N times, restarts it, and compares the final per-URL counts with what
 * the files hold. Exits 1 on any difference.
 *
 *   npm run chaos -- [--kills 50] [--files 8] [--lines 200000] [--seed 1] [--max-delay-ms 800]
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { prng } from './access-log-generator.js';
import { startDaemon, tempDir, waitFor, writeConfig, type RunningDaemon, visible } from './lib/daemon-process.js';
import { dropGeneratedLogs } from './lib/expected-counts.js';

interface Stats {
  eventsCounted: number;
  parseErrors: number;
}

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`--${name} needs a non-negative number`);
    process.exit(64);
  }
  return n;
}

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log('usage: npm run chaos -- [--kills 50] [--files 8] [--lines 200000] [--seed 1] [--max-delay-ms 800]');
    return;
  }
  const kills = option('kills', 50);
  const files = option('files', 8);
  const lines = option('lines', 200_000);
  const seed = option('seed', 1);
  const maxDelay = option('max-delay-ms', 800);
  const dir = tempDir('logflow-chaos-');
  await writeConfig(dir, '', { 'a1.jobs.j1.batchInterval': '0.25', 'a1.jobs.j1.windowDuration': '3600' });
  const spool = path.join(dir, 'spool');
  const expected = await dropGeneratedLogs(dir, { files, lines, urls: 5000, seed: seed * 1000 });
  console.log(`chaos: ${files} files, ${expected.lines} lines, ${kills} kills, working in ${dir}`);

  const rand = prng(seed);
  let longestRecoveryMs = 0;
  for (let k = 0; k < kills; k++) {
    const started = Date.now();
    const d = await startDaemon(dir);
    longestRecoveryMs = Math.max(longestRecoveryMs, Date.now() - started);
    await new Promise((r) => setTimeout(r, Math.floor(rand() * maxDelay)));
    const { body } = await d.get<Stats>('/api/stats');
    d.proc.kill('SIGKILL');
    await d.exited;
    console.log(`kill ${k + 1}/${kills}: ${body.eventsCounted + body.parseErrors} of ${expected.lines} lines counted`);
  }
  const started = Date.now();
  const d: RunningDaemon = await startDaemon(dir);
  longestRecoveryMs = Math.max(longestRecoveryMs, Date.now() - started);
  try {
    await waitFor('the whole ingest', async () => {
      const { body } = await d.get<Stats>('/api/stats');
      const done = readdirSync(spool).filter(visible).every((n) => n.endsWith('.COMPLETED'));
      return done && body.eventsCounted + body.parseErrors === expected.lines ? body : undefined;
    }, 300_000);
    const { body: stats } = await d.get<Stats>('/api/stats');
    const { body: top } = await d.get<{ urls: { url: string; count: number }[] }>('/api/top?n=1000');
    const wrong = top.urls.filter((u) => expected.counts.get(u.url) !== u.count);
    const want = [...expected.counts.values()].sort((a, b) => b - a).slice(0, 1000);
    const rows = [
      ['URLs counted', String(expected.total), String(stats.eventsCounted)],
      ['parse errors', String(expected.parseErrors), String(stats.parseErrors)],
      ['top-1000 URLs with a wrong count', '0', String(wrong.length)],
      ['top-1000 count profile matches', 'yes', JSON.stringify(top.urls.map((u) => u.count)) === JSON.stringify(want) ? 'yes' : 'no'],
    ];
    console.log('\nfigure                              clean run   after kills');
    for (const [a, b, c] of rows) console.log(`${a!.padEnd(36)}${b!.padStart(9)}   ${c}`);
    console.log(`longest start-up (recovery) seen: ${longestRecoveryMs} ms`);
    const ok = rows.every(([, b, c]) => b === c);
    console.log(ok ? '\nchaos: PASS' : '\nchaos: FAIL');
    process.exitCode = ok ? 0 : 1;
  } finally {
    await d.stop('SIGTERM');
  }
}

void main();
