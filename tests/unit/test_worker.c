/*
 * test_worker.c — the worker's settings from the environment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "worker.h"

static const struct env_row {
	const char	*slice, *idle, *minute;	/* NULL: unset */
	enum rs_status	 want_st;
	double		 want_slice, want_idle, want_minute;
	const char	*want_err;
} env_rows[] = {
	{ NULL, NULL, NULL, RS_OK, 60, 5, 60, NULL },
	{ "", "", "", RS_OK, 60, 5, 60, NULL },
	{ "0.5", "0.1", "2", RS_OK, 0.5, 0.1, 2, NULL },
	{ "86400", "3600", "60", RS_OK, 86400, 3600, 60, NULL },
	{ "soon", NULL, NULL, RS_EINPUT, 0, 0, 0,
	  "RESTSYNC_WORKER_SLICE_SECONDS" },
	{ "0", NULL, NULL, RS_EINPUT, 0, 0, 0, "from 0.1" },
	{ "-5", NULL, NULL, RS_EINPUT, 0, 0, 0, "SLICE" },
	{ "1e9", NULL, NULL, RS_EINPUT, 0, 0, 0, "SLICE" },
	{ "nan", NULL, NULL, RS_EINPUT, 0, 0, 0, "SLICE" },
	{ "inf", NULL, NULL, RS_EINPUT, 0, 0, 0, "SLICE" },
	{ "10s", NULL, NULL, RS_EINPUT, 0, 0, 0, "SLICE" },
	{ NULL, "0", NULL, RS_EINPUT, 0, 0, 0, "RESTSYNC_WORKER_IDLE_SECONDS" },
	{ NULL, NULL, "61", RS_EINPUT, 0, 0, 0,
	  "RESTSYNC_WORKER_MINUTE_SECONDS" },
	{ NULL, NULL, "0", RS_EINPUT, 0, 0, 0, "MINUTE" },
};

static void
set(const char *name, const char *v)
{
	if (v == NULL)
		unsetenv(name);
	else
		setenv(name, v, 1);
}

static void
test_env(void **state)
{
	const struct env_row	*r;
	struct wk_opts		 o;
	char			 err[RS_ERRLEN];
	size_t			 i;
	enum rs_status		 st;

	(void)state;
	for (i = 0; i < sizeof(env_rows) / sizeof(env_rows[0]); i++) {
		r = &env_rows[i];
		set("RESTSYNC_WORKER_SLICE_SECONDS", r->slice);
		set("RESTSYNC_WORKER_IDLE_SECONDS", r->idle);
		set("RESTSYNC_WORKER_MINUTE_SECONDS", r->minute);
		err[0] = '\0';
		st = wk_opts_env(&o, err);
		if (st != r->want_st)
			fail_msg("row %zu: status %d, want %d (%s)", i, st,
			    r->want_st, err);
		if (st == RS_OK) {
			assert_true(o.slice_s == r->want_slice);
			assert_true(o.idle_s == r->want_idle);
			assert_true(o.minute_s == r->want_minute);
			assert_int_equal(o.once, 0);
		} else if (strstr(err, r->want_err) == NULL)
			fail_msg("row %zu: error '%s' lacks '%s'", i, err,
			    r->want_err);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
