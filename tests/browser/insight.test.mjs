// The operator page's insight parts (issue 15) in headless Chromium: the
// Test button of the source dialog (a dry run: nothing saved), the Search
// panel with its role selector, and the Items view opening an item's
// chunks.  Screenshots go to tests/out/screenshots/2x-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CHROMIUM = '/usr/bin/chromium';
if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with scripts/deps.sh`);
const { chromium } = await import('playwright-core');
const lib = await import('../integration/lib.mjs');
const { BASE, ADMIN, ROOT, batch, createSource, dummyConfig, ensureTenant, one } = lib;

const SHOTS = path.join(ROOT, 'tests/out/screenshots');
const RUN = Date.now().toString(36);
let ctx;
let page;
let profile;
const pageErrors = [];
let products;
let adminOnly;

const shot = (name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
const row = (id) => page.locator(`tr[data-id="${id}"]`);

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  ensureTenant();
  products = createSource(`Insight browser ${RUN}`, dummyConfig({ defaultPageSize: 10, titleField: 'title' }));
  for (let i = 0; i < 2; i++) assert.equal((await batch(products)).status, 200);
  adminOnly = createSource(`Insight admin-only ${RUN}`, dummyConfig({ defaultPageSize: 5, titleField: 'title', allowedRolesOverride: ['admin'] }));
  assert.equal((await batch(adminOnly)).status, 200);
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'restsync-chromium-'));
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--no-first-run', '--disable-component-update', '--disable-sync'],
    httpCredentials: { username: ADMIN[0], password: ADMIN[1] },
    viewport: { width: 1440, height: 900 },
    colorScheme: 'light',
    locale: 'en-US',
  });
  page = ctx.pages()[0] || await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${BASE}/backoffice/rest-sources`);
  await row(products).waitFor();
});

after(async () => {
  await ctx?.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  assert.deepEqual(pageErrors, []);
});

test('the page names the deployment\'s embedder', async () => {
  const e = page.locator('#embedder');
  await e.waitFor();
  assert.equal(await e.innerText(), 'Embedder: local-hash-v1 — not semantic — for demos and tests');
});

test('Test shows the first page\'s items and chunks, and saves nothing', async () => {
  const sources = one('SELECT count(*) FROM kb_sources;');
  await page.click('#add');
  await page.locator('#source-dialog[open]').waitFor();
  await page.fill('#f-title', `Never saved ${RUN}`);
  await page.fill('#f-config', JSON.stringify(dummyConfig({ defaultPageSize: 5, titleField: 'title' }), null, 2));
  await page.click('#f-test');
  const summary = page.locator('#f-preview .pv-summary');
  await summary.waitFor();
  assert.match(await summary.innerText(), /^HTTP 200 · 5 items · 5 chunks · ~\d+ tokens · next: 5 · total 194 · \d+ ms$/);
  assert.equal(await page.locator('#f-preview .pv-item').count(), 5);
  assert.match(await page.locator('#f-preview .pv-item').first().innerText(), /Essence Mascara Lash Princess\s+id:1\s+1 chunk · ~\d+ tokens/);
  await shot('20-test-preview');
  // Wrong text fields: flagged.
  await page.fill('#f-config', JSON.stringify(dummyConfig({ defaultPageSize: 3, textFields: ['nope'] })));
  await page.click('#f-test');
  await page.locator('#f-preview .pv-warn').waitFor();
  assert.equal(await page.locator('#f-preview .pv-warn').innerText(), '3 of 3 items have no text: check textFields (a sync would store nothing for them)');
  assert.equal(await page.locator('#f-preview .pv-empty').count(), 3);
  // Wrong itemsPath: the error, in the panel.
  await page.fill('#f-config', JSON.stringify(dummyConfig({ itemsPath: 'data' })));
  await page.click('#f-test');
  await page.locator('#f-preview.preview-error').waitFor();
  assert.match(await page.locator('#f-preview').innerText(), /itemsPath 'data' is not an array in the response/);
  await shot('21-test-error');
  await page.click('#source-dialog [data-close]');
  // The form was changed: the page asks before throwing it away.
  await page.locator('#confirm-dialog[open]').waitFor();
  assert.equal(await page.locator('#confirm-title').innerText(), 'Discard your changes?');
  await page.click('#confirm-ok');
  await page.locator('#source-dialog[open]').waitFor({ state: 'detached' }).catch(() => {});
  assert.equal(await page.locator('#source-dialog[open]').count(), 0);
  assert.equal(one('SELECT count(*) FROM kb_sources;'), sources, 'nothing saved');
});

test('Search finds a product by its words, and nothing for a role the chunks do not allow', async () => {
  await row(products).locator('[data-action="insight-search"]').click();
  await page.locator('#insight-dialog[open]').waitFor();
  await page.fill('#s-query', 'Calvin Klein CK One classic unisex fragrance');
  await page.selectOption('#s-role', 'member');
  await page.click('#s-go');
  const first = page.locator('#s-results .hit').first();
  await first.waitFor();
  assert.match(await first.innerText(), /^\d\.\d{3}\s+Calvin Klein CK One\s+id:6/);
  assert.match(await page.locator('#s-embedder').innerText(), /^local-hash-v1 \(not semantic/);
  await shot('22-search');
  await page.click('#insight-close');

  await row(adminOnly).locator('[data-action="insight-search"]').click();
  await page.locator('#insight-dialog[open]').waitFor();
  await page.fill('#s-query', 'Essence Mascara Lash Princess');
  await page.selectOption('#s-role', 'member');
  await page.click('#s-go');
  await page.locator('#s-results .hit-none').waitFor();
  assert.equal(await page.locator('#s-results').innerText(), 'Nothing that the role “member” may see matches.');
  await shot('23-search-role');
  await page.selectOption('#s-role', 'admin');
  await page.click('#s-go');
  await page.locator('#s-results .hit').first().waitFor();
  assert.match(await page.locator('#s-results .hit').first().innerText(), /Essence Mascara Lash Princess/);
  await page.click('#insight-close');
});

test('Items lists the items and opens one\'s chunks', async () => {
  await row(products).locator('[data-action="insight-items"]').click();
  await page.locator('#insight-dialog[open]').waitFor();
  await page.locator('#i-rows tr').nth(19).waitFor();
  assert.equal(await page.locator('#i-rows tr').count(), 20);
  assert.ok(await page.locator('#i-more').isHidden());
  await page.locator('#i-rows button.item-open', { hasText: 'Calvin Klein CK One' }).click();
  const chunks = page.locator('#i-chunks');
  await chunks.locator('.chunk').first().waitFor();
  assert.match(await chunks.innerText(), /CK One by Calvin Klein is a classic unisex fragrance/);
  assert.match(await chunks.locator('.chunk').first().innerText(), /local-hash-v1 · roles member, support, operations, admin/);
  await shot('24-items');
  await page.click('#insight-close');
});
