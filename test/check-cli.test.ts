import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { writeConfig } from './helpers/daemon.js';
import { logflow } from './helpers/run-cli.js';

const good = (i: number) => `10.0.0.${i % 250} - - [01/Jan/2026:00:00:${String(i % 60).padStart(2, '0')} +0000] "GET /p/${i % 7} HTTP/1.1" 200 ${i} "-" "ua"`;
const BAD_STATUS = '1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET /a HTTP/1.1" 20 5';
const GARBAGE = 'garbage line with no request';
const NO_URL = '1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET" 200 5';

/** `valid` good lines with the bad ones at lines 3, 5 and 7 (1-based). */
function logWith(valid: number): string {
  const lines = Array.from({ length: valid }, (_, i) => good(i));
  lines.splice(2, 0, BAD_STATUS);
  lines.splice(4, 0, GARBAGE);
  lines.splice(6, 0, NO_URL);
  return lines.join('\n') + '\n';
}

/** The caret's column in the output block of a failing line, relative to the line's text. */
function caretUnder(stdout: string, lineNo: number): { column: number; message: string; text: string } {
  const out = stdout.split('\n');
  const at = out.findIndex((l) => l.startsWith(`line ${lineNo}, byte `));
  assert.ok(at >= 0, `line ${lineNo} is shown:\n${stdout}`);
  const caret = out[at + 2]!;
  return { text: out[at + 1]!.slice(2), column: caret.indexOf('^') - 2, message: caret.slice(caret.indexOf('^') + 2) };
}

describe('logflow check', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'logflow-check-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('shares per format, then the failing lines with a caret under the byte where parsing stopped; exit 1 under 99%', async () => {
    writeFileSync(path.join(dir, 'bad.log'), logWith(197));
    const run = await logflow(['check', 'bad.log'], dir);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /^combined +197 +98\.5%$/m);
    // Every good line has a referer and an agent: common ends the line at the size.
    assert.match(run.stdout, /^common +0 +0\.0%$/m);
    assert.match(run.stdout, /^vhost_combined +0 +0\.0%$/m);
    assert.match(run.stdout, /^best: combined, 98\.5% of the lines parse/m);
    const status = caretUnder(run.stdout, 3);
    assert.equal(status.text, BAD_STATUS);
    assert.equal(status.column, BAD_STATUS.indexOf(' 20 5') + 1, 'under the status');
    assert.equal(status.message, 'status: expected 3 digits');
    const garbage = caretUnder(run.stdout, 5);
    assert.equal(garbage.column, GARBAGE.indexOf(' no ') + 1, 'under the fourth token, where [time] should be');
    assert.equal(garbage.message, 'time: expected [');
    const noUrl = caretUnder(run.stdout, 7);
    assert.equal(noUrl.column, NO_URL.indexOf('GET"') + 3);
    assert.equal(noUrl.message, 'url: expected a URL after the method');
    assert.match(run.stdout, new RegExp(`^line 3, byte ${BAD_STATUS.indexOf(' 20 5') + 1}:$`, 'm'));
    assert.doesNotMatch(run.stdout, /event time:/, 'every parsed line has a readable time');
  });

  test('exit 0 at 99% or more; .gz is read; --lines caps the lines read', async () => {
    writeFileSync(path.join(dir, 'ok.log.gz'), gzipSync(logWith(997)));
    const ok = await logflow(['check', 'ok.log.gz'], dir);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^ok\.log\.gz: 1,000 lines checked$/m);
    assert.match(ok.stdout, /^combined +997 +99\.7%$/m);
    writeFileSync(path.join(dir, 'edge.log'), logWith(297));
    const edge = await logflow(['check', 'edge.log'], dir);
    assert.equal(edge.code, 0, `exactly 99% passes: ${edge.stdout}`);
    assert.match(edge.stdout, /^combined +297 +99\.0%$/m);
    const capped = await logflow(['check', 'ok.log.gz', '--lines', '2'], dir);
    assert.equal(capped.code, 0, capped.stdout);
    assert.match(capped.stdout, /^ok\.log\.gz: 2 lines checked \(the first ones: --lines\)$/m);
    assert.match(capped.stdout, /^combined +2 +100\.0%$/m);
  });

  test('finds vhost_combined, and the conf\'s logFormat with --conf-file; --log-format checks one format', async () => {
    writeFileSync(path.join(dir, 'vhost.log'), Array.from({ length: 50 }, (_, i) => `www.example.com:443 ${good(i)}`).join('\n') + '\n');
    const vhost = await logflow(['check', 'vhost.log', '--json'], dir);
    assert.equal(vhost.code, 0, vhost.stdout);
    const result = JSON.parse(vhost.stdout) as { best: string; formats: { format: string; parsed: number }[] };
    assert.equal(result.best, 'vhost_combined');
    assert.deepEqual(result.formats.map((f) => [f.format, f.parsed]), [['combined', 0], ['common', 0], ['vhost_combined', 50], ['caddy', 0], ['traefik', 0]]);

    const format = '$remote_addr $request_uri $status';
    await writeConfig(dir, '', { 'a1.jobs.j1.logFormat': format });
    writeFileSync(path.join(dir, 'nginx.log'), '10.0.0.1 /a 200\n10.0.0.2 /b 404\n10.0.0.3 - 200\n');
    const conf = await logflow(['check', 'nginx.log', '--conf-file', 'agent.conf'], dir);
    assert.equal(conf.code, 1, conf.stdout + conf.stderr);
    assert.match(conf.stdout, /^\$remote_addr \$request_uri \$status +2 +66\.6%$/m);
    assert.match(conf.stdout, /^best: \$remote_addr \$request_uri \$status, 66\.6%/m);
    assert.equal(caretUnder(conf.stdout, 3).column, '10.0.0.3 '.length);
    assert.equal(caretUnder(conf.stdout, 3).message, '$request_uri: expected a URL, not - or nothing');

    assert.match(conf.stdout, /^event time: 2 of them have no time it can read \(line 1 first\)/m, 'the format has no time');
    writeFileSync(path.join(dir, 'times.log'), [good(1), good(2).replace('/Jan/', '/Foo/'), good(3)].join('\n') + '\n');
    const times = await logflow(['check', 'times.log'], dir);
    assert.equal(times.code, 0, times.stdout);
    assert.match(times.stdout, /^event time: 1 of them have no time it can read \(line 2 first\)/m);

    const one = await logflow(['check', 'bad.log', '--log-format', 'common'], dir);
    assert.equal(one.code, 1);
    assert.doesNotMatch(one.stdout, /vhost_combined/);
  });

  test('JSON lines: caddy is found among the formats; a line that is not JSON is explained where it breaks, and a field some lines lack is named with its path', async () => {
    const caddy = (i: number, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ level: 'info', ts: 1700000000 + i, logger: 'http.log.access', msg: 'handled request', request: { client_ip: `10.0.0.${i % 9}`, method: 'GET', host: 'x', uri: `/p/${i % 5}`, headers: { 'User-Agent': ['curl/8'] } }, size: 10 + i, status: 200, ...extra });
    const lines = Array.from({ length: 300 }, (_, i) => caddy(i));
    lines[4] = caddy(4).replace('"uri":"/p/4",', '');
    lines[9] = caddy(9).slice(0, 60);
    lines[11] = caddy(11).replace('"User-Agent":["curl/8"]', '"Accept":["*/*"]');
    writeFileSync(path.join(dir, 'caddy.log'), lines.join('\n') + '\n');
    const run = await logflow(['check', 'caddy.log'], dir);
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stdout, /^caddy\s+298\s+99\.3%$/m);
    assert.match(run.stdout, /^best: caddy, 99\.3% of the lines parse/m);
    assert.match(run.stdout, /^field url \(request\.uri\): missing in 1 line\(s\) \(line 5 first\): those lines are parse errors$/m);
    assert.match(run.stdout, /^field agent \(request\.headers\.User-Agent\): missing in 1 line\(s\) \(line 12 first\): they count as "-"$/m);
    const five = caretUnder(run.stdout, 5);
    assert.match(five.message, /^url: the URL field request\.uri \(fields\.url\): it is missing, null or empty$/);
    const ten = caretUnder(run.stdout, 10);
    assert.match(ten.message, /^json: JSON: /);
    assert.equal(ten.column, 60, 'the caret at the end of the cut line');
    // Your own JSON fields, given on the command line.
    const own = await logflow(['check', 'caddy.log', '--log-format', 'json', '--field', 'url=request.uri', '--field', 'time=ts'], dir);
    assert.match(own.stdout, /^json\s+298\s+99\.3%$/m);
  });

  test('usage errors exit 64 and say what is wrong', async () => {
    const cases: [string[], RegExp][] = [
      [['check'], /check takes one FILE, not 0/],
      [['check', 'a', 'b'], /check takes one FILE, not 2/],
      [['check', 'missing.log'], /cannot read missing\.log: ENOENT/],
      [['check', 'bad.log', '--lines', '0'], /--lines must be a whole number above 0/],
      [['check', 'bad.log', '--log-format', '%{Referer'], /--log-format is neither/],
      [['check', 'bad.log', '--log-format', 'json'], /--log-format json: logFormat json needs fields/],
      [['check', 'bad.log', '--log-format', 'common', '--field', 'url=u'], /--field is for the JSON formats/],
      [['check', 'bad.log', '--log-format', 'common', '--conf-file', 'agent.conf'], /give --log-format or --conf-file, not both/],
      [['check', 'bad.log', '--conf-file', 'nope.conf'], /nope\.conf/],
    ];
    for (const [args, message] of cases) {
      const run = await logflow(args, dir);
      assert.equal(run.code, 64, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
  });
});
