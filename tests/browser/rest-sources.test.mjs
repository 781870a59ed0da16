// The operator page in a real browser: Debian's chromium, headless, driven
// by playwright-core.  Needs the test stack of scripts/test.sh (nginx on
// $PORT, upstream imitations on $RS_UPSTREAM_PORT, state in $RS_VAR).
//
// Walks the operator workflow (add through the form, Sync, Sync to end with
// Stop and a 409 from a concurrent batch, Reset, the History of these
// actions, Delete) and syncs a source
// whose title, items, cursor and error body are script and event-handler
// payloads, asserting that none of them runs.  Screenshots of the main
// states go to tests/out/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const { eventually, openPage } = await import('./harness.mjs');
const lib = await import('../integration/lib.mjs');
const { BASE, UPSTREAM, TENANT, ADMIN, DB, one, sql, ensureTenant, dummyConfig, cursorRow, counts, ROOT } = lib;

const SHOTS = path.join(ROOT, 'tests/out/screenshots');
const RUN = Date.now().toString(36);
let browser;
let page;
let dialogs;
let pageErrors;
let cspErrors;

async function shot(name, { full = true } = {}) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: full });
}

const esc = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const row = (id) => page.locator(`tr[data-id="${id}"]`);
// A cell's text; the Items cell without the last run's summary lines.
const cellText = async (id, cls) => (await row(id).locator(`td.${cls}`).evaluate((el) => {
  const c = el.cloneNode(true);
  c.querySelectorAll('.run-summary, .sweep-held').forEach((x) => x.remove());
  document.body.appendChild(c);
  const t = c.innerText;
  c.remove();
  return t;
})).replace(/\s+/g, ' ').trim();
const toast = (text) => page.locator('.toast', { hasText: text });
// The "N of M" line of the Items cell (the last run's summary follows it).
const itemsCount = async (id) => (await row(id).locator('.items-count').innerText()).replace(/\s+/g, ' ').trim();

// Hold the batch lock of a source from another session for ms.
function holdLock(id, ms) {
  const p = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', DB], { stdio: ['pipe', 'ignore', 'inherit'] });
  p.stdin.end(`SELECT pg_advisory_lock(hashtextextended('restsync:source:' || '${id}', 0)); SELECT pg_sleep(${ms / 1000});\n`);
  return new Promise((res) => p.on('close', res));
}

async function lockHeld(id) {
  return one(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
              AND objid = (hashtextextended('restsync:source:' || :'p1', 0) & 4294967295)::oid;`, [id]) === '1';
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  ensureTenant();
  browser = await openPage({ base: BASE, admin: ADMIN });
  ({ page, dialogs, pageErrors, cspErrors } = browser);
});

after(async () => {
  await browser?.close();
});

test('the page loads under its CSP with the security headers', async () => {
  const r = await fetch(`${BASE}/backoffice/rest-sources`, {
    headers: { Authorization: `Basic ${Buffer.from(ADMIN.join(':')).toString('base64')}` },
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-security-policy'), /default-src 'self'/);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
  const html = await r.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
  assert.doesNotMatch(html, /\sstyle=|<style/i, 'no inline style');
  assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handlers');
  assert.equal(await page.title(), 'REST sources · restsync backoffice');
  assert.equal(await page.locator('h1').innerText(), 'REST sources');
  await shot('01-list', { full: false });
});

test('keyboard: Add source opens a labelled dialog, Escape closes it', async () => {
  await page.focus('#add');
  await page.keyboard.press('Enter');
  await page.locator('#source-dialog[open]').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'f-title');
  for (const id of ['f-tenant', 'f-title', 'f-config', 'f-apikey', 'f-enabled']) {
    const label = await page.locator(`label[for="${id}"]`).count();
    assert.equal(label, 1, `${id} has a label`);
  }
  await page.keyboard.press('Escape');
  await page.locator('#source-dialog[open]').waitFor({ state: 'detached' });
});

let id;
let title = `Browser DummyJSON ${RUN}`;

test('add a DummyJSON source through the form; server errors name the field', async () => {
  await page.click('#add');
  await page.locator('#source-dialog[open]').waitFor();
  await page.selectOption('#f-tenant', TENANT);
  await page.fill('#f-title', title);
  // First an invalid config: the server's message names the key.
  await page.fill('#f-config', JSON.stringify(dummyConfig({ baseUrl: 'ftp://example.com/x' }), null, 2));
  await page.click('#f-save');
  await page.locator('#form-error:not([hidden])').waitFor();
  assert.match(await page.locator('#form-error').innerText(), /^config: 'baseUrl' must be an absolute http or https URL/);
  assert.equal(await page.getAttribute('#f-config', 'aria-invalid'), 'true');
  assert.equal(one(`SELECT count(*) FROM kb_sources WHERE title = :'p1';`, [title]), '0');
  await shot('02-form-error', { full: false });

  await page.fill('#f-config', JSON.stringify(dummyConfig(), null, 2));
  await page.click('#f-save');
  await toast(`Added “${title}”`).waitFor();
  assert.equal(await page.locator('#source-dialog[open]').count(), 0);
  id = one(`SELECT id FROM kb_sources WHERE title = :'p1';`, [title]);
  assert.ok(id, 'the source is in the database');
  assert.equal(one(`SELECT config->>'baseUrl' FROM kb_sources WHERE id = :'p1';`, [id]), `${UPSTREAM}/dummyjson/products`);
  await row(id).waitFor();
  // The filter box narrows the table to this run's sources.
  await page.fill('#filter', RUN);
  await eventually(async () => (await page.locator('#rows tr:not([hidden])').count()) === 1, 'the filtered row');
  assert.match(await page.locator('#summary').innerText(), / · 1 shown$/);
  assert.equal(await row(id).isVisible(), true);
  assert.match(await cellText(id, 'c-source'), new RegExp(`${esc(title)} .*${esc(UPSTREAM)}/dummyjson/products`));
  assert.equal(await cellText(id, 'c-status'), 'never synced');
});

test('Sync: "Syncing…" while it runs, then a toast and the row updates in place', async () => {
  const marker = await row(id).evaluateHandle((tr) => { tr.dataset.marker = 'same-element'; return tr; });
  // Hold the request a moment so the running state is observable.
  await page.route('**/api/backoffice/rest-batch', async (route) => {
    await new Promise((r) => setTimeout(r, 700));
    await route.continue().catch(() => {});
  });
  await row(id).locator('[data-action="sync"]').click();
  const btn = row(id).locator('[data-action="sync"]');
  assert.equal(await btn.innerText(), 'Syncing…');
  assert.equal(await btn.isDisabled(), true);
  assert.equal(await cellText(id, 'c-status'), 'syncing');
  await page.unrouteAll({ behavior: 'wait' });

  const t = toast('Fetched 50 items');
  await t.waitFor();
  assert.equal(await t.locator('.toast-detail').innerText(), `${UPSTREAM}/dummyjson/products?limit=50&skip=0 → 50`);
  await eventually(async () => (await itemsCount(id)) === '50 of 194', 'items 50 of 194');
  assert.equal(await cellText(id, 'c-status'), 'ok');
  // Chunks come with the batch answer, docs with the list fetched after it.
  await eventually(async () => (await cellText(id, 'num.c-chunks')) === '50 1 doc', 'chunks 50, 1 doc');
  assert.equal(await row(id).locator('td[data-label="Pages"]').innerText(), '1');
  assert.equal(await cellText(id, 'c-http'), '200');
  assert.equal(await cellText(id, 'c-cursor'), '50');
  assert.equal(await cellText(id, 'c-synced'), 'just now');
  assert.match(await row(id).locator('time').getAttribute('title'), /\d{4}-\d\d-\d\dT/);
  assert.equal(await row(id).locator('progress').getAttribute('max'), '194');
  assert.equal(await btn.innerText(), 'Sync');
  // Updated in place: the same element, no reload.
  assert.equal(await marker.evaluate((tr) => tr.isConnected && tr.dataset.marker), 'same-element');
  assert.deepEqual(counts(id), { docs: 1, chunks: 50 });
  await shot('03-synced');
});

test('Sync to end: a server-side run with its progress; Stop ends it after the page in flight', async () => {
  // A slow API (500 ms a page), so that Stop comes while a page is in flight.
  sql(`UPDATE kb_sources SET config = jsonb_set(config, '{queryTemplate}', '{"delay": "500"}') WHERE id = :'p1';`, [id]);
  await row(id).locator('[data-action="all"]').click();
  const stop = row(id).locator('[data-action="stop"]');
  await stop.waitFor();
  assert.equal(await cellText(id, 'c-status'), 'syncing');
  assert.match(await cellText(id, 'c-items'), /syncing to end · (starting…|page \d)/);
  assert.equal(await row(id).locator('[data-action="sync"]').isDisabled(), true);
  assert.equal(await row(id).locator('[data-action="delete"]').isDisabled(), true);
  const runId = await eventually(() => one(`SELECT id FROM kb_rest_runs WHERE source_id = :'p1' AND server AND status = 'running';`, [id]), 'the run');
  await shot('04-sync-to-end-running');
  const atClick = +one(`SELECT pages FROM kb_rest_runs WHERE id = :'p1';`, [runId]);
  await stop.click();
  assert.equal(await stop.innerText(), 'Stopping…');
  await toast('Sync to end stopped').waitFor({ timeout: 10000 });
  const [status, pages] = sql(`SELECT status, pages FROM kb_rest_runs WHERE id = :'p1';`, [runId])[0];
  assert.equal(status, 'stopped');
  assert.ok(+pages <= atClick + 1, `at most the page in flight after Stop (${atClick} then ${pages})`);
  await new Promise((r) => setTimeout(r, 800));
  // The run took over the walk the Sync click began: its pages are the walk's.
  assert.equal(cursorRow(id).items, 50 * +pages, 'nothing after the stop');
  assert.equal(await row(id).locator('[data-action="all"]').isEnabled(), true);
  sql(`UPDATE kb_sources SET config = config - 'queryTemplate' WHERE id = :'p1';`, [id]);
});

test('Sync to end goes on without the page: closed mid-run, reopened, it shows the run and its end', async () => {
  // From the first page, 10 items and 5 s a page (timeoutMs above it):
  // twenty pages (100 s), so that the run is still going when the page
  // is reopened and the API stops it, however slow the machine.
  sql(`UPDATE kb_sources SET config = jsonb_set(jsonb_set(jsonb_set(config, '{queryTemplate}', '{"delay": "5000"}'),
         '{timeoutMs}', '9000'), '{defaultPageSize}', '10') WHERE id = :'p1';
       UPDATE kb_rest_cursors SET next_cursor = NULL, done = false, page_count = 0, item_count = 0, run_id = NULL
       WHERE source_id = :'p1';`, [id]);
  await page.reload();
  await row(id).locator('[data-action="all"]').click();
  const running = () => one(`SELECT pages FROM kb_rest_runs WHERE source_id = :'p1' AND server AND status = 'running';`, [id]);
  await eventually(() => +running() >= 1, 'the first page of the run', 20000);
  // "Close the tab": leave the page; the worker goes on.
  await page.goto('about:blank');
  await eventually(() => +running() >= 2, 'a page stored with no page open', 25000);
  await page.goto(`${BASE}/backoffice/rest-sources`);
  await eventually(async () => /syncing to end · page \d+ · \d+ items/.test(await cellText(id, 'c-items')), 'the run followed again');
  await shot('04b-sync-to-end-reopened');
  // Stopped from elsewhere (another operator, the API): the page that
  // follows the run sees it end and offers Sync to end again.
  const stop = await lib.call('/api/backoffice/rest-sync-stop', { body: { sourceId: id } });
  assert.equal(stop.status, 200, stop.text);
  await eventually(() => one(`SELECT count(*) FROM kb_rest_runs WHERE source_id = :'p1' AND status = 'stopped' AND server;`, [id]) !== '0',
    'the run stopped', 15000);
  await row(id).locator('[data-action="all"]').waitFor({ timeout: 15000 });
  // Back to the seed's config and the first page: the next test walks
  // the four pages of 50 from the start.
  sql(`UPDATE kb_sources SET config = jsonb_set(config - 'queryTemplate' - 'timeoutMs', '{defaultPageSize}', '50')
       WHERE id = :'p1';
       UPDATE kb_rest_cursors SET next_cursor = NULL, done = false, page_count = 0, item_count = 0, run_id = NULL
       WHERE source_id = :'p1';`, [id]);
});

test('Sync to end waits out a 409 from another batch, then completes with 194 items', async () => {
  const holding = holdLock(id, 2500);
  await eventually(() => lockHeld(id), 'the concurrent lock');
  await row(id).locator('[data-action="all"]').click();
  await eventually(async () => (await cellText(id, 'c-items')).includes('another batch is running'), 'the waiting state');
  await shot('05-sync-to-end-waiting');
  await holding;
  const done = toast('Completed: 194 items');
  await done.waitFor({ timeout: 20000 });
  await eventually(async () => (await itemsCount(id)) === '194 of 194', 'items 194 of 194');
  // Complete: "Sync again" (a new run from the first page) instead of Sync.
  const again = row(id).locator('[data-action="again"]');
  assert.equal(await again.innerText(), 'Sync again');
  assert.equal(await again.isEnabled(), true);
  assert.equal(await row(id).locator('[data-action="sync"]').count(), 0);
  assert.equal(await row(id).locator('[data-action="all"]').count(), 0);
  assert.equal(await cellText(id, 'c-status'), 'done');
  assert.equal(await cellText(id, 'c-cursor'), 'end reached');
  const cur = cursorRow(id);
  assert.deepEqual([cur.items, cur.pages, cur.done, cur.status], [194, 4, true, 'done']);
  assert.deepEqual(counts(id), { docs: 1, chunks: 194 });
  await shot('06-completed');
});

test('Reset asks first, then starts over and keeps the chunks', async () => {
  await row(id).locator('[data-action="reset"]').click();
  await page.locator('#confirm-dialog[open]').waitFor();
  assert.match(await page.locator('#confirm-body').innerText(), /194 chunks already stored stay/);
  // Cancel changes nothing.
  await page.click('#confirm-cancel');
  assert.equal(cursorRow(id).items, 194);

  await row(id).locator('[data-action="reset"]').click();
  await page.locator('#confirm-dialog[open]').waitFor();
  await page.click('#confirm-ok');
  await toast('Cursor reset').waitFor();
  const cur = cursorRow(id);
  assert.deepEqual([cur.next, cur.pages, cur.items, cur.done, cur.status], [null, 0, 0, false, '']);
  assert.deepEqual(counts(id), { docs: 1, chunks: 194 });
  await eventually(async () => (await itemsCount(id)) === '0 of 194', 'items 0 of 194');
  // It has synced before: it starts over, it is not "never synced".
  assert.equal(await cellText(id, 'c-status'), 'starts over');
  assert.equal(await row(id).locator('[data-action="sync"]').innerText(), 'Sync');
  await shot('07-reset');
});

test('History: the audit trail of the row, newest first, as text', async () => {
  const hist = row(id).locator('details.history');
  assert.equal(await hist.getAttribute('open'), null, 'closed at first');
  await hist.locator('summary').click();
  const entries = hist.locator('li.history-entry');
  // What the workflow above did, as the audit trail has it: add, Sync,
  // two server-side runs (started, their pages by a worker, stopped),
  // a third run to the end, Reset; newest first, the last 10.
  const trail = sql(`SELECT action, outcome, actor FROM kb_rest_audit WHERE source_id = :'p1' ORDER BY at DESC, id DESC LIMIT 10;`, [id]);
  await eventually(async () => (await entries.count()) === trail.length, `${trail.length} entries`);
  const rows = [];
  for (let i = 0; i < trail.length; i++) {
    const e = entries.nth(i);
    rows.push([await e.locator('.history-action').innerText(), await e.locator('.history-outcome').innerText(),
      await e.locator('.history-actor').innerText(), await e.locator('.history-text').innerText()]);
  }
  const LABEL = { reset: 'Reset', run: 'Run page', 'run-start': 'Sync to end started', 'run-stop': 'Stop asked', sync: 'Sync', create: 'Created' };
  assert.deepEqual(rows.map((r) => [r[0], r[1], r[2]]), trail.map(([a, o, who]) => [LABEL[a] || a, o, who]));
  assert.deepEqual(rows[0], ['Reset', 'ok', 'admin', 'started over (was at 4 pages, 194 items)']);
  const done = rows.find((r) => r[0] === 'Run page' && r[1] === 'done');
  assert.match(done[2], /^worker@/);
  assert.equal(done[3], '44 items (44 new) → 44 chunks: 44 new · HTTP 200');
  assert.ok(rows.some((r) => r[0] === 'Sync to end started' && r[2] === 'admin' && /^started a run/.test(r[3])));
  // When: relative, the exact time on hover.
  const t = entries.first().locator('time');
  assert.equal(await t.innerText(), 'just now');
  assert.match(await t.getAttribute('title'), /\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\)$/);
  assert.match(await t.getAttribute('datetime'), /^\d{4}-\d\d-\d\dT/);
  await shot('07b-history');

  // It stays open across a re-render and follows the next action.
  await row(id).locator('[data-action="sync"]').click();
  await toast('Fetched 50 items').last().waitFor();
  await eventually(async () => (await entries.first().locator('.history-action').innerText()) === 'Sync', 'the new batch in the history');
  assert.equal(await hist.getAttribute('open'), '');
  assert.equal(await entries.first().locator('.history-action').innerText(), 'Sync');
  // The items did not change: nothing chunked or embedded again.
  assert.equal(await entries.first().locator('.history-text').innerText(), '50 items (50 unchanged) → 0 chunks · HTTP 200');
  await hist.locator('summary').click();
  assert.equal(await hist.getAttribute('open'), null);
});

test('Edit: the title changes in place; the API key is write-only', async () => {
  const provider = `browser-${RUN}`;
  const key = `k-browser-${RUN}`;
  await row(id).locator('[data-action="edit"]').click();
  await page.locator('#source-dialog[open]').waitFor();
  assert.equal(await page.locator('#source-dialog-title').innerText(), 'Edit source');
  assert.equal(await page.isDisabled('#f-tenant'), true);
  assert.equal(await page.inputValue('#f-title'), title);
  assert.deepEqual(JSON.parse(await page.inputValue('#f-config')), dummyConfig());
  assert.equal(await page.isHidden('#f-key-state'), true);
  title = `${title} (edited)`;
  await page.fill('#f-title', title);
  await page.fill('#f-config', JSON.stringify(dummyConfig({ provider }), null, 2));
  await page.fill('#f-apikey', key);
  await page.click('#f-save');
  await toast(`Saved “${title}”`).waitFor();
  await eventually(async () => (await cellText(id, 'c-source')).includes(title), 'the new title');
  assert.equal(one(`SELECT title FROM kb_sources WHERE id = :'p1';`, [id]), title);
  assert.equal(one(`SELECT count(*) FROM integration_secrets WHERE tenant_id = :'p1' AND provider = :'p2';`, [TENANT, provider]), '1');

  // Reopened: "a key is set", the field is empty, the key is nowhere in the page.
  await row(id).locator('[data-action="edit"]').click();
  await page.locator('#source-dialog[open]').waitFor();
  assert.equal(await page.isVisible('#f-key-state'), true);
  assert.equal(await page.inputValue('#f-apikey'), '');
  assert.equal(await page.evaluate((k) => document.documentElement.outerHTML.includes(k)
    || [...document.querySelectorAll('input, textarea')].some((e) => e.value.includes(k)), key), false);
  await shot('08-edit', { full: false });
  await page.click('#source-dialog [data-close]');
  await page.locator('#source-dialog[open]').waitFor({ state: 'detached' });
});

test('Delete names the source and the counts, then removes everything', async () => {
  await row(id).locator('[data-action="delete"]').click();
  await page.locator('#confirm-dialog[open]').waitFor();
  const body = await page.locator('#confirm-body').innerText();
  assert.match(body, new RegExp(`Delete ${esc(title)} of Test Tenant\\?`));
  assert.equal(await page.locator('#confirm-body .count-docs').innerText(), '1 doc');
  assert.equal(await page.locator('#confirm-body .count-chunks').innerText(), '194 chunks');
  await shot('09-delete-confirm', { full: false });
  await page.click('#confirm-ok');
  await toast(`Deleted “${title}”`).waitFor();
  assert.match(await toast(`Deleted “${title}”`).innerText(), /1 doc and 194 chunks removed/);
  await row(id).waitFor({ state: 'detached' });
  assert.deepEqual(counts(id), { docs: 0, chunks: 0 });
  assert.equal(cursorRow(id), null);
  assert.equal(one(`SELECT count(*) FROM kb_sources WHERE id = :'p1';`, [id]), '0');
  assert.equal(one(`SELECT count(*) FROM kb_chunks c LEFT JOIN kb_docs d ON d.id = c.doc_id WHERE d.id IS NULL;`), '0');
});

test('XSS: hostile title, items, cursor and error body are shown as text and never run', async () => {
  const evil = `<img src=x onerror="window.__xss='title'"><script>window.__xss='title2'</script> ${RUN}`;
  const cfg = {
    baseUrl: `${UPSTREAM}/page/xss/items`, cursorStyle: 'cursor', cursorParam: 'cursor',
    itemsPath: 'items', nextCursorPath: 'next_cursor', textFields: ['title', 'description'], titleField: 'title',
  };
  await page.click('#add');
  await page.locator('#source-dialog[open]').waitFor();
  await page.selectOption('#f-tenant', TENANT);
  await page.fill('#f-title', evil);
  await page.fill('#f-config', JSON.stringify(cfg, null, 2));
  await page.click('#f-save');
  await toast('Added').first().waitFor();
  const xid = one(`SELECT id FROM kb_sources WHERE title = :'p1';`, [evil]);
  assert.ok(xid);
  await row(xid).waitFor();

  // Page 1: items whose text is payloads, and a payload as next cursor.
  await row(xid).locator('[data-action="sync"]').click();
  await toast('Fetched 3 items').waitFor();
  const cursor = `<img src=x onerror="window.__xss = 'cursor'">`;
  await eventually(async () => (await cellText(xid, 'c-cursor')) === cursor, 'the hostile cursor as text');
  assert.equal(one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1' AND content LIKE '%<script>%';`, [xid]), '1');

  // Page 2: HTTP 500 with an HTML body full of payloads.
  await row(xid).locator('[data-action="sync"]').click();
  const err = toast('failed');
  await err.waitFor();
  assert.match(await err.innerText(), /upstream returned HTTP 500/);
  await eventually(async () => (await cellText(xid, 'c-status')) === 'error', 'error status');
  await row(xid).locator('details.err summary').click();
  const full = await row(xid).locator('.err-full').innerText();
  assert.match(full, /<script>window.__xss = "error"<\/script>/);
  assert.match(full, /onerror=/);
  assert.equal(await cellText(xid, 'c-http'), '500');

  // The history shows the hostile title and the error body as text too.
  await row(xid).locator('details.history summary').click();
  const hx = row(xid).locator('details.history li.history-entry');
  await eventually(async () => (await hx.count()) === 3, 'three history entries');
  assert.equal(await hx.nth(0).locator('.history-outcome').innerText(), 'error');
  assert.match(await hx.nth(0).locator('.history-text').innerText(), /<script>window.__xss = "error"<\/script>/);
  assert.equal(await hx.nth(2).locator('.history-text').innerText(), `created “${evil}”`);

  // Open the edit dialog too: the title goes into an input's value.
  await row(xid).locator('[data-action="edit"]').click();
  await page.locator('#source-dialog[open]').waitFor();
  assert.equal(await page.inputValue('#f-title'), evil);
  await shot('10-xss-edit', { full: false });
  await page.keyboard.press('Escape');

  await page.waitForTimeout(500);   // give any injected handler time to fire
  assert.match(await cellText(xid, 'c-source'), /<img src=x onerror=/);
  await shot('11-xss');
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'no payload ran');
  assert.deepEqual(dialogs, [], 'no alert/confirm/prompt opened');
  const injected = await page.evaluate(() => document.querySelectorAll(
    '#rows img, #rows script, #rows svg, #toasts img, #toasts script, #toasts svg, #source-dialog img').length);
  assert.equal(injected, 0, 'no element was created from data');
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(cspErrors, [], 'nothing was blocked by the CSP (nothing inline was attempted)');
  sql(`DELETE FROM kb_chunks WHERE source_id = :'p1'; DELETE FROM kb_docs WHERE source_id = :'p1';
       DELETE FROM kb_rest_cursors WHERE source_id = :'p1'; DELETE FROM kb_sources WHERE id = :'p1';`, [xid]);
});

test('a held sweep: the row says what would go, Confirm removes it', async () => {
  const ds = `br${RUN}-held`;
  const control = (cmd) => fetch(`${UPSTREAM}/mut/control`, { method: 'POST', body: JSON.stringify({ ds, ...cmd }) });
  await control({ op: 'seed', n: 8 });
  const sid = one(`INSERT INTO kb_sources (tenant_id, type, title, config) VALUES (:'p1', 'rest', :'p2', :'p3'::jsonb) RETURNING id;`, [TENANT,
    `Held sweep ${RUN}`, JSON.stringify({
      baseUrl: `${UPSTREAM}/mut/offset`, cursorStyle: 'offset', cursorParam: 'skip', pageSizeParam: 'limit', defaultPageSize: 5,
      itemsPath: 'items', totalPath: 'total', textFields: ['title', 'body'], queryTemplate: { ds },
    })]);
  const { batch, call } = lib;
  const toEnd = async () => { for (let i = 0; i < 10; i++) if ((await batch(sid)).json.done) return; };
  await toEnd();
  await control({ op: 'set', items: [] });
  assert.equal((await call('/api/backoffice/rest-sources-reset', { body: { sourceId: sid } })).status, 200);
  await toEnd();
  await page.reload();
  const held = row(sid).locator('.sweep-held');
  await held.waitFor();
  assert.match(await held.innerText(), /sweep held: would remove 8 of 8 items/);
  assert.match(await row(sid).locator('.run-summary').innerText(), /^\+0 new · 0 changed · 0 removed · 0 unchanged$/);
  assert.equal(counts(sid).chunks, 8, 'nothing removed while held');
  await shot('11-sweep-held');
  await held.locator('[data-action="sweep"]').click();
  await page.locator('#confirm-dialog[open]').waitFor();
  assert.match(await page.locator('#confirm-body').innerText(), /8 items and the chunks no other item holds leave/);
  await page.click('#confirm-ok');
  await toast('Removed 8 items').waitFor();
  assert.deepEqual(counts(sid), { docs: 0, chunks: 0 });
  await eventually(async () => (await row(sid).locator('.sweep-held').count()) === 0, 'the held note gone');
  // The History lists the runs and the confirmation.
  const hist = row(sid).locator('details.history');
  await hist.locator('summary').click();
  await eventually(async () => (await hist.locator('li.run-entry').count()) === 2, 'two runs');
  assert.match(await hist.locator('li.run-entry').first().innerText(), /sweep confirmed: removed 8 of 8 items, confirmed by an operator/);
  assert.equal(await hist.locator('li.history-entry').first().locator('.history-action').innerText(), 'Sweep confirmed');
  await shot('12-sweep-confirmed');
  await hist.locator('summary').click();
});

test('narrow window: one card per source, controls still reachable', async () => {
  await page.setViewportSize({ width: 420, height: 900 });
  await page.fill('#filter', 'Demo Tenant');   // the seeded demo sources
  await page.click('#refresh');
  await toast('Sources refreshed').waitFor();
  assert.ok(await page.locator('#rows tr:not([hidden])').count() >= 1);
  const display = await page.evaluate(() => getComputedStyle(document.querySelector('#rows tr:not([hidden])')).display);
  assert.equal(display, 'grid');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling (${overflow}px)`);
  await shot('12-narrow');
  await page.setViewportSize({ width: 1440, height: 900 });
});
