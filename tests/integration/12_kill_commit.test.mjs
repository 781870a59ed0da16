// Issue 19: a worker killed with SIGKILL *during the commit*.  A trigger
// on kb_chunks makes the batch's write wait for an advisory lock this
// test holds, so the test knows the batch is inside its write statement
// (PostgreSQL shows the session waiting for the lock) when it kills the
// workers.  Whether the held statement then goes on without its client or
// the connection is cut, the page's transaction never commits and nothing
// of it stays; the rerun stores every item exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batch, counts, createSource, cursorRow, dummyConfig, one, sql, syncToEnd, until, VAR } from './lib.mjs';
import { advisory, batchWorkers, holdLock, inject, respawned, sourceLocked } from './hold.mjs';

const KEY = 19002;

// What the rerun must end with: 194 items, one doc, 194 chunks with
// distinct content and hashes, chunk_idx 0..193.
function assertExact(id) {
  assert.deepEqual(counts(id), { docs: 1, chunks: 194 });
  const cur = cursorRow(id);
  assert.equal(cur.items, 194);
  assert.equal(cur.done, true);
  assert.deepEqual(sql(`SELECT count(DISTINCT content_hash), count(DISTINCT content), min(chunk_idx), max(chunk_idx),
                               count(DISTINCT chunk_idx)
                        FROM kb_chunks WHERE source_id = :'p1';`, [id])[0], ['194', '194', '0', '193', '194']);
  assert.equal(one(`SELECT chunk_count FROM kb_rest_cursors WHERE source_id = :'p1';`, [id]), '194');
}

// Start a batch, wait until its write waits for KEY, SIGKILL the workers.
// Returns the batch's answer, the pid of the write's database session and
// the workers before the kill.
async function killDuringCommit(id) {
  const holder = await holdLock(KEY);
  const drop = inject('kb_chunks', 'INSERT', id, 'wait', KEY);
  try {
    const before = batchWorkers(VAR);
    const pending = batch(id);
    await until('the batch to reach its write', () => advisory(KEY, false) === 1);
    const backend = one(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                         AND classid = 0 AND objid = :'p1'::bigint::oid;`, [String(KEY)]);
    // Nothing of the batch is visible yet.
    assert.deepEqual(counts(id), { docs: 0, chunks: 0 });
    for (const k of before.kids) process.kill(Number(k), 'SIGKILL');
    const r = await pending;
    return { r, backend, before, holder, drop };
  } catch (e) {
    await holder.release();
    drop();
    throw e;
  }
}

test('SIGKILL during the commit, the statement then completes: the page never commits, the rerun stores everything once', async () => {
  const id = createSource('Killed in commit (completes)', dummyConfig());
  const { r, before, holder, drop } = await killDuringCommit(id);
  assert.equal(r.status, 502, r.text);
  await respawned(VAR, before);
  // A page is one transaction (docs/SYNC-RUNS.md): the held statement may
  // go on without its client once released, but its COMMIT never comes,
  // so nothing of the page stays.
  await holder.release();
  drop();
  await until('the dead worker\'s session to end', () => !sourceLocked(id));
  assert.deepEqual(counts(id), { docs: 0, chunks: 0 });
  const cur = cursorRow(id);
  assert.deepEqual([cur.pages, cur.items, cur.next], [0, 0, null], 'the run began, the cursor did not move');
  const rest = await syncToEnd(id);
  assert.deepEqual(rest.map((x) => [x.status, x.json.items, x.json.inserted]),
    [[200, 50, 50], [200, 50, 50], [200, 50, 50], [200, 44, 44]]);
  assertExact(id);
});

test('SIGKILL during the commit, the connection cut: nothing stored, the rerun stores everything once', async () => {
  const id = createSource('Killed in commit (cut)', dummyConfig());
  const { r, backend, before, holder, drop } = await killDuringCommit(id);
  assert.equal(r.status, 502, r.text);
  try {
    // The database loses the dead worker's connection mid-statement.
    assert.equal(one(`SELECT pg_terminate_backend(:'p1'::int);`, [backend]), 't');
    await until('the dead worker\'s session to end', () => !sourceLocked(id));
  } finally {
    await holder.release();
    drop();
  }
  await respawned(VAR, before);
  assert.deepEqual(counts(id), { docs: 0, chunks: 0 });
  // The run's row exists (it began before the page); the cursor did not move.
  assert.deepEqual([cursorRow(id).pages, cursorRow(id).items, cursorRow(id).next], [0, 0, null]);
  const rest = await syncToEnd(id);
  assert.deepEqual(rest.map((x) => [x.status, x.json.items, x.json.inserted]),
    [[200, 50, 50], [200, 50, 50], [200, 50, 50], [200, 44, 44]]);
  assertExact(id);
});
