/*
 * oauth.h — OAuth2 client credentials (RFC 6749 §4.4) for a source's
 * page requests.  Prefix: oauth_.
 *
 * The source's secret holds client_id and client_secret (entered as the
 * write-only clientId and clientSecret, bound to the origin of baseUrl
 * like every secret, and to the origin of the token URL they were
 * entered for).  A token request is
 *
 *   POST tokenUrl
 *   Authorization: Basic base64(form(client_id) ":" form(client_secret))
 *   Content-Type: application/x-www-form-urlencoded
 *   grant_type=client_credentials[&scope=...][&audience=...]
 *
 * (RFC 6749 §2.3.1: HTTP Basic, each part form-encoded first; the body
 * never carries the secret), through the upstream fetcher: http(s) only,
 * the address check (SSRF rules), no redirect followed, a 64 KiB answer
 * cap, retried on 429/5xx within the batch's deadline.  Token requests
 * do not draw from the source's rate budget (ratelimit.h): they go to
 * the token endpoint, once per token lifetime.
 *
 * The access token is cached per source: in memory in each process, and
 * encrypted with the secret key in kb_oauth_tokens for the other workers
 * (sql/010), until OAUTH_SKEW before expires_in (30 s, or 10% of short
 * lifetimes).  Both caches are keyed by a hash of the token URL, scope,
 * audience and client credentials, so a changed client secret or token
 * URL never reuses a token of the old one.
 */
#ifndef OAUTH_H
#define OAUTH_H

#include <stddef.h>

#include "config.h"
#include "http_fetch.h"
#include "rs.h"
#include "secret.h"
#include "store.h"

#define OAUTH_MAX_TOKEN		4096	/* bytes of an access token */
#define OAUTH_MAX_BODY		(64 * 1024)	/* token endpoint answer */
#define OAUTH_SKEW_MS		30000	/* refresh this long before expiry */
#define OAUTH_DEFAULT_EXPIRES	300	/* seconds, when expires_in is absent */

/* What one token request needs. */
struct oauth_client {
	const char	*source_id;	/* cache key; NULL: no cache */
	const char	*tenant_id;
	const char	*token_url;
	const char	*scope;		/* NULL: not sent */
	const char	*audience;	/* NULL: not sent */
	const char	*client_id;
	const char	*client_secret;
	double		 deadline;	/* rs_now_ms() bound */
	long		 timeout_ms;	/* one attempt */
};

/* Where a token came from. */
enum oauth_source {
	OAUTH_FROM_MEMORY = 0,
	OAUTH_FROM_DB,
	OAUTH_FROM_ENDPOINT,
	OAUTH__MAX
};

/*
 * A fresh access token for c into *token (malloc'd, free with
 * secret_free_str): from this process' cache, else kb_oauth_tokens,
 * else the token endpoint (then cached in both).  rejected, when not
 * NULL, is a token the API has just refused (401): it is dropped from
 * the caches and never returned.  RS_EUPSTREAM with the endpoint's
 * status and error/error_description (the client's values redacted)
 * when it refuses; RS_EDB never (a database failure only skips the
 * shared cache).  *from says where the token came from.
 */
enum rs_status	 oauth_token(struct store *, struct fetcher *,
		    const struct oauth_client *, const char *rejected,
		    char **token, enum oauth_source *from, char *err);

/*
 * The secret of a source whose auth is oauth2_client_credentials: a
 * client_id and client_secret of 4+ characters without control
 * characters, entered for the origin of cfg's tokenUrl (a config edited
 * to send them to another token endpoint needs them entered again).
 * RS_EINPUT saying what is wrong.
 */
enum rs_status	 oauth_check_secret(const struct source_config *,
		    const struct secret_values *, char *err);

/*
 * For cfg (CFG_AUTH_OAUTH2; RS_OK doing nothing otherwise) an access
 * token into sv->access, from sv's client credentials, via
 * oauth_token() (source_id NULL: no cache).  rejected: the token now in
 * sv->access was refused by the API (401); another is fetched.
 */
enum rs_status	 oauth_source_token(struct store *, struct fetcher *,
		    const struct source_config *cfg, const char *source_id,
		    const char *tenant_id, struct secret_values *sv,
		    double deadline, int rejected, char *err);

/* Forget every token this process holds (tests, key rotation). */
void		 oauth_forget_all(void);

/* ---- pieces, exposed for tests/unit/test_oauth.c ---------------------- */

/* "grant_type=client_credentials[&scope=..][&audience=..]", form-encoded
 * (application/x-www-form-urlencoded); -1 past the buffer's cap. */
int		 oauth_form_body(const struct oauth_client *, struct rs_buf *);

/* Form-encode s (RFC 6749 Appendix B) onto b; -1 past the cap. */
int		 oauth_form_encode(struct rs_buf *, const char *s);

/*
 * Judge a token endpoint's answer: on 2xx a JSON object with a string
 * access_token (printable ASCII, no space, 4..OAUTH_MAX_TOKEN bytes),
 * token_type "Bearer" (any case) if present, expires_in a positive
 * number of seconds (absent: OAUTH_DEFAULT_EXPIRES) into *token and
 * *expires_s.  Otherwise RS_EUPSTREAM "token endpoint answered HTTP N:
 * <error>: <error_description>" (or an excerpt of the body), with
 * secrets[0..nsecrets) redacted.
 */
enum rs_status	 oauth_parse_answer(long status, const char *body,
		    size_t len, const char *const *secrets, size_t nsecrets,
		    char **token, long *expires_s, char *err);

/* Milliseconds a token of expires_s seconds stays usable: its lifetime
 * less OAUTH_SKEW_MS, or less 10% when that is shorter; at least 0. */
double		 oauth_fresh_ms(long expires_s);

/* The cache binding: hex SHA-256 of token URL, scope, audience, client
 * id and secret (NUL-separated). */
void		 oauth_binding(const struct oauth_client *, char out[65]);

#endif
