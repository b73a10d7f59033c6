import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, readSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openSpoolFile } from '../daemon/source/spool-open.js';
import { tempDir } from './helpers/daemon.js';

/**
 * The check of a link's target and its open are one (spool-open.ts): while another process
 * swaps a directory on the target's path between a real one and a link out of the root,
 * thousands of opens through a spool link read the file inside or refuse, never the file
 * outside. Without the checks after the open (inode, /proc/self/fd) some opens read it.
 */
test('a directory swapped for a link out of symlinkRoots between the check and the open: never read', async (t) => {
  const dir = realpathSync(tempDir());
  const [spool, root, outside] = ['spool', 'root', 'outside'].map((d) => path.join(dir, d)) as [string, string, string];
  for (const d of [spool, path.join(root, 'd'), outside]) mkdirSync(d, { recursive: true });
  writeFileSync(path.join(root, 'd', 'x.log'), 'INSIDE\n');
  writeFileSync(path.join(outside, 'x.log'), 'OUTSIDE\n');
  symlinkSync(outside, path.join(root, 'evil'));
  symlinkSync(path.join(root, 'd', 'x.log'), path.join(spool, 'a.log'));
  // d is the real directory, then the link out, then the directory again, as fast as rename goes.
  const swapper = spawn(process.execPath, ['-e', `
    const { renameSync } = require('node:fs');
    process.chdir(${JSON.stringify(root)});
    process.stdout.write('go\\n');
    for (;;) { try { renameSync('d', 'r'); renameSync('evil', 'd'); renameSync('d', 'evil'); renameSync('r', 'd'); } catch {} }
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => swapper.kill('SIGKILL'));
  await new Promise((resolve) => swapper.stdout.once('data', resolve));
  const policy = { followSymlinks: true, symlinkRoots: [root] };
  const seen = { inside: 0, outside: 0, refused: 0, gone: 0 };
  const buf = Buffer.alloc(16);
  for (let i = 0; i < 20_000; i++) {
    let opened;
    try {
      opened = openSpoolFile(path.join(spool, 'a.log'), policy);
    } catch {
      seen.gone++; // d renamed away for a moment: ENOENT
      continue;
    }
    if (opened.kind === 'refused') {
      seen.refused++;
      continue;
    }
    const text = buf.toString('utf8', 0, readSync(opened.fd, buf, 0, buf.length, 0));
    closeSync(opened.fd);
    if (text === 'INSIDE\n') seen.inside++;
    else seen.outside++;
  }
  assert.equal(seen.outside, 0, JSON.stringify(seen));
  assert.ok(seen.inside > 0 && seen.refused > 0, `both sides of the swap were seen: ${JSON.stringify(seen)}`);
});
