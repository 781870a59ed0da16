// Server-side runs (docs/RUNS.md): POST rest-sync starts a run that the
// stack's workers carry out to the end whether or not anybody watches;
// rest-sync-stop stops it after the page in flight; a worker that dies
// mid-run is replaced by another, and nothing is lost or doubled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, UPSTREAM, VAR, batch, call, createSource, cursorRow, one, sql, until } from './lib.mjs';

const SYNC = '/api/backoffice/rest-sync';
const STOP = '/api/backoffice/rest-sync-stop';
const RUN = `rn${process.pid}`;

const control = async (ds, cmd) => {
  const r = await fetch(`${UPSTREAM}/mut/control`, { method: 'POST', body: JSON.stringify({ ds: `${RUN}-${ds}`, ...cmd }) });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return JSON.parse(text);
};

function config(ds, query = {}) {
  return {
    baseUrl: `${UPSTREAM}/mut/offset`, cursorStyle: 'offset', cursorParam: 'skip', pageSizeParam: 'limit',
    defaultPageSize: 10, itemsPath: 'items', totalPath: 'total', textFields: ['title', 'body'], titleField: 'title',
    queryTemplate: { ds: `${RUN}-${ds}`, ...query },
  };
}

const runRow = (id) => {
  const r = sql(`SELECT status, pages, items, new_items, coalesce(error, ''), stop_requested, coalesce(executor, '')
                 FROM kb_rest_runs WHERE id = :'p1';`, [id])[0];
  return { status: r[0], pages: +r[1], items: +r[2], newItems: +r[3], error: r[4], stop: r[5] === 't', executor: r[6] };
};


test('a started run finishes with nobody watching; a second start and a click meanwhile answer 409', async () => {
  await control('alone', { op: 'seed', n: 60 });
  const id = createSource('Run alone', config('alone', { delay: '150' }));
  const t0 = Date.now();
  const r = await call(SYNC, { body: { sourceId: id } });
  assert.equal(r.status, 202, r.text);
  assert.match(r.json.runId, /^[0-9a-f-]{36}$/);
  assert.ok(Date.now() - t0 < 1000, 'answered at once');
  // Picked up by a worker within a second or so.
  await until('a worker on it', () => runRow(r.json.runId).pages >= 1, 5000);
  const again = await call(SYNC, { body: { sourceId: id } });
  assert.equal(again.status, 409, again.text);
  assert.match(again.json.error, /already (going|running)/);
  const click = await batch(id);
  assert.equal(click.status, 409, click.text);
  // Nobody polls: the run goes on to the end by itself.
  await until('the run done', () => runRow(r.json.runId).status === 'done', 30000);
  const run = runRow(r.json.runId);
  assert.deepEqual([run.pages, run.items, run.newItems], [6, 60, 60]);
  assert.match(run.executor, /:\d+$/);
  assert.deepEqual([cursorRow(id).done, +one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id])], [true, 60]);
  // Listed with its rate.
  const list = await call(`/api/backoffice/rest-runs?sourceId=${id}&limit=1`, { method: 'GET' });
  assert.equal(list.json.runs[0].status, 'done');
  assert.ok(list.json.runs[0].itemsPerSecond > 0);
  // Audited; and a done source starts over from the first page.
  assert.equal(one(`SELECT count(*) FROM kb_rest_audit WHERE source_id = :'p1' AND action = 'run-start';`, [id]), '1');
  const next = await call(SYNC, { body: { sourceId: id } });
  assert.equal(next.status, 202);
  await until('the second run done', () => runRow(next.json.runId).status === 'done', 30000);
  assert.deepEqual(sql(`SELECT unchanged_items, new_items FROM kb_rest_runs WHERE id = :'p1';`, [next.json.runId]), [['60', '0']]);
});

test('stop: the run ends after the page in flight and says so; the cursor stays where it got', async () => {
  await control('stop', { op: 'seed', n: 100 });
  const id = createSource('Run stop', config('stop', { delay: '300' }));
  const r = await call(SYNC, { body: { sourceId: id } });
  assert.equal(r.status, 202);
  await until('two pages', () => runRow(r.json.runId).pages >= 2, 10000);
  const s = await call(STOP, { body: { sourceId: id } });
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.runId, r.json.runId);
  await until('stopped', () => runRow(r.json.runId).status === 'stopped', 5000);
  const pages = runRow(r.json.runId).pages;
  assert.ok(pages >= 2 && pages < 10, `stopped early (${pages} pages)`);
  await new Promise((res) => setTimeout(res, 800));
  assert.equal(runRow(r.json.runId).pages, pages, 'nothing after the stop');
  assert.equal(cursorRow(id).items, pages * 10);
  assert.equal((await call(STOP, { body: { sourceId: id } })).status, 409, 'no run going');
  // A click syncs by hand again; a new start goes on from the cursor.
  assert.equal((await batch(id)).status, 200);
  const again = await call(SYNC, { body: { sourceId: id } });
  assert.equal(again.status, 202);
  await until('done', () => cursorRow(id).done, 30000);
  assert.equal(+one(`SELECT count(*) FROM kb_chunks WHERE source_id = :'p1';`, [id]), 100);
});

test('a failed page stops the run with its error; starting again goes on from that page', async () => {
  await control('fail', { op: 'seed', n: 40 });
  const id = createSource('Run fail', config('fail', { failAt: '20' }));
  const r = await call(SYNC, { body: { sourceId: id } });
  assert.equal(r.status, 202);
  await until('failed', () => runRow(r.json.runId).status === 'failed', 10000);
  const run = runRow(r.json.runId);
  assert.equal(run.pages, 2);
  assert.match(run.error, /HTTP 500/);
  assert.equal(cursorRow(id).next, '20');
  // Fixed upstream: the same run goes on.
  sql(`UPDATE kb_sources SET config = config #- '{queryTemplate,failAt}' WHERE id = :'p1';`, [id]);
  const again = await call(SYNC, { body: { sourceId: id } });
  assert.equal(again.status, 202);
  assert.equal(again.json.runId, r.json.runId, 'the failed run resumes');
  await until('done', () => runRow(r.json.runId).status === 'done', 10000);
  assert.deepEqual([runRow(r.json.runId).pages, runRow(r.json.runId).items], [4, 40]);
});

test('a worker SIGKILLed mid-run: another worker goes on, nothing lost or doubled', { timeout: 60000 }, async () => {
  await control('kill', { op: 'seed', n: 80 });
  const id = createSource('Run kill', config('kill', { delay: '250' }));
  const r = await call(SYNC, { body: { sourceId: id } });
  assert.equal(r.status, 202);
  await until('two pages', () => runRow(r.json.runId).pages >= 2, 10000);
  const executor = runRow(r.json.runId).executor;
  const pid = Number(executor.split(':').pop());
  const pids = fs.readdirSync(path.join(VAR, 'run/workers')).map((f) => Number(fs.readFileSync(path.join(VAR, 'run/workers', f), 'utf8')));
  assert.ok(pids.includes(pid), `the executor ${executor} is one of the stack's workers ${pids}`);
  process.kill(pid, 'SIGKILL');
  await until('another worker on it', () => {
    const e = runRow(r.json.runId).executor;
    return e !== executor && e !== '';
  }, 15000);
  await until('done', () => runRow(r.json.runId).status === 'done', 30000);
  const [n, distinct] = sql(`SELECT count(*), count(DISTINCT content_hash) FROM kb_chunks WHERE source_id = :'p1';`, [id])[0];
  assert.deepEqual([+n, +distinct], [80, 80]);
  const run = runRow(r.json.runId);
  assert.deepEqual([run.items, run.newItems], [80, 80], 'every page counted once');
  assert.equal(cursorRow(id).items, 80);
  // The stack restarts its workers for the tests after this one.
  const { execFileSync } = await import('node:child_process');
  execFileSync(path.join(ROOT, 'scripts/stack.sh'), ['workers'], { env: process.env, stdio: 'ignore' });
});

test('rest-sync and rest-sync-stop: bad input is a clear 4xx', async () => {
  const id = createSource('Run input', config('input'), { enabled: false });
  assert.equal((await call(SYNC, { body: {} })).status, 400);
  assert.equal((await call(SYNC, { body: { sourceId: '00000000-0000-4000-8000-00000000ffff' } })).status, 404);
  const dis = await call(SYNC, { body: { sourceId: id } });
  assert.equal(dis.status, 409);
  assert.match(dis.json.error, /disabled/);
  assert.equal((await call(SYNC, { body: { sourceId: id }, user: ['viewer', 'viewer-pw'] })).status, 403);
  assert.equal((await call(STOP, { body: { sourceId: id } })).status, 409);
  assert.equal((await call(SYNC, { method: 'GET' })).status, 405);
});
