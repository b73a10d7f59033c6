import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { DirLock } from '../daemon/durable/dir-lock.js';
import { tempDir } from './helpers/daemon.js';

const locked = (what: RegExp) => (err: Error & { code?: string }) => err.code === 'LF_LOCKED' && what.test(err.message);

test('one holder at a time, in this process and from another thread; free again once released; LOCK names the holder', async () => {
  const dir = tempDir();
  const started = performance.now();
  const lock = DirLock.acquire(dir, 'checkpoint directory');
  const ms = performance.now() - started;
  assert.match(readFileSync(path.join(dir, 'LOCK'), 'utf8'), new RegExp(`^${process.pid} holds LOCK\\.db\\n$`));
  assert.throws(() => DirLock.acquire(dir, 'checkpoint directory'), locked(new RegExp(`in use by another logflow process \\(pid ${process.pid}, it holds \\S+LOCK\\.db\\)`)));
  // A worker thread of this process (the job runs in one) is refused too.
  const fromThread = await new Promise<string>((resolve, reject) => {
    const url = new URL('../daemon/durable/dir-lock.js', import.meta.url).href;
    const w = new Worker(`import(${JSON.stringify(url)}).then(({ DirLock }) => { try { DirLock.acquire(${JSON.stringify(dir)}, 'x'); require('node:worker_threads').parentPort.postMessage('acquired'); } catch (e) { require('node:worker_threads').parentPort.postMessage(e.code); } });`, { eval: true });
    w.once('message', (m: string) => void w.terminate().then(() => resolve(m)));
    w.once('error', reject);
  });
  assert.equal(fromThread, 'LF_LOCKED');
  lock.release();
  DirLock.acquire(dir, 'checkpoint directory').release();
  console.log(`# acquired in ${ms.toFixed(2)} ms`);
});

test('a LOCK of an older logflow (the pid alone) is honoured while that pid is a logflow process, not when it is any other process', async () => {
  const dir = tempDir();
  // A process whose command line says logflow, as an older daemon's does.
  const older = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)', 'dist/daemon/main.js', '--conf-file', 'logflow.conf'], { stdio: 'ignore' });
  const other = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    writeFileSync(path.join(dir, 'LOCK'), `${older.pid}\n`);
    assert.throws(() => DirLock.acquire(dir, 'checkpoint directory'), locked(new RegExp(`pid ${older.pid}, an older version`)));
    writeFileSync(path.join(dir, 'LOCK'), `${other.pid}\n`);
    DirLock.acquire(dir, 'checkpoint directory').release();
  } finally {
    older.kill('SIGKILL');
    other.kill('SIGKILL');
  }
});
