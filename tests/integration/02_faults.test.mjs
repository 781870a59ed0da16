// Upstream failures: a clear 502, nothing written, the cursor stays, and
// the next normal batch succeeds with exact counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batch, counts, createSource, cursorRow, dummyConfig, sql, UPSTREAM } from './lib.mjs';

async function faultThenRecover(route, extra, want) {
  const id = createSource(`Fault ${route}`, dummyConfig({ baseUrl: `${UPSTREAM}${route}`, ...extra }));
  const r = await batch(id);
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.ok, false);
  assert.match(r.json.error, want);
  const cur = cursorRow(id);
  assert.equal(cur.status, 'error');
  assert.match(cur.error, want);
  assert.equal(cur.pages, 0);
  assert.equal(cur.next, null);
  assert.deepEqual(counts(id), { docs: 0, chunks: 0 });
  // Point the source back at a healthy upstream: the next batch works.
  sql(`UPDATE kb_sources SET config = jsonb_set(config, '{baseUrl}', to_jsonb(:'p2'::text)) WHERE id = :'p1';`,
    [id, `${UPSTREAM}/dummyjson/products`]);
  const ok = await batch(id);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.items, 50);
  const after = cursorRow(id);
  assert.equal(after.status, 'ok');
  assert.equal(after.error, '');
  assert.equal(after.pages, 1);
  assert.deepEqual(counts(id), { docs: 1, chunks: 50 });
  return r;
}

test('upstream 500', async () => {
  const r = await faultThenRecover('/fault/status', { headersTemplate: {} }, /HTTP 500/);
  assert.equal(r.json.status, 500);
  assert.match(r.json.url, /\/fault\/status/);
});
test('HTML instead of JSON', () => faultThenRecover('/fault/html', {}, /not valid JSON.*text\/html/));
test('malformed JSON', () => faultThenRecover('/fault/badjson', {}, /not valid JSON/));
test('items path not an array', () => faultThenRecover('/fault/notarray', {}, /itemsPath 'products' is not an array/));
test('body larger than the cap', () => faultThenRecover('/fault/big', {}, /exceeds 16777216 bytes/));
test('JSON nested 100,000 deep', () => faultThenRecover('/fault/deep', {}, /nested deeper/));
test('upstream slower than the 4 s timeout', () => faultThenRecover('/fault/slow', {}, /timed out after 4000 ms/));
test('timeoutMs: a source waits as long as its config says, and says which limit it hit', async () => {
  // /page/slow/products answers after 1.5 s: too slow for 500 ms ...
  const id = createSource('Slow with timeoutMs', dummyConfig({
    baseUrl: `${UPSTREAM}/page/slow/products`, queryTemplate: { ms: '1500' }, timeoutMs: 500,
  }));
  const r = await batch(id);
  assert.equal(r.status, 502, r.text);
  assert.match(r.json.error, /timed out after 500 ms \(the request timeout, timeoutMs\)/);
  // ... in time for 3 s.
  sql(`UPDATE kb_sources SET config = jsonb_set(config, '{timeoutMs}', '3000') WHERE id = :'p1';`, [id]);
  const ok = await batch(id);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.items, 50);
});
test('redirect to another origin is refused', () => faultThenRecover('/fault/redirect-away', {}, /another origin/));
test('connection refused', () => faultThenRecover('', { baseUrl: 'http://127.0.0.1:1/x' }, /connect|refused/i));

test('same-origin redirect is followed', async () => {
  const id = createSource('Redirect', dummyConfig({ baseUrl: `${UPSTREAM}/redirect/products` }));
  const r = await batch(id);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items, 50);
});
