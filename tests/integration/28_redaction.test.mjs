// Issue 14 items 5 and 6: secrets are redacted before anything is cut, and
// next links are stored and shown without the key, whatever carries it.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  UPSTREAM, VAR, batch, call, createSource, cursorRow, dummyConfig, one, putSecret, sql, upstreamLog, upstreamReset,
} from './lib.mjs';
import { SEC_KEY, SEC_CORE } from '../upstream/routes/security.mjs';

const T = '00000000-0000-4000-8000-0000000001b1';
const PROVIDER = 'redaction';

// Every prefix of the key (and of its encoding) long enough to be its own.
const PREFIXES = [SEC_KEY, encodeURIComponent(SEC_KEY)].flatMap((k) => [k.slice(0, 5), k.slice(0, 8)]);
function assertClean(text, where) {
  text = text ?? '';
  for (const p of [SEC_CORE, ...PREFIXES]) assert.ok(!text.includes(p), `${where} holds '${p}': ${text}`);
}

function logs() {
  const dir = path.join(VAR, 'log');
  return fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), 'latin1')).join('\n');
}

before(() => {
  sql(`INSERT INTO tenants (id, name) VALUES (:'p1', 'Redaction tenant') ON CONFLICT DO NOTHING;`, [T]);
  putSecret(PROVIDER, { api_key: SEC_KEY }, T);
});

function source(route, extra = {}) {
  return createSource(`Redaction ${route}`, dummyConfig({
    baseUrl: `${UPSTREAM}${route}`, requiresAuth: true, provider: PROVIDER,
    headersTemplate: { Authorization: 'Bearer {{API_KEY}}' }, ...extra,
  }), { tenant: T });
}

test('redaction: a key straddling the cut of an error excerpt leaves no prefix behind', async () => {
  const logsBefore = logs().length;
  for (const enc of ['', '1']) {
    const k = enc ? encodeURIComponent(SEC_KEY) : SEC_KEY;
    for (let at = 200 - k.length + 1; at < 200; at++) {
      const id = source(`/redact/straddle?at=${at}&enc=${enc}`);
      const r = await batch(id);
      assert.equal(r.status, 502, r.text);
      assert.match(r.json.error, /^upstream returned HTTP 401: x+/);
      assertClean(r.text, `answer (at ${at})`);
      assertClean(cursorRow(id).error, `last_error (at ${at})`);
      assertClean(one(`SELECT detail::text FROM kb_rest_audit WHERE source_id = :'p1' ORDER BY id DESC LIMIT 1;`, [id]), 'audit');
    }
  }
  assertClean(logs().slice(logsBefore), 'logs');
});

for (const where of ['query', 'path']) {
  test(`redaction: a next link with the key in the ${where} is stored and shown without it, and still followed`, async () => {
    await upstreamReset();
    const id = source(`/redact/next?where=${where}`, {
      cursorStyle: 'cursor', itemsPath: 'items', nextCursorPath: 'next', cursorParam: 'page',
      queryTemplate: { api_key: '{{API_KEY}}' }, currentOffsetPath: null, totalPath: null,
    });
    for (let page = 1; page <= 3; page++) {
      const r = await batch(id);
      assert.equal(r.status, 200, r.text);
      assertClean(r.text, `answer of page ${page}`);
      const stored = one(`SELECT coalesce(next_cursor, '') FROM kb_rest_cursors WHERE source_id = :'p1';`, [id]);
      assertClean(stored, `stored next of page ${page}`);
      const listed = await call('/api/backoffice/rest-sources', { method: 'GET' });
      assertClean(JSON.stringify(listed.json.sources.find((x) => x.id === id)), 'the list');
      if (page < 3) assert.match(stored, /\{\{API_KEY\}\}/, 'the key is kept as a placeholder');
    }
    // Every page came, each time with the key (never the placeholder).
    const seen = (await upstreamLog()).filter((e) => e.url.startsWith('/redact/next'));
    assert.equal(seen.length, 3);
    for (const e of seen) assert.equal(e.headers.authorization, `Bearer ${SEC_KEY}`);
    assert.ok(seen[1].url.includes(encodeURIComponent(SEC_KEY)), seen[1].url);
    assert.equal(cursorRow(id).done, true);
    assertClean(one(`SELECT string_agg(detail::text, ' ') FROM kb_rest_audit WHERE source_id = :'p1';`, [id]), 'audit');
  });
}
