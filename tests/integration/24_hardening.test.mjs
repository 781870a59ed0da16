// Issue 14 item 10: nginx's own error answers on /api/ carry no-store and
// the CSP; the CLI (and so the worker) refuses root like the FastCGI
// programs; the key file's permissions are checked when it is loaded.
// (Plaintext wiping: tests/unit/test_secret.c test_wipe_json.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { BASE, DB, ROOT, UPSTREAM, VAR, basic, ADMIN, batch, createSource, dummyConfig, one, putSecret } from './lib.mjs';

const asRoot = process.getuid() === 0;
const CLI = process.env.RS_CLI || path.join(ROOT, 'build/release/cli/restsync');
const CSP = "default-src 'none'; frame-ancestors 'none'";

function assertApiHeaders(r, what) {
  assert.equal(r.headers.get('cache-control'), 'no-store', `${what}: Cache-Control`);
  assert.equal(r.headers.get('content-security-policy'), CSP, `${what}: CSP`);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff', `${what}: nosniff`);
}

test('nginx: its own 401, 413, 502 and 504 on /api/ carry Cache-Control: no-store and the CSP; program answers carry each once', { timeout: 60000 }, async () => {
  const auth = { Authorization: basic(ADMIN) };
  let r = await fetch(`${BASE}/api/backoffice/rest-sources`);
  assert.equal(r.status, 401);
  assertApiHeaders(r, '401');
  r = await fetch(`${BASE}/api/backoffice/rest-batch`, {
    method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: 'x'.repeat(300 * 1024),
  });
  assert.equal(r.status, 413);
  assertApiHeaders(r, '413');
  r = await fetch(`${BASE}/api/backoffice/rest-sources`, { headers: auth });
  assert.equal(r.status, 200);
  assertApiHeaders(r, '200 from the program');

  // A program that is down (502) and one that never answers (504, after
  // fastcgi_read_timeout: 30 s).
  const sock = path.join(VAR, 'run/fcgi/tenants.sock');
  fs.renameSync(sock, sock + '.aside');
  let server;
  try {
    r = await fetch(`${BASE}/api/backoffice/tenants`, { headers: auth });
    assert.equal(r.status, 502);
    assertApiHeaders(r, '502');
    const conns = [];
    server = net.createServer((c) => { conns.push(c); c.on('error', () => {}); });
    server.conns = conns;
    await new Promise((res) => server.listen(sock, res));
    fs.chmodSync(sock, 0o777);
    r = await fetch(`${BASE}/api/backoffice/tenants`, { headers: auth });
    assert.equal(r.status, 504);
    assertApiHeaders(r, '504');
  } finally {
    if (server) {
      server.conns.forEach((c) => c.destroy());
      await new Promise((res) => server.close(res));
    }
    fs.rmSync(sock, { force: true });
    fs.renameSync(sock + '.aside', sock);
  }
  r = await fetch(`${BASE}/api/backoffice/tenants`, { headers: auth });
  assert.equal(r.status, 200);
});

// nginx's add_header: a block with none inherits its parent's list; a
// block with any replaces the whole list.  The blocks of a template with
// the add_header lines each would send.
function nginxBlocks(text) {
  const root = { head: '', adds: [], children: [], parent: null };
  let cur = root;
  let stmt = '';
  let q = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      stmt += c;
      if (c === '\\') stmt += text[++i];
      else if (c === q) q = null;
      continue;
    }
    if (c === '"' || c === "'") { q = c; stmt += c; continue; }
    if (c === '#') { while (i < text.length && text[i] !== '\n') i++; continue; }
    const s = stmt.trim().replace(/\s+/g, ' ');
    if (c === '{') {
      const b = { head: s, adds: [], children: [], parent: cur };
      cur.children.push(b);
      cur = b;
      stmt = '';
    } else if (c === ';') {
      if (s.startsWith('add_header ')) cur.adds.push(s);
      stmt = '';
    } else if (c === '}') {
      assert.ok(cur.parent, 'balanced braces');
      cur = cur.parent;
      stmt = '';
    } else {
      stmt += c;
    }
  }
  assert.equal(cur, root, 'balanced braces');
  const all = [];
  const walk = (b) => { all.push(b); b.children.forEach(walk); };
  walk(root);
  const effective = (b) => (b.adds.length || !b.parent ? b.adds : effective(b.parent));
  return all.map((b) => ({ head: b.head, headers: [...effective(b)].sort() }));
}

test('nginx templates: every /api/ location of every template sends the same headers, always (no-store, the CSP, HSTS over TLS)', () => {
  for (const [name, tls] of [['restsync.conf.in', false], ['restsync-auth-request.conf.in', false], ['restsync-prod.conf.in', true]]) {
    const blocks = nginxBlocks(fs.readFileSync(path.join(ROOT, 'nginx', name), 'utf8'));
    const api = blocks.filter((b) => /^location (?:[=~^*]+ )?"?\^?\/api\//.test(b.head));
    const top = api.find((b) => b.head === 'location /api/backoffice/');
    assert.ok(top, `${name}: location /api/backoffice/`);
    assert.ok(api.length >= 3, `${name}: the API's locations: ${api.map((b) => b.head)}`);
    const want = ['add_header Cache-Control no-store always',
      `add_header Content-Security-Policy "${CSP}" always`,
      'add_header X-Content-Type-Options nosniff always'];
    if (tls) want.push('add_header Strict-Transport-Security "max-age=63072000" always');
    for (const w of want) assert.ok(top.headers.includes(w), `${name}: ${top.head}: ${w}`);
    for (const b of api) {
      assert.deepEqual(b.headers, top.headers, `${name}: ${b.head} sends what ${top.head} sends`);
      for (const h of b.headers) assert.match(h, / always$/, `${name}: ${b.head}: ${h} also on nginx's own errors`);
    }
  }
});

test('CLI: restsync refuses to run as root (the worker too) unless RESTSYNC_ALLOW_ROOT=1', { skip: !asRoot && 'not running as root' }, () => {
  const env = { ...process.env, DATABASE_URL: DB, RESTSYNC_SECRET_KEY_FILE: path.join(VAR, 'secret.key') };
  delete env.RESTSYNC_ALLOW_ROOT;
  const before = one('SELECT count(*) FROM kb_rest_audit;');
  for (const args of [['list'], ['worker', '--once'], ['migrate'], ['batch', '00000000-0000-4000-8000-000000000101'],
    ['reset', '00000000-0000-4000-8000-000000000101']]) {
    const r = spawnSync(CLI, args, { env, encoding: 'utf8' });
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /^restsync: refusing to run as root; run it as the service user/);
    assert.equal(r.stdout, '');
  }
  assert.equal(one('SELECT count(*) FROM kb_rest_audit;'), before);
  assert.equal(spawnSync(CLI, ['list'], { env: { ...env, RESTSYNC_ALLOW_ROOT: '0' }, encoding: 'utf8' }).status, 1);
  assert.equal(spawnSync(CLI, ['list'], { env: { ...env, RESTSYNC_ALLOW_ROOT: '1' }, encoding: 'utf8' }).status, 0);
  const asUser = spawnSync('runuser', ['-u', 'restsync', '--', CLI, 'list'], { env, encoding: 'utf8' });
  assert.equal(asUser.status, 0, asUser.stderr);
  // Help is not running anything.
  assert.equal(spawnSync(CLI, ['--help'], { env, encoding: 'utf8' }).status, 0);
});

test('secret key file: permissions are checked when it is loaded', async (t) => {
  if (process.env.RESTSYNC_SECRET_KEY) return t.skip('RESTSYNC_SECRET_KEY is set');
  const keyFile = path.join(VAR, 'secret.key');
  const mode = fs.statSync(keyFile).mode & 0o777;
  putSecret('hardening', { api_key: 'hk-0123456789' });
  const id = createSource('Key file mode', dummyConfig({
    baseUrl: `${UPSTREAM}/dummyjson/products`, requiresAuth: true, provider: 'hardening',
    headersTemplate: { 'X-Key': '{{API_KEY}}' },
  }));
  try {
    for (const m of [0o644, 0o660, 0o604]) {
      fs.chmodSync(keyFile, m);
      const r = await batch(id);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error, `the secret key file is open to others (mode 0${m.toString(8)}): chmod 0600 (or 0640 with the service's group)`);
    }
  } finally {
    fs.chmodSync(keyFile, mode);
  }
  const ok = await batch(id);
  assert.equal(ok.status, 200, ok.text);
});

// Issue 14 item 8: the development stack's state is its owner's only.
test('development state: var/database_url, logs, sockets and folders are owner-only; no o+x handed out', { skip: !asRoot && 'needs root to act as another user' }, () => {
  const mode = (p) => fs.statSync(p).mode & 0o777;
  assert.equal(mode(path.join(VAR, 'database_url')), 0o600);
  assert.equal(mode(VAR), 0o700);
  assert.equal(mode(path.join(VAR, 'log')), 0o700);
  assert.equal(mode(path.join(VAR, 'run')), 0o700);
  assert.equal(mode(path.join(VAR, 'run/fcgi')), 0o700);
  assert.equal(mode(path.join(VAR, 'secret.key')) & 0o077, 0);
  // What the stack writes: program, nginx and PostgreSQL logs, sockets.
  for (const f of ['rest_batch.log', 'rest_sources.log', 'nginx-error.log', 'nginx-access.log', 'postgres.log']) {
    assert.equal(mode(path.join(VAR, 'log', f)) & 0o077, 0, f);
  }
  for (const f of fs.readdirSync(path.join(VAR, 'run/fcgi'))) {
    assert.equal(mode(path.join(VAR, 'run/fcgi', f)) & 0o077, 0, f);
  }
  // Another user reads none of it.
  for (const f of ['database_url', 'log/rest_batch.log', 'log/nginx-access.log', 'htpasswd']) {
    const r = spawnSync('runuser', ['-u', 'nobody', '--', 'cat', path.join(VAR, f)], { encoding: 'utf8' });
    assert.notEqual(r.status, 0, `nobody read ${f}`);
    assert.match(r.stderr, /Permission denied/);
  }
  // The checkout is made reachable for the service user alone.
  const stack = fs.readFileSync(path.join(ROOT, 'scripts/stack.sh'), 'utf8');
  assert.doesNotMatch(stack, /chmod o\+x/);
  assert.match(stack, /setfacl -m "u:\$RUNUSER:x"/);
  assert.match(stack, /^umask 077$/m);
});
