import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from './helpers/chromium.js';
import { startDaemon, tempDir, waitFor, writeConfig } from './helpers/daemon.js';

interface CheckBody {
  file: string;
  lines: number;
  best: string;
  formats: { format: string; parsed: number }[];
  failures: { line: number; byte: number; column: number; text: string; field: string; expected: string }[];
}

const good = (i: number) => `10.0.0.1 - - [01/Jan/2026:00:00:${String(i % 60).padStart(2, '0')} +0000] "GET /p/${i % 5} HTTP/1.1" 200 ${i}`;

describe('GET /api/files/:name/check and the dashboard\'s link', () => {
  test('explains a mostly-unparsed spool file after it completed; 404s name the problem; the spool table links it', async () => {
    const dir = tempDir();
    await writeConfig(dir);
    const daemon = await startDaemon(dir);
    try {
      // Three lines in four have a two-digit status: the file completes, mostly unparsed.
      const lines = Array.from({ length: 400 }, (_, i) => (i % 4 === 0 ? good(i) : good(i).replace('" 200 ', '" 20 ')));
      writeFileSync(path.join(dir, 'bad.log.staged'), lines.join('\n') + '\n');
      writeFileSync(path.join(dir, 'good.log.staged'), Array.from({ length: 100 }, (_, i) => good(i)).join('\n') + '\n');
      renameSync(path.join(dir, 'bad.log.staged'), path.join(dir, 'spool', 'bad.log'));
      renameSync(path.join(dir, 'good.log.staged'), path.join(dir, 'spool', 'good.log'));
      await waitFor('both files completed', async () => {
        const files = (await daemon.get<{ files: { state: string }[] }>('/api/files?state=completed')).body.files;
        return files.length === 2 ? true : undefined;
      });

      const res = await daemon.get<CheckBody>('/api/files/bad.log/check');
      assert.equal(res.status, 200);
      const body = res.body;
      assert.equal(body.file, 'bad.log.COMPLETED', 'found under its finished name');
      assert.equal(body.lines, 400);
      assert.deepEqual(body.formats.map((f) => [f.format, f.parsed]), [['combined', 100], ['common', 100], ['vhost_combined', 0], ['caddy', 0], ['traefik', 0]]);
      assert.equal(body.failures.length, 5);
      assert.deepEqual(body.failures[0], { line: 2, byte: lines[1]!.indexOf(' 20 ') + 1, column: lines[1]!.indexOf(' 20 ') + 1, text: lines[1], field: 'status', expected: 'expected 3 digits' });

      const unknown = await daemon.get<{ code: string; message: string }>('/api/files/nope.log/check');
      assert.equal(unknown.status, 404);
      assert.match(unknown.body.message, /has not seen a file "nope\.log"/);

      if (!CHROMIUM) return;
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      try {
        const page = await browser.newPage();
        await page.goto(daemon.url + '/');
        await page.waitForSelector('#files tr[data-name="good.log"]');
        assert.equal(await page.locator('#files tr[data-name="good.log"] button.why').count(), 0, 'a parsed file has no link');
        await page.click('#files tr[data-name="bad.log"] button.why');
        await page.waitForSelector('#check[open] pre');
        const text = await page.textContent('#check pre');
        assert.ok(text!.includes(`  ${lines[1]}\n  ${' '.repeat(lines[1]!.indexOf(' 20 ') + 1)}^ status: expected 3 digits`), text!);
      } finally {
        await browser.close();
      }
    } finally {
      await daemon.stop();
    }
  });
});
