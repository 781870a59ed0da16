// The skip gate: a skipped (or todo) test fails the run unless its reason
// is one that the CI machine (Debian 12, root, the packages of
// scripts/deps.sh, the environment scripts/test.sh sets) cannot have.
//   node tests/gates/check-skips.mjs SKIPS.jsonl [LABEL]
// Exit 0 when every skip is allowed here, 1 otherwise (each one listed).
import fs from 'node:fs';

const root = typeof process.getuid === 'function' && process.getuid() === 0;

// Reasons a skip may give, and when it is allowed.  Root-only tests skip
// only off root; CI runs as root, so there they must run.
export const ALLOWED = [
  { reason: /^needs root\b/, allowed: () => !root, why: 'CI runs as root' },
  { reason: /^not running as root$/, allowed: () => !root, why: 'CI runs as root' },
];

export function judge(entries) {
  const bad = [];
  for (const e of entries) {
    const reason = typeof e.skip === 'string' ? e.skip : (typeof e.todo === 'string' ? e.todo : '');
    const rule = ALLOWED.find((r) => reason && r.reason.test(reason));
    if (e.todo !== null && e.todo !== false) bad.push({ ...e, because: 'todo tests are not allowed' });
    else if (!rule) bad.push({ ...e, because: reason ? 'not a reason CI can have' : 'no reason given' });
    else if (!rule.allowed()) bad.push({ ...e, because: `skipped here, but ${rule.why}` });
  }
  return bad;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, label = 'tests'] = process.argv.slice(2);
  if (!file || !fs.existsSync(file)) {
    console.error(`check-skips: ${file || '(no file)'} missing: the skip reporter did not run`);
    process.exit(1);
  }
  const entries = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const bad = judge(entries);
  for (const b of bad) {
    console.error(`check-skips: ${label}: "${b.name}" (${b.file}) skipped: ${JSON.stringify(b.skip ?? b.todo)}: ${b.because}`);
  }
  if (bad.length) process.exit(1);
  console.log(`check-skips: ${label}: ${entries.length} skipped, all allowed here`);
}
