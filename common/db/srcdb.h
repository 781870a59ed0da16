/*
 * srcdb.h — the SQL of the operator's REST sources: one static const
 * statement table (srcdb.c) run through db.h, results handed back as
 * structs.  Prefix: srcdb_.
 *
 * Nothing here validates a request, renders JSON or knows a config's
 * meaning: common/admin/srcinput.c validates, common/admin/srcview.c
 * renders, common/admin/sources.c ties them together and owns the
 * transactions (db_begin/db_commit around these calls).  Statements run
 * outside a transaction are retried once after a lost connection; inside
 * one, never (db.h).
 */
#ifndef SRCDB_H
#define SRCDB_H

#include <stddef.h>

#include "db.h"
#include "rs.h"

/*
 * One row of the sources' list (srcdb_list).  Strings are owned by the
 * row; NULL where the column is NULL.  Timestamps are ISO 8601 UTC with
 * milliseconds.
 */
struct srcdb_source {
	char		 id[RS_UUID_LEN + 1];
	char		 tenant_id[RS_UUID_LEN + 1];
	char		*tenant_name;
	char		*title;
	int		 enabled;
	char		*config;	/* as saved (config_text), else jsonb */
	char		*next_cursor;
	long long	 page_count;
	long long	 item_count;
	char		*last_status;
	int		 has_http;	/* last_http_status is not NULL */
	long long	 last_http;
	char		*last_synced_at;
	char		*last_error;
	int		 done;
	int		 has_total;	/* total is not NULL */
	long long	 total;
	long long	 docs;
	long long	 chunks;
	int		 has_secret;	/* for the tenant, provider, origin */
	char		*created_at;
	char		*updated_at;
	char		*last_run;	/* the run's JSON text (SQL-built) */
	char		*last_error_url;
	char		*config_changed_at;
	int		 config_as_saved;
	char		*rate_wait_until;
};

/*
 * Rows copied out of a result: n elements of size bytes at v (NULL when
 * none), each freed by free_one.  Which struct an element is, the
 * function that filled it says.
 */
struct srcdb_rows {
	void		*v;
	size_t		 n;
	size_t		 size;
	void		(*free_one)(void *);
};

/* The row SRCDB_UPDATE answers: the config now stored, what was before. */
struct srcdb_updated {
	char		 tenant_id[RS_UUID_LEN + 1];
	char		*config;	/* jsonb text, as stored now */
	char		*old_title;
	char		*old_config;	/* jsonb text, before */
	int		 old_enabled;
};

/* What a reset found before it started the source over. */
struct srcdb_reset {
	int		 had_cursor;	/* 0: never synced, rest unset */
	long long	 page_count;
	long long	 item_count;
	int		 done;
	char		 stopped_run[RS_UUID_LEN + 1];	/* "" when none */
};

struct srcdb_tenant {
	char		 id[RS_UUID_LEN + 1];
	char		*name;
};

/* One audit entry (newest first in srcdb_audit_list). */
struct srcdb_audit {
	long long	 id;
	char		*at;
	char		*actor;
	char		*action;
	char		*outcome;
	char		*detail;	/* JSON text as written */
};

/* Free the rows and empty *rows (an empty one too). */
void		 srcdb_rows_free(struct srcdb_rows *);

/*
 * The REST sources (id NULL) or the one of id, of one tenant (tenant) or
 * of all (NULL), by tenant name and title:
 * struct srcdb_source rows, at most max (*truncated = 1 when there were
 * more).  *out is empty on failure.  RS_EDB, RS_ENOMEM.
 */
enum rs_status	 srcdb_list(struct db *, const char *id, const char *tenant,
		    size_t max, struct srcdb_rows *out, int *truncated,
		    char *err);

/* Every tenant, by name: struct srcdb_tenant rows.  RS_EDB, RS_ENOMEM. */
enum rs_status	 srcdb_tenants(struct db *, struct srcdb_rows *out,
		    char *err);

/*
 * Insert a REST source of tenant; its id and tenant into id and
 * tenant_out.  RS_ENOTFOUND ("tenantId: no such tenant"), RS_EDB.
 */
enum rs_status	 srcdb_insert(struct db *, const char *tenant,
		    const char *title, const char *config, int enabled,
		    char id[RS_UUID_LEN + 1], char tenant_out[RS_UUID_LEN + 1],
		    char *err);

/*
 * Update source id: NULL title or config and enabled -1 leave the column
 * alone; updated_at moves only when a value does.  *out (freed with
 * srcdb_updated_free, empty on failure).  RS_ENOTFOUND, RS_EDB,
 * RS_ENOMEM.
 */
enum rs_status	 srcdb_update(struct db *, const char *id, const char *title,
		    const char *config, int enabled, struct srcdb_updated *out,
		    char *err);
void		 srcdb_updated_free(struct srcdb_updated *);

/*
 * Upsert the tenant's encrypted secret for provider and origin (AAD
 * version 2, sql/007).  RS_EDB.
 */
enum rs_status	 srcdb_put_secret(struct db *, const char *tenant,
		    const char *provider, const char *origin,
		    const unsigned char *ct, size_t ctlen,
		    const unsigned char *nonce, size_t noncelen, char *err);

/*
 * Take the source's batch lock (DB_LOCK_SOURCE) until the transaction
 * ends; its tenant and title into tenant and *title (caller frees; both
 * also on RS_EBUSY, for the audit row).  RS_ENOTFOUND, RS_EBUSY while a
 * batch runs, RS_EDB, RS_ENOMEM.
 */
enum rs_status	 srcdb_lock(struct db *, const char *id,
		    char tenant[RS_UUID_LEN + 1], char **title, char *err);

/*
 * Start the source over (cursor next NULL, counts 0, its running or
 * failed run stopped); the incremental mark stays only with keep_mark.
 * What was there before into *out.  RS_EDB.
 */
enum rs_status	 srcdb_reset(struct db *, const char *id, int keep_mark,
		    struct srcdb_reset *out, char *err);

/*
 * Delete the source's chunks, docs, cursor and the source; *docs and
 * *chunks say how many rows went.  RS_ENOTFOUND, RS_EDB.
 */
enum rs_status	 srcdb_delete(struct db *, const char *id, long long *docs,
		    long long *chunks, char *err);

/*
 * The source's chunks get roles (each [a-z0-9_-], config.c), those whose
 * roles differ; *changed how many.  RS_ENOMEM, RS_EDB.
 */
enum rs_status	 srcdb_set_roles(struct db *, const char *id,
		    const char *const *roles, size_t nroles,
		    long long *changed, char *err);

/*
 * One audit row; NULL or "" source_id and tenant_id are NULL (the tenant
 * then is the source's), actor NULL or "" is "unknown", detail is JSON
 * text (NULL: "{}") that must never hold a secret.  RS_EDB.
 */
enum rs_status	 srcdb_audit_add(struct db *, const char *actor,
		    const char *action, const char *source_id,
		    const char *tenant_id, const char *outcome,
		    const char *detail, char *err);

/* The last limit audit entries of source id, newest first: struct
 * srcdb_audit rows.  RS_EDB, RS_ENOMEM. */
enum rs_status	 srcdb_audit_list(struct db *, const char *id, int limit,
		    struct srcdb_rows *out, char *err);

/* The last limit runs of source id, newest first: char * rows, each a
 * run's JSON text.  RS_EDB, RS_ENOMEM. */
enum rs_status	 srcdb_runs(struct db *, const char *id, int limit,
		    struct srcdb_rows *out, char *err);

/* The last limit sources of tenant that were deleted (the trail's delete
 * rows), newest first: char * rows, each {sourceId, title, at, actor,
 * docs, chunks} as JSON text.  RS_EDB, RS_ENOMEM. */
enum rs_status	 srcdb_deleted(struct db *, const char *tenant, int limit,
		    struct srcdb_rows *out, char *err);

#endif
