/*
 * secret.c — AES-256-GCM secrets with tenant/provider/origin-bound AAD.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "secret.h"

/* Decode 64 hex digits or base64 of 32 bytes; -1 otherwise. */
static int
decode_key(const char *s, unsigned char key[SECRET_KEYLEN])
{
	unsigned char	 raw[64];
	size_t		 n = strlen(s), i;
	int		 hi, lo, m;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 2 * SECRET_KEYLEN) {
		for (i = 0; i < SECRET_KEYLEN; i++) {
			if ((hi = rs_hexval(s[2 * i])) < 0 ||
			    (lo = rs_hexval(s[2 * i + 1])) < 0)
				break;
			key[i] = (unsigned char)(hi << 4 | lo);
		}
		if (i == SECRET_KEYLEN)
			return 0;
	}
	if (n == 44 && s[43] == '=' && s[42] != '=') {
		m = EVP_DecodeBlock(raw, (const unsigned char *)s, 44);
		if (m == 33) {	/* 32 bytes + one pad byte counted */
			memcpy(key, raw, SECRET_KEYLEN);
			OPENSSL_cleanse(raw, sizeof(raw));
			return 0;
		}
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	return -1;
}

int
secret_decode_key(const char *s, unsigned char key[SECRET_KEYLEN])
{
	return decode_key(s, key);
}

/* The key in the file at path (its mode checked first). */
static enum rs_status
secret_key_file(const char *path, unsigned char key[SECRET_KEYLEN], char *err)
{
	char		 buf[256];
	struct stat	 st;
	FILE		*f;
	size_t		 n;
	int		 rc;

	if ((f = fopen(path, "r")) == NULL) {
		rs_errf(err, "cannot read the secret key file");
		return RS_EINPUT;
	}
	/* Its permissions, on the file opened (issue 14): the owner, and a
	 * group that may read (0640 root:restsync), nobody else. */
	if (fstat(fileno(f), &st) == -1 || !S_ISREG(st.st_mode)) {
		fclose(f);
		rs_errf(err, "the secret key file is not a regular file");
		return RS_EINPUT;
	}
	if ((st.st_mode & 0027) != 0) {
		fclose(f);
		rs_errf(err, "the secret key file is open to others (mode "
		    "%04o): chmod 0600 (or 0640 with the service's group)",
		    (unsigned)(st.st_mode & 07777));
		return RS_EINPUT;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rc = decode_key(buf, key);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (rc == -1) {
		rs_errf(err, "the secret key file must hold 32 bytes as 64 hex "
		    "digits or base64");
		return RS_EINPUT;
	}
	return RS_OK;
}

enum rs_status
secret_load_key(unsigned char key[SECRET_KEYLEN], char *err)
{
	const char	*env = getenv("RESTSYNC_SECRET_KEY");
	const char	*path = getenv("RESTSYNC_SECRET_KEY_FILE");

	if (env != NULL && *env != '\0') {
		if (decode_key(env, key) == -1) {
			rs_errf(err, "RESTSYNC_SECRET_KEY must be 32 bytes as "
			    "64 hex digits or base64");
			return RS_EINPUT;
		}
		return RS_OK;
	}
	if (path == NULL || *path == '\0') {
		rs_errf(err, "no secret key: set RESTSYNC_SECRET_KEY or "
		    "RESTSYNC_SECRET_KEY_FILE");
		return RS_EINPUT;
	}
	return secret_key_file(path, key, err);
}

enum rs_status
secret_load_next_key(unsigned char key[SECRET_KEYLEN], char *err)
{
	const char	*env = getenv("RESTSYNC_SECRET_KEY");
	const char	*path = getenv("RESTSYNC_SECRET_KEY_FILE");
	char		 next[PATH_MAX];
	int		 n;

	if ((env != NULL && *env != '\0') || path == NULL || *path == '\0')
		return RS_ENOTFOUND;
	n = snprintf(next, sizeof(next), "%s.new", path);
	if (n < 0 || (size_t)n >= sizeof(next) || access(next, F_OK) == -1)
		return RS_ENOTFOUND;
	return secret_key_file(next, key, err);
}

/*
 * The associated data; -1 if too long.  Version 1 (origin NULL, rows
 * written before migration 007): "tenant_id:provider".  Version 2:
 * "rs-secret-v2", tenant_id, provider and origin, each followed by a NUL
 * (none can hold one), so no two triples give the same bytes.
 */
static int
make_aad(char *aad, size_t aadsz, const char *tenant_id,
    const char *provider, const char *origin)
{
	const char	*parts[4];
	size_t		 i, n = 0, l;
	int		 m;

	if (origin == NULL) {
		m = snprintf(aad, aadsz, "%s:%s", tenant_id, provider);
		return m < 0 || (size_t)m >= aadsz ? -1 : m;
	}
	parts[0] = "rs-secret-v2";
	parts[1] = tenant_id;
	parts[2] = provider;
	parts[3] = origin;
	for (i = 0; i < 4; i++) {
		l = strlen(parts[i]);
		if (l + 1 > aadsz - n)
			return -1;
		memcpy(aad + n, parts[i], l + 1);
		n += l + 1;
	}
	return n > 1024 ? -1 : (int)n;
}

enum rs_status
secret_encrypt(const unsigned char key[SECRET_KEYLEN], const char *tenant_id,
    const char *provider, const char *origin, const void *pt, size_t ptlen, unsigned char **ct,
    size_t *ctlen, unsigned char nonce[SECRET_NONCELEN], char *err)
{
	EVP_CIPHER_CTX	*c = NULL;
	unsigned char	*out = NULL;
	char		 aad[1024];
	int		 n, aadlen, fl;
	enum rs_status	 st = RS_EINTERNAL;

	*ct = NULL;
	*ctlen = 0;
	if (ptlen > SECRET_MAXLEN) {
		rs_errf(err, "secret longer than %d bytes", SECRET_MAXLEN);
		return RS_EINPUT;
	}
	if ((aadlen = make_aad(aad, sizeof(aad), tenant_id, provider,
	    origin)) < 0) {
		rs_errf(err, "tenant, provider or origin too long");
		return RS_EINPUT;
	}
	if (RAND_bytes(nonce, SECRET_NONCELEN) != 1 ||
	    (out = malloc(ptlen + SECRET_TAGLEN)) == NULL ||
	    (c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, SECRET_NONCELEN,
	    NULL) != 1 ||
	    EVP_EncryptInit_ex(c, NULL, NULL, key, nonce) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &n, (const unsigned char *)aad,
	    aadlen) != 1 ||
	    EVP_EncryptUpdate(c, out, &n, pt, (int)ptlen) != 1 ||
	    EVP_EncryptFinal_ex(c, out + n, &fl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SECRET_TAGLEN,
	    out + ptlen) != 1) {
		rs_errf(err, "encryption failed");
		goto out;
	}
	*ct = out;
	*ctlen = ptlen + SECRET_TAGLEN;
	out = NULL;
	st = RS_OK;
out:
	EVP_CIPHER_CTX_free(c);
	free(out);
	return st;
}

enum rs_status
secret_decrypt(const unsigned char key[SECRET_KEYLEN], const char *tenant_id,
    const char *provider, const char *origin, const unsigned char *ct, size_t ctlen,
    const unsigned char *nonce, size_t noncelen, char **pt, char *err)
{
	EVP_CIPHER_CTX	*c = NULL;
	unsigned char	*out = NULL;
	unsigned char	 tag[SECRET_TAGLEN];
	char		 aad[1024];
	size_t		 len;
	int		 n, fl, aadlen;
	enum rs_status	 st = RS_EINPUT;

	*pt = NULL;
	if (noncelen != SECRET_NONCELEN || ctlen < SECRET_TAGLEN ||
	    ctlen - SECRET_TAGLEN > SECRET_MAXLEN ||
	    (aadlen = make_aad(aad, sizeof(aad), tenant_id, provider,
	    origin)) < 0) {
		rs_errf(err, "stored secret for provider '%s' is malformed",
		    provider);
		return RS_EINPUT;
	}
	len = ctlen - SECRET_TAGLEN;
	memcpy(tag, ct + len, SECRET_TAGLEN);
	if ((out = malloc(len + 1)) == NULL ||
	    (c = EVP_CIPHER_CTX_new()) == NULL) {
		rs_errf(err, "out of memory");
		st = RS_ENOMEM;
		goto out;
	}
	if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, SECRET_NONCELEN,
	    NULL) != 1 ||
	    EVP_DecryptInit_ex(c, NULL, NULL, key, nonce) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &n, (const unsigned char *)aad,
	    aadlen) != 1 ||
	    EVP_DecryptUpdate(c, out, &n, ct, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SECRET_TAGLEN,
	    tag) != 1 ||
	    EVP_DecryptFinal_ex(c, out + n, &fl) != 1) {
		rs_errf(err, "the secret for provider '%s' does not decrypt "
		    "with the configured key (wrong key, or copied from "
		    "another tenant or origin)", provider);
		goto out;
	}
	out[len] = '\0';
	if (strlen((char *)out) != len) {
		rs_errf(err, "the secret for provider '%s' contains NUL",
		    provider);
		goto out;
	}
	*pt = (char *)out;
	out = NULL;
	st = RS_OK;
out:
	if (out != NULL) {
		OPENSSL_cleanse(out, len + 1);
		free(out);
	}
	EVP_CIPHER_CTX_free(c);
	return st;
}

void
secret_wipe_json(struct json_object *o)
{
	size_t	 i, n;

	if (o == NULL)
		return;
	switch (json_object_get_type(o)) {
	case json_type_string:
		/* json-c owns the bytes; they die with the object. */
		OPENSSL_cleanse((void *)(uintptr_t)json_object_get_string(o),
		    (size_t)json_object_get_string_len(o));
		break;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			secret_wipe_json(v);
		}
		break;
	}
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			secret_wipe_json(json_object_array_get_idx(o, i));
		break;
	default:
		break;
	}
}

void
secret_free_str(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void
secret_values_array(const struct secret_values *sv,
    const char *vals[SECRET_NVALUES])
{
	vals[0] = sv->api_key;
	vals[1] = sv->token;
	vals[2] = sv->password;
	vals[3] = sv->username;
	vals[4] = sv->derived;
	vals[5] = sv->client_id;
	vals[6] = sv->client_secret;
	vals[7] = sv->access;
}

void
secret_values_free(struct secret_values *sv)
{
	secret_free_str(sv->api_key);
	secret_free_str(sv->token);
	secret_free_str(sv->username);
	secret_free_str(sv->password);
	secret_free_str(sv->derived);
	secret_free_str(sv->client_id);
	secret_free_str(sv->client_secret);
	secret_free_str(sv->token_origin);
	secret_free_str(sv->access);
	memset(sv, 0, sizeof(*sv));
}

enum rs_status
secret_parse(const char *pt, struct secret_values *sv, char *err)
{
	static const char *const names[] =
	    { "api_key", "token", "username", "password", "client_id",
	      "client_secret", "token_origin" };
	struct json_object	*root, *v;
	char			**dst[7];
	size_t			 i;
	enum rs_status		 st = RS_OK;

	memset(sv, 0, sizeof(*sv));
	dst[0] = &sv->api_key;
	dst[1] = &sv->token;
	dst[2] = &sv->username;
	dst[3] = &sv->password;
	dst[4] = &sv->client_id;
	dst[5] = &sv->client_secret;
	dst[6] = &sv->token_origin;
	while (isspace((unsigned char)*pt))
		pt++;
	if (*pt != '{') {
		if ((sv->api_key = strdup(pt)) == NULL)
			goto nomem;
		return RS_OK;
	}
	if ((root = json_tokener_parse(pt)) == NULL ||
	    !json_object_is_type(root, json_type_object)) {
		secret_wipe_json(root);
		json_object_put(root);
		rs_errf(err, "stored secret is not a JSON object");
		return RS_EINPUT;
	}
	for (i = 0; i < sizeof(dst) / sizeof(dst[0]); i++) {
		if (!json_object_object_get_ex(root, names[i], &v) ||
		    json_object_is_type(v, json_type_null))
			continue;
		if (!json_object_is_type(v, json_type_string)) {
			rs_errf(err, "secret field '%s' must be a string",
			    names[i]);
			st = RS_EINPUT;
			break;
		}
		if ((*dst[i] = strdup(json_object_get_string(v))) == NULL) {
			secret_wipe_json(root);
			json_object_put(root);
			goto nomem;
		}
	}
	secret_wipe_json(root);
	json_object_put(root);
	if (st != RS_OK)
		secret_values_free(sv);
	return st;
nomem:
	secret_values_free(sv);
	rs_errf(err, "out of memory");
	return RS_ENOMEM;
}
