import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Stats, Top } from './helpers/api-types.js';
import { waitFor, withDaemon } from './helpers/daemon.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../daemon/cli.js');

/** Writes `lines` to `<dir>/<name>.staged` and renames it into the spool, whole. */
function drop(dir: string, name: string, lines: string[]): void {
  const staged = path.join(dir, `${name}.staged`);
  writeFileSync(staged, lines.join('\n') + '\n');
  renameSync(staged, path.join(dir, 'spool', name));
}

describe('logs as they come: raw quotes in requests, a file in another format', () => {
  test('a request with raw quotes ("GET /x?y="z" HTTP/1.0") is counted under its URL, as the seed\'s regex reads it', async (t) => {
    const daemon = await withDaemon(t);
    const { dir } = daemon;
    const at = '[10/Oct/2000:13:55:36 -0700]';
    drop(dir, 'quotes.log', [
      `1.1.1.1 - - ${at} "GET /x?y="z" HTTP/1.0" 200 12 "-" "curl"`,
      `1.1.1.2 - - ${at} "GET /x?y="z" HTTP/1.0" 404 -`,
      `1.1.1.3 - - ${at} "GET /say\\"hi\\" HTTP/1.1" 200 1 "-" "a \\"b\\""`,
      `1.1.1.4 - - ${at} "GET /plain HTTP/1.1" 200 1`,
      `1.1.1.5 - - ${at} "GET /x?y="z" HTTP/1.0 200 1`,
    ]);
    const stats = await waitFor('the file counted', async () => {
      const { body } = await daemon.get<Stats>('/api/stats');
      return body.eventsCounted + body.parseErrors === 5 ? body : undefined;
    });
    assert.equal(stats.parseErrors, 1, 'only the line whose request never ends is an error');
    const { body: top } = await daemon.get<Top>('/api/top?n=10');
    assert.deepEqual(top.urls, [
      { url: '/x?y="z"', count: 2 },
      { url: '/plain', count: 1 },
      { url: '/say\\"hi\\"', count: 1 },
    ]);
  });

  test('a file where most lines do not parse: a warning names the file, the format and 3 lines; /api/files marks it; logflow drop says so and exits 1', async (t) => {
    const daemon = await withDaemon(t);
    const { dir } = daemon;
    const json = Array.from({ length: 40 }, (_, i) => JSON.stringify({ ts: i, path: `/p/${i}`, status: 200 }));
    // One line in the format: a mostly-wrong file is still counted as far as it parses.
    json.push('1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET /ok HTTP/1.1" 200 1');
    writeFileSync(path.join(dir, 'app.json'), json.join('\n') + '\n');
    const dropped = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, [CLI, 'drop', 'app.json', '--spool', 'spool', '--url', daemon.url], { cwd: dir, timeout: 60_000 }, (err, stdout) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }));
    });
    assert.equal(dropped.code, 1, dropped.stdout);
    assert.match(dropped.stdout, /^warning: app\.json: 40 of 41 lines did not parse as logFormat "auto": is it another format\? \(the daemon's log shows 3 of its lines\)$/m);
    const { body } = await daemon.get<{ files: { name: string; state: string; mostlyUnparsed: boolean; warning: string | null; parseErrors: number }[] }>('/api/files');
    const f = body.files.find((x) => x.name === 'app.json')!;
    assert.deepEqual([f.state, f.mostlyUnparsed, f.parseErrors], ['completed', true, 40]);
    const logged = daemon.logs.map((l) => JSON.parse(l.startsWith('{') ? l : '{}')).find((l) => l.msg?.startsWith('most lines of the file did not parse'));
    assert.ok(logged, 'the warning is logged');
    assert.equal(logged.level, 40);
    assert.equal(path.basename(logged.file), 'app.json');
    assert.equal(logged.logFormat, 'auto');
    assert.deepEqual(logged.samples, json.slice(0, 3));

    // A clean file is not marked.
    drop(dir, 'fine.log', ['1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 1']);
    const fine = await waitFor('fine.log completed', async () => {
      const { body: b } = await daemon.get<{ files: { name: string; state: string; mostlyUnparsed: boolean; warning: string | null }[] }>('/api/files');
      return b.files.find((x) => x.name === 'fine.log' && x.state === 'completed');
    });
    assert.deepEqual([fine.mostlyUnparsed, fine.warning], [false, null]);
  });
});
