// Benchmark upstream: a large DummyJSON-shaped /products catalogue.
//   node bench/upstream.mjs PORT
// GET /bench/products?skip=S&limit=L            BENCH_ITEMS items (20000)
// GET /bench/n/<N>/products?skip=S&limit=L      a catalogue of N items
// answers {products, total, skip, limit} like dummyjson.com: limit defaults
// to 30, 0 means all; skip past the end gives an empty page.
// Item i is products.json[i % 194] with a distinct id, sku, title and a
// description extended by a deterministic sentence, so every item's text
// (and so every chunk hash) differs from every other's.
// GET /__stats: requests served, bytes sent.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const base = JSON.parse(fs.readFileSync(path.join(here, '../data/dummyjson/products.json'), 'utf8'));
const port = Number(process.argv[2] || process.env.BENCH_UPSTREAM_PORT || 28090);
const defaultItems = Number(process.env.BENCH_ITEMS || 20000);
const MAX_ITEMS = 10_000_000;

// A vocabulary from the catalogue's own descriptions.
const vocab = [...new Set(base.flatMap((p) => p.description.toLowerCase().match(/[a-z]{4,}/g) || []))].sort();

// xorshift32, seeded per item: the same item always reads the same.
function rng(seed) {
  let x = (seed * 2654435761) >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

function item(i) {
  const p = base[i % base.length];
  const edition = Math.floor(i / base.length) + 1;
  const r = rng(i + 1);
  const words = [];
  for (let k = 0; k < 12; k++) words.push(vocab[Math.floor(r() * vocab.length)]);
  return {
    ...p,
    id: i + 1,
    title: `${p.title} (edition ${edition})`,
    description: `${p.description} Edition ${edition} of item ${i + 1}: ${words.join(' ')}.`,
    sku: `${p.sku}-${String(i + 1).padStart(7, '0')}`,
    tags: [...p.tags, `edition-${edition}`],
  };
}

let requests = 0;
let bytes = 0;

function send(res, code, body) {
  const text = JSON.stringify(body);
  bytes += Buffer.byteLength(text);
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(text);
}

function num(v, dflt) {
  if (v === null || v === '') return dflt;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : NaN;
}

function products(total, q, res) {
  const skip = num(q.get('skip'), 0);
  let limit = num(q.get('limit'), 30);
  if (Number.isNaN(skip) || Number.isNaN(limit)) return send(res, 400, { message: 'bad skip/limit' });
  if (limit === 0 || limit > total) limit = total;
  const end = Math.min(total, skip + limit);
  const page = [];
  for (let i = skip; i < end; i++) page.push(item(i));
  return send(res, 200, { products: page, total, skip, limit: page.length });
}

const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  requests++;
  if (req.method !== 'GET') return send(res, 405, { message: 'GET only' });
  if (u.pathname === '/__stats') return send(res, 200, { requests, bytes, defaultItems });
  if (u.pathname === '/bench/products') return products(defaultItems, u.searchParams, res);
  const m = /^\/bench\/n\/(\d{1,8})\/products$/.exec(u.pathname);
  if (m && Number(m[1]) <= MAX_ITEMS) return products(Number(m[1]), u.searchParams, res);
  return send(res, 404, { message: 'not found' });
});
server.keepAliveTimeout = 30000;
server.listen(port, '127.0.0.1', () => {
  console.log(`bench upstream on http://127.0.0.1:${port} (${defaultItems} items)`);
});
// Say why the process ends (a bench run once lost this imitation without a
// word in its log): a signal by name, an exception with its stack.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, () => { console.error(`${new Date().toISOString()} ${sig}: stopping`); process.exit(0); });
}
process.on('uncaughtException', (e) => {
  console.error(`${new Date().toISOString()} uncaught: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
process.on('exit', (code) => { console.error(`${new Date().toISOString()} exit ${code}`); });
