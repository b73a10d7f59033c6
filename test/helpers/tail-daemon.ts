import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeConfig, type RunningDaemon } from './daemon.js';

export interface Stats {
  eventsIn: number;
  eventsCounted: number;
  parseErrors: number;
  duplicates: number;
}
export interface Followed {
  files: { path: string; state: string; position: number; size: number; lagBytes: number; lines: number; inode: number }[];
}
interface Top {
  total: number;
  urls: { url: string; count: number }[];
}

/** The bundled agent with a TAILDIR source instead of the spool: `logs/access.log*` (and `ct/app.log`). */
export async function tailAgent(dir: string, extra: Record<string, string> = {}): Promise<void> {
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  mkdirSync(path.join(dir, 'ct'), { recursive: true });
  await writeConfig(dir, '', {
    'a1.sources.r1.type': 'TAILDIR',
    'a1.sources.r1.spoolDir': '',
    'a1.sources.r1.filegroups': 'f1 f2',
    'a1.sources.r1.filegroups.f1': 'logs/access.log.*',
    'a1.sources.r1.filegroups.f2': 'ct/app\\\\.log',
    'a1.sources.r1.positionFile': 'data/taildir_position.json',
    'a1.jobs.j1.batchInterval': '0.25',
    ...extra,
  });
}

/**
 * Waits until the daemon counted `n` lines in all, failing at once if it counts more. A
 * shortfall fails once the count has not moved for `stallMs` (lines lost stay lost; a busy
 * box only makes them come later), or after `timeoutMs` in all.
 */
export async function counted(d: RunningDaemon, n: number, timeoutMs = 20_000, stallMs = 15_000): Promise<Stats> {
  let seen = -1;
  let movedAt = Date.now();
  const deadline = Date.now() + Math.max(timeoutMs, 90_000);
  while (Date.now() < deadline && Date.now() - movedAt < Math.max(stallMs, timeoutMs)) {
    const { body } = await d.get<Stats>('/api/stats');
    const now = body.eventsCounted + body.parseErrors;
    assert.ok(now <= n, `counted ${now}, more than the ${n} lines written`);
    if (now === n) return body;
    if (now !== seen) movedAt = Date.now();
    seen = now;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`counted ${seen} of the ${n} lines written; no more for ${Math.round((Date.now() - movedAt) / 1000)} s`);
}

export async function assertTop(d: RunningDaemon, expected: Map<string, number>): Promise<void> {
  const { body: top } = await d.get<Top>('/api/top?n=1000');
  const want = [...expected].map(([url, count]) => ({ url, count })).sort((a, b) => b.count - a.count || (a.url < b.url ? -1 : 1));
  const got = [...top.urls].sort((a, b) => b.count - a.count || (a.url < b.url ? -1 : 1));
  assert.deepEqual(got, want);
}

export const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
export const lineText = (tag: string, i: number) => `10.0.0.${i % 250} - - [10/Oct/2000:13:55:36 -0700] "GET /${tag}/${i % 97} HTTP/1.1" 200 ${i}\n`;

