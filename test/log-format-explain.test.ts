import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { compileExplainer } from '../daemon/logformat/log-format-explain.js';
import { compileUrlParser } from '../daemon/logformat/log-format.js';
import { LineFields } from '../daemon/logformat/line-fields.js';

/** Each format with a line it parses: the property mutates these. */
const CASES: [string, string][] = [
  ['auto', '10.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.html?x=1 HTTP/1.0" 200 2326 "http://r/" "Mozilla \\"x\\""'],
  ['combined', '10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /b HTTP/1.1" 304 - "-" "curl/8"'],
  ['common', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "POST /c HTTP/1.1" 500 17'],
  // nginx's packaged main format: combined and one more quoted field, which auto takes.
  ['auto', '10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /n HTTP/1.1" 200 5 "-" "ua" "10.1.1.1"'],
  ['vhost_combined', 'example.com:443 10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /d HTTP/1.1" 200 5 "-" "ua"'],
  ['%h %l %u %t "%r" %>s %b', '10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /e HTTP/1.1" 200 5'],
  ['$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"', '10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /f HTTP/1.1" 200 5 "-" "ua"'],
  ['%h %U%q %>s', '10.0.0.1 /g?x=1 200'],
  ['%v "%r" %U %>s', 'host "BAD" /h 200'],
  ['$host $request_uri $status', 'h /i 200'],
  // A raw quote inside the request: the request may end at several quotes.
  ['common', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /j?y="z" HTTP/1.0" 200 5'],
  ['%h "%r" %>s %b "%{Referer}i"', '10.0.0.1 "GET /k?q="a b" HTTP/1.1" 200 5 "-"'],
  ['"%r" "%r" %>s', '"GET /l" "GET /m" 200'],
];

/** Bytes that matter to the parsers, so random edits hit their branches often. */
const BYTE = fc.constantFrom(...Buffer.from(' "[]-\\/:?0123456789aGET\t'));

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(200), len: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(200), bytes: fc.array(BYTE, { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(200), bytes: fc.array(BYTE, { minLength: 1, maxLength: 3 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat(200) }),
);

type Edit = { kind: 'delete' | 'insert' | 'replace' | 'cut'; at: number; len?: number; bytes?: number[] };

function mutate(line: Buffer, edits: readonly Edit[]): Buffer {
  let b = line;
  for (const e of edits) {
    const at = b.length === 0 ? 0 : e.at % (b.length + 1);
    if (e.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.len!)]);
    else if (e.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(e.bytes!), b.subarray(at)]);
    else if (e.kind === 'replace') b = Buffer.concat([b.subarray(0, at), Buffer.from(e.bytes!), b.subarray(at + e.bytes!.length)]);
    else b = b.subarray(0, at);
  }
  return b;
}

describe('the parse explainer', () => {
  test('agrees with the fast parser on which lines parse, for every format, with bytes around the line', () => {
    for (const [format, valid] of CASES) {
      const parse = compileUrlParser(format, false);
      const explain = compileExplainer(format);
      const out = new LineFields();
      const base = Buffer.from(valid);
      assert.ok(parse(base, 0, base.length, out), `${format}: the base line parses`);
      assert.equal(explain(base, 0, base.length), undefined, `${format}: the explainer passes the base line`);
      let failing = 0;
      fc.assert(
        fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.array(BYTE, { maxLength: 3 }), fc.array(BYTE, { maxLength: 3 }), (edits, before, after) => {
          const line = mutate(base, edits);
          // The line sits inside a larger buffer, as in a read chunk: neither may look past its end.
          const buf = Buffer.concat([Buffer.from(before), line, Buffer.from(after)]);
          const start = before.length;
          const end = start + line.length;
          const parsed = parse(buf, start, end, out);
          const why = explain(buf, start, end);
          if (why) {
            failing++;
            assert.ok(why.at >= 0 && why.at <= line.length, `${format}: the caret is inside the line (${why.at} of ${line.length})`);
          }
          assert.equal(why === undefined, parsed, `${format}: ${JSON.stringify(line.toString('latin1'))}: parser ${parsed}, explainer ${JSON.stringify(why)}`);
        }),
        { numRuns: 1500, seed: 16 },
      );
      assert.ok(failing > 100 && failing < 1500, `${format}: the mutations give both outcomes (${failing} of 1500 fail)`);
    }
  });

  test('names the field and the byte where parsing stopped', () => {
    const at = (format: string, line: string) => {
      const why = compileExplainer(format)(Buffer.from(line), 0, Buffer.byteLength(line));
      return why && `${why.at} ${why.field}: ${why.expected}`;
    };
    assert.equal(at('combined', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 20 5'), '59 status: expected 3 digits');
    assert.equal(at('combined', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 x'), '63 size: expected digits or -');
    assert.equal(at('combined', '1.2.3.4 - - 10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 5'), '12 time: expected [');
    assert.equal(at('combined', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET" 200 5'), '45 url: expected a URL after the method');
    assert.equal(at('combined', 'garbage'), '7 host: expected a space after it, the line ended');
    assert.equal(at('vhost_combined', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 5'), '34 time: expected [');
    assert.equal(at('%h %U %>s', '1.2.3.4 - 200'), '8 %U: expected a URL, not - or nothing');
    assert.equal(at('%h [%t] %U', '1.2.3.4 (x) /a'), '14 %h: expected " [" after it, the line ended');
    assert.equal(at('%h [%t] %U', '1.2.3.4 [x]/a'), '13 %t: expected "] " after it, the line ended');
    assert.equal(at('common', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 5'), undefined);
    // What follows the size is where each format says the line ends.
    const junk = '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 5 junk';
    assert.equal(at('common', junk), '64 end of line: expected the end of the line after the size (common format)');
    assert.equal(at('auto', junk), '65 referer: expected the end of the line after the size, or a quoted referer');
    assert.equal(at('combined', junk), '65 referer: expected " (a quoted referer)');
    assert.equal(at('combined', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 5'), '64 referer: expected a space and a quoted referer, the line ended (combined format)');
    assert.equal(at('combined', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 5 "-" "ua" junk'), '73 end of line: expected the end of the line after the agent (combined format)');
    assert.equal(at('auto', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 5 "-" "ua" "10.1.1.1"'), undefined, "auto takes what follows the agent (nginx's main format)");
    // A raw quote in the request, or the referer's quotes: the caret goes where the quote that got furthest stopped.
    assert.equal(at('combined', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /x?y="z" HTTP/1.0" 20 5'), '65 status: expected 3 digits');
    assert.equal(at('combined', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /x?y="z" HTTP/1.0" 200 x'), '69 size: expected digits or -');
    assert.equal(at('combined', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 20 5 "-" "ua"'), '59 status: expected 3 digits');
    assert.equal(at('common', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /x?y="z" HTTP/1.0" 200 5'), undefined);
    assert.equal(at('%h "%r" %>s %b', '1.2.3.4 "GET /a" 2000 5'), '17 %>s: expected 3 digits');
    assert.equal(at('%h "%r" %>s %b', '1.2.3.4 "GET /x="z" HTTP" 20 5'), '26 %>s: expected 3 digits');
    assert.equal(at('%h "%r" %>s %b', '1.2.3.4 "GET /x="z" HTTP" 200 5'), undefined);
  });
});
