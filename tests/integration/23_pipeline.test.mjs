// Pipelining inside a server-side run (docs/RUNS.md): while a page's
// chunks are embedded the next pages are fetched and parsed, several
// embeddings requests are in flight, pages commit strictly in order.
// The stack's FastCGI programs and workers embed through a slow
// OpenAI-compatible imitation (tests/upstream/routes/pipe.mjs) here, so
// that a run and a serial sync of the same source can be compared.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, UPSTREAM, VAR, batch, call, createSource, cursorRow, one, sql, syncToEnd, until } from './lib.mjs';

const SYNC = '/api/backoffice/rest-sync';
const RUN = `pl${process.pid}`;
const LIMIT = 3;	// RESTSYNC_EMBED_CONCURRENCY for these tests
const REMOTE = {
  ...process.env,
  OPENAI_API_KEY: 'sk-test-pipeline-0001',
  OPENAI_BASE_URL: `${UPSTREAM}/pipe/v1`,
  RESTSYNC_EMBED_CONCURRENCY: String(LIMIT),
};

function stack(env, what) {
  execFileSync(path.join(ROOT, 'scripts/stack.sh'), [what], { env, stdio: 'pipe' });
}

before(async () => {
  stack(REMOTE, 'fcgi');
  stack(REMOTE, 'workers');
  // execFileSync blocked the event loop while nginx may have closed idle
  // keep-alive connections: let fetch see those closes first.
  await new Promise((r) => setTimeout(r, 200));
});

after(() => {
  stack(process.env, 'fcgi');
  stack(process.env, 'workers');
});

const pipe = async (cmd) => (await fetch(`${UPSTREAM}/pipe/control`, { method: 'POST', body: JSON.stringify(cmd) })).json();
const stats = async () => (await fetch(`${UPSTREAM}/pipe/stats`)).json();
const resetStats = () => fetch(`${UPSTREAM}/pipe/reset`, { method: 'POST' });

const control = async (ds, cmd) => {
  const r = await fetch(`${UPSTREAM}/mut/control`, { method: 'POST', body: JSON.stringify({ ds: `${RUN}-${ds}`, ...cmd }) });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return JSON.parse(text);
};

function config(ds, query = {}) {
  return {
    baseUrl: `${UPSTREAM}/mut/offset`, cursorStyle: 'offset', cursorParam: 'skip', pageSizeParam: 'limit',
    defaultPageSize: 10, itemsPath: 'items', totalPath: 'total', textFields: ['title', 'body'], titleField: 'title',
    queryTemplate: { ds: `${RUN}-${ds}`, ...query },
  };
}

const runRow = (id) => {
  const r = sql(`SELECT status, pages, items, new_items, changed_items, unchanged_items, coalesce(error, ''), coalesce(executor, '')
                 FROM kb_rest_runs WHERE id = :'p1';`, [id])[0];
  return {
    status: r[0], pages: +r[1], items: +r[2], newItems: +r[3], changedItems: +r[4], unchangedItems: +r[5], error: r[6], executor: r[7],
  };
};


async function startRun(id) {
  const r = await call(SYNC, { body: { sourceId: id } });
  assert.equal(r.status, 202, r.text);
  return r.json.runId;
}

// What the knowledge base holds of a source, without its ids: docs,
// chunks (content, position, holders, metadata, the vector's digest),
// items, and the cursor.
function fingerprint(id) {
  return {
    docs: sql(`SELECT next_chunk_idx, (SELECT count(*) FROM kb_chunks c WHERE c.doc_id = d.id)
               FROM kb_docs d WHERE source_id = :'p1' ORDER BY 1;`, [id]),
    chunks: sql(`SELECT content_hash, chunk_idx, title, replace(content, E'\\n', ' | '), item_refs, allowed_roles::text,
                        (metadata - 'sourceId')::text, md5(embedding::text)
                 FROM kb_chunks WHERE source_id = :'p1' ORDER BY content_hash;`, [id]),
    items: sql(`SELECT item_key, item_hash, chunk_hashes::text, title FROM kb_rest_items
                WHERE source_id = :'p1' ORDER BY item_key;`, [id]),
    cursor: sql(`SELECT page_count, item_count, chunk_count, done, next_cursor IS NULL
                 FROM kb_rest_cursors WHERE source_id = :'p1';`, [id]),
  };
}

// item_refs counts the items holding each chunk; every held chunk exists.
function invariants(id) {
  assert.equal(one(`SELECT count(*) FROM kb_chunks c WHERE c.source_id = :'p1' AND c.item_refs <>
      (SELECT count(*) FROM kb_rest_items i WHERE i.source_id = c.source_id AND c.content_hash = ANY (i.chunk_hashes));`, [id]), '0');
  assert.equal(one(`SELECT count(*) FROM kb_rest_items i, unnest(i.chunk_hashes) h WHERE i.source_id = :'p1'
      AND NOT EXISTS (SELECT 1 FROM kb_chunks c WHERE c.source_id = i.source_id AND c.content_hash = h);`, [id]), '0');
}

// The run-end line a worker logged for run.
function runEnd(run) {
  for (const f of fs.readdirSync(path.join(VAR, 'log')).filter((n) => /^worker-\d+\.log$/.test(n))) {
    for (const line of fs.readFileSync(path.join(VAR, 'log', f), 'utf8').split('\n')) {
      if (!line.includes('"run-end"') || !line.includes(run)) continue;
      return JSON.parse(line);
    }
  }
  return null;
}

function workerPids() {
  const dir = path.join(VAR, 'run/workers');
  return fs.readdirSync(dir).map((f) => Number(fs.readFileSync(path.join(dir, f), 'utf8'))).filter(Boolean);
}

function kib(pid, field) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return Number(m[1]);
}

// 120 items on pages of 10: item 10 ends page 1 and starts page 2 (the
// same key and text on two consecutive pages); twin-a ends page 3 and
// twin-b starts page 4 with the same text (one chunk, two holders).
function items() {
  const out = [];
  for (let i = 1; i <= 119; i++) out.push({ id: i, title: `Item ${i}`, body: `The body text of item number ${i}.` });
  out.splice(10, 0, { ...out[9] });		// index 9 and 10: id 10 twice
  out[29] = { id: 'twin-a', title: 'Twin', body: 'Two keys, one text.' };	// last of page 3
  out[30] = { id: 'twin-b', title: 'Twin', body: 'Two keys, one text.' };	// first of page 4
  return out;
}

test('a pipelined run stores exactly what serial batches store; several embeddings in flight, at most the limit', { timeout: 120000 }, async () => {
  await control('same', { op: 'set', items: items() });
  await pipe({ delay: 250, throttle: 0 });
  const serial = createSource('Pipeline serial', config('same'));
  const piped = createSource('Pipeline run', config('same'));

  await resetStats();
  const rs = await syncToEnd(serial, 20);
  assert.ok(rs.every((r) => r.status === 200), rs.map((r) => r.text).join('\n'));
  assert.equal((await stats()).maxInFlight, 1, 'one request at a time in a serial batch');

  await resetStats();
  const run = await startRun(piped);
  await until('a page stored', () => runRow(run).pages >= 1, 10000);
  const click = await batch(piped);
  assert.equal(click.status, 409, `a click during the run: ${click.text}`);
  await until('the run done', () => runRow(run).status === 'done', 60000);
  const st = await stats();
  assert.ok(st.maxInFlight > 1 && st.maxInFlight <= LIMIT, `in flight at once: ${st.maxInFlight} (limit ${LIMIT})`);

  const a = fingerprint(serial);
  const b = fingerprint(piped);
  assert.deepEqual(b, a);
  assert.equal(b.chunks.length, 119 - 1, 'the twins share a chunk');
  assert.equal(one(`SELECT item_refs FROM kb_chunks WHERE source_id = :'p1' AND content LIKE '%one text%';`, [piped]), '2');
  assert.equal(one(`SELECT count(*) FROM kb_rest_items WHERE source_id = :'p1' AND item_key = 'id:10';`, [piped]), '1');
  invariants(piped);
  // The run's counts are the serial ones: 120 items served, 119 keys,
  // id 10's second sighting counted once.
  const sRun = one(`SELECT run_id FROM kb_rest_cursors WHERE source_id = :'p1';`, [serial]);
  const ra = runRow(sRun);
  const rb = runRow(run);
  assert.deepEqual([rb.pages, rb.items, rb.newItems, rb.changedItems, rb.unchangedItems],
    [ra.pages, ra.items, ra.newItems, ra.changedItems, ra.unchangedItems]);
  assert.deepEqual([rb.pages, rb.items, rb.newItems], [12, 120, 119]);
  const end = runEnd(run);
  assert.ok(end, 'the worker logged the run\'s end');
  assert.equal(end.embed_concurrency, LIMIT);
  assert.equal(end.embed_429, 0);
  // Every chunk of the run was embedded once (none twice, none late).
  assert.equal(st.inputs, b.chunks.length);
  for (const pid of workerPids()) assert.ok(kib(pid, 'VmHWM') < 64 * 1024, `worker ${pid} peaked at ${kib(pid, 'VmHWM')} KiB`);
});

// Items chunked by a run's pages (each page's audit row says how many).
const chunkedItems = (id, run) => +one(`SELECT coalesce(sum((detail->>'chunkedItems')::int), 0) FROM kb_rest_audit
    WHERE source_id = :'p1' AND detail->>'runId' = :'p2' AND detail ? 'chunkedItems';`, [id, run]);

test('a second pipelined run of an unchanged source chunks nothing and embeds nothing; an edit and an addition, only those', { timeout: 120000 }, async () => {
  await control('again', { op: 'seed', n: 60 });
  await pipe({ delay: 50, throttle: 0 });
  const id = createSource('Pipeline again', config('again'));
  await resetStats();
  const first = await startRun(id);
  await until('the first run done', () => runRow(first).status === 'done', 60000);
  assert.equal((await stats()).inputs, 60);
  assert.equal(chunkedItems(id, first), 60);
  const before = fingerprint(id);

  await resetStats();
  const second = await startRun(id);
  assert.notEqual(second, first);
  await until('the second run done', () => runRow(second).status === 'done', 60000);
  const st = await stats();
  assert.deepEqual([st.requests, st.inputs], [0, 0], 'the embeddings server received nothing');
  assert.equal(chunkedItems(id, second), 0, 'no unchanged item was chunked');
  const r2 = runRow(second);
  assert.deepEqual([r2.pages, r2.items, r2.newItems, r2.changedItems, r2.unchangedItems], [6, 60, 0, 0, 60]);
  assert.deepEqual(fingerprint(id), before);

  await control('again', { op: 'edit', id: 25, patch: { body: 'Item 25, rewritten.' } });
  await control('again', { op: 'add', items: [{ id: 61, title: 'Item 61', body: 'A new item, number 61.' }] });
  await resetStats();
  const third = await startRun(id);
  await until('the third run done', () => runRow(third).status === 'done', 60000);
  assert.equal((await stats()).inputs, 2, 'the changed and the new item only');
  assert.equal(chunkedItems(id, third), 2);
  const r3 = runRow(third);
  assert.deepEqual([r3.pages, r3.items, r3.newItems, r3.changedItems, r3.unchangedItems], [7, 61, 1, 1, 59]);
  assert.equal(+one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]), 61);
  invariants(id);
});

test('embeddings 429 mid-run: the concurrency goes down, Retry-After is honoured, the run completes exactly', { timeout: 120000 }, async () => {
  await control('throttle', { op: 'seed', n: 100 });
  // The 4th and 5th requests answer 429 (Retry-After: 1).
  await pipe({ delay: 100, throttle: 2, throttleAfter: 3, retryAfter: 1 });
  const id = createSource('Pipeline 429', config('throttle'));
  await resetStats();
  const t0 = Date.now();
  const run = await startRun(id);
  await until('the run done', () => runRow(run).status === 'done', 60000);
  const st = await stats();
  assert.equal(st.throttled, 2);
  assert.ok(Date.now() - t0 > 1000, 'waited as Retry-After asked');
  // Each request answered 429 came again, no sooner than Retry-After
  // (1 s) asked.
  assert.equal(st.retryGapsMs.length, 2, JSON.stringify(st.retryGapsMs));
  for (const g of st.retryGapsMs) assert.ok(g >= 950, `a retry after ${g} ms`);
  const r = runRow(run);
  assert.deepEqual([r.pages, r.items, r.newItems, r.error], [10, 100, 100, '']);
  assert.deepEqual(sql(`SELECT count(*), count(DISTINCT content_hash) FROM kb_chunks WHERE source_id = :'p1';`, [id])[0], ['100', '100']);
  assert.equal(cursorRow(id).items, 100);
  invariants(id);
  const end = runEnd(run);
  assert.equal(end.embed_429, 2);
  assert.equal(end.embed_limit, LIMIT - 2, 'each 429 took one request off');
});

test('a failed page stops the run at the last committed page; what was in flight is fetched again, nothing doubled', { timeout: 120000 }, async () => {
  await control('fail', { op: 'seed', n: 100 });
  await pipe({ delay: 200, throttle: 0 });
  const id = createSource('Pipeline fail', config('fail', { failAt: '60' }));
  const run = await startRun(id);
  await until('failed', () => runRow(run).status === 'failed', 30000);
  const r = runRow(run);
  assert.equal(r.pages, 6, 'every page before the failed one committed');
  assert.match(r.error, /HTTP 500/);
  assert.equal(cursorRow(id).next, '60');
  assert.equal(cursorRow(id).items, 60);
  assert.equal(+one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]), 60);
  sql(`UPDATE kb_sources SET config = config #- '{queryTemplate,failAt}' WHERE id = :'p1';`, [id]);
  const again = await startRun(id);
  assert.equal(again, run, 'the failed run resumes');
  await until('done', () => runRow(run).status === 'done', 30000);
  const d = runRow(run);
  assert.deepEqual([d.pages, d.items, d.newItems], [10, 100, 100]);
  assert.deepEqual(sql(`SELECT count(*), count(DISTINCT content_hash) FROM kb_chunks WHERE source_id = :'p1';`, [id])[0], ['100', '100']);
  invariants(id);
});

test('a worker SIGKILLed in the middle of a pipelined run: another goes on, counts exact', { timeout: 120000 }, async () => {
  await control('kill', { op: 'seed', n: 150 });
  await pipe({ delay: 250, throttle: 0 });
  const id = createSource('Pipeline kill', config('kill'));
  const run = await startRun(id);
  await until('three pages', () => runRow(run).pages >= 3, 15000);
  const executor = runRow(run).executor;
  const pid = Number(executor.split(':').pop());
  assert.ok(workerPids().includes(pid), `the executor ${executor} is a worker of the stack`);
  process.kill(pid, 'SIGKILL');
  await until('another worker on it', () => {
    const e = runRow(run).executor;
    return e !== executor && e !== '';
  }, 15000);
  await until('done', () => runRow(run).status === 'done', 60000);
  const r = runRow(run);
  assert.deepEqual([r.pages, r.items, r.newItems], [15, 150, 150], 'every page counted once');
  assert.deepEqual(sql(`SELECT count(*), count(DISTINCT content_hash) FROM kb_chunks WHERE source_id = :'p1';`, [id])[0], ['150', '150']);
  assert.deepEqual([cursorRow(id).items, cursorRow(id).done], [150, true]);
  invariants(id);
  stack(REMOTE, 'workers');
});
