// Issue 14 item 1: a stored key is bound to the origin it was entered for.
// Editing a source's baseUrl (to another origin) or its provider must not
// make the next batch send the decrypted key there.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ROOT, UPSTREAM, VAR, DB, batch, call, dummyConfig, one, sql, upstreamLog, upstreamReset,
} from './lib.mjs';
import { SEC_KEY, SEC_CORE } from '../upstream/routes/security.mjs';

const T = '00000000-0000-4000-8000-0000000001a1';
const UPDATE = '/api/backoffice/rest-sources-update';
const CREATE = '/api/backoffice/rest-sources';
const CLI = process.env.RS_CLI || path.join(ROOT, 'build/release/cli/restsync');
// Same server, another host name: another origin whose requests show up
// in the same /__log.
const OTHER = UPSTREAM.replace('127.0.0.1', 'localhost');

function cfg(base, extra = {}) {
  return dummyConfig({
    baseUrl: `${base}/sec/auth/products`, requiresAuth: true, provider: 'origin-bound',
    headersTemplate: { Authorization: 'Bearer {{API_KEY}}' },
    queryTemplate: { api_key: '{{API_KEY}}' }, ...extra,
  });
}

// Requests the upstream saw that carried the key (raw or encoded).
async function keyedRequests() {
  return (await upstreamLog()).filter((e) => JSON.stringify(e).includes(SEC_CORE));
}

before(() => {
  sql(`INSERT INTO tenants (id, name) VALUES (:'p1', 'Origin tenant') ON CONFLICT DO NOTHING;`, [T]);
});

test('origin binding: a new origin or provider needs the key again (400 naming apiKey); the audit says the origin changed', async () => {
  const provider = `ob-${Date.now()}`;
  let r = await call(CREATE, { body: { tenantId: T, title: 'Bound', config: cfg(UPSTREAM, { provider }), apiKey: SEC_KEY } });
  assert.equal(r.status, 201, r.text);
  const id = r.json.source.id;
  assert.equal(r.json.source.hasSecret, true);
  assert.equal(one(`SELECT origin FROM integration_secrets WHERE tenant_id = :'p1' AND provider = :'p2';`, [T, provider]),
    UPSTREAM.replace(/\/$/, ''));
  r = await batch(id);
  assert.equal(r.status, 200, r.text);

  // Another origin, same provider, no key: refused, nothing changed.
  const before = one(`SELECT config::text FROM kb_sources WHERE id = :'p1';`, [id]);
  for (const change of [cfg(OTHER, { provider }), cfg(UPSTREAM.replace('http:', 'https:'), { provider }),
    cfg(UPSTREAM, { provider: `${provider}-x` })]) {
    r = await call(UPDATE, { body: { sourceId: id, config: change } });
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error, /^apiKey: /);
    assert.match(r.json.error, /origin or provider/);
    r = await call(UPDATE, { body: { sourceId: id, config: change, apiKey: '' } });
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error, /^apiKey: /);
  }
  assert.equal(one(`SELECT config::text FROM kb_sources WHERE id = :'p1';`, [id]), before);
  // The same origin written differently (case, default port) is no change.
  r = await call(UPDATE, { body: { sourceId: id, config: cfg(UPSTREAM.replace('http://', 'HTTP://'), { provider, defaultPageSize: 10 }) } });
  assert.equal(r.status, 200, r.text);

  // Whoever edits the config around the API (or an old row) gets no key
  // sent: the secret of the old origin is not used for the new one.
  await upstreamReset();
  sql(`UPDATE kb_sources SET config = jsonb_set(config, '{baseUrl}', to_jsonb(:'p2'::text)) WHERE id = :'p1';`,
    [id, `${OTHER}/sec/auth/products`]);
  r = await batch(id);
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /no secret for provider '[^']+' at origin http:\/\/localhost:\d+/);
  assert.deepEqual(await keyedRequests(), [], 'the key went to another origin');
  assert.deepEqual(await upstreamLog(), []);

  // A row bound to the old origin but found for the new one (a copied
  // row) does not decrypt: the origin is in the associated data.
  sql(`INSERT INTO integration_secrets (tenant_id, provider, origin, ciphertext, nonce, aad_version)
       SELECT tenant_id, provider, :'p3', ciphertext, nonce, aad_version FROM integration_secrets
       WHERE tenant_id = :'p1' AND provider = :'p2' AND origin = :'p4';`,
  [T, provider, OTHER, UPSTREAM]);
  r = await batch(id);
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /does not decrypt/);
  assert.deepEqual(await upstreamLog(), []);
  sql(`DELETE FROM integration_secrets WHERE tenant_id = :'p1' AND provider = :'p2' AND origin = :'p3';`, [T, provider, OTHER]);
  sql(`UPDATE kb_sources SET config = :'p2'::jsonb WHERE id = :'p1';`, [id, JSON.stringify(cfg(UPSTREAM, { provider }))]);

  // With the key, the move is accepted and audited as an origin change.
  r = await call(UPDATE, { body: { sourceId: id, config: cfg(OTHER, { provider }), apiKey: SEC_KEY } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.source.hasSecret, true);
  const detail = JSON.parse(one(`SELECT detail::text FROM kb_rest_audit WHERE source_id = :'p1' AND action = 'update'
                                 ORDER BY id DESC LIMIT 1;`, [id]));
  assert.equal(detail.originChanged, true);
  assert.equal(detail.origin.from, UPSTREAM);
  assert.equal(detail.origin.to, OTHER);
  assert.deepEqual(detail.changed, ['config', 'apiKey']);
  assert.ok(!JSON.stringify(detail).includes(SEC_CORE));
  await upstreamReset();
  r = await call('/api/backoffice/rest-sources-reset', { body: { sourceId: id } });
  assert.equal(r.status, 200, r.text);
  r = await batch(id);
  assert.equal(r.status, 200, r.text);
  const log = await upstreamLog();
  assert.ok(log.length > 0);
  assert.ok(log.every((e) => e.headers.host.startsWith('localhost:')), JSON.stringify(log.map((e) => e.headers.host)));
});

test('origin binding: a source without auth may move freely; with auth on again at the new origin no key is found', async () => {
  const provider = `ob-free-${Date.now()}`;
  let r = await call(CREATE, { body: { tenantId: T, title: 'Free', config: cfg(UPSTREAM, { provider }), apiKey: SEC_KEY } });
  assert.equal(r.status, 201, r.text);
  const id = r.json.source.id;
  r = await call(UPDATE, { body: { sourceId: id, config: cfg(OTHER, { provider, requiresAuth: false, headersTemplate: {}, queryTemplate: {} }) } });
  assert.equal(r.status, 200, r.text);
  // Auth on again at the new origin: no key is bound to it.
  r = await call(UPDATE, { body: { sourceId: id, config: cfg(OTHER, { provider }) } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.source.hasSecret, false);
  await upstreamReset();
  r = await batch(id);
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /no secret for provider/);
  assert.deepEqual(await upstreamLog(), []);
});

// Migration 007 binds the secrets that exist to the origins of the sources
// that use them; a secret no source uses stays unbound (unusable).
test('origin binding: migration 007 binds existing secrets to the origins of the sources using them', () => {
  const db = `rs_mig_${process.pid}`;
  const url = DB.replace('/restsync?', `/${db}?`);
  const admin = DB.replace('/restsync?', '/postgres?');
  const old = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-sql-'));
  try {
    execFileSync('psql', ['-X', '-q', admin, '-c', `DROP DATABASE IF EXISTS ${db}`, '-c', `CREATE DATABASE ${db}`]);
    for (const f of fs.readdirSync(path.join(ROOT, 'sql')))
      if (/^00[0-6]_/.test(f)) fs.copyFileSync(path.join(ROOT, 'sql', f), path.join(old, f));
    const env = { ...process.env, DATABASE_URL: url, RESTSYNC_ALLOW_ROOT: '1' };
    let m = spawnSync(CLI, ['migrate'], { env: { ...env, RESTSYNC_SQL_DIR: old }, encoding: 'utf8' });
    assert.equal(m.status, 0, m.stderr);
    const q = (s) => execFileSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', url, '-c', s], { encoding: 'utf8' }).trim();
    q(`INSERT INTO tenants (id, name) VALUES ('${T}', 't');
       INSERT INTO integration_secrets (tenant_id, provider, ciphertext, nonce) VALUES
         ('${T}', 'used', '\\x00112233445566778899aabbccddeeff00', '\\x000102030405060708090a0b'),
         ('${T}', 'unused', '\\x00112233445566778899aabbccddeeff01', '\\x000102030405060708090a0b');
       INSERT INTO kb_sources (tenant_id, type, title, config) VALUES
         ('${T}', 'rest', 'a', '{"baseUrl": "HTTPS://API.Example.com/v1/x?y=1", "provider": "used", "requiresAuth": true}'),
         ('${T}', 'rest', 'b', '{"baseUrl": "https://api.example.com:443/v2", "provider": "used", "requiresAuth": true}'),
         ('${T}', 'rest', 'c', '{"baseUrl": "http://[::1]:8080/", "provider": "used", "requiresAuth": true}'),
         ('${T}', 'rest', 'd', '{"baseUrl": "http://evil.example/", "provider": "used", "requiresAuth": false}');`);
    m = spawnSync(CLI, ['migrate'], { env: { ...env, RESTSYNC_SQL_DIR: path.join(ROOT, 'sql') }, encoding: 'utf8' });
    assert.equal(m.status, 0, m.stderr);
    assert.equal(q(`SELECT string_agg(provider || ' ' || origin || ' ' || aad_version, ',' ORDER BY provider, origin) FROM integration_secrets`),
      'unused  1,used http://[::1]:8080 1,used https://api.example.com 1');
    assert.equal(q(`SELECT count(DISTINCT ciphertext) FROM integration_secrets WHERE provider = 'used'`), '1');
  } finally {
    spawnSync('psql', ['-X', '-q', admin, '-c', `DROP DATABASE IF EXISTS ${db}`]);
    fs.rmSync(old, { recursive: true, force: true });
  }
});

// Issue 16 item 1, on the server: the page's shared-key refusal and the
// host as the default provider hold for any API client too.
const HOST_PROVIDER = new URL(UPSTREAM).host.replace(/[^A-Za-z0-9_.-]/g, '-');
const secretOf = (provider, origin = UPSTREAM) => one(`SELECT encode(ciphertext, 'hex') FROM integration_secrets
  WHERE tenant_id = :'p1' AND provider = :'p2' AND origin = :'p3';`, [T, provider, origin]);

test('provider: a new source naming none gets its baseUrl\'s host (with the port); existing sources keep theirs', async () => {
  sql(`DELETE FROM kb_sources WHERE tenant_id = :'p1' AND config->>'provider' = :'p2';
       DELETE FROM integration_secrets WHERE tenant_id = :'p1' AND provider = :'p2';`, [T, HOST_PROVIDER]);
  const { provider: _, ...noProvider } = cfg(UPSTREAM);
  assert.equal(HOST_PROVIDER, `127.0.0.1-${new URL(UPSTREAM).port}`);
  let r = await call(CREATE, { body: { tenantId: T, title: 'Host default', config: JSON.stringify(noProvider, null, 2), apiKey: SEC_KEY } });
  assert.equal(r.status, 201, r.text);
  const id = r.json.source.id;
  assert.equal(r.json.source.summary.provider, HOST_PROVIDER);
  // Written into the config as saved, after the keys typed, in their
  // order (a text of several lines stays one key to a line).
  assert.deepEqual(r.json.source.config, { ...noProvider, provider: HOST_PROVIDER });
  const saved = JSON.parse(one(`SELECT to_json(config_text)::text FROM kb_sources WHERE id = :'p1';`, [id]));
  assert.deepEqual(Object.keys(JSON.parse(saved)), [...Object.keys(noProvider), 'provider']);
  assert.deepEqual(JSON.parse(saved), { ...noProvider, provider: HOST_PROVIDER });
  assert.ok(saved.split('\n').length > Object.keys(noProvider).length, saved);
  assert.ok(secretOf(HOST_PROVIDER), 'the key is stored for the host');
  assert.equal(JSON.parse(one(`SELECT detail::text FROM kb_rest_audit WHERE source_id = :'p1' AND action = 'create';`, [id])).provider,
    HOST_PROVIDER);
  assert.equal((await batch(id)).status, 200);
  // An edit that leaves the provider out keeps the one stored.
  r = await call(UPDATE, { body: { sourceId: id, config: { ...noProvider, defaultPageSize: 10 } } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.source.summary.provider, HOST_PROVIDER);
  assert.equal(r.json.source.hasSecret, true);
  assert.deepEqual(JSON.parse(one(`SELECT detail::text FROM kb_rest_audit WHERE source_id = :'p1' AND action = 'update' ORDER BY id DESC LIMIT 1;`, [id])).changed,
    ['config']);

  // A source stored without a provider (the seed's, one of before) stays
  // on the default "rest" through an edit.
  const old = one(`INSERT INTO kb_sources (tenant_id, type, title, config) VALUES (:'p1', 'rest', 'Old', :'p2'::jsonb) RETURNING id;`,
    [T, JSON.stringify(noProvider)]);
  r = await call(UPDATE, { body: { sourceId: old, config: { ...noProvider, defaultPageSize: 20 } } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.source.summary.provider, 'rest');
  assert.equal('provider' in r.json.source.config, false);
  // A new source that sends no key and needs none: its config as sent.
  r = await call(CREATE, { body: { tenantId: T, title: 'No key', config: dummyConfig() } });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.json.source.config, dummyConfig());
  assert.equal(r.json.source.summary.provider, 'rest');
});

test('a key used by other sources of the tenant is replaced only on purpose: 400 naming apiKey and them', async () => {
  const provider = `shared-${Date.now()}`;
  let r = await call(CREATE, { body: { tenantId: T, title: 'Shared A', config: cfg(UPSTREAM, { provider }), apiKey: SEC_KEY } });
  assert.equal(r.status, 201, r.text);
  const a = r.json.source.id;
  // A second source without a key uses the stored one.
  r = await call(CREATE, { body: { tenantId: T, title: 'Shared B', config: cfg(UPSTREAM, { provider }) } });
  assert.equal(r.status, 201, r.text);
  const b = r.json.source.id;
  assert.equal(r.json.source.hasSecret, true);
  const ct = secretOf(provider);
  const sources = +one(`SELECT count(*) FROM kb_sources WHERE tenant_id = :'p1';`, [T]);

  // A mistyped key for a third source: refused, nothing stored or created.
  r = await call(CREATE, { body: { tenantId: T, title: 'Shared C', config: cfg(UPSTREAM, { provider }), apiKey: 'mistyped' } });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error, 'apiKey: this key is used by 2 other sources of this tenant (Shared A, Shared B): '
    + 'replacing it affects them; send "replaceSharedKey": true to replace it, or name another "provider" in the config');
  assert.equal(+one(`SELECT count(*) FROM kb_sources WHERE tenant_id = :'p1';`, [T]), sources);
  // The same through an edit of one of them: the other is named.
  r = await call(UPDATE, { body: { sourceId: b, apiKey: 'mistyped' } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /^apiKey: this key is used by 1 other source of this tenant \(Shared A\): /);
  r = await call(UPDATE, { body: { sourceId: b, apiKey: 'mistyped', replaceSharedKey: 'yes' } });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error, "'replaceSharedKey' must be true or false");
  r = await call(UPDATE, { body: { sourceId: b, apiKey: 'mistyped', replaceSharedKey: false } });
  assert.equal(r.status, 400, r.text);
  assert.equal(secretOf(provider), ct, 'the shared key was not replaced');
  assert.equal((await batch(a)).status, 200, 'the first source still syncs');

  // Sources that do not use this key do not count: another origin.
  r = await call(CREATE, { body: { tenantId: T, title: 'Elsewhere', config: cfg(OTHER, { provider }), apiKey: 'other-origin' } });
  assert.equal(r.status, 201, r.text);
  // On purpose: stored, for both.
  r = await call(UPDATE, { body: { sourceId: b, apiKey: SEC_KEY, replaceSharedKey: true } });
  assert.equal(r.status, 200, r.text);
  assert.notEqual(secretOf(provider), ct, 'replaced');
  assert.equal((await batch(a)).status, 200);
  // Alone with its key, a source replaces it without the flag.
  sql(`DELETE FROM kb_sources WHERE id = :'p1';`, [b]);
  r = await call(UPDATE, { body: { sourceId: a, apiKey: SEC_KEY } });
  assert.equal(r.status, 200, r.text);
});
