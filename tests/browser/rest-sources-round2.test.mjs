// The operator page, second round (issue 16), in headless Chromium: a key
// shared by sources of a tenant is never replaced by accident, a typed key
// survives a failed save, toasts take no clicks, the history records what
// really changed, a fixed config marks its old error, templates ask before
// they replace typed text, the config is checked as it is typed, "Sync
// again", where a batch failed, the audit page of a deleted source.
// Screenshots of each state at 1440 and 420 px go to tests/out/screenshots/
// (r2-*-1440.png, r2-*-420.png).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const { eventually, openPage } = await import('./harness.mjs');
const lib = await import('../integration/lib.mjs');
const { BASE, UPSTREAM, TENANT, ADMIN, one, sql, ensureTenant, dummyConfig, cursorRow, createSource, ROOT } = lib;

const SHOTS = path.join(ROOT, 'tests/out/screenshots');
const RUN = Date.now().toString(36);
// The provider the server gives a new source that names none: the
// baseUrl's host, with the port (srcinput.c srcin_host_provider).
const HOST = new URL(UPSTREAM).host.replace(':', '-');
let browser;
let page;
let pageErrors;

// A state at both widths: 1440 px (the table) and 420 px (the cards);
// show: an element scrolled into view at each width first.
async function shots(name, { full = false, show = null } = {}) {
  const into = async () => {
    if (!show) return;
    await page.locator(show).scrollIntoViewIfNeeded();
    const b = await page.locator(show).boundingBox();
    const vp = page.viewportSize();
    assert.ok(b && b.y >= 0 && b.y + b.height <= vp.height, `${show} in view at ${vp.width} px`);
  };
  await into();
  await page.screenshot({ path: path.join(SHOTS, `r2-${name}-1440.png`), fullPage: full });
  await page.setViewportSize({ width: 420, height: 900 });
  await page.waitForTimeout(50);
  await into();
  await page.screenshot({ path: path.join(SHOTS, `r2-${name}-420.png`), fullPage: full });
  await page.setViewportSize({ width: 1440, height: 900 });
}

// Close every toast (a shot of what they would cover).
async function clearToasts() {
  while (await page.locator('.toast .toast-close').count()) await page.locator('.toast .toast-close').first().click();
}

const row = (id) => page.locator(`tr[data-id="${id}"]`);
const cellText = async (id, cls) => (await row(id).locator(`td.${cls}`).innerText()).replace(/\s+/g, ' ').trim();
const toast = (text) => page.locator('.toast', { hasText: text });
const auditCount = (id, action) => +one(`SELECT count(*) FROM kb_rest_audit WHERE source_id = :'p1' AND action = :'p2';`, [id, action]);
const lastAudit = (id, action) => JSON.parse(one(`SELECT detail::text FROM kb_rest_audit WHERE source_id = :'p1' AND action = :'p2' ORDER BY id DESC LIMIT 1;`, [id, action]));

function dropSource(id) {
  sql(`DELETE FROM kb_chunks WHERE source_id = :'p1'; DELETE FROM kb_docs WHERE source_id = :'p1';
       DELETE FROM kb_rest_cursors WHERE source_id = :'p1'; DELETE FROM kb_sources WHERE id = :'p1';`, [id]);
}

function authConfig(overrides = {}) {
  return dummyConfig({ baseUrl: `${UPSTREAM}/auth/products`, headersTemplate: { Authorization: 'Bearer {{API_KEY}}' }, requiresAuth: true, ...overrides });
}

async function openAdd(title, config) {
  await page.click('#add');
  await page.locator('#source-dialog[open]').waitFor();
  await page.selectOption('#f-tenant', TENANT);
  await page.fill('#f-title', title);
  await page.fill('#f-config', typeof config === 'string' ? config : JSON.stringify(config, null, 2));
}

async function closeForm() {
  await page.keyboard.press('Escape');
  if (await page.locator('#confirm-dialog[open]').count()) await page.click('#confirm-ok');
  await page.locator('#source-dialog[open]').waitFor({ state: 'detached' });
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  ensureTenant();
  // Sources of earlier runs that share this host's key would be named too.
  for (const [id] of sql(`SELECT id FROM kb_sources WHERE type = 'rest' AND tenant_id = :'p1' AND config->>'provider' = :'p2';`, [TENANT, HOST])) dropSource(id);
  browser = await openPage({ base: BASE, admin: ADMIN });
  ({ page, pageErrors } = browser);
  await page.fill('#filter', RUN);
});

after(async () => {
  await browser?.close();
});

let a;   // the first source of the tenant with a key (provider = the host)
let b;   // the second one, same host
const titleA = `Articles ${RUN}`;
const titleB = `Issues ${RUN}`;

test('a typed key survives a failed save; a new source\'s key is stored for its host', async () => {
  await openAdd(titleA, authConfig({ baseUrl: 'ftp://example.com/x' }));
  await page.fill('#f-apikey', 's3cret-token-123');
  await page.click('#f-save');
  await page.locator('#form-error:not([hidden])').waitFor();
  const err = await page.locator('#form-error').innerText();
  assert.match(err, /^config: 'baseUrl' must be an absolute http or https URL/);
  assert.match(err, /The API key you typed is kept: fix this and save again\.$/);
  assert.equal(await page.inputValue('#f-apikey'), 's3cret-token-123', 'the key is still in the field');
  assert.equal(await page.evaluate(() => document.documentElement.outerHTML.includes('s3cret-token-123')), false, 'never in the markup');
  await shots('01-failed-save-key-kept');
  await page.fill('#f-config', JSON.stringify(authConfig(), null, 2));
  assert.match(await page.locator('#f-apikey-hint').innerText(), new RegExp(`provider “${HOST}”`));
  await page.click('#f-save');
  await toast(`Added “${titleA}”`).waitFor();
  assert.match(await toast(`Added “${titleA}”`).innerText(), new RegExp(`stored encrypted for provider “${HOST}”`));
  a = one(`SELECT id FROM kb_sources WHERE title = :'p1';`, [titleA]);
  assert.equal(one(`SELECT config->>'provider' FROM kb_sources WHERE id = :'p1';`, [a]), HOST);
  assert.equal(one(`SELECT count(*) FROM integration_secrets WHERE tenant_id = :'p1' AND provider = :'p2';`, [TENANT, HOST]), '1');
  await row(a).locator('[data-action="sync"]').click();
  await toast('Fetched 50 items').waitFor();
  assert.equal(cursorRow(a).items, 50);
});

test('a second source of the tenant: the shared key is named, replacing it is a choice, the first keeps syncing', async () => {
  await openAdd(titleB, authConfig());
  assert.equal(await page.isHidden('#f-key-shared'), true, 'no warning without a typed key');
  assert.match(await page.locator('#f-apikey-hint').innerText(), new RegExp(`will use the key already stored for ${titleA}`));
  await page.fill('#f-apikey', 'a-mistyped-key');
  await page.locator('#f-key-shared:not([hidden])').waitFor();
  assert.equal(await page.locator('#f-key-shared-text').innerText(),
    `This key is used by 1 other source of this tenant: ${titleA} — replacing it affects them.`);
  assert.equal(await page.isChecked('#f-replace-key'), false);
  await shots('02-shared-key-warning', { show: '#f-key-shared' });
  // Save without choosing: refused in the page, nothing stored.
  await page.click('#f-save');
  await page.locator('#form-error:not([hidden])').waitFor();
  assert.match(await page.locator('#form-error').innerText(), new RegExp(`^apiKey: this key is used by 1 other source of this tenant \\(${titleA}\\)`));
  assert.equal(await page.getAttribute('#f-apikey', 'aria-invalid'), 'true');
  assert.equal(one(`SELECT count(*) FROM kb_sources WHERE title = :'p1';`, [titleB]), '0');
  await shots('03-shared-key-refused', { show: '#form-error' });
  // The operator gives the second API its own provider: no sharing left.
  await page.fill('#f-config', JSON.stringify(authConfig({ provider: `issues-${RUN}` }), null, 2));
  await page.locator('#f-key-shared').waitFor({ state: 'hidden' });
  await page.click('#f-save');
  await toast(`Added “${titleB}”`).waitFor();
  b = one(`SELECT id FROM kb_sources WHERE title = :'p1';`, [titleB]);
  assert.equal(one(`SELECT count(*) FROM integration_secrets WHERE tenant_id = :'p1' AND provider = :'p2';`, [TENANT, `issues-${RUN}`]), '1');
  // The first source still syncs with its own key.
  await row(a).locator('[data-action="sync"]').click();
  await toast('Fetched 50 items').last().waitFor();
  await eventually(async () => (await cellText(a, 'c-status')) === 'ok', 'the first source ok');
  assert.deepEqual([cursorRow(a).items, cursorRow(a).http], [100, 200]);

  // Replacing the shared key on purpose: tick the box, both sources use it.
  const titleC = `Articles mirror ${RUN}`;
  const before = one(`SELECT updated_at FROM integration_secrets WHERE tenant_id = :'p1' AND provider = :'p2';`, [TENANT, HOST]);
  await openAdd(titleC, authConfig());
  await page.fill('#f-apikey', 's3cret-token-123');
  await page.locator('#f-key-shared:not([hidden])').waitFor();
  await page.check('#f-replace-key');
  await page.click('#f-save');
  await toast(`Added “${titleC}”`).waitFor();
  const c = one(`SELECT id FROM kb_sources WHERE title = :'p1';`, [titleC]);
  assert.notEqual(one(`SELECT updated_at FROM integration_secrets WHERE tenant_id = :'p1' AND provider = :'p2';`, [TENANT, HOST]), before, 'the key was replaced');
  await row(c).locator('[data-action="sync"]').click();
  await eventually(async () => (await cellText(c, 'c-status')) === 'ok', 'the mirror syncs with the replaced key');
  dropSource(c);
});

test('where it failed: the redacted URL, the HTTP status and the time in the row and the history', async () => {
  await row(b).locator('[data-action="sync"]').click();
  await toast(`Sync of “${titleB}” failed`).waitFor();
  await eventually(async () => (await cellText(b, 'c-status')) === 'error', 'the error');
  const url = `${UPSTREAM}/auth/products?limit=50&skip=0`;
  assert.equal(await row(b).locator('.err-where').innerText(), `${url} · HTTP 401`);
  await row(b).locator('details.err summary').click();
  assert.equal(await row(b).locator('.err-url').innerText(), url);
  assert.equal(await row(b).locator('.err-status').innerText(), '401');
  assert.match(await row(b).locator('.err-time').innerText(), /\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\)$/);
  assert.match(await row(b).locator('.err-full').innerText(), /401/);
  await row(b).locator('details.history summary').click();
  const first = row(b).locator('li.history-entry').first();
  await eventually(async () => (await first.locator('.history-outcome').innerText()) === 'error', 'the failed batch in the history');
  assert.equal(await first.locator('.history-where').innerText(), `${url} · HTTP 401`);
  await shots('04-error-where', { full: true });
});

test('a fixed config marks the old error; the history says exactly what changed; a no-op save records nothing', async () => {
  const updates = auditCount(b, 'update');
  const updatedAt = one(`SELECT updated_at FROM kb_sources WHERE id = :'p1';`, [b]);
  // Save with no change: no audit row, updated_at unchanged.
  await row(b).locator('[data-action="edit"]').click();
  await page.locator('#source-dialog[open]').waitFor();
  await page.click('#f-save');
  await toast(`Saved “${titleB}”`).waitFor();
  assert.equal(auditCount(b, 'update'), updates, 'a no-op save is not recorded');
  assert.equal(one(`SELECT updated_at FROM kb_sources WHERE id = :'p1';`, [b]), updatedAt);
  assert.equal(await row(b).locator('.err-changed').count(), 0);

  // A page-size-only edit: only that key, from and to.
  await row(b).locator('[data-action="edit"]').click();
  await page.locator('#source-dialog[open]').waitFor();
  const cfg = JSON.parse(await page.inputValue('#f-config'));
  // The editor lists the keys in the order they were saved (kb_sources.
  // config_text), not jsonb's (which sorts them by length).
  const keysOf = (expr) => one(`SELECT string_agg(key, ',' ORDER BY n) FROM kb_sources,
                                  ${expr} WITH ORDINALITY AS t(key, value, n) WHERE id = :'p1';`, [b]).split(',');
  const saved = keysOf('json_each(config_text::json)');
  assert.deepEqual(Object.keys(cfg), saved);
  assert.notDeepEqual(saved, keysOf('jsonb_each(config)'));
  assert.equal(saved[0], 'baseUrl');
  await page.fill('#f-config', JSON.stringify({ ...cfg, defaultPageSize: 20 }, null, 2));
  await page.click('#f-save');
  await toast(`Saved “${titleB}”`).last().waitFor();
  assert.equal(auditCount(b, 'update'), updates + 1);
  assert.deepEqual(lastAudit(b, 'update'), { changed: ['config'], config: { defaultPageSize: { from: 50, to: 20 } }, chunksRolesUpdated: 0 });
  await eventually(async () => (await row(b).locator('.err-changed').count()) === 1, 'the stale-error mark');
  assert.equal(await row(b).locator('.err-changed').innerText(), 'config changed since this error');
  const hist = row(b).locator('li.history-entry').first();
  await eventually(async () => (await hist.locator('.history-action').innerText()) === 'Edited', 'the edit in the history');
  assert.equal(await hist.locator('.history-text').innerText(), 'defaultPageSize 50 → 20');
  await shots('05-config-changed-since-error', { full: true });

  // Title and enabled: before → after, nothing else.
  await row(b).locator('[data-action="edit"]').click();
  await page.locator('#source-dialog[open]').waitFor();
  await page.fill('#f-title', `${titleB} (2)`);
  await page.uncheck('#f-enabled');
  await page.click('#f-save');
  await toast(`Saved “${titleB} (2)”`).waitFor();
  assert.deepEqual(lastAudit(b, 'update'), { changed: ['title', 'enabled'], title: { from: titleB, to: `${titleB} (2)` }, enabled: { from: true, to: false } });
  await eventually(async () => (await hist.locator('.history-text').innerText()) === `title “${titleB}” → “${titleB} (2)” · disabled`, 'the title edit in the history');
});

test('toasts never take a click meant for a row, and at most two are shown', async () => {
  await page.setViewportSize({ width: 420, height: 900 });
  for (let i = 0; i < 3; i++) {
    await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/backoffice/rest-sources')), page.click('#refresh')]);
  }
  await page.waitForTimeout(100);
  await eventually(async () => (await page.locator('.toast').count()) === 2, 'two toasts');
  const t = page.locator('.toast').last();
  // Size the window so that the first source's Edit button sits under the
  // newest toast (toasts keep their distance to the bottom edge).
  const btn = row(a).locator('[data-action="edit"]');
  await page.evaluate(() => window.scrollTo(0, 0));
  await btn.waitFor();
  const bb = await btn.boundingBox();
  const tb = await t.boundingBox();
  const fromBottom = 900 - (tb.y + tb.height / 2);
  await page.setViewportSize({ width: 420, height: Math.round(bb.y + bb.height / 2 + fromBottom) });
  await page.evaluate(() => window.scrollTo(0, 0));
  const b2 = await btn.boundingBox();
  const tb2 = await t.boundingBox();
  const cx = b2.x + b2.width / 2;
  const cy = b2.y + b2.height / 2;
  assert.ok(cy > tb2.y && cy < tb2.y + tb2.height && cx > tb2.x && cx < tb2.x + tb2.width, 'the button is under the toast');
  await page.screenshot({ path: path.join(SHOTS, 'r2-06-toast-over-row-420.png') });
  assert.equal(await page.evaluate(([x, y]) => document.elementFromPoint(x, y).closest('[data-action]')?.dataset.action, [cx, cy]), 'edit');
  await page.mouse.click(cx, cy);
  await page.locator('#source-dialog[open]').waitFor();
  await closeForm();
  // The close button still works.
  await page.locator('.toast .toast-close').first().click();
  assert.ok(await page.locator('.toast').count() <= 1);

  // At 1440 px: a toast over a row (the window sized so that the first
  // source's row reaches under it), the row's Edit button still takes
  // the click.
  await page.setViewportSize({ width: 1440, height: 900 });
  await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/backoffice/rest-sources')), page.click('#refresh')]);
  await eventually(async () => (await page.locator('.toast').count()) >= 1, 'a toast');
  const t2 = page.locator('.toast').last();
  await page.evaluate(() => window.scrollTo(0, 0));
  const rb = await row(a).boundingBox();
  const tb3 = await t2.boundingBox();
  await page.setViewportSize({ width: 1440, height: Math.round(rb.y + rb.height / 2 + (900 - (tb3.y + tb3.height / 2))) });
  await page.evaluate(() => window.scrollTo(0, 0));
  const rb2 = await row(a).boundingBox();
  const tb4 = await t2.boundingBox();
  assert.ok(tb4.y < rb2.y + rb2.height && tb4.y + tb4.height > rb2.y && tb4.x < rb2.x + rb2.width, 'the toast is over the row');
  await page.screenshot({ path: path.join(SHOTS, 'r2-06-toast-over-row-1440.png') });
  await row(a).locator('[data-action="edit"]').click();
  await page.locator('#source-dialog[open]').waitFor();
  await closeForm();
  await page.setViewportSize({ width: 1440, height: 900 });
});

test('templates: Link header, no provider, ask before replacing typed config, "custom", Escape asks', async () => {
  await page.click('#add');
  await page.locator('#source-dialog[open]').waitFor();
  assert.equal(await page.inputValue('#f-template'), 'offset');
  const names = await page.locator('#f-template option').evaluateAll((o) => o.map((x) => x.value));
  assert.deepEqual(names, ['', 'offset', 'cursor', 'page', 'link', 'custom']);
  for (const v of ['offset', 'cursor', 'page', 'link']) {
    await page.selectOption('#f-template', v);
    const c = JSON.parse(await page.inputValue('#f-config'));
    assert.equal('provider' in c, false, `${v}: no made-up provider`);
    if (v === 'link') assert.equal(c.cursorStyle, 'link');
  }
  // Typing makes it custom; a template then asks first.
  await page.locator('#f-config').press('End');
  await page.locator('#f-config').pressSequentially(' ');
  assert.equal(await page.inputValue('#f-template'), 'custom');
  const typed = await page.inputValue('#f-config');
  await page.selectOption('#f-template', 'cursor');
  await page.locator('#confirm-dialog[open]').waitFor();
  assert.equal(await page.locator('#confirm-title').innerText(), 'Replace the config with the template?');
  await shots('07-template-asks');
  await page.click('#confirm-cancel');
  await eventually(async () => (await page.inputValue('#f-template')) === 'custom', 'the picker back on custom');
  assert.equal(await page.inputValue('#f-config'), typed);
  await page.selectOption('#f-template', 'link');
  await page.locator('#confirm-dialog[open]').waitFor();
  await page.click('#confirm-ok');
  await eventually(async () => (await page.inputValue('#f-template')) === 'link', 'the link template');
  assert.equal(JSON.parse(await page.inputValue('#f-config')).cursorStyle, 'link');
  // Escape on a changed form asks; Cancel keeps the form.
  await page.fill('#f-title', 'half-typed');
  await page.keyboard.press('Escape');
  await page.locator('#confirm-dialog[open]').waitFor();
  assert.equal(await page.locator('#confirm-title').innerText(), 'Discard your changes?');
  await shots('14-discard-changes');
  await page.click('#confirm-cancel');
  await page.locator('#confirm-dialog[open]').waitFor({ state: 'detached' });
  assert.equal(await page.locator('#source-dialog[open]').count(), 1);
  assert.equal(await page.inputValue('#f-title'), 'half-typed');
  await page.click('#source-dialog .dialog-foot [data-close]');
  await page.locator('#confirm-dialog[open]').waitFor();
  await page.click('#confirm-ok');
  await page.locator('#source-dialog[open]').waitFor({ state: 'detached' });
});

test('the config is checked as it is typed, with the server\'s message', async () => {
  // The page's list of known keys is config.c's table.
  const cKeys = [...fs.readFileSync(path.join(ROOT, 'common/pipeline/config.c'), 'utf8').matchAll(/^\t\{ "(\w+)", cfg_\w+,/gm)].map((m) => m[1]);
  const js = fs.readFileSync(path.join(ROOT, 'static/rest-sources.js'), 'utf8');
  const jsKeys = [...js.slice(js.indexOf('const CONFIG_KEYS'), js.indexOf(']);', js.indexOf('const CONFIG_KEYS'))).matchAll(/'(\w+)'/g)].map((m) => m[1]);
  assert.ok(cKeys.length > 25, `config.c keys found (${cKeys.length})`);
  assert.deepEqual(jsKeys, cKeys, 'static/rest-sources.js CONFIG_KEYS = common/pipeline/config.c cfg_keys, in order');

  await openAdd(`Live check ${RUN}`, '{\n  "baseUrl": "https://example.com/x",\n  "textFields": ["a"],\n}');
  assert.equal(await page.locator('#f-config-check').innerText(), 'config: config is not valid JSON at line 4, column 1');
  assert.equal(await page.getAttribute('#f-config', 'aria-invalid'), 'true');
  await shots('08-live-json-error');
  await page.click('#f-save');
  await page.locator('#form-error:not([hidden])').waitFor();
  assert.equal(await page.locator('#form-error').innerText(), 'config: config is not valid JSON at line 4, column 1');

  await page.fill('#f-config', JSON.stringify({ baseUrl: 'https://example.com/x', textFields: ['a'], pageSize: 5 }, null, 2));
  assert.equal(await page.locator('#f-config-check').innerText(), "config: unknown key 'pageSize'");
  await page.click('#f-save');
  await eventually(async () => (await page.locator('#form-error').innerText()) === "config: unknown key 'pageSize'", 'the server\'s message');
  await page.fill('#f-config', JSON.stringify({ baseUrl: 'https://example.com/x', textFields: ['a'] }, null, 2));
  assert.match(await page.locator('#f-config-check').innerText(), /^Valid JSON/);
  assert.equal(await page.getAttribute('#f-config', 'aria-invalid'), null);
  await closeForm();
});

test('Sync again: a completed source starts a new run; after Reset it says "starts over", not "never synced"', async () => {
  const id = createSource(`Complete ${RUN}`, dummyConfig({ defaultPageSize: 200 }));
  await page.click('#refresh');
  await row(id).waitFor();
  await row(id).locator('[data-action="sync"]').click();
  await toast('Fetched 194 items').waitFor();
  await eventually(async () => (await cellText(id, 'c-status')) === 'done', 'done');
  const again = row(id).locator('[data-action="again"]');
  assert.equal(await again.innerText(), 'Sync again');
  assert.equal(await again.isEnabled(), true);
  await shots('09-completed-sync-again');
  const runs = +one(`SELECT count(*) FROM kb_rest_runs WHERE source_id = :'p1';`, [id]);
  await again.click();
  await toast('Fetched 194 items').last().waitFor();
  await eventually(async () => (await cellText(id, 'c-status')) === 'done', 'done again');
  assert.equal(+one(`SELECT count(*) FROM kb_rest_runs WHERE source_id = :'p1';`, [id]), runs + 1, 'a new run');
  const hist = row(id).locator('details.history');
  await hist.locator('summary').click();
  const e = hist.locator('li.history-entry');
  await eventually(async () => (await e.count()) === 3, 'three entries');
  assert.deepEqual(await e.locator('.history-action').allInnerTexts(), ['Sync', 'Reset', 'Sync']);
  assert.equal(await e.nth(0).locator('.history-text').innerText(), '194 items (194 unchanged) → 0 chunks · HTTP 200');
  assert.equal(await e.nth(2).locator('.history-text').innerText(), '194 items (194 new) → 194 chunks: 194 new · HTTP 200');
  await hist.locator('summary').click();

  await row(id).locator('[data-action="reset"]').click();
  await page.locator('#confirm-dialog[open]').waitFor();
  await page.click('#confirm-ok');
  await toast('Cursor reset').waitFor();
  await eventually(async () => (await cellText(id, 'c-status')) === 'starts over', 'starts over');
  assert.equal(await cellText(id, 'c-synced'), 'just now');
  assert.doesNotMatch(await row(id).innerText(), /never/);
  await shots('10-reset-starts-over');
  dropSource(id);
});

test('history: "Show more" past 10 entries; a deleted source\'s history stays reachable', async () => {
  for (let i = 0; i < 14; i++) {
    sql(`INSERT INTO kb_rest_audit (actor, action, source_id, tenant_id, outcome, detail)
         VALUES ('admin', 'update', :'p1', :'p2', 'ok', :'p3'::jsonb);`,
    [a, TENANT, JSON.stringify({ changed: ['config'], config: { maxPages: { from: i, to: i + 1 } } })]);
  }
  const hist = row(a).locator('details.history');
  await hist.locator('summary').click();
  const e = hist.locator('li.history-entry');
  await eventually(async () => (await e.count()) === 10, 'ten entries');
  assert.equal(await e.first().locator('.history-text').innerText(), 'maxPages 13 → 14');
  await hist.locator('.history-more').click();
  await eventually(async () => (await e.count()) === 17, 'all 17 entries (create, 2 syncs, 14 edits)');
  assert.equal(await hist.locator('.history-more').count(), 0);
  assert.equal(await e.last().locator('.history-action').innerText(), 'Created');
  await shots('11-history-more', { full: true });
  await hist.locator('summary').click();

  await row(a).locator('[data-action="delete"]').click();
  await page.locator('#confirm-dialog[open]').waitFor();
  await page.click('#confirm-ok');
  const t = toast(`Deleted “${titleA}”`);
  await t.waitFor();
  await t.locator('a').click();
  await page.waitForURL(/\?audit=/);
  await page.locator('#audit-view:not([hidden])').waitFor();
  const ae = page.locator('#audit-body li.history-entry');
  await eventually(async () => (await ae.count()) === 10, 'the trail');
  assert.equal(await page.locator('#audit-title').innerText(), `History of “${titleA}”`);
  assert.equal(await page.locator('#audit-sub').innerText(), `Source ${a} · deleted`);
  assert.equal(await ae.first().locator('.history-action').innerText(), 'Deleted');
  assert.equal(await page.isHidden('#table-wrap'), true);
  await shots('12-deleted-source-history', { full: true });
  // Without the toast's link: the page's "Deleted sources" lists it.
  await page.goto(`${BASE}/backoffice/rest-sources`);
  await page.click('#nav-deleted');
  await page.waitForURL(/\?deleted$/);
  await page.locator('#deleted-view:not([hidden])').waitFor();
  const gone = page.locator(`#deleted-body li.deleted-entry[data-id="${a}"]`);
  await gone.waitFor();
  assert.match((await gone.innerText()).replace(/\s+/g, ' '), new RegExp(`^${titleA} deleted just now by admin · \\d[\\d,]* chunks? removed$`));
  assert.equal(await page.isHidden('#table-wrap'), true);
  await shots('15-deleted-sources', { show: `#deleted-body li.deleted-entry[data-id="${a}"]` });
  await gone.locator('a').click();
  await page.waitForURL(new RegExp(`\\?audit=${a}$`));
  await eventually(async () => (await page.locator('#audit-body li.history-entry').count()) === 10, 'its history');
  assert.equal(await page.locator('#audit-title').innerText(), `History of “${titleA}”`);
  await page.goto(`${BASE}/backoffice/rest-sources`);
  assert.deepEqual(pageErrors, []);
});

test('a timeout says which limit it hit, and the hint how to change it', async () => {
  const id = createSource(`Slow ${RUN}`, dummyConfig({
    baseUrl: `${UPSTREAM}/page/slow/products`, queryTemplate: { ms: '1500' }, timeoutMs: 500,
  }));
  await page.click('#refresh');
  await row(id).waitFor();
  await row(id).locator('[data-action="sync"]').click();
  await eventually(async () => (await cellText(id, 'c-status')) === 'error', 'the timeout');
  const hint = row(id).locator('.err-limit');
  assert.equal(await hint.innerText(),
    'The source\'s request timeout (timeoutMs = 500 ms) was hit: raise "timeoutMs" in the config (at most 15,000 ms).');
  await clearToasts();
  await shots('16-limit-request-timeout', { show: `tr[data-id="${id}"] .err-limit` });
  // The batch's deadline, as http_fetch.c words it (tests/unit/test_fetch.c).
  sql(`UPDATE kb_rest_cursors SET last_error = :'p2' WHERE source_id = :'p1';`, [id,
    'timed out after 1500 ms at the batch deadline (1500 ms were left of the batch when the request started; the request timeout, timeoutMs, is 4000 ms)']);
  await page.click('#refresh');
  await eventually(async () => /batch deadline/.test(await hint.innerText()), 'the deadline hint');
  assert.equal(await hint.innerText(), 'The batch deadline (20 s for the whole batch, retries included) was hit after 1,500 ms of this request, '
    + 'before its own timeout (timeoutMs = 4,000 ms): it cannot be raised; lower "timeoutMs" or "defaultPageSize" so that a batch fits.');
  await clearToasts();
  await shots('17-limit-batch-deadline', { show: `tr[data-id="${id}"] .err-limit` });
  dropSource(id);
});

test('Next cursor shows the part that changes; at 420 px cards are compact and tap targets 40 px', async () => {
  const id = createSource(`Links ${RUN}`, {
    baseUrl: `${UPSTREAM}/styles/links/items`, cursorStyle: 'link', pageSizeParam: 'limit', defaultPageSize: 5,
    itemsPath: 'items', textFields: ['title'], titleField: 'title',
  });
  assert.equal((await lib.batch(id)).status, 200);
  await page.click('#refresh');
  await row(id).waitFor();
  const cur = row(id).locator('td.c-cursor code');
  await eventually(async () => (await cur.count()) === 1, 'the cursor');
  const full = await cur.getAttribute('title');
  assert.equal(full, `${UPSTREAM}/styles/links/items?limit=5&page=2`);
  assert.equal(await cur.innerText(), '?limit=5&page=2');

  await page.setViewportSize({ width: 420, height: 900 });
  const card = await row(id).boundingBox();
  // About half the 560 px of before (twice as many cards per screen),
  // with the last run's line and the Search and Items actions.
  assert.ok(card.height <= 300, `a synced card is compact (${card.height} px)`);
  const small = await page.evaluate(() => [...document.querySelectorAll(
    '#rows tr:not([hidden]) button, #rows tr:not([hidden]) summary, #rows tr:not([hidden]) a, .page-actions button, .page-actions input')]
    .filter((e) => e.getClientRects().length)
    .map((e) => { const r = e.getBoundingClientRect(); return [e.textContent.trim().slice(0, 20) || e.id, Math.round(r.width), Math.round(r.height)]; })
    .filter(([, w, hh]) => w < 40 || hh < 40));
  assert.deepEqual(small, [], 'every tap target is at least 40 x 40 px');
  await shots('13-compact-cards');
  await page.setViewportSize({ width: 1440, height: 900 });
  dropSource(id);
});

test('clean up the second source', () => dropSource(b));
