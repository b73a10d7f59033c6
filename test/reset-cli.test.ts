import assert from 'node:assert/strict';
import { existsSync, renameSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { Stats, Top } from './helpers/api-types.js';
import { tempDir, waitFor, withDaemon, writeConfig } from './helpers/daemon.js';
import { dropLog } from './helpers/expected-counts.js';
import { logflow } from './helpers/run-cli.js';

/** The generated logs' own hour (2026-01-01T00:00Z), where their history is. */
const HOUR = 'from=2025-12-31T23:00:00Z&to=2026-01-01T02:00:00Z';

describe('logflow reset: start over in one command (issue 21 item 8)', () => {
  test('a running daemon is refused by its pid; without --yes it only lists; --yes removes checkpoint, results and file records, and the same log counts again, once', async (t) => {
    const dir = tempDir();
    await writeConfig(dir);
    let daemon = await withDaemon(t, { dir });
    const want = await dropLog(dir, 'a.log', { lines: 5_000, urls: 30, seed: 21, malformed: 0.01 });
    await waitFor('a.log counted', async () => {
      const { body } = await daemon.get<Stats>('/api/stats');
      return body.files.completed === 1 && body.eventsCounted === want.total ? true : undefined;
    });

    const refused = await logflow(['reset', '--yes', '--conf-file', 'agent.conf'], dir);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`refused: the daemon is running: .*\\(pid ${daemon.proc.pid}\\b`));
    assert.ok(existsSync(path.join(dir, 'data', 'results.db')), 'nothing removed');
    assert.equal(await daemon.stop('SIGTERM'), 0);

    const dry = await logflow(['reset', '--conf-file', 'agent.conf'], dir);
    assert.equal(dry.code, 1);
    assert.match(dry.stdout, /^would remove \(agent a1 of agent\.conf\):$/m);
    assert.match(dry.stdout, /nothing removed: run again with --yes/);
    assert.ok(existsSync(path.join(dir, 'checkpoint', 'manifest.json')));

    const done = await logflow(['reset', '--yes', '--conf-file', 'agent.conf'], dir);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /^removed \(agent a1 of agent\.conf\):$/m);
    assert.match(done.stdout, /job j1's checkpoint: .*checkpoint \(manifest\.json, segments\//);
    assert.match(done.stdout, /job j1's results and history: .*results\.db \(results\.db/);
    assert.match(done.stdout, /source r1's file records and fingerprints: .*\.flumespool\/files\.db \(files\.db/);
    assert.match(done.stdout, /kept: the spool's log files; 1 finished \(a\.log\.COMPLETED\)/);
    for (const gone of ['checkpoint/manifest.json', 'checkpoint/LOCK', 'data/results.db', 'spool/.flumespool/files.db']) {
      assert.ok(!existsSync(path.join(dir, gone)), `${gone} removed`);
    }
    assert.match((await logflow(['reset', '--yes', '--conf-file', 'agent.conf'], dir)).stdout, /^nothing to remove/);

    // Started again, the same log counts again (not a duplicate), once, in the window and the history.
    daemon = await withDaemon(t, { dir });
    renameSync(path.join(dir, 'spool', 'a.log.COMPLETED'), path.join(dir, 'spool', 'a.log'));
    await waitFor('a.log counted again', async () => {
      const { body } = await daemon.get<Stats>('/api/stats');
      return body.files.completed === 1 && body.eventsCounted === want.total ? true : undefined;
    });
    const { body: range } = await daemon.get<Top>(`/api/top?n=1000&${HOUR}`);
    assert.equal(range.total, want.total);
    assert.deepEqual(new Map(range.urls.map((u) => [u.url, u.count])), want.counts);
    const { body: files } = await daemon.get<{ files: { name: string; state: string }[] }>('/api/files');
    assert.deepEqual(files.files.map((f) => [f.name, f.state]), [['a.log', 'completed']]);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  test('--reset-checkpoint is documented against it', async () => {
    const { execFileSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../daemon/main.js');
    const help = execFileSync(process.execPath, [main, '--help'], { encoding: 'utf8' });
    assert.match(help, /--reset-checkpoint[\s\S]*history and the file records are kept[\s\S]*npx logflow reset --yes/);
    const cli = await logflow(['reset', '--help'], tempDir());
    assert.match(cli.stdout, /npm start -- --reset-checkpoint is not this/);
  });
});
