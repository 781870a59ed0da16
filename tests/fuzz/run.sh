#!/bin/sh
# Run one libFuzzer harness and judge it: the run fails when libFuzzer
# exits non-zero (a crash, a sanitizer report: the harnesses are built with
# -fno-sanitize-recover=all and run with halt_on_error=1) and also when
# its log mentions a sanitizer report at all ("runtime error", "ERROR:
# AddressSanitizer", "ERROR: LeakSanitizer"), so a report that did not
# stop the run is still a failure.
#
#   tests/fuzz/run.sh BINARY SECONDS LOG CORPUS...
#
# FUZZ_UBSAN_OPTIONS replaces the UBSan options (the gate's self-test
# uses it to show that the log check alone catches a report).
set -u
bin=$1 secs=$2 log=$3
shift 3
UBSAN_OPTIONS=${FUZZ_UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS ASAN_OPTIONS
"$bin" -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix="${log%.log}-" "$@" >"$log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
	tail -40 "$log" >&2
	echo "fuzz: $bin exited with $rc (log: $log)" >&2
	exit 1
fi
if grep -E -q 'runtime error|ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)' "$log"; then
	grep -E -m 5 -A 3 'runtime error|ERROR: ' "$log" >&2
	echo "fuzz: $bin reported undefined behaviour or a memory error (log: $log)" >&2
	exit 1
fi
grep -E '^stat::number_of_executed_units' "$log"
exit 0
