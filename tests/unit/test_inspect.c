/*
 * test_inspect.c — the pure parts of inspect.c: the rest-items query
 * string (a table of query strings and what they give), the top-k heap
 * against a full sort, PostgreSQL's binary float4[] and the cosine.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inspect.h"

#define SRC	"0f0e0d0c-0b0a-4908-8706-050403020100"

static const struct {
	const char	*qs;
	int		 ok;
	const char	*after, *key;
	int		 limit;
	const char	*msg;	/* a part of the message */
} rows[] = {
	{ "sourceId=" SRC, 1, "", "", INSP_ITEMS_DEFAULT, NULL },
	{ "sourceId=" SRC "&limit=7&after=id%3A12", 1, "id:12", "", 7, NULL },
	{ "after=a+b%2Bc&sourceId=" SRC, 1, "a b+c", "", 50, NULL },
	{ "sourceId=" SRC "&key=text%3Aabc", 1, "", "text:abc", 50, NULL },
	{ "sourceId=" SRC "&limit=200", 1, "", "", 200, NULL },
	{ "", 0, "", "", 50, "'sourceId' is required" },
	{ "sourceId=nope", 0, "", "", 50, "'sourceId' must be a UUID" },
	{ "sourceId=" SRC "&limit=0", 0, "", "", 50, "'limit'" },
	{ "sourceId=" SRC "&limit=201", 0, "", "", 50, "'limit'" },
	{ "sourceId=" SRC "&limit=07", 0, "", "", 50, "'limit'" },
	{ "sourceId=" SRC "&after=%zz", 0, "", "", 50, "'after'" },
	{ "sourceId=" SRC "&after=%4", 0, "", "", 50, "'after'" },
	{ "sourceId=" SRC "&after=%00", 0, "", "", 50, "'after'" },
	{ "sourceId=" SRC "&key=", 0, "", "", 50, "'key' must not be empty" },
	{ "sourceId=" SRC "&key=a&limit=3", 0, "", "", 50, "cannot be combined" },
	{ "sourceId=" SRC "&sourceId=" SRC, 0, "", "", 50, "given twice" },
	{ "sourceId=" SRC "&x=1", 0, "", "", 50, "unknown parameter 'x'" },
	{ "sourceId=" SRC "&flag", 0, "", "", 50, "name=value" },
	{ "sourceId=" SRC "&", 0, "", "", 50, "name=value" },
};

static void
test_query_table(void **state)
{
	struct insp_items_query	 q;
	char			 err[RS_ERRLEN];
	size_t			 i;
	enum rs_status		 st;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		err[0] = '\0';
		st = insp_parse_items_query(rows[i].qs, &q, err);
		if (rows[i].ok) {
			assert_int_equal(st, RS_OK);
			assert_string_equal(q.source_id, SRC);
			assert_string_equal(q.after, rows[i].after);
			assert_string_equal(q.key, rows[i].key);
			assert_int_equal(q.limit, rows[i].limit);
		} else {
			assert_int_equal(st, RS_EINPUT);
			assert_non_null(strstr(err, rows[i].msg));
			assert_string_equal(q.source_id, "");
		}
	}
}

static void
test_query_long_key(void **state)
{
	struct insp_items_query	 q;
	char			 qs[1400], err[RS_ERRLEN];

	(void)state;
	(void)snprintf(qs, sizeof(qs), "sourceId=%s&after=", SRC);
	memset(qs + strlen(qs), 'k', INSP_KEY_MAX);
	qs[strlen("sourceId=&after=") + 36 + INSP_KEY_MAX] = '\0';
	assert_int_equal(insp_parse_items_query(qs, &q, err), RS_OK);
	assert_int_equal(strlen(q.after), INSP_KEY_MAX);
	(void)strcat(qs, "k");
	assert_int_equal(insp_parse_items_query(qs, &q, err), RS_EINPUT);
}

static int
cmp_desc(const void *a, const void *b)
{
	float	 x = *(const float *)a, y = *(const float *)b;

	return x > y ? -1 : x < y;
}

static void
test_topk(void **state)
{
	struct insp_topk	 t;
	unsigned char		 id[16];
	float			 all[1000];
	int			 i, k, trial;

	(void)state;
	srand(7);
	for (trial = 0; trial < 20; trial++) {
		k = trial % 2 ? 1 + trial : INSP_K_MAX;
		insp_topk_init(&t, k);
		for (i = 0; i < 1000; i++) {
			all[i] = (float)rand() / (float)RAND_MAX * 2 - 1;
			memset(id, 0, sizeof(id));
			memcpy(id, &i, sizeof(i));
			insp_topk_add(&t, id, all[i]);
		}
		insp_topk_sort(&t);
		qsort(all, 1000, sizeof(all[0]), cmp_desc);
		assert_int_equal(t.n, k);
		for (i = 0; i < k; i++)
			assert_true(t.h[i].score == all[i]);
	}
	/* Fewer rows than k. */
	insp_topk_init(&t, 10);
	memset(id, 1, sizeof(id));
	insp_topk_add(&t, id, 0.5f);
	insp_topk_sort(&t);
	assert_int_equal(t.n, 1);
}

/* A PostgreSQL binary float4[] of n values. */
static size_t
pg_array(unsigned char *p, const float *v, uint32_t n)
{
	uint32_t	 hdr[5] = { htonl(1), 0, htonl(700), htonl(n), htonl(1) };
	uint32_t	 u, len = htonl(4);
	size_t		 off = sizeof(hdr), i;

	memcpy(p, hdr, sizeof(hdr));
	for (i = 0; i < n; i++) {
		memcpy(&u, &v[i], 4);
		u = htonl(u);
		memcpy(p + off, &len, 4);
		memcpy(p + off + 4, &u, 4);
		off += 8;
	}
	return off;
}

static void
test_float4_array(void **state)
{
	unsigned char	 buf[20 + 8 * 8];
	float		 v[4] = { 1.5f, -2.0f, 0.0f, 3.25f }, out[8];
	size_t		 len, n;
	uint32_t	 bad;

	(void)state;
	len = pg_array(buf, v, 4);
	assert_int_equal(insp_float4_array(buf, len, out, 8, &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(out, v, sizeof(v));
	assert_int_equal(insp_float4_array(buf, len, out, 3, &n), -1);
	assert_int_equal(insp_float4_array(buf, len - 1, out, 8, &n), -1);
	bad = htonl(701);	/* float8 */
	memcpy(buf + 8, &bad, 4);
	assert_int_equal(insp_float4_array(buf, len, out, 8, &n), -1);
	len = pg_array(buf, v, 4);
	bad = htonl(0xffffffffu);	/* a NULL element */
	memcpy(buf + 20, &bad, 4);
	assert_int_equal(insp_float4_array(buf, len, out, 8, &n), -1);
	assert_int_equal(insp_float4_array(buf, 4, out, 8, &n), -1);
}

/*
 * sql/012's column: each float as its 4 IEEE 754 bytes, little-endian,
 * whatever the host; read back as it was written; a bytea result (type
 * 17) is decoded as that, anything else as a float4[].
 */
static void
test_embedding_bytea(void **state)
{
	static const struct {
		float		 f;
		unsigned char	 le[4];
	} words[] = {
		{ 1.5f, { 0x00, 0x00, 0xc0, 0x3f } },
		{ -0.25f, { 0x00, 0x00, 0x80, 0xbe } },
		{ 0.0f, { 0x00, 0x00, 0x00, 0x00 } },
		{ -0.0f, { 0x00, 0x00, 0x00, 0x80 } },
		{ 1e-45f, { 0x01, 0x00, 0x00, 0x00 } },
		{ 3.4028235e38f, { 0xff, 0xff, 0x7f, 0x7f } },
	};
	enum { N = sizeof(words) / sizeof(words[0]) };
	float		 in[N], out[N + 1];
	unsigned char	 b[4 * N], arr[20 + 8 * N];
	size_t		 i, n;

	(void)state;
	for (i = 0; i < N; i++)
		in[i] = words[i].f;
	rs_f32le_put(b, in, N);
	for (i = 0; i < N; i++)
		assert_memory_equal(b + 4 * i, words[i].le, 4);
	assert_int_equal(insp_embedding(b, sizeof(b), 17, out, N, &n), 0);
	assert_int_equal(n, N);
	assert_memory_equal(out, in, sizeof(in));
	/* Not a whole number of floats; longer than max. */
	assert_int_equal(insp_embedding(b, sizeof(b) - 1, 17, out, N, &n), -1);
	assert_int_equal(n, 0);
	assert_int_equal(insp_embedding(b, sizeof(b), 17, out, N - 1, &n), -1);
	assert_int_equal(insp_embedding(b, 0, 17, out, N, &n), 0);
	assert_int_equal(n, 0);
	/* A float4[] result is still read as one (a real[] column). */
	n = pg_array(arr, in, N);
	assert_int_equal(insp_embedding(arr, n, 1021, out, N, &n), 0);
	assert_int_equal(n, N);
	assert_memory_equal(out, in, sizeof(in));
	assert_int_equal(insp_embedding(arr, 20 + 8 * N, 17, out, N + 1, &n),
	    -1);
}

static void
test_cosine(void **state)
{
	float	 a[3] = { 1, 0, 0 }, b[3] = { 0, 2, 0 }, c[3] = { 3, 0, 0 };
	float	 z[3] = { 0, 0, 0 }, d[3] = { -1, 0, 0 };

	(void)state;
	assert_float_equal(insp_cosine(a, c, 3), 1.0, 1e-6);
	assert_float_equal(insp_cosine(a, b, 3), 0.0, 1e-6);
	assert_float_equal(insp_cosine(a, d, 3), -1.0, 1e-6);
	assert_float_equal(insp_cosine(a, z, 3), 0.0, 1e-6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_table),
		cmocka_unit_test(test_query_long_key),
		cmocka_unit_test(test_topk),
		cmocka_unit_test(test_float4_array),
		cmocka_unit_test(test_embedding_bytea),
		cmocka_unit_test(test_cosine),
	};

	return cmocka_run_group_tests_name("inspect", tests, NULL, NULL);
}
