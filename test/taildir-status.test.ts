import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CHROMIUM, withBrowser } from './helpers/chromium.js';
import { tempDir, waitFor, withDaemon, writeConfig } from './helpers/daemon.js';
import { logflow } from './helpers/run-cli.js';


interface Followed {
  files: { path: string; state: string; position: number; size: number; lagBytes: number; lines: number }[];
}

const line = (i: number) => `10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /s/${i} HTTP/1.1" 200 ${i}\n`;

/** Followed files where a user looks: /api/followed, `logflow status`, the dashboard. */
describe('followed files in /api/followed, logflow status and the dashboard', () => {
  test('position, size and lag in bytes, the same everywhere', { timeout: 60_000 }, async (t) => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'logs'));
    await writeConfig(dir, '', {
      'a1.sources.r1.type': 'TAILDIR', 'a1.sources.r1.spoolDir': '',
      'a1.sources.r1.filegroups': 'f1', 'a1.sources.r1.filegroups.f1': 'logs/.*\\\\.log',
      'a1.sources.r1.positionFile': 'data/taildir_position.json',
    });
    const a = path.join(dir, 'logs', 'a.log');
    const b = path.join(dir, 'logs', 'b.log');
    writeFileSync(a, line(1) + line(2));
    // b.log ends with half a line: 30 bytes written and not read (no line feed yet).
    writeFileSync(b, line(3) + line(4).slice(0, 30));
    const d = await withDaemon(t, { dir });
    const api = await waitFor('both files read', async () => {
      const { body } = await d.get<Followed>('/api/followed');
      const byName = new Map(body.files.map((f) => [path.basename(f.path), f]));
      return byName.get('a.log')?.lines === 2 && byName.get('b.log')?.lines === 1 ? byName : undefined;
    });
    assert.deepEqual([api.get('a.log')!.position, api.get('a.log')!.size, api.get('a.log')!.lagBytes], [statSync(a).size, statSync(a).size, 0]);
    assert.deepEqual([api.get('b.log')!.position, api.get('b.log')!.size, api.get('b.log')!.lagBytes], [line(3).length, statSync(b).size, 30]);

    const status = await logflow(['status', '--url', d.url], dir);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^followed\s+2 files, 30 B not read yet$/m);
    assert.match(status.stdout, new RegExp(`^${b.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s+following\\s+${line(3).length}\\s+${statSync(b).size}\\s+30 B$`, 'm'));
    const json = JSON.parse((await logflow(['status', '--json', '--url', d.url], dir)).stdout);
    assert.deepEqual(json.followed, { files: 2, lagBytes: 30 });
    assert.equal(json.followedFiles.find((f: { path: string }) => f.path === b).lagBytes, 30);

    if (!CHROMIUM) {
      t.diagnostic('Chromium is not installed: the dashboard part is skipped');
      return;
    }
    const browser = await withBrowser(t);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(d.url + '/');
    const rows = () => page.$$eval('#followed tbody tr', (trs) => trs.map((tr) => ({
      path: (tr as HTMLElement).dataset.path!, lag: Number((tr as HTMLElement).dataset.lag), cells: [...tr.children].map((c) => c.firstChild?.textContent ?? ''),
    })));
    await page.waitForSelector('#followed-card:not([hidden]) #followed tbody tr');
    // The rest of b.log's line: the page follows the lag down to 0.
    appendFileSync(b, line(4).slice(30));
    await waitFor('the page shows b.log read to its end', async () => ((await rows()).find((r) => r.path === b)?.lag === 0 ? true : undefined));
    const shown = (await rows()).find((r) => r.path === b)!;
    assert.deepEqual(shown.cells, [b, 'following', String(statSync(b).size), String(statSync(b).size), '0 B', '2']);
    assert.deepEqual(errors, []);
  });
});
