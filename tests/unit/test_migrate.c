/*
 * test_migrate.c — which files are migrations, in which order, and where
 * the migrations folder is found.
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

#include "migrate.h"
#include "settings.h"

/* Files to create, and what mig_list says: the names in order, or an
 * error whose message contains want_err. */
static const struct list_row {
	const char	*name;
	const char	*files[6];
	enum rs_status	 want_st;
	const char	*want;		/* names joined by ',' */
	const char	*want_err;
} list_rows[] = {
	{ "sorted, non-migrations ignored",
	  { "010_ten.sql", "002_b.sql", "001_a.sql", "README", "x.sql",
	    "001_a.sql.orig" }, RS_OK, "001_a,002_b,010_ten", NULL },
	{ "digits and underscores", { "003_add_index_2.sql" }, RS_OK,
	  "003_add_index_2", NULL },
	{ "empty folder", { NULL }, RS_OK, "", NULL },
	{ "upper case", { "001_a.sql", "002_Bad.sql" }, RS_EINPUT, NULL,
	  "bad migration file name" },
	{ "dash", { "002_add-index.sql" }, RS_EINPUT, NULL, "002_add-index" },
	{ "nothing after NNN_", { "004_.sql" }, RS_EINPUT, NULL, "004_.sql" },
	{ "space", { "005_a b.sql" }, RS_EINPUT, NULL, "NNN_[a-z0-9_]+" },
};

static void
make_dir(char *dir, size_t sz, const char *const *files)
{
	char	 path[512];
	FILE	*f;
	size_t	 i;

	(void)snprintf(dir, sz, "/tmp/rs-test-migrate-XXXXXX");
	assert_non_null(mkdtemp(dir));
	for (i = 0; i < 6 && files[i] != NULL; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		assert_non_null(f = fopen(path, "w"));
		fputs("SELECT 1;\n", f);
		fclose(f);
	}
}

static void
remove_dir(const char *dir, const char *const *files)
{
	char	 path[512];
	size_t	 i;

	for (i = 0; i < 6 && files[i] != NULL; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		(void)unlink(path);
	}
	(void)rmdir(dir);
}

static void
test_list(void **state)
{
	const struct list_row	*r;
	char			 dir[64], err[RS_ERRLEN], got[256];
	char			**names;
	size_t			 i, j, n;
	enum rs_status		 st;

	(void)state;
	for (i = 0; i < sizeof(list_rows) / sizeof(list_rows[0]); i++) {
		r = &list_rows[i];
		make_dir(dir, sizeof(dir), r->files);
		err[0] = '\0';
		st = mig_list(dir, &names, &n, err);
		if (st != r->want_st)
			fail_msg("%s: status %d, want %d (%s)", r->name, st,
			    r->want_st, err);
		if (st == RS_OK) {
			got[0] = '\0';
			for (j = 0; j < n; j++) {
				if (j > 0)
					strcat(got, ",");
				strcat(got, names[j]);
				free(names[j]);
			}
			free(names);
			if (strcmp(got, r->want) != 0)
				fail_msg("%s: got %s, want %s", r->name, got,
				    r->want);
		} else {
			assert_null(names);
			assert_int_equal(n, 0);
			if (strstr(err, r->want_err) == NULL)
				fail_msg("%s: error '%s' lacks '%s'", r->name,
				    err, r->want_err);
		}
		remove_dir(dir, r->files);
	}
}

static void
test_missing_dir(void **state)
{
	char	 err[RS_ERRLEN];
	char	**names;
	size_t	 n;
	int	 applied = 7;

	(void)state;
	assert_int_equal(mig_list("/nonexistent/sql", &names, &n, err),
	    RS_ENOTFOUND);
	assert_non_null(strstr(err, "cannot read the migrations folder"));
	/* mig_apply checks the folder before it looks for a database. */
	unsetenv("DATABASE_URL");
	settings_reload();
	assert_int_equal(mig_apply("/nonexistent/sql", NULL, &applied, err),
	    RS_ENOTFOUND);
	assert_int_equal(applied, 0);
}

static void
test_sql_dir(void **state)
{
	char	 dir[4096], want[4096], err[RS_ERRLEN], *p;
	ssize_t	 n;
	int	 i;

	(void)state;
	setenv("RESTSYNC_SQL_DIR", "/srv/migrations", 1);
	settings_reload();
	assert_int_equal(mig_sql_dir(dir, sizeof(dir), err), RS_OK);
	assert_string_equal(dir, "/srv/migrations");
	assert_int_equal(mig_sql_dir(dir, 8, err), RS_EINPUT);
	/* Unset (or empty): the nearest sql/ above this test binary,
	 * <checkout>/build/<variant>/tests/test_migrate: <checkout>/sql. */
	setenv("RESTSYNC_SQL_DIR", "", 1);
	settings_reload();
	n = readlink("/proc/self/exe", want, sizeof(want) - 5);
	assert_true(n > 0);
	want[n] = '\0';
	for (i = 0; i < 4; i++) {
		assert_non_null(p = strrchr(want, '/'));
		*p = '\0';
	}
	strcat(want, "/sql");
	assert_int_equal(mig_sql_dir(dir, sizeof(dir), err), RS_OK);
	assert_string_equal(dir, want);
	unsetenv("RESTSYNC_SQL_DIR");
	settings_reload();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_missing_dir),
		cmocka_unit_test(test_sql_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
