// Issue 4: attacks on the admin zone and on the fetcher, through nginx,
// against a real PostgreSQL.  Every refused request is checked to have
// changed nothing (database fingerprint, upstream request log).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  ADMIN, BASE, DB, PORT, ROOT, UPSTREAM, VAR, VIEWER, basic, batch, call, counts, createSource,
  cursorRow, dummyConfig, one, secretAad, sql, syncToEnd, upstreamLog, upstreamReset,
} from './lib.mjs';
import { SEC_CORE, SEC_KEY } from '../upstream/routes/security.mjs';

const T1 = '00000000-0000-4000-8000-0000000000c1';
const T2 = '00000000-0000-4000-8000-0000000000c2';
const PROVIDER = 'secapi';
const EVIL = 'http://evil.example';

// Every response body and header value the tests saw, for the secret grep.
const seen = [];
async function req(pathname, opts = {}) {
  const r = await call(pathname, opts);
  seen.push(r.text, JSON.stringify([...r.headers]));
  return r;
}
const runBatch = (id, opts = {}) => req('/api/backoffice/rest-batch', { body: { sourceId: id }, ...opts });

// The state-changing endpoints and a body each would act on.
let victim;	// a source the attacks try to sync, reset, update or delete
const STATE_CHANGING = () => [
  ['rest-batch', { sourceId: victim }],
  ['rest-sources', { tenantId: T1, title: 'CSRF-created', config: dummyConfig() }],
  ['rest-sources-update', { sourceId: victim, title: 'CSRF-renamed', enabled: false }],
  ['rest-sources-reset', { sourceId: victim }],
  ['rest-delete', { sourceId: victim }],
];

// What a refused request must not change.
function fingerprint() {
  return sql(`SELECT (SELECT count(*) FROM kb_chunks), (SELECT count(*) FROM kb_docs),
    (SELECT md5(coalesce(string_agg(s::text, '|' ORDER BY id), '')) FROM kb_sources s),
    (SELECT md5(coalesce(string_agg(c::text, '|' ORDER BY source_id), '')) FROM kb_rest_cursors c),
    (SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY tenant_id, provider), '')) FROM integration_secrets x);`)[0].join(' ');
}

async function refusedAndUnchanged(fn) {
  await upstreamReset();
  const fp = fingerprint();
  const r = await fn();
  assert.equal(fingerprint(), fp, 'database changed by a refused request');
  assert.deepEqual(await upstreamLog(), [], 'upstream contacted by a refused request');
  return r;
}

function keyHex() {
  if (process.env.RESTSYNC_SECRET_KEY) return null;
  return fs.readFileSync(path.join(VAR, 'secret.key'), 'utf8').trim();
}

// AES-256-GCM as common/base/secret.c does: AAD bound to tenant, provider and
// origin (version 2, sql/007), ciphertext || tag, 12-byte nonce.
const ORIGIN = new URL(UPSTREAM).origin;
function encrypt(tenant, provider, plaintext, key = Buffer.from(keyHex(), 'hex')) {
  const nonce = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(secretAad(tenant, provider, ORIGIN));
  const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final(), c.getAuthTag()]);
  return { ct: ct.toString('hex'), nonce: nonce.toString('hex') };
}

function storeSecret(tenant, provider, { ct, nonce }) {
  sql(`INSERT INTO integration_secrets (tenant_id, provider, origin, ciphertext, nonce, aad_version)
       VALUES (:'p1', :'p2', :'p5', decode(:'p3', 'hex'), decode(:'p4', 'hex'), 2)
       ON CONFLICT (tenant_id, provider, origin) DO UPDATE
       SET ciphertext = EXCLUDED.ciphertext, nonce = EXCLUDED.nonce, aad_version = 2, updated_at = now();`,
  [tenant, provider, ct, nonce, ORIGIN]);
}

function authConfig(route, extra = {}) {
  return dummyConfig({
    baseUrl: `${UPSTREAM}${route}`, requiresAuth: true, provider: PROVIDER,
    headersTemplate: { Authorization: 'Bearer {{API_KEY}}' },
    queryTemplate: { api_key: '{{API_KEY}}' },
    ...extra,
  });
}

// Every file under dir, recursively, as one string.
function readTree(dir) {
  let out = '';
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out += readTree(p);
    else if (e.isFile()) out += fs.readFileSync(p, 'latin1');
  }
  return out;
}

function pgDump() {
  return execFileSync('pg_dump', ['--data-only', '--no-owner', '-d', DB], { encoding: 'latin1', maxBuffer: 1 << 30 });
}

before(() => {
  sql(`INSERT INTO tenants (id, name) VALUES (:'p1', 'Security tenant 1'), (:'p2', 'Security tenant 2')
       ON CONFLICT DO NOTHING;`, [T1, T2]);
  victim = createSource('Security victim', dummyConfig(), { tenant: T1 });
});

// ---- Identity -------------------------------------------------------------

const FORGED = ['X-Remote-User', 'X-Forwarded-User', 'Remote-User', 'X-User', 'X-Auth-User',
  'X-Forwarded-Preferred-Username', 'X-Authenticated-User'];
const forgedHeaders = (who) => Object.fromEntries(FORGED.map((h) => [h, who]));

test('identity: forged identity headers without credentials get 401 and change nothing', async () => {
  for (const h of [...FORGED, 'Remote_User']) {
    const r = await refusedAndUnchanged(() => runBatch(victim, { user: null, headers: { [h]: 'admin' } }));
    assert.equal(r.status, 401, `${h}: ${r.text}`);
    assert.match(r.headers.get('www-authenticate'), /^Basic realm="restsync backoffice"/);
  }
  const r = await refusedAndUnchanged(() => runBatch(victim, { user: null, headers: forgedHeaders('admin') }));
  assert.equal(r.status, 401);
  // A wrong password with forged headers: still 401.
  const w = await refusedAndUnchanged(() => runBatch(victim, {
    user: null, headers: { Authorization: basic(['admin', 'wrong']), ...forgedHeaders('admin') },
  }));
  assert.equal(w.status, 401);
  // Every endpoint, not only rest-batch.
  for (const [ep, body] of STATE_CHANGING()) {
    const e = await refusedAndUnchanged(() => req(`/api/backoffice/${ep}`, { body, user: null, headers: forgedHeaders('admin') }));
    assert.equal(e.status, 401, `${ep}: ${e.text}`);
  }
});

test('identity: a non-admin with forged admin headers gets 403 and changes nothing', async () => {
  for (const [ep, body] of STATE_CHANGING()) {
    const r = await refusedAndUnchanged(() => req(`/api/backoffice/${ep}`, {
      body, user: VIEWER, headers: forgedHeaders('admin'),
    }));
    assert.equal(r.status, 403, `${ep}: ${r.text}`);
    assert.deepEqual(r.json, { ok: false, error: 'not a platform admin' });
  }
  for (const ep of ['rest-sources', 'tenants']) {
    const g = await req(`/api/backoffice/${ep}`, { method: 'GET', user: VIEWER, headers: forgedHeaders('admin') });
    assert.equal(g.status, 403, `${ep}: ${g.text}`);
    assert.doesNotMatch(g.text, /Security victim/);
  }
});

test('identity: the programs see the nginx-validated user, never a forged one', async () => {
  const id = createSource('Identity check', dummyConfig(), { tenant: T1 });
  const r = await runBatch(id, { headers: forgedHeaders('forged-user-77') });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items, 50);
  const lines = fs.readFileSync(path.join(VAR, 'log/rest_batch.log'), 'utf8').split('\n')
    .filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const mine = lines.filter((l) => l.source_id === id);
  assert.equal(mine.length, 1);
  assert.equal(mine[0].user, 'admin');
  assert.equal(mine[0].http, 200);
  assert.equal(lines.filter((l) => l.user === 'forged-user-77').length, 0);
});

test('authorization: tenant ids come from the database, never from the request', async () => {
  const id = createSource('Tenant scope', dummyConfig(), { tenant: T1 });
  // Extra fields naming another tenant are ignored: the rows land in the
  // source's own tenant.
  const r = await runBatch(id, { body: { sourceId: id, tenantId: T2, tenant_id: T2 } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(sql(`SELECT DISTINCT tenant_id FROM kb_chunks WHERE source_id = :'p1'
    UNION SELECT tenant_id FROM kb_docs WHERE source_id = :'p1'
    UNION SELECT tenant_id FROM kb_rest_cursors WHERE source_id = :'p1';`, [id]), [[T1]]);
  // A source cannot be moved to another tenant through an update.
  const u = await refusedAndUnchanged(() => req('/api/backoffice/rest-sources-update', { body: { sourceId: id, tenantId: T2 } }));
  assert.equal(u.status, 400, u.text);
  assert.match(u.json.error, /tenantId/);
  assert.equal(one(`SELECT tenant_id FROM kb_sources WHERE id = :'p1';`, [id]), T1);
});

// ---- CSRF and methods -------------------------------------------------------

test('CSRF: cross-site form posts are refused with 403 and change nothing', async () => {
  for (const [ep, body] of STATE_CHANGING()) {
    const forms = [
      { 'Content-Type': 'application/x-www-form-urlencoded', raw: new URLSearchParams({ sourceId: victim }).toString() },
      { 'Content-Type': 'text/plain', raw: JSON.stringify(body) },
      { 'Content-Type': 'multipart/form-data; boundary=x', raw: `--x\r\nContent-Disposition: form-data; name="sourceId"\r\n\r\n${victim}\r\n--x--\r\n` },
    ];
    for (const f of forms) {
      const r = await refusedAndUnchanged(() => req(`/api/backoffice/${ep}`, {
        raw: f.raw,
        headers: { 'Content-Type': f['Content-Type'], Origin: EVIL, 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate' },
      }));
      assert.equal(r.status, 403, `${ep} ${f['Content-Type']}: ${r.text}`);
      assert.deepEqual(r.json, { ok: false, error: 'cross-site request refused' });
    }
    // Old browsers send Origin but no Sec-Fetch-Site.
    const o = await refusedAndUnchanged(() => req(`/api/backoffice/${ep}`, {
      raw: JSON.stringify(body), headers: { 'Content-Type': 'text/plain', Origin: EVIL },
    }));
    assert.equal(o.status, 403, o.text);
    // A form posted without Origin (a non-browser client) is still not JSON.
    const n = await refusedAndUnchanged(() => req(`/api/backoffice/${ep}`, {
      raw: 'sourceId=' + victim, headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    }));
    assert.equal(n.status, 415, n.text);
    assert.equal(n.json.error, 'Content-Type must be application/json');
  }
});

test('CSRF: cross-origin fetches are refused with 403 and change nothing', async () => {
  const variants = [
    { Origin: EVIL, 'Sec-Fetch-Site': 'cross-site' },
    { Origin: EVIL },
    { 'Sec-Fetch-Site': 'cross-site' },
    { 'Sec-Fetch-Site': 'same-site' },
    { Origin: 'null', 'Sec-Fetch-Site': 'cross-site' },
    { Origin: 'null' },
    { Origin: `${BASE}.evil.example` },
    { Origin: `http://127.0.0.1:${PORT + 1}` },
    { Origin: `https://127.0.0.1:${PORT}` },
    { Origin: BASE, 'Sec-Fetch-Site': 'cross-site' },
  ];
  for (const [ep, body] of STATE_CHANGING()) {
    for (const h of variants) {
      const r = await refusedAndUnchanged(() => req(`/api/backoffice/${ep}`, { body, headers: { ...h, 'Sec-Fetch-Mode': 'cors' } }));
      assert.equal(r.status, 403, `${ep} ${JSON.stringify(h)}: ${r.text}`);
      assert.equal(r.json.error, 'cross-site request refused');
    }
  }
  // The page's own same-origin request goes through.
  const id = createSource('Same-origin', dummyConfig(), { tenant: T1 });
  const ok = await runBatch(id, { headers: { Origin: BASE, 'Sec-Fetch-Site': 'same-origin', 'Sec-Fetch-Mode': 'cors' } });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.items, 50);
});

test('methods: state-changing endpoints answer 405 to anything but POST', async () => {
  for (const [ep, body] of STATE_CHANGING()) {
    const methods = ['PUT', 'DELETE', 'PATCH', 'OPTIONS'];
    if (ep !== 'rest-sources') methods.push('GET', 'HEAD');	// GET lists sources there
    for (const m of methods) {
      const r = await refusedAndUnchanged(() => req(`/api/backoffice/${ep}?sourceId=${victim}`, {
        method: m, ...(m === 'GET' || m === 'HEAD' ? {} : { body }),
      }));
      assert.equal(r.status, 405, `${m} ${ep}: ${r.text}`);
      assert.match(r.headers.get('allow') || '', /POST/);
    }
  }
});

test('wrong media types on JSON endpoints: 415, nothing changed', async () => {
  for (const ct of ['text/plain', 'application/jsonx', 'application/json-patch+json', 'text/json', '']) {
    const r = await refusedAndUnchanged(() => req('/api/backoffice/rest-batch', {
      raw: JSON.stringify({ sourceId: victim }), headers: ct ? { 'Content-Type': ct } : {},
    }));
    assert.equal(r.status, 415, `'${ct}': ${r.text}`);
  }
});

// ---- Body caps ------------------------------------------------------------

test('request bodies are capped: 413 from nginx (256 KiB) and from C (64 KiB)', async () => {
  const pad = (n) => JSON.stringify({ sourceId: victim, pad: 'x'.repeat(n) });
  const big = await refusedAndUnchanged(() => req('/api/backoffice/rest-batch', { raw: pad(300 * 1024), headers: { 'Content-Type': 'application/json' } }));
  assert.equal(big.status, 413);
  assert.match(big.text, /413/);	// nginx's own page: the program never saw it
  const mid = await refusedAndUnchanged(() => req('/api/backoffice/rest-batch', { raw: pad(100 * 1024), headers: { 'Content-Type': 'application/json' } }));
  assert.equal(mid.status, 413);
  assert.deepEqual(mid.json, { ok: false, error: 'request body larger than 65536 bytes' });
  for (const [ep] of STATE_CHANGING()) {
    const r = await refusedAndUnchanged(() => req(`/api/backoffice/${ep}`, { raw: pad(65 * 1024), headers: { 'Content-Type': 'application/json' } }));
    assert.equal(r.status, 413, `${ep}: ${r.text}`);
  }
  // Just under the C cap: parsed (and then refused for what it says).
  const under = await req('/api/backoffice/rest-batch', { raw: JSON.stringify({ sourceId: 'x'.repeat(60 * 1024) }), headers: { 'Content-Type': 'application/json' } });
  assert.equal(under.status, 400);
  assert.equal(under.json.error, "'sourceId' must be a UUID");
  // Deep JSON in a request body: refused by the parser's depth cap.
  const deep = await refusedAndUnchanged(() => req('/api/backoffice/rest-batch', {
    raw: '{"sourceId":' + '['.repeat(5000) + ']'.repeat(5000) + '}', headers: { 'Content-Type': 'application/json' },
  }));
  assert.equal(deep.status, 400);
  assert.equal(deep.json.error, 'request body is not valid JSON');
});

// ---- Response headers -----------------------------------------------------

function csp(h) {
  return (h.get('content-security-policy') || '').split(';').map((d) => d.trim()).filter(Boolean);
}

test('headers: the page sends CSP, nosniff, no-referrer; the JSON endpoints no-store', async () => {
  const page = await req('/backoffice/rest-sources', { method: 'GET' });
  assert.equal(page.status, 200, page.text);
  assert.match(page.text, /<html/i);
  const d = csp(page.headers);
  assert.ok(d.includes("default-src 'self'"), d.join('; '));
  assert.ok(d.includes("frame-ancestors 'none'"), d.join('; '));
  assert.ok(!d.some((x) => /unsafe-inline|unsafe-eval|\*/.test(x)), d.join('; '));
  assert.match(page.headers.get('x-content-type-options'), /^nosniff/);
  assert.match(page.headers.get('referrer-policy'), /^no-referrer/);
  assert.match(page.headers.get('cache-control') || '', /no-store/);
  // Without credentials: 401, and no page.
  const anon = await req('/backoffice/rest-sources', { method: 'GET', user: null });
  assert.equal(anon.status, 401);
  assert.doesNotMatch(anon.text, /<script/i);

  // JSON: success and error answers alike.
  const id = createSource('Headers', dummyConfig(), { tenant: T1 });
  for (const r of [await runBatch(id), await runBatch('not-a-uuid'), await runBatch(id, { user: VIEWER }),
    await req('/api/backoffice/rest-batch', { method: 'GET' })]) {
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.equal(r.headers.get('cache-control'), 'no-store', r.text);
    assert.match(r.headers.get('x-content-type-options'), /^nosniff/);
    assert.match(r.headers.get('referrer-policy'), /^no-referrer/);
  }
});

test('headers: the static pages carry no inline script or event handler (CSP would block them)', () => {
  const dir = path.join(ROOT, 'static');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.html'));
  assert.ok(files.includes('rest-sources.html'), `no operator page in static/: ${files}`);
  for (const f of files) {
    const html = fs.readFileSync(path.join(dir, f), 'utf8');
    for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
      assert.match(m[1], /\bsrc=/, `${f}: inline <script>`);
      assert.equal(m[2].trim(), '', `${f}: inline script body`);
    }
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i, `${f}: inline event handler`);
    assert.doesNotMatch(html, /javascript:/i, `${f}: javascript: URL`);
    assert.doesNotMatch(html, /\sstyle\s*=/i, `${f}: inline style`);
  }
});

// ---- Local boundary: sockets, key file, root --------------------------------

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const serviceUid = () => Number(execFileSync('id', ['-u', asRoot ? 'restsync' : String(process.getuid())], { encoding: 'utf8' }).trim());

test('local: FastCGI sockets are 0600 in a 0700 folder owned by the service user', () => {
  const dir = path.join(VAR, 'run/fcgi');
  const ds = fs.statSync(dir);
  assert.equal(ds.mode & 0o777, 0o700);
  assert.equal(ds.uid, serviceUid());
  const socks = fs.readdirSync(dir).filter((f) => f.endsWith('.sock'));
  assert.ok(socks.includes('rest-batch.sock'), socks.join(' '));
  for (const s of socks) {
    const st = fs.statSync(path.join(dir, s));
    assert.ok(st.isSocket(), s);
    assert.equal(st.mode & 0o777, 0o600, s);
    assert.equal(st.uid, serviceUid(), s);
  }
  const key = path.join(VAR, 'secret.key');
  if (fs.existsSync(key)) {
    const ks = fs.statSync(key);
    assert.equal(ks.mode & 0o077, 0, 'secret.key readable by group/others');
  }
  const pw = fs.statSync(path.join(VAR, 'htpasswd'));
  assert.equal(pw.mode & 0o007, 0, 'htpasswd readable by others');
});

test('local: another local user cannot reach the sockets, the database or the key', { skip: !asRoot && 'needs root to act as another user' }, () => {
  const probe = `
    const net = require('net'); const fs = require('fs');
    const out = {};
    const tryConnect = (p) => new Promise((res) => {
      const s = net.connect(p); s.on('connect', () => { s.destroy(); res('connected'); });
      s.on('error', (e) => res(e.code));
    });
    (async () => {
      out.fcgi = await tryConnect(process.argv[1] + '/run/fcgi/rest-batch.sock');
      out.pg = await tryConnect(process.argv[1] + '/run/pg/.s.PGSQL.' + process.argv[2]);
      try { fs.readFileSync(process.argv[1] + '/secret.key'); out.key = 'read'; } catch (e) { out.key = e.code; }
      try { fs.readFileSync(process.argv[1] + '/htpasswd'); out.htpasswd = 'read'; } catch (e) { out.htpasswd = e.code; }
      console.log(JSON.stringify(out));
    })();`;
  const pgport = new URL(DB.replace(/^postgresql:/, 'http:')).searchParams.get('port');
  const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', probe, VAR, pgport], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.fcgi, 'EACCES');
  assert.equal(out.pg, 'EACCES');
  assert.equal(out.htpasswd, 'EACCES');
  if (fs.existsSync(path.join(VAR, 'secret.key'))) assert.equal(out.key, 'EACCES');
});

test('local: every program refuses to start as root', { skip: !asRoot && 'not running as root' }, () => {
  const bin = path.join(ROOT, 'build/release/bin');
  // The programs the Makefile builds (CGI_BIN: one per cgi-src/*.c),
  // not whatever happens to be built: a missing one fails.
  const expected = fs.readdirSync(path.join(ROOT, 'cgi-src')).filter((f) => f.endsWith('.c')).map((f) => f.slice(0, -2)).sort();
  assert.ok(expected.includes('rest_batch'), expected.join(' '));
  const missing = expected.filter((p) => !fs.existsSync(path.join(bin, p)));
  assert.deepEqual(missing, [], `not built in ${bin}`);
  for (const p of expected) {
    const env = { ...process.env };
    delete env.RESTSYNC_ALLOW_ROOT;
    const r = spawnSync(path.join(bin, p), [], { env, encoding: 'utf8', timeout: 5000, input: '' });
    assert.equal(r.status, 1, `${p}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^${p}: refusing to run as root`));
  }
});

// ---- Secrets at rest ----------------------------------------------------------

test('secrets: an encrypted key is used for header and query, and is redacted everywhere', async (t) => {
  if (!keyHex()) return t.skip('RESTSYNC_SECRET_KEY is set in the environment; key file path not testable');
  storeSecret(T1, PROVIDER, encrypt(T1, PROVIDER, SEC_KEY));
  // Stored as ciphertext: the key is nowhere in the table.
  assert.equal(one(`SELECT count(*) FROM integration_secrets WHERE position(convert_to(:'p1', 'UTF8') in ciphertext) > 0;`, [SEC_CORE]), '0');

  await upstreamReset();
  const id = createSource('Secret sync', authConfig('/sec/auth/products'), { tenant: T1 });
  const rs = [];
  for (let i = 0; i < 10; i++) {
    const r = await runBatch(id);
    rs.push(r);
    if (r.status !== 200 || r.json.done) break;
  }
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200], rs.map((r) => r.text).join('\n'));
  assert.deepEqual(rs.map((r) => r.json.items), [50, 50, 50, 44]);
  assert.deepEqual(counts(id), { docs: 1, chunks: 194 });
  // The upstream did get the key, in the header and the query.
  const log = await upstreamLog();
  assert.equal(log.length, 4);
  for (const e of log) {
    assert.equal(e.headers.authorization, `Bearer ${SEC_KEY}`);
    assert.equal(new URL(e.url, UPSTREAM).searchParams.get('api_key'), SEC_KEY);
  }

  // An API that echoes the credentials in its error body.
  const eid = createSource('Secret echo', authConfig('/sec/echo401'), { tenant: T1 });
  const e = await runBatch(eid);
  assert.equal(e.status, 502, e.text);
  assert.match(e.json.error, /^upstream returned HTTP 401: /);
  const cur = cursorRow(eid);
  assert.equal(cur.status, 'error');

  // Collect every place the key shows up, then compare with none.
  const leaks = [];
  const forms = [SEC_CORE, SEC_KEY, encodeURIComponent(SEC_KEY), SEC_KEY.replaceAll('/', '\\/'),
    Buffer.from(SEC_KEY).toString('base64')];
  const check = (where, text) => {
    for (const f of forms) if (text.includes(f)) leaks.push(`${where}: ...${text.slice(Math.max(0, text.indexOf(f) - 60), text.indexOf(f) + 40)}...`);
  };
  // The echoed url and error say [redacted] where the key was.
  rs.forEach((r, i) => check(`response ${i + 1} url`, r.json.url));
  check('error response', e.text);
  check('last_error', cur.error);
  assert.equal(rs[0].json.url.replace(/api_key=.*$/, 'api_key='), `${UPSTREAM}/sec/auth/products?limit=50&skip=0&api_key=`);
  // Everything the system wrote: responses, logs, the whole database.
  check('responses', seen.join('\n'));
  for (const f of fs.readdirSync(path.join(VAR, 'log'))) {
    const p = path.join(VAR, 'log', f);
    check(`log/${f}`, fs.statSync(p).isDirectory() ? readTree(p) : fs.readFileSync(p, 'latin1'));
  }
  check('database', pgDump());
  // The operator's list shows that a secret exists, never its value.
  const list = await req('/api/backoffice/rest-sources', { method: 'GET' });
  assert.equal(list.status, 200, list.text);
  check('source list', list.text);
  assert.equal(list.json.sources.find((x) => x.id === id).hasSecret, true);
  assert.deepEqual([...new Set(leaks)], []);
  assert.equal(rs[0].json.url, `${UPSTREAM}/sec/auth/products?limit=50&skip=0&api_key=[redacted]`);
  assert.match(e.json.error, /invalid key \[redacted\] \/ Bearer \[redacted\]/);
  assert.match(e.json.url, /api_key=\[redacted\]$/);
  assert.equal(cur.error, e.json.error);
});

test('secrets: a next link that repeats the key is neither stored nor shown with it', async (t) => {
  if (!keyHex()) return t.skip('RESTSYNC_SECRET_KEY is set');
  storeSecret(T1, PROVIDER, encrypt(T1, PROVIDER, SEC_KEY));
  await upstreamReset();
  const id = createSource('Keyed next', authConfig('/sec/keyed-next', {
    cursorStyle: 'cursor', nextCursorPath: 'next', itemsPath: 'items', cursorParam: 'after',
    pageSizeParam: null, currentOffsetPath: null, totalPath: null,
  }), { tenant: T1 });
  const r1 = await runBatch(id);
  assert.equal(r1.status, 200, r1.text);
  assert.equal(r1.json.items, 10);
  // The API's next link carried api_key=<key>: the stored cursor drops
  // the queryTemplate parameters (they are added again per request).
  assert.equal(r1.json.next, `${UPSTREAM}/sec/keyed-next?after=10`);
  assert.equal(cursorRow(id).next, `${UPSTREAM}/sec/keyed-next?after=10`);
  const list = await req('/api/backoffice/rest-sources', { method: 'GET' });
  assert.equal(list.status, 200, list.text);
  assert.ok(!list.text.includes(SEC_CORE), 'the source list shows the key');
  const rest = await syncToEnd(id);
  rest.forEach((r) => seen.push(r.text));
  assert.deepEqual(rest.map((r) => r.status), [200, 200], rest.map((r) => r.text).join('\n'));
  assert.deepEqual(rest.map((r) => r.json.items), [10, 10]);
  assert.equal(rest[1].json.done, true);
  // Each request carried the key again.
  const log = await upstreamLog();
  assert.deepEqual(log.map((e) => new URL(e.url, UPSTREAM).searchParams.get('after')), [null, '10', '20']);
  assert.ok(log.every((e) => new URL(e.url, UPSTREAM).searchParams.get('api_key') === SEC_KEY));
  for (const r of [r1, ...rest]) assert.ok(!r.text.includes(SEC_CORE), r.text);
  assert.equal(rest[0].json.url, `${UPSTREAM}/sec/keyed-next?after=10&api_key=[redacted]`);
  assert.equal(one(`SELECT count(*) FROM kb_rest_cursors WHERE position(:'p1' in coalesce(next_cursor, '') || coalesce(last_error, '')) > 0;`, [SEC_CORE]), '0');
});

test('secrets: a ciphertext copied to another tenant or another provider does not decrypt', async (t) => {
  if (!keyHex()) return t.skip('RESTSYNC_SECRET_KEY is set');
  storeSecret(T1, PROVIDER, encrypt(T1, PROVIDER, SEC_KEY));
  sql(`DELETE FROM integration_secrets WHERE tenant_id = :'p1';`, [T2]);
  sql(`INSERT INTO integration_secrets (tenant_id, provider, origin, ciphertext, nonce, aad_version)
       SELECT :'p2', provider, origin, ciphertext, nonce, aad_version FROM integration_secrets WHERE tenant_id = :'p1' AND provider = :'p3';`,
  [T1, T2, PROVIDER]);
  await upstreamReset();
  const id = createSource('Stolen secret', authConfig('/sec/auth/products'), { tenant: T2 });
  const r = await runBatch(id);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error, `the secret for provider '${PROVIDER}' does not decrypt with the configured key (wrong key, or copied from another tenant or origin)`);
  const cur = cursorRow(id);
  assert.equal(cur.status, 'error');
  assert.equal(cur.error, r.json.error);
  assert.equal(cur.pages, 0);
  assert.deepEqual(counts(id), { docs: 0, chunks: 0 });
  assert.deepEqual(await upstreamLog(), []);

  // Same tenant, ciphertext moved to another provider name.
  sql(`INSERT INTO integration_secrets (tenant_id, provider, origin, ciphertext, nonce, aad_version)
       SELECT tenant_id, 'otherapi', origin, ciphertext, nonce, aad_version FROM integration_secrets WHERE tenant_id = :'p1' AND provider = :'p2'
       ON CONFLICT (tenant_id, provider, origin) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, nonce = EXCLUDED.nonce;`, [T1, PROVIDER]);
  const pid = createSource('Other provider', authConfig('/sec/auth/products', { provider: 'otherapi' }), { tenant: T1 });
  const p = await runBatch(pid);
  assert.equal(p.status, 400, p.text);
  assert.match(p.json.error, /provider 'otherapi' does not decrypt/);

  // Encrypted with another key: the same clear error.
  storeSecret(T2, PROVIDER, encrypt(T2, PROVIDER, SEC_KEY, crypto.randomBytes(32)));
  const k = await runBatch(id);
  assert.equal(k.status, 400);
  assert.match(k.json.error, /does not decrypt with the configured key/);

  // A tenant without a secret.
  sql(`DELETE FROM integration_secrets WHERE tenant_id = :'p1';`, [T2]);
  const n = await runBatch(id);
  assert.equal(n.status, 400);
  assert.equal(n.json.error, `source requires auth but the tenant has no secret for provider '${PROVIDER}' at origin ${ORIGIN} (a key is bound to the origin it was entered for: enter it again)`);

  // The worker is alive and well afterwards.
  const ok = await runBatch(createSource('After bad secrets', dummyConfig(), { tenant: T1 }));
  assert.equal(ok.status, 200, ok.text);
});

test('secrets: a missing or damaged key file gives a clear error, not a crash', async (t) => {
  if (!keyHex()) return t.skip('RESTSYNC_SECRET_KEY is set: the workers do not read the file');
  const keyFile = path.join(VAR, 'secret.key');
  const saved = fs.readFileSync(keyFile);
  const st = fs.statSync(keyFile);
  storeSecret(T1, PROVIDER, encrypt(T1, PROVIDER, SEC_KEY));
  const id = createSource('Key file', authConfig('/sec/auth/products'), { tenant: T1 });
  try {
    fs.renameSync(keyFile, keyFile + '.aside');
    const m = await runBatch(id);
    assert.equal(m.status, 400, m.text);
    assert.equal(m.json.error, 'cannot read the secret key file');
    assert.equal(cursorRow(id).error, 'cannot read the secret key file');

    fs.writeFileSync(keyFile, 'not-a-key\n', { mode: 0o600 });
    fs.chownSync(keyFile, st.uid, st.gid);
    const b = await runBatch(id);
    assert.equal(b.status, 400, b.text);
    assert.equal(b.json.error, 'the secret key file must hold 32 bytes as 64 hex digits or base64');

    fs.writeFileSync(keyFile, crypto.randomBytes(32).toString('hex') + '\n');
    const w = await runBatch(id);
    assert.equal(w.status, 400, w.text);
    assert.match(w.json.error, /does not decrypt with the configured key/);
    assert.deepEqual(counts(id), { docs: 0, chunks: 0 });
  } finally {
    fs.rmSync(keyFile, { force: true });
    if (fs.existsSync(keyFile + '.aside')) fs.renameSync(keyFile + '.aside', keyFile);
    else fs.writeFileSync(keyFile, saved);
    fs.chmodSync(keyFile, st.mode & 0o777);
    fs.chownSync(keyFile, st.uid, st.gid);
  }
  assert.deepEqual(fs.readFileSync(keyFile), saved);
  const ok = await runBatch(id);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.items, 50);
});

// ---- The fetcher --------------------------------------------------------------

test('fetcher: only http and https base URLs', async () => {
  for (const u of ['ftp://127.0.0.1/products', 'file:///etc/passwd', 'gopher://127.0.0.1:70/x',
    'dict://127.0.0.1:11211/stat', 'ldap://127.0.0.1/x', 'http:/127.0.0.1/x', '//127.0.0.1/x']) {
    await upstreamReset();
    const id = createSource(`Scheme ${u}`, dummyConfig({ baseUrl: u }), { tenant: T1 });
    const r = await runBatch(id);
    assert.equal(r.status, 400, `${u}: ${r.text}`);
    assert.equal(r.json.error, "source config: 'baseUrl' must be an absolute http or https URL");
    assert.equal(cursorRow(id).error, r.json.error);
    assert.deepEqual(counts(id), { docs: 0, chunks: 0 });
  }
});

test('fetcher: a redirect to another origin is refused and never fetched with the credentials', async (t) => {
  if (!keyHex()) return t.skip('RESTSYNC_SECRET_KEY is set');
  storeSecret(T1, PROVIDER, encrypt(T1, PROVIDER, SEC_KEY));
  await upstreamReset();
  const id = createSource('Redirect away', authConfig('/sec/redirect-away'), { tenant: T1 });
  const r = await runBatch(id);
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error, 'redirect to another origin refused');
  const cur = cursorRow(id);
  assert.equal(cur.status, 'error');
  assert.equal(cur.next, null);
  assert.equal(cur.pages, 0);
  const log = await upstreamLog();
  assert.deepEqual(log.map((e) => new URL(e.url, UPSTREAM).pathname), ['/sec/redirect-away']);
  assert.ok(log.every((e) => e.headers.host === new URL(UPSTREAM).host));
});

test('fetcher: an absolute next URL on another origin is refused and never fetched', async () => {
  await upstreamReset();
  const id = createSource('Next away', dummyConfig({
    baseUrl: `${UPSTREAM}/sec/next-away`, cursorStyle: 'cursor', nextCursorPath: 'next', itemsPath: 'items',
    pageSizeParam: null, currentOffsetPath: null, totalPath: null,
    headersTemplate: { 'X-Api-Key': 'static-credential-123' },
  }), { tenant: T1 });
  // Either the batch that receives the link or the one that would follow
  // it fails; the cursor does not move past the refusal.
  let refused = null;
  for (let i = 0; i < 3 && !refused; i++) {
    const before = cursorRow(id);
    const r = await runBatch(id);
    if (r.status === 200) { assert.equal(r.json.items, 5); continue; }
    refused = r;
    assert.equal(r.status, 502, r.text);
    assert.match(r.json.error, /another origin/);
    const after = cursorRow(id);
    assert.equal(after.next, before ? before.next : null);
    assert.equal(after.pages, before ? before.pages : 0);
    assert.equal(after.status, 'error');
  }
  assert.ok(refused, 'the foreign next URL was never refused');
  const log = await upstreamLog();
  assert.ok(log.every((e) => new URL(e.url, UPSTREAM).pathname === '/sec/next-away'), JSON.stringify(log.map((e) => e.url)));
  assert.ok(log.every((e) => e.headers.host === new URL(UPSTREAM).host));
});

test('fetcher: metadata and link-local addresses are refused before connecting', async () => {
  for (const [u, ip] of [
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
    ['http://169.254.170.2/v2/credentials', '169.254.170.2'],
    ['http://[fd00:ec2::254]/latest/meta-data/', 'fd00:ec2::254'],
    ['http://[::ffff:169.254.169.254]/', '169.254.169.254'],
    ['http://100.100.100.200/latest/meta-data/', '100.100.100.200'],
    ['http://0.0.0.0:1/', '0.0.0.0'],
    // Issue 14: IPv6 forms that embed the metadata address.
    ['http://[::169.254.169.254]/', '::169.254.169.254'],
    ['http://[::ffff:0:169.254.169.254]/', '::ffff:0:a9fe:a9fe'],
    ['http://[64:ff9b:1::169.254.169.254]/', '64:ff9b:1::a9fe:a9fe'],
    ['http://[2002:a9fe:a9fe::1]/', '2002:a9fe:a9fe::1'],
    ['http://[2001:0:4136:e378:8000:63bf:5601:5601]/', '2001:0:4136:e378:8000:63bf:5601:5601'],
  ]) {
    const id = createSource(`Metadata ${u}`, dummyConfig({ baseUrl: u }), { tenant: T1 });
    const t0 = Date.now();
    const r = await runBatch(id);
    assert.equal(r.status, 502, `${u}: ${r.text}`);
    assert.match(r.json.error, new RegExp(`^refused to connect to (::ffff:)?${ip.replaceAll('.', '\\.')}: `), r.json.error);
    assert.ok(Date.now() - t0 < 3000, 'refused at once, not timed out');
    assert.equal(cursorRow(id).status, 'error');
    assert.deepEqual(counts(id), { docs: 0, chunks: 0 });
  }
});

test('fetcher: the response body cap (per source) and the JSON depth cap', async () => {
  const big = createSource('Body cap', dummyConfig({ baseUrl: `${UPSTREAM}/sec/big`, maxBodyBytes: 1024 }), { tenant: T1 });
  const b = await runBatch(big);
  assert.equal(b.status, 502, b.text);
  assert.equal(b.json.error, 'response body exceeds 1024 bytes');
  assert.deepEqual(counts(big), { docs: 0, chunks: 0 });
  // The same page under a cap that fits.
  sql(`UPDATE kb_sources SET config = jsonb_set(config, '{maxBodyBytes}', '4096') WHERE id = :'p1';`, [big]);
  const b2 = await runBatch(big);
  assert.equal(b2.status, 200, b2.text);
  assert.equal(b2.json.items, 1);
  // Above the global maximum: refused by config.
  const over = createSource('Body cap over max', dummyConfig({ maxBodyBytes: 64 * 1024 * 1024 + 1 }), { tenant: T1 });
  const o = await runBatch(over);
  assert.equal(o.status, 400, o.text);
  assert.match(o.json.error, /maxBodyBytes/);

  const deep = createSource('Depth cap', dummyConfig({ baseUrl: `${UPSTREAM}/sec/deep` }), { tenant: T1 });
  const d = await runBatch(deep);
  assert.equal(d.status, 502, d.text);
  assert.equal(d.json.error, 'upstream JSON is nested deeper than 64');
  assert.deepEqual(counts(deep), { docs: 0, chunks: 0 });
  const shallow = createSource('Depth ok', dummyConfig({ baseUrl: `${UPSTREAM}/sec/shallow` }), { tenant: T1 });
  const s = await runBatch(shallow);
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.items, 1);
});

test('fetcher: invalid UTF-8 in item text is stored as valid UTF-8 with U+FFFD', async () => {
  const id = createSource('Bad UTF-8', dummyConfig({ baseUrl: `${UPSTREAM}/sec/badutf8`, titleField: 'title' }), { tenant: T1 });
  const r = await runBatch(id);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items, 1);
  assert.equal(r.json.inserted, 1);
  const [[content, title, valid]] = sql(`SELECT replace(content, E'\\n', ' '), title,
      convert_from(convert_to(content, 'UTF8'), 'UTF8') = content FROM kb_chunks WHERE source_id = :'p1';`, [id]);
  assert.equal(valid, 't');
  const bad = /[\u0080-\u009f]|\ud800/;
  for (const s of [content, title]) {
    assert.ok(Buffer.from(s, 'utf8').toString('utf8') === s);
    assert.doesNotMatch(s, bad);
  }
  assert.match(title, /^Café \uFFFD+ ok$/);
  assert.match(content, /Café \uFFFD+ ok/);
  assert.match(content, /a\uFFFD+\( b\uFFFD+ c\uFFFD+ d\uFFFD+ 日本 \uFFFD+/);

  // JSON escapes: a lone surrogate becomes U+FFFD, a NUL is not stored.
  const eid = createSource('Escapes', dummyConfig({ baseUrl: `${UPSTREAM}/sec/escapes`, titleField: 'title' }), { tenant: T1 });
  const e = await runBatch(eid);
  assert.equal(e.status, 200, e.text);
  const [[c2, t2]] = sql(`SELECT replace(content, E'\\n', ' '), title FROM kb_chunks WHERE source_id = :'p1';`, [eid]);
  assert.equal(t2, 'lone \uFFFD surrogate');
  assert.match(c2, /nul +inside/);
  assert.ok(!c2.includes('\u0000'));
});

// ---- Key rotation ---------------------------------------------------------------

function tryDecrypt(keyBuf, tenant, provider, ctHex, nonceHex, origin, version) {
  const ct = Buffer.from(ctHex, 'hex');
  try {
    const d = crypto.createDecipheriv('aes-256-gcm', keyBuf, Buffer.from(nonceHex, 'hex'));
    d.setAAD(version === '1' ? Buffer.from(`${tenant}:${provider}`) : secretAad(tenant, provider, origin));
    d.setAuthTag(ct.subarray(ct.length - 16));
    return Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]).toString('utf8');
  } catch {
    return null;
  }
}

const secretRows = () => sql(`SELECT tenant_id, provider, encode(ciphertext, 'hex'), encode(nonce, 'hex'), origin, aad_version
  FROM integration_secrets ORDER BY tenant_id, provider, origin;`);

test('secrets: restsync rotate-key re-encrypts every secret and swaps the key file, keeping its owner and mode', async (t) => {
  if (!keyHex()) return t.skip('RESTSYNC_SECRET_KEY is set');
  const keyFile = path.join(VAR, 'secret.key');
  const oldHex = keyHex();
  const oldKey = Buffer.from(oldHex, 'hex');
  // Owner and mode to keep: 0640 with a group of its own (as deployed,
  // root:restsync), when we can set them.
  const st0 = fs.statSync(keyFile);
  fs.chmodSync(keyFile, 0o640);
  if (process.getuid() === 0) fs.chownSync(keyFile, st0.uid, 65534);
  const stBefore = fs.statSync(keyFile);
  storeSecret(T1, PROVIDER, encrypt(T1, PROVIDER, SEC_KEY));
  // A row no key opens (written with a lost key).
  storeSecret(T2, 'lostkey', encrypt(T2, 'lostkey', 'whatever-1234', crypto.randomBytes(32)));
  // DATABASE_URL and the key come from the environment; the command line
  // is just "rotate-key" (ps shows nothing secret).
  const env = { ...process.env, DATABASE_URL: DB, RESTSYNC_SECRET_KEY_FILE: keyFile, RESTSYNC_ALLOW_ROOT: '1' };
  delete env.RESTSYNC_SECRET_KEY;
  delete env.RESTSYNC_ROTATE_SKIP_UNDECRYPTABLE;
  const cli = process.env.RS_CLI || path.join(ROOT, 'build/release/cli/restsync');
  assert.ok(!fs.existsSync(path.join(ROOT, 'scripts/rotate-secret-key.sh')), 'the shell script is gone');

  // It refuses while a row does not decrypt, and changes nothing.
  const fp = fingerprint();
  const refusedRun = spawnSync(cli, ['rotate-key'], { env, encoding: 'utf8' });
  assert.equal(refusedRun.status, 1, refusedRun.stdout + refusedRun.stderr);
  assert.match(refusedRun.stderr, new RegExp(`tenant ${T2}, provider lostkey, origin ${ORIGIN}`));
  assert.match(refusedRun.stderr, /nothing was changed/);
  assert.equal(fingerprint(), fp);
  assert.equal(keyHex(), oldHex);
  assert.ok(!fs.existsSync(keyFile + '.new'), 'no new key left behind');

  const before = secretRows();
  const plain = before.map(([tn, pv, ct, n, o, v]) => tryDecrypt(oldKey, tn, pv, ct, n, o, v));
  const good = plain.filter((p) => p !== null).length;
  assert.ok(good >= 1);
  const r = spawnSync(cli, ['rotate-key'], { env: { ...env, RESTSYNC_ROTATE_SKIP_UNDECRYPTABLE: '1' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const m = r.stdout.match(new RegExp(`^restsync rotate-key: rotated ${good} secrets; ${keyFile} holds the new key, the old one is (${keyFile}\\.old-\\d{8}T\\d{6}Z)\\n`));
  assert.ok(m, r.stdout);
  const backup = m[1];

  // The new key file: another key, same owner, group and mode; the old
  // one kept.
  const newHex = keyHex();
  assert.match(newHex, /^[0-9a-f]{64}$/);
  assert.notEqual(newHex, oldHex);
  const st1 = fs.statSync(keyFile);
  assert.equal(st1.mode & 0o777, 0o640);
  assert.equal(st1.uid, stBefore.uid);
  assert.equal(st1.gid, stBefore.gid);
  assert.equal(fs.readFileSync(backup, 'utf8').trim(), oldHex);
  assert.equal(fs.statSync(backup).mode & 0o027, 0);

  // Every row that opened with the old key opens with the new one, same
  // plaintext, fresh nonce, bound to its origin (version 2); the old key
  // opens none of them; the lost one is untouched.
  const after = secretRows();
  assert.deepEqual(after.map((x) => [...x.slice(0, 2), x[4]]), before.map((x) => [...x.slice(0, 2), x[4]]));
  after.forEach(([tn, pv, ct, n, o, v], i) => {
    if (plain[i] === null) {
      assert.deepEqual([ct, n], before[i].slice(2, 4));
      return;
    }
    assert.equal(v, '2');
    assert.notEqual(n, before[i][3]);
    assert.equal(tryDecrypt(Buffer.from(newHex, 'hex'), tn, pv, ct, n, o, v), plain[i]);
    assert.equal(tryDecrypt(oldKey, tn, pv, ct, n, o, v), null);
  });

  // The running workers use the new key at once (they read the file per batch).
  await upstreamReset();
  const id = createSource('After rotation', authConfig('/sec/auth/products'), { tenant: T1 });
  const b = await runBatch(id);
  assert.equal(b.status, 200, b.text);
  assert.equal(b.json.items, 50);
  assert.equal((await upstreamLog())[0].headers.authorization, `Bearer ${SEC_KEY}`);

  sql(`DELETE FROM integration_secrets WHERE tenant_id = :'p1' AND provider = 'lostkey';`, [T2]);
  fs.rmSync(backup);
  fs.chmodSync(keyFile, st0.mode & 0o777);
  if (process.getuid() === 0) fs.chownSync(keyFile, st0.uid, st0.gid);
});
