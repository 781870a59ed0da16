#!/bin/sh
# make test: build warnings-as-errors, unit tests (plain and ASan+UBSan),
# the fuzz gate's self-test and a short libFuzzer run of every harness,
# the skip gate's self-test, the README figures against their result file,
# then integration tests against a fresh stack of their own (var/test,
# ports 18080/15432, upstream imitations on 18090), the browser test, and
# the integration tests once more against ASan+UBSan builds of the
# programs (0 reports, 0 leaks, the planted leak caught).  README
# "Testing" says what each gate checks.
#
# While developing: RS_SKIP_UNIT=1 skips unit tests and fuzzing,
# RS_TEST_FILES narrows the integration run, RS_SKIP_SOAK=1 skips the
# short chaos soak, RS_SKIP_SAN=1 skips the
# sanitizer integration pass (RS_SAN_FILES narrows it), RS_SKIP_BROWSER=1
# the browser test.
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
	echo "== fuzz smoke (libFuzzer, 5 s per harness)"
	make -s fuzz-smoke
fi

# RS_TEST_PORT / RS_TEST_PGPORT / RS_TEST_UPSTREAM_PORT move the test stack
# (for two checkouts testing on one machine at once).
export RS_VAR="$ROOT/var/test" PORT=${RS_TEST_PORT:-18080}
export PGPORT=${RS_TEST_PGPORT:-15432} RS_UPSTREAM_PORT=${RS_TEST_UPSTREAM_PORT:-18090}
# The stack's workers carry out server-side runs only: the worker tests
# start the schedulers they count.
export RS_WORKER_SCHEDULE=0
export ADMIN_PASSWORD=test-admin-pw RS_EXTRA_USERS="viewer:viewer-pw"
export RS_PG_EXTRA="fsync = off
synchronous_commit = off
full_page_writes = off"
# The tests set up the environment they need themselves: a key, a
# database or an embeddings service inherited from the caller's shell must
# not change what runs (with RESTSYNC_SECRET_KEY set, the secret tests
# would skip themselves, and the skip gate below would fail the run).
unset DATABASE_URL OPENAI_API_KEY OPENAI_BASE_URL EMBEDDING_MODEL EMBEDDING_DIMENSIONS \
    RESTSYNC_SECRET_KEY RESTSYNC_SECRET_KEY_FILE RS_IDP RS_NGINX_CONF || true

# node --test with the skip gate: a skipped or todo test fails the run
# unless its reason is one CI cannot have (tests/gates/check-skips.mjs).
#   node_tests LABEL FILE...
node_tests() {
	label=$1; shift
	skips="$ROOT/build/skips-$label.jsonl"
	mkdir -p "$ROOT/build"; rm -f "$skips"
	node --test --test-concurrency=1 \
	    --test-reporter=spec --test-reporter-destination=stdout \
	    --test-reporter="$ROOT/tests/gates/skip-reporter.mjs" \
	    --test-reporter-destination="$skips" "$@"
	node tests/gates/check-skips.mjs "$skips" "$label"
}

# The layers of common/: every include points down (and the gate sees a
# planted one that does not).
echo "== layers"
tests/gates/layers.sh
tests/gates/layers.sh --selftest

# The skip gate's self-test: a test skipped for a reason CI can have, and
# one with no reason, must fail it.
echo "== skip gate self-test"
rm -f build/skips-selftest.jsonl
node --test --test-reporter="$ROOT/tests/gates/skip-reporter.mjs" \
    --test-reporter-destination="$ROOT/build/skips-selftest.jsonl" tests/gates/selftest/ >/dev/null
if out=$(node tests/gates/check-skips.mjs build/skips-selftest.jsonl selftest 2>&1); then
	echo "skip gate self-test: planted skips passed the gate" >&2; exit 1
fi
case "$out" in
*'sets a key'*'not a reason CI can have'*'without a reason'*'no reason given'*) ;;
*) echo "skip gate self-test: unexpected verdict: $out" >&2; exit 1 ;;
esac
echo "skip gate: planted skips fail it"

# README "Performance" holds the tables of the committed result it names.
node bench/readme-tables.mjs --check

cleanup() {
	[ -f "$RS_VAR/upstream.pid" ] && kill "$(cat "$RS_VAR/upstream.pid")" 2>/dev/null || true
	scripts/stack.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

# Start a fresh stack with the programs in $RS_BIN.
start_stack() {
	scripts/stack.sh stop >/dev/null 2>&1 || true
	[ -f "$RS_VAR/upstream.pid" ] && kill "$(cat "$RS_VAR/upstream.pid")" 2>/dev/null || true
	rm -rf "$RS_VAR"
	mkdir -p "$RS_VAR/log"
	scripts/stack.sh start
	scripts/seed.sh
	node tests/upstream/server.mjs "$RS_UPSTREAM_PORT" >"$RS_VAR/log/upstream.log" 2>&1 &
	echo $! >"$RS_VAR/upstream.pid"
	i=0
	until curl -fsS -o /dev/null "http://127.0.0.1:$RS_UPSTREAM_PORT/__log"; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "upstream did not start" >&2; exit 1; }
		sleep 0.1
	done
}

# The Debian package (tests/integration/27_package.test.mjs installs it in
# a throw-away root), the man pages, and docs/openapi.yaml's tooling (every
# integration test response is validated against it; tests/openapi, like
# tests/browser) with docs/openapi.json in step with the YAML.
echo "== debian package, man pages, OpenAPI"
make -s deb
make -s man
command -v npm >/dev/null 2>&1 || { echo "openapi: npm is missing" >&2; exit 1; }
npm ci --prefix tests/openapi --no-audit --no-fund --loglevel=error
node tests/openapi/build.mjs --check

echo "== integration stack"
export RS_BIN="$ROOT/build/release/bin"
start_stack
echo "== integration tests"
# shellcheck disable=SC2086
node_tests integration ${RS_TEST_FILES:-tests/integration/}

if [ -z "${RS_SKIP_SOAK:-}" ]; then
	# The short chaos soak (README "Reliability") on a stack of its own,
	# its ports 700 above the test stack's: a fixed seed and a random one
	# (printed), then the soak's self-test (planted damage must be found).
	echo "== chaos soak (short)"
	(
		export RS_SOAK_PORT=$((PORT + 700)) RS_SOAK_PGPORT=$((PGPORT + 700))
		export RS_SOAK_UPSTREAM_PORT=$((RS_UPSTREAM_PORT + 700)) RS_SOAK_VAR="$ROOT/var/test-soak"
		unset RS_VAR PORT PGPORT RS_UPSTREAM_PORT RS_BIN
		SOAK_SECONDS=60 SOAK_SEEDS="20261130 random plant" tests/soak/run.sh
	)
fi

if [ -z "${RS_SKIP_BROWSER:-}" ]; then
	# The operator page in headless Chromium (Debian's chromium package, driven
	# by playwright-core; the test fails loudly when chromium is missing).
	echo "== browser tests"
	command -v npm >/dev/null 2>&1 || { echo "browser tests: npm is missing" >&2; exit 1; }
	if [ -f tests/browser/package-lock.json ]; then
		npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
	else
		npm install --prefix tests/browser --no-audit --no-fund --loglevel=error
	fi
	node_tests browser tests/browser/

fi

if [ -z "${RS_SKIP_SAN:-}" ]; then
	# Every integration suite once more, against ASan+UBSan builds of the
	# programs and the CLI, except three (README "Testing"): 07_memory and
	# 25_json_memory measure the release programs' RSS, which ASan's
	# shadow memory and quarantine make meaningless (leaks are what this
	# pass finds), and 17_deploy installs the release build with
	# deploy/install.sh.
	# Workers exit cleanly on SIGTERM and LeakSanitizer reports at that
	# exit, so stopping waits for them (RS_STOP_WAIT) and a worker that
	# had to be killed fails the pass.  The planted leak of
	# tests/gates/leak_selftest.c runs in the same stack and its report
	# must be found: any other report file fails the run.
	echo "== integration tests (ASan + UBSan programs)"
	make -s WERROR=1 SAN=1 all build/asan/gates/leak_selftest
	sanbin="$ROOT/build/asan/san-bin"
	rm -rf "$sanbin"; mkdir -p "$sanbin"
	for p in "$ROOT"/build/asan/bin/*; do ln -s "$p" "$sanbin/"; done
	ln -s "$ROOT/build/asan/gates/leak_selftest" "$sanbin/zz_leak_selftest"
	export RS_BIN="$sanbin" RS_CLI="$ROOT/build/asan/cli/restsync"
	export RS_SANITIZED=1 RS_STOP_WAIT=30
	export ASAN_OPTIONS="detect_leaks=1:log_path=$RS_VAR/log/asan"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$RS_VAR/log/ubsan"
	start_stack
	san_files=""
	for f in tests/integration/*.test.mjs; do
		case "$f" in *07_memory*|*25_json_memory*|*17_deploy*) continue ;; esac
		san_files="$san_files $f"
	done
	san_files=${RS_SAN_FILES:-$san_files}
	# shellcheck disable=SC2086
	node_tests sanitizer $san_files
	curl -fsS -o /dev/null -u "admin:$ADMIN_PASSWORD" \
	    "http://127.0.0.1:$PORT/api/backoffice/zz-leak-selftest"
	scripts/stack.sh stop
	unset ASAN_OPTIONS UBSAN_OPTIONS
	if [ -s "$RS_VAR/log/stop-killed" ]; then
		echo "sanitizers: workers had to be killed; their reports are lost:" >&2
		cat "$RS_VAR/log/stop-killed" >&2
		exit 1
	fi
	planted=0; others=""
	for f in "$RS_VAR"/log/asan.* "$RS_VAR"/log/ubsan.*; do
		[ -f "$f" ] || continue
		if grep -q 'leak_selftest_plant' "$f"; then
			planted=$((planted + 1))
		else
			others="$others $f"
		fi
	done
	if [ -n "$others" ]; then
		echo "sanitizer reports:" >&2
		# shellcheck disable=SC2086
		cat $others >&2
		exit 1
	fi
	if [ "$planted" -eq 0 ]; then
		echo "sanitizers: the planted leak (tests/gates/leak_selftest.c) was not reported: the gate is blind" >&2
		exit 1
	fi
	echo "sanitizers: 0 reports, 0 leaks (the planted leak was caught)"
fi
