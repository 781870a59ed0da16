// Local imitations of upstream APIs for the integration tests.
//   node tests/upstream/server.mjs PORT
// Every request is logged; GET /__log returns the log, POST /__reset
// clears it.  Routes are documented next to their handlers.  More routes
// come from tests/upstream/routes/*.mjs, each exporting
//   export const routes = { '/path'(query, res, req, ctx) { ... } }
// where ctx = { send, num, products, counters }.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const products = JSON.parse(fs.readFileSync(path.join(here, '../../data/dummyjson/products.json'), 'utf8'));
const port = Number(process.argv[2] || 18090);
let log = [];
let counters = {};

function send(res, code, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', ...headers });
  res.end(text);
}

function num(v, dflt) {
  if (v === null || v === undefined || v === '') return dflt;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : NaN;
}

const routes = {
  // DummyJSON /products: skip, limit (default 30, 0 = all); delay=MS
  // answers after MS (a slow API for the tests).
  '/dummyjson/products'(q, res) {
    const skip = num(q.get('skip'), 0);
    let limit = num(q.get('limit'), 30);
    const delay = num(q.get('delay'), 0);
    if (Number.isNaN(skip) || Number.isNaN(limit) || Number.isNaN(delay)) return send(res, 400, { message: 'bad skip/limit' });
    if (limit === 0 || limit > products.length) limit = products.length;
    const page = products.slice(skip, skip + limit);
    setTimeout(() => send(res, 200, { products: page, total: products.length, skip, limit: page.length }), delay);
  },
  // Cursor API: ?cursor=<id>&limit=N -> {data, next_cursor} (no has_more).
  '/cursor/items'(q, res) {
    const limit = num(q.get('limit'), 25);
    const cursor = q.get('cursor');
    const start = cursor ? products.findIndex((p) => String(p.id) === cursor) : 0;
    if (start < 0) return send(res, 400, { error: 'bad cursor' });
    const page = products.slice(start, start + limit);
    const nxt = products[start + limit];
    send(res, 200, { data: page, next_cursor: nxt ? String(nxt.id) : null });
  },
  // Cursor API whose next is an absolute URL: {items, links: {next}}.
  '/cursor-url/items'(q, res, req) {
    const limit = num(q.get('limit'), 40);
    const after = num(q.get('after'), 0);
    const page = products.slice(after, after + limit);
    const more = after + limit < products.length;
    const next = more ? `http://${req.headers.host}/cursor-url/items?after=${after + limit}&limit=${limit}` : null;
    send(res, 200, { items: page, links: { next } });
  },
  // Page-number API, 1-based: ?page=N&per_page=M -> {data: {items}}.
  '/pages/items'(q, res) {
    const pg = num(q.get('page'), 1);
    const per = num(q.get('per_page'), 20);
    if (pg < 1) return send(res, 400, { error: 'page starts at 1' });
    send(res, 200, { data: { items: products.slice((pg - 1) * per, pg * per) } });
  },
  // Faults.
  '/fault/html'(q, res) {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<html><body>Maintenance</body></html>');
  },
  '/fault/notarray'(q, res) { send(res, 200, { products: { a: 1 }, total: 1 }); },
  '/fault/badjson'(q, res) { send(res, 200, '{"products": [1, 2,'); },
  '/fault/status'(q, res) {
    send(res, num(q.get('code'), 500), { error: 'upstream says no <script>alert(1)</script>' });
  },
  '/fault/slow'(q, res) { setTimeout(() => send(res, 200, { products: [] }), 6000); },
  '/fault/big'(q, res) {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{"products":["' + 'x'.repeat(20 * 1024 * 1024) + '"]}');
  },
  '/fault/deep'(q, res) {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{"products":' + '['.repeat(100000) + ']'.repeat(100000) + '}');
  },
  // 503 on the first call per key, then the DummyJSON page.
  '/fault/flaky'(q, res) {
    const k = q.get('key') || 'x';
    counters[k] = (counters[k] || 0) + 1;
    if (counters[k] === 1) return send(res, 503, { error: 'try later' });
    routes['/dummyjson/products'](q, res);
  },
  // Redirect to another origin (must not be followed).
  '/fault/redirect-away'(q, res) {
    res.writeHead(302, { Location: 'http://127.0.0.2:1/steal' });
    res.end();
  },
  // Same-origin redirect to the DummyJSON route.
  '/redirect/products'(q, res) {
    res.writeHead(301, { Location: '/dummyjson/products?' + q.toString() });
    res.end();
  },
  // Requires "Authorization: Bearer s3cret-token-123" (else 401).
  '/auth/products'(q, res, req) {
    if (req.headers.authorization !== 'Bearer s3cret-token-123') return send(res, 401, { message: 'bad token' });
    routes['/dummyjson/products'](q, res);
  },
};

const ctx = { send, num, products, get counters() { return counters; } };
const extra = path.join(here, 'routes');
for (const f of fs.existsSync(extra) ? fs.readdirSync(extra).sort() : []) {
  if (!f.endsWith('.mjs')) continue;
  const mod = await import(path.join(extra, f));
  for (const [k, h] of Object.entries(mod.routes)) {
    if (routes[k]) throw new Error(`duplicate upstream route ${k} in ${f}`);
    routes[k] = (q, res, req) => h(q, res, req, ctx);
  }
}

const server = http.createServer((req, res) => {
  const u = new URL(req.url, `http://${req.headers.host}`);
  if (u.pathname === '/__log') return send(res, 200, log);
  if (u.pathname === '/__reset') { log = []; counters = {}; return send(res, 200, { ok: true }); }
  log.push({ method: req.method, url: req.url, headers: req.headers });
  const h = routes[u.pathname];
  if (!h) return send(res, 404, { message: 'not found' });
  h(u.searchParams, res, req);
});
server.listen(port, '127.0.0.1', () => console.log(`upstream listening on ${port}`));
