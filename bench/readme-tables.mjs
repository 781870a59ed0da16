// Write README "Performance"'s tables from a committed bench result:
//   node bench/readme-tables.mjs bench/results/<date>.json
// replaces what lies between the bench-tables markers; --check compares
// instead (exit 1 when the README does not hold what the file it names
// says: make test runs it, so no figure there lacks its source).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { markdown } from './report.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const README = path.join(ROOT, 'README.md');
const BEGIN = /<!-- bench-tables: begin (\S+) -->\n/;
const END = '<!-- bench-tables: end -->';

const args = process.argv.slice(2);
const check = args.includes('--check');
const text = fs.readFileSync(README, 'utf8');
const m = BEGIN.exec(text);
const e = text.indexOf(END);
if (!m || e < m.index) {
  console.error('readme-tables: README.md has no bench-tables markers');
  process.exit(1);
}
const file = args.find((a) => a !== '--check') || m[1];
const res = JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8'));
const out = text.slice(0, m.index) + `<!-- bench-tables: begin ${file} -->\n` + markdown(res, file) + '\n' + text.slice(e);
if (check) {
  if (out !== text) {
    console.error(`readme-tables: README "Performance" does not match ${file}: run node bench/readme-tables.mjs ${file}`);
    process.exit(1);
  }
  console.log(`readme-tables: README figures match ${file}`);
} else {
  fs.writeFileSync(README, out);
  console.log(`readme-tables: README "Performance" written from ${file}`);
}
