#!/bin/sh
# make bench: a fresh stack of its own under var/bench (nginx 28080,
# PostgreSQL 25432, RS_WORKERS FastCGI workers), the benchmark upstream
# (28090) and embeddings server (28091), then bench/run.mjs measures.
# Everything it started is stopped on exit, also on error or Ctrl-C.
#
# Scale with BENCH_ITEMS (20000), BENCH_SCALE_ITEMS (5000 per source),
# BENCH_SOURCES (8), BENCH_EMBED_DELAY_MS (50), BENCH_PAGE_SIZE (50),
# BENCH_PHASES (remote,scale,local,prefilled,micro; pipeline: server-side
# runs against the serial sync, BENCH_PIPE_ITEMS, BENCH_PIPE_DELAYS;
# prefilled: BENCH_PREFILL_CHUNKS, BENCH_PREFILL_SOURCES, and
# BENCH_PREFILL_ANALYZE=0 leaves out its ANALYZE comparison),
# BENCH_PG_EXTRA (postgresql.conf lines, e.g. "synchronous_commit = off"),
# RS_WORKERS (8).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

export RS_VAR="${BENCH_VAR:-$ROOT/var/bench}"
export PORT="${BENCH_PORT:-28080}" PGPORT="${BENCH_PGPORT:-25432}"
export BENCH_UPSTREAM_PORT="${BENCH_UPSTREAM_PORT:-28090}"
export BENCH_EMBED_PORT="${BENCH_EMBED_PORT:-28091}"
export RS_WORKERS="${RS_WORKERS:-8}"
export ADMIN_PASSWORD="${BENCH_ADMIN_PASSWORD:-bench-admin-pw}"
export RS_PG_EXTRA="${BENCH_PG_EXTRA:-}"
export BENCH_BIN_DIR="${BENCH_BIN_DIR:-$ROOT/build/release/bench}"
unset DATABASE_URL OPENAI_API_KEY OPENAI_BASE_URL EMBEDDING_MODEL EMBEDDING_DIMENSIONS \
    RS_EXTRA_USERS || true

pids=""
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || true
	done
	scripts/stack.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for bin in micro_chunk micro_json; do
	[ -x "$BENCH_BIN_DIR/$bin" ] || { echo "bench: $BENCH_BIN_DIR/$bin missing: run make bench" >&2; exit 1; }
done

scripts/stack.sh stop >/dev/null 2>&1 || true
rm -rf "$RS_VAR"
mkdir -p "$RS_VAR/log"

node bench/upstream.mjs "$BENCH_UPSTREAM_PORT" >"$RS_VAR/log/bench-upstream.log" 2>&1 &
pids="$pids $!"
node bench/embed_server.mjs "$BENCH_EMBED_PORT" >"$RS_VAR/log/bench-embed.log" 2>&1 &
pids="$pids $!"
for url in "http://127.0.0.1:$BENCH_UPSTREAM_PORT/__stats" \
    "http://127.0.0.1:$BENCH_EMBED_PORT/__stats"; do
	i=0
	until curl -fs -o /dev/null "$url"; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "bench: $url does not answer" >&2; exit 1; }
		sleep 0.1
	done
done

BENCH_MOCK_PIDS="$pids" node bench/run.mjs
