#!/usr/bin/env node
// Builds dist/ when it is missing or older than a TypeScript source, and does nothing
// otherwise, so that `npm start` (prestart) starts at once and `npm install` (prepare) builds
// once. Plain JavaScript: it has to run before anything is compiled.
//
//   node scripts/ensure-build.mjs [PROJECT_DIR]
//
// The rebuild is tsc's incremental one (only what changed); `npm run build` is the clean one.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(process.argv[2] ?? '.');
const SOURCE_DIRS = ['daemon', 'scripts', 'test'];
const stamp = path.join(root, 'dist', '.build-stamp');

if (!existsSync(path.join(root, 'tsconfig.json'))) {
  // `npm ci` in a Docker layer that holds only package.json and the lock file.
  console.error('ensure-build: no tsconfig.json here yet; nothing to build');
  process.exit(0);
}

/** The newest modification time of the sources and of the compiler's settings. */
function newestSource() {
  let newest = statSync(path.join(root, 'tsconfig.json')).mtimeMs;
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
    }
  };
  for (const dir of SOURCE_DIRS) if (existsSync(path.join(root, dir))) walk(path.join(root, dir));
  return newest;
}

const builtAt = existsSync(stamp) ? statSync(stamp).mtimeMs : -1;
if (builtAt >= newestSource()) process.exit(0);

const tsc = (() => {
  try {
    return createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    return undefined;
  }
})();
if (!tsc) {
  console.error('ensure-build: dist/ is missing or older than the sources, and TypeScript is not installed (npm install, without --omit=dev)');
  process.exit(1);
}
const started = new Date();
console.error(builtAt < 0 ? 'logflow: compiling TypeScript into dist/ (once; about 10-30 s)...' : 'logflow: a source changed since the last build; compiling what changed...');
const run = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', 'dist/.tsbuildinfo'], { cwd: root, stdio: 'inherit' });
if (run.status !== 0) process.exit(run.status ?? 1);
const cli = path.join(root, 'dist', 'daemon', 'cli.js');
if (existsSync(cli)) chmodSync(cli, 0o755);
// Stamped with the time the build started: a file saved during the build is newer, so it
// is compiled next time.
mkdirSync(path.dirname(stamp), { recursive: true });
writeFileSync(stamp, '');
utimesSync(stamp, started, started);
