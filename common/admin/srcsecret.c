/*
 * srcsecret.c — binding, moving and storing a source's secret (see
 * srcsecret.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "config.h"
#include "srcdb.h"
#include "srcsecret.h"
#include "srcview.h"

/* The tenant's sources looked at for the users of a key (the list cap). */
#define SRCSEC_SCAN_MAX	2000

enum rs_status
srcsec_binding_of(const char *config, size_t len, struct srcsec_binding *b,
    char *err)
{
	struct source_config	 cfg;
	enum rs_status		 st;
	int			 n;

	memset(b, 0, sizeof(*b));
	if ((st = cfg_parse(config, len, &cfg, err)) != RS_OK)
		return st;
	n = snprintf(b->provider, sizeof(b->provider), "%s",
	    cfg.provider != NULL ? cfg.provider : "rest");
	if (n < 0 || (size_t)n >= sizeof(b->provider) ||
	    fetch_origin(cfg.base_url, b->origin, sizeof(b->origin)) == -1) {
		rs_errf(err, "'baseUrl' or 'provider' cannot bind a key");
		st = RS_EINPUT;
	}
	b->auth = cfg.requires_auth;
	b->oauth = cfg.auth == CFG_AUTH_OAUTH2;
	if (b->oauth && fetch_origin(cfg.token_url, b->token_origin,
	    sizeof(b->token_origin)) == -1 && st == RS_OK) {
		rs_errf(err, "'auth.tokenUrl' cannot bind a client secret");
		st = RS_EINPUT;
	}
	cfg_free(&cfg);
	return st;
}

enum rs_status
srcsec_check_move(const struct source_input *in,
    const struct srcsec_binding *now, const struct srcsec_binding *was,
    struct json_object *d, char *err)
{
	int			 origin = strcmp(now->origin, was->origin) != 0;
	int			 prov = strcmp(now->provider, was->provider) != 0;
	int			 tok = now->oauth &&
				    strcmp(now->token_origin, was->token_origin) != 0;

	if ((origin || prov || tok) && now->auth && now->oauth &&
	    in->client_id == NULL) {
		rs_errf(err, "clientSecret: changing the origin, token URL "
		    "origin or provider of a source with OAuth2 client "
		    "credentials needs clientId and clientSecret again (they "
		    "are bound to %s and token origin %s)", was->origin[0] !=
		    '\0' ? was->origin : "the old origin",
		    was->token_origin[0] != '\0' ? was->token_origin : "none");
		return RS_EINPUT;
	}
	if (tok)
		srcview_moved(d, "tokenOrigin", was->token_origin,
		    now->token_origin);
	if ((origin || prov) && now->auth && !srcin_has_secret(in)) {
		rs_errf(err, "apiKey: changing the origin or provider of a "
		    "source that requires auth needs its API key again (the "
		    "stored key is bound to %s)", was->origin[0] != '\0' ?
		    was->origin : "the old origin");
		return RS_EINPUT;
	}
	if (origin)
		srcview_moved(d, "origin", was->origin, now->origin);
	if (prov)
		srcview_moved(d, "provider", was->provider, now->provider);
	return RS_OK;
}

/* Does source s of the list use the secret stored for binding b? */
static int
srcsec_uses(const struct srcdb_source *s, const struct srcsec_binding *b)
{
	struct srcsec_binding	 w;
	char			 ignored[RS_ERRLEN];

	return s->has_secret && s->config != NULL &&
	    srcsec_binding_of(s->config, strlen(s->config), &w, ignored) ==
	    RS_OK && w.auth && strcmp(w.provider, b->provider) == 0 &&
	    strcmp(w.origin, b->origin) == 0;
}

/* ", title" (the first) into names, cut at a character to 60 bytes. */
static void
srcsec_name(struct rs_buf *names, const char *title)
{
	size_t	 n = strlen(title);

	if (n > 60)
		for (n = 60; n > 0 && ((unsigned char)title[n] & 0xc0) ==
		    0x80; n--)
			;
	if (names->len > 0)
		(void)rs_buf_puts(names, ", ");
	(void)rs_buf_append(names, title, n);
	if (n < strlen(title))
		(void)rs_buf_puts(names, "\xe2\x80\xa6");
}

enum rs_status
srcsec_check_shared(struct db *db, const char *tenant, const char *self,
    const struct srcsec_binding *b, const struct source_input *in,
    char *err)
{
	const struct srcdb_source	*s;
	struct srcdb_rows		 rows;
	struct rs_buf			 names;
	size_t				 i, n = 0;
	int				 trunc;
	enum rs_status			 st;

	if (!srcin_has_secret(in) || in->replace_shared)
		return RS_OK;
	if ((st = srcdb_list(db, NULL, tenant, SRCSEC_SCAN_MAX, &rows, &trunc,
	    err)) != RS_OK)
		return st;
	rs_buf_init(&names, 512);
	for (i = 0; i < rows.n; i++) {
		s = (const struct srcdb_source *)rows.v + i;
		if (strcmp(s->id, self) == 0 || !srcsec_uses(s, b))
			continue;
		if (n++ < SRCSEC_NAMED)
			srcsec_name(&names, s->title != NULL ? s->title : "");
	}
	if (n > SRCSEC_NAMED)
		(void)rs_buf_printf(&names, " and %zu more", n - SRCSEC_NAMED);
	if (n == 0 && trunc) {
		/* Not every source of the tenant was seen: do not guess. */
		rs_errf(err, "%s: the tenant has more than %d sources and not "
		    "all could be checked for this key; send "
		    "\"replaceSharedKey\": true to replace it, or name another "
		    "\"provider\" in the config", in->api_key != NULL ?
		    "apiKey" : "clientSecret", SRCSEC_SCAN_MAX);
		st = RS_EINPUT;
	} else if (n > 0) {
		rs_errf(err, "%s: this key is used by %zu other source%s of "
		    "this tenant (%s): replacing it affects them; send "
		    "\"replaceSharedKey\": true to replace it, or name another "
		    "\"provider\" in the config", in->api_key != NULL ?
		    "apiKey" : "clientSecret", n, n == 1 ? "" : "s",
		    names.p != NULL ? names.p : "");
		st = RS_EINPUT;
	}
	rs_buf_free(&names);
	srcdb_rows_free(&rows);
	return st;
}

enum rs_status
srcsec_key(const struct source_input *in, unsigned char key[SECRET_KEYLEN],
    char *err)
{
	char	 kerr[RS_ERRLEN];

	if (!srcin_has_secret(in))
		return RS_OK;
	kerr[0] = '\0';
	if (secret_load_key(key, kerr) != RS_OK) {
		rs_errf(err, "apiKey: cannot store the key: %s", kerr);
		return RS_EINTERNAL;
	}
	return RS_OK;
}

/* The secret a request brings must fit the config's auth. */
static enum rs_status
srcsec_fits(const struct source_input *in, const struct srcsec_binding *b,
    char *err)
{
	if (in->client_id != NULL && !b->oauth) {
		rs_errf(err, "clientId: 'clientId' and 'clientSecret' are for "
		    "a config whose auth is {\"type\": "
		    "\"oauth2_client_credentials\", ...}");
		return RS_EINPUT;
	}
	if (in->api_key != NULL && b->oauth) {
		rs_errf(err, "apiKey: this config's auth is "
		    "oauth2_client_credentials: enter 'clientId' and "
		    "'clientSecret' instead");
		return RS_EINPUT;
	}
	return RS_OK;
}

/*
 * The plaintext: {"api_key": ...}, or {"client_id", "client_secret",
 * "token_origin"} (secret.h).  The caller wipes and puts it.
 */
static struct json_object *
srcsec_plaintext(const struct source_input *in,
    const struct srcsec_binding *b)
{
	struct json_object	*pt = json_object_new_object();

	if (in->api_key != NULL) {
		json_object_object_add(pt, "api_key",
		    json_object_new_string(in->api_key));
		return pt;
	}
	json_object_object_add(pt, "client_id",
	    json_object_new_string(in->client_id));
	json_object_object_add(pt, "client_secret",
	    json_object_new_string(in->client_secret));
	json_object_object_add(pt, "token_origin",
	    json_object_new_string(b->token_origin));
	return pt;
}

enum rs_status
srcsec_put(struct db *db, const unsigned char key[SECRET_KEYLEN],
    const char *tenant_id, const struct srcsec_binding *b,
    const struct source_input *in, char *err)
{
	struct json_object	*pt;
	unsigned char		*ct = NULL, nonce[SECRET_NONCELEN];
	size_t			 ctlen = 0;
	const char		*s;
	enum rs_status		 st;

	if ((st = srcsec_fits(in, b, err)) != RS_OK)
		return st;
	pt = srcsec_plaintext(in, b);
	s = json_object_to_json_string_ext(pt, JSON_C_TO_STRING_PLAIN);
	st = secret_encrypt(key, tenant_id, b->provider, b->origin, s,
	    strlen(s), &ct, &ctlen, nonce, err);
	/* The JSON text is wiped before it is freed. */
	OPENSSL_cleanse((void *)(uintptr_t)s, strlen(s));
	secret_wipe_json(pt);
	json_object_put(pt);
	if (st == RS_OK)
		st = srcdb_put_secret(db, tenant_id, b->provider, b->origin, ct,
		    ctlen, nonce, SECRET_NONCELEN, err);
	free(ct);
	return st;
}
