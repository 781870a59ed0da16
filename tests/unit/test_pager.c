/*
 * test_pager.c — pager_url, pager_next and pager_link_next against tables
 * of {config, input, expected} rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "config.h"
#include "pager.h"

#define NROWS(a)	(sizeof(a) / sizeof((a)[0]))

#define API	"https://api.example.com"
#define TF	"\"textFields\":[\"title\"]"

/* Configs the rows share. */
#define C_OFFSET "{\"baseUrl\":\"" API "/v1/items\",\"cursorStyle\":" \
		"\"offset\",\"pageSizeParam\":\"limit\",\"defaultPageSize\":50," \
		"\"itemsPath\":\"items\"," TF
#define C_PAGE	"{\"baseUrl\":\"" API "/v1/items\",\"cursorStyle\":\"page\"," \
		"\"pageSizeParam\":\"per_page\",\"defaultPageSize\":10," \
		"\"itemsPath\":\"data.items\"," TF
#define C_CURSOR "{\"baseUrl\":\"" API "/v1/items\",\"cursorStyle\":" \
		"\"cursor\",\"nextCursorPath\":\"next_cursor\"," \
		"\"pageSizeParam\":\"limit\",\"defaultPageSize\":2," \
		"\"itemsPath\":\"data\"," TF
#define C_LINK	"{\"baseUrl\":\"" API "/repos/o/r/issues?state=all\"," \
		"\"cursorStyle\":\"link\",\"pageSizeParam\":\"per_page\"," \
		"\"defaultPageSize\":2,\"itemsPath\":\"$\"," TF
#define C_LAST	"{\"baseUrl\":\"" API "/v1/customers\",\"cursorStyle\":" \
		"\"cursor\",\"cursorParam\":\"starting_after\"," \
		"\"nextCursorPath\":\"$last.id\",\"hasMorePath\":\"has_more\"," \
		"\"pageSizeParam\":\"limit\",\"defaultPageSize\":2," \
		"\"itemsPath\":\"data\"," TF

static void
parse_cfg(const char *json, struct source_config *cfg)
{
	char	 err[RS_ERRLEN] = "";

	if (cfg_parse(json, strlen(json), cfg, err) != RS_OK)
		fail_msg("config %s: %s", json, err);
}

/* ---- pager_url ---------------------------------------------------- */

static const struct url_row {
	const char	*cfg;
	const char	*cursor;
	const char	*api_key;
	enum rs_status	 want;
	const char	*url;		/* or the error substring */
} url_rows[] = {
	/* offset */
	{ C_OFFSET "}", NULL, NULL, RS_OK, API "/v1/items?limit=50&offset=0" },
	{ C_OFFSET "}", "150", NULL, RS_OK,
	  API "/v1/items?limit=50&offset=150" },
	{ C_OFFSET ",\"baseUrl\":\"" API "/v1/items?sort=asc&limit=9&offset=7"
	  "&q=a%20b\"}", "50", NULL, RS_OK,
	  API "/v1/items?sort=asc&q=a%20b&limit=50&offset=50" },
	{ C_OFFSET ",\"baseUrl\":\"" API "/v1/it%c3%a9ms?q=%e2%82%ac\"}", NULL,
	  NULL, RS_OK, API "/v1/it%C3%A9ms?q=%E2%82%AC&limit=50&offset=0" },
	{ C_OFFSET "}", "abc", NULL, RS_EINPUT, "is not an offset" },
	{ C_OFFSET "}", "-1", NULL, RS_EINPUT, "is not an offset" },
	{ C_OFFSET "}", "99999999999999999999", NULL, RS_EINPUT,
	  "is not an offset" },
	{ C_OFFSET ",\"cursorParam\":\"skip\",\"pageSizeParam\":null}", "10",
	  NULL, RS_OK, API "/v1/items?skip=10" },

	/* page, pageStart 0 and 1 */
	{ C_PAGE "}", NULL, NULL, RS_OK, API "/v1/items?per_page=10&page=1" },
	{ C_PAGE ",\"pageStart\":0}", NULL, NULL, RS_OK,
	  API "/v1/items?per_page=10&page=0" },
	{ C_PAGE ",\"pageStart\":0}", "3", NULL, RS_OK,
	  API "/v1/items?per_page=10&page=3" },
	{ C_PAGE "}", "x", NULL, RS_EINPUT, "is not a page number" },
	{ C_PAGE ",\"baseUrl\":\"" API "/v1/items?page=9&per_page=3\"}", "2",
	  NULL, RS_OK, API "/v1/items?per_page=10&page=2" },

	/* cursor: none on the first page, odd tokens encoded */
	{ C_CURSOR "}", NULL, NULL, RS_OK, API "/v1/items?limit=2" },
	{ C_CURSOR "}", "abc123", NULL, RS_OK,
	  API "/v1/items?limit=2&cursor=abc123" },
	{ C_CURSOR "}", "a b&c=d#e", NULL, RS_OK,
	  API "/v1/items?limit=2&cursor=a%20b%26c%3Dd%23e" },
	{ C_CURSOR "}", "eyJvIjozMH0+/w==", NULL, RS_OK,
	  API "/v1/items?limit=2&cursor=eyJvIjozMH0%2B%2Fw%3D%3D" },
	{ C_CURSOR "}", "caf\xc3\xa9\xe2\x82\xac", NULL, RS_OK,
	  API "/v1/items?limit=2&cursor=caf%C3%A9%E2%82%AC" },
	{ C_CURSOR "}", "%41", NULL, RS_OK,
	  API "/v1/items?limit=2&cursor=%2541" },
	/* An absolute next URL is fetched as is, on baseUrl's origin only. */
	{ C_CURSOR "}", API "/v1/items?after=X&limit=2", NULL, RS_OK,
	  API "/v1/items?after=X&limit=2" },
	{ C_CURSOR "}", "https://evil.example.com/v1/items?after=X", NULL,
	  RS_EINPUT, "another origin" },
	{ C_CURSOR "}", "http://api.example.com/v1/items?after=X", NULL,
	  RS_EINPUT, "another origin" },
	{ C_CURSOR "}", "https://api.example.com:8443/v1/items", NULL,
	  RS_EINPUT, "another origin" },

	/* A stored cursor keeps the key as {{API_KEY}}: put back, a token's
	 * encoded as the parameter, a next URL's percent-encoded in it. */
	{ C_CURSOR "}", "t-{{API_KEY}}", "a b", RS_OK,
	  API "/v1/items?limit=2&cursor=t-a%20b" },
	{ C_CURSOR "}", API "/v1/items?after=X&sig={{API_KEY}}", "a b&c",
	  RS_OK, API "/v1/items?after=X&sig=a%20b%26c" },
	{ C_CURSOR "}", API "/v1/items?sig={{API_KEY}}", NULL, RS_OK,
	  API "/v1/items?sig=" },
	{ C_LINK "}", API "/p?k={{API_KEY}}&page=2", "K/1", RS_OK,
	  API "/p?k=K%2F1&page=2" },
	/* With method POST the cursor goes into the body, not the URL. */
	{ C_OFFSET ",\"pageSizeParam\":null,\"method\":\"POST\","
	  "\"bodyTemplate\":{\"o\":\"{{cursor}}\"}}", "150", NULL, RS_OK,
	  API "/v1/items" },

	/* $last.id: the cursor is an item's value, never a URL */
	{ C_LAST "}", NULL, NULL, RS_OK, API "/v1/customers?limit=2" },
	{ C_LAST "}", "cus_0042", NULL, RS_OK,
	  API "/v1/customers?limit=2&starting_after=cus_0042" },
	{ C_LAST "}", "https://evil.example.com/", NULL, RS_OK,
	  API "/v1/customers?limit=2&starting_after="
	  "https%3A%2F%2Fevil.example.com%2F" },

	/* link: baseUrl first, then the stored next URL as is */
	{ C_LINK "}", NULL, NULL, RS_OK,
	  API "/repos/o/r/issues?state=all&per_page=2" },
	{ C_LINK "}", API "/repositories/9/issues?state=all&per_page=2&page=3",
	  NULL, RS_OK, API "/repositories/9/issues?state=all&per_page=2&page=3" },
	{ C_LINK "}", "page=3", NULL, RS_EINPUT, "is not a next URL" },
	{ C_LINK "}", "https://evil.example.com/x", NULL, RS_EINPUT,
	  "another origin" },
	{ C_LINK ",\"cursorParam\":\"state\"}", NULL, NULL, RS_OK,
	  API "/repos/o/r/issues?state=all&per_page=2" },

	/* queryTemplate: {{API_KEY}} filled, encoded, replacing baseUrl's */
	{ C_OFFSET ",\"queryTemplate\":{\"api_key\":\"{{API_KEY}}\"}}", NULL,
	  "k&y=1 +", RS_OK,
	  API "/v1/items?limit=50&offset=0&api_key=k%26y%3D1%20%2B" },
	{ C_OFFSET ",\"baseUrl\":\"" API "/v1/items?api_key=OLD&x=1\","
	  "\"queryTemplate\":{\"api_key\":\"{{API_KEY}}\",\"v\":\"2\"}}",
	  NULL, "NEW", RS_OK,
	  API "/v1/items?x=1&limit=50&offset=0&api_key=NEW&v=2" },
	{ C_OFFSET ",\"queryTemplate\":{\"key\":\"pre-{{API_KEY}}-{{API_KEY}}\"}"
	  "}", NULL, NULL, RS_OK, API "/v1/items?limit=50&offset=0&key=pre--" },
	/* ... and re-added to a next URL stored without them. */
	{ C_LINK ",\"queryTemplate\":{\"access_token\":\"{{API_KEY}}\"}}",
	  API "/repos/o/r/issues?page=2", "tok", RS_OK,
	  API "/repos/o/r/issues?page=2&access_token=tok" },
	{ C_CURSOR ",\"queryTemplate\":{\"key\":\"{{API_KEY}}\"}}",
	  API "/v1/items?after=X&key=STALE", "K", RS_OK,
	  API "/v1/items?after=X&key=K" },
};

static void
test_url_rows(void **state)
{
	const struct url_row	*r;
	struct source_config	 cfg;
	char			 err[RS_ERRLEN];
	char			*url;
	enum rs_status		 st;
	size_t			 i;

	(void)state;
	for (i = 0; i < NROWS(url_rows); i++) {
		r = &url_rows[i];
		parse_cfg(r->cfg, &cfg);
		err[0] = '\0';
		url = (char *)0x1;
		st = pager_url(&cfg, r->cursor, r->api_key, &url, err);
		if (st != r->want)
			fail_msg("row %zu: status %d (%s), want %d", i, st, err,
			    r->want);
		if (st == RS_OK && strcmp(url, r->url) != 0)
			fail_msg("row %zu: url\n  %s\nwant\n  %s", i, url,
			    r->url);
		if (st != RS_OK) {
			assert_null(url);
			if (strstr(err, r->url) == NULL)
				fail_msg("row %zu: err '%s' lacks '%s'", i, err,
				    r->url);
		}
		free(url);
		cfg_free(&cfg);
	}
}

static void
test_url_long_cursor(void **state)
{
	struct source_config	 cfg;
	char			 err[RS_ERRLEN] = "";
	char			*cur, *url;

	(void)state;
	parse_cfg(C_CURSOR "}", &cfg);
	cur = malloc(PAGER_MAX_CURSOR + 2);
	assert_non_null(cur);
	memset(cur, 'a', PAGER_MAX_CURSOR + 1);
	cur[PAGER_MAX_CURSOR + 1] = '\0';
	assert_int_equal(pager_url(&cfg, cur, NULL, &url, err), RS_EINPUT);
	assert_null(url);
	assert_non_null(strstr(err, "longer than"));
	cur[PAGER_MAX_CURSOR] = '\0';	/* exactly the cap is fine */
	assert_int_equal(pager_url(&cfg, cur, NULL, &url, err), RS_OK);
	assert_int_equal(strlen(url), strlen(API "/v1/items?limit=2&cursor=") +
	    PAGER_MAX_CURSOR);
	free(url);
	free(cur);
	cfg_free(&cfg);
}

/* A stored cursor that grows past its cap with the key put back. */
static void
test_url_cursor_key_cap(void **state)
{
	struct source_config	 cfg;
	char			 err[RS_ERRLEN] = "", key[101];
	char			*cur, *url;
	size_t			 i, n = strlen("{{API_KEY}}");

	(void)state;
	parse_cfg(C_CURSOR "}", &cfg);
	cur = malloc(PAGER_MAX_CURSOR + 1);
	assert_non_null(cur);
	for (i = 0; i + n <= PAGER_MAX_CURSOR; i += n)
		memcpy(cur + i, "{{API_KEY}}", n);
	cur[i] = '\0';
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	assert_int_equal(pager_url(&cfg, cur, key, &url, err), RS_EINPUT);
	assert_null(url);
	assert_non_null(strstr(err, "stored cursor is too long"));
	free(cur);
	cfg_free(&cfg);
}

/*
 * A key sent in the query reads in the URL exactly as curl_easy_escape
 * spells it: batch.c redacts that spelling from what it shows.
 */
static void
test_url_key_spelling(void **state)
{
	static const char *const keys[] = {
		"plain-key_1.2~3", "a b", "a+b", "k/=&#?%", "caf\xc3\xa9",
		"%2b%2B", "\"'<>[]{}|\\^`!$()*,;:@",
	};
	struct source_config	 cfg;
	char			 err[RS_ERRLEN] = "", all[128];
	char			*url, *esc;
	size_t			 i;
	int			 c;

	(void)state;
	parse_cfg(C_OFFSET ",\"queryTemplate\":{\"key\":\"{{API_KEY}}\"}}",
	    &cfg);
	for (c = 0x20, i = 0; c < 0x7f; c++)
		all[i++] = (char)c;
	all[i] = '\0';
	for (i = 0; i <= NROWS(keys); i++) {
		const char *k = i < NROWS(keys) ? keys[i] : all;

		assert_int_equal(pager_url(&cfg, NULL, k, &url, err), RS_OK);
		esc = curl_easy_escape(NULL, k, 0);
		assert_non_null(esc);
		if (strstr(url, esc) == NULL)
			fail_msg("key '%s': %s lacks %s", k, url, esc);
		curl_free(esc);
		free(url);
	}
	cfg_free(&cfg);
}

/* ---- pager_next --------------------------------------------------- */

static const struct next_row {
	const char	*cfg;
	const char	*body;
	const char	*link;		/* Link header value or NULL */
	const char	*url;		/* the page's URL or NULL */
	const char	*cursor;	/* the page's cursor */
	size_t		 nitems;
	long long	 items_before;
	int		 pages_before;
	enum rs_status	 want;
	const char	*next;		/* NULL: done (or the error substring) */
	long long	 total;
} next_rows[] = {
	/* offset: total, currentOffsetPath, short and empty pages */
#define I2	"\"items\":[{},{}]"
	/* A total the config does not name is ignored: the short page ends. */
	{ C_OFFSET "}", "{" I2 ",\"total\":5}", NULL, NULL, NULL, 2, 0, 0,
	  RS_OK, NULL, -1 },
	{ C_OFFSET ",\"totalPath\":\"total\"}", "{" I2 ",\"total\":5}", NULL,
	  NULL, NULL, 2, 0, 0, RS_OK, "2", 5 },
	{ C_OFFSET ",\"totalPath\":\"total\"}", "{" I2 ",\"total\":5}", NULL,
	  NULL, "3", 2, 3, 1, RS_OK, NULL, 5 },
	{ C_OFFSET ",\"totalPath\":\"total\"}", "{" I2 ",\"total\":\"9\"}",
	  NULL, NULL, "3", 2, 3, 1, RS_OK, "5", 9 },
	{ C_OFFSET ",\"totalPath\":\"total\",\"currentOffsetPath\":\"skip\"}",
	  "{" I2 ",\"total\":100,\"skip\":40}", NULL, NULL, "3", 2, 3, 1,
	  RS_OK, "42", 100 },
	{ C_OFFSET "}", "{" I2 "}", NULL, NULL, "10", 2, 10, 1, RS_OK, NULL,
	  -1 },
	{ C_OFFSET ",\"defaultPageSize\":2}", "{" I2 "}", NULL, NULL, "10", 2,
	  10, 1, RS_OK, "12", -1 },
	{ C_OFFSET ",\"pageSizeParam\":null}", "{" I2 "}", NULL, NULL, "10",
	  2, 10, 1, RS_OK, "12", -1 },
	{ C_OFFSET ",\"pageSizeParam\":null}", "{\"items\":[]}", NULL, NULL,
	  "10", 0, 10, 1, RS_OK, NULL, -1 },
	/* hasMorePath wins: false stops a page total says is not the last,
	 * true goes past a short page and a reached total; a string is not
	 * a flag. */
	{ C_OFFSET ",\"totalPath\":\"total\",\"hasMorePath\":\"more\"}",
	  "{" I2 ",\"total\":50,\"more\":false}", NULL, NULL, NULL, 2, 0, 0,
	  RS_OK, NULL, 50 },
	{ C_OFFSET ",\"totalPath\":\"total\",\"hasMorePath\":\"more\"}",
	  "{" I2 ",\"total\":2,\"more\":true}", NULL, NULL, NULL, 2, 0, 0,
	  RS_OK, "2", 2 },
	{ C_OFFSET ",\"hasMorePath\":\"meta.hasMore\"}",
	  "{" I2 ",\"meta\":{\"hasMore\":true}}", NULL, NULL, "4", 2, 4, 2,
	  RS_OK, "6", -1 },
	{ C_OFFSET ",\"hasMorePath\":\"more\"}", "{\"items\":[],\"more\":true}",
	  NULL, NULL, "4", 0, 4, 2, RS_OK, NULL, -1 },
	{ C_OFFSET ",\"hasMorePath\":\"more\",\"pageSizeParam\":null}",
	  "{" I2 ",\"more\":\"false\"}", NULL, NULL, NULL, 2, 0, 0, RS_OK, "2",
	  -1 },
	/* maxPages: the safety stop, any style */
	{ C_OFFSET ",\"maxPages\":3,\"pageSizeParam\":null}", "{" I2 "}", NULL,
	  NULL, "4", 2, 4, 2, RS_OK, NULL, -1 },
	{ C_OFFSET ",\"maxPages\":3,\"pageSizeParam\":null}", "{" I2 "}", NULL,
	  NULL, "2", 2, 2, 1, RS_OK, "4", -1 },
	{ C_OFFSET ",\"maxPages\":1,\"hasMorePath\":\"more\"}",
	  "{" I2 ",\"more\":true}", NULL, NULL, NULL, 2, 0, 0, RS_OK, NULL,
	  -1 },

	/* page: pageStart 0 and 1, totalPagesPath, totalPath */
#define D10	"{\"data\":{\"items\":[1,2,3,4,5,6,7,8,9,10]" \
		",\"totalPages\":3,\"total\":30}}"
	{ C_PAGE "}", D10, NULL, NULL, NULL, 10, 0, 0, RS_OK, "2", -1 },
	{ C_PAGE ",\"pageStart\":0}", D10, NULL, NULL, NULL, 10, 0, 0, RS_OK,
	  "1", -1 },
	{ C_PAGE ",\"pageStart\":0,\"totalPagesPath\":\"data.totalPages\"}",
	  D10, NULL, NULL, "1", 10, 10, 1, RS_OK, "2", -1 },
	{ C_PAGE ",\"pageStart\":0,\"totalPagesPath\":\"data.totalPages\"}",
	  D10, NULL, NULL, "2", 10, 20, 2, RS_OK, NULL, -1 },
	{ C_PAGE ",\"totalPagesPath\":\"data.totalPages\"}", D10, NULL, NULL,
	  "2", 10, 10, 1, RS_OK, "3", -1 },
	{ C_PAGE ",\"totalPagesPath\":\"data.totalPages\"}", D10, NULL, NULL,
	  "3", 10, 20, 2, RS_OK, NULL, -1 },
	{ C_PAGE ",\"totalPath\":\"data.total\"}", D10, NULL, NULL, "3", 10,
	  20, 2, RS_OK, NULL, 30 },
	{ C_PAGE ",\"totalPath\":\"data.total\"}", D10, NULL, NULL, "2", 10,
	  10, 1, RS_OK, "3", 30 },
	{ C_PAGE "}", "{\"data\":{\"items\":[1,2]}}", NULL, NULL, "4", 2, 30,
	  3, RS_OK, NULL, -1 },
	{ C_PAGE ",\"pageSizeParam\":null}", "{\"data\":{\"items\":[1,2]}}",
	  NULL, NULL, "4", 2, 30, 3, RS_OK, "5", -1 },
	{ C_PAGE ",\"pageSizeParam\":null}", "{\"data\":{\"items\":[]}}", NULL,
	  NULL, "4", 0, 30, 3, RS_OK, NULL, -1 },
	{ C_PAGE ",\"hasMorePath\":\"more\"}",
	  "{\"data\":{\"items\":[1]},\"more\":true}", NULL, NULL, "4", 1, 30,
	  3, RS_OK, "5", -1 },
	{ C_PAGE ",\"hasMorePath\":\"more\"}",
	  "{\"data\":{\"items\":[1,2,3,4,5,6,7,8,9,10]},\"more\":false}",
	  NULL, NULL, "4", 10, 30, 3, RS_OK, NULL, -1 },

	/* cursor: the value at nextCursorPath */
#define A2	"\"data\":[{\"id\":1},{\"id\":2}]"
	{ C_CURSOR "}", "{" A2 ",\"next_cursor\":\"tok2\"}", NULL, NULL, NULL,
	  2, 0, 0, RS_OK, "tok2", -1 },
	{ C_CURSOR "}", "{" A2 ",\"next_cursor\":123}", NULL, NULL, "tok2", 2,
	  2, 1, RS_OK, "123", -1 },
	{ C_CURSOR "}", "{" A2 ",\"next_cursor\":null}", NULL, NULL, "tok2", 2,
	  2, 1, RS_OK, NULL, -1 },
	{ C_CURSOR "}", "{" A2 "}", NULL, NULL, "tok2", 2, 2, 1, RS_OK, NULL,
	  -1 },
	{ C_CURSOR "}", "{" A2 ",\"next_cursor\":\"\"}", NULL, NULL, NULL, 2,
	  0, 0, RS_OK, NULL, -1 },
	{ C_CURSOR "}", "{" A2 ",\"next_cursor\":false}", NULL, NULL, NULL, 2,
	  0, 0, RS_OK, NULL, -1 },
	{ C_CURSOR "}", "{" A2 ",\"next_cursor\":{\"a\":1}}", NULL, NULL, NULL,
	  2, 0, 0, RS_EUPSTREAM, "is not a string or number", -1 },
	{ C_CURSOR "}", "{" A2 ",\"next_cursor\":[\"x\"]}", NULL, NULL, NULL,
	  2, 0, 0, RS_EUPSTREAM, "is not a string or number", -1 },
	{ C_CURSOR "}", "{" A2 ",\"next_cursor\":\"tok2\"}", NULL, NULL,
	  "tok2", 2, 2, 1, RS_OK, NULL, -1 },	/* a loop */
	{ C_CURSOR "}", "{\"data\":[],\"next_cursor\":\"tok3\"}", NULL, NULL,
	  "tok2", 0, 2, 1, RS_OK, NULL, -1 },
	/* Notion: has_more decides; its cursor must then be there. */
	{ C_CURSOR ",\"hasMorePath\":\"has_more\"}",
	  "{" A2 ",\"next_cursor\":\"c3\",\"has_more\":false}", NULL, NULL,
	  "c2", 2, 2, 1, RS_OK, NULL, -1 },
	{ C_CURSOR ",\"hasMorePath\":\"has_more\"}",
	  "{" A2 ",\"next_cursor\":null,\"has_more\":true}", NULL, NULL,
	  "c2", 2, 2, 1, RS_EUPSTREAM, "says there is more", -1 },
	{ C_CURSOR ",\"hasMorePath\":\"has_more\"}",
	  "{\"data\":[],\"next_cursor\":\"c3\",\"has_more\":true}", NULL, NULL,
	  "c2", 0, 2, 1, RS_OK, "c3", -1 },
	/* An absolute next URL: same origin only, stored without the
	 * queryTemplate parameters. */
	{ C_CURSOR ",\"nextCursorPath\":\"links.next\"}",
	  "{" A2 ",\"links\":{\"next\":\"" API "/v1/items?after=2\"}}", NULL,
	  NULL, NULL, 2, 0, 0, RS_OK, API "/v1/items?after=2", -1 },
	{ C_CURSOR ",\"nextCursorPath\":\"links.next\"}",
	  "{" A2 ",\"links\":{\"next\":\"https://evil.example.com/v1/items\"}}",
	  NULL, NULL, NULL, 2, 0, 0, RS_EUPSTREAM, "another origin", -1 },
	{ C_CURSOR ",\"nextCursorPath\":\"links.next\",\"queryTemplate\":"
	  "{\"api_key\":\"{{API_KEY}}\"}}", "{" A2 ",\"links\":{\"next\":\""
	  API "/v1/items?api_key=SECRET&after=2&api_key=again\"}}", NULL, NULL,
	  NULL, 2, 0, 0, RS_OK, API "/v1/items?after=2", -1 },

	/* $last: starting_after from the last item of the page */
	{ C_LAST "}", "{\"data\":[{\"id\":\"cus_1\"},{\"id\":\"cus_2\"}],"
	  "\"has_more\":true}", NULL, NULL, NULL, 2, 0, 0, RS_OK, "cus_2", -1 },
	{ C_LAST "}", "{\"data\":[{\"id\":\"cus_3\"}],\"has_more\":true}",
	  NULL, NULL, "cus_2", 1, 2, 1, RS_OK, "cus_3", -1 },
	{ C_LAST "}", "{\"data\":[{\"id\":\"cus_3\"},{\"id\":\"cus_4\"}],"
	  "\"has_more\":false}", NULL, NULL, "cus_2", 2, 2, 1, RS_OK, NULL,
	  -1 },
	{ C_LAST "}", "{\"data\":[],\"has_more\":false}", NULL, NULL, "cus_2",
	  0, 2, 1, RS_OK, NULL, -1 },
	{ C_LAST "}", "{\"data\":[],\"has_more\":true}", NULL, NULL, "cus_2",
	  0, 2, 1, RS_EUPSTREAM, "says there is more", -1 },
	{ C_LAST "}", "{\"data\":[{\"id\":\"cus_1\"},{\"name\":\"no id\"}],"
	  "\"has_more\":true}", NULL, NULL, NULL, 2, 0, 0, RS_EUPSTREAM,
	  "has no cursor", -1 },
	{ C_LAST ",\"hasMorePath\":null}", "{\"data\":[{\"id\":7},{\"id\":8}]}",
	  NULL, NULL, "7", 2, 0, 0, RS_OK, "8", -1 },
	{ C_LAST ",\"hasMorePath\":null}", "{\"data\":[{\"id\":8}]}", NULL,
	  NULL, "8", 1, 0, 0, RS_OK, NULL, -1 },	/* a loop */
	{ C_LAST ",\"nextCursorPath\":\"$last\",\"itemsPath\":\"$\"}",
	  "[\"a\",\"b\",\"c\"]", NULL, NULL, NULL, 3, 0, 0, RS_OK, "c", -1 },
	{ C_LAST ",\"nextCursorPath\":\"$last.meta.cursor\"}",
	  "{\"data\":[{\"meta\":{\"cursor\":\"x\"}},{\"meta\":{\"cursor\":"
	  "\"https://evil.example.com/\"}}],\"has_more\":true}", NULL, NULL,
	  NULL, 2, 0, 0, RS_OK, "https://evil.example.com/", -1 },

	/* link: rel="next" from the Link header */
#define GH1	"<" API "/repositories/9/issues?state=all&per_page=2&page=2>; " \
		"rel=\"next\", <" API "/repositories/9/issues?state=all&" \
		"per_page=2&page=5>; rel=\"last\""
#define GH5	"<" API "/repositories/9/issues?state=all&per_page=2&page=4>; " \
		"rel=\"prev\", <" API "/repositories/9/issues?state=all&" \
		"per_page=2&page=1>; rel=\"first\""
	{ C_LINK "}", "[{},{}]", GH1, API "/repos/o/r/issues?state=all&"
	  "per_page=2", NULL, 2, 0, 0, RS_OK,
	  API "/repositories/9/issues?state=all&per_page=2&page=2", -1 },
	{ C_LINK "}", "[{}]", GH5, API "/repositories/9/issues?page=5", API
	  "/repositories/9/issues?page=5", 1, 8, 4, RS_OK, NULL, -1 },
	{ C_LINK "}", "[{},{}]", NULL, NULL, NULL, 2, 0, 0, RS_OK, NULL, -1 },
	{ C_LINK "}", "[{},{}]", "", NULL, NULL, 2, 0, 0, RS_OK, NULL, -1 },
	{ C_LINK "}", "[{},{}]", "<?page=3&per_page=2>; rel=next",
	  API "/v2/list?page=2&per_page=2", API "/v2/list?page=2&per_page=2",
	  2, 2, 1, RS_OK, API "/v2/list?page=3&per_page=2", -1 },
	/* No page URL: relative links resolve against baseUrl. */
	{ C_LINK "}", "[{},{}]", "</p/2>; rel=next", NULL, NULL, 2, 0, 0,
	  RS_OK, API "/p/2", -1 },
	{ C_LINK "}", "[{},{}]", "<https://evil.example.com/p/2>; rel=next",
	  NULL, NULL, 2, 0, 0, RS_EUPSTREAM, "another origin", -1 },
	{ C_LINK "}", "[{},{}]", "<//evil.example.com/p/2>; rel=next",
	  API "/p/1", NULL, 2, 0, 0, RS_EUPSTREAM, "another origin", -1 },
	{ C_LINK "}", "[{},{}]", "<" API "/p/2>; rel=next", API "/p/2",
	  API "/p/2", 2, 2, 1, RS_OK, NULL, -1 },	/* a loop */
	{ C_LINK "}", "[]", "<" API "/p/2>; rel=next", NULL, NULL, 0, 0, 0,
	  RS_OK, NULL, -1 },
	{ C_LINK "}", "[{},{}]", "rel=next", NULL, NULL, 2, 0, 0,
	  RS_EUPSTREAM, "expected '<'", -1 },
	{ C_LINK ",\"hasMorePath\":\"more\",\"itemsPath\":\"items\"}",
	  "{\"items\":[1],\"more\":true}", "<" API "/p/1>; rel=prev", NULL,
	  NULL, 1, 0, 0, RS_EUPSTREAM, "no rel=\"next\"", -1 },
	{ C_LINK ",\"maxPages\":2}", "[{},{}]", GH1, NULL, NULL, 2, 2, 1,
	  RS_OK, NULL, -1 },
	{ C_LINK ",\"queryTemplate\":{\"access_token\":\"{{API_KEY}}\"}}",
	  "[{},{}]", "<" API "/p?access_token=SECRET&page=2>; rel=next", NULL,
	  NULL, 2, 0, 0, RS_OK, API "/p?page=2", -1 },
};

static void
test_next_rows(void **state)
{
	const struct next_row	*r;
	struct source_config	 cfg;
	struct pager_page	 pg;
	struct pager_next	 nx;
	char			 err[RS_ERRLEN];
	enum rs_status		 st;
	size_t			 i;

	(void)state;
	for (i = 0; i < NROWS(next_rows); i++) {
		r = &next_rows[i];
		parse_cfg(r->cfg, &cfg);
		memset(&pg, 0, sizeof(pg));
		if ((pg.body = json_tokener_parse(r->body)) == NULL)
			fail_msg("row %zu: bad body %s", i, r->body);
		pg.cursor = r->cursor;
		pg.link = r->link;
		pg.url = r->url;
		pg.nitems = r->nitems;
		pg.items_before = r->items_before;
		pg.pages_before = r->pages_before;
		err[0] = '\0';
		st = pager_next(&cfg, &pg, &nx, err);
		if (st != r->want)
			fail_msg("row %zu: status %d (%s), want %d", i, st, err,
			    r->want);
		if (st != RS_OK) {
			if (strstr(err, r->next) == NULL)
				fail_msg("row %zu: err '%s' lacks '%s'", i, err,
				    r->next);
			assert_null(nx.next);
		} else if (r->next == NULL) {
			if (!nx.done || nx.next != NULL)
				fail_msg("row %zu: want done, got next '%s'", i,
				    nx.next ? nx.next : "(null)");
		} else {
			if (nx.done || nx.next == NULL ||
			    strcmp(nx.next, r->next) != 0)
				fail_msg("row %zu: next '%s' done %d, want '%s'",
				    i, nx.next ? nx.next : "(null)", nx.done,
				    r->next);
		}
		if (st == RS_OK && nx.total != r->total)
			fail_msg("row %zu: total %lld, want %lld", i, nx.total,
			    r->total);
		pager_next_free(&nx);
		json_object_put(pg.body);
		cfg_free(&cfg);
	}
}

/*
 * maxPages: done at the cap, and "capped" only when the other rules would
 * have gone on (a run that stopped there did not walk every page, so it
 * must not sweep); a last page at the cap is a plain done.
 */
static const struct cap_row {
	const char	*cfg;
	const char	*body;
	const char	*link;
	const char	*cursor;
	size_t		 nitems;
	long long	 items_before;
	int		 pages_before;
	int		 done, capped;
	long long	 total;
} cap_rows[] = {
	/* offset without a total: a full page would go on */
	{ C_OFFSET ",\"maxPages\":3,\"pageSizeParam\":null}", "{" I2 "}",
	  NULL, "4", 2, 4, 2, 1, 1, -1 },
	/* before the cap: not done */
	{ C_OFFSET ",\"maxPages\":3,\"pageSizeParam\":null}", "{" I2 "}",
	  NULL, "2", 2, 2, 1, 0, 0, -1 },
	/* the total says there is more: capped, the total kept */
	{ C_OFFSET ",\"maxPages\":2,\"totalPath\":\"total\"}",
	  "{" I2 ",\"total\":9}", NULL, "2", 2, 2, 1, 1, 1, 9 },
	/* the total is reached at the cap: the walk was complete */
	{ C_OFFSET ",\"maxPages\":2,\"totalPath\":\"total\"}",
	  "{" I2 ",\"total\":4}", NULL, "2", 2, 2, 1, 1, 0, 4 },
	/* an empty page at the cap */
	{ C_OFFSET ",\"maxPages\":1}", "{\"items\":[]}", NULL, NULL, 0, 0,
	  0, 1, 0, -1 },
	/* hasMore false at the cap; hasMore true without a next: capped */
	{ C_OFFSET ",\"maxPages\":1,\"hasMorePath\":\"more\"}",
	  "{" I2 ",\"more\":false}", NULL, NULL, 2, 0, 0, 1, 0, -1 },
	{ C_OFFSET ",\"maxPages\":1,\"hasMorePath\":\"more\"}",
	  "{" I2 ",\"more\":true}", NULL, NULL, 2, 0, 0, 1, 1, -1 },
	{ C_CURSOR ",\"maxPages\":1,\"hasMorePath\":\"more\"}",
	  "{\"data\":[1,2],\"more\":true}", NULL, NULL, 2, 0, 0, 1, 1, -1 },
	/* cursor: a next cursor at the cap, none at the cap */
	{ C_CURSOR ",\"maxPages\":1}", "{\"data\":[1,2],\"next_cursor\":"
	  "\"c2\"}", NULL, NULL, 2, 0, 0, 1, 1, -1 },
	{ C_CURSOR ",\"maxPages\":1}", "{\"data\":[1,2]}", NULL, NULL, 2, 0,
	  0, 1, 0, -1 },
	/* link: rel=next at the cap; none */
	{ C_LINK ",\"maxPages\":2}", "[{},{}]", GH1, NULL, 2, 2, 1, 1, 1,
	  -1 },
	{ C_LINK ",\"maxPages\":2}", "[{},{}]", NULL, NULL, 2, 2, 1, 1, 0,
	  -1 },
	/* page: short page at the cap (done), full page (capped) */
	{ C_PAGE ",\"maxPages\":1}", "{\"data\":{\"items\":[1]}}", NULL,
	  NULL, 1, 0, 0, 1, 0, -1 },
	{ C_PAGE ",\"maxPages\":1}", D10, NULL, NULL, 10, 0, 0, 1, 1, -1 },
};

static void
test_max_pages_capped(void **state)
{
	const struct cap_row	*r;
	struct source_config	 cfg;
	struct pager_page	 pg;
	struct pager_next	 nx;
	char			 err[RS_ERRLEN];
	size_t			 i;

	(void)state;
	for (i = 0; i < NROWS(cap_rows); i++) {
		r = &cap_rows[i];
		parse_cfg(r->cfg, &cfg);
		memset(&pg, 0, sizeof(pg));
		if ((pg.body = json_tokener_parse(r->body)) == NULL)
			fail_msg("row %zu: bad body %s", i, r->body);
		pg.cursor = r->cursor;
		pg.link = r->link;
		pg.nitems = r->nitems;
		pg.items_before = r->items_before;
		pg.pages_before = r->pages_before;
		err[0] = '\0';
		if (pager_next(&cfg, &pg, &nx, err) != RS_OK)
			fail_msg("row %zu: %s", i, err);
		if (nx.done != r->done || nx.capped != r->capped ||
		    nx.total != r->total || (nx.done && nx.next != NULL))
			fail_msg("row %zu: done %d capped %d total %lld next "
			    "%s, want %d %d %lld", i, nx.done, nx.capped,
			    nx.total, nx.next ? nx.next : "(null)", r->done,
			    r->capped, r->total);
		pager_next_free(&nx);
		json_object_put(pg.body);
		cfg_free(&cfg);
	}
}

/*
 * A whole sync of a Stripe-like list simulated through pager_url and
 * pager_next: every URL, and no request after has_more false.
 */
static void
test_walk_starting_after(void **state)
{
	static const char *const bodies[] = {
		"{\"data\":[{\"id\":\"cus_a\"},{\"id\":\"cus_b\"}],"
		"\"has_more\":true}",
		"{\"data\":[{\"id\":\"cus_c\"},{\"id\":\"cus_d\"}],"
		"\"has_more\":true}",
		"{\"data\":[{\"id\":\"cus_e\"}],\"has_more\":false}",
	};
	static const char *const urls[] = {
		API "/v1/customers?limit=2",
		API "/v1/customers?limit=2&starting_after=cus_b",
		API "/v1/customers?limit=2&starting_after=cus_d",
	};
	struct source_config	 cfg;
	struct pager_page	 pg;
	struct pager_next	 nx;
	char			 err[RS_ERRLEN] = "", *url, *cursor = NULL;
	size_t			 i;

	(void)state;
	parse_cfg(C_LAST "}", &cfg);
	for (i = 0; i < NROWS(bodies); i++) {
		assert_int_equal(pager_url(&cfg, cursor, NULL, &url, err),
		    RS_OK);
		assert_string_equal(url, urls[i]);
		memset(&pg, 0, sizeof(pg));
		pg.cursor = cursor;
		pg.body = json_tokener_parse(bodies[i]);
		pg.nitems = json_object_array_length(
		    json_object_object_get(pg.body, "data"));
		pg.pages_before = (int)i;
		assert_int_equal(pager_next(&cfg, &pg, &nx, err), RS_OK);
		assert_int_equal(nx.done, i == NROWS(bodies) - 1);
		free(cursor);
		cursor = nx.next;
		nx.next = NULL;
		json_object_put(pg.body);
		free(url);
	}
	assert_null(cursor);
	cfg_free(&cfg);
}

/* ---- pager_link_next ---------------------------------------------- */

#define B	"https://a.example/b/items?page=1"

static const struct link_row {
	const char	*link;
	const char	*base;
	enum rs_status	 want;
	const char	*next;		/* NULL: none (or the error substring) */
} link_rows[] = {
	{ NULL, B, RS_OK, NULL },
	{ "", B, RS_OK, NULL },
	{ " , ,\t, ", B, RS_OK, NULL },
	{ "<https://a.example/x?page=2>; rel=\"next\"", B, RS_OK,
	  "https://a.example/x?page=2" },
	{ "<https://a.example/x?page=2>; rel=next", B, RS_OK,
	  "https://a.example/x?page=2" },
	{ "<https://a.example/x?page=2>;REL=NEXT", B, RS_OK,
	  "https://a.example/x?page=2" },
	{ "<https://a.example/x?page=2> ; rel = \"Next\" ", B, RS_OK,
	  "https://a.example/x?page=2" },
	/* Several space-separated relation types. */
	{ "<https://a.example/2>; rel=\"prefetch next\"", B, RS_OK,
	  "https://a.example/2" },
	{ "<https://a.example/2>; rel=\" next\tprefetch \"", B, RS_OK,
	  "https://a.example/2" },
	{ "<https://a.example/2>; rel=\"nextpage\"", B, RS_OK, NULL },
	{ "<https://a.example/2>; rel=\"next-archive\"", B, RS_OK, NULL },
	{ "<https://a.example/2>; rel=\"prev\"", B, RS_OK, NULL },
	{ "<https://a.example/2>; rel=\"\"", B, RS_OK, NULL },
	{ "<https://a.example/2>; rel", B, RS_OK, NULL },
	/* Several links, and several header lines joined with ", ". */
	{ "<https://a.example/1>; rel=\"prev\", <https://a.example/3>; "
	  "rel=\"next\", <https://a.example/9>; rel=\"last\"", B, RS_OK,
	  "https://a.example/3" },
	{ "<https://a.example/1>; rel=first, <https://a.example/3>; rel=next",
	  B, RS_OK, "https://a.example/3" },
	{ "<https://a.example/3>; rel=next, <https://a.example/4>; rel=next",
	  B, RS_OK, "https://a.example/3" },
	/* Commas and semicolons inside the URI and in quoted strings. */
	{ "<https://a.example/x?ids=1,2;3>; rel=next", B, RS_OK,
	  "https://a.example/x?ids=1,2;3" },
	{ "<https://a.example/t>; title=\"a, b; <c>\", <https://a.example/n>; "
	  "rel=next", B, RS_OK, "https://a.example/n" },
	{ "<https://a.example/t>; title=\"say \\\"rel=next\\\", ok\"; rel=prev, "
	  "<https://a.example/n>; rel=\"n\\ext\"", B, RS_OK,
	  "https://a.example/n" },
	{ "<https://a.example/n>; title*=UTF-8'de'n%c3%a4chstes; rel=next", B,
	  RS_OK, "https://a.example/n" },
	{ "<https://a.example/n>; crossorigin; rel=next", B, RS_OK,
	  "https://a.example/n" },
	{ "<https://a.example/n>;; rel=next;", B, RS_OK,
	  "https://a.example/n" },
	/* §3.3: only the first rel counts.  §3.2: anchor changes context. */
	{ "<https://a.example/1>; rel=prev; rel=next", B, RS_OK, NULL },
	{ "<https://a.example/1>; rel=next; rel=prev", B, RS_OK,
	  "https://a.example/1" },
	{ "<https://a.example/1>; rel=next; anchor=\"#c\", "
	  "<https://a.example/2>; rel=next", B, RS_OK, "https://a.example/2" },
	/* Relative references, RFC 3986 §5. */
	{ "</items?page=2>; rel=next", B, RS_OK,
	  "https://a.example/items?page=2" },
	{ "<items?page=2>; rel=next", B, RS_OK,
	  "https://a.example/b/items?page=2" },
	{ "<?page=3>; rel=next", B, RS_OK, "https://a.example/b/items?page=3" },
	{ "<../c/x>; rel=next", B, RS_OK, "https://a.example/c/x" },
	{ "<//other.example/x>; rel=next", B, RS_OK,
	  "https://other.example/x" },
	{ "<>; rel=next", B, RS_OK, B },
	{ "<HTTP://A.example:443/x>; rel=next", B, RS_OK,
	  "http://A.example:443/x" },
	/* A malformed link after the next one is not read. */
	{ "<https://a.example/2>; rel=next, garbage", B, RS_OK,
	  "https://a.example/2" },

	/* Malformed. */
	{ "https://a.example/2; rel=next", B, RS_EUPSTREAM,
	  "expected '<' at byte 0" },
	{ "<https://a.example/1>; rel=prev, x", B, RS_EUPSTREAM,
	  "expected '<' at byte 33" },
	{ "<https://a.example/2; rel=next", B, RS_EUPSTREAM, "is not closed" },
	{ "<https://a.example/2> rel=next", B, RS_EUPSTREAM,
	  "unexpected character" },
	{ "<https://a.example/2>; rel=\"next", B, RS_EUPSTREAM,
	  "bad parameter value" },
	{ "<https://a.example/2>; rel=\"ne\nxt\"", B, RS_EUPSTREAM,
	  "bad parameter value" },
	{ "<https://a.example/2>; rel=", B, RS_EUPSTREAM,
	  "bad parameter value" },
	{ "<https://a.example/2>; rel=(next)", B, RS_OK, NULL },
	{ "<https://a.example/2>; type=application/json; rel=next", B, RS_OK,
	  "https://a.example/2" },
	{ "<https://a.example/2>; rel=next\"", B, RS_EUPSTREAM,
	  "unexpected character" },
	{ "<https://a.example/2>; =next", B, RS_EUPSTREAM,
	  "expected a parameter name" },
	{ "<https://a.example/2>; rel=next x", B, RS_EUPSTREAM,
	  "unexpected character" },
	/* Targets that are not http(s) URLs we would fetch. */
	{ "<ftp://a.example/2>; rel=next", B, RS_EUPSTREAM,
	  "not an http or https URL" },
	{ "<javascript:alert(1)>; rel=next", B, RS_EUPSTREAM,
	  "not an http or https URL" },
	{ "<https://a.example/a b>; rel=next", B, RS_EUPSTREAM,
	  "space or control" },
	{ "<https://a.example/a\r\nX: y>; rel=next", B, RS_EUPSTREAM,
	  "space or control" },
	{ "</relative>; rel=next", NULL, RS_EUPSTREAM,
	  "not an http or https URL" },
	{ "<https://a.example:99999/>; rel=next", B, RS_EUPSTREAM,
	  "not an http or https URL" },
};

static void
test_link_rows(void **state)
{
	const struct link_row	*r;
	char			 err[RS_ERRLEN];
	char			*next;
	enum rs_status		 st;
	size_t			 i;

	(void)state;
	for (i = 0; i < NROWS(link_rows); i++) {
		r = &link_rows[i];
		err[0] = '\0';
		next = (char *)0x1;
		st = pager_link_next(r->link, r->base, &next, err);
		if (st != r->want)
			fail_msg("row %zu %s: status %d (%s), want %d", i,
			    r->link, st, err, r->want);
		if (st != RS_OK) {
			assert_null(next);
			if (strstr(err, r->next) == NULL)
				fail_msg("row %zu: err '%s' lacks '%s'", i, err,
				    r->next);
		} else if (r->next == NULL ? next != NULL :
		    next == NULL || strcmp(next, r->next) != 0)
			fail_msg("row %zu %s: next '%s', want '%s'", i, r->link,
			    next ? next : "(null)",
			    r->next ? r->next : "(null)");
		free(next);
	}
}

static void
test_link_limits(void **state)
{
	char	 err[RS_ERRLEN] = "";
	char	*link, *next;
	size_t	 n, k;

	(void)state;
	/* Many links before the next one: linear, and found. */
	n = PAGER_MAX_LINK;
	link = malloc(n + 64);
	assert_non_null(link);
	for (k = 0; k + 40 < n - 64; k += 21)
		memcpy(link + k, "<https://a.ex/p>; r, ", 21);
	(void)snprintf(link + k, 64, "<https://a.ex/n>; rel=next");
	assert_true(strlen(link) <= PAGER_MAX_LINK);
	assert_int_equal(pager_link_next(link, NULL, &next, err), RS_OK);
	assert_string_equal(next, "https://a.ex/n");
	free(next);

	/* One byte over the cap is refused before parsing. */
	memset(link, ' ', n + 1);
	link[n + 1] = '\0';
	assert_int_equal(pager_link_next(link, NULL, &next, err),
	    RS_EUPSTREAM);
	assert_null(next);
	assert_non_null(strstr(err, "longer than"));

	/* A target over PAGER_MAX_URL. */
	memcpy(link, "<https://a.ex/", 14);
	memset(link + 14, 'x', PAGER_MAX_URL);
	(void)snprintf(link + 14 + PAGER_MAX_URL, 32, ">; rel=next");
	assert_int_equal(pager_link_next(link, NULL, &next, err),
	    RS_EUPSTREAM);
	assert_non_null(strstr(err, "longer than"));
	free(link);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_rows),
		cmocka_unit_test(test_url_long_cursor),
		cmocka_unit_test(test_url_cursor_key_cap),
		cmocka_unit_test(test_url_key_spelling),
		cmocka_unit_test(test_next_rows),
		cmocka_unit_test(test_max_pages_capped),
		cmocka_unit_test(test_walk_starting_after),
		cmocka_unit_test(test_link_rows),
		cmocka_unit_test(test_link_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
