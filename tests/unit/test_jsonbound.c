/*
 * test_jsonbound.c — the memory bound of jsonbound.c against the heap
 * json-c really uses (glibc mallinfo2), for the pathological shapes of
 * issue 14 and for ordinary data; and jbound_parse's refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>

#include <cmocka.h>

#include "jsonbound.h"

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_MEASURABLE	0	/* ASan's allocator is not glibc's */
#else
#define HEAP_MEASURABLE	1
#endif

/* "[" el "," el ... "]" with n elements, or prefix/suffix around them. */
static char *
repeat(const char *pre, const char *el, size_t n, const char *post,
    size_t *len)
{
	size_t	 l = strlen(el), i, tot = strlen(pre) + n * (l + 1) +
		    strlen(post) + 1;
	char	*b = malloc(tot), *p = b;

	assert_non_null(b);
	p += sprintf(p, "%s", pre);
	for (i = 0; i < n; i++) {
		memcpy(p, el, l);
		p += l;
		if (i + 1 < n)
			*p++ = ',';
	}
	p += sprintf(p, "%s", post);
	*len = (size_t)(p - b);
	return b;
}

static size_t
heap_used(void)
{
	struct mallinfo2	 m = mallinfo2();

	return m.uordblks + m.hblkhd;
}

/* Heap held after json-c parsed b (tree and tokener still alive). */
static size_t
measure(const char *b, size_t len)
{
	struct json_tokener	*t;
	struct json_object	*o;
	size_t			 u0, u1;

	u0 = heap_used();
	t = json_tokener_new_ex(64);
	o = json_tokener_parse_ex(t, b, (int)len);
	u1 = heap_used();
	assert_non_null(o);
	json_object_put(o);
	json_tokener_free(t);
	return u1 > u0 ? u1 - u0 : 0;
}

static void
test_bound_table(void **state)
{
	static const struct {
		const char	*pre, *el, *post;
		size_t		 n;
	} rows[] = {
		{ "[", "{}", "]", 100000 },
		{ "[", "0", "]", 100000 },
		{ "[", "[]", "]", 100000 },
		{ "[", "[[[[]]]]", "]", 20000 },
		{ "[", "1.5e3", "]", 50000 },
		{ "[", "true", "]", 50000 },
		{ "[", "null", "]", 50000 },
		{ "[", "\"\"", "]", 50000 },
		{ "[", "{\"a\":0}", "]", 50000 },
		{ "[", "{\"a\":{\"b\":{}}}", "]", 20000 },
		{ "[", "{\"a\":0,\"b\":1,\"c\":2,\"d\":3,\"e\":4,\"f\":5,"
		    "\"g\":6,\"h\":7,\"i\":8,\"j\":9,\"k\":10,\"l\":11}",
		    "]", 10000 },
		{ "{\"products\":[", "{\"id\":1,\"title\":\"Essence "
		    "Mascara Lash Princess\",\"description\":\"The Essence "
		    "Mascara Lash Princess is a popular mascara known for its "
		    "volumizing and lengthening effects.\",\"price\":9.99,"
		    "\"tags\":[\"beauty\",\"mascara\"],\"rating\":4.94}",
		    "],\"total\":194}", 5000 },
		{ "{", "\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
		    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\":0",
		    "}", 1 },
		{ "[", "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "\"", "]", 20000 },
	};
	size_t	 i, len, cost, used;
	char	*b;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		b = repeat(rows[i].pre, rows[i].el, rows[i].n, rows[i].post,
		    &len);
		cost = jbound_cost(b, len, SIZE_MAX);
		if (HEAP_MEASURABLE) {
			used = measure(b, len);
			print_message("row %zu: %zu bytes of text, bound %zu, "
			    "heap %zu\n", i, len, cost, used);
			/* An upper bound, and not a wild one. */
			assert_true(cost >= used);
			assert_true(cost <= 2 * used + 128 * 1024);
		}
		/* Counting stops soon after the limit. */
		assert_true(jbound_cost(b, len, 4096) > 4096);
		free(b);
	}
}

/* Long keys and a string as long as the text: the tokener's buffer. */
static void
test_bound_long_tokens(void **state)
{
	size_t	 n = 1u << 20, len, cost;
	char	*b = malloc(n + 16);

	(void)state;
	assert_non_null(b);
	b[0] = '{';
	b[1] = '"';
	memset(b + 2, 'k', n);
	memcpy(b + 2 + n, "\":0}", 5);
	len = n + 6;
	cost = jbound_cost(b, len, SIZE_MAX);
	assert_true(cost >= 3 * n);	/* key copy + buffer twice the key */
	if (HEAP_MEASURABLE)
		assert_true(cost >= measure(b, len));
	free(b);
}

static void
test_parse_refusals(void **state)
{
	struct json_object	*o;
	char			 err[RS_ERRLEN];
	char			*b;
	size_t			 len;
	int			 syn;

	(void)state;
	/* 1 MiB of "[{},...]" is ~270 MiB of tree: refused up front. */
	b = repeat("[", "{}", 350000, "]", &len);
	assert_int_equal(jbound_parse(b, len, 64, 1u << 20, "upstream JSON",
	    &o, &syn, err), RS_ETOOBIG);
	assert_null(o);
	assert_int_equal(syn, 0);
	assert_string_equal(err, "upstream JSON would take more than 1048576 "
	    "bytes of memory to parse; ask for smaller pages");
	/* The same with a budget that fits parses. */
	assert_int_equal(jbound_parse(b, len, 64, 1u << 30, "upstream JSON",
	    &o, &syn, err), RS_OK);
	assert_int_equal(json_object_array_length(o), 350000);
	json_object_put(o);
	free(b);

	assert_int_equal(jbound_parse("\xef\xbb\xbf{\"a\":[1]}\n", 13, 64,
	    1u << 20, "x", &o, &syn, err), RS_OK);
	json_object_put(o);
	assert_int_equal(jbound_parse("{\"a\":1} x", 9, 64, 1u << 20,
	    "upstream JSON", &o, &syn, err), RS_EINPUT);
	assert_int_equal(syn, 1);
	assert_string_equal(err, "upstream JSON is not valid JSON");
	assert_int_equal(jbound_parse("[[[[1]]]]", 9, 3, 1u << 20,
	    "upstream JSON", &o, &syn, err), RS_EINPUT);
	assert_int_equal(syn, 0);
	assert_string_equal(err, "upstream JSON is nested deeper than 3");
	assert_int_equal(jbound_parse("", 0, 3, 1u << 20, "x", &o, &syn,
	    err), RS_EINPUT);
	assert_int_equal(syn, 1);
	/* Garbage never reads out of bounds (ASan) and ends. */
	assert_true(jbound_cost("\"abc\\", 5, SIZE_MAX) > 0);
	assert_true(jbound_cost("]]]}}}", 6, SIZE_MAX) > 0);
	assert_true(jbound_cost("{\"a\":", 5, SIZE_MAX) > 0);
	assert_true(jbound_cost("@@@", 3, SIZE_MAX) > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound_table),
		cmocka_unit_test(test_bound_long_tokens),
		cmocka_unit_test(test_parse_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
