// Operator insight (issue 15): items, search as a role would, and the
// dry run of a config (rest-preview), through nginx.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  DB, ROOT, TENANT, UPSTREAM, VAR, batch, call, createSource, dummyConfig, ensureTenant, one, putSecret, sql,
} from './lib.mjs';

const ITEMS = '/api/backoffice/rest-items';
const SEARCH = '/api/backoffice/rest-search';
const PREVIEW = '/api/backoffice/rest-preview';
const get = (qs) => call(`${ITEMS}?${qs}`, { method: 'GET' });

// What a preview must leave alone: every table a batch writes.
const written = () => sql(`SELECT (SELECT count(*) FROM kb_docs), (SELECT count(*) FROM kb_chunks),
  (SELECT count(*) FROM kb_rest_items), (SELECT count(*) FROM kb_rest_cursors), (SELECT count(*) FROM kb_rest_runs),
  (SELECT count(*) FROM kb_rest_audit), (SELECT count(*) FROM kb_rest_page_validators);`)[0];

let products;	// a source with the first 20 products
test('setup: a source of 20 products, synced', async () => {
  products = createSource('Insight products', dummyConfig({ defaultPageSize: 10, titleField: 'title' }));
  for (let i = 0; i < 2; i++) assert.equal((await batch(products)).status, 200);
  assert.equal(one(`SELECT count(*) FROM kb_rest_items WHERE source_id = :'p1';`, [products]), '20');
});

test('rest-items pages the items in key order and opens one with its chunks', async () => {
  const keys = sql(`SELECT item_key, title, cardinality(chunk_hashes) FROM kb_rest_items WHERE source_id = :'p1' ORDER BY item_key;`, [products]);
  const seen = [];
  let after = null;
  for (let page = 0; page < 5; page++) {
    const r = await get(`sourceId=${products}&limit=7${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.limit, 7);
    seen.push(...r.json.items);
    after = r.json.next;
    if (!after) break;
    assert.equal(after, r.json.items.at(-1).key);
  }
  assert.equal(after, null, 'the last page says so');
  assert.deepEqual(seen.map((x) => [x.key, x.title, String(x.chunks)]), keys);
  assert.equal(seen.length, 20);
  for (const x of seen) assert.match(x.firstSeenAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  const r = await get(`sourceId=${products}&key=${encodeURIComponent('id:6')}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.item.key, 'id:6');
  assert.equal(r.json.item.title, 'Calvin Klein CK One');
  assert.equal(r.json.chunks.length, r.json.item.chunks);
  assert.match(r.json.chunks[0].content, /CK One by Calvin Klein is a classic unisex fragrance/);
  assert.deepEqual(r.json.chunks[0].allowedRoles, ['member', 'support', 'operations', 'admin']);
  assert.equal(r.json.chunks[0].position, 1);
  assert.match(r.json.chunks[0].docTitle, /^Insight products — Sync \d{4}-\d\d-\d\d$/);
});

test('rest-items refuses what it cannot answer', async () => {
  const cases = [
    ['', 400, /'sourceId' is required/],
    [`sourceId=${products}&limit=0`, 400, /'limit' must be an integer from 1 to 200/],
    [`sourceId=${products}&limit=201`, 400, /'limit'/],
    [`sourceId=${products}&key=id%3A1&after=id%3A1`, 400, /'key' cannot be combined/],
    [`sourceId=${products}&bogus=1`, 400, /unknown parameter 'bogus'/],
    [`sourceId=${products}&after=%zz`, 400, /'after' must be a percent-encoded item key/],
    [`sourceId=${products}&sourceId=${products}`, 400, /given twice/],
    ['sourceId=00000000-0000-4000-8000-00000000dead', 404, /no such source/],
    [`sourceId=${products}&key=id%3A999999`, 404, /no such item/],
  ];
  for (const [qs, status, msg] of cases) {
    const r = await get(qs);
    assert.equal(r.status, status, `${qs}: ${r.text}`);
    assert.match(r.json.error, msg, qs);
  }
  assert.equal((await call(`${ITEMS}?sourceId=${products}`, { body: {} })).status, 405);
});

test('search finds an exact product by its own words with the built-in embedder', async () => {
  const r = await call(SEARCH, { body: { sourceId: products, query: 'Calvin Klein CK One classic unisex fragrance', k: 3 } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.embedder, 'local');
  assert.equal(r.json.embeddingModel, 'local-hash-v1');
  assert.equal(r.json.semantic, false);
  assert.equal(r.json.method, 'exact-scan');
  assert.equal(r.json.scanned, +one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [products]));
  assert.equal(r.json.results.length, 3);
  const [best, second] = r.json.results;
  assert.equal(best.itemKey, 'id:6');
  assert.equal(best.title, 'Calvin Klein CK One');
  assert.equal(best.sourceId, products);
  assert.equal(best.itemChunkIndex, 0);
  assert.match(best.excerpt, /Calvin Klein/);
  assert.ok(best.excerpt.length <= 300);
  assert.ok(best.score > 0.5 && best.score <= 1.0001, `score ${best.score}`);
  assert.ok(best.score > second.score, 'the exact product ranks first');
  assert.deepEqual(best.allowedRoles, ['member', 'support', 'operations', 'admin']);
  // A chunk's own text finds that chunk first, at similarity 1: the scan
  // reads the float32 bytes as the embedder wrote them (sql/012).
  const text = one(`SELECT replace(content, E'\\n', chr(8232)) FROM kb_chunks
                     WHERE source_id = :'p1' AND metadata->>'itemKey' = 'id:3' ORDER BY chunk_idx LIMIT 1;`, [products]);
  const own = await call(SEARCH, { body: { sourceId: products, query: text.replaceAll('\u2028', '\n'), k: 2 } });
  assert.equal(own.status, 200, own.text);
  assert.equal(own.json.results[0].itemKey, 'id:3');
  assert.ok(Math.abs(own.json.results[0].score - 1) < 1e-4, `score ${own.json.results[0].score}`);
  assert.ok(own.json.results[1].score < own.json.results[0].score);
  // A role the chunks allow: the same answer.
  const m = await call(SEARCH, { body: { sourceId: products, query: 'Calvin Klein CK One', role: 'member', k: 1 } });
  assert.equal(m.status, 200, m.text);
  assert.equal(m.json.results[0].itemKey, 'id:6');
});

test('search returns nothing for a role the chunks do not allow, also across a tenant', async () => {
  const guest = await call(SEARCH, { body: { sourceId: products, query: 'Calvin Klein CK One', role: 'guest' } });
  assert.equal(guest.status, 200, guest.text);
  assert.deepEqual(guest.json.results, []);
  assert.equal(guest.json.scanned, 0);

  const adminOnly = createSource('Insight admin only', dummyConfig({ defaultPageSize: 3, allowedRolesOverride: ['admin'] }));
  assert.equal((await batch(adminOnly)).status, 200);
  const q = 'Essence Mascara Lash Princess';
  let r = await call(SEARCH, { body: { sourceId: adminOnly, query: q, role: 'member' } });
  assert.deepEqual(r.json.results, [], 'member sees nothing of an admin-only source');
  r = await call(SEARCH, { body: { sourceId: adminOnly, query: q, role: 'admin', k: 1 } });
  assert.equal(r.json.results[0].sourceId, adminOnly);
  assert.deepEqual(r.json.results[0].allowedRoles, ['admin']);
  // Across the tenant a member gets the products source's copy only.
  r = await call(SEARCH, { body: { tenantId: TENANT, query: q, role: 'member', k: 50 } });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.results.length > 0);
  assert.ok(r.json.results.every((x) => x.allowedRoles.includes('member')));
  assert.ok(!r.json.results.some((x) => x.sourceId === adminOnly));
  r = await call(SEARCH, { body: { tenantId: TENANT, query: q, role: 'admin', k: 50 } });
  assert.ok(r.json.results.some((x) => x.sourceId === adminOnly));
});

test('search refuses bad requests', async () => {
  const cases = [
    [{ query: 'x' }, 400, /exactly one of 'sourceId' and 'tenantId'/],
    [{ sourceId: products, tenantId: TENANT, query: 'x' }, 400, /exactly one/],
    [{ sourceId: products }, 400, /'query' must be a string/],
    [{ sourceId: products, query: '' }, 400, /'query'/],
    [{ sourceId: products, query: 'x', k: 0 }, 400, /'k' must be an integer from 1 to 50/],
    [{ sourceId: products, query: 'x', role: 'no spaces' }, 400, /'role'/],
    [{ sourceId: products, query: 'x', extra: 1 }, 400, /unknown field 'extra'/],
    [{ sourceId: '00000000-0000-4000-8000-00000000dead', query: 'x' }, 404, /no such source/],
    [{ tenantId: '00000000-0000-4000-8000-00000000dead', query: 'x' }, 404, /no such tenant/],
  ];
  for (const [body, status, msg] of cases) {
    const r = await call(SEARCH, { body });
    assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
    assert.match(r.json.error, msg);
  }
});

test('search cost: an exact scan of 10,000 chunks', async () => {
  const id = createSource('Insight scan bench', dummyConfig());
  const doc = one(`INSERT INTO kb_docs (tenant_id, source_id, title) VALUES (:'p1', :'p2', 'bench') RETURNING id;`, [TENANT, id]);
  sql(`INSERT INTO kb_chunks (tenant_id, doc_id, chunk_idx, title, content, embedding, allowed_roles, source_id, content_hash)
       SELECT :'p1', :'p3', g, 'bench', 'bench chunk ' || g,
              restsync_embedding_bytes((SELECT array_agg(random()::real) FROM generate_series(1, 1536) WHERE g >= 0)),
              ARRAY['admin'], :'p2', encode(sha256(g::text::bytea), 'hex')
       FROM generate_series(0, 9999) g;`, [TENANT, id, doc]);
  const times = [];
  for (let i = 0; i < 3; i++) {
    const r = await call(SEARCH, { body: { sourceId: id, query: 'bench chunk 42', k: 10 } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.scanned, 10000);
    assert.equal(r.json.results.length, 10);
    for (let j = 1; j < 10; j++) assert.ok(r.json.results[j - 1].score >= r.json.results[j].score, 'best first');
    times.push(r.json.ms.search);
  }
  times.sort((a, b) => a - b);
  console.log(`# exact scan of 10,000 chunks (1536 dimensions): ${times.map((t) => t.toFixed(0)).join(', ')} ms`);
  assert.ok(times[1] < 10000, `median ${times[1]} ms`);
  sql(`DELETE FROM kb_chunks WHERE source_id = :'p1'; DELETE FROM kb_docs WHERE source_id = :'p1';`, [id]);
});

test('preview of a good config: the first page, its items and chunks; nothing written', async () => {
  ensureTenant();
  const before = written();
  const r = await call(PREVIEW, { body: { tenantId: TENANT, config: dummyConfig({ defaultPageSize: 5, titleField: 'title' }) } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.url, `${UPSTREAM}/dummyjson/products?limit=5&skip=0`);
  assert.equal(r.json.status, 200);
  assert.equal(r.json.attempts, 1);
  assert.equal(r.json.items, 5);
  assert.equal(r.json.total, 194);
  assert.equal(r.json.next, '5');
  assert.equal(r.json.done, false);
  assert.equal(r.json.emptyTexts, 0);
  assert.deepEqual(r.json.warnings, []);
  assert.equal(r.json.preview.length, 5);
  const first = r.json.preview[0];
  assert.equal(first.key, 'id:1');
  assert.equal(first.title, 'Essence Mascara Lash Princess');
  assert.match(first.text, /^title: Essence Mascara Lash Princess\ndescription: The Essence Mascara/);
  assert.equal(first.empty, false);
  assert.equal(first.chunks, 1);
  assert.equal(first.tokens.length, 1);
  assert.ok(first.tokens[0] > 20 && first.tokens[0] < 200, `${first.tokens[0]} tokens`);
  assert.equal(r.json.chunks, 5);
  assert.equal(r.json.estimatedTokens, r.json.preview.reduce((n, x) => n + x.tokens[0], 0));
  assert.ok(r.json.totalMs >= r.json.fetchMs);
  assert.deepEqual(written(), before, 'nothing written');
});

test('preview of a wrong itemsPath: a clear message, nothing written', async () => {
  const before = written();
  const r = await call(PREVIEW, { body: { tenantId: TENANT, config: dummyConfig({ itemsPath: 'data' }) } });
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error, "itemsPath 'data' is not an array in the response");
  assert.equal(r.json.status, 200);
  assert.match(r.json.url, /\/dummyjson\/products\?limit=50&skip=0$/);
  assert.deepEqual(written(), before, 'nothing written');
});

test('preview of a wrong textFields: empty texts flagged', async () => {
  const r = await call(PREVIEW, { body: { tenantId: TENANT, config: dummyConfig({ defaultPageSize: 4, textFields: ['nope'] }) } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items, 4);
  assert.equal(r.json.emptyTexts, 4);
  assert.equal(r.json.chunks, 0);
  assert.ok(r.json.preview.every((x) => x.empty && x.text === '' && x.chunks === 0));
  assert.deepEqual(r.json.warnings, ['4 of 4 items have no text: check textFields (a sync would store nothing for them)']);
});

test('preview: config errors name the key; a source previews its next page', async () => {
  let r = await call(PREVIEW, { body: { tenantId: TENANT, config: { ...dummyConfig(), baseUrl: undefined } } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /^config: .*baseUrl/);
  r = await call(PREVIEW, { body: { tenantId: TENANT, config: dummyConfig({ defaultPageSize: 'ten' }) } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /defaultPageSize/);
  r = await call(PREVIEW, { body: { tenantId: '00000000-0000-4000-8000-00000000dead', config: dummyConfig() } });
  assert.equal(r.status, 404, r.text);
  r = await call(PREVIEW, { body: { config: dummyConfig() } });
  assert.equal(r.status, 400, r.text);

  const cursor = one(`SELECT next_cursor FROM kb_rest_cursors WHERE source_id = :'p1';`, [products]);
  const before = written();
  r = await call(PREVIEW, { body: { sourceId: products } });
  assert.equal(r.status, 200, r.text);
  assert.equal(cursor, '20');
  assert.equal(r.json.url, `${UPSTREAM}/dummyjson/products?limit=10&skip=20`);
  assert.equal(r.json.preview[0].key, 'id:21');
  assert.equal(r.json.next, '30');
  // With a config: that config's first page.
  r = await call(PREVIEW, { body: { sourceId: products, config: dummyConfig({ defaultPageSize: 2 }) } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.url, `${UPSTREAM}/dummyjson/products?limit=2&skip=0`);
  assert.deepEqual(written(), before, 'nothing written');
  assert.equal(one(`SELECT next_cursor FROM kb_rest_cursors WHERE source_id = :'p1';`, [products]), cursor);
});

// The CLI embeds through an imitation that records every input
// (tests/upstream/routes/mutable.mjs); the stack embeds locally.
const CLI = path.join(ROOT, 'build/release/cli/restsync');
const CLI_ENV = {
  ...process.env, DATABASE_URL: DB, RESTSYNC_SECRET_KEY_FILE: path.join(VAR, 'secret.key'),
  RESTSYNC_ALLOW_PRIVATE_NETWORKS: '1', RESTSYNC_ALLOW_ROOT: '1', OPENAI_API_KEY: 'sk-test-insight-0001', OPENAI_BASE_URL: `${UPSTREAM}/mut/v1`,
};
delete CLI_ENV.RESTSYNC_SECRET_KEY;
const cli = (...args) => {
  const r = spawnSync(CLI, args, { env: CLI_ENV, encoding: 'utf8', timeout: 120000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const models = (id) => sql(`SELECT metadata->>'embeddingModel', count(*) FROM kb_chunks WHERE source_id = :'p1' GROUP BY 1 ORDER BY 1;`, [id]);

test('every chunk records its model; a model switch is refused, reembed fixes it (CLI and page action)', async () => {
  const id = createSource('Insight models', dummyConfig({ defaultPageSize: 6 }));
  let b = await batch(id);
  assert.equal(b.status, 200, b.text);
  assert.deepEqual(models(id), [['local-hash-v1', '6']]);
  const h = await call('/api/backoffice/health', { method: 'GET' });
  assert.deepEqual(h.json.embedder, { name: 'local', model: 'local-hash-v1', semantic: false, note: 'not semantic — for demos and tests', dimensions: 1536 });

  // The deployment now embeds remotely: the batch is refused, naming both.
  const chunks = one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]);
  let r = cli('batch', id);
  assert.equal(r.code, 1, r.out);
  assert.match(r.err, /embedded with 'local-hash-v1' but this deployment embeds with 'text-embedding-3-small'/);
  assert.equal(one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]), chunks, 'nothing written');
  assert.match(one(`SELECT last_error FROM kb_rest_cursors WHERE source_id = :'p1';`, [id]), /re-embed it first/);

  await fetch(`${UPSTREAM}/mut/embedded-reset`, { method: 'POST' });
  const before = one(`SELECT embedding::text FROM kb_chunks WHERE source_id = :'p1' ORDER BY content_hash LIMIT 1;`, [id]);
  r = cli('reembed', '--json', id);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), { ok: true, sourceId: id, model: 'text-embedding-3-small', chunks: 6, groups: 1, left: 0 });
  assert.equal((await (await fetch(`${UPSTREAM}/mut/embedded`)).json()).length, 6, 'every chunk went to the API once');
  assert.deepEqual(models(id), [['text-embedding-3-small', '6']]);
  assert.notEqual(one(`SELECT embedding::text FROM kb_chunks WHERE source_id = :'p1' ORDER BY content_hash LIMIT 1;`, [id]), before);
  assert.equal(one(`SELECT detail::jsonb->>'chunks' FROM kb_rest_audit WHERE source_id = :'p1' AND action = 'reembed';`, [id]), '6');
  // Resumable: only what is left is done again.
  sql(`UPDATE kb_chunks SET metadata = metadata || '{"embeddingModel":"local-hash-v1"}' WHERE id IN
       (SELECT id FROM kb_chunks WHERE source_id = :'p1' ORDER BY content_hash LIMIT 2);`, [id]);
  r = cli('reembed', id);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `reembedded 2 chunks of ${id} with text-embedding-3-small (1 groups)\n`);
  r = cli('batch', id);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(models(id), [['text-embedding-3-small', '12']]);

  // Back on the stack (local): refused, then the page's action.
  b = await batch(id);
  assert.equal(b.status, 400, b.text);
  assert.match(b.json.error, /embedded with 'text-embedding-3-small' but this deployment embeds with 'local-hash-v1'/);
  // Search compares only vectors of the deployment's model.
  const s = await call(SEARCH, { body: { sourceId: id, query: 'Essence Mascara Lash Princess' } });
  assert.deepEqual([s.json.scanned, s.json.results], [0, []]);
  const re = await call('/api/backoffice/rest-reembed', { body: { sourceId: id } });
  assert.equal(re.status, 200, re.text);
  assert.deepEqual(re.json, { ok: true, sourceId: id, model: 'local-hash-v1', chunks: 12, groups: 1, left: 0 });
  b = await batch(id);
  assert.equal(b.status, 200, b.text);
  assert.deepEqual(models(id), [['local-hash-v1', '18']]);
  assert.equal((await call('/api/backoffice/rest-reembed', { body: { sourceId: '00000000-0000-4000-8000-00000000dead' } })).status, 404);
});

test('preview with credentials: the stored secret or the request\'s apiKey, never stored, never shown', async () => {
  const { GITHUB_TOKEN } = await import('../upstream/routes/styles.mjs');
  const gh = (provider) => ({
    baseUrl: `${UPSTREAM}/styles/github/repos/acme/widgets/issues?state=all`, cursorStyle: 'link', pageSizeParam: 'per_page',
    defaultPageSize: 10, itemsPath: '$', requiresAuth: true, provider, auth: 'bearer', textFields: ['title', 'body'], titleField: 'title',
  });
  putSecret('insight-gh', { token: GITHUB_TOKEN });
  const secrets = one('SELECT count(*) FROM integration_secrets;');
  const before = written();
  let r = await call(PREVIEW, { body: { tenantId: TENANT, config: gh('insight-gh') } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items, 10);
  assert.equal(r.json.next, `${UPSTREAM}/styles/github/repositories/4242/issues?state=all&per_page=10&page=2`);
  r = await call(PREVIEW, { body: { tenantId: TENANT, config: gh('insight-none'), apiKey: GITHUB_TOKEN } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items, 10);
  assert.ok(!r.text.includes(GITHUB_TOKEN), 'the key is never shown');
  r = await call(PREVIEW, { body: { tenantId: TENANT, config: gh('insight-none') } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /^source requires auth but the tenant has no secret for provider 'insight-none' at origin http:\/\/127\.0\.0\.1:\d+ /);
  r = await call(PREVIEW, { body: { tenantId: TENANT, config: gh('insight-none'), apiKey: 'wrong-key-123' } });
  assert.equal(r.status, 502, r.text);
  assert.match(r.json.error, /^upstream returned HTTP 401: .*Bad credentials/);
  assert.equal(r.json.status, 401);
  assert.ok(!r.text.includes('wrong-key-123'));
  assert.equal(one('SELECT count(*) FROM integration_secrets;'), secrets, 'the apiKey was not stored');
  assert.deepEqual(written(), before, 'nothing written');
});
