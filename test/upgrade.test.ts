import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { WriteAheadLog } from '../daemon/job/write-ahead-log.js';
import { CHECKPOINT_FORMAT } from '../daemon/job/checkpoint-manifest.js';
import { SCHEMA_VERSION } from '../daemon/store/schema-version.js';
import { olderFileKeyOf, sourceIdOf } from '../daemon/source/file-key.js';
import { generateLines } from '../scripts/access-log-generator.js';
import { tempDir, waitFor, withDaemon, writeConfig } from './helpers/daemon.js';
import { expectedCounts } from './helpers/expected-counts.js';
import { startFails } from './helpers/start-fails.js';
import type { Stats, Top } from './helpers/api-types.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');

interface Made {
  log: { lines: number; urls: number; seed: number; startMs: number; spanSeconds: number; malformed: number };
  conf: string;
  file: string;
  size: number;
  position: number;
}

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Restores a fixture made by an older logflow into `dir`: its checkpoint, its results.db,
 * and its log (generated again, byte for byte) in the spool. The file's key (the older
 * logflow's: name, inode, size, mtime) names its inode, which no copy keeps: that one key is
 * renamed to the key the older logflow would have given the restored file.
 */
function restoreFixture(name: string, dir: string): { made: Made; lines: string[] } {
  const from = path.join(FIXTURES, name);
  const made = JSON.parse(readFileSync(path.join(from, 'made.json'), 'utf8')) as Made;
  cpSync(path.join(from, 'checkpoint'), path.join(dir, 'checkpoint'), { recursive: true });
  mkdirSync(path.join(dir, 'data'));
  cpSync(path.join(from, 'results.db'), path.join(dir, 'data', 'results.db'));
  const lines = [...generateLines(made.log)];
  const spool = path.join(dir, 'spool');
  mkdirSync(spool);
  const file = path.join(spool, made.file);
  writeFileSync(file, lines.join('\n') + '\n');
  const past = new Date(Date.now() - 600_000);
  utimesSync(file, past, past);
  const st = statSync(file);
  assert.equal(st.size, made.size, 'the generator gives the fixture\'s log byte for byte');
  const manifestFile = path.join(dir, 'checkpoint', 'manifest.json');
  const body = (JSON.parse(readFileSync(manifestFile, 'utf8')) as { manifest: string }).manifest;
  const oldKey = (JSON.parse(body) as { positions: [string, number][] }).positions[0]![0];
  const newBody = body.replaceAll(oldKey, olderFileKeyOf(sourceIdOf(spool).id, made.file, st));
  writeFileSync(manifestFile, JSON.stringify({ sha1: sha1(newBody), manifest: newBody }));
  return { made, lines };
}

/** Rewrites the restored manifest's body (a newer format, for the refusal test). */
function editManifest(dir: string, edit: (m: Record<string, unknown>) => void): void {
  const file = path.join(dir, 'checkpoint', 'manifest.json');
  const m = JSON.parse((JSON.parse(readFileSync(file, 'utf8')) as { manifest: string }).manifest) as Record<string, unknown>;
  edit(m);
  const body = JSON.stringify(m);
  writeFileSync(file, JSON.stringify({ sha1: sha1(body), manifest: body }));
}

/** A fixture restored into a fresh directory (restoreFixture), with the configuration it was made with (plus `extra`). */
async function restoredDir(name: string, extra = ''): Promise<{ dir: string; made: Made; lines: string[] }> {
  const dir = tempDir();
  const { made, lines } = restoreFixture(name, dir);
  await writeConfig(dir, made.conf + extra);
  return { dir, made, lines };
}

/**
 * A fixture restored, the daemon of today started on it, its file read to the end (the tail
 * flushed): the history over the whole log, URL by URL, is the independent count's.
 */
async function upgradedAndCounted(t: TestContext, name: string) {
  const { dir, made, lines } = await restoredDir(name, 'a1.jobs.j1.flushAfterIdle = 1\n');
  const d = await withDaemon(t, { dir });
  const want = expectedCounts(path.join(dir, 'spool', made.file));
  const stats = await waitFor('the whole file, its tail flushed', async () => {
    const { body } = await d.get<Stats>('/api/stats');
    return body.eventsCounted + body.parseErrors === lines.length ? body : undefined;
  }, 60_000);
  // The history over the whole log, as a clean run would give it (the generator's last line
  // is a little past the span).
  const { startMs, spanSeconds } = made.log;
  const range = `from=${iso(startMs)}&to=${iso(startMs + spanSeconds * 1000 + 60_000)}`;
  const { body: top } = await d.get<Top>(`/api/top?n=1000&${range}`);
  assert.equal(top.total, want.total);
  assert.equal(top.urls.length, want.counts.size);
  for (const { url, count } of top.urls) assert.equal(count, want.counts.get(url), url);
  return { dir, d, want, stats, range, lines };
}

describe('upgrades keep the checkpoint and the history', () => {
  test('a checkpoint (format 1) and results.db (schema 0) taken mid-file by 2f37a76: migrated, the file finished, counts exact', async (t) => {
    const { dir, d, want, stats, range, lines } = await upgradedAndCounted(t, 'checkpoint-v1');
    assert.deepEqual([stats.eventsCounted, stats.parseErrors, stats.historyOnlyEvents, stats.eventsIn], [want.total, want.parseErrors, 0, lines.length]);
    const { body: series } = await d.get<{ points: { count: number }[] }>(`/api/series?${range}&step=60`);
    assert.equal(series.points.reduce((a, p) => a + p.count, 0), want.total);
    // The log says what was migrated.
    assert.ok(d.logs.some((l) => l.includes(`checkpoint migrated from format 1 to ${CHECKPOINT_FORMAT}`)), 'checkpoint migration logged');
    assert.ok(d.logs.some((l) => l.includes(`results database migrated from schema 0 to ${SCHEMA_VERSION}`)), 'schema migration logged');
    assert.equal(await d.stop('SIGTERM'), 0);
    // The migrated checkpoint is of the current format and restarts as it is.
    const again = await withDaemon(t, { dir });
    assert.equal((await again.get<Stats>('/api/stats')).body.eventsCounted, want.total);
    assert.ok(!again.logs.some((l) => l.includes('migrated')), 'nothing to migrate the second time');
    assert.equal(await again.stop('SIGTERM'), 0);
  });

  test('a checkpoint (format 2: URL counts only) taken mid-file by 0f9a7b9: migrated to counts by dimension, the file finished, URL counts exact, the status counted from where it resumed', async (t) => {
    const { d } = await upgradedAndCounted(t, 'checkpoint-v2');
    assert.ok(d.logs.some((l) => l.includes(`checkpoint migrated from format 2 to ${CHECKPOINT_FORMAT}`)), 'checkpoint migration logged');
    // The newest window's statuses: counted for the lines read after the upgrade (the old slots had none).
    const { body: byStatus } = await d.get<{ by: string; items: { key: string; count: number }[] }>('/api/top?by=status&n=10');
    assert.equal(byStatus.by, 'status');
    assert.ok(byStatus.items.length > 0 && byStatus.items.every((i) => /^\d{3}$/.test(i.key)), JSON.stringify(byStatus));
    assert.equal(await d.stop('SIGTERM'), 0);
  });

  test('a checkpoint of a newer format is refused with LF_CHECKPOINT_INCOMPATIBLE, naming both versions and the way out', async () => {
    const { dir } = await restoredDir('checkpoint-v1');
    editManifest(dir, (m) => (m.format = 99));
    const message = await startFails(dir);
    assert.match(message, /LF_CHECKPOINT_INCOMPATIBLE/);
    assert.match(message, new RegExp(`format 99, written by a newer logflow; this one reads formats 1 to ${CHECKPOINT_FORMAT}`));
    assert.match(message, /--reset-checkpoint/);
  });

  test('a results database of a newer schema is refused with LF_CHECKPOINT_INCOMPATIBLE, naming both versions', async () => {
    const { dir } = await restoredDir('checkpoint-v1');
    const db = new Database(path.join(dir, 'data', 'results.db'));
    db.pragma('user_version = 7');
    db.close();
    const message = await startFails(dir);
    assert.match(message, /LF_CHECKPOINT_INCOMPATIBLE/);
    assert.match(message, /schema version 7, written by a newer logflow; this one reads versions 0 to 4/);
    assert.match(message, /database/);
  });

  test('write-ahead-log segments of format 1 (2f37a76) replay; a newer format is refused', () => {
    const dir = tempDir();
    cpSync(path.join(FIXTURES, 'wal-v1', 'wal'), dir, { recursive: true });
    const records = [...WriteAheadLog.replay(dir, 7)].map((r) => r.toString());
    assert.deepEqual(records, ['record 0 of segment 7', 'record 1 of segment 7', 'record 2 of segment 7', 'record 0 of segment 8']);
    // A segment the current code writes, after them: read with its header.
    const wal = new WriteAheadLog(dir, 9);
    wal.append(Buffer.from('record 0 of segment 9'));
    wal.close();
    assert.deepEqual([...WriteAheadLog.replay(dir, 8)].map((r) => r.toString()), ['record 0 of segment 8', 'record 0 of segment 9']);
    const segment = path.join(dir, '0000000009.wal');
    const bytes = readFileSync(segment);
    bytes.writeUInt16LE(3, 6);
    writeFileSync(segment, bytes);
    assert.throws(() => [...WriteAheadLog.replay(dir, 9)], (err: Error & { code?: string }) =>
      err.code === 'LF_CHECKPOINT_INCOMPATIBLE' && /format 3, written by a newer logflow; this one reads formats 1 to 2/.test(err.message) && /--reset-checkpoint/.test(err.message));
  });
});
