// Issue 14 item 11: least privilege in the database.  The programs connect
// as restsync_app, which reads and writes the kb_ tables and the secrets,
// reads the rest, owns nothing and cannot run DDL; migrations run as the
// owner role.  deploy/db-roles.sql sets it up (scripts/stack.sh runs it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, VAR, call, one } from './lib.mjs';

const APP_FILE = path.join(VAR, 'database_url_app');
const skip = !fs.existsSync(APP_FILE) && 'the stack uses a DATABASE_URL of its own';

function asApp(sqlText) {
  const url = fs.readFileSync(APP_FILE, 'utf8').trim();
  return spawnSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', url, '-c', sqlText], { encoding: 'utf8' });
}

test('database roles: the programs connect as restsync_app, a role that owns nothing and has no DDL', { skip }, async () => {
  // Every program's connection is the application role's.
  const r = await call('/api/backoffice/rest-sources', { method: 'GET' });
  assert.equal(r.status, 200);
  const users = one(`SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity WHERE application_name = 'restsync';`);
  assert.equal(users, 'restsync_app');
  assert.equal(one(`SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls
                    FROM pg_roles WHERE rolname = 'restsync_app';`), 'f');
  assert.equal(one(`SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid)
                         + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)
                         + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid)
                         + (SELECT count(*) FROM pg_type WHERE typowner = r.oid)
                         + (SELECT count(*) FROM pg_database WHERE datdba = r.oid)
                    FROM pg_roles r WHERE r.rolname = 'restsync_app';`), '0');
  // The owner role owns the schema's tables.
  assert.equal(one(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = 'restsync_app';`), '0');
});

test('database roles: restsync_app reads and writes the kb_ tables, reads the rest, and cannot run DDL', { skip }, () => {
  for (const q of [
    'SELECT count(*) FROM kb_sources', 'SELECT count(*) FROM kb_chunks', 'SELECT count(*) FROM integration_secrets',
    'SELECT count(*) FROM tenants', 'SELECT count(*) FROM platform_admins', 'SELECT count(*) FROM schema_migrations',
    'BEGIN; UPDATE kb_sources SET updated_at = updated_at; DELETE FROM kb_rest_cursors WHERE false; ROLLBACK',
  ]) {
    const r = asApp(q);
    assert.equal(r.status, 0, `${q}: ${r.stderr}`);
  }
  for (const [q, msg] of [
    ['CREATE TABLE rs_evil (x int)', /permission denied for schema public/],
    ['CREATE TEMP TABLE rs_evil (x int)', /permission denied to create temporary tables/],
    ['CREATE FUNCTION rs_evil() RETURNS int LANGUAGE sql AS $$SELECT 1$$', /permission denied for schema public/],
    ['ALTER TABLE kb_sources ADD COLUMN evil int', /must be owner of table kb_sources/],
    ['DROP TABLE kb_chunks', /must be owner of table kb_chunks/],
    ['TRUNCATE kb_chunks', /permission denied for table kb_chunks/],
    ['CREATE INDEX rs_evil ON kb_chunks (title)', /must be owner of table kb_chunks/],
    ['INSERT INTO platform_admins (username) VALUES (\'mallory\')', /permission denied for table platform_admins/],
    ['DELETE FROM tenants WHERE false', /permission denied for table tenants/],
    ['INSERT INTO schema_migrations (version) VALUES (\'999_evil\')', /permission denied for table schema_migrations/],
  ]) {
    const r = asApp(q);
    assert.notEqual(r.status, 0, `${q} ran as restsync_app`);
    assert.match(r.stderr, msg, q);
  }
  assert.equal(one(`SELECT count(*) FROM platform_admins WHERE username = 'mallory';`), '0');
});

test('database roles: production runs migrations as the owner, apart from the programs', () => {
  const unit = (n) => fs.readFileSync(path.join(ROOT, 'deploy/systemd', n), 'utf8');
  const mig = unit('restsync-migrate.service');
  assert.match(mig, /^ExecStart=\/opt\/restsync\/bin\/restsync migrate$/m);
  assert.match(mig, /^EnvironmentFile=\/etc\/restsync\/migrate\.env$/m);
  for (const n of ['restsync-fcgi@.service', 'restsync-worker.service']) {
    const u = unit(n);
    assert.doesNotMatch(u, /migrate\.env/, `${n} must not see the owner's URL`);
    assert.doesNotMatch(u, /ExecStartPre=.*migrate/, n);
    assert.match(u, /^Requires=restsync-migrate\.service$/m, n);
    assert.match(u, /^After=.*restsync-migrate\.service/m, n);
  }
  assert.match(fs.readFileSync(path.join(ROOT, 'deploy/restsync.env.example'), 'utf8'), /^DATABASE_URL="postgresql:\/\/restsync_app:/m);
  assert.match(fs.readFileSync(path.join(ROOT, 'deploy/migrate.env.example'), 'utf8'), /^DATABASE_URL="postgresql:\/\/restsync:/m);
  assert.ok(fs.existsSync(path.join(ROOT, 'deploy/db-roles.sql')));
});
