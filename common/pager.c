/*
 * pager.c — URL building with libcurl's URL API and next-cursor rules.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "http_fetch.h"
#include "jsonpath.h"
#include "pager.h"

/* Parse a non-negative decimal that fits in long long; -1 on error. */
static long long
parse_count(const char *s)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		return -1;
	return v;
}

/* A JSON value as a non-negative integer; -1 when it is not one. */
static long long
json_count(struct json_object *v)
{
	double	 d;

	if (v == NULL)
		return -1;
	switch (json_object_get_type(v)) {
	case json_type_int:
		return json_object_get_int64(v) < 0 ? -1 :
		    json_object_get_int64(v);
	case json_type_double:
		d = json_object_get_double(v);
		return d >= 0 && d < 9e18 && d == (double)(long long)d ?
		    (long long)d : -1;
	case json_type_string:
		return parse_count(json_object_get_string(v));
	default:
		return -1;
	}
}

/* Replace "{{API_KEY}}" in tpl with key into a malloc'd string. */
static char *
render(const char *tpl, const char *key)
{
	static const char	 ph[] = "{{API_KEY}}";
	struct rs_buf		 b;
	const char		*p;

	rs_buf_init(&b, PAGER_MAX_URL);
	while ((p = strstr(tpl, ph)) != NULL) {
		if (rs_buf_append(&b, tpl, (size_t)(p - tpl)) == -1 ||
		    rs_buf_puts(&b, key != NULL ? key : "") == -1)
			goto fail;
		tpl = p + sizeof(ph) - 1;
	}
	if (rs_buf_puts(&b, tpl) == -1)
		goto fail;
	return rs_buf_steal(&b);
fail:
	rs_buf_free(&b);
	return NULL;
}

/* 1 if the raw query pair "k=v" (URL-encoded) has key name. */
static int
pair_has_key(const char *pair, size_t len, const char *name)
{
	const char	*eq = memchr(pair, '=', len);
	size_t		 klen = eq != NULL ? (size_t)(eq - pair) : len;
	char		*dec;
	int		 declen = 0, rc;

	dec = curl_easy_unescape(NULL, pair, (int)klen, &declen);
	if (dec == NULL)
		return 0;
	rc = strlen(name) == (size_t)declen &&
	    memcmp(dec, name, (size_t)declen) == 0;
	curl_free(dec);
	return rc;
}

/* Drop the query pairs whose key is in names[0..n). */
static int
drop_keys(CURLU *u, const char *const *names, size_t n)
{
	char		*q = NULL;
	struct rs_buf	 b;
	const char	*p, *amp;
	size_t		 len, i;
	int		 keep, rc = -1;

	if (curl_url_get(u, CURLUPART_QUERY, &q, 0) != CURLUE_OK)
		return 0;	/* no query */
	rs_buf_init(&b, PAGER_MAX_URL);
	for (p = q; *p != '\0'; p = *amp ? amp + 1 : amp) {
		amp = strchr(p, '&');
		if (amp == NULL)
			amp = p + strlen(p);
		len = (size_t)(amp - p);
		keep = len > 0;
		for (i = 0; keep && i < n; i++)
			if (names[i] != NULL && pair_has_key(p, len, names[i]))
				keep = 0;
		if (keep && ((b.len > 0 && rs_buf_puts(&b, "&") == -1) ||
		    rs_buf_append(&b, p, len) == -1))
			goto out;
	}
	if (curl_url_set(u, CURLUPART_QUERY, b.len ? b.p : NULL, 0) !=
	    CURLUE_OK)
		goto out;
	rc = 0;
out:
	rs_buf_free(&b);
	curl_free(q);
	return rc;
}

/*
 * Append name=value, URL-encoded by libcurl (CURLU_URLENCODE keeps the
 * first '=' and encodes the rest, so names must not contain '=': config
 * validation refuses such names).
 */
static int
append_param(CURLU *u, const char *name, const char *value)
{
	char	*pair;
	size_t	 n;
	int	 rc;

	n = strlen(name) + strlen(value) + 2;
	if ((pair = malloc(n)) == NULL)
		return -1;
	(void)snprintf(pair, n, "%s=%s", name, value);
	rc = curl_url_set(u, CURLUPART_QUERY, pair,
	    CURLU_APPENDQUERY | CURLU_URLENCODE) == CURLUE_OK ? 0 : -1;
	free(pair);
	return rc;
}

enum rs_status
pager_url(const struct source_config *cfg, const char *cursor,
    const char *api_key, char **url, char *err)
{
	CURLU		*u = NULL;
	char		*s = NULL, *val = NULL, num[32], psz[32];
	const char	*names[CFG_MAX_FIELDS + 2];
	const char	*cur_val = NULL;
	enum rs_status	 st = RS_EINPUT;
	size_t		 i, nn = 0;
	long long	 v;
	int		 absolute = 0;

	*url = NULL;
	if ((u = curl_url()) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	if (cursor != NULL && strlen(cursor) > PAGER_MAX_CURSOR) {
		rs_errf(err, "stored cursor is longer than %d bytes",
		    PAGER_MAX_CURSOR);
		goto out;
	}

	switch (cfg->style) {
	case CFG_STYLE_OFFSET:
		v = cursor == NULL ? 0 : parse_count(cursor);
		if (v < 0) {
			rs_errf(err, "stored cursor '%.64s' is not an offset",
			    cursor);
			goto out;
		}
		(void)snprintf(num, sizeof(num), "%lld", v);
		cur_val = num;
		break;
	case CFG_STYLE_PAGE:
		v = cursor == NULL ? cfg->page_start : parse_count(cursor);
		if (v < 0) {
			rs_errf(err, "stored cursor '%.64s' is not a page "
			    "number", cursor);
			goto out;
		}
		(void)snprintf(num, sizeof(num), "%lld", v);
		cur_val = num;
		break;
	case CFG_STYLE_CURSOR:
	default:
		if (cursor != NULL && (strncmp(cursor, "http://", 7) == 0 ||
		    strncmp(cursor, "https://", 8) == 0))
			absolute = 1;
		else
			cur_val = cursor;
		break;
	}

	if (absolute) {
		/* The API handed us the next URL: fetch it as is, but only on
		 * baseUrl's origin (credentials must not leave it). */
		if (!fetch_same_origin(cfg->base_url, cursor)) {
			rs_errf(err, "next URL is on another origin than "
			    "baseUrl; refusing to follow it");
			goto out;
		}
		if (curl_url_set(u, CURLUPART_URL, cursor, 0) != CURLUE_OK) {
			rs_errf(err, "next URL is not a valid URL");
			goto out;
		}
	} else {
		if (curl_url_set(u, CURLUPART_URL, cfg->base_url, 0) !=
		    CURLUE_OK) {
			rs_errf(err, "'baseUrl' is not a valid URL");
			goto out;
		}
		names[nn++] = cfg->cursor_param;
		names[nn++] = cfg->page_size_param;
	}
	for (i = 0; i < cfg->nquery && nn < sizeof(names) / sizeof(names[0]);
	    i++)
		names[nn++] = cfg->query[i].name;
	if (drop_keys(u, names, nn) == -1) {
		rs_errf(err, "cannot rewrite the query string");
		goto out;
	}

	if (!absolute) {
		if (cfg->page_size_param != NULL) {
			(void)snprintf(psz, sizeof(psz), "%d", cfg->page_size);
			if (append_param(u, cfg->page_size_param, psz) == -1)
				goto nomem;
		}
		if (cur_val != NULL &&
		    append_param(u, cfg->cursor_param, cur_val) == -1)
			goto nomem;
	}
	for (i = 0; i < cfg->nquery; i++) {
		if ((val = render(cfg->query[i].value, api_key)) == NULL ||
		    append_param(u, cfg->query[i].name, val) == -1)
			goto nomem;
		free(val);
		val = NULL;
	}
	if (curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK) {
		rs_errf(err, "cannot build the page URL");
		goto out;
	}
	if (strlen(s) > PAGER_MAX_URL) {
		rs_errf(err, "page URL is longer than %d bytes", PAGER_MAX_URL);
		goto out;
	}
	if ((*url = strdup(s)) == NULL)
		goto nomem;
	st = RS_OK;
	goto out;
nomem:
	rs_errf(err, "out of memory building the page URL");
	st = RS_ENOMEM;
out:
	free(val);
	curl_free(s);
	curl_url_cleanup(u);
	return st;
}

void
pager_next_free(struct pager_next *n)
{
	free(n->next);
	memset(n, 0, sizeof(*n));
}

/* Set n->next to the decimal v. */
static enum rs_status
set_num(struct pager_next *n, long long v, char *err)
{
	char	 num[32];

	(void)snprintf(num, sizeof(num), "%lld", v);
	if ((n->next = strdup(num)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	return RS_OK;
}

enum rs_status
pager_next(const struct source_config *cfg, const struct pager_page *pg,
    struct pager_next *n, char *err)
{
	struct json_object	*v;
	long long		 cur, total_pages;
	const char		*s;
	int			 short_page;

	memset(n, 0, sizeof(*n));
	n->total = -1;
	if (cfg->total_path != NULL)
		n->total = json_count(jp_get(pg->body, cfg->total_path));

	if (cfg->has_more_path != NULL &&
	    (v = jp_get(pg->body, cfg->has_more_path)) != NULL &&
	    json_object_get_type(v) == json_type_boolean &&
	    !json_object_get_boolean(v))
		goto done;
	if (cfg->max_pages > 0 && pg->pages_before + 1 >= cfg->max_pages)
		goto done;
	short_page = cfg->page_size_param != NULL &&
	    pg->nitems < (size_t)cfg->page_size;

	switch (cfg->style) {
	case CFG_STYLE_OFFSET:
		cur = -1;
		if (cfg->current_offset_path != NULL)
			cur = json_count(jp_get(pg->body,
			    cfg->current_offset_path));
		if (cur < 0)
			cur = pg->cursor != NULL ? parse_count(pg->cursor) : 0;
		if (cur < 0)
			cur = 0;
		if (pg->nitems == 0)
			goto done;
		if (n->total >= 0) {
			if (cur + (long long)pg->nitems >= n->total)
				goto done;
		} else if (short_page)
			goto done;
		return set_num(n, cur + (long long)pg->nitems, err);
	case CFG_STYLE_PAGE:
		cur = pg->cursor != NULL ? parse_count(pg->cursor) :
		    cfg->page_start;
		if (cur < 0)
			cur = cfg->page_start;
		if (pg->nitems == 0 || short_page)
			goto done;
		if (cfg->total_pages_path != NULL) {
			total_pages = json_count(jp_get(pg->body,
			    cfg->total_pages_path));
			if (total_pages >= 0 &&
			    cur - cfg->page_start + 1 >= total_pages)
				goto done;
		}
		if (n->total >= 0 &&
		    pg->items_before + (long long)pg->nitems >= n->total)
			goto done;
		return set_num(n, cur + 1, err);
	case CFG_STYLE_CURSOR:
	default:
		if (pg->nitems == 0)
			goto done;
		v = jp_get(pg->body, cfg->next_cursor_path);
		if (v == NULL)
			goto done;
		switch (json_object_get_type(v)) {
		case json_type_string:
		case json_type_int:
		case json_type_double:
			s = json_object_get_string(v);
			break;
		case json_type_boolean:
			goto done;	/* "next": false */
		default:
			rs_errf(err, "value at nextCursorPath '%s' is not a "
			    "string or number", cfg->next_cursor_path);
			return RS_EUPSTREAM;
		}
		if (s == NULL || *s == '\0' ||
		    (pg->cursor != NULL && strcmp(s, pg->cursor) == 0))
			goto done;
		if (strlen(s) > PAGER_MAX_CURSOR) {
			rs_errf(err, "next cursor is longer than %d bytes",
			    PAGER_MAX_CURSOR);
			return RS_EUPSTREAM;
		}
		if ((n->next = strdup(s)) == NULL) {
			rs_errf(err, "out of memory");
			return RS_ENOMEM;
		}
		return RS_OK;
	}
done:
	n->done = 1;
	return RS_OK;
}
