/*
 * test_normalize.c — norm_item, norm_title and norm_utf8 against tables.
 */
#include <setjmp.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "normalize.h"

#define NROWS(a)	(sizeof(a) / sizeof((a)[0]))
#define FFFD		"\xef\xbf\xbd"

/* One DummyJSON /products item, trimmed. */
#define PRODUCT "{\"id\":1,\"title\":\"Essence Mascara Lash Princess\"," \
	"\"description\":\"The Essence Mascara Lash Princess is a popular " \
	"mascara.\",\"category\":\"beauty\",\"price\":9.99," \
	"\"discountPercentage\":10.48,\"stock\":99,\"tags\":[\"beauty\"," \
	"\"mascara\"],\"brand\":\"Essence\",\"weight\":4,\"dimensions\":" \
	"{\"width\":15.14,\"height\":13.08,\"depth\":22.99},\"reviews\":[" \
	"{\"rating\":3,\"comment\":\"Would not recommend!\"},{\"rating\":4," \
	"\"comment\":\"Very satisfied!\"},{\"rating\":5}],\"meta\":{" \
	"\"barcode\":\"5784719087687\"},\"images\":[]}"

/*
 * Splits a comma-separated field list into cfg (pointing into buf).
 * Test paths never contain commas.
 */
static void
mkcfg(struct source_config *cfg, char *buf, size_t bufsz, char **fields,
    size_t maxf, const char *list)
{
	char	*p, *save = NULL;

	memset(cfg, 0, sizeof(*cfg));
	assert_true(strlen(list) < bufsz);
	strcpy(buf, list);
	cfg->text_fields = fields;
	for (p = strtok_r(buf, ",", &save); p != NULL;
	    p = strtok_r(NULL, ",", &save)) {
		assert_true(cfg->ntext_fields < maxf);
		fields[cfg->ntext_fields++] = p;
	}
}

static const struct item_row {
	const char	*item;
	const char	*fields;
	const char	*want;
} item_rows[] = {
	{ PRODUCT, "title,description,brand,category,tags",
	  "title: Essence Mascara Lash Princess\n"
	  "description: The Essence Mascara Lash Princess is a popular "
	  "mascara.\n"
	  "brand: Essence\n"
	  "category: beauty\n"
	  "tags: beauty, mascara" },
	/* Missing, null, empty and blank values drop their line. */
	{ "{\"title\":\"T\",\"category\":\"c\"}", "title,brand,category",
	  "title: T\ncategory: c" },
	{ "{\"a\":null,\"b\":\"\",\"c\":\"  \\n\\t \",\"d\":[],\"e\":{},"
	  "\"f\":[null,\"\",\" \"],\"g\":{\"x\":null,\"y\":\"\"}}",
	  "a,b,c,d,e,f,g,h", "" },
	{ "{\"title\":\"T\"}", "brand", "" },
	/* Nested members, whole objects, fan-out. */
	{ PRODUCT, "dimensions.width", "dimensions.width: 15.14" },
	{ PRODUCT, "dimensions",
	  "dimensions: width: 15.14; height: 13.08; depth: 22.99" },
	{ PRODUCT, "reviews.comment",
	  "reviews.comment: Would not recommend!, Very satisfied!" },
	{ PRODUCT, "reviews.rating", "reviews.rating: 3, 4, 5" },
	{ PRODUCT, "reviews.0.comment", "reviews.0.comment: Would not recommend!" },
	{ PRODUCT, "reviews.-1",
	  "reviews.-1: rating: 5" },
	{ PRODUCT, "$.meta.barcode", "$.meta.barcode: 5784719087687" },
	{ PRODUCT, "images,weight", "weight: 4" },
	{ "{\"r\":[{\"c\":[\"a\",\"b\"]},{\"c\":[]},{\"c\":\"d\"}]}", "r.c",
	  "r.c: a, b, d" },
	{ "{\"m\":{\"a\":1,\"b\":{\"c\":\"x\",\"n\":null},\"d\":[1,[2,3]],"
	  "\"e\":null,\"f\":\"\",\"g\":[{\"h\":true},{\"h\":false}]}}", "m",
	  "m: a: 1; b: c: x; d: 1, 2, 3; g: h: true, h: false" },
	/* Numbers and booleans in their JSON spelling. */
	{ PRODUCT, "price,stock,discountPercentage",
	  "price: 9.99\nstock: 99\ndiscountPercentage: 10.48" },
	{ "{\"a\":99.0,\"b\":-0.0,\"c\":1e3,\"d\":1.5e-7,\"e\":-42,"
	  "\"f\":12345678901234567890,\"g\":9223372036854775807,"
	  "\"h\":-9223372036854775808,\"i\":0.1,\"j\":1e300,\"k\":0}",
	  "a,b,c,d,e,f,g,h,i,j,k",
	  "a: 99\nb: 0\nc: 1000\nd: 1.5e-07\ne: -42\n"
	  "f: 12345678901234567890\ng: 9223372036854775807\n"
	  "h: -9223372036854775808\ni: 0.1\nj: 1e+300\nk: 0" },
	{ "{\"t\":true,\"f\":false,\"l\":[true,false,null]}", "t,f,l",
	  "t: true\nf: false\nl: true, false" },
	/* Trimming, line breaks, controls. */
	{ "{\"s\":\"  padded \\t\",\"l\":[\" beauty \",\"mascara\\n\"]}",
	  "s,l", "s: padded\nl: beauty, mascara" },
	{ "{\"s\":\"one\\r\\ntwo\\rthree\\nfour\"}", "s",
	  "s: one\ntwo\nthree\nfour" },
	{ "{\"s\":\"a\\u0001b\\u007fc\\u0000d\\te\\u001b[0m\"}", "s",
	  "s: abcd\te[0m" },
	{ "{\"s\":\"\\u0007\\u0008\"}", "s", "" },
	/* Valid UTF-8 passes through; escapes decode to it. */
	{ "{\"s\":\"h\xc3\xa9llo \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac "
	  "\xf0\x9f\x8e\x89\"}", "s",
	  "s: h\xc3\xa9llo \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac "
	  "\xf0\x9f\x8e\x89" },
	{ "{\"s\":\"\\u00e9\\ud83c\\udf89\"}", "s",
	  "s: \xc3\xa9\xf0\x9f\x8e\x89" },
	/* A lone surrogate escape: json-c already substitutes U+FFFD. */
	{ "{\"s\":\"a\\ud800b\"}", "s", "s: a" FFFD "b" },
	/* Keys are sanitised too; an empty key shows the value alone. */
	{ "{\"o\":{\"k\\u0001ey\":1,\"\":2}}", "o", "o: key: 1; 2" },
	/* The whole item. */
	{ "{\"a\":1,\"b\":[\"x\",\"y\"]}", "$", "$: a: 1; b: x, y" },
	{ "[1,2]", "$", "$: 1, 2" },
	{ "\"just text\"", "$", "$: just text" },
};

static void
test_items(void **state)
{
	const struct item_row	*r;
	struct source_config	 cfg;
	struct json_object	*item;
	struct rs_buf		 out;
	char			 buf[512], *fields[16], err[RS_ERRLEN];
	size_t			 i;

	(void)state;
	rs_buf_init(&out, NORM_MAX_TEXT);
	for (i = 0; i < NROWS(item_rows); i++) {
		r = &item_rows[i];
		mkcfg(&cfg, buf, sizeof(buf), fields, 16, r->fields);
		if ((item = json_tokener_parse(r->item)) == NULL &&
		    strcmp(r->item, "null") != 0)
			fail_msg("row %zu: bad item JSON", i);
		err[0] = '\0';
		if (norm_item(item, &cfg, &out, err) != RS_OK)
			fail_msg("row %zu: %s", i, err);
		if (strcmp(out.p ? out.p : "", r->want) != 0 ||
		    out.len != strlen(r->want))
			fail_msg("row %zu:\n got [%s]\nwant [%s]", i,
			    out.p ? out.p : "", r->want);
		json_object_put(item);
	}
	rs_buf_free(&out);
}

/* Strings with bytes json-c would not produce from text. */
static const struct raw_row {
	const char	*s;
	size_t		 len;
	const char	*want;
} raw_rows[] = {
	{ "ab\xff" "cd", 5, "s: ab" FFFD "cd" },
	{ "\xc0\xaf", 2, "s: " FFFD FFFD },
	{ "x\xe2\x82", 3, "s: x" FFFD },
	{ "x\xed\xa0\x80y", 5, "s: x" FFFD FFFD FFFD "y" },
	{ "a\0b", 3, "s: ab" },
	{ "\0\0\0", 3, "" },
	{ "  \xf4\x90\x80\x80  ", 8, "s: " FFFD FFFD FFFD FFFD },
};

static void
test_items_raw(void **state)
{
	const struct raw_row	*r;
	struct source_config	 cfg;
	struct json_object	*item;
	struct rs_buf		 out;
	char			 buf[16], *fields[2], err[RS_ERRLEN];
	size_t			 i;

	(void)state;
	rs_buf_init(&out, NORM_MAX_TEXT);
	mkcfg(&cfg, buf, sizeof(buf), fields, 2, "s");
	for (i = 0; i < NROWS(raw_rows); i++) {
		r = &raw_rows[i];
		item = json_object_new_object();
		json_object_object_add(item, "s",
		    json_object_new_string_len(r->s, (int)r->len));
		assert_int_equal(norm_item(item, &cfg, &out, err), RS_OK);
		if (out.len != strlen(r->want) ||
		    memcmp(out.p, r->want, out.len) != 0)
			fail_msg("row %zu: got [%s] want [%s]", i, out.p,
			    r->want);
		json_object_put(item);
	}

	/* Doubles json-c did not parse have no original text to reuse. */
	item = json_object_new_object();
	json_object_object_add(item, "s", json_object_new_double(9.99));
	assert_int_equal(norm_item(item, &cfg, &out, err), RS_OK);
	assert_string_equal(out.p, "s: 9.99");
	json_object_object_add(item, "s", json_object_new_double(99.0));
	assert_int_equal(norm_item(item, &cfg, &out, err), RS_OK);
	assert_string_equal(out.p, "s: 99");
	json_object_object_add(item, "s", json_object_new_double(NAN));
	assert_int_equal(norm_item(item, &cfg, &out, err), RS_OK);
	assert_int_equal(out.len, 0);
	json_object_put(item);
	rs_buf_free(&out);
}

/*
 * Eight levels of containers are rendered (the field's value is level 0);
 * deeper ones are skipped: {"n":0,"a":{"n":1,"a":{...}}} shows n: 0..7.
 */
static void
test_depth(void **state)
{
	struct source_config	 cfg;
	struct json_object	*item, *o, *in;
	struct rs_buf		 out;
	char			 buf[8], *fields[1], err[RS_ERRLEN];
	int			 i;

	(void)state;
	item = json_object_new_object();
	for (o = item, i = 0; i < 20; i++) {
		in = json_object_new_object();
		json_object_object_add(in, "n", json_object_new_int(i));
		json_object_object_add(o, "a", in);
		o = in;
	}
	mkcfg(&cfg, buf, sizeof(buf), fields, 1, "a");
	rs_buf_init(&out, NORM_MAX_TEXT);
	assert_int_equal(norm_item(item, &cfg, &out, err), RS_OK);
	assert_string_equal(out.p, "a: n: 0; a: n: 1; a: n: 2; a: n: 3; "
	    "a: n: 4; a: n: 5; a: n: 6; a: n: 7");
	json_object_put(item);
	rs_buf_free(&out);
}

static void
test_caps(void **state)
{
	struct source_config	 cfg;
	struct json_object	*item;
	struct rs_buf		 out;
	char			 buf[8], *fields[2], err[RS_ERRLEN];
	char			*big;
	size_t			 n;

	(void)state;
	mkcfg(&cfg, buf, sizeof(buf), fields, 2, "s,t");
	item = json_tokener_parse("{\"s\":\"0123456789\",\"t\":\"abcdef\"}");
	assert_non_null(item);

	/* A small buffer: hitting its cap is RS_EINPUT, text left empty. */
	rs_buf_init(&out, 16);
	assert_int_equal(norm_item(item, &cfg, &out, err), RS_EINPUT);
	assert_non_null(strstr(err, "exceeds"));
	assert_int_equal(out.len, 0);
	assert_int_equal(out.max, 16);
	rs_buf_free(&out);
	json_object_put(item);

	/* One string over NORM_MAX_TEXT with a buffer that could take it. */
	n = NORM_MAX_TEXT + 1;
	big = malloc(n);
	assert_non_null(big);
	memset(big, 'x', n);
	item = json_object_new_object();
	json_object_object_add(item, "s", json_object_new_string_len(big,
	    (int)n));
	rs_buf_init(&out, 2 * NORM_MAX_TEXT);
	assert_int_equal(norm_item(item, &cfg, &out, err), RS_EINPUT);
	assert_int_equal(out.len, 0);
	assert_int_equal(out.max, 2 * NORM_MAX_TEXT);

	/* Exactly NORM_MAX_TEXT bytes of text fit. */
	json_object_object_add(item, "s", json_object_new_string_len(big,
	    (int)(NORM_MAX_TEXT - 3)));
	if (norm_item(item, &cfg, &out, err) != RS_OK)
		fail_msg("%s", err);
	assert_int_equal(out.len, NORM_MAX_TEXT);
	rs_buf_free(&out);
	json_object_put(item);
	free(big);
}

static const struct title_row {
	const char	*item;
	const char	*field;		/* NULL: no titleField */
	size_t		 sz;		/* 0: NORM_MAX_TITLE */
	const char	*want;
} title_rows[] = {
	{ PRODUCT, "title", 0, "Essence Mascara Lash Princess" },
	{ PRODUCT, NULL, 0, "" },
	{ PRODUCT, "missing", 0, "" },
	{ PRODUCT, "dimensions", 0, "" },
	{ PRODUCT, "tags", 0, "" },
	{ PRODUCT, "tags.1", 0, "mascara" },
	{ PRODUCT, "stock", 0, "99" },
	{ PRODUCT, "price", 0, "9.99" },
	{ "{\"t\":true}", "t", 0, "true" },
	{ "{\"t\":null}", "t", 0, "" },
	{ "{\"t\":\"  \"}", "t", 0, "" },
	{ "{\"t\":\"  A \\n\\t B\\r\\n  C  \"}", "t", 0, "A B C" },
	{ "{\"t\":\"a\\u0000\\u0001b\"}", "t", 0, "ab" },
	{ "{\"t\":\"h\xc3\xa9llo\"}", "t", 4, "h\xc3\xa9" },
	{ "{\"t\":\"h\xc3\xa9llo\"}", "t", 3, "h" },
	{ "{\"t\":\"h\xc3\xa9llo\"}", "t", 2, "h" },
	{ "{\"t\":\"h\xc3\xa9llo\"}", "t", 1, "" },
	{ "{\"t\":\"ab cd\"}", "t", 4, "ab" },
	{ "{\"t\":\"\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89\"}", "t", 8,
	  "\xf0\x9f\x8e\x89" },
};

static void
test_title(void **state)
{
	const struct title_row	*r;
	struct source_config	 cfg;
	struct json_object	*item;
	char			 t[NORM_MAX_TITLE], fb[16];
	size_t			 i;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	for (i = 0; i < NROWS(title_rows); i++) {
		r = &title_rows[i];
		item = json_tokener_parse(r->item);
		assert_non_null(item);
		cfg.title_field = NULL;
		if (r->field != NULL) {
			snprintf(fb, sizeof(fb), "%s", r->field);
			cfg.title_field = fb;
		}
		memset(t, 'X', sizeof(t));
		norm_title(item, &cfg, t, r->sz ? r->sz : sizeof(t));
		if (strcmp(t, r->want) != 0)
			fail_msg("row %zu: got [%s] want [%s]", i, t, r->want);
		json_object_put(item);
	}
}

/* Long titles are cut to NORM_MAX_TITLE - 1 bytes on a UTF-8 boundary. */
static void
test_title_long(void **state)
{
	struct source_config	 cfg;
	struct json_object	*item;
	char			 t[2 * NORM_MAX_TITLE], fb[] = "t";
	char			 s[4 * NORM_MAX_TITLE * 8];
	size_t			 n;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.title_field = fb;

	memset(s, 'a', 600);
	item = json_object_new_object();
	json_object_object_add(item, "t", json_object_new_string_len(s, 600));
	norm_title(item, &cfg, t, sizeof(t));
	assert_int_equal(strlen(t), NORM_MAX_TITLE - 1);

	/* 510 ASCII then "é": the two-byte sequence does not fit. */
	memcpy(s + NORM_MAX_TITLE - 2, "\xc3\xa9", 2);
	json_object_object_add(item, "t", json_object_new_string_len(s,
	    NORM_MAX_TITLE));
	norm_title(item, &cfg, t, sizeof(t));
	assert_int_equal(strlen(t), NORM_MAX_TITLE - 2);

	/* A very long string of 4-byte sequences, cut mid-sequence too. */
	for (n = 0; n + 4 <= sizeof(s); n += 4)
		memcpy(s + n, "\xf0\x9f\x8e\x89", 4);
	json_object_object_add(item, "t", json_object_new_string_len(s,
	    (int)sizeof(s) - 1));
	norm_title(item, &cfg, t, sizeof(t));
	assert_int_equal(strlen(t), (NORM_MAX_TITLE - 1) / 4 * 4);
	assert_null(strstr(t, FFFD));

	/*
	 * Only the first 4 KiB are looked at: blanks up to there, then an
	 * emoji across the cut, give "" (not a stray U+FFFD).
	 */
	memset(s, ' ', 8 * NORM_MAX_TITLE - 2);
	for (n = 8 * NORM_MAX_TITLE - 2; n + 4 <= sizeof(s); n += 4)
		memcpy(s + n, "\xf0\x9f\x8e\x89", 4);
	json_object_object_add(item, "t", json_object_new_string_len(s,
	    (int)sizeof(s) - 1));
	norm_title(item, &cfg, t, sizeof(t));
	assert_string_equal(t, "");

	/* Invalid bytes become U+FFFD. */
	json_object_object_add(item, "t", json_object_new_string_len(
	    "a\xff" "b", 3));
	norm_title(item, &cfg, t, sizeof(t));
	assert_string_equal(t, "a" FFFD "b");
	json_object_put(item);

	/* titlesz 0 leaves the buffer alone. */
	t[0] = 'Z';
	norm_title(NULL, &cfg, t, 0);
	assert_int_equal(t[0], 'Z');
}

static const struct utf8_row {
	const char	*in;
	size_t		 len;
	const char	*want;
} utf8_rows[] = {
	{ "", 0, "" },
	{ "abc", 3, "abc" },
	{ "\xc3\xa9", 2, "\xc3\xa9" },
	{ "\xe2\x82\xac", 3, "\xe2\x82\xac" },
	{ "\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80" },
	{ "\xf4\x8f\xbf\xbf", 4, "\xf4\x8f\xbf\xbf" },	/* U+10FFFF */
	{ "\xed\x9f\xbf", 3, "\xed\x9f\xbf" },		/* U+D7FF */
	{ "\xee\x80\x80", 3, "\xee\x80\x80" },		/* U+E000 */
	{ "\xc2\x80", 2, "\xc2\x80" },			/* C1 kept */
	{ "\xef\xbb\xbf", 3, "\xef\xbb\xbf" },		/* BOM kept */
	{ "\xef\xbf\xbe", 3, "\xef\xbf\xbe" },		/* U+FFFE kept */
	/* Overlongs. */
	{ "\xc0\xaf", 2, FFFD FFFD },
	{ "\xc1\xbf", 2, FFFD FFFD },
	{ "\xe0\x80\xaf", 3, FFFD FFFD FFFD },
	{ "\xe0\x9f\xbf", 3, FFFD FFFD FFFD },
	{ "\xf0\x80\x80\xaf", 4, FFFD FFFD FFFD FFFD },
	{ "\xf0\x8f\xbf\xbf", 4, FFFD FFFD FFFD FFFD },
	/* Surrogates, and beyond U+10FFFF. */
	{ "\xed\xa0\x80", 3, FFFD FFFD FFFD },
	{ "\xed\xbf\xbf", 3, FFFD FFFD FFFD },
	{ "\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD },
	{ "\xf5\x80\x80\x80", 4, FFFD FFFD FFFD FFFD },
	{ "\xf8\x88\x80\x80\x80", 5, FFFD FFFD FFFD FFFD FFFD },
	{ "\xfe\xff", 2, FFFD FFFD },
	/* Stray continuations and truncated sequences. */
	{ "\x80", 1, FFFD },
	{ "a\xbf" "b", 3, "a" FFFD "b" },
	{ "\xc3", 1, FFFD },
	{ "a\xe2\x82", 3, "a" FFFD },
	{ "\xe2\x82" "a", 3, FFFD "a" },
	{ "\xf0\x9f\x98", 3, FFFD },
	{ "\xf0\x9f\x98" "\xf0\x9f\x98\x80", 7, FFFD "\xf0\x9f\x98\x80" },
	{ "\xc3\xc3\xa9", 3, FFFD "\xc3\xa9" },
	{ "\xe2\x28\xa1", 3, FFFD "(" FFFD },
	/* Line breaks and controls. */
	{ "a\r\nb", 4, "a\nb" },
	{ "a\rb", 3, "a\nb" },
	{ "a\r", 2, "a\n" },
	{ "\r\r\n\n", 4, "\n\n\n" },
	{ "\t\n", 2, "\t\n" },
	{ "a\0b", 3, "ab" },
	{ "\x01\x08\x0b\x0c\x1b\x1f\x7f", 7, "" },
	{ "x\x7fy", 3, "xy" },
};

static void
test_utf8(void **state)
{
	const struct utf8_row	*r;
	struct rs_buf		 out;
	size_t			 i;

	(void)state;
	rs_buf_init(&out, 1024);
	for (i = 0; i < NROWS(utf8_rows); i++) {
		r = &utf8_rows[i];
		rs_buf_reset(&out);
		/* Appends after what is there. */
		assert_int_equal(rs_buf_puts(&out, "<"), 0);
		assert_int_equal(norm_utf8(&out, r->in, r->len), 0);
		if (out.len != strlen(r->want) + 1 ||
		    memcmp(out.p + 1, r->want, out.len - 1) != 0)
			fail_msg("row %zu: got [%s] want [%s]", i, out.p + 1,
			    r->want);
	}
	rs_buf_free(&out);

	/* Over the cap: -1. */
	rs_buf_init(&out, 4);
	assert_int_equal(norm_utf8(&out, "abcd", 4), 0);
	assert_int_equal(norm_utf8(&out, "e", 1), -1);
	rs_buf_reset(&out);
	assert_int_equal(norm_utf8(&out, "ab\xff", 3), -1);
	rs_buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_items),
		cmocka_unit_test(test_items_raw),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_title),
		cmocka_unit_test(test_title_long),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
