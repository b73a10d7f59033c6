import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { writeLog } from '../scripts/access-log-generator.js';
import { freePort, tempDir, visible, withDaemon } from './helpers/daemon.js';
import { expectedCounts } from './helpers/expected-counts.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../daemon/cli.js');

/** Runs `logflow ARGS` as a user would, in `cwd`. */
function logflow(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, LOGFLOW_URL: '', LOGFLOW_TOKEN: '', ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

interface DropJson {
  spool: string;
  seconds: number;
  files: { name: string; state: string; size: number; lines: number; parseErrors: number | null; reason: string | null }[];
}

describe('the logflow command line', () => {
  test('drop copies into the spool and follows each file until counted; top and status show what the API shows', async (t) => {
    const daemon = await withDaemon(t);
    const { dir } = daemon;
    const a = path.join(dir, 'a.log');
    const b = path.join(dir, 'b.log');
    await writeLog(a, { lines: 30_000, urls: 40, seed: 1, malformed: 0.01 });
    await writeLog(b, { lines: 10_000, urls: 40, seed: 2, malformed: 0.03 });
    const [ea, eb] = [expectedCounts(a), expectedCounts(b)];

    // The spool from the agent's configuration (relative to the working directory).
    const dropped = await logflow(['drop', 'a.log', 'b.log', '--conf-file', 'agent.conf', '--url', daemon.url, '--json'], dir);
    assert.equal(dropped.code, 0, dropped.stderr);
    const result = JSON.parse(dropped.stdout) as DropJson;
    assert.equal(result.spool, path.join(dir, 'spool'));
    assert.deepEqual(
      result.files.map((f) => [f.name, f.state, f.lines, f.parseErrors]),
      [['a.log', 'completed', 30_000, ea.parseErrors], ['b.log', 'completed', 10_000, eb.parseErrors]],
    );
    assert.deepEqual(readdirSync(path.join(dir, 'spool')).filter(visible).sort(), ['a.log.COMPLETED', 'b.log.COMPLETED'], 'no temporary file is left');

    // Human output: a line per state change off a terminal, and a summary.
    const c = path.join(dir, 'c.log');
    await writeLog(c, { lines: 5_000, urls: 40, seed: 3 });
    const human = await logflow(['drop', c, '--spool', 'spool', '--url', daemon.url], dir);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stderr, /^dropped c\.log -> .*spool\/c\.log$/m);
    assert.match(human.stderr, /^c\.log: completed$/m);
    assert.match(human.stdout, /^1 of 1 file\(s\) counted: 5,000 lines, 0 parse errors, in \d+\.\d s$/m);

    // A name already used is refused, and nothing of that call is copied.
    writeFileSync(path.join(dir, 'd.log'), '127.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "GET /d HTTP/1.1" 200 1\n');
    const again = await logflow(['drop', 'd.log', 'a.log', '--spool', 'spool', '--url', daemon.url], dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /a\.log was already used in .* \(a\.log\.COMPLETED exists\)/);
    assert.ok(!existsSync(path.join(dir, 'spool', 'd.log')), 'd.log was not copied either');

    const total = ea.total + eb.total + 5_000;
    const top = await logflow(['top', '-n', '3', '--url', daemon.url, '--json'], dir);
    assert.equal(top.code, 0, top.stderr);
    const api = (await daemon.get<{ total: number; urls: { url: string; count: number }[] }>('/api/top?n=3')).body;
    // The totals and URLs, not the window: it may slide by a second between the two requests.
    const cliTop = JSON.parse(top.stdout) as typeof api;
    assert.deepEqual([cliTop.total, cliTop.urls], [api.total, api.urls]);
    assert.equal(api.total, total);
    const table = await logflow(['top', '-n', '3'], dir, { LOGFLOW_URL: daemon.url });
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, new RegExp(`: ${total.toLocaleString('en-US')} events$`));
    assert.match(lines[1]!, /^#\s+count\s+share\s+URL$/);
    assert.equal(lines.length, 5);
    assert.match(lines[2]!, new RegExp(`^1\\s+${api.urls[0]!.count.toLocaleString('en-US')}\\s+\\d+\\.\\d%\\s+${api.urls[0]!.url.replace(/[.?]/g, '\\$&')}$`));
    // The history is by the lines' own time: the generated logs' hour, 2026-01-01T00:00Z (c.log's too).
    const ranged = await logflow(['top', '--from', '2025-12-31T23:00:00Z', '--to', '2026-01-01T02:00:00Z', '--json'], dir, { LOGFLOW_URL: daemon.url });
    assert.equal(JSON.parse(ranged.stdout).total, total);

    const status = await logflow(['status', '--json'], dir, { LOGFLOW_URL: daemon.url });
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout);
    assert.deepEqual(s.files, { pending: 0, inProgress: 0, completed: 3, failed: 0 });
    assert.equal(s.eventsCounted, total);
    assert.equal(s.eventsPerSecond, 0, 'nothing is read now');
    assert.deepEqual(s.failedFiles, []);
    const statusText = await logflow(['status'], dir, { LOGFLOW_URL: daemon.url });
    assert.match(statusText.stdout, /^files\s+0 pending, 0 in progress, 3 completed, 0 failed$/m);
    assert.match(statusText.stdout, /^checkpoint\s+#\d+, /m);
  });

  test('a file the daemon cannot read: drop reports it failed, with the reason, and exits 1', async (t) => {
    const daemon = await withDaemon(t);
    const { dir } = daemon;
    // A gzip file cut short and padded with garbage fails to read (quarantined as NAME.FAILED).
    const good = gzipSync('never read\n'.repeat(1000));
    writeFileSync(path.join(dir, 'broken.gz'), Buffer.concat([good.subarray(0, 40), Buffer.from('garbage garbage garbage')]));
    const r = await logflow(['drop', 'broken.gz', '--spool', 'spool', '--url', daemon.url, '--json'], dir);
    assert.equal(r.code, 1, r.stderr);
    const body = JSON.parse(r.stdout) as DropJson;
    assert.equal(body.files[0]!.state, 'failed');
    assert.ok(body.files[0]!.reason, 'a reason is given');
    const again = await logflow(['drop', 'broken.gz', '--spool', 'spool', '--url', daemon.url], dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /broken\.gz\.FAILED exists/);
  });

  test('exit codes: 64 for a bad command line, 2 when the daemon cannot be reached; --help everywhere', async () => {
    const dir = tempDir();
    const closed = `http://127.0.0.1:${await freePort()}`;
    for (const [args, code, pattern] of [
      [[], 64, /usage: logflow COMMAND/],
      [['frobnicate'], 64, /unknown command "frobnicate"/],
      [['top', '--bogus'], 64, /Unknown option '--bogus'/],
      [['top', '-n', '0'], 64, /-n must be a whole number from 1 to 1000/],
      [['top', '--url', 'localhost:8080'], 64, /--url must be an http/],
      [['drop'], 64, /no FILE given/],
      [['drop', 'x.log', '--conf-file', 'missing.conf'], 64, /cannot read configuration missing\.conf/],
      [['top', '--url', closed], 2, /cannot reach the daemon at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/],
      [['status', '--url', closed], 2, /cannot reach the daemon/],
    ] as const) {
      const r = await logflow([...args], dir);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout + r.stderr, pattern, args.join(' '));
    }
    for (const command of [[], ['drop'], ['top'], ['status']]) {
      const r = await logflow([...command, '--help'], dir);
      assert.equal(r.code, 0, command.join(' '));
      assert.match(r.stdout, /^usage: logflow/);
      assert.match(r.stdout, /exit codes: 0 ok/);
    }
    // Files are checked before the daemon is: a missing file is refused without a daemon.
    const missing = await logflow(['drop', 'nope.log', '--spool', dir, '--url', closed], dir);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read nope\.log: ENOENT/);
    // Copied, but nobody to follow it: exit 2, and the file is in the spool for the daemon to come.
    writeFileSync(path.join(dir, 'e.log'), 'x\n');
    const spool = tempDir();
    const unfollowed = await logflow(['drop', path.join(dir, 'e.log'), '--spool', spool, '--url', closed], dir);
    assert.equal(unfollowed.code, 2);
    assert.ok(existsSync(path.join(spool, 'e.log')));
  });
});
