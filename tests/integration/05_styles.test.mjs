// Issue 6: the pagination styles and auth forms of the APIs operators
// have, each synced to the end against a faithful imitation
// (tests/upstream/routes/styles.mjs).  Every test checks exact item and
// chunk counts and, from the upstream's request log, that no extra page
// was fetched after the API said there was no more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  batch, counts, createSource, cursorRow, ensureTenant, one, putSecret, sql, syncToEnd, upstreamLog,
  upstreamReset, TENANT, UPSTREAM, VAR,
} from './lib.mjs';
import {
  COUNTS, GITHUB_TOKEN, HUBSPOT_KEY, NOTION_TOKEN, STRIPE_KEY, ZENDESK_TOKEN, ZENDESK_USER,
} from '../upstream/routes/styles.mjs';

const PRODUCTS = JSON.parse(fs.readFileSync(new URL('../../data/dummyjson/products.json', import.meta.url), 'utf8'));
const S = `${UPSTREAM}/styles`;

// The upstream requests of this test, as URL objects plus headers.
async function requests(prefix) {
  return (await upstreamLog())
    .filter((r) => r.url.startsWith(prefix))
    .map((r) => ({ url: new URL(r.url, UPSTREAM), headers: r.headers }));
}

// Sync to the end; every batch must be 200.
async function syncOk(id) {
  const rs = await syncToEnd(id);
  rs.forEach((r, i) => assert.equal(r.status, 200, `batch ${i}: ${r.text}`));
  return rs.map((r) => r.json);
}

function firstChunk(id) {
  const [title, content] = sql(`SELECT title, replace(content, E'\\n', chr(8232)) FROM kb_chunks
                                WHERE source_id = :'p1' ORDER BY chunk_idx LIMIT 1;`, [id])[0];
  return { title, content: content.replaceAll('\u2028', '\n') };
}

function assertDone(id, items, pages, chunks) {
  const cur = cursorRow(id);
  assert.deepEqual({ items: cur.items, pages: cur.pages, done: cur.done, status: cur.status, next: cur.next },
    { items, pages, done: true, status: 'done', next: null });
  assert.deepEqual(counts(id), { docs: 1, chunks });
}

const GITHUB = {
  baseUrl: `${S}/github/repos/acme/widgets/issues?state=all`, cursorStyle: 'link', pageSizeParam: 'per_page',
  defaultPageSize: 10, itemsPath: '$', requiresAuth: true, provider: 'styles-github', auth: 'bearer',
  textFields: ['title', 'body', 'user.login', 'labels.name'], titleField: 'title',
};

test('GitHub: Link rel="next" with a bearer token, top-level array, nested labels', async () => {
  putSecret('styles-github', { token: GITHUB_TOKEN });
  await upstreamReset();
  const id = createSource('GitHub issues', GITHUB);
  const rs = await syncOk(id);

  const repo = `${S}/github/repositories/4242/issues`;
  assert.deepEqual(rs.map((r) => r.items), [10, 10, 10, 10, 5]);
  assert.equal(rs[0].url, `${S}/github/repos/acme/widgets/issues?state=all&per_page=10`);
  assert.deepEqual(rs.map((r) => r.next), [2, 3, 4, 5].map((p) => `${repo}?state=all&per_page=10&page=${p}`).concat([null]));
  assert.equal(rs[4].url, `${repo}?state=all&per_page=10&page=5`);
  assert.equal(rs[4].done, true);
  assertDone(id, COUNTS.github, 5, COUNTS.github);

  // Five requests, all with the token; the last was page 5, whose Link had
  // no rel="next" (only prev and first).
  const log = await requests('/styles/github/');
  assert.equal(log.length, 5);
  log.forEach((r) => assert.equal(r.headers.authorization, `Bearer ${GITHUB_TOKEN}`));
  assert.deepEqual(log.map((r) => r.url.searchParams.get('page')), [null, '2', '3', '4', '5']);

  // titleField is the chunk title; labels.name collects every label.
  const p = PRODUCTS[0];
  const c = firstChunk(id);
  assert.equal(c.title, p.title);
  assert.match(c.content, new RegExp(`^title: ${p.title}\n`));
  assert.ok(c.content.includes(`labels.name: ${[p.category, ...p.tags].join(', ')}`), c.content);
  assert.ok(c.content.includes(`user.login: ${p.reviews[0].reviewerName.replace(/\s+/g, '-').toLowerCase()}`), c.content);
  assert.equal(+one(`SELECT count(DISTINCT title) FROM kb_chunks WHERE source_id = :'p1';`, [id]),
    new Set(PRODUCTS.slice(0, COUNTS.github).map((x) => x.title)).size);
});

test('GitHub: 401 without the token is a 502 naming HTTP 401, and the cursor stays', async () => {
  // No auth at all: GitHub says "Requires authentication".
  await upstreamReset();
  const anon = createSource('GitHub anon', { ...GITHUB, requiresAuth: false, auth: null });
  const r = await batch(anon);
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.ok, false);
  assert.equal(r.json.status, 401);
  assert.match(r.json.error, /^upstream returned HTTP 401: .*Requires authentication/);
  let cur = cursorRow(anon);
  assert.deepEqual({ next: cur.next, pages: cur.pages, items: cur.items, status: cur.status, http: cur.http },
    { next: null, pages: 0, items: 0, status: 'error', http: 401 });
  assert.deepEqual(counts(anon), { docs: 0, chunks: 0 });
  assert.equal((await requests('/styles/github/')).length, 1);

  // A token that goes bad mid-sync: the failing batch writes nothing and
  // the cursor stays on page 2; a good token resumes from there.
  putSecret('styles-github-rot', { token: GITHUB_TOKEN });
  const id = createSource('GitHub rotating', { ...GITHUB, provider: 'styles-github-rot' });
  const first = await batch(id);
  assert.equal(first.status, 200, first.text);
  const page2 = `${S}/github/repositories/4242/issues?state=all&per_page=10&page=2`;
  assert.equal(first.json.next, page2);

  putSecret('styles-github-rot', { token: 'ghp_revoked000000000000000000000000000' });
  await upstreamReset();
  const bad = await batch(id);
  assert.equal(bad.status, 502, bad.text);
  assert.equal(bad.json.status, 401);
  assert.equal(bad.json.url, page2);
  assert.match(bad.json.error, /^upstream returned HTTP 401: .*Bad credentials/);
  assert.ok(!bad.text.includes('ghp_revoked'), 'the token is not echoed');
  cur = cursorRow(id);
  assert.deepEqual({ next: cur.next, pages: cur.pages, items: cur.items, status: cur.status, http: cur.http },
    { next: page2, pages: 1, items: 10, status: 'error', http: 401 });
  assert.match(cur.error, /HTTP 401/);
  assert.deepEqual(counts(id), { docs: 1, chunks: 10 });

  putSecret('styles-github-rot', { token: GITHUB_TOKEN });
  await upstreamReset();
  const rest = await syncOk(id);
  assert.deepEqual(rest.map((x) => x.items), [10, 10, 10, 5]);
  assertDone(id, COUNTS.github, 5, COUNTS.github);
  assert.equal((await requests('/styles/github/')).length, 4);
});

test('Link header over two lines, relative targets, multi-value rel', async () => {
  await upstreamReset();
  const id = createSource('Links', {
    baseUrl: `${S}/links/items`, cursorStyle: 'link', pageSizeParam: 'limit', defaultPageSize: 20,
    itemsPath: 'items', textFields: ['title', 'description'], titleField: 'title',
  });
  const rs = await syncOk(id);
  assert.deepEqual(rs.map((r) => r.items), [20, 20, 20]);
  // "<items?limit=20&page=2>" resolved against the request URL.
  assert.deepEqual(rs.map((r) => r.next), [`${S}/links/items?limit=20&page=2`, `${S}/links/items?limit=20&page=3`, null]);
  assertDone(id, COUNTS.links, 3, COUNTS.links);
  const log = await requests('/styles/links/');
  assert.deepEqual(log.map((r) => r.url.search), ['?limit=20', '?limit=20&page=2', '?limit=20&page=3']);
  assert.equal(firstChunk(id).title, PRODUCTS[60].title);
});

test('a Link rel="next" on another origin is refused: 502, nothing stored, not followed', async () => {
  await upstreamReset();
  const id = createSource('Links away', {
    baseUrl: `${S}/links/away`, cursorStyle: 'link', itemsPath: 'items', textFields: ['title'],
  });
  const r = await batch(id);
  assert.equal(r.status, 502, r.text);
  // The message names the target without its query (an API may echo a key).
  assert.match(r.json.error, /^next URL 'http:\/\/localhost:\d+\/styles\/links\/items' is on another origin than baseUrl/);
  const cur = cursorRow(id);
  assert.deepEqual({ next: cur.next, pages: cur.pages, status: cur.status }, { next: null, pages: 0, status: 'error' });
  assert.deepEqual(counts(id), { docs: 0, chunks: 0 });
  const log = await upstreamLog();
  assert.equal(log.length, 1);
  assert.equal(log[0].url, '/styles/links/away');
});

test('Notion: next_cursor + has_more, bearer plus a Notion-Version header, opaque cursors', async () => {
  putSecret('styles-notion', { token: NOTION_TOKEN });
  await upstreamReset();
  const db = `${S}/notion/v1/databases/d9824bdc-8445-4327-be8b-5b47500af6ce/query`;
  const id = createSource('Notion DB', {
    baseUrl: db, cursorStyle: 'cursor', cursorParam: 'start_cursor', nextCursorPath: 'next_cursor',
    hasMorePath: 'has_more', pageSizeParam: 'page_size', defaultPageSize: 25, itemsPath: 'results',
    requiresAuth: true, provider: 'styles-notion', auth: 'bearer', headersTemplate: { 'Notion-Version': '2022-06-28' },
    textFields: ['properties.Name.title.plain_text', 'properties.Tags.multi_select.name', 'properties.Notes.rich_text.plain_text'],
    titleField: 'properties.Name.title.0.plain_text',
  });
  const rs = await syncOk(id);
  const cursor = Buffer.from(JSON.stringify({ o: 25, s: '?>~' })).toString('base64');
  assert.match(cursor, /[+/=]/, 'the cursor needs encoding');
  assert.deepEqual(rs.map((r) => r.items), [25, 25]);
  assert.deepEqual(rs.map((r) => r.next), [cursor, null]);
  assert.equal(rs[0].url, `${db}?page_size=25`);
  assert.equal(rs[1].url, `${db}?page_size=25&start_cursor=${cursor.replace(/[+/=]/g, (ch) => '%' + ch.charCodeAt(0).toString(16).toUpperCase())}`);
  assertDone(id, COUNTS.notion, 2, COUNTS.notion);

  // The second page was full, has_more false ended it: two requests.
  const log = await requests('/styles/notion/');
  assert.equal(log.length, 2);
  assert.equal(log[1].url.searchParams.get('start_cursor'), cursor);
  log.forEach((r) => {
    assert.equal(r.headers.authorization, `Bearer ${NOTION_TOKEN}`);
    assert.equal(r.headers['notion-version'], '2022-06-28');
  });

  const p = PRODUCTS[10];
  const c = firstChunk(id);
  assert.equal(c.title, p.title);
  assert.equal(c.content, [
    `properties.Name.title.plain_text: ${p.title}`,
    `properties.Tags.multi_select.name: ${p.tags.join(', ')}`,
    `properties.Notes.rich_text.plain_text: ${p.reviews.map((x) => x.comment).join(', ')}`,
  ].join('\n'));
});

test('0-based pages with nested data.items and totalPages: page 0 first, no empty page', async () => {
  await upstreamReset();
  const id = createSource('Zero-based', {
    baseUrl: `${S}/zero/items`, cursorStyle: 'page', pageStart: 0, pageSizeParam: 'size', defaultPageSize: 20,
    itemsPath: 'data.items', totalPagesPath: 'data.totalPages', textFields: ['title', 'description', 'reviews.comment'],
    titleField: 'title',
  });
  const rs = await syncOk(id);
  assert.deepEqual(rs.map((r) => r.items), [20, 20, 20]);
  assert.deepEqual(rs.map((r) => r.url), [0, 1, 2].map((n) => `${S}/zero/items?size=20&page=${n}`));
  assert.deepEqual(rs.map((r) => r.next), ['1', '2', null]);
  assertDone(id, COUNTS.zero, 3, COUNTS.zero);
  const log = await requests('/styles/zero/');
  assert.deepEqual(log.map((r) => r.url.searchParams.get('page')), ['0', '1', '2']);
  const p = PRODUCTS[100];
  const c = firstChunk(id);
  assert.equal(c.title, p.title);
  assert.ok(c.content.endsWith(`reviews.comment: ${p.reviews.map((x) => x.comment).join(', ')}`), c.content);
});

test('1-based pages with nested data.items and total_pages', async () => {
  await upstreamReset();
  const id = createSource('One-based', {
    baseUrl: `${S}/one/items`, cursorStyle: 'page', pageSizeParam: 'per_page', defaultPageSize: 25,
    itemsPath: 'data.items', totalPagesPath: 'data.total_pages', textFields: ['title', 'description'],
  });
  const rs = await syncOk(id);
  assert.deepEqual(rs.map((r) => r.items), [25, 25, 25]);
  assert.deepEqual(rs.map((r) => r.url), [1, 2, 3].map((n) => `${S}/one/items?per_page=25&page=${n}`));
  assertDone(id, COUNTS.one, 3, COUNTS.one);
  assert.equal((await requests('/styles/one/')).length, 3);
});

const STRIPE = {
  baseUrl: `${S}/stripe/v1/customers`, cursorStyle: 'cursor', cursorParam: 'starting_after', nextCursorPath: '$last.id',
  hasMorePath: 'has_more', pageSizeParam: 'limit', defaultPageSize: 10, itemsPath: 'data', requiresAuth: true,
  textFields: ['name', 'email', 'description', 'address.city'], titleField: 'name',
};

async function stripeSync(title, config) {
  await upstreamReset();
  const id = createSource(title, config);
  const rs = await syncOk(id);
  const ids = (await (await fetch(`${S}/stripe/v1/customers?limit=100`, { headers: { Authorization: `Bearer ${STRIPE_KEY}` } })).json())
    .data.map((c) => c.id);
  await upstreamReset();
  assert.equal(ids.length, COUNTS.stripe);
  assert.deepEqual(rs.map((r) => r.items), [10, 10, 10]);
  assert.deepEqual(rs.map((r) => r.next), [ids[9], ids[19], null]);
  assert.deepEqual(rs.map((r) => r.url), [
    `${S}/stripe/v1/customers?limit=10`,
    `${S}/stripe/v1/customers?limit=10&starting_after=${ids[9]}`,
    `${S}/stripe/v1/customers?limit=10&starting_after=${ids[19]}`,
  ]);
  assertDone(id, COUNTS.stripe, 3, COUNTS.stripe);
  return id;
}

test('Stripe: starting_after = $last.id, has_more, bearer from the api_key', async () => {
  putSecret('styles-stripe', { api_key: STRIPE_KEY });
  const id = await stripeSync('Stripe customers', { ...STRIPE, provider: 'styles-stripe', auth: 'bearer' });
  const p = PRODUCTS[150];
  const c = firstChunk(id);
  assert.equal(c.title, p.reviews[0].reviewerName);
  assert.ok(c.content.includes(`address.city: ${p.brand || 'Nowhere'}`), c.content);
});

test('Stripe: HTTP basic with the secret key as username and an empty password', async () => {
  putSecret('styles-stripe-basic', { username: STRIPE_KEY, password: '' });
  await upstreamReset();
  const id = createSource('Stripe basic', { ...STRIPE, provider: 'styles-stripe-basic', auth: 'basic' });
  const rs = await syncOk(id);
  assert.equal(rs.length, 3);
  const log = await requests('/styles/stripe/');
  assert.equal(log.length, 3);
  log.forEach((r) => assert.equal(r.headers.authorization, 'Basic ' + Buffer.from(`${STRIPE_KEY}:`).toString('base64')));
  assertDone(id, COUNTS.stripe, 3, COUNTS.stripe);
});

test('HubSpot: API key in the query, offset + has-more', async () => {
  putSecret('styles-hubspot', { api_key: HUBSPOT_KEY });
  await upstreamReset();
  const base = `${S}/hubspot/companies/v2/companies/paged`;
  const config = {
    baseUrl: base, cursorStyle: 'cursor', cursorParam: 'offset', nextCursorPath: 'offset', hasMorePath: 'has-more',
    pageSizeParam: 'limit', defaultPageSize: 20, itemsPath: 'companies', queryTemplate: { hapikey: '{{API_KEY}}' },
    requiresAuth: true, provider: 'styles-hubspot',
    textFields: ['properties.name.value', 'properties.description.value'], titleField: 'properties.name.value',
  };
  const id = createSource('HubSpot companies', config);
  const rs = await syncOk(id);
  assert.deepEqual(rs.map((r) => r.items), [20, 20]);
  assert.deepEqual(rs.map((r) => r.next), ['20', null]);
  // The key ('+', '/', '=', '&' in it) arrives intact and is never shown.
  const log = await requests('/styles/hubspot/');
  assert.equal(log.length, 2, 'has-more false ended it: no request at offset 40');
  log.forEach((r) => assert.equal(r.url.searchParams.get('hapikey'), HUBSPOT_KEY));
  assert.deepEqual(log.map((r) => r.url.searchParams.get('offset')), [null, '20']);
  for (const r of rs) {
    assert.ok(!r.url.includes('a1b2c3d4'), r.url);
    assert.match(r.url, /&hapikey=\[redacted\]$/);
  }
  assertDone(id, COUNTS.hubspot, 2, COUNTS.hubspot);
  assert.equal(firstChunk(id).title, PRODUCTS[20].title);

  // A wrong key: 502 naming HTTP 401, the key in neither answer nor row.
  putSecret('styles-hubspot-bad', { api_key: 'wrong-key-1234' });
  const bad = createSource('HubSpot bad key', { ...config, provider: 'styles-hubspot-bad' });
  const r = await batch(bad);
  assert.equal(r.status, 502, r.text);
  assert.match(r.json.error, /^upstream returned HTTP 401: .*API key provided is invalid/);
  assert.ok(!r.text.includes('wrong-key-1234'), r.text);
  assert.ok(!cursorRow(bad).error.includes('wrong-key-1234'));
});

test('Zendesk: page[after] cursor, meta.has_more wins over a present after_cursor, HTTP basic', async () => {
  putSecret('styles-zendesk', { username: ZENDESK_USER, password: ZENDESK_TOKEN });
  await upstreamReset();
  const base = `${S}/zendesk/api/v2/tickets.json`;
  const id = createSource('Zendesk tickets', {
    baseUrl: base, cursorStyle: 'cursor', cursorParam: 'page[after]', nextCursorPath: 'meta.after_cursor',
    hasMorePath: 'meta.has_more', pageSizeParam: 'page[size]', defaultPageSize: 10, itemsPath: 'tickets',
    requiresAuth: true, provider: 'styles-zendesk', auth: 'basic',
    textFields: ['subject', 'description', 'via.source.from.name', 'tags'], titleField: 'subject',
  });
  const rs = await syncOk(id);
  assert.deepEqual(rs.map((r) => r.items), [10, 10, 10, 5]);
  assert.equal(rs[0].url, `${base}?page%5Bsize%5D=10`);
  assert.equal(rs[3].next, null);
  assertDone(id, COUNTS.zendesk, 4, COUNTS.zendesk);
  const log = await requests('/styles/zendesk/');
  assert.equal(log.length, 4);
  const want = 'Basic ' + Buffer.from(`${ZENDESK_USER}:${ZENDESK_TOKEN}`).toString('base64');
  log.forEach((r) => assert.equal(r.headers.authorization, want));
  assert.deepEqual(log.map((r) => r.url.searchParams.get('page[size]')), ['10', '10', '10', '10']);
  const p = PRODUCTS[120];
  const c = firstChunk(id);
  assert.equal(c.title, p.title);
  assert.ok(c.content.includes(`via.source.from.name: ${p.reviews[0].reviewerName}`), c.content);
});

test('an auth form whose secret lacks its field fails before any request', async () => {
  putSecret('styles-basic-nouser', { api_key: 'k-1234567' });
  await upstreamReset();
  const id = createSource('Basic without username', { ...STRIPE, provider: 'styles-basic-nouser', auth: 'basic' });
  const r = await batch(id);
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /auth 'basic' needs a 'username'/);
  assert.equal((await upstreamLog()).length, 0);
});

test('maxPages stops a Link sync early', async () => {
  putSecret('styles-github', { token: GITHUB_TOKEN });
  await upstreamReset();
  const id = createSource('GitHub two pages', { ...GITHUB, maxPages: 2 });
  const rs = await syncOk(id);
  assert.deepEqual(rs.map((r) => [r.items, r.done]), [[10, false], [10, true]]);
  assertDone(id, 20, 2, 20);
  assert.equal((await requests('/styles/github/')).length, 2);
});
