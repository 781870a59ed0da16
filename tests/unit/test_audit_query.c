/*
 * test_audit_query.c — the query string of GET rest-audit
 * (srcin_parse_audit_query), table-driven.  The endpoint itself is covered
 * by tests/integration/09_observability.test.mjs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "srcinput.h"

#define ID	"00000000-0000-4000-8000-000000000101"

static const struct row {
	const char	*qs;
	enum rs_status	 want;
	int		 limit;		/* on success */
	const char	*msg;		/* substring of the error */
} rows[] = {
	{ "sourceId=" ID, RS_OK, SRCIN_LIMIT_DEFAULT, NULL },
	{ "sourceId=" ID "&limit=1", RS_OK, 1, NULL },
	{ "limit=200&sourceId=" ID, RS_OK, 200, NULL },
	{ "sourceId=" ID "&limit=57", RS_OK, 57, NULL },
	{ "sourceId=00000000-0000-4000-8000-00000000ABCD", RS_OK,
	  SRCIN_LIMIT_DEFAULT, NULL },

	{ "", RS_EINPUT, 0, "'sourceId' is required" },
	{ "limit=5", RS_EINPUT, 0, "'sourceId' is required" },
	{ "sourceId=", RS_EINPUT, 0, "'sourceId' must be a UUID" },
	{ "sourceId=nope", RS_EINPUT, 0, "'sourceId' must be a UUID" },
	{ "sourceId=" ID "0", RS_EINPUT, 0, "'sourceId' must be a UUID" },
	{ "sourceId=00000000%2D0000-4000-8000-000000000101", RS_EINPUT, 0,
	  "'sourceId' must be a UUID" },
	{ "sourceId=" ID "&sourceId=" ID, RS_EINPUT, 0, "given twice" },
	{ "sourceId=" ID "&limit=0", RS_EINPUT, 0, "'limit' must be" },
	{ "sourceId=" ID "&limit=201", RS_EINPUT, 0, "'limit' must be" },
	{ "sourceId=" ID "&limit=1000", RS_EINPUT, 0, "'limit' must be" },
	{ "sourceId=" ID "&limit=-1", RS_EINPUT, 0, "'limit' must be" },
	{ "sourceId=" ID "&limit=+5", RS_EINPUT, 0, "'limit' must be" },
	{ "sourceId=" ID "&limit=05", RS_EINPUT, 0, "'limit' must be" },
	{ "sourceId=" ID "&limit=5x", RS_EINPUT, 0, "'limit' must be" },
	{ "sourceId=" ID "&limit=", RS_EINPUT, 0, "'limit' must be" },
	{ "sourceId=" ID "&limit=5&limit=6", RS_EINPUT, 0, "given twice" },
	{ "sourceId=" ID "&offset=5", RS_EINPUT, 0,
	  "unknown parameter 'offset'" },
	{ "sourceId=" ID "&%3Cb%3E=1", RS_EINPUT, 0, "unknown parameter" },
	{ "sourceId=" ID "&", RS_EINPUT, 0, "name=value" },
	{ "&sourceId=" ID, RS_EINPUT, 0, "name=value" },
	{ "sourceId=" ID "&&limit=5", RS_EINPUT, 0, "name=value" },
	{ "sourceId", RS_EINPUT, 0, "name=value" },
	{ "SourceId=" ID, RS_EINPUT, 0, "unknown parameter 'SourceId'" },
};

static void
test_audit_query(void **state)
{
	char		 err[RS_ERRLEN], id[37], big[600];
	int		 limit;
	enum rs_status	 st;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		err[0] = '\0';
		st = srcin_parse_audit_query(rows[i].qs, id, &limit, err);
		if (st != rows[i].want)
			fail_msg("row %zu (%s): status %d (%s)", i, rows[i].qs,
			    st, err);
		if (st == RS_OK) {
			assert_int_equal(limit, rows[i].limit);
			assert_int_equal(strlen(id), 36);
			assert_memory_equal(id, strstr(rows[i].qs,
			    "sourceId=") + 9, 36);
		} else {
			assert_string_equal(id, "");
			assert_int_equal(limit, SRCIN_LIMIT_DEFAULT);
			if (strstr(err, rows[i].msg) == NULL)
				fail_msg("row %zu (%s): error '%s'", i,
				    rows[i].qs, err);
		}
	}

	/* Over the length cap, and NULL (no QUERY_STRING at all). */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(srcin_parse_audit_query(big, id, &limit, err),
	    RS_EINPUT);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(srcin_parse_audit_query(NULL, id, &limit, err),
	    RS_EINPUT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_audit_query),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
