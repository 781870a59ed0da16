#!/bin/sh
# make test: build warnings-as-errors, unit tests (plain and ASan+UBSan),
# a short libFuzzer run of every harness, then integration tests against a
# fresh stack of their own (var/test, ports 18080/15432, upstream
# imitations on 18090), the browser test, and the engine's integration
# tests once more against ASan+UBSan builds of the programs (0 reports,
# 0 leaks).
#
# While developing: RS_SKIP_UNIT=1 skips unit tests and fuzzing,
# RS_TEST_FILES narrows the integration run, RS_SKIP_SAN=1 skips the
# sanitizer integration pass, RS_SKIP_BROWSER=1 the browser test.
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
unset DATABASE_URL OPENAI_API_KEY OPENAI_BASE_URL || true

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

# The Debian package (tests/integration/10_package.test.mjs installs it in
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
node --test --test-concurrency=1 ${RS_TEST_FILES:-tests/integration/}

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
	node --test --test-concurrency=1 tests/browser/

fi

if [ -z "${RS_SKIP_SAN:-}" ]; then
	# The engine's tests once more, against ASan+UBSan builds of the
	# programs.  Workers exit cleanly on SIGTERM, so LeakSanitizer reports
	# at stop; any report file fails the run.
	echo "== integration tests (ASan + UBSan programs)"
	make -s WERROR=1 SAN=1 all
	export RS_BIN="$ROOT/build/asan/bin" RS_CLI="$ROOT/build/asan/cli/restsync"
	export RS_SANITIZED=1
	export ASAN_OPTIONS="detect_leaks=1:log_path=$RS_VAR/log/asan"
	export UBSAN_OPTIONS="print_stacktrace=1:log_path=$RS_VAR/log/ubsan"
	start_stack
	node --test --test-concurrency=1 tests/integration/01_batch.test.mjs \
	    tests/integration/02_faults.test.mjs tests/integration/03_sources.test.mjs \
	    tests/integration/05_styles.test.mjs tests/integration/06_reliability.test.mjs \
	    tests/integration/08_cli.test.mjs tests/integration/08_worker.test.mjs \
	    tests/integration/09_observability.test.mjs
	scripts/stack.sh stop
	unset ASAN_OPTIONS UBSAN_OPTIONS
	if ls "$RS_VAR"/log/asan.* "$RS_VAR"/log/ubsan.* >/dev/null 2>&1; then
		echo "sanitizer reports:" >&2
		cat "$RS_VAR"/log/asan.* "$RS_VAR"/log/ubsan.* >&2 2>/dev/null || true
		exit 1
	fi
	echo "sanitizers: 0 reports, 0 leaks"
fi
