#!/bin/sh
# make test: build warnings-as-errors, unit tests (plain and ASan+UBSan),
# then integration tests against a fresh stack of their own (var/test,
# ports 18080/15432, upstream imitations on 18090).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

scripts/deps.sh

echo "== build"
make -s WERROR=1 all
if [ -z "${RS_SKIP_UNIT:-}" ]; then
	echo "== unit tests"
	make -s WERROR=1 unit
	echo "== unit tests (ASan + UBSan)"
	ASAN_OPTIONS=detect_leaks=1 make -s WERROR=1 SAN=1 unit
fi

export RS_VAR="$ROOT/var/test" PORT=18080 PGPORT=15432 RS_UPSTREAM_PORT=18090
export ADMIN_PASSWORD=test-admin-pw RS_EXTRA_USERS="viewer:viewer-pw"
export RS_PG_EXTRA="fsync = off
synchronous_commit = off
full_page_writes = off"
unset DATABASE_URL OPENAI_API_KEY OPENAI_BASE_URL || true

cleanup() {
	[ -f "$RS_VAR/upstream.pid" ] && kill "$(cat "$RS_VAR/upstream.pid")" 2>/dev/null || true
	scripts/stack.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

scripts/stack.sh stop >/dev/null 2>&1 || true
rm -rf "$RS_VAR"
mkdir -p "$RS_VAR/log"
echo "== integration stack"
scripts/stack.sh start
scripts/seed.sh
node tests/upstream/server.mjs "$RS_UPSTREAM_PORT" >"$RS_VAR/log/upstream.log" 2>&1 &
echo $! >"$RS_VAR/upstream.pid"
i=0
until curl -fsS -o /dev/null "http://127.0.0.1:$RS_UPSTREAM_PORT/__log"; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "upstream did not start" >&2; exit 1; }
	sleep 0.1
done

echo "== integration tests"
# RS_TEST_FILES narrows the run while developing (default: all).
# shellcheck disable=SC2086
node --test --test-concurrency=1 ${RS_TEST_FILES:-tests/integration/}
