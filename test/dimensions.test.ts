import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { generateLines } from '../scripts/access-log-generator.js';
import { startDaemon, tempDir, waitFor, writeConfig, type RunningDaemon } from './helpers/daemon.js';
import { countBy, parseLine, type ParsedLine } from './helpers/dimension-counts.js';
import { startFails } from './helpers/start-fails.js';

interface Item {
  key: string;
  count: number;
  bytes: number;
  visitors: number | null;
  visitorsExact: boolean;
}
interface TopAnswer {
  by: string;
  total: number;
  items: Item[];
  urls?: { url: string; count: number }[];
  approximate: boolean;
  errorBound: number;
}
interface Stats {
  eventsCounted: number;
  parseErrors: number;
}

const ALL = ['url', 'status', 'client', 'referrer', 'agent', 'method', 'user'] as const;
const STATUSES: [string | undefined, number, number][] = [[undefined, 0, 999], ['404', 404, 404], ['4xx', 400, 499], ['5xx', 500, 599], ['2xx', 200, 299]];

/** Writes `lines` to the spool (renamed in whole) and waits until every line is counted or an error. */
async function ingest(d: RunningDaemon, dir: string, name: string, lines: readonly string[]): Promise<void> {
  const staged = path.join(dir, `${name}.staged`);
  writeFileSync(staged, lines.join('\n') + '\n');
  renameSync(staged, path.join(dir, 'spool', name));
  await waitFor(`${name} counted`, async () => {
    const { body } = await d.get<Stats>('/api/stats');
    return body.eventsCounted + body.parseErrors >= lines.length ? true : undefined;
  }, 60_000);
}

describe('dimensions: the live window by url, status, client, referrer, agent, method, user, with a status filter', () => {
  const daemons: RunningDaemon[] = [];
  after(async () => {
    for (const d of daemons) await d.stop('SIGKILL');
  });

  test('every key of every dimension, with each status filter: lines, bytes and visitors equal a regex-and-dict count of the file', async () => {
    const dir = tempDir();
    await writeConfig(dir, `a1.jobs.j1.dimensions = ${ALL.join(' ')}\n`);
    const d = await startDaemon(dir);
    daemons.push(d);
    // 200 clients: every key's visitors stay under the exact limit.
    const lines = [...generateLines({ lines: 12_000, urls: 150, clients: 200, seed: 24, malformed: 0.01 })];
    lines.push('10.9.9.9 - alice [10/Oct/2000:13:55:36 -0700] "DELETE /admin HTTP/1.1" 503 - "-" "-"');
    await ingest(d, dir, 'access.log', lines);
    const parsed = lines.map(parseLine).filter((l): l is ParsedLine => l !== undefined);
    for (const dim of ALL) {
      for (const [status, lo, hi] of STATUSES) {
        const want = countBy(parsed, dim, lo, hi);
        const { status: code, body } = await d.get<TopAnswer>(`/api/top?by=${dim}&n=1000${status ? `&status=${status}` : ''}`);
        assert.equal(code, 200);
        assert.equal(body.by, dim);
        assert.equal(body.total, want.reduce((n, k) => n + k.count, 0), `${dim} ${status}: total`);
        assert.deepEqual(
          body.items.map(({ key, count, bytes, visitors }) => ({ key, count, bytes, visitors })),
          want.map((k) => ({ ...k, visitors: dim === 'client' ? 1 : k.visitors })),
          `by=${dim} status=${status}`,
        );
        assert.ok(body.items.every((i) => i.visitorsExact));
        assert.equal(body.approximate, false);
      }
    }
    // by=url is the default, and its answer keeps the urls field: the job's persisted top.
    const { body: def } = await d.get<TopAnswer>('/api/top?n=5');
    const urls = countBy(parsed, 'url').slice(0, 5);
    assert.equal(def.by, 'url');
    assert.deepEqual(def.urls, urls.map((u) => ({ url: u.key, count: u.count })));
    assert.deepEqual(def.items.map(({ key, count, bytes, visitors }) => ({ key, count, bytes, visitors })), urls);
    // An unknown dimension is a 400 that lists the job's.
    const bad = await d.get<{ code: string; parameter: string; message: string }>('/api/top?by=vhost');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.parameter, 'by');
    assert.match(bad.body.message, /url, status, client, referrer, agent, method, user/);
    const badStatus = await d.get<{ parameter: string }>('/api/top?by=url&status=4x');
    assert.deepEqual([badStatus.status, badStatus.body.parameter], [400, 'status']);
  });

  test('a dimension the log format lacks stops start-up, naming the key and what has the field', async () => {
    const dir = tempDir();
    await writeConfig(dir, 'a1.jobs.j1.logFormat = common\na1.jobs.j1.dimensions = url referrer\n');
    const message = await startFails(dir);
    assert.match(message, /a1\.jobs\.j1\.dimensions: referrer: the log format "common" has no referrer field \(combined and vhost_combined have it/);
  });
});
