#!/bin/sh
# make bench-commit: where the commit statement's time goes.  Starts the
# bench stack's PostgreSQL (var/bench-probe, port 25432), then times
# store_commit_batch() (bench/probe_commit.c: CHUNKS new chunks per batch,
# as a batch commits them) under variants of the session and of
# kb_chunks.embedding's storage, interleaved over ROUNDS rounds so that a
# noisy neighbour hits every variant alike.  Prints p50/mean per variant
# and the WAL written per batch.  The variants change only this scratch
# database.  PROBE_BATCHES (60), PROBE_ROUNDS (3), PROBE_CHUNKS (50).
# Then "the serial commit" (issue 13): the embedding stored as raw float32
# bytea against real[] (bench/probe_embedding.c), ROUNDS rounds; the
# figures go to $RS_VAR/probe-embedding.json.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export RS_VAR="${BENCH_PROBE_VAR:-$ROOT/var/bench-probe}"
export PORT="${BENCH_PORT:-28080}" PGPORT="${BENCH_PGPORT:-25432}"
export RS_WORKERS=1 ADMIN_PASSWORD=bench-admin-pw
export RS_PG_EXTRA="${BENCH_PG_EXTRA:-}"
unset DATABASE_URL OPENAI_API_KEY OPENAI_BASE_URL || true
BIN=${BENCH_BIN_DIR:-$ROOT/build/release/bench}/probe_commit
EMB=${BENCH_BIN_DIR:-$ROOT/build/release/bench}/probe_embedding
N=${PROBE_BATCHES:-60}
ROUNDS=${PROBE_ROUNDS:-3}
CHUNKS=${PROBE_CHUNKS:-50}

trap 'scripts/stack.sh stop >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM
[ -x "$BIN" ] || { echo "probe: $BIN missing: run make bench-bin" >&2; exit 1; }
[ -x "$EMB" ] || { echo "probe: $EMB missing: run make bench-bin" >&2; exit 1; }
scripts/stack.sh stop >/dev/null 2>&1 || true
rm -rf "$RS_VAR"
mkdir -p "$RS_VAR/log"
scripts/stack.sh start >/dev/null
DATABASE_URL=$(cat "$RS_VAR/database_url")
export DATABASE_URL

# psql through deploy/restsync-psql.sh: the URL never on a command line.
q() { deploy/restsync-psql.sh -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }

# variant name | DDL before | PGOPTIONS
variants='default (EXTENDED, pglz)||
synchronous_commit=off||-c synchronous_commit=off
STORAGE EXTERNAL (no compression try)|ALTER TABLE kb_chunks ALTER embedding SET STORAGE EXTERNAL|
COMPRESSION lz4|ALTER TABLE kb_chunks ALTER embedding SET COMPRESSION lz4|
inline: STORAGE PLAIN, toast_tuple_target 8160|ALTER TABLE kb_chunks ALTER embedding SET STORAGE PLAIN, SET (toast_tuple_target = 8160)|
inline + synchronous_commit=off|ALTER TABLE kb_chunks ALTER embedding SET STORAGE PLAIN, SET (toast_tuple_target = 8160)|-c synchronous_commit=off'
reset='ALTER TABLE kb_chunks ALTER embedding SET STORAGE EXTENDED, ALTER embedding SET COMPRESSION pglz, RESET (toast_tuple_target)'

out=$RS_VAR/probe.tsv
: >"$out"
"$BIN" 10 "$CHUNKS" >/dev/null	# warm the caches and the WAL
r=1
while [ "$r" -le "$ROUNDS" ]; do
	printf '%s\n' "$variants" | while IFS='|' read -r name ddl opts; do
		q "$reset"
		[ -n "$ddl" ] && q "$ddl"
		w0=$(q "SELECT pg_current_wal_lsn()")
		res=$(PGOPTIONS="$opts" "$BIN" "$N" "$CHUNKS")
		w1=$(q "SELECT pg_current_wal_lsn()")
		wal=$(q "SELECT round(pg_wal_lsn_diff('$w1', '$w0') / $N / 1024)")
		printf '%s\t%s\t%s\n' "$name" "$wal" "$res" >>"$out"
	done
	r=$((r + 1))
done
q "$reset"

node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.split("\t"));
const by = new Map();
for (const [name, wal, json] of rows) {
  const j = JSON.parse(json);
  if (!by.has(name)) by.set(name, { p50: [], mean: [], wal: [] });
  const v = by.get(name);
  v.p50.push(j.commitMs.p50); v.mean.push(j.commitMs.mean); v.wal.push(+wal);
}
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const base = med(by.get("default (EXTENDED, pglz)").p50);
console.log(`store_commit_batch, ${process.argv[2]} new chunks per batch; ${process.argv[3]} batches x ${process.argv[4]} rounds per variant`);
console.log("variant".padEnd(48) + "p50 ms".padStart(8) + "mean ms".padStart(9) + "vs default".padStart(11) + "WAL KiB/batch".padStart(15));
const res = {};
for (const [name, v] of by) {
  const p = med(v.p50);
  res[name] = { p50Ms: +p.toFixed(2), meanMs: +med(v.mean).toFixed(2), walKiBPerBatch: med(v.wal) };
  console.log(name.padEnd(48) + p.toFixed(2).padStart(8) + med(v.mean).toFixed(2).padStart(9) +
    ((p / base * 100 - 100).toFixed(0) + "%").padStart(11) + String(med(v.wal)).padStart(15));
}
require("fs").writeFileSync(process.argv[5], JSON.stringify(res, null, 2) + "\n");
' "$out" "$CHUNKS" "$N" "$ROUNDS" "$RS_VAR/probe.json"

# The embedding column: real[] against raw little-endian float32 bytea.
: >"$RS_VAR/probe-embedding.tsv"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	"$EMB" "$N" "$CHUNKS" >>"$RS_VAR/probe-embedding.tsv"
	r=$((r + 1))
done
node -e '
const runs = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const res = { rounds: runs.length, batches: runs[0].batches, chunks: runs[0].chunks, rowsScanned: runs[0].rows };
for (const k of ["real", "bytea"]) {
  res[k] = { insertP50Ms: +med(runs.map((j) => j.insertMs[k].p50)).toFixed(2), insertMeanMs: +med(runs.map((j) => j.insertMs[k].mean)).toFixed(2),
    scanMs: +med(runs.map((j) => j.scanMs[k])).toFixed(2) };
}
console.log(`embedding column: ${res.chunks} rows per INSERT, ${res.batches} inserts x ${res.rounds} rounds each, interleaved`);
console.log("column".padEnd(10) + "insert p50 ms".padStart(15) + "insert mean ms".padStart(16) + ("scan of " + res.rowsScanned + " rows, ms").padStart(26));
for (const k of ["real", "bytea"]) console.log((k === "real" ? "real[]" : "bytea").padEnd(10) + res[k].insertP50Ms.toFixed(2).padStart(15) + res[k].insertMeanMs.toFixed(2).padStart(16) + res[k].scanMs.toFixed(2).padStart(26));
require("fs").writeFileSync(process.argv[2], JSON.stringify(res, null, 2) + "\n");
' "$RS_VAR/probe-embedding.tsv" "$RS_VAR/probe-embedding.json"
