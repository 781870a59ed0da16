/*
 * test_secret.c — AES-256-GCM secrets at rest: round trips, every way a
 * stored secret can fail to decrypt (wrong key, another tenant, another
 * provider, tampered ciphertext, tag or nonce, truncation), the key
 * loader (hex, base64, file, bad input) and the plaintext parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "secret.h"

#define NROWS(a)	(sizeof(a) / sizeof((a)[0]))

static const char T1[] = "00000000-0000-4000-8000-0000000000a1";
static const char T2[] = "00000000-0000-4000-8000-0000000000a2";

/* Key bytes 0x00..0x1f, and the same key in the encodings we accept. */
#define KEY_HEX \
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_HEX_UPPER \
    "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
#define KEY_B64	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

/* Something that is not NULL, to see outputs cleared. */
static unsigned char sentinel[1];

/* 1 if needle occurs in the n bytes at hay. */
static int
contains(const unsigned char *hay, size_t n, const char *needle)
{
	size_t	 nl = strlen(needle), i;

	for (i = 0; nl <= n && i <= n - nl; i++)
		if (memcmp(hay + i, needle, nl) == 0)
			return 1;
	return 0;
}

static void
key_seq(unsigned char key[SECRET_KEYLEN], unsigned char first)
{
	size_t	 i;

	for (i = 0; i < SECRET_KEYLEN; i++)
		key[i] = (unsigned char)(first + i);
}

/* Round trips: what goes in comes out, for every size we accept. */
static void
test_round_trip(void **state)
{
	static const char *const pts[] = {
		"",
		"k",
		"sk_live_0123456789abcdef",
		"{\"api_key\":\"abc\",\"username\":\"u\",\"password\":\"p w\"}",
		"h\xc3\xa9llo \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89",
	};
	unsigned char	 key[SECRET_KEYLEN], nonce[SECRET_NONCELEN];
	unsigned char	 nonce2[SECRET_NONCELEN];
	unsigned char	*ct, *ct2;
	size_t		 ctlen, ctlen2, i;
	char		*pt, *big;
	char		 err[RS_ERRLEN];

	(void)state;
	key_seq(key, 0);
	for (i = 0; i < NROWS(pts); i++) {
		err[0] = '\0';
		assert_int_equal(secret_encrypt(key, T1, "rest", NULL, pts[i],
		    strlen(pts[i]), &ct, &ctlen, nonce, err), RS_OK);
		assert_int_equal(ctlen, strlen(pts[i]) + SECRET_TAGLEN);
		if (strlen(pts[i]) >= 4)	/* not stored in the clear */
			assert_false(contains(ct, ctlen, pts[i]));
		assert_int_equal(secret_decrypt(key, T1, "rest", NULL, ct, ctlen,
		    nonce, SECRET_NONCELEN, &pt, err), RS_OK);
		assert_string_equal(pt, pts[i]);
		secret_free_str(pt);

		/* A fresh random nonce each time: same plaintext, other
		 * nonce and other ciphertext. */
		assert_int_equal(secret_encrypt(key, T1, "rest", NULL, pts[i],
		    strlen(pts[i]), &ct2, &ctlen2, nonce2, err), RS_OK);
		assert_int_equal(ctlen2, ctlen);
		assert_memory_not_equal(nonce, nonce2, SECRET_NONCELEN);
		assert_memory_not_equal(ct + ctlen - SECRET_TAGLEN,
		    ct2 + ctlen2 - SECRET_TAGLEN, SECRET_TAGLEN);
		free(ct);
		free(ct2);
	}

	/* The largest plaintext goes through; one byte more is refused. */
	big = malloc(SECRET_MAXLEN + 2);
	assert_non_null(big);
	memset(big, 'z', SECRET_MAXLEN + 1);
	big[SECRET_MAXLEN + 1] = '\0';
	assert_int_equal(secret_encrypt(key, T1, "rest", NULL, big, SECRET_MAXLEN,
	    &ct, &ctlen, nonce, err), RS_OK);
	assert_int_equal(secret_decrypt(key, T1, "rest", NULL, ct, ctlen, nonce,
	    SECRET_NONCELEN, &pt, err), RS_OK);
	assert_int_equal(strlen(pt), SECRET_MAXLEN);
	secret_free_str(pt);
	free(ct);
	ct = sentinel;
	assert_int_equal(secret_encrypt(key, T1, "rest", NULL, big,
	    SECRET_MAXLEN + 1, &ct, &ctlen, nonce, err), RS_EINPUT);
	assert_null(ct);
	assert_int_equal(ctlen, 0);
	assert_non_null(strstr(err, "longer than 8192"));
	free(big);
}

/* How a stored secret is damaged before decrypting it. */
enum damage {
	D_NONE,
	D_WRONG_KEY,
	D_TENANT,	/* copied to another tenant */
	D_PROVIDER,	/* filed under another provider */
	D_CT_BIT,	/* one bit of the ciphertext flipped */
	D_TAG_BIT,	/* one bit of the tag flipped */
	D_NONCE_BIT,	/* one bit of the nonce flipped */
	D_NONCE_SHORT,	/* 11-byte nonce */
	D_NONCE_LONG,	/* 13-byte nonce */
	D_TRUNC_TAG,	/* last byte of the tag cut */
	D_ONLY_TAG,	/* ciphertext removed, tag kept */
	D_TOO_SHORT,	/* shorter than a tag */
	D_EXTENDED,	/* one byte appended */
	D_SWAPPED,	/* another secret's ciphertext, this nonce */
	D__MAX
};

static const struct damage_row {
	const char	*name;
	enum damage	 d;
	enum rs_status	 want;
	const char	*errsub;
} damage_rows[] = {
	{ "intact", D_NONE, RS_OK, NULL },
	{ "wrong key", D_WRONG_KEY, RS_EINPUT, "does not decrypt" },
	{ "other tenant", D_TENANT, RS_EINPUT, "does not decrypt" },
	{ "other provider", D_PROVIDER, RS_EINPUT, "does not decrypt" },
	{ "ciphertext bit", D_CT_BIT, RS_EINPUT, "does not decrypt" },
	{ "tag bit", D_TAG_BIT, RS_EINPUT, "does not decrypt" },
	{ "nonce bit", D_NONCE_BIT, RS_EINPUT, "does not decrypt" },
	{ "nonce 11 bytes", D_NONCE_SHORT, RS_EINPUT, "malformed" },
	{ "nonce 13 bytes", D_NONCE_LONG, RS_EINPUT, "malformed" },
	{ "tag truncated", D_TRUNC_TAG, RS_EINPUT, "does not decrypt" },
	{ "only the tag", D_ONLY_TAG, RS_EINPUT, "does not decrypt" },
	{ "shorter than a tag", D_TOO_SHORT, RS_EINPUT, "malformed" },
	{ "byte appended", D_EXTENDED, RS_EINPUT, "does not decrypt" },
	{ "other secret", D_SWAPPED, RS_EINPUT, "does not decrypt" },
};

static void
test_tamper(void **state)
{
	static const char	 pt0[] = "sk_live_tamper_9f8e7d6c5b4a";
	const struct damage_row	*r;
	unsigned char		 key[SECRET_KEYLEN], key2[SECRET_KEYLEN];
	unsigned char		 nonce[SECRET_NONCELEN + 1], n2[SECRET_NONCELEN];
	unsigned char		*ct, *ct2, buf[256];
	const unsigned char	*k;
	const char		*tenant, *prov;
	size_t			 ctlen, ctlen2, len, nlen, i;
	char			*pt;
	char			 err[RS_ERRLEN];

	(void)state;
	key_seq(key, 0);
	key_seq(key2, 1);
	assert_int_equal(secret_encrypt(key, T1, "acme", NULL, pt0, strlen(pt0),
	    &ct, &ctlen, nonce, NULL), RS_OK);
	assert_int_equal(secret_encrypt(key, T1, "acme", NULL, "another-secret-1",
	    16, &ct2, &ctlen2, n2, NULL), RS_OK);
	assert_true(ctlen + 1 <= sizeof(buf));
	for (i = 0; i < NROWS(damage_rows); i++) {
		r = &damage_rows[i];
		memcpy(buf, ct, ctlen);
		len = ctlen;
		nonce[SECRET_NONCELEN] = 0;
		nlen = SECRET_NONCELEN;
		k = key;
		tenant = T1;
		prov = "acme";
		switch (r->d) {
		case D_WRONG_KEY:	k = key2; break;
		case D_TENANT:		tenant = T2; break;
		case D_PROVIDER:	prov = "acme2"; break;
		case D_CT_BIT:		buf[3] ^= 0x01; break;
		case D_TAG_BIT:		buf[ctlen - 1] ^= 0x80; break;
		case D_NONCE_BIT:	nonce[0] ^= 0x01; break;
		case D_NONCE_SHORT:	nlen = SECRET_NONCELEN - 1; break;
		case D_NONCE_LONG:	nlen = SECRET_NONCELEN + 1; break;
		case D_TRUNC_TAG:	len = ctlen - 1; break;
		case D_ONLY_TAG:
			memmove(buf, buf + ctlen - SECRET_TAGLEN,
			    SECRET_TAGLEN);
			len = SECRET_TAGLEN;
			break;
		case D_TOO_SHORT:	len = SECRET_TAGLEN - 1; break;
		case D_EXTENDED:	buf[ctlen] = 0; len = ctlen + 1; break;
		case D_SWAPPED:
			memcpy(buf, ct2, ctlen2);
			len = ctlen2;
			break;
		default:
			break;
		}
		err[0] = '\0';
		pt = (char *)sentinel;
		if (secret_decrypt(k, tenant, prov, NULL, buf, len, nonce, nlen,
		    &pt, err) != r->want)
			fail_msg("%s: got %s (%s)", r->name,
			    pt ? "a plaintext" : "an error", err);
		if (r->d == D_NONCE_BIT)
			nonce[0] ^= 0x01;
		if (r->want == RS_OK) {
			assert_string_equal(pt, pt0);
			secret_free_str(pt);
			continue;
		}
		if (pt != NULL)
			fail_msg("%s: *pt not cleared on failure", r->name);
		if (strstr(err, r->errsub) == NULL)
			fail_msg("%s: err '%s' lacks '%s'", r->name, err,
			    r->errsub);
		/* The message names the provider, never the secret. */
		if (strstr(err, prov) == NULL || strstr(err, pt0) != NULL ||
		    strstr(err, "sk_live") != NULL)
			fail_msg("%s: err '%s'", r->name, err);
	}
	free(ct);
	free(ct2);
}

/* The AAD is exactly "tenant:provider": no way to shift the colon. */
static void
test_aad_binding(void **state)
{
	unsigned char	 key[SECRET_KEYLEN], nonce[SECRET_NONCELEN];
	unsigned char	*ct;
	size_t		 ctlen;
	char		*pt;
	char		 longname[1100];

	(void)state;
	key_seq(key, 7);
	assert_int_equal(secret_encrypt(key, "t", "a:b", NULL, "v1234", 5, &ct,
	    &ctlen, nonce, NULL), RS_OK);
	/* "t" + "a:b" and "t:a" + "b" give the same AAD string: the tenant
	 * is a UUID in practice (no colon), so only the first can exist. */
	assert_int_equal(secret_decrypt(key, "t", "a:b", NULL, ct, ctlen, nonce,
	    SECRET_NONCELEN, &pt, NULL), RS_OK);
	secret_free_str(pt);
	assert_int_equal(secret_decrypt(key, "t", "a", NULL, ct, ctlen, nonce,
	    SECRET_NONCELEN, &pt, NULL), RS_EINPUT);
	assert_int_equal(secret_decrypt(key, "t", "a:b ", NULL, ct, ctlen, nonce,
	    SECRET_NONCELEN, &pt, NULL), RS_EINPUT);
	assert_int_equal(secret_decrypt(key, "T", "a:b", NULL, ct, ctlen, nonce,
	    SECRET_NONCELEN, &pt, NULL), RS_EINPUT);
	free(ct);

	/* Names too long for the AAD buffer are refused, not truncated. */
	memset(longname, 'p', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ct = sentinel;
	assert_int_equal(secret_encrypt(key, T1, longname, NULL, "v", 1, &ct, &ctlen,
	    nonce, NULL), RS_EINPUT);
	assert_null(ct);
}

/*
 * Version 2 associated data binds the origin: a key entered for one
 * origin opens only for exactly that tenant, provider and origin, and
 * never as a version 1 row (nor the other way round).
 */
static void
test_origin_binding(void **state)
{
	static const struct {
		const char	*tenant, *provider, *origin;
		enum rs_status	 want;
	} rows[] = {
		{ T1, "acme", "https://api.acme.test", RS_OK },
		{ T1, "acme", "https://api.acme.test:8443", RS_EINPUT },
		{ T1, "acme", "http://api.acme.test", RS_EINPUT },
		{ T1, "acme", "https://evil.test", RS_EINPUT },
		{ T1, "acme", "https://api.acme.test/", RS_EINPUT },
		{ T1, "acme", "", RS_EINPUT },
		{ T1, "acme", NULL, RS_EINPUT },		/* as version 1 */
		{ T1, "acmehttps://api.acme.test", "", RS_EINPUT },
		{ T1, "other", "https://api.acme.test", RS_EINPUT },
		{ "00000000-0000-4000-8000-000000000002", "acme",
		    "https://api.acme.test", RS_EINPUT },
	};
	unsigned char	 key[SECRET_KEYLEN], nonce[SECRET_NONCELEN];
	unsigned char	*ct;
	size_t		 ctlen, i;
	char		*pt;
	char		 err[RS_ERRLEN];

	(void)state;
	key_seq(key, 11);
	assert_int_equal(secret_encrypt(key, T1, "acme",
	    "https://api.acme.test", "k-0123456789", 12, &ct, &ctlen, nonce,
	    NULL), RS_OK);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		err[0] = '\0';
		assert_int_equal(secret_decrypt(key, rows[i].tenant,
		    rows[i].provider, rows[i].origin, ct, ctlen, nonce,
		    SECRET_NONCELEN, &pt, err), rows[i].want);
		if (rows[i].want == RS_OK) {
			assert_string_equal(pt, "k-0123456789");
			secret_free_str(pt);
		} else {
			assert_null(pt);
			assert_null(strstr(err, "k-0123456789"));
		}
	}
	free(ct);
	/* A version 1 ciphertext does not open as version 2. */
	assert_int_equal(secret_encrypt(key, T1, "acme", NULL, "k-0123456789",
	    12, &ct, &ctlen, nonce, NULL), RS_OK);
	assert_int_equal(secret_decrypt(key, T1, "acme", "https://api.acme.test",
	    ct, ctlen, nonce, SECRET_NONCELEN, &pt, NULL), RS_EINPUT);
	assert_int_equal(secret_decrypt(key, T1, "acme", NULL, ct, ctlen,
	    nonce, SECRET_NONCELEN, &pt, NULL), RS_OK);
	secret_free_str(pt);
	free(ct);
}

/*
 * The key file's permissions are checked when it is loaded (issue 14):
 * nobody but its owner (and a group that may read) may touch it.
 */
static void
test_key_file_modes(void **state)
{
	static const struct {
		mode_t	 mode;
		int	 ok;
	} rows[] = {
		{ 0600, 1 }, { 0400, 1 }, { 0640, 1 }, { 0440, 1 }, { 0700, 1 },
		{ 0644, 0 }, { 0604, 0 }, { 0660, 0 }, { 0620, 0 }, { 0666, 0 },
		{ 0601, 0 }, { 0602, 0 }, { 0610, 1 }, { 0777, 0 },
	};
	unsigned char	 key[SECRET_KEYLEN];
	char		 path[] = "/tmp/rs_test_secret_XXXXXX";
	char		 dir[] = "/tmp/rs_test_secretd_XXXXXX";
	char		 err[RS_ERRLEN], want[64];
	FILE		*f;
	size_t		 i;
	int		 fd;

	(void)state;
	unsetenv("RESTSYNC_SECRET_KEY");
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fprintf(f, "%s\n", KEY_HEX);
	fclose(f);
	setenv("RESTSYNC_SECRET_KEY_FILE", path, 1);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(chmod(path, rows[i].mode), 0);
		err[0] = '\0';
		if (rows[i].ok) {
			assert_int_equal(secret_load_key(key, err), RS_OK);
			continue;
		}
		assert_int_equal(secret_load_key(key, err), RS_EINPUT);
		(void)snprintf(want, sizeof(want), "(mode %04o)",
		    (unsigned)rows[i].mode);
		assert_non_null(strstr(err, want));
		assert_non_null(strstr(err, "chmod 0600"));
	}
	unlink(path);
	/* Not a regular file. */
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0700), 0);
	setenv("RESTSYNC_SECRET_KEY_FILE", dir, 1);
	assert_int_equal(secret_load_key(key, err), RS_EINPUT);
	assert_non_null(strstr(err, "not a regular file"));
	rmdir(dir);
	unsetenv("RESTSYNC_SECRET_KEY_FILE");
}

/* Plaintext secrets are wiped before they are freed (issue 14). */
static void
test_wipe_json(void **state)
{
	struct json_object	*o, *v;
	const char		*s;
	size_t			 n;

	(void)state;
	o = json_tokener_parse("{\"api_key\":\"sk-0123456789\","
	    "\"nested\":{\"token\":\"tok-abcdef\",\"n\":1},"
	    "\"arr\":[\"pw-999999\",[\"deep-secret\"]]}");
	assert_non_null(o);
	secret_wipe_json(o);
	json_object_object_get_ex(o, "api_key", &v);
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	assert_int_equal(n, 13);
	while (n-- > 0)
		assert_int_equal(s[n], '\0');
	assert_null(strstr(json_object_to_json_string(o), "tok-abcdef"));
	assert_null(strstr(json_object_to_json_string(o), "pw-999999"));
	assert_null(strstr(json_object_to_json_string(o), "deep-secret"));
	json_object_put(o);
	secret_wipe_json(NULL);
}

/* A plaintext with a NUL inside is refused (it would be cut silently). */
static void
test_embedded_nul(void **state)
{
	unsigned char	 key[SECRET_KEYLEN], nonce[SECRET_NONCELEN];
	unsigned char	*ct;
	size_t		 ctlen;
	char		*pt;
	char		 err[RS_ERRLEN];

	(void)state;
	key_seq(key, 3);
	assert_int_equal(secret_encrypt(key, T1, "rest", NULL, "ab\0cd", 5, &ct,
	    &ctlen, nonce, NULL), RS_OK);
	assert_int_equal(secret_decrypt(key, T1, "rest", NULL, ct, ctlen, nonce,
	    SECRET_NONCELEN, &pt, err), RS_EINPUT);
	assert_null(pt);
	assert_non_null(strstr(err, "contains NUL"));
	free(ct);
}

/* Key loading from RESTSYNC_SECRET_KEY. */
static const struct key_row {
	const char	*name;
	const char	*env;
	int		 ok;
} key_rows[] = {
	{ "hex", KEY_HEX, 1 },
	{ "hex upper case", KEY_HEX_UPPER, 1 },
	{ "hex + newline", KEY_HEX "\n", 1 },
	{ "hex + CRLF and blanks", KEY_HEX " \r\n\t", 1 },
	{ "base64", KEY_B64, 1 },
	{ "base64 + newline", KEY_B64 "\n", 1 },
	{ "63 hex digits", &KEY_HEX[1], 0 },
	{ "65 hex digits", KEY_HEX "0", 0 },
	{ "hex with a g", "g00102030405060708090a0b0c0d0e0f"
	  "101112131415161718191a1b1c1d1e1f", 0 },
	{ "hex with 0x", "0x0102030405060708090a0b0c0d0e0f"
	  "101112131415161718191a1b1c1d1e1f", 0 },
	{ "leading blank", " " KEY_HEX, 0 },
	{ "base64 of 31 bytes", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",
	  0 },
	{ "base64 of 33 bytes", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g",
	  0 },
	{ "base64 unpadded", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", 0 },
	{ "base64 bad char", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH*8=",
	  0 },
	{ "passphrase", "correct horse battery staple", 0 },
	{ "one byte", "x", 0 },
};

static void
test_key_env(void **state)
{
	const struct key_row	*r;
	unsigned char		 key[SECRET_KEYLEN], want[SECRET_KEYLEN];
	char			 err[RS_ERRLEN];
	size_t			 i;
	enum rs_status		 st;

	(void)state;
	key_seq(want, 0);
	unsetenv("RESTSYNC_SECRET_KEY_FILE");
	for (i = 0; i < NROWS(key_rows); i++) {
		r = &key_rows[i];
		setenv("RESTSYNC_SECRET_KEY", r->env, 1);
		memset(key, 0xee, sizeof(key));
		err[0] = '\0';
		st = secret_load_key(key, err);
		if (r->ok) {
			if (st != RS_OK)
				fail_msg("%s: %s", r->name, err);
			assert_memory_equal(key, want, SECRET_KEYLEN);
			continue;
		}
		if (st != RS_EINPUT)
			fail_msg("%s: accepted", r->name);
		if (strstr(err, "RESTSYNC_SECRET_KEY must be 32 bytes") == NULL)
			fail_msg("%s: err '%s'", r->name, err);
		/* The message never echoes the key material. */
		if (strlen(r->env) >= 8 && strstr(err, r->env) != NULL)
			fail_msg("%s: key echoed", r->name);
	}
	unsetenv("RESTSYNC_SECRET_KEY");
}

/* Key loading from RESTSYNC_SECRET_KEY_FILE, and precedence. */
static void
test_key_file(void **state)
{
	unsigned char	 key[SECRET_KEYLEN], want[SECRET_KEYLEN];
	char		 path[] = "/tmp/rs_test_secret_XXXXXX";
	char		 err[RS_ERRLEN];
	FILE		*f;
	int		 fd;

	(void)state;
	key_seq(want, 0);
	unsetenv("RESTSYNC_SECRET_KEY");
	unsetenv("RESTSYNC_SECRET_KEY_FILE");

	/* Neither set. */
	assert_int_equal(secret_load_key(key, err), RS_EINPUT);
	assert_non_null(strstr(err, "no secret key"));
	setenv("RESTSYNC_SECRET_KEY", "", 1);
	assert_int_equal(secret_load_key(key, err), RS_EINPUT);
	assert_non_null(strstr(err, "no secret key"));

	/* A file like the one scripts/stack.sh writes (openssl rand -hex). */
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fprintf(f, "%s\n", KEY_HEX);
	fclose(f);
	setenv("RESTSYNC_SECRET_KEY_FILE", path, 1);
	memset(key, 0, sizeof(key));
	assert_int_equal(secret_load_key(key, err), RS_OK);
	assert_memory_equal(key, want, SECRET_KEYLEN);

	/* The environment wins over the file. */
	setenv("RESTSYNC_SECRET_KEY", KEY_B64, 1);
	assert_int_equal(secret_load_key(key, err), RS_OK);
	assert_memory_equal(key, want, SECRET_KEYLEN);
	setenv("RESTSYNC_SECRET_KEY", "nonsense", 1);
	assert_int_equal(secret_load_key(key, err), RS_EINPUT);
	unsetenv("RESTSYNC_SECRET_KEY");

	/* Base64 in the file. */
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "%s\n", KEY_B64);
	fclose(f);
	assert_int_equal(secret_load_key(key, err), RS_OK);
	assert_memory_equal(key, want, SECRET_KEYLEN);

	/* A damaged file. */
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "%.40s\n", KEY_HEX);
	fclose(f);
	err[0] = '\0';
	assert_int_equal(secret_load_key(key, err), RS_EINPUT);
	assert_non_null(strstr(err, "must hold 32 bytes"));
	assert_null(strstr(err, "0001020304"));

	/* An empty file. */
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(secret_load_key(key, err), RS_EINPUT);

	/* A missing file. */
	unlink(path);
	err[0] = '\0';
	assert_int_equal(secret_load_key(key, err), RS_EINPUT);
	assert_non_null(strstr(err, "cannot read the secret key file"));
	unsetenv("RESTSYNC_SECRET_KEY_FILE");
}

/* The plaintext forms: a bare key, or a JSON object of strings. */
static const struct parse_row {
	const char	*pt;
	enum rs_status	 want;
	const char	*api_key, *token, *username, *password;
} parse_rows[] = {
	{ "sk_bare", RS_OK, "sk_bare", NULL, NULL, NULL },
	{ "  sk_bare", RS_OK, "sk_bare", NULL, NULL, NULL },
	{ "{\"api_key\":\"a\"}", RS_OK, "a", NULL, NULL, NULL },
	{ "{\"token\":\"t\",\"api_key\":null}", RS_OK, NULL, "t", NULL, NULL },
	{ "{\"username\":\"u\",\"password\":\"p\"}", RS_OK, NULL, NULL, "u",
	  "p" },
	{ "{\"api_key\":\"a\",\"other\":1}", RS_OK, "a", NULL, NULL, NULL },
	{ "{\"api_key\":1}", RS_EINPUT, NULL, NULL, NULL, NULL },
	{ "{\"api_key\":\"a\",\"password\":[]}", RS_EINPUT, NULL, NULL, NULL,
	  NULL },
	{ "{\"api_key\":", RS_EINPUT, NULL, NULL, NULL, NULL },
	{ "{}", RS_OK, NULL, NULL, NULL, NULL },
};

static void
check_str(size_t row, const char *field, const char *got, const char *want)
{
	if ((got == NULL) != (want == NULL) ||
	    (got != NULL && strcmp(got, want) != 0))
		fail_msg("row %zu %s: got '%s', want '%s'", row, field,
		    got ? got : "(null)", want ? want : "(null)");
}

static void
test_parse(void **state)
{
	const struct parse_row	*r;
	struct secret_values	 sv;
	char			 err[RS_ERRLEN];
	size_t			 i;

	(void)state;
	for (i = 0; i < NROWS(parse_rows); i++) {
		r = &parse_rows[i];
		if (secret_parse(r->pt, &sv, err) != r->want)
			fail_msg("row %zu '%s': %s", i, r->pt, err);
		check_str(i, "api_key", sv.api_key, r->api_key);
		check_str(i, "token", sv.token, r->token);
		check_str(i, "username", sv.username, r->username);
		check_str(i, "password", sv.password, r->password);
		secret_values_free(&sv);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_aad_binding),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_origin_binding),
		cmocka_unit_test(test_key_env),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_key_file_modes),
		cmocka_unit_test(test_wipe_json),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
