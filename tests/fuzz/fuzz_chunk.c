/*
 * fuzz_chunk.c — libFuzzer harness for chunk_text.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icommon \
 *       tests/fuzz/fuzz_chunk.c common/pipeline/chunk.c common/base/rs.c -o fuzz_chunk
 *   ./fuzz_chunk tests/fuzz/corpus/chunk
 *
 * Splits the input with the default options, then the input minus its
 * first four bytes with options taken from them, and aborts when a
 * split breaks an invariant of chunk.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "chunk.h"
#include "../unit/testutil.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
fz_isws(uint8_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static int
fz_iscont(uint8_t c)
{
	return (c & 0xc0) == 0x80;
}

/* 1 if p[0..n) is well-formed UTF-8 (RFC 3629). */
static void
fz_fail(const char *what, size_t i)
{
	fprintf(stderr, "chunk invariant broken: %s (chunk %zu)\n", what, i);
	abort();
}

/*
 * Prefix counts keep the check O(len + chunks): with a big overlap there
 * can be a chunk per byte, each up to CHUNK_MAX_BYTES long.
 */
static void
fz_check(const uint8_t *t, size_t len, const struct chunk_opts *o)
{
	struct chunk	*v = NULL;
	size_t		*ascii, *other;
	size_t		 n = 0, i, j, a, b, end = 0, target;
	int		 valid;

	if ((ascii = calloc(len + 1, sizeof(*ascii))) == NULL ||
	    (other = calloc(len + 1, sizeof(*other))) == NULL)
		abort();
	for (j = 0; j < len; j++) {
		ascii[j + 1] = ascii[j] + (t[j] < 0x80);
		other[j + 1] = other[j] + (t[j] >= 0xc0);
	}
	if (chunk_text((const char *)t, len, o, &v, &n, NULL) != RS_OK)
		fz_fail("chunk_text failed", 0);
	target = o != NULL ? o->target : CHUNK_TARGET_TOKENS;
	valid = tu_utf8_valid(t, len);
	if ((n == 0) != (v == NULL))
		fz_fail("chunk array", 0);
	for (i = 0; i < n; i++) {
		a = v[i].off;
		b = v[i].off + v[i].len;
		if (v[i].len == 0 || a > len || v[i].len > len - a)
			fz_fail("outside the text", i);
		if (v[i].len > CHUNK_MAX_BYTES)
			fz_fail("over CHUNK_MAX_BYTES", i);
		/* chunk_est_tokens(), from the prefix counts. */
		if ((ascii[b] - ascii[a] + 3) / 4 + other[b] - other[a] >
		    target)
			fz_fail("over target tokens", i);
		if (fz_isws(t[a]) || fz_isws(t[b - 1]))
			fz_fail("not trimmed", i);
		if (i > 0 && (a <= v[i - 1].off ||
		    b <= v[i - 1].off + v[i - 1].len))
			fz_fail("no progress", i);
		/* A piece of valid UTF-8 is valid if cut at boundaries. */
		if (valid && (fz_iscont(t[a]) || (b < len && fz_iscont(t[b]))))
			fz_fail("split inside a UTF-8 sequence", i);
		/* Invalid input is cut inside a run only when forced. */
		if (b < len && fz_iscont(t[b]) && !fz_iscont(t[b - 1]))
			fz_fail("cut before a continuation byte", i);
		for (j = end; j < a; j++)
			if (!fz_isws(t[j]))
				fz_fail("byte left out", i);
		if (b > end)
			end = b;
	}
	for (j = end; j < len; j++)
		if (!fz_isws(t[j]))
			fz_fail("tail left out", n);
	free(v);
	free(ascii);
	free(other);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chunk_opts	 o;

	fz_check(data, size, NULL);
	if (size < 4)
		return 0;
	/* Mostly tiny windows; else any size, past CHUNK_MAX_BYTES too. */
	o.target = (size_t)(data[0] & 0x7f) << 8 | data[1];
	o.target = 1 + o.target % (data[0] & 0x80 ? 9000 : 64);
	o.overlap = ((size_t)data[2] << 8 | data[3]) % o.target;
	fz_check(data + 4, size - 4, &o);
	return 0;
}
