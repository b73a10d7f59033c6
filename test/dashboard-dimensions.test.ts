import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { SKIP_WITHOUT_CHROMIUM, withBrowser } from './helpers/chromium.js';
import { waitFor, withDaemon } from './helpers/daemon.js';
import { countBy, parseLine, type ParsedLine } from './helpers/dimension-counts.js';
import { generateLines } from '../scripts/access-log-generator.js';

const UAParser = createRequire(import.meta.url)('ua-parser-js') as new (ua: string) => { getBrowser(): { name?: string } };

/** A table's rows as [key, hits, visitors, bytes] text. */
const rows = (page: Page, selector: string) =>
  page.$$eval(`${selector} tbody tr`, (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));

describe('the dashboard by dimension', () => {
  test('a dimension picker and a status filter over the live window and over a range of the history, and GoAccess\'s panels, equal to an independent count; no error, no request leaving the daemon; a screenshot', { skip: SKIP_WITHOUT_CHROMIUM }, async (t) => {
    const daemon = await withDaemon(t, { extra: 'a1.jobs.j1.dimensions = url status client referrer agent\n' });
    const { dir } = daemon;
    const raw = [...generateLines({ lines: 6000, urls: 80, clients: 120, seed: 77 })];
    writeFileSync(path.join(dir, 'access.log.staged'), raw.join('\n') + '\n');
    renameSync(path.join(dir, 'access.log.staged'), path.join(dir, 'spool', 'access.log'));
    const lines = raw.map(parseLine).filter((l): l is ParsedLine => l !== undefined);
    await waitFor('the log counted', async () => {
      const { body } = await daemon.get<{ eventsCounted: number }>('/api/stats');
      return body.eventsCounted === lines.length ? true : undefined;
    }, 60_000);
    const fmt = new Intl.NumberFormat('en-US');
    const text = (items: { key: string; count: number; visitors: number }[], n: number) => items.slice(0, n).map((i) => [i.key, fmt.format(i.count), fmt.format(i.visitors)]);
    const browser = await withBrowser(t);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, locale: 'en-US' });
    const errors: string[] = [];
    const offsite: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => {
      if (!r.url().startsWith(daemon.url)) offsite.push(r.url());
    });
    await page.goto(daemon.url + '/');
    // By URL (the default), then by client of 5xx lines.
    await page.waitForFunction(() => document.querySelectorAll('#by-table tbody tr').length > 0);
    const firstThree = (r: (string | null)[][]) => r.map((x) => x.slice(0, 3));
    assert.deepEqual(firstThree(await rows(page, '#by-table')), text(countBy(lines, 'url'), 20));
    await page.selectOption('#by-pick', 'client');
    await page.selectOption('#status-pick', '5xx');
    const want = text(countBy(lines, 'client', 500, 599).map((k) => ({ ...k, visitors: 1 })), 20);
    await page.waitForFunction((first) => document.querySelector('#by-table tbody tr')?.getAttribute('data-key') === first, want[0]![0]);
    assert.deepEqual(firstThree(await rows(page, '#by-table')), want);
    // The panels.
    await page.waitForFunction(() => document.querySelectorAll('#panel-systems tbody tr').length > 0);
    assert.deepEqual(firstThree(await rows(page, '#panel-status')), text(countBy(lines, 'status'), 10));
    assert.deepEqual(firstThree(await rows(page, '#panel-notfound')), text(countBy(lines, 'url', 404, 404), 10));
    assert.deepEqual(firstThree(await rows(page, '#panel-clients')), text(countBy(lines, 'client').map((k) => ({ ...k, visitors: 1 })), 10));
    assert.deepEqual(firstThree(await rows(page, '#panel-referrers')), text(countBy(lines, 'referrer'), 10));
    const byBrowser = countBy(lines.map((l) => ({ ...l, agent: new UAParser(l.agent === '-' ? '' : l.agent).getBrowser().name ?? 'Unknown' })), 'agent');
    assert.deepEqual((await rows(page, '#panel-browsers')).map((r) => r.slice(0, 2)), byBrowser.slice(0, 10).map((k) => [k.key, fmt.format(k.count)]));
    // The same of a range of the history (the range card's "All": the log's own days): hits
    // and visitors exact (120 clients), as live. Each table says what it shows (data-scope).
    await page.click('button[data-range="all"]');
    await page.selectOption('#scope-pick', 'range');
    const wantRange = text(countBy(lines, 'client', 500, 599).map((k) => ({ ...k, visitors: 1 })), 20);
    await page.waitForFunction(() => document.querySelector('#by-table')?.getAttribute('data-scope') === 'range');
    assert.deepEqual(firstThree(await rows(page, '#by-table')), wantRange);
    assert.match((await page.textContent('#by-scope')) ?? '', /range/);
    // Each panel is fetched on its own: wait until every one shows the range.
    for (const panel of ['#panel-status', '#panel-notfound']) {
      await page.waitForFunction((sel) => document.querySelector(sel)?.getAttribute('data-scope') === 'range', panel);
    }
    assert.deepEqual(firstThree(await rows(page, '#panel-status')), text(countBy(lines, 'status'), 10));
    assert.deepEqual(firstThree(await rows(page, '#panel-notfound')), text(countBy(lines, 'url', 404, 404), 10));
    assert.deepEqual(errors, []);
    assert.deepEqual(offsite, []);
    const shot = path.join(dir, 'dashboard-dimensions.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
  });
});
