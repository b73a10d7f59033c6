import assert from 'node:assert/strict';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { clfTime, generateLines } from '../scripts/access-log-generator.js';
import { parseAgentConfig } from '../daemon/agent-config.js';
import { configErrorOf } from './helpers/config-error.js';
import { tempDir, waitFor, withDaemon, writeConfig } from './helpers/daemon.js';
import type { Stats, Top } from './helpers/api-types.js';
import { ofType } from '../daemon/components.js';


const START = Date.UTC(2025, 5, 1, 8, 0, 0);

/** Expected counts of a range, from the lines' own times, the simple way. */
function expectedIn(lines: string[], from: number, to: number): Map<string, number> {
  const counts = new Map<string, number>();
  const re = /^\S+ \S+ \S+ \[([^\]]+)\] "\S+ (\S+) [^"]*" \d{3} /;
  for (const line of lines) {
    const m = re.exec(line);
    if (!m) continue;
    const [d, mon, rest] = m[1]!.split('/');
    const t = Date.parse(`${mon} ${d} ${rest!.replace(':', ' ')}`.replace(' +0000', ' GMT'));
    if (t >= from && t < to) counts.set(m[2]!, (counts.get(m[2]!) ?? 0) + 1);
  }
  return counts;
}

describe('event time', () => {
  test('a historical multi-hour log is placed by its own times: range queries match; late lines are kept out of the window, counted in the history at their own time', async (t) => {
    // No idle flush (its default is 10 s): the checks below take longer than that on a busy
    // box, and the flush would close the last minute, which the newest window's check expects open.
    const daemon = await withDaemon(t, { extra: 'a1.jobs.j1.time = event\na1.jobs.j1.watermark = 60\na1.jobs.j1.flushAfterIdle = 0\n' });
    const { dir } = daemon;
    const lines = [...generateLines({ lines: 30_000, urls: 200, seed: 21, startMs: START, spanSeconds: 3 * 3600, malformed: 0.01 })];
    // Two late lines: ten minutes before the newest time seen, far past the 60 s watermark.
    const late = `9.9.9.9 - - [${clfTime(START + 3 * 3600_000 - 600_000)}] "GET /late HTTP/1.1" 200 1`;
    const all = [...lines, late, late];
    writeFileSync(path.join(dir, 'hist.tmp'), all.join('\n') + '\n');
    renameSync(path.join(dir, 'hist.tmp'), path.join(dir, 'spool', 'history.log'));

    await waitFor('the log to be read', async () => {
      const { body } = await daemon.get<Stats>('/api/stats');
      return body.eventsIn === all.length && body.historyOnlyEvents === 2 ? body : undefined;
    }, 30_000);
    const { body: stats } = await daemon.get<Stats>('/api/stats');
    assert.equal(stats.historyOnlyEvents, 2);
    // The batches close at the next tick (the watermark has passed all but the last minute).
    await waitFor('the timeline to be closed', async () => {
      const { body } = await daemon.get<Stats>('/api/stats');
      return body.eventsCounted + body.parseErrors > lines.length * 0.98 ? body : undefined;
    });

    // Ranges of the timeline, from hours and minutes and batches, against the file itself.
    const iso = (ms: number) => new Date(ms).toISOString();
    for (const [from, to] of [[START, START + 3600_000], [START + 90_000, START + 2 * 3600_000 + 17_000], [START + 5000, START + 65_000]]) {
      const want = expectedIn(lines, from!, to!);
      const { body } = await daemon.get<Top>(`/api/top?n=1000&from=${iso(from!)}&to=${iso(to!)}`);
      assert.equal(body.total, [...want.values()].reduce((a, b) => a + b, 0), `total of ${iso(from!)}..${iso(to!)}`);
      for (const { url, count } of body.urls) assert.equal(count, want.get(url), url);
      assert.equal(body.urls.length, want.size);
    }
    // Windows along the timeline, oldest first, paginated, each rebuilt from the history.
    const page1 = await daemon.get<{ windows: { start: string; end: string; total: number; urls: { url: string; count: number }[] }[]; next: string | null }>(
      `/api/windows?from=${iso(START + 3600_000)}&to=${iso(START + 2 * 3600_000)}&n=5&limit=3`,
    );
    assert.equal(page1.status, 200);
    assert.equal(page1.body.windows.length, 3);
    assert.equal(page1.body.windows[0]!.end, iso(START + 3600_000 + 1000));
    for (const w of page1.body.windows) {
      const want = expectedIn(lines, Date.parse(w.start), Date.parse(w.end));
      assert.equal(w.total, [...want.values()].reduce((a, b) => a + b, 0), w.end);
      const top5 = [...want].map(([url, count]) => ({ url, count })).sort((a, b) => b.count - a.count || (a.url < b.url ? -1 : 1)).slice(0, 5);
      assert.deepEqual(w.urls, top5, w.end);
    }
    const page2 = await daemon.get<{ windows: { end: string }[] }>(`/api/windows?from=${page1.body.next}&to=${iso(START + 2 * 3600_000)}&n=0&limit=2`);
    assert.equal(page2.body.windows[0]!.end, iso(START + 3600_000 + 4000));

    // One URL's series, per minute, against the file.
    const top = [...expectedIn(lines, START, START + 3600_000)].sort((a, b) => b[1] - a[1])[0]![0];
    const series = await daemon.get<{ points: { start: string; count: number }[] }>(
      `/api/urls/${encodeURIComponent(top)}/series?from=${iso(START)}&to=${iso(START + 3600_000)}&step=60`,
    );
    assert.equal(series.status, 200);
    assert.equal(series.body.points.length, 60);
    for (const p of series.body.points.slice(0, 10)) {
      assert.equal(p.count, expectedIn(lines, Date.parse(p.start), Date.parse(p.start) + 60_000).get(top) ?? 0, p.start);
    }
    // Every route's parameters are checked.
    for (const [route, parameter] of [
      ['/api/windows?from=soon', 'from'],
      ['/api/windows?limit=0', 'limit'],
      ['/api/windows?n=1001', 'n'],
      ['/api/windows?page=2', 'page'],
      ['/api/urls/%2Fx/series?step=0.3', 'step'],
      ['/api/urls/%2Fx/series?step=1&from=0&to=86400', 'step'],
      ['/api/urls/%2Fx/series?to=never', 'to'],
      ['/api/urls/%2Fx/series?step=abc', 'step'],
    ] as const) {
      const { status, body } = await daemon.get<{ parameter: string }>(route);
      assert.equal(status, 400, route);
      assert.equal(body.parameter, parameter, route);
    }

    // The two late lines are in the history, at their own minute, and in no window.
    const lateMinute = START + 3 * 3600_000 - 600_000;
    const { body: lateRange } = await daemon.get<Top>(`/api/top?n=1000&from=${iso(lateMinute)}&to=${iso(lateMinute + 60_000)}`);
    assert.equal(lateRange.urls.find((u) => u.url === '/late')?.count, 2);
    assert.equal(lateRange.total, [...expectedIn(lines, lateMinute, lateMinute + 60_000).values()].reduce((a, b) => a + b, 0) + 2);

    // The newest window is where the log ends (the last minute is still open: the watermark).
    const { body: newest } = await daemon.get<Top>('/api/top?n=1000');
    assert.ok(Date.parse(newest.window.end) <= START + 3 * 3600_000 && Date.parse(newest.window.end) >= START + 3 * 3600_000 - 120_000, newest.window.end);
    // Its counts are the file's: the batches before it passed by the window while the log
    // was read (only their history rows were written), the window's own ones entered it.
    const inNewest = expectedIn(lines, Date.parse(newest.window.start), Date.parse(newest.window.end));
    assert.equal(newest.total, [...inNewest.values()].reduce((a, b) => a + b, 0), 'the newest window total');
    assert.deepEqual(new Map(newest.urls.map((u) => [u.url, u.count])), inNewest, 'the newest window, URL by URL');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  test('killed with SIGKILL five times mid-ingest, the timeline comes out the same', { timeout: 120_000 }, async (t) => {
    const dir = tempDir();
    await writeConfig(dir, 'a1.jobs.j1.time = event\na1.jobs.j1.watermark = 60\na1.jobs.j1.batchInterval = 0.25\na1.jobs.j1.windowDuration = 300\n');
    mkdirSync(path.join(dir, 'spool'));
    const lines: string[] = [];
    for (let f = 0; f < 3; f++) {
      // Consecutive hours, one file each, older files older on disk (consumeOrder = oldest).
      const part = [...generateLines({ lines: 40_000, urls: 300, seed: 40 + f, startMs: START + f * 3600_000, spanSeconds: 3600 })];
      lines.push(...part);
      const file = path.join(dir, 'spool', `h${f}.log`);
      writeFileSync(file, part.join('\n') + '\n');
      const { utimesSync } = await import('node:fs');
      utimesSync(file, new Date(Date.now() - 600_000 + f * 1000), new Date(Date.now() - 600_000 + f * 1000));
    }
    // Each kill comes once this run has taken in more lines (by state, not after a time),
    // and is checked to have landed before the last file ended: a kill after it would test
    // nothing of the resume.
    for (let k = 0; k < 5; k++) {
      const d = await withDaemon(t, { dir });
      let from: number | undefined;
      await waitFor(`run ${k} to take in lines`, async () => {
        const { eventsIn } = (await d.get<Stats>('/api/stats')).body;
        from ??= eventsIn;
        return eventsIn >= from + 2000 || existsSync(path.join(dir, 'spool', 'h2.log.COMPLETED')) ? true : undefined;
      }, 30_000);
      d.proc.kill('SIGKILL');
      await d.exited;
      assert.ok(!existsSync(path.join(dir, 'spool', 'h2.log.COMPLETED')), `kill ${k} landed mid-ingest (the last file was not finished)`);
    }
    const daemon = await withDaemon(t, { dir });
    const iso = (ms: number) => new Date(ms).toISOString();
    const ranges: [number, number][] = [[START, START + 3600_000], [START + 3600_000, START + 2 * 3600_000], [START + 1800_000, START + 2 * 3600_000 + 1800_000]];
    for (const [from, to] of ranges) {
      const want = expectedIn(lines, from, to);
      const total = [...want.values()].reduce((a, b) => a + b, 0);
      const body = await waitFor(`the range ${iso(from)}..${iso(to)}`, async () => {
        const { body: b } = await daemon.get<Top>(`/api/top?n=1000&from=${iso(from)}&to=${iso(to)}`);
        return b.total === total ? b : undefined;
      }, 30_000);
      for (const { url, count } of body.urls) assert.equal(count, want.get(url), url);
      assert.equal(body.urls.length, want.size);
    }
    assert.equal((await daemon.get<Stats>('/api/stats')).body.historyOnlyEvents, 0);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });
  test('flushAfterIdle: the tail of a dropped historical log is counted once the file completes and the job is idle; an older line after that goes to the history', async (t) => {
    // Every line of the log is within the watermark of the newest: without the idle flush none closes.
    const daemon = await withDaemon(t, { extra: 'a1.jobs.j1.time = event\na1.jobs.j1.watermark = 7200\na1.jobs.j1.flushAfterIdle = 2\n' });
    const { dir } = daemon;
    const lines = [...generateLines({ lines: 5000, urls: 50, seed: 77, startMs: START, spanSeconds: 3600 })];
    writeFileSync(path.join(dir, 'tail.tmp'), lines.join('\n') + '\n');
    renameSync(path.join(dir, 'tail.tmp'), path.join(dir, 'spool', 'tail.log'));
    await waitFor('the file to complete', () => existsSync(path.join(dir, 'spool', 'tail.log.COMPLETED')), 30_000);
    const iso = (ms: number) => new Date(ms).toISOString();
    const want = expectedIn(lines, START, START + 2 * 3600_000);
    const total = [...want.values()].reduce((a, b) => a + b, 0);
    const range = `/api/top?n=100&from=${iso(START)}&to=${iso(START + 2 * 3600_000)}`;
    // No line is past the watermark: only the idle flush closes them (a wait on the counts,
    // not on the clock; without the flush it times out).
    const body = await waitFor('the tail in the history', async () => {
      const { body: b } = await daemon.get<Top>(range);
      return b.total === total ? b : undefined;
    });
    for (const { url, count } of body.urls) assert.equal(count, want.get(url), url);
    const { body: stats } = await daemon.get<Stats>('/api/stats');
    assert.equal(stats.eventsCounted, total);
    // A line older than the window (half an hour before the newest) that comes later is kept
    // out of the live window, and added to the history at its own time.
    const old = `9.9.9.9 - - [${clfTime(START + 1800_000)}] "GET /after-flush HTTP/1.1" 200 1`;
    writeFileSync(path.join(dir, 'late.tmp'), old + '\n');
    renameSync(path.join(dir, 'late.tmp'), path.join(dir, 'spool', 'late.log'));
    await waitFor('the late line', async () => ((await daemon.get<Stats>('/api/stats')).body.historyOnlyEvents === 1 ? true : undefined));
    await waitFor('the late line in the history', async () => ((await daemon.get<Top>(range)).body.total === total + 1 ? true : undefined));
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  test('a replayed file is visible as soon as it is read, not at the next batch interval\'s tick', { timeout: 120_000 }, async (t) => {
    // One-hour batches: the clock's ticks come at the top of each hour, so what the replay
    // closes is visible within the wait below only if a tick runs once the file is read.
    // (Nothing here races the clock: a run across the top of an hour can only pass.)
    const daemon = await withDaemon(t, { extra: 'a1.jobs.j1.time = event\na1.jobs.j1.watermark = 60\na1.jobs.j1.flushAfterIdle = 0\n' +
      'a1.jobs.j1.batchInterval = 3600\na1.jobs.j1.slideDuration = 3600\na1.jobs.j1.windowDuration = 3600\n' });
    const { dir } = daemon;
    const lines = [...generateLines({ lines: 20_000, urls: 100, seed: 78, startMs: START, spanSeconds: 3 * 3600 })];
    writeFileSync(path.join(dir, 'replay.tmp'), lines.join('\n') + '\n');
    renameSync(path.join(dir, 'replay.tmp'), path.join(dir, 'spool', 'replay.log'));
    // The first two hours close (the watermark is 60 s behind the newest line, in the third).
    const want = [...expectedIn(lines, START, START + 2 * 3600_000).values()].reduce((a, b) => a + b, 0);
    const stats = await waitFor('the replay\'s closed hours to be visible', async () => {
      const { body } = await daemon.get<Stats>('/api/stats');
      return body.eventsCounted > 0 ? body : undefined;
    }, 30_000);
    assert.equal(stats.eventsCounted, want);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  test('flushAfterIdle must be a number of seconds; the error names the key', () => {
    const base = 'a1.sources = r1\na1.channels = c1\na1.sources.r1.type = spooldir\na1.sources.r1.spoolDir = spool\na1.sources.r1.channels = c1\na1.channels.c1.type = memory\n' +
      'a1.jobs = j1\na1.jobs.j1.type = url-window-count\na1.jobs.j1.port = 4141\n';
    const parse = (t: string) => parseAgentConfig(t, 'test.conf', 'a1', '/base');
    for (const bad of ['-1', 'soon', '']) {
      const err = configErrorOf(parse, `${base}a1.jobs.j1.flushAfterIdle = ${bad}\n`);
      assert.equal(err.key, 'a1.jobs.j1.flushAfterIdle', bad);
      assert.match(err.message, /flushAfterIdle/);
    }
    const job = (t: string) => ofType(parse(t).jobs, 'url-window-count')[0]!;
    assert.equal(job(base).flushAfterIdleMs, 10_000);
    assert.equal(job(`${base}a1.jobs.j1.flushAfterIdle = 0\n`).flushAfterIdleMs, 0);
  });
});
