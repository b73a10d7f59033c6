import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { parseAgentConfig } from '../daemon/agent-config.js';
import { HTTP_ERRORS } from '../daemon/errors.js';
import { defaultAllowedHosts } from '../daemon/http/config.js';
import type { HttpDeps } from '../daemon/http/index.js';
import { buildHttpServer } from '../daemon/http/server.js';
import { ResultsStore, SqliteQueries } from '../daemon/store/index.js';
import { tempDir } from './helpers/daemon.js';
import { testLogger } from './helpers/logger.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HTTP_DIR = path.join(REPO, 'daemon/http');

/** A GET over a real socket with any Host header (fetch may not set one). */
function get(port: number, route: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: route, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text.startsWith('{') ? JSON.parse(text) : { text } }));
    });
    req.on('error', reject);
  });
}

const stats = () => ({ eventsIn: 0, eventsCounted: 0, parseErrors: 0, duplicates: 0, historyOnlyEvents: 0, files: { pending: 0, inProgress: 0, completed: 0, failed: 0 } });

async function serve(extra: Partial<HttpDeps>, database: string): Promise<{ app: FastifyInstance; port: number; reader: SqliteQueries }> {
  const reader = new SqliteQueries(database, 1000, 'a1');
  const app = await buildHttpServer({
    results: reader,
    job: { batchIntervalMs: 1000, windowDurationMs: 300_000, instance: 'a1' },
    stats,
    files: () => [],
    followed: () => [],
    metrics: () => ({ eventsRead: 0, eventsIn: 0, eventsCounted: 0, parseErrors: 0, duplicates: 0, historyOnlyEvents: 0, channel: { size: 0, capacity: 1, waitingPuts: 0 }, files: stats().files }),
    logger: testLogger,
    ...extra,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: (app.server.address() as AddressInfo).port, reader };
}

describe('the HTTP contract: Host check, one error shape, declared codes', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let guarded: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    const database = path.join(tempDir(), 'results.db');
    new ResultsStore(database).close();
    server = await serve({ allowedHosts: defaultAllowedHosts('127.0.0.1') }, database);
    guarded = await serve({ allowedHosts: ['*'], authToken: 'a-token-of-16-chars' }, database);
  });
  after(async () => {
    for (const s of [server, guarded]) {
      await s?.app.close();
      await s?.reader.close();
    }
  });

  test('a Host the server was not configured for gets a 421 (DNS rebinding); its own names are answered', async () => {
    const port = server.port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`, 'localhost']) {
      assert.equal((await get(port, '/api/stats', { host })).status, 200, host);
    }
    for (const host of [`attacker.example:${port}`, 'attacker.example', `localhost.attacker.example:${port}`, '10.0.0.1']) {
      const r = await get(port, '/api/stats', { host });
      assert.equal(r.status, 421, host);
      assert.equal(r.body.code, 'LF_HTTP_MISDIRECTED');
      assert.match(String(r.body.message), /a1\.http\.allowedHosts/);
    }
    // The page too: the rebinding page would read the API through it otherwise.
    assert.equal((await get(port, '/', { host: 'attacker.example' })).status, 421);
    // `*` turns the check off (behind a proxy that sets its own Host, say).
    assert.equal((await get(guarded.port, '/health', { host: 'anything.example' })).status, 200);
  });

  test('allowedHosts: the defaults follow the bind address; the key adds names; a URL is refused', () => {
    assert.deepEqual(defaultAllowedHosts('127.0.0.1'), ['localhost', '127.0.0.1', '[::1]']);
    const all = defaultAllowedHosts('0.0.0.0');
    assert.ok(all.includes(os.hostname().toLowerCase()) && all.includes('localhost') && !all.includes('0.0.0.0'), all.join(' '));
    assert.ok(defaultAllowedHosts('192.0.2.7').includes('192.0.2.7'));
    const base = 'a1.sources = r1\na1.channels = c1\na1.sources.r1.type = spooldir\na1.sources.r1.spoolDir = s\na1.sources.r1.channels = c1\na1.channels.c1.type = memory\n';
    const c = parseAgentConfig(base + 'a1.http.allowedHosts = logs.example.com, 192.0.2.9\n', 't.conf', 'a1');
    assert.deepEqual(c.http!.allowedHosts.slice(0, 2), ['logs.example.com', '192.0.2.9']);
    assert.ok(c.http!.allowedHosts.includes('localhost'));
    assert.throws(() => parseAgentConfig(base + 'a1.http.allowedHosts = http://logs.example.com/\n', 't.conf', 'a1'), /t\.conf:7: a1\.http\.allowedHosts: must be host names/);
  });

  test('a 404 has the shape of every other error; an enum error lists the allowed values; impossible dates are 400', async () => {
    const port = server.port;
    const missing = await get(port, '/api/nope');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error: 'Not Found', code: 'LF_HTTP_NOT_FOUND', message: 'no route GET /api/nope' });
    const file = await get(port, '/dashboard/nope.js');
    assert.deepEqual(Object.keys(file.body), ['error', 'code', 'message']);

    const state = await get(port, '/api/files?state=done');
    assert.equal(state.status, 400);
    assert.equal(state.body.parameter, 'state');
    assert.match(String(state.body.message), /must be one of pending, reading, completed, failed, duplicate$/);

    for (const [query, parameter] of [['to=2026-02-30', 'to'], ['from=2026-02-29T00:00:00Z&to=2026-03-02', 'from'], ['to=2026-04-31T12:00:00Z', 'to'], ['to=2026-01-01T24:30:00Z', 'to'], ['to=2026-13-01', 'to']] as const) {
      const r = await get(port, `/api/top?${query}`);
      assert.equal(r.status, 400, query);
      assert.equal(r.body.parameter, parameter, query);
      assert.equal(r.body.code, 'LF_HTTP_BAD_PARAMETER');
    }
    for (const query of ['from=2024-02-29T00:00:00Z&to=2024-03-01', 'to=2026-12-31T23:59:59Z', 'to=1767225599']) {
      assert.equal((await get(port, `/api/series?${query}`)).status, 200, query);
    }
  });

  test('the OpenAPI document declares the bearer token, so /docs can send it; /health needs none', async () => {
    const doc = (await get(guarded.port, '/docs/json')).body as { components: { securitySchemes: Record<string, { type: string; scheme: string }> }; security: unknown[]; paths: Record<string, { get: { security?: unknown[] } }> };
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', description: 'a1.http.authToken, when it is set: /api/* and /metrics want it' });
    assert.deepEqual(doc.security, [{ bearerAuth: [] }]);
    assert.deepEqual(doc.paths['/health']!.get.security, []);
    const open = (await get(server.port, '/docs/json')).body as { security: unknown[] };
    assert.deepEqual(open.security, [], 'no token configured: nothing to send');
    const refused = await get(guarded.port, '/api/stats');
    assert.deepEqual([refused.status, refused.body.code], [401, 'LF_HTTP_UNAUTHORIZED']);
    assert.equal((await get(guarded.port, '/api/stats', { authorization: 'Bearer a-token-of-16-chars' })).status, 200);
  });

  test('the bearer scheme is case-insensitive and may take more spaces (RFC 7235); a wrong token or another scheme is 401', async () => {
    for (const authorization of ['Bearer a-token-of-16-chars', 'bearer a-token-of-16-chars', 'BEARER  a-token-of-16-chars', 'bEaReR a-token-of-16-chars ']) {
      assert.equal((await get(guarded.port, '/api/stats', { authorization })).status, 200, authorization);
    }
    for (const authorization of ['Bearer a-token-of-16-charz', 'Basic a-token-of-16-chars', 'Bearera-token-of-16-chars', 'Bearer a-token-of-16-chars x', 'a-token-of-16-chars']) {
      const r = await get(guarded.port, '/api/stats', { authorization });
      assert.deepEqual([r.status, r.body.code], [401, 'LF_HTTP_UNAUTHORIZED'], authorization);
    }
  });

  test('what Node refuses before routing has the one shape too: a header block over 16 KB (431), a line it cannot parse (400), HTTP/1.1 without Host (400)', async () => {
    const raw = (port: number, request: string) => new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
      let out = '';
      socket.on('data', (c) => (out += c));
      socket.on('close', () => resolve(out));
      socket.on('error', reject);
    });
    const answer = (text: string) => ({ status: Number(text.split(' ')[1]), body: JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, string> });
    const big = answer(await raw(server.port, `GET /api/stats HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n`));
    assert.deepEqual(big, { status: 431, body: { error: 'Request Header Fields Too Large', code: 'LF_HTTP_HEADERS_TOO_LARGE', message: "the request's header block is over 16 KB" } });
    const garbage = answer(await raw(server.port, 'GARBAGE\r\n\r\n'));
    assert.deepEqual([garbage.status, garbage.body.code], [400, 'LF_HTTP_BAD_REQUEST']);
    assert.match(garbage.body.message!, /^not an HTTP request this server can parse \(HPE_/);
    // With the Host check off (`*`) too: Node's own refusal had an empty body.
    for (const port of [server.port, guarded.port]) {
      const noHost = answer(await raw(port, 'GET /health HTTP/1.1\r\n\r\n'));
      assert.deepEqual(noHost, { status: 400, body: { error: 'Bad Request', code: 'LF_HTTP_BAD_REQUEST', message: 'an HTTP/1.1 request needs a Host header' } });
    }
    assert.match(await raw(server.port, 'GET /health HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 200 /, 'HTTP/1.0 may leave Host out');
  });

  test('every LF_HTTP_ code in daemon/ is declared once, with its status, in daemon/errors.ts', () => {
    const sources = readdirSync(path.join(REPO, 'daemon'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && f !== 'errors.ts');
    const used = new Set(sources.flatMap((f) => readFileSync(path.join(REPO, 'daemon', f), 'utf8').match(/LF_HTTP_[A-Z_]+/g) ?? []));
    assert.ok(used.size >= 6, [...used].join(' '));
    const undeclared = [...used].filter((code) => !(code in HTTP_ERRORS));
    assert.deepEqual(undeclared, []);
    for (const [code, { status }] of Object.entries(HTTP_ERRORS)) assert.ok(status >= 400 && status < 600, code);
  });

  test('daemon/http has no import cycle (server.ts <-> series.ts <-> stream.ts was one)', () => {
    const imports = new Map<string, string[]>();
    for (const f of readdirSync(HTTP_DIR).filter((n) => n.endsWith('.ts'))) {
      const text = readFileSync(path.join(HTTP_DIR, f), 'utf8');
      imports.set(f, [...text.matchAll(/from '\.\/([^']+)\.js'/g)].map((m) => m[1] + '.ts'));
    }
    const cycle = (start: string): string[] | undefined => {
      const walk = (file: string, trail: string[]): string[] | undefined => {
        for (const next of imports.get(file) ?? []) {
          if (next === start) return [...trail, next];
          if (!trail.includes(next)) {
            const found = walk(next, [...trail, next]);
            if (found) return found;
          }
        }
        return undefined;
      };
      return walk(start, [start]);
    };
    for (const f of imports.keys()) assert.equal(cycle(f)?.join(' -> '), undefined, f);
  });
});
