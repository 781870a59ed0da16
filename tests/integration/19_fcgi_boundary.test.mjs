// Issue 14 item 3: the FastCGI sockets are a boundary.  Only the nginx
// user may talk to the programs (SO_PEERCRED: a process that can reach
// the socket some other way — root here, another www-data process in
// production — is refused, whatever REMOTE_USER it sends), and a request
// must be read within a deadline, so idle connections cannot hold the
// workers.  The production layout (deploy/) is checked too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, VAR, call, one } from './lib.mjs';
import { fcgiRequest } from './fcgi_client.mjs';

const asRoot = process.getuid() === 0;
const SOCK = (ep) => path.join(VAR, 'run/fcgi', `${ep}.sock`);

const ADMIN_PARAMS = {
  REQUEST_METHOD: 'GET', REMOTE_USER: 'admin', SCRIPT_NAME: '/api/backoffice/rest-sources',
  REQUEST_URI: '/api/backoffice/rest-sources', QUERY_STRING: '', SERVER_PROTOCOL: 'HTTP/1.1',
};

test('FastCGI boundary: a process that is not the nginx user gets nothing, whatever REMOTE_USER it sends', { skip: !asRoot && 'needs root to be another user than nginx' }, async () => {
  // Root can open the socket despite its mode: the programs must refuse it.
  const before = one('SELECT count(*) FROM kb_sources;');
  const list = await fcgiRequest(SOCK('rest-sources'), ADMIN_PARAMS);
  assert.equal(list.closed, true);
  assert.equal(list.data, '', 'the program answered a peer that is not nginx');
  const create = await fcgiRequest(SOCK('rest-sources'), {
    ...ADMIN_PARAMS, REQUEST_METHOD: 'POST', CONTENT_TYPE: 'application/json',
  }, JSON.stringify({ tenantId: '00000000-0000-4000-8000-0000000000aa', title: 'Forged', config: { baseUrl: 'http://x.example/' } }));
  assert.equal(create.data, '');
  assert.equal(one('SELECT count(*) FROM kb_sources;'), before);
  for (const ep of ['rest-batch', 'rest-delete', 'health']) {
    const r = await fcgiRequest(SOCK(ep), { ...ADMIN_PARAMS, REQUEST_METHOD: 'POST' }, '{}');
    assert.equal(r.data, '', ep);
  }
  const log = fs.readFileSync(path.join(VAR, 'log/rest_sources.log'), 'utf8').trim().split('\n')
    .map((l) => { try { return JSON.parse(l); } catch { return null; } }).filter(Boolean);
  const refused = log.filter((l) => l.error === 'FastCGI connection refused: the peer is not the nginx user');
  assert.ok(refused.length >= 2);
  assert.equal(refused.at(-1).peer_uid, 0);
  // nginx, the configured peer, still gets through.
  const ok = await call('/api/backoffice/rest-sources', { method: 'GET' });
  assert.equal(ok.status, 200);
});

// The stack runs with the default deadline, FIO_READ_DEADLINE_MS (5 s),
// and 2 workers a program.
function asNginxUser(args) {
  const user = asRoot ? ['runuser', '-u', 'restsync', '--'] : [];
  const all = [...user, process.execPath, ...args];
  const p = spawn(all[0], all.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  return new Promise((res) => p.on('close', () => res(out)));
}

test('FastCGI boundary: idle connections are closed at the read deadline and never hold the workers', { timeout: 60000 }, async () => {
  const client = path.join(ROOT, 'tests/integration/fcgi_client.mjs');
  // As many idle connections as workers, as the user nginx runs as.
  const idle = asNginxUser([client, 'idle', SOCK('rest-sources'), '2', '30000']);
  // And a request whose body never comes.
  const half = asNginxUser(['--input-type=module', '-e', `
    import { fcgiRequest } from ${JSON.stringify(client)};
    const r = await fcgiRequest(${JSON.stringify(SOCK('rest-batch'))}, { REQUEST_METHOD: 'POST', REMOTE_USER: 'admin',
      CONTENT_TYPE: 'application/json', CONTENT_LENGTH: 100 }, '{"sourceId":', 30000, false);
    process.stdout.write(JSON.stringify(r));`]);
  await new Promise((res) => setTimeout(res, 500));
  const t0 = Date.now();
  const r = await call('/api/backoffice/rest-sources', { method: 'GET' });
  const ms = Date.now() - t0;
  assert.equal(r.status, 200, r.text);
  assert.ok(ms < 10000, `a request waited ${ms} ms behind idle connections`);
  const closed = JSON.parse(await idle);
  assert.equal(closed.length, 2);
  // The one that sent nothing is closed at the deadline; the one that
  // sent half a record no later (libfcgi may give up on it sooner).
  assert.ok(closed[0] !== null && closed[0] >= 4500 && closed[0] < 10000, `closed after ${closed[0]} ms`);
  assert.ok(closed[1] !== null && closed[1] < 10000, `closed after ${closed[1]} ms`);
  const h = JSON.parse(await half);
  assert.equal(h.closed, true);
  assert.ok(h.ms >= 4500 && h.ms < 10000, JSON.stringify(h));
  assert.match(h.data, /request body not received within 5000 ms/);
});

test('FastCGI boundary: production sockets are 0660 in a setgid folder of a group only nginx is in; the programs check the peer', () => {
  const fcgi = fs.readFileSync(path.join(ROOT, 'deploy/restsync-fcgi.sh'), 'utf8');
  assert.match(fcgi, /spawn-fcgi -n -s "\$sock" -M 0660 /);
  assert.doesNotMatch(fcgi, /0666/);
  const tmp = fs.readFileSync(path.join(ROOT, 'deploy/restsync.tmpfiles'), 'utf8');
  assert.match(tmp, /^d \/run\/restsync 2750 restsync restsync-web -$/m);
  const users = fs.readFileSync(path.join(ROOT, 'deploy/restsync.sysusers'), 'utf8');
  assert.match(users, /^g restsync-web -/m);
  assert.match(users, /^m www-data restsync-web$/m);
  assert.doesNotMatch(users, /^m restsync /m, 'the service user is not in the socket group');
  const env = fs.readFileSync(path.join(ROOT, 'deploy/restsync.env.example'), 'utf8');
  assert.match(env, /^RESTSYNC_NGINX_USER=www-data$/m);
});
