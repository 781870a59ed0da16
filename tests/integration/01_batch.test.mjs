// The rest-batch engine end to end: nginx -> FastCGI -> PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  batch, call, counts, createSource, cursorRow, dummyConfig, one, sql, syncToEnd,
  upstreamLog, upstreamReset, UPSTREAM, VIEWER,
} from './lib.mjs';

const products = (await import('node:fs')).readFileSync(new URL('../../data/dummyjson/products.json', import.meta.url), 'utf8');
const PRODUCTS = JSON.parse(products);

function today() {
  return new Date().toISOString().slice(0, 10);
}

test('full DummyJSON sync: 4 batches, 194 items, one doc, 194 chunks', async () => {
  const id = createSource('Products', dummyConfig());
  const rs = await syncToEnd(id);
  assert.equal(rs.length, 4);
  rs.forEach((r) => assert.equal(r.status, 200, r.text));

  const first = rs[0].json;
  assert.equal(first.ok, true);
  assert.equal(first.done, false);
  assert.equal(first.items, 50);
  assert.equal(first.next, '50');
  assert.equal(first.status, 200);
  assert.equal(first.url, `${UPSTREAM}/dummyjson/products?limit=50&skip=0`);
  assert.equal(first.inserted, 50);
  assert.equal(first.embedder, 'local');
  assert.deepEqual(rs.map((r) => r.json.items), [50, 50, 50, 44]);
  assert.deepEqual(rs.map((r) => r.json.next), ['50', '100', '150', null]);
  assert.equal(rs[3].json.done, true);
  assert.equal(rs[3].json.url, `${UPSTREAM}/dummyjson/products?limit=50&skip=150`);
  assert.equal(rs[3].json.total, 194);

  const cur = cursorRow(id);
  assert.deepEqual(
    { pages: cur.pages, items: cur.items, status: cur.status, http: cur.http, next: cur.next, done: cur.done },
    { pages: 4, items: 194, status: 'done', http: 200, next: null, done: true });
  assert.equal(cur.error, '');
  assert.deepEqual(counts(id), { docs: 1, chunks: 194 });

  assert.equal(one(`SELECT title FROM kb_docs WHERE source_id = :'p1';`, [id]), `Products \u2014 Sync ${today()}`);
  // Every chunk: 1536-dim unit embedding (float32 bytea), contentHash = sha256(content),
  // sourceId, roles from allowedRolesOverride, chunk_idx 0..193.
  const rows = sql(`SELECT encode(sha256(convert_to(content, 'UTF8')), 'hex'), metadata->>'contentHash',
                           metadata->>'sourceId', octet_length(embedding) / 4,
                           round(sqrt((SELECT sum(x*x) FROM unnest(restsync_embedding_floats(embedding)) x))::numeric, 3),
                           array_to_string(allowed_roles, ','), chunk_idx, content_hash
                    FROM kb_chunks WHERE source_id = :'p1' ORDER BY chunk_idx;`, [id]);
  assert.equal(rows.length, 194);
  rows.forEach(([want, hash, sid, dims, norm, roles, idx, col], i) => {
    assert.equal(hash, want);
    assert.equal(col, want);
    assert.equal(sid, id);
    assert.equal(+dims, 1536);
    assert.equal(norm, '1.000');
    assert.equal(roles, 'member,support,operations,admin');
    assert.equal(+idx, i);
  });
  // Node's SHA-256 of the stored text agrees with the stored hash.
  const c0 = one(`SELECT replace(content, E'\\n', chr(8232)) FROM kb_chunks WHERE source_id = :'p1' AND chunk_idx = 0;`, [id])
    .replaceAll('\u2028', '\n');
  assert.equal(crypto.createHash('sha256').update(c0, 'utf8').digest('hex'), rows[0][1]);
  // The first product's text carries its fields, tags joined readably.
  const p = PRODUCTS[0];
  assert.match(c0, new RegExp(p.title));
  assert.match(c0, new RegExp(p.description.slice(0, 40)));
  assert.match(c0, new RegExp(p.tags.join(', ')));
});

test('a done source answers done without fetching', async () => {
  const id = createSource('Done', dummyConfig());
  await syncToEnd(id);
  await upstreamReset();
  const r = await batch(id);
  assert.equal(r.status, 200);
  assert.equal(r.json.ok, true);
  assert.equal(r.json.done, true);
  assert.equal(r.json.items, 0);
  assert.equal((await upstreamLog()).length, 0);
});

test('restart from the first page inserts 0 chunks', async () => {
  const id = createSource('Restart', dummyConfig());
  await syncToEnd(id);
  sql(`UPDATE kb_rest_cursors SET next_cursor = NULL, done = false WHERE source_id = :'p1';`, [id]);
  const rs = await syncToEnd(id);
  assert.equal(rs.length, 4);
  rs.forEach((r) => {
    assert.equal(r.status, 200);
    assert.equal(r.json.inserted, 0);
    // Unchanged items are neither chunked nor embedded again.
    assert.equal(r.json.chunks, 0);
    assert.equal(r.json.embedInputs, 0);
  });
  assert.deepEqual(rs.map((r) => r.json.unchangedItems), [50, 50, 50, 44]);
  assert.equal(rs[3].json.sweep, 'done');
  assert.equal(rs[3].json.removedItems, 0);
  assert.deepEqual(counts(id), { docs: 1, chunks: 194 });
  assert.equal(cursorRow(id).items, 388);
});

test('the demo source, served by the stack itself, syncs to 194', async () => {
  const id = '00000000-0000-4000-8000-000000000101';
  sql(`DELETE FROM kb_chunks WHERE source_id = :'p1'; DELETE FROM kb_docs WHERE source_id = :'p1';
       DELETE FROM kb_rest_cursors WHERE source_id = :'p1';`, [id]);
  const rs = await syncToEnd(id);
  assert.equal(rs.length, 4);
  assert.match(rs[0].json.url, /\/demo\/dummyjson\/products\?limit=50&skip=0$/);
  assert.equal(cursorRow(id).items, 194);
  assert.deepEqual(counts(id), { docs: 1, chunks: 194 });
});

test('the disabled dummyjson.com source refuses to sync', async () => {
  const r = await batch('00000000-0000-4000-8000-000000000102');
  assert.equal(r.status, 409);
  assert.equal(r.json.ok, false);
  assert.match(r.json.error, /disabled/);
});

test('cursor pagination: token from nextCursorPath', async () => {
  const id = createSource('Cursor', {
    baseUrl: `${UPSTREAM}/cursor/items`, cursorStyle: 'cursor', nextCursorPath: 'next_cursor',
    cursorParam: 'cursor', pageSizeParam: 'limit', defaultPageSize: 25, itemsPath: 'data',
    textFields: ['title', 'description'],
  });
  const rs = await syncToEnd(id);
  assert.equal(rs.length, 8);
  assert.equal(rs[0].json.next, String(PRODUCTS[25].id));
  assert.equal(rs[1].json.url, `${UPSTREAM}/cursor/items?limit=25&cursor=${PRODUCTS[25].id}`);
  assert.equal(cursorRow(id).items, 194);
  assert.equal(counts(id).chunks, 194);
});

test('cursor pagination: absolute next URL', async () => {
  const id = createSource('Cursor URL', {
    baseUrl: `${UPSTREAM}/cursor-url/items`, cursorStyle: 'cursor', nextCursorPath: 'links.next',
    pageSizeParam: 'limit', defaultPageSize: 40, itemsPath: 'items', textFields: ['title'],
  });
  const rs = await syncToEnd(id);
  assert.equal(rs.length, 5);
  assert.equal(rs[1].json.url, `${UPSTREAM}/cursor-url/items?after=40&limit=40`);
  assert.equal(cursorRow(id).items, 194);
});

test('page-number pagination with nested items stops on the short page', async () => {
  await upstreamReset();
  const id = createSource('Pages', {
    baseUrl: `${UPSTREAM}/pages/items`, cursorParam: 'page', pageSizeParam: 'per_page',
    defaultPageSize: 20, itemsPath: 'data.items', textFields: ['title', 'description', 'category'],
  });
  const rs = await syncToEnd(id);
  assert.equal(rs.length, 10);
  assert.equal(rs[0].json.url, `${UPSTREAM}/pages/items?per_page=20&page=1`);
  assert.equal(rs[9].json.items, 14);
  assert.equal(rs[9].json.done, true);
  assert.equal(cursorRow(id).items, 194);
  assert.equal((await upstreamLog()).length, 10, 'no extra empty page fetched');
});

test('edge: identity, authorization, methods and bad input', async () => {
  const id = createSource('Edge', dummyConfig());
  const noauth = await call('/api/backoffice/rest-batch', { body: { sourceId: id }, user: null });
  assert.equal(noauth.status, 401);
  const wrongpw = await call('/api/backoffice/rest-batch', { body: { sourceId: id }, user: ['admin', 'nope'] });
  assert.equal(wrongpw.status, 401);
  const viewer = await call('/api/backoffice/rest-batch', { body: { sourceId: id }, user: VIEWER });
  assert.equal(viewer.status, 403);
  assert.deepEqual(viewer.json, { ok: false, error: 'not a platform admin' });
  // A forged identity header changes nothing.
  const forged = await call('/api/backoffice/rest-batch', {
    body: { sourceId: id }, user: VIEWER, headers: { 'Remote-User': 'admin', 'X-Remote-User': 'admin' },
  });
  assert.equal(forged.status, 403);

  const get = await call('/api/backoffice/rest-batch', { method: 'GET' });
  assert.equal(get.status, 405);
  assert.equal(get.json.ok, false);
  const badjson = await call('/api/backoffice/rest-batch', { raw: '{"sourceId":', headers: { 'Content-Type': 'application/json' } });
  assert.equal(badjson.status, 400);
  assert.match(badjson.json.error, /not valid JSON/);
  const missing = await call('/api/backoffice/rest-batch', { body: {} });
  assert.equal(missing.status, 400);
  assert.match(missing.json.error, /sourceId/);
  const malformed = await call('/api/backoffice/rest-batch', { body: { sourceId: "1' or '1'='1" } });
  assert.equal(malformed.status, 400);
  assert.match(malformed.json.error, /UUID/);
  const unknown = await call('/api/backoffice/rest-batch', { body: { sourceId: '6f1c0d5e-0000-4000-8000-000000000000' } });
  assert.equal(unknown.status, 404);
  const media = await call('/api/backoffice/rest-batch', { raw: JSON.stringify({ sourceId: id }), headers: { 'Content-Type': 'text/plain' } });
  assert.equal(media.status, 415);
  assert.equal(cursorRow(id), null, 'nothing ran');
  for (const r of [get, badjson, missing, malformed, unknown, media]) {
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.match(r.headers.get('content-type'), /^application\/json/);
  }
});

test('unknown endpoints: 401 without credentials, JSON 404 with them', async () => {
  for (const p of ['/api/backoffice/no-such-thing', '/api/backoffice/Nope/x']) {
    const anon = await call(p, { method: 'GET', user: null });
    assert.equal(anon.status, 401, p);
    const r = await call(p, { method: 'GET' });
    assert.equal(r.status, 404, p);
    assert.deepEqual(r.json, { ok: false, error: 'no such endpoint' });
  }
});

test('a non-REST source is 404', async () => {
  const id = createSource('Not rest', dummyConfig());
  sql(`UPDATE kb_sources SET type = 'web' WHERE id = :'p1';`, [id]);
  const r = await batch(id);
  assert.equal(r.status, 404);
});
