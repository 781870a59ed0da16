/*
 * test_sources.c — request validation of the source endpoints
 * (common/admin/srcinput.c: srcin_parse_input, srcin_parse_id,
 * srcin_parse_reset, srcin_parse_sweep, srcin_valid_text), table-driven.  The
 * database side is covered by tests/integration/03_sources.test.mjs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "srcinput.h"

#define T	"\"tenantId\":\"00000000-0000-4000-8000-000000000001\""
#define S	"\"sourceId\":\"00000000-0000-4000-8000-000000000101\""
#define CFG	"{\"baseUrl\":\"https://x.test/p\",\"textFields\":[\"a\"]}"
#define CFGS	"\"{\\\"baseUrl\\\":\\\"https://x.test/p\\\"," \
		"\\\"textFields\\\":[\\\"a\\\"],\\\"provider\\\":\\\"acme\\\"}\""

static const struct input_row {
	int		 create;
	const char	*body;
	enum rs_status	 want;
	const char	*msg;		/* substring of the error, or NULL */
	const char	*title;		/* expected on success (NULL: none) */
	const char	*provider;
	int		 has_key;
	int		 enabled;
} input_rows[] = {
	/* Create: the happy paths. */
	{ 1, "{" T ",\"title\":\"Products\",\"config\":" CFG "}", RS_OK, NULL,
	  "Products", "rest", 0, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":" CFGS "}", RS_OK, NULL,
	  "P", "acme", 0, -1 },
	/* A new source with a key and no provider: its baseUrl's host. */
	{ 1, "{" T ",\"title\":\"P\",\"config\":" CFG ",\"apiKey\":\"k-1\","
	  "\"enabled\":false}", RS_OK, NULL, "P", "x.test", 1, 0 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":" CFG ",\"apiKey\":\"k-1\","
	  "\"replaceSharedKey\":true}", RS_OK, NULL, "P", "x.test", 1, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":" CFG ",\"apiKey\":\"k-1\","
	  "\"replaceSharedKey\":\"yes\"}", RS_EINPUT,
	  "'replaceSharedKey' must be true or false", NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":" CFG ",\"apiKey\":\"\"}",
	  RS_OK, NULL, "P", "rest", 0, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":" CFG ",\"apiKey\":null}",
	  RS_OK, NULL, "P", "rest", 0, -1 },
	{ 1, "{" T ",\"title\":\"Caf\\u00e9 \\u65e5\\u672c <b>\","
	  "\"config\":" CFG "}", RS_OK, NULL,
	  "Caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac <b>", "rest", 0, -1 },

	/* Create: missing and malformed fields name the field. */
	{ 1, "{\"title\":\"P\",\"config\":" CFG "}", RS_EINPUT,
	  "'tenantId' is required", NULL, NULL, 0, -1 },
	{ 1, "{\"tenantId\":\"nope\",\"title\":\"P\",\"config\":" CFG "}",
	  RS_EINPUT, "'tenantId' must be a UUID", NULL, NULL, 0, -1 },
	{ 1, "{\"tenantId\":7,\"title\":\"P\",\"config\":" CFG "}",
	  RS_EINPUT, "'tenantId' must be a UUID", NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"config\":" CFG "}", RS_EINPUT, "'title' is required",
	  NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":\"\",\"config\":" CFG "}", RS_EINPUT,
	  "'title' must be 1 to 200", NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":\"   \",\"config\":" CFG "}", RS_EINPUT,
	  "'title' must", NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":\"a\\nb\",\"config\":" CFG "}", RS_EINPUT,
	  "'title' must", NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":42,\"config\":" CFG "}", RS_EINPUT,
	  "'title' must", NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":\"P\"}", RS_EINPUT, "'config' is required",
	  NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":[1]}", RS_EINPUT,
	  "'config' must be a JSON object", NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":\"{oops\"}", RS_EINPUT,
	  "config: ", NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":{\"textFields\":[\"a\"]}}",
	  RS_EINPUT, "config: 'baseUrl' is required", NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":{\"baseUrl\":\"ftp://x/\","
	  "\"textFields\":[\"a\"]}}", RS_EINPUT, "config: 'baseUrl' must",
	  NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":{\"baseUrl\":\"https://x/\","
	  "\"textFields\":[\"a\"],\"bogus\":1}}", RS_EINPUT,
	  "config: unknown key 'bogus'", NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":" CFG ",\"apiKey\":5}",
	  RS_EINPUT, "'apiKey' must be a string", NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":" CFG ",\"apiKey\":\"a\\r\\nb\"}",
	  RS_EINPUT, "'apiKey' must be 1 to", NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":" CFG ",\"enabled\":\"yes\"}",
	  RS_EINPUT, "'enabled' must be true or false", NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":" CFG ",\"extra\":1}",
	  RS_EINPUT, "unknown field 'extra'", NULL, NULL, 0, -1 },
	{ 1, "{" S "," T ",\"title\":\"P\",\"config\":" CFG "}",
	  RS_EINPUT, "unknown field 'sourceId'", NULL, NULL, 0, -1 },

	/* Client credentials: together, never with apiKey. */
	{ 1, "{" T ",\"title\":\"P\",\"config\":" CFG ",\"clientId\":\"c\","
	  "\"clientSecret\":\"s\"}", RS_OK, NULL, "P", "x.test", 0, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":" CFG ",\"clientId\":\"c\"}",
	  RS_EINPUT, "'clientSecret' is required with 'clientId'", NULL, NULL,
	  0, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":" CFG ",\"clientSecret\":"
	  "\"s\"}", RS_EINPUT, "'clientId' is required with 'clientSecret'",
	  NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":" CFG ",\"apiKey\":\"k\","
	  "\"clientId\":\"c\",\"clientSecret\":\"s\"}", RS_EINPUT,
	  "'apiKey' cannot come with 'clientId'", NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":" CFG ",\"clientId\":7,"
	  "\"clientSecret\":\"s\"}", RS_EINPUT, "'clientId' must be a string",
	  NULL, NULL, 0, -1 },
	{ 1, "{" T ",\"title\":\"P\",\"config\":" CFG ",\"enabled\":null}",
	  RS_OK, NULL, "P", "rest", 0, -1 },

	/* Update: every field but sourceId is optional. */
	{ 0, "{" S "}", RS_OK, NULL, NULL, NULL, 0, -1 },
	{ 0, "{" S ",\"title\":\"New\"}", RS_OK, NULL, "New", NULL, 0, -1 },
	{ 0, "{" S ",\"config\":" CFGS ",\"enabled\":true}", RS_OK, NULL,
	  NULL, "acme", 0, 1 },
	{ 0, "{" S ",\"apiKey\":\"\"}", RS_OK, NULL, NULL, NULL, 0, -1 },
	{ 0, "{" S ",\"apiKey\":\"secret\"}", RS_OK, NULL, NULL, NULL, 1, -1 },
	{ 0, "{\"title\":\"New\"}", RS_EINPUT, "'sourceId' is required",
	  NULL, NULL, 0, -1 },
	{ 0, "{\"sourceId\":\"x\"}", RS_EINPUT, "'sourceId' must be a UUID",
	  NULL, NULL, 0, -1 },
	{ 0, "{" S "," T "}", RS_EINPUT, "'tenantId' cannot be changed",
	  NULL, NULL, 0, -1 },
	{ 0, "{" S ",\"title\":\"\"}", RS_EINPUT, "'title' must", NULL, NULL,
	  0, -1 },
	{ 0, "{" S ",\"config\":{}}", RS_EINPUT,
	  "config: 'baseUrl' is required", NULL, NULL, 0, -1 },
};

static void
test_parse_input(void **state)
{
	const struct input_row	*r;
	struct json_object	*body;
	struct source_input	 in;
	char			 err[RS_ERRLEN];
	enum rs_status		 st;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(input_rows) / sizeof(input_rows[0]); i++) {
		r = &input_rows[i];
		body = json_tokener_parse(r->body);
		if (body == NULL)
			fail_msg("row %zu: test body is not JSON", i);
		err[0] = '\0';
		st = srcin_parse_input(body, r->create, &in, err);
		if (st != r->want)
			fail_msg("row %zu: status %d, want %d (%s)", i, st,
			    r->want, err);
		if (r->msg != NULL && strstr(err, r->msg) == NULL)
			fail_msg("row %zu: error '%s' lacks '%s'", i, err,
			    r->msg);
		if (st == RS_OK) {
			if ((r->title == NULL) != (in.title == NULL) ||
			    (r->title != NULL && strcmp(r->title, in.title)))
				fail_msg("row %zu: title '%s'", i,
				    in.title ? in.title : "(null)");
			if ((r->provider == NULL) != (in.provider == NULL) ||
			    (r->provider != NULL &&
			    strcmp(r->provider, in.provider)))
				fail_msg("row %zu: provider '%s'", i,
				    in.provider ? in.provider : "(null)");
			assert_int_equal(r->has_key, in.api_key != NULL);
			assert_int_equal(r->enabled, in.enabled);
			assert_int_equal(r->provider != NULL,
			    in.config != NULL);
		} else {
			/* Failure leaves nothing behind. */
			assert_null(in.title);
			assert_null(in.config);
			assert_null(in.api_key);
		}
		srcin_free(&in);
		json_object_put(body);
	}
}

static const struct id_row {
	const char	*body;
	enum rs_status	 want;
	const char	*msg;
} id_rows[] = {
	{ "{" S "}", RS_OK, NULL },
	{ "{}", RS_EINPUT, "'sourceId' is required" },
	{ "{\"sourceId\":null}", RS_EINPUT, "'sourceId' is required" },
	{ "{\"sourceId\":1}", RS_EINPUT, "'sourceId' must be a UUID" },
	{ "{\"sourceId\":\"1' OR '1'='1\"}", RS_EINPUT, "must be a UUID" },
	{ "{" S ",\"force\":true}", RS_EINPUT, "unknown field 'force'" },
};

static void
test_parse_id(void **state)
{
	struct json_object	*body;
	char			 err[RS_ERRLEN], id[37];
	enum rs_status		 st;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(id_rows) / sizeof(id_rows[0]); i++) {
		body = json_tokener_parse(id_rows[i].body);
		assert_non_null(body);
		err[0] = '\0';
		st = srcin_parse_id(body, id, err);
		if (st != id_rows[i].want)
			fail_msg("row %zu: status %d (%s)", i, st, err);
		if (id_rows[i].msg != NULL &&
		    strstr(err, id_rows[i].msg) == NULL)
			fail_msg("row %zu: error '%s'", i, err);
		if (st == RS_OK)
			assert_string_equal(id,
			    "00000000-0000-4000-8000-000000000101");
		json_object_put(body);
	}
}

static const struct reset_row {
	const char	*body;
	enum rs_status	 want;
	int		 keep;
	const char	*msg;
} reset_rows[] = {
	{ "{" S "}", RS_OK, 0, NULL },
	{ "{" S ",\"keepMark\":true}", RS_OK, 1, NULL },
	{ "{" S ",\"keepMark\":false}", RS_OK, 0, NULL },
	{ "{" S ",\"keepMark\":null}", RS_EINPUT, 0,
	  "'keepMark' must be true or false" },
	{ "{" S ",\"keepMark\":1}", RS_EINPUT, 0,
	  "'keepMark' must be true or false" },
	{ "{\"keepMark\":true}", RS_EINPUT, 0, "'sourceId' is required" },
	{ "{" S ",\"force\":1}", RS_EINPUT, 0, "unknown field 'force'" },
};

static void
test_parse_reset(void **state)
{
	struct json_object	*body;
	char			 err[RS_ERRLEN], id[37];
	enum rs_status		 st;
	size_t			 i;
	int			 keep;

	(void)state;
	for (i = 0; i < sizeof(reset_rows) / sizeof(reset_rows[0]); i++) {
		body = json_tokener_parse(reset_rows[i].body);
		assert_non_null(body);
		err[0] = '\0';
		keep = -1;
		st = srcin_parse_reset(body, id, &keep, err);
		if (st != reset_rows[i].want)
			fail_msg("row %zu: status %d (%s)", i, st, err);
		if (reset_rows[i].msg != NULL &&
		    strstr(err, reset_rows[i].msg) == NULL)
			fail_msg("row %zu: error '%s'", i, err);
		if (st == RS_OK) {
			assert_int_equal(keep, reset_rows[i].keep);
			assert_string_equal(id,
			    "00000000-0000-4000-8000-000000000101");
		}
		json_object_put(body);
	}
}

#define R	"\"runId\":\"00000000-0000-4000-8000-000000000201\""

static const struct id_row sweep_rows[] = {
	{ "{" S "," R "}", RS_OK, NULL },
	{ "{" S "}", RS_EINPUT, "'runId' is required" },
	{ "{" R "}", RS_EINPUT, "'sourceId' is required" },
	{ "{" S ",\"runId\":\"x\"}", RS_EINPUT, "'runId' must be a UUID" },
	{ "{" S "," R ",\"all\":true}", RS_EINPUT, "unknown field 'all'" },
	{ "[1]", RS_EINPUT, "body must be a JSON object" },
};

static void
test_parse_sweep(void **state)
{
	struct json_object	*body;
	char			 err[RS_ERRLEN], id[37], run[37];
	enum rs_status		 st;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(sweep_rows) / sizeof(sweep_rows[0]); i++) {
		body = json_tokener_parse(sweep_rows[i].body);
		assert_non_null(body);
		err[0] = '\0';
		st = srcin_parse_sweep(body, id, run, err);
		if (st != sweep_rows[i].want)
			fail_msg("row %zu: status %d (%s)", i, st, err);
		if (sweep_rows[i].msg != NULL &&
		    strstr(err, sweep_rows[i].msg) == NULL)
			fail_msg("row %zu: error '%s'", i, err);
		if (st == RS_OK)
			assert_string_equal(run,
			    "00000000-0000-4000-8000-000000000201");
		else {
			/* Failure leaves no half of the pair behind. */
			assert_string_equal(id, "");
			assert_string_equal(run, "");
		}
		json_object_put(body);
	}
}

static const struct text_row {
	const char	*s;
	size_t		 max;
	int		 want;
} text_rows[] = {
	{ "a", 1, 1 },
	{ "ab", 1, 0 },
	{ "", 10, 0 },
	{ " ", 10, 0 },
	{ " x ", 10, 1 },
	{ "\xc3\xa9\xc3\xa9", 2, 1 },		/* counts characters */
	{ "\xc3\xa9\xc3\xa9\xc3\xa9", 2, 0 },
	{ "\xf0\x9f\x8e\x89", 1, 1 },		/* 4-byte sequence */
	{ "a\tb", 10, 0 },
	{ "a\x7f", 10, 0 },
	{ "a\xc2\x85", 10, 0 },			/* C1 NEL */
	{ "\xff", 10, 0 },
	{ "\xc3", 10, 0 },			/* truncated */
	{ "\xc0\xaf", 10, 0 },			/* overlong '/' */
	{ "\xe0\x80\xaf", 10, 0 },		/* overlong */
	{ "\xed\xa0\x80", 10, 0 },		/* surrogate */
	{ "\xf4\x90\x80\x80", 10, 0 },		/* > U+10FFFF */
};

static void
test_valid_text(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(text_rows) / sizeof(text_rows[0]); i++)
		if (srcin_valid_text(text_rows[i].s, text_rows[i].max) !=
		    text_rows[i].want)
			fail_msg("row %zu: want %d", i, text_rows[i].want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_input),
		cmocka_unit_test(test_parse_id),
		cmocka_unit_test(test_parse_reset),
		cmocka_unit_test(test_parse_sweep),
		cmocka_unit_test(test_valid_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
