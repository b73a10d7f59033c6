import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { compileLineFormat, apacheFormatOf } from '../daemon/logformat/log-format.js';
import { BUILTIN_FIELDS, LineFields } from '../daemon/logformat/line-fields.js';
import { compileExplainer, jsonValueAt } from '../daemon/logformat/log-format-explain.js';
import { JSON_PRESETS } from '../daemon/logformat/json-format.js';
import { parseIso, textTimeToMs } from '../daemon/logformat/json-time.js';
import { generateLines } from '../scripts/access-log-generator.js';

/** The independent reading: the combined format as one regex (referer lazy, agent to the last quote). */
const COMBINED = /^(\S+) (\S+) (\S+) \[([^\]]+)\] "(\S+) (\S+)(?: [^"]*)?" (\d{3}) (\d+|-)(?: "(.*?)" "(.*)")?$/;

function fieldsOf(format: string, line: string, fields?: Record<string, string>): Record<string, string | number> | undefined {
  const f = compileLineFormat(format, { fields });
  const out = new LineFields(f.fieldNames.length);
  const buf = Buffer.from(line);
  if (!f.parse(buf, 0, buf.length, out)) return undefined;
  const got: Record<string, string | number> = { status: out.status, bytes: out.bytes };
  f.fieldNames.forEach((name, i) => {
    if (name !== 'status') got[name] = out.text(i);
  });
  // The status dimension's key is the field's text: the code as written.
  assert.equal(out.text(1), out.status === 0 ? '-' : String(out.status), line);
  return got;
}

describe('the fields of a line', () => {
  test('combined and common lines: every field equals the regex reading, on 3,000 generated lines and quoted agents', () => {
    const lines = [...generateLines({ lines: 2000, seed: 11 }), ...generateLines({ lines: 1000, seed: 12, format: 'common' })];
    let checked = 0;
    for (const line of lines) {
      const m = COMBINED.exec(line);
      const got = fieldsOf('auto', line);
      if (!m) continue;
      assert.ok(got, line);
      checked++;
      assert.deepEqual(
        [got.client, got.user, got.method, got.url, got.status, got.bytes, got.referrer, got.agent],
        [m[1], m[3], m[5], m[6], Number(m[7]), m[8] === '-' ? 0 : Number(m[8]), m[9] ?? '-', m[10] ?? '-'],
        line,
      );
      assert.equal(got.vhost, '-');
    }
    assert.ok(checked > 2900);
  });

  test('vhost_combined takes the vhost without its port; an Apache LogFormat and the nginx default read the same fields as the built-in parser', () => {
    const line = '1.2.3.4 - bob [10/Oct/2000:13:55:36 -0700] "POST /x?y=1 HTTP/1.1" 404 512 "http://r/" "agent/1.0 (x)"';
    const builtin = fieldsOf('auto', line)!;
    assert.deepEqual(fieldsOf('vhost_combined', `www.example.com:443 ${line}`), { ...builtin, vhost: 'www.example.com' });
    assert.deepEqual(fieldsOf(apacheFormatOf('combined')!, line), builtin);
    assert.deepEqual(fieldsOf('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"', line), builtin);
    assert.deepEqual(fieldsOf('%v %h %m %U%q %>s %O', 'shop.example 10.0.0.9 GET /cart?id=3 302 0'), {
      vhost: 'shop.example', client: '10.0.0.9', method: 'GET', url: '/cart?id=3', status: 302, bytes: 0, referrer: '-', agent: '-', user: '-',
    });
  });

  test('a format without a URL still parses (a job that counts other dimensions); the explainer agrees', () => {
    const f = compileLineFormat('%h %>s %b');
    assert.equal(f.has.has('url'), false);
    assert.deepEqual(fieldsOf('%h %>s %b', '10.0.0.1 503 12'), { url: '-', status: 503, bytes: 12, client: '10.0.0.1', referrer: '-', agent: '-', method: '-', vhost: '-', user: '-' });
    assert.equal(compileExplainer('%h %>s %b')(Buffer.from('10.0.0.1 503 12'), 0, 15), undefined);
  });
});

const CADDY = JSON.stringify({
  level: 'info', ts: 1646861401.5241024, logger: 'http.log.access', msg: 'handled request',
  request: { remote_ip: '127.0.0.1', remote_port: '41342', client_ip: '10.1.2.3', proto: 'HTTP/1.1', method: 'GET', host: 'example.com', uri: '/index.html?a=b',
    headers: { 'User-Agent': ['curl/7.82.0'], Accept: ['*/*'], Referer: ['https://ref.example/'] }, tls: { resumed: false, version: 772 } },
  bytes_read: 0, user_id: '', duration: 0.000929675, size: 10900, status: 200, resp_headers: { Server: ['Caddy'], 'Content-Type': ['text/html'] },
});
const TRAEFIK = JSON.stringify({
  ClientAddr: '172.17.0.1:56078', ClientHost: '172.17.0.1', ClientPort: '56078', ClientUsername: '-', DownstreamContentSize: 19, DownstreamStatus: 404,
  Duration: 92700, OriginContentSize: 19, OriginDuration: 45000, OriginStatus: 404, RequestAddr: 'whoami.localhost', RequestHost: 'whoami.localhost',
  RequestMethod: 'GET', RequestPath: '/nope', RequestPort: '-', RequestProtocol: 'HTTP/1.1', RequestScheme: 'http', RetryAttempts: 0,
  StartUTC: '2021-03-25T16:41:06.915294961Z', level: 'info', msg: '', 'request_User-Agent': 'Mozilla/5.0', time: '2021-03-25T16:41:06Z',
});

describe('JSON formats', () => {
  test('caddy and traefik read their servers\' default access-log fields', () => {
    assert.deepEqual(fieldsOf('caddy', CADDY), {
      url: '/index.html?a=b', status: 200, client: '10.1.2.3', referrer: 'https://ref.example/', agent: 'curl/7.82.0', method: 'GET', vhost: 'example.com', user: '-', bytes: 10900,
    });
    assert.deepEqual(fieldsOf('traefik', TRAEFIK), {
      url: '/nope', status: 404, client: '172.17.0.1', referrer: '-', agent: 'Mozilla/5.0', method: 'GET', vhost: 'whoami.localhost', user: '-', bytes: 19,
    });
    // Caddy before 2.7 wrote remote_ip only: `client_ip|remote_ip` takes it.
    const old = JSON.parse(CADDY);
    delete old.request.client_ip;
    assert.equal(fieldsOf('caddy', JSON.stringify(old))!.client, '127.0.0.1');
  });

  test('the time: epoch seconds (Caddy), ISO 8601 with nanoseconds (Traefik), epoch ms, Apache\'s, as numbers or strings', () => {
    const timeOf = (format: string, line: string, fields?: Record<string, string>) => {
      const f = compileLineFormat(format, { fields });
      const out = new LineFields(f.fieldNames.length);
      assert.ok(f.parse(Buffer.from(line), 0, Buffer.byteLength(line), out), line);
      return out.timeMs;
    };
    assert.equal(timeOf('caddy', CADDY), 1646861401524);
    assert.equal(timeOf('traefik', TRAEFIK), Date.parse('2021-03-25T16:41:06.915Z'));
    const f = { url: 'u', time: 't' };
    assert.equal(timeOf('json', '{"u":"/","t":1700000000123}', f), 1700000000123);
    assert.equal(timeOf('json', '{"u":"/","t":"1700000000"}', f), 1700000000000);
    assert.equal(timeOf('json', '{"u":"/","t":"2023-11-14T22:13:20+01:00"}', f), Date.parse('2023-11-14T21:13:20Z'));
    assert.equal(timeOf('json', '{"u":"/","t":"10/Oct/2000:13:55:36 -0700"}', f), Date.parse('2000-10-10T20:55:36Z'));
    assert.ok(Number.isNaN(timeOf('json', '{"u":"/","t":"yesterday"}', f)));
    assert.ok(Number.isNaN(parseIso(Buffer.from('2023-13-01T00:00:00Z'), 0, 20)));
    assert.ok(Number.isNaN(textTimeToMs(Buffer.from(''), 0, 0)));
  });

  test('any field name is a dimension (the seed\'s action); a line that is not one JSON object, or has no URL when one is mapped, is a parse error', () => {
    const fields = { action: 'event.action', user: 'event.user', time: 'at' };
    assert.deepEqual(fieldsOf('json', '{"at": 1, "event": {"action": "login", "user": "ann"}}', fields), {
      url: '-', status: 0, client: '-', referrer: '-', agent: '-', method: '-', vhost: '-', user: 'ann', action: 'login', bytes: 0,
    });
    for (const bad of ['', 'not json', '{"event": {"action": "x"}', '[1,2]', '{"event": {"action": "x"}} trailing', '{"a": tru}']) {
      assert.equal(fieldsOf('json', bad, fields), undefined, bad);
    }
    assert.equal(fieldsOf('json', '{"path": "/x"}', { url: 'uri' }), undefined);
    const why = compileExplainer('json', { url: 'request.uri' });
    assert.deepEqual(why(Buffer.from('{"request": {}}'), 0, 15), { at: 15, field: 'url', expected: 'the URL field request.uri (fields.url): it is missing, null or empty' });
    assert.equal(why(Buffer.from('{"request": {'), 0, 13)!.field, 'json');
  });

  test('the fast reader agrees with JSON.parse on which lines are JSON objects and on every field, escapes and nesting included', () => {
    const fields = { url: 'r.uri', status: 's', client: 'c|r.ip', agent: 'r.h.ua', action: 'a.b.c', time: 't', bytes: 'n' };
    const f = compileLineFormat('json', { fields });
    const out = new LineFields(f.fieldNames.length);
    const explain = compileExplainer('json', fields);
    const str = fc.string({ unit: fc.constantFrom('a', 'b', '/', '"', '\\', '\n', '\t', '\u0001', 'é', '😀', ' ', '{', '}'), maxLength: 8 });
    const scalar = fc.oneof(str, fc.integer({ min: -1e6, max: 1e6 }), fc.boolean(), fc.constant(null), fc.double({ noNaN: true, noDefaultInfinity: true }));
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('x', 'ua', 'uri', 'ip', 'h', 'b', 'c'), tie('v'), { maxKeys: 3 })),
    })).v;
    const record = fc.record(
      { r: fc.record({ uri: fc.oneof(str, fc.constant('/p')), ip: str, h: fc.record({ ua: fc.oneof(str, fc.array(str, { maxLength: 2 })) }) }, { requiredKeys: [] }), s: fc.oneof(fc.integer({ min: 100, max: 999 }), fc.constantFrom('404', 'abc')), c: str, a: value, z: value, t: fc.integer({ min: 0, max: 2e9 }), n: fc.nat() },
      { requiredKeys: [] },
    );
    // A few bytes cut or changed: most such lines are not JSON, and both readers must say so.
    const damage = fc.option(fc.tuple(fc.nat(), fc.constantFrom('', '"', '}', '{', ',', ':', '\\', 'x', ' ')), { freq: 3 });
    fc.assert(
      fc.property(record, damage, fc.boolean(), (obj, dmg, spaced) => {
        let text = JSON.stringify(obj, undefined, spaced ? 1 : undefined).replace(/\n/g, ' ');
        if (dmg) {
          const at = dmg[0] % (text.length + 1);
          text = text.slice(0, at) + dmg[1] + text.slice(at + 1);
        }
        // As the line's bytes read (half an emoji cut off is U+FFFD in UTF-8).
        text = Buffer.from(text).toString('utf8');
        const buf = Buffer.from(text);
        const ok = f.parse(buf, 0, buf.length, out);
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        const isObject = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
        const url = isObject ? jsonValueAt(parsed, fields.url) : undefined;
        assert.equal(ok, isObject && url !== undefined, text);
        assert.equal(explain(buf, 0, buf.length) === undefined, ok, text);
        if (!ok) return;
        for (const name of ['url', 'client', 'agent', 'action']) {
          const want = jsonValueAt(parsed, fields[name as keyof typeof fields]) ?? '-';
          const i = f.fieldNames.indexOf(name);
          // Numbers are keyed as written; JSON.parse's String() may spell a double differently.
          if (typeof want === 'string' && /^-?\d/.test(want) && want.includes('e')) continue;
          if (!/^-?\d+(\.\d+)?$/.test(want) || Number.isInteger(Number(want))) assert.equal(out.text(i), want, `${name} of ${text}`);
        }
        const s = (parsed as { s?: unknown }).s;
        assert.equal(out.status, typeof s === 'number' && s >= 100 && s <= 999 ? s : s === '404' ? 404 : 0, text);
      }),
      { numRuns: 3000 },
    );
  });

  test('every preset maps fields the formats know', () => {
    for (const [name, preset] of Object.entries(JSON_PRESETS)) {
      for (const field of Object.keys(preset)) assert.ok(field === 'time' || field === 'bytes' || (BUILTIN_FIELDS as readonly string[]).includes(field), `${name}: ${field}`);
    }
  });
});
