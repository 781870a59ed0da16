// Issue 14 item 2: parsing an upstream body is bounded in memory.  A body
// whose json-c tree would be far larger than its text ("[{},{},…]": ~4 GiB
// for 16 MiB) is refused before the tree is built, and a worker's peak
// RSS stays under 4x the body cap plus a small constant, under 64 MiB at
// the default cap of 16 MiB.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { batch, counts, createSource, cursorRow, dummyConfig, ROOT, UPSTREAM, VAR } from './lib.mjs';

const MiB = 1024 * 1024;
const SMALL = 16 * MiB;	// the "small constant": code, libraries, buffers

function workers() {
  const master = fs.readFileSync(path.join(VAR, 'run/fcgi/rest_batch.pid'), 'utf8').trim();
  return execFileSync('pgrep', ['-P', master], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
}

// Reset every worker's high-water mark (proc(5): clear_refs 5), run fn,
// return the highest peak RSS of any worker, in bytes.
async function peak(fn) {
  const ws = workers();
  for (const p of ws) fs.writeFileSync(`/proc/${p}/clear_refs`, '5');
  const r = await fn();
  let max = 0;
  for (const p of ws) {
    const m = fs.readFileSync(`/proc/${p}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
    max = Math.max(max, Number(m[1]) * 1024);
  }
  return { r, max };
}

function source(shape, cap) {
  const cfg = dummyConfig({
    baseUrl: `${UPSTREAM}/jsonmem/body?shape=${shape}&bytes=${cap}`, itemsPath: null,
    cursorStyle: 'page', pageSizeParam: 'limit', currentOffsetPath: null, totalPath: null,
    textFields: ['title'],
  });
  if (cap !== 16 * MiB) cfg.maxBodyBytes = cap;
  return createSource(`JSON memory ${shape} ${cap}`, cfg);
}

// Fresh workers: what earlier tests left in their heaps is not ours.
before(async () => {
  execFileSync(path.join(ROOT, 'scripts/stack.sh'), ['fcgi'], { env: process.env, stdio: 'pipe' });
  await new Promise((r) => setTimeout(r, 200));	// idle keep-alive sockets closed meanwhile
});

const PATHOLOGICAL = ['objects', 'zeros', 'arrays', 'nested', 'longkey', 'longkeys'];

for (const cap of [1 * MiB, 4 * MiB, 16 * MiB]) {
  test(`JSON memory: pathological bodies at a ${cap / MiB} MiB cap are refused before the tree is built, peak RSS bounded`, async (t) => {
    const limit = cap === 16 * MiB ? 64 * MiB : 4 * cap + SMALL;
    for (const shape of PATHOLOGICAL) {
      const id = source(shape, cap);
      const { r, max } = await peak(() => batch(id));
      t.diagnostic(`${shape} at ${cap / MiB} MiB: HTTP ${r.status}, worker peak RSS ${(max / MiB).toFixed(1)} MiB`);
      assert.ok(max < limit, `${shape} at ${cap / MiB} MiB: worker peaked at ${(max / MiB).toFixed(1)} MiB (limit ${limit / MiB} MiB)`);
      if (shape === 'longkeys') {
        // 1 KiB keys cost little more than their text: parsed, bounded.
        assert.equal(r.status, 200, `${shape}: ${r.text.slice(0, 300)}`);
        assert.ok(r.json.items >= 1);
        continue;
      }
      assert.equal(r.status, 502, `${shape}: ${r.text.slice(0, 300)}`);
      assert.match(r.json.error, /^upstream JSON would take more than \d+ bytes of memory to parse; ask for smaller pages$/);
      assert.equal(cursorRow(id).error, r.json.error);
      assert.deepEqual(counts(id), { docs: 0, chunks: 0 });
    }
  });
}

test('JSON memory: an ordinary body at the 16 MiB cap still parses, peak RSS under 64 MiB', async (t) => {
  const id = source('strings', 16 * MiB);
  const { r, max } = await peak(() => batch(id));
  t.diagnostic(`strings at 16 MiB: HTTP ${r.status}, worker peak RSS ${(max / MiB).toFixed(1)} MiB`);
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.equal(r.json.items, Math.floor((16 * MiB - 1) / (65536 + 12)));
  assert.ok(max < 64 * MiB, `worker peaked at ${(max / MiB).toFixed(1)} MiB`);
});

// A server-side run is pipelined: pages are fetched, parsed and embedded
// ahead while earlier ones commit.  Pages of 16 MiB of new prose each
// (~4,800 chunks: ~28 MiB of vectors a page) must not pile up: the run
// worker's peak stays under 64 MiB, as a serial batch's does.
test('JSON memory: a run over pages of 16 MiB of prose keeps its worker under 64 MiB', async (t) => {
  const { call, one, until } = await import('./lib.mjs');
  const cfg = dummyConfig({
    baseUrl: `${UPSTREAM}/jsonmem/body?shape=prose&bytes=${16 * MiB}`, itemsPath: null,
    cursorStyle: 'page', pageSizeParam: 'limit', currentOffsetPath: null, totalPath: null,
    textFields: ['text'], maxPages: 4,
  });
  const id = createSource('JSON memory: a run of big pages', cfg);
  const dir = path.join(VAR, 'run/workers');
  const runWorkers = () => fs.readdirSync(dir).filter((f) => f.endsWith('.pid'))
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8').trim());
  for (const p of runWorkers()) fs.writeFileSync(`/proc/${p}/clear_refs`, '5');
  const r = await call('/api/backoffice/rest-sync', { body: { sourceId: id } });
  assert.equal(r.status, 202, r.text);
  let max = 0;
  const status = () => one(`SELECT status FROM kb_rest_runs WHERE id = :'p1';`, [r.json.runId]);
  await until('the run ends', () => {
    for (const p of runWorkers()) {
      const m = fs.readFileSync(`/proc/${p}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
      max = Math.max(max, Number(m[1]) * 1024);
    }
    return status() !== 'running';
  }, 120000);
  for (const p of runWorkers()) {
    const m = fs.readFileSync(`/proc/${p}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
    max = Math.max(max, Number(m[1]) * 1024);
  }
  const run = JSON.parse(one(`SELECT json_build_object('status', status, 'pages', pages, 'new', new_items,
    'chunks', chunks_inserted)::text FROM kb_rest_runs WHERE id = :'p1';`, [r.json.runId]));
  t.diagnostic(`run: ${JSON.stringify(run)}, run worker peak RSS ${(max / MiB).toFixed(1)} MiB`);
  assert.equal(run.status, 'done');
  assert.equal(run.pages, 4);
  assert.equal(run.new, 4 * 255);
  assert.ok(run.chunks > 4 * 4000, `${run.chunks} chunks`);
  assert.ok(max < 64 * MiB, `run worker peaked at ${(max / MiB).toFixed(1)} MiB`);
});

test('JSON memory: a request body is parsed under a budget too (64 KiB of {} would be 17 MiB of tree)', async () => {
  const { call } = await import('./lib.mjs');
  const raw = `{"sourceId":"00000000-0000-4000-8000-000000000000","x":[${Array(20000).fill('{}').join(',')}]}`;
  assert.ok(raw.length < 64 * 1024);
  const r = await call('/api/backoffice/rest-batch', { raw, headers: { 'Content-Type': 'application/json' } });
  assert.equal(r.status, 413, r.text);
  assert.match(r.json.error, /^request body would take more than 2097152 bytes of memory to parse/);
});

test('JSON memory: the systemd units cap memory (MemoryMax=) above what the workers need', () => {
  const mib = (v) => Number(v.match(/^(\d+)M$/)[1]);
  for (const [unit, procs] of [['restsync-fcgi@.service', 3], ['restsync-worker.service', 1]]) {
    const text = fs.readFileSync(path.join(ROOT, 'deploy/systemd', unit), 'utf8');
    const max = text.match(/^MemoryMax=(\S+)$/m);
    assert.ok(max, `${unit} has no MemoryMax=`);
    // Every process at the 64 MiB maximum cap: 4 x 64 MiB + 16 MiB.
    assert.ok(mib(max[1]) >= (procs === 1 ? 272 : 2 * 272), `${unit}: MemoryMax=${max[1]}`);
    assert.match(text, /^MemorySwapMax=0$/m);
  }
});
