/*
 * bodytpl.c — POST bodies from a JSON template (see bodytpl.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bodytpl.h"
#include "pager.h"
#include "placeholder.h"

/* 1 if s is a JSON number as RFC 8259 writes one. */
static int
bodytpl_is_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return 0;
	if (*s == '.') {
		if (*++s < '0' || *s > '9')
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		if (*++s == '+' || *s == '-')
			s++;
		if (*s < '0' || *s > '9')
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/* since as a JSON value: a number keeps its text; NULL is JSON null. */
static struct json_object *
bodytpl_since(const char *since)
{
	if (since == NULL)
		return NULL;
	if (bodytpl_is_number(since))
		return json_object_new_double_s(strtod(since, NULL), since);
	return json_object_new_string(since);
}

/* The placeholder's value as a JSON value (whole-string placeholders). */
static struct json_object *
bodytpl_value(int ph, const struct bodytpl_vals *vals)
{
	switch (ph) {
	case PH_SINCE:
		return bodytpl_since(vals->since);
	case PH_CURSOR:
		if (vals->cursor_type == BODYTPL_INT)
			return json_object_new_int64(vals->cursor_num);
		if (vals->cursor_type == BODYTPL_STRING &&
		    vals->cursor != NULL)
			return json_object_new_string(vals->cursor);
		return NULL;	/* JSON null */
	case PH_PAGE_SIZE:
		return json_object_new_int(vals->page_size);
	default:
		return json_object_new_string(vals->api_key != NULL ?
		    vals->api_key : "");
	}
}

/* The placeholder's value as text into b (string interpolation). */
static int
bodytpl_text(struct rs_buf *b, int ph, const struct bodytpl_vals *vals)
{
	switch (ph) {
	case PH_CURSOR:
		if (vals->cursor_type == BODYTPL_INT)
			return rs_buf_printf(b, "%lld", vals->cursor_num);
		if (vals->cursor_type == BODYTPL_STRING &&
		    vals->cursor != NULL)
			return rs_buf_puts(b, vals->cursor);
		return 0;
	case PH_PAGE_SIZE:
		return rs_buf_printf(b, "%d", vals->page_size);
	case PH_SINCE:
		return vals->since != NULL ? rs_buf_puts(b, vals->since) : 0;
	default:
		return vals->api_key != NULL ? rs_buf_puts(b, vals->api_key) :
		    0;
	}
}

/* A rendered string value into *out (new reference, NULL: JSON null);
 * -1 out of memory or past the cap. */
static int
bodytpl_string(const char *s, const struct bodytpl_vals *vals,
    struct json_object **out)
{
	struct rs_buf	 b;
	const char	*p, *q;
	size_t		 len;
	int		 ph, rc = -1;

	*out = NULL;
	if ((ph = ph_at(s, &len)) >= 0 && s[len] == '\0') {
		*out = bodytpl_value(ph, vals);
		return *out == NULL && ph != PH_CURSOR && ph != PH_SINCE ?
		    -1 : 0;
	}
	if (strstr(s, "{{") == NULL)
		return (*out = json_object_new_string(s)) == NULL ? -1 : 0;
	rs_buf_init(&b, BODYTPL_MAX_BODY);
	for (p = s; (q = strstr(p, "{{")) != NULL; p = q + len) {
		if (rs_buf_append(&b, p, (size_t)(q - p)) == -1)
			goto out;
		if ((ph = ph_at(q, &len)) < 0) {
			len = 2;	/* checked by ph_check */
			if (rs_buf_append(&b, q, len) == -1)
				goto out;
		} else if (bodytpl_text(&b, ph, vals) == -1)
			goto out;
	}
	if (rs_buf_puts(&b, p) == -1)
		goto out;
	if ((*out = json_object_new_string_len(b.p != NULL ? b.p : "",
	    (int)b.len)) != NULL)
		rc = 0;
out:
	rs_buf_free_wiped(&b);
	return rc;
}

/* A copy of v with its strings rendered (new reference); -1 on failure. */
static int
bodytpl_copy(struct json_object *v, const struct bodytpl_vals *vals,
    int depth, struct json_object **out)
{
	struct json_object_iterator	 it, end;
	struct json_object		*c = NULL, *sub;
	size_t				 i, n;

	*out = NULL;
	if (depth > PH_MAX_DEPTH)
		return -1;
	switch (json_object_get_type(v)) {
	case json_type_object:
		if ((c = json_object_new_object()) == NULL)
			return -1;
		it = json_object_iter_begin(v);
		end = json_object_iter_end(v);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it)) {
			if (bodytpl_copy(json_object_iter_peek_value(&it),
			    vals, depth + 1, &sub) == -1 ||
			    json_object_object_add(c,
			    json_object_iter_peek_name(&it), sub) != 0) {
				json_object_put(c);
				return -1;
			}
		}
		break;
	case json_type_array:
		n = json_object_array_length(v);
		if ((c = json_object_new_array_ext((int)n)) == NULL)
			return -1;
		for (i = 0; i < n; i++)
			if (bodytpl_copy(json_object_array_get_idx(v, i), vals,
			    depth + 1, &sub) == -1 ||
			    json_object_array_add(c, sub) != 0) {
				json_object_put(c);
				return -1;
			}
		break;
	case json_type_string:
		return bodytpl_string(json_object_get_string(v), vals, out);
	default:
		c = json_object_get(v);	/* shared: numbers keep their text */
		break;
	}
	*out = c;
	return 0;
}

enum rs_status
bodytpl_request(const struct source_config *cfg, const char *cursor,
    const char *api_key, const char *since, char **body, size_t *len,
    struct fetch_req *fr, char *err)
{
	enum rs_status	 st;

	*body = NULL;
	*len = 0;
	if (!cfg->method_post)
		return RS_OK;
	if ((st = bodytpl_page(cfg, cursor, api_key, since, body, len,
	    err)) != RS_OK)
		return st;
	fr->method = "POST";
	fr->body = *body;
	fr->body_len = *len;
	fr->content_type = "application/json";
	return RS_OK;
}

void
bodytpl_free(char *body, size_t len)
{
	if (body == NULL)
		return;
	explicit_bzero(body, len);
	free(body);
}

enum rs_status
bodytpl_render(struct json_object *tpl, const struct bodytpl_vals *vals,
    char **body, size_t *len, char *err)
{
	struct json_object	*root = NULL;
	const char		*s;
	size_t			 n = 0;
	enum rs_status		 st = RS_ENOMEM;

	*body = NULL;
	*len = 0;
	if (bodytpl_copy(tpl, vals, 0, &root) == -1) {
		rs_errf(err, "out of memory building the request body");
		goto out;
	}
	if ((s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE)) == NULL) {
		rs_errf(err, "out of memory building the request body");
		goto out;
	}
	n = strlen(s);
	if (n > BODYTPL_MAX_BODY) {
		rs_errf(err, "request body is longer than %u bytes",
		    BODYTPL_MAX_BODY);
		st = RS_EINPUT;
	} else if ((*body = rs_strndup(s, n)) == NULL)
		rs_errf(err, "out of memory");
	else {
		*len = n;
		st = RS_OK;
	}
	/* json-c's own copy of the text may hold the key too. */
	explicit_bzero((char *)(uintptr_t)s, n);
out:
	json_object_put(root);
	return st;
}

enum rs_status
bodytpl_page(const struct source_config *cfg, const char *cursor,
    const char *api_key, const char *since, char **body, size_t *len,
    char *err)
{
	struct bodytpl_vals	 vals;
	struct rs_buf		 cur;
	enum rs_status		 st;

	*body = NULL;
	*len = 0;
	memset(&vals, 0, sizeof(vals));
	rs_buf_init(&cur, PAGER_MAX_CURSOR * 4);
	vals.page_size = cfg->page_size;
	vals.api_key = api_key;
	vals.since = since;
	if (cursor != NULL && strlen(cursor) > PAGER_MAX_CURSOR) {
		rs_errf(err, "stored cursor is longer than %d bytes",
		    PAGER_MAX_CURSOR);
		st = RS_EINPUT;
		goto out;
	}
	switch (cfg->style) {
	case CFG_STYLE_OFFSET:
	case CFG_STYLE_PAGE:
		vals.cursor_type = BODYTPL_INT;
		if ((st = pager_position(cfg, cursor, &vals.cursor_num,
		    err)) != RS_OK)
			goto out;
		break;
	default:
		if (cursor == NULL)
			break;
		/* A stored cursor keeps the key as "{{API_KEY}}". */
		if (rs_buf_render_key(&cur, cursor, api_key) == -1 ||
		    cur.p == NULL) {
			rs_errf(err, "stored cursor is too long");
			st = RS_EINPUT;
			goto out;
		}
		vals.cursor_type = BODYTPL_STRING;
		vals.cursor = cur.p;
		break;
	}
	st = bodytpl_render(cfg->body_template, &vals, body, len, err);
out:
	rs_buf_free_wiped(&cur);
	return st;
}
