import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { generateLines } from '../scripts/access-log-generator.js';
import { tempDir, waitFor, withDaemon, writeConfig, type RunningDaemon } from './helpers/daemon.js';
import { expectedCounts } from './helpers/expected-counts.js';

const STEPS = 8;
const LINES_PER_STEP = 5_000;
const POLL_DELAY_MS = 2_500;

/**
 * Writes the log into the spool in place, as `cp` of a slow source does: one descriptor,
 * 8 appends. The first pause is longer than pollDelay, so the source starts reading half
 * a file; the others are 0.5 to 1 s. The step sizes end mid-line, as a copy's writes do.
 */
const WRITER = `
const fs = require('node:fs');
const [file, steps, perStep, firstPause] = [process.argv[1], +process.argv[2], +process.argv[3], +process.argv[4]];
let text = '';
for (let i = 0; i < steps * perStep; i++) text += '10.0.0.' + (i % 250) + ' - - [10/Oct/2000:13:55:36 -0700] "GET /p/' + (i % 13) + ' HTTP/1.1" 200 ' + i + '\\n';
const bytes = Buffer.from(text);
const fd = fs.openSync(file, 'wx');
const cut = (k) => Math.floor((bytes.length * k) / steps) + (k > 0 && k < steps ? 7 : 0);
let k = 0;
const step = () => {
  fs.writeSync(fd, bytes, cut(k), cut(k + 1) - cut(k));
  k++;
  if (k === steps) { fs.closeSync(fd); return; }
  setTimeout(step, k === 1 ? firstPause : 500 + Math.random() * 500);
};
step();
`;

describe('a file still being written into the spool', () => {
  const daemons: RunningDaemon[] = [];
  const children: ChildProcess[] = [];
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    for (const d of daemons) await d.stop('SIGKILL');
  });

  test('a file appended in 8 steps 0.5-1 s apart while the machine is busy is read whole and completed, each line counted once', { timeout: 90_000 }, async (t) => {
    const daemon = await withDaemon(t, { overrides: { 'a1.sources.r1.pollDelay': String(POLL_DELAY_MS) } });
    const { dir } = daemon;
    // A busy machine: a process burning a core for the whole test.
    const burner = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    children.push(burner);
    const file = path.join(dir, 'spool', 'growing.log');
    const writer = spawn(process.execPath, ['-e', WRITER, file, String(STEPS), String(LINES_PER_STEP), String(POLL_DELAY_MS + 500)], { stdio: 'inherit' });
    children.push(writer);
    const wrote = new Promise<number | null>((resolve) => writer.on('exit', resolve));
    const total = STEPS * LINES_PER_STEP;
    const files = await waitFor('growing.log finished', async () => {
      const { body } = await daemon.get<{ files: { name: string; state: string; lines: number; size: number; reason: string | null }[] }>('/api/files');
      const f = body.files.find((x) => x.name === 'growing.log');
      return f && (f.state === 'completed' || f.state === 'failed') ? f : undefined;
    }, 60_000);
    assert.equal(await wrote, 0);
    assert.deepEqual([files.state, files.lines, files.reason], ['completed', total, null]);
    assert.ok(existsSync(file + '.COMPLETED'));
    const stats = await waitFor('every line counted', async () => {
      const { body } = await daemon.get<{ eventsCounted: number; parseErrors: number }>('/api/stats');
      return body.eventsCounted + body.parseErrors >= total ? body : undefined;
    });
    assert.deepEqual([stats.eventsCounted, stats.parseErrors], [total, 0]);
    const { body: top } = await daemon.get<{ total: number; urls: { url: string; count: number }[] }>('/api/top?n=20');
    assert.equal(top.urls.length, 13);
    // Line i asks for /p/(i % 13): 3077 each for /p/0 to /p/11, 3076 for /p/12.
    const expected = Array.from({ length: 13 }, (_, u) => ({ url: `/p/${u}`, count: Math.floor(total / 13) + (u < total % 13 ? 1 : 0) }));
    assert.deepEqual([...top.urls].sort((a, b) => a.url.localeCompare(b.url)), expected.sort((a, b) => a.url.localeCompare(b.url)));
    assert.ok(daemon.logs.some((l) => l.includes('file still being written: reading on')), 'the source did start early and read on');
  });
});

describe('kill -9 while a file in the spool is still being appended to', () => {

  test('the restarted source resumes the grown file (opened before its first line was whole) where its checkpoint was: every line counted once (independent count)', { timeout: 60_000 }, async (t) => {
    const dir = tempDir();
    await writeConfig(dir, '', { 'a1.sources.r1.pollDelay': '2000', 'a1.jobs.j1.batchInterval': '0.25' });
    let daemon = await withDaemon(t, { dir });
    const file = path.join(dir, 'spool', 'growing.log');
    const lines = generateLines({ lines: 20_000, urls: 300, seed: 22, malformed: 0.01 });
    const append = (n: number) => {
      let text = '';
      for (let i = 0; i < n; i++) {
        const next = lines.next();
        if (next.done) break;
        text += next.value + '\n';
      }
      appendFileSync(file, text);
    };
    // Half a first line: the source opens the file before it has a whole first line (no
    // identity yet). Once it reads it, the line's end, 5,000 lines, then 50 more every 100 ms
    // (well within pollDelay): it reads the file as it grows, and a checkpoint holds a position.
    const first = lines.next().value!;
    appendFileSync(file, first.slice(0, 30));
    await waitFor('the source reading growing.log', async () => {
      const { body } = await daemon.get<{ files: { name: string; state: string }[] }>('/api/files');
      return body.files.some((f) => f.name === 'growing.log' && f.state === 'reading') ? true : undefined;
    });
    appendFileSync(file, first.slice(30) + '\n');
    append(5_000);
    const writer = setInterval(() => append(50), 100);
    try {
      const counted = await waitFor('part of the growing file counted and checkpointed', async () => {
        const { body } = await daemon.get<{ eventsCounted: number; parseErrors: number; checkpoint: { seq: number } }>('/api/stats');
        return body.eventsCounted + body.parseErrors >= 5_001 ? body : undefined;
      });
      await waitFor('two checkpoints more', async () => ((await daemon.get<{ checkpoint: { seq: number } }>('/api/stats')).body.checkpoint.seq >= counted.checkpoint.seq + 2 ? true : undefined));
      daemon.proc.kill('SIGKILL');
      await daemon.exited;
      append(1_000);
      daemon = await withDaemon(t, { dir });
      append(1_000);
    } finally {
      clearInterval(writer);
    }
    const done = await waitFor('growing.log finished', async () => {
      const { body } = await daemon.get<{ files: { name: string; state: string; lines: number }[] }>('/api/files');
      return body.files.find((f) => f.name === 'growing.log' && f.state !== 'pending' && f.state !== 'reading');
    }, 30_000);
    assert.equal(done.state, 'completed');
    const want = expectedCounts(file + '.COMPLETED');
    const stats = await waitFor('every line counted', async () => {
      const { body } = await daemon.get<{ eventsCounted: number; parseErrors: number }>('/api/stats');
      return body.eventsCounted + body.parseErrors >= want.lines ? body : undefined;
    });
    assert.deepEqual([stats.eventsCounted, stats.parseErrors], [want.total, want.parseErrors]);
    const { body: top } = await daemon.get<{ urls: { url: string; count: number }[] }>('/api/top?n=1000');
    assert.deepEqual(new Map(top.urls.map((u) => [u.url, u.count])), want.counts);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });
});
