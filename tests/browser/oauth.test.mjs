// The operator page and issue 17, in headless Chromium: for a config whose
// auth is OAuth2 client credentials the key field becomes a client id and
// a client secret field (write-only, kept across a failed save, never
// re-rendered), and a source waiting for its rateLimit budget says so in
// its status.  Screenshots go to tests/out/screenshots/ (oa-*.png).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const { eventually, openPage } = await import('./harness.mjs');
const lib = await import('../integration/lib.mjs');
const { BASE, UPSTREAM, TENANT, ADMIN, one, ensureTenant, cursorRow, ROOT } = lib;
const { OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET } = await import('../upstream/routes/oauth.mjs');

const SHOTS = path.join(ROOT, 'tests/out/screenshots');
const RUN = `oa${Date.now().toString(36)}`;
const OTHER = UPSTREAM.replace('127.0.0.1', 'localhost');
let browser;
let page;

const row = (id) => page.locator(`tr[data-id="${id}"]`);
const cellText = async (id, cls) => (await row(id).locator(`td.${cls}`).innerText()).replace(/\s+/g, ' ').trim();
const toast = (text) => page.locator('.toast', { hasText: text });

function oauthConfig(tokenUrl = `${UPSTREAM}/oauth/token?ttl=60000`) {
  return {
    baseUrl: `${UPSTREAM}/oauth/items`, cursorStyle: 'page', pageSizeParam: 'per_page', defaultPageSize: 50,
    itemsPath: 'data.items', textFields: ['title', 'description'], requiresAuth: true, provider: `${RUN}-oauth`,
    auth: { type: 'oauth2_client_credentials', tokenUrl },
  };
}

async function openAdd(title, config) {
  await page.click('#add');
  await page.locator('#source-dialog[open]').waitFor();
  await page.selectOption('#f-tenant', TENANT);
  await page.fill('#f-title', title);
  await page.fill('#f-config', JSON.stringify(config, null, 2));
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  ensureTenant();
  browser = await openPage({ base: BASE, admin: ADMIN });
  ({ page } = browser);
  await page.fill('#filter', RUN);
});

after(async () => {
  await browser?.close();
});

test('OAuth2: two write-only fields instead of the key, kept across a failed save, stored, never shown again', async () => {
  const title = `Token API ${RUN}`;
  await openAdd(title, oauthConfig(`${OTHER}/oauth/token`));
  assert.equal(await page.isHidden('#f-apikey'), true, 'no API key field');
  assert.equal(await page.isVisible('#f-clientid'), true);
  assert.equal(await page.isVisible('#f-clientsecret'), true);
  assert.equal(await page.getAttribute('#f-clientsecret', 'type'), 'password');
  await page.fill('#f-clientid', OAUTH_CLIENT_ID);
  await page.fill('#f-clientsecret', OAUTH_CLIENT_SECRET);
  // A token URL on another origin: refused by the server, fields kept.
  await page.click('#f-save');
  await page.locator('#form-error:not([hidden])').waitFor();
  const err = await page.locator('#form-error').innerText();
  assert.match(err, /^config: 'auth.tokenUrl' must be on baseUrl's origin/);
  assert.match(err, /The client credentials you typed are kept: fix this and save again\.$/);
  assert.equal(await page.inputValue('#f-clientid'), OAUTH_CLIENT_ID);
  assert.equal(await page.inputValue('#f-clientsecret'), OAUTH_CLIENT_SECRET);
  assert.equal(await page.evaluate((s) => document.documentElement.outerHTML.includes(s), OAUTH_CLIENT_SECRET), false,
    'never in the markup');
  await page.screenshot({ path: path.join(SHOTS, 'oa-01-failed-save-kept-1440.png') });
  // Back to an ordinary auth: the key field returns; OAuth again: fields.
  await page.fill('#f-config', JSON.stringify({ ...oauthConfig(), auth: 'bearer' }, null, 2));
  assert.equal(await page.isVisible('#f-apikey'), true);
  assert.equal(await page.isHidden('#f-clientsecret'), true);
  await page.fill('#f-config', JSON.stringify(oauthConfig(), null, 2));
  assert.equal(await page.isVisible('#f-clientsecret'), true);
  assert.equal(await page.inputValue('#f-clientsecret'), OAUTH_CLIENT_SECRET, 'still typed');
  await page.click('#f-save');
  await toast(`Added “${title}”`).waitFor();
  assert.match(await toast(`Added “${title}”`).innerText(), /client credentials were stored encrypted/);
  const id = one(`SELECT id FROM kb_sources WHERE title = :'p1';`, [title]);
  assert.equal(one(`SELECT count(*) FROM integration_secrets WHERE tenant_id = :'p1' AND provider = :'p2';`, [TENANT, `${RUN}-oauth`]), '1');
  await row(id).locator('[data-action="sync"]').click();
  await toast('Fetched 50 items').waitFor();
  assert.equal(cursorRow(id).items, 50);

  // Edit: the fields are empty (never re-rendered), saying they are set.
  await row(id).locator('[data-action="edit"]').click();
  await page.locator('#source-dialog[open]').waitFor();
  assert.equal(await page.isVisible('#f-clientsecret'), true);
  assert.equal(await page.inputValue('#f-clientid'), '');
  assert.equal(await page.inputValue('#f-clientsecret'), '');
  assert.equal(await page.isVisible('#f-oauth-state'), true);
  assert.match(await page.getAttribute('#f-clientsecret', 'placeholder'), /keep the stored/);
  assert.equal(await page.evaluate((s) => document.documentElement.outerHTML.includes(s), OAUTH_CLIENT_SECRET), false);
  await page.screenshot({ path: path.join(SHOTS, 'oa-02-edit-1440.png') });
  await page.keyboard.press('Escape');
  await page.locator('#source-dialog[open]').waitFor({ state: 'detached' });
});

test('a source waiting for its rateLimit budget says so in its status', async () => {
  const title = `Budget API ${RUN}`;
  await openAdd(title, {
    baseUrl: `${UPSTREAM}/rate/items`, cursorStyle: 'page', pageSizeParam: 'per_page', defaultPageSize: 50,
    itemsPath: 'data.items', textFields: ['title'], queryTemplate: { src: RUN },
    rateLimit: { requests: 1, perSeconds: 60 },
  });
  assert.equal(await page.locator('#f-config-check').innerText(), 'Valid JSON, known keys. The server checks the values on Save.');
  await page.click('#f-save');
  await toast(`Added “${title}”`).waitFor();
  const id = one(`SELECT id FROM kb_sources WHERE title = :'p1';`, [title]);
  await row(id).locator('[data-action="sync"]').click();
  await toast('Fetched 50 items').waitFor();
  // The budget's one request a minute is spent: the next click is told
  // to wait, and the row says the source is waiting for its budget.
  await row(id).locator('[data-action="sync"]').click();
  await toast(`Sync of “${title}” failed`).waitFor();
  assert.match(await toast(`Sync of “${title}” failed`).innerText(), /rate budget: 1 requests per 60 s/);
  await eventually(async () => (await cellText(id, 'c-status')) === 'waiting for budget', 'the waiting status');
  await page.screenshot({ path: path.join(SHOTS, 'oa-03-waiting-for-budget-1440.png') });
  assert.equal(cursorRow(id).items, 50);
});
