#!/usr/bin/env node
// `npm test`: node --test on every compiled test file, the slowest first. The runner keeps
// three files running and starts the next one in its list when one ends, so a file of two
// minutes that comes last runs alone at the end, on one core of two, while the others are
// done (list scheduling: longest first keeps the lanes even). Plain JavaScript, no build.
//
//   node scripts/run-tests.mjs [NODE --test OPTIONS...]   (npm test -- --test-reporter=tap)
//   node scripts/run-tests.mjs --list                     the files, in the order they start
//
// SLOWEST_FIRST is measured (scripts/test-file-times.mjs: each file's test durations summed,
// two npm test runs of 2026-12-07 at load 14-29, averaged; a file's place matters, not its
// figure). A listed file that no longer exists stops the run, so that the list follows
// renames; a new slow file belongs in it. Files not listed follow in name order.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SLOWEST_FIRST = [
  'crash-recovery', 'scaleout-exact', 'postgres-exactly-once', 'resource-faults-database', 'own-time',
  'taildir-crash', 'checkpoint', 'resource-faults-checkpoint', 'topology', 'spool-scale', 'event-time',
  'postgres-daemon', 'crash-windows', 'e2e', 'checkpoint-wal', 'dashboard-browser', 'collector',
  'results-contract', 'spool-growing', 'upgrade-history', 'cli', 'history-dimensions', 'upgrade',
  'startup-errors', 'jetstream-cluster',
];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'dist', 'test');
const all = readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort();
const missing = SLOWEST_FIRST.filter((name) => !existsSync(path.join(dir, `${name}.test.js`)));
if (missing.length > 0) {
  console.error(`run-tests: SLOWEST_FIRST in scripts/run-tests.mjs names ${missing.map((m) => `test/${m}.test.ts`).join(', ')}: no such test file (take ${missing.length > 1 ? 'them' : 'it'} out, or write the new name)`);
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
