// The chaos soak (issue 18; README "Reliability"): many operations under
// many faults at random, then invariants over the whole result.  Run by
// tests/soak/run.sh against a stack of its own.
//
//   SOAK_SECONDS  length of the whole soak: chaos, then the final runs
//                 and the checks (the last 30 s, a quarter of a short soak)
//   SOAK_SEED     the seed of the schedule (random when unset; printed)
//   SOAK_OUT      folder for the report and its JSON (build/soak)
//   SOAK_PLANT=1  the gate's self-test: before the checks, plant a wrong
//                 reference count and drop an item; the soak then passes
//                 only if the checks name both
//
// The schedule of operations and faults is drawn from the seed before the
// soak starts: the same seed (and SOAK_SECONDS) replays the same schedule
// of operations, targets and fault moments.  What the stack does in
// between (which batch wins a lock, when a respawned worker is back)
// varies from run to run, as in any test against real processes.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SOAK_EMBED_KEY, SOAK_TOKEN } from '../upstream/routes/soak.mjs';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const env = process.env;
const VAR = env.RS_VAR;
const BASE = `http://127.0.0.1:${env.PORT}`;
const UP = `http://127.0.0.1:${env.RS_UPSTREAM_PORT}`;
const ADMIN = `Basic ${Buffer.from(`admin:${env.ADMIN_PASSWORD}`).toString('base64')}`;
const SECONDS = Number(env.SOAK_SECONDS || 600);
const SEED = env.SOAK_SEED && env.SOAK_SEED !== 'random' ? Number(env.SOAK_SEED) >>> 0
  : crypto.randomBytes(4).readUInt32LE(0);
const OUT = env.SOAK_OUT || path.join(ROOT, 'build/soak');
const DB = fs.readFileSync(path.join(VAR, 'database_url'), 'utf8').trim();
const TENANT = '00000000-0000-4000-8000-00000000500a';
const TAG = `s${SEED}x${Date.now().toString(36)}`;   // datasets and titles of this soak
const HWM_BOUND_KIB = 64 * 1024;                      // tests/integration/07_memory's bound
// All but the last 30 s (a quarter of a short soak) are chaos.
const CHAOS_MS = Math.max(5000, SECONDS * 1000 - Math.min(30000, SECONDS * 250));

// mulberry32: small, fast, and the same on every machine.
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = (xs) => xs[Math.floor(next() * xs.length)];
  const weighted = (table) => {
    let r = next() * table.reduce((s, [, w]) => s + w, 0);
    for (const [k, w] of table) { r -= w; if (r < 0) return k; }
    return table[table.length - 1][0];
  };
  return { next, int, pick, weighted };
}

// ---------------------------------------------------------------- counters
const stats = { ops: {}, faults: {}, statuses: {}, errors: 0 };
const bump = (o, k, n = 1) => { o[k] = (o[k] || 0) + n; };
const violations = [];
const checks = {};
function check(name, ok, detail) {
  bump(checks, name);
  if (!ok) violations.push(`${name}: ${detail}`);
  return ok;
}

// Every secret value the stack holds; none may appear in a response, a
// log line, a stored error or the audit trail.
const SECRETS = [SOAK_TOKEN, SOAK_EMBED_KEY, env.ADMIN_PASSWORD,
  fs.readFileSync(path.join(VAR, 'secret.key'), 'utf8').trim()];
const leaked = (text) => SECRETS.find((s) => s && text.includes(s));

// ---------------------------------------------------------------- I/O
function sql(query, params = []) {
  const args = ['-X', '-q', '-At', '-F', '\t', '-v', 'ON_ERROR_STOP=1'];
  params.forEach((p, i) => args.push('-v', `p${i + 1}=${p}`));
  args.push(DB);
  const out = execFileSync('psql', args, { input: query, encoding: 'utf8', maxBuffer: 64 << 20 });
  return out.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
}
const one = (q, p) => { const r = sql(q, p); return r.length ? r[0][0] : null; };

async function call(pathname, body, method = 'POST') {
  let res;
  try {
    res = await fetch(BASE + pathname, {
      method, headers: { Authorization: ADMIN, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(60000),
    });
  } catch (e) {
    bump(stats.statuses, 'network-error');
    return { status: 0, json: null, text: String(e) };
  }
  const text = await res.text();
  bump(stats.statuses, String(res.status));
  const s = leaked(text);
  check('no secret in a response', !s, `${method} ${pathname} ${res.status} carries a secret: ${text.slice(0, 200)}`);
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

async function control(ds, cmd) {
  const r = await fetch(`${UP}/soak/control`, { method: 'POST', body: JSON.stringify({ ds, ...cmd }) });
  const j = await r.json();
  if (r.status !== 200) throw new Error(`control ${cmd.op}: ${JSON.stringify(j)}`);
  return j;
}
const embedFault = (kind, every = 1) => fetch(`${UP}/soak/embed-fault`, { method: 'POST', body: JSON.stringify({ kind, every }) });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// scripts/stack.sh, its output to log/soak-stack.log; waits for its exit
// (not for the pipes that what it starts may hold), at most 120 s.
const stackTimes = [];
function stack(...args) {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const fd = fs.openSync(path.join(VAR, 'log/soak-stack.log'), 'a');
    const c = spawn(path.join(ROOT, 'scripts/stack.sh'), args, { env, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    const timer = setTimeout(() => c.kill('SIGKILL'), 120000);
    c.on('exit', (code, sig) => {
      clearTimeout(timer);
      stackTimes.push(`${args.join(' ')} ${Date.now() - t0} ms`);
      if (code === 0) resolve();
      else reject(new Error(`scripts/stack.sh ${args.join(' ')}: ${sig || `exit ${code}`}`));
    });
  });
}

// ---------------------------------------------------------------- sources
const STYLES = {
  offset: (ds) => ({
    baseUrl: `${UP}/soak/offset`, cursorStyle: 'offset', cursorParam: 'skip', pageSizeParam: 'limit',
    defaultPageSize: 7, itemsPath: 'items', currentOffsetPath: 'skip', totalPath: 'total', queryTemplate: { ds },
  }),
  cursor: (ds) => ({
    baseUrl: `${UP}/soak/cursor`, cursorStyle: 'cursor', cursorParam: 'cursor', pageSizeParam: 'limit',
    defaultPageSize: 6, itemsPath: 'items', nextCursorPath: 'next', queryTemplate: { ds },
  }),
  page: (ds) => ({
    baseUrl: `${UP}/soak/pages`, cursorStyle: 'page', cursorParam: 'page', pageSizeParam: 'per_page', pageStart: 1,
    defaultPageSize: 8, itemsPath: 'items', totalPath: 'total', queryTemplate: { ds },
  }),
  link: (ds) => ({
    baseUrl: `${UP}/soak/link?ds=${ds}`, cursorStyle: 'link', pageSizeParam: 'per_page', defaultPageSize: 5,
    itemsPath: '$', requiresAuth: true, provider: 'soak-link', auth: 'bearer',
  }),
};

// The tenant's secret for the link source, sealed as the engine expects
// (tests/integration/lib.mjs putSecret: AES-256-GCM, origin-bound AAD).
function putSecret(provider, value) {
  const origin = new URL(UP).origin;
  const key = Buffer.from(fs.readFileSync(path.join(VAR, 'secret.key'), 'utf8').trim(), 'hex');
  const nonce = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(Buffer.from(`rs-secret-v2\0${TENANT}\0${provider}\0${origin}\0`, 'utf8'));
  const ct = Buffer.concat([c.update(JSON.stringify(value), 'utf8'), c.final(), c.getAuthTag()]);
  sql(`INSERT INTO integration_secrets (tenant_id, provider, origin, ciphertext, nonce, aad_version)
       VALUES (:'p1', :'p2', :'p5', decode(:'p3', 'hex'), decode(:'p4', 'hex'), 2)
       ON CONFLICT (tenant_id, provider, origin) DO UPDATE
         SET ciphertext = EXCLUDED.ciphertext, nonce = EXCLUDED.nonce, aad_version = 2, updated_at = now();`,
  [TENANT, provider, ct.toString('hex'), nonce.toString('hex'), origin]);
}

async function setup(rng) {
  sql(`INSERT INTO tenants (id, name) VALUES (:'p1', 'Soak') ON CONFLICT DO NOTHING;`, [TENANT]);
  putSecret('soak-link', { token: SOAK_TOKEN });
  const sources = [];
  for (const style of Object.keys(STYLES)) {
    const ds = `${TAG}-${style}`;
    await control(ds, { op: 'seed', n: rng.int(25, 45) });
    const config = {
      ...STYLES[style](ds), textFields: ['title', 'body'], titleField: 'title', maxDeleteFraction: 1,
    };
    const id = one(`INSERT INTO kb_sources (tenant_id, type, title, config, enabled)
        VALUES (:'p1', 'rest', :'p2', :'p3'::jsonb, true) RETURNING id;`, [TENANT, `Soak ${TAG} ${style}`, JSON.stringify(config)]);
    sources.push({ id, ds, style });
  }
  return sources;
}

// ---------------------------------------------------------------- schedule
const OPS = [
  ['click', 24], ['clicks-concurrent', 7], ['run-start', 10], ['run-stop', 4], ['reset', 4], ['runs-list', 3],
  ['churn', 14], ['churn-during', 7],
  ['kill-fcgi', 4], ['kill-worker', 3], ['pg-restart', 1], ['upstream-fault', 7], ['embed-fault', 5],
];
const FAULTS = new Set(['kill-fcgi', 'kill-worker', 'pg-restart', 'upstream-fault', 'embed-fault']);

// The whole schedule, drawn before anything runs.
function schedule(rng, nsources) {
  const events = [];
  let t = 500;
  let lastPg = -Infinity;
  while (t < CHAOS_MS) {
    let kind = rng.weighted(OPS);
    if (kind === 'pg-restart' && t - lastPg < 20000) kind = 'click';
    if (kind === 'pg-restart') lastPg = t;
    const e = { t, kind, src: rng.int(0, nsources - 1) };
    switch (kind) {
      case 'click': e.batches = rng.int(1, 4); break;
      case 'clicks-concurrent': e.n = rng.int(2, 4); break;
      case 'churn': case 'churn-during':
        e.edits = rng.int(0, 4); e.deletes = rng.int(0, 3); e.adds = rng.int(0, 3); e.shared = rng.int(0, 10) < 2 ? 1 : 0;
        e.r = Array.from({ length: 20 }, () => rng.int(0, 1 << 20));
        e.after = rng.int(1, 4);
        break;
      case 'kill-fcgi': e.batchProgram = rng.next() < 0.7; e.which = rng.int(0, 1 << 20); break;
      case 'kill-worker': e.which = rng.int(0, 1 << 20); e.back = rng.int(500, 3000); break;
      case 'upstream-fault':
        e.fault = rng.pick(['503', '429', 'slow', 'malformed']); e.every = rng.int(1, 3); e.ms = rng.int(1500, 8000);
        break;
      case 'embed-fault': e.fault = rng.pick(['500', '429']); e.every = rng.int(1, 3); e.ms = rng.int(1500, 6000); break;
      default: break;
    }
    events.push(e);
    t += rng.int(150, 1200);
  }
  return events;
}

// ---------------------------------------------------------------- operations
let procChain = Promise.resolve();     // process faults one at a time
const serial = (fn) => { const p = procChain.then(fn, fn); procChain = p.catch(() => {}); return p; };

const pids = (file) => { try { return fs.readFileSync(file, 'utf8').trim().split(/\s+/).map(Number).filter(Boolean); } catch { return []; } };
const children = (pid) => { try { return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').map(Number).filter(Boolean); } catch { return []; } };
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const fcgiDir = () => path.join(VAR, 'run/fcgi');
const workerPids = () => fs.readdirSync(path.join(VAR, 'run/workers')).filter((f) => f.endsWith('.pid')).sort()
  .flatMap((f) => pids(path.join(VAR, 'run/workers', f)));
function fcgiWorkers(program) {
  return fs.readdirSync(fcgiDir()).filter((f) => f.endsWith('.pid') && (!program || f === `${program}.pid`)).sort()
    .flatMap((f) => pids(path.join(fcgiDir(), f)).flatMap(children));
}

async function clicks(s, n) {
  for (let i = 0; i < n; i++) {
    const r = await call('/api/backoffice/rest-batch', { sourceId: s.id });
    if (r.status !== 200 || r.json?.done) break;
  }
}

async function perform(e, sources) {
  const s = sources[e.src];
  switch (e.kind) {
    case 'click': return clicks(s, e.batches);
    case 'clicks-concurrent':
      return Promise.all(Array.from({ length: e.n }, () => call('/api/backoffice/rest-batch', { sourceId: s.id })));
    case 'run-start': return call('/api/backoffice/rest-sync', { sourceId: s.id });
    case 'run-stop': return call('/api/backoffice/rest-sync-stop', { sourceId: s.id });
    case 'reset': return call('/api/backoffice/rest-sources-reset', { sourceId: s.id });
    case 'runs-list': return call(`/api/backoffice/rest-runs?sourceId=${s.id}&limit=5`, null, 'GET');
    case 'churn': return control(s.ds, { op: 'churn', r: e.r, edits: e.edits, deletes: e.deletes, adds: e.adds, shared: e.shared });
    case 'churn-during':
      return control(s.ds, { op: 'after', requests: e.after, then: { op: 'churn', r: e.r, edits: e.edits, deletes: e.deletes, adds: e.adds, shared: e.shared } });
    case 'kill-fcgi': return serial(() => {
      const ws = fcgiWorkers(e.batchProgram ? 'rest_batch' : null);
      if (ws.length) process.kill(ws[e.which % ws.length], 'SIGKILL');
    });
    case 'kill-worker': return serial(async () => {
      const ws = workerPids().filter(alive);
      if (ws.length) process.kill(ws[e.which % ws.length], 'SIGKILL');
      await sleep(e.back);
      await stack('workers');
    });
    case 'pg-restart': return serial(() => stack('pg-restart'));
    case 'upstream-fault':
      await control(s.ds, { op: 'fault', kind: e.fault, every: e.every });
      await sleep(e.ms);
      return control(s.ds, { op: 'fault', kind: 'none' });
    case 'embed-fault':
      await embedFault(e.fault, e.every);
      await sleep(e.ms);
      return embedFault('none');
    default: throw new Error(`unknown op ${e.kind}`);
  }
}

// Peak memory (VmHWM) of every FastCGI worker and run worker seen.
const peaks = { fcgiKiB: 0, workerKiB: 0 };
function kib(pid, field) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+)`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}
function samplePeaks() {
  for (const p of fcgiWorkers()) peaks.fcgiKiB = Math.max(peaks.fcgiKiB, kib(p, 'VmHWM'));
  for (const p of workerPids()) peaks.workerKiB = Math.max(peaks.workerKiB, kib(p, 'VmHWM'));
}

async function chaos(events, sources) {
  const t0 = Date.now();
  const inflight = new Map();
  const sampler = setInterval(samplePeaks, 2000);
  for (const e of events) {
    const wait = t0 + e.t - Date.now();
    if (wait > 0) await sleep(wait);
    bump(FAULTS.has(e.kind) ? stats.faults : stats.ops, e.kind);
    const p = perform(e, sources).catch((err) => { stats.errors++; if (stats.errors <= 5) console.error(`soak: ${e.kind}: ${err.message}`); });
    inflight.set(p, `${e.kind}@${e.t}ms`);
    p.finally(() => inflight.delete(p));
  }
  let timer;
  await Promise.race([Promise.all(inflight.keys()), new Promise((r) => { timer = setTimeout(r, 90000); })]);
  clearTimeout(timer);
  clearInterval(sampler);
  return [...inflight.values()];
}

// ---------------------------------------------------------------- the end
async function until(what, fn, ms) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

const runOf = (id) => {
  const r = sql(`SELECT status, pages, items, new_items, changed_items, unchanged_items, removed_items, sweep,
                        coalesce(error, ''), coalesce(sweep_note, '')
                 FROM kb_rest_runs WHERE id = :'p1';`, [id])[0];
  return r && { status: r[0], pages: +r[1], items: +r[2], new: +r[3], changed: +r[4], unchanged: +r[5], removed: +r[6], sweep: r[7], error: r[8], note: r[9] };
};

// Faults stop; the stack is whole again; every source gets one full run.
async function settle(sources) {
  for (const s of sources) await control(s.ds, { op: 'calm' });
  await embedFault('none');
  if (workerPids().filter(alive).length < Number(env.RS_RUN_WORKERS || 2)) await stack('workers');
  await until('the stack healthy', async () => (await fetch(`${BASE}/healthz`).catch(() => ({ status: 0 }))).status === 200, 30000);
  const finals = {};
  for (const s of sources) {
    // A server-side run still going is stopped (at once when no worker
    // holds it); then the Reset stops a run of clicks left mid-walk.
    await until(`no run going for ${s.style}`, async () => {
      await call('/api/backoffice/rest-sync-stop', { sourceId: s.id });
      const reset = await call('/api/backoffice/rest-sources-reset', { sourceId: s.id });
      return reset.status === 200
        && one(`SELECT count(*) FROM kb_rest_runs WHERE source_id = :'p1' AND status = 'running';`, [s.id]) === '0';
    }, 60000);
    const started = await until(`a run of ${s.style} started`, async () => {
      const r = await call('/api/backoffice/rest-sync', { sourceId: s.id });
      return r.status === 202 && r.json.runId;
    }, 30000);
    finals[s.id] = started;
  }
  for (const s of sources) {
    await until(`the final run of ${s.style} to end`, () => runOf(finals[s.id]).status !== 'running', 180000);
  }
  return finals;
}

// ---------------------------------------------------------------- invariants
async function invariants(sources, finals) {
  for (const s of sources) {
    const name = `${s.style} source`;
    const { items } = await control(s.ds, { op: 'stats' });
    const f = runOf(finals[s.id]);
    check('final run done with its sweep', f.status === 'done' && f.sweep === 'done',
      `${name}: final run ${finals[s.id]} ${f.status} sweep=${f.sweep} ${f.error} ${f.note}`);
    check('final run counts add up', f.items === items.length && f.new + f.changed + f.unchanged === f.items,
      `${name}: upstream ${items.length}, run items=${f.items} new=${f.new} changed=${f.changed} unchanged=${f.unchanged}`);
    // The KB holds exactly the upstream's items, each with its current text, once.
    const kb = new Map();
    for (const [key, title, content] of sql(`SELECT i.item_key, i.title, replace(c.content, E'\\n', ' | ')
        FROM kb_rest_items i LEFT JOIN kb_chunks c ON c.source_id = i.source_id AND c.content_hash = ANY (i.chunk_hashes)
        WHERE i.source_id = :'p1' ORDER BY 1;`, [s.id])) {
      kb.set(key, [...(kb.get(key) || []), { title, content }]);
    }
    const want = items.map((x) => `id:${x.id}`).sort();
    const have = [...kb.keys()].sort();
    const missing = want.filter((k) => !kb.has(k));
    const extra = have.filter((k) => !want.includes(k));
    check('KB items = upstream items', !missing.length && !extra.length,
      `${name}: missing ${missing.slice(0, 5).join(',')} (${missing.length}), not upstream ${extra.slice(0, 5).join(',')} (${extra.length})`);
    for (const x of items) {
      const got = kb.get(`id:${x.id}`) || [];
      check('each live item holds its current text only', got.length === 1 && got[0].content && got[0].content.includes(x.body)
        && got[0].content.includes(x.title),
      `${name}: item ${x.id} wants "${x.title} | ${x.body}", holds ${JSON.stringify(got)}`);
    }
    const texts = new Set(items.map((x) => `${x.title}\n${x.body}`)).size;
    const chunks = Number(one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [s.id]));
    check('one chunk per distinct live text', chunks === texts, `${name}: ${chunks} chunks for ${texts} distinct texts`);
    const q = (label, query) => {
      const n = one(query, [s.id]);
      check(label, n === '0', `${name}: ${n} rows`);
    };
    q('item_refs = items holding the hash', `SELECT count(*) FROM kb_chunks c WHERE c.source_id = :'p1' AND c.item_refs <>
        (SELECT count(*) FROM kb_rest_items i WHERE i.source_id = c.source_id AND c.content_hash = ANY (i.chunk_hashes));`);
    q('every held hash has a chunk', `SELECT count(*) FROM kb_rest_items i, unnest(i.chunk_hashes) h WHERE i.source_id = :'p1'
        AND NOT EXISTS (SELECT 1 FROM kb_chunks c WHERE c.source_id = i.source_id AND c.content_hash = h);`);
    q('no orphan chunk', `SELECT count(*) FROM kb_chunks c WHERE c.source_id = :'p1' AND (c.item_refs < 1
        OR NOT EXISTS (SELECT 1 FROM kb_docs d WHERE d.id = c.doc_id AND d.source_id = c.source_id));`);
    q('dense chunk_idx, no empty doc', `SELECT count(*) FROM kb_docs d WHERE d.source_id = :'p1' AND (
        d.next_chunk_idx <> (SELECT count(*) FROM kb_chunks c WHERE c.doc_id = d.id)
        OR d.next_chunk_idx - 1 <> (SELECT coalesce(max(chunk_idx), -1) FROM kb_chunks c WHERE c.doc_id = d.id)
        OR (SELECT count(DISTINCT chunk_idx) FROM kb_chunks c WHERE c.doc_id = d.id) <> d.next_chunk_idx
        OR NOT EXISTS (SELECT 1 FROM kb_chunks c WHERE c.doc_id = d.id));`);
    const cur = sql(`SELECT done, last_status, coalesce(run_id::text, ''), item_count FROM kb_rest_cursors WHERE source_id = :'p1';`, [s.id])[0];
    check('cursor done', cur && cur[0] === 't' && cur[1] === 'done', `${name}: cursor ${JSON.stringify(cur)}`);
    check('cursor belongs to the final run', cur && cur[2] === finals[s.id] && Number(cur[3]) === f.items,
      `${name}: cursor run ${cur && cur[2]} items ${cur && cur[3]}, final run ${finals[s.id]} items ${f.items}`);
    // Every done run's counts add up: each item it saw is new, changed or unchanged once.
    const bad = sql(`SELECT id, items, new_items, changed_items, unchanged_items FROM kb_rest_runs
        WHERE source_id = :'p1' AND status = 'done' AND items <> new_items + changed_items + unchanged_items;`, [s.id]);
    check('done runs: items = new + changed + unchanged', !bad.length, `${name}: ${bad.length} runs, e.g. ${JSON.stringify(bad[0])}`);
  }
  const ids = sources.map((s) => s.id);
  const running = one(`SELECT count(*) FROM kb_rest_runs WHERE status = 'running' AND source_id = ANY (string_to_array(:'p1', ',')::uuid[]);`, [ids.join(',')]);
  check('no run left running', running === '0', `${running} runs`);
  // No secret in stored errors, run records or the audit trail (searched
  // by the database: the trail of a long soak is megabytes).
  for (const secret of SECRETS.filter(Boolean)) {
    const n = one(`SELECT (SELECT count(*) FROM kb_rest_cursors WHERE strpos(coalesce(last_error, ''), :'p1') > 0)
        + (SELECT count(*) FROM kb_rest_runs WHERE strpos(coalesce(error, '') || coalesce(sweep_note, ''), :'p1') > 0)
        + (SELECT count(*) FROM kb_rest_audit a WHERE strpos(a::text, :'p1') > 0);`, [secret]);
    check('no secret in last_error, runs or the audit trail', n === '0', `a secret of length ${secret.length} is stored in ${n} rows`);
  }
  for (const f of fs.readdirSync(path.join(VAR, 'log'))) {
    const p = path.join(VAR, 'log', f);
    if (!fs.statSync(p).isFile()) continue;
    const s2 = leaked(fs.readFileSync(p, 'latin1'));
    check('no secret in the logs', !s2, `log/${f} holds a secret of length ${s2?.length}`);
  }
  // The processes: as many as started, none more; peak memory bounded.
  const want = Number(env.RS_WORKERS || 2);
  for (const f of fs.readdirSync(fcgiDir()).filter((x) => x.endsWith('.pid'))) {
    const sup = pids(path.join(fcgiDir(), f));
    const kids = sup.flatMap(children);
    check('FastCGI workers: as many as configured', sup.every(alive) && kids.length === want * sup.length,
      `${f}: supervisor ${sup.map((p) => `${p}${alive(p) ? '' : ' dead'}`)}, ${kids.length} workers`);
  }
  const ours = ourProcesses();
  const expected = new Set([...workerPids(), ...fcgiWorkers(),
    ...fs.readdirSync(fcgiDir()).filter((x) => x.endsWith('.pid')).flatMap((f) => pids(path.join(fcgiDir(), f)))]);
  // runuser (as root, stack.sh starts the run workers through it; it
  // keeps DATABASE_URL in its environment for them) waits for its worker:
  // it belongs while that worker is expected, and only then.
  const ppid = (pid) => { try { return Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^PPid:\s+(\d+)/m)[1]); } catch { return 0; } };
  for (const w of workerPids()) if (/^runuser\b/.test(ours.find((p) => p.pid === ppid(w))?.cmd || '')) expected.add(ppid(w));
  const stray = ours.filter((p) => !expected.has(p.pid));
  check('no process leaked', !stray.length, `${stray.map((p) => `${p.pid} ${p.cmd}`).join('; ')}`);
  check('run workers alive', workerPids().filter(alive).length === Number(env.RS_RUN_WORKERS || 2), `${workerPids()}`);
  samplePeaks();
  check('FastCGI worker peak memory under bound', peaks.fcgiKiB < HWM_BOUND_KIB, `${peaks.fcgiKiB} KiB`);
  check('run worker peak memory under bound', peaks.workerKiB < HWM_BOUND_KIB, `${peaks.workerKiB} KiB`);
}

// The programs of this stack: every process whose DATABASE_URL names
// this stack's socket folder (the FastCGI programs, their supervisors
// and the run workers; PostgreSQL and nginx have none).
function ourProcesses() {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const e = fs.readFileSync(`/proc/${d}/environ`, 'latin1');
      if (!e.includes(`DATABASE_URL=postgresql:///restsync?host=${VAR}/run/pg`)) continue;
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'latin1').replace(/\0/g, ' ').trim();
      if (Number(d) === process.pid || /(^|\/)(sh|psql|node|pgrep|stack\.sh)\b/.test(cmd.split(' ')[0])) continue;
      out.push({ pid: Number(d), cmd });
    } catch { /* gone, or not ours to read */ }
  }
  return out;
}

// The self-test's damage: one chunk counted once too often, one item
// (with its chunk references) gone from the knowledge base.
function plant(sources) {
  sql(`UPDATE kb_chunks SET item_refs = item_refs + 1 WHERE ctid = (SELECT ctid FROM kb_chunks WHERE source_id = :'p1'
       ORDER BY content_hash LIMIT 1);`, [sources[0].id]);
  sql(`DELETE FROM kb_rest_items WHERE (source_id, item_key) = (SELECT source_id, max(item_key) FROM kb_rest_items
       WHERE source_id = :'p1' GROUP BY source_id);`, [sources[1].id]);
}

// ---------------------------------------------------------------- main
async function main() {
  const t0 = Date.now();
  console.log(`soak: seed ${SEED}, ${SECONDS} s (replay: make soak SOAK_SEED=${SEED} SOAK_SECONDS=${SECONDS})`);
  const rng = prng(SEED);
  const sources = await setup(rng);
  const events = schedule(rng, sources.length);
  console.log(`soak: ${events.length} scheduled operations and faults over ${Math.round(CHAOS_MS / 1000)} s on ${sources.length} sources (${sources.map((s) => s.style).join(', ')})`);
  const leftOver = await chaos(events, sources);
  check('every operation ended', !leftOver.length,
    `${leftOver.length} operations still pending 90 s after the chaos: ${leftOver.join(', ')}; stack.sh: ${stackTimes.join(', ')}`);
  const tChaos = Date.now();
  let finals = null;
  try {
    finals = await settle(sources);
  } catch (e) {
    check('the final runs end', false, e.message);
  }
  if (finals && env.SOAK_PLANT === '1') plant(sources);
  if (finals) await invariants(sources, finals);
  const seconds = (Date.now() - t0) / 1000;
  const res = {
    date: new Date(t0).toISOString(), seed: SEED, soakSeconds: SECONDS, seconds: Math.round(seconds * 10) / 10,
    chaosSeconds: Math.round((tChaos - t0) / 100) / 10, sources: sources.map((s) => s.style),
    operations: stats.ops, faults: stats.faults, responses: stats.statuses, operationErrors: stats.errors,
    stackCommands: stackTimes,
    upstreamFaultsServed: await Promise.all(sources.map(async (s) => (await control(s.ds, { op: 'stats' })).faults)).then((xs) => xs.reduce((a, b) => a + b, 0)),
    embeddings: await (await fetch(`${UP}/soak/embed-stats`)).json(),
    peakMemoryKiB: { fastcgiWorker: peaks.fcgiKiB, runWorker: peaks.workerKiB, bound: HWM_BOUND_KIB },
    invariantChecks: checks, checksRun: Object.values(checks).reduce((a, b) => a + b, 0),
    violations: violations.length, violationList: violations,
    replay: `make soak SOAK_SEED=${SEED} SOAK_SECONDS=${SECONDS}`,
  };
  const fmt = (o) => Object.entries(o).sort().map(([k, v]) => `${k} ${v}`).join(', ');
  const report = [
    `soak report — seed ${SEED}, ${res.seconds} s (${res.chaosSeconds} s of chaos)`,
    `  operations: ${fmt(stats.ops)}`,
    `  faults:     ${fmt(stats.faults)}`,
    `  upstream fault answers served: ${res.upstreamFaultsServed}; embeddings: ${fmt(res.embeddings)}`,
    `  responses:  ${fmt(stats.statuses)}`,
    `  peak memory: FastCGI worker ${peaks.fcgiKiB} KiB, run worker ${peaks.workerKiB} KiB (bound ${HWM_BOUND_KIB} KiB)`,
    `  invariant checks: ${res.checksRun} (${Object.keys(checks).length} kinds), violations: ${violations.length}`,
    ...violations.slice(0, 20).map((v) => `    VIOLATION ${v}`),
    `  replay: ${res.replay}`,
  ].join('\n');
  console.log(report);
  fs.mkdirSync(OUT, { recursive: true });
  const base = path.join(OUT, `soak-${res.date.slice(0, 10)}-${SEED}`);
  fs.writeFileSync(`${base}.txt`, report + '\n');
  fs.writeFileSync(`${base}.json`, JSON.stringify(res, null, 2) + '\n');
  console.log(`soak: report ${path.relative(ROOT, base)}.txt, ${path.relative(ROOT, base)}.json`);
  if (env.SOAK_PLANT === '1') {
    const named = (k) => violations.some((v) => v.startsWith(k));
    if (named('item_refs = items holding the hash') && named('KB items = upstream items')) {
      console.log(`soak self-test: the planted damage was found (${violations.length} violations)`);
      return;
    }
    console.error('soak self-test FAILED: the planted wrong reference count and missing item were not both reported');
    process.exit(1);
  }
  if (violations.length) {
    console.error(`soak FAILED: seed ${SEED}: first violated invariant: ${violations[0]}`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(`soak FAILED: seed ${SEED}: ${e.stack || e}`);
  process.exit(1);
});
