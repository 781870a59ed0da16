// Issue 19: a populated database upgraded by the migrations.  For a few
// points in the history (after the first file; before the last), a new
// database gets the migrations up to that point, is filled with sources,
// cursors, docs, chunks, secrets, page validators and audit rows (those
// tables that exist by then), and is then migrated to the end with
// `restsync migrate`.  Every row keeps every value it had, the figures
// later migrations derive from old rows are there, the schema is the
// one a fresh database gets (pg_dump --schema-only), and the service's
// own CLI reads the upgraded data.  A database that applied a later file
// before an earlier one (013 before 012: numbers are not always taken in
// order) is upgraded too.  sql/012 turns a real[] embedding into float32
// bytea: compared value for value, and byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DB, ROOT, VAR, sql } from './lib.mjs';

const CLI = process.env.RS_CLI || path.join(ROOT, 'build/release/cli/restsync');
const SQL_DIR = path.join(ROOT, 'sql');
const FILES = fs.readdirSync(SQL_DIR).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
const RUN = `up${process.pid}`;
const T = '00000000-0000-4000-8000-0000000019aa';
const S1 = '00000000-0000-4000-8000-0000000019b1';
const S2 = '00000000-0000-4000-8000-0000000019b2';

function psqlAt(url, query) {
  const r = spawnSync('psql', ['-X', '-q', '-At', '-F', '\t', '-v', 'ON_ERROR_STOP=1', url], { input: query, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

function migrate(url, dir) {
  const env = {
    ...process.env, DATABASE_URL: url, RESTSYNC_SQL_DIR: dir, RESTSYNC_SECRET_KEY_FILE: path.join(VAR, 'secret.key'),
    RESTSYNC_ALLOW_ROOT: '1',	// CI runs the tests as root
  };
  const r = spawnSync(CLI, ['migrate'], { env, encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  return r.stdout;
}

function schema(url) {
  const r = spawnSync('pg_dump', ['--schema-only', '--no-owner', '--no-privileges', url], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // Comments and pg_dump's per-run \restrict token are not schema.
  return r.stdout.replace(/^--.*\n/gm, '').replace(/^\\(un)?restrict .*\n/gm, '').split('\n').filter((l) => l !== '');
}

function tables(url) {
  return psqlAt(url, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'
                      AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations' ORDER BY 1;`).split('\n');
}

// Table t's columns (names) as a select list: a float32 bytea embedding
// (sql/012) as the real[] it was.
function selectList(url, t, names) {
  const types = Object.fromEntries(psqlAt(url, `SELECT column_name, data_type FROM information_schema.columns
                                                WHERE table_schema = 'public' AND table_name = '${t}';`)
    .split('\n').map((l) => l.split('\t')));
  return names.map((c) => (c === 'embedding' && types[c] === 'bytea'
    ? 'restsync_embedding_floats(embedding) AS embedding' : `"${c}"`)).join(',');
}

// Rows a migration is meant to change: sql/012 records the new type.
const CHANGES = { schema_info: "WHERE key <> 'embedding_type'" };
const rowsMd5 = (url, t, names) => psqlAt(url, `SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), ''))
                                               FROM (SELECT ${selectList(url, t, names)} FROM ${t} ${CHANGES[t] || ''}) x;`);

// Every table's rows, over the columns it has now, as one md5 each.
function fingerprints(url) {
  const out = {};
  for (const t of tables(url)) {
    const cols = psqlAt(url, `SELECT column_name FROM information_schema.columns
                              WHERE table_schema = 'public' AND table_name = '${t}' ORDER BY ordinal_position;`).split('\n');
    out[t] = {
      cols,
      rows: psqlAt(url, `SELECT count(*) FROM ${t};`),
      md5: rowsMd5(url, t, cols),
    };
  }
  return out;
}

// A secret row as the schema at this point takes it (007 binds secrets to
// an origin).
function secretRow(url) {
  const origin = psqlAt(url, `SELECT count(*) FROM information_schema.columns
                              WHERE table_name = 'integration_secrets' AND column_name = 'origin';`) === '1';
  return origin
    ? `INSERT INTO integration_secrets (tenant_id, provider, origin, ciphertext, nonce, aad_version)
         VALUES ('${T}', 'rest', 'https://api.example.com', decode(repeat('ab', 40), 'hex'), decode(repeat('01', 12), 'hex'), 2);`
    : `INSERT INTO integration_secrets (tenant_id, provider, ciphertext, nonce)
         VALUES ('${T}', 'rest', decode(repeat('ab', 40), 'hex'), decode(repeat('01', 12), 'hex'));`;
}

// Rows in every table that exists at this point of the history.
function populate(url) {
  const have = new Set(tables(url));
  const emb = psqlAt(url, `SELECT value FROM schema_info WHERE key = 'embedding_type';`);
  // Chunk i's vector: (i + 1) * (j - 768) / 1024 for j = 1..1536, exact
  // in float32 (vecHex below).
  const real = `ARRAY(SELECT ((i + 1) * (j - 768) / 1024.0)::real FROM generate_series(1, 1536) j)`;
  const vec = () => (emb.startsWith('vector') ? `${real}::vector`
    : emb.startsWith('bytea') ? `restsync_embedding_bytes(${real})` : real);
  let q = `
    INSERT INTO tenants (id, name) VALUES ('${T}', 'Upgrade tenant — ünïcödé');
    INSERT INTO platform_admins (username) VALUES ('upgrade-admin');
    INSERT INTO kb_sources (id, tenant_id, title, config) VALUES
      ('${S1}', '${T}', 'Upgraded source 知識', '{"baseUrl":"https://api.example.com/items","itemsPath":"items","cursorStyle":"offset","cursorParam":"skip","textFields":["title"]}'),
      ('${S2}', '${T}', 'Second source', '{"baseUrl":"https://api.example.com/other","itemsPath":"data","cursorStyle":"page","cursorParam":"page","textFields":["body"]}');
    INSERT INTO kb_rest_cursors (tenant_id, source_id, next_cursor, page_count, item_count, last_status,
        last_http_status, last_synced_at, done, total, chunk_count)
      VALUES ('${T}', '${S1}', '100', 2, 100, 'ok', 200, '2026-11-01 10:00:00+00', false, 250, 3);
    INSERT INTO kb_docs (id, tenant_id, source_id, title, content_hash, next_chunk_idx)
      VALUES ('00000000-0000-4000-8000-0000000019d1', '${T}', '${S1}', 'Upgraded source — Sync 2026-11-01', repeat('a', 64), 3);
    INSERT INTO kb_chunks (tenant_id, doc_id, chunk_idx, title, content, embedding, metadata, allowed_roles, source_id, content_hash)
      SELECT '${T}', '00000000-0000-4000-8000-0000000019d1', i, 'Item ' || i, 'title: Item ' || i || ' — 🙂 e' || chr(769),
             ${vec()}, jsonb_build_object('itemIndex', i, 'chunkIndex', 0, 'page', 1),
             ARRAY['member','admin'], '${S1}', encode(sha256(convert_to('chunk ' || i, 'UTF8')), 'hex')
      FROM generate_series(0, 2) i;
    ${secretRow(url)}`;
  if (have.has('kb_rest_page_validators')) {
    // 013 puts tenant_id into the table's key.
    const tcol = psqlAt(url, `SELECT count(*) FROM information_schema.columns
                              WHERE table_name = 'kb_rest_page_validators' AND column_name = 'tenant_id';`) === '1';
    q += `INSERT INTO kb_rest_page_validators (${tcol ? 'tenant_id, ' : ''}source_id, page_key, etag, last_modified, next_cursor, done, items, total)
          VALUES (${tcol ? `'${T}', ` : ''}'${S1}', '', '"v1"', 'Sun, 01 Nov 2026 10:00:00 GMT', '50', false, 50, 250);`;
  }
  if (have.has('kb_rest_audit')) {
    q += `INSERT INTO kb_rest_audit (at, actor, action, source_id, tenant_id, outcome, detail) VALUES
      ('2026-11-01 10:00:00+00', 'admin', 'sync', '${S1}', '${T}', 'ok',
       '{"items":50,"inserted":50,"attempts":1,"embedRequests":1,"ms":{"fetch":12.5,"embed":40,"total":70}}'),
      ('2026-11-01 10:01:00+00', 'worker@a', 'worker', '${S1}', '${T}', 'ok',
       '{"items":50,"inserted":48,"attempts":2,"embedRequests":1,"ms":{"fetch":20,"embed":30,"total":60}}'),
      ('2026-11-01 10:02:00+00', 'admin', 'sync', '${S1}', '${T}', 'error', '{"error":"upstream returned HTTP 500"}'),
      ('2026-11-01 10:03:00+00', 'admin', 'reset', '${S2}', '${T}', 'ok', '{}');`;
  }
  psqlAt(url, q);
  return have;
}

async function withDatabase(name, fn) {
  const url = DB.replace(/\/restsync\?/, `/${name}?`);
  assert.notEqual(url, DB);
  sql(`SET client_min_messages = warning;\nDROP DATABASE IF EXISTS ${name};`);
  sql(`CREATE DATABASE ${name};`);
  try {
    return await fn(url);
  } finally {
    sql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE);`);
  }
}

// Chunk i's vector (populate) as float32 little-endian bytes, in hex.
const vecHex = (i) => Buffer.from(Float32Array.from({ length: 1536 }, (_, j) => ((i + 1) * (j + 1 - 768)) / 1024).buffer)
  .toString('hex');
const FIRST = `SELECT %s FROM kb_chunks WHERE source_id = '${S1}' AND chunk_idx = 1;`;

// Each case: the files a database applied before it was populated (a
// point of the history; and every file but 012, applied after 013).
const cases = [...new Set([1, FILES.length - 1])].filter((k) => k >= 1 && k < FILES.length)
  .map((k) => ({ name: `at ${FILES[k - 1]}`, tag: String(k), files: FILES.slice(0, k) }));
const gap = FILES.findIndex((f) => f.startsWith('012_'));
if (gap >= 0 && gap < FILES.length - 1) {
  cases.push({ name: `with ${FILES.slice(gap + 1).join(', ')} but not ${FILES[gap]}`, tag: 'gap',
    files: FILES.filter((_, i) => i !== gap) });
}

test('there is a history to upgrade through', () => {
  assert.ok(FILES.length >= 2, FILES.join(' '));
  assert.ok(cases.length >= 2);
});

for (const c of cases) {
  test(`a populated database ${c.name} upgraded to ${FILES.at(-1)}: data intact, schema as fresh`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-upgrade-'));
    try {
      for (const f of c.files) fs.copyFileSync(path.join(SQL_DIR, f), path.join(dir, f));
      const rest = FILES.filter((f) => !c.files.includes(f));
      await withDatabase(`restsync_${RUN}_fresh`, async (fresh) => {
        migrate(fresh, SQL_DIR);
        await withDatabase(`restsync_${RUN}_${c.tag}`, async (url) => {
          migrate(url, dir);
          const have = populate(url);
          const before = fingerprints(url);
          const real = psqlAt(url, `SELECT value FROM schema_info WHERE key = 'embedding_type';`).startsWith('real[]');
          const first = real ? psqlAt(url, FIRST.replace('%s', 'embedding[1:4]::text')) : null;
          const out = migrate(url, SQL_DIR);
          assert.equal(out, rest.map((f) => `migrate: applying ${f.slice(0, -4)}\n`).join('')
            + `migrate: ${rest.length} applied (${SQL_DIR})\n`);
          // Every row of every table, over the columns it had, unchanged.
          const after = fingerprints(url);
          for (const [t, fp] of Object.entries(before)) {
            assert.equal(rowsMd5(url, t, fp.cols), fp.md5, `${t}: rows changed by the upgrade`);
            assert.equal(after[t].rows, fp.rows, `${t}: row count`);
          }
          // sql/012: a real[] embedding became its float32 values, 4
          // little-endian bytes each, and schema_info says so.
          if (real) {
            assert.match(psqlAt(url, `SELECT value FROM schema_info WHERE key = 'embedding_type';`), /^bytea /);
            assert.equal(first, '{-1.4980469,-1.4960938,-1.4941406,-1.4921875}');
            assert.equal(psqlAt(url, FIRST.replace('%s', '(restsync_embedding_floats(embedding))[1:4]::text')), first);
            assert.equal(psqlAt(url, `SELECT string_agg(encode(embedding, 'hex'), ',' ORDER BY chunk_idx)
                                      FROM kb_chunks WHERE source_id = '${S1}';`), [0, 1, 2].map(vecHex).join(','));
          }
          assert.equal(psqlAt(url, `SELECT count(*) FROM kb_chunks WHERE source_id = '${S1}' AND content LIKE '%🙂 e' || chr(769);`), '3');
          // The schema a fresh database gets, and the same migrations recorded.
          const [up, fr] = [schema(url), schema(fresh)];
          const diff = up.findIndex((l, i) => l !== fr[i]);
          assert.ok(up.length === fr.length && diff === -1,
            `schema differs from a fresh one at line ${diff}: upgraded "${up[diff]}", fresh "${fr[diff]}"`);
          assert.ok(up.some((l) => l.startsWith('CREATE TABLE public.kb_chunks')));
          assert.equal(psqlAt(url, 'SELECT string_agg(version, \',\' ORDER BY version) FROM schema_migrations'),
            psqlAt(fresh, 'SELECT string_agg(version, \',\' ORDER BY version) FROM schema_migrations'));
          // Figures later migrations derive from old rows (005: metrics columns).
          if (have.has('kb_rest_audit') && after.kb_rest_audit.cols.includes('m_items')) {
            assert.equal(psqlAt(url, `SELECT string_agg(coalesce(m_items::text, '-') || '/' || coalesce(m_inserted::text, '-'), ',' ORDER BY at)
                                      FROM kb_rest_audit;`), '50/50,50/48,-/-,-/-');
          }
          // The service reads the upgraded database.
          const list = spawnSync(CLI, ['list', '--json'], {
            env: { ...process.env, DATABASE_URL: url, RESTSYNC_SECRET_KEY_FILE: path.join(VAR, 'secret.key'), RESTSYNC_ALLOW_ROOT: '1' },
            encoding: 'utf8',
          });
          assert.equal(list.status, 0, list.stderr);
          const src = JSON.parse(list.stdout).find((s) => s.id === S1);
          assert.ok(src, list.stdout);
          assert.equal(src.title, 'Upgraded source 知識');
          assert.equal(src.chunks, 3);
        });
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
