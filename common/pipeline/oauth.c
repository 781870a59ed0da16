/*
 * oauth.c — OAuth2 client credentials: token requests and the two token
 * caches (see oauth.h).  The SQL of kb_oauth_tokens lives here, run on
 * the store's connection (like obs.c).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "db.h"
#include "hashing.h"
#include "jsonbound.h"
#include "oauth.h"
#include "redact.h"
#include "secret.h"

#define OAUTH_CACHE	16	/* sources remembered per process */
#define OAUTH_MAX_HDR	(3 * OAUTH_MAX_TOKEN)

enum oauth_stmt {
	OA_GET,
	OA_PUT,
	OA_DROP,
	OA__MAX
};

static const char *const oa_stmts[OA__MAX] = {
	/* OA_GET: the source's token while it is fresh. */
	"SELECT ciphertext, nonce, "
	"       extract(epoch FROM fresh_until) * 1000 "
	"FROM kb_oauth_tokens "
	"WHERE source_id = $1::uuid AND fresh_until > clock_timestamp()",

	/* OA_PUT: the newest token wins. */
	"INSERT INTO kb_oauth_tokens (source_id, tenant_id, ciphertext, "
	"    nonce, fresh_until) "
	"SELECT $1::uuid, s.tenant_id, $2, $3, "
	"    to_timestamp($4::float8 / 1000) "
	"FROM kb_sources s WHERE s.id = $1::uuid "
	"ON CONFLICT (source_id, tenant_id) DO UPDATE SET ciphertext = "
	"    EXCLUDED.ciphertext, nonce = EXCLUDED.nonce, fresh_until = "
	"    EXCLUDED.fresh_until, updated_at = now()",

	/* OA_DROP: the token the API refused, unless another replaced it. */
	"DELETE FROM kb_oauth_tokens WHERE source_id = $1::uuid AND nonce = $2",
};

static const struct db_table oa_table = {
	"oauth", oa_stmts, OA__MAX, 0
};

/* This process' cache. */
struct oauth_entry {
	char	 source_id[37];
	char	 binding[65];
	char	*token;
	double	 fresh_until;	/* epoch ms */
};

static struct oauth_entry	 oa_cache[OAUTH_CACHE];

static double
oa_epoch_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

static void
oa_entry_clear(struct oauth_entry *e)
{
	secret_free_str(e->token);
	memset(e, 0, sizeof(*e));
}

void
oauth_forget_all(void)
{
	size_t	 i;

	for (i = 0; i < OAUTH_CACHE; i++)
		oa_entry_clear(&oa_cache[i]);
}

static struct oauth_entry *
oa_find(const char *source_id)
{
	size_t	 i;

	for (i = 0; i < OAUTH_CACHE; i++)
		if (strcmp(oa_cache[i].source_id, source_id) == 0)
			return &oa_cache[i];
	return NULL;
}

/* Remember token for source_id (a copy); the stalest entry makes room. */
static void
oa_remember(const char *source_id, const char *binding, const char *token,
    double fresh_until)
{
	struct oauth_entry	*e = oa_find(source_id);
	size_t			 i;

	if (e == NULL) {
		e = &oa_cache[0];
		for (i = 1; i < OAUTH_CACHE; i++)
			if (oa_cache[i].fresh_until < e->fresh_until)
				e = &oa_cache[i];
	}
	oa_entry_clear(e);
	if ((e->token = strdup(token)) == NULL)
		return;
	(void)snprintf(e->source_id, sizeof(e->source_id), "%s", source_id);
	(void)snprintf(e->binding, sizeof(e->binding), "%s", binding);
	e->fresh_until = fresh_until;
}

double
oauth_fresh_ms(long expires_s)
{
	double	 life = (double)expires_s * 1000, skew = OAUTH_SKEW_MS;

	if (life / 10 < skew)
		skew = life / 10;
	return life - skew > 0 ? life - skew : 0;
}

void
oauth_binding(const struct oauth_client *c, char out[65])
{
	const char	*parts[5];
	struct rs_buf	 b;
	size_t		 i;

	parts[0] = c->token_url;
	parts[1] = c->scope != NULL ? c->scope : "";
	parts[2] = c->audience != NULL ? c->audience : "";
	parts[3] = c->client_id != NULL ? c->client_id : "";
	parts[4] = c->client_secret != NULL ? c->client_secret : "";
	rs_buf_init(&b, 5 * 8192 + 5);
	out[0] = '\0';
	for (i = 0; i < 5; i++)
		if (rs_buf_puts(&b, parts[i] != NULL ? parts[i] : "") == -1 ||
		    rs_buf_append(&b, "", 1) == -1)
			goto out;
	hash_sha256_hex(b.p, b.len, out);
out:
	if (b.p != NULL)
		OPENSSL_cleanse(b.p, b.len);
	rs_buf_free(&b);
}

int
oauth_form_encode(struct rs_buf *b, const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			 e[3];
	unsigned char		 ch;

	for (; *s != '\0'; s++) {
		ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '*') {
			if (rs_buf_append(b, s, 1) == -1)
				return -1;
		} else if (ch == ' ') {
			if (rs_buf_append(b, "+", 1) == -1)
				return -1;
		} else {
			e[0] = '%';
			e[1] = hex[ch >> 4];
			e[2] = hex[ch & 15];
			if (rs_buf_append(b, e, 3) == -1)
				return -1;
		}
	}
	return 0;
}

int
oauth_form_body(const struct oauth_client *c, struct rs_buf *b)
{
	if (rs_buf_puts(b, "grant_type=client_credentials") == -1)
		return -1;
	if (c->scope != NULL && (rs_buf_puts(b, "&scope=") == -1 ||
	    oauth_form_encode(b, c->scope) == -1))
		return -1;
	if (c->audience != NULL && (rs_buf_puts(b, "&audience=") == -1 ||
	    oauth_form_encode(b, c->audience) == -1))
		return -1;
	return 0;
}

/* A member of o as a string, or NULL. */
static const char *
oa_member(struct json_object *o, const char *name)
{
	struct json_object	*v;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* A token may go into a header: printable ASCII, no space. */
static int
oa_token_ok(const char *t)
{
	size_t	 n = 0;

	for (; *t != '\0'; t++, n++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return 0;
	return n >= 4 && n <= OAUTH_MAX_TOKEN;
}

/* The refusal's message: status, error, error_description (RFC 6749
 * §5.2), else an excerpt of the body; all redacted. */
static void
oa_refusal(long status, struct json_object *root, const char *body,
    size_t len, const char *const *secrets, size_t n, char *err)
{
	const char	*e = oa_member(root, "error"),
			*d = oa_member(root, "error_description");
	char		 ex[256], de[256];

	ex[0] = de[0] = '\0';
	if (e != NULL) {
		redact_excerpt(e, strlen(e), 100, secrets, n, ex, sizeof(ex));
		if (d != NULL)
			redact_excerpt(d, strlen(d), 200, secrets, n, de,
			    sizeof(de));
		rs_errf(err, "OAuth2 token endpoint answered HTTP %ld: %s%s%s",
		    status, ex, de[0] != '\0' ? ": " : "", de);
		return;
	}
	redact_excerpt(body, len, 200, secrets, n, ex, sizeof(ex));
	rs_errf(err, "OAuth2 token endpoint answered HTTP %ld%s%s", status,
	    ex[0] != '\0' ? ": " : "", ex);
}

enum rs_status
oauth_parse_answer(long status, const char *body, size_t len,
    const char *const *secrets, size_t nsecrets, char **token,
    long *expires_s, char *err)
{
	struct json_object	*root = NULL, *v;
	const char		*t, *tt;
	char			 perr[RS_ERRLEN];
	double			 d;
	int			 syntax = 0;
	enum rs_status		 st = RS_EUPSTREAM;

	*token = NULL;
	*expires_s = 0;
	if (len > 0 && jbound_parse(body, len, 8, jbound_budget(OAUTH_MAX_BODY),
	    "token endpoint JSON", &root, &syntax, perr) != RS_OK)
		root = NULL;
	if (status < 200 || status > 299) {
		oa_refusal(status, root, body, len, secrets, nsecrets, err);
		goto out;
	}
	if ((t = oa_member(root, "access_token")) == NULL) {
		rs_errf(err, "OAuth2 token endpoint answered HTTP %ld without "
		    "an access_token", status);
		goto out;
	}
	if (!oa_token_ok(t)) {
		rs_errf(err, "OAuth2 token endpoint answered an access_token "
		    "that is not 4 to %d printable characters",
		    OAUTH_MAX_TOKEN);
		goto out;
	}
	if ((tt = oa_member(root, "token_type")) != NULL &&
	    strcasecmp(tt, "Bearer") != 0) {
		rs_errf(err, "OAuth2 token endpoint answered token_type "
		    "'%.40s'; only Bearer tokens are supported", tt);
		goto out;
	}
	*expires_s = OAUTH_DEFAULT_EXPIRES;
	if (json_object_object_get_ex(root, "expires_in", &v) && v != NULL) {
		/* Some servers send it as a string. */
		d = json_object_is_type(v, json_type_string) ?
		    strtod(json_object_get_string(v), NULL) :
		    json_object_get_double(v);
		if (!isfinite(d) || d < 1 || d > 31536000) {
			rs_errf(err, "OAuth2 token endpoint answered an "
			    "expires_in that is not 1 to 31536000 seconds");
			goto out;
		}
		*expires_s = (long)d;
	}
	if ((*token = strdup(t)) == NULL) {
		rs_errf(err, "out of memory");
		st = RS_ENOMEM;
		goto out;
	}
	st = RS_OK;
out:
	secret_wipe_json(root);
	json_object_put(root);
	return st;
}

/* Run an autocommit statement of ours; NULL on any failure (the shared
 * cache is then skipped: the endpoint stays the source of truth). */
static PGresult *
oa_run(struct store *st, enum oauth_stmt s, int n, const char *const *v,
    const int *lens, const int *fmts)
{
	static const Oid	 types[4] = { 0, DB_OID_BYTEA, DB_OID_BYTEA, 0 };

	if (st == NULL)
		return NULL;
	return db_runp(store_db(st), &oa_table, (size_t)s, n, types, v, lens,
	    fmts, DB_RETRY_UNLOCKED, NULL);
}

/* The tenant and source the AAD binds a cached token to. */
static int
oa_provider(const struct oauth_client *c, char *out, size_t outsz)
{
	int	 n = snprintf(out, outsz, "oauth-token:%s", c->source_id);

	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* The shared cache's token for c, unless it is rejected. */
static char *
oa_db_get(struct store *st, const struct oauth_client *c,
    const char *binding, const char *rejected, double *fresh_until)
{
	unsigned char	 key[SECRET_KEYLEN], *ct = NULL, *nonce = NULL;
	size_t		 ctlen = 0, nlen = 0;
	char		 prov[64], *pt = NULL;
	const char	*v[2];
	int		 lens[2] = { 0, 0 }, fmts[2] = { 0, 0 };
	PGresult	*r;

	v[0] = c->source_id;
	if ((r = oa_run(st, OA_GET, 1, v, lens, fmts)) == NULL)
		return NULL;
	if (PQntuples(r) != 1 || oa_provider(c, prov, sizeof(prov)) == -1 ||
	    secret_load_key(key, NULL) != RS_OK)
		goto out;
	ct = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0),
	    &ctlen);
	nonce = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 1),
	    &nlen);
	*fresh_until = strtod(PQgetvalue(r, 0, 2), NULL);
	if (ct == NULL || nonce == NULL ||
	    secret_decrypt(key, c->tenant_id, prov, binding, ct, ctlen, nonce,
	    nlen, &pt, NULL) != RS_OK)
		pt = NULL;
	OPENSSL_cleanse(key, sizeof(key));
	if (pt != NULL && rejected != NULL && strcmp(pt, rejected) == 0) {
		/* The API refused it: drop it, unless replaced meanwhile. */
		PQclear(r);
		r = NULL;
		v[1] = (const char *)nonce;
		lens[1] = (int)nlen;
		fmts[1] = 1;
		if ((r = oa_run(st, OA_DROP, 2, v, lens, fmts)) != NULL)
			PQclear(r);
		r = NULL;
		secret_free_str(pt);
		pt = NULL;
	}
out:
	if (ct != NULL)
		PQfreemem(ct);
	if (nonce != NULL)
		PQfreemem(nonce);
	PQclear(r);
	return pt;
}

static void
oa_db_put(struct store *st, const struct oauth_client *c,
    const char *binding, const char *token, double fresh_until)
{
	unsigned char	 key[SECRET_KEYLEN], *ct = NULL,
			 nonce[SECRET_NONCELEN];
	size_t		 ctlen = 0;
	char		 prov[64], until[64];
	const char	*v[4];
	int		 lens[4] = { 0, 0, SECRET_NONCELEN, 0 },
			 fmts[4] = { 0, 1, 1, 0 };
	PGresult	*r;

	if (oa_provider(c, prov, sizeof(prov)) == -1 ||
	    secret_load_key(key, NULL) != RS_OK)
		return;
	if (secret_encrypt(key, c->tenant_id, prov, binding, token,
	    strlen(token), &ct, &ctlen, nonce, NULL) == RS_OK) {
		(void)snprintf(until, sizeof(until), "%.0f", fresh_until);
		v[0] = c->source_id;
		v[1] = (const char *)ct;
		v[2] = (const char *)nonce;
		v[3] = until;
		lens[1] = (int)ctlen;
		if ((r = oa_run(st, OA_PUT, 4, v, lens, fmts)) != NULL)
			PQclear(r);
	}
	OPENSSL_cleanse(key, sizeof(key));
	free(ct);
}

/* "Authorization: Basic base64(form(id):form(secret))" (RFC 6749
 * §2.3.1), malloc'd; NULL when out of memory or too long.  *b64 gets
 * the encoded credentials (for redaction). */
static char *
oa_basic(const struct oauth_client *c, char **b64)
{
	struct rs_buf	 up, h;
	unsigned char	*enc = NULL;

	*b64 = NULL;
	rs_buf_init(&up, OAUTH_MAX_HDR);
	rs_buf_init(&h, 2 * OAUTH_MAX_HDR);
	if (oauth_form_encode(&up, c->client_id) == -1 ||
	    rs_buf_append(&up, ":", 1) == -1 ||
	    oauth_form_encode(&up, c->client_secret) == -1 ||
	    (enc = malloc(4 * ((up.len + 2) / 3) + 1)) == NULL)
		goto fail;
	(void)EVP_EncodeBlock(enc, (const unsigned char *)up.p, (int)up.len);
	if (rs_buf_puts(&h, "Authorization: Basic ") == -1 ||
	    rs_buf_puts(&h, (const char *)enc) == -1)
		goto fail;
	*b64 = (char *)enc;
	if (up.p != NULL)
		secret_free_str(up.p);
	return rs_buf_steal(&h);
fail:
	secret_free_str((char *)enc);
	if (up.p != NULL)
		secret_free_str(up.p);
	if (h.p != NULL)
		secret_free_str(h.p);
	return NULL;
}

/* POST the token request; *token and *expires_s on RS_OK. */
static enum rs_status
oa_request(struct fetcher *fx, const struct oauth_client *c, char **token,
    long *expires_s, char *err)
{
	struct fetch_req	 fr;
	struct fetch_policy	 pol;
	struct fetch_resp	 resp;
	struct rs_buf		 form;
	const char		*hdrs[4], *secrets[3];
	char			*auth = NULL, *b64 = NULL, note[RS_ERRLEN];
	int			 attempts = 0;
	enum rs_status		 st;

	memset(&resp, 0, sizeof(resp));
	rs_buf_init(&form, 8192);
	if (oauth_form_body(c, &form) == -1 ||
	    (auth = oa_basic(c, &b64)) == NULL) {
		rs_errf(err, "cannot build the OAuth2 token request: out of "
		    "memory or a value too long");
		st = RS_ENOMEM;
		goto out;
	}
	hdrs[0] = auth;
	hdrs[1] = "Content-Type: application/x-www-form-urlencoded";
	hdrs[2] = "Accept: application/json";
	hdrs[3] = NULL;
	fetch_req_post(&fr, c->token_url, hdrs, form.p, form.len,
	    c->timeout_ms, OAUTH_MAX_BODY);
	fr.check_addr = 1;
	pol.deadline = c->deadline;
	pol.max_attempts = 3;
	pol.base_delay_ms = 250;
	pol.max_delay_ms = 2000;
	note[0] = '\0';
	secrets[0] = c->client_secret;
	secrets[1] = b64;
	secrets[2] = c->client_id;
	st = fetch_retry(fx, &fr, &pol, &resp, &attempts, note);
	if (st != RS_OK) {
		rs_errf(err, "OAuth2 token request failed: %s", note);
		goto out;
	}
	st = oauth_parse_answer(resp.status, resp.body.p, resp.body.len,
	    secrets, 3, token, expires_s, err);
out:
	if (resp.body.p != NULL)
		OPENSSL_cleanse(resp.body.p, resp.body.len);
	fetch_resp_free(&resp);
	secret_free_str(auth);
	secret_free_str(b64);
	rs_buf_free(&form);
	return st;
}

enum rs_status
oauth_token(struct store *st, struct fetcher *fx,
    const struct oauth_client *c, const char *rejected, char **token,
    enum oauth_source *from, char *err)
{
	struct oauth_entry	*e = NULL;
	char			 binding[65];
	double			 now = oa_epoch_ms(), until = 0;
	long			 expires = 0;
	enum rs_status		 rc;

	*token = NULL;
	*from = OAUTH_FROM_ENDPOINT;
	oauth_binding(c, binding);
	if (c->source_id != NULL && binding[0] != '\0') {
		e = oa_find(c->source_id);
		if (e != NULL && (strcmp(e->binding, binding) != 0 ||
		    e->fresh_until <= now || (rejected != NULL &&
		    strcmp(e->token, rejected) == 0))) {
			oa_entry_clear(e);
			e = NULL;
		}
		if (e != NULL) {
			*from = OAUTH_FROM_MEMORY;
			if ((*token = strdup(e->token)) == NULL)
				goto nomem;
			return RS_OK;
		}
		if ((*token = oa_db_get(st, c, binding, rejected, &until)) !=
		    NULL) {
			*from = OAUTH_FROM_DB;
			oa_remember(c->source_id, binding, *token, until);
			return RS_OK;
		}
	}
	if ((rc = oa_request(fx, c, token, &expires, err)) != RS_OK)
		return rc;
	until = oa_epoch_ms() + oauth_fresh_ms(expires);
	if (c->source_id != NULL && binding[0] != '\0') {
		oa_remember(c->source_id, binding, *token, until);
		oa_db_put(st, c, binding, *token, until);
	}
	return RS_OK;
nomem:
	rs_errf(err, "out of memory");
	return RS_ENOMEM;
}

enum rs_status
oauth_check_secret(const struct source_config *cfg,
    const struct secret_values *sv, char *err)
{
	const char	*v[2] = { sv->client_id, sv->client_secret };
	const char	*s;
	char		 o[FETCH_ORIGIN_MAX];
	size_t		 i;

	for (i = 0; i < 2; i++) {
		if (v[i] == NULL || strlen(v[i]) < 4) {
			rs_errf(err, "auth 'oauth2_client_credentials' needs "
			    "a clientId and a clientSecret of 4 or more "
			    "characters in the secret for provider '%s'",
			    cfg->provider);
			return RS_EINPUT;
		}
		for (s = v[i]; *s != '\0'; s++)
			if ((unsigned char)*s < 0x20 || *s == 0x7f) {
				rs_errf(err, "the secret for provider '%s' has "
				    "a control character in '%s'",
				    cfg->provider, i == 0 ? "clientId" :
				    "clientSecret");
				return RS_EINPUT;
			}
	}
	if (cfg->token_url == NULL ||
	    fetch_origin(cfg->token_url, o, sizeof(o)) == -1 ||
	    sv->token_origin == NULL || strcmp(o, sv->token_origin) != 0) {
		rs_errf(err, "the client secret for provider '%s' was entered "
		    "for another token endpoint origin than %s: enter "
		    "clientId and clientSecret again", cfg->provider,
		    cfg->token_url != NULL ? o : "none");
		return RS_EINPUT;
	}
	return RS_OK;
}

enum rs_status
oauth_source_token(struct store *st, struct fetcher *fx,
    const struct source_config *cfg, const char *source_id,
    const char *tenant_id, struct secret_values *sv, double deadline,
    int rejected, char *err)
{
	struct oauth_client	 c;
	enum oauth_source	 from;
	char			*tok = NULL;
	enum rs_status		 rc;

	if (cfg->auth != CFG_AUTH_OAUTH2)
		return RS_OK;
	memset(&c, 0, sizeof(c));
	c.source_id = source_id;
	c.tenant_id = tenant_id;
	c.token_url = cfg->token_url;
	c.scope = cfg->oauth_scope;
	c.audience = cfg->oauth_audience;
	c.client_id = sv->client_id;
	c.client_secret = sv->client_secret;
	c.deadline = deadline;
	c.timeout_ms = cfg->timeout_ms;
	if ((rc = oauth_token(st, fx, &c, rejected ? sv->access : NULL, &tok,
	    &from, err)) != RS_OK)
		return rc;
	secret_free_str(sv->access);
	sv->access = tok;
	return RS_OK;
}
