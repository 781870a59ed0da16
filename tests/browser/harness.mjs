// What the browser tests share: Debian's chromium, headless, driven by
// playwright-core, logged in as the stack's admin, on the operator page
// at 1440 x 900; a polling wait.  Not a test file itself (node --test
// picks *.test.mjs).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CHROMIUM = '/usr/bin/chromium';
if (!fs.existsSync(CHROMIUM)) {
  throw new Error(`\n\n*** ${CHROMIUM} is missing: the browser test cannot run. ***\n`
    + '*** Install it with scripts/deps.sh (Debian package "chromium"). ***\n');
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  throw new Error(`playwright-core is not installed (npm ci --prefix tests/browser): ${e.message}`);
}

// Poll fn every 50 ms until it returns something truthy; fail after timeout.
export async function eventually(fn, what, timeout = 15000) {
  const t0 = Date.now();
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 > timeout) assert.fail(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// A fresh profile and the page, loaded.  Alerts are dismissed and
// recorded in dialogs, page errors in pageErrors, CSP refusals in
// cspErrors.  close() ends the browser and removes the profile.
export async function openPage({ base, admin }) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'restsync-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--no-first-run', '--disable-component-update', '--disable-sync'],
    httpCredentials: { username: admin[0], password: admin[1] },
    viewport: { width: 1440, height: 900 },
    colorScheme: 'light',
    locale: 'en-US',
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const out = { page, dialogs: [], pageErrors: [], cspErrors: [] };
  page.setDefaultTimeout(15000);
  page.on('dialog', (d) => { out.dialogs.push(`${d.type()}: ${d.message()}`); d.dismiss().catch(() => {}); });
  page.on('pageerror', (e) => out.pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) out.cspErrors.push(m.text());
  });
  out.close = async () => {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  await page.goto(`${base}/backoffice/rest-sources`);
  await eventually(async () => !(await page.locator('#summary').innerText()).startsWith('Loading'), 'the list');
  return out;
}
