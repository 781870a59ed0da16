/*
 * srcsecret.h — the secret a create or update brings (apiKey, or OAuth2
 * client credentials): what it is bound to, whether it may move with the
 * config, and storing it encrypted.  Prefix: srcsec_.
 *
 * A secret is bound to its tenant, the config's provider and the origin
 * of its baseUrl (sql/007, the AES-GCM AAD; issue 14), and client
 * credentials also to the origin of auth.tokenUrl.
 */
#ifndef SRCSECRET_H
#define SRCSECRET_H

#include <stddef.h>

#include <json-c/json.h>

#include "http_fetch.h"
#include "rs.h"
#include "secret.h"
#include "srcinput.h"

struct db;

/*
 * What a config's key is bound to: its provider and its baseUrl's
 * origin, and whether it sends a key at all.
 */
struct srcsec_binding {
	char	 provider[80];
	char	 origin[FETCH_ORIGIN_MAX];
	int	 auth;
	int	 oauth;		/* auth oauth2_client_credentials */
	char	 token_origin[FETCH_ORIGIN_MAX];	/* its tokenUrl's */
};

/* The binding of config[0..len).  RS_EINPUT when it does not parse or
 * cannot bind a key. */
enum rs_status	 srcsec_binding_of(const char *config, size_t len,
		    struct srcsec_binding *, char *err);

/*
 * An update that moves a source to another origin, token origin or
 * provider: the secret stored for the old one must not follow, so
 * unless the request brings it again the change is refused (RS_EINPUT
 * naming apiKey or clientSecret).  A source that sends no key may move
 * freely.  What moved is added to the audit detail d.
 */
enum rs_status	 srcsec_check_move(const struct source_input *,
		    const struct srcsec_binding *now,
		    const struct srcsec_binding *was, struct json_object *d,
		    char *err);

/*
 * A request that brings a secret for binding b of tenant's source self
 * (for a create, the new one) while other sources of the tenant use the
 * one stored for that provider and origin (they require auth and it is
 * stored): refused unless replaceSharedKey (RS_EINPUT naming apiKey or
 * clientSecret and up to SRCSEC_NAMED of their titles), so that a
 * mistyped key never breaks them silently (issue 16).  RS_EDB.
 */
#define SRCSEC_NAMED	4
enum rs_status	 srcsec_check_shared(struct db *, const char *tenant,
		    const char *self, const struct srcsec_binding *b,
		    const struct source_input *, char *err);

/*
 * The secret-at-rest key into key when the request brings a secret (else
 * nothing).  RS_EINTERNAL when it is unusable.
 */
enum rs_status	 srcsec_key(const struct source_input *,
		    unsigned char key[SECRET_KEYLEN], char *err);

/*
 * Encrypt the request's secret for tenant + b's provider and origin and
 * upsert it, inside the caller's transaction.  RS_EINPUT when the secret
 * does not fit the config's auth (client credentials only for
 * oauth2_client_credentials, an apiKey never for it); RS_EDB.
 */
enum rs_status	 srcsec_put(struct db *, const unsigned char key[SECRET_KEYLEN],
		    const char *tenant_id, const struct srcsec_binding *b,
		    const struct source_input *, char *err);

#endif
