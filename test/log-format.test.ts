import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAgentConfig } from '../daemon/agent-config.js';
import { compileUrlParser, findUrl } from '../daemon/logformat/index.js';
import { apacheFormatOf } from '../daemon/logformat/log-format.js';
import { lineFormatOf } from '../daemon/job/url-window-config.js';
import { generateLines } from '../scripts/access-log-generator.js';
import { ofType } from '../daemon/components.js';
import { LineFields } from '../daemon/logformat/line-fields.js';

function url(format: string, line: string, strip = false): string | undefined {
  const parse = compileUrlParser(format, strip);
  const buf = Buffer.from(line);
  const out = new LineFields();
  return parse(buf, 0, buf.length, out) ? buf.toString('utf8', out.start, out.end) : undefined;
}

const COMBINED = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?a=1 HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"';
const COMMON = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326';

describe('log formats', () => {
  test('named formats: auto takes combined and common lines; vhost_combined has a leading host:port', () => {
    assert.equal(url('auto', COMBINED), '/apache_pb.gif?a=1');
    assert.equal(url('auto', COMMON), '/apache_pb.gif');
    assert.equal(url('combined', COMBINED), '/apache_pb.gif?a=1');
    assert.equal(url('vhost_combined', `www.example.com:443 ${COMBINED}`), '/apache_pb.gif?a=1');
    assert.equal(url('vhost_combined', 'nohost'), undefined);
  });

  test('a raw quote inside the request of a LogFormat or nginx format is passed over, as the built-in parser does', () => {
    const line = '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /x?y="z" HTTP/1.0" 200 5 "ref" "agent"';
    assert.equal(url(apacheFormatOf('combined')!, line), '/x?y="z"');
    assert.equal(url('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"', line), '/x?y="z"');
    assert.equal(url('auto', line), '/x?y="z"');
    // a line full of quotes is answered at once (no exponential backtracking)
    const hostile = `1.2.3.4 - - [t] "GET /${'"'.repeat(1500)} HTTP/1.0" 200 5 "${'"'.repeat(200)}" "a"`;
    const t0 = performance.now();
    url(apacheFormatOf('combined')!, hostile);
    assert.ok(performance.now() - t0 < 2000);
  });

  test('stripQueryString counts /a?x=1 and /a?y=2 as /a', () => {
    assert.equal(url('auto', COMBINED, true), '/apache_pb.gif');
    assert.equal(url('%h %l %u %t "%r" %>s %b', COMMON.replace('.gif', '.gif?q=2'), true), '/apache_pb.gif');
  });

  test('Apache LogFormat strings, the named formats spelled out included, agree with the built-in parser', () => {
    const formats = [apacheFormatOf('combined')!, apacheFormatOf('common')!];
    for (const line of generateLines({ lines: 2000, seed: 5, malformed: 0.05 })) {
      const reference = url('auto', line);
      const viaCombined = url(formats[0]!, line);
      if (reference !== undefined && line.endsWith('"')) assert.equal(viaCombined, reference, line);
      if (viaCombined !== undefined) assert.equal(viaCombined, reference, line);
    }
    assert.equal(url(formats[1]!, COMMON), '/apache_pb.gif');
  });

  test('other Apache directives: %U%q, %D, %{X-Forwarded-For}i, a custom order', () => {
    assert.equal(url('%h %t %U%q %>s %D', '10.0.0.1 [10/Oct/2000:13:55:36 -0700] /search?q=x 200 1234'), '/search?q=x');
    assert.equal(url('%{X-Forwarded-For}i "%r" %>s', '1.2.3.4, 5.6.7.8 "POST /api/v1 HTTP/2.0" 201'), '/api/v1');
    assert.equal(url('%>s "%r" %h', '404 "GET /missing HTTP/1.1" 10.0.0.9'), '/missing');
    assert.equal(url('%>s "%r" %h', '404 "GET" 10.0.0.9'), undefined);
  });

  test('nginx log_format strings', () => {
    const nginxDefault = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';
    assert.equal(url(nginxDefault, COMBINED), '/apache_pb.gif?a=1');
    assert.equal(url('$remote_addr $request_uri $status $request_time', '10.1.1.1 /x/y?z 200 0.003'), '/x/y?z');
    assert.equal(url(nginxDefault, 'garbage'), undefined);
  });

  test('a line with less than the format is a parse error; a last field takes the rest of the line', () => {
    assert.equal(url('%h "%r" %>s', '1.1.1.1 "GET / HTTP/1.1"'), undefined);
    assert.equal(url('%h "%r" %>s', '1.1.1.1 "GET / HTTP/1.1" 200 extra'), '/');
    assert.equal(url('%h "%r" %>s %b', '1.1.1.1 "GET / HTTP/1.1" 200'), undefined);
  });

  test("a job's parser is compiled once per thread: the config check's compile is what urlParserOf() and the line check get", () => {
    const format = '%h %l %u %t "%r" %>s %b %D';
    const config = parseAgentConfig(`a1.jobs = j1\na1.jobs.j1.type = url-window-count\na1.jobs.j1.port = 4141\na1.jobs.j1.logFormat = ${format}\n`, 't.conf', 'a1');
    const job = ofType(config.jobs, 'url-window-count')[0]!;
    assert.equal(job.logFormat, format);
    assert.equal(lineFormatOf(job).parse, compileUrlParser(format, false), 'the parser compiled when read() checked the format');
    assert.equal(lineFormatOf(job), lineFormatOf(job));
  });

  test('the built-in parser is what auto uses', () => {
    assert.equal(compileUrlParser('auto', false), findUrl);
  });

  test('a format without a request or URL stops start-up, naming the key', () => {
    const base = 'a1.jobs = j1\na1.jobs.j1.type = url-window-count\na1.jobs.j1.port = 4141\n';
    assert.throws(() => parseAgentConfig(base + 'a1.jobs.j1.logFormat = %h %l %u %t %>s\n', 't.conf', 'a1'), /t\.conf:4: a1\.jobs\.j1\.logFormat: .*has no url field \(.*%r or %U/);
    const c = parseAgentConfig(base + 'a1.jobs.j1.logFormat = VHOST_COMBINED\na1.jobs.j1.stripQueryString = true\n', 't.conf', 'a1');
    assert.equal(ofType(c.jobs, 'url-window-count')[0]!.logFormat, 'vhost_combined');
    assert.equal(ofType(c.jobs, 'url-window-count')[0]!.stripQueryString, true);
    assert.equal(ofType(parseAgentConfig(base, 't.conf', 'a1').jobs, 'url-window-count')[0]!.logFormat, 'auto');
  });
});
