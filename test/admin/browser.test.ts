// The admin page in a real browser (Debian's chromium through playwright-core): log in through the
// form, see two versions with their session counts, disable one and watch its state change live,
// without the page reloading.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { Client, counterApp, waitFor } from '../e2e/harness.ts';
import { adminToken, adminUrl, shopHost } from './admin-harness.ts';

const chromiumPath = '/usr/bin/chromium';
const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

async function text(page: Page, selector: string): Promise<string> {
  return ((await page.locator(selector).textContent({ timeout: 5000 })) ?? '').trim();
}

describe('admin page in a browser', () => {
  it('logs in, shows two versions with their sessions, and shows a disable live without reloading', async (t) => {
    if (!(await access(chromiumPath).then(() => true, () => false))) {
      if (process.env['CI'] !== undefined) assert.fail(`${chromiumPath} is missing: CI must install Debian's chromium (see .ci/run)`);
      t.skip(`${chromiumPath} not installed`);
      return;
    }
    const h = await shopHost(t);
    for (let i = 0; i < 2; i++) await new Client(h.url).get('/shop/');
    await h.deployFolder('shop##2.0.0', { 'index.mjs': counterApp('2') });
    await h.waitState('shop', '2.0.0');
    for (let i = 0; i < 3; i++) await new Client(h.url).get('/shop/');

    const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
    t.after(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });

    await page.goto(`${adminUrl(h)}/`);
    await page.fill('#token', adminToken);
    await Promise.all([page.waitForURL(`${adminUrl(h)}/`), page.click('button[type="submit"]')]);
    const row = (version: string): string => `tr[data-app="shop"][data-version="${version}"]`;
    await page.waitForSelector(`${row('1.0.0')} [data-field="state"]`, { timeout: 10_000 });
    await waitFor(async () => (await text(page, `${row('2.0.0')} [data-field="sessions"]`)) === '3', 5000, 'the session count of 2.0.0');
    assert.equal(await text(page, `${row('1.0.0')} [data-field="sessions"]`), '2');
    assert.equal(await text(page, `${row('2.0.0')} [data-field="state"]`), 'ready');
    assert.equal(await text(page, `${row('1.0.0')} [data-field="state"]`), 'draining');
    assert.equal(await page.locator(`${row('2.0.0')} .badge`).isVisible(), true, 'the new-session target is marked');
    assert.equal(await page.locator('#conn').getAttribute('data-state'), 'live');

    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });
    await page.evaluate('globalThis.stillTheSamePage = true');
    await page.click(`${row('2.0.0')} button[data-action="disable"]`);
    await waitFor(async () => (await text(page, `${row('2.0.0')} [data-field="state"]`)) === 'disabled', 5000, '2.0.0 to show disabled');
    assert.equal(h.state('shop', '2.0.0'), 'disabled', 'the click reached the host');
    await waitFor(async () => await page.locator(`${row('1.0.0')} .badge`).isVisible(), 5000, '1.0.0 to be marked as taking new sessions');
    assert.equal(await page.locator(`${row('2.0.0')} button[data-action="enable"]`).count(), 1, 'the button now offers enable');
    assert.equal(navigations, 0, 'no navigation happened');
    assert.equal(await page.evaluate('globalThis.stillTheSamePage'), true, 'the page was not reloaded');
    assert.ok(await page.locator('#events .kind[data-kind="disabled"]').count() >= 1, 'the activity log shows the disable');

    const screenshot = path.join(h.dir, 'admin-page.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    const png = await readFile(screenshot);
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], 'a PNG was written');
    assert.deepEqual(problems, [], 'no script errors or CSP violations');
  });
});
