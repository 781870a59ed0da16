/*
 * test_bodytpl.c — POST bodies from bodyTemplate (bodytpl_check,
 * bodytpl_render, bodytpl_page) and the config rules of method POST,
 * against tables of {input, expected} rows.
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

#include "bodytpl.h"
#include "config.h"
#include "pager.h"

#define NROWS(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- bodytpl_render ------------------------------------------------ */

static const struct render_row {
	const char		*tpl;
	enum bodytpl_type	 type;
	long long		 num;
	const char		*cursor;
	const char		*key;
	const char		*want;
	const char		*since;		/* NULL: none */
} render_rows[] = {
	/* Notion: the first page has a null cursor; the size stays a number */
	{ "{\"start_cursor\":\"{{cursor}}\",\"page_size\":\"{{pageSize}}\"}",
	  BODYTPL_NULL, 0, NULL, NULL,
	  "{\"start_cursor\":null,\"page_size\":25}", NULL },
	{ "{\"start_cursor\":\"{{cursor}}\",\"page_size\":\"{{pageSize}}\"}",
	  BODYTPL_STRING, 0, "c-2", NULL,
	  "{\"start_cursor\":\"c-2\",\"page_size\":25}", NULL },
	/* offset and page numbers stay numbers */
	{ "{\"from\":\"{{cursor}}\",\"size\":\"{{pageSize}}\"}", BODYTPL_INT,
	  50, NULL, NULL, "{\"from\":50,\"size\":25}", NULL },
	/* partial placeholders: string interpolation */
	{ "{\"q\":\"page {{cursor}} of {{pageSize}}\",\"empty\":\"<{{cursor}}>\"}",
	  BODYTPL_NULL, 0, NULL, NULL,
	  "{\"q\":\"page  of 25\",\"empty\":\"<>\"}", NULL },
	{ "{\"q\":\"from={{cursor}}\"}", BODYTPL_INT, 7, NULL, NULL,
	  "{\"q\":\"from=7\"}", NULL },
	/* the key, whole or inside; JSON escaping by json-c */
	{ "{\"auth\":{\"key\":\"{{API_KEY}}\",\"h\":\"Bearer {{API_KEY}}\"}}",
	  BODYTPL_NULL, 0, NULL, "k\"1",
	  "{\"auth\":{\"key\":\"k\\\"1\",\"h\":\"Bearer k\\\"1\"}}", NULL },
	/* nested arrays and objects; other values kept as written */
	{ "{\"filter\":{\"and\":[{\"p\":\"x\",\"n\":1.50,\"b\":true,"
	  "\"z\":null}]},\"c\":[\"{{cursor}}\"]}", BODYTPL_STRING, 0, "a/b",
	  NULL, "{\"filter\":{\"and\":[{\"p\":\"x\",\"n\":1.50,\"b\":true,"
	  "\"z\":null}]},\"c\":[\"a/b\"]}", NULL },
	/* a cursor that looks like a placeholder is data, not a template */
	{ "{\"c\":\"{{cursor}}\"}", BODYTPL_STRING, 0, "{{API_KEY}}x", "K",
	  "{\"c\":\"{{API_KEY}}x\"}", NULL },
	/* {{since}}: a time is a string, a JSON number stays a number with
	 * its text, none is null (whole) or nothing (inside a string) */
	{ "{\"filter\":{\"timestamp\":\"last_edited_time\",\"after\":"
	  "\"{{since}}\"},\"q\":\"updated>{{since}}\"}", BODYTPL_NULL, 0,
	  NULL, NULL, "{\"filter\":{\"timestamp\":\"last_edited_time\","
	  "\"after\":\"2026-11-30T10:00:00Z\"},\"q\":\"updated>"
	  "2026-11-30T10:00:00Z\"}", "2026-11-30T10:00:00Z" },
	{ "{\"range\":{\"gte\":\"{{since}}\"}}", BODYTPL_NULL, 0, NULL,
	  NULL, "{\"range\":{\"gte\":1764496800}}", "1764496800" },
	{ "{\"gte\":\"{{since}}\",\"n\":\"{{since}}\"}", BODYTPL_NULL, 0,
	  NULL, NULL, "{\"gte\":1.50e3,\"n\":1.50e3}", "1.50e3" },
	/* not JSON numbers: strings as they are */
	{ "{\"a\":\"{{since}}\",\"b\":\"x{{since}}\"}", BODYTPL_NULL, 0,
	  NULL, NULL, "{\"a\":\"007\",\"b\":\"x007\"}", "007" },
	{ "{\"a\":\"{{since}}\"}", BODYTPL_NULL, 0, NULL, NULL,
	  "{\"a\":\"1.\"}", "1." },
	{ "{\"a\":\"{{since}}\"}", BODYTPL_NULL, 0, NULL, NULL,
	  "{\"a\":\"-\"}", "-" },
	{ "{\"after\":\"{{since}}\",\"q\":\"since={{since}};\"}",
	  BODYTPL_NULL, 0, NULL, NULL, "{\"after\":null,\"q\":\"since=;\"}",
	  NULL },
};

static void
test_render(void **state)
{
	struct json_object	*tpl;
	struct bodytpl_vals	 v;
	char			 err[RS_ERRLEN], *body;
	size_t			 i, len;

	(void)state;
	for (i = 0; i < NROWS(render_rows); i++) {
		tpl = json_tokener_parse(render_rows[i].tpl);
		assert_non_null(tpl);
		memset(&v, 0, sizeof(v));
		v.cursor_type = render_rows[i].type;
		v.cursor_num = render_rows[i].num;
		v.cursor = render_rows[i].cursor;
		v.page_size = 25;
		v.api_key = render_rows[i].key;
		v.since = render_rows[i].since;
		if (bodytpl_render(tpl, &v, &body, &len, err) != RS_OK)
			fail_msg("row %zu: %s", i, err);
		if (strcmp(body, render_rows[i].want) != 0 ||
		    len != strlen(body))
			fail_msg("row %zu: %s, want %s", i, body,
			    render_rows[i].want);
		bodytpl_free(body, len);
		json_object_put(tpl);
	}
}

/* ---- the config: method and bodyTemplate (400 naming the key) ------ */

#define BASE	"{\"baseUrl\":\"https://api.notion.com/v1/databases/d/query\"," \
		"\"textFields\":[\"title\"],\"itemsPath\":\"results\","

static const struct cfg_row {
	const char	*json;
	const char	*want;		/* NULL: valid; else in the message */
} cfg_rows[] = {
	{ BASE "\"method\":\"POST\",\"cursorStyle\":\"cursor\","
	  "\"nextCursorPath\":\"next_cursor\",\"hasMorePath\":\"has_more\","
	  "\"bodyTemplate\":{\"start_cursor\":\"{{cursor}}\",\"page_size\":"
	  "\"{{pageSize}}\"}}", NULL },
	{ BASE "\"method\":\"POST\",\"cursorStyle\":\"offset\","
	  "\"bodyTemplate\":{\"from\":\"{{cursor}}\"}}", NULL },
	{ BASE "\"method\":\"GET\"}", NULL },
	{ BASE "\"method\":\"PUT\"}", "'method' must be 'GET' or 'POST'" },
	{ BASE "\"method\":\"POST\"}", "'method' 'POST' needs 'bodyTemplate'" },
	{ BASE "\"bodyTemplate\":{\"a\":\"{{cursor}}\"}}",
	  "'bodyTemplate' needs 'method': 'POST'" },
	{ BASE "\"method\":\"POST\",\"bodyTemplate\":[1]}",
	  "'bodyTemplate' must be a JSON object" },
	{ BASE "\"method\":\"POST\",\"bodyTemplate\":\"{{cursor}}\"}",
	  "'bodyTemplate' must be a JSON object" },
	{ BASE "\"method\":\"POST\",\"bodyTemplate\":{\"a\":{\"b\":"
	  "[\"{{cursr}}\"]}}}",
	  "'bodyTemplate' at a.b[0]: unknown placeholder '{{cursr}}'" },
	{ BASE "\"method\":\"POST\",\"bodyTemplate\":{\"a\":\"{{cursor\"}}",
	  "'bodyTemplate' at a: '{{' without '}}'" },
	{ BASE "\"method\":\"POST\",\"bodyTemplate\":{\"a\":1}}",
	  "'bodyTemplate' must hold {{cursor}}" },
	{ BASE "\"method\":\"POST\",\"maxPages\":1,\"bodyTemplate\":{\"a\":1}}",
	  NULL },
	{ BASE "\"method\":\"POST\",\"cursorStyle\":\"link\","
	  "\"bodyTemplate\":{\"a\":\"{{cursor}}\"}}",
	  "'cursorStyle' 'link' follows next URLs" },
	{ BASE "\"method\":\"POST\",\"cursorParam\":\"c\",\"nextCursorPath\":"
	  "\"n\",\"bodyTemplate\":{\"a\":\"{{cursor}}\"}}",
	  "'cursorParam' does not apply with 'method' 'POST'" },
	{ BASE "\"method\":\"POST\",\"pageSizeParam\":\"l\",\"bodyTemplate\":"
	  "{\"a\":\"{{cursor}}\"}}",
	  "'pageSizeParam' does not apply with 'method' 'POST'" },
	/* {{since}}: with incremental, which then needs no param */
	{ BASE "\"method\":\"POST\",\"cursorStyle\":\"offset\","
	  "\"incremental\":{\"cursorPath\":\"u\"},"
	  "\"bodyTemplate\":{\"from\":\"{{cursor}}\",\"after\":\"{{since}}\"}}",
	  NULL },
	{ BASE "\"method\":\"POST\",\"cursorStyle\":\"offset\","
	  "\"incremental\":{\"cursorPath\":\"u\",\"param\":\"s\"},"
	  "\"bodyTemplate\":{\"from\":\"{{cursor}}\",\"after\":\"{{since}}\"}}",
	  NULL },
	{ BASE "\"method\":\"POST\",\"cursorStyle\":\"offset\","
	  "\"bodyTemplate\":{\"from\":\"{{cursor}}\",\"after\":\"{{since}}\"}}",
	  "'bodyTemplate' holds {{since}}, which needs 'incremental'" },
	{ BASE "\"method\":\"POST\",\"cursorStyle\":\"offset\","
	  "\"incremental\":{\"cursorPath\":\"u\"},"
	  "\"bodyTemplate\":{\"from\":\"{{cursor}}\"}}",
	  "'incremental.param' must be a parameter name of 1 to 128 printable "
	  "characters other than = & # (or, with 'method' 'POST', {{since}} "
	  "in 'bodyTemplate')" },
	{ BASE "\"incremental\":{\"cursorPath\":\"u\"}}",
	  "'incremental.param' must be a parameter name" },
	{ BASE "\"method\":\"POST\",\"bodyTemplate\":{\"a\":\"{{sinc}}\"}}",
	  "unknown placeholder '{{sinc}}' (known: {{cursor}}, {{pageSize}}, "
	  "{{API_KEY}}, {{since}})" },
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
		cfg_free(&cfg);
	}
}

/* ---- bodytpl_page and pager_url with method POST ------------------- */

static const struct page_row {
	const char	*cfg;
	const char	*cursor;
	const char	*body;		/* NULL: RS_EINPUT */
	const char	*url;
} page_rows[] = {
	{ BASE "\"method\":\"POST\",\"nextCursorPath\":\"next_cursor\","
	  "\"defaultPageSize\":3,\"queryTemplate\":{\"v\":\"1\"},"
	  "\"bodyTemplate\":{\"start_cursor\":\"{{cursor}}\",\"page_size\":"
	  "\"{{pageSize}}\"}}", NULL,
	  "{\"start_cursor\":null,\"page_size\":3}",
	  "https://api.notion.com/v1/databases/d/query?v=1" },
	/* a cursor that is a URL is still a body value, never fetched */
	{ BASE "\"method\":\"POST\",\"nextCursorPath\":\"next_cursor\","
	  "\"bodyTemplate\":{\"start_cursor\":\"{{cursor}}\"}}",
	  "https://evil.example/x",
	  "{\"start_cursor\":\"https://evil.example/x\"}",
	  "https://api.notion.com/v1/databases/d/query" },
	{ BASE "\"method\":\"POST\",\"cursorStyle\":\"offset\","
	  "\"bodyTemplate\":{\"from\":\"{{cursor}}\",\"size\":"
	  "\"{{pageSize}}\"}}", NULL, "{\"from\":0,\"size\":50}",
	  "https://api.notion.com/v1/databases/d/query" },
	{ BASE "\"method\":\"POST\",\"cursorStyle\":\"offset\","
	  "\"bodyTemplate\":{\"from\":\"{{cursor}}\"}}", "100",
	  "{\"from\":100}", "https://api.notion.com/v1/databases/d/query" },
	{ BASE "\"method\":\"POST\",\"cursorStyle\":\"page\",\"pageStart\":1,"
	  "\"bodyTemplate\":{\"page\":\"{{cursor}}\"}}", NULL,
	  "{\"page\":1}", "https://api.notion.com/v1/databases/d/query" },
	{ BASE "\"method\":\"POST\",\"cursorStyle\":\"offset\","
	  "\"bodyTemplate\":{\"from\":\"{{cursor}}\"}}", "x1", NULL, NULL },
};

static void
test_page(void **state)
{
	struct source_config	 cfg;
	char			 err[RS_ERRLEN], *body, *url;
	size_t			 i, len;
	enum rs_status		 st;

	(void)state;
	for (i = 0; i < NROWS(page_rows); i++) {
		if (cfg_parse(page_rows[i].cfg, strlen(page_rows[i].cfg), &cfg,
		    err) != RS_OK)
			fail_msg("row %zu: %s", i, err);
		st = bodytpl_page(&cfg, page_rows[i].cursor, "KEY", NULL, &body,
		    &len, err);
		if (page_rows[i].body == NULL) {
			assert_int_equal(st, RS_EINPUT);
			assert_null(body);
			cfg_free(&cfg);
			continue;
		}
		if (st != RS_OK)
			fail_msg("row %zu: %s", i, err);
		if (strcmp(body, page_rows[i].body) != 0)
			fail_msg("row %zu: body %s, want %s", i, body,
			    page_rows[i].body);
		bodytpl_free(body, len);
		if (pager_url(&cfg, page_rows[i].cursor, "KEY", &url,
		    err) != RS_OK)
			fail_msg("row %zu: url: %s", i, err);
		if (strcmp(url, page_rows[i].url) != 0)
			fail_msg("row %zu: url %s, want %s", i, url,
			    page_rows[i].url);
		free(url);
		cfg_free(&cfg);
	}
}

/* A body past BODYTPL_MAX_BODY is refused. */
static void
test_cap(void **state)
{
	struct json_object	*tpl;
	struct bodytpl_vals	 v;
	char			 err[RS_ERRLEN], *body, *big;
	size_t			 len;

	(void)state;
	big = malloc(BODYTPL_MAX_BODY + 2);
	assert_non_null(big);
	memset(big, 'x', BODYTPL_MAX_BODY + 1);
	big[BODYTPL_MAX_BODY + 1] = '\0';
	tpl = json_tokener_parse("{\"c\":\"{{cursor}}\"}");
	memset(&v, 0, sizeof(v));
	v.cursor_type = BODYTPL_STRING;
	v.cursor = big;
	assert_int_equal(bodytpl_render(tpl, &v, &body, &len, err),
	    RS_EINPUT);
	assert_null(body);
	assert_non_null(strstr(err, "longer than"));
	json_object_put(tpl);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
