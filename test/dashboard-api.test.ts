import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Stats, StreamStats, Top } from './helpers/api-types.js';
import { waitFor, withDaemon } from './helpers/daemon.js';
import { EventStreamReader } from './helpers/event-stream.js';
import { dropLog } from './helpers/expected-counts.js';

describe('the dashboard\'s API: /api/stream, /api/series, the static files', () => {
  test('/api/stream pushes top, stats and files as they change; SIGTERM with a stream open still exits 0 at once', async (t) => {
    const daemon = await withDaemon(t);
    const { dir } = daemon;

    const stream = await EventStreamReader.open(daemon.url + '/api/stream');
    assert.equal(stream.response.status, 200);
    assert.match(stream.response.headers.get('content-type') ?? '', /^text\/event-stream/);
    // The first messages are the state before any file: nothing counted, no file.
    const first = await waitFor('the first messages', () => {
      const [top, stats, files] = [stream.last<Top>('top'), stream.last<StreamStats>('stats'), stream.last<{ files: unknown[] }>('files')];
      return top && stats && files ? { top, stats, files } : undefined;
    });
    assert.equal(first.top.total, 0);
    assert.deepEqual(first.top.urls, []);
    assert.equal(first.stats.eventsIn, 0);
    assert.deepEqual(first.files.files, []);
    // A second client gets the current state at once, from the same timer.
    const second = await EventStreamReader.open(daemon.url + '/api/stream');
    await waitFor('the second client\'s first messages', () => (second.last('top') && second.last('stats') ? true : undefined), 2000);

    const expected = await dropLog(dir, 'a.log', { lines: 30_000, urls: 80, seed: 7, malformed: 0.01 });
    const top = await waitFor('a top message with the whole file', () => {
      const t = stream.last<Top>('top');
      return t && t.total === expected.total ? t : undefined;
    });
    const { body: api } = await daemon.get<Top>('/api/top?n=20');
    assert.deepEqual(top.urls, api.urls, 'the stream shows what /api/top shows');
    assert.equal(top.urls.length, 20);
    const files = await waitFor('the file completed in a files message', () => {
      const f = stream.last<{ files: { name: string; state: string; lines: number }[] }>('files');
      return f?.files.find((x) => x.name === 'a.log' && x.state === 'completed');
    });
    assert.equal(files.lines, 30_000);
    const stats = stream.last<StreamStats>('stats')!;
    assert.equal(stats.eventsIn, 30_000);
    // The rate was seen while the file was read (the stream averages over a few seconds).
    const rates = stream.events.filter((e) => e.event === 'stats').map((e) => (e.data as StreamStats).eventsPerSecond);
    assert.ok(rates.some((r) => r !== null && r > 0), `some events/s figure above 0 was sent: ${rates.join(',')}`);
    // Unchanged parts are not sent again: far fewer top messages than polls.
    const tops = stream.events.filter((e) => e.event === 'top').length;
    assert.ok(tops < stream.events.length, `${tops} top messages of ${stream.events.length}`);
    await second.close();

    // An open stream does not hold up the shutdown: the HTTP thread's close has no deadline,
    // so a stream that kept it waiting would keep this await (the test's timeout fails it).
    assert.equal(await daemon.stop('SIGTERM'), 0);
    await stream.done;
  });

  test('/api/series sums to /api/top\'s total over the same range; a bad step names the parameter', async (t) => {
    const daemon = await withDaemon(t);
    const { dir } = daemon;
    // The history is by the lines' own time: 4 minutes from 2026-01-01T00:00Z.
    const start = Date.UTC(2026, 0, 1) / 1000;
    const from = start - 5;
    const expected = await dropLog(dir, 'b.log', { lines: 20_000, urls: 50, seed: 3, malformed: 0.02, startMs: start * 1000, spanSeconds: 240 });
    await waitFor('the file to be counted', async () => {
      const { body } = await daemon.get<Stats>('/api/stats');
      return body.files.completed === 1 && body.eventsCounted + body.parseErrors === expected.lines ? true : undefined;
    });
    const to = start + 242;
    // Counted is not yet written: the history has the whole file once the range's top does.
    await waitFor('the range to hold the whole file', async () => ((await daemon.get<Top>(`/api/top?from=${from}&to=${to}`)).body.total === expected.total ? true : undefined));
    const { status, body: series } = await daemon.get<{ step: number; batchInterval: number; points: { start: string; count: number }[] }>(`/api/series?from=${from}&to=${to}`);
    assert.equal(status, 200);
    assert.equal(series.step, 1, 'a short range gets the batch interval as its step');
    assert.equal(series.batchInterval, 1);
    assert.equal(series.points.length, to - from);
    assert.equal(series.points.reduce((n, p) => n + p.count, 0), expected.total);
    const { body: top } = await daemon.get<Top>(`/api/top?from=${from}&to=${to}`);
    assert.equal(top.total, expected.total);
    // Default steps aim at about 300 points: 12 s for an hour, 5 min (from minute rollups) for a day.
    const { body: hour } = await daemon.get<{ step: number; points: { count: number }[] }>(`/api/series?to=${start + 3600}`);
    assert.equal(hour.step, 12);
    assert.equal(hour.points.reduce((n, p) => n + p.count, 0), expected.total);
    const { body: day } = await daemon.get<{ step: number; points: { count: number }[] }>(`/api/series?from=${start + 3600 - 86_400}&to=${start + 3600}`);
    assert.equal(day.step, 300);
    assert.equal(day.points.reduce((n, p) => n + p.count, 0), expected.total);

    const { status: s400, body: bad } = await daemon.get<{ parameter: string }>(`/api/series?from=${from}&to=${to}&step=1.5`);
    assert.equal(s400, 400);
    assert.equal(bad.parameter, 'step');
  });

  test('/ and /dashboard/* serve the page and uPlot from the daemon, with ETags; nothing else of the disk', async (t) => {
    const daemon = await withDaemon(t, { extra: 'a1.http.authToken = s3cret-token-of-length\n' });
    const page = await fetch(daemon.url + '/');
    assert.equal(page.status, 200, 'the page is open; the API behind it wants the token');
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/dashboard\/[^"]+)"/g)].map((m) => m[1]!);
    assert.deepEqual(assets.sort(), ['/dashboard/app.js', '/dashboard/icon.svg', '/dashboard/icon.svg', '/dashboard/style.css', '/dashboard/uPlot.iife.min.js', '/dashboard/uPlot.min.css'].sort());
    assert.doesNotMatch(html, /https?:\/\//, 'no asset from elsewhere');
    for (const asset of new Set(assets)) {
      const res = await fetch(daemon.url + asset);
      assert.equal(res.status, 200, asset);
      assert.ok((await res.arrayBuffer()).byteLength > 100, asset);
      const again = await fetch(daemon.url + asset, { headers: { 'if-none-match': res.headers.get('etag')! } });
      assert.equal(again.status, 304, asset);
    }
    for (const probe of ['/dashboard/..%2Fpackage.json', '/dashboard/nope.js', '/dashboard/%2E%2E%2F%2E%2E%2Fpackage.json']) {
      assert.equal((await fetch(daemon.url + probe)).status, 404, probe);
    }
    assert.equal((await fetch(daemon.url + '/api/stream')).status, 401);
    assert.equal((await fetch(daemon.url + '/api/series')).status, 401);
    const stream = await EventStreamReader.open(daemon.url + '/api/stream', { authorization: 'Bearer s3cret-token-of-length' });
    assert.equal(stream.response.status, 200);
    await waitFor('a stats message with the token', () => stream.last('stats'));
    await stream.close();
  });
});
