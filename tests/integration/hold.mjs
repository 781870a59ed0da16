// Helpers for tests that stop the service at a chosen point: a psql
// session that holds an advisory lock until told to let go, triggers that
// make a statement wait for that lock (or fail), and waiting by condition.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DB, one, sql, until } from './lib.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


// Sessions waiting for (not granted) or holding (granted) advisory lock key.
export function advisory(key, granted) {
  return +one(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted = :'p2'::boolean
               AND classid = 0 AND objid = :'p1'::bigint::oid AND objsubid = 1;`, [String(key), String(granted)]);
}

// The batch lock of a source, held by some session?
export function sourceLocked(id) {
  return +one(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
               AND objid = (hashtextextended('restsync:source:' || :'p1', 0) & 4294967295)::oid;`, [id]) > 0;
}

// A psql session holding advisory lock `key` (a small positive integer)
// until release() is called.
export async function holdLock(key) {
  const p = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', DB], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d) => { stderr += d; });
  const closed = new Promise((r) => p.on('close', r));
  p.stdin.write(`SELECT pg_advisory_lock(${Number(key)});\n`);
  await until(`lock ${key} to be held`, () => advisory(key, true) === 1);
  return {
    async release() {
      if (p.exitCode !== null) return;
      p.stdin.end(`SELECT pg_advisory_unlock(${Number(key)});\n`);
      await closed;
      if (stderr) throw new Error(`lock holder: ${stderr}`);
    },
  };
}

// A BEFORE trigger on table for rows of source id: 'wait' makes the
// statement wait for advisory lock key; 'fail' raises an error.  Returns
// a function that drops it.
export function inject(table, op, id, mode, key = 0) {
  const name = `rs_test_${mode}_${table}_${op}`.toLowerCase();
  const col = table === 'kb_sources' ? 'id' : 'source_id';
  const row = op === 'DELETE' ? 'OLD' : 'NEW';
  const body = mode === 'wait'
    ? `PERFORM pg_advisory_xact_lock(${Number(key)});`
    : `RAISE EXCEPTION 'injected failure on % of %', TG_OP, TG_TABLE_NAME;`;
  sql(`SET client_min_messages = warning;
       CREATE OR REPLACE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $f$
       BEGIN ${body} RETURN ${row}; END $f$;
       DROP TRIGGER IF EXISTS ${name} ON ${table};
       CREATE TRIGGER ${name} BEFORE ${op} ON ${table} FOR EACH ROW
         WHEN (${row}.${col} = '${id}'::uuid) EXECUTE FUNCTION ${name}();`);
  return () => sql(`SET client_min_messages = warning;
       DROP TRIGGER IF EXISTS ${name} ON ${table}; DROP FUNCTION IF EXISTS ${name}();`);
}

// The rest_batch supervisor and its workers.
export function batchWorkers(VAR) {
  const master = fs.readFileSync(path.join(VAR, 'run/fcgi/rest_batch.pid'), 'utf8').trim();
  const r = spawnSync('pgrep', ['-P', master], { encoding: 'utf8' });
  return { master, kids: r.stdout.trim().split('\n').filter(Boolean) };
}

// Wait until the supervisor has replaced every worker in killed by a new one.
export async function respawned(VAR, before) {
  return until('the workers to be respawned', () => {
    const now = batchWorkers(VAR);
    return now.master === before.master && now.kids.length === before.kids.length
      && now.kids.every((k) => !before.kids.includes(k)) ? now : null;
  });
}
