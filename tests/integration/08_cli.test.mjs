// The restsync command: every command, --help, exit codes, the JSON of
// `batch` against the endpoint's, migrate idempotent and transactional.
// The CLI runs with the environment the stack gives its FastCGI workers,
// as root (the tests' user): only the FastCGI programs refuse root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  batch, call, counts, createSource, cursorRow, DB, dummyConfig, one, ROOT, sql, UPSTREAM, VAR,
} from './lib.mjs';

const CLI = process.env.RS_CLI || path.join(ROOT, 'build/release/cli/restsync');
const ENV = {
  ...process.env,
  DATABASE_URL: DB,
  RESTSYNC_SECRET_KEY_FILE: path.join(VAR, 'secret.key'),
  RESTSYNC_ALLOW_PRIVATE_NETWORKS: '1',
  RESTSYNC_ALLOW_ROOT: '1',   // the CLI refuses root otherwise (24_hardening)
};
delete ENV.RESTSYNC_SECRET_KEY;
const RUN = `cli${process.pid}`;
const COMMANDS = ['batch', 'sync', 'list', 'reset', 'delete', 'migrate', 'worker', 'runs', 'sweep'];

// Run the CLI to completion: {code, out, err}.
function cli(args, env = {}) {
  const r = spawnSync(CLI, args, { env: { ...ENV, ...env }, encoding: 'utf8', timeout: 60000 });
  if (r.error) throw r.error;
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

// A page-numbered source on the /wk/ imitation: 23 items, 5 a page.
function wkSource(key, extra = {}, query = '') {
  return createSource(`CLI ${key}`, {
    baseUrl: `${UPSTREAM}/wk/items?src=${RUN}-${key}${query}`, cursorStyle: 'page',
    pageSizeParam: 'per_page', defaultPageSize: 5, itemsPath: 'items',
    textFields: ['title', 'body'], titleField: 'title', ...extra,
  });
}

async function wkLog(key) {
  return (await fetch(`${UPSTREAM}/wk/log?src=${RUN}-${key}`)).json();
}

// Hold a source's batch lock (store.c's key) for some seconds from a psql
// session of its own.  Arguments, not stdin: spawnSync blocks the event
// loop that would close a pipe.
function holdLock(id, seconds) {
  assert.ok(/^[0-9a-f-]{36}$/.test(id));
  const p = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', DB,
    '-c', `SELECT pg_advisory_lock(hashtextextended('restsync:source:${id}', 0))`,
    '-c', `SELECT pg_sleep(${seconds})`], { stdio: ['ignore', 'ignore', 'inherit'] });
  return new Promise((res) => p.on('exit', res));
}

// Advisory locks held by a psql session (ours, holding a source's lock).
function heldByPsql() {
  return +one(`SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'psql';`);
}

// The keys of a JSON value, recursively ("ms.fetch"), sorted.
function shape(v, prefix = '') {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [];
  return Object.keys(v).flatMap((k) => [prefix + k, ...shape(v[k], `${prefix}${k}.`)]).sort();
}

test('--help and help: every command, exit 0, on stdout', () => {
  for (const args of [['--help'], ['-h'], ['help']]) {
    const r = cli(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.equal(r.err, '');
    assert.match(r.out, /^usage: restsync COMMAND/);
    for (const c of COMMANDS) assert.match(r.out, new RegExp(`^  ${c} `, 'm'));
    assert.match(r.out, /exit status: 0 success, 1 failure, 2 usage error/);
    assert.match(r.out, /DATABASE_URL/);
  }
  for (const c of COMMANDS) {
    const a = cli([c, '--help']);
    const b = cli(['help', c]);
    assert.equal(a.code, 0, c);
    assert.equal(b.code, 0, c);
    assert.equal(a.out, b.out);
    assert.match(a.out, new RegExp(`^usage: restsync ${c}`));
    assert.ok(a.out.split('\n').length > 4, `${c} --help says more than a line`);
  }
  assert.match(cli(['worker', '--help']).out, /RESTSYNC_WORKER_SLICE_SECONDS/);
  assert.match(cli(['migrate', '--help']).out, /RESTSYNC_SQL_DIR/);
});

test('usage errors exit 2 with a message on stderr and nothing on stdout', () => {
  const id = '6f1c0d5e-0000-4000-8000-000000000000';
  const cases = [
    [[], /usage: restsync COMMAND/],
    [['frobnicate'], /unknown command frobnicate/],
    [['help', 'frobnicate'], /no such command/],
    [['batch'], /SOURCE_ID is required/],
    [['reset', '--json'], /SOURCE_ID is required/],
    [['batch', "1' or '1'='1"], /must be a UUID/],
    [['sync', id, id], /unexpected argument/],
    [['list', 'x'], /unexpected argument/],
    [['batch', '--json', id], /unknown option --json/],
    [['list', '--verbose'], /unknown option --verbose/],
    [['worker', '--forever'], /unknown option --forever/],
  ];
  for (const [args, re] of cases) {
    const r = cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, re, args.join(' '));
    assert.equal(r.out, '', args.join(' '));
  }
  // A bad worker setting is a usage error too.
  const w = cli(['worker', '--once'], { RESTSYNC_WORKER_SLICE_SECONDS: 'soon' });
  assert.equal(w.code, 2);
  assert.match(w.err, /RESTSYNC_WORKER_SLICE_SECONDS/);
  // So is a bad embeddings concurrency: at start, not when a run comes.
  for (const [cmd, args] of [['worker', ['--once']], ['sync', ['00000000-0000-4000-8000-000000000001']]]) {
    for (const v of ['0', '17', 'four', '4x']) {
      const e = cli([cmd, ...args], { RESTSYNC_EMBED_CONCURRENCY: v });
      assert.equal(e.code, 2, `${cmd} ${v}: ${e.err}`);
      assert.equal(e.err, `restsync ${cmd}: RESTSYNC_EMBED_CONCURRENCY must be an integer from 1 to 16\n`);
      assert.equal(e.out, '');
    }
  }
});

test('batch prints the endpoint\'s JSON, field for field', async () => {
  const a = createSource('CLI batch', dummyConfig());
  const b = createSource('HTTP batch', dummyConfig());
  const r = cli(['batch', a]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, '');
  assert.equal(r.out.split('\n').length, 2, 'one line of JSON');
  const mine = JSON.parse(r.out);
  const theirs = (await batch(b)).json;
  assert.deepEqual(shape(mine), shape(theirs));
  for (const k of ['ok', 'done', 'items', 'next', 'url', 'status', 'chunks', 'inserted', 'skipped', 'total',
    'pageCount', 'itemCount', 'chunkCount', 'embedder', 'attempts', 'embedRequests', 'notModified']) {
    assert.deepEqual(mine[k], theirs[k], k);
  }
  assert.equal(mine.items, 50);
  assert.equal(mine.url, `${UPSTREAM}/dummyjson/products?limit=50&skip=0`);
  assert.deepEqual(cursorRow(a), cursorRow(b));
  // The audit trail names the unix user.
  assert.equal(one(`SELECT actor || ' ' || action || ' ' || outcome FROM kb_rest_audit
                    WHERE source_id = :'p1' ORDER BY id DESC LIMIT 1;`, [a]), `cli:${os.userInfo().username} sync ok`);
});

test('batch failures: exit 1, the endpoint\'s error JSON on stdout, the message on stderr', async () => {
  const unknown = cli(['batch', '6f1c0d5e-0000-4000-8000-000000000000']);
  assert.equal(unknown.code, 1);
  assert.deepEqual(JSON.parse(unknown.out), { ok: false, error: 'no such source' });
  assert.match(unknown.err, /^restsync batch: no such source\n$/);

  const disabled = createSource('CLI disabled', dummyConfig(), { enabled: false });
  const d = cli(['batch', disabled]);
  assert.equal(d.code, 1);
  assert.match(JSON.parse(d.out).error, /disabled/);

  const cfg = dummyConfig({ baseUrl: `${UPSTREAM}/fault/status?code=404` });
  const a = createSource('CLI upstream 404', cfg);
  const b = createSource('HTTP upstream 404', cfg);
  const r = cli(['batch', a]);
  const h = await batch(b);
  assert.equal(r.code, 1);
  assert.equal(h.status, 502);
  assert.deepEqual(JSON.parse(r.out), h.json);
  assert.equal(JSON.parse(r.out).status, 404);
  assert.match(r.err, /upstream returned HTTP 404/);
  assert.equal(cursorRow(a).status, 'error');

  const nodb = cli(['batch', a], { DATABASE_URL: '' });
  assert.equal(nodb.code, 1);
  assert.match(nodb.err, /DATABASE_URL is not set/);
});

test('sync: plain lines off a terminal, to the end, exit 0; a done source stays done', async () => {
  const id = createSource('CLI sync', dummyConfig());
  const r = cli(['sync', id]);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.equal(lines.length, 5, r.out);
  assert.match(lines[0], /^batch 1: items=50 inserted=50 skipped=0 itemCount=50 total=194 next=50 new=50 changed=0 unchanged=0 ms=[0-9.]+$/);
  assert.match(lines[3], /^batch 4: items=44 inserted=44 skipped=0 itemCount=194 total=194 next=- new=44 changed=0 unchanged=0 sweep=done removed=0 ms=[0-9.]+$/);
  assert.match(lines[4], /^done: batches=4 items=194 inserted=194 skipped=0 seconds=[0-9.]+$/);
  assert.doesNotMatch(r.out, /\r/);
  assert.equal(cursorRow(id).done, true);
  assert.deepEqual(counts(id), { docs: 1, chunks: 194 });
  assert.equal(one(`SELECT count(*) FROM kb_rest_audit WHERE source_id = :'p1' AND action = 'sync-to-end';`, [id]), '4');

  const again = cli(['sync', id]);
  assert.equal(again.code, 0);
  assert.match(again.out, /^done: the source was already done/);
  assert.equal(cursorRow(id).pages, 4);
});

test('sync draws a progress bar on a terminal', { skip: !fs.existsSync('/usr/bin/script') }, () => {
  const id = createSource('CLI tty', dummyConfig());
  const cmd = [CLI, 'sync', id].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { env: ENV, encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\r\[#{7}-{23}\] 50\/194 items, 1 batches, 50 inserted, 0 skipped/);
  assert.match(r.stdout, /\r\[#{30}\] 194\/194 items, 4 batches, 194 inserted/);
  assert.match(r.stdout, /done: batches=4 items=194/);
  assert.doesNotMatch(r.stdout, /^batch 1:/m);
  assert.equal(cursorRow(id).done, true);
});

test('sync stops at the first failed batch with exit 1', async () => {
  const id = wkSource('fail3', {}, '&fail=3');
  const r = cli(['sync', id]);
  assert.equal(r.code, 1);
  assert.equal(r.out.trim().split('\n').length, 2, r.out);
  assert.match(r.err, /^restsync sync: upstream returned HTTP 422/);
  const cur = cursorRow(id);
  assert.equal(cur.status, 'error');
  assert.equal(cur.next, '3');
  assert.deepEqual((await wkLog('fail3')).map((f) => f.page), [1, 2, 3]);
});

test('sync waits while another batch of the source runs, then goes on', async () => {
  const id = wkSource('busy');
  // Hold the batch lock (store.c's key) for 1.5 s from another session.
  const holder = holdLock(id, 1.5);
  const t0 = Date.now();
  while (heldByPsql() === 0) {
    assert.ok(Date.now() - t0 < 5000, 'the lock was taken');
    await new Promise((res) => setTimeout(res, 20));
  }
  const busy = cli(['batch', id]);
  assert.equal(busy.code, 1);
  assert.match(JSON.parse(busy.out).error, /already running/);
  const r = cli(['sync', id]);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.match(lines[0], /^busy: a batch of this source is running elsewhere; waiting$/);
  assert.equal(lines.length, 1 + 5 + 1, r.out);
  assert.ok(Date.now() - t0 >= 1400, 'it waited for the lock');
  assert.equal(cursorRow(id).done, true);
  await holder;
});

test('SIGINT ends sync after the current batch with exit 130', async () => {
  const id = wkSource('intr', {}, '&delay=400');
  const child = spawn(CLI, ['sync', id], { env: ENV });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  const t0 = Date.now();
  while (!/^batch 1:/m.test(out)) {
    assert.ok(Date.now() - t0 < 10000, 'first batch');
    await new Promise((res) => setTimeout(res, 20));
  }
  child.kill('SIGINT');          // while batch 2 waits for its page
  const { code, signal } = await exited;
  assert.equal(signal, null);
  assert.equal(code, 130);
  assert.match(err, /interrupted after 2 batches/);
  assert.equal(cursorRow(id).pages, 2, 'the running batch was finished and stored');
  assert.deepEqual((await wkLog('intr')).map((f) => f.page), [1, 2]);
});

test('list: a table, and --json with the endpoint\'s source objects', async () => {
  const id = wkSource('list', { syncIntervalMinutes: 15 });
  sql(`UPDATE kb_sources SET title = E'CLI list \\x1b[31mred' WHERE id = :'p1';`, [id]);
  cli(['batch', id]);
  const r = cli(['list']);
  assert.equal(r.code, 0, r.err);
  const [head, ...rows] = r.out.trim().split('\n');
  assert.match(head, /^ID +ENABLED STATUS +PAGES +ITEMS +CHUNKS INTERVAL LAST SYNC \(UTC\) +TITLE$/);
  const row = rows.find((l) => l.startsWith(id));
  assert.ok(row, r.out);
  assert.match(row, new RegExp(`^${id} yes +ok +1 +5 +5 +15m 20\\d\\d-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d +CLI list \\?\\[31mred$`));
  assert.doesNotMatch(r.out, /\x1b/, 'no terminal escapes from the database');
  assert.equal(rows.length, +one(`SELECT count(*) FROM kb_sources WHERE type = 'rest';`));

  const j = cli(['list', '--json']);
  assert.equal(j.code, 0);
  const mine = JSON.parse(j.out);
  const theirs = (await call('/api/backoffice/rest-sources', { method: 'GET' })).json.sources;
  assert.deepEqual(mine.find((s) => s.id === id), theirs.find((s) => s.id === id));
  assert.deepEqual(mine.map((s) => s.id), theirs.map((s) => s.id));
  sql(`UPDATE kb_sources SET enabled = false WHERE id = :'p1';`, [id]);
});

test('reset and delete: exit codes, output, audit', async () => {
  const id = createSource('CLI reset', dummyConfig());
  assert.equal(cli(['sync', id]).code, 0);
  const r = cli(['reset', id]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `reset ${id}: the next batch starts from the first page\n`);
  assert.deepEqual(cursorRow(id), { next: null, pages: 0, items: 0, status: '', http: 200, error: '', done: false });
  const j = cli(['reset', '--json', id]);
  assert.equal(j.code, 0);
  assert.equal(JSON.parse(j.out).id, id);
  assert.equal(JSON.parse(j.out).pageCount, 0);
  const user = os.userInfo().username;
  assert.equal(one(`SELECT count(*) FROM kb_rest_audit WHERE source_id = :'p1' AND action = 'reset'
                    AND actor = :'p2' AND outcome = 'ok';`, [id, `cli:${user}`]), '2');

  // Busy: a batch holds the source's lock.
  const holder = holdLock(id, 1);
  const t0 = Date.now();
  while (heldByPsql() === 0) {
    assert.ok(Date.now() - t0 < 5000);
    await new Promise((res) => setTimeout(res, 20));
  }
  const busyReset = cli(['reset', id]);
  const busyDelete = cli(['delete', id]);
  await holder;
  assert.equal(busyReset.code, 1);
  assert.match(busyReset.err, /^restsync reset: a batch for this source is already running/);
  assert.equal(busyDelete.code, 1);
  assert.match(busyDelete.err, /already running/);
  assert.equal(one(`SELECT count(*) FROM kb_sources WHERE id = :'p1';`, [id]), '1');

  const d = cli(['delete', '--json', id]);
  assert.equal(d.code, 0, d.err);
  assert.deepEqual(JSON.parse(d.out), { ok: true, sourceId: id, deleted: { docs: 1, chunks: 194 } });
  assert.equal(one(`SELECT count(*) FROM kb_sources WHERE id = :'p1';`, [id]), '0');
  assert.equal(one(`SELECT actor FROM kb_rest_audit WHERE source_id = :'p1' AND action = 'delete';`, [id]), `cli:${user}`);
  const id2 = createSource('CLI delete plain', dummyConfig());
  const p = cli(['delete', id2]);
  assert.equal(p.code, 0);
  assert.equal(p.out, `deleted ${id2}: 0 docs, 0 chunks\n`);
  for (const c of ['reset', 'delete']) {
    const gone = cli([c, id]);
    assert.equal(gone.code, 1, c);
    assert.match(gone.err, /no such source/);
  }
});

// A database of our own in the stack's cluster.
async function withDatabase(name, fn) {
  const url = DB.replace(/\/restsync\?/, `/${name}?`);
  assert.notEqual(url, DB);
  sql(`DROP DATABASE IF EXISTS ${name};`);
  sql(`CREATE DATABASE ${name};`);
  try {
    return await fn(url);
  } finally {
    sql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE);`);
  }
}

function psqlAt(url, query) {
  return spawnSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', url, '-c', query], { encoding: 'utf8' }).stdout.trim();
}

test('migrate: the stack is current; a new database gets every file once, in order', async () => {
  const files = fs.readdirSync(path.join(ROOT, 'sql')).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort()
    .map((f) => f.slice(0, -4));
  const before = one('SELECT count(*) FROM schema_migrations;');
  const r = cli(['migrate']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `migrate: up to date (${path.join(ROOT, 'sql')})\n`);
  assert.equal(one('SELECT count(*) FROM schema_migrations;'), before);

  await withDatabase(`restsync_${RUN}`, async (url) => {
    // Three machines starting at once: one applies, the others wait.
    const runs = await Promise.all([0, 1, 2].map(() => new Promise((res) => {
      const c = spawn(CLI, ['migrate'], { env: { ...ENV, DATABASE_URL: url } });
      let out = '';
      c.stdout.on('data', (d) => { out += d; });
      c.on('exit', (code) => res({ code, out }));
    })));
    runs.forEach((x) => assert.equal(x.code, 0, x.out));
    const applied = runs.filter((x) => /applying/.test(x.out));
    assert.equal(applied.length, 1, runs.map((x) => x.out).join('---'));
    assert.equal(applied[0].out, files.map((f) => `migrate: applying ${f}\n`).join('') +
      `migrate: ${files.length} applied (${path.join(ROOT, 'sql')})\n`);
    assert.equal(psqlAt(url, 'SELECT string_agg(version, \',\' ORDER BY version) FROM schema_migrations'), files.join(','));
    // The same tables as the stack's database.
    const tables = `SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables
                    WHERE table_schema = 'public'`;
    assert.equal(psqlAt(url, tables), one(tables));
    const again = cli(['migrate'], { DATABASE_URL: url });
    assert.equal(again.code, 0);
    assert.match(again.out, /^migrate: up to date/);
  });
});

test('migrate: RESTSYNC_SQL_DIR; a failing file is rolled back, earlier ones stay', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-mig-'));
  try {
    await withDatabase(`restsync_${RUN}_b`, (url) => {
      const env = { DATABASE_URL: url, RESTSYNC_SQL_DIR: dir };
      fs.writeFileSync(path.join(dir, '001_first.sql'), 'CREATE TABLE t1 (a int); INSERT INTO t1 VALUES (1);\n');
      fs.writeFileSync(path.join(dir, '002_second.sql'), 'CREATE TABLE t2 (a int);\nSELECT 1/0;\n');
      fs.writeFileSync(path.join(dir, 'README'), 'not a migration');
      const bad = cli(['migrate'], env);
      assert.equal(bad.code, 1);
      assert.match(bad.out, /applying 001_first\nmigrate: applying 002_second\n$/);
      assert.match(bad.err, /^restsync migrate: database: 002_second: ERROR: +division by zero/);
      assert.equal(psqlAt(url, 'SELECT string_agg(version, \',\') FROM schema_migrations'), '001_first');
      assert.equal(psqlAt(url, "SELECT to_regclass('t1') IS NOT NULL, to_regclass('t2') IS NULL"), 't|t');

      fs.writeFileSync(path.join(dir, '002_second.sql'), 'CREATE TABLE t2 (a int);\n');
      const ok = cli(['migrate'], env);
      assert.equal(ok.code, 0, ok.err);
      assert.equal(ok.out, `migrate: applying 002_second\nmigrate: 1 applied (${dir})\n`);
      assert.equal(psqlAt(url, 'SELECT count(*) FROM t1'), '1', '001 ran once');

      fs.writeFileSync(path.join(dir, '003_Bad-Name.sql'), 'SELECT 1;');
      const name = cli(['migrate'], env);
      assert.equal(name.code, 1);
      assert.match(name.err, /bad migration file name .*003_Bad-Name\.sql/);
      fs.rmSync(path.join(dir, '003_Bad-Name.sql'));

      const none = cli(['migrate'], { ...env, RESTSYNC_SQL_DIR: path.join(dir, 'missing') });
      assert.equal(none.code, 1);
      assert.match(none.err, /cannot read the migrations folder/);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
