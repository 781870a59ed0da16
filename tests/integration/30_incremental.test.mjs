// Incremental syncs (config "incremental", docs/SYNC-RUNS.md "Incremental
// runs") against an upstream whose items carry updated_at and that
// honours updated_since (tests/upstream/routes/incremental.mjs): a first
// full run, then only what changed; lookback; fullEvery (the full run
// sweeps, the incremental one does not); Reset makes the next run full.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { DB, ROOT, TENANT, UPSTREAM, VAR, call, createSource, one, sql, syncToEnd, until } from './lib.mjs';

const CLI = process.env.RS_CLI || path.join(ROOT, 'build/release/cli/restsync');
const RESET = '/api/backoffice/rest-sources-reset';
const SYNC = '/api/backoffice/rest-sync';
const RUN = `inc${process.pid}`;

const control = async (ds, cmd) => {
  const r = await fetch(`${UPSTREAM}/incr/control`, { method: 'POST', body: JSON.stringify({ ds: `${RUN}-${ds}`, ...cmd }) });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return JSON.parse(text);
};
// The upstream requests of a dataset since the last "forget", as query
// objects without ds.
async function requests(ds) {
  const log = await control(ds, { op: 'log' });
  await control(ds, { op: 'forget' });
  return log.map(({ query }) => { const { ds: _, ...q } = query; return q; });
}

function config(ds, incremental = {}, extra = {}) {
  return {
    baseUrl: `${UPSTREAM}/incr/items`, cursorStyle: 'offset', cursorParam: 'skip', pageSizeParam: 'limit',
    defaultPageSize: 5, itemsPath: 'items', totalPath: 'total', textFields: ['title', 'body'], titleField: 'title',
    queryTemplate: { ds: `${RUN}-${ds}` },
    incremental: { cursorPath: 'updated_at', param: 'updated_since', ...incremental }, ...extra,
  };
}

// The source's latest run as the database has it.
function lastRun(id) {
  const r = sql(`SELECT status, incremental, coalesce(incr_since, '-'), coalesce(incr_mark, '-'), pages, items,
                        new_items, changed_items, unchanged_items, removed_items, coalesce(sweep, '-'),
                        coalesce(sweep_note, '-')
                 FROM kb_rest_runs WHERE source_id = :'p1' ORDER BY started_at DESC LIMIT 1;`, [id])[0];
  return {
    status: r[0], incremental: r[1] === '' ? null : r[1] === 't', since: r[2], mark: r[3], pages: +r[4], items: +r[5],
    new: +r[6], changed: +r[7], unchanged: +r[8], removed: +r[9], sweep: r[10], note: r[11],
  };
}
const sourceMark = (id) => sql(`SELECT coalesce(incr_mark, '-'), incr_runs FROM kb_rest_cursors WHERE source_id = :'p1';`, [id])[0];
const nItems = (id) => +one(`SELECT count(*) FROM kb_rest_items WHERE source_id = :'p1';`, [id]);
const nChunks = (id) => +one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]);
const chunkOf = (id, key) => sql(`SELECT replace(c.content, E'\\n', ' | ') FROM kb_rest_items i JOIN kb_chunks c ON c.source_id = i.source_id
    AND c.content_hash = ANY (i.chunk_hashes) WHERE i.source_id = :'p1' AND i.item_key = :'p2';`, [id, key]).map((r) => r[0]);

async function again(id, keepMark = true) {
  const r = await call(RESET, { body: { sourceId: id, keepMark } });
  assert.equal(r.status, 200, r.text);
  const out = await syncToEnd(id);
  assert.ok(out.every((b) => b.status === 200), JSON.stringify(out.map((b) => b.json)));
  return out;
}


test('a first full run, then a second run fetches only the newer items; a changed item replaces its chunks', async () => {
  await control('basic', { op: 'seed', n: 12 });
  await control('basic', { op: 'forget' });
  const id = createSource('Incremental basic', config('basic'));
  const first = await syncToEnd(id);
  assert.deepEqual(first.map((b) => [b.status, b.json.items, b.json.done]), [[200, 5, false], [200, 5, false], [200, 2, true]]);
  // Full: no updated_since on any page.
  assert.deepEqual(await requests('basic'), [
    { skip: '0', limit: '5' }, { skip: '5', limit: '5' }, { skip: '10', limit: '5' }]);
  assert.deepEqual(lastRun(id), {
    status: 'done', incremental: false, since: '-', mark: '2026-01-01T00:12:00Z', pages: 3, items: 12,
    new: 12, changed: 0, unchanged: 0, removed: 0, sweep: 'done', note: 'nothing to remove',
  });
  assert.deepEqual(sourceMark(id), ['2026-01-01T00:12:00Z', '0']);
  assert.equal(nItems(id), 12);
  const chunks1 = nChunks(id);
  assert.equal(chunks1, 12, 'one chunk per short record');

  // Upstream: record 3 changes, record 13 is new.
  await control('basic', { op: 'edit', id: 3, patch: { body: 'Record three was rewritten today.', updated_at: '2026-01-02T00:00:00Z' } });
  await control('basic', { op: 'add', items: [{ id: 13, title: 'Record 13', body: 'A brand new record.', updated_at: '2026-01-02T00:05:00+00:00' }] });
  const second = await again(id);
  assert.deepEqual(second.map((b) => [b.json.items, b.json.done]), [[3, true]]);
  // One request, with the mark: records 3, 12 (updated at the mark) and 13.
  assert.deepEqual(await requests('basic'), [{ skip: '0', limit: '5', updated_since: '2026-01-01T00:12:00Z' }]);
  assert.deepEqual(lastRun(id), {
    status: 'done', incremental: true, since: '2026-01-01T00:12:00Z', mark: '2026-01-02T00:05:00+00:00', pages: 1,
    items: 3, new: 1, changed: 1, unchanged: 1, removed: 0, sweep: 'skipped',
    note: 'an incremental run sees only the changed items',
  });
  assert.deepEqual(sourceMark(id), ['2026-01-02T00:05:00+00:00', '1']);
  assert.equal(nItems(id), 13, 'nothing swept: the 10 records it did not see stay');
  assert.equal(nChunks(id), 13);
  // The changed record's old chunk is gone, its new one stored.
  const c3 = chunkOf(id, 'id:3');
  assert.equal(c3.length, 1, JSON.stringify(c3));
  assert.match(c3[0], /rewritten today/);
  assert.equal(+one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1' AND content LIKE '%record number 3.%';`, [id]), 0);

  // Nothing changed: the third run asks from the new mark and stores nothing.
  const third = await again(id);
  assert.deepEqual(third.map((b) => [b.json.items, b.json.inserted]), [[1, 0]]);
  assert.deepEqual(await requests('basic'), [{ skip: '0', limit: '5', updated_since: '2026-01-02T00:05:00Z' }]);
  assert.equal(lastRun(id).unchanged, 1);

  // The runs say it: rest-runs and restsync runs.
  const list = await call(`/api/backoffice/rest-runs?sourceId=${id}&limit=3`, { method: 'GET' });
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json.runs.map((r) => [r.incremental, r.since, r.mark]), [
    [true, '2026-01-02T00:05:00Z', '2026-01-02T00:05:00+00:00'],
    [true, '2026-01-01T00:12:00Z', '2026-01-02T00:05:00+00:00'],
    [false, null, '2026-01-01T00:12:00Z']]);
  const cli = spawnSync(CLI, ['runs', id], {
    env: { ...process.env, DATABASE_URL: DB, RESTSYNC_ALLOW_ROOT: '1' }, encoding: 'utf8',
  });
  assert.equal(cli.status, 0, cli.stderr);
  const lines = cli.stdout.trim().split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[0], / incremental since=2026-01-02T00:05:00Z mark=2026-01-02T00:05:00\+00:00/);
  assert.match(lines[2], / full mark=2026-01-01T00:12:00Z/);
});

test('lookbackSeconds: the param is the mark minus the lookback, as RFC 3339 UTC', async () => {
  await control('look', { op: 'seed', n: 4 });
  const id = createSource('Incremental lookback', config('look', { lookbackSeconds: 3600 }));
  await syncToEnd(id);
  await control('look', { op: 'forget' });
  await again(id);
  // 00:04 less an hour: every record is at or after it.
  assert.deepEqual(await requests('look'), [{ skip: '0', limit: '5', updated_since: '2025-12-31T23:04:00Z' }]);
  const r = lastRun(id);
  assert.deepEqual([r.incremental, r.since, r.items, r.unchanged, r.new], [true, '2025-12-31T23:04:00Z', 4, 4, 0]);

  // restsync sync: a done source stays done; --again walks it again, incrementally.
  await control('look', { op: 'edit', id: 2, patch: { updated_at: '2026-01-01T02:00:00Z' } });
  const env = {
    ...process.env, DATABASE_URL: DB, RESTSYNC_SECRET_KEY_FILE: path.join(VAR, 'secret.key'),
    RESTSYNC_ALLOW_PRIVATE_NETWORKS: '1', RESTSYNC_ALLOW_ROOT: '1',
  };
  delete env.RESTSYNC_SECRET_KEY;
  const done = spawnSync(CLI, ['sync', id], { env, encoding: 'utf8' });
  assert.equal(done.status, 0, done.stderr);
  assert.match(done.stdout, /already done/);
  assert.deepEqual(await requests('look'), []);
  const cli = spawnSync(CLI, ['sync', '--again', id], { env, encoding: 'utf8' });
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /done: batches=1 items=4 /);
  assert.deepEqual(await requests('look'), [{ skip: '0', limit: '5', updated_since: '2025-12-31T23:04:00Z' }]);
  const r2 = lastRun(id);
  assert.deepEqual([r2.incremental, r2.items, r2.changed, r2.unchanged, r2.mark], [true, 4, 0, 4, '2026-01-01T02:00:00Z']);
  assert.equal(one(`SELECT detail->>'keepMark' FROM kb_rest_audit WHERE source_id = :'p1' AND action = 'reset'
                    ORDER BY id DESC LIMIT 1;`, [id]), 'true');
});

test('fullEvery: the incremental run keeps a deleted item, the full one (a rest-sync run) sweeps it', async () => {
  await control('full', { op: 'seed', n: 6 });
  const id = createSource('Incremental fullEvery', config('full', { fullEvery: 2, initialValue: '2025-06-01T00:00:00Z' }));
  await syncToEnd(id);
  // The first run is full and sends initialValue.
  assert.deepEqual(await requests('full'), [
    { skip: '0', limit: '5', updated_since: '2025-06-01T00:00:00Z' },
    { skip: '5', limit: '5', updated_since: '2025-06-01T00:00:00Z' }]);
  assert.deepEqual([lastRun(id).incremental, lastRun(id).sweep], [false, 'done']);

  await control('full', { op: 'delete', ids: [2] });
  await control('full', { op: 'edit', id: 5, patch: { body: 'Record five, edited.', updated_at: '2026-02-01T00:00:00Z' } });
  // Server-side runs (the stack's workers) of a done source.
  const run = async () => {
    const r = await call(SYNC, { body: { sourceId: id } });
    assert.equal(r.status, 202, r.text);
    await until('the run done', () => one(`SELECT status FROM kb_rest_runs WHERE id = :'p1';`, [r.json.runId]) === 'done');
    return lastRun(id);
  };
  const second = await run();
  assert.deepEqual(await requests('full'), [{ skip: '0', limit: '5', updated_since: '2026-01-01T00:06:00Z' }]);
  assert.deepEqual([second.incremental, second.items, second.changed, second.removed, second.sweep], [true, 2, 1, 0, 'skipped']);
  assert.equal(nItems(id), 6, 'the deleted record stays after an incremental run');
  assert.deepEqual(sourceMark(id), ['2026-02-01T00:00:00Z', '1']);

  const third = await run();
  // Full again, from initialValue: the five records left fit one page.
  assert.deepEqual(await requests('full'), [{ skip: '0', limit: '5', updated_since: '2025-06-01T00:00:00Z' }]);
  assert.deepEqual([third.incremental, third.items, third.unchanged, third.removed, third.sweep], [false, 5, 5, 1, 'done']);
  assert.equal(nItems(id), 5, 'the full run swept the deleted record');
  assert.equal(chunkOf(id, 'id:2').length, 0);
  assert.deepEqual(sourceMark(id), ['2026-02-01T00:00:00Z', '0']);
});

test('Reset clears the mark: the next run is full; a numeric cursor works too', async () => {
  await control('reset', { op: 'seed', n: 3 });
  const id = createSource('Incremental reset', config('reset'));
  await syncToEnd(id);
  await control('reset', { op: 'forget' });
  const r = await call(RESET, { body: { sourceId: id } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(sourceMark(id), ['-', '0']);
  assert.equal(one(`SELECT detail->>'keepMark' FROM kb_rest_audit WHERE source_id = :'p1' AND action = 'reset';`, [id]), null);
  await syncToEnd(id);
  assert.deepEqual(await requests('reset'), [{ skip: '0', limit: '5' }]);
  assert.deepEqual([lastRun(id).incremental, lastRun(id).sweep, lastRun(id).unchanged], [false, 'done', 3]);
  // keepMark must be a boolean.
  const bad = await call(RESET, { body: { sourceId: id, keepMark: 'yes' } });
  assert.equal(bad.status, 400);
  assert.match(bad.json.error, /'keepMark' must be true or false/);

  // Numbers compare as numbers (9 < 10), lookback subtracts.
  await control('num', { op: 'seed', n: 0 });
  await control('num', { op: 'add', items: [9, 10, 8].map((n) => ({ id: n, title: `N ${n}`, body: `Number ${n}.`, updated_at: '2026-01-01T00:00:00Z', seq: n })) });
  const nid = createSource('Incremental numeric', config('num', { cursorPath: 'seq', lookbackSeconds: 2 }));
  await syncToEnd(nid);
  assert.equal(lastRun(nid).mark, '10');
  await control('num', { op: 'forget' });
  await again(nid).catch(() => null);	// the imitation filters by time: whatever it answers
  assert.deepEqual(await requests('num'), [{ skip: '0', limit: '5', updated_since: '8' }]);
});

test('bad incremental config: 400 naming the key', async () => {
  const bad = [
    [{ incremental: true }, /'incremental' must be an object/],
    [{ incremental: { param: 'since' } }, /'incremental\.cursorPath'/],
    [{ incremental: { cursorPath: 'u', param: 'a&b' } }, /'incremental\.param'/],
    [{ incremental: { cursorPath: 'u', param: 's', lookbackSeconds: -5 } }, /'incremental\.lookbackSeconds'/],
    [{ incremental: { cursorPath: 'u', param: 's', fullEvery: 'often' } }, /'incremental\.fullEvery'/],
    [{ incremental: { cursorPath: 'u', param: 's', initialValue: 0 } }, /'incremental\.initialValue'/],
    [{ incremental: { cursorPath: 'u', param: 's', every: 2 } }, /'incremental': unknown key 'every'/],
  ];
  for (const [patch, re] of bad) {
    const { incremental: _, ...base } = config('bad');
    const r = await call('/api/backoffice/rest-sources', { body: { tenantId: TENANT, title: 'Bad incremental', config: { ...base, ...patch } } });
    assert.equal(r.status, 400, JSON.stringify(patch));
    assert.match(r.json.error, re);
  }
});

test('the preview fetches the first page as the first (full) run would: with initialValue', async () => {
  await control('prev', { op: 'seed', n: 5 });
  await control('prev', { op: 'forget' });
  const r = await call('/api/backoffice/rest-preview', {
    body: { tenantId: TENANT, config: config('prev', { initialValue: '2026-01-01T00:03:00Z' }) },
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items, 3);
  assert.match(r.json.url, /&updated_since=2026-01-01T00%3A03%3A00Z$/);
  assert.deepEqual(await requests('prev'), [{ skip: '0', limit: '5', updated_since: '2026-01-01T00:03:00Z' }]);
});

test("the worker's scheduled round of a done source is incremental", { timeout: 60000 }, async () => {
  await control('worker', { op: 'seed', n: 6 });
  const id = createSource('Incremental worker', config('worker', {}, { syncIntervalMinutes: 10 }));
  await syncToEnd(id);
  await control('worker', { op: 'forget' });
  await control('worker', { op: 'edit', id: 4, patch: { body: 'Record four, edited for the worker.', updated_at: '2026-03-01T00:00:00Z' } });
  // Only this source may be due (18_worker does the same), and it is: done 11 minutes ago.
  sql(`UPDATE kb_sources SET enabled = false WHERE config ? 'syncIntervalMinutes' AND id <> :'p1';`, [id]);
  sql(`UPDATE kb_rest_cursors SET last_synced_at = now() - interval '11 minutes' WHERE source_id = :'p1';`, [id]);
  const env = {
    ...process.env, DATABASE_URL: DB, RESTSYNC_SECRET_KEY_FILE: path.join(VAR, 'secret.key'),
    RESTSYNC_ALLOW_PRIVATE_NETWORKS: '1', RESTSYNC_ALLOW_ROOT: '1', RESTSYNC_WORKER_IDLE_SECONDS: '0.1',
  };
  delete env.RESTSYNC_SECRET_KEY;
  const w = spawnSync(CLI, ['worker', '--once'], { env, encoding: 'utf8', timeout: 50000 });
  assert.equal(w.status, 0, w.stderr);
  assert.deepEqual(await requests('worker'), [{ skip: '0', limit: '5', updated_since: '2026-01-01T00:06:00Z' }]);
  const r = lastRun(id);
  assert.deepEqual([r.status, r.incremental, r.items, r.changed, r.unchanged, r.sweep, r.mark],
    ['done', true, 2, 1, 1, 'skipped', '2026-03-01T00:00:00Z']);
  assert.equal(one(`SELECT kind FROM kb_rest_runs WHERE source_id = :'p1' ORDER BY started_at DESC LIMIT 1;`, [id]), 'worker');
  assert.match(chunkOf(id, 'id:4')[0], /edited for the worker/);
});
