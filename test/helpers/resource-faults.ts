import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { Stats, Top } from './api-types.js';
import { waitFor, withDaemon, type RunningDaemon } from './daemon.js';
import { dropLog, type Expected } from './expected-counts.js';
import { canMountTmpfs } from './tmpfs.js';

/** A log (20,000 lines unless told) with 1% malformed lines dropped into the daemon's spool; its expected counts. */
export const drop = (dir: string, name: string, seed: number, lines = 20_000): Promise<Expected> => dropLog(dir, name, { lines, urls: 200, seed, malformed: 0.01 });

function merged(...all: Expected[]): { total: number; parseErrors: number; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  for (const e of all) for (const [url, n] of e.counts) counts.set(url, (counts.get(url) ?? 0) + n);
  return { total: all.reduce((s, e) => s + e.total, 0), parseErrors: all.reduce((s, e) => s + e.parseErrors, 0), counts };
}

/** Waits until everything dropped is counted and its files completed, then checks every count. */
export async function assertExact(daemon: RunningDaemon, files: number | 'spool empty', ...all: Expected[]): Promise<void> {
  const want = merged(...all);
  await waitFor('every line counted and every file completed', async () => {
    const { body } = await daemon.get<Stats>('/api/stats');
    const finished = files === 'spool empty' ? body.files.pending + body.files.inProgress === 0 : body.files.completed === files;
    return body.eventsCounted === want.total && body.parseErrors === want.parseErrors && finished ? body : undefined;
  }, 60_000);
  const { body: top } = await daemon.get<Top>('/api/top?n=1000');
  assert.equal(top.total, want.total);
  assert.deepEqual(new Map(top.urls.map((u) => [u.url, u.count])), want.counts);
  // The history too (by the lines' own time: the generated logs' hour): nothing was lost
  // while the store failed, nothing counted twice.
  const { body: range } = await daemon.get<Top>('/api/top?n=1000&from=2025-12-31T23:00:00Z&to=2026-01-01T02:00:00Z');
  assert.equal(range.total, want.total);
  assert.deepEqual(new Map(range.urls.map((u) => [u.url, u.count])), want.counts);
}

/** The source positions in the job's checkpoint (none before its first). */
export function checkpointPositions(dir: string): [string, number][] {
  const file = path.join(dir, 'checkpoint', 'manifest.json');
  if (!existsSync(file)) return [];
  const outer = JSON.parse(readFileSync(file, 'utf8')) as { manifest: string };
  return (JSON.parse(outer.manifest) as { positions: [string, number][] }).positions;
}

/** `dir/name`, made (a mount point). */
export function mkdir(dir: string, name: string): string {
  const p = path.join(dir, name);
  mkdirSync(p, { recursive: true });
  return p;
}

export const alive = (d: RunningDaemon) => d.proc.exitCode === null && d.proc.signalCode === null;

/** A daemon (`before` runs ahead of its start, see withDaemon) that has counted first.log (seed `seed`) exactly. */
export async function withFirstCounted(t: TestContext, seed: number, before?: (dir: string) => void) {
  const daemon = await withDaemon(t, { before });
  const first = await drop(daemon.dir, 'first.log', seed);
  await assertExact(daemon, 1, first);
  return { daemon, dir: daemon.dir, first };
}

/** Options of a test that mounts (a tmpfs, a bind mount): skipped where that is not permitted. */
export const MOUNTING = { timeout: 120_000, skip: canMountTmpfs() ? false : 'mounting is not permitted here' };

/**
 * Mount points of a test file, unmounted in its `after` (once its daemons are killed:
 * a daemon holding files open in one would keep it busy).
 */
export class Mounts {
  readonly #points: string[] = [];

  mount(point: string, ...args: string[]): void {
    execFileSync('mount', [...args, point]);
    this.#points.push(point);
  }

  unmount(point: string): void {
    execFileSync('umount', [point]);
    this.#points.splice(this.#points.lastIndexOf(point), 1);
  }

  unmountAll(): void {
    while (this.#points.length > 0) this.unmount(this.#points[this.#points.length - 1]!);
  }
}

/**
 * A daemon whose checkpoint cannot be written: first.log counted (seed `a`), then the
 * checkpoint directory broken (an 8 MB tmpfs filled up, or a read-only bind mount over it)
 * and second.log dropped (seed `b`); resolves once the failed checkpoint is logged.
 * `mend()` ends the outage.
 */
export async function checkpointOutage(t: TestContext, mounts: Mounts, how: 'disk full' | 'read-only', a: number, b: number) {
  const { daemon, dir, first } = await withFirstCounted(t, a, (d) => {
    if (how === 'disk full') mounts.mount(mkdir(d, 'checkpoint'), '-t', 'tmpfs', '-o', 'size=8m', 'tmpfs');
  });
  const checkpointDir = path.join(dir, 'checkpoint');
  // The checkpoint cannot be written; the results (window and history) still are.
  let mend: () => void;
  if (how === 'disk full') {
    const filler = path.join(checkpointDir, 'filler');
    assert.throws(() => writeFileSync(filler, Buffer.alloc(16 << 20, 1)), /ENOSPC/);
    mend = () => rmSync(filler);
  } else {
    // Read-only for root too, unlike a chmod; files the daemon holds open stay writable,
    // as on a file system the kernel remounted read-only under a running process.
    mounts.mount(checkpointDir, '--bind', checkpointDir);
    execFileSync('mount', ['-o', 'remount,bind,ro', checkpointDir]);
    mend = () => mounts.unmount(checkpointDir);
  }
  const second = await drop(dir, 'second.log', b);
  await waitFor('the checkpoint error in the log', () => daemon.logs.find((l) => l.includes('checkpoint failed')), 30_000);
  return { dir, daemon, first, second, mend };
}

/**
 * All of `counted` lines counted, then two more checkpoint attempts failed (the job has
 * tried to checkpoint what holds them, and the source has had the time to be told): the
 * file is still not finished, for only a checkpoint that holds its counts finishes it.
 */
export async function assertWaitsForCheckpoint(daemon: RunningDaemon, dir: string, counted: number): Promise<void> {
  const mark = await waitFor('every line counted', async () => {
    const { body } = await daemon.get<Stats>('/api/stats');
    return body.eventsCounted === counted ? body.checkpoint!.failedAttempts : undefined;
  }, 30_000);
  const during = await waitFor('two more checkpoint attempts failed', async () => {
    const { body } = await daemon.get<Stats>('/api/stats');
    return body.checkpoint!.failedAttempts >= mark + 2 ? body : undefined;
  }, 30_000);
  assert.ok(alive(daemon), 'the daemon keeps running');
  assert.equal(during.files.completed, 1, 'a file is finished only once a checkpoint holds its counts');
  assert.ok(existsSync(path.join(dir, 'spool', 'second.log')), 'the file waits for a checkpoint that holds it');
}
