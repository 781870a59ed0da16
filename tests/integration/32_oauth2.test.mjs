// Issue 17: OAuth2 client credentials.  The imitation (tests/upstream/
// routes/oauth.mjs) issues short-lived tokens, counts them, and answers
// its API only with a live one.  Everything goes through nginx; the
// source and its client credentials are entered through the API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  UPSTREAM, VAR, batch, call, counts, cursorRow, one, sql, until,
} from './lib.mjs';
import { OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET } from '../upstream/routes/oauth.mjs';

const T = '00000000-0000-4000-8000-0000000017a1';
const CREATE = '/api/backoffice/rest-sources';
const UPDATE = '/api/backoffice/rest-sources-update';
const RESET = '/api/backoffice/rest-sources-reset';
const SYNC = '/api/backoffice/rest-sync';
// Same server, another host name: another origin.
const OTHER = UPSTREAM.replace('127.0.0.1', 'localhost');
const WRONG_SECRET = 'wrong-secret-Hk27pQ';

function config(extra = {}, auth = {}) {
  return {
    baseUrl: `${UPSTREAM}/oauth/items`, cursorStyle: 'page', pageSizeParam: 'per_page', defaultPageSize: 50,
    itemsPath: 'data.items', textFields: ['title', 'description'], titleField: 'title',
    requiresAuth: true, provider: `oa${process.pid}`,
    auth: { type: 'oauth2_client_credentials', tokenUrl: `${UPSTREAM}/oauth/token`, scope: 'items:read', ...auth },
    ...extra,
  };
}

const stats = async () => (await fetch(`${UPSTREAM}/oauth/stats`)).json();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function create(title, cfg, secret = {}) {
  return call(CREATE, { body: { tenantId: T, title, config: cfg, ...secret } });
}


// Every secret the test saw: the client secret, the wrong one, and every
// token the imitation issued.
const seen = new Set([OAUTH_CLIENT_SECRET, WRONG_SECRET]);
const answers = [];

before(async () => {
  sql(`INSERT INTO tenants (id, name) VALUES (:'p1', 'OAuth tenant') ON CONFLICT DO NOTHING;`, [T]);
  await fetch(`${UPSTREAM}/oauth/reset`, { method: 'POST' });
});

test('a full sync: one token for the whole sync, refreshed once after it expired, and a 401 refreshes it and retries the page', async () => {
  const provider = `oa-full-${process.pid}`;
  let r = await create('OAuth full', config({ provider }, { tokenUrl: `${UPSTREAM}/oauth/token?ttl=4000` }),
    { clientId: OAUTH_CLIENT_ID, clientSecret: OAUTH_CLIENT_SECRET });
  answers.push(r.text);
  assert.equal(r.status, 201, r.text);
  const id = r.json.source.id;
  assert.equal(r.json.source.hasSecret, true);

  // 4 pages of 50, 50, 50, 44: the first batch gets the token, the other
  // three use it (each program worker from the database, then memory).
  const t0 = Date.now();
  for (let i = 0; i < 4; i++) {
    r = await batch(id);
    answers.push(r.text);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.items, [50, 50, 50, 44][i]);
  }
  assert.equal(r.json.done, true);
  assert.ok(Date.now() - t0 < 3600, 'the sync ran within the token\'s fresh life (3.6 s)');
  assert.deepEqual(cursorRow(id), { next: null, pages: 4, items: 194, status: 'done', http: 200, error: '', done: true });
  assert.deepEqual(counts(id), { docs: 1, chunks: 194 });
  let s = await stats();
  assert.equal(s.tokenRequests.length, 1, JSON.stringify(s.tokenRequests));
  const first = s.tokenRequests[0];
  assert.equal(first.method, 'POST');
  assert.equal(first.contentType, 'application/x-www-form-urlencoded');
  assert.equal(first.body, 'grant_type=client_credentials&scope=items%3Aread');
  assert.equal(first.clientId, OAUTH_CLIENT_ID);
  assert.deepEqual(s.apiRequests.map((a) => [a.page, a.status, a.token]), [1, 2, 3, 4].map((p) => [p, 200, first.token]));
  // The token is cached for the other workers, encrypted.
  // (hex: an 'escape' encoding keeps a newline or tab byte as it is,
  // which would split the row.)
  const row = sql(`SELECT encode(ciphertext, 'hex'), fresh_until > now() FROM kb_oauth_tokens WHERE source_id = :'p1';`, [id]);
  assert.equal(row.length, 1);
  assert.ok(!row[0][0].includes(Buffer.from(first.token).toString('hex')), 'the stored token is encrypted');

  // After expiry (4 s): exactly one new token for the next sync.
  await sleep(4100);
  r = await call(RESET, { body: { sourceId: id } });
  assert.equal(r.status, 200, r.text);
  for (let i = 0; i < 4; i++) {
    r = await batch(id);
    answers.push(r.text);
    assert.equal(r.status, 200, r.text);
  }
  assert.equal(r.json.done, true);
  s = await stats();
  assert.equal(s.tokenRequests.length, 2, 'refreshed once after expiry');
  const second = s.tokenRequests[1].token;
  assert.notEqual(second, first.token);
  assert.deepEqual(s.apiRequests.slice(4).map((a) => [a.status, a.token]), [1, 2, 3, 4].map(() => [200, second]));

  // The API revokes it early: the next page gets 401, the batch gets a
  // new token (once) and fetches the page again.
  await fetch(`${UPSTREAM}/oauth/revoke`, { method: 'POST' });
  r = await call(RESET, { body: { sourceId: id } });
  r = await batch(id);
  answers.push(r.text);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items, 50);
  assert.equal(r.json.attempts, 2, 'the refused attempt and the retry');
  s = await stats();
  assert.equal(s.tokenRequests.length, 3);
  const third = s.tokenRequests[2].token;
  assert.deepEqual(s.apiRequests.slice(8).map((a) => [a.page, a.status, a.token]), [[1, 401, second], [1, 200, third]]);
  // The next batch: the program worker that got the new token uses it;
  // the other one (its memory still holds the revoked token) gets a 401
  // and takes the new token from the database — no new token request.
  r = await batch(id);
  assert.equal(r.status, 200, r.text);
  s = await stats();
  assert.equal(s.tokenRequests.length, 3);
  const later = s.apiRequests.slice(10).map((a) => [a.page, a.status, a.token]);
  assert.ok([JSON.stringify([[2, 200, third]]), JSON.stringify([[2, 401, second], [2, 200, third]])]
    .includes(JSON.stringify(later)), JSON.stringify(later));
  r = await batch(id);
  assert.equal(r.status, 200, r.text);
  s = await stats();
  assert.equal(s.tokenRequests.length, 3);
  assert.deepEqual(s.apiRequests.at(-1).token, third);
  s.issued.forEach((t) => seen.add(t));
});

test('a server-side run: the worker gets one token, syncs to the end, and shares the token cache', async () => {
  const provider = `oa-run-${process.pid}`;
  let r = await create('OAuth run', config({ provider }, { tokenUrl: `${UPSTREAM}/oauth/token?ttl=60000` }),
    { clientId: OAUTH_CLIENT_ID, clientSecret: OAUTH_CLIENT_SECRET });
  assert.equal(r.status, 201, r.text);
  const id = r.json.source.id;
  const before0 = (await stats()).tokenRequests.length;
  r = await call(SYNC, { body: { sourceId: id } });
  assert.equal(r.status, 202, r.text);
  const runId = r.json.runId;
  await until('the run done', () => one(`SELECT status FROM kb_rest_runs WHERE id = :'p1';`, [runId]) === 'done');
  assert.deepEqual(sql(`SELECT pages, items, new_items FROM kb_rest_runs WHERE id = :'p1';`, [runId]), [['4', '194', '194']]);
  let s = await stats();
  assert.equal(s.tokenRequests.length - before0, 1, 'one token for the whole run');
  // A click on the page's program then uses the cached token too.
  r = await call(RESET, { body: { sourceId: id } });
  r = await batch(id);
  assert.equal(r.status, 200, r.text);
  s = await stats();
  assert.equal(s.tokenRequests.length - before0, 1);
  s.issued.forEach((t) => seen.add(t));
});

test('a wrong client secret: a clear error with the endpoint\'s status and error, on the batch and in last_error, redacted', async () => {
  const provider = `oa-wrong-${process.pid}`;
  let r = await create('OAuth wrong', config({ provider }), { clientId: OAUTH_CLIENT_ID, clientSecret: WRONG_SECRET });
  assert.equal(r.status, 201, r.text);
  const id = r.json.source.id;
  const n0 = (await stats()).apiRequests.length;
  r = await batch(id);
  answers.push(r.text);
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error, 'OAuth2 token endpoint answered HTTP 401: invalid_client: Client authentication failed');
  assert.equal(cursorRow(id).error, r.json.error);
  assert.equal(cursorRow(id).status, 'error');
  assert.equal((await stats()).apiRequests.length, n0, 'no page requested without a token');

  // An endpoint that repeats the secret it was sent: redacted everywhere.
  r = await call(UPDATE, { body: { sourceId: id, config: config({ provider }, { tokenUrl: `${UPSTREAM}/oauth/token?echo=1` }) } });
  assert.equal(r.status, 200, r.text);
  r = await batch(id);
  answers.push(r.text);
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error, 'OAuth2 token endpoint answered HTTP 401: invalid_client: client secret [redacted] is not valid');
  assert.equal(cursorRow(id).error, r.json.error);

  // Entering the right one makes it work.
  r = await call(UPDATE, { body: { sourceId: id, clientId: OAUTH_CLIENT_ID, clientSecret: OAUTH_CLIENT_SECRET } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.source.hasSecret, true);
  r = await call(UPDATE, { body: { sourceId: id, config: config({ provider }) } });
  assert.equal(r.status, 200, r.text);
  r = await batch(id);
  assert.equal(r.status, 200, r.text);
  (await stats()).issued.forEach((t) => seen.add(t));
});

test('the token URL must be on the source\'s origin unless its origin is listed in allowedTokenOrigins; moving it needs the secret again', async () => {
  const provider = `oa-origin-${process.pid}`;
  const away = `${OTHER}/oauth/token`;
  let r = await create('OAuth away', config({ provider }, { tokenUrl: away }),
    { clientId: OAUTH_CLIENT_ID, clientSecret: OAUTH_CLIENT_SECRET });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error, `config: 'auth.tokenUrl' must be on baseUrl's origin (${UPSTREAM}) unless its origin (${OTHER}) is listed in 'auth.allowedTokenOrigins'`);
  assert.equal(one(`SELECT count(*) FROM kb_sources WHERE title = 'OAuth away';`), '0');

  // Allowed: created, and the token comes from the other origin.
  const n0 = (await stats()).tokenRequests.length;
  r = await create('OAuth away', config({ provider }, { tokenUrl: away, allowedTokenOrigins: [OTHER] }),
    { clientId: OAUTH_CLIENT_ID, clientSecret: OAUTH_CLIENT_SECRET });
  assert.equal(r.status, 201, r.text);
  const id = r.json.source.id;
  r = await batch(id);
  assert.equal(r.status, 200, r.text);
  assert.equal((await stats()).tokenRequests.length, n0 + 1);

  // Pointing the token URL at another origin without entering the
  // secret again is refused (naming clientSecret): the stored secret is
  // bound to the token origin it was entered for.
  const third = UPSTREAM.replace('127.0.0.1', '127.0.0.2');
  r = await call(UPDATE, { body: { sourceId: id, config: config({ provider },
    { tokenUrl: `${third}/oauth/token`, allowedTokenOrigins: [OTHER, third] }) } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /^clientSecret: changing the origin, token URL origin or provider/);
  // Back on the source's own origin: also a move.
  r = await call(UPDATE, { body: { sourceId: id, config: config({ provider }) } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /^clientSecret: /);
  r = await call(UPDATE, { body: { sourceId: id, config: config({ provider }), clientId: OAUTH_CLIENT_ID, clientSecret: OAUTH_CLIENT_SECRET } });
  assert.equal(r.status, 200, r.text);
  const audit = one(`SELECT detail::text FROM kb_rest_audit WHERE source_id = :'p1' AND action = 'update' AND outcome = 'ok' ORDER BY id DESC LIMIT 1;`, [id]);
  assert.match(audit, /"tokenOriginChanged": true/);
  assert.match(audit, /"clientSecret"/);
  (await stats()).issued.forEach((t) => seen.add(t));
});

test('clientId and clientSecret are write-only, come together, and only for an oauth2 config', async () => {
  const provider = `oa-wo-${process.pid}`;
  let r = await create('OAuth wo', config({ provider }), { clientId: OAUTH_CLIENT_ID });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error, "'clientSecret' is required with 'clientId' (the client credentials are stored together)");
  r = await create('OAuth wo', config({ provider }), { clientSecret: OAUTH_CLIENT_SECRET });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /^'clientId' is required with 'clientSecret'/);
  r = await create('OAuth wo', config({ provider }), { apiKey: 'some-api-key', clientId: OAUTH_CLIENT_ID, clientSecret: OAUTH_CLIENT_SECRET });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /^'apiKey' cannot come with 'clientId'/);
  r = await create('OAuth wo', config({ provider }), { apiKey: 'some-api-key' });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /^apiKey: this config's auth is oauth2_client_credentials/);
  r = await create('OAuth wo', { ...config({ provider }), auth: 'bearer' }, { clientId: OAUTH_CLIENT_ID, clientSecret: OAUTH_CLIENT_SECRET });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /^clientId: /);
  assert.equal(one(`SELECT count(*) FROM kb_sources WHERE title = 'OAuth wo';`), '0');

  r = await create('OAuth wo', config({ provider }), { clientId: OAUTH_CLIENT_ID, clientSecret: OAUTH_CLIENT_SECRET });
  assert.equal(r.status, 201, r.text);
  answers.push(r.text);
  const id = r.json.source.id;
  // Stored encrypted: the secret's row holds neither value in clear.
  const ct = one(`SELECT encode(ciphertext, 'hex') FROM integration_secrets WHERE tenant_id = :'p1' AND provider = :'p2';`, [T, provider]);
  const hex = (v) => Buffer.from(v).toString('hex');
  assert.ok(ct && !ct.includes(hex(OAUTH_CLIENT_SECRET)) && !ct.includes(hex(OAUTH_CLIENT_ID)));
  // Never in any answer about the source.
  const list = await call(CREATE, { method: 'GET' });
  answers.push(list.text);
  const got = list.json.sources.find((x) => x.id === id);
  assert.equal(got.hasSecret, true);
  assert.ok(!('clientSecret' in got) && !('clientId' in got));
  // A dry run takes no client credentials (it uses the stored ones).
  r = await call('/api/backoffice/rest-preview', { body: { sourceId: id, clientId: OAUTH_CLIENT_ID, clientSecret: OAUTH_CLIENT_SECRET } });
  answers.push(r.text);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error, 'clientId: a test uses the stored client credentials; save them first');
  r = await call('/api/backoffice/rest-preview', { body: { sourceId: id } });
  answers.push(r.text);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items, 50);
  // An update without them keeps them.
  r = await call(UPDATE, { body: { sourceId: id, title: 'OAuth wo 2', clientId: '', clientSecret: null } });
  assert.equal(r.status, 200, r.text);
  answers.push(r.text);
  r = await batch(id);
  assert.equal(r.status, 200, r.text);
  (await stats()).issued.forEach((t) => seen.add(t));
});

after(async () => {
  // The client secrets and every token issued: never in the programs',
  // nginx's, the workers' or PostgreSQL's logs, last_error, the audit
  // trail or any answer the tests got.
  (await stats()).issued.forEach((t) => seen.add(t));
  assert.ok(seen.size >= 8, `tokens seen: ${seen.size}`);
  const leaks = [];
  const logDir = path.join(VAR, 'log');
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const text = fs.readFileSync(p, 'latin1');
        for (const s of seen) if (text.includes(s)) leaks.push(`${p}: ${s.slice(0, 6)}…`);
      }
    }
  };
  walk(logDir);
  const db = sql(`SELECT coalesce(string_agg(coalesce(last_error, ''), ' '), '') FROM kb_rest_cursors;`)[0]?.[0] || '';
  const audit = sql(`SELECT coalesce(string_agg(detail::text, ' '), '') FROM kb_rest_audit;`)[0]?.[0] || '';
  const runs = sql(`SELECT coalesce(string_agg(coalesce(error, ''), ' '), '') FROM kb_rest_runs;`)[0]?.[0] || '';
  for (const s of seen) {
    if (db.includes(s)) leaks.push(`last_error: ${s.slice(0, 6)}…`);
    if (audit.includes(s)) leaks.push(`audit: ${s.slice(0, 6)}…`);
    if (runs.includes(s)) leaks.push(`runs: ${s.slice(0, 6)}…`);
    for (const a of answers) if (a.includes(s)) leaks.push(`answer: ${s.slice(0, 6)}…`);
  }
  assert.deepEqual(leaks, []);
});
