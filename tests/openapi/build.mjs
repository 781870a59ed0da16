// docs/openapi.yaml -> docs/openapi.json (what nginx serves and the package
// installs).  `node tests/openapi/build.mjs` rewrites the JSON;
// `node tests/openapi/build.mjs --check` exits 1 when it is out of date.
// Run `npm ci --prefix tests/openapi` first (scripts/test.sh does).
import fs from 'node:fs';
import path from 'node:path';
import { yamlToJson } from './openapi.mjs';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const yamlPath = path.join(ROOT, 'docs/openapi.yaml');
const jsonPath = path.join(ROOT, 'docs/openapi.json');
const want = yamlToJson(fs.readFileSync(yamlPath, 'utf8'));

if (process.argv[2] === '--check') {
  const have = fs.existsSync(jsonPath) ? fs.readFileSync(jsonPath, 'utf8') : '';
  if (have !== want) {
    console.error('docs/openapi.json differs from docs/openapi.yaml: run node tests/openapi/build.mjs');
    process.exit(1);
  }
} else {
  fs.writeFileSync(jsonPath, want);
  console.log(`wrote ${path.relative(ROOT, jsonPath)}`);
}
