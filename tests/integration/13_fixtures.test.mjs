// Issue 19: fixtures beyond DummyJSON (tests/upstream/routes/evidence.mjs):
// items of thousands of words, non-ASCII text, items that change between
// syncs.  What is stored is checked against the items themselves: every
// chunk is a piece of its item's text, in order, overlapping the one
// before, together covering all of it; chunk_idx and chunkIndex are dense;
// content_hash is the SHA-256 of the stored text; no chunk is over the
// token or byte bounds (common/pipeline/chunk.h); non-ASCII text is stored byte
// for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { batch, call, counts, createSource, cursorRow, dummyConfig, sql, syncToEnd, UPSTREAM } from './lib.mjs';
import { EV_INTL, EV_LONG, changingItems, itemText } from '../upstream/routes/evidence-data.mjs';

const TARGET_TOKENS = 1000;	// CHUNK_TARGET_TOKENS
const MAX_BYTES = 8191;		// CHUNK_MAX_BYTES

function evConfig(route, pageSize) {
  return dummyConfig({
    baseUrl: `${UPSTREAM}${route}`, itemsPath: 'items', textFields: ['title', 'body'], titleField: 'title',
    defaultPageSize: pageSize,
  });
}

// chunk.h's estimate: ceil(ASCII bytes / 4) + one per UTF-8 lead byte.
function estTokens(buf) {
  let ascii = 0;
  let lead = 0;
  for (const b of buf) {
    if (b < 0x80) ascii++;
    else if (b >= 0xc0) lead++;
  }
  return Math.ceil(ascii / 4) + lead;
}

function storedChunks(id) {
  return sql(`SELECT chunk_idx, content_hash, encode(convert_to(content, 'UTF8'), 'hex'),
                     metadata->>'itemId', metadata->>'chunkIndex', metadata->>'contentHash'
              FROM kb_chunks WHERE source_id = :'p1' ORDER BY chunk_idx;`, [id])
    .map(([idx, hash, hex, item, ci, mh]) => ({ idx: +idx, hash, buf: Buffer.from(hex, 'hex'), item, ci: +ci, mh }));
}

// Check every stored chunk against the items; returns {itemId: nChunks}.
function checkAgainstItems(id, items) {
  const chunks = storedChunks(id);
  chunks.forEach((c, i) => assert.equal(c.idx, i, 'chunk_idx is dense from 0'));
  const per = {};
  for (const it of items) {
    const mine = chunks.filter((c) => c.item === it.id);
    assert.ok(mine.length > 0, `${it.id}: no chunks`);
    const text = Buffer.from(itemText(it), 'utf8');
    let prevStart = -1;
    let prevEnd = 0;
    mine.forEach((c, k) => {
      assert.equal(c.ci, k, `${it.id}: chunkIndex dense`);
      if (k > 0) assert.equal(c.idx, mine[k - 1].idx + 1, `${it.id}: chunks of an item are consecutive`);
      assert.equal(c.hash, crypto.createHash('sha256').update(c.buf).digest('hex'), `${it.id}/${k}: content_hash`);
      assert.equal(c.mh, c.hash);
      assert.ok(c.buf.length <= MAX_BYTES, `${it.id}/${k}: ${c.buf.length} bytes`);
      assert.ok(estTokens(c.buf) <= TARGET_TOKENS, `${it.id}/${k}: ${estTokens(c.buf)} tokens`);
      assert.equal(Buffer.from(c.buf.toString('utf8'), 'utf8').compare(c.buf), 0, `${it.id}/${k}: valid UTF-8`);
      // A piece of the item's text, after the previous piece's start,
      // starting no later than the previous piece's end (overlap or
      // whitespace only between them).
      const at = text.indexOf(c.buf, prevStart + 1);
      assert.ok(at >= 0, `${it.id}/${k}: not a piece of the item's text`);
      assert.ok(at <= prevEnd || text.subarray(prevEnd, at).toString().trim() === '', `${it.id}/${k}: a gap before it`);
      if (k === 0) assert.equal(at, 0, `${it.id}: the first chunk starts the text`);
      prevStart = at;
      prevEnd = Math.max(prevEnd, at + c.buf.length);
    });
    assert.equal(prevEnd, text.length, `${it.id}: the chunks cover the text to its end`);
    per[it.id] = mine.length;
  }
  assert.equal(chunks.length, Object.values(per).reduce((a, b) => a + b, 0), 'no chunk of an unknown item');
  return per;
}

test('long items (3,000 to 6,000 words) split into bounded, overlapping, covering chunks', async () => {
  const id = createSource('Long items', evConfig('/ev/long', 2));
  const rs = await syncToEnd(id);
  assert.deepEqual(rs.map((r) => [r.status, r.json.items]), [[200, 2], [200, 2]]);
  const per = checkAgainstItems(id, EV_LONG);
  // At least ceil(tokens / target) chunks; the exact counts of today's
  // chunker (a change in them is a change in what is stored).
  for (const it of EV_LONG) {
    assert.ok(per[it.id] >= Math.ceil(estTokens(Buffer.from(itemText(it))) / TARGET_TOKENS), it.id);
  }
  assert.deepEqual(per, EXPECTED_LONG);
  const total = Object.values(per).reduce((a, b) => a + b, 0);
  assert.equal(rs[0].json.chunks + rs[1].json.chunks, total);
  assert.equal(rs[0].json.inserted + rs[1].json.inserted, total);
  assert.deepEqual(counts(id), { docs: 1, chunks: total });
  assert.equal(cursorRow(id).items, 4);
});

test('non-ASCII items (CJK, emoji, right-to-left, combining marks) are stored byte for byte', async () => {
  const id = createSource('International', evConfig('/ev/intl', 10));
  const [r] = await syncToEnd(id);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items, 4);
  const per = checkAgainstItems(id, EV_INTL);
  assert.deepEqual(per, EXPECTED_INTL);
  // A one-chunk item is its text exactly: direction marks kept, combining
  // sequences not recomposed.
  const rtl = storedChunks(id).find((c) => c.item === 'intl-rtl');
  assert.equal(rtl.buf.toString('utf8'), itemText(EV_INTL[2]));
  assert.ok(rtl.buf.includes(Buffer.from('\u200f', 'utf8')));
  const comb = storedChunks(id).filter((c) => c.item === 'intl-combining')[0].buf.toString('utf8');
  assert.ok(comb.includes('Cafe\u0301 A\u0308rger'), 'decomposed accents stay decomposed');
  assert.ok(!comb.includes('Café'));
  // No emoji ZWJ sequence or flag is cut between two chunks' ends: every
  // chunk ends on a code point boundary (valid UTF-8 above) and the
  // titles came through.
  assert.deepEqual(sql(`SELECT DISTINCT title FROM kb_chunks WHERE source_id = :'p1' ORDER BY 1;`, [id]).map((x) => x[0]),
    EV_INTL.map((it) => it.title).sort());
});

test('items that change between syncs: a re-sync stores the changed and the new ones, keeps the rest', async () => {
  const setVersion = (v) => fetch(`${UPSTREAM}/ev/changing/version`, { method: 'POST', body: JSON.stringify({ version: v }) });
  await setVersion(1);
  try {
    const id = createSource('Changing items', evConfig('/ev/changing', 10));
    const first = await syncToEnd(id);
    assert.deepEqual(first.map((r) => r.json.inserted), [10, 10, 10]);
    checkAgainstItems(id, changingItems(1));
    await setVersion(2);
    assert.equal((await call('/api/backoffice/rest-sources-reset', { body: { sourceId: id } })).status, 200);
    const second = await syncToEnd(id);
    // Version 2: 6 of the first 30 items changed (c0, c5, ..., c25) and 5
    // are new; the 24 unchanged are neither chunked nor embedded, and the
    // old texts of the changed items leave (docs/SYNC-RUNS.md).
    assert.deepEqual(second.map((r) => [r.json.items, r.json.inserted, r.json.skipped]), [[10, 2, 0], [10, 2, 0], [10, 2, 0], [5, 5, 0]]);
    assert.deepEqual(second.map((r) => [r.json.newItems, r.json.changedItems, r.json.unchangedItems]),
      [[0, 2, 8], [0, 2, 8], [0, 2, 8], [5, 0, 0]]);
    const stored = new Set(storedChunks(id).map((c) => c.buf.toString('utf8')));
    for (const it of changingItems(2)) assert.ok(stored.has(itemText(it)), `${it.id} (version 2) stored`);
    assert.deepEqual(EXPECTED_AFTER_CHANGE, {
      chunks: storedChunks(id).length,
      oldTextsKept: changingItems(1).filter((it) => stored.has(itemText(it))).length,
    });
    assert.equal(cursorRow(id).items, 35);
  } finally {
    await setVersion(1);
  }
});

// Today's chunker on these texts (target 1,000, overlap 120 tokens).
const EXPECTED_LONG = { 'long-paragraphs': 6, 'long-one-line': 11, 'long-no-punctuation': 7, 'long-short': 1 };
const EXPECTED_INTL = { 'intl-cjk': 3, 'intl-emoji': 4, 'intl-rtl': 1, 'intl-combining': 2 };
const EXPECTED_AFTER_CHANGE = { chunks: 30 + 5, oldTextsKept: 24 };
