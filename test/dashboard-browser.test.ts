import assert from 'node:assert/strict';
import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startDaemon, tempDir, waitFor, writeConfig } from './helpers/daemon.js';
import { dropLog } from './helpers/expected-counts.js';

/** Debian's chromium (CI installs it in .ci/run), or CHROMIUM_PATH. */
function findChromium(): string | undefined {
  return [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
}
const CHROMIUM = findChromium();
const SKIP = CHROMIUM ? false : 'Chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH); .ci/run installs it';
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Top {
  total: number;
  urls: { url: string; count: number }[];
}

function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM!, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}


const bars = (page: Page) =>
  page.$$eval('#bars li', (lis) => lis.map((li) => ({ url: (li as HTMLElement).dataset.url!, count: Number((li as HTMLElement).dataset.count) })));

/** Errors in the page and requests that leave the daemon: both must stay empty. */
function watch(page: Page, origin: string): { errors: string[]; offsite: string[] } {
  const seen = { errors: [] as string[], offsite: [] as string[] };
  page.on('pageerror', (e) => seen.errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') seen.errors.push(m.text());
  });
  page.on('request', (r) => {
    if (!r.url().startsWith(origin)) seen.offsite.push(r.url());
  });
  return seen;
}

describe('the dashboard in headless Chromium', () => {
  test('drop a log: bars appear, then change with a second log; the range picker\'s numbers are the API\'s; screenshots', { skip: SKIP }, async (t) => {
    const dir = tempDir();
    await writeConfig(dir);
    const daemon = await startDaemon(dir);
    const browser = await launch();
    try {
      // en-US, whose default time format (12-hour, AM/PM) is not the page's one format.
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
      const seen = watch(page, daemon.url);
      // The stream held back: until its first message the page says it is loading, not that
      // the window is empty.
      let releaseStream!: () => void;
      const streamHeld = new Promise<void>((r) => (releaseStream = r));
      await page.route('**/api/stream', async (route) => {
        await streamHeld;
        await route.continue();
      });
      await page.goto(daemon.url + '/');
      // What the page costs to load, in what cannot move with the box's load: its requests and
      // bytes (a load-time bound here failed CI once, at 1,041 ms on a busy 2-core box).
      const load = await page.evaluate(() => {
        const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')] as PerformanceResourceTiming[];
        return { ms: (entries[0] as PerformanceNavigationTiming).loadEventEnd, requests: entries.length, bytes: entries.reduce((a, e) => a + e.decodedBodySize, 0) };
      });
      t.diagnostic(`page loaded in ${Math.round(load.ms)} ms: ${load.requests} requests, ${load.bytes} bytes`);
      assert.ok(load.requests <= 12, `the page and its assets are a few requests (${load.requests})`);
      assert.ok(load.bytes > 20_000 && load.bytes < 150_000, `the page and its assets are under 150 KB (${load.bytes} bytes)`);
      assert.match((await page.textContent('#bars-empty'))!, /^Loading/);
      assert.match((await page.textContent('#files-empty'))!, /^Loading/);
      releaseStream();
      await page.waitForSelector('#conn[data-state="live"]');
      await waitFor('the empty window, once known', async () => ((await page.textContent('#bars-empty'))!.startsWith('No events in the window yet') ? true : undefined));
      assert.equal(await page.locator('#bars li').count(), 0);
      assert.ok(await page.locator('#bars-empty').isVisible());
      assert.equal(await page.textContent('#files-empty'), 'No files yet.');

      const first = await dropLog(dir, 'first.log', { lines: 40_000, urls: 60, seed: 11, malformed: 0.01 });
      const api = async () => (await daemon.get<Top>('/api/top?n=20')).body;
      const firstBars = await waitFor('the bars of the first log', async () => {
        const [shown, top] = [await bars(page), await api()];
        return top.total === first.total && JSON.stringify(shown) === JSON.stringify(top.urls) ? shown : undefined;
      });
      assert.equal(firstBars.length, 20);
      assert.equal(await page.textContent('#win-total'), first.total.toLocaleString('en-US'));

      const second = await dropLog(dir, 'second.log', { lines: 40_000, urls: 60, seed: 12, malformed: 0.01 });
      const secondBars = await waitFor('the bars to change with the second log', async () => {
        const [shown, top] = [await bars(page), await api()];
        return top.total === first.total + second.total && JSON.stringify(shown) === JSON.stringify(top.urls) ? shown : undefined;
      });
      assert.notDeepEqual(secondBars, firstBars);
      assert.ok(secondBars[0]!.count > firstBars[0]!.count);

      // The spool: both files completed, full progress bars, the parse errors of the API.
      await waitFor('both files completed in the spool table', async () =>
        (await page.locator('#files tr[data-state="completed"]').count()) === 2 ? true : undefined);
      const progress = await page.$$eval('#files progress', (ps) => ps.map((p) => (p as HTMLProgressElement).value / (p as HTMLProgressElement).max));
      assert.deepEqual(progress, [1, 1]);
      const stats = (await daemon.get<{ parseErrors: number }>('/api/stats')).body;
      assert.equal(stats.parseErrors, first.parseErrors + second.parseErrors);
      await waitFor('the parse errors figure', async () => ((await page.textContent('#parse-errors')) === stats.parseErrors.toLocaleString('en-US') ? true : undefined));

      // The range picker, by keyboard: the 5 min range, then its numbers against the API's.
      await page.focus('[data-range="300"]');
      await page.keyboard.press('Enter');
      await page.waitForSelector('[data-range="300"][aria-pressed="true"]');
      const range = await waitFor('the 5 min range to load', async () => {
        const r = await page.$eval('#range-top', (el) => ({ ...(el as HTMLElement).dataset }));
        return r.from && Date.parse(r.to!) - Date.parse(r.from) === 300_000 ? r : undefined;
      });
      const ranged = (await daemon.get<Top>(`/api/top?n=20&from=${encodeURIComponent(range.from!)}&to=${encodeURIComponent(range.to!)}`)).body;
      assert.equal(Number(range.total), ranged.total);
      assert.equal(ranged.total, first.total + second.total);
      const rows = await page.$$eval('#range-top tbody tr', (trs) => trs.map((tr) => ({ url: (tr as HTMLElement).dataset.url!, count: Number((tr as HTMLElement).dataset.count) })));
      assert.deepEqual(rows, ranged.urls);
      assert.equal(await page.locator('#chart canvas').count(), 1, 'the time series is drawn');

      // One time format: 24-hour HH:MM:SS (a date in front only for another day), in the
      // live window, the range summary and the chart's axis alike; no AM/PM, no locale date.
      const clock = '(\\d{4}-\\d{2}-\\d{2} )?\\d{2}:\\d{2}:\\d{2}';
      assert.match((await page.textContent('#win-range'))!, new RegExp(`^${clock} – ${clock}$`));
      assert.match((await page.textContent('#range-summary'))!, new RegExp(`^[\\d,]+ events from ${clock} to ${clock}$`));
      // The chart's legend shows the time under the cursor, in the same format.
      await page.hover('#chart .u-over');
      const legendTime = await page.textContent('#chart .u-legend .u-series:first-child .u-value');
      assert.match(legendTime!, new RegExp(`^${clock}$`));

      // A custom range: the last 10 minutes, typed into the form.
      await page.click('[data-range="custom"]');
      const [fromValue, toValue] = await page.evaluate(() => {
        const local = (d: Date) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
        const now = Math.ceil(Date.now() / 1000) * 1000;
        return [local(new Date(now - 600_000)), local(new Date(now))];
      });
      await page.fill('#from', fromValue);
      await page.fill('#to', toValue);
      await page.click('#custom button[type="submit"]');
      const custom = await waitFor('the custom range to load', async () => {
        const r = await page.$eval('#range-top', (el) => ({ ...(el as HTMLElement).dataset }));
        return Date.parse(r.to!) - Date.parse(r.from!) === 600_000 ? r : undefined;
      });
      const customTop = (await daemon.get<Top>(`/api/top?n=20&from=${encodeURIComponent(custom.from!)}&to=${encodeURIComponent(custom.to!)}`)).body;
      assert.equal(Number(custom.total), customTop.total);
      assert.equal(customTop.total, first.total + second.total);
      await page.click('[data-range="3600"]');
      await waitFor('the 1 h range', async () => {
        const r = await page.$eval('#range-top', (el) => ({ ...(el as HTMLElement).dataset }));
        return Date.parse(r.to!) - Date.parse(r.from!) === 3_600_000 ? true : undefined;
      });

      const artifacts = process.env.LOGFLOW_ARTIFACTS ?? tempDir('logflow-dashboard-');
      const shot = path.join(artifacts, 'dashboard.png');
      await page.screenshot({ path: shot, fullPage: true });
      t.diagnostic(`screenshot: ${shot}`);
      if (process.env.LOGFLOW_UPDATE_SCREENSHOT === '1') copyFileSync(shot, path.join(REPO, 'docs/dashboard.png'));

      // A phone, dark: nothing wider than the screen, a dark background.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.emulateMedia({ colorScheme: 'dark' });
      const measure = () => page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: innerWidth, bg: getComputedStyle(document.body).backgroundColor }));
      // The chart follows the new width after a short debounce.
      await waitFor('the page to fit the phone', async () => ((await measure()).scroll <= 390 ? true : undefined), 3000).catch(() => undefined);
      const fit = await measure();
      assert.ok(fit.scroll <= fit.width, `no sideways scrolling on a phone (${fit.scroll} > ${fit.width})`);
      const [r, g, b] = fit.bg.match(/\d+/g)!.map(Number);
      assert.ok(r! + g! + b! < 150, `a dark background in dark mode: ${fit.bg}`);
      const phone = path.join(artifacts, 'dashboard-phone-dark.png');
      await page.screenshot({ path: phone, fullPage: true });
      t.diagnostic(`screenshot: ${phone}`);

      assert.deepEqual(seen.errors, [], 'no errors in the page');
      assert.deepEqual(seen.offsite, [], 'every request goes to the daemon');
    } finally {
      await browser.close();
      await daemon.stop();
    }
  });

  test('with a.http.authToken: ?token= is used and leaves the address bar; without it the page asks for it', { skip: SKIP }, async () => {
    const dir = tempDir();
    await writeConfig(dir, 'a1.http.authToken = s3cret-token-of-length\n');
    const daemon = await startDaemon(dir);
    const browser = await launch();
    try {
      const asked = await browser.newPage();
      await asked.goto(daemon.url + '/');
      await asked.waitForSelector('#auth:not([hidden])');
      await asked.fill('#token-input', 's3cret-token-of-length');
      await asked.keyboard.press('Enter');
      await asked.waitForSelector('#conn[data-state="live"]');
      assert.ok(await asked.locator('#auth').isHidden());

      const page = await browser.newPage();
      const seen = watch(page, daemon.url);
      await page.goto(daemon.url + '/?token=s3cret-token-of-length');
      await page.waitForSelector('#conn[data-state="live"]');
      assert.equal(new URL(page.url()).search, '', 'the token is not left in the address');
      const expected = await dropLog(dir, 'a.log', { lines: 5_000, urls: 20, seed: 5 });
      await waitFor('bars behind the token', async () => ((await page.textContent('#win-total')) === expected.total.toLocaleString('en-US') ? true : undefined));
      assert.ok(await page.locator('#auth').isHidden());
      assert.deepEqual(seen.errors.filter((e) => !e.includes('401')), []);
    } finally {
      await browser.close();
      await daemon.stop();
    }
  });
});
