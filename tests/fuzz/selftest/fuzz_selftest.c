/*
 * fuzz_selftest.c — the fuzz gate's self-test (make fuzz-selftest), not a
 * harness of restsync code.  With PLANT_UB defined, an input starting
 * with "UB" makes a signed int overflow: undefined behaviour that UBSan
 * reports.  tests/fuzz/run.sh must fail on it, both when the report
 * stops the process and when it does not (log check); without PLANT_UB
 * the same run must pass.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static volatile int	sink;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int	 x = INT_MAX - 1;

	if (size >= 3 && data[0] == 'U' && data[1] == 'B') {
#ifdef PLANT_UB
		x += data[2];		/* overflows for data[2] >= 2 */
#else
		x += data[2] > 1;
#endif
	}
	sink = x;
	return 0;
}
