// Observability: /api/backoffice/health, the public /healthz, Prometheus
// metrics, the audit trail (batches and operator actions) and its
// endpoint, and the structured request logs — through nginx against
// PostgreSQL.  The database-down test runs last and restarts PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  BASE, DB, ROOT, TENANT, UPSTREAM, VAR, VIEWER,
  batch, call, createSource, dummyConfig, ensureTenant, one, sql,
} from './lib.mjs';

const HEALTH = '/api/backoffice/health';
const METRICS = '/api/backoffice/metrics';
const AUDIT = '/api/backoffice/rest-audit';
const RUN = Date.now().toString(36);
const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function expectedMigrations() {
  return fs.readdirSync(path.join(ROOT, 'sql'))
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).map((f) => f.slice(0, -4)).sort();
}

// ---- health ------------------------------------------------------------

test('health: 200 with the database and the migrations', async () => {
  const r = await call(HEALTH, { method: 'GET' });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.deepEqual(Object.keys(r.json).sort(), ['database', 'embedder', 'migrations', 'ok']);
  assert.equal(r.json.ok, true);
  // The stack embeds locally (no OPENAI_API_KEY): said so (issue 15).
  assert.deepEqual(r.json.embedder, { name: 'local', model: 'local-hash-v1', semantic: false, note: 'not semantic — for demos and tests', dimensions: 1536 });
  assert.equal(r.json.database.ok, true);
  assert.equal(typeof r.json.database.ms, 'number');
  assert.ok(r.json.database.ms >= 0 && r.json.database.ms < 5000, String(r.json.database.ms));
  const want = expectedMigrations();
  assert.ok(want.includes('001_schema') && want.includes('004_audit_storage'));
  assert.deepEqual(r.json.migrations.expected, want);
  assert.deepEqual(r.json.migrations.applied,
    sql('SELECT version FROM schema_migrations ORDER BY version;').map((x) => x[0]));
  for (const m of want) assert.ok(r.json.migrations.applied.includes(m), m);
  assert.equal(r.json.migrations.current, true);
});

test('health: admin zone (401, 403), GET and HEAD only', async () => {
  assert.equal((await call(HEALTH, { method: 'GET', user: null })).status, 401);
  const v = await call(HEALTH, { method: 'GET', user: VIEWER });
  assert.equal(v.status, 403);
  assert.equal(v.json.error, 'not a platform admin');
  const p = await call(HEALTH, { body: {} });
  assert.equal(p.status, 405);
  assert.match(p.headers.get('allow'), /GET/);
  assert.equal((await call(HEALTH, { method: 'HEAD' })).status, 200);
});

test('health: a migration that is not applied makes it 503 (current false)', async () => {
  const last = expectedMigrations().at(-1);
  const applied = one(`SELECT applied_at FROM schema_migrations WHERE version = :'p1';`, [last]);
  sql(`DELETE FROM schema_migrations WHERE version = :'p1';`, [last]);
  try {
    const r = await call(HEALTH, { method: 'GET' });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.ok, false);
    assert.equal(r.json.database.ok, true);
    assert.equal(r.json.migrations.current, false);
    assert.ok(!r.json.migrations.applied.includes(last));
    const z = await fetch(`${BASE}/healthz`);
    assert.equal(z.status, 503);
    assert.equal(await z.text(), 'not ok\n');
  } finally {
    sql(`INSERT INTO schema_migrations (version, applied_at) VALUES (:'p1', :'p2');`, [last, applied]);
  }
  assert.equal((await call(HEALTH, { method: 'GET' })).status, 200);
});

test('/healthz: no credentials, says only "ok"', async () => {
  const r = await fetch(`${BASE}/healthz`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain/);
  assert.equal(r.headers.get('www-authenticate'), null);
  assert.equal(await r.text(), 'ok\n');
  // Credentials, right or wrong, change nothing and reveal nothing.
  for (const auth of ['Basic ' + Buffer.from('admin:test-admin-pw').toString('base64'),
    'Basic ' + Buffer.from('nobody:wrong').toString('base64')]) {
    const x = await fetch(`${BASE}/healthz`, { headers: { Authorization: auth } });
    assert.equal(x.status, 200);
    assert.equal(await x.text(), 'ok\n');
  }
  const head = await fetch(`${BASE}/healthz`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  const post = await fetch(`${BASE}/healthz`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(await post.text(), '');
  // Its query string and path suffixes do not reach anything else.
  assert.equal(await (await fetch(`${BASE}/healthz?verbose=1`)).text(), 'ok\n');
  assert.equal((await fetch(`${BASE}/healthz/x`)).status, 404);
});

// ---- metrics -----------------------------------------------------------

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})? (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|\+Inf|NaN))$/;

// Scrape: every line is a comment or "name{labels} value"; returns a map.
async function scrape() {
  const r = await call(METRICS, { method: 'GET' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  assert.ok(r.text.endsWith('\n'));
  const m = new Map();
  const types = new Map();
  for (const line of r.text.slice(0, -1).split('\n')) {
    if (line.startsWith('#')) {
      const t = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
      assert.ok(t, `comment: ${line}`);
      if (t[1] === 'TYPE') {
        assert.match(t[3], /^(counter|gauge|histogram)$/);
        types.set(t[2], t[3]);
      }
      continue;
    }
    const s = SAMPLE.exec(line);
    assert.ok(s, `sample: ${JSON.stringify(line)}`);
    const key = s[1] + (s[2] || '');
    assert.ok(!m.has(key), `duplicate ${key}`);
    m.set(key, Number(s[3].replace('+Inf', 'Infinity')));
  }
  m.types = types;
  return m;
}

const v = (m, k) => m.get(k) ?? 0;

function checkHistogram(m, name) {
  assert.equal(m.types.get(name), 'histogram');
  const buckets = [...m.entries()].filter(([k]) => k.startsWith(`${name}_bucket{`));
  assert.equal(buckets.length, 13);
  assert.equal(buckets.at(-1)[0], `${name}_bucket{le="+Inf"}`);
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i][1] >= buckets[i - 1][1], `${name} cumulative`);
  assert.equal(buckets.at(-1)[1], m.get(`${name}_count`));
  assert.ok(m.get(`${name}_sum`) >= 0);
}

test('metrics: the exposition parses and has every series', async () => {
  const m = await scrape();
  assert.equal(m.get('restsync_up'), 1);
  assert.equal(m.types.get('restsync_up'), 'gauge');
  assert.equal(m.types.get('restsync_batches_total'), 'counter');
  assert.equal(m.types.get('restsync_items_total'), 'counter');
  assert.equal(m.types.get('restsync_chunks_inserted_total'), 'counter');
  assert.equal(m.types.get('restsync_sources'), 'gauge');
  for (const s of ['never', 'ok', 'done', 'error']) assert.ok(m.has(`restsync_sources{status="${s}"}`), s);
  checkHistogram(m, 'restsync_upstream_seconds');
  checkHistogram(m, 'restsync_embed_seconds');
  // The gauge agrees with the tables.
  const never = +one(`SELECT count(*) FROM kb_sources s LEFT JOIN kb_rest_cursors c ON c.source_id = s.id
                      WHERE s.type = 'rest' AND c.last_status IS NULL;`);
  assert.equal(m.get('restsync_sources{status="never"}'), never);
});

test('metrics: odd audit details fail neither their insert nor the scrape', async () => {
  const before = await scrape();
  const odd = ['{"items": "50", "inserted": true, "attempts": 1, "ms": {"fetch": "slow"}}',
    '{"items": 1e400, "inserted": -5, "attempts": 1e400, "ms": {"fetch": 1e400, "embed": -1}}',
    '{"items": 2.5, "inserted": 3, "attempts": 0, "embedAttempts": 1, "ms": {"embed": 1500}}',
    '{}', '[]', '"x"'];
  sql(`INSERT INTO kb_rest_audit (actor, action, outcome, detail)
       SELECT 'test', 'worker', 'ok', d::jsonb FROM unnest(:'p1'::text[]) AS d;`,
  [`{${odd.map((d) => JSON.stringify(d)).join(',')}}`]);
  try {
    const after = await scrape();
    const d = (k) => v(after, k) - v(before, k);
    assert.equal(after.get('restsync_up'), 1);
    assert.equal(d('restsync_batches_total{action="worker",outcome="ok"}'), odd.length);
    assert.equal(d('restsync_items_total'), 2);          // only the 2.5 counts (truncated)
    assert.equal(d('restsync_chunks_inserted_total'), 3);
    assert.equal(d('restsync_upstream_seconds_count'), 0);
    assert.equal(d('restsync_embed_seconds_count'), 1);
    assert.equal(d('restsync_embed_seconds_bucket{le="1"}'), 0);
    assert.equal(d('restsync_embed_seconds_bucket{le="2.5"}'), 1);
    assert.ok(Math.abs(d('restsync_embed_seconds_sum') - 1.5) < 1e-9);
  } finally {
    sql(`DELETE FROM kb_rest_audit WHERE actor = 'test' AND action = 'worker' AND source_id IS NULL;`);
  }
});

test('metrics: admin zone (401, 403), GET only', async () => {
  assert.equal((await call(METRICS, { method: 'GET', user: null })).status, 401);
  assert.equal((await call(METRICS, { method: 'GET', user: VIEWER })).status, 403);
  assert.equal((await call(METRICS, { body: {} })).status, 405);
});

test('metrics: counters grow by exactly one batch\'s figures', async () => {
  const id = createSource(`Metrics ${RUN}`, dummyConfig());
  const before = await scrape();
  const r = await batch(id);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.json.items, r.json.inserted, r.json.attempts], [50, 50, 1]);
  const after = await scrape();
  const d = (k) => v(after, k) - v(before, k);
  assert.equal(d('restsync_batches_total{action="sync",outcome="ok"}'), 1);
  assert.equal(d('restsync_batches_total{action="sync",outcome="error"}'), 0);
  assert.equal(d('restsync_batches_total{action="sync-to-end",outcome="ok"}'), 0);
  assert.equal(d('restsync_items_total'), 50);
  assert.equal(d('restsync_chunks_inserted_total'), 50);
  assert.equal(d('restsync_upstream_seconds_count'), 1);
  assert.equal(d('restsync_upstream_seconds_bucket{le="+Inf"}'), 1);
  assert.ok(Math.abs(d('restsync_upstream_seconds_sum') - r.json.ms.fetch / 1000) < 1e-6);
  // The one observation sits in the first bucket at or above its time.
  const fetchS = r.json.ms.fetch / 1000;
  for (const le of ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '20']) {
    assert.equal(d(`restsync_upstream_seconds_bucket{le="${le}"}`), fetchS <= Number(le) ? 1 : 0, `le ${le}`);
  }
  assert.equal(d('restsync_embed_seconds_count'), 1);
  assert.ok(Math.abs(d('restsync_embed_seconds_sum') - r.json.ms.embed / 1000) < 1e-6);
  assert.equal(d('restsync_sources{status="never"}'), -1);
  assert.equal(d('restsync_sources{status="ok"}'), 1);
  checkHistogram(after, 'restsync_upstream_seconds');

  // Sync to end: its own action label; a done batch.
  const s2 = await scrape();
  const rs = [];
  for (let i = 0; i < 5; i++) {
    const x = await call('/api/backoffice/rest-batch', { body: { sourceId: id, action: 'sync-to-end' } });
    assert.equal(x.status, 200, x.text);
    rs.push(x.json);
    if (x.json.done) break;
  }
  assert.deepEqual(rs.map((x) => x.items), [50, 50, 44]);
  const s3 = await scrape();
  const d2 = (k) => v(s3, k) - v(s2, k);
  assert.equal(d2('restsync_batches_total{action="sync-to-end",outcome="ok"}'), 2);
  assert.equal(d2('restsync_batches_total{action="sync-to-end",outcome="done"}'), 1);
  assert.equal(d2('restsync_items_total'), 144);
  assert.equal(d2('restsync_chunks_inserted_total'), 144);
  assert.equal(d2('restsync_upstream_seconds_count'), 3);
  assert.equal(d2('restsync_sources{status="ok"}'), -1);
  assert.equal(d2('restsync_sources{status="done"}'), 1);

  // A failed batch counts as an error and adds no items.
  const bad = createSource(`Metrics error ${RUN}`, dummyConfig({ baseUrl: `${UPSTREAM}/fault/status?code=500` }));
  const s4 = await scrape();
  const e = await batch(bad);
  assert.equal(e.status, 502, e.text);
  const s5 = await scrape();
  const d3 = (k) => v(s5, k) - v(s4, k);
  assert.equal(d3('restsync_batches_total{action="sync",outcome="error"}'), 1);
  assert.equal(d3('restsync_items_total'), 0);
  assert.equal(d3('restsync_chunks_inserted_total'), 0);
  assert.equal(d3('restsync_upstream_seconds_count'), 1);
  assert.equal(d3('restsync_embed_seconds_count'), 0);
  assert.equal(d3('restsync_sources{status="error"}'), 1);
});

// ---- audit trail -------------------------------------------------------

function auditRows(id) {
  return sql(`SELECT actor, action, outcome, detail::text, tenant_id, at FROM kb_rest_audit
              WHERE source_id = :'p1' ORDER BY id;`, [id])
    .map(([actor, action, outcome, detail, tenant, at]) => ({ actor, action, outcome, detail: JSON.parse(detail), tenant, at }));
}

async function audit(id, query = '') {
  const r = await call(`${AUDIT}?sourceId=${id}${query}`, { method: 'GET' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.ok, true);
  assert.equal(r.json.sourceId, id);
  return r.json.entries;
}

// Hold the batch lock of a source from another session until released.
function holdLock(id) {
  const p = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', DB], { stdio: ['pipe', 'pipe', 'inherit'] });
  p.stdin.write(`SELECT pg_advisory_lock(hashtextextended('restsync:source:' || '${id}', 0));\n\\echo locked\n`);
  const ready = new Promise((res) => p.stdout.on('data', (b) => { if (String(b).includes('locked')) res(); }));
  return { ready, release: () => new Promise((res) => { p.on('close', res); p.stdin.end(); }) };
}

const SECRET1 = `obs-secret-one-${RUN}-Zq7`;
const SECRET2 = `obs-secret-two-${RUN}-Kx9`;
const SECRET3 = `obs-secret-bad-${RUN}-Wv3`;
let auditId;

test('audit: create, update, sync, sync to end, reset (also refused) and delete, each with actor and outcome', async () => {
  ensureTenant();
  const provider = `obs-${RUN}`;
  const cr = await call('/api/backoffice/rest-sources', {
    body: { tenantId: TENANT, title: `Audited ${RUN}`, config: dummyConfig({ provider }), apiKey: SECRET1 },
  });
  assert.equal(cr.status, 201, cr.text);
  const id = cr.json.source.id;
  auditId = id;
  // A create refused for bad input changes nothing and leaves no row.
  const n0 = +one('SELECT count(*) FROM kb_rest_audit;');
  const refused = await call('/api/backoffice/rest-sources', {
    body: { tenantId: TENANT, title: `Refused ${RUN}`, config: { baseUrl: 'ftp://x/' }, apiKey: SECRET3 },
  });
  assert.equal(refused.status, 400);
  assert.equal(+one('SELECT count(*) FROM kb_rest_audit;'), n0);

  const up = await call('/api/backoffice/rest-sources-update',
    { body: { sourceId: id, title: `Audited ${RUN} (2)`, apiKey: SECRET2 } });
  assert.equal(up.status, 200, up.text);
  assert.equal((await batch(id)).status, 200);
  for (let i = 0; i < 5; i++) {
    const x = await call('/api/backoffice/rest-batch', { body: { sourceId: id, action: 'sync-to-end' } });
    assert.equal(x.status, 200, x.text);
    if (x.json.done) break;
  }
  const rs = await call('/api/backoffice/rest-sources-reset', { body: { sourceId: id } });
  assert.equal(rs.status, 200, rs.text);

  // Reset refused while a batch holds the lock: an error row.
  const lock = holdLock(id);
  await lock.ready;
  try {
    const busy = await call('/api/backoffice/rest-sources-reset', { body: { sourceId: id } });
    assert.equal(busy.status, 409, busy.text);
  } finally {
    await lock.release();
  }

  const del = await call('/api/backoffice/rest-delete', { body: { sourceId: id } });
  assert.equal(del.status, 200, del.text);
  assert.deepEqual(del.json.deleted, { docs: 1, chunks: 194 });

  const rows = auditRows(id);
  assert.deepEqual(rows.map((r) => [r.action, r.outcome]), [
    ['create', 'ok'], ['update', 'ok'], ['sync', 'ok'],
    ['sync-to-end', 'ok'], ['sync-to-end', 'ok'], ['sync-to-end', 'done'],
    ['reset', 'ok'], ['reset', 'error'], ['delete', 'ok'],
  ]);
  for (const r of rows) {
    assert.equal(r.actor, 'admin');
    assert.equal(r.tenant, TENANT);
  }
  const [c, u, s1, t1, t2, t3, re, reBusy, d] = rows.map((r) => r.detail);
  assert.deepEqual(c, { title: `Audited ${RUN}`, enabled: true, provider, keyStored: true });
  assert.deepEqual(u, { title: { from: `Audited ${RUN}`, to: `Audited ${RUN} (2)` }, keyStored: true, changed: ['title', 'apiKey'] });
  assert.deepEqual([s1.items, s1.inserted, s1.status, s1.next], [50, 50, 200, '50']);
  assert.deepEqual([t1.items, t2.items, t3.items, t3.done, t3.inserted], [50, 50, 44, true, 44]);
  for (const b of [s1, t1, t2, t3]) {
    assert.deepEqual(Object.keys(b.ms).sort(), ['chunk', 'commit', 'dedup', 'embed', 'fetch', 'hash', 'items', 'load', 'normalize', 'parse', 'sweep', 'total']);
  }
  assert.deepEqual(re, { title: `Audited ${RUN} (2)`, before: { pageCount: 4, itemCount: 194, done: true } });
  assert.match(reBusy.error, /already running/);
  assert.equal(reBusy.status, 'busy');
  assert.deepEqual(d, { title: `Audited ${RUN} (2)`, docs: 1, chunks: 194 });

  // The endpoint: the same rows, newest first; the trail outlives the source.
  const entries = await audit(id);
  assert.deepEqual(entries.map((e) => e.action), rows.map((r) => r.action).reverse());
  for (const e of entries) {
    assert.deepEqual(Object.keys(e).sort(), ['action', 'actor', 'at', 'detail', 'id', 'outcome']);
    assert.match(e.at, ISO_MS);
    assert.equal(e.actor, 'admin');
  }
  assert.deepEqual(entries[0].detail, d);
  assert.ok(entries[0].id > entries[1].id);
  assert.deepEqual((await audit(id, '&limit=2')).map((e) => e.action), ['delete', 'reset']);
  // No key anywhere in the trail.
  for (const k of [SECRET1, SECRET2, SECRET3]) {
    assert.equal(one(`SELECT count(*) FROM kb_rest_audit WHERE position(:'p1' in detail::text) > 0;`, [k]), '0');
  }
});

test('audit: a failed batch\'s row carries the error', async () => {
  const id = createSource(`Audit error ${RUN}`, dummyConfig({ baseUrl: `${UPSTREAM}/fault/status?code=503` }));
  const r = await call('/api/backoffice/rest-batch', { body: { sourceId: id, action: 'sync-to-end' } });
  assert.equal(r.status, 502, r.text);
  const rows = auditRows(id);
  assert.equal(rows.length, 1);
  assert.deepEqual([rows[0].actor, rows[0].action, rows[0].outcome], ['admin', 'sync-to-end', 'error']);
  assert.equal(rows[0].detail.error, r.json.error);
  assert.match(rows[0].detail.error, /HTTP 503/);
  assert.equal(rows[0].detail.status, 503);
  const [e] = await audit(id);
  assert.equal(e.outcome, 'error');
  assert.equal(e.detail.error, r.json.error);
});

test('rest-audit: strict query validation, admin zone, GET only', async () => {
  const id = auditId || '00000000-0000-4000-8000-000000000101';
  const bad = [
    '', '?', `?sourceId=${id}&`, `?sourceId=${id}&&limit=2`, '?sourceId=', '?sourceId=nope',
    `?sourceId=${id}0`, `?sourceId=${id.toUpperCase().replace(/-/g, '')}`, `?sourceId=${encodeURIComponent(id).replace('-', '%2D')}`,
    `?sourceId=${id}&sourceId=${id}`, `?sourceId=${id}&limit=0`, `?sourceId=${id}&limit=201`,
    `?sourceId=${id}&limit=-1`, `?sourceId=${id}&limit=1e2`, `?sourceId=${id}&limit=07`, `?sourceId=${id}&limit=`,
    `?sourceId=${id}&limit=5&limit=6`, `?sourceId=${id}&offset=1`, `?sourceId=${id}&limit`, '?limit=5',
    `?sourceId=${id}&x=${'a'.repeat(300)}`,
  ];
  for (const q of bad) {
    const r = await call(AUDIT + q, { method: 'GET' });
    assert.equal(r.status, 400, `${q}: ${r.text}`);
    assert.equal(r.json.ok, false);
    assert.equal(typeof r.json.error, 'string');
  }
  assert.match((await call(`${AUDIT}?sourceId=${id}&offset=1`, { method: 'GET' })).json.error, /unknown parameter 'offset'/);
  assert.match((await call(`${AUDIT}?sourceId=${id}&limit=201`, { method: 'GET' })).json.error, /'limit' must be an integer from 1 to 200/);
  // Good ones: limits 1 and 200, parameters in any order; an unknown source has no entries.
  assert.equal((await audit(id, '&limit=1')).length, 1);
  const r200 = await call(`${AUDIT}?limit=200&sourceId=${id}`, { method: 'GET' });
  assert.equal(r200.status, 200);
  assert.equal(r200.json.limit, 200);
  assert.deepEqual(await audit('00000000-0000-4000-8000-00000000dead'), []);
  const dflt = await call(`${AUDIT}?sourceId=${id}`, { method: 'GET' });
  assert.equal(dflt.json.limit, 20);
  assert.equal((await call(`${AUDIT}?sourceId=${id}`, { method: 'GET', user: null })).status, 401);
  assert.equal((await call(`${AUDIT}?sourceId=${id}`, { method: 'GET', user: VIEWER })).status, 403);
  const p = await call(`${AUDIT}?sourceId=${id}`, { body: {} });
  assert.equal(p.status, 405);
});

test('audit: at most 200 entries, newest first, with the index', async () => {
  const id = createSource(`Audit many ${RUN}`, dummyConfig());
  sql(`INSERT INTO kb_rest_audit (actor, action, source_id, tenant_id, outcome, detail, at)
       SELECT 'admin', 'sync', :'p1', :'p2', 'ok', jsonb_build_object('items', g), now() - (g || ' seconds')::interval
       FROM generate_series(1, 250) g;`, [id, TENANT]);
  const all = await audit(id, '&limit=200');
  assert.equal(all.length, 200);
  assert.deepEqual(all.slice(0, 3).map((e) => e.detail.items), [1, 2, 3]);
  assert.equal(all.at(-1).detail.items, 200);
  // The index can serve the endpoint's query (whatever a small table's plan).
  const plan = sql(`SET enable_seqscan = off;
                    EXPLAIN SELECT id FROM kb_rest_audit WHERE source_id = :'p1' ORDER BY at DESC, id DESC LIMIT 20;`, [id])
    .map((x) => x[0]).join('\n');
  assert.match(plan, /kb_rest_audit_source/);
  sql(`DELETE FROM kb_rest_audit WHERE source_id = :'p1';`, [id]);
});

// ---- logs --------------------------------------------------------------

function logLines() {
  const dir = path.join(VAR, 'log');
  const progs = fs.readdirSync(path.join(ROOT, 'build/release/bin'));
  const out = [];
  for (const p of progs) {
    const f = path.join(dir, `${p}.log`);
    if (!fs.existsSync(f)) continue;
    for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
      if (line === '') continue;
      // Start-up and supervisor messages are "program: text"; requests are JSON.
      if (new RegExp(`^${p}: `).test(line)) continue;
      out.push({ file: p, line });
    }
  }
  return out;
}

test('logs: one JSON line per request with the common fields; batches with items, attempts and stage times', async () => {
  const id = createSource(`Logged ${RUN}`, dummyConfig());
  const r = await batch(id);
  assert.equal(r.status, 200);
  await call(HEALTH, { method: 'GET' });
  await fetch(`${BASE}/healthz`);
  await call(`${AUDIT}?sourceId=${id}`, { method: 'GET' });
  await call(METRICS, { method: 'GET' });

  const lines = logLines();
  assert.ok(lines.length > 10);
  const seen = new Set();
  for (const { file, line } of lines) {
    let o;
    try { o = JSON.parse(line); } catch { assert.fail(`${file}.log: not JSON: ${line.slice(0, 200)}`); }
    for (const k of ['time', 'request_id', 'program', 'user', 'source_id', 'tenant_id', 'http', 'status', 'ms']) {
      assert.ok(k in o, `${file}.log: no ${k}: ${line.slice(0, 200)}`);
    }
    assert.equal(o.program, file);
    assert.match(o.time, ISO_MS);
    assert.equal(typeof o.http, 'number');
    seen.add(o.program);
  }
  for (const p of ['rest_batch', 'health', 'metrics', 'rest_audit', 'rest_sources']) assert.ok(seen.has(p), p);

  const mine = lines.map((x) => JSON.parse(x.line)).filter((o) => o.program === 'rest_batch' && o.source_id === id);
  assert.equal(mine.length, 1);
  const b = mine[0];
  assert.match(b.request_id, /^[0-9a-f]{32}$/);
  assert.equal(b.user, 'admin');
  assert.equal(b.tenant_id, TENANT);
  assert.equal(b.http, 200);
  assert.equal(b.status, 'ok');
  assert.equal(b.action, 'sync');
  assert.deepEqual([b.items, b.inserted, b.skipped, b.attempts, b.chunks], [50, 50, 0, 1, 50]);
  assert.deepEqual(Object.keys(b.stage_ms), ['load', 'fetch', 'parse', 'normalize', 'items', 'chunk', 'hash', 'dedup', 'embed', 'commit', 'sweep', 'total']);
  for (const x of Object.values(b.stage_ms)) assert.equal(typeof x, 'number');
  assert.equal(b.url, r.json.url);
  // The public health check logs that it was public, and no user.
  const hz = lines.map((x) => JSON.parse(x.line)).filter((o) => o.program === 'health' && o.public === true);
  assert.ok(hz.length >= 1);
  assert.equal(hz.at(-1).user, '');
});

test('logs: no API key anywhere under the log folder', async () => {
  // The keys of the audit test above, plus a fresh one through a failed update.
  const SECRET4 = `obs-secret-upd-${RUN}-Pf2`;
  // A provider of its own: the tenant's "rest" key is other tests' business.
  const id = createSource(`Key log ${RUN}`, dummyConfig({ provider: `obs-log-${RUN}` }));
  const r = await call('/api/backoffice/rest-sources-update', { body: { sourceId: id, apiKey: SECRET4, enabled: 'yes' } });
  assert.equal(r.status, 400);
  const ok = await call('/api/backoffice/rest-sources-update', { body: { sourceId: id, apiKey: SECRET4 } });
  assert.equal(ok.status, 200, ok.text);
  const read = (p) => (fs.statSync(p).isDirectory()
    ? fs.readdirSync(p).map((f) => read(path.join(p, f))).join('\n') : fs.readFileSync(p, 'latin1'));
  const all = read(path.join(VAR, 'log'));
  assert.ok(all.includes(id), 'the logs do record the requests');
  for (const k of [SECRET1, SECRET2, SECRET3, SECRET4]) {
    assert.ok(!all.includes(k), `key ${k} in the logs`);
    assert.ok(!all.includes(Buffer.from(k).toString('base64')));
  }
  sql(`DELETE FROM integration_secrets WHERE tenant_id = :'p1' AND provider IN (:'p2', :'p3');`,
    [TENANT, `obs-log-${RUN}`, `obs-${RUN}`]);
});

// ---- database down (last: restarts PostgreSQL) -------------------------

const PGBIN = process.env.PGBIN || '/usr/lib/postgresql/15/bin';
const asRoot = process.getuid && process.getuid() === 0;
function pgCtl(...args) {
  const cmd = [path.join(PGBIN, 'pg_ctl'), '-D', path.join(VAR, 'pg/data'), ...args];
  return asRoot ? execFileSync('runuser', ['-u', 'restsync', '--', ...cmd], { stdio: 'pipe' })
    : execFileSync(cmd[0], cmd.slice(1), { stdio: 'pipe' });
}

async function eventually(fn, what, ms = 30000) {
  const t0 = Date.now();
  for (;;) {
    if (await fn()) return;
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('database down: health 503, /healthz "not ok"; back up: ok again', {
  skip: (!fs.existsSync(path.join(VAR, 'pg/data/PG_VERSION')) || process.env.DATABASE_URL) && 'no local PostgreSQL',
}, async () => {
  assert.equal((await fetch(`${BASE}/healthz`)).status, 200);
  pgCtl('-m', 'fast', '-w', 'stop');
  try {
    const z = await fetch(`${BASE}/healthz`);
    assert.equal(z.status, 503);
    assert.match(z.headers.get('content-type'), /^text\/plain/);
    assert.equal(await z.text(), 'not ok\n');
    const h = await call(HEALTH, { method: 'GET' });
    assert.equal(h.status, 503, h.text);
    assert.equal(h.json.ok, false);
    assert.equal(h.json.database.ok, false);
    assert.equal(h.json.migrations.current, false);
    assert.deepEqual(h.json.migrations.expected, expectedMigrations());
    // Nothing about the server's whereabouts when the admin check could not run.
    assert.ok(!('error' in h.json.database));
    const m = await call(METRICS, { method: 'GET' });
    assert.equal(m.status, 503);
  } finally {
    pgCtl('-w', '-t', '60', '-l', path.join(VAR, 'log/postgres.log'), 'start');
  }
  await eventually(async () => (await fetch(`${BASE}/healthz`)).status === 200, '/healthz ok');
  const z = await fetch(`${BASE}/healthz`);
  assert.equal(await z.text(), 'ok\n');
  const h = await call(HEALTH, { method: 'GET' });
  assert.equal(h.status, 200, h.text);
  assert.equal(h.json.database.ok, true);
  // Each program reconnects by itself.
  const m = await scrape();
  assert.equal(m.get('restsync_up'), 1);
});
