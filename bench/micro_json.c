/*
 * micro_json.c — JSON extraction throughput (MB/s of upstream JSON): parse
 * a DummyJSON page with the batch's tokener settings, find the items with
 * jp_get, and render each item's text and title with the seed's DummyJSON
 * config (the batch's parse + normalise stages).  Prints a table on stderr
 * and a JSON object on stdout: {"bench":"json","cases":[...]}.
 * Run from the checkout (or set RESTSYNC_DATA_DIR).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "jsonpath.h"
#include "micro_common.h"
#include "normalize.h"
#include "rs.h"

#define PAGE_DEPTH	64	/* as batch.c's BATCH_JSON_DEPTH */

static const char dummy_cfg[] =
    "{\"baseUrl\":\"http://127.0.0.1/products\",\"cursorParam\":\"skip\","
    "\"pageSizeParam\":\"limit\",\"defaultPageSize\":50,"
    "\"itemsPath\":\"products\",\"nextCursorPath\":null,"
    "\"currentOffsetPath\":\"skip\",\"totalPath\":\"total\","
    "\"headersTemplate\":{},\"textFields\":[\"title\",\"description\","
    "\"brand\",\"category\",\"tags\"],\"allowedRolesOverride\":[\"member\","
    "\"support\",\"operations\",\"admin\"],\"requiresAuth\":false,"
    "\"cursorStyle\":\"offset\"}";

/* {"products":[first n products],"total":T,"skip":0,"limit":n} as text. */
static char *
make_page(struct json_object *products, size_t n)
{
	struct json_object	*page = json_object_new_object();
	struct json_object	*arr = json_object_new_array();
	size_t			 i, m = json_object_array_length(products);
	char			*s;

	for (i = 0; i < n; i++)
		json_object_array_add(arr, json_object_get(
		    json_object_array_get_idx(products, i % m)));
	json_object_object_add(page, "products", arr);
	json_object_object_add(page, "total", json_object_new_int64(20000));
	json_object_object_add(page, "skip", json_object_new_int(0));
	json_object_object_add(page, "limit", json_object_new_int64(
	    (int64_t)n));
	s = strdup(json_object_to_json_string_ext(page,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(page);
	return s;
}

static struct json_object *
parse(const char *s, size_t len)
{
	struct json_tokener	*tok = json_tokener_new_ex(PAGE_DEPTH);
	struct json_object	*root;

	if (tok == NULL)
		return NULL;
	root = json_tokener_parse_ex(tok, s, (int)len);
	if (root != NULL && (json_tokener_get_error(tok) !=
	    json_tokener_success || json_tokener_get_parse_end(tok) != len)) {
		json_object_put(root);
		root = NULL;
	}
	json_tokener_free(tok);
	return root;
}

/* Render every item of root; returns the text bytes made, or -1. */
static long long
extract(struct json_object *root, const struct source_config *cfg,
    struct rs_buf *text)
{
	struct json_object	*items = jp_get(root, cfg->items_path);
	char			 title[NORM_MAX_TITLE], err[RS_ERRLEN];
	size_t			 i, n;
	long long		 made = 0;

	if (items == NULL || !json_object_is_type(items, json_type_array))
		return -1;
	n = json_object_array_length(items);
	for (i = 0; i < n; i++) {
		struct json_object *it = json_object_array_get_idx(items, i);

		if (norm_item(it, cfg, text, err) != RS_OK) {
			fprintf(stderr, "norm_item: %s\n", err);
			return -1;
		}
		norm_title(it, cfg, title, sizeof(title));
		made += (long long)text->len;
	}
	return made;
}

enum mode { MODE_PARSE, MODE_BOTH, MODE_NORMALIZE };

static struct json_object *
run_case(const char *name, const char *page, size_t nitems, enum mode m,
    const struct source_config *cfg, double min_ms)
{
	struct json_object	*root = NULL, *row;
	struct rs_buf		 text;
	size_t			 len = strlen(page);
	long			 iters = 0;
	long long		 made = 0;
	double			 t0, ms;

	rs_buf_init(&text, NORM_MAX_TEXT);
	if (m == MODE_NORMALIZE && (root = parse(page, len)) == NULL)
		goto fail;
	t0 = rs_now_ms();
	do {
		if (m != MODE_NORMALIZE && (root = parse(page, len)) == NULL)
			goto fail;
		if (m != MODE_PARSE && (made = extract(root, cfg, &text)) < 0)
			goto fail;
		if (m != MODE_NORMALIZE) {
			json_object_put(root);
			root = NULL;
		}
		iters++;
	} while ((ms = rs_now_ms() - t0) < min_ms || iters < BENCH_MIN_ITERS);
	json_object_put(root);
	rs_buf_free(&text);
	row = micro_row(name, len, iters, ms);
	json_object_object_add(row, "itemsPerS", json_object_new_double(
	    (double)nitems * (double)iters / (ms / 1000.0)));
	if (m != MODE_PARSE)
		json_object_object_add(row, "textBytes",
		    json_object_new_int64(made));
	return row;
fail:
	fprintf(stderr, "%s: page did not parse or extract\n", name);
	json_object_put(root);
	rs_buf_free(&text);
	return NULL;
}

int
main(void)
{
	struct json_object	*products, *out = NULL, *cases, *row;
	struct source_config	 cfg;
	char			 err[RS_ERRLEN], name[96];
	char			*pages[2] = { NULL, NULL };
	static const size_t	 sizes[2] = { 50, 194 };
	static const char *const what[3] = {
	    "parse", "parse + items + normalise", "normalise only" };
	double			 min_ms = micro_min_ms();
	int			 rc = 1, i, m;

	memset(&cfg, 0, sizeof(cfg));
	if ((products = micro_products()) == NULL)
		return 1;
	if (cfg_parse(dummy_cfg, strlen(dummy_cfg), &cfg, err) != RS_OK) {
		fprintf(stderr, "config: %s\n", err);
		goto out;
	}
	out = json_object_new_object();
	cases = json_object_new_array();
	json_object_object_add(out, "bench", json_object_new_string("json"));
	json_object_object_add(out, "cases", cases);
	fprintf(stderr, "JSON extraction (DummyJSON pages, seed config):\n");
	for (i = 0; i < 2; i++) {
		if ((pages[i] = make_page(products, sizes[i])) == NULL) {
			fprintf(stderr, "out of memory\n");
			goto out;
		}
		for (m = MODE_PARSE; m <= MODE_NORMALIZE; m++) {
			(void)snprintf(name, sizeof(name), "%s, %zu-item page",
			    what[m], sizes[i]);
			if ((row = run_case(name, pages[i], sizes[i], (enum mode)m, &cfg,
			    min_ms)) == NULL)
				goto out;
			json_object_array_add(cases, row);
		}
	}
	printf("%s\n", json_object_to_json_string_ext(out,
	    JSON_C_TO_STRING_PLAIN));
	rc = 0;
out:
	free(pages[0]);
	free(pages[1]);
	cfg_free(&cfg);
	json_object_put(out);
	json_object_put(products);
	return rc;
}
