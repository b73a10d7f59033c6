import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { startDaemon, tempDir, waitFor, writeConfig, type RunningDaemon } from './helpers/daemon.js';

/**
 * Every route of the real daemon, from its own OpenAPI document (so a new route is fuzzed
 * the day it is added), with wrong types, huge values, unicode and injection strings: the
 * answer is a 2xx, a 400 naming a parameter or a 404, never a 5xx and never a hang.
 */
interface OpenApi {
  paths: Record<string, { get?: { parameters?: { name: string; in: string }[] } }>;
}

const HOSTILE = [
  '', ' ', '-1', '0', '1e309', 'NaN', 'Infinity', '99999999999999999999999', '1.5', '0x10', 'true', 'null', '[]', '{}',
  "' OR 1=1 --", "'); DROP TABLE windows; --", '" OR ""="', '%00', '\u0000', '../../etc/passwd', '<script>alert(1)</script>',
  '２０２６-01-01', '2026-13-45T99:99:99Z', '1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '😀'.repeat(50), 'é', '\uFFFF', '\uD800',
  'x'.repeat(10_000),
];
const value = fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.integer().map(String), fc.double().map(String));

describe('HTTP: every route fuzzed', () => {
  let daemon: RunningDaemon;
  let routes: { path: string; params: string[] }[];

  before(async () => {
    const dir = tempDir();
    await writeConfig(dir);
    daemon = await startDaemon(dir);
    const line = (u: string) => `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET ${u} HTTP/1.1" 200 5`;
    const staged = path.join(dir, 'a.log.tmp');
    writeFileSync(staged, ['/a', "/b');DROP/**/TABLE/**/windows;--", '/ü?x=1'].map(line).join('\n') + '\n');
    renameSync(staged, path.join(dir, 'spool', 'a.log'));
    await waitFor('the log counted', async () => ((await daemon.get<{ eventsCounted: number }>('/api/stats')).body.eventsCounted === 3 ? true : undefined));
    const { body } = await daemon.get<OpenApi>('/docs/json');
    routes = Object.entries(body.paths)
      .filter(([, item]) => item.get)
      .map(([p, item]) => ({ path: p, params: (item.get!.parameters ?? []).filter((x) => x.in === 'query').map((x) => x.name) }));
    assert.ok(routes.length >= 8, `routes found: ${routes.map((r) => r.path).join(' ')}`);
  });
  after(async () => {
    await daemon?.stop('SIGKILL');
  });

  /** One request with a deadline; an event stream is judged by its status and closed. */
  async function probe(url: string, init: RequestInit = {}): Promise<{ status: number; body: string }> {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
    if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
      await res.body?.cancel();
      return { status: res.status, body: '' };
    }
    return { status: res.status, body: await res.text() };
  }

  function judge(what: string, r: { status: number; body: string }): void {
    assert.ok(r.status < 500, `${what}: ${r.status} ${r.body.slice(0, 300)}`);
    // 431: a request line over Node's 16 KB header limit (two 10 KB values), refused before routing.
    assert.ok([200, 400, 404, 431].includes(r.status), `${what}: unexpected ${r.status}`);
    if (r.status === 400) {
      const body = JSON.parse(r.body) as { code?: string; parameter?: string; message?: string };
      assert.ok(body.code && body.message, `${what}: a 400 says what is wrong: ${r.body}`);
    }
  }

  test('known and unknown query parameters with hostile values: 2xx, 400 or 404, never 5xx or a hang', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1000 }),
        fc.array(fc.tuple(fc.oneof(fc.constant(''), fc.string({ maxLength: 12 })), value), { maxLength: 4 }),
        fc.string({ maxLength: 80 }),
        async (pick, pairs, pathValue) => {
          const route = routes[pick % routes.length]!;
          const filled = route.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(pathValue || '/a'));
          const query = new URLSearchParams();
          pairs.forEach(([name, v], i) => query.append(name || route.params[i % Math.max(1, route.params.length)] || 'x', v));
          const url = `${daemon.url}${filled}${query.size > 0 ? `?${query}` : ''}`;
          judge(url.slice(0, 200), await probe(url));
        },
      ),
      { numRuns: 400 },
    );
  });

  /** Query parameters that take any text (`/api/series?by=client&key=...`). */
  const ANY_TEXT = new Set(['key']);

  test('numbers past a double (1e309, Infinity) are a 400 naming the parameter on every route (the fuzzer found /api/top?n=1e309 a 500)', async () => {
    // Every query parameter of every route, numeric or not: none takes 1e309 (a number
    // parameter refuses it as not finite, a time as no time, a name or a state as unknown).
    let checked = 0;
    for (const route of routes) {
      for (const name of route.params) {
        const url = `${daemon.url}${route.path.replace(/\{[^}]+\}/g, '%2Fa')}?${name}=1e309`;
        const r = await probe(url);
        if (ANY_TEXT.has(name)) {
          // A key of a dimension may be any text, "1e309" too: a series of that key.
          assert.equal(r.status, 200, `${url}: ${r.body.slice(0, 300)}`);
          continue;
        }
        assert.equal(r.status, 400, `${url}: ${r.body.slice(0, 300)}`);
        const body = JSON.parse(r.body) as { code?: string; parameter?: string };
        assert.equal(body.code, 'LF_HTTP_BAD_PARAMETER', url);
        assert.equal(body.parameter, name, `${url}: the 400 names the parameter`);
        checked++;
      }
    }
    assert.ok(checked >= 15, `query parameters checked: ${checked}`);
    const { status, body } = await daemon.get<{ parameter: string }>('/api/windows?limit=-1e309');
    assert.equal(status, 400);
    assert.equal(body.parameter, 'limit');
  });

  test('the injection strings are data: the URL with SQL in it is counted and queried as itself', async () => {
    const url = "/b');DROP/**/TABLE/**/windows;--";
    const { body: top } = await daemon.get<{ urls: { url: string; count: number }[] }>('/api/top?n=10');
    assert.ok(top.urls.some((u) => u.url === url && u.count === 1), JSON.stringify(top.urls));
    // The history is by the line's own time: 10/Oct/2000:13:55:36 -0700.
    const own = Date.UTC(2000, 9, 10, 20, 55, 36) / 1000;
    const series = await probe(`${daemon.url}/api/urls/${encodeURIComponent(url)}/series?from=${own - 600}&to=${own + 5}&step=1`);
    assert.equal(series.status, 200, series.body);
    assert.equal((JSON.parse(series.body) as { points: { count: number }[] }).points.reduce((s, p) => s + p.count, 0), 1);
    const windows = await probe(`${daemon.url}/api/windows?n=5`);
    assert.equal(windows.status, 200, 'the windows table is still there');
  });

  test('request limits: a large body, a huge header and a very long URL are refused with a 4xx; the daemon goes on', async () => {
    const body = await probe(`${daemon.url}/api/top`, { method: 'POST', body: 'x'.repeat(1 << 20), headers: { 'content-type': 'application/json' } });
    assert.ok(body.status >= 400 && body.status < 500, `large body: ${body.status}`);
    const { port, hostname } = new URL(daemon.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), hostname, () => socket.end(`GET /api/stats HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(100_000)}\r\n\r\n`));
      let out = '';
      socket.on('data', (c) => (out += c));
      socket.on('close', () => resolve(out));
      // The server answers 431 and closes while the client may still be writing: the
      // answer can then be lost to a reset, which is a refusal too.
      socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve(out || 'reset') : reject(err)));
    });
    assert.match(raw, /^(HTTP\/1\.1 431 |reset$)/, `an oversized header block: 431 or a reset, got ${raw.slice(0, 40)}`);
    const long = await probe(`${daemon.url}/api/top?n=${'9'.repeat(100_000)}`);
    assert.ok(long.status >= 400 && long.status < 500, `long URL: ${long.status}`);
    assert.equal((await daemon.get('/health')).status, 200);
  });
});
