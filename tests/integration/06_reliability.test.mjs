// Reliability: concurrency, retries, conditional fetches, stop rules,
// embeddings faults, database faults, killed workers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  batch, counts, createSource, cursorRow, dummyConfig, one, putSecret, sql, syncToEnd, ROOT, VAR, UPSTREAM,
} from './lib.mjs';
import { respawned } from './hold.mjs';

const stack = (...args) => execFileSync(path.join(ROOT, 'scripts/stack.sh'), args, { env: process.env, stdio: 'pipe' });
const stats = async () => (await fetch(`${UPSTREAM}/rel/stats`)).json();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function resetCursor(id) {
  sql(`UPDATE kb_rest_cursors SET next_cursor = NULL, done = false, page_count = 0, item_count = 0,
       last_status = NULL, last_error = NULL WHERE source_id = :'p1';`, [id]);
}

function workerPids() {
  const master = fs.readFileSync(path.join(VAR, 'run/fcgi/rest_batch.pid'), 'utf8').trim();
  const kids = execFileSync('pgrep', ['-P', master], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  return { master, kids };
}

test('20 parallel batches of one source: one runs, nineteen get 409', async () => {
  const id = createSource('Parallel', dummyConfig({ baseUrl: `${UPSTREAM}/rel/slow?ms=1500` }));
  const rs = await Promise.all(Array.from({ length: 20 }, () => batch(id)));
  const ok = rs.filter((r) => r.status === 200);
  const busy = rs.filter((r) => r.status === 409);
  assert.equal(ok.length, 1, rs.map((r) => r.status).join(','));
  assert.equal(busy.length, 19);
  busy.forEach((r) => assert.deepEqual(r.json, { ok: false, error: 'a batch for this source is already running' }));
  const cur = cursorRow(id);
  assert.equal(cur.pages, 1);
  assert.equal(cur.items, 50);
  assert.equal(cur.next, '50');
  assert.deepEqual(counts(id), { docs: 1, chunks: 50 });
});

test('different sources run in parallel across workers', async () => {
  const a = createSource('Par A', dummyConfig({ baseUrl: `${UPSTREAM}/rel/slow?ms=1000` }));
  const b = createSource('Par B', dummyConfig({ baseUrl: `${UPSTREAM}/rel/slow?ms=1000` }));
  const t0 = Date.now();
  const [ra, rb] = await Promise.all([batch(a), batch(b)]);
  const took = Date.now() - t0;
  assert.equal(ra.status, 200);
  assert.equal(rb.status, 200);
  assert.ok(took < 1900, `two 1 s batches took ${took} ms: not parallel`);
});

test('503 then 200 is retried inside the batch', async () => {
  const id = createSource('Flaky', dummyConfig({ baseUrl: `${UPSTREAM}/rel/flaky?key=${Date.now()}` }));
  const r = await batch(id);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.attempts, 2);
  assert.equal(r.json.items, 50);
  assert.equal(cursorRow(id).status, 'ok');
});

test('429 with Retry-After in seconds is honoured', async () => {
  const id = createSource('RL', dummyConfig({ baseUrl: `${UPSTREAM}/rel/ratelimit?key=s${Date.now()}` }));
  const t0 = Date.now();
  const r = await batch(id);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.attempts, 2);
  assert.ok(Date.now() - t0 >= 950, 'waited for Retry-After');
});

test('429 with Retry-After as an HTTP date is honoured', async () => {
  const id = createSource('RL date', dummyConfig({ baseUrl: `${UPSTREAM}/rel/ratelimit?date=1&key=d${Date.now()}` }));
  const t0 = Date.now();
  const r = await batch(id);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.attempts, 2);
  assert.ok(Date.now() - t0 >= 900, 'waited for the date');
});

test('Retry-After beyond the batch deadline fails fast, cursor unchanged', async () => {
  const id = createSource('Down', dummyConfig({ baseUrl: `${UPSTREAM}/rel/always503` }));
  const t0 = Date.now();
  const r = await batch(id);
  assert.ok(Date.now() - t0 < 3000);
  assert.equal(r.status, 502);
  assert.match(r.json.error, /HTTP 503.*retry after 30000 ms, beyond the batch deadline/);
  const cur = cursorRow(id);
  assert.equal(cur.status, 'error');
  assert.equal(cur.http, 503);
  assert.equal(cur.pages, 0);
});

test('conditional fetches: a second full sync is all 304s with the same counts', async () => {
  for (const [name, extra, lm] of [['etag', { ifNoneMatchHeader: true }, ''], ['lm', { ifModifiedSinceHeader: true }, '&lm=1']]) {
    const id = createSource(`Cond ${name}`, dummyConfig({ baseUrl: `${UPSTREAM}/rel/cond/products?x=1${lm}`, ...extra }));
    const first = await syncToEnd(id);
    assert.equal(first.length, 4);
    first.forEach((r) => assert.equal(r.json.notModified, false));
    const before = { ...counts(id), items: cursorRow(id).items };
    resetCursor(id);
    await fetch(`${UPSTREAM}/rel/stats-reset`);
    const second = await syncToEnd(id);
    assert.equal(second.length, 4);
    second.forEach((r) => {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.notModified, true);
      assert.equal(r.json.status, 304);
      assert.equal(r.json.chunks, 0);
      assert.equal(r.json.inserted, 0);
      assert.equal(r.json.embedRequests, 0);
    });
    assert.deepEqual(second.map((r) => r.json.next), ['50', '100', '150', null]);
    assert.deepEqual(second.map((r) => r.json.items), [50, 50, 50, 44]);
    const cur = cursorRow(id);
    assert.equal(cur.http, 304);
    assert.equal(cur.done, true);
    assert.deepEqual({ ...counts(id), items: cur.items }, before);
    const s = await stats();
    assert.equal(s.notModified, 4);
    // Validators live in their own table, not in the source config.
    assert.equal(one(`SELECT count(*) FROM kb_rest_page_validators WHERE source_id = :'p1';`, [id]), '4');
    assert.equal(one(`SELECT config::text LIKE '%etag%' FROM kb_sources WHERE id = :'p1';`, [id]), 'f');
  }
});

test('a body with a UTF-8 byte order mark and a trailing newline is JSON', async () => {
  const id = createSource('BOM', dummyConfig({ baseUrl: `${UPSTREAM}/rel/bom` }));
  const rs = await syncToEnd(id);
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200]);
  assert.equal(cursorRow(id).items, 194);
});

test('an upstream that echoes the Basic credentials back: redacted everywhere', async () => {
  putSecret('rel-basic', { username: 'agent@example.com', password: 'pw-0123456789' });
  const id = createSource('Echo auth', dummyConfig({
    baseUrl: `${UPSTREAM}/rel/echo-auth`, requiresAuth: true, provider: 'rel-basic', auth: 'basic',
  }));
  const r = await batch(id);
  assert.equal(r.status, 502, r.text);
  const b64 = Buffer.from('agent@example.com:pw-0123456789').toString('base64');
  assert.match(r.json.error, /HTTP 401.*Basic \[redacted\]/);
  for (const text of [r.text, cursorRow(id).error,
    one(`SELECT detail::text FROM kb_rest_audit WHERE source_id = :'p1' ORDER BY id DESC LIMIT 1;`, [id])]) {
    assert.ok(!text.includes(b64), text);
    assert.ok(!text.includes('pw-0123456789'), text);
  }
});

test('a secret too short to keep out of messages is refused before any request', async () => {
  putSecret('rel-short', { api_key: 'abc' });
  const id = createSource('Short key', dummyConfig({
    requiresAuth: true, provider: 'rel-short', headersTemplate: { 'X-Key': '{{API_KEY}}' },
  }));
  const r = await batch(id);
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /'api_key' shorter than 4 characters/);
});

test('offset API without a total stops on the short page', async () => {
  const id = createSource('No total', {
    baseUrl: `${UPSTREAM}/rel/nototal`, cursorStyle: 'offset', cursorParam: 'offset', pageSizeParam: 'limit',
    defaultPageSize: 60, itemsPath: 'items', textFields: ['title'],
  });
  const rs = await syncToEnd(id);
  assert.deepEqual(rs.map((r) => r.json.items), [60, 60, 60, 14]);
  assert.equal(cursorRow(id).items, 194);
});

test('a cursor API that repeats its cursor stops instead of looping', async () => {
  const id = createSource('Loop', {
    baseUrl: `${UPSTREAM}/rel/cursorloop`, nextCursorPath: 'next', itemsPath: 'data', textFields: ['title'],
  });
  const rs = await syncToEnd(id, 5);
  assert.equal(rs.length, 2);
  assert.equal(rs[1].json.done, true);
});

test('has_more false wins over a next cursor', async () => {
  const id = createSource('Has more', {
    baseUrl: `${UPSTREAM}/rel/hasmore`, nextCursorPath: 'next', hasMorePath: 'has_more', itemsPath: 'data',
    textFields: ['title'],
  });
  const rs = await syncToEnd(id, 10);
  assert.equal(rs.length, 3);
  assert.equal(cursorRow(id).items, 30);
});

test('a Link header too large to hold fails the batch instead of ending the sync', async () => {
  const id = createSource('Big link', {
    baseUrl: `${UPSTREAM}/rel/biglink`, cursorStyle: 'link', itemsPath: '$', textFields: ['title'],
  });
  const r = await batch(id);
  assert.equal(r.status, 502, r.text);
  assert.match(r.json.error, /Link header larger than 32768 bytes/);
  const cur = cursorRow(id);
  assert.equal(cur.done, false);
  assert.equal(cur.pages, 0);
});

test('PostgreSQL restarted between two batches: the worker reconnects', async () => {
  const id = createSource('PG restart', dummyConfig());
  assert.equal((await batch(id)).status, 200);
  stack('pg-restart');
  const r = await batch(id);
  assert.equal(r.status, 200, r.text);
  await syncToEnd(id);
  assert.deepEqual(counts(id), { docs: 1, chunks: 194 });
  assert.equal(cursorRow(id).items, 194);
});

test('read-only database for one batch: clear error, nothing written, then recovery', async () => {
  const id = createSource('Read only', dummyConfig());
  assert.equal((await batch(id)).status, 200);
  sql(`ALTER SYSTEM SET default_transaction_read_only = on;\nSELECT pg_reload_conf();`);
  await sleep(300);
  let r;
  try {
    r = await batch(id);
  } finally {
    sql(`SET default_transaction_read_only = off;\nALTER SYSTEM RESET default_transaction_read_only;\nSELECT pg_reload_conf();`);
    await sleep(300);
  }
  assert.equal(r.status, 503, r.text);
  assert.match(r.json.error, /read-only/);
  assert.equal(cursorRow(id).pages, 1);
  await syncToEnd(id);
  assert.deepEqual(counts(id), { docs: 1, chunks: 194 });
});

test('a worker killed with SIGKILL mid-batch: respawned, rerun completes, no duplicates', async () => {
  const id = createSource('Killed', dummyConfig({ baseUrl: `${UPSTREAM}/rel/slow?ms=2000` }));
  const before = workerPids();
  const pending = batch(id);
  await sleep(700);
  for (const k of before.kids) process.kill(Number(k), 'SIGKILL');
  const r = await pending;
  assert.equal(r.status, 502);
  // Respawned: the same supervisor, as many workers, all new.
  await respawned(VAR, before);
  sql(`UPDATE kb_sources SET config = jsonb_set(config, '{baseUrl}', to_jsonb(:'p2'::text)) WHERE id = :'p1';`,
    [id, `${UPSTREAM}/dummyjson/products`]);
  await syncToEnd(id);
  assert.deepEqual(counts(id), { docs: 1, chunks: 194 });
  assert.equal(cursorRow(id).items, 194);
});

test('embeddings: OpenAI-compatible client, retries, and 500/401 failures', async () => {
  const env = { ...process.env, OPENAI_API_KEY: 'sk-test-key-123456', OPENAI_BASE_URL: `${UPSTREAM}/rel/v1` };
  const mode = (m, fails = 0) => fetch(`${UPSTREAM}/rel/embed-mode`, { method: 'POST', body: JSON.stringify({ mode: m, fails }) });
  execFileSync(path.join(ROOT, 'scripts/stack.sh'), ['fcgi'], { env, stdio: 'pipe' });
  await new Promise((r) => setTimeout(r, 200));	// idle keep-alive sockets closed meanwhile
  try {
    await mode('ok');
    const id = createSource('Embed', dummyConfig());
    const r1 = await batch(id);
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.json.embedder, 'openai:text-embedding-3-small');
    assert.equal(r1.json.embedRequests, 1);
    // The stored vector is the one the API returned for that text.
    const { mockEmbedding } = await import('../upstream/routes/reliability.mjs');
    const c = one(`SELECT replace(content, E'\\n', chr(8232)) FROM kb_chunks WHERE source_id = :'p1' AND chunk_idx = 7;`, [id]).replaceAll('\u2028', '\n');
    // Exactly: its float32 values, 4 little-endian bytes each (sql/012).
    const e = one(`SELECT encode(embedding, 'hex') FROM kb_chunks WHERE source_id = :'p1' AND chunk_idx = 7;`, [id]);
    const want = mockEmbedding(c);
    assert.equal(e.length, 1536 * 8);
    assert.equal(e, Buffer.from(want.buffer).toString('hex'));

    for (const [m, code] of [['500', /HTTP 500/], ['401', /HTTP 401/]]) {
      await mode(m);
      const before = cursorRow(id);
      const r = await batch(id);
      assert.equal(r.status, 502, r.text);
      assert.match(r.json.error, code);
      assert.doesNotMatch(r.json.error, /sk-test-key-123456/);
      const cur = cursorRow(id);
      assert.equal(cur.pages, before.pages);
      assert.equal(cur.next, before.next);
      assert.equal(cur.status, 'error');
      assert.doesNotMatch(cur.error, /sk-test-key-123456/);
      assert.deepEqual(counts(id), { docs: 1, chunks: 50 });
    }
    await mode('429once', 1);
    const r3 = await batch(id);
    assert.equal(r3.status, 200, r3.text);
    assert.equal(r3.json.embedAttempts, 2);
    assert.equal(r3.json.inserted, 50);
  } finally {
    execFileSync(path.join(ROOT, 'scripts/stack.sh'), ['fcgi'], { env: process.env, stdio: 'pipe' });
    await new Promise((r) => setTimeout(r, 200));	// idle keep-alive sockets closed meanwhile
  }
});
