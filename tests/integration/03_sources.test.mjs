// The operator endpoints behind /backoffice/rest-sources: list, create,
// update, reset, delete, tenants — through nginx against PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  batch, call, counts, createSource, cursorRow, dummyConfig, ensureTenant, one, sql, syncToEnd,
  TENANT, UPSTREAM, VIEWER,
} from './lib.mjs';

const LIST = '/api/backoffice/rest-sources';
const UPDATE = '/api/backoffice/rest-sources-update';
const RESET = '/api/backoffice/rest-sources-reset';
const DELETE = '/api/backoffice/rest-delete';
const TENANTS = '/api/backoffice/tenants';
const NOSUCH = '00000000-0000-4000-8000-00000000dead';

async function list() {
  const r = await call(LIST, { method: 'GET' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.ok, true);
  return r.json.sources;
}

async function find(id) {
  return (await list()).find((s) => s.id === id);
}

// Everything a failed request must leave alone.
function snapshot() {
  return sql(`SELECT (SELECT count(*) FROM kb_sources), (SELECT count(*) FROM kb_docs),
                     (SELECT count(*) FROM kb_chunks), (SELECT count(*) FROM kb_rest_cursors),
                     (SELECT count(*) FROM integration_secrets),
                     (SELECT coalesce(string_agg(md5(s::text), ',' ORDER BY s.id), '') FROM kb_sources s),
                     (SELECT coalesce(string_agg(md5(c::text), ',' ORDER BY c.source_id), '') FROM kb_rest_cursors c),
                     (SELECT coalesce(string_agg(md5(x::text), ',' ORDER BY x.tenant_id, x.provider), '') FROM integration_secrets x);`)[0];
}

async function createViaApi(title, config = dummyConfig(), extra = {}) {
  ensureTenant();
  const r = await call(LIST, { body: { tenantId: TENANT, title, config, ...extra } });
  assert.equal(r.status, 201, r.text);
  return r.json.source;
}

test('GET rest-sources lists sources with config summary, cursor metrics and counts', async () => {
  const id = createSource('Listed', dummyConfig());
  const rs = await syncToEnd(id);
  assert.equal(rs.at(-1).json.done, true);
  const r = await call(LIST, { method: 'GET' });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.equal(r.json.truncated, false);
  const s = r.json.sources.find((x) => x.id === id);
  assert.ok(s, 'source listed');
  assert.equal(s.tenantId, TENANT);
  assert.equal(s.tenantName, 'Test Tenant');
  assert.equal(s.title, 'Listed');
  assert.equal(s.enabled, true);
  assert.deepEqual(s.config, dummyConfig());
  assert.deepEqual(s.summary, {
    baseUrl: `${UPSTREAM}/dummyjson/products`, cursorStyle: 'offset', pageSize: 50, requiresAuth: false, provider: 'rest',
  });
  assert.equal(s.configError, null);
  assert.equal(s.hasSecret, false);
  assert.equal(s.pageCount, 4);
  assert.equal(s.itemCount, 194);
  assert.equal(s.total, 194);
  assert.equal(s.done, true);
  assert.equal(s.nextCursor, null);
  assert.equal(s.lastStatus, 'done');
  assert.equal(s.lastHttpStatus, 200);
  assert.equal(s.lastError, null);
  assert.match(s.lastSyncedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(Math.abs(Date.parse(s.lastSyncedAt) - Date.now()) < 60000);
  assert.equal(s.docs, 1);
  assert.equal(s.chunks, 194);
  assert.match(s.createdAt, /Z$/);

  // A never-synced source has no cursor row yet.
  const fresh = createSource('Fresh', dummyConfig());
  const f = await find(fresh);
  assert.deepEqual(
    [f.pageCount, f.itemCount, f.lastStatus, f.lastSyncedAt, f.total, f.done, f.docs, f.chunks, f.nextCursor],
    [0, 0, null, null, null, false, 0, 0, null]);
});

test('a stored config that no longer parses is listed with its error', async () => {
  const id = createSource('Broken', { baseUrl: 'ftp://x/', textFields: ['a'] });
  const s = await find(id);
  assert.equal(s.summary, null);
  assert.match(s.configError, /'baseUrl' must be an absolute http or https URL/);
  assert.deepEqual(s.config, { baseUrl: 'ftp://x/', textFields: ['a'] });
});

test('GET tenants lists tenants by name', async () => {
  ensureTenant();
  const r = await call(TENANTS, { method: 'GET' });
  assert.equal(r.status, 200, r.text);
  const t = r.json.tenants.find((x) => x.id === TENANT);
  assert.deepEqual(t, { id: TENANT, name: 'Test Tenant' });
  const names = r.json.tenants.map((x) => x.name);
  assert.deepEqual(names, [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  assert.equal((await call(TENANTS, { body: {} })).status, 405);
});

test('read endpoints: 401 without credentials, 403 for a non-admin', async () => {
  for (const ep of [LIST, TENANTS]) {
    assert.equal((await call(ep, { method: 'GET', user: null })).status, 401);
    const r = await call(ep, { method: 'GET', user: VIEWER });
    assert.equal(r.status, 403);
    assert.equal(r.json.error, 'not a platform admin');
  }
});

test('create: 201 with the new source; config as object or as JSON text', async () => {
  const before = +one('SELECT count(*) FROM kb_sources;');
  const s = await createViaApi('Created <b>bold</b> & "quoted"');
  assert.equal(s.title, 'Created <b>bold</b> & "quoted"');
  assert.equal(s.tenantId, TENANT);
  assert.equal(s.enabled, true);
  assert.equal(s.hasSecret, false);
  assert.equal(s.itemCount, 0);
  assert.deepEqual(s.config, dummyConfig());
  assert.equal(+one('SELECT count(*) FROM kb_sources;'), before + 1);
  assert.equal(one(`SELECT title FROM kb_sources WHERE id = :'p1';`, [s.id]), 'Created <b>bold</b> & "quoted"');
  assert.equal(one(`SELECT type || ',' || enabled FROM kb_sources WHERE id = :'p1';`, [s.id]), 'rest,true');

  const text = JSON.stringify(dummyConfig({ defaultPageSize: 20 }), null, 2);
  const r = await call(LIST, { body: { tenantId: TENANT, title: 'From text', config: text, enabled: false } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.source.summary.pageSize, 20);
  assert.equal(r.json.source.enabled, false);

  // The created source syncs.
  const b = await batch(s.id);
  assert.equal(b.status, 200, b.text);
  assert.equal(b.json.items, 50);
});

test('create with an API key: stored encrypted, never echoed, used by the batch', async () => {
  const key = 's3cret-token-123';
  const provider = `page-${Date.now()}`;
  const cfg = dummyConfig({
    baseUrl: `${UPSTREAM}/auth/products`, requiresAuth: true, provider,
    headersTemplate: { Authorization: 'Bearer {{API_KEY}}' },
  });
  ensureTenant();
  const r = await call(LIST, { body: { tenantId: TENANT, title: 'Keyed', config: cfg, apiKey: key } });
  assert.equal(r.status, 201, r.text);
  assert.ok(!r.text.includes(key), 'the key is not echoed');
  assert.equal(r.json.source.hasSecret, true);
  assert.ok(!(await call(LIST, { method: 'GET' })).text.includes(key), 'the list never holds the key');

  const row = sql(`SELECT encode(ciphertext, 'hex'), length(nonce) FROM integration_secrets
                   WHERE tenant_id = :'p1' AND provider = :'p2';`, [TENANT, provider]);
  assert.equal(row.length, 1);
  assert.equal(+row[0][1], 12);
  assert.ok(!row[0][0].includes(Buffer.from(key).toString('hex')), 'ciphertext is not the plaintext');

  // The batch decrypts it with tenant+provider as AAD and the upstream accepts it.
  const b = await batch(r.json.source.id);
  assert.equal(b.status, 200, b.text);
  assert.equal(b.json.items, 50);
});

test('create: bad input is a clear 4xx and changes nothing', async () => {
  ensureTenant();
  const good = { tenantId: TENANT, title: 'Bad', config: dummyConfig() };
  const cases = [
    [{ raw: '{"tenantId": ', headers: { 'Content-Type': 'application/json' } }, 400, /not valid JSON/],
    [{ raw: '[1,2]', headers: { 'Content-Type': 'application/json' } }, 400, /JSON object/],
    [{ body: { ...good, tenantId: undefined } }, 400, /'tenantId' is required/],
    [{ body: { ...good, tenantId: 'abc' } }, 400, /'tenantId' must be a UUID/],
    [{ body: { ...good, tenantId: NOSUCH } }, 404, /tenantId: no such tenant/],
    [{ body: { ...good, title: '' } }, 400, /'title' must be 1 to 200/],
    [{ body: { ...good, title: 'x'.repeat(201) } }, 400, /'title' must be 1 to 200/],
    [{ body: { ...good, title: 'a\u0000b' } }, 400, /'title'/],
    [{ body: { ...good, config: undefined } }, 400, /'config' is required/],
    [{ body: { ...good, config: '{not json' } }, 400, /^config: /],
    [{ body: { ...good, config: { textFields: ['a'] } } }, 400, /config: 'baseUrl' is required/],
    [{ body: { ...good, config: dummyConfig({ baseUrl: 'file:///etc/passwd' }) } }, 400, /config: 'baseUrl' must be an absolute http or https URL/],
    [{ body: { ...good, config: dummyConfig({ defaultPageSize: 0 }) } }, 400, /config: 'defaultPageSize'/],
    [{ body: { ...good, config: dummyConfig({ color: 'red' }) } }, 400, /config: unknown key 'color'/],
    [{ body: { ...good, config: '{\n  "baseUrl": "https://example.com/x",\n}' } }, 400, /^config: config is not valid JSON at line 3, column 1$/],
    [{ body: { ...good, config: dummyConfig({ timeoutMs: 15001 }) } }, 400, /config: 'timeoutMs' must be an integer between 100 and 15000/],
    [{ body: { ...good, apiKey: 'a\nb' } }, 400, /'apiKey'/],
    [{ body: { ...good, enabled: 'yes' } }, 400, /'enabled' must be true or false/],
    [{ body: { ...good, owner: 'me' } }, 400, /unknown field 'owner'/],
    [{ body: good, headers: { 'Content-Type': 'text/plain' } }, 415, /application\/json/],
    [{ body: good, headers: { Origin: 'http://evil.example' } }, 403, /cross-site/],
    [{ body: good, headers: { 'Sec-Fetch-Site': 'cross-site' } }, 403, /cross-site/],
    [{ body: good, user: VIEWER }, 403, /not a platform admin/],
    [{ body: good, user: null }, 401, null],
    [{ method: 'PUT', body: good }, 405, /method not allowed/],
  ];
  const before = snapshot();
  for (const [opts, status, msg] of cases) {
    if (opts.body) opts.body = JSON.parse(JSON.stringify(opts.body));
    const r = await call(LIST, opts);
    assert.equal(r.status, status, `${JSON.stringify(opts).slice(0, 160)} -> ${r.status} ${r.text}`);
    if (msg) {
      assert.equal(r.json.ok, false);
      assert.match(r.json.error, msg);
    }
  }
  assert.deepEqual(snapshot(), before);
});

test('update: title, config, enabled; empty apiKey keeps the key, a new one replaces it', async () => {
  const provider = `upd-${Date.now()}`;
  const s = await createViaApi('Before', dummyConfig({ provider }), { apiKey: 'first-key' });
  const ct = () => one(`SELECT encode(ciphertext, 'hex') || encode(nonce, 'hex') FROM integration_secrets
                        WHERE tenant_id = :'p1' AND provider = :'p2';`, [TENANT, provider]);
  const ct1 = ct();
  assert.ok(ct1);

  let r = await call(UPDATE, { body: { sourceId: s.id, title: 'After', apiKey: '' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.source.title, 'After');
  assert.equal(r.json.source.hasSecret, true);
  assert.deepEqual(r.json.source.config, dummyConfig({ provider }));
  assert.equal(ct(), ct1, 'empty apiKey leaves the secret alone');

  r = await call(UPDATE, { body: { sourceId: s.id, config: JSON.stringify(dummyConfig({ provider, defaultPageSize: 25 })), enabled: false } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.source.summary.pageSize, 25);
  assert.equal(r.json.source.enabled, false);
  assert.equal(r.json.source.title, 'After');
  assert.equal(one(`SELECT config->>'defaultPageSize' FROM kb_sources WHERE id = :'p1';`, [s.id]), '25');
  assert.equal(ct(), ct1);

  r = await call(UPDATE, { body: { sourceId: s.id, apiKey: 'second-key' } });
  assert.equal(r.status, 200, r.text);
  assert.ok(!r.text.includes('second-key'));
  assert.notEqual(ct(), ct1, 'a new key is stored');

  // Moving the key to another provider stores it under the new provider.
  const p2 = `${provider}-b`;
  r = await call(UPDATE, { body: { sourceId: s.id, config: dummyConfig({ provider: p2 }), apiKey: 'third' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.source.hasSecret, true);
  assert.equal(one(`SELECT count(*) FROM integration_secrets WHERE tenant_id = :'p1' AND provider = :'p2';`, [TENANT, p2]), '1');
});

test('update: bad input is a clear 4xx and changes nothing', async () => {
  const s = await createViaApi('Stable');
  const cases = [
    [{ raw: '{', headers: { 'Content-Type': 'application/json' } }, 400, /not valid JSON/],
    [{ body: { title: 'x' } }, 400, /'sourceId' is required/],
    [{ body: { sourceId: 'nope' } }, 400, /'sourceId' must be a UUID/],
    [{ body: { sourceId: NOSUCH, title: 'x' } }, 404, /no such source/],
    [{ body: { sourceId: s.id, tenantId: TENANT } }, 400, /'tenantId' cannot be changed/],
    [{ body: { sourceId: s.id, title: ' ' } }, 400, /'title'/],
    [{ body: { sourceId: s.id, config: { baseUrl: 'https://x.test/' } } }, 400, /config: 'textFields' is required/],
    [{ body: { sourceId: s.id, config: 42 } }, 400, /'config' must be a JSON object/],
    [{ body: { sourceId: s.id, title: 'x' }, user: VIEWER }, 403, /not a platform admin/],
    [{ body: { sourceId: s.id, title: 'x' }, headers: { Origin: 'https://evil.example' } }, 403, /cross-site/],
    [{ method: 'GET' }, 405, /POST/],
  ];
  const before = snapshot();
  for (const [opts, status, msg] of cases) {
    const r = await call(UPDATE, opts);
    assert.equal(r.status, status, `${JSON.stringify(opts).slice(0, 160)} -> ${r.status} ${r.text}`);
    assert.match(r.json.error, msg);
  }
  assert.deepEqual(snapshot(), before);
  assert.equal((await find(s.id)).title, 'Stable');
});

test('reset: cursor starts over, chunks stay, a re-sync dedups', async () => {
  const id = createSource('Reset me', dummyConfig());
  await batch(id);
  await batch(id);
  assert.equal(cursorRow(id).items, 100);
  const r = await call(RESET, { body: { sourceId: id } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.source.id, id);
  const cur = cursorRow(id);
  assert.deepEqual(
    [cur.next, cur.pages, cur.items, cur.status, cur.error, cur.done],
    [null, 0, 0, '', '', false]);
  assert.equal(r.json.source.itemCount, 0);
  assert.equal(r.json.source.lastStatus, null);
  assert.deepEqual(counts(id), { docs: 1, chunks: 100 });

  const b = await batch(id);
  assert.equal(b.status, 200);
  assert.equal(b.json.url, `${UPSTREAM}/dummyjson/products?limit=50&skip=0`);
  assert.equal(b.json.inserted, 0);
  assert.equal(b.json.unchangedItems, 50);
  assert.equal(b.json.embedInputs, 0);
  assert.deepEqual(counts(id), { docs: 1, chunks: 100 });

  // A done source becomes syncable again.
  await syncToEnd(id);
  assert.equal(cursorRow(id).done, true);
  assert.equal((await call(RESET, { body: { sourceId: id } })).status, 200);
  assert.equal(cursorRow(id).done, false);
  // A never-synced source resets fine (no cursor row).
  const fresh = createSource('Never', dummyConfig());
  assert.equal((await call(RESET, { body: { sourceId: fresh } })).status, 200);
});

test('reset and delete: bad input is a clear 4xx and changes nothing', async () => {
  const id = createSource('Keep', dummyConfig());
  await batch(id);
  for (const ep of [RESET, DELETE]) {
    const cases = [
      [{ raw: 'nope', headers: { 'Content-Type': 'application/json' } }, 400, /not valid JSON/],
      [{ body: {} }, 400, /'sourceId' is required/],
      [{ body: { sourceId: 7 } }, 400, /'sourceId' must be a UUID/],
      [{ body: { sourceId: id, extra: 1 } }, 400, /unknown field 'extra'/],
      [{ body: { sourceId: NOSUCH } }, 404, /no such source/],
      [{ body: { sourceId: id }, user: VIEWER }, 403, /not a platform admin/],
      [{ body: { sourceId: id }, headers: { 'Sec-Fetch-Site': 'cross-site' } }, 403, /cross-site/],
      [{ body: { sourceId: id }, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, 415, /application\/json/],
      [{ method: 'GET' }, 405, /POST/],
    ];
    const before = snapshot();
    for (const [opts, status, msg] of cases) {
      const r = await call(ep, opts);
      assert.equal(r.status, status, `${ep} ${JSON.stringify(opts)} -> ${r.status} ${r.text}`);
      assert.match(r.json.error, msg);
    }
    assert.deepEqual(snapshot(), before);
  }
  assert.equal(cursorRow(id).items, 50);
});

test('reset and delete answer 409 while a batch of the source runs', async () => {
  const id = createSource('Busy', dummyConfig({ baseUrl: `${UPSTREAM}/page/slow/products?ms=1500` }));
  await batch(id);
  const before = snapshot();
  const running = batch(id);
  // Wait until the batch holds its advisory lock.
  for (let i = 0; i < 100; i++) {
    const held = one(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
                      AND objid = (hashtextextended('restsync:source:' || :'p1', 0) & 4294967295)::oid;`, [id]);
    if (held === '1') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const ep of [RESET, DELETE]) {
    const r = await call(ep, { body: { sourceId: id } });
    assert.equal(r.status, 409, r.text);
    assert.deepEqual(r.json, { ok: false, error: 'a batch for this source is already running' });
  }
  assert.deepEqual(snapshot(), before);
  const b = await running;
  assert.equal(b.status, 200, b.text);
  assert.equal(cursorRow(id).items, 100);
  // Once the batch is over, both work.
  assert.equal((await call(RESET, { body: { sourceId: id } })).status, 200);
  assert.equal((await call(DELETE, { body: { sourceId: id } })).status, 200);
});

test('a batch started while a reset holds the lock gets 409', async () => {
  const id = createSource('Locked by reset', dummyConfig());
  // Hold the same transaction-scoped key the endpoints take, in another session.
  const { spawn } = await import('node:child_process');
  const { DB } = await import('./lib.mjs');
  const holder = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', DB], { stdio: ['pipe', 'pipe', 'pipe'] });
  holder.stdin.write(`BEGIN; SELECT pg_try_advisory_xact_lock(hashtextextended('restsync:source:' || '${id}', 0)); SELECT pg_sleep(2); COMMIT;\n`);
  holder.stdin.end();
  for (let i = 0; i < 100; i++) {
    if (one(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
             AND objid = (hashtextextended('restsync:source:' || :'p1', 0) & 4294967295)::oid;`, [id]) === '1') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const b = await batch(id);
  assert.equal(b.status, 409, b.text);
  const r = await call(RESET, { body: { sourceId: id } });
  assert.equal(r.status, 409, r.text);
  await new Promise((res) => holder.on('close', res));
  assert.equal((await batch(id)).status, 200);
});

test('delete: chunks, docs, cursor and source go in one transaction; counts are reported', async () => {
  const id = createSource('Doomed', dummyConfig());
  await syncToEnd(id);
  const s = await find(id);
  assert.equal(s.docs, 1);
  assert.equal(s.chunks, 194);
  const other = createSource('Bystander', dummyConfig());
  await batch(other);
  const otherCounts = counts(other);

  const r = await call(DELETE, { body: { sourceId: id } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { ok: true, sourceId: id, deleted: { docs: s.docs, chunks: s.chunks } });
  assert.deepEqual(counts(id), { docs: 0, chunks: 0 });
  assert.equal(cursorRow(id), null);
  assert.equal(one(`SELECT count(*) FROM kb_sources WHERE id = :'p1';`, [id]), '0');
  assert.equal(await find(id), undefined);
  assert.deepEqual(counts(other), otherCounts, 'other sources are untouched');

  const again = await call(DELETE, { body: { sourceId: id } });
  assert.equal(again.status, 404);
  assert.equal((await batch(id)).status, 404);
});

test('rest-audit?tenantId: the tenant\'s deleted sources, newest first, their history reachable', async () => {
  const AUDIT = '/api/backoffice/rest-audit';
  const T2 = crypto.randomUUID();
  sql(`INSERT INTO tenants (id, name) VALUES (:'p1', 'Deleted tenant') ON CONFLICT DO NOTHING;`, [T2]);
  const first = createSource('Gone first', dummyConfig(), { tenant: T2 });
  const second = createSource('Gone second', dummyConfig(), { tenant: T2 });
  const kept = createSource('Still here', dummyConfig(), { tenant: T2 });
  await batch(first);
  assert.equal((await call(DELETE, { body: { sourceId: first } })).status, 200);
  assert.equal((await call(DELETE, { body: { sourceId: second } })).status, 200);
  // A failed delete (busy, refused) is no deleted source.
  sql(`INSERT INTO kb_rest_audit (actor, action, source_id, tenant_id, outcome, detail)
       VALUES ('admin', 'delete', :'p1', :'p2', 'error', '{"error": "busy"}');`, [kept, T2]);
  let r = await call(`${AUDIT}?tenantId=${T2}`, { method: 'GET' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.tenantId, T2);
  assert.equal(r.json.limit, 20);
  assert.deepEqual(r.json.deleted.map((d) => [d.sourceId, d.title, d.actor, d.docs, d.chunks]),
    [[second, 'Gone second', 'admin', 0, 0], [first, 'Gone first', 'admin', 1, 50]]);
  assert.match(r.json.deleted[0].at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  // Each one's history is there by its id.
  r = await call(`${AUDIT}?sourceId=${first}`, { method: 'GET' });
  assert.deepEqual(r.json.entries.map((e) => e.action), ['delete', 'sync']);
  r = await call(`${AUDIT}?limit=1&tenantId=${T2}`, { method: 'GET' });
  assert.deepEqual(r.json.deleted.map((d) => d.sourceId), [second]);
  // Another tenant's deleted sources are not listed.
  r = await call(`${AUDIT}?tenantId=${TENANT}`, { method: 'GET' });
  assert.equal(r.status, 200);
  assert.ok(!r.json.deleted.some((d) => [first, second].includes(d.sourceId)));
  for (const q of [`?tenantId=nope`, `?tenantId=${T2}&sourceId=${first}`, `?tenantId=${T2}&tenantId=${T2}`, `?tenantId=${T2}&limit=0`]) {
    const b = await call(AUDIT + q, { method: 'GET' });
    assert.equal(b.status, 400, `${q}: ${b.text}`);
  }
  assert.equal((await call(`${AUDIT}?tenantId=nope`, { method: 'GET' })).json.error, "'tenantId' must be a UUID");
  assert.equal((await call(`${AUDIT}?tenantId=${T2}`, { method: 'GET', user: VIEWER })).status, 403);
  sql(`DELETE FROM kb_sources WHERE id = :'p1';`, [kept]);
});

test('a source of another type is not managed here', async () => {
  ensureTenant();
  const id = one(`INSERT INTO kb_sources (tenant_id, type, title, config)
                  VALUES (:'p1', 'upload', 'Files', '{}') RETURNING id;`, [TENANT]);
  assert.equal(await find(id), undefined);
  for (const [ep, body] of [[RESET, { sourceId: id }], [DELETE, { sourceId: id }], [UPDATE, { sourceId: id, title: 'x' }]]) {
    const r = await call(ep, { body });
    assert.equal(r.status, 404, `${ep}: ${r.text}`);
  }
  assert.equal(one(`SELECT title FROM kb_sources WHERE id = :'p1';`, [id]), 'Files');
  sql(`DELETE FROM kb_sources WHERE id = :'p1';`, [id]);
});

test('the config comes back as it was saved: its keys in their order (configAsSaved)', async () => {
  const cfg = dummyConfig();
  // Keys in an order jsonb would not keep (it sorts them by length).
  const reversed = Object.fromEntries(Object.entries(cfg).reverse());
  const c = await call('/api/backoffice/rest-sources', { body: { tenantId: TENANT, title: 'Key order', config: reversed } });
  assert.equal(c.status, 201, c.text);
  const id = c.json.source.id;
  const listed = async () => (await call('/api/backoffice/rest-sources', { method: 'GET' })).json.sources.find((s) => s.id === id);
  let s = await listed();
  assert.equal(s.configAsSaved, true);
  assert.deepEqual(Object.keys(s.config), Object.keys(reversed));
  const again = { textFields: cfg.textFields, baseUrl: cfg.baseUrl, ...cfg };
  const u = await call('/api/backoffice/rest-sources-update', { body: { sourceId: id, config: again } });
  assert.equal(u.status, 200, u.text);
  s = await listed();
  assert.deepEqual(Object.keys(s.config), Object.keys(again));
  // A source saved before migration 008 comes back as jsonb orders it.
  sql(`UPDATE kb_sources SET config_text = NULL WHERE id = :'p1';`, [id]);
  s = await listed();
  assert.equal(s.configAsSaved, false);
  assert.deepEqual(s.config, JSON.parse(JSON.stringify(cfg)));
});
