// EMBEDDING_DIMENSIONS (issue 15): sent as the embeddings API's
// "dimensions", the vectors stored at that size (real[]: the array length;
// sql/011 holds each row to the size its model label says), search at that
// size, a switch of dimensions refused naming both labels and fixed by
// reembed, the built-in embedder at another size, and a bad value named by
// health and by every batch.  The stack's programs are restarted with each
// environment (RS_FCGI_ONLY=... scripts/stack.sh fcgi) and restored at the
// end.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import {
  BASE, DB, ROOT, UPSTREAM, batch, call, createSource, cursorRow, dummyConfig, one, sql,
} from './lib.mjs';
import { dimsEmbedding } from '../upstream/routes/dims.mjs';

const SEARCH = '/api/backoffice/rest-search';
const REEMBED = '/api/backoffice/rest-reembed';
const KEY = 'sk-test-dims-0123456789';

// Restart the programs this file calls (and the run workers) with env
// over the test's own.
async function programs(extra) {
  const env = { ...process.env, RS_FCGI_ONLY: 'health rest_batch rest_search rest_reembed', ...extra };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  execFileSync(path.join(ROOT, 'scripts/stack.sh'), ['fcgi'], { env, stdio: 'pipe' });
  await new Promise((r) => setTimeout(r, 200));	// idle keep-alive sockets closed meanwhile
}
const remote = (dims) => ({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: `${UPSTREAM}/dims/v1`, EMBEDDING_DIMENSIONS: dims });
const health = () => call('/api/backoffice/health', { method: 'GET' });
const requests = async () => (await fetch(`${UPSTREAM}/dims/requests`)).json();
const resetRequests = () => fetch(`${UPSTREAM}/dims/reset`, { method: 'POST' });
// [length, label, count] of a source's chunks (sql/012: 4 bytes a float).
const shapes = (id) => sql(`SELECT octet_length(embedding) / 4, metadata->>'embeddingModel', count(*) FROM kb_chunks
                            WHERE source_id = :'p1' GROUP BY 1, 2 ORDER BY 1, 2;`, [id]);
const chunkCount = (id) => one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]);
const CK_ONE = 'Calvin Klein CK One classic unisex fragrance';

after(async () => {
  await programs({});
  const h = await health();
  assert.equal(h.json.embedder.dimensions, 1536, 'the stack is back at its default');
});

let legacy;	// chunks from before embeddingModel (1536 floats, no label)
test('a bad EMBEDDING_DIMENSIONS: health names it (503), every batch and search refuse it, nothing written', async () => {
  legacy = createSource('Dims legacy', dummyConfig({ defaultPageSize: 5 }));
  assert.equal((await batch(legacy)).status, 200);
  sql(`UPDATE kb_chunks SET metadata = metadata - 'embeddingModel' WHERE source_id = :'p1';`, [legacy]);
  assert.deepEqual(shapes(legacy), [['1536', '', '5']]);

  const id = createSource('Dims bad value', dummyConfig({ defaultPageSize: 5 }));
  for (const bad of ['4096', 'abc']) {
    await programs({ EMBEDDING_DIMENSIONS: bad });
    const msg = `EMBEDDING_DIMENSIONS must be an integer from 1 to 3072 (got '${bad}')`;
    const h = await health();
    assert.equal(h.status, 503, h.text);
    assert.equal(h.json.ok, false);
    assert.equal(h.json.database.ok, true, 'the database is fine: the embedder is not');
    assert.deepEqual(h.json.embedder, {
      name: 'local', model: 'local-hash-v1', semantic: false, note: 'not semantic — for demos and tests', error: msg,
    });
    const z = await fetch(`${BASE}/healthz`);
    assert.deepEqual([z.status, await z.text()], [503, 'not ok\n']);

    const b = await batch(id);
    assert.equal(b.status, 400, b.text);
    assert.equal(b.json.error, `embedder: ${msg}`);
    assert.equal(chunkCount(id), '0', 'nothing written');
    assert.equal(cursorRow(id).error, `embedder: ${msg}`);
    const s = await call(SEARCH, { body: { sourceId: id, query: 'anything' } });
    assert.equal(s.status, 400, s.text);
    assert.equal(s.json.error, `embedder: ${msg}`);
  }
});

let src;	// synced at 512, then switched to 256
test('at 512 dimensions: the request asks for 512, the vectors are stored at 512, search finds an item', async () => {
  await programs(remote('512'));
  const h = await health();
  assert.equal(h.status, 200, h.text);
  assert.deepEqual(h.json.embedder, {
    name: 'openai:text-embedding-3-small', model: 'text-embedding-3-small@512', semantic: true, dimensions: 512,
  });

  await resetRequests();
  src = createSource('Dims products', dummyConfig({ defaultPageSize: 10, titleField: 'title' }));
  const b = await batch(src);
  assert.equal(b.status, 200, b.text);
  assert.equal(b.json.embedder, 'openai:text-embedding-3-small');
  assert.equal(b.json.inserted, 10);
  assert.deepEqual(await requests(), [
    { model: 'text-embedding-3-small', dimensions: 512, inputs: 10, encoding_format: 'base64' },
  ]);
  assert.deepEqual(shapes(src), [['512', 'text-embedding-3-small@512', '10']]);
  // The stored vector is the one the API returned for that text, exactly:
  // its float32 values as 4 little-endian bytes each (sql/012).
  const [content, emb] = sql(`SELECT replace(content, E'\\n', chr(8232)), encode(embedding, 'hex')
                              FROM kb_chunks WHERE source_id = :'p1' ORDER BY content_hash LIMIT 1;`, [src])[0];
  const want = dimsEmbedding(content.replaceAll('\u2028', '\n'), 512);
  assert.equal(emb, Buffer.from(want.buffer).toString('hex'));

  await resetRequests();
  const s = await call(SEARCH, { body: { sourceId: src, query: CK_ONE, k: 3 } });
  assert.equal(s.status, 200, s.text);
  assert.deepEqual(await requests(), [
    { model: 'text-embedding-3-small', dimensions: 512, inputs: 1, encoding_format: 'base64' },
  ]);
  assert.equal(s.json.embeddingModel, 'text-embedding-3-small@512');
  assert.equal(s.json.method, 'exact-scan');
  assert.equal(s.json.scanned, 10);
  assert.equal(s.json.results[0].itemKey, 'id:6');
  assert.equal(s.json.results[0].title, 'Calvin Klein CK One');
  assert.equal(s.json.results[0].embeddingModel, 'text-embedding-3-small@512');
  assert.ok(s.json.results[0].score > s.json.results[1].score);

  // Chunks from before models were recorded are 1536 floats: refused too.
  let l = await batch(legacy);
  assert.equal(l.status, 400, l.text);
  assert.match(l.json.error, /^the source's chunks were embedded before restsync recorded models, at 1536 dimensions, but this deployment embeds with 'text-embedding-3-small@512': .*re-embed it first/);
  assert.deepEqual(shapes(legacy), [['1536', '', '5']], 'nothing written');
  const re = await call(REEMBED, { body: { sourceId: legacy } });
  assert.equal(re.status, 200, re.text);
  assert.deepEqual(re.json, { ok: true, sourceId: legacy, model: 'text-embedding-3-small@512', chunks: 5, groups: 1, left: 0 });
  l = await batch(legacy);
  assert.equal(l.status, 200, l.text);
  assert.deepEqual(shapes(legacy), [['512', 'text-embedding-3-small@512', '10']]);
});

test('the database holds every vector to the size of its label', () => {
  const row = (len, label) => `INSERT INTO kb_chunks (tenant_id, doc_id, chunk_idx, content, embedding, metadata,
      allowed_roles, source_id, content_hash)
    SELECT k.tenant_id, k.doc_id, 9999, 'x', restsync_embedding_bytes(array_fill(0.5::real, ARRAY[${len}])),
           jsonb_build_object('embeddingModel', '${label}'), ARRAY['admin'], k.source_id, repeat('e', 64)
    FROM kb_chunks k WHERE k.source_id = :'p1' LIMIT 1;`;
  for (const [len, label] of [[1536, 'text-embedding-3-small@512'], [512, 'text-embedding-3-small'], [511, 'm@512']]) {
    assert.throws(() => execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', `p1=${src}`, DB],
      { input: row(len, label), stdio: 'pipe' }), (e) => /violates check constraint "kb_chunks_embedding_dims"/.test(String(e.stderr)),
    `${len} floats labelled ${label}`);
  }
  sql(`BEGIN; ${row(512, 'm@512')} ROLLBACK;`, [src]);
  sql(`BEGIN; ${row(1536, 'text-embedding-3-small')} ROLLBACK;`, [src]);
  assert.equal(chunkCount(src), '10');
});

test('a switch of dimensions is refused naming both; reembed fixes it; search works at the new size', async () => {
  await programs(remote('256'));
  const before = cursorRow(src);
  let b = await batch(src);
  assert.equal(b.status, 400, b.text);
  assert.match(b.json.error, /^the source's chunks were embedded with 'text-embedding-3-small@512' but this deployment embeds with 'text-embedding-3-small@256': .*re-embed it first/);
  assert.deepEqual(shapes(src), [['512', 'text-embedding-3-small@512', '10']], 'nothing written');
  assert.equal(cursorRow(src).next, before.next);
  // Search compares only vectors of the deployment's label.
  let s = await call(SEARCH, { body: { sourceId: src, query: CK_ONE } });
  assert.equal(s.status, 200, s.text);
  assert.deepEqual([s.json.scanned, s.json.results], [0, []]);

  await resetRequests();
  const re = await call(REEMBED, { body: { sourceId: src } });
  assert.equal(re.status, 200, re.text);
  assert.deepEqual(re.json, { ok: true, sourceId: src, model: 'text-embedding-3-small@256', chunks: 10, groups: 1, left: 0 });
  assert.deepEqual(await requests(), [
    { model: 'text-embedding-3-small', dimensions: 256, inputs: 10, encoding_format: 'base64' },
  ]);
  assert.deepEqual(shapes(src), [['256', 'text-embedding-3-small@256', '10']]);
  b = await batch(src);
  assert.equal(b.status, 200, b.text);
  assert.equal(b.json.inserted, 10);
  assert.deepEqual(shapes(src), [['256', 'text-embedding-3-small@256', '20']]);
  s = await call(SEARCH, { body: { sourceId: src, query: 'Annibale Colombo Bed', k: 2 } });
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.scanned, 20);
  assert.equal(s.json.results[0].itemKey, 'id:11');

  // Back to 1536 (the variable unset): refused again, naming both.
  await programs({ ...remote(undefined) });
  b = await batch(src);
  assert.equal(b.status, 400, b.text);
  assert.match(b.json.error, /embedded with 'text-embedding-3-small@256' but this deployment embeds with 'text-embedding-3-small':/);
});

test('the built-in embedder at 3072 dimensions (the largest; out of line): labelled local-hash-v1@3072, search finds a product', async () => {
  await programs({ EMBEDDING_DIMENSIONS: '3072' });
  const h = await health();
  assert.equal(h.status, 200, h.text);
  assert.deepEqual(h.json.embedder, {
    name: 'local', model: 'local-hash-v1@3072', semantic: false, note: 'not semantic — for demos and tests', dimensions: 3072,
  });
  const id = createSource('Dims local', dummyConfig({ defaultPageSize: 10, titleField: 'title' }));
  const b = await batch(id);
  assert.equal(b.status, 200, b.text);
  assert.equal(b.json.embedder, 'local');
  assert.equal(b.json.inserted, 10);
  assert.deepEqual(shapes(id), [['3072', 'local-hash-v1@3072', '10']]);
  // Unit vectors, as at 1536.
  assert.deepEqual(sql(`SELECT DISTINCT round((SELECT sum(x * x) FROM unnest(restsync_embedding_floats(embedding)) x)::numeric, 4)
                        FROM kb_chunks WHERE source_id = :'p1';`, [id]), [['1.0000']]);
  const s = await call(SEARCH, { body: { sourceId: id, query: CK_ONE, k: 3 } });
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.embeddingModel, 'local-hash-v1@3072');
  assert.equal(s.json.scanned, 10);
  assert.equal(s.json.results[0].itemKey, 'id:6');
  // The other source (256 dimensions of another model) is refused.
  const o = await batch(src);
  assert.equal(o.status, 400, o.text);
  assert.match(o.json.error, /embedded with 'text-embedding-3-small@256' but this deployment embeds with 'local-hash-v1@3072'/);
});
