import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseAgentConfig } from '../daemon/agent-config.js';
import { ofType } from '../daemon/components.js';
import { configErrorOf } from './helpers/config-error.js';
import { tempDir, waitFor, withDaemon, writeConfig, type RunningDaemon } from './helpers/daemon.js';
import { logflow } from './helpers/run-cli.js';
import { dropShaped, lineAt, ownTime, ownTimeCounts, sixLogs, type ShapedLog } from './helpers/real-log-shapes.js';

interface Top {
  total: number;
  urls: { url: string; count: number }[];
}
interface LiveTop extends Top {
  window: { start: string; end: string } | null;
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
  for (const time of ['processing', 'event'] as const) {
    test(`time = ${time}: six logs of 1995-2017 dropped newest first, kill -9 mid-file: every log's own range is exact; per-file figures are whole`, { timeout: 120_000 }, async (t) => {
      const dir = tempDir();
      mkdirSync(path.join(dir, 'spool'));
      // Small batches and a checkpoint every 0.25 s: the kill lands after a checkpoint covered
      // part of the first file and before all of it was read (the diagnostic says where).
      const extra = time === 'event' ? 'a1.jobs.j1.time = event\na1.jobs.j1.watermark = 60\na1.jobs.j1.flushAfterIdle = 1\n' : '';
      await writeConfig(dir, extra, { 'a1.sinks.k1.batch-size': '100', 'a1.sources.r1.batchSize': '100', 'a1.jobs.j1.batchInterval': '0.25' });
      const { logs, split } = sixLogs(0.6);
      const all = [...logs, ...split].flatMap((l) => l.lines);

      let daemon = await withDaemon(t, { dir });
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
      daemon = await withDaemon(t, { dir });
      const resumed = daemon.logs.find((l) => l.includes('"file resumed"') || l.includes('"file started"'));
      t.diagnostic(`killed at ${killedAt} of ${target} lines read; ${finishedBeforeKill ? 'finished before the kill' : `restart: ${resumed}`}`);
      for (const log of logs.slice(1, 2)) dropShaped(dir, log);
      // The seed's log in two parts, with a pause between (the event-time idle flush runs in it).
      dropShaped(dir, split[0]);
      await completed(daemon, [logs[0]!.name, logs[1]!.name, split[0].name]);
      // The live window reaches the newest line so far: event time, once the idle flush fired
      // (without it the window ends a watermark behind it); processing time, at once.
      const newest = Math.max(...[logs[0]!, logs[1]!, split[0]].flatMap((l) => l.lines.map(ownTime)).filter((ms) => !Number.isNaN(ms)));
      await waitFor('the live window at the newest line', async () => {
        const { window } = (await daemon.get<LiveTop>('/api/top?n=1')).body;
        return window && Date.parse(window.end) >= newest ? true : undefined;
      }, 30_000);
      dropShaped(dir, split[1]);
      for (const log of logs.slice(2, 3)) dropShaped(dir, log);
      // The log older than everything through `logflow drop`, which prints its note.
      const oldest = logs[3]!;
      writeFileSync(path.join(dir, oldest.name), oldest.lines.join('\n') + '\n');
      const dropped = await logflow(['drop', oldest.name, '--spool', 'spool', '--url', daemon.url], dir);
      assert.equal(dropped.code, 0, dropped.stderr);
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
      // The kill landed mid-file: the restart resumed it from a checkpoint short of its end
      // (all its lines may have reached the job already), or it had been finished before.
      const resumedShort = /"file resumed".*"bytes":(\d+),"resumeAt":(\d+)/.exec(resumed ?? '');
      assert.ok(finishedBeforeKill || killedAt < target || (resumedShort !== null && Number(resumedShort[2]) < Number(resumedShort[1])), `killed at ${killedAt} of ${target} lines: ${resumed}`);

      if (time === 'event') {
        // Every line of a log older than everything counted before it is history only: said
        // on the file, and counted under a name that says so.
        const older = f.get(logs[3]!.name)!;
        const parsed = ownTimeCounts(logs[3]!.lines).total;
        const note = `${parsed.toLocaleString('en-US')} lines older than the live window: counted in history only`;
        assert.equal(older.note, note);
        assert.match(dropped.stdout, new RegExp(`^note: ${oldest.name}: ${note}$`, 'm'), 'logflow drop prints the note');
        const stats = (await daemon.get<{ historyOnlyEvents: number }>('/api/stats')).body;
        assert.ok(stats.historyOnlyEvents >= parsed, `historyOnlyEvents ${stats.historyOnlyEvents}`);
      }
      assert.equal(await daemon.stop('SIGTERM'), 0);
    });
  }

  test('an idle flush fires early and does not close: lines within the watermark that come after it are added to the window and the history already shown', { timeout: 60_000 }, async (t) => {
    // A one-hour window, a two-hour watermark: without the idle flush nothing of the log
    // would show; with it, everything does, and stays open to lines within the watermark.
    const daemon = await withDaemon(t, { extra: 'a1.jobs.j1.time = event\na1.jobs.j1.watermark = 7200\na1.jobs.j1.flushAfterIdle = 1\na1.jobs.j1.windowDuration = 3600\n' });
    const { dir } = daemon;
    const { split } = sixLogs(0.4);
    const first = split[0];
    // The second part: its first 3 lines older than the first part's newest by 10 to 30
    // minutes (within the watermark and the window), then a quarter of an hour of lines.
    const end = Math.max(...first.lines.map(ownTime).filter((t) => !Number.isNaN(t))) + 15 * 60_000;
    const second = { ...split[1], lines: split[1].lines.filter((l) => !(ownTime(l) >= end)) };
    const live = async () => (await daemon.get<LiveTop>('/api/top?n=1000')).body;
    /** The live window against the lines' own times, the simple way. */
    const assertWindow = (top: LiveTop, lines: string[], label: string) => {
      const want = ownTimeCounts(lines, Date.parse(top.window!.start), Date.parse(top.window!.end));
      assert.equal(top.total, want.total, `${label}: the window's total`);
      assert.deepEqual(new Map(top.urls.map((u) => [u.url, u.count])), want.counts, `${label}: the window, URL by URL`);
    };
    dropShaped(dir, first);
    const newest = Math.max(...first.lines.map(ownTime).filter((t) => !Number.isNaN(t)));
    const shown = await waitFor('the first part shown by the idle flush', async () => {
      const top = await live();
      return top.window && Date.parse(top.window.end) > newest ? top : undefined;
    });
    assertWindow(shown, first.lines, 'fired early');
    // The second part starts with 3 lines older than the first part's newest (by 10 to 30
    // minutes: within the watermark and the window).
    dropShaped(dir, second);
    await completed(daemon, [first.name, second.name]);
    const all = [...first.lines, ...second.lines];
    const after = await waitFor('the second part shown', async () => {
      const top = await live();
      return top.window && Date.parse(top.window.end) > Math.max(...second.lines.map(ownTime).filter((t) => !Number.isNaN(t))) ? top : undefined;
    });
    assertWindow(after, all, 'updated');
    assert.ok(after.urls.some((u) => u.url === '/seed/late-3.html'), 'the earliest of the 3 lines is in the window');
    const stats = (await daemon.get<{ historyOnlyEvents: number }>('/api/stats')).body;
    assert.equal(stats.historyOnlyEvents, 0, 'no line was older than the window or the watermark');
    for (const k of [1, 2, 3]) {
      const url = `/seed/late-${k}.html`;
      const { body } = await daemon.get<Top>(`/api/top?n=1000&from=${iso(first.from)}&to=${iso(first.to)}`);
      assert.equal(body.urls.find((u) => u.url === url)?.count, 1, `${url} in the history`);
    }
    await assertOwnRanges(daemon, [first], all);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  test('event time starts at the first line minus the watermark: lines older than the first one by less than it are on time', { timeout: 60_000 }, async (t) => {
    const daemon = await withDaemon(t, { extra: 'a1.jobs.j1.time = event\na1.jobs.j1.watermark = 60\na1.jobs.j1.flushAfterIdle = 1\n' });
    const { dir } = daemon;
    // A log's head as the 2017 log's: its first line, then lines stamped up to 50 s before
    // it (a server writes a line when the request ends, stamped with when it began).
    const t0 = Date.UTC(2017, 2, 5, 6);
    const head = [t0, t0 - 30_000, t0 - 10_000, t0 - 50_000, ...Array.from({ length: 30 }, (_, i) => t0 + i * 1000)].map((t, i) => lineAt(t, `/head/${i % 7}`));
    const log = { name: 'head-2017.log', lines: head, from: t0 - 3600_000, to: t0 + 3600_000 };
    dropShaped(dir, log);
    const f = await completed(daemon, [log.name]);
    assert.equal(f.get(log.name)!.note, null, 'no line outside the live window');
    assert.equal((await daemon.get<{ historyOnlyEvents: number }>('/api/stats')).body.historyOnlyEvents, 0);
    const top = await waitFor('the head in the window', async () => {
      const t = (await daemon.get<LiveTop>('/api/top?n=1000')).body;
      return t.total === ownTimeCounts(head).total ? t : undefined;
    });
    assert.deepEqual(new Map(top.urls.map((u) => [u.url, u.count])), ownTimeCounts(head).counts);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  test('retention: 0 keeps the history for ever; else at least a minute; the error names the key', () => {
    const base = 'a1.sources = r1\na1.channels = c1\na1.sources.r1.type = spooldir\na1.sources.r1.spoolDir = spool\na1.sources.r1.channels = c1\na1.channels.c1.type = memory\n' +
      'a1.jobs = j1\na1.jobs.j1.type = url-window-count\na1.jobs.j1.port = 4141\n';
    const parse = (t: string) => parseAgentConfig(t, 'test.conf', 'a1', '/base');
    const job = (t: string) => ofType(parse(t).jobs, 'url-window-count')[0]!;
    assert.equal(job(base).retentionMs, 7 * 86_400_000);
    assert.equal(job(`${base}a1.jobs.j1.retention = 0\n`).retentionMs, 0);
    assert.equal(job(`${base}a1.jobs.j1.retention = 60\n`).retentionMs, 60_000);
    for (const bad of ['30', '-1', 'forever']) {
      const err = configErrorOf(parse, `${base}a1.jobs.j1.retention = ${bad}\n`);
      assert.equal(err.key, 'a1.jobs.j1.retention', bad);
    }
  });

  test('retention counts from when lines were counted: a 2015 log replayed before one of 2017 stays queryable (event time, 7-day retention)', { timeout: 60_000 }, async (t) => {
    const daemon = await withDaemon(t, { extra: 'a1.jobs.j1.time = event\na1.jobs.j1.flushAfterIdle = 1\n' });
    const { dir } = daemon;
    const { logs } = sixLogs(0.1);
    // (Without the lines older than their first line, which item 4 is about.)
    const inOrder = (log: ShapedLog) => ({ ...log, lines: log.lines.filter((l, i, all) => !(ownTime(l) < Math.max(...all.slice(0, i).map(ownTime).filter((t) => !Number.isNaN(t))))) });
    const [newer, older] = [inOrder(logs[0]!), inOrder(logs[1]!)];
    // In order this time: 2015 first, then 2017, two years later by their own time.
    dropShaped(dir, older);
    await completed(daemon, [older.name]);
    await assertOwnRanges(daemon, [older], older.lines);
    dropShaped(dir, newer);
    await completed(daemon, [older.name, newer.name]);
    await assertOwnRanges(daemon, [newer], newer.lines);
    // A minute of rollups and retention later the 2015 log is still all there.
    await waitFor('the rollups', async () => ((await daemon.get<Top>(`/api/top?n=1&from=${iso(newer.from)}&to=${iso(newer.to)}`)).body.total > 0 ? true : undefined));
    await assertOwnRanges(daemon, [older], older.lines);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });
});
