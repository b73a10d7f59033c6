import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const BENCH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/bench.js');

test('the benchmark runs end to end on small inputs and prints its table', { timeout: 170_000 }, () => {
  const run = spawnSync(process.execPath, [BENCH, '--smoke'], { encoding: 'utf8', timeout: 160_000 });
  assert.equal(run.status, 0, run.stderr);
  const rows = run.stdout.split('\n').filter((l) => l.startsWith('| '));
  for (const figure of ['end to end', 'bare read-and-split', 'small file', 'Avro RPC alone', 'peak RSS', 'slide with', 'p99', 'requests/s', 'event, watermark 60', 'event, watermark 7200', 'slowest checkpoint', 'logflow analyze', 'dimensions url status']) {
    assert.ok(rows.some((r) => r.includes(figure)), `the table has a row for ${figure}`);
  }
  assert.match(run.stdout, /smoke run/);
});
