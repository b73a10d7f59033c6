import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers/daemon.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPT = path.join(REPO, 'scripts/ensure-build.mjs');

/** Runs `npm start`'s and `npm install`'s build step on `root`; returns its stderr, which says whether it compiled. */
function ensureBuild(root: string): string {
  const run = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return run.stderr;
}

describe('scripts/ensure-build.mjs (prepare, prestart)', () => {
  test('compiles when dist/ is missing, does nothing when it is newer than every source, recompiles when a source changes', () => {
    const root = tempDir();
    symlinkSync(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'));
    writeFileSync(path.join(root, 'package.json'), '{"type":"module"}');
    writeFileSync(path.join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: { outDir: 'dist', rootDir: '.', module: 'NodeNext', target: 'ES2022', types: [] }, include: ['daemon/**/*.ts'] }));
    mkdirSync(path.join(root, 'daemon'));
    const source = path.join(root, 'daemon', 'cli.ts');
    writeFileSync(source, 'export const a = 1;\n');
    const out = path.join(root, 'dist', 'daemon', 'cli.js');

    assert.match(ensureBuild(root), /compiling TypeScript into dist\/ \(once/);
    assert.match(execFileSync(process.execPath, ['-e', `import(${JSON.stringify(out)}).then((m) => console.log(m.a))`], { encoding: 'utf8' }), /^1\n$/);
    assert.equal(statSync(out).mode & 0o111, 0o111, 'the bin is executable');
    const builtAt = statSync(out).mtimeMs;

    assert.equal(ensureBuild(root), '', 'dist is newer than the sources: nothing is compiled');
    assert.equal(statSync(out).mtimeMs, builtAt);

    writeFileSync(source, 'export const a = 2;\n');
    const later = new Date(Date.now() + 5000);
    utimesSync(source, later, later);
    assert.match(ensureBuild(root), /a source changed since the last build; compiling what changed/);
    assert.match(execFileSync(process.execPath, ['-e', `import(${JSON.stringify(out)}).then((m) => console.log(m.a))`], { encoding: 'utf8' }), /^2\n$/);
  });
});
