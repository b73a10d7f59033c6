import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { startDaemon, tempDir, waitFor, writeConfig, type RunningDaemon } from './helpers/daemon.js';

interface Top {
  total: number;
  urls: { url: string; count: number }[];
}
interface Stats {
  eventsCounted: number;
  parseErrors: number;
}

/** Writes `lines` to `<dir>/<name>.staged` and renames it into the spool, whole. */
function drop(dir: string, name: string, lines: string[]): void {
  const staged = path.join(dir, `${name}.staged`);
  writeFileSync(staged, lines.join('\n') + '\n');
  renameSync(staged, path.join(dir, 'spool', name));
}

describe('logs as they come: raw quotes in requests', () => {
  const daemons: RunningDaemon[] = [];
  after(async () => {
    for (const d of daemons) await d.stop('SIGKILL');
  });

  test('a request with raw quotes ("GET /x?y="z" HTTP/1.0") is counted under its URL, as the seed\'s regex reads it', async () => {
    const dir = tempDir();
    await writeConfig(dir);
    const daemon = await startDaemon(dir);
    daemons.push(daemon);
    const t = '[10/Oct/2000:13:55:36 -0700]';
    drop(dir, 'quotes.log', [
      `1.1.1.1 - - ${t} "GET /x?y="z" HTTP/1.0" 200 12 "-" "curl"`,
      `1.1.1.2 - - ${t} "GET /x?y="z" HTTP/1.0" 404 -`,
      `1.1.1.3 - - ${t} "GET /say\\"hi\\" HTTP/1.1" 200 1 "-" "a \\"b\\""`,
      `1.1.1.4 - - ${t} "GET /plain HTTP/1.1" 200 1`,
      `1.1.1.5 - - ${t} "GET /x?y="z" HTTP/1.0 200 1`,
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
});
