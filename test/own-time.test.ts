import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { startDaemon, tempDir, waitFor, writeConfig, type RunningDaemon } from './helpers/daemon.js';
import { dropShaped, ownTimeCounts, sixLogs, type ShapedLog } from './helpers/real-log-shapes.js';

interface Top {
  total: number;
  urls: { url: string; count: number }[];
}
interface FileEntry {
  name: string;
  state: string;
  lines: number;
  parseErrors: number | null;
  startedAt: string | null;
  note: string | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Every log's own date range, URL by URL, and its series, against the lines themselves. */
async function assertOwnRanges(daemon: RunningDaemon, logs: readonly ShapedLog[], all: readonly string[]): Promise<void> {
  for (const log of logs) {
    const want = ownTimeCounts(all, log.from, log.to);
    const range = `from=${iso(log.from)}&to=${iso(log.to)}`;
    const top = await waitFor(`${log.name}'s own range (${want.total} lines)`, async () => {
      const r = await daemon.get<Top>(`/api/top?n=1000&${range}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.total === want.total ? r.body : undefined;
    }, 30_000);
    assert.deepEqual(new Map(top.urls.map((u) => [u.url, u.count])), want.counts, `${log.name}: URL by URL`);
    const series = await daemon.get<{ points: { count: number }[] }>(`/api/series?${range}`);
    assert.equal(series.status, 200, JSON.stringify(series.body));
    assert.equal(series.body.points.reduce((n, p) => n + p.count, 0), want.total, `${log.name}: the series sums to the total`);
  }
}

async function files(daemon: RunningDaemon): Promise<Map<string, FileEntry>> {
  return new Map((await daemon.get<{ files: FileEntry[] }>('/api/files')).body.files.map((f) => [f.name, f]));
}

async function completed(daemon: RunningDaemon, names: readonly string[]): Promise<Map<string, FileEntry>> {
  return waitFor(`${names.join(', ')} completed`, async () => {
    const f = await files(daemon);
    return names.every((n) => f.get(n)?.state === 'completed') ? f : undefined;
  }, 60_000);
}

describe("the log's own time, and nothing dropped (issue 21)", () => {
  const daemons: RunningDaemon[] = [];
  after(async () => {
    for (const d of daemons) await d.stop('SIGKILL');
  });

  for (const time of ['processing', 'event'] as const) {
    test(`time = ${time}: six logs of 1995-2017 dropped newest first, kill -9 mid-file: every log's own range is exact; per-file figures are whole`, { timeout: 120_000 }, async (t) => {
      const dir = tempDir();
      mkdirSync(path.join(dir, 'spool'));
      // Small batches and a checkpoint every 0.25 s: the kill lands after a checkpoint covered
      // part of the first file and before all of it was read (the diagnostic says where).
      const extra = time === 'event' ? 'a1.jobs.j1.time = event\na1.jobs.j1.watermark = 60\na1.jobs.j1.flushAfterIdle = 1\n' : '';
      await writeConfig(dir, extra, { 'a1.sinks.k1.batch-size': '100', 'a1.sources.r1.batchSize': '100', 'a1.jobs.j1.batchInterval': '0.25' });
      const { logs, split } = sixLogs();
      const all = [...logs, ...split].flatMap((l) => l.lines);

      let daemon = await startDaemon(dir);
      daemons.push(daemon);
      dropShaped(dir, logs[0]!);
      const target = logs[0]!.lines.length;
      // kill -9 once a checkpoint holds part of the file, before it is finished.
      const seqOf = async () => (await daemon.get<{ eventsIn: number; checkpoint: { seq: number } }>('/api/stats')).body;
      const seqAtStart = await waitFor('some lines counted', async () => {
        const s = await seqOf();
        return s.eventsIn > 0 ? s.checkpoint.seq : undefined;
      });
      const killedAt = await waitFor('a checkpoint after them', async () => {
        const s = await seqOf();
        return s.checkpoint.seq > seqAtStart ? s.eventsIn : undefined;
      });
      const firstStarted = (await files(daemon)).get(logs[0]!.name)?.startedAt;
      daemon.proc.kill('SIGKILL');
      await daemon.exited;
      const finishedBeforeKill = existsSync(path.join(dir, 'spool', `${logs[0]!.name}.COMPLETED`));
      const restartedAt = Date.now();
      daemon = await startDaemon(dir);
      daemons.push(daemon);
      const resumed = daemon.logs.find((l) => l.includes('"file resumed"') || l.includes('"file started"'));
      t.diagnostic(`killed at ${killedAt} of ${target} lines read; ${finishedBeforeKill ? 'finished before the kill' : `restart: ${resumed}`}`);
      for (const log of logs.slice(1, 2)) dropShaped(dir, log);
      // The seed's log in two parts, with a pause between (the event-time idle flush runs in it).
      dropShaped(dir, split[0]);
      await completed(daemon, [logs[0]!.name, logs[1]!.name, split[0].name]);
      await new Promise((r) => setTimeout(r, 2500));
      dropShaped(dir, split[1]);
      for (const log of logs.slice(2)) dropShaped(dir, log);
      const f = await completed(daemon, [...logs, ...split].map((l) => l.name));

      await assertOwnRanges(daemon, [...logs, split[0]], all);
      // A range over all of them: 1995 to 2018, more than 366 days.
      await assertOwnRanges(daemon, [{ name: 'all', lines: [], from: Date.UTC(1995, 0, 1), to: Date.UTC(2018, 0, 1) }], all);

      // Per-file figures are the whole file's, across the kill.
      for (const log of [...logs, ...split]) {
        const want = ownTimeCounts(log.lines);
        const entry = f.get(log.name)!;
        assert.equal(entry.lines, log.lines.length, `${log.name}: lines (killed mid-file: ${log === logs[0] && !finishedBeforeKill})`);
        assert.equal(entry.parseErrors, want.unparsed, `${log.name}: parse errors`);
      }
      // Resumed: started before the kill (when the job first counted it), not at the resume.
      if (resumed?.includes('"file resumed"')) {
        const started = Date.parse(f.get(logs[0]!.name)!.startedAt!);
        assert.ok(started < restartedAt && started >= Date.parse(firstStarted!), `startedAt ${iso(started)}: before the restart at ${iso(restartedAt)}`);
      }
      assert.ok(killedAt < target || finishedBeforeKill, `killed at ${killedAt} of ${target} lines`);

      if (time === 'event') {
        // Every line of a log older than everything counted before it is history only: said
        // on the file, and counted under a name that says so.
        const older = f.get(logs[3]!.name)!;
        const parsed = ownTimeCounts(logs[3]!.lines).total;
        assert.equal(older.note, `${parsed.toLocaleString('en-US')} lines older than the live window: counted in history only`);
        const stats = (await daemon.get<{ historyOnlyEvents: number }>('/api/stats')).body;
        assert.ok(stats.historyOnlyEvents >= parsed, `historyOnlyEvents ${stats.historyOnlyEvents}`);
      }
      assert.equal(await daemon.stop('SIGTERM'), 0);
    });
  }
});
