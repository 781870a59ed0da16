// Issue 4: the documented alternative to basic auth,
// nginx/restsync-auth-request.conf.in.  The test starts its own nginx with
// that template (rendered as scripts/stack.sh renders it) in front of the
// running stack's FastCGI sockets, and a tiny identity service in this
// process; both are stopped and removed at the end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { ADMIN, ROOT, VAR, basic, createSource, cursorRow, dummyConfig, sql, upstreamLog, upstreamReset } from './lib.mjs';

const TENANT = '00000000-0000-4000-8000-0000000000c3';
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

// Sessions the identity service knows.
const SESSIONS = {
  'tok-admin': { code: 200, user: 'admin' },
  'tok-viewer': { code: 200, user: 'viewer' },
  'tok-nouser': { code: 200 },			// says yes but names nobody
  'tok-denied': { code: 403 },
  'tok-broken': { code: 500 },
};

let idp, idpPort, dir, port, base, victim;
const idpSeen = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// close() waits for nginx's kept-alive connections: end them.
function closeIdp() {
  const done = new Promise((r) => idp.close(r));
  idp.closeAllConnections();
  return done;
}

function nginx(...args) {
  return execFileSync('nginx', ['-p', path.join(dir, 'nginx'), '-c', path.join(dir, 'nginx/nginx.conf'),
    '-e', path.join(dir, 'log/nginx-error.log'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

before(async () => {
  idp = http.createServer((req, res) => {
    const cookie = /(?:^|;\s*)rs_session=([^;]+)/.exec(req.headers.cookie || '');
    idpSeen.push({ url: req.url, method: req.method, headers: req.headers });
    const s = cookie ? SESSIONS[cookie[1]] : null;
    if (!s) { res.writeHead(401); return res.end(); }
    res.writeHead(s.code, s.user ? { 'X-Auth-User': s.user } : {});
    res.end();
  });
  await new Promise((r) => idp.listen(0, '127.0.0.1', r));
  idpPort = idp.address().port;

  // A state folder of its own, sharing the stack's FastCGI sockets.
  dir = fs.mkdtempSync(path.join(VAR, 'authreq-'));
  fs.chmodSync(dir, 0o755);	// nginx's workers run as the service user
  for (const d of ['run', 'log', 'nginx/tmp']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.symlinkSync(path.join(VAR, 'run/fcgi'), path.join(dir, 'run/fcgi'));
  fs.copyFileSync(path.join(VAR, 'nginx/endpoints.map'), path.join(dir, 'nginx/endpoints.map'));
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'restsync'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'restsync'], { encoding: 'utf8' }));
    fs.chownSync(path.join(dir, 'nginx/tmp'), uid, gid);
  }
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const conf = fs.readFileSync(path.join(ROOT, 'nginx/restsync-auth-request.conf.in'), 'utf8')
    .replaceAll('@VAR@', dir).replaceAll('@ROOT@', ROOT).replaceAll('@PORT@', String(port))
    .replaceAll('@USER@', asRoot ? 'user restsync restsync;' : '')
    .replaceAll('@IDP@', `127.0.0.1:${idpPort}`);
  fs.writeFileSync(path.join(dir, 'nginx/nginx.conf'), conf);
  nginx('-q', '-t');
  nginx();
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch { /* not yet */ }
    if (i > 100) throw new Error('auth_request nginx did not start');
    await new Promise((r) => setTimeout(r, 50));
  }

  sql(`INSERT INTO tenants (id, name) VALUES (:'p1', 'auth_request tenant') ON CONFLICT DO NOTHING;`, [TENANT]);
  victim = createSource('auth_request victim', dummyConfig(), { tenant: TENANT });
});

after(async () => {
  try { nginx('-s', 'quit'); } catch { /* already gone */ }
  for (let i = 0; i < 50 && fs.existsSync(path.join(dir, 'run/nginx.pid')); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  await closeIdp();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function post(pathname, { session, headers = {}, body = { sourceId: victim } } = {}) {
  const h = { 'Content-Type': 'application/json', ...headers };
  if (session) h.Cookie = `rs_session=${session}`;
  const res = await fetch(base + pathname, { method: 'POST', headers: h, body: JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* nginx page */ }
  return { status: res.status, headers: res.headers, text, json };
}

function fingerprint() {
  return sql(`SELECT (SELECT count(*) FROM kb_chunks), (SELECT count(*) FROM kb_docs),
    (SELECT md5(coalesce(string_agg(s::text, '|' ORDER BY id), '')) FROM kb_sources s),
    (SELECT md5(coalesce(string_agg(c::text, '|' ORDER BY source_id), '')) FROM kb_rest_cursors c);`)[0].join(' ');
}

async function refused(fn) {
  await upstreamReset();
  const fp = fingerprint();
  const r = await fn();
  assert.equal(fingerprint(), fp, 'database changed by a refused request');
  assert.deepEqual(await upstreamLog(), []);
  return r;
}

const FORGED = {
  'X-Auth-User': 'admin', 'X-Remote-User': 'admin', 'Remote-User': 'admin', 'X-Forwarded-User': 'admin',
};

test('auth_request: the identity service\'s user reaches the program as REMOTE_USER', async () => {
  idpSeen.length = 0;
  const r = await post('/api/backoffice/rest-batch', { session: 'tok-admin' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items, 50);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.equal(cursorRow(victim).pages, 1);
  const lines = fs.readFileSync(path.join(VAR, 'log/rest_batch.log'), 'utf8').split('\n')
    .filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((l) => l.source_id === victim);
  assert.equal(lines.at(-1).user, 'admin');
  // The subrequest: GET /auth with the original URI and method, no body.
  assert.equal(idpSeen.length, 1);
  assert.equal(idpSeen[0].method, 'GET');
  assert.equal(idpSeen[0].url, '/auth');
  assert.equal(idpSeen[0].headers['x-original-uri'], '/api/backoffice/rest-batch');
  assert.equal(idpSeen[0].headers['x-original-method'], 'POST');
  assert.equal(idpSeen[0].headers['content-length'], undefined);
});

test('auth_request: no session, or a session the service refuses, is stopped by nginx', async () => {
  const none = await refused(() => post('/api/backoffice/rest-batch', {}));
  assert.equal(none.status, 401);
  const denied = await refused(() => post('/api/backoffice/rest-batch', { session: 'tok-denied' }));
  assert.equal(denied.status, 403);
  const broken = await refused(() => post('/api/backoffice/rest-batch', { session: 'tok-broken' }));
  assert.equal(broken.status, 500);
  const unknown = await refused(() => post('/api/backoffice/rest-batch', { session: 'tok-forged' }));
  assert.equal(unknown.status, 401);
});

test('auth_request: client identity headers and Basic credentials are not identity', async () => {
  // Without a session: forged headers, even with the basic-auth stack's
  // valid admin password, get nowhere.
  for (const h of [FORGED, { Authorization: basic(ADMIN) }, { ...FORGED, Authorization: basic(ADMIN) }]) {
    const r = await refused(() => post('/api/backoffice/rest-batch', { headers: h }));
    assert.equal(r.status, 401, JSON.stringify(h));
  }
  // A viewer's session with forged admin headers and an admin Basic header
  // ($remote_user would say "admin"): still the viewer.
  const v = await refused(() => post('/api/backoffice/rest-batch', {
    session: 'tok-viewer', headers: { ...FORGED, Authorization: basic(['admin', 'x']) },
  }));
  assert.equal(v.status, 403, v.text);
  assert.deepEqual(v.json, { ok: false, error: 'not a platform admin' });
  // The service says yes but names nobody: the program fails closed.
  const n = await refused(() => post('/api/backoffice/rest-batch', {
    session: 'tok-nouser', headers: { ...FORGED, Authorization: basic(['admin', 'x']) },
  }));
  assert.equal(n.status, 401, n.text);
  assert.deepEqual(n.json, { ok: false, error: 'authentication required' });
});

test('auth_request: the page is behind the service too, with its headers', async () => {
  const anon = await fetch(`${base}/backoffice/rest-sources`);
  assert.equal(anon.status, 401);
  const page = await fetch(`${base}/backoffice/rest-sources`, { headers: { Cookie: 'rs_session=tok-admin' } });
  // The page is part of the product: a missing static/rest-sources.html
  // (nginx's 404) fails here.
  assert.equal(page.status, 200, 'static/rest-sources.html must be served');
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(page.headers.get('content-security-policy'), /default-src 'self'; frame-ancestors 'none'/);
  assert.match(page.headers.get('x-content-type-options'), /nosniff/);
  assert.match(page.headers.get('referrer-policy'), /no-referrer/);
  // The subrequest location is internal.
  const internal = await fetch(`${base}/_restsync_auth`, { headers: { Cookie: 'rs_session=tok-admin' } });
  assert.equal(internal.status, 404);
});

test('auth_request: CSRF checks still apply behind the identity service', async () => {
  const r = await refused(() => post('/api/backoffice/rest-batch', {
    session: 'tok-admin', headers: { Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site' },
  }));
  assert.equal(r.status, 403);
  assert.equal(r.json.error, 'cross-site request refused');
});

test('auth_request: the identity service down means 500, not open', async () => {
  await closeIdp();
  const r = await refused(() => post('/api/backoffice/rest-batch', { session: 'tok-admin' }));
  assert.equal(r.status, 500);
  // Restart it so that after() can close it again.
  await new Promise((r2) => idp.listen(idpPort, '127.0.0.1', r2));
});
