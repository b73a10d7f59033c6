import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tempDir, waitFor, type RunningDaemon } from '../lib/daemon-process.js';
import type { Expected } from '../lib/expected-counts.js';

/** One line of the chaos table: a fault, what a correct daemon does, and what this one did. */
export interface Row {
  readonly scenario: string;
  readonly fault: string;
  readonly expected: string;
  readonly got: string;
  readonly pass: boolean;
  readonly ms: number;
}

export interface ChaosOptions {
  readonly seed: number;
  readonly kills: number;
  readonly lines: number;
}

/** A scenario adds its rows; `cleanup` runs whatever happens (unmounts, children). */
export interface ChaosContext {
  readonly options: ChaosOptions;
  readonly root: boolean;
  row(scenario: string, fault: string, expected: string, run: () => Promise<{ got: string; pass: boolean }>): Promise<void>;
  cleanup(step: () => void): void;
}

export interface Stats {
  eventsIn: number;
  eventsCounted: number;
  parseErrors: number;
  files: { pending: number; inProgress: number; completed: number; failed: number };
  checkpoint?: { seq: number };
}

/**
 * Waits until the daemon has counted as many lines as `want` holds and nothing waits in the
 * spool, then compares with the independent count: totals, every URL of the newest window
 * (URLs ≤ 1000), and the history by the lines' own time: every URL over the own-time range
 * the independent count found ([first line's second, last line's second + 1 s)), and the span
 * `/api/history` reports, which must start at the first line and end after the last, within its second. A mismatch or a timeout is a
 * FAIL that says what was found.
 */
export async function exactAgainst(d: RunningDaemon, want: Expected, timeoutMs = 60_000): Promise<{ got: string; pass: boolean }> {
  let stats: Stats;
  try {
    stats = await waitFor('every line counted, nothing left in the spool', async () => {
      const { body } = await d.get<Stats>('/api/stats');
      return body.eventsCounted + body.parseErrors >= want.lines && body.files.pending + body.files.inProgress === 0 ? body : undefined;
    }, timeoutMs);
  } catch {
    const { body } = await d.get<Stats>('/api/stats').catch(() => ({ body: undefined }));
    return { pass: false, got: body ? `stuck at ${body.eventsCounted + body.parseErrors} of ${want.lines} lines (files ${JSON.stringify(body.files)})` : 'daemon not answering' };
  }
  const { body: top } = await d.get<Top>('/api/top?n=1000');
  const wrongUrls = wrongOf(want, top);
  let history = 'history: no line with a time';
  let historyOk = want.total === 0;
  if (want.first !== undefined && want.last !== undefined) {
    // The history is kept whole when a file is finished (the daemon says so only by counting):
    // wait for the range to fill, then compare URL by URL.
    const from = new Date(want.first).toISOString();
    const to = new Date(Math.floor(want.last / 1000) * 1000 + 1000).toISOString();
    const range = await waitFor('the history of the own-time range', async () => {
      const { body } = await d.get<Top>(`/api/top?n=1000&from=${from}&to=${to}`);
      return body.total >= want.total ? body : undefined;
    }, 10_000).catch(async () => (await d.get<Top>(`/api/top?n=1000&from=${from}&to=${to}`)).body);
    const { body: span } = await d.get<{ from: string | null; to: string | null }>('/api/history');
    // The span ends where the newest batch of own time ends: after the last line, within its second.
    const spanEnd = span.to === null ? NaN : Date.parse(span.to);
    const spanOk = span.from === from && spanEnd > want.last && spanEnd <= Date.parse(to);
    const wrongHistory = wrongOf(want, range);
    history = `history ${range.total} over ${from.slice(0, 19)}..${to.slice(11, 19)}${wrongHistory ? ` (URLs wrong ${wrongHistory})` : ''}${spanOk ? '' : `, span ${span.from}..${span.to}`}`;
    historyOk = range.total === want.total && wrongHistory === 0 && spanOk;
  }
  const got = `counted ${stats.eventsCounted}/${want.total}, parse errors ${stats.parseErrors}/${want.parseErrors}, window ${top.total}, URLs wrong ${wrongUrls}, ${history}`;
  const pass = stats.eventsCounted === want.total && stats.parseErrors === want.parseErrors && top.total === want.total && wrongUrls === 0 && historyOk;
  return { got, pass };
}

interface Top {
  total: number;
  urls: { url: string; count: number }[];
}

/** How many of the independent count's URLs the answer has a different count for. */
function wrongOf(want: Expected, top: Top): number {
  const got = new Map(top.urls.map((u) => [u.url, u.count]));
  return [...want.counts].filter(([url, n]) => got.get(url) !== n).length;
}

export const alive = (d: RunningDaemon) => d.proc.exitCode === null && d.proc.signalCode === null;

/** Whether this process may mount (root in a container that allows it). */
export function canMount(): boolean {
  const probe = tempDir('logflow-chaos-mount-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A tmpfs of `size` mounted at `dir` (made if needed), unmounted at cleanup. */
export function mountTmpfs(ctx: ChaosContext, dir: string, size: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  ctx.cleanup(() => umountQuietly(dir));
}

/** Fills a file system with a hidden file until ENOSPC; returns a function that frees it. */
export function fill(dir: string): () => void {
  const filler = path.join(dir, '.chaos-filler');
  const mb = Buffer.alloc(1 << 20, 1);
  const fd = openSync(filler, 'w');
  try {
    for (;;) writeSync(fd, mb);
  } catch {
    // ENOSPC: full, as intended.
  } finally {
    closeSync(fd);
  }
  return () => rmSync(filler, { force: true });
}

/** Makes `dir` read-only for everyone (root too) with a read-only bind mount; returns the undo. */
export function readOnly(ctx: ChaosContext, dir: string): () => void {
  execFileSync('mount', ['--bind', dir, dir]);
  execFileSync('mount', ['-o', 'remount,bind,ro', dir]);
  let mounted = true;
  const undo = () => {
    if (mounted) umountQuietly(dir);
    mounted = false;
  };
  ctx.cleanup(undo);
  return undo;
}

function umountQuietly(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    // gone already
  }
}

/** Opens up to `n` idle TCP connections to a port; stops at the first refusal or error. */
export async function holdConnections(port: number, n: number): Promise<{ sockets: net.Socket[]; opened: number; error: string | undefined }> {
  const sockets: net.Socket[] = [];
  let error: string | undefined;
  for (let i = 0; i < n; i += 100) {
    const batch = await Promise.allSettled(Array.from({ length: Math.min(100, n - i) }, () => new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
      s.setTimeout(0);
    })));
    for (const b of batch) {
      if (b.status === 'fulfilled') sockets.push(b.value);
      else error ??= (b.reason as Error).message;
    }
    if (error) break;
  }
  for (const s of sockets) s.on('error', () => undefined);
  return { sockets, opened: sockets.length, error };
}

/** Resident and peak memory of a process, MB. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}
