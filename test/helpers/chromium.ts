import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';

/** Debian's chromium (CI installs it in .ci/run), or CHROMIUM_PATH. */
export const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
export const SKIP_WITHOUT_CHROMIUM = CHROMIUM ? false : 'Chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH); .ci/run installs it';
/** Headless, and nothing of its own on the network: a request the page makes is the page's. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];

/** Headless Chromium, closed when the test ends, passed or failed (`t.after`): no try/finally in the test. */
export async function withBrowser(t: Pick<TestContext, 'after'>): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM!, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  return browser;
}
