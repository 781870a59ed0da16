/*
 * test_embed.c — the remote-embeddings decoder, which reads what the
 * network sends: embed_texts() against a one-shot HTTP listener on
 * 127.0.0.1 that answers each row's canned body.  Valid answers (base64
 * float32 LE, arrays of numbers, items out of order, no index) decode to
 * the exact floats; wrong dimension counts, bad base64, NaN and infinity
 * in either form, missing, duplicate and out-of-range indexes, and bodies
 * that are not the expected JSON are RS_EEMBED with a message saying
 * which.  The local embedder is checked for determinism and norm.
 * EMBEDDING_DIMENSIONS: a table of values (parsed or refused naming the
 * variable), the request's "dimensions", answers of the configured size
 * only, and the model label (model@N).
 * The pool of a pipelined run (local embedder): every job's vectors are
 * embed_local()'s, jobs taken back before they start are not carried
 * out, and RESTSYNC_EMBED_CONCURRENCY is read with a clear error.
 * An answer is parsed under a memory budget sized by inputs x dimensions:
 * a hostile "[{},…]" answer is refused before json-c builds it.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "embed.h"
#include "http_fetch.h"
#include "rs.h"
#include "settings.h"

#define NROWS(a)	(sizeof(a) / sizeof((a)[0]))
#define D		EMBED_DIMS

/* ---- A listener that answers one request with a canned body. ---- */

struct oneshot {
	int		 fd;
	int		 port;
	const char	*body;		/* the 200 answer */
	pthread_t	 th;
	char		 req[65536];	/* the request read */
};

static void *
oneshot_main(void *arg)
{
	struct oneshot	*o = arg;
	char		 buf[65536], head[256];
	size_t		 got = 0, need = 0, blen;
	ssize_t		 r;
	char		*eoh;
	int		 c;

	if ((c = accept(o->fd, NULL, NULL)) == -1)
		return NULL;
	/* Read the request: headers, then Content-Length bytes. */
	for (;;) {
		if ((r = read(c, buf + got, sizeof(buf) - 1 - got)) <= 0)
			break;
		got += (size_t)r;
		buf[got] = '\0';
		if ((eoh = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		if (need == 0) {
			const char *cl = strstr(buf, "Content-Length:");
			need = (size_t)(eoh + 4 - buf) +
			    (cl != NULL ? strtoul(cl + 15, NULL, 10) : 0);
		}
		if (got >= need)
			break;
	}
	memcpy(o->req, buf, got);
	o->req[got] = '\0';
	blen = strlen(o->body);
	(void)snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", blen);
	if (write(c, head, strlen(head)) < 0 || write(c, o->body, blen) < 0)
		(void)0;
	close(c);
	return NULL;
}

static void
oneshot_start(struct oneshot *o, const char *body)
{
	struct sockaddr_in	 sa;
	socklen_t		 sl = sizeof(sa);

	o->body = body;
	o->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(o->fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(o->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(o->fd, 4), 0);
	assert_int_equal(getsockname(o->fd, (struct sockaddr *)&sa, &sl), 0);
	o->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&o->th, NULL, oneshot_main, o), 0);
}

static void
oneshot_stop(struct oneshot *o)
{
	shutdown(o->fd, SHUT_RDWR);
	close(o->fd);
	pthread_join(o->th, NULL);
}

/* ---- Building answers. ---- */

/* The test vector of input i: distinct, exactly representable floats. */
static float
val(int input, int j)
{
	return (float)(input + 1) * 0.5f + (float)j / 1024.0f;
}

enum vec_kind {
	V_OK,		/* D floats */
	V_SHORT,	/* D - 1 floats */
	V_LONG,		/* D + 1 floats */
	V_NAN,		/* D floats, one NaN */
	V_INF,		/* D floats, one +infinity */
	V_HUGE,		/* array only: a double beyond float range */
	V_STRING,	/* array only: a string element */
	V_BADCHAR,	/* base64 only: right length, '!' inside */
	V_NOTVEC	/* neither a string nor an array */
};

/* Append one embedding of input i in form b64 (1) or array (0). */
static void
put_vec(struct rs_buf *b, int input, enum vec_kind k, int b64)
{
	int		 n = k == V_SHORT ? D - 1 : k == V_LONG ? D + 1 : D;
	int		 j;
	float		 f;
	uint32_t	 u;
	unsigned char	*raw, *enc;

	if (k == V_NOTVEC) {
		assert_int_equal(rs_buf_puts(b, "{\"x\":1}"), 0);
		return;
	}
	if (!b64) {
		assert_int_equal(rs_buf_puts(b, "["), 0);
		for (j = 0; j < n; j++) {
			char	 num[64];

			if (k == V_NAN && j == 7)
				(void)snprintf(num, sizeof(num), "NaN");
			else if (k == V_INF && j == 7)
				(void)snprintf(num, sizeof(num), "Infinity");
			else if (k == V_HUGE && j == 7)
				(void)snprintf(num, sizeof(num), "1e300");
			else if (k == V_STRING && j == 7)
				(void)snprintf(num, sizeof(num), "\"0.5\"");
			else
				(void)snprintf(num, sizeof(num), "%.9g",
				    (double)val(input, j));
			assert_int_equal(rs_buf_puts(b, j ? "," : ""), 0);
			assert_int_equal(rs_buf_puts(b, num), 0);
		}
		assert_int_equal(rs_buf_puts(b, "]"), 0);
		return;
	}
	raw = calloc((size_t)n, 4);
	enc = calloc(4 * (((size_t)n * 4 + 2) / 3) + 1, 1);
	assert_non_null(raw);
	assert_non_null(enc);
	for (j = 0; j < n; j++) {
		f = val(input, j);
		if (k == V_NAN && j == 7)
			f = NAN;
		if (k == V_INF && j == 7)
			f = INFINITY;
		memcpy(&u, &f, 4);
		raw[4 * j] = (unsigned char)u;
		raw[4 * j + 1] = (unsigned char)(u >> 8);
		raw[4 * j + 2] = (unsigned char)(u >> 16);
		raw[4 * j + 3] = (unsigned char)(u >> 24);
	}
	EVP_EncodeBlock(enc, raw, n * 4);
	if (k == V_BADCHAR)
		enc[100] = '!';
	assert_int_equal(rs_buf_puts(b, "\""), 0);
	assert_int_equal(rs_buf_puts(b, (char *)enc), 0);
	assert_int_equal(rs_buf_puts(b, "\""), 0);
	free(raw);
	free(enc);
}

/* An item of the answer: which input it claims, and its vector. */
struct item {
	int		 index;		/* -1: no "index" member */
	int		 input;		/* whose vector it carries */
	enum vec_kind	 kind;
	int		 noembedding;	/* 1: no "embedding" member */
};

static char *
answer(const struct item *it, size_t n, int b64)
{
	struct rs_buf	 b;
	size_t		 i;
	char		 num[32];

	rs_buf_init(&b, 64u << 20);
	assert_int_equal(rs_buf_puts(&b, "{\"object\":\"list\",\"data\":["), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(rs_buf_puts(&b, i ? ",{" : "{"), 0);
		assert_int_equal(rs_buf_puts(&b, "\"object\":\"embedding\""), 0);
		if (it[i].index != -1) {	/* -1: NOIDX */
			(void)snprintf(num, sizeof(num), ",\"index\":%d",
			    it[i].index);
			assert_int_equal(rs_buf_puts(&b, num), 0);
		}
		if (!it[i].noembedding) {
			assert_int_equal(rs_buf_puts(&b, ",\"embedding\":"), 0);
			put_vec(&b, it[i].input, it[i].kind, b64);
		}
		assert_int_equal(rs_buf_puts(&b, "}"), 0);
	}
	assert_int_equal(rs_buf_puts(&b,
	    "],\"model\":\"test\",\"usage\":{\"prompt_tokens\":2}}"), 0);
	return rs_buf_steal(&b);
}

/* ---- Running a row. ---- */

static enum rs_status
run(const char *body, size_t n, float *out, char *err, int *requests)
{
	static const char *const texts[] = { "first text", "second text",
	    "third text" };
	size_t		 lens[3];
	struct oneshot	 o;
	struct fetcher	*fx = NULL;
	struct embedder	*em = NULL;
	struct embed_stats es;
	char		 url[64];
	enum rs_status	 st;
	size_t		 i;

	for (i = 0; i < 3; i++)
		lens[i] = strlen(texts[i]);
	oneshot_start(&o, body);
	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/", o.port);
	setenv("OPENAI_API_KEY", "sk-unit-test-key-0123456789", 1);
	setenv("OPENAI_BASE_URL", url, 1);
	setenv("RESTSYNC_ALLOW_PRIVATE_NETWORKS", "1", 1);
	settings_reload();
	assert_int_equal(fetch_open(&fx, err), RS_OK);
	assert_int_equal(embed_open(&em, fx, err), RS_OK);
	assert_string_equal(embed_name(em), "openai:text-embedding-3-small");
	err[0] = '\0';
	st = embed_texts(em, texts, lens, n, out, rs_now_ms() + 10000, &es,
	    err);
	*requests = es.requests;
	embed_close(em);
	fetch_close(fx);
	oneshot_stop(&o);
	unsetenv("OPENAI_API_KEY");
	unsetenv("OPENAI_BASE_URL");
	return st;
}

#define NOIDX	(-1)

static const struct row {
	const char	*name;
	int		 b64;
	size_t		 n;		/* inputs sent */
	size_t		 nitems;
	struct item	 items[3];
	enum rs_status	 st;
	const char	*err;		/* substring of the message */
} rows[] = {
	{ "base64, in order", 1, 2, 2,
	  { { 0, 0, V_OK, 0 }, { 1, 1, V_OK, 0 } }, RS_OK, NULL },
	{ "base64, out of order", 1, 3, 3,
	  { { 2, 2, V_OK, 0 }, { 0, 0, V_OK, 0 }, { 1, 1, V_OK, 0 } },
	  RS_OK, NULL },
	{ "arrays of numbers", 0, 2, 2,
	  { { 1, 1, V_OK, 0 }, { 0, 0, V_OK, 0 } }, RS_OK, NULL },
	{ "no index: position counts", 1, 2, 2,
	  { { NOIDX, 0, V_OK, 0 }, { NOIDX, 1, V_OK, 0 } }, RS_OK, NULL },
	{ "base64: one dimension short", 1, 1, 1,
	  { { 0, 0, V_SHORT, 0 } }, RS_EEMBED,
	  "item 0 is invalid (expected 1536 dimensions)" },
	{ "base64: one dimension too many", 1, 1, 1,
	  { { 0, 0, V_LONG, 0 } }, RS_EEMBED, "item 0 is invalid" },
	{ "array: one dimension short", 0, 1, 1,
	  { { 0, 0, V_SHORT, 0 } }, RS_EEMBED, "item 0 is invalid" },
	{ "array: one dimension too many", 0, 2, 2,
	  { { 0, 0, V_OK, 0 }, { 1, 1, V_LONG, 0 } }, RS_EEMBED,
	  "item 1 is invalid" },
	{ "base64: a character outside the alphabet", 1, 1, 1,
	  { { 0, 0, V_BADCHAR, 0 } }, RS_EEMBED, "item 0 is invalid" },
	{ "base64: NaN", 1, 1, 1,
	  { { 0, 0, V_NAN, 0 } }, RS_EEMBED, "item 0 is invalid" },
	{ "base64: infinity", 1, 1, 1,
	  { { 0, 0, V_INF, 0 } }, RS_EEMBED, "item 0 is invalid" },
	{ "array: NaN", 0, 1, 1,
	  { { 0, 0, V_NAN, 0 } }, RS_EEMBED, "item 0 is invalid" },
	{ "array: Infinity", 0, 1, 1,
	  { { 0, 0, V_INF, 0 } }, RS_EEMBED, "item 0 is invalid" },
	{ "array: a double beyond float range", 0, 1, 1,
	  { { 0, 0, V_HUGE, 0 } }, RS_EEMBED, "item 0 is invalid" },
	{ "array: a string element", 0, 1, 1,
	  { { 0, 0, V_STRING, 0 } }, RS_EEMBED, "item 0 is invalid" },
	{ "embedding is an object", 1, 1, 1,
	  { { 0, 0, V_NOTVEC, 0 } }, RS_EEMBED, "item 0 is invalid" },
	{ "no embedding member", 1, 1, 1,
	  { { 0, 0, V_OK, 1 } }, RS_EEMBED, "item 0 is invalid" },
	{ "duplicate index", 1, 2, 2,
	  { { 0, 0, V_OK, 0 }, { 0, 1, V_OK, 0 } }, RS_EEMBED,
	  "item 1 is invalid" },
	{ "missing index: one item for two inputs", 1, 2, 1,
	  { { 1, 1, V_OK, 0 } }, RS_EEMBED, "lacks input 0" },
	{ "index out of range", 1, 2, 2,
	  { { 0, 0, V_OK, 0 }, { 2, 1, V_OK, 0 } }, RS_EEMBED,
	  "item 1 is invalid" },
	{ "negative index", 1, 1, 1,
	  { { -5, 0, V_OK, 0 } }, RS_EEMBED, "item 0 is invalid" },
	{ "more items than inputs", 1, 1, 2,
	  { { 0, 0, V_OK, 0 }, { 1, 1, V_OK, 0 } }, RS_EEMBED,
	  "item 1 is invalid" },
};

static void
test_decoder_rows(void **state)
{
	size_t		 r, i, j;
	float		*out;
	char		 err[RS_ERRLEN], *body;
	enum rs_status	 st;
	int		 requests;

	(void)state;
	out = calloc(3 * D, sizeof(float));
	assert_non_null(out);
	for (r = 0; r < NROWS(rows); r++) {
		const struct row *w = &rows[r];

		body = answer(w->items, w->nitems, w->b64);
		st = run(body, w->n, out, err, &requests);
		free(body);
		if (st != w->st || (w->err != NULL && strstr(err, w->err) ==
		    NULL))
			fail_msg("%s: status %d (want %d), error \"%s\" "
			    "(want \"%s\")", w->name, st, w->st, err,
			    w->err ? w->err : "");
		assert_int_equal(requests, 1);
		if (w->st != RS_OK)
			continue;
		/* Each input got the vector of its own index, exactly. */
		for (i = 0; i < w->n; i++)
			for (j = 0; j < D; j++)
				if (out[i * D + j] != val((int)i, (int)j))
					fail_msg("%s: input %zu dim %zu is %g, "
					    "want %g", w->name, i, j,
					    (double)out[i * D + j],
					    (double)val((int)i, (int)j));
	}
	free(out);
}

/* Bodies that are not the expected JSON at all. */
static void
test_not_the_expected_json(void **state)
{
	static const char *const bodies[] = {
		"",
		"null",
		"[]",
		"{\"data\":{}}",
		"{\"object\":\"list\"}",
		"{\"data\":[",
		"<html>oops</html>",
		"{\"data\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}",
	};
	float	*out = calloc(D, sizeof(float));
	char	 err[RS_ERRLEN];
	size_t	 i;
	int	 requests;

	(void)state;
	assert_non_null(out);
	for (i = 0; i < NROWS(bodies); i++) {
		enum rs_status st = run(bodies[i], 1, out, err, &requests);

		if (st != RS_EEMBED)
			fail_msg("body \"%s\": status %d", bodies[i], st);
		if (strstr(err, "not the expected JSON") == NULL &&
		    strstr(err, "lacks input 0") == NULL)
			fail_msg("body \"%s\": error \"%s\"", bodies[i], err);
		assert_null(strstr(err, "sk-unit-test-key"));
	}
	free(out);
}

/*
 * The answer's JSON is parsed under a memory budget sized by what was
 * asked (inputs x dimensions): 8 MiB of "{},{},..." inside "data" would
 * make json-c build ~2 GiB; it is refused before parsing, naming memory.
 * An honest answer with a trailing newline still decodes.
 */
static void
test_answer_memory_bound(void **state)
{
	static const struct item ok[] = { { 0, 0, V_OK, 0 } };
	struct rs_buf	 b;
	float		*out = calloc(D, sizeof(float));
	char		 err[RS_ERRLEN], *body;
	size_t		 i;
	int		 requests;

	(void)state;
	assert_non_null(out);
	rs_buf_init(&b, 16u << 20);
	assert_int_equal(rs_buf_puts(&b, "{\"data\":["), 0);
	for (i = 0; i < (8u << 20) / 3; i++)
		assert_int_equal(rs_buf_puts(&b, i ? ",{}" : "{}"), 0);
	assert_int_equal(rs_buf_puts(&b, "]}"), 0);
	body = rs_buf_steal(&b);
	assert_int_equal(run(body, 1, out, err, &requests), RS_EEMBED);
	if (strstr(err, "would take more than") == NULL ||
	    strstr(err, "for 1 inputs of 1536 dimensions") == NULL)
		fail_msg("hostile answer: error \"%s\"", err);
	free(body);

	body = answer(ok, 1, 1);
	rs_buf_init(&b, 1u << 20);
	assert_int_equal(rs_buf_puts(&b, body), 0);
	assert_int_equal(rs_buf_puts(&b, "\n"), 0);
	free(body);
	body = rs_buf_steal(&b);
	assert_int_equal(run(body, 1, out, err, &requests), RS_OK);
	assert_true(out[5] == val(0, 5));
	free(body);
	free(out);
}

/* The local embedder: deterministic, unit length, text-dependent. */
static void
test_local(void **state)
{
	float	*a = calloc(3 * D, sizeof(float));
	double	 n2 = 0;
	size_t	 j, diff = 0;

	(void)state;
	assert_non_null(a);
	embed_local("Ünïcödé text 漢字 🙂", strlen("Ünïcödé text 漢字 🙂"), a);
	embed_local("Ünïcödé text 漢字 🙂", strlen("Ünïcödé text 漢字 🙂"),
	    a + D);
	embed_local("another text", strlen("another text"), a + 2 * D);
	assert_memory_equal(a, a + D, D * sizeof(float));
	for (j = 0; j < D; j++) {
		assert_true(isfinite(a[j]));
		n2 += (double)a[j] * a[j];
		diff += a[j] != a[2 * D + j];
	}
	assert_true(fabs(n2 - 1.0) < 1e-5);
	assert_true(diff > 0);
	free(a);
}

/* EMBEDDING_DIMENSIONS: what is accepted, what is refused. */
static void
test_parse_dims(void **state)
{
	static const struct {
		const char	*v;
		int		 rc;	/* 0 unset, 1 set, -1 refused */
		int		 dims;
	} drows[] = {
		{ NULL, 0, EMBED_DIMS },
		{ "", 0, EMBED_DIMS },
		{ "1", 1, 1 },
		{ "256", 1, 256 },
		{ "512", 1, 512 },
		{ "0512", 1, 512 },
		{ "1536", 1, 1536 },
		{ "3072", 1, 3072 },
		{ "0", -1, EMBED_DIMS },
		{ "3073", -1, EMBED_DIMS },
		{ "-512", -1, EMBED_DIMS },
		{ "+512", -1, EMBED_DIMS },
		{ " 512", -1, EMBED_DIMS },
		{ "512 ", -1, EMBED_DIMS },
		{ "512.0", -1, EMBED_DIMS },
		{ "5e2", -1, EMBED_DIMS },
		{ "0x200", -1, EMBED_DIMS },
		{ "abc", -1, EMBED_DIMS },
		{ "99999999999999999999999", -1, EMBED_DIMS },
	};
	char	 err[RS_ERRLEN];
	size_t	 i;
	int	 d, rc;

	(void)state;
	for (i = 0; i < NROWS(drows); i++) {
		err[0] = '\0';
		rc = embed_parse_dims(drows[i].v, &d, err);
		if (rc != drows[i].rc || d != drows[i].dims)
			fail_msg("'%s': %d, %d (want %d, %d)", drows[i].v ?
			    drows[i].v : "(null)", rc, d, drows[i].rc,
			    drows[i].dims);
		if (rc == -1 && (strstr(err, "EMBEDDING_DIMENSIONS must be "
		    "an integer from 1 to 3072 (got '") == NULL ||
		    strstr(err, drows[i].v) == NULL))
			fail_msg("'%s': message \"%s\"", drows[i].v, err);
	}
}

/*
 * The embedder under EMBEDDING_DIMENSIONS (and EMBEDDING_MODEL): its
 * size, its label, its configuration error; a bad value fails every
 * embed_texts() naming the variable, never a silent default.
 */
static void
test_open_dims(void **state)
{
	static const struct {
		const char	*key;	/* OPENAI_API_KEY or NULL */
		const char	*model;	/* EMBEDDING_MODEL or NULL */
		const char	*dims;	/* EMBEDDING_DIMENSIONS or NULL */
		int		 want;
		const char	*label;
		const char	*error;	/* substring, NULL for none */
	} drows[] = {
		{ NULL, NULL, NULL, 1536, "local-hash-v1", NULL },
		{ NULL, NULL, "512", 512, "local-hash-v1@512", NULL },
		{ NULL, NULL, "1536", 1536, "local-hash-v1", NULL },
		{ "sk-x", NULL, NULL, 1536, "text-embedding-3-small", NULL },
		{ "sk-x", NULL, "512", 512, "text-embedding-3-small@512",
		  NULL },
		{ "sk-x", "text-embedding-3-large", "3072", 3072,
		  "text-embedding-3-large@3072", NULL },
		{ "sk-x", NULL, "1536", 1536, "text-embedding-3-small", NULL },
		{ "sk-x", NULL, "0", 1536, "text-embedding-3-small",
		  "EMBEDDING_DIMENSIONS must be an integer from 1 to 3072 "
		  "(got '0')" },
		{ NULL, NULL, "4096", 1536, "local-hash-v1",
		  "EMBEDDING_DIMENSIONS must be an integer from 1 to 3072 "
		  "(got '4096')" },
		{ "sk-x", "my@model", NULL, 1536, "my@model",
		  "EMBEDDING_MODEL must not contain '@'" },
	};
	static const char *const texts[] = { "a text" };
	size_t		 lens[1] = { 6 };
	float		*out = calloc(EMBED_MAX_DIMS, sizeof(float));
	struct embedder	*em;
	struct embed_stats es;
	char		 err[RS_ERRLEN];
	size_t		 i;

	(void)state;
	assert_non_null(out);
	for (i = 0; i < NROWS(drows); i++) {
#define SETENV(n, v) ((v) != NULL ? setenv((n), (v), 1) : unsetenv(n))
		SETENV("OPENAI_API_KEY", drows[i].key);
		SETENV("EMBEDDING_MODEL", drows[i].model);
		SETENV("EMBEDDING_DIMENSIONS", drows[i].dims);
#undef SETENV
		assert_int_equal(embed_open(&em, NULL, err), RS_OK);
		if (embed_dims(em) != drows[i].want ||
		    strcmp(embed_model(em), drows[i].label) != 0)
			fail_msg("row %zu: %d '%s' (want %d '%s')", i,
			    embed_dims(em), embed_model(em), drows[i].want,
			    drows[i].label);
		if (drows[i].error == NULL)
			assert_null(embed_error(em));
		else {
			assert_non_null(embed_error(em));
			if (strstr(embed_error(em), drows[i].error) == NULL)
				fail_msg("row %zu: error '%s'", i,
				    embed_error(em));
			err[0] = '\0';
			assert_int_equal(embed_texts(em, texts, lens, 1, out,
			    rs_now_ms() + 1000, &es, err), RS_EINPUT);
			assert_non_null(strstr(err, drows[i].error));
			assert_int_equal(es.requests, 0);
		}
		embed_close(em);
	}
	unsetenv("OPENAI_API_KEY");
	unsetenv("EMBEDDING_MODEL");
	unsetenv("EMBEDDING_DIMENSIONS");
	free(out);
}

/*
 * EMBEDDING_DIMENSIONS=512 against the listener: the request asks for
 * "dimensions": 512 (and without the variable, for none); an answer of
 * 512 floats decodes, one of 1536 or 511 is refused naming 512.
 */
static void
test_remote_dims(void **state)
{
	static const struct {
		int		 answer;	/* floats in the answer */
		int		 b64;
		enum rs_status	 st;
	} drows[] = {
		{ 512, 1, RS_OK },
		{ 512, 0, RS_OK },
		{ 1536, 1, RS_EEMBED },
		{ 511, 0, RS_EEMBED },
		{ 513, 1, RS_EEMBED },
	};
	static const char *const texts[] = { "first text" };
	size_t		 lens[1] = { 10 };
	struct rs_buf	 b;
	struct oneshot	 o;
	struct fetcher	*fx = NULL;
	struct embedder	*em = NULL;
	struct embed_stats es;
	float		*out = calloc(EMBED_MAX_DIMS, sizeof(float));
	char		 url[64], err[RS_ERRLEN];
	size_t		 i;
	int		 j;
	unsigned char	*raw, *enc;

	(void)state;
	assert_non_null(out);
	setenv("OPENAI_API_KEY", "sk-unit-test-key-0123456789", 1);
	setenv("RESTSYNC_ALLOW_PRIVATE_NETWORKS", "1", 1);
	assert_int_equal(fetch_open(&fx, err), RS_OK);
	for (i = 0; i < NROWS(drows) + 1; i++) {
		int	 n = i < NROWS(drows) ? drows[i].answer : D;

		rs_buf_init(&b, 1u << 20);
		assert_int_equal(rs_buf_puts(&b, "{\"data\":[{\"index\":0,"
		    "\"embedding\":"), 0);
		if (i < NROWS(drows) && !drows[i].b64) {
			for (j = 0; j < n; j++)
				assert_int_equal(rs_buf_printf(&b, "%s%.9g",
				    j ? "," : "[", (double)val(0, j)), 0);
			assert_int_equal(rs_buf_puts(&b, "]"), 0);
		} else {
			raw = calloc((size_t)n, 4);
			enc = calloc(4 * (((size_t)n * 4 + 2) / 3) + 1, 1);
			assert_non_null(raw);
			assert_non_null(enc);
			for (j = 0; j < n; j++) {
				float	 f = val(0, j);

				memcpy(raw + 4 * j, &f, 4);	/* LE host */
			}
			EVP_EncodeBlock(enc, raw, n * 4);
			assert_int_equal(rs_buf_printf(&b, "\"%s\"",
			    (char *)enc), 0);
			free(raw);
			free(enc);
		}
		assert_int_equal(rs_buf_puts(&b, "}]}"), 0);
		oneshot_start(&o, b.p);
		(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1",
		    o.port);
		setenv("OPENAI_BASE_URL", url, 1);
		/* The last row: the variable unset, 1536 floats. */
		if (i < NROWS(drows))
			setenv("EMBEDDING_DIMENSIONS", "512", 1);
		else
			unsetenv("EMBEDDING_DIMENSIONS");
		assert_int_equal(embed_open(&em, fx, err), RS_OK);
		err[0] = '\0';
		if (embed_texts(em, texts, lens, 1, out, rs_now_ms() + 10000,
		    &es, err) != (i < NROWS(drows) ? drows[i].st : RS_OK))
			fail_msg("row %zu: %s", i, err);
		oneshot_stop(&o);
		if (i == NROWS(drows))
			assert_null(strstr(o.req, "\"dimensions\""));
		else {
			assert_non_null(strstr(o.req, "\"dimensions\":512"));
			if (drows[i].st != RS_OK)
				assert_non_null(strstr(err,
				    "(expected 512 dimensions)"));
		}
		for (j = 0; j < n && (i == NROWS(drows) ||
		    drows[i].st == RS_OK); j++)
			assert_true(out[j] == val(0, j));
		embed_close(em);
		rs_buf_free(&b);
	}
	fetch_close(fx);
	unsetenv("OPENAI_API_KEY");
	unsetenv("OPENAI_BASE_URL");
	unsetenv("EMBEDDING_DIMENSIONS");
	free(out);
}

/* The local embedder at other sizes: unit length, in range; at 1536 the
 * same vector as embed_local(). */
static void
test_local_dims(void **state)
{
	static const int sizes[] = { 1, 2, 64, 512, 1536, 3072 };
	const char	*t = "Essence Mascara Lash Princess";
	float		*a = calloc(EMBED_MAX_DIMS, sizeof(float));
	float		*b = calloc(EMBED_MAX_DIMS, sizeof(float));
	double		 n2;
	size_t		 i;
	int		 j;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	for (i = 0; i < NROWS(sizes); i++) {
		memset(a, 0x7f, EMBED_MAX_DIMS * sizeof(float));
		embed_local_dims(t, strlen(t), sizes[i], a);
		for (j = 0, n2 = 0; j < sizes[i]; j++) {
			assert_true(isfinite(a[j]));
			n2 += (double)a[j] * a[j];
		}
		assert_true(fabs(n2 - 1.0) < 1e-5);
		/* Nothing written past the size. */
		assert_true(sizes[i] == EMBED_MAX_DIMS ||
		    memcmp(&a[sizes[i]], &a[EMBED_MAX_DIMS - 1], 4) == 0);
	}
	embed_local(t, strlen(t), a);
	embed_local_dims(t, strlen(t), EMBED_DIMS, b);
	assert_memory_equal(a, b, EMBED_DIMS * sizeof(float));
	free(a);
	free(b);
}

#define POOL_JOBS	12
#define POOL_TEXTS	5

/* Jobs of the pool give exactly the local embedder's vectors. */
static void
test_pool_local(void **state)
{
	static const char *const texts[POOL_TEXTS] = { "alpha beta",
	    "gamma delta", "epsilon", "zeta eta theta", "iota kappa" };
	struct embed_job	 jobs[POOL_JOBS];
	struct embed_pool	*pool = NULL;
	struct embed_pool_stats	 ps;
	size_t			 lens[POOL_TEXTS], i, k;
	float			*out, *want;
	char			 err[RS_ERRLEN];

	(void)state;
	unsetenv("OPENAI_API_KEY");
	out = calloc(POOL_JOBS * POOL_TEXTS * D, sizeof(float));
	want = calloc(POOL_TEXTS * D, sizeof(float));
	assert_non_null(out);
	assert_non_null(want);
	for (i = 0; i < POOL_TEXTS; i++) {
		lens[i] = strlen(texts[i]);
		embed_local(texts[i], lens[i], want + i * D);
	}
	assert_int_equal(embed_pool_open(&pool, 3, err), RS_OK);
	memset(jobs, 0, sizeof(jobs));
	for (k = 0; k < POOL_JOBS; k++) {
		jobs[k].texts = texts;
		jobs[k].lens = lens;
		jobs[k].n = POOL_TEXTS;
		jobs[k].out = out + k * POOL_TEXTS * D;
		jobs[k].budget_ms = 10000;
		embed_pool_submit(pool, &jobs[k]);
	}
	/* The last one taken back: queued or running, it is left alone
	 * after embed_pool_drop returns. */
	embed_pool_drop(pool, &jobs[POOL_JOBS - 1]);
	for (k = 0; k + 1 < POOL_JOBS; k++) {
		embed_pool_wait(pool, &jobs[k]);
		assert_true(embed_pool_ready(pool, &jobs[k]));
		assert_int_equal(jobs[k].st, RS_OK);
		assert_memory_equal(out + k * POOL_TEXTS * D, want,
		    POOL_TEXTS * D * sizeof(float));
	}
	embed_pool_stats(pool, &ps);
	assert_int_equal(ps.max, 3);
	assert_int_equal(ps.limit, 3);
	assert_int_equal(ps.throttled, 0);
	assert_true(ps.peak >= 1 && ps.peak <= 3);
	assert_true(ps.jobs >= POOL_JOBS - 1 && ps.jobs <= POOL_JOBS);
	embed_pool_close(pool);
	free(out);
	free(want);
}

/* RESTSYNC_EMBED_CONCURRENCY: 4 by default, 1..16, else its name. */
static void
test_pool_concurrency(void **state)
{
	static const char *const bad[] = { "0", "17", "-1", "4x", "many" };
	char	 err[RS_ERRLEN];
	size_t	 i;
	int	 n;

	(void)state;
	unsetenv("RESTSYNC_EMBED_CONCURRENCY");
	assert_int_equal(embed_concurrency(&n, err), 0);
	assert_int_equal(n, EMBED_POOL_DEFAULT);
	setenv("RESTSYNC_EMBED_CONCURRENCY", "16", 1);
	assert_int_equal(embed_concurrency(&n, err), 0);
	assert_int_equal(n, 16);
	for (i = 0; i < NROWS(bad); i++) {
		setenv("RESTSYNC_EMBED_CONCURRENCY", bad[i], 1);
		err[0] = '\0';
		assert_int_equal(embed_concurrency(&n, err), -1);
		assert_non_null(strstr(err, "RESTSYNC_EMBED_CONCURRENCY"));
	}
	unsetenv("RESTSYNC_EMBED_CONCURRENCY");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decoder_rows),
		cmocka_unit_test(test_answer_memory_bound),
		cmocka_unit_test(test_not_the_expected_json),
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_parse_dims),
		cmocka_unit_test(test_open_dims),
		cmocka_unit_test(test_remote_dims),
		cmocka_unit_test(test_local_dims),
		cmocka_unit_test(test_pool_local),
		cmocka_unit_test(test_pool_concurrency),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
