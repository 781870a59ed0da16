/*
 * test_ratelimit.c — the shared rate budget's pieces (common/pipeline/ratelimit.c):
 * budget keys per scope, the longest wait that fits a batch, retryAfter
 * rounding, and a gate without a budget.  The budget itself
 * (restsync_rate_take(), sql/010) is exercised by
 * tests/integration/33_rate_budget.test.mjs against PostgreSQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ratelimit.h"

#define NROWS(a)	(sizeof(a) / sizeof((a)[0]))

#define SRC	"00000000-0000-4000-8000-000000000001"
#define TEN	"00000000-0000-4000-8000-0000000000aa"

static void
test_keys(void **state)
{
	static const struct {
		int		 requests, per;
		enum cfg_rate_scope scope;
		const char	*provider;
		size_t		 outsz;
		int		 want;
		const char	*key;
	} rows[] = {
		{ 5, 1, CFG_RATE_SOURCE, "acme", 200, 0, "source:" SRC },
		{ 5, 1, CFG_RATE_PROVIDER, "acme", 200, 0,
		  "provider:" TEN ":acme" },
		{ 5, 1, CFG_RATE_PROVIDER, NULL, 200, 0,
		  "provider:" TEN ":rest" },
		{ 0, 1, CFG_RATE_SOURCE, "acme", 200, -1, "" },	/* none */
		{ 5, 0, CFG_RATE_SOURCE, "acme", 200, -1, "" },
		{ 5, 1, CFG_RATE_SOURCE, "acme", 20, -1, "" },	/* too long */
	};
	struct source_config	 cfg;
	char			 out[200];
	size_t			 i;

	(void)state;
	for (i = 0; i < NROWS(rows); i++) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.rate_requests = rows[i].requests;
		cfg.rate_per_seconds = rows[i].per;
		cfg.rate_scope = rows[i].scope;
		cfg.provider = (char *)(uintptr_t)rows[i].provider;
		if (rl_key(&cfg, TEN, SRC, out, rows[i].outsz) != rows[i].want)
			fail_msg("row %zu: wrong result", i);
		assert_string_equal(out, rows[i].key);
	}
}

static void
test_max_wait(void **state)
{
	static const struct {
		double	 deadline, now, need, want;
	} rows[] = {
		{ 20000, 0, 4000, 16000 },
		{ 20000, 15000, 4000, 1000 },
		{ 20000, 16000, 4000, 0 },
		{ 20000, 19000, 4000, 0 },
		{ 20000, 25000, 4000, 0 },
		{ 1000, 0, 0, 1000 },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NROWS(rows); i++)
		if (rl_max_wait(rows[i].deadline, rows[i].now, rows[i].need) !=
		    rows[i].want)
			fail_msg("row %zu", i);
}

static void
test_retry_after(void **state)
{
	static const struct {
		double	 ms;
		long	 s;
	} rows[] = {
		{ 0, 1 }, { -5, 1 }, { 1, 1 }, { 999, 1 }, { 1000, 1 },
		{ 1001, 2 }, { 16500, 17 }, { 60000, 60 },
		{ 1e12, 172800 },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NROWS(rows); i++)
		if (rl_retry_after_s(rows[i].ms) != rows[i].s)
			fail_msg("row %zu: %.0f ms gave %ld s, want %ld", i,
			    rows[i].ms, rl_retry_after_s(rows[i].ms),
			    rows[i].s);
}

/* Without rateLimit the gate lets every request pass, with no database. */
static void
test_gate_without_budget(void **state)
{
	struct source_config	 cfg;
	struct rl_gate		 g;
	char			 err[RS_ERRLEN] = "";

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	rl_gate_init(&g, NULL, &cfg, TEN, SRC, rs_now_ms() + 20000, 4000);
	assert_int_equal(g.requests, 0);
	assert_int_equal(rl_gate(&g, err), RS_OK);
	assert_int_equal(rl_gate(NULL, err), RS_OK);
	assert_int_equal(g.grants, 0);
	cfg.rate_requests = 5;
	cfg.rate_per_seconds = 2;
	rl_gate_init(&g, NULL, &cfg, TEN, SRC, 1, 4000);
	assert_int_equal(g.requests, 5);
	assert_true(g.window_ms == 2000);
	assert_string_equal(g.key, "source:" SRC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_max_wait),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_gate_without_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
