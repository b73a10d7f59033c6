import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { generateLines } from '../scripts/access-log-generator.js';
import type { Stats } from './helpers/api-types.js';
import { tempDir, waitFor, withDaemon, writeConfig, type TestDaemon } from './helpers/daemon.js';
import { countBy, parseLine, type ParsedLine } from './helpers/dimension-counts.js';
import { startFails } from './helpers/start-fails.js';
import { parseAgentConfig } from '../daemon/agent-config.js';
import type { UrlWindowJobConfig } from '../daemon/job/url-window-config.js';
import type { TopItem } from './helpers/api-types.js';

type Item = TopItem;
interface TopAnswer {
  by: string;
  total: number;
  items: Item[];
  urls?: { url: string; count: number }[];
  approximate: boolean;
  errorBound: number;
}

const ALL = ['url', 'status', 'client', 'referrer', 'agent', 'method', 'user'] as const;
const STATUSES: [string | undefined, number, number][] = [[undefined, 0, 999], ['404', 404, 404], ['4xx', 400, 499], ['5xx', 500, 599], ['2xx', 200, 299]];

/** Writes `lines` to the spool (renamed in whole) and waits until every line is counted or an error. */
async function ingest(d: TestDaemon, name: string, lines: readonly string[]): Promise<void> {
  const staged = path.join(d.dir, `${name}.staged`);
  writeFileSync(staged, lines.join('\n') + '\n');
  renameSync(staged, path.join(d.dir, 'spool', name));
  await waitFor(`${name} counted`, async () => {
    const { body } = await d.get<Stats>('/api/stats');
    return body.eventsCounted + body.parseErrors >= lines.length ? true : undefined;
  }, 60_000);
}

describe('dimensions: the live window by url, status, client, referrer, agent, method, user, with a status filter', () => {
  test('every key of every dimension, with each status filter: lines, bytes and visitors equal a regex-and-dict count of the file', async (t) => {
    const d = await withDaemon(t, { extra: `a1.jobs.j1.dimensions = ${ALL.join(' ')}\n` });
    // 200 clients: every key's visitors stay under the exact limit.
    const lines = [...generateLines({ lines: 12_000, urls: 150, clients: 200, seed: 24, malformed: 0.01 })];
    lines.push('10.9.9.9 - alice [10/Oct/2000:13:55:36 -0700] "DELETE /admin HTTP/1.1" 503 - "-" "-"');
    await ingest(d, 'access.log', lines);
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
    // The OpenAPI document says so.
    const { body: doc } = await d.get<{ paths: Record<string, { get: { parameters: { name: string }[]; description: string } }> }>('/docs/json');
    const top = doc.paths['/api/top']!.get;
    assert.deepEqual(top.parameters.map((p) => p.name).sort(), ['by', 'from', 'instance', 'n', 'status', 'to']);
    assert.match(top.description, /visitorsExact/);
    const badStatus = await d.get<{ parameter: string }>('/api/top?by=url&status=4x');
    assert.deepEqual([badStatus.status, badStatus.body.parameter], [400, 'status']);
  });

  test('JSON logs: Caddy\'s default access log by url, status, client and agent; an app\'s events by its own field (the seed\'s action), without URLs; both against JSON.parse and a dict', async (t) => {
    const d = await withDaemon(t, { extra: 'a1.jobs.j1.logFormat = caddy\na1.jobs.j1.dimensions = url status client agent\n' });
    const agents = ['curl/8.5.0', 'Mozilla/5.0 (X11; Linux) "quoted" Firefox/120.0', 'Go-http-client/1.1'];
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const status = [200, 200, 404, 500, 301][i % 5]!;
      lines.push(JSON.stringify({
        level: 'info', ts: 1_700_000_000 + i / 10, logger: 'http.log.access', msg: 'handled request',
        request: { remote_ip: '127.0.0.1', client_ip: `10.0.${i % 3}.${i % 41}`, proto: 'HTTP/2.0', method: 'GET', host: 'example.com', uri: `/p/${(i * 7) % 23}?q=${i % 2}`, headers: { 'User-Agent': [agents[i % 3]] } },
        bytes_read: 0, user_id: '', duration: 0.001, size: i, status, resp_headers: { Server: ['Caddy'] },
      }));
    }
    lines.push('not json at all', '{"request": {"uri": "/cut"');
    await ingest(d, 'caddy.log', lines);
    const events = lines.flatMap((l) => {
      try {
        const o = JSON.parse(l) as { request: { uri: string; client_ip: string; headers: Record<string, string[]> }; status: number; size: number };
        return [{ url: o.request.uri, status: o.status, client: o.request.client_ip, agent: o.request.headers['User-Agent']![0]!, bytes: o.size, user: '-', method: 'GET', referrer: '-' }];
      } catch {
        return [];
      }
    });
    for (const dim of ['url', 'status', 'client', 'agent'] as const) {
      for (const [status, lo, hi] of [[undefined, 0, 999], ['4xx', 400, 499]] as const) {
        const { body } = await d.get<TopAnswer>(`/api/top?by=${dim}&n=1000${status ? `&status=${status}` : ''}`);
        const want = countBy(events, dim, lo, hi).map((k) => ({ ...k, visitors: dim === 'client' ? 1 : k.visitors }));
        assert.deepEqual(body.items.map(({ key, count, bytes, visitors }) => ({ key, count, bytes, visitors })), want, `caddy by ${dim} ${status}`);
      }
    }
    const { body: stats } = await d.get<Stats>('/api/stats');
    assert.equal(stats.parseErrors, 2);

    // An app's events: no URL, no status; its own dimension.
    const e = await withDaemon(t, { extra: 'a1.jobs.j1.logFormat = json\na1.jobs.j1.fields.action = event.action\na1.jobs.j1.fields.user = event.user\na1.jobs.j1.fields.time = at\na1.jobs.j1.dimensions = action user\n' });
    const actions = ['login', 'logout', 'buy', 'view', 'view', 'view'];
    const appLines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ at: new Date(1_700_000_000_000 + i).toISOString(), event: { action: actions[i % 6], user: `u${i % 13}`, extra: [1, { deep: true }] } }));
    appLines.push(JSON.stringify({ at: 1, event: { user: 'nobody' } }));
    await ingest(e, 'events.json', appLines);
    const byAction = new Map<string, number>();
    for (const l of appLines) {
      const a = (JSON.parse(l) as { event: { action?: string } }).event.action ?? '-';
      byAction.set(a, (byAction.get(a) ?? 0) + 1);
    }
    const { body: top } = await e.get<TopAnswer>('/api/top?n=10');
    assert.equal(top.by, 'action', 'the first dimension is the default when there is no url');
    assert.deepEqual(top.items.map((i) => [i.key, i.count, i.visitors]), [...byAction].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k, c]) => [k, c, null]));
    const { body: users } = await e.get<TopAnswer>('/api/top?by=user&n=100');
    assert.equal(users.items.length, 14);
  });

  test('a dimension the log format lacks stops start-up, naming the key and what has the field', async () => {
    const dir = tempDir();
    await writeConfig(dir, 'a1.jobs.j1.logFormat = common\na1.jobs.j1.dimensions = url referrer\n');
    const message = await startFails(dir);
    assert.match(message, /a1\.jobs\.j1\.dimensions: referrer: the log format "common" has no referrer field \(combined and vhost_combined have it/);
  });
});

describe('dimensions: the configuration', () => {
  const base = 'a1.jobs = j1\na1.jobs.j1.type = url-window-count\na1.jobs.j1.port = 4141\n';
  const job = (extra: string) => parseAgentConfig(base + extra, 't.conf', 'a1').jobs[0] as UrlWindowJobConfig;
  test('defaults: url status; maxKeys caps client, agent, referrer, user and JSON fields at 100,000, not the others; visitors where the format has a client', () => {
    assert.deepEqual(job('').dimensions.map((d) => [d.name, d.maxKeys, d.visitors]), [['url', 0, true], ['status', 0, true]]);
    const all = job('a1.jobs.j1.dimensions = url, status client referrer agent method user\na1.jobs.j1.maxKeys.client = 5000\n').dimensions;
    assert.deepEqual(all.map((d) => [d.name, d.maxKeys, d.visitors]), [
      ['url', 0, true], ['status', 0, true], ['client', 5000, false], ['referrer', 100_000, true], ['agent', 100_000, true], ['method', 0, true], ['user', 100_000, true],
    ]);
    const app = job('a1.jobs.j1.logFormat = json\na1.jobs.j1.fields.action = a\na1.jobs.j1.dimensions = action\n').dimensions;
    assert.deepEqual(app.map((d) => [d.name, d.maxKeys, d.visitors]), [['action', 100_000, false]]);
  });

  test('each mistake names its key: a field the format lacks, a name twice, maxKeys of a dimension not counted, fields.* on a text format, json without fields', () => {
    const fails = (extra: string, message: RegExp) => assert.throws(() => job(extra), message);
    fails('a1.jobs.j1.dimensions = url url\n', /t\.conf:4: a1\.jobs\.j1\.dimensions: .*names url twice/);
    fails('a1.jobs.j1.dimensions = url vhost\n', /a1\.jobs\.j1\.dimensions: vhost: the log format "auto" has no vhost field \(vhost_combined has it/);
    fails('a1.jobs.j1.dimensions = url action\n', /action is not a field of the log format "auto".*fields\.action = path/);
    fails('a1.jobs.j1.maxKeys.client = 10\n', /a1\.jobs\.j1\.maxKeys\.client: .*a dimension this job does not count \(url, status\)/);
    fails('a1.jobs.j1.fields.url = x\n', /a1\.jobs\.j1\.fields\.url: .*for the JSON formats/);
    fails('a1.jobs.j1.logFormat = json\n', /a1\.jobs\.j1\.logFormat: logFormat json needs fields/);
    fails('a1.jobs.j1.logFormat = json\na1.jobs.j1.fields.status = s\n', /a1\.jobs\.j1\.logFormat: the log format "json" has no url field.*or set a1\.jobs\.j1\.dimensions/);
  });
});
