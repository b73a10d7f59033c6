import assert from 'node:assert/strict';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { encodeCounts, ResultsReader, ResultsStore } from '../daemon/store/index.js';
import { generateLines } from '../scripts/access-log-generator.js';
import { expectedCounts } from './helpers/expected-counts.js';
import { tempDir, waitFor, withDaemon, writeConfig } from './helpers/daemon.js';

const M = 60_000;
const H = 3_600_000;
const START = Date.UTC(2026, 2, 3, 9, 57, 0);
const iso = (ms: number) => new Date(ms).toISOString();

interface Stats {
  eventsCounted: number;
  parseErrors: number;
}

/**
 * The rule: for any range, the series points sum to the range's top total, and that total
 * equals the count from the data itself.
 */
function checkRanges(
  ranges: [number, number][],
  want: (from: number, to: number) => number,
  ask: (from: number, to: number) => { total: number; series: number[] },
): void {
  for (const [from, to] of ranges) {
    const { total, series } = ask(from, to);
    const label = `${iso(from)}..${iso(to)}`;
    for (const [step, points] of series.entries()) assert.equal(points, total, `series (step ${step}) sums to the top total over ${label}`);
    assert.equal(total, want(from, to), `top total over ${label}`);
  }
}

describe('history after a restart or a gap (issue 12.3)', () => {
  test('processing time: the store restarted (a new writer on the same file) across gaps of 2 minutes and 2 hours keeps every minute and hour', () => {
    const file = path.join(tempDir(), 'results.db');
    const saved: { startMs: number; n: number }[] = [];
    // Three runs of the writer, as three daemon runs: each starts on what the last one left.
    // A batch every 5 s in 09:57-10:01:30, then 2 minutes of nothing, then 2 hours.
    const runs = [
      [START, START + 4 * M + 30_000],
      [START + 6 * M + 30_000, START + 9 * M],
      [START + 2 * H + 9 * M, START + 2 * H + 12 * M + 10_000],
    ];
    for (const [from, to] of runs) {
      const store = new ResultsStore(file);
      for (let t = from!; t < to!; t += 5000) {
        const n = 1 + ((t / 5000) % 7);
        store.saveBatch({ startMs: t, events: n + 1, parseErrors: 1, counts: encodeCounts([['/a', n - 1 > 0 ? n - 1 : 0], ['/b', 1]].filter(([, c]) => (c as number) > 0) as [string, number][]) });
        saved.push({ startMs: t, n });
        // The job's tick: rollups behind the batches.
        (store as { rollUp?: (ms: number) => boolean }).rollUp?.(1000);
      }
      store.close();
    }
    const reader = new ResultsReader(file, 1000);
    const history = reader.history();
    const want = (from: number, to: number) => saved.filter((b) => b.startMs >= from && b.startMs < to).reduce((a, b) => a + b.n, 0);
    const sum = (points: { count: number }[]) => points.reduce((a, p) => a + p.count, 0);
    checkRanges(
      [[START, START + 3 * H], [START - H, START + 5 * H], [START + 3 * M, START + 8 * M], [START + 3 * M + 7000, START + 2 * H + 10 * M + 3000], [START + 2 * H, START + 2 * H + 30 * M]],
      want,
      (from, to) => ({
        total: history.top(from, to, 10).total,
        series: [60_000, 3_600_000, 1000].filter((step) => from % step === 0 && to % step === 0).map((step) => sum(history.totalSeries(from, to, step))),
      }),
    );
    reader.close();
  });

  test('a rollup transaction that fails (a full disk) is rolled up again: no minute it held is skipped', () => {
    const file = path.join(tempDir(), 'results.db');
    const store = new ResultsStore(file);
    const saved: { startMs: number; n: number }[] = [];
    const save = (from: number, to: number) => {
      for (let t = from; t < to; t += 5000) {
        store.saveBatch({ startMs: t, events: 2, parseErrors: 0, counts: encodeCounts([['/a', 1], [`/m${Math.floor(t / M)}`, 1]]) });
        saved.push({ startMs: t, n: 2 });
      }
    };
    save(START, START + 5 * M + 5000);
    // Minutes 0 and 1 roll up in the same transaction, then minute 2 fails: all three are rolled back.
    const failing = new Database(file);
    failing.exec(`CREATE TRIGGER disk_full BEFORE INSERT ON totals WHEN NEW.level = 1 AND NEW.start_ms = ${START + 2 * M}
      BEGIN SELECT RAISE(ABORT, 'injected: database or disk is full'); END`);
    assert.throws(() => store.rollUp(60_000), /injected/);
    failing.exec('DROP TRIGGER disk_full');
    failing.close();
    save(START + 5 * M + 5000, START + 7 * M);
    while (store.rollUp(60_000));
    store.close();
    const reader = new ResultsReader(file, 1000);
    const history = reader.history();
    const want = (from: number, to: number) => saved.filter((b) => b.startMs >= from && b.startMs < to).reduce((a, b) => a + b.n, 0);
    const sum = (points: { count: number }[]) => points.reduce((a, p) => a + p.count, 0);
    checkRanges([[START, START + 6 * M], [START + M, START + 3 * M]], want, (from, to) => ({
      total: history.top(from, to, 10).total,
      series: [sum(history.totalSeries(from, to, 60_000))],
    }));
    reader.close();
  });

  test('event time: the daemon restarted between logs that leave gaps of 2 minutes and 2 hours: series, top and the files agree', { timeout: 120_000 }, async (t) => {
    const dir = tempDir();
    await writeConfig(dir, 'a1.jobs.j1.time = event\na1.jobs.j1.watermark = 60\na1.jobs.j1.flushAfterIdle = 1\n');
    mkdirSync(path.join(dir, 'spool'));
    // Each log spans 10 minutes; the next starts 2 minutes, then 2 hours, after it ends.
    const parts = [START, START + 12 * M, START + 22 * M + 2 * H].map((startMs, i) => [...generateLines({ lines: 3000, urls: 40, seed: 120 + i, startMs, spanSeconds: 600, malformed: 0.01 })]);
    let counted = 0;
    for (const [i, lines] of parts.entries()) {
      const daemon = await withDaemon(t, { dir });
      const staged = path.join(dir, `part${i}.log`);
      writeFileSync(staged, lines.join('\n') + '\n');
      const { total, parseErrors } = expectedCounts(staged);
      counted += total + parseErrors;
      renameSync(staged, path.join(dir, 'spool', `part${i}.log`));
      await waitFor(`part ${i} counted, its tail flushed`, async () => {
        const { body } = await daemon.get<Stats>('/api/stats');
        return body.eventsCounted + body.parseErrors === counted ? true : undefined;
      }, 30_000);
      assert.equal(await daemon.stop('SIGTERM'), 0);
    }
    const daemon = await withDaemon(t, { dir });
    const re = /^\S+ \S+ \S+ \[([^\]]+)\] "\S+ \S+ [^"]*" \d{3} /;
    const all: number[] = [];
    for (const lines of parts) {
      for (const line of lines) {
        const m = re.exec(line);
        if (!m) continue;
        const [d, mon, rest] = m[1]!.split('/');
        all.push(Date.parse(`${mon} ${d} ${rest!.replace(':', ' ')}`.replace(' +0000', ' GMT')));
      }
    }
    const want = (from: number, to: number) => all.filter((t) => t >= from && t < to).length;
    const ranges: [number, number][] = [[START - 3 * M, START + 3 * H], [START, START + 30 * M], [START + 8 * M, START + 14 * M], [START + 20 * M, START + 2 * H + 40 * M], [START + 3 * M, START + 2 * H + 25 * M + 7000]];
    const answers = new Map<string, { total: number; series: number[] }>();
    for (const [from, to] of ranges) {
      const { body: top } = await daemon.get<{ total: number }>(`/api/top?n=10&from=${iso(from)}&to=${iso(to)}`);
      const series: number[] = [];
      for (const step of [60, 1]) {
        if (from % (step * 1000) !== 0 || to % (step * 1000) !== 0 || (to - from) / (step * 1000) > 10_000) continue;
        const { body } = await daemon.get<{ points: { count: number }[] }>(`/api/series?from=${iso(from)}&to=${iso(to)}&step=${step}`);
        series.push(body.points.reduce((a, p) => a + p.count, 0));
      }
      answers.set(`${from}-${to}`, { total: top.total, series });
    }
    checkRanges(ranges, want, (from, to) => answers.get(`${from}-${to}`)!);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });
});
