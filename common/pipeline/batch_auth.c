/*
 * batch_auth.c — a batch's secret (opened, checked against the auth form),
 * its request headers (template, Authorization, validators), its OAuth2
 * token, and what keeps the secret out of messages and stored cursors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "batch_int.h"
#include "oauth.h"
#include "redact.h"

/*
 * Redact the secret values, in every spelling redact.c knows (raw,
 * percent-encoded either case, form-encoded), from *s.
 */
void
batch_redact(char **s, const struct secret_values *sv)
{
	const char	*vals[SECRET_NVALUES];

	secret_values_array(sv, vals);
	(void)redact_replace(s, vals, SECRET_NVALUES, REDACT_MARK);
}

void
batch_redact_buf(char *err, const struct secret_values *sv)
{
	char	*s;

	if (err == NULL || (s = strdup(err)) == NULL)
		return;
	batch_redact(&s, sv);
	rs_errf(err, "%s", s);
	free(s);
}

/* The value {{API_KEY}} stands for: api_key, else token (or NULL). */
const char *
batch_key(const struct secret_values *sv)
{
	return sv->api_key != NULL ? sv->api_key : sv->token;
}

/* A copy of w->url to show and store (*out, malloc'd), secrets redacted. */
enum rs_status
batch_shown_url(const struct work *w, char **out, char *err)
{
	if ((*out = strdup(w->url)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	batch_redact(out, &w->sv);
	return RS_OK;
}

/*
 * "name: tpl" with every "{{API_KEY}}" replaced by key ("" when NULL),
 * malloc'd (free with secret_free_str); NULL when out of memory or longer
 * than BATCH_MAX_HEADER.
 */
static char *
render_header(const char *name, const char *tpl, const char *key)
{
	struct rs_buf		 b;

	rs_buf_init(&b, BATCH_MAX_HEADER);
	if (rs_buf_puts(&b, name) == -1 || rs_buf_puts(&b, ": ") == -1 ||
	    rs_buf_render_key(&b, tpl, key) == -1)
		goto fail;
	return rs_buf_steal(&b);
fail:
	if (b.p != NULL)
		secret_free_str(b.p);
	return NULL;
}

/*
 * The origin of the source's baseUrl into origin, and a check that the
 * secret found was entered for exactly it (sql/007 joins on it; this is
 * the C side of the same rule).  RS_EINPUT: no key for this origin, so
 * nothing is sent anywhere.
 */
static enum rs_status
batch_secret_origin(const struct source_config *cfg,
    const struct source_row *src, char *origin, size_t originsz, char *err)
{
	if (fetch_origin(cfg->base_url, origin, originsz) == -1) {
		rs_errf(err, "source config: 'baseUrl' has no origin");
		return RS_EINPUT;
	}
	if (src->secret_ct == NULL) {
		rs_errf(err, "source requires auth but the tenant has no "
		    "secret for provider '%s' at origin %s (a key is bound to "
		    "the origin it was entered for: enter it again)",
		    cfg->provider, origin);
		return RS_EINPUT;
	}
	if (strcmp(origin, src->secret_origin) != 0) {
		rs_errf(err, "the secret for provider '%s' was entered for "
		    "another origin than %s", cfg->provider, origin);
		return RS_EINPUT;
	}
	return RS_OK;
}

/* The source's stored secret under one key; *pt is freed by the caller. */
static enum rs_status
decrypt_source_secret(const struct work *w, const unsigned char *key,
    const char *origin, char **pt, char *err)
{
	return secret_decrypt(key, w->src.tenant_id, w->cfg.provider,
	    w->src.secret_aad == 1 ? NULL : origin, w->src.secret_ct,
	    w->src.secret_ct_len, w->src.secret_nonce,
	    w->src.secret_nonce_len, pt, err);
}

/*
 * Open the source's secret under the key file as it is now, across a key
 * rotation: the key file; else the new key beside it (between the
 * rotation's commit and its file swap); else the key file read again
 * (the swap came between the two reads).
 */
static enum rs_status
open_under_current_key(const struct work *w, const char *origin, char **pt,
    char *err)
{
	unsigned char	 key[SECRET_KEYLEN];
	enum rs_status	 st;

	if ((st = secret_load_key(key, err)) != RS_OK)
		return st;
	st = decrypt_source_secret(w, key, origin, pt, err);
	if (st == RS_EINPUT && secret_load_next_key(key, NULL) == RS_OK)
		st = decrypt_source_secret(w, key, origin, pt, err);
	if (st == RS_EINPUT && secret_load_key(key, NULL) == RS_OK)
		st = decrypt_source_secret(w, key, origin, pt, err);
	OPENSSL_cleanse(key, sizeof(key));
	return st;
}

/*
 * The secret's values go into headers and URLs: no CR/LF or other
 * control character; and none but the username shorter than 4
 * characters (batch_redact() cannot keep one out of messages without
 * mangling them).  RS_EINPUT naming the field.
 */
static enum rs_status
check_secret_values(const struct work *w, char *err)
{
	const char	*vals[4], *names[4] =
			    { "api_key", "token", "username", "password" };
	const char	*s;
	size_t		 i;

	vals[0] = w->sv.api_key;
	vals[1] = w->sv.token;
	vals[2] = w->sv.username;
	vals[3] = w->sv.password;
	for (i = 0; i < 4; i++) {
		for (s = vals[i]; s != NULL && *s != '\0'; s++)
			if ((unsigned char)*s < 0x20 || *s == 0x7f) {
				rs_errf(err, "the secret for provider '%s' has "
				    "a control character in '%s'",
				    w->cfg.provider, names[i]);
				return RS_EINPUT;
			}
		if (i != 2 && vals[i] != NULL && *vals[i] != '\0' &&
		    strlen(vals[i]) < 4) {
			rs_errf(err, "the secret for provider '%s' has a "
			    "'%s' shorter than 4 characters", w->cfg.provider,
			    names[i]);
			return RS_EINPUT;
		}
	}
	return RS_OK;
}

/*
 * The secret holds what the config uses ({{API_KEY}}: api_key or token)
 * and what its auth form needs.  RS_EINPUT naming the missing field.
 */
static enum rs_status
check_auth_form(const struct work *w, char *err)
{
	static const char	 ph[] = "{{API_KEY}}";
	size_t			 i;
	int			 uses_key = 0;

	for (i = 0; i < w->cfg.nheaders; i++)
		if (strstr(w->cfg.headers[i].value, ph) != NULL)
			uses_key = 1;
	for (i = 0; i < w->cfg.nquery; i++)
		if (strstr(w->cfg.query[i].value, ph) != NULL)
			uses_key = 1;
	if (uses_key && w->sv.api_key == NULL && w->sv.token == NULL) {
		rs_errf(err, "the config uses {{API_KEY}} but the secret for "
		    "provider '%s' has no 'api_key' or 'token'",
		    w->cfg.provider);
		return RS_EINPUT;
	}
	switch (w->cfg.auth) {
	case CFG_AUTH_BASIC:
		/* RFC 7617 §2: the user-id cannot contain a colon. */
		if (w->sv.username == NULL || *w->sv.username == '\0' ||
		    strchr(w->sv.username, ':') != NULL) {
			rs_errf(err, "auth 'basic' needs a 'username' without "
			    "':' (and a 'password') in the secret for "
			    "provider '%s'", w->cfg.provider);
			return RS_EINPUT;
		}
		break;
	case CFG_AUTH_BEARER:
		if ((w->sv.token == NULL || *w->sv.token == '\0') &&
		    (w->sv.api_key == NULL || *w->sv.api_key == '\0')) {
			rs_errf(err, "auth 'bearer' needs a 'token' or "
			    "'api_key' in the secret for provider '%s'",
			    w->cfg.provider);
			return RS_EINPUT;
		}
		break;
	case CFG_AUTH_OAUTH2:
		return oauth_check_secret(&w->cfg, &w->sv, err);
	default:
		break;
	}
	return RS_OK;
}

/*
 * Decrypt the tenant's secret when the source requires auth, and check
 * it holds what the config's auth form needs.  RS_EINPUT naming the
 * missing field: a source that would send an empty credential fails
 * before any request.  sto NULL (a dry run): the secret as loaded.
 */
enum rs_status
batch_load_secret(struct store *sto, struct work *w, char *err)
{
	char		*pt = NULL, origin[FETCH_ORIGIN_MAX];
	enum rs_status	 st;

	if (!w->cfg.requires_auth)
		return RS_OK;
	if ((st = batch_secret_origin(&w->cfg, &w->src, origin,
	    sizeof(origin), err)) != RS_OK)
		return st;
	st = open_under_current_key(w, origin, &pt, err);
	/* Our copy of the secret was read before a rotation committed and
	 * the key file after its swap: read the secret again (a swap never
	 * comes before its commit) and open it the same way. */
	if (st == RS_EINPUT && sto != NULL && w->src.id[0] != '\0' &&
	    store_reload_secret(sto, &w->src, NULL) == RS_OK)
		st = open_under_current_key(w, origin, &pt, err);
	if (st != RS_OK)
		return st;
	st = secret_parse(pt, &w->sv, err);
	secret_free_str(pt);
	if (st != RS_OK || (st = check_secret_values(w, err)) != RS_OK)
		return st;
	return check_auth_form(w, err);
}

/*
 * The request headers: headersTemplate ({{API_KEY}} is api_key, else
 * token), the auth form's Authorization (RFC 7617 Basic from username
 * and password; RFC 6750 Bearer from token, else api_key), and Accept.
 * batch_load_secret has checked the secret fits the auth form.
 */
enum rs_status
batch_build_headers(struct work *w, char *err)
{
	const struct secret_values	*sv = &w->sv;
	struct rs_buf			 up;
	unsigned char			*b64 = NULL;
	const char			*key;
	size_t				 i;
	enum rs_status			 st = RS_ENOMEM;

	rs_buf_init(&up, BATCH_MAX_HEADER);
	w->hdrs = calloc(w->cfg.nheaders + 3, sizeof(char *));
	if (w->hdrs == NULL)
		goto nomem;
	key = batch_key(sv);
	for (i = 0; i < w->cfg.nheaders; i++) {
		w->hdrs[w->nhdrs] = render_header(w->cfg.headers[i].name,
		    w->cfg.headers[i].value, key);
		if (w->hdrs[w->nhdrs] == NULL)
			goto nomem;
		w->nhdrs++;
	}
	switch (w->cfg.auth) {
	case CFG_AUTH_BASIC:
		if (rs_buf_puts(&up, sv->username) == -1 ||
		    rs_buf_puts(&up, ":") == -1 ||
		    rs_buf_puts(&up, sv->password != NULL ? sv->password :
		    "") == -1 ||
		    (b64 = malloc(4 * ((up.len + 2) / 3) + 1)) == NULL)
			goto nomem;
		(void)EVP_EncodeBlock(b64, (const unsigned char *)up.p,
		    (int)up.len);
		/* What goes on the wire must stay out of messages too. */
		if ((w->sv.derived = strdup((const char *)b64)) == NULL)
			goto nomem;
		w->hdrs[w->nhdrs] = render_header("Authorization",
		    "Basic {{API_KEY}}", (const char *)b64);
		break;
	case CFG_AUTH_BEARER:
		w->hdrs[w->nhdrs] = render_header("Authorization",
		    "Bearer {{API_KEY}}", sv->token != NULL ? sv->token :
		    sv->api_key);
		break;
	case CFG_AUTH_OAUTH2:
		/* RFC 6750 §2.1; the token comes from batch_oauth(). */
		w->hdrs[w->nhdrs] = render_header("Authorization",
		    "Bearer {{API_KEY}}", sv->access);
		break;
	default:
		break;
	}
	if (w->cfg.auth != CFG_AUTH_NONE) {
		if (w->hdrs[w->nhdrs] == NULL)
			goto nomem;
		w->nhdrs++;
	}
	if ((w->hdrs[w->nhdrs] = strdup("Accept: application/json")) == NULL)
		goto nomem;
	w->nhdrs++;
	st = RS_OK;
	goto out;
nomem:
	rs_errf(err, "cannot render the request headers: out of memory or "
	    "a header longer than %d bytes", BATCH_MAX_HEADER);
out:
	secret_free_str((char *)b64);
	if (up.p != NULL)
		secret_free_str(up.p);
	return st;
}

void
batch_free_headers(struct work *w)
{
	size_t	 i;

	for (i = 0; i < w->nhdrs; i++)
		secret_free_str(w->hdrs[i]);
	free(w->hdrs);
	w->hdrs = NULL;
	w->nhdrs = 0;
}

/* auth oauth2_client_credentials: an access token (oauth.h). */
enum rs_status
batch_oauth(struct batch_ctx *ctx, struct work *w, double deadline,
    int rejected, char *err)
{
	return oauth_source_token(ctx->st, ctx->fx, &w->cfg,
	    w->src.id[0] != '\0' ? w->src.id : NULL, w->src.tenant_id, &w->sv,
	    deadline, rejected, err);
}

/*
 * A 401 to a request with an OAuth2 token: the token was revoked or
 * expired early.  Get another (once), and fetch the page again.
 */
enum rs_status
batch_oauth_refetch(struct batch_ctx *ctx, struct work *w, struct fetch_req *fr,
    const struct fetch_policy *pol, struct batch_result *res, char *note)
{
	enum rs_status	 st;
	int		 n = 0;

	if ((st = batch_oauth(ctx, w, pol->deadline, 1, note)) != RS_OK)
		return st;
	batch_free_headers(w);
	w->sent_validators = 0;
	if ((st = batch_build_headers(w, note)) != RS_OK ||
	    (st = batch_add_conditional(w, note)) != RS_OK)
		return st;
	fr->headers = (const char *const *)w->hdrs;
	fetch_resp_free(&w->resp);
	st = fetch_retry(ctx->fx, fr, pol, &w->resp, &n, note);
	res->attempts += n;
	return st;
}

/*
 * With ifNoneMatchHeader / ifModifiedSinceHeader configured, send the
 * validators remembered for this page (RFC 9110 §13.1) and remember the
 * new ones after the fetch.
 */
enum rs_status
batch_add_conditional(struct work *w, char *err)
{
	char	**nh, *h[2] = { NULL, NULL };
	size_t	 i, k = 0;
	int	 n;

	w->conditional = w->cfg.if_none_match != NULL ||
	    w->cfg.if_modified_since != NULL;
	if (!w->conditional || !w->src.has_page)
		return RS_OK;
	for (i = 0; i < 2; i++) {
		const char *name = i == 0 ? w->cfg.if_none_match :
		    w->cfg.if_modified_since;
		const char *val = i == 0 ? w->src.page_etag :
		    w->src.page_last_modified;
		size_t len;

		if (name == NULL || val == NULL ||
		    strpbrk(val, "\r\n") != NULL)
			continue;
		len = strlen(name) + strlen(val) + 3;
		if (len > BATCH_MAX_HEADER || (h[k] = malloc(len)) == NULL)
			continue;
		n = snprintf(h[k], len, "%s: %s", name, val);
		if (n < 0 || (size_t)n >= len) {
			free(h[k]);
			h[k] = NULL;
			continue;
		}
		k++;
	}
	if (k == 0)
		return RS_OK;
	if ((nh = rs_reallocarray(w->hdrs, w->nhdrs + k + 1,
	    sizeof(*nh))) == NULL) {
		free(h[0]);
		free(h[1]);
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	w->hdrs = nh;
	for (i = 0; i < k; i++)
		w->hdrs[w->nhdrs++] = h[i];
	w->hdrs[w->nhdrs] = NULL;
	w->sent_validators = 1;
	return RS_OK;
}

/*
 * The next cursor as it may be stored and shown (issue 14): the key that
 * {{API_KEY}} stands for (api_key, else token), in any spelling and
 * wherever it is — any parameter, the path, a bare token — becomes the
 * placeholder again (pager_url() renders it back for the next fetch); the
 * other secret values become [redacted].  RS_EUPSTREAM when a secret
 * survives in a spelling redact.c does not know: nothing is stored.
 */
enum rs_status
batch_safe_next(struct pager_next *nx, const struct secret_values *sv,
    char *err)
{
	const char	*key = batch_key(sv);
	const char	*others[SECRET_NVALUES], *all[SECRET_NVALUES];
	size_t		 n = 0;

	if (nx->next == NULL)
		return RS_OK;
	secret_values_array(sv, all);
	if (sv->api_key != NULL && sv->token != NULL)
		others[n++] = sv->token;
	others[n++] = sv->password;
	others[n++] = sv->username;
	others[n++] = sv->derived;
	others[n++] = sv->client_id;
	others[n++] = sv->client_secret;
	others[n++] = sv->access;
	if (redact_replace(&nx->next, &key, 1, "{{API_KEY}}") == -1 ||
	    redact_replace(&nx->next, others, n, REDACT_MARK) == -1) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	if (redact_leaks(nx->next, all, SECRET_NVALUES)) {
		rs_errf(err, "the next cursor holds a secret in a form that "
		    "cannot be redacted; it was not stored");
		return RS_EUPSTREAM;
	}
	return RS_OK;
}

/*
 * A short, printable excerpt of an error body for last_error, redacted
 * before it is cut (redact.h): a key straddling the cut leaves nothing.
 */
void
batch_body_excerpt(const struct rs_buf *b, const struct secret_values *sv,
    char *out, size_t outsz)
{
	const char	*vals[SECRET_NVALUES];
	char		 ex[256];

	secret_values_array(sv, vals);
	out[0] = '\0';
	redact_excerpt(b->p, b->len, 200, vals, SECRET_NVALUES, ex,
	    sizeof(ex));
	if (ex[0] != '\0')
		(void)snprintf(out, outsz, ": %s", ex);
}
