/*
 * test_jsonpath.c — jp_check, jp_get and jp_collect against tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "jsonpath.h"

#define NROWS(a)	(sizeof(a) / sizeof((a)[0]))

static const char doc[] =
	"{\"products\":[{\"id\":1,\"title\":\"Mascara\",\"tags\":[\"beauty\","
	"\"mascara\"],\"dimensions\":{\"width\":15.14},\"reviews\":["
	"{\"comment\":\"Bad\",\"rating\":1},{\"rating\":5},"
	"{\"comment\":\"Good\",\"rating\":4}]},"
	"{\"id\":2,\"title\":\"Lipstick\",\"tags\":[],\"reviews\":[]}],"
	"\"total\":194,\"skip\":0,\"n\":null,\"a.b\":1,\"7\":\"seven\","
	"\"nest\":[[{\"x\":1},{\"x\":2}],[{\"x\":3}]],\"e\":{}}";

static struct json_object *
parse(const char *s)
{
	struct json_object	*o;

	o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

/* JSON text of o, "NULL" for a NULL pointer. */
static const char *
show(struct json_object *o)
{
	if (o == NULL)
		return "NULL";
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

static const struct check_row {
	const char	*path;
	int		 ok;
	const char	*errsub;
} check_rows[] = {
	{ "", 1, NULL },
	{ "$", 1, NULL },
	{ "a", 1, NULL },
	{ "$.a", 1, NULL },
	{ "a.b.c", 1, NULL },
	{ "a.0.-1", 1, NULL },
	{ "$.$", 1, NULL },
	{ "$a", 1, NULL },
	{ "a..b", 0, "empty segment" },
	{ ".a", 0, "empty segment" },
	{ "a.", 0, "empty segment" },
	{ "$.", 0, "empty segment" },
	{ ".", 0, "empty segment" },
	{ "$..a", 0, "empty segment" },
	{ NULL, 0, "missing" },
};

static void
test_check(void **state)
{
	const struct check_row	*r;
	char			 err[RS_ERRLEN];
	enum rs_status		 st;
	size_t			 i;

	(void)state;
	for (i = 0; i < NROWS(check_rows); i++) {
		r = &check_rows[i];
		err[0] = '\0';
		st = jp_check(r->path, err);
		if ((st == RS_OK) != r->ok)
			fail_msg("row %zu '%s': status %d", i,
			    r->path ? r->path : "(null)", st);
		if (r->errsub != NULL && strstr(err, r->errsub) == NULL)
			fail_msg("row %zu: err '%s' lacks '%s'", i, err,
			    r->errsub);
	}
	assert_int_equal(jp_check("a", NULL), RS_OK);
	assert_int_equal(jp_check("a..b", NULL), RS_EINPUT);
}

/* Path length and segment-count limits, built rather than tabled. */
static void
test_check_limits(void **state)
{
	struct json_object	*o;
	char			 p[CFG_MAX_PATH + 8], err[RS_ERRLEN];
	size_t			 i;

	(void)state;
	memset(p, 'a', CFG_MAX_PATH);
	p[CFG_MAX_PATH] = '\0';
	assert_int_equal(jp_check(p, err), RS_OK);
	p[CFG_MAX_PATH] = 'a';
	p[CFG_MAX_PATH + 1] = '\0';
	assert_int_equal(jp_check(p, err), RS_EINPUT);
	assert_non_null(strstr(err, "longer"));
	o = json_object_new_object();
	assert_null(jp_get(o, p));
	assert_int_equal(jp_collect(o, p, NULL, NULL), -1);
	json_object_put(o);

	/* JP_MAX_DEPTH segments "a.a...a" pass, one more does not. */
	for (i = 0; i < JP_MAX_DEPTH; i++) {
		p[2 * i] = 'a';
		p[2 * i + 1] = '.';
	}
	p[2 * JP_MAX_DEPTH - 1] = '\0';
	assert_int_equal(jp_check(p, err), RS_OK);
	p[2 * JP_MAX_DEPTH - 1] = '.';
	p[2 * JP_MAX_DEPTH] = 'a';
	p[2 * JP_MAX_DEPTH + 1] = '\0';
	assert_int_equal(jp_check(p, err), RS_EINPUT);
	assert_non_null(strstr(err, "segments"));
}

static const struct get_row {
	const char	*json;		/* NULL: doc */
	const char	*path;
	const char	*want;		/* JSON text, or NULL for no value */
} get_rows[] = {
	{ NULL, "total", "194" },
	{ NULL, "$.total", "194" },
	{ NULL, "skip", "0" },
	{ NULL, "products.0.title", "\"Mascara\"" },
	{ NULL, "products.1.title", "\"Lipstick\"" },
	{ NULL, "products.-1.title", "\"Lipstick\"" },
	{ NULL, "products.-2.id", "1" },
	{ NULL, "products.-3.id", NULL },
	{ NULL, "products.2", NULL },
	{ NULL, "products.99999999999999999999", NULL },
	{ NULL, "products.-99999999999999999999", NULL },
	{ NULL, "products.0.tags", "[\"beauty\",\"mascara\"]" },
	{ NULL, "products.0.tags.1", "\"mascara\"" },
	{ NULL, "products.0.dimensions.width", "15.14" },
	{ NULL, "products.0.reviews.0.comment", "\"Bad\"" },
	{ NULL, "products.0.reviews.1.comment", NULL },
	/* jp_get never fans out: a name on an array is a miss. */
	{ NULL, "products.title", NULL },
	/* An index on an object is a miss, even with a member "7". */
	{ NULL, "7", NULL },
	{ NULL, "n", NULL },
	{ NULL, "n.x", NULL },
	{ NULL, "missing", NULL },
	{ NULL, "total.x", NULL },
	{ NULL, "total.0", NULL },
	{ NULL, "a.b", NULL },
	{ NULL, "e", "{}" },
	{ NULL, "a..b", NULL },
	{ "[10,20,30]", "0", "10" },
	{ "[10,20,30]", "-1", "30" },
	{ "[10,20,30]", "-0", "10" },
	{ "[10,20,30]", "$.2", "30" },
	{ "[10,20,30]", "3", NULL },
	{ "[10,20,30]", "-4", NULL },
	{ "[[1,2],[3,4]]", "1.0", "3" },
	{ "{\"-\":1,\"1e2\":2,\"01\":3}", "-", "1" },
	{ "{\"-\":1,\"1e2\":2,\"01\":3}", "1e2", "2" },
	{ "{\"x\":[5,6]}", "x.01", "6" },
	{ "{\"$\":{\"a\":1}}", "$.$.a", "1" },
	{ "{\"a\":1}", "$", "{\"a\":1}" },
	{ "{\"a\":1}", "", "{\"a\":1}" },
	{ "null", "$", NULL },
	{ "\"s\"", "a", NULL },
};

static void
test_get(void **state)
{
	const struct get_row	*r;
	struct json_object	*root, *d, *v;
	const char		*got;
	size_t			 i;

	(void)state;
	d = parse(doc);
	for (i = 0; i < NROWS(get_rows); i++) {
		r = &get_rows[i];
		root = r->json == NULL ? json_object_get(d) :
		    json_tokener_parse(r->json);
		v = jp_get(root, r->path);
		got = show(v);
		if (strcmp(got, r->want == NULL ? "NULL" : r->want) != 0)
			fail_msg("row %zu '%s': got %s, want %s", i, r->path,
			    got, r->want == NULL ? "NULL" : r->want);
		json_object_put(root);
	}
	json_object_put(d);
	assert_null(jp_get(NULL, "a"));
	assert_null(jp_get(NULL, "$"));
}

static int
gather(struct json_object *v, void *arg)
{
	json_object_array_add(arg, json_object_get(v));
	return 0;
}

static const struct collect_row {
	const char	*json;		/* NULL: doc */
	const char	*path;
	const char	*want;		/* yielded values as an array, "ERR"
					   for -1, NULL for none, "" for one */
} collect_rows[] = {
	{ NULL, "total", "[194]" },
	{ NULL, "products.title", "[\"Mascara\",\"Lipstick\"]" },
	{ NULL, "products.id", "[1,2]" },
	{ NULL, "products.reviews.comment", "[\"Bad\",\"Good\"]" },
	{ NULL, "products.reviews.rating", "[1,5,4]" },
	{ NULL, "products.0.reviews.comment", "[\"Bad\",\"Good\"]" },
	/* Fan-out, then an index into each product's reviews. */
	{ NULL, "products.reviews.-1.comment", "[\"Good\"]" },
	{ NULL, "products.reviews.0.comment", "[\"Bad\"]" },
	{ NULL, "products.reviews.1.comment", NULL },
	/* A final array is one value; an empty one is still yielded. */
	{ NULL, "products.tags", "[[\"beauty\",\"mascara\"],[]]" },
	{ NULL, "products.0.tags", "[[\"beauty\",\"mascara\"]]" },
	{ NULL, "products.dimensions.width", "[15.14]" },
	/* Nested arrays fan out all the way down for a name. */
	{ NULL, "nest.x", "[1,2,3]" },
	{ NULL, "nest.1.x", "[3]" },
	{ NULL, "nest.0.1.x", "[2]" },
	{ NULL, "n", "[]" },
	{ NULL, "missing", "[]" },
	{ NULL, "products.missing", "[]" },
	{ NULL, "7", "[]" },
	{ NULL, "$", "" },	/* whole document: checked as non-empty */
	{ NULL, "a..b", "ERR" },
	{ "[1,null,3]", "$", "[[1,null,3]]" },
	{ "[{\"a\":null},{\"a\":0},{\"b\":1},7,{\"a\":false}]", "a",
	  "[0,false]" },
	{ "null", "$", "[]" },
};

static void
test_collect(void **state)
{
	const struct collect_row	*r;
	struct json_object		*root, *d, *acc;
	const char			*got;
	size_t				 i;
	int				 rc;

	(void)state;
	d = parse(doc);
	for (i = 0; i < NROWS(collect_rows); i++) {
		r = &collect_rows[i];
		root = r->json == NULL ? json_object_get(d) :
		    json_tokener_parse(r->json);
		acc = json_object_new_array();
		rc = jp_collect(root, r->path, gather, acc);
		got = rc == -1 ? "ERR" : show(acc);
		if (r->want == NULL && strcmp(got, "[]") != 0)
			fail_msg("row %zu '%s': got %s, want []", i, r->path,
			    got);
		else if (r->want != NULL && r->want[0] == '\0' &&
		    json_object_array_length(acc) != 1)
			fail_msg("row %zu '%s': got %s", i, r->path, got);
		else if (r->want != NULL && r->want[0] != '\0' &&
		    strcmp(got, r->want) != 0)
			fail_msg("row %zu '%s': got %s, want %s", i, r->path,
			    got, r->want);
		json_object_put(acc);
		json_object_put(root);
	}
	json_object_put(d);
	assert_int_equal(jp_collect(NULL, "a", gather, NULL), 0);
}

static int
stop_at_second(struct json_object *v, void *arg)
{
	int	*n = arg;

	(void)v;
	return ++*n == 2 ? 42 : 0;
}

static int
count(struct json_object *v, void *arg)
{
	(void)v;
	++*(size_t *)arg;
	return 0;
}

static void
test_collect_stop_and_cap(void **state)
{
	struct json_object	*root, *a, *o;
	size_t			 i, n = 0;
	int			 seen = 0;

	(void)state;
	root = parse(doc);
	assert_int_equal(jp_collect(root, "products.reviews.rating",
	    stop_at_second, &seen), 42);
	assert_int_equal(seen, 2);
	json_object_put(root);

	/* JP_MAX_VISIT values are fine, one more is refused. */
	a = json_object_new_array_ext(JP_MAX_VISIT + 1);
	for (i = 0; i < JP_MAX_VISIT; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "v", json_object_new_int(1));
		json_object_array_add(a, o);
	}
	assert_int_equal(jp_collect(a, "v", count, &n), 0);
	assert_int_equal(n, JP_MAX_VISIT);
	o = json_object_new_object();
	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_array_add(a, o);
	n = 0;
	assert_int_equal(jp_collect(a, "v", count, &n), -1);
	assert_int_equal(n, JP_MAX_VISIT);
	json_object_put(a);
}

/* Arrays nested far deeper than any parser allows do not blow the stack. */
static void
test_collect_deep(void **state)
{
	struct json_object	*root, *a;
	size_t			 i, n = 0;

	(void)state;
	root = json_object_new_array();
	for (a = root, i = 0; i < 10000; i++) {
		json_object_array_add(a, json_object_new_array());
		a = json_object_array_get_idx(a, 0);
	}
	assert_int_equal(jp_collect(root, "x", count, &n), -1);
	assert_int_equal(n, 0);
	json_object_put(root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_check_limits),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_collect),
		cmocka_unit_test(test_collect_stop_and_cap),
		cmocka_unit_test(test_collect_deep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
