// Issue 19: "delete in one transaction", tested by what one transaction
// means: a failure injected in the middle (a trigger that raises on the
// cursor or on the source delete) leaves everything as it was, and a
// batch started while the delete's transaction is open gets 409 and
// leaves nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batch, call, counts, createSource, cursorRow, dummyConfig, one, sql, syncToEnd, until } from './lib.mjs';
import { advisory, holdLock, inject } from './hold.mjs';

const DELETE = '/api/backoffice/rest-delete';
const KEY = 19001;	// advisory lock the injected trigger waits for

// Everything of one source, row for row: chunks, docs, cursor, source,
// page validators, items and runs.
function state(id) {
  return sql(`SELECT
      (SELECT count(*) FROM kb_chunks WHERE source_id = :'p1'),
      (SELECT count(*) FROM kb_docs WHERE source_id = :'p1'),
      (SELECT md5(coalesce(string_agg(content_hash || chunk_idx, ',' ORDER BY chunk_idx), '')) FROM kb_chunks WHERE source_id = :'p1'),
      (SELECT md5(coalesce(string_agg(c::text, ','), '')) FROM kb_rest_cursors c WHERE source_id = :'p1'),
      (SELECT md5(coalesce(string_agg(s::text, ','), '')) FROM kb_sources s WHERE id = :'p1'),
      (SELECT count(*) FROM kb_rest_page_validators WHERE source_id = :'p1'),
      (SELECT count(*) FROM kb_rest_items WHERE source_id = :'p1'),
      (SELECT md5(coalesce(string_agg(i::text, ',' ORDER BY i.item_key), '')) FROM kb_rest_items i WHERE source_id = :'p1'),
      (SELECT count(*) FROM kb_rest_runs WHERE source_id = :'p1'),
      (SELECT md5(coalesce(string_agg(r::text, ',' ORDER BY r.id), '')) FROM kb_rest_runs r WHERE source_id = :'p1');`, [id])[0];
}
const EMPTY = 'd41d8cd98f00b204e9800998ecf8427e';	// md5 of ''

function auditRows(id) {
  return sql(`SELECT action, outcome FROM kb_rest_audit WHERE source_id = :'p1' AND action = 'delete' ORDER BY id;`, [id]);
}

for (const [table, step] of [['kb_rest_cursors', 'the cursor'], ['kb_sources', 'the source']]) {
  test(`delete: a failure at ${step} (chunks and docs already deleted) rolls everything back`, async () => {
    const id = createSource(`Delete fails at ${table}`, dummyConfig());
    await syncToEnd(id);
    const before = state(id);
    assert.deepEqual(before.slice(0, 2), ['194', '1']);
    // 194 items and the sync's one run (kb_rest_items, kb_rest_runs).
    assert.deepEqual([before[6], before[8]], ['194', '1']);
    const drop = inject(table, 'DELETE', id, 'fail');
    let r;
    try {
      r = await call(DELETE, { body: { sourceId: id } });
    } finally {
      drop();
    }
    assert.ok(r.status >= 500, `${r.status} ${r.text}`);
    assert.equal(r.json.ok, false);
    assert.deepEqual(state(id), before, 'a failed delete changed the source');
    assert.deepEqual(auditRows(id), [['delete', 'error']]);
    // Without the fault the same delete goes through, all of it.
    const ok = await call(DELETE, { body: { sourceId: id } });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json.deleted, { docs: 1, chunks: 194 });
    assert.deepEqual(state(id), ['0', '0', EMPTY, EMPTY, EMPTY, '0', '0', EMPTY, '0', EMPTY]);
  });
}

test('delete: while its transaction is open, a batch gets 409; after it, no orphans', async () => {
  const id = createSource('Delete held open', dummyConfig());
  const b1 = await batch(id);
  assert.equal(b1.status, 200, b1.text);
  const holder = await holdLock(KEY);
  const drop = inject('kb_rest_cursors', 'DELETE', id, 'wait', KEY);
  let pending;
  try {
    pending = call(DELETE, { body: { sourceId: id } });
    // The delete's session has removed chunks and docs and now waits
    // inside its transaction, at the cursor.
    await until('the delete to reach the cursor', () => advisory(KEY, false) === 1);
    // Other sessions still see everything: nothing is half-deleted.
    assert.deepEqual(counts(id), { docs: 1, chunks: 50 });
    const b = await batch(id);
    assert.equal(b.status, 409, b.text);
    assert.equal(b.json.error, 'a batch for this source is already running');
    assert.equal(cursorRow(id).pages, 1);
  } finally {
    await holder.release();
    drop();
  }
  const r = await pending;
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.deleted, { docs: 1, chunks: 50 });
  // No orphans anywhere, and the source is gone for batches too.
  assert.deepEqual(counts(id), { docs: 0, chunks: 0 });
  assert.equal(cursorRow(id), null);
  assert.equal(one(`SELECT count(*) FROM kb_rest_page_validators WHERE source_id = :'p1';`, [id]), '0');
  assert.equal(one(`SELECT count(*) FROM kb_rest_items WHERE source_id = :'p1';`, [id]), '0');
  assert.equal(one(`SELECT count(*) FROM kb_rest_runs WHERE source_id = :'p1';`, [id]), '0');
  assert.equal(one(`SELECT count(*) FROM kb_sources WHERE id = :'p1';`, [id]), '0');
  assert.equal(one(`SELECT count(*) FROM kb_chunks c WHERE NOT EXISTS (SELECT 1 FROM kb_docs d WHERE d.id = c.doc_id)
                    OR NOT EXISTS (SELECT 1 FROM kb_sources s WHERE s.id = c.source_id);`), '0');
  assert.equal((await batch(id)).status, 404);
});
