/*
 * pager.c — URL building with libcurl's URL API, next-cursor rules and
 * the RFC 8288 Link header parser.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http_fetch.h"
#include "jsonpath.h"
#include "pager.h"
#include "secret.h"

long long
pager_count(const char *s)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > PAGER_MAX_POSITION)
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
		return json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > PAGER_MAX_POSITION ? -1 :
		    json_object_get_int64(v);
	case json_type_double:
		d = json_object_get_double(v);
		return d >= 0 && d <= (double)PAGER_MAX_POSITION &&
		    d == (double)(long long)d ? (long long)d : -1;
	case json_type_string:
		return pager_count(json_object_get_string(v));
	default:
		return -1;
	}
}

/*
 * How much of an upstream URL an error message shows: up to its query or
 * fragment (an API may echo a key there), at most 200 bytes.
 */
static int
no_query(const char *url)
{
	size_t	 n = strcspn(url, "?#");

	return n > 200 ? 200 : (int)n;
}

/* 1 if s starts like an absolute http(s) URL. */
static int
is_http_url(const char *s)
{
	return strncasecmp(s, "http://", 7) == 0 ||
	    strncasecmp(s, "https://", 8) == 0;
}

/* Replace "{{API_KEY}}" in tpl with key into a malloc'd string. */
static char *
render(const char *tpl, const char *key)
{
	struct rs_buf		 b;

	rs_buf_init(&b, PAGER_MAX_URL);
	if (rs_buf_render_key(&b, tpl, key) == -1)
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
 * RFC 3986 §2.1: percent-encodings in uppercase hex, in place.  libcurl
 * 7.88's URL API stores them in lowercase; batch.c's redaction looks for
 * curl_easy_escape's uppercase spelling, so a key sent in the query must
 * read the same in the URL we show.
 */
static void
pct_upper(char *s)
{
	for (; *s != '\0'; s++) {
		if (*s != '%' || !isxdigit((unsigned char)s[1]) ||
		    !isxdigit((unsigned char)s[2]))
			continue;
		s[1] = (char)toupper((unsigned char)s[1]);
		s[2] = (char)toupper((unsigned char)s[2]);
		s += 2;
	}
}

/*
 * The URL held by u into *out (malloc'd), percent-encodings upper-cased
 * (pct_upper).  too_long, naming what, when it exceeds max bytes.
 */
static enum rs_status
url_take(CURLU *u, size_t max, enum rs_status too_long, const char *what,
    char **out, char *err)
{
	char		*s = NULL;
	enum rs_status	 st = RS_ENOMEM;

	*out = NULL;
	if (curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK) {
		rs_errf(err, "cannot build the %s", what);
		st = too_long;
	} else if (strlen(s) > max) {
		rs_errf(err, "%s is longer than %zu bytes", what, max);
		st = too_long;
	} else if ((*out = strdup(s)) == NULL)
		rs_errf(err, "out of memory");
	else {
		pct_upper(*out);
		st = RS_OK;
	}
	curl_free(s);
	return st;
}

/*
 * Append name=value, each percent-encoded by curl_easy_escape: every byte
 * but RFC 3986's unreserved ones (a space is %20, a '+' is %2B), the one
 * spelling batch.c's redaction looks for (with pct_upper).
 * CURLU_URLENCODE would write '+' for a space and leave some of the
 * reserved characters.
 */
static int
append_param(CURLU *u, const char *name, const char *value)
{
	char	*en = NULL, *ev = NULL, *pair = NULL;
	size_t	 n;
	int	 rc = -1;

	if ((en = curl_easy_escape(NULL, name, 0)) == NULL ||
	    (ev = curl_easy_escape(NULL, value, 0)) == NULL)
		goto out;
	n = strlen(en) + strlen(ev) + 2;
	if ((pair = malloc(n)) == NULL)
		goto out;
	(void)snprintf(pair, n, "%s=%s", en, ev);
	rc = curl_url_set(u, CURLUPART_QUERY, pair, CURLU_APPENDQUERY) ==
	    CURLUE_OK ? 0 : -1;
out:
	free(pair);
	curl_free(en);
	curl_free(ev);
	return rc;
}

enum rs_status
pager_position(const struct source_config *cfg, const char *cursor,
    long long *pos, char *err)
{
	*pos = cursor != NULL ? pager_count(cursor) :
	    cfg->style == CFG_STYLE_OFFSET ? 0 : cfg->page_start;
	if (*pos >= 0)
		return RS_OK;
	rs_errf(err, "stored cursor '%.64s' is not %s", cursor,
	    cfg->style == CFG_STYLE_OFFSET ? "an offset" : "a page number");
	return RS_EINPUT;
}

/* pager_url()'s reading of the stored cursor. */
struct page_cursor {
	const char	*cursor;	/* as stored, then with the key */
	const char	*value;		/* sent as cursorParam; NULL: none */
	int		 absolute;	/* cursor is the URL to fetch as is */
	char		 num[32];	/* an offset or page number */
	struct rs_buf	 rendered;	/* the cursor with the key put back */
	char		*key_enc;	/* the key, percent-encoded */
};

/*
 * What the style makes of pc->cursor: the offset or page number to send,
 * the token to send, or the next URL to fetch as is.  RS_EINPUT when it
 * is not what the style stores.
 */
static enum rs_status
url_cursor(const struct source_config *cfg, struct page_cursor *pc,
    char *err)
{
	const char	*cursor = pc->cursor;
	long long	 v;
	enum rs_status	 st;

	switch (cfg->style) {
	case CFG_STYLE_OFFSET:
	case CFG_STYLE_PAGE:
		if ((st = pager_position(cfg, cursor, &v, err)) != RS_OK)
			return st;
		(void)snprintf(pc->num, sizeof(pc->num), "%lld", v);
		pc->value = pc->num;
		break;
	case CFG_STYLE_LINK:
		if (cursor != NULL && !is_http_url(cursor)) {
			rs_errf(err, "stored cursor '%.64s' is not a next URL",
			    cursor);
			return RS_EINPUT;
		}
		pc->absolute = cursor != NULL;
		break;
	case CFG_STYLE_CURSOR:
	default:
		/* An item's value ("$last.id") is a token, never a URL. */
		if (cursor != NULL && is_http_url(cursor) &&
		    cfg_item_path(cfg->next_cursor_path) == NULL)
			pc->absolute = 1;
		else
			pc->value = cursor;
		break;
	}
	return RS_OK;
}

/* A stored cursor keeps the key as "{{API_KEY}}" (batch.c stores it
 * so): put it back, percent-encoded in a URL. */
static enum rs_status
url_cursor_key(struct page_cursor *pc, const char *api_key, char *err)
{
	if (pc->cursor == NULL || strstr(pc->cursor, "{{API_KEY}}") == NULL)
		return RS_OK;
	if ((pc->key_enc = curl_easy_escape(NULL, api_key != NULL ? api_key :
	    "", 0)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	rs_buf_init(&pc->rendered, PAGER_MAX_CURSOR * 4);
	if (rs_buf_render_key(&pc->rendered, pc->cursor, pc->absolute ?
	    pc->key_enc : api_key) == -1 || pc->rendered.p == NULL) {
		rs_errf(err, "stored cursor is too long");
		return RS_EINPUT;
	}
	pc->cursor = pc->rendered.p;
	if (!pc->absolute)
		pc->value = pc->cursor;
	return RS_OK;
}

/*
 * The URL to add the parameters to into u: the next URL the API handed
 * us (only on baseUrl's origin: credentials must not leave it), else
 * baseUrl; without the parameters pager_url adds.
 */
static enum rs_status
url_base(CURLU *u, const struct source_config *cfg,
    const struct page_cursor *pc, char *err)
{
	const char	*names[CFG_MAX_FIELDS + 2];
	size_t		 i, nn = 0;

	if (pc->absolute) {
		if (!fetch_same_origin(cfg->base_url, pc->cursor)) {
			rs_errf(err, "next URL is on another origin than "
			    "baseUrl; refusing to follow it");
			return RS_EINPUT;
		}
		if (curl_url_set(u, CURLUPART_URL, pc->cursor, 0) !=
		    CURLUE_OK) {
			rs_errf(err, "next URL is not a valid URL");
			return RS_EINPUT;
		}
	} else {
		if (curl_url_set(u, CURLUPART_URL, cfg->base_url, 0) !=
		    CURLUE_OK) {
			rs_errf(err, "'baseUrl' is not a valid URL");
			return RS_EINPUT;
		}
		if (cfg->style != CFG_STYLE_LINK)
			names[nn++] = cfg->cursor_param;
		names[nn++] = cfg->page_size_param;
	}
	for (i = 0; i < cfg->nquery && nn < sizeof(names) / sizeof(names[0]);
	    i++)
		names[nn++] = cfg->query[i].name;
	if (drop_keys(u, names, nn) == -1) {
		rs_errf(err, "cannot rewrite the query string");
		return RS_EINPUT;
	}
	return RS_OK;
}

/* The page size, the cursor (neither with a next URL or POST) and the
 * queryTemplate parameters, appended to u. */
static enum rs_status
url_params(CURLU *u, const struct source_config *cfg,
    const struct page_cursor *pc, const char *api_key, char *err)
{
	char	*val, psz[32];
	size_t	 i;
	int	 rc;

	if (!pc->absolute && !cfg->method_post) {
		if (cfg->page_size_param != NULL) {
			(void)snprintf(psz, sizeof(psz), "%d", cfg->page_size);
			if (append_param(u, cfg->page_size_param, psz) == -1)
				goto nomem;
		}
		if (pc->value != NULL &&
		    append_param(u, cfg->cursor_param, pc->value) == -1)
			goto nomem;
	}
	for (i = 0; i < cfg->nquery; i++) {
		if ((val = render(cfg->query[i].value, api_key)) == NULL)
			goto nomem;
		rc = append_param(u, cfg->query[i].name, val);
		secret_free_str(val);	/* it may be the key */
		if (rc == -1)
			goto nomem;
	}
	return RS_OK;
nomem:
	rs_errf(err, "out of memory building the page URL");
	return RS_ENOMEM;
}

enum rs_status
pager_url(const struct source_config *cfg, const char *cursor,
    const char *api_key, char **url, char *err)
{
	struct page_cursor	 pc;
	CURLU			*u = NULL;
	enum rs_status		 st = RS_EINPUT;

	*url = NULL;
	memset(&pc, 0, sizeof(pc));
	rs_buf_init(&pc.rendered, 0);
	if ((u = curl_url()) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	if (cursor != NULL && strlen(cursor) > PAGER_MAX_CURSOR) {
		rs_errf(err, "stored cursor is longer than %d bytes",
		    PAGER_MAX_CURSOR);
		goto out;
	}
	/* With method POST the cursor goes into the body (bodytpl.c). */
	pc.cursor = cfg->method_post ? NULL : cursor;
	if ((st = url_cursor(cfg, &pc, err)) != RS_OK ||
	    (st = url_cursor_key(&pc, api_key, err)) != RS_OK ||
	    (st = url_base(u, cfg, &pc, err)) != RS_OK ||
	    (st = url_params(u, cfg, &pc, api_key, err)) != RS_OK)
		goto out;
	st = url_take(u, PAGER_MAX_URL, RS_EINPUT, "page URL", url, err);
out:
	curl_url_cleanup(u);
	rs_buf_free_wiped(&pc.rendered);
	if (pc.key_enc != NULL) {
		explicit_bzero(pc.key_enc, strlen(pc.key_enc));
		curl_free(pc.key_enc);
	}
	return st;
}

enum rs_status
pager_set_param(char **url, const char *name, const char *value, char *err)
{
	CURLU		*u = NULL;
	char		*out = NULL;
	const char	*names[1] = { name };
	enum rs_status	 st = RS_ENOMEM;

	if ((u = curl_url()) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	if (curl_url_set(u, CURLUPART_URL, *url, 0) != CURLUE_OK) {
		rs_errf(err, "page URL is not a valid URL");
		st = RS_EINPUT;
		goto out;
	}
	if (drop_keys(u, names, 1) == -1 ||
	    append_param(u, name, value) == -1) {
		rs_errf(err, "out of memory building the page URL");
		goto out;
	}
	if ((st = url_take(u, PAGER_MAX_URL, RS_EINPUT, "page URL", &out,
	    err)) != RS_OK)
		goto out;
	secret_free_str(*url);	/* its query may hold the key */
	*url = out;
out:
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

/*
 * A next URL an API handed us, made fit to store as the cursor: on
 * baseUrl's origin (else RS_EUPSTREAM: credentials must not leave it),
 * without the queryTemplate parameters (pager_url adds them again, so an
 * echoed API key is not stored), at most PAGER_MAX_CURSOR bytes.
 */
static enum rs_status
next_url(const struct source_config *cfg, const char *url, char **out,
    char *err)
{
	CURLU		*u = NULL;
	const char	*names[CFG_MAX_FIELDS];
	size_t		 i;
	enum rs_status	 st = RS_EUPSTREAM;

	*out = NULL;
	if (!fetch_same_origin(cfg->base_url, url)) {
		rs_errf(err, "next URL '%.*s' is on another origin than "
		    "baseUrl; refusing to follow it", no_query(url), url);
		goto out;
	}
	if ((u = curl_url()) == NULL)
		goto nomem;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		rs_errf(err, "next URL '%.*s' is not a valid URL",
		    no_query(url), url);
		goto out;
	}
	for (i = 0; i < cfg->nquery && i < CFG_MAX_FIELDS; i++)
		names[i] = cfg->query[i].name;
	if (drop_keys(u, names, i) == -1)
		goto nomem;
	st = url_take(u, PAGER_MAX_CURSOR, RS_EUPSTREAM, "next URL", out,
	    err);
	goto out;
nomem:
	rs_errf(err, "out of memory");
	st = RS_ENOMEM;
out:
	curl_url_cleanup(u);
	return st;
}

/*
 * The value a nextCursorPath names: in the body, or with "$last.<path>"
 * in the last item of the page.  NULL when there is none.
 */
static struct json_object *
cursor_value(const struct source_config *cfg, const struct pager_page *pg)
{
	struct json_object	*items, *last;
	const char		*ip = cfg_item_path(cfg->next_cursor_path);
	size_t			 n;

	if (ip == NULL)
		return jp_get(pg->body, cfg->next_cursor_path);
	items = cfg->items_path != NULL ? jp_get(pg->body, cfg->items_path) :
	    pg->body;
	if (!json_object_is_type(items, json_type_array) ||
	    (n = json_object_array_length(items)) == 0)
		return NULL;
	last = json_object_array_get_idx(items, n - 1);
	if (*ip == '\0')
		return json_object_is_type(last, json_type_null) ? NULL : last;
	return jp_get(last, ip);
}

/* Cursor style: the next token or URL from nextCursorPath. */
static enum rs_status
next_cursor(const struct source_config *cfg, const struct pager_page *pg,
    int has_more, struct pager_next *n, char *err)
{
	struct json_object	*v;
	const char		*s = NULL;
	char			*url = NULL;
	enum rs_status		 st;

	if (pg->nitems == 0 && has_more != 1)
		goto done;
	v = cursor_value(cfg, pg);
	switch (json_object_get_type(v)) {
	case json_type_null:
	case json_type_boolean:		/* "next": false */
		break;
	case json_type_string:
	case json_type_int:
	case json_type_double:
		s = json_object_get_string(v);
		break;
	default:
		rs_errf(err, "value at nextCursorPath '%s' is not a string or "
		    "number", cfg->next_cursor_path);
		return RS_EUPSTREAM;
	}
	if (s == NULL || *s == '\0') {
		if (has_more == 1) {
			rs_errf(err, "hasMorePath '%s' says there is more, but "
			    "nextCursorPath '%s' has no cursor",
			    cfg->has_more_path, cfg->next_cursor_path);
			return RS_EUPSTREAM;
		}
		goto done;
	}
	if (is_http_url(s) && cfg_item_path(cfg->next_cursor_path) == NULL) {
		if ((st = next_url(cfg, s, &url, err)) != RS_OK)
			return st;
		s = url;
	}
	if (pg->cursor != NULL && strcmp(s, pg->cursor) == 0) {
		free(url);
		goto done;	/* a loop */
	}
	if (strlen(s) > PAGER_MAX_CURSOR) {
		free(url);
		rs_errf(err, "next cursor is longer than %d bytes",
		    PAGER_MAX_CURSOR);
		return RS_EUPSTREAM;
	}
	if (url != NULL)
		n->next = url;
	else if ((n->next = strdup(s)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	return RS_OK;
done:
	n->done = 1;
	return RS_OK;
}

/* Link style: the rel="next" target of the page's Link header. */
static enum rs_status
next_link(const struct source_config *cfg, const struct pager_page *pg,
    int has_more, struct pager_next *n, char *err)
{
	char		*target = NULL, *url = NULL;
	enum rs_status	 st;

	if (pg->nitems == 0 && has_more != 1)
		goto done;
	if ((st = pager_link_next(pg->link, pg->url != NULL ? pg->url :
	    cfg->base_url, &target, err)) != RS_OK)
		return st;
	if (target == NULL) {
		if (has_more == 1) {
			rs_errf(err, "hasMorePath '%s' says there is more, but "
			    "the Link header has no rel=\"next\"",
			    cfg->has_more_path);
			return RS_EUPSTREAM;
		}
		goto done;
	}
	st = next_url(cfg, target, &url, err);
	free(target);
	if (st != RS_OK)
		return st;
	if (pg->cursor != NULL && strcmp(url, pg->cursor) == 0) {
		free(url);
		goto done;	/* a loop */
	}
	n->next = url;
	return RS_OK;
done:
	n->done = 1;
	return RS_OK;
}

/* pager_next's rules but maxPages. */
static enum rs_status
next_rules(const struct source_config *cfg, const struct pager_page *pg,
    struct pager_next *n, char *err)
{
	struct json_object	*v;
	long long		 cur, total_pages;
	int			 short_page, has_more = -1;

	memset(n, 0, sizeof(*n));
	n->total = -1;
	if (cfg->total_path != NULL)
		n->total = json_count(jp_get(pg->body, cfg->total_path));

	/* hasMorePath wins over every other rule: -1 unknown, 0, 1. */
	if (cfg->has_more_path != NULL &&
	    (v = jp_get(pg->body, cfg->has_more_path)) != NULL &&
	    json_object_get_type(v) == json_type_boolean)
		has_more = json_object_get_boolean(v) ? 1 : 0;
	if (has_more == 0)
		goto done;
	short_page = has_more != 1 && (cfg->page_size_param != NULL ||
	    (cfg->method_post && cfg->body_page_size)) &&
	    pg->nitems < (size_t)cfg->page_size;

	switch (cfg->style) {
	case CFG_STYLE_OFFSET:
		cur = -1;
		if (cfg->current_offset_path != NULL)
			cur = json_count(jp_get(pg->body,
			    cfg->current_offset_path));
		if (cur < 0)
			cur = pg->cursor != NULL ? pager_count(pg->cursor) : 0;
		if (cur < 0)
			cur = 0;
		if (pg->nitems == 0)
			goto done;	/* even with hasMore: it would loop */
		if (has_more != 1 && n->total >= 0) {
			if (cur + (long long)pg->nitems >= n->total)
				goto done;
		} else if (short_page)
			goto done;
		return set_num(n, cur + (long long)pg->nitems, err);
	case CFG_STYLE_PAGE:
		cur = pg->cursor != NULL ? pager_count(pg->cursor) :
		    cfg->page_start;
		if (cur < 0)
			cur = cfg->page_start;
		if (has_more != 1) {
			if (pg->nitems == 0 || short_page)
				goto done;
			if (cfg->total_pages_path != NULL) {
				total_pages = json_count(jp_get(pg->body,
				    cfg->total_pages_path));
				if (total_pages >= 0 &&
				    cur - cfg->page_start + 1 >= total_pages)
					goto done;
			}
			if (n->total >= 0 && pg->items_before +
			    (long long)pg->nitems >= n->total)
				goto done;
		}
		return set_num(n, cur + 1, err);
	case CFG_STYLE_LINK:
		return next_link(cfg, pg, has_more, n, err);
	case CFG_STYLE_CURSOR:
	default:
		return next_cursor(cfg, pg, has_more, n, err);
	}
done:
	n->done = 1;
	return RS_OK;
}

enum rs_status
pager_next(const struct source_config *cfg, const struct pager_page *pg,
    struct pager_next *n, char *err)
{
	enum rs_status	 st;
	long long	 total;

	st = next_rules(cfg, pg, n, err);
	if (cfg->max_pages <= 0 || pg->pages_before + 1 < cfg->max_pages ||
	    (st == RS_OK && n->done))
		return st;
	/* The safety stop: done, although the upstream may have more. */
	total = st == RS_OK ? n->total : -1;
	if (st != RS_OK && cfg->total_path != NULL)
		total = json_count(jp_get(pg->body, cfg->total_path));
	pager_next_free(n);
	n->total = total;
	n->done = n->capped = 1;
	if (err != NULL)
		err[0] = '\0';
	return RS_OK;
}

/* RFC 9110 §5.6.2: tchar. */
static int
is_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 9110 §5.6.3: OWS. */
static const char *
skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/*
 * A parameter value at *pp: a token (leniently: visible bytes but
 * ; , "), or a quoted-string (RFC 9110 §5.6.4) unquoted, into val (reset
 * first).  -1 when malformed or past
 * val's cap; *pp is then left alone.
 */
static int
link_param_value(const char **pp, struct rs_buf *val)
{
	const char	*p = *pp;

	rs_buf_reset(val);
	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\\')
				p++;	/* quoted-pair */
			if (*p == '\0' || (*p != '\t' &&
			    ((unsigned char)*p < 0x20 || *p == 0x7f)))
				return -1;
			if (rs_buf_append(val, p, 1) == -1)
				return -1;
		}
		p++;
	} else {
		/* RFC 8288 wants a token; servers send type=text/html too, so
		 * take any visible bytes up to a delimiter. */
		for (; (unsigned char)*p > 0x20 && *p != 0x7f &&
		    strchr(";,\"", *p) == NULL; p++)
			if (rs_buf_append(val, p, 1) == -1)
				return -1;
		if (val->len == 0)
			return -1;
	}
	*pp = p;
	return 0;
}

/* RFC 8288 §3.3: rel is relation-type *( 1*SP relation-type ). */
static int
rel_has_next(const struct rs_buf *val)
{
	const char	*p = val->p != NULL ? val->p : "";
	size_t		 n;

	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			return 0;
		n = strcspn(p, " \t");
		if (n == 4 && strncasecmp(p, "next", 4) == 0)
			return 1;
		p += n;
	}
}

/* Resolve the link target ref[0..len) against base into *out. */
static enum rs_status
link_resolve(const char *ref, size_t len, const char *base, char **out,
    char *err)
{
	CURLU		*u = NULL;
	char		*r = NULL, *s = NULL, *scheme = NULL;
	size_t		 i;
	enum rs_status	 st = RS_EUPSTREAM;

	*out = NULL;
	/* RFC 3986 §5.2.2: an empty reference is the base itself (libcurl
	 * would drop the last path segment). */
	if (len == 0 && base != NULL) {
		ref = base;
		len = strlen(base);
	}
	if (len > PAGER_MAX_URL) {
		rs_errf(err, "Link rel=\"next\" target is longer than %d bytes",
		    PAGER_MAX_URL);
		goto out;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)ref[i] <= 0x20 || ref[i] == 0x7f) {
			rs_errf(err, "Link rel=\"next\" target contains a space "
			    "or control character");
			goto out;
		}
	if ((r = rs_strndup(ref, len)) == NULL || (u = curl_url()) == NULL)
		goto nomem;
	if (base != NULL && curl_url_set(u, CURLUPART_URL, base, 0) !=
	    CURLUE_OK) {
		rs_errf(err, "cannot resolve the Link target: base URL is not "
		    "valid");
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, r, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 &&
	     strcasecmp(scheme, "https") != 0) ||
	    curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK) {
		rs_errf(err, "Link rel=\"next\" target '%.*s' is not an http "
		    "or https URL", no_query(r), r);
		goto out;
	}
	if ((*out = strdup(s)) == NULL)
		goto nomem;
	st = RS_OK;
	goto out;
nomem:
	rs_errf(err, "out of memory");
	st = RS_ENOMEM;
out:
	curl_free(scheme);
	curl_free(s);
	curl_url_cleanup(u);
	free(r);
	return st;
}

/*
 * The parameters of one link-value at *pp (after its "<target>"), up to
 * the ',' or the end that follows them: whether its first rel holds
 * "next" (§3.3: occurrences of rel after the first are ignored) and
 * whether it has an anchor.  val holds each value in turn.  RS_EUPSTREAM
 * naming the byte of link where it is malformed.
 */
static enum rs_status
link_params(const char **pp, const char *link, struct rs_buf *val,
    int *is_next, int *anchored, char *err)
{
	const char	*p = *pp, *name;
	size_t		 nlen;
	int		 rel_seen = 0, have_val;

	*is_next = *anchored = 0;
	while (*p == ';') {
		p = skip_ows(p + 1);
		if (*p == ';' || *p == ',' || *p == '\0')
			continue;	/* empty parameter */
		for (name = p; is_tchar((unsigned char)*p); p++)
			continue;
		if ((nlen = (size_t)(p - name)) == 0) {
			rs_errf(err, "Link header: expected a parameter name "
			    "at byte %zu", (size_t)(p - link));
			return RS_EUPSTREAM;
		}
		p = skip_ows(p);
		have_val = 0;
		if (*p == '=') {
			p = skip_ows(p + 1);
			if (link_param_value(&p, val) == -1) {
				rs_errf(err, "Link header: bad parameter value "
				    "at byte %zu", (size_t)(p - link));
				return RS_EUPSTREAM;
			}
			have_val = 1;
			p = skip_ows(p);
		}
		if (nlen == 3 && strncasecmp(name, "rel", 3) == 0 &&
		    !rel_seen) {
			rel_seen = 1;
			*is_next = have_val && rel_has_next(val);
		} else if (nlen == 6 && strncasecmp(name, "anchor", 6) == 0)
			*anchored = 1;
	}
	if (*p != ',' && *p != '\0') {
		rs_errf(err, "Link header: unexpected character at byte %zu",
		    (size_t)(p - link));
		return RS_EUPSTREAM;
	}
	*pp = p;
	return RS_OK;
}

enum rs_status
pager_link_next(const char *link, const char *base, char **next, char *err)
{
	struct rs_buf	 val;
	const char	*p, *uri, *end;
	int		 is_next, anchored;
	enum rs_status	 st = RS_EUPSTREAM;

	*next = NULL;
	if (link == NULL)
		return RS_OK;
	if (strnlen(link, PAGER_MAX_LINK + 1) > PAGER_MAX_LINK) {
		rs_errf(err, "Link header is longer than %d bytes",
		    PAGER_MAX_LINK);
		return RS_EUPSTREAM;
	}
	rs_buf_init(&val, PAGER_MAX_URL);
	p = link;
	for (;;) {
		/* #link-value: empty list elements are allowed. */
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if (*p != '<') {
			rs_errf(err, "Link header: expected '<' at byte %zu",
			    (size_t)(p - link));
			goto out;
		}
		uri = p + 1;
		if ((end = strchr(uri, '>')) == NULL) {
			rs_errf(err, "Link header: '<' at byte %zu is not "
			    "closed", (size_t)(p - link));
			goto out;
		}
		p = skip_ows(end + 1);
		if ((st = link_params(&p, link, &val, &is_next, &anchored,
		    err)) != RS_OK)
			goto out;
		st = RS_EUPSTREAM;
		if (is_next && !anchored) {
			st = link_resolve(uri, (size_t)(end - uri), base, next,
			    err);
			goto out;
		}
	}
	st = RS_OK;
out:
	rs_buf_free(&val);
	return st;
}
