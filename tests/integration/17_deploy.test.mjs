// The deployment, end to end on this machine: deploy/install.sh into a
// staging folder, deploy/render-nginx.sh with a throw-away certificate,
// `nginx -t`, then the rendered production config served for real (TLS,
// basic auth, two spawn-fcgi instances per program started the way
// restsync-fcgi@.service starts them) against the test stack's database.
// Ports: PORT+3 (HTTP) and PORT+4 (HTTPS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSource, DB, dummyConfig, PORT, ROOT, VAR } from './lib.mjs';

const HTTP = PORT + 3;
const HTTPS = PORT + 4;
const PROGRAMS = ['health', 'not_found', 'rest_batch', 'rest_sources'];
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

function sh(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60000 });
  if (r.error) throw r.error;
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// curl: {status, headers (lower-case names), body}.
function curl(T, url, { user, method = 'GET', json, bodyFile } = {}) {
  const args = ['-sS', '--max-time', '40', '--cacert', path.join(T, 'cert.pem'),
    '--resolve', `localhost:${HTTPS}:127.0.0.1`, '-D', '-', '-X', method];
  if (user) args.push('-u', user);
  if (json !== undefined) args.push('-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(json));
  if (bodyFile) args.push('-H', 'Content-Type: application/json', '--data-binary', `@${bodyFile}`);
  const out = execFileSync('curl', [...args, url], { encoding: 'utf8' });
  const split = out.indexOf('\r\n\r\n');
  const head = out.slice(0, split).split('\r\n');
  const headers = Object.fromEntries(head.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: +head[0].split(' ')[1], headers, body: out.slice(split + 4) };
}

test('deployment: install, render the production nginx config, nginx -t, serve over TLS from two instances per program',
  { timeout: 120000 }, async () => {
    const T = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-deploy-'));
    fs.chmodSync(T, 0o755);            // nginx's workers (nobody) read the static files
    const stage = path.join(T, 'root');
    const prefix = path.join(stage, 'opt/restsync');
    const run = path.join(T, 'run');
    // As restsync.tmpfiles makes /run/restsync: setgid, of the group only
    // nginx's user is in (here nginx's workers run as nobody:nogroup).
    fs.mkdirSync(run);
    const nogroup = Number(execFileSync('getent', ['group', 'nogroup'], { encoding: 'utf8' }).split(':')[2]);
    fs.chownSync(run, 0, nogroup);
    fs.chmodSync(run, 0o2750);
    fs.mkdirSync(path.join(T, 'log'));
    const procs = [];
    let nginxUp = false;
    try {
      // 1. Install into a staging root.
      const inst = sh(path.join(ROOT, 'deploy/install.sh'), [], { DESTDIR: stage });
      assert.equal(inst.code, 0, inst.err);
      for (const f of ['opt/restsync/bin/restsync', 'opt/restsync/fcgi/rest_batch', 'opt/restsync/sql/001_schema.sql',
        'opt/restsync/static/rest-sources.html', 'opt/restsync/nginx/restsync-prod.conf.in',
        'opt/restsync/deploy/restsync-fcgi.sh', 'etc/systemd/system/restsync-fcgi@.service',
        'etc/systemd/system/restsync-worker.service', 'etc/systemd/system/restsync.target',
        'etc/tmpfiles.d/restsync.conf', 'etc/sysusers.d/restsync.conf', 'etc/restsync/restsync.env']) {
        assert.ok(fs.existsSync(path.join(stage, f)), f);
      }
      assert.ok(!fs.existsSync(path.join(prefix, 'fcgi/demo_upstream')), 'no demo upstream in production');
      assert.equal(fs.readlinkSync(path.join(stage, 'usr/local/bin/restsync')), '/opt/restsync/bin/restsync');
      // The installed CLI finds its migrations next to it.
      const mig = sh(path.join(prefix, 'bin/restsync'), ['migrate'], { DATABASE_URL: DB, RESTSYNC_SQL_DIR: '', RESTSYNC_ALLOW_ROOT: '1' });
      assert.equal(mig.code, 0, mig.err);
      assert.equal(mig.out, `migrate: up to date (${path.join(prefix, 'sql')})\n`);

      // 2. A throw-away certificate, the operator's password, the config.
      const cert = sh('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost', '-keyout', path.join(T, 'key.pem'), '-out', path.join(T, 'cert.pem')]);
      assert.equal(cert.code, 0, cert.err);
      const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: 'test-admin-pw', encoding: 'utf8' }).trim();
      fs.writeFileSync(path.join(T, 'htpasswd'), `admin:${hash}\n`, { mode: 0o644 });
      const r = sh(path.join(prefix, 'deploy/render-nginx.sh'), [], {
        SERVER_NAME: 'localhost', TLS_CERT: path.join(T, 'cert.pem'), TLS_KEY: path.join(T, 'key.pem'),
        RS_PREFIX: prefix, HTPASSWD: path.join(T, 'htpasswd'), RS_RUN: run, RS_LOG: path.join(T, 'log'),
        LISTEN_HTTP: `127.0.0.1:${HTTP}`, LISTEN_HTTPS: `127.0.0.1:${HTTPS}`,
      });
      assert.equal(r.code, 0, r.err);
      const conf = r.out;
      assert.doesNotMatch(conf, /@[A-Z_]+@/, 'every placeholder filled');
      assert.match(conf, new RegExp(`upstream restsync-rest-batch \\{\\n    server unix:${run}/rest-batch\\.1\\.sock [^\\n]+\\n    server unix:${run}/rest-batch\\.2\\.sock`));
      assert.match(conf, /^    rest-batch restsync-rest-batch;$/m);
      assert.match(conf, new RegExp(`listen 127\\.0\\.0\\.1:${HTTPS} ssl http2;`));
      assert.equal((conf.match(/fastcgi_param REMOTE_USER \$remote_user;/g) || []).length, 1, 'identity only in the admin API');
      const notls = sh(path.join(prefix, 'deploy/render-nginx.sh'), [], { SERVER_NAME: 'x' });
      assert.notEqual(notls.code, 0, 'TLS is required');
      assert.match(notls.err, /TLS_CERT/);
      fs.writeFileSync(path.join(T, 'restsync.conf'), conf);
      fs.writeFileSync(path.join(T, 'nginx.conf'), `pid ${T}/nginx.pid;
error_log ${T}/log/error.log;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    client_body_temp_path ${T}/tmp-body;
    fastcgi_temp_path ${T}/tmp-fastcgi;
    proxy_temp_path ${T}/tmp-proxy;
    uwsgi_temp_path ${T}/tmp-uwsgi;
    scgi_temp_path ${T}/tmp-scgi;
    include ${T}/restsync.conf;
}
`);
      const ngx = ['-p', T, '-c', path.join(T, 'nginx.conf'), '-e', path.join(T, 'log/error.log')];
      const t = sh('nginx', ['-t', ...ngx]);
      assert.equal(t.code, 0, t.err);
      assert.match(t.err, /syntax is ok/);

      // 3. Two instances of each program, as the systemd unit runs them.
      const env = {
        ...process.env, DATABASE_URL: DB, RESTSYNC_SECRET_KEY_FILE: path.join(VAR, 'secret.key'),
        RESTSYNC_ALLOW_PRIVATE_NETWORKS: '1', RESTSYNC_WORKERS: '1', RESTSYNC_SQL_DIR: path.join(prefix, 'sql'),
        RS_PREFIX: prefix, RS_RUN: run,
        RESTSYNC_ALLOW_ROOT: '1',         // the tests run as root; systemd runs them as restsync
        RESTSYNC_NGINX_USER: 'nobody',    // who nginx's workers are here (www-data in production)
      };
      for (const p of PROGRAMS) {
        for (const n of [1, 2]) {
          const c = spawn(path.join(prefix, 'deploy/restsync-fcgi.sh'), [`${p}.${n}`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
          c.stderr.on('data', () => {});
          const inst = { name: `${p}.${n}`, c, exit: new Promise((res) => c.on('exit', (code, signal) => res({ code, signal }))) };
          procs.push(inst);
        }
      }
      for (const p of PROGRAMS) {
        for (const n of [1, 2]) {
          const sock = path.join(run, `${p.replaceAll('_', '-')}.${n}.sock`);
          for (let i = 0; !fs.existsSync(sock); i++) {
            assert.ok(i < 100, `socket ${sock}`);
            await sleep(50);
          }
        }
      }
      // The sockets: 0660, group of the folder (nginx's only).
      const st = fs.statSync(path.join(run, 'rest-batch.1.sock'));
      assert.equal(st.mode & 0o777, 0o660);
      assert.equal(st.gid, nogroup);
      const bad = sh(path.join(prefix, 'deploy/restsync-fcgi.sh'), ['rest_batch'], env);
      assert.equal(bad.code, 2, 'the instance must be PROGRAM.N');

      // 4. nginx with the rendered config.
      const up = sh('nginx', ngx);
      assert.equal(up.code, 0, up.err);
      nginxUp = true;
      const base = `https://localhost:${HTTPS}`;
      const hz = curl(T, `http://127.0.0.1:${HTTP}/healthz`);
      assert.deepEqual([hz.status, hz.body], [200, 'ok\n']);
      const redirect = curl(T, `http://127.0.0.1:${HTTP}/backoffice/rest-sources`);
      assert.equal(redirect.status, 301);
      assert.equal(redirect.headers.location, 'https://127.0.0.1/backoffice/rest-sources');
      const tz = curl(T, `${base}/healthz`);
      assert.deepEqual([tz.status, tz.body], [200, 'ok\n']);
      assert.match(tz.headers['strict-transport-security'], /max-age=\d+/);

      const id = createSource('Deployed', dummyConfig());
      const anon = curl(T, `${base}/api/backoffice/rest-batch`, { method: 'POST', json: { sourceId: id } });
      assert.equal(anon.status, 401);
      const first = curl(T, `${base}/api/backoffice/rest-batch`, { method: 'POST', json: { sourceId: id }, user: 'admin:test-admin-pw' });
      assert.equal(first.status, 200, first.body);
      assert.equal(JSON.parse(first.body).items, 50);
      const list = curl(T, `${base}/api/backoffice/rest-sources`, { user: 'admin:test-admin-pw' });
      assert.equal(list.status, 200);
      assert.ok(JSON.parse(list.body).sources.some((s) => s.id === id));
      const none = curl(T, `${base}/api/backoffice/no-such-endpoint`, { user: 'admin:test-admin-pw' });
      assert.equal(none.status, 404);
      assert.equal(JSON.parse(none.body).ok, false);
      const page = curl(T, `${base}/backoffice/rest-sources`, { user: 'admin:test-admin-pw' });
      assert.equal(page.status, 200);
      assert.match(page.headers['content-security-policy'], /default-src 'self'/);

      // The production template's /api/ answers, nginx's own included
      // (401, 413, 502: tenants has no instance running here) and the
      // OpenAPI file nginx serves itself, carry no-store, the API's CSP
      // and HSTS (a nested add_header would drop the rest).
      fs.writeFileSync(path.join(T, 'big.json'), 'x'.repeat(300 * 1024));
      const apiAnswers = {
        401: curl(T, `${base}/api/backoffice/rest-sources`),
        413: curl(T, `${base}/api/backoffice/rest-batch`, { method: 'POST', bodyFile: path.join(T, 'big.json'), user: 'admin:test-admin-pw' }),
        502: curl(T, `${base}/api/backoffice/tenants`, { user: 'admin:test-admin-pw' }),
        200: curl(T, `${base}/api/backoffice/openapi.json`, { user: 'admin:test-admin-pw' }),
      };
      apiAnswers['200 program'] = list;
      for (const [what, a] of Object.entries(apiAnswers)) {
        assert.equal(a.status, Number(what.split(' ')[0]), `${what}: ${a.body.slice(0, 200)}`);
        assert.equal(a.headers['cache-control'], 'no-store', `${what}: Cache-Control`);
        assert.equal(a.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'", `${what}: CSP`);
        assert.equal(a.headers['strict-transport-security'], 'max-age=63072000', `${what}: HSTS`);
        assert.equal(a.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
      }

      // 5. One instance of rest_batch goes away: the other serves, no error.
      const one1 = procs.find((x) => x.name === 'rest_batch.1');
      one1.c.kill('SIGTERM');
      assert.deepEqual(await one1.exit, { code: 0, signal: null });
      const rest = [];
      for (let i = 0; i < 3; i++) {
        rest.push(curl(T, `${base}/api/backoffice/rest-batch`, { method: 'POST', json: { sourceId: id }, user: 'admin:test-admin-pw' }));
      }
      assert.deepEqual(rest.map((x) => x.status), [200, 200, 200], rest.map((x) => x.body).join('\n'));
      assert.deepEqual(rest.map((x) => JSON.parse(x.body).items), [50, 50, 44]);
      assert.equal(JSON.parse(rest[2].body).done, true);
      // nginx did try the dead instance and passed the request on.
      assert.match(fs.readFileSync(path.join(T, 'log/restsync-error.log'), 'utf8'),
        /connect\(\) to unix:[^ ]*rest-batch\.1\.sock failed \(111: Connection refused\)/);
    } finally {
      if (nginxUp) sh('nginx', ['-p', T, '-c', path.join(T, 'nginx.conf'), '-s', 'stop']);
      for (const x of procs) x.c.kill('SIGTERM');
      const exits = await Promise.all(procs.map((x) => x.exit));
      fs.rmSync(T, { recursive: true, force: true });
      exits.forEach((e) => assert.equal(e.signal, null));
    }
  });
