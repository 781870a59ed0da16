/*
 * test_chunk.c — chunk_est_tokens and chunk_text: a table of inputs with
 * their expected chunks, then property checks on long, multi-byte,
 * pathological and random inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chunk.h"
#include "testutil.h"

#define NWANT	6
#define ANY	SIZE_MAX	/* don't check the count */

static int
isws(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* 1 if p[0..n) is well-formed UTF-8 (RFC 3629, no surrogates). */
/*
 * The invariants every split must hold, for any input and options.  When
 * the input is valid UTF-8 so must every chunk be.
 */
static void
check_chunks(const char *name, const char *text, size_t len,
    const struct chunk_opts *o, const struct chunk *v, size_t n)
{
	const unsigned char	*t = (const unsigned char *)text;
	size_t			 target, i, j, end, nonws = 0;
	int			 valid;

	target = o != NULL ? o->target : CHUNK_TARGET_TOKENS;
	valid = tu_utf8_valid(t, len);
	for (i = 0; i < len; i++)
		nonws += !isws(t[i]);
	if (nonws == 0) {
		if (n != 0)
			fail_msg("%s: %zu chunks of blank text", name, n);
		return;
	}
	if (n == 0 || v == NULL)
		fail_msg("%s: no chunks", name);
	end = 0;
	for (i = 0; i < n; i++) {
		if (v[i].len == 0 || v[i].off > len ||
		    v[i].len > len - v[i].off)
			fail_msg("%s: chunk %zu [%zu,+%zu) outside %zu", name,
			    i, v[i].off, v[i].len, len);
		if (v[i].len > CHUNK_MAX_BYTES)
			fail_msg("%s: chunk %zu has %zu bytes", name, i,
			    v[i].len);
		if (chunk_est_tokens(text + v[i].off, v[i].len) > target)
			fail_msg("%s: chunk %zu has %zu tokens > %zu", name, i,
			    chunk_est_tokens(text + v[i].off, v[i].len),
			    target);
		if (isws(t[v[i].off]) || isws(t[v[i].off + v[i].len - 1]))
			fail_msg("%s: chunk %zu not trimmed", name, i);
		if (i > 0 && (v[i].off <= v[i - 1].off ||
		    v[i].off + v[i].len <= v[i - 1].off + v[i - 1].len))
			fail_msg("%s: chunk %zu does not move forward", name,
			    i);
		if (valid && !tu_utf8_valid(t + v[i].off, v[i].len))
			fail_msg("%s: chunk %zu splits a UTF-8 sequence",
			    name, i);
		/* Everything between the chunks is blank. */
		for (j = end; j < v[i].off; j++)
			if (!isws(t[j]))
				fail_msg("%s: byte %zu not in any chunk", name,
				    j);
		if (v[i].off + v[i].len > end)
			end = v[i].off + v[i].len;
	}
	for (j = end; j < len; j++)
		if (!isws(t[j]))
			fail_msg("%s: byte %zu after the last chunk", name, j);
}

static const struct chunk_row {
	const char	*name;
	const char	*in;
	size_t		 target, overlap;	/* 0, 0: NULL opts */
	enum rs_status	 st;
	size_t		 n;			/* or ANY */
	const char	*want[NWANT];		/* checked when want[0] */
} chunk_rows[] = {
	{ "empty", "", 0, 0, RS_OK, 0, { NULL } },
	{ "blank", " \t\r\n\v\f \n\n  ", 0, 0, RS_OK, 0, { NULL } },
	{ "blank small opts", "   \n\n\t\t   \n", 1, 0, RS_OK, 0, { NULL } },
	{ "short", "  Hello, world.  \n", 0, 0, RS_OK, 1,
	  { "Hello, world." } },
	{ "short multibyte", "\n\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89\t",
	  0, 0, RS_OK, 1,
	  { "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89" } },
	{ "just over the window", "abcd efgh ijkl mnop qrst uvwx yz12 3456 7",
	  10, 0, RS_OK, 2,
	  { "abcd efgh ijkl mnop qrst uvwx yz12 3456", "7" } },
	/* Window 40 bytes: the "\n\n" at 23-24 beats "Six." at 28. */
	{ "paragraph over sentence",
	  "One two three four five\n\nSix. Seven eight nine ten eleven twelve",
	  10, 0, RS_OK, 2,
	  { "One two three four five",
	    "Six. Seven eight nine ten eleven twelve" } },
	{ "sentence over word",
	  "Alpha beta gamma delta. Epsilon zeta eta theta iota",
	  10, 0, RS_OK, 2,
	  { "Alpha beta gamma delta.", "Epsilon zeta eta theta iota" } },
	{ "question and bang end sentences",
	  "Is it here? Yes it is here! Then go on and on",
	  10, 0, RS_OK, 2,
	  { "Is it here? Yes it is here!", "Then go on and on" } },
	{ "newline ends a sentence",
	  "Alpha beta gamma delta\nepsilon zeta eta theta iota",
	  10, 0, RS_OK, 2,
	  { "Alpha beta gamma delta", "epsilon zeta eta theta iota" } },
	{ "blank line with spaces is a paragraph",
	  "Some words here and more.\n  \t\nNext paragraph. Then words",
	  10, 0, RS_OK, 2,
	  { "Some words here and more.", "Next paragraph. Then words" } },
	{ "word over hard cut",
	  "aaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	  10, 0, RS_OK, 2,
	  { "aaaaaaaaaaaaaaaaaaaaaaaaa",
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" } },
	/* The only space is in the first half of the window. */
	{ "break only in the last half",
	  "aa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	  10, 0, RS_OK, 2,
	  { "aa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	    "bbbbbbbbbbbbbbbbbbbbbbb" } },
	{ "cjk hard cut", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x83\x86"
	  "\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88", 2, 0, RS_OK, 4,
	  { "\xe6\x97\xa5\xe6\x9c\xac", "\xe8\xaa\x9e\xe3\x83\x86",
	    "\xe3\x82\xad\xe3\x82\xb9", "\xe3\x83\x88" } },
	/* Window 20 bytes, overlap up to 8 bytes, moved to a word start. */
	{ "overlap at word start",
	  "one two three four five six seven eight nine ten",
	  5, 2, RS_OK, 3,
	  { "one two three four", "four five six seven",
	    "seven eight nine ten" } },
	{ "target 1", "abcd efgh", 1, 0, RS_OK, 2, { "abcd", "efgh" } },
	{ "target 1 splits words", "abcdefghij", 1, 0, RS_OK, 3,
	  { "abcd", "efgh", "ij" } },
	{ "target 2 overlap 1", "one two three four", 2, 1, RS_OK, ANY,
	  { NULL } },
	{ "default opts", "text", 0, 0, RS_OK, 1, { "text" } },
	{ "bad target", "text", 0, 0, RS_EINPUT, 0, { NULL } },
	{ "overlap equals target", "text", 5, 5, RS_EINPUT, 0, { NULL } },
	{ "overlap above target", "text", 5, 9, RS_EINPUT, 0, { NULL } },
};

static void
run_row(const struct chunk_row *r)
{
	struct chunk_opts	 o, *op = NULL;
	static struct chunk	 dummy;
	struct chunk		*v = &dummy;
	size_t			 n = 99, i, wn;
	char			 err[RS_ERRLEN] = "";
	enum rs_status		 st;

	/* target 0 means NULL opts, except in rows that expect RS_EINPUT. */
	if (r->target > 0 || r->st == RS_EINPUT) {
		o.target = r->target;
		o.overlap = r->overlap;
		op = &o;
	}
	st = chunk_text(r->in, strlen(r->in), op, &v, &n, err);
	if (st != r->st)
		fail_msg("%s: status %d, want %d (%s)", r->name, st, r->st,
		    err);
	if (st != RS_OK) {
		if (v != NULL || n != 0 || err[0] == '\0')
			fail_msg("%s: output or message not set on error",
			    r->name);
		return;
	}
	check_chunks(r->name, r->in, strlen(r->in), op, v, n);
	if (r->n != ANY && n != r->n)
		fail_msg("%s: %zu chunks, want %zu", r->name, n, r->n);
	if (r->want[0] != NULL) {
		for (wn = 0; wn < NWANT && r->want[wn] != NULL; wn++)
			continue;
		if (wn != n)
			fail_msg("%s: %zu chunks, want %zu", r->name, n, wn);
		for (i = 0; i < n; i++)
			if (v[i].len != strlen(r->want[i]) ||
			    memcmp(r->in + v[i].off, r->want[i], v[i].len) != 0)
				fail_msg("%s: chunk %zu is \"%.*s\", want "
				    "\"%s\"", r->name, i, (int)v[i].len,
				    r->in + v[i].off, r->want[i]);
	}
	free(v);
}

static void
test_table(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(chunk_rows) / sizeof(chunk_rows[0]); i++)
		run_row(&chunk_rows[i]);
}

static const struct est_row {
	const char	*in;
	size_t		 want;
} est_rows[] = {
	{ "", 0 },
	{ "a", 1 },
	{ "abcd", 1 },
	{ "abcde", 2 },
	{ "abcd efgh", 3 },
	{ "\xc3\xa9", 1 },				/* é */
	{ "a\xc3\xa9", 2 },
	{ "\xe6\x97\xa5\xe6\x9c\xac", 2 },		/* 日本 */
	{ "\xf0\x9f\x8e\x89", 1 },			/* 🎉 */
	{ "ab\xf0\x9f\x8e\x89" "cd", 2 },		/* ASCII rounds up once */
	{ "\x80\xbf", 0 },				/* stray continuations */
	{ "\xff\xfe", 2 },				/* invalid lead bytes */
};

static void
test_est_tokens(void **state)
{
	size_t	 i, got;

	(void)state;
	for (i = 0; i < sizeof(est_rows) / sizeof(est_rows[0]); i++) {
		got = chunk_est_tokens(est_rows[i].in, strlen(est_rows[i].in));
		if (got != est_rows[i].want)
			fail_msg("est \"%s\": %zu, want %zu", est_rows[i].in,
			    got, est_rows[i].want);
	}
}

/* A fixed-seed generator so failures reproduce. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* n bytes of prose: words of 1-12 letters, sentences, paragraphs. */
static char *
make_prose(size_t n, uint64_t seed)
{
	char	*p;
	size_t	 i = 0, w, k;

	assert_non_null(p = malloc(n + 1));
	while (i < n) {
		w = 1 + rnd(&seed) % 12;
		for (k = 0; k < w && i < n; k++)
			p[i++] = (char)('a' + rnd(&seed) % 26);
		if (i >= n)
			break;
		switch (rnd(&seed) % 40) {
		case 0:
			p[i++] = '.';
			if (i < n)
				p[i++] = '\n';
			if (i < n)
				p[i++] = '\n';
			break;
		case 1: case 2: case 3:
			p[i++] = '.';
			if (i < n)
				p[i++] = ' ';
			break;
		default:
			p[i++] = ' ';
			break;
		}
	}
	p[n] = '\0';
	return p;
}

static void
split(const char *name, const char *text, size_t len,
    const struct chunk_opts *o, struct chunk **v, size_t *n)
{
	char	 err[RS_ERRLEN];

	if (chunk_text(text, len, o, v, n, err) != RS_OK)
		fail_msg("%s: %s", name, err);
	check_chunks(name, text, len, o, *v, *n);
}

static void
test_long_word(void **state)
{
	struct chunk	*v;
	char		*w;
	size_t		 n, i, len = 50000;

	(void)state;
	assert_non_null(w = malloc(len));
	for (i = 0; i < len; i++)
		w[i] = (char)('a' + i % 26);
	split("long word", w, len, NULL, &v, &n);
	/* 4000 bytes a chunk, 480 of them shared with the next. */
	assert_true(n >= len / (4 * CHUNK_TARGET_TOKENS));
	for (i = 0; i + 1 < n; i++) {
		assert_int_equal(v[i].len, 4 * CHUNK_TARGET_TOKENS);
		assert_int_equal(v[i].off + v[i].len - v[i + 1].off,
		    4 * CHUNK_OVERLAP_TOKENS);
	}
	assert_int_equal(v[n - 1].off + v[n - 1].len, len);
	free(v);
	free(w);
}

static void
test_multibyte(void **state)
{
	static const char *const units[] = {
		"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae"
		"\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\xe3\x80\x82",
		"\xf0\x9f\x98\x80\xf0\x9f\x8e\x89\xf0\x9f\x91\x8d\xf0\x9f\x8f"
		"\xbd",
		"caf\xc3\xa9 \xf0\x9f\x8d\xb5 \xd0\xbf\xd1\x80\xd0\xb8 ",
	};
	static const struct chunk_opts opts[] = {
		{ CHUNK_TARGET_TOKENS, CHUNK_OVERLAP_TOKENS },
		{ 1, 0 }, { 2, 1 }, { 7, 3 }, { 50, 10 }, { 9000, 100 },
		{ 9000, 8000 }, { 8191, 8190 },
	};
	struct chunk	*v;
	char		*t, name[64];
	size_t		 n, i, j, u, ulen, len;

	(void)state;
	for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		ulen = strlen(units[u]);
		len = 30000 / ulen * ulen;
		assert_non_null(t = malloc(len));
		for (i = 0; i < len; i += ulen)
			memcpy(t + i, units[u], ulen);
		for (j = 0; j < sizeof(opts) / sizeof(opts[0]); j++) {
			(void)snprintf(name, sizeof(name), "unit %zu opts %zu",
			    u, j);
			split(name, t, len, &opts[j], &v, &n);
			assert_true(n > 1);
			for (i = 0; i < n; i++)
				assert_false((t[v[i].off] & 0xc0) == 0x80);
			free(v);
		}
		free(t);
	}
}

static void
test_overlap_prose(void **state)
{
	struct chunk	*v;
	char		*t;
	size_t		 n, i, len = 200000, shared;

	(void)state;
	t = make_prose(len, 0x9e3779b97f4a7c15ULL);
	split("prose", t, len, NULL, &v, &n);
	assert_true(n > 40);
	for (i = 0; i + 1 < n; i++) {
		/* A full chunk ends in the last half of its window. */
		assert_true(chunk_est_tokens(t + v[i].off, v[i].len) >=
		    CHUNK_TARGET_TOKENS / 2 - 1);
		/* The next starts at a word inside this one. */
		assert_true(v[i + 1].off < v[i].off + v[i].len);
		assert_true(isws((unsigned char)t[v[i + 1].off - 1]));
		shared = chunk_est_tokens(t + v[i + 1].off,
		    v[i].off + v[i].len - v[i + 1].off);
		assert_true(shared <= CHUNK_OVERLAP_TOKENS);
		assert_true(shared >= CHUNK_OVERLAP_TOKENS - 10);
	}
	free(v);
	free(t);
}

static void
test_pathological(void **state)
{
	static const struct chunk_opts opts[] = {
		{ 1, 0 }, { 2, 1 }, { 3, 2 }, { 1000, 999 },
		{ SIZE_MAX, SIZE_MAX - 1 }, { 8191, 8190 },
	};
	static const char *const texts[] = {
		"one two three four five six seven eight nine ten",
		"a\n\n\n\n\n\n\n\n\n\n\n\nb                      c. d! e? f",
		"\xe6\x97\xa5 \xe6\x9c\xac \xe8\xaa\x9e x y z \xf0\x9f\x8e\x89",
		"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80 \xff\xfe a",
	};
	struct chunk	*v;
	char		*big, name[64];
	size_t		 n, i, j;

	(void)state;
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		for (j = 0; j < sizeof(texts) / sizeof(texts[0]); j++) {
			(void)snprintf(name, sizeof(name), "opts %zu text %zu",
			    i, j);
			split(name, texts[j], strlen(texts[j]), &opts[i], &v,
			    &n);
			free(v);
		}
		big = make_prose(60000, 42 + i);
		(void)snprintf(name, sizeof(name), "opts %zu prose", i);
		split(name, big, 60000, &opts[i], &v, &n);
		free(v);
		free(big);
	}

	/* Continuation bytes weigh nothing: only the byte cap cuts them. */
	assert_non_null(big = malloc(3 * CHUNK_MAX_BYTES));
	memset(big, 0x80, 3 * CHUNK_MAX_BYTES);
	split("continuation run", big, 3 * CHUNK_MAX_BYTES, NULL, &v, &n);
	assert_true(n >= 3);
	free(v);
	free(big);
}

/*
 * The byte cap ends the window inside a code point, and a big overlap
 * starts the next window one byte later: it still may not split it.
 */
static void
test_byte_cap_edge(void **state)
{
	static const char *const mb[] = {
		"\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x8e\x89",
	};
	static const struct chunk_opts opts[] = {
		{ 9000, 8999 }, { 9000, 0 }, { 8191, 8190 }, { 20000, 10000 },
	};
	struct chunk	*v;
	char		*t, name[64];
	size_t		 pad, m, o, n, len, ml;

	(void)state;
	assert_non_null(t = malloc(CHUNK_MAX_BYTES + 64));
	for (pad = CHUNK_MAX_BYTES - 5; pad <= CHUNK_MAX_BYTES; pad++)
		for (m = 0; m < sizeof(mb) / sizeof(mb[0]); m++)
			for (o = 0; o < sizeof(opts) / sizeof(opts[0]); o++) {
				ml = strlen(mb[m]);
				memset(t, 'a', pad);
				memcpy(t + pad, mb[m], ml);
				memcpy(t + pad + ml, mb[m], ml);
				memset(t + pad + 2 * ml, 'b', 20);
				len = pad + 2 * ml + 20;
				(void)snprintf(name, sizeof(name),
				    "pad %zu mb %zu opts %zu", pad, m, o);
				split(name, t, len, &opts[o], &v, &n);
				free(v);
			}
	free(t);
}

static void
test_bad_args(void **state)
{
	struct chunk_opts	 o = { 1, 0 };
	struct chunk		*v = NULL;
	size_t			 n = 5;

	(void)state;
	assert_int_equal(chunk_text(NULL, 0, NULL, &v, &n, NULL), RS_OK);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_int_equal(chunk_text(NULL, 1, NULL, &v, &n, NULL), RS_EINPUT);
	assert_int_equal(chunk_text("x", 1, &o, NULL, &n, NULL), RS_EINPUT);
	assert_int_equal(chunk_text("x", 1, &o, &v, NULL, NULL), RS_EINPUT);
}

/* Random bytes drawn from an alphabet rich in breaks and multi-byte. */
static void
test_random(void **state)
{
	static const char *const atoms[] = {
		"a", "b", "word", " ", "  ", "\n", "\n\n", "\t", ". ", "!",
		"?", "\r\n", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x8e\x89",
		"\x80", "\xbf", "\xc3", "\xf0\x9f", "\xff", "\0",
	};
	struct chunk_opts	 o;
	struct chunk		*v;
	uint64_t		 seed = 0x243f6a8885a308d3ULL;
	char			 buf[4096], name[64];
	size_t			 iter, len, cap, al, n;

	(void)state;
	for (iter = 0; iter < 600; iter++) {
		cap = rnd(&seed) % 2 ? rnd(&seed) % 64 : rnd(&seed) % 4000;
		len = 0;
		while (len < cap) {
			if (rnd(&seed) % 8 == 0) {
				buf[len++] = (char)rnd(&seed);
				continue;
			}
			al = rnd(&seed) % (sizeof(atoms) / sizeof(atoms[0]));
			if (len + strlen(atoms[al]) + 1 > sizeof(buf))
				break;
			/* "\0" has strlen 0: write the NUL itself. */
			if (atoms[al][0] == '\0')
				buf[len++] = '\0';
			memcpy(buf + len, atoms[al], strlen(atoms[al]));
			len += strlen(atoms[al]);
		}
		o.target = 1 + rnd(&seed) % 40;
		o.overlap = rnd(&seed) % o.target;
		(void)snprintf(name, sizeof(name), "random %zu", iter);
		split(name, buf, len, iter % 5 ? &o : NULL, &v, &n);
		free(v);
	}
}

static void
test_big_is_fast(void **state)
{
	struct chunk	*v;
	char		*t;
	size_t		 n, len = 4u << 20;
	double		 t0, ms;

	(void)state;
	t = make_prose(len, 7);
	t0 = rs_now_ms();
	assert_int_equal(chunk_text(t, len, NULL, &v, &n, NULL), RS_OK);
	ms = rs_now_ms() - t0;
	print_message("4 MiB prose: %zu chunks in %.1f ms\n", n, ms);
	/* Generous for sanitizer builds; a quadratic split takes minutes. */
	assert_true(ms < 1000);
	check_chunks("4 MiB", t, len, NULL, v, n);
	free(v);
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_est_tokens),
		cmocka_unit_test(test_long_word),
		cmocka_unit_test(test_multibyte),
		cmocka_unit_test(test_overlap_prose),
		cmocka_unit_test(test_pathological),
		cmocka_unit_test(test_byte_cap_edge),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_big_is_fast),
	};

	return cmocka_run_group_tests_name("chunk", tests, NULL, NULL);
}
