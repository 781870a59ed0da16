// Write README "Performance"'s tables from a committed bench result:
//   node bench/readme-tables.mjs bench/results/<date>.json
// replaces what lies between each pair of bench-tables markers (each
// block names its own result file); --check compares
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
// Every block between the markers, each from the file it names; a file
// given on the command line replaces the first block's.
const given = args.find((a) => a !== '--check');
let out = '';
let rest = text;
const files = [];
for (let m; (m = BEGIN.exec(rest)) !== null;) {
  const e = rest.indexOf(END, m.index);
  if (e < 0) break;
  const file = files.length === 0 && given ? given : m[1];
  const res = JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8'));
  out += rest.slice(0, m.index) + `<!-- bench-tables: begin ${file} -->\n` + markdown(res, file) + '\n' + END;
  rest = rest.slice(e + END.length);
  files.push(file);
}
if (!files.length) {
  console.error('readme-tables: README.md has no bench-tables markers');
  process.exit(1);
}
out += rest;
if (check) {
  if (out !== text) {
    console.error(`readme-tables: README "Performance" does not match ${files.join(', ')}: run node bench/readme-tables.mjs`);
    process.exit(1);
  }
  console.log(`readme-tables: README figures match ${files.join(', ')}`);
} else {
  fs.writeFileSync(README, out);
  console.log(`readme-tables: README "Performance" written from ${files.join(', ')}`);
}
