// Flat at scale (docs/ARCHITECTURE.md: "no per-batch statement reads a
// source's rows"): on a database whose statistics do not know a new
// source (15 analysed sources, then a new one of 1,500 items), the plans
// PostgreSQL actually runs for every per-batch statement, with the real
// parameters, custom and generic, read only index probes' worth of rows.
//
// The plans come from auto_explain (log_analyze, log_buffers, JSON) in
// the sessions of `restsync batch` (PGOPTIONS), read back from the
// server's log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DB, ROOT, UPSTREAM, VAR, sql } from './lib.mjs';

const CLI = process.env.RS_CLI || path.join(ROOT, 'build/release/cli/restsync');
const RUN = `pl${process.pid}`;
const PGLOG = path.join(VAR, 'log/postgres.log');
const SOURCES = 15;
const PER_SOURCE = 4000;
const NEW_ITEMS = 1500;
const ROWS_MAX = 200;		// a 50-item page: a few probes per item
const BUFFERS_MAX = 400;	// the dedup of 50 hashes, as the issue asks

function psql(url, query, input) {
  const args = ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1'];
  if (query) args.push('-c', query);
  args.push(url);
  const r = spawnSync('psql', args, { input, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

function cli(args, env) {
  const r = spawnSync(CLI, args, {
    env: { ...process.env, RESTSYNC_ALLOW_PRIVATE_NETWORKS: '1', RESTSYNC_ALLOW_ROOT: '1', RESTSYNC_SECRET_KEY_FILE: path.join(VAR, 'secret.key'), ...env },
    encoding: 'utf8', timeout: 120000,
  });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  return r.stdout;
}

const control = async (cmd) => {
  const r = await fetch(`${UPSTREAM}/mut/control`, { method: 'POST', body: JSON.stringify({ ds: `${RUN}`, ...cmd }) });
  assert.equal(r.status, 200);
};

// The JSON plans auto_explain wrote to the log after byte offset from.
function plansSince(from) {
  const text = fs.readFileSync(PGLOG, 'utf8').slice(from);
  const out = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/LOG: {2}duration: [\d.]+ ms {2}plan:$/.test(lines[i])) continue;
    const body = [];
    for (i++; i < lines.length && !/^\d{4}-\d\d-\d\d /.test(lines[i]); i++) body.push(lines[i].replace(/^\t/, ''));
    i--;
    out.push(JSON.parse(body.join('\n')));
  }
  return out;
}

// Every scan node of a plan tree.
function scans(node, acc = []) {
  if (/Scan$/.test(node['Node Type'])) acc.push(node);
  for (const c of node.Plans || []) scans(c, acc);
  return acc;
}

const BIG = /^(kb_chunks|kb_rest_items|kb_docs|kb_rest_runs|kb_rest_cursors|kb_rest_page_validators)/;
// Per-batch statements, by the start of their text (common/db/store.c).
const PER_BATCH = [
  ['load', 'SELECT s.tenant_id, s.type'], ['run', 'WITH old AS ('], ['lookup', 'SELECT u.ord, i.item_hash'],
  ['dedup', 'SELECT u.ord FROM unnest'], ['guard', 'SELECT 1 FROM kb_sources'], ['items', 'WITH d AS ('],
  ['densify', 'WITH del AS ('], ['commit', 'WITH doc AS ('],
];

test('a new source on a big database with stale statistics: per-batch statements probe, custom and generic plans', { timeout: 300000 }, async (t) => {
  const db = `plans${process.pid}`;
  sql(`DROP DATABASE IF EXISTS ${db};`);
  sql(`CREATE DATABASE ${db};`);
  const url = DB.replace('/restsync?', `/${db}?`);
  try {
    cli(['migrate'], { DATABASE_URL: url, RESTSYNC_SQL_DIR: path.join(ROOT, 'sql') });
    // 15 sources of 4,000 chunks and items each, in 3 tenants; analysed.
    psql(url, null, `
      INSERT INTO tenants (id, name)
        SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(t), 12, '0'))::uuid, 'Tenant ' || t FROM generate_series(1, 3) t;
      INSERT INTO kb_sources (id, tenant_id, title, config)
        SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(s), 12, '0'))::uuid,
               ('00000000-0000-4000-8000-' || lpad(to_hex(s % 3 + 1), 12, '0'))::uuid, 'Source ' || s,
               '{"baseUrl": "http://127.0.0.1:9/x", "textFields": ["t"]}'
        FROM generate_series(1, ${SOURCES}) s;
      INSERT INTO kb_docs (tenant_id, source_id, title, next_chunk_idx)
        SELECT tenant_id, id, title || ' — Sync 2026-01-01', ${PER_SOURCE} FROM kb_sources;
      INSERT INTO kb_chunks (tenant_id, doc_id, chunk_idx, title, content, metadata, allowed_roles, source_id, content_hash)
        SELECT d.tenant_id, d.id, g - 1, 'Item ' || g, 'Text of item ' || g || ' of ' || d.source_id, '{}', '{admin}',
               d.source_id, encode(sha256(convert_to(d.source_id::text || ':' || g, 'UTF8')), 'hex')
        FROM kb_docs d, generate_series(1, ${PER_SOURCE}) g;
      INSERT INTO kb_rest_items (tenant_id, source_id, item_key, item_hash, chunk_hashes, title)
        SELECT tenant_id, source_id, 'id:' || chunk_idx, '', ARRAY[content_hash], title FROM kb_chunks;
      ANALYZE;
      -- Statistics that lag behind a bulk sync (the normal case on a big
      -- database), made certain for the test.
      ALTER TABLE kb_chunks SET (autovacuum_enabled = false);
      ALTER TABLE kb_rest_items SET (autovacuum_enabled = false);`);
    // A new source the statistics do not know: 1,500 items synced.
    await control({ op: 'seed', n: NEW_ITEMS, prefix: 'Plan' });
    const id = psql(url, `INSERT INTO kb_sources (tenant_id, title, config) VALUES ('00000000-0000-4000-8000-000000000001', 'New source',
      '${JSON.stringify({
    baseUrl: `${UPSTREAM}/mut/offset`, cursorStyle: 'offset', cursorParam: 'skip', pageSizeParam: 'limit', defaultPageSize: 50,
    itemsPath: 'items', totalPath: 'total', textFields: ['title', 'body'], queryTemplate: { ds: RUN },
  })}') RETURNING id`).split('\n')[0];
    cli(['sync', id], { DATABASE_URL: url });
    assert.equal(psql(url, `SELECT count(*) FROM kb_chunks WHERE source_id = '${id}'`), String(NEW_ITEMS));
    // The planner still thinks the new source has (about) no rows.
    const est = JSON.parse(psql(url, `EXPLAIN (FORMAT JSON) SELECT * FROM kb_chunks WHERE source_id = '${id}'`))[0].Plan['Plan Rows'];
    assert.ok(est < 100, `statistics know the new source (${est} rows estimated)`);

    for (const mode of ['force_custom_plan', 'force_generic_plan']) {
      // Changed items on the first pages: chunks replaced, docs densified.
      for (let i = 1; i <= 120; i += 7) await control({ op: 'edit', id: i, patch: { body: `Rewritten ${mode} ${i}.` } });
      psql(url, `UPDATE kb_rest_cursors SET next_cursor = NULL, done = false, page_count = 0, item_count = 0, run_id = NULL WHERE source_id = '${id}'`);
      const from = fs.statSync(PGLOG).size;
      const env = {
        DATABASE_URL: url,
        PGOPTIONS: `-c plan_cache_mode=${mode} -c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0 `
          + '-c auto_explain.log_analyze=on -c auto_explain.log_buffers=on -c auto_explain.log_format=json',
      };
      for (let b = 0; b < 3; b++) cli(['batch', id], env);
      await new Promise((r) => setTimeout(r, 300));	// the log is written asynchronously
      const plans = plansSince(from);
      const seen = new Set();
      for (const p of plans) {
        const q = p['Query Text'] || '';
        const kind = PER_BATCH.find(([, prefix]) => q.startsWith(prefix));
        if (!kind) continue;
        seen.add(kind[0]);
        for (const s of scans(p.Plan)) {
          const rel = s['Relation Name'] || s['Index Name'] || '';
          if (!BIG.test(rel)) continue;
          const read = ((s['Actual Rows'] || 0) + (s['Rows Removed by Filter'] || 0) + (s['Rows Removed by Index Recheck'] || 0))
            * (s['Actual Loops'] || 1);
          assert.ok(s['Node Type'] !== 'Seq Scan' || read <= ROWS_MAX, `${mode} ${kind[0]}: a sequential scan of ${rel} read ${read} rows`);
          assert.ok(read <= ROWS_MAX, `${mode} ${kind[0]}: ${s['Node Type']} on ${rel} read ${read} rows (at most ${ROWS_MAX})`);
        }
        if (kind[0] === 'dedup') {
          const buf = (p.Plan['Shared Hit Blocks'] || 0) + (p.Plan['Shared Read Blocks'] || 0);
          assert.ok(buf <= BUFFERS_MAX, `${mode} dedup read ${buf} buffers`);
        }
      }
      for (const k of ['load', 'lookup', 'dedup', 'guard', 'items', 'densify', 'commit']) assert.ok(seen.has(k), `${mode}: no plan of ${k} (${plans.length} plans)`);
      t.diagnostic(`${mode}: ${plans.length} plans checked`);
    }
  } finally {
    sql(`DROP DATABASE IF EXISTS ${db};`);
  }
});
