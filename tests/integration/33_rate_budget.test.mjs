// Issue 17: a shared rate budget.  rateLimit {"requests": N,
// "perSeconds": S, "scope"} is one budget in PostgreSQL that every worker
// and endpoint draws from; the upstream imitation (tests/upstream/routes/
// oauth.mjs, /rate/) notes the arrival time of every request.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  UPSTREAM, batch, call, cursorRow, one, sql, until,
} from './lib.mjs';

const T = '00000000-0000-4000-8000-0000000017b1';
const CREATE = '/api/backoffice/rest-sources';
const SYNC = '/api/backoffice/rest-sync';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function config(src, rateLimit, extra = {}) {
  return {
    baseUrl: `${UPSTREAM}/rate/items`, cursorStyle: 'page', pageSizeParam: 'per_page', defaultPageSize: 20,
    itemsPath: 'data.items', textFields: ['title', 'description'], titleField: 'title',
    queryTemplate: { src }, rateLimit, ...extra,
  };
}

async function create(title, cfg) {
  const r = await call(CREATE, { body: { tenantId: T, title, config: cfg } });
  assert.equal(r.status, 201, r.text);
  return r.json.source.id;
}

const notes = async () => (await fetch(`${UPSTREAM}/rate/log`)).json();


// The most requests any window of `ms` (half-open) holds.
function busiestWindow(times, ms) {
  const t = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i] - t[j] >= ms) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

before(async () => {
  sql(`INSERT INTO tenants (id, name) VALUES (:'p1', 'Rate tenant') ON CONFLICT DO NOTHING;`, [T]);
  await fetch(`${UPSTREAM}/rate/reset`, { method: 'POST' });
});

test('two workers and the page\'s program share a 5-requests-per-second budget and never exceed it', async () => {
  const tag = `rb${process.pid}`;
  const rate = { requests: 5, perSeconds: 1, scope: 'provider' };
  const provider = `rate-${tag}`;
  // Two server-side runs (the two run workers) and batches clicked in
  // parallel on a third source, all of one tenant and provider.
  const a = await create('Rate A', config(`${tag}-a`, rate, { provider }));
  const b = await create('Rate B', config(`${tag}-b`, rate, { provider }));
  const c = await create('Rate C', config(`${tag}-c`, rate, { provider }));
  const ra = await call(SYNC, { body: { sourceId: a } });
  const rb = await call(SYNC, { body: { sourceId: b } });
  assert.equal(ra.status, 202, ra.text);
  assert.equal(rb.status, 202, rb.text);
  const clicks = [];
  const clicker = (async () => {
    for (let i = 0; i < 20; i++) {
      const r = await batch(c);
      clicks.push(r.status);
      if (r.status === 200 && r.json.done) return;
    }
  })();
  await until('both runs done', () => ['done', 'done'].join() ===
    [ra.json.runId, rb.json.runId].map((id) => one(`SELECT status FROM kb_rest_runs WHERE id = :'p1';`, [id])).join(), 90000);
  await clicker;
  assert.deepEqual([...new Set(clicks)], [200], `click statuses: ${clicks}`);
  // Each source: 194 items in 10 pages of 20 (the last one short).
  for (const id of [a, b, c]) {
    const row = cursorRow(id);
    assert.deepEqual([row.pages, row.items, row.done], [10, 194, true]);
  }
  const mine = (await notes()).filter((n) => n.src.startsWith(tag));
  assert.equal(mine.length, 30, 'one request per page');
  for (const s of ['a', 'b', 'c']) assert.equal(mine.filter((n) => n.src === `${tag}-${s}`).length, 10);
  const times = mine.map((n) => n.t);
  // Never more than 5 in any second, as the upstream saw them ...
  assert.ok(busiestWindow(times, 1000) <= 5, `busiest second: ${busiestWindow(times, 1000)}`);
  // ... and the budget was what held them back: 30 requests at 5 per
  // second take at least 5 s (25 after the first burst of 5).
  const span = Math.max(...times) - Math.min(...times);
  assert.ok(span >= 5000, `30 requests in ${span} ms`);
  // The budget row: one log shared by the three sources.
  assert.equal(one(`SELECT count(*) FROM kb_rate_budgets WHERE budget_key = :'p1';`, [`provider:${T}:${provider}`]), '1');
});

test('a wait that does not fit the batch\'s deadline: 429 with retryAfter, nothing fetched or recorded; the page sees the wait', async () => {
  const tag = `rq${process.pid}`;
  const id = await create('Rate 429', config(tag, { requests: 1, perSeconds: 60 }, { defaultPageSize: 50 }));
  let r = await batch(id);
  assert.equal(r.status, 200, r.text);
  const t0 = Date.now();
  r = await batch(id);
  assert.ok(Date.now() - t0 < 5000, 'answered without waiting');
  assert.equal(r.status, 429, r.text);
  assert.ok(r.json.retryAfter >= 55 && r.json.retryAfter <= 61, `retryAfter ${r.json.retryAfter}`);
  // HTTP's own header says the same (RFC 9110 10.2.3), for clients that read it.
  assert.equal(r.headers.get('retry-after'), String(r.json.retryAfter));
  assert.match(r.json.error, /^rate budget: 1 requests per 60 s \(rateLimit\) has no room before the batch's deadline; retry after \d+ s$/);
  assert.equal((await notes()).filter((n) => n.src === tag).length, 1, 'the refused batch fetched nothing');
  const row = cursorRow(id);
  assert.deepEqual([row.pages, row.items, row.status, row.error], [1, 50, 'ok', '']);
  assert.equal(one(`SELECT count(*) FROM kb_rest_audit WHERE source_id = :'p1' AND outcome = 'error';`, [id]), '0');
  // The page's list says until when the source waits.
  const list = await call(CREATE, { method: 'GET' });
  const src = list.json.sources.find((s) => s.id === id);
  const until0 = Date.parse(src.rateWaitUntil);
  assert.ok(until0 > Date.now() + 50000 && until0 < Date.now() + 62000, src.rateWaitUntil);
  // The other sources are not waiting.
  assert.ok(list.json.sources.filter((s) => s.id !== id && s.tenantId === T).every((s) => s.rateWaitUntil === null));
});

test('a run whose budget has no room within a batch waits for retryAfter and goes on to the end', async () => {
  const tag = `rr${process.pid}`;
  // 2 pages (100, 94), one request per 20 s: the second page's wait (20 s)
  // does not fit a batch (20 s deadline, 4 s for the request), so the run
  // is told to retry after ~20 s, waits, and finishes.
  const id = await create('Rate run', config(tag, { requests: 1, perSeconds: 20 }, { defaultPageSize: 100 }));
  const r = await call(SYNC, { body: { sourceId: id } });
  assert.equal(r.status, 202, r.text);
  await until('the first page', async () => (await notes()).filter((n) => n.src === tag).length === 1, 10000);
  // While it waits, the page's list says so.
  await until('the wait shown', async () => {
    const list = await call(CREATE, { method: 'GET' });
    return list.json.sources.find((s) => s.id === id).rateWaitUntil !== null;
  }, 10000);
  await until('the run done', () => one(`SELECT status FROM kb_rest_runs WHERE id = :'p1';`, [r.json.runId]) === 'done', 60000);
  const mine = (await notes()).filter((n) => n.src === tag);
  assert.equal(mine.length, 2);
  assert.ok(mine[1].t - mine[0].t >= 20000, `${mine[1].t - mine[0].t} ms apart`);
  assert.deepEqual(sql(`SELECT pages, items, coalesce(error, '') FROM kb_rest_runs WHERE id = :'p1';`, [r.json.runId]), [['2', '194', '']]);
});

test('deleting a source removes its own budget row; a provider budget other sources share stays', async () => {
  const tag = `rd${process.pid}`;
  const own = await create('Rate delete own', config(tag, { requests: 50, perSeconds: 1 }));
  const shared = { requests: 50, perSeconds: 1, scope: 'provider' };
  const a = await create('Rate delete shared A', config(`${tag}a`, shared, { provider: `rd-${tag}` }));
  const b = await create('Rate delete shared B', config(`${tag}b`, shared, { provider: `rd-${tag}` }));
  for (const id of [own, a, b]) assert.equal((await batch(id)).status, 200);
  const rows = (key) => one(`SELECT count(*) FROM kb_rate_budgets WHERE budget_key = :'p1';`, [key]);
  const provKey = `provider:${T}:rd-${tag}`;
  assert.equal(rows(`source:${own}`), '1');
  assert.equal(rows(provKey), '1');
  for (const id of [own, a]) {
    const r = await call('/api/backoffice/rest-delete', { body: { sourceId: id } });
    assert.equal(r.status, 200, r.text);
  }
  assert.equal(rows(`source:${own}`), '0');
  assert.equal(rows(provKey), '1', 'B still draws from the provider budget');
  assert.equal(one(`SELECT count(*) FROM kb_rate_budgets b WHERE b.budget_key LIKE 'source:%'
                    AND NOT EXISTS (SELECT 1 FROM kb_sources s WHERE 'source:' || s.id::text = b.budget_key);`), '0');
});
