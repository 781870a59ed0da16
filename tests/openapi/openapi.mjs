// Response validation against docs/openapi.yaml (OpenAPI 3.1), for the
// integration tests.  Strict on purpose: a path, method or status the
// document does not describe is an error, and so is a content type, a
// required header or a JSON body that does not match.
//
//   const v = await loadValidator();          // checks the document first
//   const errors = v.check({ method, pathname, status, headers, body });
//
// Paths: concrete paths match before templated ones (OpenAPI 3.1, "Paths
// Object"); a template variable matches one path segment.  Bodies of HEAD
// requests are not checked (there are none); their content type is.
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import YAML from 'yaml';
import { Validator } from '@seriousme/openapi-schema-validator';

export { Ajv2020 };
export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const METHODS = ['get', 'head', 'post', 'put', 'delete', 'patch', 'options', 'trace'];

// YAML (anchors and aliases expanded) to the JSON text docs/openapi.json holds.
export function yamlToJson(text) {
  const doc = YAML.parse(text, { maxAliasCount: -1, merge: false, uniqueKeys: true });
  return JSON.stringify(doc, null, 2) + '\n';
}

export function loadDocument() {
  return JSON.parse(yamlToJson(fs.readFileSync(path.join(ROOT, 'docs/openapi.yaml'), 'utf8')));
}

// The document against the official OpenAPI 3.1 JSON schema; [] when valid.
export async function documentErrors(doc) {
  const res = await new Validator().validate(structuredClone(doc));
  return res.valid ? [] : res.errors;
}

function resolve(doc, node) {
  let n = node;
  for (let i = 0; n && typeof n === 'object' && typeof n.$ref === 'string'; i++) {
    if (i > 16 || !n.$ref.startsWith('#/')) throw new Error(`cannot resolve ${n.$ref}`);
    n = n.$ref.slice(2).split('/').reduce((o, k) => o?.[k.replaceAll('~1', '/').replaceAll('~0', '~')], doc);
    if (n === undefined) throw new Error(`dangling ${node.$ref}`);
  }
  return n;
}

function templateRegex(p) {
  const esc = p.split(/(\{[^}]+\})/).map((part) =>
    part.startsWith('{') ? '([^/]+)' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${esc.join('')}$`);
}

export function createValidator(doc) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema(doc, 'openapi');
  const concrete = new Map();
  const templated = [];
  for (const [p, item] of Object.entries(doc.paths)) {
    if (p.includes('{')) templated.push({ p, re: templateRegex(p), item });
    else concrete.set(p, item);
  }
  const schemaCache = new Map();
  function schemaValidator(pointer) {
    if (!schemaCache.has(pointer)) schemaCache.set(pointer, ajv.compile({ $ref: `openapi#${pointer}` }));
    return schemaCache.get(pointer);
  }
  const ptr = (...keys) => '/' + keys.map((k) => String(k).replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

  function findPath(pathname) {
    if (concrete.has(pathname)) return { p: pathname, item: concrete.get(pathname) };
    const hits = templated.filter((t) => t.re.test(pathname));
    return hits.length ? hits[0] : null;
  }

  // {method, pathname, status, headers (Headers or object), body (text)} -> [errors]
  function check({ method, pathname, status, headers, body }) {
    const where = `${method.toUpperCase()} ${pathname} -> ${status}`;
    const found = findPath(pathname);
    if (!found) return [`${where}: path not in docs/openapi.yaml`];
    const m = method.toLowerCase();
    const item = resolve(doc, found.item);
    if (!item[m]) return [`${where}: method not in docs/openapi.yaml for ${found.p}`];
    const op = resolve(doc, item[m]);
    const responses = op.responses || {};
    const key = String(status) in responses ? String(status)
      : `${String(status)[0]}XX` in responses ? `${String(status)[0]}XX` : null;
    if (!key) return [`${where}: status not in docs/openapi.yaml (${found.p} ${m}: ${Object.keys(responses).join(', ')})`];
    const resp = resolve(doc, responses[key]);
    const get = (h) => (typeof headers.get === 'function' ? headers.get(h) : headers[h.toLowerCase()]) ?? null;
    const errors = [];
    for (const [name, h0] of Object.entries(resp.headers || {})) {
      const h = resolve(doc, h0);
      const v = get(name);
      if (v === null) {
        if (h.required) errors.push(`${where}: header ${name} missing`);
        continue;
      }
      if (h.schema) {
        const sv = ajv.compile(h.schema);
        if (!sv(v)) errors.push(`${where}: header ${name}: ${JSON.stringify(v)} ${ajv.errorsText(sv.errors)}`);
      }
    }
    const content = resp.content || {};
    const ctype = (get('content-type') || '').split(';')[0].trim().toLowerCase();
    const mediaKey = Object.keys(content).find((k) => k.split(';')[0].trim().toLowerCase() === ctype);
    if (Object.keys(content).length === 0) {
      if (body) errors.push(`${where}: a body where the document says none`);
      return errors;
    }
    if (!mediaKey) return [...errors, `${where}: content type ${JSON.stringify(ctype)} not in ${Object.keys(content).join(', ')}`];
    const media = content[mediaKey];
    if (m === 'head' || !media.schema) return errors;
    let value = body;
    if (ctype === 'application/json') {
      try { value = JSON.parse(body); } catch { return [...errors, `${where}: body is not JSON: ${body.slice(0, 200)}`]; }
    }
    // The schema by its place in the document, so that $refs resolve.
    const itemPtr = found.item.$ref ? found.item.$ref.slice(1) : ptr('paths', found.p);
    const respPtr = responses[key].$ref ? responses[key].$ref.slice(1) : `${itemPtr}${ptr(m, 'responses', key)}`;
    const pointer = `${respPtr}${ptr('content', mediaKey, 'schema')}`;
    const sv = schemaValidator(pointer);
    if (!sv(value)) errors.push(`${where}: ${ajv.errorsText(sv.errors)}; body ${JSON.stringify(value).slice(0, 300)}`);
    return errors;
  }
  return { check, doc };
}

export async function loadValidator() {
  const doc = loadDocument();
  const errs = await documentErrors(doc);
  if (errs.length) throw new Error(`docs/openapi.yaml is not valid OpenAPI 3.1: ${JSON.stringify(errs).slice(0, 2000)}`);
  return createValidator(doc);
}
