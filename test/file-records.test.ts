import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { Stats } from './helpers/api-types.js';
import { visible, waitFor, withDaemon, type RunningDaemon } from './helpers/daemon.js';

interface FileRow {
  name: string;
  state: string;
  size: number;
  lines: number;
  parseErrors: number | null;
  reason: string | null;
  duplicateOf: string | null;
}

const TIME = '[10/Oct/2000:13:55:36 -0700]';
const line = (i: number, url = `/p/${i % 7}`) => `10.0.0.${i % 250} - - ${TIME} "GET ${url} HTTP/1.1" 200 ${i}`;
const lines = (n: number, from = 0, url?: string) => Array.from({ length: n }, (_, i) => line(from + i, url)).join('\n') + '\n';

/** Writes `content` next to the spool and renames it in, whole. */
function drop(dir: string, name: string, content: string | Buffer): void {
  const staged = path.join(dir, `${name}.staged`);
  writeFileSync(staged, content);
  renameSync(staged, path.join(dir, 'spool', name));
}

async function files(d: RunningDaemon): Promise<FileRow[]> {
  return (await d.get<{ files: FileRow[] }>('/api/files')).body.files;
}

async function finished(d: RunningDaemon, n: number): Promise<FileRow[]> {
  return waitFor(`${n} finished files`, async () => {
    const all = await files(d);
    return all.filter((f) => f.state !== 'pending' && f.state !== 'reading').length === n ? all : undefined;
  });
}

const byName = (rows: FileRow[], name: string) => rows.find((f) => f.name === name)!;

describe('what the source knows about files survives restarts; files are recognised by content', () => {
  test('completed, failed and duplicate files are listed after a kill -9 and a restart, with lines, parse errors and reason; a copy under another name, before or after the restart, is not counted again', async (t) => {
    let daemon = await withDaemon(t);
    const { dir } = daemon;
    const clean = lines(500);
    drop(dir, 'clean.log', clean);
    drop(dir, 'bad.log', Buffer.concat([Buffer.from(lines(3)), Buffer.from('bad \xff here\n', 'latin1')]));
    await finished(daemon, 2);
    drop(dir, 'copy.log', clean);
    const before = await finished(daemon, 3);
    assert.deepEqual(
      [byName(before, 'clean.log').state, byName(before, 'clean.log').parseErrors, byName(before, 'copy.log').state, byName(before, 'copy.log').duplicateOf],
      ['completed', 0, 'duplicate', 'clean.log'],
    );
    // Exactly what the files hold: the copy added nothing.
    const stats = await waitFor('the counts', async () => {
      const { body } = await daemon.get<Stats>('/api/stats');
      return body.eventsCounted === 503 ? body : undefined;
    });
    assert.equal(stats.parseErrors, 0);

    daemon.proc.kill('SIGKILL');
    await daemon.exited;
    daemon = await withDaemon(t, { dir });
    const after = await files(daemon);
    const clean1 = byName(after, 'clean.log');
    assert.deepEqual([clean1.state, clean1.lines, clean1.parseErrors, clean1.size], ['completed', 500, 0, Buffer.byteLength(clean)]);
    const bad = byName(after, 'bad.log');
    assert.deepEqual([bad.state, bad.lines], ['failed', 3]);
    assert.match(bad.reason!, /line 4 \(byte \d+\) is not valid UTF-8.*renamed bad\.log\.FAILED/);
    const copy = byName(after, 'copy.log');
    assert.deepEqual([copy.state, copy.duplicateOf], ['duplicate', 'clean.log']);
    assert.match(copy.reason!, /same content as clean\.log.*renamed copy\.log\.DUPLICATE/);
    const { body: restarted } = await daemon.get<Stats>('/api/stats');
    assert.deepEqual(restarted.files, { pending: 0, inProgress: 0, completed: 1, failed: 1 });

    // The fingerprints survived the kill: the same content under a third name is a duplicate.
    drop(dir, 'again.log', clean);
    // Same size and the same first 64 KB, another end: not a duplicate.
    const big = lines(1500, 0, '/same-header-padding-padding-padding-padding');
    assert.ok(Buffer.byteLength(big) > 64 * 1024);
    drop(dir, 'big1.log', big);
    await finished(daemon, 5);
    drop(dir, 'big2.log', big.slice(0, -6) + '9999\n'.padStart(6, ' '));
    await finished(daemon, 6);
    // big1's whole-file hash was taken as it was read; a copy's, by a read of its own.
    drop(dir, 'big3.log', big);
    const last = await finished(daemon, 7);
    assert.deepEqual(
      ['again.log', 'big1.log', 'big2.log', 'big3.log'].map((n) => [n, byName(last, n).state]),
      [['again.log', 'duplicate'], ['big1.log', 'completed'], ['big2.log', 'completed'], ['big3.log', 'duplicate']],
    );
    assert.deepEqual(
      readdirSync(path.join(dir, 'spool')).filter(visible).sort(),
      ['again.log.DUPLICATE', 'bad.log.FAILED', 'big1.log.COMPLETED', 'big2.log.COMPLETED', 'big3.log.DUPLICATE', 'clean.log.COMPLETED', 'copy.log.DUPLICATE'],
    );
    await waitFor('every line counted once', async () => ((await daemon.get<Stats>('/api/stats')).body.eventsCounted === 503 + 3000 ? true : undefined));
  });

  test('deletePolicy = immediate deletes a duplicate; fileIdentity = name counts a copy again', async (t) => {
    const daemon = await withDaemon(t, { extra: 'a1.sources.r1.deletePolicy = immediate\n' });
    const { dir } = daemon;
    drop(dir, 'one.log', lines(20));
    await finished(daemon, 1);
    drop(dir, 'two.log', lines(20));
    const rows = await finished(daemon, 2);
    assert.equal(byName(rows, 'two.log').state, 'duplicate');
    assert.match(byName(rows, 'two.log').reason!, /deleted$/);
    assert.ok(!existsSync(path.join(dir, 'spool', 'two.log')));

    const other = await withDaemon(t, { extra: 'a1.sources.r1.fileIdentity = name\n' });
    const byNameDir = other.dir;
    drop(byNameDir, 'one.log', lines(20));
    await finished(other, 1);
    copyFileSync(path.join(byNameDir, 'spool', 'one.log.COMPLETED'), path.join(byNameDir, 'two.staged'));
    renameSync(path.join(byNameDir, 'two.staged'), path.join(byNameDir, 'spool', 'two.log'));
    const both = await finished(other, 2);
    assert.equal(byName(both, 'two.log').state, 'completed');
    await waitFor('both counted', async () => ((await other.get<Stats>('/api/stats')).body.eventsCounted === 40 ? true : undefined));
  });
});
