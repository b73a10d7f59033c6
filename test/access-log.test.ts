import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileUrlParser, urlOf } from '../daemon/logformat/index.js';
import { LineFields } from '../daemon/logformat/line-fields.js';

describe('access-log line parser', () => {
  test('combined format', () => {
    assert.equal(
      urlOf('127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'),
      '/apache_pb.gif',
    );
  });

  test('common format, and a size of -', () => {
    assert.equal(urlOf('10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "POST /a/b?x=1&y=2 HTTP/1.1" 304 -'), '/a/b?x=1&y=2');
  });

  test('quotes inside the user agent and escaped quotes inside the request', () => {
    assert.equal(urlOf('h - - [t] "GET /q HTTP/1.1" 200 1 "-" "agent \\"quoted\\" here"'), '/q');
    assert.equal(urlOf('h - - [t] "GET /say\\"hi\\" HTTP/1.1" 200 1 "-" "a"'), '/say\\"hi\\"');
  });

  test('raw quotes inside the request: it ends at the first quote followed by a status and a size, as the seed regex', () => {
    assert.equal(urlOf('h - - [t] "GET /x?y="z" HTTP/1.0" 200 1'), '/x?y="z"');
    assert.equal(urlOf('h - - [t] "GET /x?y="z" HTTP/1.0" 200 1 "-" "agent"'), '/x?y="z"');
    assert.equal(urlOf('h - - [t] "GET /a" HTTP/1.0" 404 -'), '/a"');
    assert.equal(urlOf('h - - [t] "GET "/q" HTTP/1.1" 200 5 "ref "x" y" "a"'), '"/q"');
    // still a parse error when no quote is followed by a status and a size
    assert.equal(urlOf('h - - [t] "GET /x?y="z" HTTP/1.0" 2000 1'), undefined);
    assert.equal(urlOf('h - - [t] "GET /x?y="z" HTTP/1.0 200 1'), undefined);
  });

  test('a request without a protocol still has a URL; one without a URL is an error', () => {
    assert.equal(urlOf('h - - [t] "GET /old" 200 1'), '/old');
    assert.equal(urlOf('h - - [t] "-" 400 0'), undefined);
    assert.equal(urlOf('h - - [t] "GET" 400 0'), undefined);
  });

  test('URLs keep every byte: percent, quotes, unicode', () => {
    assert.equal(urlOf(`h - - [t] "GET /%27;%20DROP%20TABLE/ünï'code HTTP/1.1" 200 1`), `/%27;%20DROP%20TABLE/ünï'code`);
  });

  test('junk after the status and size is a parse error where each format ends the line (it was counted)', () => {
    const head = 'h - - [t] "GET /a HTTP/1.1" 200 5';
    const parse = (format: string, line: string) => {
      const buf = Buffer.from(line);
      const out = new LineFields();
      return compileUrlParser(format, false)(buf, 0, buf.length, out) ? buf.toString('utf8', out.start, out.end) : undefined;
    };
    for (const junk of [' junk', ' 12', ' -', '\tjunk', ' junk "-" "ua"']) {
      for (const format of ['auto', 'common', 'combined']) assert.equal(parse(format, head + junk), undefined, `${format}: ${head + junk}`);
      assert.equal(parse('vhost_combined', `v:80 ${head}${junk}`), undefined, `vhost_combined: ${junk}`);
    }
    // common ends at the size; combined after the quoted referer and agent; auto takes either,
    // and whatever follows a quoted field (nginx's packaged main format adds "$http_x_forwarded_for").
    assert.equal(parse('common', head), '/a');
    assert.equal(parse('common', `${head} "-" "ua"`), undefined);
    assert.equal(parse('combined', head), undefined);
    assert.equal(parse('combined', `${head} "-" "ua \\"q\\""`), '/a');
    assert.equal(parse('combined', `${head} "-" "ua" "10.1.1.1"`), undefined);
    assert.equal(parse('combined', `${head} "-"`), undefined);
    assert.equal(parse('auto', `${head} "-" "ua" "10.1.1.1"`), '/a');
    assert.equal(parse('vhost_combined', `v:80 ${head} "-" "ua"`), '/a');
  });

  test('malformed lines are parse errors', () => {
    for (const line of [
      '',
      'garbage',
      'h - - [t "GET / HTTP/1.1" 200 1',
      'h - - [t] "GET / HTTP/1.1 200 1',
      'h - - [t] "GET / HTTP/1.1" 2000 1',
      'h - - [t] "GET / HTTP/1.1" abc 1',
      'h - - [t] "GET / HTTP/1.1" 200',
      'h - - [t] "GET / HTTP/1.1" 200 12x',
      'h - [t] "GET / HTTP/1.1" 200 1',
    ]) {
      assert.equal(urlOf(line), undefined, line);
    }
  });
});
