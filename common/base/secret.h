/*
 * secret.h — tenants' API credentials at rest: AES-256-GCM (OpenSSL EVP)
 * with a random 96-bit nonce per secret and the tenant, the provider and
 * the origin the key was entered for bound as additional authenticated
 * data, so a ciphertext copied to another tenant, provider or origin does
 * not decrypt.  Prefix: secret_.
 *
 * origin: the RFC 6454 origin (fetch_origin()) the key may be sent to.
 * NULL selects the version 1 associated data of rows written before
 * migration 007 ("tenant_id:provider"); those rows carry their origin in
 * integration_secrets.origin, which the batch checks before use, until
 * `restsync rotate-key` rewrites them as version 2.
 *
 * The key: RESTSYNC_SECRET_KEY (32 bytes as 64 hex digits or base64), else
 * the file named by RESTSYNC_SECRET_KEY_FILE (same encodings).
 *
 * The plaintext is a JSON object {"api_key", "token", "username",
 * "password", "client_id", "client_secret", "token_origin"} (any subset),
 * or a bare string taken as api_key.
 */
#ifndef SECRET_H
#define SECRET_H

#include <stddef.h>

#include "rs.h"

#define SECRET_KEYLEN	32
#define SECRET_NONCELEN	12
#define SECRET_TAGLEN	16
#define SECRET_MAXLEN	8192	/* plaintext bytes */

struct secret_values {
	char	*api_key;
	char	*token;
	char	*username;
	char	*password;
	char	*derived;	/* sent form of the others (Basic token) */
	/* OAuth2 client credentials (common/pipeline/oauth.h): the client, the origin
	 * of the token endpoint they were entered for, and the access token
	 * obtained with them (never stored in the secret). */
	char	*client_id;
	char	*client_secret;
	char	*token_origin;
	char	*access;
};

/* 0 if s is 32 bytes as 64 hex digits or base64 (into key), else -1. */
int		 secret_decode_key(const char *s, unsigned char key[SECRET_KEYLEN]);

/* RS_EINPUT with a clear message when the key is missing or malformed. */
enum rs_status	 secret_load_key(unsigned char key[SECRET_KEYLEN], char *err);

/*
 * While `restsync rotate-key` runs, the new key waits in
 * RESTSYNC_SECRET_KEY_FILE + ".new" until it replaces the file, and the
 * secrets are committed under it before that swap: a batch whose secret
 * does not open with the current key tries this one.  RS_ENOTFOUND when
 * no rotation is under way (or the key comes from RESTSYNC_SECRET_KEY).
 */
enum rs_status	 secret_load_next_key(unsigned char key[SECRET_KEYLEN],
		    char *err);

/* *ct (malloc'd, ciphertext || tag) and nonce for plaintext pt. */
enum rs_status	 secret_encrypt(const unsigned char key[SECRET_KEYLEN],
		    const char *tenant_id, const char *provider,
		    const char *origin, const void *pt, size_t ptlen, unsigned char **ct,
		    size_t *ctlen, unsigned char nonce[SECRET_NONCELEN],
		    char *err);

/* *pt (malloc'd, NUL-terminated; free with secret_free_str). */
enum rs_status	 secret_decrypt(const unsigned char key[SECRET_KEYLEN],
		    const char *tenant_id, const char *provider,
		    const char *origin, const unsigned char *ct, size_t ctlen,
		    const unsigned char *nonce, size_t noncelen, char **pt,
		    char *err);

/* sv's values in one order, NULL where absent: api_key, token,
 * password, username, derived, client_id, client_secret, access (what
 * redaction looks for). */
#define SECRET_NVALUES	8
void		 secret_values_array(const struct secret_values *sv,
		    const char *vals[SECRET_NVALUES]);

/* Parse a decrypted plaintext into *sv (zeroed first). */
enum rs_status	 secret_parse(const char *pt, struct secret_values *sv,
		    char *err);
void		 secret_values_free(struct secret_values *);

/* Wipe and free a secret string. */
void		 secret_free_str(char *);

/*
 * Wipe every string in a json-c tree (values that held a secret: a
 * decrypted plaintext, a request body with apiKey) before it is put.
 */
struct json_object;
void		 secret_wipe_json(struct json_object *);

#endif
