// node:test reporter for the skip gate (scripts/test.sh): writes one JSON
// line per skipped or todo test ({file, name, skip, todo}) to its
// destination; tests/gates/check-skips.mjs judges them.
export default async function* skipReporter(source) {
  for await (const ev of source) {
    if (ev.type !== 'test:pass' && ev.type !== 'test:fail') continue;
    const { skip, todo, name, file } = ev.data;
    if (skip === undefined && todo === undefined) continue;
    if (skip === false && todo === false) continue;
    yield JSON.stringify({ file: file || null, name, skip: skip ?? null, todo: todo ?? null }) + '\n';
  }
}
