// POST-body paging (config method "POST" + bodyTemplate, common/pipeline/bodytpl.c)
// against a Notion-like databases/query imitation
// (tests/upstream/routes/incremental.mjs): the cursor and the page size go
// into the JSON body with their JSON types, validators still apply per
// page, the preview POSTs too, and the API key in the body never reaches
// a log, last_error or the audit trail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TENANT, UPSTREAM, VAR, call, createSource, one, putSecret, sql, syncToEnd } from './lib.mjs';

const RUN = `pb${process.pid}`;
const KEY = 'notion-key-7f3a9c';
const PROVIDER = `notion-${process.pid}`;

const control = async (ds, cmd) => {
  const r = await fetch(`${UPSTREAM}/incr/control`, { method: 'POST', body: JSON.stringify({ ds: `${RUN}-${ds}`, ...cmd }) });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return JSON.parse(text);
};
async function requests(ds) {
  const log = await control(ds, { op: 'log' });
  await control(ds, { op: 'forget' });
  return log;
}

const FILTER = { property: 'Status', select: { equals: 'Done' } };

function config(ds, extra = {}) {
  return {
    baseUrl: `${UPSTREAM}/incr/notion/query`, queryTemplate: { ds: `${RUN}-${ds}` }, method: 'POST',
    cursorStyle: 'cursor', nextCursorPath: 'next_cursor', hasMorePath: 'has_more', itemsPath: 'results',
    defaultPageSize: 3, requiresAuth: true, provider: PROVIDER, ifNoneMatchHeader: true,
    bodyTemplate: { start_cursor: '{{cursor}}', page_size: '{{pageSize}}', auth: '{{API_KEY}}', filter: FILTER },
    textFields: ['title', 'body'], titleField: 'title', ...extra,
  };
}
const body = (cursor, size = 3) => ({ start_cursor: cursor, page_size: size, auth: KEY, filter: FILTER });

test('a Notion-like cursor walk: the cursor in the body, typed; exact requests and counts', async () => {
  putSecret(PROVIDER, { api_key: KEY });
  await control('walk', { op: 'seed', n: 7 });
  await control('walk', { op: 'forget' });
  const id = createSource('POST body walk', config('walk'));
  const out = await syncToEnd(id);
  assert.deepEqual(out.map((b) => [b.status, b.json.items, b.json.next, b.json.done]),
    [[200, 3, 'c-4', false], [200, 3, 'c-7', false], [200, 1, null, true]]);
  const log = await requests('walk');
  assert.deepEqual(log.map((r) => [r.method, r.query, r.contentType, r.inm]), Array(3).fill(
    ['POST', { ds: `${RUN}-walk` }, 'application/json', null]));
  // The first page's cursor is null, the page size a number.
  assert.deepEqual(log.map((r) => r.body), [body(null), body('c-4'), body('c-7')]);
  assert.equal(+one(`SELECT count(*) FROM kb_rest_items WHERE source_id = :'p1';`, [id]), 7);
  assert.equal(+one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]), 7);
  // The URL shown carries no cursor (it is in the body).
  assert.equal(out[1].json.url, `${UPSTREAM}/incr/notion/query?ds=${RUN}-walk`);

  // A second walk: every page answers 304 to its validators.
  const r = await call('/api/backoffice/rest-sources-reset', { body: { sourceId: id } });
  assert.equal(r.status, 200, r.text);
  const again = await syncToEnd(id);
  assert.deepEqual(again.map((b) => [b.status, b.json.notModified, b.json.items, b.json.done]),
    [[200, true, 3, false], [200, true, 3, false], [200, true, 1, true]]);
  const log2 = await requests('walk');
  assert.deepEqual(log2.map((x) => x.body), [body(null), body('c-4'), body('c-7')], 'the same body for each page');
  assert.ok(log2.every((x) => /^"n[0-9a-f]+"$/.test(x.inm)), JSON.stringify(log2.map((x) => x.inm)));
  const run = sql(`SELECT items, unchanged_items, new_items, sweep FROM kb_rest_runs WHERE source_id = :'p1'
                   ORDER BY started_at DESC LIMIT 1;`, [id]);
  assert.deepEqual(run, [['7', '7', '0', 'done']]);
  assert.equal(+one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]), 7);
});

test('a retried page sends the same body again', async () => {
  await control('retry', { op: 'seed', n: 2 });
  await control('retry', { op: 'forget' });
  await control('retry', { op: 'fail', n: 2 });
  const id = createSource('POST body retry', config('retry'));
  const out = await syncToEnd(id);
  assert.deepEqual(out.map((b) => [b.status, b.json.items, b.json.attempts, b.json.done]), [[200, 2, 3, true]]);
  const log = await requests('retry');
  assert.deepEqual(log.map((x) => x.body), [body(null), body(null), body(null)]);
});

test('the preview POSTs the first page body', async () => {
  await control('preview', { op: 'seed', n: 5 });
  await control('preview', { op: 'forget' });
  const r = await call('/api/backoffice/rest-preview', { body: { tenantId: TENANT, config: config('preview'), apiKey: KEY } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.json.items, r.json.next, r.json.done], [3, 'c-4', false]);
  assert.ok(!r.text.includes(KEY));
  const log = await requests('preview');
  assert.deepEqual(log.map((x) => [x.method, x.body]), [['POST', body(null)]]);
});

test('wrong bodyTemplate, placeholders or method: 400 naming the key', async () => {
  const bad = [
    [{ bodyTemplate: ['{{cursor}}'] }, /'bodyTemplate' must be a JSON object/],
    [{ bodyTemplate: { q: { and: ['{{cursr}}'] } } }, /'bodyTemplate' at q\.and\[0\]: unknown placeholder '\{\{cursr\}\}'/],
    [{ bodyTemplate: { start_cursor: '{{cursor' } }, /'bodyTemplate' at start_cursor: '\{\{' without '\}\}'/],
    [{ bodyTemplate: { page_size: '{{pageSize}}' } }, /'bodyTemplate' must hold \{\{cursor\}\}/],
    [{ bodyTemplate: null }, /'method' 'POST' needs 'bodyTemplate'/],
    [{ method: 'PATCH' }, /'method' must be 'GET' or 'POST'/],
    [{ method: 'GET' }, /'bodyTemplate' needs 'method': 'POST'/],
    [{ cursorParam: 'start_cursor' }, /'cursorParam' does not apply with 'method' 'POST'/],
    [{ pageSizeParam: 'page_size' }, /'pageSizeParam' does not apply with 'method' 'POST'/],
    [{ cursorStyle: 'link' }, /'cursorStyle' 'link' follows next URLs/],
  ];
  for (const [patch, re] of bad) {
    const r = await call('/api/backoffice/rest-sources', { body: { tenantId: TENANT, title: 'Bad POST', config: config('bad', patch) } });
    assert.equal(r.status, 400, JSON.stringify(patch));
    assert.match(r.json.error, re);
  }
});

test('the API key in the body never reaches logs, last_error or the audit trail', async () => {
  await control('leak', { op: 'seed', n: 4 });
  // The imitation refuses page_size 101 and echoes the request body.
  const id = createSource('POST body leak', config('leak', { defaultPageSize: 101 }));
  const r = await call('/api/backoffice/rest-batch', { body: { sourceId: id } });
  assert.equal(r.status, 502, r.text);
  assert.ok(!r.text.includes(KEY), r.text);
  const [err] = sql(`SELECT last_error FROM kb_rest_cursors WHERE source_id = :'p1';`, [id])[0];
  assert.match(err, /HTTP 400/);
  assert.match(err, /\[redacted\]/, 'the echoed key is redacted');
  assert.ok(!err.includes(KEY), err);
  const log = await requests('leak');
  assert.equal(log[0].body.auth, KEY, 'the key was sent in the body');
  // A good walk too, then search everything restsync wrote.
  const ok = createSource('POST body ok', config('leak'));
  await syncToEnd(ok);
  for (const [what, q] of [
    ['audit', `SELECT count(*) FROM kb_rest_audit WHERE detail::text LIKE '%' || :'p1' || '%';`],
    ['cursors', `SELECT count(*) FROM kb_rest_cursors WHERE coalesce(last_error, '') || coalesce(next_cursor, '') LIKE '%' || :'p1' || '%';`],
    ['runs', `SELECT count(*) FROM kb_rest_runs WHERE coalesce(error, '') || coalesce(sweep_note, '') LIKE '%' || :'p1' || '%';`],
    ['chunks', `SELECT count(*) FROM kb_chunks WHERE metadata::text LIKE '%' || :'p1' || '%';`],
  ]) assert.equal(one(q, [KEY]), '0', what);
  const logs = path.join(VAR, 'log');
  for (const f of fs.readdirSync(logs)) {
    const p = path.join(logs, f);
    if (fs.statSync(p).isFile()) assert.ok(!fs.readFileSync(p, 'latin1').includes(KEY), `${f} holds the key`);
  }
});

test('{{since}}: an incremental POST source puts the run\'s since into the body (Notion\'s last_edited_time filter), nothing into the URL', async () => {
  putSecret(PROVIDER, { api_key: KEY });
  await control('since', { op: 'seed', n: 5 });
  await control('since', { op: 'forget' });
  const filter = { timestamp: 'last_edited_time', last_edited_time: { on_or_after: '{{since}}' } };
  const id = createSource('POST body since', config('since', {
    bodyTemplate: { start_cursor: '{{cursor}}', page_size: '{{pageSize}}', auth: '{{API_KEY}}', filter },
    incremental: { cursorPath: 'updated_at', initialValue: '2026-01-01T00:00:00Z', lookbackSeconds: 60 },
  }));
  const sent = (since, cursor) => ({ start_cursor: cursor, page_size: 3, auth: KEY,
    filter: { timestamp: 'last_edited_time', last_edited_time: { on_or_after: since } } });
  // The first run is full: initialValue goes where {{since}} stands.
  const first = await syncToEnd(id);
  assert.deepEqual(first.map((b) => [b.status, b.json.items, b.json.done]), [[200, 3, false], [200, 2, true]]);
  let log = await requests('since');
  assert.deepEqual(log.map((r) => r.body), [sent('2026-01-01T00:00:00Z', null), sent('2026-01-01T00:00:00Z', 'c-4')]);
  assert.ok(log.every((r) => JSON.stringify(r.query) === JSON.stringify({ ds: `${RUN}-since` })), 'no since in the URL');
  // Item 2 changes; the next walk is incremental: since = mark (item 5's
  // 00:05) − 60 s, and only items 2, 4 and 5 come.
  await control('since', { op: 'edit', id: 2, patch: { body: 'Record two, edited.', updated_at: '2026-01-01T00:09:00Z' } });
  const r = await call('/api/backoffice/rest-sources-reset', { body: { sourceId: id, keepMark: true } });
  assert.equal(r.status, 200, r.text);
  const second = await syncToEnd(id);
  assert.deepEqual(second.map((b) => [b.status, b.json.items, b.json.done]), [[200, 3, true]]);
  log = await requests('since');
  assert.deepEqual(log.map((x) => x.body), [sent('2026-01-01T00:04:00Z', null)]);
  const run = sql(`SELECT incremental, incr_since, items, changed_items, unchanged_items FROM kb_rest_runs
                   WHERE source_id = :'p1' ORDER BY started_at DESC LIMIT 1;`, [id])[0];
  assert.deepEqual(run, ['t', '2026-01-01T00:04:00Z', '3', '1', '2']);
  assert.deepEqual(sql(`SELECT replace(c.content, E'\\n', ' | ') FROM kb_rest_items i JOIN kb_chunks c ON c.source_id = i.source_id
                        AND c.content_hash = ANY (i.chunk_hashes) WHERE i.source_id = :'p1' AND i.item_key = 'id:2';`, [id]),
    [['title: Record 2 | body: Record two, edited.']]);
  // The preview POSTs a first full run's body.
  const p = await call('/api/backoffice/rest-preview', { body: { tenantId: TENANT, config: config('since', {
    bodyTemplate: { start_cursor: '{{cursor}}', page_size: '{{pageSize}}', auth: '{{API_KEY}}', filter },
    incremental: { cursorPath: 'updated_at', initialValue: '2026-01-01T00:03:00Z' },
  }) } });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.items, 3);
  assert.deepEqual((await requests('since')).map((x) => x.body), [sent('2026-01-01T00:03:00Z', null)]);
  // {{since}} without incremental, and incremental with neither param nor {{since}}: 400 naming the key.
  for (const [extra, msg] of [
    [{ bodyTemplate: { start_cursor: '{{cursor}}', after: '{{since}}' } }, /'bodyTemplate' holds \{\{since\}\}, which needs 'incremental'/],
    [{ incremental: { cursorPath: 'updated_at' } }, /'incremental\.param' must be a parameter name .*\{\{since\}\} in 'bodyTemplate'/],
  ]) {
    const bad = await call('/api/backoffice/rest-sources', { body: { tenantId: TENANT, title: 'Bad since', config: config('since', extra) } });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.json.error, msg);
  }
});
