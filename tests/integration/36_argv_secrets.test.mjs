// Issue 14 item 7: DATABASE_URL never goes on a command line (`ps` and
// /proc/PID/cmdline show every process's arguments to every local user).
// The scripts that take it — scripts/migrate.sh, scripts/seed.sh,
// scripts/stack.sh start (migrations, db-roles, the admin row, the
// FastCGI programs under spawn-fcgi, the run workers under runuser) and
// deploy/restsync-psql.sh — run under `strace -f -e trace=execve` with a
// DATABASE_URL that carries a recognisable password (the test PostgreSQL
// trusts local connections, so the password is ignored): it appears in no
// execve's arguments.  psql gets it through PGPASSWORD, the others
// through their environment.  Also: deploy/db-roles.sql run by a
// superuser grants the application role the tables the OWNER creates
// later (default privileges FOR ROLE the owner).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DB, PORT, ROOT, one } from './lib.mjs';

const PW = 'Canary-Pw-36-c0ffee';
const STACK_PORT = PORT + 8;
// The test database's URL with the password in the user information
// (postgresql://restsync:PW@/restsync?host=...) and as a parameter.
const withUserinfo = DB.replace(/^postgresql:\/\/\//, `postgresql://restsync:${PW}@/`);
const withParam = `${DB}&password=${PW}`;

function strace(out) {
  assert.equal(spawnSync('strace', ['-V']).status, 0, 'strace is installed (scripts/deps.sh)');
  return ['-f', '-qq', '-e', 'trace=execve', '-s', '4096', '-o', out];
}

// The execve lines of a trace, and those that carry the password.
function execs(out) {
  const lines = fs.readFileSync(out, 'utf8').split('\n').filter((l) => l.includes('execve('));
  return { lines, leaks: lines.filter((l) => l.includes(PW)) };
}

// LeakSanitizer cannot run under ptrace (it stops the program with a
// fatal error): in the sanitizer pass, programs traced here skip the leak
// check (every other suite runs them with it).
const untracedLeaks = () => (process.env.ASAN_OPTIONS ? { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS}:detect_leaks=0` } : {});

function traced(cmd, args, env) {
  const T = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-argv-'));
  const out = path.join(T, 'trace');
  try {
    const r = spawnSync('strace', [...strace(out), cmd, ...args],
      { env: { ...process.env, ...untracedLeaks(), ...env }, encoding: 'utf8', timeout: 120000 });
    if (r.error) throw r.error;
    return { code: r.status, out: r.stdout, err: r.stderr, ...execs(out) };
  } finally {
    fs.rmSync(T, { recursive: true, force: true });
  }
}

test('argv: scripts/migrate.sh takes DATABASE_URL from the environment only', () => {
  assert.ok(DB.startsWith('postgresql:///'), DB);
  for (const url of [withUserinfo, withParam]) {
    const r = traced(path.join(ROOT, 'scripts/migrate.sh'), [], { DATABASE_URL: url, RESTSYNC_ALLOW_ROOT: '1' });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^migrate: up to date/);
    assert.ok(r.lines.some((l) => /cli\/restsync", \["[^"]*restsync", "migrate"\]/.test(l)), r.lines.join('\n'));
    assert.deepEqual(r.leaks, [], 'the password is in no command line');
  }
  // The URL as an argument is refused, not used.
  const arg = spawnSync(path.join(ROOT, 'scripts/migrate.sh'), [withUserinfo], { encoding: 'utf8', env: { ...process.env, DATABASE_URL: '' } });
  assert.equal(arg.status, 2, arg.stderr);
  assert.match(arg.stderr, /from the environment/);
});

test('argv: deploy/restsync-psql.sh and scripts/seed.sh give psql the password through PGPASSWORD', () => {
  for (const url of [withUserinfo, withParam]) {
    const r = traced(path.join(ROOT, 'deploy/restsync-psql.sh'), ['-X', '-At', '-c', 'select current_user'], { DATABASE_URL: url });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'restsync\n');
    assert.ok(r.lines.some((l) => /execve\("[^"]*\/psql", \["psql", "-d", "postgresql:\/\//.test(l)), r.lines.join('\n'));
    assert.deepEqual(r.leaks, [], 'the password is in no command line');
  }
  // psql does receive it: a password query parameter that libpq would
  // read is in PGPASSWORD (printed by a stand-in psql, from its environment).
  const fake = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-psql-'));
  try {
    fs.writeFileSync(path.join(fake, 'psql'), '#!/bin/sh\nprintf "%s|" "$@"; printf "%s\\n" "$PGPASSWORD"\n', { mode: 0o755 });
    const r = spawnSync(path.join(ROOT, 'deploy/restsync-psql.sh'), ['-X'], {
      encoding: 'utf8',
      env: { ...process.env, RS_PSQL: path.join(fake, 'psql'), DATABASE_URL: 'postgresql://u:p%40ss%2Fw@db.example:5432/kb?sslmode=require&password=q' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '-d|postgresql://u@db.example:5432/kb?sslmode=require|-X|q\n');
    const kv = spawnSync(path.join(ROOT, 'deploy/restsync-psql.sh'), [], {
      encoding: 'utf8', env: { ...process.env, RS_PSQL: path.join(fake, 'psql'), DATABASE_URL: "host=db password='it\\'s x' dbname=kb" },
    });
    assert.equal(kv.status, 0, kv.stderr);
    assert.equal(kv.stdout, "-d|host=db dbname=kb|it's x\n");
  } finally {
    fs.rmSync(fake, { recursive: true, force: true });
  }

  // seed.sh reads the owner's URL from RS_VAR/database_url (idempotent:
  // the test stack was seeded the same way).
  const V = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-seed-'));
  try {
    fs.writeFileSync(path.join(V, 'database_url'), withUserinfo, { mode: 0o600 });
    const r = traced(path.join(ROOT, 'scripts/seed.sh'), [], { RS_VAR: V, PORT: String(PORT) });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /seed: demo tenant and sources ready/);
    assert.ok(r.lines.some((l) => /\/psql", \["psql"/.test(l)), r.lines.join('\n'));
    assert.deepEqual(r.leaks, [], 'the password is in no command line');
  } finally {
    fs.rmSync(V, { recursive: true, force: true });
  }
});

test('argv: scripts/stack.sh start with a DATABASE_URL of its own puts it on no command line', { timeout: 180000 }, async () => {
  const V = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-stack-'));
  fs.chmodSync(V, 0o755);
  const out = path.join(os.tmpdir(), `rs-stack-trace-${process.pid}`);
  const env = {
    ...process.env, ...untracedLeaks(), RS_VAR: path.join(V, 'var'), PORT: String(STACK_PORT), DATABASE_URL: withUserinfo,
    RS_RUN_WORKERS: '1', RS_WORKER_SCHEDULE: '0', RESTSYNC_WORKER_RUNS: '0', RS_WORKERS: '1',
  };
  delete env.RESTSYNC_SECRET_KEY;
  const st = spawn('strace', [...strace(out), path.join(ROOT, 'scripts/stack.sh'), 'start'],
    { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  st.stdout.on('data', (d) => { text += d; });
  st.stderr.on('data', (d) => { text += d; });
  const exited = new Promise((res) => st.on('exit', res));
  try {
    // strace goes on while the started programs run: the stack is up when
    // stack.sh says so.
    for (let i = 0; !text.includes('stack: up on'); i++) {
      assert.ok(i < 1200 && !/stack: error/.test(text), text);
      await new Promise((res) => setTimeout(res, 100));
    }
    const hz = execFileSync('curl', ['-fsS', `http://127.0.0.1:${STACK_PORT}/healthz`], { encoding: 'utf8' });
    assert.equal(hz, 'ok\n');
  } finally {
    const stop = spawnSync(path.join(ROOT, 'scripts/stack.sh'), ['stop'], { env, encoding: 'utf8', timeout: 60000 });
    assert.equal(stop.status, 0, stop.stderr);
    const code = await Promise.race([exited, new Promise((res) => setTimeout(() => res('timeout'), 30000))]);
    if (code === 'timeout') st.kill('SIGKILL');
    fs.rmSync(V, { recursive: true, force: true });
  }
  const r = execs(out);
  fs.rmSync(out, { force: true });
  // The paths that take the URL ran: migrations, psql, the programs under
  // spawn-fcgi, a run worker.
  for (const re of [/"migrate"\]/, /\/psql", \["psql"/, /spawn-fcgi", \["spawn-fcgi"/, /"worker"\]/]) {
    assert.ok(r.lines.some((l) => re.test(l)), `${re}: ${r.lines.length} execs`);
  }
  assert.deepEqual(r.leaks, [], 'the password is in no command line');
});

test('db-roles.sql run by a superuser grants the application role what the owner creates later', () => {
  // A database of its own: an owner that is not a superuser, an app role.
  const sfx = String(process.pid);
  const owner = `rs_owner_${sfx}`;
  const app = `rs_app_${sfx}`;
  const db = `rs_roles_${sfx}`;
  const admin = (sql, d = 'restsync') => execFileSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', DB.replace('/restsync?', `/${d}?`), '-c', sql], { encoding: 'utf8' });
  admin(`CREATE ROLE ${owner} LOGIN NOSUPERUSER; CREATE ROLE ${app} LOGIN NOSUPERUSER NOINHERIT`);
  try {
    admin(`CREATE DATABASE ${db} OWNER ${owner}`);
    try {
      const as = (role, sql) => spawnSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d',
        DB.replace('/restsync?', `/${db}?`).replace(/user=[^&]*/, `user=${role}`), '-c', sql], { encoding: 'utf8' });
      let r = as(owner, 'CREATE TABLE kb_first (id int)');
      assert.equal(r.status, 0, r.stderr);
      // As the superuser (restsync in the test cluster), through restsync-psql.sh.
      r = spawnSync(path.join(ROOT, 'deploy/restsync-psql.sh'), ['-X', '-q', '-v', `app=${app}`, '-f', path.join(ROOT, 'deploy/db-roles.sql')],
        { encoding: 'utf8', env: { ...process.env, DATABASE_URL: DB.replace('/restsync?', `/${db}?`) } });
      assert.equal(r.status, 0, r.stderr);
      // A migration after it, as the owner: the app role may use the table.
      r = as(owner, 'CREATE TABLE kb_later (id serial, v text)');
      assert.equal(r.status, 0, r.stderr);
      r = as(app, "INSERT INTO kb_later (v) VALUES ('x'); INSERT INTO kb_first VALUES (1); SELECT count(*) FROM kb_later");
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, '1\n');
      r = as(app, 'CREATE TABLE evil (id int)');
      assert.notEqual(r.status, 0, 'no DDL');
    } finally {
      admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    }
  } finally {
    admin(`DROP OWNED BY ${app}; DROP ROLE IF EXISTS ${app}; DROP ROLE IF EXISTS ${owner}`);
  }
  assert.equal(one(`SELECT count(*) FROM pg_roles WHERE rolname IN ('${owner}', '${app}')`), '0');
});
