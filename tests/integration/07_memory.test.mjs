// Memory: a page of very long items stays under 64 MiB per worker, and
// 1,000 batches in a row do not make a worker grow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { batch, counts, createSource, cursorRow, dummyConfig, one, sql, VAR, UPSTREAM } from './lib.mjs';

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

test('1,000 batches in a row: worker memory does not grow', async () => {
  const id = createSource('Many', dummyConfig({ defaultPageSize: 10 }));
  let rssAfterWarmup = 0;
  for (let i = 1; i <= 1000; i++) {
    const r = await batch(id);
    assert.equal(r.status, 200, r.text);
    if (r.json.done) {
      sql(`UPDATE kb_rest_cursors SET next_cursor = NULL, done = false WHERE source_id = :'p1';`, [id]);
    }
    if (i === 200) rssAfterWarmup = workers().reduce((a, p) => a + kib(p, 'VmRSS'), 0);
  }
  const rssEnd = workers().reduce((a, p) => a + kib(p, 'VmRSS'), 0);
  assert.ok(rssEnd - rssAfterWarmup < 2048, `workers grew from ${rssAfterWarmup} to ${rssEnd} KiB`);
  assert.deepEqual(counts(id), { docs: 1, chunks: 194 });
  assert.ok(cursorRow(id).pages >= 1000 - 20);
});
