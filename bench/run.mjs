// make bench, the measuring part (bench/run.sh starts the upstream and
// embeddings imitations and cleans up).  Runs full syncs through nginx ->
// rest_batch -> PostgreSQL on a stack of its own and reports what it saw.
//
// Phases:
//   remote    one source of BENCH_ITEMS items, OpenAI-compatible embedder
//             (bench/embed_server.mjs, BENCH_EMBED_DELAY_MS per request)
//   scale     one source of BENCH_SCALE_ITEMS items, then BENCH_SOURCES
//             sources of BENCH_SCALE_ITEMS items each at once (remote)
//   local     one source of BENCH_ITEMS items, built-in local embedder
//   prefilled a new source of BENCH_ITEMS items (built-in embedder) on a
//             database prefilled in bulk with BENCH_PREFILL_CHUNKS (300,000)
//             chunks and items of BENCH_PREFILL_SOURCES (15) sources in 3
//             tenants, ANALYZEd before the new source exists (statistics
//             that do not know it, as after a bulk load; no autovacuum
//             on kb_chunks and kb_rest_items during the phase); compared
//             with the same sync on empty tables (phase local).  Then
//             (unless BENCH_PREFILL_ANALYZE=0) whether an explicit ANALYZE
//             after a run is worth it: a second new source synced with
//             the statistics still stale, ANALYZE kb_chunks and
//             kb_rest_items timed, a third synced with them refreshed
//   micro     the chunker and JSON extraction micro-benchmarks
//   pipeline  server-side runs (pipelined, docs/RUNS.md) against the serial
//             one-page-per-request sync of the same items, in the same
//             bench run, with each embeddings delay of BENCH_PIPE_DELAYS
//             (50,300 ms) and BENCH_PIPE_ITEMS (BENCH_ITEMS) items; then
//             BENCH_SOURCES runs of BENCH_SCALE_ITEMS items at once against
//             one such run (50 ms); the run workers' peak RSS.  Not in the
//             default phases (it takes minutes): BENCH_PHASES=pipeline
// Every figure comes from the endpoint's own response (ms per stage,
// dbRoundTrips, embedRequests), from the client's clock around each HTTP
// call, or from /proc (VmHWM of the FastCGI processes).  Counts are checked
// against the database before anything is reported.
//
// The phases run BENCH_RUNS (5) times, each run on emptied tables (the
// stack and its connections stay); every figure is reported as the median
// of the runs with their min and max.  The results go to
// bench/results/<date>.json (BENCH_OUT), per-batch series only with
// BENCH_SERIES=1; bench/readme-tables.mjs makes README's tables from it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { markdown } from './report.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const VAR = env.RS_VAR || path.join(ROOT, 'var/bench');
const PORT = Number(env.PORT || 28080);
const UP = `http://127.0.0.1:${env.BENCH_UPSTREAM_PORT || 28090}`;
const EMBED = `http://127.0.0.1:${env.BENCH_EMBED_PORT || 28091}`;
const ITEMS = Number(env.BENCH_ITEMS || 20000);
const SCALE_ITEMS = Number(env.BENCH_SCALE_ITEMS || 5000);
const SOURCES = Number(env.BENCH_SOURCES || 8);
const PAGE = Number(env.BENCH_PAGE_SIZE || 50);
const EDGE = Number(env.BENCH_EDGE_BATCHES || 10);
const PHASES = (env.BENCH_PHASES || 'remote,scale,local,prefilled,micro').split(',');
const PREFILL_CHUNKS = Number(env.BENCH_PREFILL_CHUNKS || 300000);
const PREFILL_SOURCES = Number(env.BENCH_PREFILL_SOURCES || 15);
const PREFILL_ANALYZE = env.BENCH_PREFILL_ANALYZE !== '0';
const PIPE_ITEMS = Number(env.BENCH_PIPE_ITEMS || ITEMS);
const PIPE_DELAYS = (env.BENCH_PIPE_DELAYS || '50,300').split(',').map(Number);
const BIN_DIR = env.BENCH_BIN_DIR || path.join(ROOT, 'build/release/bench');
const RUNS = Number(env.BENCH_RUNS || 5);
const SERIES = env.BENCH_SERIES === '1';
const AUTH = 'Basic ' + Buffer.from(`admin:${env.ADMIN_PASSWORD || 'bench-admin-pw'}`).toString('base64');
const TENANT = '00000000-0000-4000-8000-0000000000be';
const STAGES = ['load', 'fetch', 'parse', 'normalize', 'chunk', 'hash', 'dedup', 'embed', 'commit', 'total'];

for (const [k, v] of Object.entries({ ITEMS, SCALE_ITEMS, SOURCES, PAGE, EDGE, RUNS })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`bench: ${k} must be a positive integer`);
}

function log(...a) { console.error('bench:', ...a); }

// ---------- stack and database ----------

function stackStart(embedder, extra = {}) {
  const e = { ...env, ...extra };
  delete e.OPENAI_API_KEY; delete e.OPENAI_BASE_URL; delete e.EMBEDDING_MODEL; delete e.EMBEDDING_DIMENSIONS;
  if (embedder === 'remote') {
    e.OPENAI_API_KEY = 'bench';
    e.OPENAI_BASE_URL = `${EMBED}/v1`;
  }
  execFileSync(path.join(ROOT, 'scripts/stack.sh'), ['start'], { env: e, stdio: ['ignore', 2, 2] });
  agent.destroy();
  agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
}

function db() { return fs.readFileSync(path.join(VAR, 'database_url'), 'utf8').trim(); }

// Run SQL with psql variables :'p1'...; rows of strings.
function sql(query, params = []) {
  const args = ['-X', '-q', '-At', '-F', '\t', '-v', 'ON_ERROR_STOP=1'];
  params.forEach((p, i) => args.push('-v', `p${i + 1}=${p}`));
  args.push(db());
  const out = execFileSync('psql', args, { input: query, encoding: 'utf8' });
  return out.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
}
const one = (q, p) => { const r = sql(q, p); return r.length ? r[0][0] : null; };

// The seed's DummyJSON config, baseUrl on the bench upstream.
const DUMMY = JSON.parse(fs.readFileSync(new URL('../data/dummyjson/config.json', import.meta.url), 'utf8'));
function dummyConfig(items) {
  return { ...DUMMY, baseUrl: `${UP}/bench/n/${items}/products`, defaultPageSize: PAGE };
}

function createSource(title, items) {
  sql(`INSERT INTO tenants (id, name) VALUES (:'p1', 'Bench Tenant') ON CONFLICT DO NOTHING;`, [TENANT]);
  return one(`INSERT INTO kb_sources (tenant_id, type, title, config, enabled)
              VALUES (:'p1', 'rest', :'p2', :'p3'::jsonb, true) RETURNING id;`,
  [TENANT, title, JSON.stringify(dummyConfig(items))]);
}

function stored(id) {
  const [chunks, docs] = sql(`SELECT (SELECT count(*) FROM kb_chunks WHERE source_id = :'p1'),
                                     (SELECT count(*) FROM kb_docs WHERE source_id = :'p1');`, [id])[0];
  const [items, pages, done] = sql(`SELECT item_count, page_count, done FROM kb_rest_cursors
                                    WHERE source_id = :'p1';`, [id])[0];
  return { chunks: +chunks, docs: +docs, items: +items, pages: +pages, done: done === 't' };
}

// ---------- HTTP ----------

// A keep-alive pool to nginx, replaced when the stack restarts (a reload
// closes idle connections).
let agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function post(pathname, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: PORT, path: pathname, method: 'POST', agent,
      headers: { Authorization: AUTH, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(60000, () => req.destroy(new Error('timeout after 60 s')));
    req.on('error', reject);
    req.end(body);
  });
}

async function batch(id) {
  const t0 = performance.now();
  const { status, text } = await post('/api/backoffice/rest-batch', JSON.stringify({ sourceId: id }));
  const clientMs = performance.now() - t0;
  let json = null;
  try { json = JSON.parse(text); } catch { /* reported below */ }
  if (status !== 200 || !json || json.ok !== true) {
    throw new Error(`batch of ${id} failed: HTTP ${status} ${text.slice(0, 300)}`);
  }
  return { clientMs, ...json };
}

// Batches until done; returns {batches, wallMs}.  Bounded.
async function syncToEnd(id, items) {
  const max = Math.ceil(items / PAGE) + 3;
  const out = [];
  const t0 = performance.now();
  for (let i = 0; i < max; i++) {
    const r = await batch(id);
    out.push(r);
    if (r.done) return { batches: out, wallMs: performance.now() - t0 };
  }
  throw new Error(`source ${id} not done after ${max} batches`);
}

// Every FastCGI worker opens its database and HTTP connections lazily, on
// its first request.  Warm them all (concurrent requests land on distinct
// workers) so the first measured batches are not charged for connecting.
async function warmUp(embedder) {
  const n = Number(env.RS_WORKERS || 8);
  const ids = [];
  for (let i = 0; i < n; i++) ids.push(createSource(`warm-up ${embedder} ${i}`, PAGE * 2));
  for (let round = 0; round < 2; round++) await Promise.all(ids.map((id) => batch(id)));
}

// ---------- statistics ----------

const mean = (a) => a.reduce((s, x) => s + x, 0) / (a.length || 1);
function pct(a, p) {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : 0;
}
const r2 = (x) => Math.round(x * 100) / 100;
const r3 = (x) => Math.round(x * 1000) / 1000;

const own = (b) => b.ms.total - b.ms.fetch - b.ms.embed;
const dbMs = (b) => b.ms.load + b.ms.items + b.ms.dedup + b.ms.commit + b.ms.sweep;

function summary(batches, wallMs) {
  const fetched = batches.filter((b) => b.items > 0);
  const items = batches.reduce((s, b) => s + b.items, 0);
  const chunks = batches.reduce((s, b) => s + b.chunks, 0);
  const inserted = batches.reduce((s, b) => s + b.inserted, 0);
  const per = (f) => fetched.map(f);
  const dist = (a) => ({ mean: r3(mean(a)), p50: r3(pct(a, 50)), p95: r3(pct(a, 95)), p99: r3(pct(a, 99)), max: r3(Math.max(...a)) });
  const stages = {};
  for (const s of STAGES) stages[s] = r3(mean(per((b) => b.ms[s])));
  stages.items = r3(mean(per((b) => b.ms.items)));	// the item lookup (in "other")
  stages.database = r3(mean(per(dbMs)));
  stages.other = r3(mean(per((b) => b.ms.total - STAGES.slice(0, -1).reduce((t, s) => t + b.ms[s], 0))));
  const first = fetched.slice(0, EDGE);
  const mid = fetched.slice(Math.max(0, Math.floor(fetched.length / 2 - EDGE / 2)), Math.floor(fetched.length / 2 + EDGE / 2));
  const last = fetched.slice(-EDGE);
  // Per-stage medians of the first, middle and last EDGE batches.
  const edgeStages = (part) => Object.fromEntries(['load', 'items', 'dedup', 'commit', 'total']
    .map((k) => [k, r3(pct(part.map((b) => b.ms[k]), 50))]).concat([['own', r3(pct(part.map(own), 50))]]));
  const ratio = (f) => ({ first: r3(mean(first.map(f))), last: r3(mean(last.map(f))), ratio: r3(mean(last.map(f)) / mean(first.map(f))) });
  return {
    batches: batches.length,
    items, chunks, inserted,
    wallS: r3(wallMs / 1000),
    batchesPerS: r2(batches.length / (wallMs / 1000)),
    itemsPerS: r2(items / (wallMs / 1000)),
    chunksPerS: r2(chunks / (wallMs / 1000)),
    latencyMs: { client: dist(per((b) => b.clientMs)), server: dist(per((b) => b.ms.total)) },
    ownCodeAndDbMs: dist(per(own)),
    stageMeanMs: stages,
    dbRoundTrips: { min: Math.min(...per((b) => b.dbRoundTrips)), max: Math.max(...per((b) => b.dbRoundTrips)), mean: r2(mean(per((b) => b.dbRoundTrips))) },
    embedRequests: { min: Math.min(...per((b) => b.embedRequests)), max: Math.max(...per((b) => b.embedRequests)) },
    firstVsLast: { batches: EDGE, serverTotal: ratio((b) => b.ms.total), ownCodeAndDb: ratio(own), commit: ratio((b) => b.ms.commit), client: ratio((b) => b.clientMs) },
    edges: { first: edgeStages(first), middle: edgeStages(mid), last: edgeStages(last) },
    // Mean of each stage over consecutive tenths of the sync: the trend.
    trend: Array.from({ length: 10 }, (_, k) => {
      const part = fetched.slice(Math.floor((k * fetched.length) / 10), Math.floor(((k + 1) * fetched.length) / 10));
      return { total: r3(mean(part.map((b) => b.ms.total))), own: r3(mean(part.map(own))), commit: r3(mean(part.map((b) => b.ms.commit))),
        dedup: r3(mean(part.map((b) => b.ms.dedup))), load: r3(mean(part.map((b) => b.ms.load))) };
    }),
  };
}

function verify(id, items, s) {
  const st = stored(id);
  const want = { items, chunks: s.inserted, done: true };
  const got = { items: st.items, chunks: st.chunks, done: st.done };
  if (JSON.stringify(want) !== JSON.stringify(got) || s.items !== items || s.inserted !== s.chunks) {
    throw new Error(`bench: stored state does not match the responses: want ${JSON.stringify(want)} ` +
      `(and inserted == chunks == ${s.chunks}), got ${JSON.stringify(got)}, responses said items ${s.items}, inserted ${s.inserted}`);
  }
  return { ...st, verified: true };
}

// ---------- memory ----------

// The process table: pid -> {ppid, cpu ticks (its own and its reaped children's)}.
function procTable() {
  const t = new Map();
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime + stime, and cutime + cstime: the children it reaped
      // (PostgreSQL's ended backends) stay counted in their group.
      t.set(+p, { ppid: +f[1], ticks: +f[11] + +f[12] + +f[13] + +f[14] });
    } catch { /* gone */ }
  }
  return t;
}

function descendants(table, roots) {
  const all = new Set(roots.filter((r) => table.has(r)));
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, { ppid }] of table) if (all.has(ppid) && !all.has(pid)) { all.add(pid); grew = true; }
  }
  return [...all];
}

const pidsIn = (f) => { try { return fs.readFileSync(f, 'utf8').split(/\s+/).filter(Boolean).map(Number).slice(0, 64); } catch { return []; } };

// The stack's process groups: FastCGI programs (pid files and descendants:
// spawn-fcgi may run the workers directly, or a program may fork its own),
// PostgreSQL, nginx, and the benchmark's imitations (pids from run.sh).
function groups(table) {
  const g = {};
  const dir = path.join(VAR, 'run/fcgi');
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.pid'))) g[f.slice(0, -4)] = descendants(table, pidsIn(path.join(dir, f)));
  g.postgres = descendants(table, pidsIn(path.join(VAR, 'pg/data/postmaster.pid')).slice(0, 1));
  g.nginx = descendants(table, pidsIn(path.join(VAR, 'run/nginx.pid')));
  g.imitations = descendants(table, (env.BENCH_MOCK_PIDS || '').split(/\s+/).filter(Boolean).map(Number));
  const wdir = path.join(VAR, 'run/workers');
  if (fs.existsSync(wdir)) {
    g.workers = descendants(table, fs.readdirSync(wdir).filter((f) => f.endsWith('.pid')).flatMap((f) => pidsIn(path.join(wdir, f))));
  }
  return g;
}

// CPU time per group (ms), of the driver, and of the whole machine.
function cpuSnapshot() {
  const table = procTable();
  const hz = 100; // USER_HZ on Linux
  const out = { at: performance.now(), groups: {} };
  for (const [k, pids] of Object.entries(groups(table))) out.groups[k] = pids.reduce((s, p) => s + table.get(p).ticks, 0) * (1000 / hz);
  const u = process.cpuUsage();
  out.groups.driver = (u.user + u.system) / 1000;
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  out.machineBusy = (cpu.reduce((a, b) => a + b, 0) - cpu[3] - (cpu[4] || 0)) * (1000 / hz);
  out.machineAll = cpu.reduce((a, b) => a + b, 0) * (1000 / hz);
  return out;
}

// CPU ms per batch of each group between two snapshots, and how busy the
// machine was (all processes, ours and anyone else's).
function cpuReport(a, b, batches) {
  const per = {};
  let ours = 0;
  for (const k of Object.keys(b.groups)) {
    const d = b.groups[k] - (a.groups[k] || 0);
    per[k] = r2(d / batches);
    ours += d;
  }
  const wall = b.at - a.at;
  const cores = os.cpus().length;
  return {
    cpuMsPerBatch: per,
    oursCpuMsPerBatch: r2(ours / batches),
    machineBusyPct: r2((100 * (b.machineBusy - a.machineBusy)) / (b.machineAll - a.machineAll)),
    othersCpuPctOfMachine: r2(Math.max(0, (100 * ((b.machineBusy - a.machineBusy) - ours)) / (wall * cores))),
  };
}

// VmHWM / VmRSS (KiB) of every process of every FastCGI program.
function fcgiMemory() {
  const table = procTable();
  const out = {};
  for (const [prog, pids] of Object.entries(groups(table))) {
    if (['postgres', 'nginx', 'imitations', 'workers'].includes(prog)) continue;
    out[prog] = pids.map((pid) => {
      try {
        const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
        const kb = (k) => +(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(st) || [0, 0])[1];
        return { pid, hwmKiB: kb('VmHWM'), rssKiB: kb('VmRSS') };
      } catch { return null; }
    }).filter(Boolean);
  }
  return out;
}

function memSummary(mem) {
  const w = mem.rest_batch || [];
  return {
    processes: w.length,
    maxHwmMiB: r2(Math.max(0, ...w.map((p) => p.hwmKiB)) / 1024),
    meanHwmMiB: r2(mean(w.map((p) => p.hwmKiB)) / 1024),
    maxRssMiB: r2(Math.max(0, ...w.map((p) => p.rssKiB)) / 1024),
    perProcess: w,
  };
}

// ---------- phases ----------

async function fullSync(label, items) {
  const id = createSource(`bench ${label}`, items);
  log(`${label}: syncing ${items} items (${Math.ceil(items / PAGE)} batches)`);
  const c0 = cpuSnapshot();
  const { batches, wallMs } = await syncToEnd(id, items);
  const s = summary(batches, wallMs);
  s.cpu = cpuReport(c0, cpuSnapshot(), batches.length);
  s.stored = verify(id, items, s);
  if (SERIES) s.series = {
    columns: ['clientMs', 'totalMs', 'fetchMs', 'embedMs', 'dedupMs', 'commitMs', 'dbRoundTrips'],
    batches: batches.map((b) => [r2(b.clientMs), r2(b.ms.total), r2(b.ms.fetch), r2(b.ms.embed), r2(b.ms.dedup), r2(b.ms.commit), b.dbRoundTrips]),
  };
  return s;
}

async function scalePhase() {
  log(`scale: 1 source of ${SCALE_ITEMS} items`);
  const single = await fullSync('scale-1', SCALE_ITEMS);
  log(`scale: ${SOURCES} sources of ${SCALE_ITEMS} items at once`);
  const ids = [];
  for (let i = 0; i < SOURCES; i++) ids.push(createSource(`bench scale-${SOURCES} #${i}`, SCALE_ITEMS));
  const c0 = cpuSnapshot();
  const t0 = performance.now();
  const runs = await Promise.all(ids.map((id) => syncToEnd(id, SCALE_ITEMS)));
  const wallMs = performance.now() - t0;
  const cpu = cpuReport(c0, cpuSnapshot(), runs.reduce((n, r) => n + r.batches.length, 0));
  const per = runs.map((r, i) => {
    const s = summary(r.batches, r.wallMs);
    s.stored = verify(ids[i], SCALE_ITEMS, s);
    return s;
  });
  const all = summary(runs.flatMap((r) => r.batches), wallMs);
  const perSource = per.map((s) => s.itemsPerS);
  return {
    itemsPerSource: SCALE_ITEMS,
    single: { itemsPerS: single.itemsPerS, batchesPerS: single.batchesPerS, latencyMs: single.latencyMs, stageMeanMs: single.stageMeanMs, cpu: single.cpu },
    concurrent: {
      sources: SOURCES,
      aggregateItemsPerS: r2((SOURCES * SCALE_ITEMS) / (wallMs / 1000)),
      perSourceItemsPerS: { mean: r2(mean(perSource)), min: r2(Math.min(...perSource)), max: r2(Math.max(...perSource)) },
      latencyMs: all.latencyMs,
      stageMeanMs: all.stageMeanMs,
      ownCodeAndDbMs: all.ownCodeAndDbMs,
      dbRoundTrips: all.dbRoundTrips,
      cpu,
    },
    perSourceLossPct: r2((1 - mean(perSource) / single.itemsPerS) * 100),
  };
}

// ---------- pipelined runs ----------

async function embedDelay(ms) {
  const r = await fetch(`${EMBED}/__delay?ms=${ms}`, { method: 'POST' });
  if (r.status !== 200) throw new Error(`bench: cannot set the embeddings delay: HTTP ${r.status}`);
}

const embedStats = async () => (await fetch(`${EMBED}/__stats`)).json();
const embedReset = () => fetch(`${EMBED}/__reset`, { method: 'POST' });

// Start a server-side run of id and wait for it to be done; its time is
// the run's own (started_at, when POST rest-sync answered, to the commit
// of its last page), items/s over that.
async function runToEnd(id, items) {
  const r = await post('/api/backoffice/rest-sync', JSON.stringify({ sourceId: id }));
  if (r.status !== 202) throw new Error(`bench: rest-sync of ${id}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
  const run = JSON.parse(r.text).runId;
  const t0 = performance.now();
  for (;;) {
    const [status, n, pages, secs, error] = sql(`SELECT status, items, pages,
        extract(epoch FROM coalesce(finished_at, now()) - started_at), coalesce(error, '')
        FROM kb_rest_runs WHERE id = :'p1';`, [run])[0];
    if (status === 'done') {
      const st = stored(id);
      if (+n !== items || st.items !== items || !st.done) throw new Error(`bench: run ${run} stored ${st.items} of ${items} items (run says ${n})`);
      return { items: +n, pages: +pages, seconds: r3(+secs), itemsPerS: r2(items / +secs), chunks: st.chunks };
    }
    if (status !== 'running') throw new Error(`bench: run ${run} ended ${status}: ${error}`);
    if (performance.now() - t0 > 3600e3) throw new Error(`bench: run ${run} not done after an hour`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

function workerMemory() {
  const dir = path.join(VAR, 'run/workers');
  const kib = (pid, k) => {
    try { return +(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8')) || [0, 0])[1]; } catch { return 0; }
  };
  const pids = fs.readdirSync(dir).filter((f) => f.endsWith('.pid')).map((f) => Number(fs.readFileSync(path.join(dir, f), 'utf8')));
  return { workers: pids.length, maxHwmMiB: r2(Math.max(0, ...pids.map((p) => kib(p, 'VmHWM'))) / 1024) };
}

// Serial (rest-batch, one page a request) and a run of the same items.
async function pipelineDelay(ms) {
  await embedDelay(ms);
  log(`pipeline ${ms} ms: serial sync of ${PIPE_ITEMS} items`);
  const sid = createSource(`bench serial ${ms}`, PIPE_ITEMS);
  const s0 = cpuSnapshot();
  const { batches, wallMs } = await syncToEnd(sid, PIPE_ITEMS);
  const serial = summary(batches, wallMs);
  serial.cpu = cpuReport(s0, cpuSnapshot(), batches.length);
  serial.stored = verify(sid, PIPE_ITEMS, serial);
  log(`pipeline ${ms} ms: a run of ${PIPE_ITEMS} items`);
  await embedReset();
  const rid = createSource(`bench run ${ms}`, PIPE_ITEMS);
  const c0 = cpuSnapshot();
  const run = await runToEnd(rid, PIPE_ITEMS);
  run.cpu = cpuReport(c0, cpuSnapshot(), run.pages);
  run.machineBusyPct = run.cpu.machineBusyPct;
  run.embedMaxInFlight = (await embedStats()).maxInFlight;
  if (run.chunks !== serial.stored.chunks) throw new Error(`bench: the run stored ${run.chunks} chunks, the serial sync ${serial.stored.chunks}`);
  return {
    serial: { itemsPerS: serial.itemsPerS, batchesPerS: serial.batchesPerS, latencyMs: serial.latencyMs, cpu: serial.cpu },
    run,
    speedup: r2(run.itemsPerS / serial.itemsPerS),
  };
}

async function pipelinePhase() {
  const out = { items: PIPE_ITEMS, delays: {} };
  for (const ms of PIPE_DELAYS) out.delays[ms] = await pipelineDelay(ms);
  await embedDelay(PIPE_DELAYS[0]);
  log(`pipeline: 1 run of ${SCALE_ITEMS} items, then ${SOURCES} runs at once`);
  const single = await runToEnd(createSource('bench run single', SCALE_ITEMS), SCALE_ITEMS);
  const ids = [];
  for (let i = 0; i < SOURCES; i++) ids.push(createSource(`bench runs ${SOURCES} #${i}`, SCALE_ITEMS));
  const c0 = cpuSnapshot();
  const runs = await Promise.all(ids.map((id) => runToEnd(id, SCALE_ITEMS)));
  const cpu = cpuReport(c0, cpuSnapshot(), runs.reduce((n, r) => n + r.pages, 0));
  const per = runs.map((r) => r.itemsPerS);
  out.concurrent = {
    embedDelayMs: PIPE_DELAYS[0], sources: SOURCES, itemsPerSource: SCALE_ITEMS, single: single.itemsPerS,
    perSourceItemsPerS: { mean: r2(mean(per)), min: r2(Math.min(...per)), max: r2(Math.max(...per)) },
    perSourceLossPct: r2((1 - mean(per) / single.itemsPerS) * 100),
    machineBusyPct: cpu.machineBusyPct,
    aggregateItemsPerS: r2((SOURCES * SCALE_ITEMS) / Math.max(...runs.map((r) => r.seconds))),
    cpu,
  };
  out.workerMemory = workerMemory();
  return out;
}

// A micro-benchmark binary, once (every run of the bench runs it once:
// the spread over runs is reported like every other figure).
function micro(name) {
  const bin = path.join(BIN_DIR, name);
  const cases = JSON.parse(execFileSync(bin, [], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).cases;
  return cases.map((c) => ({ ...c, mbPerS: r2(c.mbPerS) }));
}

// Empty the tables a run fills, so that every run starts from the same
// state as the first, on a new database (the stack, its workers and their
// connections stay).  No ANALYZE: statistics of empty tables make the
// planner scan kb_chunks sequentially for the dedup query until
// autovacuum analyzes it again (seen: dedup growing to ~20 ms at 20,000
// rows within one sync); TRUNCATE leaves the tables "never analyzed",
// as on a new database.
function emptyTables() {
  sql(`TRUNCATE kb_chunks, kb_docs, kb_rest_items, kb_rest_runs, kb_rest_cursors, kb_rest_page_validators,
                kb_rest_audit, kb_oauth_tokens, kb_rate_waits, kb_rate_budgets, kb_sources;
       CHECKPOINT;`);
}

// A big database in seconds: PREFILL_SOURCES sources of other tenants with
// PREFILL_CHUNKS chunks and items in all (no embedding stored: the
// per-batch statements read the indexes on source_id, content_hash and
// item_key, not the vectors), then ANALYZE, before the new source exists.
function prefill() {
  const per = Math.ceil(PREFILL_CHUNKS / PREFILL_SOURCES);
  log(`prefilled: ${PREFILL_SOURCES} sources x ${per} chunks, in bulk`);
  const t = performance.now();
  sql(`INSERT INTO tenants (id, name)
         SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(t), 12, '0'))::uuid, 'Prefill ' || t FROM generate_series(1, 3) t
         ON CONFLICT DO NOTHING;
       INSERT INTO kb_sources (tenant_id, title, config)
         SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(s % 3 + 1), 12, '0'))::uuid, 'Prefilled ' || s,
                '{"baseUrl": "http://127.0.0.1:9/x", "textFields": ["t"]}'
         FROM generate_series(1, ${PREFILL_SOURCES}) s;
       INSERT INTO kb_docs (tenant_id, source_id, title, next_chunk_idx)
         SELECT tenant_id, id, title || ' — Sync 2026-01-01', ${per} FROM kb_sources WHERE title LIKE 'Prefilled %';
       INSERT INTO kb_chunks (tenant_id, doc_id, chunk_idx, title, content, metadata, allowed_roles, source_id, content_hash)
         SELECT d.tenant_id, d.id, g - 1, 'Item ' || g, 'Prefilled text of item ' || g || ' of ' || d.source_id, '{}',
                '{support,operations,admin}', d.source_id, encode(sha256(convert_to(d.source_id::text || ':' || g, 'UTF8')), 'hex')
         FROM kb_docs d, generate_series(1, ${per}) g WHERE d.title LIKE 'Prefilled %';
       INSERT INTO kb_rest_items (tenant_id, source_id, item_key, item_hash, chunk_hashes, title)
         SELECT tenant_id, source_id, 'id:' || chunk_idx, '', ARRAY[content_hash], title FROM kb_chunks;
       ANALYZE;`);
  return { chunks: +one(`SELECT count(*) FROM kb_chunks;`), sources: PREFILL_SOURCES, loadSeconds: r2((performance.now() - t) / 1000) };
}

// Statistics stay as prefill() left them for the whole phase: no
// autovacuum (or its ANALYZE) on the two tables whose statistics the
// per-batch plans read; restored at the end.
function autovacuum(on) {
  for (const t of ['kb_chunks', 'kb_rest_items']) {
    sql(on ? `ALTER TABLE ${t} RESET (autovacuum_enabled);` : `ALTER TABLE ${t} SET (autovacuum_enabled = false);`);
  }
}

// ANALYZEs of the two tables so far, manual and automatic.
function analyzeCount() {
  return +one(`SELECT sum(analyze_count + autoanalyze_count) FROM pg_stat_user_tables
               WHERE relname IN ('kb_chunks', 'kb_rest_items');`);
}

// The planner's estimate of a source's rows in kb_chunks.
function estimatedRows(id) {
  const out = execFileSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-c',
    `EXPLAIN (FORMAT JSON) SELECT 1 FROM kb_chunks WHERE source_id = '${id}'`, db()], { encoding: 'utf8' });
  return JSON.parse(out)[0].Plan['Plan Rows'];
}

// A statement's duration, ms, on the server's clock.
function timedMs(stmt) {
  const [[a], [b]] = sql(`SELECT extract(epoch FROM clock_timestamp()) * 1000; ${stmt}
                          SELECT extract(epoch FROM clock_timestamp()) * 1000;`);
  return r2(b - a);
}

// What of a sync the ANALYZE comparison keeps.
function syncFigures(s) {
  return { itemsPerS: s.itemsPerS, ownCodeAndDbMs: s.ownCodeAndDbMs, stageMeanMs: s.stageMeanMs,
    firstVsLast: { ownCodeAndDb: s.firstVsLast.ownCodeAndDb }, edges: s.edges, trend: s.trend,
    othersCpuPctOfMachine: s.cpu.othersCpuPctOfMachine };
}

// Issue 21: is an explicit ANALYZE kb_chunks after a run worth it?  The
// same new-source sync twice more: once with the statistics as they are
// (stale: they know neither the source just synced nor this one), then,
// after ANALYZE kb_chunks and ANALYZE kb_rest_items (each timed), once
// with statistics refreshed (they know every source but the new one).
async function analyzeComparison(firstId) {
  const stale = await fullSync('prefilled stale', ITEMS);
  const before = estimatedRows(firstId);
  const analyzeMs = { kb_chunks: timedMs('ANALYZE kb_chunks;'), kb_rest_items: timedMs('ANALYZE kb_rest_items;') };
  const after = estimatedRows(firstId);
  const chunks = +one(`SELECT count(*) FROM kb_chunks;`);
  const refreshed = await fullSync('prefilled analyzed', ITEMS);
  return {
    chunksWhenAnalyzed: chunks, analyzeMs,
    // The first new source's rows as the planner sees them (it has ITEMS).
    estimatedRowsOfSyncedSource: { before, after },
    stale: syncFigures(stale), refreshed: syncFigures(refreshed),
    refreshedVsStale: {
      ownCodeAndDbMean: r3(refreshed.ownCodeAndDbMs.mean / stale.ownCodeAndDbMs.mean),
      ownCodeAndDbLast: r3(refreshed.firstVsLast.ownCodeAndDb.last / stale.firstVsLast.ownCodeAndDb.last),
    },
  };
}

async function prefilledPhase() {
  const db = prefill();
  autovacuum(false);
  try {
    const a0 = analyzeCount();
    const s = await fullSync('prefilled', ITEMS);
    s.prefill = db;
    const id = one(`SELECT id FROM kb_sources WHERE title = 'bench prefilled';`);
    if (PREFILL_ANALYZE) s.analyze = await analyzeComparison(id);
    // ANALYZEs other than prefill()'s and the comparison's two: none.
    s.otherAnalyzes = analyzeCount() - a0 - (PREFILL_ANALYZE ? 2 : 0);
    return s;
  } finally {
    autovacuum(true);
  }
}

// The median, min and max over runs of every number in the runs' results
// (the same shape as one run's, with {median, min, max} for each number).
function spread(values) {
  const first = values[0];
  if (typeof first === 'number') {
    const v = [...values].sort((a, b) => a - b);
    const n = v.length;
    const median = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return { median: r3(median), min: r3(v[0]), max: r3(v[n - 1]) };
  }
  if (Array.isArray(first)) return first.map((_, i) => spread(values.map((x) => x[i])));
  if (first && typeof first === 'object') {
    const o = {};
    for (const k of Object.keys(first)) {
      if (['perProcess', 'series', 'stored', 'verified'].includes(k)) continue;
      o[k] = spread(values.map((x) => x[k]));
    }
    return o;
  }
  return first;	// strings (micro case names): the same in every run
}

function machine() {
  const cpu = os.cpus();
  let pg = '';
  try { pg = one('SELECT version();'); } catch { /* no stack */ }
  const settings = {};
  try {
    for (const [k, v] of sql(`SELECT name, setting || coalesce(unit, '') FROM pg_settings
                              WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'wal_level',
                                             'full_page_writes', 'max_wal_size', 'checkpoint_timeout');`)) settings[k] = v;
  } catch { /* no stack */ }
  return {
    cpu: cpu[0]?.model, cores: cpu.length, memoryGiB: r2(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`, node: process.version, postgres: pg, postgresSettings: settings,
    embeddingColumn: (() => { try { return one(`SELECT value FROM schema_info WHERE key = 'embedding_type';`); } catch { return null; } })(),
    fcgiWorkers: Number(env.RS_WORKERS || 8),
  };
}

// ---------- report ----------

function table(res) {
  return '\n' + markdown(res, path.relative(ROOT, OUT)) + `\n\nresults: ${path.relative(ROOT, OUT)}`;
}

// ---------- main ----------

// One run of the phases; returns its results.
async function runOnce(k) {
  const one = { memory: {} };
  if (PHASES.includes('remote') || PHASES.includes('scale')) {
    stackStart('remote');
    if (k > 0) emptyTables();
    await warmUp('remote');
    if (PHASES.includes('remote')) one.remote = await fullSync('remote', ITEMS);
    if (PHASES.includes('scale')) one.scale = await scalePhase();
    one.memory.remote = memSummary(fcgiMemory());
  }
  if (PHASES.includes('local')) {
    stackStart('local');
    if (k > 0 || one.remote || one.scale) emptyTables();
    await warmUp('local');
    one.local = await fullSync('local', ITEMS);
    one.memory.local = memSummary(fcgiMemory());
  }
  if (PHASES.includes('prefilled')) {
    if (!PHASES.includes('local')) {
      stackStart('local');
      await warmUp('local');	// connections first, as in phase local
    }
    emptyTables();
    one.prefilled = await prefilledPhase();
  }
  if (PHASES.includes('micro')) one.micro = { chunk: micro('micro_chunk'), json: micro('micro_json') };
  if (PHASES.includes('pipeline')) {
    // One run worker per source of the concurrent runs.
    stackStart('remote', { RS_RUN_WORKERS: String(SOURCES) });
    emptyTables();
    await warmUp('remote');
    one.pipeline = await pipelinePhase();
  }
  return one;
}

const started = new Date();
const OUT = env.BENCH_OUT || path.join(ROOT, 'bench/results', `${started.toISOString().slice(0, 10)}.json`);
fs.mkdirSync(path.dirname(OUT), { recursive: true });
const res = {
  date: started.toISOString(),
  loadAverageAtStart: os.loadavg().map(r2),
  config: { items: ITEMS, pageSize: PAGE, scaleItems: SCALE_ITEMS, sources: SOURCES, edgeBatches: EDGE,
    embedDelayMs: Number(env.BENCH_EMBED_DELAY_MS ?? 50), phases: PHASES, runs: RUNS,
    ...(PHASES.includes('pipeline') ? { pipeItems: PIPE_ITEMS, pipeDelays: PIPE_DELAYS } : {}),
    ...(PHASES.includes('prefilled') ? { prefillChunks: PREFILL_CHUNKS, prefillSources: PREFILL_SOURCES, prefillAnalyze: PREFILL_ANALYZE } : {}) },
};
const t0 = performance.now();
const runs = [];
for (let k = 0; k < RUNS; k++) {
  log(`run ${k + 1} of ${RUNS}`);
  const t = performance.now();
  const one = await runOnce(k);
  one.seconds = r2((performance.now() - t) / 1000);
  one.loadAverageAtEnd = os.loadavg().map(r2);
  runs.push(one);
}
// Every figure: median, min and max over the runs.
Object.assign(res, spread(runs.map(({ seconds, loadAverageAtEnd, ...r }) => r)));
res.runs = runs;
res.machine = machine();
if (!PHASES.every((p) => p === 'micro')) {
  res.database = Object.fromEntries(sql(`SELECT relname, pg_size_pretty(pg_total_relation_size(oid))
                                         FROM pg_class WHERE relname IN ('kb_chunks', 'kb_docs', 'kb_rest_cursors');`));
}
res.loadAverageAtEnd = os.loadavg().map(r2);

// Targets, judged on the medians.  Flatness is judged on own code + DB
// (total - fetch - embed): a fixed embeddings wait would dilute it.
const med = (x) => x.median;
res.targets = [];
if (res.remote) {
  res.targets.push({ what: 'own code + DB per 50-item batch, mean ms (remote embedder)', value: med(res.remote.ownCodeAndDbMs.mean), target: '<= 4', met: med(res.remote.ownCodeAndDbMs.mean) <= 4 });
  res.targets.push({ what: `last ${EDGE} / first ${EDGE} batches, own code + DB (remote embedder)`, value: med(res.remote.firstVsLast.ownCodeAndDb.ratio), target: '<= 1.2', met: med(res.remote.firstVsLast.ownCodeAndDb.ratio) <= 1.2 });
}
if (res.local) res.targets.push({ what: `last ${EDGE} / first ${EDGE} batches, own code + DB (local embedder)`, value: med(res.local.firstVsLast.ownCodeAndDb.ratio), target: '<= 1.2', met: med(res.local.firstVsLast.ownCodeAndDb.ratio) <= 1.2 });
const hwms = Object.values(res.memory).map((m) => m.maxHwmMiB.max);
if (hwms.length) res.targets.push({ what: 'peak RSS of a rest_batch process, MiB (max over runs)', value: Math.max(...hwms), target: '< 64', met: Math.max(...hwms) < 64 });
if (res.prefilled) {
  res.targets.push({ what: `prefilled database: last ${EDGE} / first ${EDGE} batches, own code + DB`, value: med(res.prefilled.firstVsLast.ownCodeAndDb.ratio), target: '<= 1.2', met: med(res.prefilled.firstVsLast.ownCodeAndDb.ratio) <= 1.2 });
  if (res.local) {
    const r = r3(med(res.prefilled.firstVsLast.ownCodeAndDb.last) / med(res.local.firstVsLast.ownCodeAndDb.last));
    res.targets.push({ what: `prefilled / empty database, own code + DB of the last ${EDGE} batches`, value: r, target: '<= 1.3', met: r <= 1.3 });
  }
}
if (res.pipeline) {
  for (const [ms, want] of [['50', 3], ['300', 3.5]]) {
    const d = res.pipeline.delays[ms];
    if (d) res.targets.push({ what: `pipelined run / serial sync, items/s, ${ms} ms embeddings server`, value: med(d.speedup), target: `>= ${want}`, met: med(d.speedup) >= want });
  }
  const c = res.pipeline.concurrent;
  res.targets.push({ what: `per-source throughput lost with ${med(c.sources)} runs at once, %`, value: med(c.perSourceLossPct), target: '< 20', met: med(c.perSourceLossPct) < 20 });
  res.targets.push({ what: 'peak RSS of a run worker, MiB (max over runs)', value: res.pipeline.workerMemory.maxHwmMiB.max, target: '< 64', met: res.pipeline.workerMemory.maxHwmMiB.max < 64 });
}
if (res.scale) res.targets.push({ what: `per-source throughput lost with ${SOURCES} sources at once, %`, value: med(res.scale.perSourceLossPct), target: '< 20', met: med(res.scale.perSourceLossPct) < 20 });
res.benchSeconds = r2((performance.now() - t0) / 1000);
fs.writeFileSync(OUT, JSON.stringify(res, null, 2) + '\n');
console.log(table(res));
console.log(`bench took ${res.benchSeconds} s`);
