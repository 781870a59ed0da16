/*
 * srcdb.c — the SQL of the operator's REST sources (see srcdb.h): one
 * static const table, run through db.c, rows copied into structs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db.h"
#include "srcdb.h"

enum srcdb_stmt {
	SRCDB_LIST,
	SRCDB_TENANTS,
	SRCDB_INSERT,
	SRCDB_UPDATE,
	SRCDB_SECRET_PUT,
	SRCDB_LOCK,
	SRCDB_RESET,
	SRCDB_DEL_CHUNKS,
	SRCDB_DEL_DOCS,
	SRCDB_DEL_CURSOR,
	SRCDB_DEL_SOURCE,
	SRCDB_AUDIT,
	SRCDB_AUDIT_LIST,
	SRCDB_ROLES,
	SRCDB_RUNS,
	SRCDB_DELETED,
	SRCDB__MAX
};

/* Columns of SRCDB_LIST, in order. */
enum srcdb_col {
	COL_ID, COL_TENANT_ID, COL_TENANT_NAME, COL_TITLE, COL_ENABLED,
	COL_CONFIG, COL_NEXT, COL_PAGES, COL_ITEMS, COL_STATUS, COL_HTTP,
	COL_SYNCED, COL_ERROR, COL_DONE, COL_TOTAL, COL_DOCS, COL_CHUNKS,
	COL_SECRET, COL_CREATED, COL_UPDATED, COL_RUN, COL_ERR_URL,
	COL_CONFIG_AT, COL_AS_SAVED, COL_RATE_WAIT, COL__MAX
};

#define SRCDB_ISO(x) "to_char(" x ", 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* A run as the page and the CLI see it (rest-runs, lastRun). */
#define SRCDB_RUN_JSON(r) \
	"json_build_object('id', " r ".id, 'status', " r ".status, " \
	"'kind', " r ".kind, 'actor', " r ".actor, " \
	"'startedAt', " SRCDB_ISO(r ".started_at AT TIME ZONE 'UTC'") ", " \
	"'finishedAt', " SRCDB_ISO(r ".finished_at AT TIME ZONE 'UTC'") ", " \
	"'fromStart', " r ".from_start, 'pages', " r ".pages, " \
	"'items', " r ".items, 'newItems', " r ".new_items, " \
	"'changedItems', " r ".changed_items, " \
	"'unchangedItems', " r ".unchanged_items, " \
	"'removedItems', " r ".removed_items, " \
	"'chunksInserted', " r ".chunks_inserted, " \
	"'chunksDeleted', " r ".chunks_deleted, " \
	"'embedInputs', " r ".embed_inputs, " \
	"'itemsPerSecond', CASE WHEN " r ".items > 0 THEN round((" r ".items / " \
	"    greatest(extract(epoch FROM coalesce(" r ".finished_at, " \
	"    " r ".last_page_at) - " \
	"    " r ".started_at), 0.001))::numeric, 1) END, " \
	"'total', " r ".total_last, 'sweep', " r ".sweep, " \
	"'sweepNote', " r ".sweep_note, " \
	"'sweepCandidates', " r ".sweep_candidates, 'error', " r ".error, " \
	"'server', " r ".server, 'incremental', " r ".incremental, " \
	"'since', " r ".incr_since, 'mark', " r ".incr_mark)::text"

static const char *const srcdb_stmts[SRCDB__MAX] = {

	/*
	 * SRCDB_LIST: $1 one source or NULL for all, $2 the row limit, $3 one
	 * tenant's or NULL for every tenant's.  The
	 * secret is the one a batch would use (store.c STMT_LOCK_SOURCE).
	 */
	"SELECT s.id, s.tenant_id, t.name, s.title, s.enabled, "
	"       coalesce(s.config_text, s.config::text), "
	"       c.next_cursor, coalesce(c.page_count, 0), "
	"       coalesce(c.item_count, 0), c.last_status, c.last_http_status, "
	"       " SRCDB_ISO("c.last_synced_at AT TIME ZONE 'UTC'") ", "
	"       c.last_error, coalesce(c.done, false), c.total, "
	"       (SELECT count(*) FROM kb_docs d WHERE d.source_id = s.id), "
	"       (SELECT count(*) FROM kb_chunks k WHERE k.source_id = s.id), "
	"       EXISTS (SELECT 1 FROM integration_secrets sec "
	"               WHERE sec.tenant_id = s.tenant_id AND sec.provider = "
	"                     coalesce(s.config->>'provider', 'rest') "
	"                 AND sec.origin = restsync_origin(s.config->>'baseUrl')), "
	"       " SRCDB_ISO("s.created_at AT TIME ZONE 'UTC'") ", "
	"       " SRCDB_ISO("s.updated_at AT TIME ZONE 'UTC'") ", "
	"       (SELECT " SRCDB_RUN_JSON("r") " FROM kb_rest_runs r "
	"        WHERE r.id = c.run_id), "
	/* The failing (redacted) URL: the batch's audit row of the error. */
	"       CASE WHEN c.last_status = 'error' THEN "
	"         (SELECT a.detail->>'url' FROM kb_rest_audit a "
	"          WHERE a.source_id = s.id AND a.outcome = 'error' "
	"            AND a.action IN ('sync', 'sync-to-end', 'worker', 'run') "
	"          ORDER BY a.at DESC, a.id DESC LIMIT 1) END, "
	/* When the config last changed (an update whose detail names it). */
	"       (SELECT " SRCDB_ISO("max(a.at) AT TIME ZONE 'UTC'") " "
	"        FROM kb_rest_audit a WHERE a.source_id = s.id "
	"          AND a.action = 'update' AND a.outcome = 'ok' "
	"          AND (a.detail ? 'config' OR "
	"               a.detail->'changed' ? 'config')), "
	/* The config is as the operator saved it (key order kept). */
	"       s.config_text IS NOT NULL, "
	/* Waiting for its rateLimit budget until (sql/010), if still. */
	"       (SELECT " SRCDB_ISO("w.wait_until AT TIME ZONE 'UTC'") " "
	"        FROM kb_rate_waits w WHERE w.source_id = s.id "
	"          AND w.wait_until > now()) "
	"FROM kb_sources s "
	"JOIN tenants t ON t.id = s.tenant_id "
	"LEFT JOIN kb_rest_cursors c ON c.source_id = s.id "
	"WHERE s.type = 'rest' AND ($1::uuid IS NULL OR s.id = $1::uuid) "
	"AND ($3::uuid IS NULL OR s.tenant_id = $3::uuid) "
	"ORDER BY t.name, s.title, s.id "
	"LIMIT $2::int",

	/* SRCDB_TENANTS */
	"SELECT id, name FROM tenants ORDER BY name, id LIMIT 10000",

	/* SRCDB_INSERT: no row when the tenant does not exist. */
	"INSERT INTO kb_sources (tenant_id, type, title, config, config_text, "
	"    enabled) "
	"SELECT t.id, 'rest', $2::text, $3::text::jsonb, $3::text, $4::boolean "
	"FROM tenants t WHERE t.id = $1::uuid "
	"RETURNING id, tenant_id",

	/*
	 * SRCDB_UPDATE: NULL parameters leave the column alone; updated_at
	 * moves only when a value does.  The self-join reads the row as it
	 * was (the audit's "from").
	 */
	"UPDATE kb_sources s SET title = coalesce($2::text, o.title), "
	"    config = coalesce($3::text::jsonb, o.config), "
	"    config_text = CASE WHEN $3::text IS NULL THEN o.config_text "
	"        ELSE $3::text END, "
	"    enabled = coalesce($4::boolean, o.enabled), "
	"    updated_at = CASE WHEN (coalesce($2::text, o.title), "
	"        coalesce($3::text::jsonb, o.config), "
	"        coalesce($4::boolean, o.enabled)) IS DISTINCT FROM "
	"        (o.title, o.config, o.enabled) THEN now() "
	"        ELSE o.updated_at END "
	"FROM kb_sources o "
	"WHERE s.id = $1::uuid AND s.type = 'rest' AND o.id = s.id "
	"RETURNING s.tenant_id, s.config::text, o.title, o.config::text, "
	"    o.enabled",

	/* SRCDB_SECRET_PUT: bound to origin $5 (sql/007, AAD version 2). */
	"INSERT INTO integration_secrets (tenant_id, provider, ciphertext, "
	"    nonce, updated_at, origin, aad_version) "
	"VALUES ($1::uuid, $2::text, $3::bytea, $4::bytea, now(), $5::text, 2) "
	"ON CONFLICT (tenant_id, provider, origin) DO UPDATE SET "
	"    ciphertext = EXCLUDED.ciphertext, nonce = EXCLUDED.nonce, "
	"    aad_version = 2, updated_at = now()",

	/*
	 * SRCDB_LOCK: the batch's key (store.c), held until the transaction
	 * ends.  No row: no such source; false: a batch holds it.  The
	 * tenant and title go to the audit row.
	 */
	"SELECT pg_try_advisory_xact_lock(hashtextextended("
	"           '" DB_LOCK_SOURCE "' || s.id::text, 0)), s.tenant_id, "
	"       s.title "
	"FROM kb_sources s WHERE s.id = $1::uuid AND s.type = 'rest'",

	/*
	 * SRCDB_RESET: docs and chunks stay; dedup makes a re-sync cheap.  The
	 * self-join reads the row as it was before (the audit's "before").
	 */
	"WITH run AS ("
	"  UPDATE kb_rest_runs r SET status = 'stopped', finished_at = now(), "
	"    error = coalesce(r.error, 'reset') "
	"  FROM kb_rest_cursors c WHERE c.source_id = $1::uuid "
	"    AND r.id = c.run_id AND r.status IN ('running', 'failed') "
	"  RETURNING r.id"
	") "
	"UPDATE kb_rest_cursors c SET next_cursor = NULL, done = false, "
	"    page_count = 0, item_count = 0, last_status = NULL, "
	"    last_error = NULL, run_id = NULL, "
	"    incr_mark = CASE WHEN $2::boolean THEN c.incr_mark END, "
	"    incr_runs = CASE WHEN $2::boolean THEN c.incr_runs ELSE 0 END "
	"FROM kb_rest_cursors o "
	"WHERE c.source_id = $1::uuid AND o.source_id = c.source_id "
	"RETURNING o.page_count, o.item_count, o.done, "
	"    (SELECT id FROM run)",

	/* SRCDB_DEL_CHUNKS */
	"DELETE FROM kb_chunks WHERE source_id = $1::uuid "
	"   OR doc_id IN (SELECT id FROM kb_docs WHERE source_id = $1::uuid)",
	/* SRCDB_DEL_DOCS */
	"DELETE FROM kb_docs WHERE source_id = $1::uuid",
	/* SRCDB_DEL_CURSOR */
	"DELETE FROM kb_rest_cursors WHERE source_id = $1::uuid",
	/* SRCDB_DEL_SOURCE */
	"DELETE FROM kb_sources WHERE id = $1::uuid AND type = 'rest'",

	/*
	 * SRCDB_AUDIT: one row of the trail (sql/004_audit_storage.sql); the
	 * tenant, when not given, is the source's.
	 */
	"INSERT INTO kb_rest_audit (actor, action, source_id, tenant_id, "
	"    outcome, detail) "
	"SELECT $1::text, $2::text, $3::uuid, coalesce($4::uuid, "
	"    (SELECT tenant_id FROM kb_sources WHERE id = $3::uuid)), "
	"    $5::text, $6::jsonb",

	/*
	 * SRCDB_AUDIT_LIST: the last $2 entries of a source, newest first
	 * (index kb_rest_audit_source).  Deleted sources keep their trail.
	 */
	"SELECT id, " SRCDB_ISO("at AT TIME ZONE 'UTC'") ", actor, action, "
	"       outcome, detail::text "
	"FROM kb_rest_audit WHERE source_id = $1::uuid "
	"ORDER BY at DESC, id DESC LIMIT $2::int",

	/*
	 * SRCDB_ROLES: the chunks of a source whose config changed get the
	 * roles it now names, in the same transaction (a narrowed role
	 * list must not leave old chunks readable by the old roles).
	 */
	"UPDATE kb_chunks SET allowed_roles = $2::text[] "
	"WHERE source_id = $1::uuid "
	"  AND allowed_roles IS DISTINCT FROM $2::text[]",

	/* SRCDB_RUNS: the last $2 runs of a source, newest first. */
	"SELECT " SRCDB_RUN_JSON("r") " FROM kb_rest_runs r "
	"WHERE r.source_id = $1::uuid "
	"ORDER BY r.started_at DESC, r.id LIMIT $2::int",

	/*
	 * SRCDB_DELETED: the last $2 sources of tenant $1 that were deleted,
	 * from the trail's delete rows (index kb_rest_audit_metrics), newest
	 * first, each a JSON object.
	 */
	"SELECT json_build_object('sourceId', source_id, "
	"    'title', detail->>'title', "
	"    'at', " SRCDB_ISO("at AT TIME ZONE 'UTC'") ", 'actor', actor, "
	"    'docs', detail->'docs', 'chunks', detail->'chunks')::text "
	"FROM kb_rest_audit "
	"WHERE action = 'delete' AND outcome = 'ok' AND tenant_id = $1::uuid "
	"  AND source_id IS NOT NULL "
	"ORDER BY at DESC, id DESC LIMIT $2::int",
};

static const struct db_table srcdb_table = {
	"src", srcdb_stmts, SRCDB__MAX, 0
};

/* Run statement s with text parameters, retried as db.h says. */
static PGresult *
srcdb_run(struct db *db, enum srcdb_stmt s, int n, const char *const *v,
    char *err)
{
	return db_runv(db, &srcdb_table, (size_t)s, n, v, DB_RETRY_ALWAYS,
	    err);
}

static enum rs_status
srcdb_exec(struct db *db, enum srcdb_stmt s, int n, const char *const *v,
    long long *affected, char *err)
{
	return db_exec(db, &srcdb_table, (size_t)s, n, v, DB_RETRY_ALWAYS,
	    affected, err);
}

/* Column col of row into *dst (NULL when NULL).  -1: out of memory. */
static int
srcdb_dup(char **dst, const PGresult *r, int row, int col)
{
	*dst = NULL;
	if (PQgetisnull(r, row, col))
		return 0;
	return (*dst = strdup(PQgetvalue(r, row, col))) == NULL ? -1 : 0;
}

/* Column col of row into *dst, "" when NULL.  -1: out of memory. */
static int
srcdb_text(char **dst, const PGresult *r, int row, int col)
{
	return (*dst = strdup(PQgetvalue(r, row, col))) == NULL ? -1 : 0;
}

static long long
srcdb_ll(const PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int
srcdb_bool(const PGresult *r, int row, int col)
{
	return strcmp(PQgetvalue(r, row, col), "t") == 0;
}

/* The limit parameter of a statement. */
static void
srcdb_limit(char lim[24], long long n)
{
	(void)snprintf(lim, 24, "%lld", n);
}

/*
 * Row i of a result into elem (zeroed, size of the array's element);
 * -1 when out of memory, with what elem held freed.
 */
typedef int (*srcdb_row_fn)(const PGresult *, int i, void *elem);

void
srcdb_rows_free(struct srcdb_rows *rows)
{
	size_t	 i;

	for (i = 0; rows->v != NULL && i < rows->n; i++)
		rows->free_one((char *)rows->v + i * rows->size);
	free(rows->v);
	memset(rows, 0, sizeof(*rows));
}

/*
 * Rows [0, min(rows, max)) of r into *out, elements of size bytes filled
 * by row and freed by free_one.  RS_ENOMEM (*out empty).
 */
static enum rs_status
srcdb_rows(const PGresult *r, size_t max, size_t size, srcdb_row_fn row,
    void (*free_one)(void *), struct srcdb_rows *out, char *err)
{
	size_t	 nr = (size_t)PQntuples(r);

	memset(out, 0, sizeof(*out));
	out->size = size;
	out->free_one = free_one;
	if (nr > max)
		nr = max;
	if (nr == 0)
		return RS_OK;
	if ((out->v = calloc(nr, size)) == NULL)
		goto nomem;
	for (; out->n < nr; out->n++)
		if (row(r, (int)out->n, (char *)out->v + out->n * size) == -1)
			goto nomem;
	return RS_OK;
nomem:
	srcdb_rows_free(out);
	rs_errf(err, "out of memory");
	return RS_ENOMEM;
}

static void
srcdb_source_free(void *elem)
{
	struct srcdb_source	*s = elem;

	free(s->tenant_name);
	free(s->title);
	free(s->config);
	free(s->next_cursor);
	free(s->last_status);
	free(s->last_synced_at);
	free(s->last_error);
	free(s->created_at);
	free(s->updated_at);
	free(s->last_run);
	free(s->last_error_url);
	free(s->config_changed_at);
	free(s->rate_wait_until);
}

/* Row i of SRCDB_LIST into *elem (a struct srcdb_source). */
static int
srcdb_source_row(const PGresult *r, int i, void *elem)
{
	struct srcdb_source	*s = elem;

	(void)snprintf(s->id, sizeof(s->id), "%s", PQgetvalue(r, i, COL_ID));
	(void)snprintf(s->tenant_id, sizeof(s->tenant_id), "%s",
	    PQgetvalue(r, i, COL_TENANT_ID));
	s->enabled = srcdb_bool(r, i, COL_ENABLED);
	s->page_count = srcdb_ll(r, i, COL_PAGES);
	s->item_count = srcdb_ll(r, i, COL_ITEMS);
	s->has_http = !PQgetisnull(r, i, COL_HTTP);
	s->last_http = srcdb_ll(r, i, COL_HTTP);
	s->done = srcdb_bool(r, i, COL_DONE);
	s->has_total = !PQgetisnull(r, i, COL_TOTAL);
	s->total = srcdb_ll(r, i, COL_TOTAL);
	s->docs = srcdb_ll(r, i, COL_DOCS);
	s->chunks = srcdb_ll(r, i, COL_CHUNKS);
	s->has_secret = srcdb_bool(r, i, COL_SECRET);
	s->config_as_saved = srcdb_bool(r, i, COL_AS_SAVED);
	if (srcdb_dup(&s->tenant_name, r, i, COL_TENANT_NAME) == -1 ||
	    srcdb_dup(&s->title, r, i, COL_TITLE) == -1 ||
	    srcdb_text(&s->config, r, i, COL_CONFIG) == -1 ||
	    srcdb_dup(&s->next_cursor, r, i, COL_NEXT) == -1 ||
	    srcdb_dup(&s->last_status, r, i, COL_STATUS) == -1 ||
	    srcdb_dup(&s->last_synced_at, r, i, COL_SYNCED) == -1 ||
	    srcdb_dup(&s->last_error, r, i, COL_ERROR) == -1 ||
	    srcdb_dup(&s->created_at, r, i, COL_CREATED) == -1 ||
	    srcdb_dup(&s->updated_at, r, i, COL_UPDATED) == -1 ||
	    srcdb_dup(&s->last_run, r, i, COL_RUN) == -1 ||
	    srcdb_dup(&s->last_error_url, r, i, COL_ERR_URL) == -1 ||
	    srcdb_dup(&s->config_changed_at, r, i, COL_CONFIG_AT) == -1 ||
	    srcdb_dup(&s->rate_wait_until, r, i, COL_RATE_WAIT) == -1) {
		srcdb_source_free(s);
		return -1;
	}
	return 0;
}

enum rs_status
srcdb_list(struct db *db, const char *id, const char *tenant, size_t max,
    struct srcdb_rows *out, int *truncated, char *err)
{
	PGresult	*r;
	char		 lim[24];
	const char	*v[3];
	enum rs_status	 st;

	memset(out, 0, sizeof(*out));
	*truncated = 0;
	srcdb_limit(lim, (long long)max + 1);
	v[0] = id;
	v[1] = lim;
	v[2] = tenant;
	if ((r = srcdb_run(db, SRCDB_LIST, 3, v, err)) == NULL)
		return RS_EDB;
	if (PQnfields(r) != COL__MAX) {
		PQclear(r);
		rs_errf(err, "database: unexpected list shape");
		return RS_EDB;
	}
	if ((st = srcdb_rows(r, max, sizeof(struct srcdb_source),
	    srcdb_source_row, srcdb_source_free, out, err)) == RS_OK)
		*truncated = (size_t)PQntuples(r) > max;
	PQclear(r);
	return st;
}

/* Row i of SRCDB_TENANTS into *elem (a struct srcdb_tenant). */
static int
srcdb_tenant_row(const PGresult *r, int i, void *elem)
{
	struct srcdb_tenant	*t = elem;

	(void)snprintf(t->id, sizeof(t->id), "%s", PQgetvalue(r, i, 0));
	return srcdb_dup(&t->name, r, i, 1);
}

static void
srcdb_tenant_free(void *elem)
{
	free(((struct srcdb_tenant *)elem)->name);
}

enum rs_status
srcdb_tenants(struct db *db, struct srcdb_rows *out, char *err)
{
	PGresult	*r;
	enum rs_status	 st;

	memset(out, 0, sizeof(*out));
	if ((r = srcdb_run(db, SRCDB_TENANTS, 0, NULL, err)) == NULL)
		return RS_EDB;
	st = srcdb_rows(r, SIZE_MAX, sizeof(struct srcdb_tenant),
	    srcdb_tenant_row, srcdb_tenant_free, out, err);
	PQclear(r);
	return st;
}

enum rs_status
srcdb_insert(struct db *db, const char *tenant, const char *title,
    const char *config, int enabled, char id[RS_UUID_LEN + 1],
    char tenant_out[RS_UUID_LEN + 1], char *err)
{
	PGresult	*r;
	const char	*v[4];
	enum rs_status	 st = RS_OK;

	id[0] = tenant_out[0] = '\0';
	v[0] = tenant;
	v[1] = title;
	v[2] = config;
	v[3] = enabled ? "true" : "false";
	if ((r = srcdb_run(db, SRCDB_INSERT, 4, v, err)) == NULL)
		return RS_EDB;
	if (PQntuples(r) != 1) {
		rs_errf(err, "tenantId: no such tenant");
		st = RS_ENOTFOUND;
	} else {
		(void)snprintf(id, RS_UUID_LEN + 1, "%s", PQgetvalue(r, 0, 0));
		(void)snprintf(tenant_out, RS_UUID_LEN + 1, "%s",
		    PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	return st;
}

enum rs_status
srcdb_update(struct db *db, const char *id, const char *title,
    const char *config, int enabled, struct srcdb_updated *out, char *err)
{
	PGresult	*r;
	const char	*v[4];
	enum rs_status	 st = RS_OK;

	memset(out, 0, sizeof(*out));
	v[0] = id;
	v[1] = title;
	v[2] = config;
	v[3] = enabled < 0 ? NULL : enabled ? "true" : "false";
	if ((r = srcdb_run(db, SRCDB_UPDATE, 4, v, err)) == NULL)
		return RS_EDB;
	if (PQntuples(r) != 1) {
		rs_errf(err, "no such source");
		st = RS_ENOTFOUND;
		goto out;
	}
	(void)snprintf(out->tenant_id, sizeof(out->tenant_id), "%s",
	    PQgetvalue(r, 0, 0));
	out->old_enabled = srcdb_bool(r, 0, 4);
	if (srcdb_text(&out->config, r, 0, 1) == -1 ||
	    srcdb_text(&out->old_title, r, 0, 2) == -1 ||
	    srcdb_text(&out->old_config, r, 0, 3) == -1) {
		srcdb_updated_free(out);
		rs_errf(err, "out of memory");
		st = RS_ENOMEM;
	}
out:
	PQclear(r);
	return st;
}

void
srcdb_updated_free(struct srcdb_updated *u)
{
	free(u->config);
	free(u->old_title);
	free(u->old_config);
	memset(u, 0, sizeof(*u));
}

enum rs_status
srcdb_put_secret(struct db *db, const char *tenant, const char *provider,
    const char *origin, const unsigned char *ct, size_t ctlen,
    const unsigned char *nonce, size_t noncelen, char *err)
{
	static const Oid	 types[5] = { 0, 0, DB_OID_BYTEA, DB_OID_BYTEA,
				    0 };
	static const int	 fmts[5] = { 0, 0, 1, 1, 0 };
	const char		*v[5];
	int			 lens[5] = { 0, 0, 0, 0, 0 };
	PGresult		*r;

	v[0] = tenant;
	v[1] = provider;
	v[2] = (const char *)ct;
	v[3] = (const char *)nonce;
	v[4] = origin;
	lens[2] = (int)ctlen;
	lens[3] = (int)noncelen;
	if ((r = db_runp(db, &srcdb_table, SRCDB_SECRET_PUT, 5, types, v,
	    lens, fmts, DB_RETRY_ALWAYS, err)) == NULL)
		return RS_EDB;
	PQclear(r);
	return RS_OK;
}

enum rs_status
srcdb_lock(struct db *db, const char *id, char tenant[RS_UUID_LEN + 1],
    char **title, char *err)
{
	PGresult	*r;
	const char	*v[1] = { id };
	enum rs_status	 st = RS_OK;

	tenant[0] = '\0';
	*title = NULL;
	if ((r = srcdb_run(db, SRCDB_LOCK, 1, v, err)) == NULL)
		return RS_EDB;
	if (PQntuples(r) != 1) {
		rs_errf(err, "no such source");
		st = RS_ENOTFOUND;
		goto out;
	}
	(void)snprintf(tenant, RS_UUID_LEN + 1, "%s", PQgetvalue(r, 0, 1));
	if ((*title = strdup(PQgetvalue(r, 0, 2))) == NULL) {
		rs_errf(err, "out of memory");
		st = RS_ENOMEM;
		goto out;
	}
	if (!srcdb_bool(r, 0, 0)) {
		rs_errf(err, "a batch for this source is already running");
		st = RS_EBUSY;
	}
out:
	PQclear(r);
	return st;
}

enum rs_status
srcdb_reset(struct db *db, const char *id, int keep_mark,
    struct srcdb_reset *out, char *err)
{
	PGresult	*r;
	const char	*v[2] = { id, keep_mark ? "true" : "false" };

	memset(out, 0, sizeof(*out));
	if ((r = srcdb_run(db, SRCDB_RESET, 2, v, err)) == NULL)
		return RS_EDB;
	/* No cursor row: never synced, nothing to start over. */
	if (PQntuples(r) == 1) {
		out->had_cursor = 1;
		out->page_count = srcdb_ll(r, 0, 0);
		out->item_count = srcdb_ll(r, 0, 1);
		out->done = srcdb_bool(r, 0, 2);
		if (!PQgetisnull(r, 0, 3))
			(void)snprintf(out->stopped_run,
			    sizeof(out->stopped_run), "%s",
			    PQgetvalue(r, 0, 3));
	}
	PQclear(r);
	return RS_OK;
}

enum rs_status
srcdb_delete(struct db *db, const char *id, long long *docs,
    long long *chunks, char *err)
{
	const char	*v[1] = { id };
	long long	 n = 0;
	enum rs_status	 st;

	*docs = *chunks = 0;
	if ((st = srcdb_exec(db, SRCDB_DEL_CHUNKS, 1, v, chunks, err)) !=
	    RS_OK ||
	    (st = srcdb_exec(db, SRCDB_DEL_DOCS, 1, v, docs, err)) != RS_OK ||
	    (st = srcdb_exec(db, SRCDB_DEL_CURSOR, 1, v, NULL, err)) !=
	    RS_OK ||
	    (st = srcdb_exec(db, SRCDB_DEL_SOURCE, 1, v, &n, err)) != RS_OK)
		return st;
	if (n != 1) {
		rs_errf(err, "no such source");
		return RS_ENOTFOUND;
	}
	return RS_OK;
}

enum rs_status
srcdb_set_roles(struct db *db, const char *id, const char *const *roles,
    size_t nroles, long long *changed, char *err)
{
	struct rs_buf	 lit;
	const char	*v[2];
	size_t		 i;
	enum rs_status	 st = RS_ENOMEM;

	*changed = 0;
	/* Roles are [a-z0-9_-] (config.c): an array literal needs no
	 * quoting. */
	rs_buf_init(&lit, 64 + nroles * 80);
	if (rs_buf_puts(&lit, "{") == -1)
		goto out;
	for (i = 0; i < nroles; i++)
		if ((i > 0 && rs_buf_puts(&lit, ",") == -1) ||
		    rs_buf_puts(&lit, roles[i]) == -1)
			goto out;
	if (rs_buf_puts(&lit, "}") == -1)
		goto out;
	v[0] = id;
	v[1] = lit.p;
	st = srcdb_exec(db, SRCDB_ROLES, 2, v, changed, err);
out:
	if (st == RS_ENOMEM)
		rs_errf(err, "out of memory");
	rs_buf_free(&lit);
	return st;
}

enum rs_status
srcdb_audit_add(struct db *db, const char *actor, const char *action,
    const char *source_id, const char *tenant_id, const char *outcome,
    const char *detail, char *err)
{
	PGresult	*r;
	const char	*v[6];

	v[0] = actor != NULL && *actor != '\0' ? actor : "unknown";
	v[1] = action;
	v[2] = source_id != NULL && *source_id != '\0' ? source_id : NULL;
	v[3] = tenant_id != NULL && *tenant_id != '\0' ? tenant_id : NULL;
	v[4] = outcome;
	v[5] = detail != NULL ? detail : "{}";
	if ((r = srcdb_run(db, SRCDB_AUDIT, 6, v, err)) == NULL)
		return RS_EDB;
	PQclear(r);
	return RS_OK;
}

/*
 * Statement s for source id and limit, its rows into *out by row and
 * free_one.  RS_EDB, RS_ENOMEM.
 */
static enum rs_status
srcdb_listing(struct db *db, enum srcdb_stmt s, const char *id, int limit,
    size_t size, srcdb_row_fn row, void (*free_one)(void *),
    struct srcdb_rows *out, char *err)
{
	PGresult	*r;
	char		 lim[24];
	const char	*v[2];
	enum rs_status	 st;

	memset(out, 0, sizeof(*out));
	srcdb_limit(lim, limit);
	v[0] = id;
	v[1] = lim;
	if ((r = srcdb_run(db, s, 2, v, err)) == NULL)
		return RS_EDB;
	st = srcdb_rows(r, SIZE_MAX, size, row, free_one, out, err);
	PQclear(r);
	return st;
}

static void
srcdb_audit_free(void *elem)
{
	struct srcdb_audit	*e = elem;

	free(e->at);
	free(e->actor);
	free(e->action);
	free(e->outcome);
	free(e->detail);
}

/* Row i of SRCDB_AUDIT_LIST into *elem (a struct srcdb_audit). */
static int
srcdb_audit_row(const PGresult *r, int i, void *elem)
{
	struct srcdb_audit	*e = elem;

	e->id = srcdb_ll(r, i, 0);
	if (srcdb_text(&e->at, r, i, 1) == -1 ||
	    srcdb_text(&e->actor, r, i, 2) == -1 ||
	    srcdb_text(&e->action, r, i, 3) == -1 ||
	    srcdb_text(&e->outcome, r, i, 4) == -1 ||
	    srcdb_text(&e->detail, r, i, 5) == -1) {
		srcdb_audit_free(e);
		return -1;
	}
	return 0;
}

enum rs_status
srcdb_audit_list(struct db *db, const char *id, int limit,
    struct srcdb_rows *out, char *err)
{
	return srcdb_listing(db, SRCDB_AUDIT_LIST, id, limit,
	    sizeof(struct srcdb_audit), srcdb_audit_row, srcdb_audit_free,
	    out, err);
}

/* Row i of SRCDB_RUNS into *elem (a char *: the run's JSON text). */
static int
srcdb_run_row(const PGresult *r, int i, void *elem)
{
	return srcdb_text(elem, r, i, 0);
}

static void
srcdb_text_free(void *elem)
{
	free(*(char **)elem);
}

enum rs_status
srcdb_runs(struct db *db, const char *id, int limit,
    struct srcdb_rows *out, char *err)
{
	return srcdb_listing(db, SRCDB_RUNS, id, limit, sizeof(char *),
	    srcdb_run_row, srcdb_text_free, out, err);
}

enum rs_status
srcdb_deleted(struct db *db, const char *tenant, int limit,
    struct srcdb_rows *out, char *err)
{
	return srcdb_listing(db, SRCDB_DELETED, tenant, limit,
	    sizeof(char *), srcdb_run_row, srcdb_text_free, out, err);
}
