// Helpers for the integration tests: HTTP through nginx, SQL through psql.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadValidator } from '../openapi/openapi.mjs';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const VAR = process.env.RS_VAR || path.join(ROOT, 'var/test');
export const PORT = Number(process.env.PORT || 18080);
export const BASE = `http://127.0.0.1:${PORT}`;
export const UPSTREAM = `http://127.0.0.1:${process.env.RS_UPSTREAM_PORT || 18090}`;
export const DB = fs.readFileSync(path.join(VAR, 'database_url'), 'utf8').trim();
export const ADMIN = ['admin', process.env.ADMIN_PASSWORD || 'test-admin-pw'];
export const VIEWER = ['viewer', 'viewer-pw'];

export const TENANT = '00000000-0000-4000-8000-0000000000aa';

// Every response the tests receive from an admin zone on this machine
// (/api/backoffice/...) or /healthz is validated against docs/openapi.yaml
// (tests/openapi/openapi.mjs: an undescribed path, method or status, a
// missing header or a body that does not match its schema fails).  The
// check wraps fetch, so that requests made without call() count too: a
// violation rejects that fetch, and fails the file at exit even if a test
// caught it.
const openapi = await loadValidator();
export const openapiSeen = [];
const openapiViolations = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async function fetchCheckedAgainstOpenapi(input, init = {}) {
  const res = await realFetch(input, init);
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  // This stack's nginx, or another one a test starts on this machine in
  // front of the same programs (04_auth_request); not the upstream imitations.
  const ours = ['127.0.0.1', 'localhost'].includes(url.hostname) && url.port !== new URL(UPSTREAM).port;
  if (ours && (url.pathname.startsWith('/api/backoffice/') || url.pathname === '/healthz')) {
    const method = (init.method || input.method || 'GET').toUpperCase();
    const body = await res.clone().text();
    const errors = openapi.check({ method, pathname: url.pathname, status: res.status, headers: res.headers, body });
    openapiSeen.push(`${method} ${url.pathname} ${res.status}`);
    if (errors.length) {
      openapiViolations.push(...errors);
      throw new Error(`response does not match docs/openapi.yaml: ${errors.join('; ')}`);
    }
  }
  return res;
};
process.on('exit', () => {
  if (openapiSeen.length) console.error(`docs/openapi.yaml: ${openapiSeen.length} responses checked`);
  if (openapiViolations.length) {
    console.error(`docs/openapi.yaml: ${openapiViolations.length} response(s) did not match:\n  ${openapiViolations.join('\n  ')}`);
    process.exitCode = 1;
  }
});

export function basic([u, p]) {
  return 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
}

// POST JSON (or anything) to an endpoint; returns {status, headers, json, text}.
export async function call(pathname, { method = 'POST', body, user = ADMIN, headers = {}, raw } = {}) {
  const h = { ...headers };
  if (user) h.Authorization = basic(user);
  let payload;
  if (raw !== undefined) payload = raw;
  else if (body !== undefined) {
    payload = JSON.stringify(body);
    if (!('Content-Type' in h)) h['Content-Type'] = 'application/json';
  }
  const res = await fetch(BASE + pathname, { method, headers: h, body: payload });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, json, text };
}

export function batch(sourceId, opts = {}) {
  return call('/api/backoffice/rest-batch', { body: { sourceId }, ...opts });
}

// Run SQL; params are passed as psql variables (:'p1', :'p2', ...).
// Returns rows as arrays of strings.
export function sql(query, params = []) {
  const args = ['-X', '-q', '-At', '-F', '\t', '-v', 'ON_ERROR_STOP=1'];
  params.forEach((p, i) => args.push('-v', `p${i + 1}=${p}`));
  args.push(DB);
  // Some tests read whole tables (a secret searched for everywhere).
  const out = execFileSync('psql', args, { input: query, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  return out.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
}

export function one(query, params = []) {
  const rows = sql(query, params);
  return rows.length ? rows[0][0] : null;
}

export function ensureTenant() {
  sql(`INSERT INTO tenants (id, name) VALUES (:'p1', 'Test Tenant') ON CONFLICT DO NOTHING;`, [TENANT]);
}

// Create a REST source directly in the database; returns its id.
export function createSource(title, config, { enabled = true, tenant = TENANT } = {}) {
  ensureTenant();
  return one(
    `INSERT INTO kb_sources (tenant_id, type, title, config, enabled)
     VALUES (:'p1', 'rest', :'p2', :'p3'::jsonb, :'p4'::boolean) RETURNING id;`,
    [tenant, title, JSON.stringify(config), String(enabled)]);
}

// The seed's DummyJSON reference config (data/dummyjson/config.json, the
// one copy the seed script and the bench read too), baseUrl on the test
// upstream.
export const DUMMY_CONFIG = Object.freeze(JSON.parse(
  fs.readFileSync(path.join(ROOT, 'data/dummyjson/config.json'), 'utf8')));

export function dummyConfig(overrides = {}) {
  return { ...structuredClone(DUMMY_CONFIG), baseUrl: `${UPSTREAM}/dummyjson/products`, ...overrides };
}

export function cursorRow(id) {
  const r = sql(`SELECT next_cursor, page_count, item_count, last_status, last_http_status, last_error, done
                 FROM kb_rest_cursors WHERE source_id = :'p1';`, [id]);
  if (!r.length) return null;
  const [next, pages, items, status, http, error, done] = r[0];
  return { next: next === '' ? null : next, pages: +pages, items: +items, status, http: http === '' ? null : +http, error, done: done === 't' };
}

// Pages and items over every run (cursorRow's count within the current one).
export function lifetime(id) {
  const r = sql(`SELECT lifetime_pages, lifetime_items FROM kb_rest_cursors WHERE source_id = :'p1';`, [id]);
  return r.length ? { pages: +r[0][0], items: +r[0][1] } : null;
}

export function counts(id) {
  return {
    docs: +one(`SELECT count(*) FROM kb_docs WHERE source_id = :'p1';`, [id]),
    chunks: +one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]),
  };
}

// Run batches until done (at most max); returns the responses.
export async function syncToEnd(id, max = 50) {
  const out = [];
  for (let i = 0; i < max; i++) {
    const r = await batch(id);
    out.push(r);
    if (r.status !== 200 || r.json.done) return out;
  }
  throw new Error(`source ${id} not done after ${max} batches`);
}

export async function upstreamLog() {
  return (await fetch(`${UPSTREAM}/__log`)).json();
}

export async function upstreamReset() {
  await fetch(`${UPSTREAM}/__reset`, { method: 'POST' });
}

// Store a tenant secret as the engine expects it: AES-256-GCM with the
// stack's key, a random 12-byte nonce, ciphertext || tag, bound to the
// origin it may be sent to (sql/007): AAD "rs-secret-v2\0tenant\0provider\0origin\0".
export function secretAad(tenant, provider, origin) {
  return Buffer.from(`rs-secret-v2\0${tenant}\0${provider}\0${origin}\0`, 'utf8');
}

export function putSecret(provider, value, tenant = TENANT, origin = new URL(UPSTREAM).origin) {
  ensureTenant();
  const key = Buffer.from(fs.readFileSync(path.join(VAR, 'secret.key'), 'utf8').trim(), 'hex');
  if (key.length !== 32) throw new Error('secret.key is not 32 bytes of hex');
  const nonce = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(secretAad(tenant, provider, origin));
  const ct = Buffer.concat([c.update(JSON.stringify(value), 'utf8'), c.final(), c.getAuthTag()]);
  sql(`INSERT INTO integration_secrets (tenant_id, provider, origin, ciphertext, nonce, aad_version)
       VALUES (:'p1', :'p2', :'p5', decode(:'p3', 'hex'), decode(:'p4', 'hex'), 2)
       ON CONFLICT (tenant_id, provider, origin) DO UPDATE
         SET ciphertext = EXCLUDED.ciphertext, nonce = EXCLUDED.nonce, aad_version = 2, updated_at = now();`,
  [tenant, provider, ct.toString('hex'), nonce.toString('hex'), origin]);
}

// Poll fn() every 50 ms until it returns a truthy value (returned); fail
// naming what was awaited after ms.
export async function until(what, fn, ms = 30000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 >= ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
