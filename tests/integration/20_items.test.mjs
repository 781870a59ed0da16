// Item identity, updates in place, deletions (sweeps), role changes and
// runs (docs/SYNC-RUNS.md), against an upstream whose items change
// between and during runs (tests/upstream/routes/mutable.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  DB, ROOT, UPSTREAM, VAR, batch, call, createSource, cursorRow, lifetime, one, sql, syncToEnd,
} from './lib.mjs';

const CLI = process.env.RS_CLI || path.join(ROOT, 'build/release/cli/restsync');
const ENV = {
  ...process.env,
  DATABASE_URL: DB,
  RESTSYNC_SECRET_KEY_FILE: path.join(VAR, 'secret.key'),
  RESTSYNC_ALLOW_PRIVATE_NETWORKS: '1',
  RESTSYNC_ALLOW_ROOT: '1',   // CI runs the tests as root
};
delete ENV.RESTSYNC_SECRET_KEY;
// The CLI embeds through an imitation that records every input.
const REMOTE = { OPENAI_API_KEY: 'sk-test-mutable-0001', OPENAI_BASE_URL: `${UPSTREAM}/mut/v1` };
const RESET = '/api/backoffice/rest-sources-reset';
const UPDATE = '/api/backoffice/rest-sources-update';
const SWEEP = '/api/backoffice/rest-sweep';
const RUN = `it${process.pid}`;

const control = async (ds, cmd) => {
  const r = await fetch(`${UPSTREAM}/mut/control`, { method: 'POST', body: JSON.stringify({ ds: `${RUN}-${ds}`, ...cmd }) });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return JSON.parse(text);
};
const embedded = async () => (await fetch(`${UPSTREAM}/mut/embedded`)).json();
const embeddedReset = () => fetch(`${UPSTREAM}/mut/embedded-reset`, { method: 'POST' });

function offsetConfig(ds, extra = {}) {
  return {
    baseUrl: `${UPSTREAM}/mut/offset`, cursorStyle: 'offset', cursorParam: 'skip', pageSizeParam: 'limit',
    defaultPageSize: 10, itemsPath: 'items', totalPath: 'total', textFields: ['title', 'body'],
    titleField: 'title', queryTemplate: { ds: `${RUN}-${ds}` }, ...extra,
  };
}

function cli(args, env = {}) {
  const r = spawnSync(CLI, args, { env: { ...ENV, ...env }, encoding: 'utf8', timeout: 120000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// The tables agree with each other (docs/SYNC-RUNS.md invariants).
function invariants(id, what = '') {
  assert.equal(one(`SELECT count(*) FROM kb_chunks c WHERE c.source_id = :'p1' AND c.item_refs <>
      (SELECT count(*) FROM kb_rest_items i WHERE i.source_id = c.source_id AND c.content_hash = ANY (i.chunk_hashes));`, [id]),
  '0', `${what}: item_refs counts the items holding each chunk`);
  assert.equal(one(`SELECT count(*) FROM kb_rest_items i, unnest(i.chunk_hashes) h WHERE i.source_id = :'p1'
      AND NOT EXISTS (SELECT 1 FROM kb_chunks c WHERE c.source_id = i.source_id AND c.content_hash = h);`, [id]),
  '0', `${what}: every chunk an item holds is stored`);
  assert.equal(one(`SELECT count(*) FROM kb_docs d WHERE d.source_id = :'p1' AND (
      d.next_chunk_idx <> (SELECT count(*) FROM kb_chunks c WHERE c.doc_id = d.id)
      OR d.next_chunk_idx - 1 <> (SELECT coalesce(max(chunk_idx), -1) FROM kb_chunks c WHERE c.doc_id = d.id)
      OR NOT EXISTS (SELECT 1 FROM kb_chunks c WHERE c.doc_id = d.id));`, [id]),
  '0', `${what}: every doc is dense and not empty`);
}

// What the knowledge base says of each item: key -> contents.
function kb(id) {
  const m = new Map();
  for (const [key, content] of sql(`SELECT i.item_key, replace(c.content, E'\\n', ' | ') FROM kb_rest_items i
      JOIN kb_chunks c ON c.source_id = i.source_id AND c.content_hash = ANY (i.chunk_hashes)
      WHERE i.source_id = :'p1' ORDER BY 1;`, [id])) {
    m.set(key, [...(m.get(key) || []), content]);
  }
  return m;
}

// The KB holds exactly the upstream's items, each with its current text.
async function matchesUpstream(id, ds) {
  const { items } = await control(ds, { op: 'stats' });
  const m = kb(id);
  assert.deepEqual([...m.keys()].sort(), items.map((x) => `id:${x.id}`).sort(), 'the same items');
  for (const x of items) {
    const text = m.get(`id:${x.id}`).join('\n');
    assert.ok(text.includes(x.body), `item ${x.id} has its current text`);
  }
  assert.equal(+one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]),
    new Set(items.map((x) => `${x.title}\n${x.body}`)).size, 'one chunk per distinct text');
}

const lastRun = (id) => {
  const r = sql(`SELECT status, new_items, changed_items, unchanged_items, removed_items, chunks_inserted,
                        chunks_deleted, embed_inputs, sweep, coalesce(sweep_note, ''), id
                 FROM kb_rest_runs WHERE source_id = :'p1' ORDER BY started_at DESC LIMIT 1;`, [id])[0];
  return {
    status: r[0], new: +r[1], changed: +r[2], unchanged: +r[3], removed: +r[4], inserted: +r[5],
    deleted: +r[6], embedded: +r[7], sweep: r[8], note: r[9], id: r[10],
  };
};

test('an item edited, three deleted, one added: exactly those chunks change, only they are embedded', async () => {
  await control('edit', { op: 'seed', n: 25 });
  const id = createSource('Mutable edit', offsetConfig('edit'));
  await embeddedReset();
  let r = cli(['sync', id], REMOTE);
  assert.equal(r.code, 0, r.err);
  assert.equal((await embedded()).length, 25);
  assert.deepEqual(lastRun(id).status, 'done');
  await matchesUpstream(id, 'edit');
  invariants(id, 'first run');
  const before = sql(`SELECT id, content_hash FROM kb_chunks WHERE source_id = :'p1' ORDER BY 2;`, [id]);

  await control('edit', { op: 'edit', id: 3, patch: { body: 'Item three was rewritten upstream.' } });
  await control('edit', { op: 'delete', ids: [5, 6, 7] });
  await control('edit', { op: 'add', items: [{ id: 26, title: 'Item 26', body: 'A new item, number 26.' }] });
  assert.equal((await call(RESET, { body: { sourceId: id } })).status, 200);
  await embeddedReset();
  r = cli(['sync', id], REMOTE);
  assert.equal(r.code, 0, r.err);
  // Only the changed and the new item went to the embeddings API.
  assert.deepEqual((await embedded()).sort(), ['title: Item 26\nbody: A new item, number 26.', 'title: Item 3\nbody: Item three was rewritten upstream.']);
  const run = lastRun(id);
  assert.deepEqual([run.status, run.new, run.changed, run.unchanged, run.removed, run.inserted, run.deleted, run.embedded, run.sweep],
    ['done', 1, 1, 21, 3, 2, 4, 2, 'done']);
  await matchesUpstream(id, 'edit');
  invariants(id, 'second run');
  // Every chunk of an untouched item is the same row as before.
  const after = new Map(sql(`SELECT content_hash, id FROM kb_chunks WHERE source_id = :'p1';`, [id]));
  assert.equal(before.filter(([cid, h]) => after.get(h) === cid).length, 21);
  // The run is listed, with what changed.
  const runs = await call(`/api/backoffice/rest-runs?sourceId=${id}&limit=5`, { method: 'GET' });
  assert.equal(runs.status, 200, runs.text);
  assert.equal(runs.json.runs.length, 2);
  assert.deepEqual([runs.json.runs[0].newItems, runs.json.runs[0].changedItems, runs.json.runs[0].removedItems, runs.json.runs[0].sweep],
    [1, 1, 3, 'done']);
  r = cli(['runs', id]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out.split('\n')[0], /done\s+pages=3 items=23\s+\+1 ~1 =21 -3\s+chunks \+2 -4\s+sweep=done/);
});

test('a key that changes with the same text moves its chunk without embedding; a title-only change re-embeds nothing', async () => {
  await control('key', { op: 'set', items: [{ id: 100, title: 'Alpha', body: 'Text that stays the same.' }, { id: 101, title: 'Beta', body: 'Another text.' }] });
  const id = createSource('Mutable key', offsetConfig('key', { textFields: ['body'] }));
  let r = cli(['sync', id], REMOTE);
  assert.equal(r.code, 0, r.err);
  const chunkId = one(`SELECT id FROM kb_chunks WHERE source_id = :'p1' AND content = 'body: Text that stays the same.';`, [id]);

  await control('key', { op: 'set', items: [{ id: 200, title: 'Alpha', body: 'Text that stays the same.' }, { id: 101, title: 'Beta renamed', body: 'Another text.' }] });
  assert.equal((await call(RESET, { body: { sourceId: id } })).status, 200);
  await embeddedReset();
  r = cli(['sync', id], REMOTE);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(await embedded(), [], 'nothing embedded again');
  const run = lastRun(id);
  assert.deepEqual([run.new, run.changed, run.removed, run.inserted, run.deleted], [1, 1, 1, 0, 0]);
  // The same chunk row, now held by the new key; the title followed.
  assert.deepEqual(sql(`SELECT id, metadata->>'itemKey', item_refs FROM kb_chunks WHERE source_id = :'p1' AND content = 'body: Text that stays the same.';`, [id]),
    [[chunkId, 'id:200', '1']]);
  assert.equal(one(`SELECT title FROM kb_chunks WHERE source_id = :'p1' AND content = 'body: Another text.';`, [id]), 'Beta renamed');
  assert.deepEqual(sql(`SELECT item_key FROM kb_rest_items WHERE source_id = :'p1' ORDER BY 1;`, [id]).flat(), ['id:101', 'id:200']);
  invariants(id, 'key move');
});

test('two items with the same text share one chunk; it leaves with the last of them', async () => {
  const twinText = 'The very same words in two items.';
  const twin = `body: ${twinText}`;
  await control('twin', { op: 'set', items: [{ id: 1, title: 'T', body: twinText }, { id: 2, title: 'T', body: twinText }, { id: 3, title: 'U', body: 'Other.' }] });
  const id = createSource('Mutable twins', offsetConfig('twin', { textFields: ['body'], titleField: null }));
  await syncToEnd(id);
  assert.deepEqual(sql(`SELECT item_refs FROM kb_chunks WHERE source_id = :'p1' AND content = :'p2';`, [id, twin]).flat(), ['2']);
  const resync = async () => {
    assert.equal((await call(RESET, { body: { sourceId: id } })).status, 200);
    const rs = await syncToEnd(id);
    assert.ok(rs.every((x) => x.status === 200), rs.map((x) => x.text).join('\n'));
    return rs.at(-1).json;
  };
  await control('twin', { op: 'delete', ids: [1] });
  let last = await resync();
  assert.equal(last.removedItems, 1);
  assert.deepEqual(sql(`SELECT item_refs FROM kb_chunks WHERE source_id = :'p1' AND content = :'p2';`, [id, twin]).flat(), ['1']);
  invariants(id, 'one twin left');
  await control('twin', { op: 'delete', ids: [2] });
  last = await resync();
  // 1 of 2 items is not more than maxDeleteFraction 0.5.
  assert.deepEqual([last.sweep, last.removedItems, last.chunksDeleted], ['done', 1, 1]);
  assert.equal(one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1' AND content = :'p2';`, [id, twin]), '0');
  invariants(id, 'no twin left');
});

test('an upstream that answers an empty list: the sweep is held, nothing is deleted, then confirmed', async () => {
  await control('empty', { op: 'seed', n: 12 });
  const id = createSource('Mutable empty', offsetConfig('empty'));
  await syncToEnd(id);
  await control('empty', { op: 'set', items: [] });
  assert.equal((await call(RESET, { body: { sourceId: id } })).status, 200);
  const rs = await syncToEnd(id);
  const last = rs.at(-1).json;
  assert.deepEqual([last.done, last.sweep, last.removedItems], [true, 'held', 0]);
  assert.match(last.sweepNote, /^sweep held: would remove 12 of 12 items/);
  assert.equal(+one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]), 12, 'nothing deleted');
  // The page's source list shows it.
  const list = await call(`/api/backoffice/rest-sources`, { method: 'GET' });
  const src = list.json.sources.find((s) => s.id === id);
  assert.equal(src.lastRun.sweep, 'held');
  assert.equal(src.lastRun.sweepCandidates, 12);
  // The CLI says so and how to confirm.
  let r = cli(['sweep', id]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /sweep held: would remove 12 of 12 items[^]*restsync sweep --confirm/);
  // Bad confirmations change nothing.
  assert.equal((await call(SWEEP, { body: { sourceId: id } })).status, 400);
  assert.equal((await call(SWEEP, { body: { sourceId: id, runId: id } })).status, 404);
  assert.equal((await call(SWEEP, { body: { sourceId: id, runId: last.runId }, user: ['viewer', 'viewer-pw'] })).status, 403);
  assert.equal(+one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]), 12);
  r = cli(['sweep', '--confirm', id]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /removed 12 items, 12 chunks/);
  assert.deepEqual([one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]),
    one(`SELECT count(*) FROM kb_docs WHERE source_id = :'p1';`, [id]),
    one(`SELECT count(*) FROM kb_rest_items WHERE source_id = :'p1';`, [id])], ['0', '0', '0']);
  assert.equal(one(`SELECT sweep FROM kb_rest_runs WHERE id = :'p1';`, [last.runId]), 'confirmed');
  assert.equal(one(`SELECT count(*) FROM kb_rest_audit WHERE source_id = :'p1' AND action = 'sweep';`, [id]), '1');
  // A second confirmation finds nothing held.
  assert.equal((await call(SWEEP, { body: { sourceId: id, runId: last.runId } })).status, 409);
});

test('a deletion in the middle of an offset run: that run does not sweep, the next stable one does', async () => {
  await control('shift', { op: 'seed', n: 30 });
  const id = createSource('Mutable shift', offsetConfig('shift'));
  await syncToEnd(id);
  assert.equal((await call(RESET, { body: { sourceId: id } })).status, 200);
  // Item 2 goes once the first page was served: item 11 moves to page 1.
  await control('shift', { op: 'after', requests: 1, then: { op: 'delete', ids: [2] } });
  let rs = await syncToEnd(id);
  let last = rs.at(-1).json;
  assert.equal(last.sweep, 'skipped');
  assert.match(last.sweepNote, /total changed during the run \(30 to 29\)/);
  assert.equal(one(`SELECT count(*) FROM kb_rest_items WHERE source_id = :'p1' AND item_key IN ('id:2', 'id:11');`, [id]), '2',
    'the item this run could not see (11) is kept, and so is the deleted one until a stable run');
  assert.equal((await call(RESET, { body: { sourceId: id } })).status, 200);
  rs = await syncToEnd(id);
  last = rs.at(-1).json;
  assert.deepEqual([last.sweep, last.removedItems], ['done', 1]);
  await matchesUpstream(id, 'shift');
  invariants(id, 'after the stable run');
});

test('the same key on two pages of a run: counted once, the later version wins', async () => {
  const items = [];
  for (let i = 1; i <= 10; i++) items.push({ id: i, title: `D ${i}`, body: `First version of ${i}.` });
  items.push({ id: 4, title: 'D 4', body: 'Second version of 4.' });
  await control('dup', { op: 'set', items });
  const id = createSource('Mutable dup', offsetConfig('dup'));
  const rs = await syncToEnd(id);
  assert.deepEqual(rs.map((x) => x.json.newItems), [10, 0]);
  assert.deepEqual(rs.map((x) => x.json.changedItems), [0, 0], 'counted once');
  const run = lastRun(id);
  assert.deepEqual([run.new, run.changed, run.unchanged, run.removed, run.sweep], [10, 0, 0, 0, 'done']);
  assert.deepEqual(kb(id).get('id:4'), ['title: D 4 | body: Second version of 4.']);
  assert.equal(+one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]), 10);
  invariants(id, 'duplicates');
});

test('narrowing allowedRolesOverride updates every chunk in the same transaction', async () => {
  await control('roles', { op: 'seed', n: 15 });
  const cfg = offsetConfig('roles', { allowedRolesOverride: ['member', 'support', 'admin'] });
  const id = createSource('Mutable roles', cfg);
  await syncToEnd(id);
  assert.equal(one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1' AND 'member' = ANY (allowed_roles);`, [id]), '15');
  const r = await call(UPDATE, { body: { sourceId: id, config: { ...cfg, allowedRolesOverride: ['admin'] } } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(sql(`SELECT allowed_roles::text, count(*) FROM kb_chunks WHERE source_id = :'p1' GROUP BY 1;`, [id]), [['{admin}', '15']]);
  const detail = JSON.parse(one(`SELECT detail::text FROM kb_rest_audit WHERE source_id = :'p1' AND action = 'update' ORDER BY id DESC LIMIT 1;`, [id]));
  assert.equal(detail.chunksRolesUpdated, 15);
  // Back to the default roles (no override).
  const { allowedRolesOverride, ...noOverride } = cfg;
  assert.ok(allowedRolesOverride);
  assert.equal((await call(UPDATE, { body: { sourceId: id, config: noOverride } })).status, 200);
  assert.deepEqual(sql(`SELECT allowed_roles::text, count(*) FROM kb_chunks WHERE source_id = :'p1' GROUP BY 1;`, [id]), [['{support,operations,admin}', '15']]);
});

test('a worker SIGKILLed in the middle of a sweep: nothing half-deleted, the rerun finishes it', { timeout: 60000 }, async () => {
  await control('kill', { op: 'seed', n: 20 });
  const id = createSource('Mutable kill', offsetConfig('kill'));
  await syncToEnd(id);
  await control('kill', { op: 'delete', ids: [3, 4, 5] });
  assert.equal((await call(RESET, { body: { sourceId: id } })).status, 200);
  // Slow the sweep down: each removed item of this source takes 2 s.
  sql(`CREATE OR REPLACE FUNCTION rs_test_slow_sweep() RETURNS trigger LANGUAGE plpgsql AS
       $$ BEGIN PERFORM pg_sleep(2); RETURN OLD; END $$;
       CREATE TRIGGER rs_test_slow_sweep BEFORE DELETE ON kb_rest_items FOR EACH ROW
       WHEN (OLD.source_id = '${id}'::uuid) EXECUTE FUNCTION rs_test_slow_sweep();`);
  try {
    const p = spawn(CLI, ['sync', id], { env: ENV, stdio: 'ignore' });
    const exit = new Promise((resolve) => p.on('exit', (code, signal) => resolve({ code, signal })));
    const t0 = Date.now();
    while (one(`SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'WITH gone AS%';`) !== '1') {
      assert.ok(Date.now() - t0 < 30000, 'the sweep never started');
      await new Promise((r) => setTimeout(r, 50));
    }
    p.kill('SIGKILL');
    assert.deepEqual(await exit, { code: null, signal: 'SIGKILL' });
    // The server ends the orphaned transaction once its statement ends.
    const t1 = Date.now();
    while (one(`SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'WITH gone AS%' OR state = 'idle in transaction';`) !== '0') {
      assert.ok(Date.now() - t1 < 20000, 'the killed session lingers');
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    sql(`DROP TRIGGER rs_test_slow_sweep ON kb_rest_items; DROP FUNCTION rs_test_slow_sweep();`);
  }
  // The last page, its run counts and the sweep were one transaction.
  assert.equal(+one(`SELECT count(*) FROM kb_rest_items WHERE source_id = :'p1';`, [id]), 20);
  assert.equal(+one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]), 20);
  assert.equal(cursorRow(id).done, false);
  invariants(id, 'after the kill');
  const r = cli(['sync', id]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual([lastRun(id).sweep, lastRun(id).removed], ['done', 3]);
  await matchesUpstream(id, 'kill');
  invariants(id, 'after the rerun');
});

test('a second worker round of a page-style source with totalPath, and with maxPages, walks every page again', { timeout: 60000 }, async () => {
  const pages = (ds, extra) => ({
    baseUrl: `${UPSTREAM}/mut/pages`, cursorStyle: 'page', cursorParam: 'page', pageSizeParam: 'per_page',
    defaultPageSize: 10, itemsPath: 'items', textFields: ['title', 'body'], queryTemplate: { ds: `${RUN}-${ds}` },
    syncIntervalMinutes: 1, ...extra,
  });
  await control('wtotal', { op: 'seed', n: 25 });
  await control('wmax', { op: 'seed', n: 35 });
  const a = createSource('Worker total', pages('wtotal', { totalPath: 'total' }));
  const b = createSource('Worker maxPages', pages('wmax', { maxPages: 2 }));
  sql(`UPDATE kb_sources SET enabled = false WHERE config ? 'syncIntervalMinutes' AND id NOT IN (:'p1', :'p2');`, [a, b]);
  const env = { RESTSYNC_WORKER_MINUTE_SECONDS: '1.5', RESTSYNC_WORKER_IDLE_SECONDS: '0.05' };
  const requests = async (ds) => (await control(ds, { op: 'stats' })).requests;
  let r = cli(['worker', '--once'], env);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual([await requests('wtotal'), await requests('wmax')], [3, 2]);
  assert.deepEqual([cursorRow(a).done, cursorRow(b).done], [true, true]);
  await new Promise((res) => setTimeout(res, 1700));
  r = cli(['worker', '--once'], env);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual([await requests('wtotal'), await requests('wmax')], [6, 4], 'the second round walked every page');
  assert.deepEqual([cursorRow(a).pages, cursorRow(a).items, lifetime(a).pages, lifetime(a).items], [3, 25, 6, 50]);
  assert.deepEqual([cursorRow(b).pages, lifetime(b).pages], [2, 4]);
  assert.deepEqual(sql(`SELECT status, unchanged_items, sweep FROM kb_rest_runs WHERE source_id = :'p1' ORDER BY started_at;`, [a]),
    [['done', '0', 'done'], ['done', '25', 'done']]);
  sql(`UPDATE kb_sources SET enabled = false WHERE id IN (:'p1', :'p2');`, [a, b]);
});

test('upgrade: a database of the previous schema keeps every chunk, and nothing is embedded again', { timeout: 60000 }, async () => {
  // The data as the previous version stored it: synced here, then copied
  // (without what 006 adds) into a database migrated to 005 only.
  await control('upg', { op: 'seed', n: 14 });
  const id = createSource('Upgrade me', offsetConfig('upg'));
  await syncToEnd(id);
  const db = `upg${process.pid}`;
  sql(`DROP DATABASE IF EXISTS ${db};`);
  sql(`CREATE DATABASE ${db};`);
  const url = DB.replace('/restsync?', `/${db}?`);
  const psql = (q, input) => execPsql(url, q, input);
  try {
    psql('CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());');
    for (const f of fs.readdirSync(path.join(ROOT, 'sql')).filter((x) => /^00[1-5]_.*\.sql$/.test(x)).sort()) {
      psql(null, `BEGIN;\n${fs.readFileSync(path.join(ROOT, 'sql', f), 'utf8')}\nINSERT INTO schema_migrations (version) VALUES ('${f.slice(0, -4)}');\nCOMMIT;\n`);
    }
    const dump = (q) => execPsql(DB, `COPY (${q}) TO STDOUT`);
    psql(null, `COPY tenants FROM STDIN;\n${dump(`SELECT * FROM tenants WHERE id = (SELECT tenant_id FROM kb_sources WHERE id = '${id}')`)}\\.\n`);
    psql(null, `COPY kb_sources (id, tenant_id, type, title, config, backoffice_only, enabled, created_at, updated_at)
      FROM STDIN;\n${dump(`SELECT id, tenant_id, type, title, config, backoffice_only, enabled, created_at, updated_at
      FROM kb_sources WHERE id = '${id}'`)}\\.\n`);
    psql(null, `COPY kb_docs FROM STDIN;\n${dump(`SELECT * FROM kb_docs WHERE source_id = '${id}'`)}\\.\n`);
    // The old schema's real[] (sql/012 converts it back to float32 bytea).
    psql(null, `COPY kb_chunks FROM STDIN;\n${dump(`SELECT id, tenant_id, doc_id, chunk_idx, title, content, restsync_embedding_floats(embedding),
        metadata - 'itemKey', allowed_roles, source_id, content_hash, created_at FROM kb_chunks WHERE source_id = '${id}'`)}\\.\n`);
    psql(null, `COPY kb_rest_cursors FROM STDIN;\n${dump(`SELECT tenant_id, source_id, next_cursor, page_count, item_count, last_status,
        last_http_status, last_synced_at, last_error, done, total, chunk_count FROM kb_rest_cursors WHERE source_id = '${id}'`)}\\.\n`);
    const before = execPsql(url, 'SELECT id, content_hash FROM kb_chunks ORDER BY 1');

    let r = cli(['migrate'], { DATABASE_URL: url, RESTSYNC_SQL_DIR: path.join(ROOT, 'sql') });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out + r.err, /006_items_runs/);
    assert.equal(execPsql(url, 'SELECT id, content_hash FROM kb_chunks ORDER BY 1'), before, 'no chunk lost or changed');
    assert.equal(execPsql(url, "SELECT count(*) FROM kb_rest_items WHERE item_key LIKE 'id:%' AND item_hash = ''").trim(), '14');

    // The first run after the upgrade re-reads every item once and embeds nothing.
    execPsql(url, `UPDATE kb_rest_cursors SET next_cursor = NULL, done = false, page_count = 0, item_count = 0`);
    await embeddedReset();
    r = cli(['sync', id], { DATABASE_URL: url });
    assert.equal(r.code, 0, r.err);
    assert.equal(execPsql(url, 'SELECT id, content_hash FROM kb_chunks ORDER BY 1'), before, 'the same rows');
    assert.equal(execPsql(url, 'SELECT status, changed_items, new_items, embed_inputs, chunks_inserted, chunks_deleted, sweep FROM kb_rest_runs').trim(),
      'done|14|0|0|0|0|done');
  } finally {
    sql(`DROP DATABASE IF EXISTS ${db};`);
  }
});

function execPsql(url, query, input) {
  const args = ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1'];
  if (query) args.push('-c', query);
  args.push(url);
  return spawnSyncOk('psql', args, input);
}

function spawnSyncOk(cmd, args, input) {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('bad input to rest-runs and rest-sweep is a clear 4xx', async () => {
  const id = createSource('Runs input', offsetConfig('none'));
  assert.equal((await call(`/api/backoffice/rest-runs?sourceId=nope`, { method: 'GET' })).status, 400);
  assert.equal((await call(`/api/backoffice/rest-runs?sourceId=${id}&limit=0`, { method: 'GET' })).status, 400);
  assert.equal((await call(`/api/backoffice/rest-runs?sourceId=${id}`, { method: 'POST', body: {} })).status, 405);
  const ok = await call(`/api/backoffice/rest-runs?sourceId=${id}`, { method: 'GET' });
  assert.deepEqual([ok.status, ok.json.runs], [200, []]);
  for (const [body, re] of [[{ sourceId: id, runId: 'x' }, /'runId' must be a UUID/], [{ sourceId: id, runId: id, extra: 1 }, /unknown field 'extra'/]]) {
    const r = await call(SWEEP, { body });
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error, re);
  }
  // A source never run has nothing to confirm.
  assert.equal((await call(SWEEP, { body: { sourceId: id, runId: id } })).status, 404);
  assert.equal((await batch(id)).status, 200);
});
