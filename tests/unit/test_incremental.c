/*
 * test_incremental.c — marks, since values, the run's mode, the config
 * key and pager_set_param, against tables of {input, expected} rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "config.h"
#include "incremental.h"
#include "pager.h"

#define NROWS(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- incr_cmp ------------------------------------------------------ */

static const struct cmp_row {
	const char	*a, *b;
	int		 want;
} cmp_rows[] = {
	/* times, whatever their offsets and fractions */
	{ "2026-01-02T10:00:00Z", "2026-01-02T09:59:59Z", 1 },
	{ "2026-01-02T10:00:00+02:00", "2026-01-02T08:00:00Z", 0 },
	{ "2026-01-02T10:00:00+02:00", "2026-01-02T08:30:00Z", -1 },
	{ "2026-01-02T10:00:00.5Z", "2026-01-02T10:00:00.25Z", 1 },
	{ "2026-01-02t10:00:00z", "2026-01-02T10:00:00.000Z", 0 },
	{ "2026-01-02 10:00:00Z", "2026-01-01T23:00:00-11:00", 0 },
	/* a time by string order would be wrong here */
	{ "2026-01-02T10:00:00+05:00", "2026-01-02T06:00:00Z", -1 },
	/* numbers */
	{ "10", "9", 1 },
	{ "-3", "2", -1 },
	{ "1.5", "1.25", 1 },
	{ "1700000000", "1700000000", 0 },
	{ "100", "99.5", 1 },
	/* strings (not both times, not both numbers) */
	{ "b", "a", 1 },
	{ "abc", "abd", -1 },
	{ "2026-13-01T00:00:00Z", "2026-02-01T00:00:00Z", 1 },
	{ "2026-00-01T00:00:00Z", "2025-12-01T00:00:00Z", 1 },
	{ "10", "9a", -1 },
	{ "2026-02-30T00:00:00Z", "2026-02-28T00:00:00Z", 1 },
};

static void
test_cmp(void **state)
{
	size_t	 i;
	int	 got;

	(void)state;
	for (i = 0; i < NROWS(cmp_rows); i++) {
		got = incr_cmp(cmp_rows[i].a, cmp_rows[i].b);
		got = got < 0 ? -1 : got > 0;
		if (got != cmp_rows[i].want)
			fail_msg("row %zu: cmp(%s, %s) = %d, want %d", i,
			    cmp_rows[i].a, cmp_rows[i].b, got,
			    cmp_rows[i].want);
	}
}

/* ---- incr_since ---------------------------------------------------- */

static const struct since_row {
	const char	*mark;
	long long	 lookback;
	int		 rc;
	const char	*want;
} since_rows[] = {
	{ "2026-01-02T10:00:00Z", 0, 0, "2026-01-02T10:00:00Z" },
	{ "2026-01-02T10:00:00Z", 3600, 0, "2026-01-02T09:00:00Z" },
	{ "2026-01-01T00:00:30Z", 60, 0, "2025-12-31T23:59:30Z" },
	{ "2026-01-02T10:00:00+02:00", 0, 0, "2026-01-02T08:00:00Z" },
	{ "2026-01-02T10:00:00.123Z", 1, 0, "2026-01-02T09:59:59.123Z" },
	{ "2024-03-01T00:00:00Z", 86400, 0, "2024-02-29T00:00:00Z" },
	{ "1700000000", 300, 0, "1699999700" },
	{ "12.50", 2, 0, "10.50" },
	{ "abc", 300, 0, "abc" },
	{ "0001-01-01T00:00:10Z", 60, -1, "" },
};

static void
test_since(void **state)
{
	char	 out[INCR_MAX_VALUE + 1];
	size_t	 i;
	int	 rc;

	(void)state;
	for (i = 0; i < NROWS(since_rows); i++) {
		rc = incr_since(since_rows[i].mark, since_rows[i].lookback,
		    out, sizeof(out));
		if (rc != since_rows[i].rc ||
		    (rc == 0 && strcmp(out, since_rows[i].want) != 0))
			fail_msg("row %zu: since(%s, %lld) = %d '%s', want "
			    "%d '%s'", i, since_rows[i].mark,
			    since_rows[i].lookback, rc, out, since_rows[i].rc,
			    since_rows[i].want);
	}
}

/* ---- incr_decide --------------------------------------------------- */

static const struct decide_row {
	const char	*cfg;		/* the incremental object */
	const char	*mark;
	int		 runs, first;
	int		 incremental;
	const char	*since;		/* NULL: none sent */
} decide_rows[] = {
	/* no mark: full, nothing sent (or initialValue) */
	{ "{\"cursorPath\":\"u\",\"param\":\"since\"}", NULL, 0, 1, 0, NULL },
	{ "{\"cursorPath\":\"u\",\"param\":\"since\",\"initialValue\":"
	  "\"2020-01-01T00:00:00Z\"}", NULL, 0, 1, 0,
	  "2020-01-01T00:00:00Z" },
	/* a mark: incremental, mark - lookback */
	{ "{\"cursorPath\":\"u\",\"param\":\"since\",\"lookbackSeconds\":"
	  "60}", "2026-01-02T10:00:00Z", 0, 1, 1, "2026-01-02T09:59:00Z" },
	{ "{\"cursorPath\":\"u\",\"param\":\"since\"}", "41", 5, 1, 1,
	  "41" },
	/* fullEvery 3: runs 0 and 1 since the last full: incremental;
	 * 2: this one is the third, full */
	{ "{\"cursorPath\":\"u\",\"param\":\"s\",\"fullEvery\":3}", "5", 0, 1,
	  1, "5" },
	{ "{\"cursorPath\":\"u\",\"param\":\"s\",\"fullEvery\":3}", "5", 1, 1,
	  1, "5" },
	{ "{\"cursorPath\":\"u\",\"param\":\"s\",\"fullEvery\":3}", "5", 2, 1,
	  0, NULL },
	{ "{\"cursorPath\":\"u\",\"param\":\"s\",\"fullEvery\":1}", "5", 0, 1,
	  0, NULL },
	/* a run that begins mid-walk is full */
	{ "{\"cursorPath\":\"u\",\"param\":\"s\"}", "5", 0, 0, 0, NULL },
};

static void
test_decide(void **state)
{
	struct source_config	 cfg;
	struct incr_run		 r;
	char			 err[RS_ERRLEN], json[512];
	size_t			 i;

	(void)state;
	for (i = 0; i < NROWS(decide_rows); i++) {
		(void)snprintf(json, sizeof(json), "{\"baseUrl\":"
		    "\"https://api.example.com/v1/items\",\"textFields\":"
		    "[\"title\"],\"incremental\":%s}", decide_rows[i].cfg);
		err[0] = '\0';
		if (cfg_parse(json, strlen(json), &cfg, err) != RS_OK)
			fail_msg("row %zu: %s", i, err);
		incr_decide(cfg.incremental, decide_rows[i].mark,
		    decide_rows[i].runs, decide_rows[i].first, &r);
		assert_int_equal(r.active, 1);
		if (r.incremental != decide_rows[i].incremental ||
		    r.has_since != (decide_rows[i].since != NULL) ||
		    (r.has_since && strcmp(r.since, decide_rows[i].since)))
			fail_msg("row %zu: incremental %d since '%s'", i,
			    r.incremental, r.has_since ? r.since : "(none)");
		/* The run's mark starts at the source's. */
		assert_int_equal(r.has_mark, decide_rows[i].mark != NULL);
		cfg_free(&cfg);
	}
}

/* ---- incr_page: the run's mark ------------------------------------- */

static const struct page_row {
	const char	*start;		/* NULL: none */
	const char	*items;
	const char	*want;		/* NULL: none */
} page_rows[] = {
	{ NULL, "[{\"u\":\"2026-01-01T00:00:00Z\"},{\"u\":"
	  "\"2026-01-03T02:00:00+01:00\"},{\"u\":\"2026-01-02T23:00:00Z\"}]",
	  "2026-01-03T02:00:00+01:00" },
	{ NULL, "[{\"u\":\"2026-01-01T00:00:00Z\"},{\"u\":"
	  "\"2026-01-02T20:00:00+05:00\"},{\"u\":\"2026-01-02T23:00:00Z\"}]",
	  "2026-01-02T23:00:00Z" },
	{ "2027-01-01T00:00:00Z", "[{\"u\":\"2026-01-01T00:00:00Z\"}]",
	  "2027-01-01T00:00:00Z" },
	{ NULL, "[{\"u\":9},{\"u\":10},{\"u\":8.5}]", "10" },
	{ NULL, "[{\"u\":null},{\"x\":1},{\"u\":{\"a\":1}},{\"u\":true}]",
	  NULL },
	{ NULL, "[]", NULL },
	{ "3", "[{\"u\":\"2\"}]", "3" },
};

static void
test_page(void **state)
{
	struct incr_config	 ic;
	struct json_object	*items;
	struct incr_run		 r;
	char			 path[] = "u", param[] = "since";
	size_t			 i;

	(void)state;
	memset(&ic, 0, sizeof(ic));
	ic.cursor_path = path;
	ic.param = param;
	for (i = 0; i < NROWS(page_rows); i++) {
		incr_decide(&ic, page_rows[i].start, 0, 1, &r);
		items = json_tokener_parse(page_rows[i].items);
		incr_page(&r, &ic, items);
		if (r.has_mark != (page_rows[i].want != NULL) ||
		    (r.has_mark && strcmp(r.mark, page_rows[i].want) != 0))
			fail_msg("row %zu: mark '%s'", i,
			    r.has_mark ? r.mark : "(none)");
		json_object_put(items);
	}
}

/* ---- the config key (400 naming it) -------------------------------- */

#define BASE	"{\"baseUrl\":\"https://api.example.com/v1/items\"," \
		"\"textFields\":[\"title\"],\"incremental\":"

static const struct cfg_row {
	const char	*json;
	const char	*want;		/* NULL: valid; else in the message */
} cfg_rows[] = {
	{ BASE "{\"cursorPath\":\"updated_at\",\"param\":\"updated_since\","
	  "\"initialValue\":\"2020-01-01T00:00:00Z\",\"lookbackSeconds\":60,"
	  "\"fullEvery\":10}}", NULL },
	{ BASE "null}", NULL },
	{ BASE "true}", "'incremental' must be an object" },
	{ BASE "{\"param\":\"s\"}}", "'incremental.cursorPath'" },
	{ BASE "{\"cursorPath\":\"\",\"param\":\"s\"}}",
	  "'incremental.cursorPath'" },
	{ BASE "{\"cursorPath\":\"u\"}}", "'incremental.param'" },
	{ BASE "{\"cursorPath\":\"u\",\"param\":\"a=b\"}}",
	  "'incremental.param'" },
	{ BASE "{\"cursorPath\":\"u\",\"param\":\"s\",\"lookbackSeconds\":"
	  "-1}}", "'incremental.lookbackSeconds'" },
	{ BASE "{\"cursorPath\":\"u\",\"param\":\"s\",\"lookbackSeconds\":"
	  "\"60\"}}", "'incremental.lookbackSeconds'" },
	{ BASE "{\"cursorPath\":\"u\",\"param\":\"s\",\"fullEvery\":1.5}}",
	  "'incremental.fullEvery'" },
	{ BASE "{\"cursorPath\":\"u\",\"param\":\"s\",\"initialValue\":5}}",
	  "'incremental.initialValue'" },
	{ BASE "{\"cursorPath\":\"u\",\"param\":\"s\",\"since\":5}}",
	  "'incremental': unknown key 'since'" },
	/* The whole messages. */
	{ BASE "{\"cursorPath\":\"a..b\",\"param\":\"s\"}}",
	  "'incremental.cursorPath' must be a dot path inside an item (e.g. "
	  "\"updated_at\")" },
	{ BASE "{\"cursorPath\":\"u\",\"param\":\"a#\"}}",
	  "'incremental.param' must be a parameter name of 1 to 128 printable "
	  "characters other than = & #" },
	{ BASE "{\"cursorPath\":\"u\",\"param\":\"a\\u0001\"}}",
	  "'incremental.param' contains a control character" },
	{ BASE "{\"cursorPath\":\"u\",\"param\":\"s\",\"initialValue\":"
	  "\"\"}}", "'incremental.initialValue' must be a string of 1 to 512 "
	  "bytes or null" },
	{ BASE "{\"cursorPath\":\"u\",\"param\":\"s\",\"initialValue\":"
	  "\"x\\u007f\"}}",
	  "'incremental.initialValue' contains a control character" },
	{ BASE "{\"cursorPath\":\"u\",\"param\":\"s\",\"lookbackSeconds\":"
	  "31622401}}", "'incremental.lookbackSeconds' must be an integer "
	  "between 0 and 31622400" },
	{ BASE "{\"cursorPath\":\"u\",\"param\":\"s\",\"fullEvery\":"
	  "10001}}", "'incremental.fullEvery' must be an integer between 0 "
	  "and 10000 (0: never)" },
	/* null members are absent */
	{ BASE "{\"cursorPath\":\"u\",\"param\":\"s\",\"initialValue\":"
	  "null,\"lookbackSeconds\":null,\"fullEvery\":null}}", NULL },
};

static void
test_config(void **state)
{
	struct source_config	 cfg;
	char			 err[RS_ERRLEN];
	enum rs_status		 st;
	size_t			 i;

	(void)state;
	for (i = 0; i < NROWS(cfg_rows); i++) {
		err[0] = '\0';
		st = cfg_parse(cfg_rows[i].json, strlen(cfg_rows[i].json),
		    &cfg, err);
		if (cfg_rows[i].want == NULL && st != RS_OK)
			fail_msg("row %zu: %s", i, err);
		if (cfg_rows[i].want != NULL && (st != RS_EINPUT ||
		    strstr(err, cfg_rows[i].want) == NULL))
			fail_msg("row %zu: status %d '%s', want '%s'", i, st,
			    err, cfg_rows[i].want);
		if (i == 0) {
			assert_non_null(cfg.incremental);
			assert_string_equal(cfg.incremental->param,
			    "updated_since");
			assert_int_equal(cfg.incremental->lookback, 60);
			assert_int_equal(cfg.incremental->full_every, 10);
		}
		cfg_free(&cfg);
	}
}

/* ---- pager_set_param ----------------------------------------------- */

static const struct param_row {
	const char	*url, *name, *value, *want;
} param_rows[] = {
	{ "https://a.example/items?limit=5", "since",
	  "2026-01-02T10:00:00Z",
	  "https://a.example/items?limit=5&since=2026-01-02T10%3A00%3A00Z" },
	{ "https://a.example/items?since=old&limit=5", "since", "41",
	  "https://a.example/items?limit=5&since=41" },
	{ "https://a.example/items", "updated[gte]", "a b",
	  "https://a.example/items?updated%5Bgte%5D=a%20b" },
};

static void
test_set_param(void **state)
{
	char	 err[RS_ERRLEN], *url;
	size_t	 i;

	(void)state;
	for (i = 0; i < NROWS(param_rows); i++) {
		url = strdup(param_rows[i].url);
		assert_non_null(url);
		if (pager_set_param(&url, param_rows[i].name,
		    param_rows[i].value, err) != RS_OK)
			fail_msg("row %zu: %s", i, err);
		if (strcmp(url, param_rows[i].want) != 0)
			fail_msg("row %zu: %s, want %s", i, url,
			    param_rows[i].want);
		free(url);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmp),
		cmocka_unit_test(test_since),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_set_param),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
