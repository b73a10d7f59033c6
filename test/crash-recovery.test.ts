import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { generateLines, prng } from '../scripts/access-log-generator.js';
import type { Stats, Top } from './helpers/api-types.js';
import { tempDir, waitFor, withDaemon, writeConfig, visible, type TestDaemon } from './helpers/daemon.js';
import { dropGeneratedLogs } from './helpers/expected-counts.js';
import { parseLine } from './helpers/dimension-counts.js';

const FILES = 5;
const LINES_PER_FILE = 60_000;
const KILLS = 12;

describe('kill -9 at random points, restart: the counts equal a clean run', () => {
  test(`${KILLS} SIGKILLs across a ${FILES}-file ingest`, { timeout: 170_000 }, async (t) => {
    const dir = tempDir();
    // A short batch interval: more checkpoints, so more kills land in the middle of one.
    await writeConfig(dir, '', { 'a1.jobs.j1.batchInterval': '0.25' });
    const spool = path.join(dir, 'spool');
    const expected = await dropGeneratedLogs(dir, { files: FILES, lines: LINES_PER_FILE, urls: 2000, seed: 100 });

    const rand = prng(2026);
    let daemon: TestDaemon;
    const killedAt: string[] = [];
    const allLogs: string[] = [];
    for (let k = 0; k < KILLS; k++) {
      daemon = await withDaemon(t, { dir });
      // Spread the kills over the ingest whatever its speed: wait until a growing share of
      // the lines has arrived (eventsIn resumes from the checkpoint), plus a random share of
      // one step, so the kills land at other points than the steps' edges. By state, not by
      // the clock: a loaded box only delays the kill, it does not move it.
      const target = (expected.lines * (k + 1 + rand())) / (KILLS + 2);
      const d = daemon;
      await waitFor(`kill ${k}: ${Math.round(target)} lines in`, async () => ((await d.get<Stats>('/api/stats')).body.eventsIn >= target ? true : undefined), 60_000);
      const { body } = await daemon.get<Stats>('/api/stats');
      killedAt.push(`${body.eventsIn}`);
      daemon.proc.kill('SIGKILL');
      await daemon.exited;
      allLogs.push(...daemon.logs);
    }
    daemon = await withDaemon(t, { dir });
    try {
      await waitFor('every file counted and completed', async () => {
        const { body } = await daemon.get<Stats>('/api/stats');
        const done = readdirSync(spool).filter(visible).every((n) => n.endsWith('.COMPLETED'));
        return done && body.eventsCounted + body.parseErrors === expected.lines ? body : undefined;
      }, 60_000);
      console.log(`# lines received when each kill came: ${killedAt.join(', ')} of ${expected.lines}`);
      const { body: stats } = await daemon.get<Stats>('/api/stats');
      assert.equal(stats.eventsCounted, expected.total);
      assert.equal(stats.parseErrors, expected.parseErrors);
      const { body: top } = await daemon.get<Top>('/api/top?n=1000');
      assert.equal(top.total, expected.total);
      const want = [...expected.counts].map(([url, count]) => ({ url, count }))
        .sort((a, b) => b.count - a.count || (a.url < b.url ? -1 : 1)).slice(0, 1000);
      assert.deepEqual(top.urls, want);
      // The history (by the lines' own time: the generated logs' hour) is exact too: rows
      // written after a checkpoint that did not come were undone, their lines counted again.
      const { body: range } = await daemon.get<Top>('/api/top?n=1000&from=2025-12-31T23:00:00Z&to=2026-01-01T02:00:00Z');
      assert.equal(range.total, expected.total, 'the history total');
      assert.deepEqual(range.urls, want, 'the history, URL by URL');
      // Visitors over the range survive the kills too (each URL's distinct clients by a regex
      // and a dict over the same generated files): exact up to 512, an estimate within 3
      // standard errors past it. A visit lost with an undone epoch would show here.
      const clients = new Map<string, Set<string>>();
      for (let f = 0; f < FILES; f++) {
        for (const line of generateLines({ lines: LINES_PER_FILE, urls: 2000, seed: 100 + f, malformed: 0.01 })) {
          const p = parseLine(line);
          if (!p) continue;
          let set = clients.get(p.url);
          if (!set) clients.set(p.url, (set = new Set()));
          set.add(p.client);
        }
      }
      const { items, visitorsError } = range as unknown as { items: { key: string; visitors: number; visitorsExact: boolean }[]; visitorsError: number };
      for (const item of items) {
        const exact = clients.get(item.key)!.size;
        const label = `${item.key}: ${item.visitors} visitors over the range, ${exact} distinct clients`;
        assert.equal(item.visitorsExact, exact <= 512, label);
        assert.ok(exact <= 512 ? item.visitors === exact : Math.abs(item.visitors - exact) <= 3 * visitorsError * exact, label);
      }
      const midIngest = new Set(killedAt.filter((n) => Number(n) > 0 && Number(n) < expected.lines));
      assert.ok(midIngest.size >= KILLS / 2, `kills landed at different points in the middle of the ingest: ${killedAt}`);
      assert.equal(await daemon.stop('SIGTERM'), 0);
    } catch (err) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(path.join(dir, 'daemon-logs.txt'), [...allLogs, ...daemon.logs].join('\n'));
      console.log(`# daemon logs: ${path.join(dir, 'daemon-logs.txt')}`);
      throw err;
    }
  });
});
