// Issue 19: the secret key rotated under load.  Batches of three sources
// that need their tenant's secret run in a loop, back to back, while the
// key is rotated several times: none of them may fail, and the upstream
// must get the right key every time.  A secret written while a rotation
// starts (held uncommitted until the rotation waits for its table lock,
// then committed): the rotation waits for the writer, then reads the
// committed secret and re-encrypts it with the others (rotate.c locks
// integration_secrets against writers before it reads a row).
//
// The rotation is `restsync rotate-key` (common/admin/rotate.c).  It commits
// the new ciphertexts, then swaps the key file; in between a batch whose
// secret does not open with the current key tries the new one, waiting
// beside the key file (secret_load_next_key()): no batch may fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DB, ROOT, UPSTREAM, VAR, batch, createSource, dummyConfig, ensureTenant, one, secretAad, sql, until } from './lib.mjs';
import { SEC_KEY } from '../upstream/routes/security.mjs';

const TENANT = '00000000-0000-4000-8000-0000000019c1';
const PROVIDER = 'rotapi';
const KEY_FILE = path.join(VAR, 'secret.key');
const ORIGIN = new URL(UPSTREAM).origin;

// Run the rotation; resolves to {code, out, err}.  Earlier tests leave
// rows no key opens (16_security copies ciphertexts between tenants):
// SKIP_UNDECRYPTABLE=1 leaves those as they are.
function rotate() {
  const env = {
    ...process.env, DATABASE_URL: DB, RESTSYNC_SECRET_KEY_FILE: KEY_FILE, RESTSYNC_ROTATE_SKIP_UNDECRYPTABLE: '1',
    RESTSYNC_ALLOW_ROOT: '1',
  };
  delete env.RESTSYNC_SECRET_KEY;
  const p = spawn(process.env.RS_CLI || path.join(ROOT, 'build/release/cli/restsync'), ['rotate-key'], { env });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { err += d; });
  return new Promise((res) => p.on('close', (code) => res({ code, out, err })));
}

const keyHex = () => fs.readFileSync(KEY_FILE, 'utf8').trim();

function encrypt(tenant, provider, plaintext) {
  const nonce = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', Buffer.from(keyHex(), 'hex'), nonce);
  c.setAAD(secretAad(tenant, provider, ORIGIN));
  const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final(), c.getAuthTag()]);
  return { ct: ct.toString('hex'), nonce: nonce.toString('hex') };
}

const STORE = `INSERT INTO integration_secrets (tenant_id, provider, origin, ciphertext, nonce, aad_version)
  VALUES (:'p1', :'p2', :'p5', decode(:'p3', 'hex'), decode(:'p4', 'hex'), 2)
  ON CONFLICT (tenant_id, provider, origin) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, nonce = EXCLUDED.nonce,
    aad_version = 2, updated_at = now();`;

function setup(n) {
  sql(`INSERT INTO tenants (id, name) VALUES (:'p1', 'Rotation tenant') ON CONFLICT DO NOTHING;`, [TENANT]);
  ensureTenant();
  const { ct, nonce } = encrypt(TENANT, PROVIDER, SEC_KEY);
  sql(STORE, [TENANT, PROVIDER, ct, nonce, ORIGIN]);
  return Array.from({ length: n }, (_, i) => createSource(`Rotation load ${i}`, dummyConfig({
    baseUrl: `${UPSTREAM}/sec/auth/products`, requiresAuth: true, provider: PROVIDER, defaultPageSize: 20,
    headersTemplate: { Authorization: 'Bearer {{API_KEY}}' }, queryTemplate: { api_key: '{{API_KEY}}' },
  }), { tenant: TENANT }));
}

function cleanupBackups() {
  for (const f of fs.readdirSync(VAR)) if (/^secret\.key\.old-/.test(f)) fs.rmSync(path.join(VAR, f));
}

test('rotation under load: 5 rotations while batches run in a loop; no batch fails', { timeout: 120000 }, async () => {
  const ids = setup(3);
  await fetch(`${UPSTREAM}/__reset`, { method: 'POST' });
  let stop = false;
  const results = [];
  const loop = async (id) => {
    while (!stop) {
      const t0 = Date.now();
      const r = await batch(id);
      results.push({ id, status: r.status, text: r.text, t0, t: Date.now() });
      if (r.status === 200 && r.json.done) {
        sql(`UPDATE kb_rest_cursors SET next_cursor = NULL, done = false WHERE source_id = :'p1';`, [id]);
      }
    }
  };
  const loops = ids.map(loop);
  const keys = [keyHex()];
  const windows = [];
  try {
    await until('the first batches', () => results.length >= 10);
    for (let i = 0; i < 5; i++) {
      const n0 = results.length;
      const w = { start: Date.now() };
      const r = await rotate();
      w.end = Date.now();
      windows.push(w);
      assert.equal(r.code, 0, r.out + r.err);
      assert.match(r.out, /^restsync rotate-key: rotated \d+ secrets;/);
      keys.push(keyHex());
      // Batches ran during and after this rotation.
      await until('batches after the rotation', () => results.length >= n0 + 6);
    }
  } finally {
    stop = true;
    await Promise.all(loops);
    cleanupBackups();
  }
  assert.equal(new Set(keys).size, 6, 'every rotation made a new key');
  const failed = results.filter((r) => r.status !== 200);
  assert.deepEqual(failed, [], `${failed.length} of ${results.length} batches failed during rotation`);
  // Failed batches wrote nothing: every source holds each item once.
  for (const id of ids) {
    assert.equal(one(`SELECT count(*) - count(DISTINCT content_hash) FROM kb_chunks WHERE source_id = :'p1';`, [id]), '0');
    assert.ok(+one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]) <= 194);
  }
  assert.ok(results.length >= 40, `${results.length} batches`);
  // The upstream refuses a wrong key (401 -> 502 above); every request
  // carried the right one.
  const log = await (await fetch(`${UPSTREAM}/__log`)).json();
  const mine = log.filter((l) => l.url.startsWith('/sec/auth/products'));
  assert.ok(mine.length >= results.filter((r) => r.status === 200).length);
  for (const l of mine) assert.equal(l.headers.authorization, `Bearer ${SEC_KEY}`);
});

test('a secret written while the rotation runs: the rotation waits for it, and re-encrypts it too', { timeout: 60000 }, async () => {
  const [id] = setup(1);
  const key0 = keyHex();
  // A writer's transaction: the new secret is written but not committed.
  const fresh = encrypt(TENANT, PROVIDER, SEC_KEY);
  const writer = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', DB], { stdio: ['pipe', 'ignore', 'pipe'] });
  let werr = '';
  writer.stderr.on('data', (d) => { werr += d; });
  const writerDone = new Promise((r) => writer.on('close', r));
  writer.stdin.write(`BEGIN;
    UPDATE integration_secrets SET ciphertext = decode('${fresh.ct}', 'hex'), nonce = decode('${fresh.nonce}', 'hex'),
      updated_at = now() WHERE tenant_id = '${TENANT}' AND provider = '${PROVIDER}';\n`);
  let rotation;
  try {
    await until('the writer to hold its row', () => one(`SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                           WHERE c.relname = 'integration_secrets' AND l.mode = 'RowExclusiveLock' AND l.granted;`) !== '0');
    rotation = rotate();
    // The rotation waits to lock the table before it reads a row.
    await until('the rotation to wait for the table lock', () => one(`SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                           WHERE c.relname = 'integration_secrets' AND NOT l.granted;`) !== '0');
    assert.equal(keyHex(), key0, 'nothing rotated while the writer holds its row');
  } finally {
    writer.stdin.end('COMMIT;\n');
    await writerDone;
  }
  assert.equal(werr, '');
  const r = await rotation;
  assert.equal(r.code, 0, r.out + r.err);
  assert.notEqual(keyHex(), key0);
  // The writer's secret was read after its commit and re-encrypted: the
  // source works with the new key.
  const b = await batch(id);
  assert.equal(b.status, 200, b.text);
  cleanupBackups();
});
