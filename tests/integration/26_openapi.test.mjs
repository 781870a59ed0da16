// docs/openapi.yaml (issue 20): a valid OpenAPI 3.1 document, in step with
// docs/openapi.json and with the programs, whose examples match their own
// schemas, served inside the admin zone.  lib.mjs validates every response
// of every integration test against it; the last test shows that the
// validator does fail what it should.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { call, ROOT } from './lib.mjs';
import { Ajv2020, createValidator, documentErrors, loadDocument, METHODS, yamlToJson } from '../openapi/openapi.mjs';

const doc = loadDocument();
const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store',
  'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
};

function deref(node) {
  let n = node;
  while (n && typeof n.$ref === 'string') {
    n = n.$ref.slice(2).split('/').reduce((o, k) => o[k.replaceAll('~1', '/')], doc);
  }
  return n;
}

test('openapi: a valid OpenAPI 3.1 document, and docs/openapi.json is its JSON', async () => {
  assert.deepEqual(await documentErrors(doc), []);
  assert.equal(doc.openapi, '3.1.0');
  const yaml = fs.readFileSync(path.join(ROOT, 'docs/openapi.yaml'), 'utf8');
  assert.equal(fs.readFileSync(path.join(ROOT, 'docs/openapi.json'), 'utf8'), yamlToJson(yaml),
    'run node tests/openapi/build.mjs');
  assert.deepEqual(Object.keys(doc.components.securitySchemes), ['nginxIdentity']);
  assert.deepEqual(doc.security, [{ nginxIdentity: [] }]);
});

test('openapi: every program has its path, every path its program', () => {
  const bin = path.join(ROOT, 'build/release/bin');
  const programs = fs.readdirSync(bin).filter((p) => !['demo_upstream', 'not_found'].includes(p));
  assert.ok(programs.length >= 9, programs.join(' '));
  const documented = Object.keys(doc.paths).filter((p) => /^\/api\/backoffice\/[a-z-]+$/.test(p));
  assert.deepEqual(documented.map((p) => p.slice('/api/backoffice/'.length).replaceAll('-', '_')).sort(),
    programs.sort(), 'documented endpoints = built programs');
  for (const p of documented) {
    const item = doc.paths[p];
    const real = METHODS.filter((m) => item[m] && !('405' in item[m].responses));
    assert.ok(real.length > 0, `${p}: an operation that does something`);
    // Every method is described: the ones it does not take answer 405 with Allow.
    for (const m of ['get', 'head', 'post', 'put', 'delete', 'patch', 'options']) {
      assert.ok(item[m], `${p} ${m}`);
      const rs = item[m].responses;
      assert.ok('401' in rs, `${p} ${m}: 401 from nginx`);
      if ('405' in rs) assert.ok(deref(rs['405']).headers.Allow.required, `${p} ${m}: 405 says Allow`);
    }
    // Every operation of a program lists the database and internal failures.
    for (const m of real) {
      for (const s of ['500', '502', '503']) assert.ok(s in item[m].responses, `${p} ${m}: ${s}`);
    }
  }
  assert.ok(doc.paths['/api/backoffice/openapi.json'].get, 'this document');
  assert.ok(doc.paths['/healthz'].get.security.length === 0, '/healthz is public');
});

test('openapi: every example matches its schema', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema(doc, 'openapi');
  let n = 0;
  const check = (pointer, media) => {
    const examples = [];
    if ('example' in media) examples.push(media.example);
    for (const ex of Object.values(media.examples || {})) examples.push(deref(ex).value);
    if (!examples.length || !media.schema) return;
    const v = ajv.compile({ $ref: `openapi#${pointer}/schema` });
    for (const e of examples) {
      assert.ok(v(e), `${pointer}: ${ajv.errorsText(v.errors)} in ${JSON.stringify(e).slice(0, 200)}`);
      n++;
    }
  };
  const esc = (k) => k.replaceAll('~', '~0').replaceAll('/', '~1');
  const walkResponses = (base, responses) => {
    for (const [code, r] of Object.entries(responses)) {
      const rp = r.$ref ? r.$ref.slice(1) : `${base}/responses/${code}`;
      for (const [mt, media] of Object.entries(deref(r).content || {})) check(`${rp}/content/${esc(mt)}`, media);
    }
  };
  for (const [p, item0] of Object.entries(doc.paths)) {
    const ib = item0.$ref ? item0.$ref.slice(1) : `/paths/${esc(p)}`;
    const item = deref(item0);
    for (const m of METHODS.filter((x) => item[x])) {
      const op = item[m];
      for (const [mt, media] of Object.entries(op.requestBody?.content || {})) {
        check(`${ib}/${m}/requestBody/content/${esc(mt)}`, media);
      }
      walkResponses(`${ib}/${m}`, op.responses);
    }
  }
  assert.ok(n >= 25, `${n} examples checked`);
});

test('openapi: GET /api/backoffice/openapi.json serves the document inside the admin zone', async () => {
  const anon = await call('/api/backoffice/openapi.json', { method: 'GET', user: null });
  assert.equal(anon.status, 401);
  const r = await call('/api/backoffice/openapi.json', { method: 'GET' });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.equal(r.text, fs.readFileSync(path.join(ROOT, 'docs/openapi.json'), 'utf8'));
  assert.equal(r.json.openapi, '3.1.0');
  const head = await call('/api/backoffice/openapi.json', { method: 'HEAD' });
  assert.equal(head.status, 200);
  const post = await call('/api/backoffice/openapi.json', { method: 'POST', body: {} });
  assert.equal(post.status, 405);
});

test('openapi: the response validator fails what the document does not say', () => {
  const v = createValidator(doc);
  const ok = { method: 'GET', pathname: '/api/backoffice/tenants', status: 200, headers: JSON_HEADERS,
    body: JSON.stringify({ ok: true, tenants: [{ id: '00000000-0000-4000-8000-0000000000aa', name: 'T' }] }) };
  assert.deepEqual(v.check(ok), []);
  const cases = [
    [{ pathname: '/api/other/tenants' }, /path not in docs\/openapi\.yaml/],
    [{ method: 'TRACE' }, /method not in docs\/openapi\.yaml/],
    [{ status: 418 }, /status not in docs\/openapi\.yaml/],
    [{ status: 409 }, /status not in docs\/openapi\.yaml/],
    [{ headers: { ...JSON_HEADERS, 'content-type': 'text/html' } }, /content type "text\/html"/],
    [{ headers: { ...JSON_HEADERS, 'cache-control': null } }, /header Cache-Control missing/],
    [{ headers: { ...JSON_HEADERS, 'cache-control': 'max-age=60' } }, /header Cache-Control/],
    [{ body: '{"ok":true}' }, /must have required property 'tenants'/],
    [{ body: JSON.stringify({ ok: true, tenants: [], extra: 1 }) }, /must NOT have additional properties/],
    [{ body: JSON.stringify({ ok: true, tenants: [{ id: 'x', name: 'T' }] }) }, /must match pattern/],
    [{ body: 'not json' }, /body is not JSON/],
    [{ method: 'POST', status: 405, body: '{"ok":false,"error":"method not allowed; use GET"}' }, /header Allow missing/],
  ];
  for (const [change, want] of cases) {
    const errors = v.check({ ...ok, ...change });
    assert.ok(errors.length > 0, `${JSON.stringify(change)} must fail`);
    assert.match(errors.join('\n'), want);
  }
  // Unknown endpoints are documented as 404 only, so a new program that is
  // not in the document fails as soon as a test gets a 200 from it.
  assert.match(v.check({ ...ok, pathname: '/api/backoffice/rest-new-thing' }).join(''), /status not in/);
  assert.deepEqual(v.check({ ...ok, pathname: '/api/backoffice/rest-new-thing', status: 404,
    body: '{"ok":false,"error":"no such endpoint"}' }), []);
});
