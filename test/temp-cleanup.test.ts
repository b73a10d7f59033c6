import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const HELPER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'helpers/daemon.js');

/**
 * A test process that makes a temp dir (with a file in it) and then ends as `end` says;
 * resolves with the dir once the process has ended.
 */
function child(end: 'fail' | 'sigterm' | 'pass', env: Record<string, string> = {}): Promise<string> {
  const script = `
    import { writeFileSync } from 'node:fs';
    import { tempDir } from ${JSON.stringify(HELPER)};
    const dir = tempDir();
    writeFileSync(dir + '/left.txt', 'x');
    console.log(dir);
    if (${JSON.stringify(end)} === 'fail') process.exitCode = 1;
    if (${JSON.stringify(end)} === 'sigterm') setInterval(() => {}, 1000);`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, LOGFLOW_KEEP_TMP: '', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((resolve) => {
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (end === 'sigterm' && out.endsWith('\n')) proc.kill('SIGTERM');
    });
    proc.on('exit', () => resolve(out.trim()));
  });
}

describe('temp dirs of tests', () => {
  test('are removed whether the test process passed, failed or was stopped by SIGTERM; LOGFLOW_KEEP_TMP=1 keeps them', async () => {
    for (const end of ['pass', 'fail', 'sigterm'] as const) {
      const dir = await child(end);
      assert.match(dir, /logflow-/);
      assert.equal(existsSync(dir), false, `${end}: ${dir} was left behind`);
    }
    const kept = await child('fail', { LOGFLOW_KEEP_TMP: '1' });
    assert.equal(existsSync(kept), true);
    rmSync(kept, { recursive: true, force: true });
  });
});
