/*
 * jsonbound.c — a budget for json-c trees, checked before they are built.
 *
 * The cost model (json-c 0.16, glibc malloc on 64-bit; measured, see
 * tests/unit/test_jsonbound.c): every allocation takes a chunk of
 * max(32, round16(n + 8)) bytes; a value costs
 *   object   784, plus a larger hash table (40-byte entries, doubled
 *            whenever more than 2/3 full) when it has more than 10 keys,
 *            plus one chunk per key (the key is copied)
 *   array    144 plus 16 bytes a slot (the slots double while the array
 *            is built, then shrink); the 32 slots it starts with count
 *            only while it is open
 *   string   chunk(57 + length)
 *   number   64 (a double keeps its text too: + chunk(length + 1))
 *   true/false 64, null 0
 * and the tokener holds a buffer of at most twice the longest token.
 * Lengths are those of the text, an upper bound of the unescaped ones.
 */
#include <stdio.h>
#include <string.h>

#include "jsonbound.h"

#define JB_MAX_DEPTH	256	/* the scan's own stack; json-c's is less */
/* Tokener state, and the 32 slots of every array still open (at most
 * JB_MAX_DEPTH at a time; shrunk when it closes). */
#define JB_TOKENER	(16u * 1024 + JB_MAX_DEPTH * 272u)

struct jb_level {
	unsigned char	 obj;		/* 1 object, 0 array */
	unsigned char	 want_key;	/* object: the next string is a key */
	size_t		 n;		/* members or elements so far */
};

static size_t
jb_chunk(size_t n)
{
	size_t	 c = (n + 8 + 15) & ~(size_t)15;

	return c < 32 ? 32 : c;
}

/* Extra heap of an object's hash table for n keys beyond the first 16. */
static size_t
jb_table(size_t n)
{
	size_t	 s = 16;

	while (n * 3 > s * 2 && s < ((size_t)1 << 40))
		s *= 2;
	return s == 16 ? 0 : jb_chunk(40 * s);
}

/* Saturating add. */
static size_t
jb_add(size_t a, size_t b)
{
	return a > (size_t)-1 - b ? (size_t)-1 : a + b;
}

/* Close the innermost container: add what its size decides. */
static size_t
jb_close(const struct jb_level *l)
{
	if (l->obj)
		return jb_table(l->n);
	return l->n > (size_t)-1 / 16 ? (size_t)-1 : 16 * l->n;
}

/* A value or a key starts inside the container st[d - 1], if any: count
 * it there.  1 when it is an object's key. */
static int
jb_member(struct jb_level *st, int d)
{
	int	 key;

	if (d == 0)
		return 0;
	key = st[d - 1].obj && st[d - 1].want_key;
	if (key) {
		st[d - 1].want_key = 0;
		st[d - 1].n++;
	} else if (!st[d - 1].obj)
		st[d - 1].n++;
	return key;
}

/* The string at p[i] (a '"'), a key or a value: its cost added to *cost,
 * its length into *tok; the index after it. */
static size_t
jb_string(const char *p, size_t i, size_t len, int key, size_t *tok,
    size_t *cost)
{
	size_t	 j;

	for (j = i + 1; j < len && p[j] != '"'; j++)
		if (p[j] == '\\')
			j++;
	*tok = (j < len ? j : len) - i - 1;
	*cost = jb_add(*cost, key ? jb_chunk(*tok + 1) : jb_chunk(57 + *tok));
	return j + 1;
}

/* A number, literal or garbage at p[i], up to a delimiter: likewise. */
static size_t
jb_scalar(const char *p, size_t i, size_t len, size_t *tok, size_t *cost)
{
	size_t		 j;
	unsigned char	 c;
	int		 dbl = 0;

	for (j = i; j < len; j++) {
		c = (unsigned char)p[j];
		if (c == ',' || c == ']' || c == '}' || c == ':' || c == ' ' ||
		    c == '\t' || c == '\n' || c == '\r' || c == '"' ||
		    c == '[' || c == '{')
			break;
		if (c == '.' || c == 'e' || c == 'E')
			dbl = 1;
	}
	*tok = j - i;
	if (j == i)	/* a stray byte; json-c refuses it */
		j++;
	if (p[i] == 'n')
		;	/* null: no object */
	else if (dbl && p[i] != 't' && p[i] != 'f')
		*cost = jb_add(*cost, 64 + jb_chunk(*tok + 1));
	else
		*cost = jb_add(*cost, 64);
	return j;
}

size_t
jbound_cost(const char *p, size_t len, size_t limit)
{
	struct jb_level	 st[JB_MAX_DEPTH];
	size_t		 i = 0, cost = JB_TOKENER, maxtok = 0, tok;
	int		 d = 0, key;

	while (i < len) {
		unsigned char c = (unsigned char)p[i];

		if (cost > limit)
			return cost;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == ':') {
			i++;
			continue;
		}
		if (c == ',') {
			if (d > 0 && st[d - 1].obj)
				st[d - 1].want_key = 1;
			i++;
			continue;
		}
		if (c == '}' || c == ']') {
			if (d > 0) {
				d--;
				cost = jb_add(cost, jb_close(&st[d]));
			}
			i++;
			continue;
		}
		key = jb_member(st, d);
		if (c == '{' || c == '[') {
			if (d == JB_MAX_DEPTH)
				return cost;	/* json-c refuses the depth */
			st[d].obj = c == '{';
			st[d].want_key = c == '{';
			st[d].n = 0;
			d++;
			cost = jb_add(cost, c == '{' ? 784 : 144);
			i++;
			continue;
		}
		if (c == '"')
			i = jb_string(p, i, len, key, &tok, &cost);
		else
			i = jb_scalar(p, i, len, &tok, &cost);
		if (tok > maxtok)
			maxtok = tok;
	}
	/* Containers left open (truncated text) and the tokener's buffer. */
	while (d > 0)
		cost = jb_add(cost, jb_close(&st[--d]));
	return jb_add(cost, maxtok > (size_t)-1 / 2 ? (size_t)-1 :
	    2 * maxtok + 64);
}

size_t
jbound_budget(size_t body_cap)
{
	/*
	 * 1.5x the cap.  A worker holds the body and the tree while parsing
	 * (2.5x), then the tree and the page's text, which is less than the
	 * tree's strings (batch.c drops the body after the parse), plus its
	 * ~8 MiB of code and libraries: under 4x the cap plus a constant,
	 * and under 64 MiB for the default 16 MiB (25_json_memory).
	 */
	if (body_cap < 1024 * 1024)
		body_cap = 1024 * 1024;
	return body_cap + body_cap / 2;
}

enum rs_status
jbound_parse(const char *text, size_t len, int depth, size_t budget,
    const char *what, struct json_object **out, int *syntax, char *err)
{
	struct json_tokener	*tok = NULL;
	struct json_object	*o = NULL;
	enum json_tokener_error	 je;
	size_t			 cost;
	enum rs_status		 st = RS_EINPUT;

	*out = NULL;
	if (syntax != NULL)
		*syntax = 0;
	if (text == NULL)
		text = "";
	/* A UTF-8 byte order mark (some .NET APIs send one) is not JSON. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
	}
	if (len > (size_t)0x7fffffff) {
		rs_errf(err, "%s is larger than 2 GiB", what);
		return RS_EINPUT;
	}
	if ((cost = jbound_cost(text, len, budget)) > budget) {
		rs_errf(err, "%s would take more than %zu bytes of memory to "
		    "parse; ask for smaller pages", what, budget);
		return RS_ETOOBIG;
	}
	if ((tok = json_tokener_new_ex(depth)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	o = json_tokener_parse_ex(tok, text, (int)len);
	je = json_tokener_get_error(tok);
	if (o == NULL || je != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		if (je == json_tokener_error_depth)
			rs_errf(err, "%s is nested deeper than %d", what,
			    depth);
		else {
			if (syntax != NULL)
				*syntax = 1;
			rs_errf(err, "%s is not valid JSON", what);
		}
		json_object_put(o);
		goto out;
	}
	*out = o;
	st = RS_OK;
out:
	json_tokener_free(tok);
	return st;
}
