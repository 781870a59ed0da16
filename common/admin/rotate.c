/*
 * rotate.c — re-encrypt integration_secrets under a new key, swap the key
 * file keeping its owner and mode.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "db.h"
#include "rotate.h"
#include "secret.h"

enum rot_stmt {
	ROT_LOCK,
	ROT_SELECT,
	ROT_UPDATE,
	ROT__MAX
};

static const char *const rot_stmts[ROT__MAX] = {
	/* Writers (the page storing a key) wait until the rotation ends. */
	"LOCK TABLE integration_secrets IN SHARE ROW EXCLUSIVE MODE",
	"SELECT tenant_id::text, provider, origin, ciphertext, nonce, "
	"       aad_version "
	"FROM integration_secrets ORDER BY tenant_id, provider, origin",
	"UPDATE integration_secrets SET ciphertext = $4::bytea, "
	"    nonce = $5::bytea, aad_version = 2, updated_at = now() "
	"WHERE tenant_id = $1::uuid AND provider = $2::text "
	"  AND origin = $3::text",
};

#define ROT_PATH_MAX	560	/* the new key file's path */

static const struct db_table rot_table = {
	"rotate", rot_stmts, ROT__MAX, 0
};

/* The new key: RESTSYNC_NEW_SECRET_KEY, else random; its hex in hex. */
static enum rs_status
rot_new_key(const unsigned char old[SECRET_KEYLEN],
    unsigned char key[SECRET_KEYLEN], char hex[2 * SECRET_KEYLEN + 1],
    char *err)
{
	const char	*env = getenv("RESTSYNC_NEW_SECRET_KEY");
	size_t		 i;

	if (env != NULL && *env != '\0') {
		if (secret_decode_key(env, key) == -1) {
			rs_errf(err, "RESTSYNC_NEW_SECRET_KEY must be 32 bytes "
			    "as 64 hex digits or base64");
			return RS_EINPUT;
		}
	} else if (RAND_bytes(key, SECRET_KEYLEN) != 1) {
		rs_errf(err, "no random bytes for a new key");
		return RS_EINTERNAL;
	}
	if (CRYPTO_memcmp(key, old, SECRET_KEYLEN) == 0) {
		rs_errf(err, "the new key is the current key");
		return RS_EINPUT;
	}
	for (i = 0; i < SECRET_KEYLEN; i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", key[i]);
	return RS_OK;
}

/*
 * Write the new key (hex, newline) to path, created exclusively with the
 * owner and mode of like (NULL: the caller's, 0600).  RS_EINPUT.
 */
static enum rs_status
rot_write_key(const char *path, const struct stat *like, const char *hex,
    char *err)
{
	mode_t	 mode = like != NULL ? (like->st_mode & 0640) | 0600 : 0600;
	size_t	 len = strlen(hex);
	int	 fd;

	(void)unlink(path);	/* a leftover of an earlier failed run */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		rs_errf(err, "cannot create %.300s: %s", path, strerror(errno));
		return RS_EINPUT;
	}
	if ((like != NULL && geteuid() == 0 &&
	    fchown(fd, like->st_uid, like->st_gid) == -1) ||
	    fchmod(fd, mode) == -1 ||
	    write(fd, hex, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) == -1) {
		rs_errf(err, "cannot write %.300s: %s", path, strerror(errno));
		close(fd);
		(void)unlink(path);
		return RS_EINPUT;
	}
	close(fd);
	return RS_OK;
}

/* Re-encrypt row i of r with nkey and update it; RS_EINPUT if it does
 * not decrypt with okey (listed on bad). */
static enum rs_status
rot_row(struct db *c, PGresult *r, int i, const unsigned char *okey,
    const unsigned char *nkey, FILE *bad, char *err)
{
	unsigned char	*ct = NULL, *nonce = NULL, *nct = NULL;
	unsigned char	 nn[SECRET_NONCELEN];
	size_t		 ctlen = 0, nlen = 0, nctlen = 0;
	const char	*tenant = PQgetvalue(r, i, 0);
	const char	*prov = PQgetvalue(r, i, 1);
	const char	*origin = PQgetvalue(r, i, 2);
	const char	*v[5];
	int		 lens[5] = { 0, 0, 0, 0, SECRET_NONCELEN };
	int		 fmts[5] = { 0, 0, 0, 1, 1 };
	Oid		 types[5] = { 0, 0, 0, DB_OID_BYTEA, DB_OID_BYTEA };
	char		*pt = NULL, derr[RS_ERRLEN];
	PGresult	*u;
	enum rs_status	 st = RS_ENOMEM;

	ct = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 3),
	    &ctlen);
	nonce = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 4),
	    &nlen);
	if (ct == NULL || nonce == NULL) {
		rs_errf(err, "out of memory");
		goto out;
	}
	if (secret_decrypt(okey, tenant, prov, atoi(PQgetvalue(r, i, 5)) ==
	    1 ? NULL : origin, ct, ctlen, nonce, nlen, &pt, derr) != RS_OK) {
		if (bad != NULL)
			fprintf(bad, "  tenant %s, provider %s, origin %s\n",
			    tenant, prov, *origin != '\0' ? origin : "(none)");
		st = RS_EINPUT;
		goto out;
	}
	if ((st = secret_encrypt(nkey, tenant, prov, origin, pt, strlen(pt),
	    &nct, &nctlen, nn, err)) != RS_OK)
		goto out;
	v[0] = tenant;
	v[1] = prov;
	v[2] = origin;
	v[3] = (const char *)nct;
	v[4] = (const char *)nn;
	lens[3] = (int)nctlen;
	if ((u = db_runp(c, &rot_table, ROT_UPDATE, 5, types, v, lens, fmts,
	    DB_RETRY_NEVER, err)) == NULL) {
		st = RS_EDB;
		goto out;
	}
	PQclear(u);
	st = RS_OK;
out:
	secret_free_str(pt);
	free(nct);
	if (ct != NULL)
		PQfreemem(ct);
	if (nonce != NULL)
		PQfreemem(nonce);
	return st;
}

/* Every row, in the open transaction. */
static enum rs_status
rot_rows(struct db *c, const unsigned char *okey, const unsigned char *nkey,
    int skip_bad, FILE *bad, struct rot_result *res, char *err)
{
	PGresult	*r;
	enum rs_status	 st = RS_OK, rs;
	int		 i;

	if ((r = db_runv(c, &rot_table, ROT_SELECT, 0, NULL, DB_RETRY_NEVER,
	    err)) == NULL)
		return RS_EDB;
	for (i = 0; i < PQntuples(r); i++) {
		rs = rot_row(c, r, i, okey, nkey, bad, err);
		if (rs == RS_OK)
			res->rotated++;
		else if (rs == RS_EINPUT)
			res->skipped++;
		else {
			st = rs;
			break;
		}
	}
	PQclear(r);
	if (st == RS_OK && res->skipped > 0 && !skip_bad) {
		rs_errf(err, "%ld secret(s) do not decrypt with the current "
		    "key; nothing was changed (RESTSYNC_ROTATE_SKIP_"
		    "UNDECRYPTABLE=1 leaves them as they are)", res->skipped);
		st = RS_EINPUT;
	}
	return st;
}

/* Keep the old key file as path.old-<stamp> (owner and mode kept). */
static enum rs_status
rot_keep_old(const char *path, struct rot_result *res, char *err)
{
	char		 stamp[32];
	struct tm	 tm;
	time_t		 now = time(NULL);
	int		 n, i;

	gmtime_r(&now, &tm);
	(void)strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	/* Two rotations in one second: <stamp>-1, -2, ... */
	for (i = 0; i < 100; i++) {
		n = i == 0 ? snprintf(res->old_file, sizeof(res->old_file),
		    "%s.old-%s", path, stamp) : snprintf(res->old_file,
		    sizeof(res->old_file), "%s.old-%s-%d", path, stamp, i);
		if (n < 0 || (size_t)n >= sizeof(res->old_file)) {
			errno = ENAMETOOLONG;
			break;
		}
		if (link(path, res->old_file) == 0)
			return RS_OK;
		if (errno != EEXIST)
			break;
	}
	rs_errf(err, "cannot keep the old key as %.300s: %s", res->old_file,
	    strerror(errno));
	return RS_EINPUT;
}

/*
 * Where the new key goes (newpath: beside the key file, or
 * RESTSYNC_NEW_SECRET_KEY_FILE when the key comes from the environment)
 * and the key file that holds it afterwards (res->key_file); *st0 the
 * key file's owner and mode.  RS_EINPUT.
 */
static enum rs_status
rot_paths(const char *file, int envmode, struct stat *st0,
    char newpath[ROT_PATH_MAX], struct rot_result *res, char *err)
{
	const char	*out;
	int		 n;

	if (envmode) {
		out = getenv("RESTSYNC_NEW_SECRET_KEY_FILE");
		n = snprintf(newpath, ROT_PATH_MAX, "%s",
		    out != NULL && *out != '\0' ? out : "secret.key.new");
	} else {
		if (stat(file, st0) == -1) {
			rs_errf(err, "cannot stat the key file: %s",
			    strerror(errno));
			return RS_EINPUT;
		}
		n = snprintf(newpath, ROT_PATH_MAX, "%s.new", file);
	}
	if (n < 0 || (size_t)n >= sizeof(res->key_file)) {
		rs_errf(err, "key file name too long");
		return RS_EINPUT;
	}
	(void)snprintf(res->key_file, sizeof(res->key_file), "%s",
	    envmode ? newpath : file);
	return RS_OK;
}

/* The rows, in one transaction that keeps writers out. */
static enum rs_status
rot_commit(struct db *c, const unsigned char *okey,
    const unsigned char *nkey, int skip_bad, FILE *bad,
    struct rot_result *res, char *err)
{
	enum rs_status	 st;

	if ((st = db_begin(c, err)) != RS_OK)
		return st;
	if ((st = db_exec(c, &rot_table, ROT_LOCK, 0, NULL, DB_RETRY_NEVER,
	    NULL, err)) != RS_OK ||
	    (st = rot_rows(c, okey, nkey, skip_bad, bad, res, err)) != RS_OK ||
	    (st = db_commit(c, err)) != RS_OK)
		db_rollback(c);
	return st;
}

/* The swap: the old file kept, the new one in its place. */
static enum rs_status
rot_swap(const char *file, const char *newpath, struct rot_result *res,
    char *err)
{
	enum rs_status	 st;

	if ((st = rot_keep_old(file, res, err)) != RS_OK)
		return st;
	if (rename(newpath, file) == -1) {
		rs_errf(err, "the secrets use the new key, in %.300s; rename "
		    "it over %.200s: %s", newpath, file, strerror(errno));
		return RS_EINPUT;
	}
	return RS_OK;
}

enum rs_status
rot_rotate(struct store *sto, int skip_bad, FILE *bad, struct rot_result *res,
    char *err)
{
	const char	*envkey = getenv("RESTSYNC_SECRET_KEY");
	const char	*file = getenv("RESTSYNC_SECRET_KEY_FILE");
	unsigned char	 okey[SECRET_KEYLEN], nkey[SECRET_KEYLEN];
	char		 hex[2 * SECRET_KEYLEN + 1], newpath[ROT_PATH_MAX];
	struct stat	 st0;
	enum rs_status	 st;
	int		 envmode = envkey != NULL && *envkey != '\0';
	int		 committed = 0;

	memset(res, 0, sizeof(*res));
	newpath[0] = '\0';
	if ((st = secret_load_key(okey, err)) != RS_OK ||
	    (st = rot_new_key(okey, nkey, hex, err)) != RS_OK ||
	    (st = rot_paths(file, envmode, &st0, newpath, res, err)) != RS_OK)
		goto out;
	/* 1. The new key on disk first: a commit without it would lose
	 * every secret. */
	if ((st = rot_write_key(newpath, envmode ? NULL : &st0, hex, err)) !=
	    RS_OK)
		goto out;
	/* 2. The rows. */
	if ((st = rot_commit(store_db(sto), okey, nkey, skip_bad, bad, res,
	    err)) != RS_OK)
		goto out;
	committed = 1;
	/* 3. The swap. */
	if (!envmode && (st = rot_swap(file, newpath, res, err)) != RS_OK)
		goto out;
	newpath[0] = '\0';	/* in place: keep it */
out:
	/* Failed before the commit: the new key is of no use. */
	if (st != RS_OK && newpath[0] != '\0' && !committed)
		(void)unlink(newpath);
	OPENSSL_cleanse(okey, sizeof(okey));
	OPENSSL_cleanse(nkey, sizeof(nkey));
	OPENSSL_cleanse(hex, sizeof(hex));
	return st;
}
