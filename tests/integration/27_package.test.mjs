// The Debian package, installed for real (issue 20).  build/deb's
// restsync_<version>_<arch>.deb (make deb, which scripts/test.sh runs first
// and which fails on any lintian warning) goes through dpkg -i, dpkg -r and
// dpkg --purge inside a throw-away root: an overlay of this machine's /
// (changes go to a tmpfs) in mount and PID namespaces of its own, so that
// the machine's users, dpkg database and /etc stay as they are, and the
// test stack's processes (which run as the same user restsync) are neither
// seen nor disturbed.  Twice:
//   1. a fresh machine (no user restsync): what postinst makes, with its
//      owners and modes; remove keeps the configuration, the key and the
//      users; purge removes them.
//   2. the user restsync already there (the test stack's, so that the
//      installed programs can reach its PostgreSQL socket): migrations and
//      db-roles.sql with /etc/restsync/migrate.env as restsync(1) and
//      restsync-fcgi(8) say, the installed programs started as the unit
//      does (restsync-fcgi.sh as restsync, /etc/restsync/restsync.env),
//      nginx with render-nginx.sh's production config over TLS on PORT+6
//      (HTTP) and PORT+7 (HTTPS), one batch, the OpenAPI document; then
//      purge, which keeps the user that was there before.
// Needs root (make test runs as root in CI).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSource, cursorRow, DB, dummyConfig, PORT, ROOT } from './lib.mjs';
import { loadValidator } from '../openapi/openapi.mjs';

const HTTP = PORT + 6;
const HTTPS = PORT + 7;
const DEBDIR = path.join(ROOT, 'build/deb');
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

function findDeb() {
  const debs = fs.existsSync(DEBDIR) ? fs.readdirSync(DEBDIR).filter((f) => /^restsync_[^_]+_[a-z0-9]+\.deb$/.test(f)) : [];
  assert.equal(debs.length, 1, `one restsync_*.deb in ${DEBDIR} (make deb): ${debs}`);
  return path.join(DEBDIR, debs[0]);
}

// A throw-away root: overlay of / with a tmpfs on top, fresh /run and /tmp,
// the test PostgreSQL's socket folder bound in (a socket is not reachable
// through an overlay), its own /proc.  Killing the holder (PID 1 of the
// namespace) ends every process started inside.
async function openRoot() {
  const T = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-deb-'));
  const R = path.join(T, 'm/root');
  const pgdir = new URLSearchParams(DB.slice(DB.indexOf('?') + 1)).get('host');
  const script = `set -e
mount -t tmpfs tmpfs ${T}/m
mkdir -p ${T}/m/upper ${T}/m/work ${R}
mount -t overlay overlay -o lowerdir=/,upperdir=${T}/m/upper,workdir=${T}/m/work ${R}
mount -t proc proc ${R}/proc
mount --rbind /dev ${R}/dev
mount -t tmpfs -o mode=0755 tmpfs ${R}/run
mount -t tmpfs -o mode=1777 tmpfs ${R}/tmp
${pgdir ? `mount --bind ${pgdir} ${R}${pgdir}` : ''}
echo ready
# PID 1 of the namespace: reaps the processes started inside (the shell
# waits for any child after each sleep) until the test kills it.
while :; do sleep 1; done`;
  fs.mkdirSync(path.join(T, 'm'));
  const holder = spawn('unshare', ['-m', '-p', '-f', '--kill-child=SIGKILL', '--propagation', 'private', 'sh', '-c', script],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  holder.stderr.on('data', (d) => { err += d; });
  await new Promise((res, rej) => {
    holder.stdout.on('data', (d) => { if (String(d).includes('ready')) res(); });
    holder.on('exit', (code) => rej(new Error(`throw-away root: unshare exited ${code}: ${err}`)));
  });
  const children = fs.readFileSync(`/proc/${holder.pid}/task/${holder.pid}/children`, 'utf8').trim();
  const inner = Number(children.split(/\s+/)[0]);
  assert.ok(inner > 0, 'the namespace holder');
  // Run a shell command in the root: {code, out, err}.
  const sh = (cmd, { input, env = {} } = {}) => {
    const r = spawnSync('nsenter', ['-t', String(inner), '-m', '-p', '--', 'chroot', R, 'sh', '-c', cmd],
      { input, encoding: 'utf8', timeout: 120000,
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C.UTF-8', ...env } });
    if (r.error) throw r.error;
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const ok = (cmd, opts) => {
    const r = sh(cmd, opts);
    assert.equal(r.code, 0, `${cmd}\n${r.out}\n${r.err}`);
    return r.out;
  };
  const close = async () => {
    // PID 1 of the namespace: every process in it goes with it.
    try { process.kill(inner, 'SIGKILL'); } catch { /* gone */ }
    holder.kill('SIGKILL');
    await new Promise((res) => (holder.exitCode !== null ? res() : holder.on('exit', res)));
    // The mounts went with the namespace; the folder is empty.
    fs.rmSync(T, { recursive: true, force: true });
  };
  return { R, sh, ok, close };
}

// "owner:group mode" of paths in the root.
function stats(root, paths) {
  const out = root.ok(`stat -c '%n %U:%G %a' ${paths.join(' ')}`);
  return Object.fromEntries(out.trim().split('\n').map((l) => {
    const [n, og, mode] = l.split(' ');
    return [n, `${og} ${mode}`];
  }));
}

function sysusers() {
  // The users and groups the package's postinst makes (deploy/restsync.sysusers).
  const lines = fs.readFileSync(path.join(ROOT, 'deploy/restsync.sysusers'), 'utf8').split('\n');
  const users = lines.filter((l) => /^u\s/.test(l)).map((l) => l.split(/\s+/)[1]);
  const groups = lines.filter((l) => /^g\s/.test(l)).map((l) => l.split(/\s+/)[1]);
  const members = lines.filter((l) => /^m\s/.test(l)).map((l) => l.split(/\s+/).slice(1, 3));
  return { users, groups, members };
}

test('package: contents, maintainer scripts and lintian', () => {
  const deb = findDeb();
  const list = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8' });
  const files = list.split('\n').filter(Boolean).map((l) => l.split(/\s+/).slice(5).join(' ').replace(/^\./, ''));
  const programs = fs.readdirSync(path.join(ROOT, 'cgi-src')).filter((f) => f.endsWith('.c'))
    .map((f) => f.slice(0, -2)).filter((p) => p !== 'demo_upstream').sort();
  const packaged = files.filter((f) => f.startsWith('/usr/lib/restsync/fcgi/') && !f.endsWith('/'))
    .map((f) => path.basename(f)).sort();
  assert.deepEqual(packaged, programs, 'every FastCGI program but the demo upstream');
  for (const f of ['/usr/lib/restsync/bin/restsync', '/usr/bin/restsync -> ../lib/restsync/bin/restsync',
    '/usr/share/man/man1/restsync.1.gz', '/usr/share/man/man8/restsync-fcgi.8.gz',
    '/usr/share/restsync/openapi.json', '/usr/share/restsync/openapi.yaml',
    '/lib/systemd/system/restsync-fcgi@.service', '/lib/systemd/system/restsync-worker.service',
    '/lib/systemd/system/restsync.target', '/usr/lib/tmpfiles.d/restsync.conf',
    '/lib/systemd/system/restsync-migrate.service', '/etc/restsync/migrate.env',
    '/usr/share/restsync/db-roles.sql', '/usr/lib/restsync/deploy/restsync-preflight.sh',
    '/usr/lib/restsync/deploy/restsync-psql.sh',
    '/usr/lib/sysusers.d/restsync.conf', '/etc/restsync/restsync.env',
    '/etc/nginx/snippets/restsync-fastcgi.conf', '/usr/share/restsync/nginx/restsync-prod.conf.in',
    '/usr/lib/restsync/deploy/restsync-fcgi.sh', '/usr/lib/restsync/deploy/render-nginx.sh',
    '/usr/share/restsync/static/rest-sources.html', '/usr/share/doc/restsync/copyright']) {
    assert.ok(files.includes(f), `${f} in the package`);
  }
  for (const f of fs.readdirSync(path.join(ROOT, 'sql')).filter((x) => /^\d{3}_.*\.sql$/.test(x))) {
    assert.ok(files.includes(`/usr/share/restsync/sql/${f}`), f);
  }
  assert.ok(!files.some((f) => f.startsWith('/opt/') || f.startsWith('/usr/local/')), 'nothing in /opt or /usr/local');
  // The environment file is never world-readable, not even before postinst.
  assert.match(list, /^-rw-r----- root\/root .* \.\/etc\/restsync\/restsync\.env$/m);
  // The owner role's URL is root's alone.
  assert.match(list, /^-rw------- root\/root .* \.\/etc\/restsync\/migrate\.env$/m);
  assert.match(list, /^-rw-r--r-- root\/root .* \.\/usr\/share\/restsync\/db-roles\.sql$/m);
  assert.match(list, /^lrwxrwxrwx root\/root .* \.\/usr\/lib\/restsync\/deploy\/db-roles\.sql -> \.\.\/\.\.\/\.\.\/share\/restsync\/db-roles\.sql$/m);

  const info = execFileSync('dpkg-deb', ['-f', deb, 'Depends'], { encoding: 'utf8' });
  for (const d of ['nginx', 'spawn-fcgi', 'postgresql-client', 'adduser', 'libfcgi0ldbl', 'libpq5', 'libcurl4', 'libjson-c5', 'libssl3']) {
    assert.match(info, new RegExp(`(^|, )${d}( |,|$)`), `Depends: ${d}`);
  }
  const ctl = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-ctl-'));
  try {
    execFileSync('dpkg-deb', ['-e', deb, ctl]);
    assert.deepEqual(fs.readFileSync(path.join(ctl, 'conffiles'), 'utf8').trim().split('\n').sort(),
      ['/etc/nginx/snippets/restsync-fastcgi.conf', '/etc/restsync/migrate.env', '/etc/restsync/restsync.env']);
    // The maintainer scripts never touch a database.
    for (const s of ['preinst', 'postinst', 'prerm', 'postrm']) {
      const p = path.join(ctl, s);
      if (!fs.existsSync(p)) continue;
      const code = fs.readFileSync(p, 'utf8').split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
      assert.doesNotMatch(code, /psql|restsync\s+migrate|DATABASE_URL|pg_dump|pg_ctl/, s);
    }
  } finally {
    fs.rmSync(ctl, { recursive: true, force: true });
  }
  // The units as installed: every EnvironmentFile= without "-" and every
  // program they run is in the package (a unit whose environment file is
  // missing never starts; restsync-fcgi@ and the worker require the
  // migrations unit, so they would not either); systemd-analyze verify
  // finds nothing wrong.
  const x = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-units-'));
  try {
    execFileSync('dpkg-deb', ['-x', deb, x]);
    const unitDir = path.join(x, 'lib/systemd/system');
    const unitFiles = fs.readdirSync(unitDir).sort();
    assert.deepEqual(unitFiles, ['restsync-fcgi@.service', 'restsync-migrate.service', 'restsync-worker.service', 'restsync.target']);
    const has = (p) => files.includes(p) || fs.existsSync(path.join(x, p));
    for (const u of unitFiles) {
      const text = fs.readFileSync(path.join(unitDir, u), 'utf8');
      for (const [, opt, file] of text.matchAll(/^EnvironmentFile=(-?)(\S+)$/gm)) {
        if (opt !== '-') assert.ok(has(file), `${u}: EnvironmentFile=${file} is in the package`);
      }
      for (const [, exe] of text.matchAll(/^Exec\w+=[-+@!:]*(\S+)/gm)) {
        assert.ok(has(exe), `${u}: ${exe} is in the package`);
      }
      for (const [, dep] of text.matchAll(/^(?:Requires|After|Wants)=(.*)$/gm)) {
        for (const d of dep.split(/\s+/).filter((n) => n.startsWith('restsync'))) {
          assert.ok(unitFiles.includes(d), `${u}: ${d} is in the package`);
        }
      }
    }
    const mig = fs.readFileSync(path.join(unitDir, 'restsync-migrate.service'), 'utf8');
    assert.deepEqual([...mig.matchAll(/^EnvironmentFile=(.*)$/gm)].map((m) => m[1]), ['/etc/restsync/migrate.env'],
      'the migrations unit loads the owner\'s URL only');
    assert.match(mig, /^ExecStartPre=\/usr\/lib\/restsync\/deploy\/restsync-preflight\.sh migrate$/m);
    for (const u of ['restsync-fcgi@.service', 'restsync-worker.service']) {
      const text = fs.readFileSync(path.join(unitDir, u), 'utf8');
      assert.match(text, /^Requires=restsync-migrate\.service$/m, u);
      assert.match(text, /^ExecStartPre=\/usr\/lib\/restsync\/deploy\/restsync-preflight\.sh programs$/m, u);
    }
    // The shipped migrate.env is the example with the package's paths.
    const menv = fs.readFileSync(path.join(x, 'etc/restsync/migrate.env'), 'utf8');
    assert.match(menv, /^DATABASE_URL="postgresql:\/\/restsync:CHANGE-ME/m);
    assert.match(menv, /restsync-psql\.sh -f \/usr\/lib\/restsync\/deploy\/db-roles\.sql/);
    assert.doesNotMatch(menv, /psql "\$DATABASE_URL"/);
  } finally {
    fs.rmSync(x, { recursive: true, force: true });
  }
  // make deb ran lintian with --fail-on error,warning; its log is kept.
  const lint = fs.readFileSync(path.join(DEBDIR, 'lintian.log'), 'utf8');
  assert.doesNotMatch(lint, /^[EW]: /m, lint);
});

test('package: man pages render without warnings', () => {
  for (const page of ['man/restsync.1', 'man/restsync-fcgi.8']) {
    const r = spawnSync('man', ['--warnings', '-l', path.join(ROOT, page)],
      { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', LC_ALL: 'C.UTF-8' } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '', `${page}: ${r.stderr}`);
    assert.match(r.stdout, /^NAME\n/m);
  }
  // restsync(1) names every command, option and environment variable that
  // restsync --help lists.
  const help = execFileSync(path.join(ROOT, 'build/release/cli/restsync'), ['--help'], { encoding: 'utf8' });
  const page = execFileSync('man', ['-l', path.join(ROOT, 'man/restsync.1')],
    { encoding: 'utf8', env: { ...process.env, MANWIDTH: '200', LC_ALL: 'C.UTF-8' } });
  const commands = [...help.matchAll(/^ {2}([a-z-]+) /gm)].map((m) => m[1]);
  assert.ok(commands.length >= 7, help);
  const section = (name) => {
    const i = page.indexOf(`\n${name}\n`);
    assert.ok(i >= 0, `section ${name}`);
    const rest = page.slice(i + name.length + 2);
    const j = rest.search(/\n[A-Z][A-Z ]+\n/);
    return j < 0 ? rest : rest.slice(0, j);
  };
  const cmds = section('COMMANDS');
  for (const c of commands) assert.match(cmds, new RegExp(`^ {7}${c}\\b`, 'm'), `restsync(1) COMMANDS: ${c}`);
  const envPart = help.slice(help.indexOf('\nenvironment'), help.indexOf('\nexit status'));
  assert.ok(envPart.length > 20, help);
  const envs = [...envPart.matchAll(/\b([A-Z][A-Z0-9_]{3,})\b/g)].map((m) => m[1]);
  assert.ok(envs.length >= 7, envPart);
  const envSection = section('ENVIRONMENT');
  for (const e of envs) assert.match(envSection, new RegExp(`\\b${e}\\b`), `restsync(1) ENVIRONMENT: ${e}`);
  const exits = section('EXIT STATUS');
  for (const code of ['0', '1', '2', '130']) assert.match(exits, new RegExp(`^ {7}${code}\\b`, 'm'), `exit ${code}`);
  // SYNOPSIS: every command with its options and arguments, as its
  // usage line says (restsync sync [--again] SOURCE_ID).
  const synopsis = section('SYNOPSIS').split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
  for (const cmd of commands.filter((c) => c !== 'help')) {
    const ch = execFileSync(path.join(ROOT, 'build/release/cli/restsync'), [cmd, '--help'], { encoding: 'utf8' });
    for (const o of ch.match(/--[a-z]+/g) || []) {
      if (o !== '--help') assert.match(section('OPTIONS'), new RegExp(`${o}\\b`), `restsync(1) OPTIONS: ${o}`);
    }
    const usage = ch.split('\n')[0].replace(/^usage: /, '').trim();
    assert.ok(synopsis.includes(usage), `restsync(1) SYNOPSIS: ${usage}`);
  }
  assert.ok(synopsis.includes('restsync help [COMMAND]'), 'SYNOPSIS: help');
  // The refusal of root is documented where it applies.
  assert.doesNotMatch(page, /root included/);
  assert.match(section('EXIT STATUS'), /RESTSYNC_ALLOW_ROOT/);
  // restsync-fcgi(8) names every environment variable the programs read.
  const fcgi = execFileSync('man', ['-l', path.join(ROOT, 'man/restsync-fcgi.8')],
    { encoding: 'utf8', env: { ...process.env, MANWIDTH: '200', LC_ALL: 'C.UTF-8' } });
  // common/ is in layer folders (docs/ARCHITECTURE.md "Layers").
  const dirs = ['cgi-src', ...fs.readdirSync(path.join(ROOT, 'common')).map((l) => `common/${l}`)];
  const sources = (ds) => ds.flatMap((d) => fs.readdirSync(path.join(ROOT, d))
    .filter((f) => f.endsWith('.c')).map((f) => fs.readFileSync(path.join(ROOT, d, f), 'utf8'))).join('\n');
  const envRead = (src) => {
    const r = new Set([...src.matchAll(/getenv\("([A-Z_]+)"\)/g)].map((m) => m[1]));
    for (const m of src.matchAll(/wk_env_num\("([A-Z_]+)"/g)) r.add(m[1]);
    for (const m of src.matchAll(/copy_env\([^"]*"([A-Z_]+)"/g)) r.add(m[1]);
    return r;
  };
  const read = envRead(sources(dirs));
  // What the command itself reads (cli/): in restsync(1)'s ENVIRONMENT.
  const cliRead = envRead(sources(['cli']));
  assert.ok(cliRead.has('RESTSYNC_ALLOW_ROOT'), [...cliRead].join(' '));
  for (const e of cliRead) assert.match(envSection, new RegExp(`\\b${e}\\b`), `restsync(1) ENVIRONMENT: ${e}`);
  const workerOnly = ['RESTSYNC_WORKER_SLICE_SECONDS', 'RESTSYNC_WORKER_IDLE_SECONDS', 'RESTSYNC_WORKER_MINUTE_SECONDS',
    'RESTSYNC_WORKER_SCHEDULE', 'RESTSYNC_WORKER_RUNS',
    // Read by a pipelined run only (the worker), never by the programs.
    'RESTSYNC_EMBED_CONCURRENCY'];
  assert.ok(read.size >= 10, [...read].join(' '));
  for (const e of read) {
    const where = workerOnly.includes(e) ? page : fcgi;
    assert.match(where, new RegExp(`\\b${e}\\b`), `${e} is documented`);
  }
});

test('package: dpkg -i on a fresh machine, remove, purge', { timeout: 240000 }, async () => {
  const deb = findDeb();
  const { users, groups, members } = sysusers();
  assert.ok(users.includes('restsync'), 'the service user');
  const root = await openRoot();
  try {
    // A fresh machine: no restsync user or group (the test stack's are
    // hidden in this root only).  Minimised images tell dpkg to skip man
    // pages; this root installs them (they are checked below).
    root.ok('sed -i "/^path-exclude/d" /etc/dpkg/dpkg.cfg.d/* 2>/dev/null; true');
    root.ok(`for f in /etc/passwd /etc/shadow /etc/group /etc/gshadow; do
      [ -f "$f" ] && sed -i ${[...users, ...groups].map((n) => `-e '/^${n}:/d'`).join(' ')} "$f"; done; true`);
    for (const u of users) assert.notEqual(root.sh(`getent passwd ${u}`).code, 0);
    assert.notEqual(root.sh('dpkg -s restsync').code, 0, 'not installed yet');

    const inst = root.sh(`dpkg -i ${deb}`, { env: { DEBIAN_FRONTEND: 'noninteractive' } });
    assert.equal(inst.code, 0, inst.out + inst.err);
    assert.match(root.ok('dpkg-query -W -f=\'${Status}\' restsync'), /install ok installed/);

    // Users and groups.
    for (const u of users) {
      const [, , uid, gid, , home, shell] = root.ok(`getent passwd ${u}`).trim().split(':');
      assert.ok(+uid > 0 && +uid < 1000, `${u} is a system user (${uid})`);
      assert.equal(home, '/nonexistent');
      assert.equal(shell, '/usr/sbin/nologin');
      assert.equal(root.ok(`getent group ${gid}`).split(':')[0], u, 'its own group');
    }
    for (const g of groups) assert.equal(root.sh(`getent group ${g}`).code, 0, `group ${g}`);
    for (const [u, g] of members) {
      assert.ok(root.ok(`id -nG ${u}`).trim().split(' ').includes(g), `${u} in ${g}`);
    }

    // Owners and modes.
    const st = stats(root, ['/etc/restsync', '/etc/restsync/restsync.env', '/etc/restsync/secret.key',
      '/etc/restsync/migrate.env', '/usr/share/restsync/db-roles.sql',
      '/run/restsync', '/usr/lib/restsync/bin/restsync', '/usr/lib/restsync/fcgi/rest_batch',
      '/etc/nginx/snippets/restsync-fastcgi.conf']);
    // /run/restsync as deploy/restsync.tmpfiles says (the sockets' boundary).
    const [, , mode, owner, group] = fs.readFileSync(path.join(ROOT, 'deploy/restsync.tmpfiles'), 'utf8')
      .split('\n').find((l) => /^d\s+\/run\/restsync\s/.test(l)).split(/\s+/);
    assert.deepEqual(st, {
      '/etc/restsync': 'root:restsync 750',
      '/etc/restsync/restsync.env': 'root:restsync 640',
      '/etc/restsync/secret.key': 'root:restsync 640',
      '/etc/restsync/migrate.env': 'root:root 600',
      '/usr/share/restsync/db-roles.sql': 'root:root 644',
      '/run/restsync': `${owner}:${group} ${mode.replace(/^0/, '')}`,
      '/usr/lib/restsync/bin/restsync': 'root:root 755',
      '/usr/lib/restsync/fcgi/rest_batch': 'root:root 755',
      '/etc/nginx/snippets/restsync-fastcgi.conf': 'root:root 644',
    });
    assert.match(root.ok('cat /etc/restsync/secret.key'), /^[0-9a-f]{64}\n$/);
    assert.equal(root.sh('setpriv --reuid=restsync --regid=restsync --init-groups cat /etc/restsync/secret.key').code, 0,
      'the service user reads the key');
    assert.notEqual(root.sh('setpriv --reuid=nobody --regid=nogroup --clear-groups cat /etc/restsync/secret.key').code, 0,
      'nobody else does');
    assert.notEqual(root.sh('setpriv --reuid=nobody --regid=nogroup --clear-groups cat /etc/restsync/restsync.env').code, 0);
    assert.notEqual(root.sh('setpriv --reuid=restsync --regid=restsync --init-groups cat /etc/restsync/migrate.env').code, 0,
      'the owner\'s URL is root\'s alone');
    // Not configured yet: each unit's ExecStartPre says which file, with
    // the environment systemd gives it (the shipped files as they are).
    for (const [what, file] of [['migrate', 'migrate.env'], ['programs', 'restsync.env']]) {
      const r = root.sh(`set -a; . /etc/restsync/${file}; set +a
        exec setpriv --reuid=restsync --regid=restsync --init-groups /usr/lib/restsync/deploy/restsync-preflight.sh ${what}`);
      assert.equal(r.code, 1, `${what}: ${r.out}${r.err}`);
      assert.match(r.err, new RegExp(`^restsync: not configured: /etc/restsync/${file.replace('.', '\\.')}: DATABASE_URL is still the example's`), r.err);
    }
    const unset = root.sh('env -u DATABASE_URL /usr/lib/restsync/deploy/restsync-preflight.sh migrate');
    assert.equal(unset.code, 1);
    assert.match(unset.err, /migrate\.env: DATABASE_URL is not set/);
    // What postinst made is recorded, for purge.
    const created = root.ok('cat /var/lib/restsync/created-users').trim().split('\n').sort();
    assert.deepEqual(created, [...users.map((u) => `user ${u}`), ...users.map((u) => `group ${u}`),
      ...groups.map((g) => `group ${g}`), ...members.map(([u, g]) => `member ${u} ${g}`)].sort());
    const overrides = root.ok('dpkg-statoverride --list');
    assert.match(overrides, /^root restsync 750 \/etc\/restsync$/m);
    assert.match(overrides, /^root restsync 640 \/etc\/restsync\/restsync\.env$/m);

    // The installed files work: the CLI, its migrations, the units' paths, the man pages.
    assert.match(root.ok('restsync --help'), /^usage: restsync COMMAND/);
    assert.equal(root.sh('restsync frobnicate').code, 2);
    assert.equal(root.ok('readlink -f /usr/lib/restsync/sql'), '/usr/share/restsync/sql\n');
    const units = root.ok('cat /lib/systemd/system/restsync-fcgi@.service /lib/systemd/system/restsync-worker.service');
    assert.doesNotMatch(units, /\/opt\//);
    for (const [, exe] of units.matchAll(/^Exec\w+=(\S+)/gm)) {
      assert.equal(root.sh(`test -x ${exe}`).code, 0, `${exe} is installed`);
    }
    assert.match(units, /^EnvironmentFile=\/etc\/restsync\/restsync\.env$/m);
    assert.match(root.ok('cat /etc/restsync/restsync.env'), /^RESTSYNC_SQL_DIR=\/usr\/lib\/restsync\/sql$/m);
    assert.equal(root.ok('man -w restsync'), '/usr/share/man/man1/restsync.1.gz\n');
    const m8 = root.sh('MANWIDTH=80 man --warnings restsync-fcgi');
    assert.equal(m8.code, 0, m8.err);
    assert.equal(m8.err, '');
    assert.match(m8.out, /RESTSYNC_WORKERS/);
    // The units are neither enabled nor started by the installation.
    assert.equal(root.sh('ls /etc/systemd/system/*.wants/restsync* 2>/dev/null').out, '');

    // A second configure (reinstall) changes nothing it made.
    const key = root.ok('cat /etc/restsync/secret.key');
    const uid = root.ok('id -u restsync');
    const again = root.sh(`dpkg -i ${deb}`, { env: { DEBIAN_FRONTEND: 'noninteractive' } });
    assert.equal(again.code, 0, again.out + again.err);
    assert.equal(root.ok('cat /etc/restsync/secret.key'), key, 'the key is never replaced');
    assert.equal(root.ok('id -u restsync'), uid);

    // remove: the programs go; the configuration, the key and the users stay.
    const rm = root.sh('dpkg -r restsync');
    assert.equal(rm.code, 0, rm.out + rm.err);
    assert.notEqual(root.sh('test -e /usr/lib/restsync/fcgi/rest_batch').code, 0);
    assert.notEqual(root.sh('test -e /usr/bin/restsync').code, 0);
    assert.equal(root.ok('cat /etc/restsync/secret.key'), key);
    assert.equal(root.sh('test -f /etc/restsync/restsync.env').code, 0, 'conffiles stay until purge');
    assert.equal(root.sh('getent passwd restsync').code, 0, 'the user stays until purge');

    // purge: everything the package made goes.
    const purge = root.sh('dpkg --purge restsync');
    assert.equal(purge.code, 0, purge.out + purge.err);
    assert.doesNotMatch(purge.out + purge.err, /could not remove/);
    for (const u of users) assert.notEqual(root.sh(`getent passwd ${u}`).code, 0, `user ${u} removed`);
    for (const g of [...users, ...groups]) assert.notEqual(root.sh(`getent group ${g}`).code, 0, `group ${g} removed`);
    for (const p of ['/etc/restsync', '/run/restsync', '/var/lib/restsync', '/usr/lib/restsync', '/usr/share/restsync',
      '/etc/nginx/snippets/restsync-fastcgi.conf', '/lib/systemd/system/restsync-fcgi@.service']) {
      assert.notEqual(root.sh(`test -e ${p}`).code, 0, `${p} removed`);
    }
    assert.doesNotMatch(root.ok('dpkg-statoverride --list'), /restsync/);
    assert.notEqual(root.sh('dpkg -s restsync').code, 0);
  } finally {
    await root.close();
  }
  // The machine itself is untouched.
  assert.equal(spawnSync('dpkg', ['-s', 'restsync']).status === 0, false, 'not installed on the machine');
});

test('package: the installed programs serve a batch through nginx, then purge', { timeout: 240000 }, async () => {
  const deb = findDeb();
  const id = createSource('Installed from the .deb', dummyConfig());
  const root = await openRoot();
  try {
    // The user restsync is there before (the test stack's) and its group;
    // the sockets' group is not: the package makes that one only.
    const { groups } = sysusers();
    root.ok(`for f in /etc/group /etc/gshadow; do
      [ -f "$f" ] && sed -i ${groups.map((n) => `-e '/^${n}:/d'`).join(' ')} "$f"; done; true`);
    const before = { user: root.ok('getent passwd restsync'), group: root.ok('getent group restsync') };
    const inst = root.sh(`dpkg -i ${deb}`, { env: { DEBIAN_FRONTEND: 'noninteractive' } });
    assert.equal(inst.code, 0, inst.out + inst.err);
    assert.deepEqual(root.ok('cat /var/lib/restsync/created-users').trim().split('\n').sort(),
      [...groups.map((g) => `group ${g}`), 'member www-data restsync-web'].sort(), 'only what it made');

    // The operator's configuration: the test database (its owner role for
    // the migrations, in migrate.env); the upstream imitation is on loopback.
    for (const f of ['restsync.env', 'migrate.env']) {
      root.ok(`sed -i 's|^DATABASE_URL=.*|DATABASE_URL="${DB.replaceAll('&', '\\&')}"|' /etc/restsync/${f}`);
    }
    root.ok('echo RESTSYNC_ALLOW_PRIVATE_NETWORKS=1 >>/etc/restsync/restsync.env');
    // restsync(1)'s EXAMPLES and restsync-fcgi(8)'s steps, as written: root's
    // shell reads the file, the command runs as restsync (runuser keeps the
    // environment), the URLs never on a command line.
    for (const what of ['migrate', 'programs']) {
      const file = what === 'migrate' ? 'migrate.env' : 'restsync.env';
      root.ok(`set -a; . /etc/restsync/${file}; set +a
        exec runuser -u restsync -- /usr/lib/restsync/deploy/restsync-preflight.sh ${what}`);
    }
    assert.equal(root.ok(`sh -c 'set -a; . /etc/restsync/migrate.env; set +a
      exec runuser -u restsync -- restsync migrate'`), 'migrate: up to date (/usr/lib/restsync/sql)\n');
    root.ok(`sh -c 'set -a; . /etc/restsync/migrate.env; set +a
      exec runuser -u restsync -- /usr/lib/restsync/deploy/restsync-psql.sh -X -q -f /usr/share/restsync/db-roles.sql'`);
    assert.match(root.ok(`sh -c 'set -a; . /etc/restsync/restsync.env; set +a
      exec runuser -u restsync -- restsync list'`), new RegExp(id));
    // As root the command refuses, unless told (a container).
    const asRoot = root.sh('set -a; . /etc/restsync/restsync.env; set +a; restsync list');
    assert.equal(asRoot.code, 1);
    assert.match(asRoot.err, /refusing to run as root/);
    assert.match(root.ok('set -a; . /etc/restsync/restsync.env; set +a; RESTSYNC_ALLOW_ROOT=1 restsync list'), new RegExp(id));

    // Every program, one instance each, as restsync-fcgi@<program>.1 runs it:
    // the unit's user and environment file, the installed start script.
    const programs = root.ok('ls /usr/lib/restsync/fcgi').trim().split('\n');
    for (const p of programs) {
      root.ok(`set -a; . /etc/restsync/restsync.env; set +a
        RESTSYNC_WORKERS=1 setpriv --reuid=restsync --regid=restsync --init-groups \
          /usr/lib/restsync/deploy/restsync-fcgi.sh ${p}.1 </dev/null >/tmp/${p}.log 2>&1 &
        echo $! >>/tmp/fcgi.pids`);
    }
    for (const p of programs) {
      const sock = `/run/restsync/${p.replaceAll('_', '-')}.1.sock`;
      for (let i = 0; root.sh(`test -S ${sock}`).code !== 0; i++) {
        assert.ok(i < 100, `${sock}: ${root.sh(`cat /tmp/${p}.log`).out}`);
        await sleep(50);
      }
    }
    // nginx as the README says: the rendered production config in conf.d.
    root.ok(`mkdir -p /etc/ssl/rs-test /tmp/nginx-log
      openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
        -keyout /etc/ssl/rs-test/key.pem -out /etc/ssl/rs-test/cert.pem 2>/dev/null
      printf 'admin:%s\\n' "$(printf test-admin-pw | openssl passwd -6 -stdin)" >/etc/nginx/restsync.htpasswd
      chown root:www-data /etc/nginx/restsync.htpasswd; chmod 0640 /etc/nginx/restsync.htpasswd
      SERVER_NAME=localhost TLS_CERT=/etc/ssl/rs-test/cert.pem TLS_KEY=/etc/ssl/rs-test/key.pem \
        RS_INSTANCES=1 RS_LOG=/tmp/nginx-log LISTEN_HTTP=127.0.0.1:${HTTP} LISTEN_HTTPS=127.0.0.1:${HTTPS} \
        /usr/lib/restsync/deploy/render-nginx.sh >/etc/nginx/conf.d/restsync.conf
      cat >/tmp/nginx.conf <<EOF
user www-data;
pid /tmp/nginx.pid;
error_log /tmp/nginx-log/error.log;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    client_body_temp_path /tmp/nginx-body;
    fastcgi_temp_path /tmp/nginx-fastcgi;
    include /etc/nginx/conf.d/restsync.conf;
}
EOF
      nginx -t -c /tmp/nginx.conf 2>&1 && nginx -c /tmp/nginx.conf`);
    const conf = root.ok('cat /etc/nginx/conf.d/restsync.conf');
    assert.match(conf, /include \/usr\/lib\/restsync\/nginx\/fastcgi_restsync\.conf;/);
    assert.match(conf, /alias \/usr\/lib\/restsync\/openapi\.json;/);

    // The root is mounted in its namespace only: curl gets a copy of the certificate.
    const cacert = path.join(os.tmpdir(), `rs-deb-ca-${process.pid}.pem`);
    fs.writeFileSync(cacert, root.ok('cat /etc/ssl/rs-test/cert.pem'));
    after(() => fs.rmSync(cacert, { force: true }));
    const curl = (url, { user, json } = {}) => {
      const args = ['-sS', '--max-time', '40', '--cacert', cacert,
        '--resolve', `localhost:${HTTPS}:127.0.0.1`, '-D', '-'];
      if (user) args.push('-u', user);
      if (json !== undefined) args.push('-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(json));
      const out = execFileSync('curl', [...args, url], { encoding: 'utf8' });
      const split = out.indexOf('\r\n\r\n');
      const head = out.slice(0, split).split('\r\n');
      const headers = Object.fromEntries(head.slice(1).map((l) =>
        [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      return { status: +head[0].split(' ')[1], headers, body: out.slice(split + 4) };
    };
    const base = `https://localhost:${HTTPS}`;
    const openapi = await loadValidator();
    const checked = (method, url, r) => {
      const errors = openapi.check({ method, pathname: new URL(url).pathname, status: r.status, headers: r.headers, body: r.body });
      assert.deepEqual(errors, [], 'matches docs/openapi.yaml');
      return r;
    };
    let hz;
    for (let i = 0; ; i++) {
      hz = curl(`${base}/healthz`);
      if (hz.status === 200 || i > 50) break;
      await sleep(100);
    }
    assert.deepEqual([checked('GET', `${base}/healthz`, hz).status, hz.body], [200, 'ok\n']);
    const anon = checked('POST', `${base}/api/backoffice/rest-batch`,
      curl(`${base}/api/backoffice/rest-batch`, { json: { sourceId: id } }));
    assert.equal(anon.status, 401);
    const r = checked('POST', `${base}/api/backoffice/rest-batch`,
      curl(`${base}/api/backoffice/rest-batch`, { json: { sourceId: id }, user: 'admin:test-admin-pw' }));
    assert.equal(r.status, 200, r.body);
    const b = JSON.parse(r.body);
    assert.deepEqual([b.ok, b.items, b.inserted, b.itemCount, b.total, b.done], [true, 50, 50, 50, 194, false]);
    const cur = cursorRow(id);
    assert.deepEqual([cur.pages, cur.items, cur.status], [1, 50, 'ok']);
    const spec = checked('GET', `${base}/api/backoffice/openapi.json`,
      curl(`${base}/api/backoffice/openapi.json`, { user: 'admin:test-admin-pw' }));
    assert.equal(spec.status, 200);
    assert.match(spec.headers['content-type'], /^application\/json/);
    assert.equal(spec.body, fs.readFileSync(path.join(ROOT, 'docs/openapi.json'), 'utf8'));
    const health = checked('GET', `${base}/api/backoffice/health`,
      curl(`${base}/api/backoffice/health`, { user: 'admin:test-admin-pw' }));
    assert.equal(JSON.parse(health.body).migrations.current, true);
    // The programs run as restsync, never root.
    const pids = root.ok('cat /tmp/fcgi.pids').trim().split('\n');
    assert.equal(pids.length, programs.length);
    const users = root.ok(`ps -o user= -o args= -p ${pids.join(',')}`).trim().split('\n');
    assert.equal(users.length, programs.length, 'every program is running');
    for (const u of users) assert.match(u, /^restsync +\/usr\/lib\/restsync\/fcgi\/[a-z_]+$/);

    // Stop what runs as restsync, then purge: the users go too.
    root.ok('nginx -c /tmp/nginx.conf -s stop');
    root.ok('kill $(cat /tmp/fcgi.pids)');
    for (let i = 0; root.sh('ps -u restsync -o pid=').out.trim() !== ''; i++) {
      assert.ok(i < 100, 'the programs stop on SIGTERM');
      await sleep(100);
    }
    const purge = root.sh('dpkg --purge restsync');
    assert.equal(purge.code, 0, purge.out + purge.err);
    assert.doesNotMatch(purge.out + purge.err, /could not remove/);
    // The user and group that were there before the package stay; the
    // group it made goes.
    assert.equal(root.ok('getent passwd restsync'), before.user, 'a user the package did not make stays');
    assert.equal(root.ok('getent group restsync'), before.group, 'its group too');
    for (const g of groups) assert.notEqual(root.sh(`getent group ${g}`).code, 0, `group ${g} (made by the package) is gone`);
    assert.notEqual(root.sh('test -e /etc/restsync/secret.key').code, 0, 'the key is gone');
    assert.notEqual(root.sh('test -e /etc/restsync/migrate.env').code, 0, 'migrate.env is gone');
  } finally {
    await root.close();
  }
  // The test stack still serves: its user and PostgreSQL were not touched.
  assert.equal(spawnSync('getent', ['passwd', 'restsync']).status, 0);
  assert.equal(cursorRow(id).items, 50);
});
