import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { waitFor, visible } from './helpers/daemon.js';
import { runSource } from './helpers/spool-source.js';

describe('spooldir source', () => {
  test('reads files present at start-up and new ones, in mtime order, and renames them when delivered', async (t) => {
    const run = await runSource(t, '', (spool) => {
      writeFileSync(path.join(spool, 'b.log'), 'b1\nb2\n');
      writeFileSync(path.join(spool, 'a.log'), 'a1\n');
      utimesSync(path.join(spool, 'b.log'), new Date(1000_000), new Date(1000_000));
      utimesSync(path.join(spool, 'a.log'), new Date(2000_000), new Date(2000_000));
    });
    await waitFor('two files', () => run.source.files.counts().completed === 2 || undefined);
    writeFileSync(path.join(run.spool, 'c.log'), 'c1');
    await waitFor('the third file', () => run.source.files.counts().completed === 3 || undefined);
    assert.deepEqual(run.events.map((e) => e.body), ['b1', 'b2', 'a1', 'c1']);
    assert.deepEqual(readdirSync(run.spool).filter(visible).sort(), ['a.log.COMPLETED', 'b.log.COMPLETED', 'c.log.COMPLETED']);
    await run.stop();
  });

  test('skips hidden files, ignorePattern and includePattern misses, and directories', async (t) => {
    const run = await runSource(t, 'a1.sources.r1.ignorePattern = ^skip\na1.sources.r1.includePattern = \\.log$\n', (spool) => {
      writeFileSync(path.join(spool, '.hidden.log'), 'x\n');
      writeFileSync(path.join(spool, 'skip-me.log'), 'x\n');
      writeFileSync(path.join(spool, 'notes.txt'), 'x\n');
      mkdirSync(path.join(spool, 'sub.log'));
      writeFileSync(path.join(spool, 'good.log'), 'ok\n');
    });
    await waitFor('the good file', () => run.source.files.counts().completed === 1 || undefined);
    // A listing of the spool begun after that one saw every name: a wanted file would be in
    // the source's registry from then on, before it is read.
    const mark = run.source.listings + 1;
    await waitFor('a whole listing of the spool after the good file', () => run.source.listings > mark || undefined);
    assert.deepEqual(run.source.fileList().map((f) => f.name), ['good.log']);
    assert.deepEqual(run.events.map((e) => e.body), ['ok']);
    assert.ok(existsSync(path.join(run.spool, 'skip-me.log')));
    assert.ok(existsSync(path.join(run.spool, 'notes.txt')));
    assert.ok(existsSync(path.join(run.spool, '.hidden.log')));
    await run.stop();
  });

  test('deletePolicy = immediate deletes a finished file', async (t) => {
    const run = await runSource(t, 'a1.sources.r1.deletePolicy = immediate\n', (spool) => writeFileSync(path.join(spool, 'x.log'), 'x\n'));
    await waitFor('the file', () => run.source.files.counts().completed === 1 || undefined);
    assert.deepEqual(readdirSync(run.spool).filter(visible), []);
    await run.stop();
  });

  test('a file still being written is not read until it has been unchanged for pollDelay', async (t) => {
    const run = await runSource(t);
    const file = path.join(run.spool, 'growing.log');
    writeFileSync(file, 'line 0\n');
    for (let i = 1; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 40));
      appendFileSync(file, `line ${i}\n`);
    }
    await waitFor('the file', () => run.source.files.counts().completed === 1 || undefined);
    assert.equal(run.events.length, 10);
    await run.stop();
  });

  test('a large file is read in chunks and every line arrives once, in order', async (t) => {
    const lines = Array.from({ length: 50_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 97)}`);
    const run = await runSource(t, '', (spool) => writeFileSync(path.join(spool, 'big.log'), lines.join('\n') + '\n'));
    await waitFor('the file', () => run.source.files.counts().completed === 1 || undefined);
    assert.equal(run.events.length, lines.length);
    assert.ok(run.events.every((e, i) => e.body === lines[i]));
    await run.stop();
  });

  test('ISO-8859-1 input is re-encoded as UTF-8 events', async (t) => {
    const run = await runSource(t, 'a1.sources.r1.inputCharset = ISO-8859-1\n', (spool) =>
      writeFileSync(path.join(spool, 'l1.log'), Buffer.from('caf\xe9\nna\xefve\n', 'latin1')));
    await waitFor('the file', () => run.source.files.counts().completed === 1 || undefined);
    assert.deepEqual(run.events.map((e) => e.body), ['café', 'naïve']);
  });

  test('gzip files are read transparently; a corrupt one is quarantined as .FAILED with its reason', async (t) => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `gz line ${i}`);
    const run = await runSource(t, '', (spool) => {
      writeFileSync(path.join(spool, 'a.log.gz'), gzipSync(lines.join('\n') + '\n'));
      const good = gzipSync('never read\n'.repeat(1000));
      writeFileSync(path.join(spool, 'broken.log.gz'), Buffer.concat([good.subarray(0, 40), Buffer.from('garbage garbage garbage')]));
    });
    await waitFor('both files', () => {
      const c = run.source.files.counts();
      return c.completed === 1 && c.failed === 1 ? c : undefined;
    });
    assert.deepEqual(run.events.filter((e) => e.file === 'a.log.gz').map((e) => e.body), lines);
    const failed = run.source.files.list().find((f) => f.state === 'failed')!;
    assert.equal(failed.name, 'broken.log.gz');
    assert.match(failed.reason!, /read failed: .*renamed broken\.log\.gz\.FAILED/);
    assert.ok(existsSync(path.join(run.spool, 'broken.log.gz.FAILED')));
    assert.ok(existsSync(path.join(run.spool, 'a.log.gz.COMPLETED')));
  });
});
