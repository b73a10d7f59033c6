import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { waitFor } from './helpers/daemon.js';
import { runSource } from './helpers/spool-source.js';
import { PAUSE_AT } from '../daemon/source/spool-discovery.js';

const FILES = 10_000;

/** File i is the i-th oldest; names are shuffled so that name order is not mtime order. */
function nameOf(i: number): string {
  return `f${String((i * 7919) % FILES).padStart(5, '0')}.log`;
}

function writeFiles(dir: string): void {
  const base = Date.now() / 1000 - FILES - 60;
  for (let i = 0; i < FILES; i++) {
    const p = path.join(dir, nameOf(i));
    writeFileSync(p, `${i} a\n${i} b\n`);
    utimesSync(p, base + i, base + i);
  }
}

describe('spool directory at scale', () => {
  test('10,000 small files dropped at once are all read, each once and whole, and renamed', { timeout: 60_000 }, async (t) => {
    const run = await runSource(t, 'a1.sources.r1.pollDelay = 200\n');
    const staging = path.join(path.dirname(run.spool), 'staging');
    mkdirSync(staging);
    writeFiles(staging);
    const started = Date.now();
    for (let i = 0; i < FILES; i++) renameSync(path.join(staging, nameOf(i)), path.join(run.spool, nameOf(i)));
    await waitFor('all files', () => run.source.files.counts().completed === FILES || undefined, 60_000);
    const ms = Date.now() - started;
    t.diagnostic(`10,000 files dropped: ${ms} ms`);
    assert.equal(run.events.length, 2 * FILES);
    // Each file's two lines arrive together, in order.
    const seen = new Set<string>();
    for (let i = 0; i < run.events.length; i += 2) {
      const [a, b] = [run.events[i]!, run.events[i + 1]!];
      assert.equal(a.file, b.file);
      const n = a.body.split(' ')[0];
      assert.deepEqual([a.body, b.body], [`${n} a`, `${n} b`]);
      assert.ok(!seen.has(a.file), `${a.file} read twice`);
      seen.add(a.file);
    }
    assert.equal(readdirSync(run.spool).filter((n) => n.endsWith('.COMPLETED')).length, FILES);
    await run.stop();
  });

  test('10,000 files found together are read in consumeOrder (oldest first)', { timeout: 60_000 }, async (t) => {
    const started = Date.now();
    const run = await runSource(t, '', writeFiles);
    await waitFor('all files', () => run.source.files.counts().completed === FILES || undefined, 60_000);
    t.diagnostic(`10,000 files at start-up: ${Date.now() - started} ms`);
    const order = run.events.filter((_, i) => i % 2 === 0).map((e) => Number(e.body.split(' ')[0]));
    assert.deepEqual(order, Array.from({ length: FILES }, (_, i) => i));
    await run.stop();
  });

  test('the watcher pauses while a burst is queued; a file dropped meanwhile is found once the queue is read', async (t) => {
    const queued = PAUSE_AT + 100;
    const run = await runSource(t, '', (spool) => {
      const old = Date.now() / 1000 - 3600;
      for (let i = 0; i < queued; i++) {
        writeFileSync(path.join(spool, `q${i}.log`), `${i}\n`);
        utimesSync(path.join(spool, `q${i}.log`), old, old);
      }
    }, true); // held: nothing is read until release(), so the queue stays above PAUSE_AT
    writeFileSync(path.join(run.spool, 'late.log'), 'late\n');
    run.release();
    await waitFor('all files', () => run.source.files.counts().completed === queued + 1 || undefined, 60_000);
    assert.deepEqual(run.events.filter((e) => e.file === 'late.log').map((e) => e.body), ['late']);
  });
});
