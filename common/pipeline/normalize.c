/*
 * normalize.c — render one upstream item as text (see normalize.h).
 *
 * Values are rendered straight into the output buffer; a value that
 * trims to nothing is rolled back together with its separator, so no
 * temporary buffers are needed.  At most NORM_MAX_NEST levels of
 * containers are rendered, the field's value being the first; deeper
 * ones are skipped (silently: a marker would only be embedded noise).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"
#include "normalize.h"

#define NORM_MAX_NEST	8
#define NORM_SLACK	4096	/* see norm_item */
/* Bytes of a title string looked at; the rest cannot fit anyway. */
#define NORM_TITLE_SCAN	(8 * NORM_MAX_TITLE)

struct norm_ctx {
	struct rs_buf	*out;
	enum rs_status	 st;	/* first failure, sticky */
	int		 first;	/* no value yet on the current line */
};

static const char	 norm_repl[] = "\xef\xbf\xbd";	/* U+FFFD */

static void
norm_cut(struct rs_buf *b, size_t len)
{
	b->len = len;
	if (b->p != NULL)
		b->p[len] = '\0';
}

/* Append; on failure tell a full buffer (RS_EINPUT) from RS_ENOMEM. */
static enum rs_status
norm_append(struct rs_buf *b, const void *s, size_t n)
{
	if (rs_buf_append(b, s, n) == 0)
		return RS_OK;
	if (n > b->max || b->len > b->max - n)
		return RS_EINPUT;
	return RS_ENOMEM;
}

static enum rs_status
norm_utf8_st(struct rs_buf *out, const char *str, size_t len)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 i = 0, run = 0, n, bad = 1;
	uint32_t		 cp;
	enum rs_status		 st = RS_OK;

	/* s[run..i) is copied as is; flush it before any substitution. */
	while (i < len && st == RS_OK) {
		if (s[i] >= 0x20 && s[i] < 0x7f) {
			i++;
			continue;
		}
		if (s[i] == '\t' || s[i] == '\n') {
			i++;
			continue;
		}
		if (s[i] >= 0x80 && (n = rs_utf8_seq(s + i, len - i, &cp,
		    &bad)) > 0) {
			i += n;
			continue;
		}
		if ((st = norm_append(out, s + run, i - run)) != RS_OK)
			break;
		if (s[i] == '\r') {
			st = norm_append(out, "\n", 1);
			i += (i + 1 < len && s[i + 1] == '\n') ? 2 : 1;
		} else if (s[i] >= 0x80) {
			st = norm_append(out, norm_repl, 3);
			i += bad;
		} else
			i++;	/* other C0 controls, NUL, DEL */
		run = i;
	}
	if (st == RS_OK)
		st = norm_append(out, s + run, i - run);
	return st;
}

int
norm_utf8(struct rs_buf *out, const char *s, size_t len)
{
	return norm_utf8_st(out, s, len) == RS_OK ? 0 : -1;
}

static int
norm_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f';
}

/* Trim ASCII whitespace off out[start..len). */
static void
norm_trim(struct rs_buf *b, size_t start)
{
	size_t	 k = start;

	while (b->len > start && norm_isspace(b->p[b->len - 1]))
		b->len--;
	while (k < b->len && norm_isspace(b->p[k]))
		k++;
	if (k > start) {
		memmove(b->p + start, b->p + k, b->len - k);
		b->len -= k - start;
	}
	norm_cut(b, b->len);
}

static void
norm_put(struct norm_ctx *c, const char *s, size_t n)
{
	if (c->st == RS_OK)
		c->st = norm_append(c->out, s, n);
}

/*
 * Shortest "%.*g" spelling that reads back as the same double, so 9.99
 * is "9.99" (json-c would print "9.9900000000000002" for a double it did
 * not parse) and 99.0 is "99".  XXX assumes the "C" locale.
 */
static void
norm_double(struct norm_ctx *c, double d)
{
	char	 buf[64];
	int	 prec, n = 0;

	if (!isfinite(d))
		return;		/* lenient parsers accept NaN; skip it */
	if (d == 0)
		d = 0;		/* -0 */
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (n > 0 && (size_t)n < sizeof(buf))
		norm_put(c, buf, (size_t)n);
}

static void	 norm_value(struct norm_ctx *, struct json_object *, int);

/* Render v after sep; roll both back if v renders to nothing. */
static void
norm_member(struct norm_ctx *c, const char *sep, const char *key,
    struct json_object *v, int depth, int *first)
{
	struct rs_buf	*b = c->out;
	size_t		 mark = b->len, start;

	if (!*first)
		norm_put(c, sep, strlen(sep));
	if (key != NULL && key[0] != '\0' && c->st == RS_OK) {
		c->st = norm_utf8_st(b, key, strlen(key));
		norm_put(c, ": ", 2);
	}
	start = b->len;
	norm_value(c, v, depth);
	if (c->st != RS_OK)
		return;
	norm_trim(b, start);
	if (b->len == start)
		norm_cut(b, mark);
	else
		*first = 0;
}

static void
norm_value(struct norm_ctx *c, struct json_object *v, int depth)
{
	struct json_object_iterator	 it, end;
	const char			*s;
	size_t				 i, n;
	int				 first = 1;

	if (c->st != RS_OK)
		return;
	switch (json_object_get_type(v)) {
	case json_type_null:
		break;
	case json_type_boolean:
		s = json_object_get_boolean(v) ? "true" : "false";
		norm_put(c, s, strlen(s));
		break;
	case json_type_int:
		s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		if (s != NULL)
			norm_put(c, s, strlen(s));
		break;
	case json_type_double:
		norm_double(c, json_object_get_double(v));
		break;
	case json_type_string:
		c->st = norm_utf8_st(c->out, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		break;
	case json_type_array:
		if (depth >= NORM_MAX_NEST)
			break;
		n = json_object_array_length(v);
		for (i = 0; i < n && c->st == RS_OK; i++)
			norm_member(c, ", ", NULL,
			    json_object_array_get_idx(v, i), depth + 1,
			    &first);
		break;
	case json_type_object:
		if (depth >= NORM_MAX_NEST)
			break;
		it = json_object_iter_begin(v);
		end = json_object_iter_end(v);
		for (; !json_object_iter_equal(&it, &end) && c->st == RS_OK;
		    json_object_iter_next(&it))
			norm_member(c, "; ", json_object_iter_peek_name(&it),
			    json_object_iter_peek_value(&it), depth + 1,
			    &first);
		break;
	}
}

/* jp_collect callback: one value of the current field's line. */
static int
norm_collect_cb(struct json_object *v, void *arg)
{
	struct norm_ctx	*c = arg;

	norm_member(c, ", ", NULL, v, 0, &c->first);
	return c->st != RS_OK;
}

enum rs_status
norm_item(struct json_object *item, const struct source_config *cfg,
    struct rs_buf *out, char *err)
{
	struct norm_ctx	 c;
	size_t		 i, mark, start, max = out->max, limit;
	const char	*f;

	rs_buf_reset(out);
	limit = max < NORM_MAX_TEXT ? max : NORM_MAX_TEXT;
	/*
	 * Separators, keys and the field's "path: " are written before we
	 * know whether a value follows, and rolled back if none does; the
	 * slack keeps that from failing text that ends just under limit,
	 * which is checked at the end.
	 */
	out->max = limit + NORM_SLACK;
	c.out = out;
	c.st = RS_OK;
	for (i = 0; i < cfg->ntext_fields && c.st == RS_OK; i++) {
		f = cfg->text_fields[i];
		mark = out->len;
		if (mark > 0)
			norm_put(&c, "\n", 1);
		if (c.st == RS_OK)
			c.st = norm_utf8_st(out, f, strlen(f));
		norm_put(&c, ": ", 2);
		start = out->len;
		c.first = 1;
		if (c.st == RS_OK &&
		    jp_collect(item, f, norm_collect_cb, &c) != 0 &&
		    c.st == RS_OK) {
			rs_errf(err, "textFields entry '%.64s' yields too many "
			    "values or nests too deep", f);
			c.st = RS_EINPUT;
			goto fail;
		}
		if (c.st == RS_OK && out->len == start)
			norm_cut(out, mark);
	}
	if (c.st == RS_ENOMEM) {
		rs_errf(err, "out of memory");
		goto fail;
	}
	if (c.st != RS_OK || out->len > limit) {
		c.st = RS_EINPUT;
		rs_errf(err, "item text exceeds %zu bytes", limit);
		goto fail;
	}
	out->max = max;
	return RS_OK;
fail:
	rs_buf_reset(out);
	out->max = max;
	return c.st;
}

/* Length of the UTF-8 sequence led by c (input already sanitised). */
static size_t
norm_seqlen(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xf0)
		return 4;
	if (c >= 0xe0)
		return 3;
	return 2;
}

void
norm_title(struct json_object *item, const struct source_config *cfg,
    char *title, size_t titlesz)
{
	struct json_object	*v;
	struct norm_ctx		 c;
	struct rs_buf		 b;
	const char		*s;
	size_t			 len, i, n, o = 0, lim;
	int			 space = 0;

	if (titlesz == 0)
		return;
	title[0] = '\0';
	if (cfg->title_field == NULL ||
	    (v = jp_get(item, cfg->title_field)) == NULL ||
	    json_object_is_type(v, json_type_array) ||
	    json_object_is_type(v, json_type_object))
		return;
	rs_buf_init(&b, 4 * NORM_TITLE_SCAN);
	c.out = &b;
	c.st = RS_OK;
	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		len = (size_t)json_object_get_string_len(v);
		if (len > NORM_TITLE_SCAN) {
			/* Cut before a sequence the scan would split. */
			len = NORM_TITLE_SCAN;
			for (i = 0; i < 3 && ((unsigned char)s[len] & 0xc0)
			    == 0x80; i++)
				len--;
		}
		c.st = norm_utf8_st(&b, s, len);
	} else
		norm_value(&c, v, 0);
	if (c.st != RS_OK || b.len == 0)
		goto out;
	lim = titlesz < NORM_MAX_TITLE ? titlesz - 1 : NORM_MAX_TITLE - 1;
	for (i = 0; i < b.len; i += n) {
		n = norm_seqlen((unsigned char)b.p[i]);
		if (norm_isspace(b.p[i])) {
			space = o > 0;
			continue;
		}
		if (o + space + n > lim)
			break;
		if (space)
			title[o++] = ' ';
		space = 0;
		memcpy(title + o, b.p + i, n);
		o += n;
	}
	title[o] = '\0';
out:
	rs_buf_free(&b);
}
