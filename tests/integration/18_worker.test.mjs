// restsync worker: three workers and the HTTP endpoint against one
// database, the due rules, SIGTERM.  The workers get the environment the
// stack gives its FastCGI workers.  Upstream: /wk/ (routes/worker.mjs),
// which notes the source key and page of every request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { batch, createSource, cursorRow, lifetime, DB, one, ROOT, sql, UPSTREAM, VAR, until } from './lib.mjs';

const CLI = process.env.RS_CLI || path.join(ROOT, 'build/release/cli/restsync');
const ENV = {
  ...process.env,
  DATABASE_URL: DB,
  RESTSYNC_SECRET_KEY_FILE: path.join(VAR, 'secret.key'),
  RESTSYNC_ALLOW_PRIVATE_NETWORKS: '1',
  RESTSYNC_ALLOW_ROOT: '1',   // the CLI refuses root otherwise (24_hardening)
};
delete ENV.RESTSYNC_SECRET_KEY;
const RUN = `wk${process.pid}`;
const PAGES = [1, 2, 3, 4, 5];          // 23 items, 5 a page
const DEADLINE_MS = 20000;              // BATCH_DEADLINE_MS, common/pipeline/batch.h
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

function wkSource(key, { interval = 1, query = '', enabled = true } = {}) {
  const cfg = {
    baseUrl: `${UPSTREAM}/wk/items?src=${RUN}-${key}${query}`, cursorStyle: 'page',
    pageSizeParam: 'per_page', defaultPageSize: 5, itemsPath: 'items',
    textFields: ['title', 'body'], titleField: 'title',
  };
  if (interval !== null) cfg.syncIntervalMinutes = interval;
  return createSource(`Worker ${key}`, cfg, { enabled });
}

async function wkLog(key = '') {
  return (await fetch(`${UPSTREAM}/wk/log?src=${RUN}-${key}`)).json();
}

// Only this test's sources may be due: other tests' sources with an
// interval (none today) are disabled.
function onlyDue(ids) {
  sql(`UPDATE kb_sources SET enabled = false
       WHERE config ? 'syncIntervalMinutes' AND NOT (id = ANY (string_to_array(:'p1', ',')::uuid[]));`,
  [ids.join(',')]);
}

// A worker process; lines = its JSON log lines, exit = {code, signal}.
// 'close', not 'exit': only then has all it wrote on stderr been read.
function worker(env = {}, args = []) {
  const p = spawn(CLI, ['worker', ...args], { env: { ...ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const w = { p, lines: [], out: '', raw: '' };
  p.stdout.on('data', (d) => { w.out += d; });
  p.stderr.on('data', (d) => { w.raw += d; });
  w.exit = new Promise((res) => p.on('close', (code, signal) => {
    w.lines = w.raw.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    res({ code, signal, at: Date.now() });
  }));
  return w;
}


test('three workers and the endpoint, 10 due sources: all synced, each page once a round, no duplicates',
  { timeout: 120000 }, async (t) => {
    const keys = Array.from({ length: 10 }, (_, i) => `all${i}`);
    const ids = keys.map((k) => wkSource(k, { query: '&delay=25' }));
    onlyDue(ids);
    const env = {
      RESTSYNC_WORKER_SLICE_SECONDS: '0.1',   // slices end mid-sync: sources change hands
      RESTSYNC_WORKER_IDLE_SECONDS: '0.1',
      RESTSYNC_WORKER_MINUTE_SECONDS: '2',    // syncIntervalMinutes 1 = 2 s: a second round
    };
    const workers = [worker(env), worker(env), worker(env)];

    // The operator clicks Sync on random sources meanwhile.
    let clicking = true;
    const clicks = [];
    const clicker = (async () => {
      while (clicking) {
        const id = ids[Math.floor(Math.random() * ids.length)];
        const r = await batch(id);
        clicks.push({ id, status: r.status, json: r.json });
        await sleep(10);
      }
    })();

    // Every source done twice over: two full rounds (10 pages each).
    const state = () => sql(`SELECT bool_and(c.done), min(c.lifetime_pages) FROM kb_rest_cursors c
                              WHERE c.source_id = ANY (string_to_array(:'p1', ',')::uuid[]);`, [ids.join(',')])[0];
    await until('two rounds of every source', () => {
      const [done, pages] = state();
      return done === 't' && +pages >= 10 && one(`SELECT count(*) FROM kb_rest_cursors
        WHERE source_id = ANY (string_to_array(:'p1', ',')::uuid[]);`, [ids.join(',')]) === '10';
    }, 90000);
    // No third round: make the interval long, then stop everything.
    sql(`UPDATE kb_sources SET config = jsonb_set(config, '{syncIntervalMinutes}', '525600')
         WHERE id = ANY (string_to_array(:'p1', ',')::uuid[]);`, [ids.join(',')]);
    clicking = false;
    await clicker;
    const t0 = Date.now();
    workers.forEach((w) => w.p.kill('SIGTERM'));
    const exits = await Promise.all(workers.map((w) => w.exit));
    for (const e of exits) {
      assert.deepEqual([e.code, e.signal], [0, null]);
      assert.ok(e.at - t0 < DEADLINE_MS);
    }

    // Each page fetched once per round, in order; a third round may have
    // begun before the interval changed, never twice the same page.
    const log = await wkLog('all');
    let rounds = Infinity;
    for (const [i, key] of keys.entries()) {
      const seq = log.filter((f) => f.src === `${RUN}-${key}`);
      seq.forEach((f, j) => assert.equal(f.page, PAGES[j % 5], `${key}: fetch ${j} ${JSON.stringify(seq.map((x) => x.page))}`));
      assert.ok(seq.every((f) => f.items !== null), 'every page was answered');
      rounds = Math.min(rounds, Math.floor(seq.length / 5));
      // Every fetched page was stored exactly once: the cursor's item count
      // is the sum of the pages served, and the audit has a row per fetch.
      const cur = cursorRow(ids[i]);
      assert.equal(lifetime(ids[i]).items, seq.reduce((a, f) => a + f.items, 0), key);
      assert.equal(lifetime(ids[i]).pages, seq.length, key);
      // Within the current run: the pages since its first.
      assert.equal(cur.pages, seq.length % 5 === 0 ? 5 : seq.length % 5, key);
      assert.equal(cur.error, '', key);
      const partial = seq.length % 5;
      assert.equal(cur.done, partial === 0, key);
      assert.equal(+one(`SELECT count(*) FROM kb_rest_audit WHERE source_id = :'p1' AND outcome <> 'error';`, [ids[i]]),
        seq.length, `${key}: one audit row per fetch`);
      // No duplicate chunks, and a later round added none.
      const [n, distinct] = sql(`SELECT count(*), count(DISTINCT content_hash) FROM kb_chunks WHERE source_id = :'p1';`, [ids[i]])[0];
      assert.equal(+n, 23, key);
      assert.equal(+distinct, 23, key);
    }
    assert.ok(rounds >= 2, `at least two complete rounds (${rounds})`);

    // All three workers worked, and so did the endpoint; batches of the
    // same source never overlapped (the endpoint saw 409 or went on).
    for (const w of workers) {
      const mine = w.lines.filter((l) => l.event === 'batch' && l.status === 'ok' && l.http === 200);
      assert.ok(mine.length > 0, `worker ${w.p.pid} ran batches`);
      assert.ok(w.lines.every((l) => l.program === 'restsync-worker' && /^worker@/.test(l.user)));
      assert.equal(w.lines.at(-1).event, 'stop');
      assert.equal(w.out, '', 'nothing on stdout');
    }
    const fetched = clicks.filter((c) => c.status === 200 && c.json.status === 200);
    assert.ok(fetched.length > 0, 'the endpoint ran batches too');
    assert.ok(clicks.every((c) => c.status === 200 || c.status === 409), JSON.stringify(clicks.find((c) => c.status !== 200 && c.status !== 409)));
    const viaWorkers = workers.flatMap((w) => w.lines).filter((l) => l.event === 'batch' && l.http === 200).length;
    assert.equal(viaWorkers + fetched.length, log.length, 'every fetch is a worker batch or a click');
    assert.equal(+one(`SELECT count(*) FROM kb_rest_audit WHERE action = 'worker' AND actor LIKE 'worker@%'
                       AND source_id = ANY (string_to_array(:'p1', ',')::uuid[]);`, [ids.join(',')]), viaWorkers);
    // A source changed hands between workers at least once (slices of 0.1 s).
    const owners = new Map();
    for (const w of workers) {
      for (const l of w.lines.filter((x) => x.event === 'claim')) {
        owners.set(l.source_id, (owners.get(l.source_id) || new Set()).add(w.p.pid));
      }
    }
    assert.ok([...owners.values()].some((s) => s.size > 1), 'some source was worked on by two workers');
    t.diagnostic(`${log.length} fetches: ${viaWorkers} by workers (${workers.map((w) => w.lines.filter((l) => l.event === 'batch' && l.http === 200).length).join('/')}), `
      + `${fetched.length} by the endpoint (${clicks.filter((c) => c.status === 409).length} clicks answered 409); `
      + `${workers.flatMap((w) => w.lines).filter((l) => l.event === 'claim').length} claims; ${rounds} full rounds`);
    sql(`UPDATE kb_sources SET enabled = false WHERE id = ANY (string_to_array(:'p1', ',')::uuid[]);`, [ids.join(',')]);
  });

test('due rules: interval, done, in progress, failed, disabled (worker --once)', { timeout: 60000 }, async () => {
  const mk = (key, opts) => ({ key, id: wkSource(key, opts) });
  const s = {
    noInterval: mk('nointerval', { interval: null }),
    disabled: mk('disabled', { interval: 10, enabled: false }),
    fresh: mk('fresh', { interval: 10 }),
    doneRecent: mk('donerecent', { interval: 10 }),
    doneOld: mk('doneold', { interval: 10 }),
    running: mk('running', { interval: 10 }),
    errRecent: mk('errrecent', { interval: 10 }),
    errOld: mk('errold', { interval: 10 }),
    errShort: mk('errshort', { interval: 3 }),
  };
  onlyDue(Object.values(s).map((x) => x.id));
  // Done sources: synced to the end, then aged.
  for (const x of [s.doneRecent, s.doneOld]) {
    const r = spawnSync(CLI, ['sync', x.id], { env: ENV, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  const age = (x, minutes, extra = '') => sql(`UPDATE kb_rest_cursors SET last_synced_at = now() - make_interval(mins => :'p2'::int) ${extra}
                                      WHERE source_id = :'p1';`, [x.id, String(minutes)]);
  age(s.doneRecent, 9);
  age(s.doneOld, 11);
  // In progress: page 3 is next, synced just now.
  sql(`INSERT INTO kb_rest_cursors (tenant_id, source_id, next_cursor, page_count, item_count, last_status, last_synced_at)
       SELECT tenant_id, id, '3', 2, 10, 'ok', now() FROM kb_sources WHERE id = :'p1';`, [s.running.id]);
  // Failed: 4 minutes ago (interval 10: waits 5), 6 minutes ago; interval 3: waits 3.
  for (const [x, minutes] of [[s.errRecent, 4], [s.errOld, 6], [s.errShort, 4]]) {
    sql(`INSERT INTO kb_rest_cursors (tenant_id, source_id, last_status, last_http_status, last_error, last_synced_at)
         SELECT tenant_id, id, 'error', 503, 'upstream returned HTTP 503', now() - make_interval(mins => :'p2'::int)
         FROM kb_sources WHERE id = :'p1';`, [x.id, String(minutes)]);
  }
  const before = (await wkLog()).length;
  const w = worker({ RESTSYNC_WORKER_IDLE_SECONDS: '0.1' }, ['--once']);
  const e = await w.exit;
  assert.deepEqual([e.code, e.signal], [0, null], w.raw);
  const log = (await wkLog()).slice(before);
  const pages = (x) => log.filter((f) => f.src === `${RUN}-${x.key}`).map((f) => f.page);
  assert.deepEqual(pages(s.noInterval), []);
  assert.deepEqual(pages(s.disabled), []);
  assert.deepEqual(pages(s.fresh), PAGES);
  assert.deepEqual(pages(s.doneRecent), []);
  assert.deepEqual(pages(s.doneOld), PAGES, 'restarted from the first page');
  assert.deepEqual(pages(s.running), [3, 4, 5], 'continued where it was');
  assert.deepEqual(pages(s.errRecent), []);
  assert.deepEqual(pages(s.errOld), PAGES);
  assert.deepEqual(pages(s.errShort), PAGES);
  const claims = w.lines.filter((l) => l.event === 'claim');
  assert.deepEqual(Object.fromEntries(claims.map((l) => [l.source_id, l.kind])), {
    [s.fresh.id]: 'new', [s.doneOld.id]: 'restart', [s.running.id]: 'continue',
    [s.errOld.id]: 'retry', [s.errShort.id]: 'retry',
  });
  // The restarted round (a new run) found every item unchanged.
  const restart = w.lines.filter((l) => l.event === 'batch' && l.source_id === s.doneOld.id);
  assert.deepEqual(restart.map((l) => l.inserted), [0, 0, 0, 0, 0]);
  assert.deepEqual(restart.map((l) => l.unchangedItems), [5, 5, 5, 5, 3]);
  assert.deepEqual(restart.map((l) => l.sweep), [null, null, null, null, 'done']);
  assert.equal(new Set(restart.map((l) => l.runId)).size, 1);
  assert.equal(cursorRow(s.doneOld.id).done, true);
  assert.equal(+one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [s.doneOld.id]), 23);
  // Nothing left due: a second --once claims nothing.
  const again = worker({}, ['--once']);
  assert.equal((await again.exit).code, 0);
  assert.deepEqual(again.lines.map((l) => l.event), ['start', 'stop']);
  sql(`UPDATE kb_sources SET enabled = false WHERE id = ANY (string_to_array(:'p1', ',')::uuid[]);`,
    [Object.values(s).map((x) => x.id).join(',')]);
});

test('SIGTERM: the running batch finishes and is stored, the lock is released, exit 0', { timeout: 60000 }, async () => {
  const id = wkSource('term', { query: '&delay=1500' });
  onlyDue([id]);
  const w = worker({ RESTSYNC_WORKER_IDLE_SECONDS: '0.1' });
  await until('the first page is being fetched', async () => (await wkLog('term')).length === 1);
  const t0 = Date.now();
  w.p.kill('SIGTERM');
  const e = await w.exit;
  assert.deepEqual([e.code, e.signal], [0, null], w.raw);
  assert.ok(e.at - t0 < DEADLINE_MS, `exited ${e.at - t0} ms after SIGTERM`);
  assert.ok(e.at - t0 > 500, 'it waited for the page');
  const log = await wkLog('term');
  assert.deepEqual(log.map((f) => f.page), [1], 'no batch after SIGTERM');
  assert.equal(cursorRow(id).pages, 1, 'the batch in flight was stored');
  const ev = w.lines.map((l) => l.event);
  assert.deepEqual(ev, ['start', 'claim', 'batch', 'release', 'stop']);
  assert.equal(w.lines[3].reason, 'stop');
  // Another worker can take the source at once: the lock went with it.
  assert.equal(one(`SELECT pg_try_advisory_lock(hashtextextended('restsync:worker:' || :'p1', 0));`, [id]), 't');

  // Idle (nothing due, 5 s sleeps): SIGTERM ends it at once.
  sql(`UPDATE kb_sources SET enabled = false WHERE id = :'p1';`, [id]);
  const idle = worker();
  await until('the idle worker started', () => idle.raw.includes('"event":"start"'));
  await sleep(200);
  const t1 = Date.now();
  idle.p.kill('SIGTERM');
  const ie = await idle.exit;
  assert.deepEqual([ie.code, ie.signal], [0, null]);
  assert.ok(ie.at - t1 < 1000, `idle exit took ${ie.at - t1} ms`);
});
