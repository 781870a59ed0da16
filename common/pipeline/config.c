/*
 * config.c — parse and validate a REST source config (see config.h).
 *
 * The JSON is parsed strictly (json-c STRICT + VALIDATE_UTF8, nesting
 * capped), unknown keys are refused first, then every known key is
 * checked by the handler in cfg_keys[], in table order, and finally
 * defaults and cross-key rules are applied.  Every error is RS_EINPUT
 * with a message naming the key, except allocation failures (RS_ENOMEM).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "config.h"
#include "http_fetch.h"
#include "jsonpath.h"
#include "placeholder.h"

#define CFG_MAX_NEST	16	/* tokener depth; a valid config needs 2 */
#define CFG_MAX_URL	2048
#define CFG_MAX_PARAM	128	/* cursorParam, pageSizeParam */
#define CFG_MAX_NAME	256	/* header and query names */
#define CFG_MAX_VALUE	8192	/* header and query values */
#define CFG_MAX_IDENT	64	/* provider, roles */

struct cfg_ctx {
	struct source_config	*cfg;
	int			 have_style;
	char			*err;
};

struct cfg_key;
typedef enum rs_status (*cfg_fn)(struct cfg_ctx *, const struct cfg_key *,
    struct json_object *);

struct cfg_key {
	const char	*name;
	cfg_fn		 fn;
	size_t		 off;	/* offsetof the field it fills */
	long long	 min, max;	/* integers */
	const char	*dflt;	/* header name meant by true */
};

static enum rs_status	cfg_url(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_check_url(struct cfg_ctx *, const char *,
			    struct json_object *, char **);
static enum rs_status	cfg_rate(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_style(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_param(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_int(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_size(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_path(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_bool(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_headers(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_query(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_provider(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_auth(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_fields(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_roles(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_cond(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_frac(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_incr(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_method(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);
static enum rs_status	cfg_body(struct cfg_ctx *, const struct cfg_key *,
			    struct json_object *);

#define OFF(f)	offsetof(struct source_config, f)

static const struct cfg_key cfg_keys[] = {
	{ "baseUrl", cfg_url, OFF(base_url), 0, 0, NULL },
	{ "cursorStyle", cfg_style, OFF(style), 0, 0, NULL },
	{ "cursorParam", cfg_param, OFF(cursor_param), 0, 0, NULL },
	{ "pageSizeParam", cfg_param, OFF(page_size_param), 0, 0, NULL },
	{ "defaultPageSize", cfg_int, OFF(page_size),
	    1, CFG_MAX_PAGE_SIZE, NULL },
	{ "itemsPath", cfg_path, OFF(items_path), 0, 0, NULL },
	{ "nextCursorPath", cfg_path, OFF(next_cursor_path), 0, 0, NULL },
	{ "currentOffsetPath", cfg_path, OFF(current_offset_path), 0, 0, NULL },
	{ "totalPath", cfg_path, OFF(total_path), 0, 0, NULL },
	{ "hasMorePath", cfg_path, OFF(has_more_path), 0, 0, NULL },
	{ "pageStart", cfg_int, OFF(page_start), 0, 1, NULL },
	{ "totalPagesPath", cfg_path, OFF(total_pages_path), 0, 0, NULL },
	{ "maxPages", cfg_int, OFF(max_pages), 1, INT32_MAX, NULL },
	{ "headersTemplate", cfg_headers, OFF(headers), 0, 0, NULL },
	{ "queryTemplate", cfg_query, OFF(query), 0, 0, NULL },
	{ "requiresAuth", cfg_bool, OFF(requires_auth), 0, 0, NULL },
	{ "provider", cfg_provider, OFF(provider), 0, 0, NULL },
	{ "auth", cfg_auth, OFF(auth), 0, 0, NULL },
	{ "textFields", cfg_fields, OFF(text_fields), 0, 0, NULL },
	{ "titleField", cfg_path, OFF(title_field), 0, 0, NULL },
	{ "allowedRolesOverride", cfg_roles, OFF(roles), 0, 0, NULL },
	{ "ifNoneMatchHeader", cfg_cond, OFF(if_none_match),
	    0, 0, "If-None-Match" },
	{ "ifModifiedSinceHeader", cfg_cond, OFF(if_modified_since),
	    0, 0, "If-Modified-Since" },
	{ "maxBodyBytes", cfg_size, OFF(max_body),
	    1024, CFG_MAX_BODY_CAP, NULL },
	{ "syncIntervalMinutes", cfg_int, OFF(sync_interval_min),
	    1, 525600, NULL },
	{ "itemIdPath", cfg_path, OFF(item_id_path), 0, 0, NULL },
	{ "deleteMissing", cfg_bool, OFF(delete_missing), 0, 0, NULL },
	{ "maxDeleteFraction", cfg_frac, OFF(max_delete_fraction), 0, 1,
	    NULL },
	{ "timeoutMs", cfg_int, OFF(timeout_ms), CFG_MIN_TIMEOUT_MS,
	    CFG_MAX_TIMEOUT_MS, NULL },
	{ "incremental", cfg_incr, OFF(incremental), 0, 0, NULL },
	{ "method", cfg_method, OFF(method_post), 0, 0, NULL },
	{ "bodyTemplate", cfg_body, OFF(body_template), 0, 0, NULL },
	{ "rateLimit", cfg_rate, OFF(rate_requests), 0, 0, NULL },
};

#define NKEYS	(sizeof(cfg_keys) / sizeof(cfg_keys[0]))

static const char *const cfg_styles[CFG_STYLE__MAX] = {
	"page", "offset", "cursor", "link",
};

/* Link style sends no cursor parameter: the next URL is fetched as is. */
static const char *const cfg_default_param[CFG_STYLE__MAX] = {
	"page", "offset", "cursor", "",
};

static const char *const cfg_auths[CFG_AUTH__MAX] = {
	"none", "basic", "bearer", "oauth2_client_credentials",
};

static const char *const cfg_rate_scopes[CFG_RATE__MAX] = {
	"source", "provider",
};

const char *
cfg_style_name(enum cfg_style s)
{
	if ((unsigned)s >= CFG_STYLE__MAX)
		return "unknown";
	return cfg_styles[s];
}

const char *
cfg_auth_name(enum cfg_auth a)
{
	if ((unsigned)a >= CFG_AUTH__MAX)
		return "unknown";
	return cfg_auths[a];
}

const char *
cfg_item_path(const char *path)
{
	size_t	 n = sizeof(CFG_LAST_ITEM) - 1;

	if (path == NULL || strncmp(path, CFG_LAST_ITEM, n) != 0)
		return NULL;
	if (path[n] == '\0')
		return "";
	return path[n] == '.' ? path + n + 1 : NULL;
}

static char **
cfg_strp(struct cfg_ctx *c, const struct cfg_key *k)
{
	return (char **)(void *)((char *)c->cfg + k->off);
}

static int *
cfg_intp(struct cfg_ctx *c, const struct cfg_key *k)
{
	return (int *)(void *)((char *)c->cfg + k->off);
}

/* The string in v without embedded NULs, or NULL. */
static const char *
cfg_string(struct json_object *v, size_t *len)
{
	const char	*s;

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != *len)
		return NULL;
	return s;
}

static enum rs_status
cfg_dup(struct cfg_ctx *c, char **dst, const char *s)
{
	if ((*dst = strdup(s)) == NULL) {
		rs_errf(c->err, "out of memory");
		return RS_ENOMEM;
	}
	return RS_OK;
}

static int
cfg_has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/*
 * A query parameter name pager.c can append and find again: no '=' (the
 * first '=' of an appended pair is the separator), no '&' or '#', no
 * control character.
 */
static int
cfg_is_param(const char *s)
{
	return strpbrk(s, "=&#") == NULL && !cfg_has_ctl(s);
}

/* RFC 9110 §5.1: field-name = token; §5.6.2: tchar. */
static int
cfg_is_token(const char *s)
{
	static const char	 tspecial[] = "!#$%&'*+-.^_`|~";
	size_t			 n = 0;

	for (; *s != '\0'; s++, n++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9'))
			continue;
		if (strchr(tspecial, *s) == NULL)
			return 0;
	}
	return n > 0 && n <= CFG_MAX_NAME;
}

/* 1..CFG_MAX_IDENT characters, each a letter, digit or one of extra. */
static int
cfg_is_ident(const char *s, int upper, const char *extra)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++, n++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    (upper && *s >= 'A' && *s <= 'Z'))
			continue;
		if (strchr(extra, *s) == NULL)
			return 0;
	}
	return n > 0 && n <= CFG_MAX_IDENT;
}

/*
 * baseUrl: an absolute http(s) URL with a host, checked with libcurl's
 * own parser so that what we accept is what http_fetch will request.
 * Credentials belong in the secret, never in the config.
 */
static enum rs_status
cfg_url(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	return cfg_check_url(c, k->name, v, cfg_strp(c, k));
}

/* An absolute http(s) URL without credentials into *dst (name: errors). */
static enum rs_status
cfg_check_url(struct cfg_ctx *c, const char *name, struct json_object *v,
    char **dst)
{
	CURLU		*u = NULL;
	char		*scheme = NULL, *host = NULL, *part = NULL;
	const char	*s;
	size_t		 len;
	enum rs_status	 st = RS_EINPUT;

	if ((s = cfg_string(v, &len)) == NULL || len == 0) {
		rs_errf(c->err, "'%s' must be an absolute http or https URL",
		    name);
		goto out;
	}
	if (len > CFG_MAX_URL) {
		rs_errf(c->err, "'%s' is longer than %d bytes", name,
		    CFG_MAX_URL);
		goto out;
	}
	if (strchr(s, ' ') != NULL || cfg_has_ctl(s)) {
		rs_errf(c->err, "'%s' must not contain spaces or control "
		    "characters", name);
		goto out;
	}
	if ((u = curl_url()) == NULL) {
		rs_errf(c->err, "out of memory");
		st = RS_ENOMEM;
		goto out;
	}
	/* Demand "scheme://": libcurl would also take "https:/host". */
	if ((strncasecmp(s, "http://", 7) != 0 &&
	     strncasecmp(s, "https://", 8) != 0) ||
	    curl_url_set(u, CURLUPART_URL, s, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 &&
	     strcasecmp(scheme, "https") != 0)) {
		rs_errf(c->err, "'%s' must be an absolute http or https URL",
		    name);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    host[0] == '\0') {
		rs_errf(c->err, "'%s' must have a host", name);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK) {
		rs_errf(c->err, "'%s' must not contain credentials; put them "
		    "in the source secret", name);
		goto out;
	}
	st = cfg_dup(c, dst, s);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(part);
	curl_url_cleanup(u);
	return st;
}

static enum rs_status
cfg_style(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	const char	*s;
	size_t		 len;
	int		 i;

	if ((s = cfg_string(v, &len)) != NULL)
		for (i = 0; i < CFG_STYLE__MAX; i++)
			if (strcmp(s, cfg_styles[i]) == 0) {
				c->cfg->style = (enum cfg_style)i;
				c->have_style = 1;
				return RS_OK;
			}
	rs_errf(c->err, "'%s' must be 'offset', 'cursor', 'page' or 'link'",
	    k->name);
	return RS_EINPUT;
}

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* The name of the first member of object v not in known[0..n), or NULL. */
static const char *
cfg_unknown_member(struct json_object *v, const char *const *known, size_t n)
{
	struct json_object_iterator	 it, end;
	const char			*name;
	size_t				 i;

	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		name = json_object_iter_peek_name(&it);
		for (i = 0; i < n; i++)
			if (strcmp(name, known[i]) == 0)
				break;
		if (i == n)
			return name;
	}
	return NULL;
}

/* An optional string of 1..1024 bytes without control characters. */
static enum rs_status
cfg_short_text(struct cfg_ctx *c, const char *name, struct json_object *v,
    char **dst)
{
	const char	*s;
	size_t		 len;

	if ((s = cfg_string(v, &len)) == NULL || len == 0 || len > 1024 ||
	    cfg_has_ctl(s)) {
		rs_errf(c->err, "'%s' must be a string of 1 to 1024 bytes "
		    "without control characters", name);
		return RS_EINPUT;
	}
	return cfg_dup(c, dst, s);
}

/* auth.allowedTokenOrigins: origins (or URLs, reduced to their origin). */
static enum rs_status
cfg_token_origins(struct cfg_ctx *c, struct json_object *v)
{
	static const char	 name[] = "auth.allowedTokenOrigins";
	struct source_config	*cfg = c->cfg;
	struct json_object	*e;
	char			*url = NULL, o[FETCH_ORIGIN_MAX];
	size_t			 i, n;
	enum rs_status		 st;

	if (!json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) > CFG_MAX_TOKEN_ORIGINS) {
		rs_errf(c->err, "'%s' must be an array of at most %d origins",
		    name, CFG_MAX_TOKEN_ORIGINS);
		return RS_EINPUT;
	}
	if ((cfg->token_origins = calloc(n + 1, sizeof(char *))) == NULL) {
		rs_errf(c->err, "out of memory");
		return RS_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(v, i);
		if ((st = cfg_check_url(c, name, e, &url)) != RS_OK)
			return st;
		if (fetch_origin(url, o, sizeof(o)) == -1) {
			free(url);
			rs_errf(c->err, "'%s' must hold origins such as "
			    "https://auth.example.com", name);
			return RS_EINPUT;
		}
		free(url);
		url = NULL;
		if ((st = cfg_dup(c, &cfg->token_origins[i], o)) != RS_OK)
			return st;
		cfg->ntoken_origins++;
	}
	return RS_OK;
}

/*
 * auth as an object: {"type": "oauth2_client_credentials", "tokenUrl",
 * "scope"?, "audience"?, "allowedTokenOrigins"?}; errors name the member
 * ("auth.tokenUrl").  The origin rule is checked in cfg_finish().
 */
static enum rs_status
cfg_auth_object(struct cfg_ctx *c, struct json_object *v)
{
	static const char *const known[] = { "type", "tokenUrl", "scope",
	    "audience", "allowedTokenOrigins" };
	struct source_config	*cfg = c->cfg;
	struct json_object	*m;
	const char		*s;
	size_t			 len;
	enum rs_status		 st;

	if ((s = cfg_unknown_member(v, known, NELEM(known))) != NULL) {
		rs_errf(c->err, "unknown key 'auth.%.64s'", s);
		return RS_EINPUT;
	}
	if (!json_object_object_get_ex(v, "type", &m) ||
	    (s = cfg_string(m, &len)) == NULL ||
	    strcmp(s, cfg_auths[CFG_AUTH_OAUTH2]) != 0) {
		rs_errf(c->err, "'auth.type' must be "
		    "'oauth2_client_credentials'");
		return RS_EINPUT;
	}
	cfg->auth = CFG_AUTH_OAUTH2;
	if (!json_object_object_get_ex(v, "tokenUrl", &m) || m == NULL) {
		rs_errf(c->err, "'auth.tokenUrl' is required");
		return RS_EINPUT;
	}
	if ((st = cfg_check_url(c, "auth.tokenUrl", m, &cfg->token_url)) !=
	    RS_OK)
		return st;
	if (json_object_object_get_ex(v, "scope", &m) && m != NULL &&
	    (st = cfg_short_text(c, "auth.scope", m, &cfg->oauth_scope)) !=
	    RS_OK)
		return st;
	if (json_object_object_get_ex(v, "audience", &m) && m != NULL &&
	    (st = cfg_short_text(c, "auth.audience", m,
	    &cfg->oauth_audience)) != RS_OK)
		return st;
	if (json_object_object_get_ex(v, "allowedTokenOrigins", &m) &&
	    m != NULL && (st = cfg_token_origins(c, m)) != RS_OK)
		return st;
	return RS_OK;
}

static enum rs_status
cfg_auth(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	const char	*s;
	size_t		 len;
	int		 i;

	if (json_object_is_type(v, json_type_object))
		return cfg_auth_object(c, v);
	if ((s = cfg_string(v, &len)) != NULL)
		for (i = CFG_AUTH_NONE + 1; i < CFG_AUTH_OAUTH2; i++)
			if (strcmp(s, cfg_auths[i]) == 0) {
				c->cfg->auth = (enum cfg_auth)i;
				return RS_OK;
			}
	rs_errf(c->err, "'%s' must be 'basic', 'bearer', an object "
	    "{\"type\": \"oauth2_client_credentials\", \"tokenUrl\": ...} "
	    "or null", k->name);
	return RS_EINPUT;
}

/* rateLimit: {"requests": 1..1000, "perSeconds": 1..86400, "scope"?}. */
static enum rs_status
cfg_rate(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	static const char *const known[] = { "requests", "perSeconds",
	    "scope" };
	struct source_config	*cfg = c->cfg;
	struct json_object	*m;
	const char		*s;
	size_t			 len;
	int			 i;
	int64_t			 n;

	(void)k;
	if (!json_object_is_type(v, json_type_object)) {
		rs_errf(c->err, "'rateLimit' must be an object {\"requests\": "
		    "N, \"perSeconds\": S, \"scope\": \"source\" or "
		    "\"provider\"}");
		return RS_EINPUT;
	}
	if ((s = cfg_unknown_member(v, known, NELEM(known))) != NULL) {
		rs_errf(c->err, "unknown key 'rateLimit.%.64s'", s);
		return RS_EINPUT;
	}
	if (!json_object_object_get_ex(v, "requests", &m) ||
	    !json_object_is_type(m, json_type_int) ||
	    (n = json_object_get_int64(m)) < 1 || n > CFG_MAX_RATE_REQUESTS) {
		rs_errf(c->err, "'rateLimit.requests' must be an integer "
		    "between 1 and %d", CFG_MAX_RATE_REQUESTS);
		return RS_EINPUT;
	}
	cfg->rate_requests = (int)n;
	if (!json_object_object_get_ex(v, "perSeconds", &m) ||
	    !json_object_is_type(m, json_type_int) ||
	    (n = json_object_get_int64(m)) < 1 || n > CFG_MAX_RATE_SECONDS) {
		rs_errf(c->err, "'rateLimit.perSeconds' must be an integer "
		    "between 1 and %d", CFG_MAX_RATE_SECONDS);
		return RS_EINPUT;
	}
	cfg->rate_per_seconds = (int)n;
	cfg->rate_scope = CFG_RATE_SOURCE;
	if (json_object_object_get_ex(v, "scope", &m) && m != NULL) {
		s = cfg_string(m, &len);
		for (i = 0; s != NULL && i < CFG_RATE__MAX; i++)
			if (strcmp(s, cfg_rate_scopes[i]) == 0) {
				cfg->rate_scope = (enum cfg_rate_scope)i;
				return RS_OK;
			}
		rs_errf(c->err, "'rateLimit.scope' must be 'source' or "
		    "'provider'");
		cfg->rate_requests = 0;
		return RS_EINPUT;
	}
	return RS_OK;
}

const char *
cfg_rate_scope_name(enum cfg_rate_scope sc)
{
	if ((unsigned)sc >= CFG_RATE__MAX)
		return "unknown";
	return cfg_rate_scopes[sc];
}

/* A query parameter name; libcurl URL-encodes it when it is sent. */
static enum rs_status
cfg_param(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	const char	*s;
	size_t		 len;

	if ((s = cfg_string(v, &len)) == NULL || len == 0 ||
	    len > CFG_MAX_PARAM || !cfg_is_param(s)) {
		rs_errf(c->err, "'%s' must be a parameter name of 1 to %d "
		    "printable characters other than = & #", k->name,
		    CFG_MAX_PARAM);
		return RS_EINPUT;
	}
	return cfg_dup(c, cfg_strp(c, k), s);
}

static enum rs_status
cfg_int64(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v,
    long long *out)
{
	int64_t	 n;

	/* json-c clamps out-of-range integers, which the range then refuses. */
	if (!json_object_is_type(v, json_type_int) ||
	    (n = json_object_get_int64(v)) < k->min || n > k->max) {
		rs_errf(c->err, "'%s' must be an integer between %lld and %lld",
		    k->name, k->min, k->max);
		return RS_EINPUT;
	}
	*out = n;
	return RS_OK;
}

static enum rs_status
cfg_int(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	long long	 n;
	enum rs_status	 st;

	if ((st = cfg_int64(c, k, v, &n)) == RS_OK)
		*cfg_intp(c, k) = (int)n;
	return st;
}

static enum rs_status
cfg_size(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	long long	 n;
	enum rs_status	 st;

	if ((st = cfg_int64(c, k, v, &n)) == RS_OK)
		*(size_t *)(void *)((char *)c->cfg + k->off) = (size_t)n;
	return st;
}

/* An optional dot path; "" means absent, like null. */
static enum rs_status
cfg_path(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	char		 perr[RS_ERRLEN];
	const char	*s;
	size_t		 len;

	if ((s = cfg_string(v, &len)) == NULL) {
		rs_errf(c->err, "'%s' must be a dot path or null", k->name);
		return RS_EINPUT;
	}
	if (len == 0)
		return RS_OK;
	if (cfg_has_ctl(s)) {
		rs_errf(c->err, "'%s' contains a control character", k->name);
		return RS_EINPUT;
	}
	if (jp_check(s, perr) != RS_OK) {
		rs_errf(c->err, "'%s' is not a valid path: %s", k->name, perr);
		return RS_EINPUT;
	}
	return cfg_dup(c, cfg_strp(c, k), s);
}

/* A number from k->min to k->max (integers allowed). */
static enum rs_status
cfg_frac(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	double	 d;

	if ((!json_object_is_type(v, json_type_double) &&
	    !json_object_is_type(v, json_type_int)) ||
	    !isfinite(d = json_object_get_double(v)) ||
	    d < (double)k->min || d > (double)k->max) {
		rs_errf(c->err, "'%s' must be a number from %lld to %lld",
		    k->name, k->min, k->max);
		return RS_EINPUT;
	}
	*(double *)(void *)((char *)c->cfg + k->off) = d;
	return RS_OK;
}

static enum rs_status
cfg_bool(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	if (!json_object_is_type(v, json_type_boolean)) {
		rs_errf(c->err, "'%s' must be true or false", k->name);
		return RS_EINPUT;
	}
	*cfg_intp(c, k) = json_object_get_boolean(v) ? 1 : 0;
	return RS_OK;
}

/*
 * An object of string values into a cfg_pair array.  Header names are
 * RFC 9110 tokens, unique ignoring case; query names are non-empty.
 * Values may hold no control character but HTAB (no header injection).
 */
static enum rs_status
cfg_pairs(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v,
    int header, struct cfg_pair **out, size_t *nout)
{
	struct json_object_iterator	 it, end;
	struct cfg_pair			*p;
	const char			*name, *val, *t;
	size_t				 n, i, len;

	if (!json_object_is_type(v, json_type_object)) {
		rs_errf(c->err, "'%s' must be an object of strings", k->name);
		return RS_EINPUT;
	}
	if ((n = (size_t)json_object_object_length(v)) > CFG_MAX_FIELDS) {
		rs_errf(c->err, "'%s' has more than %d entries", k->name,
		    CFG_MAX_FIELDS);
		return RS_EINPUT;
	}
	if (n == 0)
		return RS_OK;
	if ((*out = calloc(n, sizeof(**out))) == NULL) {
		rs_errf(c->err, "out of memory");
		return RS_ENOMEM;
	}
	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		name = json_object_iter_peek_name(&it);
		if (header ? !cfg_is_token(name) :
		    (name[0] == '\0' || strlen(name) > CFG_MAX_NAME ||
		     !cfg_is_param(name))) {
			rs_errf(c->err, "'%s': '%.64s' is not a valid %s name",
			    k->name, name, header ? "header" : "parameter");
			return RS_EINPUT;
		}
		if ((val = cfg_string(json_object_iter_peek_value(&it),
		    &len)) == NULL || len > CFG_MAX_VALUE) {
			rs_errf(c->err, "'%s': '%.64s' must be a string of at "
			    "most %d bytes", k->name, name, CFG_MAX_VALUE);
			return RS_EINPUT;
		}
		for (t = val; *t != '\0'; t++)
			if (((unsigned char)*t < 0x20 && *t != '\t') ||
			    *t == 0x7f) {
				rs_errf(c->err, "'%s': value of '%.64s' "
				    "contains a control character",
				    k->name, name);
				return RS_EINPUT;
			}
		for (i = 0; header && i < *nout; i++)
			if (strcasecmp((*out)[i].name, name) == 0) {
				rs_errf(c->err, "'%s': header '%.64s' is "
				    "given twice", k->name, name);
				return RS_EINPUT;
			}
		p = &(*out)[*nout];
		if ((p->name = strdup(name)) == NULL ||
		    (p->value = strdup(val)) == NULL) {
			(*nout)++;
			rs_errf(c->err, "out of memory");
			return RS_ENOMEM;
		}
		(*nout)++;
	}
	return RS_OK;
}

static enum rs_status
cfg_headers(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	return cfg_pairs(c, k, v, 1, &c->cfg->headers, &c->cfg->nheaders);
}

static enum rs_status
cfg_query(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	return cfg_pairs(c, k, v, 0, &c->cfg->query, &c->cfg->nquery);
}

static enum rs_status
cfg_provider(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	const char	*s;
	size_t		 len;

	if ((s = cfg_string(v, &len)) == NULL || !cfg_is_ident(s, 1, "_.-")) {
		rs_errf(c->err, "'%s' must be 1 to %d characters of A-Z a-z "
		    "0-9 _ . -", k->name, CFG_MAX_IDENT);
		return RS_EINPUT;
	}
	return cfg_dup(c, cfg_strp(c, k), s);
}

/*
 * A non-empty array of strings into a NULL-free char * array.  check
 * validates one entry and writes its own message.
 */
static enum rs_status
cfg_strings(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v,
    char ***out, size_t *nout,
    enum rs_status (*check)(struct cfg_ctx *, const struct cfg_key *,
    size_t, const char *))
{
	const char	*s;
	size_t		 n, i, len;
	enum rs_status	 st;

	if (!json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) == 0 || n > CFG_MAX_FIELDS) {
		rs_errf(c->err, "'%s' must be an array of 1 to %d strings",
		    k->name, CFG_MAX_FIELDS);
		return RS_EINPUT;
	}
	if ((*out = calloc(n, sizeof(**out))) == NULL) {
		rs_errf(c->err, "out of memory");
		return RS_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		if ((s = cfg_string(json_object_array_get_idx(v, i),
		    &len)) == NULL) {
			rs_errf(c->err, "'%s' entry %zu must be a string",
			    k->name, i);
			return RS_EINPUT;
		}
		if ((st = check(c, k, i, s)) != RS_OK)
			return st;
		if ((st = cfg_dup(c, &(*out)[i], s)) != RS_OK)
			return st;
		*nout = i + 1;
	}
	return RS_OK;
}

static enum rs_status
cfg_field_ok(struct cfg_ctx *c, const struct cfg_key *k, size_t i,
    const char *s)
{
	char	 perr[RS_ERRLEN];

	if (s[0] == '\0' || cfg_has_ctl(s)) {
		rs_errf(c->err, "'%s' entry %zu must be a non-empty path "
		    "without control characters", k->name, i);
		return RS_EINPUT;
	}
	if (jp_check(s, perr) != RS_OK) {
		rs_errf(c->err, "'%s' entry %zu is not a valid path: %s",
		    k->name, i, perr);
		return RS_EINPUT;
	}
	return RS_OK;
}

static enum rs_status
cfg_role_ok(struct cfg_ctx *c, const struct cfg_key *k, size_t i,
    const char *s)
{
	if (!cfg_is_ident(s, 0, "_-")) {
		rs_errf(c->err, "'%s' entry %zu must be 1 to %d characters "
		    "of a-z 0-9 _ -", k->name, i, CFG_MAX_IDENT);
		return RS_EINPUT;
	}
	return RS_OK;
}

static enum rs_status
cfg_fields(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	return cfg_strings(c, k, v, &c->cfg->text_fields,
	    &c->cfg->ntext_fields, cfg_field_ok);
}

static enum rs_status
cfg_roles(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	return cfg_strings(c, k, v, &c->cfg->roles, &c->cfg->nroles,
	    cfg_role_ok);
}

/* false: not sent; true: the standard header name; a string: that name. */
static enum rs_status
cfg_cond(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	const char	*s;
	size_t		 len;

	if (json_object_is_type(v, json_type_boolean)) {
		if (!json_object_get_boolean(v))
			return RS_OK;
		return cfg_dup(c, cfg_strp(c, k), k->dflt);
	}
	if ((s = cfg_string(v, &len)) == NULL || !cfg_is_token(s)) {
		rs_errf(c->err, "'%s' must be a boolean or a header name",
		    k->name);
		return RS_EINPUT;
	}
	return cfg_dup(c, cfg_strp(c, k), s);
}

/* ---- incremental (incremental.h) ----------------------------------- */

static const char *const cfg_incr_keys[] = {
	"cursorPath", "param", "initialValue", "lookbackSeconds", "fullEvery",
};

static void
cfg_incr_free(struct incr_config *ic)
{
	if (ic == NULL)
		return;
	free(ic->cursor_path);
	free(ic->param);
	free(ic->initial);
	free(ic);
}

/* The string member name of o into *s (NULL: absent or null); -1 when it
 * is not a string without NULs. */
static int
cfg_member_str(struct json_object *o, const char *name, const char **s)
{
	struct json_object	*v;
	size_t			 len;

	*s = NULL;
	if (!json_object_object_get_ex(o, name, &v) || v == NULL)
		return 0;
	return (*s = cfg_string(v, &len)) == NULL ? -1 : 0;
}

/* The integer member name of o, 0..max, into *out (0: absent or null);
 * -1 when it is not one. */
static int
cfg_member_int(struct json_object *o, const char *name, long long max,
    long long *out)
{
	struct json_object	*v;
	int64_t			 n;

	*out = 0;
	if (!json_object_object_get_ex(o, name, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_int) ||
	    (n = json_object_get_int64(v)) < 0 || n > max)
		return -1;
	*out = n;
	return 0;
}

/* incremental's string members, checked, into ic. */
static enum rs_status
cfg_incr_strings(struct cfg_ctx *c, struct json_object *v,
    struct incr_config *ic)
{
	const char	*path, *param, *init;
	char		 perr[RS_ERRLEN];

	if (cfg_member_str(v, "cursorPath", &path) == -1 || path == NULL ||
	    path[0] == '\0' || jp_check(path, perr) != RS_OK) {
		rs_errf(c->err, "'incremental.cursorPath' must be a dot path "
		    "inside an item (e.g. \"updated_at\")");
		return RS_EINPUT;
	}
	/* A missing param is judged with bodyTemplate (cfg_incr_rules). */
	if (cfg_member_str(v, "param", &param) == -1 || (param != NULL &&
	    (param[0] == '\0' || strlen(param) > CFG_MAX_PARAM ||
	    strpbrk(param, "=&#") != NULL))) {
		rs_errf(c->err, "'incremental.param' must be a parameter name "
		    "of 1 to %d printable characters other than = & #",
		    CFG_MAX_PARAM);
		return RS_EINPUT;
	}
	if (param != NULL && cfg_has_ctl(param)) {
		rs_errf(c->err, "'incremental.param' contains a control "
		    "character");
		return RS_EINPUT;
	}
	if (cfg_member_str(v, "initialValue", &init) == -1 ||
	    (init != NULL && (init[0] == '\0' ||
	    strlen(init) > CFG_INCR_MAX_VALUE))) {
		rs_errf(c->err, "'incremental.initialValue' must be a string "
		    "of 1 to %d bytes or null", CFG_INCR_MAX_VALUE);
		return RS_EINPUT;
	}
	if (init != NULL && cfg_has_ctl(init)) {
		rs_errf(c->err, "'incremental.initialValue' contains a "
		    "control character");
		return RS_EINPUT;
	}
	if ((ic->cursor_path = strdup(path)) == NULL ||
	    (param != NULL && (ic->param = strdup(param)) == NULL) ||
	    (init != NULL && (ic->initial = strdup(init)) == NULL)) {
		rs_errf(c->err, "out of memory");
		return RS_ENOMEM;
	}
	return RS_OK;
}

/* incremental: {cursorPath, param, initialValue?, lookbackSeconds?,
 * fullEvery?}; each member's error names it. */
static enum rs_status
cfg_incr(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	struct incr_config	*ic;
	const char		*name;
	long long		 n;
	enum rs_status		 st;

	(void)k;
	if (!json_object_is_type(v, json_type_object)) {
		rs_errf(c->err, "'incremental' must be an object {cursorPath, "
		    "param, initialValue?, lookbackSeconds?, fullEvery?} or "
		    "null");
		return RS_EINPUT;
	}
	if ((name = cfg_unknown_member(v, cfg_incr_keys,
	    NELEM(cfg_incr_keys))) != NULL) {
		rs_errf(c->err, "'incremental': unknown key '%.64s'", name);
		return RS_EINPUT;
	}
	if ((ic = calloc(1, sizeof(*ic))) == NULL) {
		rs_errf(c->err, "out of memory");
		return RS_ENOMEM;
	}
	c->cfg->incremental = ic;	/* cfg_free() frees it on failure */
	if ((st = cfg_incr_strings(c, v, ic)) != RS_OK)
		return st;
	if (cfg_member_int(v, "lookbackSeconds", CFG_INCR_MAX_LOOKBACK,
	    &ic->lookback) == -1) {
		rs_errf(c->err, "'incremental.lookbackSeconds' must be an "
		    "integer between 0 and %lld", CFG_INCR_MAX_LOOKBACK);
		return RS_EINPUT;
	}
	if (cfg_member_int(v, "fullEvery", CFG_INCR_MAX_FULL_EVERY, &n) ==
	    -1) {
		rs_errf(c->err, "'incremental.fullEvery' must be an integer "
		    "between 0 and %d (0: never)", CFG_INCR_MAX_FULL_EVERY);
		return RS_EINPUT;
	}
	ic->full_every = (int)n;
	return RS_OK;
}

static enum rs_status
cfg_method(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	const char	*s;
	size_t		 len;

	if ((s = cfg_string(v, &len)) == NULL ||
	    (strcmp(s, "GET") != 0 && strcmp(s, "POST") != 0)) {
		rs_errf(c->err, "'%s' must be 'GET' or 'POST'", k->name);
		return RS_EINPUT;
	}
	c->cfg->method_post = strcmp(s, "POST") == 0;
	return RS_OK;
}

static enum rs_status
cfg_body(struct cfg_ctx *c, const struct cfg_key *k, struct json_object *v)
{
	int		 seen[PH__MAX];
	enum rs_status	 st;

	(void)k;
	if ((st = ph_check(v, seen, c->err)) != RS_OK)
		return st;
	c->cfg->body_cursor = seen[PH_CURSOR];
	c->cfg->body_page_size = seen[PH_PAGE_SIZE];
	c->cfg->body_since = seen[PH_SINCE];
	c->cfg->body_template = json_object_get(v);
	return RS_OK;
}

/* The rules of method POST (config.h), before the defaults. */
static enum rs_status
cfg_post_rules(struct cfg_ctx *c)
{
	struct source_config	*cfg = c->cfg;

	if (!cfg->method_post) {
		if (cfg->body_template != NULL) {
			rs_errf(c->err, "'bodyTemplate' needs 'method': "
			    "'POST'");
			return RS_EINPUT;
		}
		return RS_OK;
	}
	if (cfg->body_template == NULL) {
		rs_errf(c->err, "'method' 'POST' needs 'bodyTemplate' (a JSON "
		    "object with {{cursor}} where the cursor goes)");
		return RS_EINPUT;
	}
	if (cfg->style == CFG_STYLE_LINK) {
		rs_errf(c->err, "'cursorStyle' 'link' follows next URLs and "
		    "cannot be used with 'method' 'POST'");
		return RS_EINPUT;
	}
	if (cfg->cursor_param != NULL || cfg->page_size_param != NULL) {
		rs_errf(c->err, "'%s' does not apply with 'method' 'POST': "
		    "the %s goes into 'bodyTemplate' as %s",
		    cfg->cursor_param != NULL ? "cursorParam" :
		    "pageSizeParam", cfg->cursor_param != NULL ? "cursor" :
		    "page size", cfg->cursor_param != NULL ? "{{cursor}}" :
		    "{{pageSize}}");
		return RS_EINPUT;
	}
	if (!cfg->body_cursor && cfg->max_pages != 1) {
		rs_errf(c->err, "'bodyTemplate' must hold {{cursor}} (where "
		    "the next page's cursor goes), unless 'maxPages' is 1");
		return RS_EINPUT;
	}
	return RS_OK;
}

/*
 * Where an incremental run's since goes: the query parameter
 * incremental.param, {{since}} in a POST body, or both; never nowhere,
 * and {{since}} only with incremental.
 */
static enum rs_status
cfg_incr_rules(struct cfg_ctx *c)
{
	const struct source_config	*cfg = c->cfg;
	int				 in_body;

	in_body = cfg->method_post && cfg->body_since;
	if (cfg->body_since && cfg->incremental == NULL) {
		rs_errf(c->err, "'bodyTemplate' holds {{since}}, which needs "
		    "'incremental'");
		return RS_EINPUT;
	}
	if (cfg->incremental != NULL && cfg->incremental->param == NULL &&
	    !in_body) {
		rs_errf(c->err, "'incremental.param' must be a parameter name "
		    "of 1 to %d printable characters other than = & # (or, "
		    "with 'method' 'POST', {{since}} in 'bodyTemplate')",
		    CFG_MAX_PARAM);
		return RS_EINPUT;
	}
	return RS_OK;
}

static const struct cfg_key *
cfg_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(cfg_keys[i].name, name) == 0)
			return &cfg_keys[i];
	return NULL;
}

/*
 * The client secret goes to tokenUrl: it must be on baseUrl's origin, or
 * on one the operator listed in auth.allowedTokenOrigins.
 */
static enum rs_status
cfg_token_origin_ok(struct cfg_ctx *c)
{
	struct source_config	*cfg = c->cfg;
	char			 base[FETCH_ORIGIN_MAX], tok[FETCH_ORIGIN_MAX];
	size_t			 i;

	if (fetch_origin(cfg->base_url, base, sizeof(base)) == -1 ||
	    fetch_origin(cfg->token_url, tok, sizeof(tok)) == -1) {
		rs_errf(c->err, "'auth.tokenUrl' has no origin");
		return RS_EINPUT;
	}
	if (strcmp(base, tok) == 0)
		return RS_OK;
	for (i = 0; i < cfg->ntoken_origins; i++)
		if (strcmp(cfg->token_origins[i], tok) == 0)
			return RS_OK;
	rs_errf(c->err, "'auth.tokenUrl' must be on baseUrl's origin (%s) "
	    "unless its origin (%s) is listed in 'auth.allowedTokenOrigins'",
	    base, tok);
	return RS_EINPUT;
}

/* Defaults and the rules that tie keys together. */
static enum rs_status
cfg_finish(struct cfg_ctx *c)
{
	struct source_config	*cfg = c->cfg;
	enum rs_status		 st;
	size_t			 i;

	if (cfg->base_url == NULL) {
		rs_errf(c->err, "'baseUrl' is required");
		return RS_EINPUT;
	}
	if (cfg->text_fields == NULL) {
		rs_errf(c->err, "'textFields' is required");
		return RS_EINPUT;
	}
	if (!c->have_style)
		cfg->style = cfg->next_cursor_path != NULL ?
		    CFG_STYLE_CURSOR : CFG_STYLE_PAGE;
	if (cfg->style == CFG_STYLE_CURSOR && cfg->next_cursor_path == NULL) {
		rs_errf(c->err, "'nextCursorPath' is required when "
		    "cursorStyle is 'cursor'");
		return RS_EINPUT;
	}
	if ((st = cfg_post_rules(c)) != RS_OK ||
	    (st = cfg_incr_rules(c)) != RS_OK)
		return st;
	if (cfg->cursor_param == NULL && (st = cfg_dup(c, &cfg->cursor_param,
	    cfg_default_param[cfg->style])) != RS_OK)
		return st;
	if (cfg->style != CFG_STYLE_LINK && cfg->page_size_param != NULL &&
	    strcmp(cfg->page_size_param, cfg->cursor_param) == 0) {
		rs_errf(c->err, "'pageSizeParam' must differ from "
		    "'cursorParam'");
		return RS_EINPUT;
	}
	if (cfg->auth != CFG_AUTH_NONE && !cfg->requires_auth) {
		rs_errf(c->err, "'auth' needs 'requiresAuth': true (the "
		    "credentials come from the tenant's secret)");
		return RS_EINPUT;
	}
	for (i = 0; cfg->auth != CFG_AUTH_NONE && i < cfg->nheaders; i++)
		if (strcasecmp(cfg->headers[i].name, "Authorization") == 0) {
			rs_errf(c->err, "'headersTemplate' sets Authorization, "
			    "which 'auth' sets too; keep one");
			return RS_EINPUT;
		}
	if (cfg->provider == NULL &&
	    (st = cfg_dup(c, &cfg->provider, "rest")) != RS_OK)
		return st;
	if (cfg->auth == CFG_AUTH_OAUTH2)
		return cfg_token_origin_ok(c);
	return RS_OK;
}

static enum rs_status
cfg_object(struct cfg_ctx *c, struct json_object *root)
{
	struct json_object_iterator	 it, end;
	struct json_object		*v;
	const char			*name;
	size_t				 i;
	enum rs_status			 st;

	it = json_object_iter_begin(root);
	end = json_object_iter_end(root);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		name = json_object_iter_peek_name(&it);
		if (cfg_find(name) == NULL) {
			rs_errf(c->err, "unknown key '%.64s'", name);
			return RS_EINPUT;
		}
	}
	for (i = 0; i < NKEYS; i++) {
		if (!json_object_object_get_ex(root, cfg_keys[i].name, &v) ||
		    v == NULL)
			continue;	/* absent or null */
		if ((st = cfg_keys[i].fn(c, &cfg_keys[i], v)) != RS_OK)
			return st;
	}
	return cfg_finish(c);
}

/*
 * "config is not valid JSON at line L, column C" (1-based) for the byte
 * where the parser stopped: the operator page shows the same message
 * while the config is typed (static/rest-sources.js configProblem).
 */
static void
cfg_syntax_error(const char *json, size_t off, char *err)
{
	size_t	 i, line = 1, col = 1;

	for (i = 0; i < off; i++) {
		if (json[i] == '\n') {
			line++;
			col = 1;
		} else
			col++;
	}
	rs_errf(err, "config is not valid JSON at line %zu, column %zu", line,
	    col);
}

enum rs_status
cfg_parse(const char *json, size_t len, struct source_config *cfg, char *err)
{
	struct json_tokener	*tok = NULL;
	struct json_object	*root = NULL;
	enum json_tokener_error	 jerr;
	struct cfg_ctx		 c;
	size_t			 i;
	enum rs_status		 st = RS_EINPUT;

	memset(cfg, 0, sizeof(*cfg));
	cfg->page_size = 50;
	cfg->page_start = 1;
	cfg->max_body = CFG_DEFAULT_BODY_CAP;
	cfg->delete_missing = 1;
	cfg->max_delete_fraction = CFG_DEFAULT_DELETE_FRACTION;
	cfg->timeout_ms = CFG_DEFAULT_TIMEOUT_MS;
	if (json == NULL || len > CFG_MAX_JSON) {
		rs_errf(err, "config is missing or larger than %u bytes",
		    CFG_MAX_JSON);
		goto fail;
	}
	if (memchr(json, '\0', len) != NULL) {
		rs_errf(err, "config contains a NUL byte");
		goto fail;
	}
	for (i = 0; i < len && strchr(" \t\r\n", json[i]) != NULL; i++)
		continue;
	if (i == len || json[i] != '{') {
		rs_errf(err, "config must be a JSON object");
		goto fail;
	}
	if ((tok = json_tokener_new_ex(CFG_MAX_NEST)) == NULL) {
		rs_errf(err, "out of memory");
		st = RS_ENOMEM;
		goto fail;
	}
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, json, (int)len);
	jerr = json_tokener_get_error(tok);
	if (root == NULL || jerr != json_tokener_success) {
		if (jerr == json_tokener_error_depth)
			rs_errf(err, "config nests deeper than %d levels",
			    CFG_MAX_NEST);
		else if (jerr == json_tokener_continue)
			rs_errf(err, "config is truncated JSON");
		else
			cfg_syntax_error(json, json_tokener_get_parse_end(tok),
			    err);
		goto fail;
	}
	/* STRICT already refuses trailing garbage; this is belt and braces. */
	for (i = json_tokener_get_parse_end(tok); i < len; i++)
		if (strchr(" \t\r\n", json[i]) == NULL) {
			rs_errf(err, "config has trailing data at byte %zu", i);
			goto fail;
		}
	if (!json_object_is_type(root, json_type_object)) {
		rs_errf(err, "config must be a JSON object");
		goto fail;
	}
	c.cfg = cfg;
	c.have_style = 0;
	c.err = err;
	if ((st = cfg_object(&c, root)) != RS_OK)
		goto fail;
	json_object_put(root);
	json_tokener_free(tok);
	return RS_OK;
fail:
	json_object_put(root);
	if (tok != NULL)
		json_tokener_free(tok);
	cfg_free(cfg);
	return st;
}

static void
cfg_free_pairs(struct cfg_pair *p, size_t n)
{
	size_t	 i;

	if (p == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
}

static void
cfg_free_strings(char **v, size_t n)
{
	size_t	 i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
cfg_free(struct source_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->base_url);
	free(cfg->cursor_param);
	free(cfg->page_size_param);
	free(cfg->items_path);
	free(cfg->next_cursor_path);
	free(cfg->current_offset_path);
	free(cfg->total_path);
	free(cfg->has_more_path);
	free(cfg->total_pages_path);
	cfg_free_pairs(cfg->headers, cfg->nheaders);
	cfg_free_pairs(cfg->query, cfg->nquery);
	free(cfg->provider);
	cfg_free_strings(cfg->text_fields, cfg->ntext_fields);
	free(cfg->title_field);
	free(cfg->item_id_path);
	cfg_free_strings(cfg->roles, cfg->nroles);
	free(cfg->if_none_match);
	free(cfg->if_modified_since);
	cfg_incr_free(cfg->incremental);
	json_object_put(cfg->body_template);
	free(cfg->token_url);
	free(cfg->oauth_scope);
	free(cfg->oauth_audience);
	cfg_free_strings(cfg->token_origins, cfg->ntoken_origins);
	memset(cfg, 0, sizeof(*cfg));
}

static const char *const cfg_default_roles[] = {
	"support", "operations", "admin"
};

void
cfg_effective_roles(const struct source_config *cfg,
    const char *const **roles, size_t *n)
{
	if (cfg->roles != NULL) {
		*roles = (const char *const *)cfg->roles;
		*n = cfg->nroles;
	} else {
		*roles = cfg_default_roles;
		*n = sizeof(cfg_default_roles) / sizeof(cfg_default_roles[0]);
	}
}
