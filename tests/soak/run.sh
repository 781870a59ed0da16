#!/bin/sh
# make soak: the chaos soak (tests/soak/soak.mjs; README "Reliability") on
# a stack of its own under var/soak, stopped at the end, also on failure.
#
#   SOAK_SECONDS   length of each soak (600)
#   SOAK_SEEDS     seeds to run one after the other on the one stack
#                  ("random" draws one; "plant" is the self-test: a
#                  10 s soak whose result is damaged before the checks,
#                  which must report it); default: SOAK_SEED, else random
#   RS_SOAK_PORT / RS_SOAK_PGPORT / RS_SOAK_UPSTREAM_PORT
#                  the stack's ports (18780 / 16132 / 18790)
#   RS_SOAK_VAR    the stack's state (var/soak)
# Needs the programs built (make).  Exit 1 on the first seed with a
# violation, naming the seed and the invariant.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

export RS_VAR="${RS_SOAK_VAR:-$ROOT/var/soak}" PORT=${RS_SOAK_PORT:-18780}
export PGPORT=${RS_SOAK_PGPORT:-16132} RS_UPSTREAM_PORT=${RS_SOAK_UPSTREAM_PORT:-18790}
export RS_BIN="$ROOT/build/release/bin" RS_WORKERS=2 RS_RUN_WORKERS=2
export RS_WORKER_SCHEDULE=0 ADMIN_PASSWORD="soak-admin-$(openssl rand -hex 8)"
export RS_PG_EXTRA="fsync = off
synchronous_commit = off
full_page_writes = off"
unset DATABASE_URL RESTSYNC_SECRET_KEY RESTSYNC_SECRET_KEY_FILE RS_IDP RS_NGINX_CONF RS_CLI EMBEDDING_MODEL EMBEDDING_DIMENSIONS || true
# The programs read these at start-up: embeddings go to the soak's
# imitation (tests/upstream/routes/soak.mjs), which can fail on demand.
export OPENAI_API_KEY=sk-soak-embed-key-71d2c9aa04be5f3e
export OPENAI_BASE_URL="http://127.0.0.1:$RS_UPSTREAM_PORT/soak/v1"
SECONDS_EACH=${SOAK_SECONDS:-600}
SEEDS=${SOAK_SEEDS:-${SOAK_SEED:-random}}

stop_stack() {
	[ -f "$RS_VAR/upstream.pid" ] && kill "$(cat "$RS_VAR/upstream.pid")" 2>/dev/null || true
	rm -f "$RS_VAR/upstream.pid"
	scripts/stack.sh stop >/dev/null 2>&1 || true
}
trap stop_stack EXIT INT TERM

stop_stack
rm -rf "$RS_VAR"
mkdir -p "$RS_VAR/log"
scripts/stack.sh start >"$ROOT/build/soak-stack.log" 2>&1 || {
	cat "$ROOT/build/soak-stack.log" >&2; echo "soak: the stack did not start" >&2; exit 1; }
scripts/seed.sh >/dev/null
node tests/upstream/server.mjs "$RS_UPSTREAM_PORT" >"$RS_VAR/log/upstream.log" 2>&1 &
echo $! >"$RS_VAR/upstream.pid"
i=0
until curl -fs -o /dev/null "http://127.0.0.1:$RS_UPSTREAM_PORT/__log"; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "soak: upstream did not start" >&2; exit 1; }
	sleep 0.1
done

for seed in $SEEDS; do
	secs=$SECONDS_EACH plant=${SOAK_PLANT:-}
	[ "$seed" = random ] && seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
	[ "$seed" = plant ] && { seed=7; secs=10; plant=1; }
	SOAK_SEED=$seed SOAK_SECONDS=$secs SOAK_PLANT=$plant node tests/soak/soak.mjs || {
		echo "soak: seed $seed failed (replay: make soak SOAK_SEED=$seed SOAK_SECONDS=$secs; logs in $RS_VAR/log)" >&2
		exit 1
	}
done

# Stopped, the stack leaves no program of its own behind.
stop_stack
trap - EXIT INT TERM
left=""
for e in /proc/[0-9]*/environ; do
	if grep -qsF "host=$RS_VAR/run/pg" "$e" 2>/dev/null; then
		p=${e#/proc/}; p=${p%/environ}
		left="$left $p:$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-60)"
	fi
done
if [ -n "$left" ]; then
	echo "soak: violation: processes left after the stack stopped:$left" >&2
	exit 1
fi
echo "soak: the stack stopped, no process left"
