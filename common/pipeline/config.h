/*
 * config.h — parse and validate a REST source config (kb_sources.config).
 * Prefix: cfg_.
 *
 * Keys (camelCase, as in the seed); any other key is an error naming it:
 *   baseUrl (string, http/https, required)
 *   cursorStyle ("offset" | "cursor" | "page" | "link"; default: "cursor"
 *       when nextCursorPath is a non-empty string, else "page")
 *   cursorParam (string; default "offset" for offset,
 *       "cursor" for cursor, "page" for page; unused by link)
 *   pageSizeParam (string or null; null/absent = page size not sent)
 *   defaultPageSize (integer 1..CFG_MAX_PAGE_SIZE; default 50)
 *   itemsPath (dot path or "$"; null/absent = whole body)
 *   nextCursorPath (dot path or null; "$last.<dot path>" or "$last" reads
 *       the last item of the page instead of the body, for
 *       starting_after-style APIs: "$last.id")
 *   currentOffsetPath, totalPath (dot path or null)
 *   hasMorePath (dot path or null)
 *   pageStart (0 or 1; default 1; page style only)
 *   totalPagesPath (dot path or null)
 *   maxPages (integer >= 1 or null)
 *   headersTemplate (object of string values; {{API_KEY}} placeholders)
 *   queryTemplate (object of string values; {{API_KEY}} placeholders)
 *   requiresAuth (bool), provider (string, 1..64 chars of [A-Za-z0-9_.-];
 *       names the secret used when requiresAuth; default "rest")
 *   auth ("basic" | "bearer" or null): an Authorization header made from
 *       the secret (basic: username and password; bearer: token, else
 *       api_key); needs requiresAuth true and no Authorization entry in
 *       headersTemplate.  Or an object {"type":
 *       "oauth2_client_credentials", "tokenUrl": URL, "scope"?: string,
 *       "audience"?: string, "allowedTokenOrigins"?: [origin, ...]}: a
 *       Bearer access token from the token endpoint (common/pipeline/oauth.h), the
 *       secret holding client_id and client_secret; tokenUrl must be on
 *       baseUrl's origin unless its origin is in allowedTokenOrigins
 *   rateLimit ({"requests": 1..1000, "perSeconds": 1..86400, "scope"?:
 *       "source" | "provider"}): a budget shared by every worker and
 *       endpoint (common/pipeline/ratelimit.h); "provider" shares it between the
 *       tenant's sources of the same provider
 *   textFields (non-empty array of dot paths)
 *   titleField (dot path or null)
 *   allowedRolesOverride (array of role strings or null)
 *   ifNoneMatchHeader, ifModifiedSinceHeader (bool, or a header name)
 *   maxBodyBytes (integer 1024..CFG_MAX_BODY_CAP; default 16 MiB)
 *   syncIntervalMinutes (integer 1..525600 or null)
 *   itemIdPath (dot path inside an item or null): the item's identity;
 *       default "id" when an item has a scalar "id"; an item without a
 *       scalar there (at the path when set, "id" never read then) is
 *       keyed by the hash of its text (docs/SYNC-RUNS.md)
 *   deleteMissing (bool, default true): a complete run removes the items
 *       it did not see
 *   maxDeleteFraction (number 0..1, default 0.5): a sweep that would
 *       remove more than this fraction of the items is held for an
 *       operator to confirm
 *   incremental (object or null): {cursorPath, param, initialValue?,
 *       lookbackSeconds?, fullEvery?}, incremental syncs
 *       (common/pipeline/incremental.h); each member's error names it
 *       (cursorPath a dot path, param as cursorParam, initialValue 1 to
 *       CFG_INCR_MAX_VALUE bytes, lookbackSeconds 0..366 days, fullEvery
 *       0..CFG_INCR_MAX_FULL_EVERY)
 *   method ("GET" | "POST"; default "GET"), bodyTemplate (a JSON object
 *       with {{cursor}}, {{pageSize}}, {{API_KEY}} placeholders in its
 *       strings; common/pipeline/placeholder.h checks it, bodytpl.h
 *       renders it): with POST the cursor and the page size go into the
 *       body, never into the query, so cursorParam and pageSizeParam do
 *       not apply; bodyTemplate is required with POST
 *       and must hold {{cursor}} (unless maxPages is 1); link paging
 *       (next URLs) cannot be POSTed
 * null means absent for every optional key, and so does "" for the
 * optional paths.  baseUrl must not carry credentials; header names are
 * RFC 9110 tokens, unique ignoring case; template values may contain no
 * control character but TAB; pageSizeParam must differ from cursorParam.
 * Query parameter names (cursorParam, pageSizeParam, queryTemplate keys)
 * contain no '=', '&', '#' or control character: pager.c relies on it.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>

#include "jsonpath.h"
#include "rs.h"

#define CFG_MAX_PAGE_SIZE	1000
#define CFG_MAX_FIELDS		64	/* textFields, roles, template entries */
#define CFG_MAX_PATH		JP_MAX_PATH	/* one dot path, bytes */
#define CFG_DEFAULT_BODY_CAP	(16u * 1024 * 1024)
#define CFG_MAX_BODY_CAP	(64u * 1024 * 1024)
#define CFG_MAX_JSON		(256u * 1024)	/* the config text itself */

enum cfg_style {
	CFG_STYLE_PAGE = 0,
	CFG_STYLE_OFFSET,
	CFG_STYLE_CURSOR,
	CFG_STYLE_LINK,		/* RFC 8288 Link: <...>; rel="next" */
	CFG_STYLE__MAX
};

enum cfg_auth {
	CFG_AUTH_NONE = 0,	/* headersTemplate / queryTemplate only */
	CFG_AUTH_BASIC,		/* Authorization: Basic user:password */
	CFG_AUTH_BEARER,	/* Authorization: Bearer token-or-api_key */
	CFG_AUTH_OAUTH2,	/* Bearer access token from an OAuth2 client
				   credentials grant (common/pipeline/oauth.h) */
	CFG_AUTH__MAX
};

/* rateLimit.scope: whose budget a request draws from (ratelimit.h). */
enum cfg_rate_scope {
	CFG_RATE_SOURCE = 0,	/* the source's own */
	CFG_RATE_PROVIDER,	/* every source of the tenant and provider */
	CFG_RATE__MAX
};

#define CFG_MAX_RATE_REQUESTS	1000
#define CFG_MAX_RATE_SECONDS	86400
#define CFG_MAX_TOKEN_ORIGINS	8

/* nextCursorPath prefix naming the last item of the page. */
#define CFG_LAST_ITEM		"$last"

struct json_object;

/* incremental (common/pipeline/incremental.h uses it). */
#define CFG_INCR_MAX_VALUE	512		/* a mark or since, bytes */
#define CFG_INCR_MAX_LOOKBACK	31622400LL	/* 366 days, seconds */
#define CFG_INCR_MAX_FULL_EVERY	10000

struct incr_config {
	char		*cursor_path;	/* dot path inside an item */
	char		*param;		/* query parameter name; NULL: {{since}} only */
	char		*initial;	/* initialValue, or NULL */
	long long	 lookback;	/* lookbackSeconds */
	int		 full_every;	/* 0: never */
};

struct cfg_pair {
	char	*name;
	char	*value;		/* may contain {{API_KEY}} */
};

struct source_config {
	char		*base_url;
	enum cfg_style	 style;
	char		*cursor_param;
	char		*page_size_param;	/* NULL: not sent */
	int		 page_size;
	char		*items_path;		/* NULL: whole body */
	char		*next_cursor_path;
	char		*current_offset_path;
	char		*total_path;
	char		*has_more_path;
	char		*total_pages_path;
	int		 page_start;		/* 0 or 1 */
	int		 max_pages;		/* 0: no limit */
	struct cfg_pair	*headers;
	size_t		 nheaders;
	struct cfg_pair	*query;
	size_t		 nquery;
	int		 requires_auth;
	enum cfg_auth	 auth;
	char		*provider;
	char		**text_fields;
	size_t		 ntext_fields;
	char		*title_field;
	char		**roles;		/* NULL: default roles */
	size_t		 nroles;
	char		*if_none_match;		/* header name or NULL */
	char		*if_modified_since;	/* header name or NULL */
	size_t		 max_body;
	int		 sync_interval_min;	/* 0: none */
	char		*item_id_path;		/* NULL: "id" if scalar */
	int		 delete_missing;	/* default 1 */
	double		 max_delete_fraction;	/* default 0.5 */
	int		 timeout_ms;		/* one upstream attempt */
	struct incr_config *incremental;	/* NULL: full runs only */
	int		 method_post;		/* method "POST" */
	struct json_object *body_template;	/* with method_post */
	int		 body_cursor;		/* it holds {{cursor}} */
	int		 body_page_size;	/* ... {{pageSize}} */
	int		 body_since;		/* ... {{since}} */
	/* auth {"type": "oauth2_client_credentials", ...} (CFG_AUTH_OAUTH2) */
	char		*token_url;
	char		*oauth_scope;		/* NULL: not sent */
	char		*oauth_audience;	/* NULL: not sent */
	char		**token_origins;	/* allowedTokenOrigins, as
						   fetch_origin() spells them */
	size_t		 ntoken_origins;
	/* rateLimit (0 requests: none) */
	int		 rate_requests;
	int		 rate_per_seconds;
	enum cfg_rate_scope rate_scope;
};

#define CFG_DEFAULT_DELETE_FRACTION	0.5
/*
 * timeoutMs: one upstream attempt (default 4 s).  At most 15 s, so that
 * one attempt, embedding and commit still end within a batch's deadline
 * (BATCH_DEADLINE_MS, 20 s, common/pipeline/batch.h) and nginx's fastcgi_read_
 * timeout (30 s); retries only happen while time is left.
 */
#define CFG_DEFAULT_TIMEOUT_MS	4000
#define CFG_MIN_TIMEOUT_MS	100
#define CFG_MAX_TIMEOUT_MS	15000

/*
 * Parse the JSON text of a config into *cfg (zeroed first; on failure it
 * is left empty).  Returns RS_OK, RS_EINPUT with a message that names the
 * offending key, or RS_ENOMEM.
 */
enum rs_status	 cfg_parse(const char *json, size_t len,
		    struct source_config *cfg, char *err);
void		 cfg_free(struct source_config *);
const char	*cfg_style_name(enum cfg_style);

/*
 * The roles a source's chunks get (kb_chunks.allowed_roles):
 * allowedRolesOverride, else the default support, operations, admin.
 */
void		 cfg_effective_roles(const struct source_config *,
		    const char *const **roles, size_t *n);
const char	*cfg_auth_name(enum cfg_auth);
/* "source" or "provider". */
const char	*cfg_rate_scope_name(enum cfg_rate_scope);

/*
 * If path is an item path ("$last" or "$last.<dot path>"), the dot path
 * inside the item ("" for the item itself); else NULL.
 */
const char	*cfg_item_path(const char *path);

#endif
