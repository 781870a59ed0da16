/*
 * migrate.c — apply sql/NNN_name.sql in order, each once (see migrate.h).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "db.h"
#include "migrate.h"
#include "settings.h"

enum mig_stmt {
	MIG_LOCK,
	MIG_UNLOCK,
	MIG_TABLE,
	MIG_APPLIED,
	MIG_RECORD,
	MIG__MAX
};

static const char *const mig_stmts[MIG__MAX] = {
	/* MIG_LOCK: one migrator at a time, whatever the machine. */
	"SELECT pg_advisory_lock("
	"    hashtextextended('" DB_LOCK_MIGRATE "', 0))",
	/* MIG_UNLOCK */
	"SELECT pg_advisory_unlock("
	"    hashtextextended('" DB_LOCK_MIGRATE "', 0))",
	/* MIG_TABLE: as scripts/migrate.sh creates it. */
	"CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY "
	"KEY, applied_at timestamptz NOT NULL DEFAULT now())",
	/* MIG_APPLIED */
	"SELECT version FROM schema_migrations",
	/* MIG_RECORD */
	"INSERT INTO schema_migrations (version) VALUES ($1::text)",
};

static const struct db_table mig_table = {
	"mig", mig_stmts, MIG__MAX, 0
};

/* The migrator's session: no NOTICEs ("already exists, skipping"). */
#define MIG_SETUP	"SET client_min_messages = warning; " \
			"SET application_name = 'restsync-migrate'"

/* "NNN_" + anything + ".sql": what the shell glob [0-9][0-9][0-9]_*.sql
 * of scripts/migrate.sh matches. */
static int
mig_looks_like(const char *name)
{
	size_t	 n = strlen(name);

	return n >= 8 && name[0] >= '0' && name[0] <= '9' &&
	    name[1] >= '0' && name[1] <= '9' && name[2] >= '0' &&
	    name[2] <= '9' && name[3] == '_' &&
	    strcmp(name + n - 4, ".sql") == 0;
}

/* NNN_[a-z0-9_]+ (without ".sql"). */
static int
mig_valid_version(const char *v, size_t n)
{
	size_t	 i;

	if (n < 5 || n > 200 || v[3] != '_')
		return 0;
	for (i = 0; i < 3; i++)
		if (v[i] < '0' || v[i] > '9')
			return 0;
	for (i = 4; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') ||
		    (v[i] >= '0' && v[i] <= '9') || v[i] == '_'))
			return 0;
	return 1;
}

static int
mig_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
mig_free_list(char **names, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

enum rs_status
mig_list(const char *dir, char ***names, size_t *n, char *err)
{
	DIR		*d;
	struct dirent	*de;
	char		**v = NULL, **nv;
	size_t		 nv_len = 0, len;
	enum rs_status	 st = RS_ENOMEM;

	*names = NULL;
	*n = 0;
	if ((d = opendir(dir)) == NULL) {
		rs_errf(err, "cannot read the migrations folder %s: %s", dir,
		    strerror(errno));
		return RS_ENOTFOUND;
	}
	while ((de = readdir(d)) != NULL) {
		if (!mig_looks_like(de->d_name))
			continue;
		len = strlen(de->d_name) - 4;
		if (!mig_valid_version(de->d_name, len)) {
			rs_errf(err, "bad migration file name %s/%s (want "
			    "NNN_[a-z0-9_]+.sql)", dir, de->d_name);
			st = RS_EINPUT;
			goto fail;
		}
		if (nv_len == MIG_MAX_FILES) {
			rs_errf(err, "more than %d migrations in %s",
			    MIG_MAX_FILES, dir);
			st = RS_EINPUT;
			goto fail;
		}
		if ((nv = rs_reallocarray(v, nv_len + 1, sizeof(*v))) ==
		    NULL) {
			rs_errf(err, "out of memory");
			goto fail;
		}
		v = nv;
		if ((v[nv_len] = rs_strndup(de->d_name, len)) == NULL) {
			rs_errf(err, "out of memory");
			goto fail;
		}
		nv_len++;
	}
	closedir(d);
	if (nv_len > 0)
		qsort(v, nv_len, sizeof(*v), mig_cmp);
	*names = v;
	*n = nv_len;
	return RS_OK;
fail:
	closedir(d);
	mig_free_list(v, nv_len);
	return st;
}

/* 1 when dir/sql is a folder with at least one migration. */
static int
mig_has_sql(const char *dir, char *out, size_t outsz)
{
	char		**names;
	size_t		 n;
	struct stat	 sb;
	int		 len;

	len = snprintf(out, outsz, "%s%ssql", dir,
	    strcmp(dir, "/") == 0 ? "" : "/");
	if (len < 0 || (size_t)len >= outsz || stat(out, &sb) == -1 ||
	    !S_ISDIR(sb.st_mode) || mig_list(out, &names, &n, NULL) != RS_OK)
		return 0;
	mig_free_list(names, n);
	return n > 0;
}

enum rs_status
mig_sql_dir(char *out, size_t outsz, char *err)
{
	const char	*env = settings_get()->sql_dir;
	char		 exe[PATH_MAX], *slash;
	ssize_t		 n;
	int		 len;

	if (outsz > 0)
		out[0] = '\0';
	if (env != NULL && *env != '\0') {
		len = snprintf(out, outsz, "%s", env);
		if (len < 0 || (size_t)len >= outsz) {
			rs_errf(err, "RESTSYNC_SQL_DIR is too long");
			return RS_EINPUT;
		}
		return RS_OK;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0) {
		rs_errf(err, "cannot find the migrations: set "
		    "RESTSYNC_SQL_DIR");
		return RS_ENOTFOUND;
	}
	exe[n] = '\0';
	while ((slash = strrchr(exe, '/')) != NULL) {
		if (slash == exe) {
			if (mig_has_sql("/", out, outsz))
				return RS_OK;
			break;
		}
		*slash = '\0';
		if (mig_has_sql(exe, out, outsz))
			return RS_OK;
	}
	if (outsz > 0)
		out[0] = '\0';
	rs_errf(err, "no sql folder with migrations above the executable: "
	    "set RESTSYNC_SQL_DIR");
	return RS_ENOTFOUND;
}

/* The whole file, NUL-terminated, at most MIG_MAX_BYTES; NULL on error. */
static char *
mig_read(const char *path, char *err)
{
	FILE		*f;
	struct rs_buf	 b;
	char		 chunk[8192];
	size_t		 n;

	if ((f = fopen(path, "r")) == NULL) {
		rs_errf(err, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	rs_buf_init(&b, MIG_MAX_BYTES);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (rs_buf_append(&b, chunk, n) == -1) {
			rs_errf(err, "%s is larger than %u bytes", path,
			    MIG_MAX_BYTES);
			goto fail;
		}
	if (ferror(f)) {
		rs_errf(err, "cannot read %s", path);
		goto fail;
	}
	fclose(f);
	if (b.p == NULL && rs_buf_puts(&b, "") == -1) {
		rs_buf_free(&b);
		rs_errf(err, "out of memory");
		return NULL;
	}
	return rs_buf_steal(&b);
fail:
	fclose(f);
	rs_buf_free(&b);
	return NULL;
}

enum rs_status
mig_apply(const char *dir, FILE *log, int *applied, char *err)
{
	struct db	*db = NULL;
	PGresult	*done = NULL;
	char		**names = NULL, *sql = NULL, path[PATH_MAX];
	const char	*v[1];
	size_t		 n = 0, i;
	int		 j, have, locked = 0, len;
	enum rs_status	 st;

	*applied = 0;
	if ((st = mig_list(dir, &names, &n, err)) != RS_OK)
		goto out;
	if (n == 0) {
		rs_errf(err, "no migrations in %s", dir);
		st = RS_ENOTFOUND;
		goto out;
	}
	/* Its own session (manual: never silently replaced mid-way). */
	if ((st = db_open(&db, NULL, MIG_SETUP, 1, err)) != RS_OK ||
	    (st = db_connect(db, err)) != RS_OK ||
	    (st = db_exec(db, &mig_table, MIG_LOCK, 0, NULL, DB_RETRY_NEVER,
	    NULL, err)) != RS_OK)
		goto out;
	locked = 1;
	st = RS_EDB;
	if (db_exec(db, &mig_table, MIG_TABLE, 0, NULL, DB_RETRY_NEVER, NULL,
	    err) != RS_OK || (done = db_runv(db, &mig_table, MIG_APPLIED, 0,
	    NULL, DB_RETRY_NEVER, err)) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		for (have = 0, j = 0; j < PQntuples(done) && !have; j++)
			have = strcmp(PQgetvalue(done, j, 0), names[i]) == 0;
		if (have)
			continue;
		len = snprintf(path, sizeof(path), "%s/%s.sql", dir,
		    names[i]);
		if (len < 0 || (size_t)len >= sizeof(path)) {
			rs_errf(err, "path too long: %s", dir);
			st = RS_EINPUT;
			goto out;
		}
		free(sql);
		if ((sql = mig_read(path, err)) == NULL) {
			st = RS_EINPUT;
			goto out;
		}
		if (log != NULL) {
			fprintf(log, "migrate: applying %s\n", names[i]);
			fflush(log);
		}
		v[0] = names[i];
		if (db_begin(db, err) != RS_OK ||
		    db_script(db, sql, names[i], err) != RS_OK ||
		    db_exec(db, &mig_table, MIG_RECORD, 1, v, DB_RETRY_NEVER,
		    NULL, err) != RS_OK || db_commit(db, err) != RS_OK)
			goto out;
		(*applied)++;
	}
	st = RS_OK;
out:
	if (db != NULL) {
		db_rollback(db);
		if (locked)
			(void)db_exec(db, &mig_table, MIG_UNLOCK, 0, NULL,
			    DB_RETRY_NEVER, NULL, NULL);
	}
	PQclear(done);
	db_close(db);
	free(sql);
	mig_free_list(names, n);
	return st;
}
