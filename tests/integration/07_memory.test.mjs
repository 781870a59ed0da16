// Memory: a page of very long items stays under 64 MiB per worker, and
// 1,000 batches that embed and insert do not make a worker grow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { batch, counts, createSource, cursorRow, dummyConfig, one, ROOT, VAR, UPSTREAM } from './lib.mjs';

function workers() {
  const master = fs.readFileSync(path.join(VAR, 'run/fcgi/rest_batch.pid'), 'utf8').trim();
  return execFileSync('pgrep', ['-P', master], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
}

function kib(pid, field) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return Number(m[1]);
}

test('100 items of 64 KiB each: stored exactly, every worker under 64 MiB', async () => {
  const id = createSource('Huge', dummyConfig({ baseUrl: `${UPSTREAM}/rel/huge`, defaultPageSize: 100 }));
  const r = await batch(id);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items, 100);
  assert.ok(r.json.chunks > 256, `expected a multi-statement batch, got ${r.json.chunks} chunks`);
  assert.equal(r.json.inserted, r.json.chunks);
  const c = counts(id);
  assert.equal(c.chunks, r.json.chunks);
  assert.equal(c.docs, 1);
  assert.equal(+one(`SELECT chunk_count FROM kb_rest_cursors WHERE source_id = :'p1';`, [id]), c.chunks);
  // chunk_idx is dense 0..n-1 across the statements of the batch.
  assert.equal(one(`SELECT max(chunk_idx) - min(chunk_idx) + 1 = count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]), 't');
  for (const pid of workers()) assert.ok(kib(pid, 'VmHWM') < 64 * 1024, `worker ${pid} peaked at ${kib(pid, 'VmHWM')} KiB`);
});

// Every batch fetches 10 new items, embeds them through the
// OpenAI-compatible imitation (base64 answers: curl, JSON, the decoder)
// and inserts 10 chunks, so the measured batches do all the work a batch
// can do; growth is measured from batch 200 to batch 1,000.
test('1,000 batches that embed and insert: worker memory does not grow', { timeout: 300000 }, async () => {
  const env = { ...process.env, OPENAI_API_KEY: 'sk-test-key-123456', OPENAI_BASE_URL: `${UPSTREAM}/rel/v1` };
  const stack = (e) => execFileSync(path.join(ROOT, 'scripts/stack.sh'), ['fcgi'], { env: e, stdio: 'pipe' });
  await fetch(`${UPSTREAM}/rel/embed-mode`, { method: 'POST', body: JSON.stringify({ mode: 'ok', fails: 0 }) });
  stack(env);
  // execFileSync blocked the event loop while nginx may have closed idle
  // keep-alive connections: let fetch see those closes before reusing one.
  await new Promise((r) => setTimeout(r, 200));
  try {
    const id = createSource('Many', dummyConfig({
      baseUrl: `${UPSTREAM}/ev/distinct?n=10000`, itemsPath: 'items', textFields: ['title', 'body'],
      defaultPageSize: 10,
    }));
    let rssAfterWarmup = 0;
    for (let i = 1; i <= 1000; i++) {
      const r = await batch(id);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual([r.json.items, r.json.inserted, r.json.embedRequests], [10, 10, 1], `batch ${i}: ${r.text}`);
      assert.equal(r.json.done, i === 1000);
      if (i === 200) rssAfterWarmup = workers().reduce((a, p) => a + kib(p, 'VmRSS'), 0);
    }
    const rssEnd = workers().reduce((a, p) => a + kib(p, 'VmRSS'), 0);
    assert.ok(rssEnd - rssAfterWarmup < 2048, `workers grew from ${rssAfterWarmup} to ${rssEnd} KiB`);
    assert.deepEqual(counts(id), { docs: 1, chunks: 10000 });
    assert.equal(one(`SELECT count(DISTINCT content_hash) FROM kb_chunks WHERE source_id = :'p1';`, [id]), '10000');
    const cur = cursorRow(id);
    assert.deepEqual([cur.pages, cur.items, cur.done], [1000, 10000, true]);
  } finally {
    stack(process.env);
  }
});
