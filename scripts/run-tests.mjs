#!/usr/bin/env node
// `npm test`: node --test on every compiled test file, the slowest first. The runner keeps
// three files running and starts the next one in its list when one ends, so a file of two
// minutes that comes last runs alone at the end, on one core of two, while the others are
// done (list scheduling: longest first keeps the lanes even). Plain JavaScript, no build.
//
//   node scripts/run-tests.mjs [NODE --test OPTIONS...]   (npm test -- --test-reporter=tap)
//   node scripts/run-tests.mjs --list                     the files, in the order they start
//
// SLOWEST_FIRST is measured (the sums of each file's test durations in an `npm test` run,
// 2026-12-07, load 14: each file's place, not its figure, matters). A listed file that no
// longer exists stops the run, so that the list follows renames; a new slow file belongs in
// it. Files not listed follow in name order.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SLOWEST_FIRST = [
  'crash-recovery', 'checkpoint', 'own-time', 'postgres-exactly-once', 'scaleout-exact',
  'resource-faults-database', 'taildir-crash', 'resource-faults-checkpoint', 'event-time',
  'topology', 'collector', 'checkpoint-wal', 'crash-windows', 'spool-scale', 'postgres-daemon',
  'e2e', 'dashboard-browser', 'jetstream-cluster', 'cli', 'analyze-cli', 'upgrade-history',
  'results-contract', 'startup-errors', 'spool-growing', 'history-dimensions', 'upgrade',
];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'dist', 'test');
const all = readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort();
const missing = SLOWEST_FIRST.filter((name) => !existsSync(path.join(dir, `${name}.test.js`)));
if (missing.length > 0) {
  console.error(`run-tests: scripts/run-tests.mjs lists ${missing.map((m) => `test/${m}.test.ts`).join(', ')}, which no longer exist: take them out of SLOWEST_FIRST (or rename them there)`);
  process.exit(2);
}
const first = SLOWEST_FIRST.map((name) => `${name}.test.js`);
const files = [...first, ...all.filter((f) => !first.includes(f))].map((f) => path.join('dist', 'test', f));

if (process.argv.includes('--list')) {
  console.log(files.join('\n'));
  process.exit(0);
}
const run = spawnSync(process.execPath, ['--test', '--test-concurrency=3', '--test-timeout=180000', ...process.argv.slice(2), ...files], { cwd: root, stdio: 'inherit' });
if (run.error) throw run.error;
process.exit(run.status ?? 1);
