/*
 * migrate.h — schema migrations: sql/NNN_name.sql applied in order, each
 * once, each in one transaction together with its schema_migrations row.
 * Prefix: mig_.  The same table and rules as scripts/migrate.sh; used by
 * `restsync migrate` (systemd's ExecStartPre on every machine).
 *
 * Several machines may start at once: the whole run holds a session
 * advisory lock (key hashtextextended('restsync:migrate', 0)), so one
 * applies and the others then find nothing left to do.
 */
#ifndef MIGRATE_H
#define MIGRATE_H

#include <stddef.h>
#include <stdio.h>

#include "rs.h"

#define MIG_MAX_FILES	1000
#define MIG_MAX_BYTES	(16u * 1024 * 1024)	/* one migration file */

/*
 * The folder of migrations: RESTSYNC_SQL_DIR, else the nearest folder
 * named "sql" holding a 001_*.sql file above the running executable
 * (build/release/cli/restsync -> <checkout>/sql; /opt/restsync/bin/
 * restsync -> /opt/restsync/sql).  RS_ENOTFOUND when there is none.
 */
enum rs_status	 mig_sql_dir(char *out, size_t outsz, char *err);

/*
 * The migration names (file names without ".sql") in dir, sorted; at most
 * MIG_MAX_FILES.  Caller frees each and the array.  RS_EINPUT for a file
 * that looks like a migration (NNN_*.sql) but is not named
 * NNN_[a-z0-9_]+.sql.
 */
enum rs_status	 mig_list(const char *dir, char ***names, size_t *n,
		    char *err);

/*
 * Apply what is missing, against DATABASE_URL.  Progress lines
 * ("migrate: applying 004_x") go to log (NULL: quiet); *applied counts
 * them.  On failure the failing file's transaction is rolled back and
 * earlier files stay applied.  RS_EDB, RS_EINPUT (bad file), RS_ENOMEM.
 */
enum rs_status	 mig_apply(const char *dir, FILE *log, int *applied,
		    char *err);

#endif
