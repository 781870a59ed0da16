/*
 * sources.c — the operator's view of REST sources: request validation,
 * one static SQL table, transactions for the state-changing operations,
 * each with its audit row.  The connection is the store's (store_db).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "config.h"
#include "db.h"
#include "http_fetch.h"
#include "secret.h"
#include "sources.h"

#define OID_BYTEA	17

enum src_stmt {
	SRC_LIST,
	SRC_TENANTS,
	SRC_INSERT,
	SRC_UPDATE,
	SRC_SECRET_PUT,
	SRC_LOCK,
	SRC_RESET,
	SRC_DEL_CHUNKS,
	SRC_DEL_DOCS,
	SRC_DEL_CURSOR,
	SRC_DEL_SOURCE,
	SRC_AUDIT,
	SRC_AUDIT_LIST,
	SRC_ROLES,
	SRC_RUNS,
	SRC__MAX
};

/* Columns of SRC_LIST, in order. */
enum src_col {
	COL_ID, COL_TENANT_ID, COL_TENANT_NAME, COL_TITLE, COL_ENABLED,
	COL_CONFIG, COL_NEXT, COL_PAGES, COL_ITEMS, COL_STATUS, COL_HTTP,
	COL_SYNCED, COL_ERROR, COL_DONE, COL_TOTAL, COL_DOCS, COL_CHUNKS,
	COL_SECRET, COL_CREATED, COL_UPDATED, COL_RUN, COL_ERR_URL,
	COL_CONFIG_AT, COL_AS_SAVED, COL_RATE_WAIT, COL__MAX
};

#define SRC_ISO(x) "to_char(" x ", 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* A run as the page and the CLI see it (rest-runs, lastRun). */
#define SRC_RUN_JSON(r) \
	"json_build_object('id', " r ".id, 'status', " r ".status, " \
	"'kind', " r ".kind, 'actor', " r ".actor, " \
	"'startedAt', " SRC_ISO(r ".started_at AT TIME ZONE 'UTC'") ", " \
	"'finishedAt', " SRC_ISO(r ".finished_at AT TIME ZONE 'UTC'") ", " \
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

static const char *const src_stmts[SRC__MAX] = {

	/*
	 * SRC_LIST: $1 one source or NULL for all, $2 the row limit.  The
	 * secret is the one a batch would use (store.c STMT_LOCK_SOURCE).
	 */
	"SELECT s.id, s.tenant_id, t.name, s.title, s.enabled, "
	"       coalesce(s.config_text, s.config::text), "
	"       c.next_cursor, coalesce(c.page_count, 0), "
	"       coalesce(c.item_count, 0), c.last_status, c.last_http_status, "
	"       " SRC_ISO("c.last_synced_at AT TIME ZONE 'UTC'") ", "
	"       c.last_error, coalesce(c.done, false), c.total, "
	"       (SELECT count(*) FROM kb_docs d WHERE d.source_id = s.id), "
	"       (SELECT count(*) FROM kb_chunks k WHERE k.source_id = s.id), "
	"       EXISTS (SELECT 1 FROM integration_secrets sec "
	"               WHERE sec.tenant_id = s.tenant_id AND sec.provider = "
	"                     coalesce(s.config->>'provider', 'rest') "
	"                 AND sec.origin = restsync_origin(s.config->>'baseUrl')), "
	"       " SRC_ISO("s.created_at AT TIME ZONE 'UTC'") ", "
	"       " SRC_ISO("s.updated_at AT TIME ZONE 'UTC'") ", "
	"       (SELECT " SRC_RUN_JSON("r") " FROM kb_rest_runs r "
	"        WHERE r.id = c.run_id), "
	/* The failing (redacted) URL: the batch's audit row of the error. */
	"       CASE WHEN c.last_status = 'error' THEN "
	"         (SELECT a.detail->>'url' FROM kb_rest_audit a "
	"          WHERE a.source_id = s.id AND a.outcome = 'error' "
	"            AND a.action IN ('sync', 'sync-to-end', 'worker', 'run') "
	"          ORDER BY a.at DESC, a.id DESC LIMIT 1) END, "
	/* When the config last changed (an update whose detail names it). */
	"       (SELECT " SRC_ISO("max(a.at) AT TIME ZONE 'UTC'") " "
	"        FROM kb_rest_audit a WHERE a.source_id = s.id "
	"          AND a.action = 'update' AND a.outcome = 'ok' "
	"          AND (a.detail ? 'config' OR "
	"               a.detail->'changed' ? 'config')), "
	/* The config is as the operator saved it (key order kept). */
	"       s.config_text IS NOT NULL, "
	/* Waiting for its rateLimit budget until (sql/010), if still. */
	"       (SELECT " SRC_ISO("w.wait_until AT TIME ZONE 'UTC'") " "
	"        FROM kb_rate_waits w WHERE w.source_id = s.id "
	"          AND w.wait_until > now()) "
	"FROM kb_sources s "
	"JOIN tenants t ON t.id = s.tenant_id "
	"LEFT JOIN kb_rest_cursors c ON c.source_id = s.id "
	"WHERE s.type = 'rest' AND ($1::uuid IS NULL OR s.id = $1::uuid) "
	"ORDER BY t.name, s.title, s.id "
	"LIMIT $2::int",

	/* SRC_TENANTS */
	"SELECT id, name FROM tenants ORDER BY name, id LIMIT 10000",

	/* SRC_INSERT: no row when the tenant does not exist. */
	"INSERT INTO kb_sources (tenant_id, type, title, config, config_text, "
	"    enabled) "
	"SELECT t.id, 'rest', $2::text, $3::text::jsonb, $3::text, $4::boolean "
	"FROM tenants t WHERE t.id = $1::uuid "
	"RETURNING id, tenant_id",

	/*
	 * SRC_UPDATE: NULL parameters leave the column alone; updated_at
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

	/* SRC_SECRET_PUT: bound to origin $5 (sql/007, AAD version 2). */
	"INSERT INTO integration_secrets (tenant_id, provider, ciphertext, "
	"    nonce, updated_at, origin, aad_version) "
	"VALUES ($1::uuid, $2::text, $3::bytea, $4::bytea, now(), $5::text, 2) "
	"ON CONFLICT (tenant_id, provider, origin) DO UPDATE SET "
	"    ciphertext = EXCLUDED.ciphertext, nonce = EXCLUDED.nonce, "
	"    aad_version = 2, updated_at = now()",

	/*
	 * SRC_LOCK: the batch's key (store.c), held until the transaction
	 * ends.  No row: no such source; false: a batch holds it.  The
	 * tenant and title go to the audit row.
	 */
	"SELECT pg_try_advisory_xact_lock(hashtextextended("
	"           '" DB_LOCK_SOURCE "' || s.id::text, 0)), s.tenant_id, "
	"       s.title "
	"FROM kb_sources s WHERE s.id = $1::uuid AND s.type = 'rest'",

	/*
	 * SRC_RESET: docs and chunks stay; dedup makes a re-sync cheap.  The
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

	/* SRC_DEL_CHUNKS */
	"DELETE FROM kb_chunks WHERE source_id = $1::uuid "
	"   OR doc_id IN (SELECT id FROM kb_docs WHERE source_id = $1::uuid)",
	/* SRC_DEL_DOCS */
	"DELETE FROM kb_docs WHERE source_id = $1::uuid",
	/* SRC_DEL_CURSOR */
	"DELETE FROM kb_rest_cursors WHERE source_id = $1::uuid",
	/* SRC_DEL_SOURCE */
	"DELETE FROM kb_sources WHERE id = $1::uuid AND type = 'rest'",

	/*
	 * SRC_AUDIT: one row of the trail (sql/004_audit_storage.sql); the
	 * tenant, when not given, is the source's.
	 */
	"INSERT INTO kb_rest_audit (actor, action, source_id, tenant_id, "
	"    outcome, detail) "
	"SELECT $1::text, $2::text, $3::uuid, coalesce($4::uuid, "
	"    (SELECT tenant_id FROM kb_sources WHERE id = $3::uuid)), "
	"    $5::text, $6::jsonb",

	/*
	 * SRC_AUDIT_LIST: the last $2 entries of a source, newest first
	 * (index kb_rest_audit_source).  Deleted sources keep their trail.
	 */
	"SELECT id, " SRC_ISO("at AT TIME ZONE 'UTC'") ", actor, action, "
	"       outcome, detail::text "
	"FROM kb_rest_audit WHERE source_id = $1::uuid "
	"ORDER BY at DESC, id DESC LIMIT $2::int",

	/*
	 * SRC_ROLES: the chunks of a source whose config changed get the
	 * roles it now names, in the same transaction (a narrowed role
	 * list must not leave old chunks readable by the old roles).
	 */
	"UPDATE kb_chunks SET allowed_roles = $2::text[] "
	"WHERE source_id = $1::uuid "
	"  AND allowed_roles IS DISTINCT FROM $2::text[]",

	/* SRC_RUNS: the last $2 runs of a source, newest first. */
	"SELECT " SRC_RUN_JSON("r") " FROM kb_rest_runs r "
	"WHERE r.source_id = $1::uuid "
	"ORDER BY r.started_at DESC, r.id LIMIT $2::int",
};

static const struct db_table src_table = {
	"src", src_stmts, SRC__MAX, 0
};

struct src_db {
	struct store	*st;	/* owns the connection */
	struct db	*db;	/* the store's (common/db/db.h) */
};

/* ---- request validation ---------------------------------------------- */

int
src_valid_text(const char *s, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	uint32_t		 cp;
	size_t			 n = 0, left = strlen(s), len, bad;
	int			 blank = 1;

	while (left > 0) {
		if ((len = rs_utf8_seq(p, left, &cp, &bad)) == 0)
			return 0;
		/* C0, DEL, C1 controls. */
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return 0;
		if (cp != ' ')
			blank = 0;
		p += len;
		left -= len;
		if (++n > max)
			return 0;
	}
	return n > 0 && !blank;
}

/* 1 if key is in the NULL-terminated list. */
static int
src_known(const char *const *keys, const char *key)
{
	for (; *keys != NULL; keys++)
		if (strcmp(*keys, key) == 0)
			return 1;
	return 0;
}

/* A UUID string field into id; RS_EINPUT naming the field. */
static enum rs_status
src_uuid_field(struct json_object *body, const char *name, char id[37],
    char *err)
{
	struct json_object	*v;
	const char		*s;

	id[0] = '\0';
	if (!json_object_object_get_ex(body, name, &v) ||
	    json_object_is_type(v, json_type_null)) {
		rs_errf(err, "'%s' is required", name);
		return RS_EINPUT;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    !rs_is_uuid(s = json_object_get_string(v))) {
		rs_errf(err, "'%s' must be a UUID", name);
		return RS_EINPUT;
	}
	(void)snprintf(id, 37, "%s", s);
	return RS_OK;
}

/* Validate config v; fill in->config (JSON text) and in->provider. */
static enum rs_status
src_config_field(struct json_object *v, struct src_input *in, char *err)
{
	struct source_config	 cfg;
	const char		*text;
	size_t			 len;
	enum rs_status		 st;
	char			 cerr[RS_ERRLEN];

	/* The page sends the editor's text; API clients may send an object. */
	if (json_object_is_type(v, json_type_string)) {
		text = json_object_get_string(v);
		len = (size_t)json_object_get_string_len(v);
	} else if (json_object_is_type(v, json_type_object)) {
		text = json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		len = strlen(text);
	} else {
		rs_errf(err, "'config' must be a JSON object");
		return RS_EINPUT;
	}
	cerr[0] = '\0';
	if ((st = cfg_parse(text, len, &cfg, cerr)) != RS_OK) {
		rs_errf(err, "config: %s", cerr);
		return st;
	}
	in->config = rs_strndup(text, len);
	in->provider = strdup(cfg.provider != NULL ? cfg.provider : "rest");
	cfg_free(&cfg);
	if (in->config == NULL || in->provider == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	return RS_OK;
}

/* A write-only secret field: absent, null or "" leaves *dst NULL. */
static enum rs_status
src_secret_field(struct json_object *body, const char *name, char **dst,
    char *err)
{
	struct json_object	*v;
	const char		*s;

	*dst = NULL;
	if (!json_object_object_get_ex(body, name, &v) ||
	    json_object_is_type(v, json_type_null))
		return RS_OK;
	if (!json_object_is_type(v, json_type_string)) {
		rs_errf(err, "'%s' must be a string", name);
		return RS_EINPUT;
	}
	s = json_object_get_string(v);
	if (*s == '\0')
		return RS_OK;
	if (strlen(s) > SRC_APIKEY_MAX ||
	    strlen(s) != (size_t)json_object_get_string_len(v) ||
	    !src_valid_text(s, SRC_APIKEY_MAX)) {
		rs_errf(err, "'%s' must be 1 to %d bytes without control "
		    "characters", name, SRC_APIKEY_MAX);
		return RS_EINPUT;
	}
	if ((*dst = strdup(s)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	return RS_OK;
}

int
src_has_secret(const struct src_input *in)
{
	return in->api_key != NULL || in->client_id != NULL;
}

enum rs_status
src_parse_input(struct json_object *body, int create, struct src_input *in,
    char *err)
{
	static const char *const create_keys[] =
	    { "tenantId", "title", "config", "apiKey", "clientId",
	      "clientSecret", "enabled", NULL };
	static const char *const update_keys[] =
	    { "sourceId", "title", "config", "apiKey", "clientId",
	      "clientSecret", "enabled", NULL };
	struct json_object	*v;
	const char		*s;
	enum rs_status		 st = RS_EINPUT;

	memset(in, 0, sizeof(*in));
	in->enabled = -1;
	{
		json_object_object_foreach(body, key, val) {
			(void)val;
			if (!create && strcmp(key, "tenantId") == 0) {
				rs_errf(err, "'tenantId' cannot be changed: "
				    "a source stays with its tenant");
				goto fail;
			}
			if (!src_known(create ? create_keys : update_keys,
			    key)) {
				rs_errf(err, "unknown field '%.64s'", key);
				goto fail;
			}
		}
	}
	if (create) {
		if ((st = src_uuid_field(body, "tenantId", in->tenant_id,
		    err)) != RS_OK)
			goto fail;
	} else if ((st = src_uuid_field(body, "sourceId", in->source_id,
	    err)) != RS_OK)
		goto fail;
	st = RS_EINPUT;

	if (json_object_object_get_ex(body, "title", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_string) ||
		    !src_valid_text(s = json_object_get_string(v),
		    SRC_TITLE_MAX) ||
		    strlen(s) != (size_t)json_object_get_string_len(v)) {
			rs_errf(err, "'title' must be 1 to %d characters "
			    "(no control characters)", SRC_TITLE_MAX);
			goto fail;
		}
		if ((in->title = strdup(s)) == NULL)
			goto nomem;
	} else if (create) {
		rs_errf(err, "'title' is required");
		goto fail;
	}

	if (json_object_object_get_ex(body, "config", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if ((st = src_config_field(v, in, err)) != RS_OK)
			goto fail;
		st = RS_EINPUT;
	} else if (create) {
		rs_errf(err, "'config' is required");
		goto fail;
	}

	if (json_object_object_get_ex(body, "apiKey", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_string)) {
			rs_errf(err, "'apiKey' must be a string");
			goto fail;
		}
		s = json_object_get_string(v);
		/* Empty: leave the stored key alone. */
		if (*s != '\0') {
			if (strlen(s) > SRC_APIKEY_MAX ||
			    strlen(s) != (size_t)json_object_get_string_len(v) ||
			    !src_valid_text(s, SRC_APIKEY_MAX)) {
				rs_errf(err, "'apiKey' must be 1 to %d bytes "
				    "without control characters",
				    SRC_APIKEY_MAX);
				goto fail;
			}
			if ((in->api_key = strdup(s)) == NULL)
				goto nomem;
		}
	}

	if ((st = src_secret_field(body, "clientId", &in->client_id, err)) !=
	    RS_OK || (st = src_secret_field(body, "clientSecret",
	    &in->client_secret, err)) != RS_OK)
		goto fail;
	st = RS_EINPUT;
	if ((in->client_id == NULL) != (in->client_secret == NULL)) {
		rs_errf(err, "'%s' is required with '%s' (the client "
		    "credentials are stored together)", in->client_id == NULL ?
		    "clientId" : "clientSecret", in->client_id == NULL ?
		    "clientSecret" : "clientId");
		goto fail;
	}
	if (in->client_id != NULL && in->api_key != NULL) {
		rs_errf(err, "'apiKey' cannot come with 'clientId' and "
		    "'clientSecret': a source has one secret");
		goto fail;
	}

	if (json_object_object_get_ex(body, "enabled", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			rs_errf(err, "'enabled' must be true or false");
			goto fail;
		}
		in->enabled = json_object_get_boolean(v) ? 1 : 0;
	}
	return RS_OK;
nomem:
	rs_errf(err, "out of memory");
	st = RS_ENOMEM;
fail:
	src_input_free(in);
	return st;
}

void
src_input_free(struct src_input *in)
{
	free(in->title);
	free(in->config);
	free(in->provider);
	secret_free_str(in->api_key);
	secret_free_str(in->client_id);
	secret_free_str(in->client_secret);
	memset(in, 0, sizeof(*in));
	in->enabled = -1;
}

enum rs_status
src_parse_id(struct json_object *body, char id[37], char *err)
{
	id[0] = '\0';
	json_object_object_foreach(body, key, val) {
		(void)val;
		if (strcmp(key, "sourceId") != 0) {
			rs_errf(err, "unknown field '%.64s'", key);
			return RS_EINPUT;
		}
	}
	return src_uuid_field(body, "sourceId", id, err);
}

enum rs_status
src_parse_reset(struct json_object *body, char id[37], int *keep_mark,
    char *err)
{
	struct json_object	*v;

	id[0] = '\0';
	*keep_mark = 0;
	json_object_object_foreach(body, key, val) {
		(void)val;
		if (strcmp(key, "sourceId") != 0 &&
		    strcmp(key, "keepMark") != 0) {
			rs_errf(err, "unknown field '%.64s'", key);
			return RS_EINPUT;
		}
	}
	if (json_object_object_get_ex(body, "keepMark", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			rs_errf(err, "'keepMark' must be true or false");
			return RS_EINPUT;
		}
		*keep_mark = json_object_get_boolean(v);
	}
	return src_uuid_field(body, "sourceId", id, err);
}

/* ---- connection ------------------------------------------------------- */

enum rs_status
src_open(struct src_db **out, struct store *st, char *err)
{
	*out = NULL;
	if (st == NULL) {
		rs_errf(err, "sources: no store");
		return RS_EINTERNAL;
	}
	if ((*out = calloc(1, sizeof(**out))) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	(*out)->st = st;
	(*out)->db = store_db(st);
	return RS_OK;
}

void
src_close(struct src_db *db)
{
	free(db);
}

/*
 * Run statement s.  Outside a transaction a lost connection is reopened
 * and the statement retried once (reads and BEGIN are idempotent; the
 * audit insert after a failure is best effort); inside one, never.
 */
static PGresult *
src_run(struct src_db *db, enum src_stmt s, int n, const Oid *types,
    const char *const *vals, const int *lens, const int *fmts, char *err)
{
	struct db_args	 a;

	a.n = n;
	a.types = types;
	a.vals = vals;
	a.lens = lens;
	a.fmts = fmts;
	a.result_fmt = 0;
	return db_run(db->db, &src_table, (size_t)s, &a, DB_RETRY_ALWAYS,
	    err);
}

/* Run a statement whose result is not needed. */
static enum rs_status
src_exec(struct src_db *db, enum src_stmt s, int n, const char *const *vals,
    long long *affected, char *err)
{
	return db_exec(db->db, &src_table, (size_t)s, n, vals,
	    DB_RETRY_ALWAYS, affected, err);
}

static enum rs_status
src_begin(struct src_db *db, char *err)
{
	return db_begin(db->db, err);
}

static enum rs_status
src_commit(struct src_db *db, char *err)
{
	return db_commit(db->db, err);
}

/* Abandon the transaction (also after a failed statement). */
static void
src_rollback(struct src_db *db)
{
	db_rollback(db->db);
}

/*
 * Take the source's batch lock for the transaction; its tenant and title
 * into tenant[37] and *title (caller frees; both also on RS_EBUSY, for
 * the audit row).  RS_ENOTFOUND, RS_EBUSY while a batch runs.
 */
static enum rs_status
src_lock(struct src_db *db, const char *id, char tenant[37], char **title,
    char *err)
{
	PGresult	*r;
	const char	*v[1] = { id };
	enum rs_status	 st = RS_OK;

	tenant[0] = '\0';
	*title = NULL;
	if ((r = src_run(db, SRC_LOCK, 1, NULL, v, NULL, NULL, err)) == NULL)
		return RS_EDB;
	if (PQntuples(r) != 1) {
		rs_errf(err, "no such source");
		st = RS_ENOTFOUND;
		goto out;
	}
	(void)snprintf(tenant, 37, "%s", PQgetvalue(r, 0, 1));
	if ((*title = strdup(PQgetvalue(r, 0, 2))) == NULL) {
		rs_errf(err, "out of memory");
		st = RS_ENOMEM;
		goto out;
	}
	if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		rs_errf(err, "a batch for this source is already running");
		st = RS_EBUSY;
	}
out:
	PQclear(r);
	return st;
}

/* ---- audit trail ------------------------------------------------------ */

/*
 * Write an audit row (inside the caller's transaction when one is open).
 * actor is the nginx-validated operator; detail (put by this function,
 * may be NULL) must never hold a secret.
 */
static enum rs_status
src_audit_row(struct src_db *db, const char *actor, const char *action,
    const char *source_id, const char *tenant_id, const char *outcome,
    struct json_object *detail, char *err)
{
	PGresult	*r;
	const char	*v[6];

	v[0] = actor != NULL && *actor != '\0' ? actor : "unknown";
	v[1] = action;
	v[2] = source_id != NULL && *source_id != '\0' ? source_id : NULL;
	v[3] = tenant_id != NULL && *tenant_id != '\0' ? tenant_id : NULL;
	v[4] = outcome;
	v[5] = detail != NULL ? json_object_to_json_string_ext(detail,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "{}";
	r = src_run(db, SRC_AUDIT, 6, NULL, v, NULL, NULL, err);
	json_object_put(detail);
	if (r == NULL)
		return RS_EDB;
	PQclear(r);
	return RS_OK;
}

/*
 * After a refused or failed change (the transaction is rolled back): an
 * 'error' row with the message, best effort.  Bad input and unknown
 * sources are the caller's mistakes, not operations, and leave no row.
 */
static void
src_audit_failure(struct src_db *db, const char *actor, const char *action,
    const char *source_id, const char *tenant_id, enum rs_status st,
    const char *msg)
{
	struct json_object	*d;

	if (st == RS_EINPUT || st == RS_ENOTFOUND || st == RS_ENOMEM)
		return;
	d = json_object_new_object();
	json_object_object_add(d, "error", json_object_new_string(
	    msg != NULL && *msg != '\0' ? msg : rs_status_name(st)));
	json_object_object_add(d, "status",
	    json_object_new_string(rs_status_name(st)));
	(void)src_audit_row(db, actor, action, source_id, tenant_id, "error",
	    d, NULL);
}

static int
src_audit_limit_ok(long n)
{
	return n >= 1 && n <= SRC_AUDIT_MAX;
}

enum rs_status
src_parse_audit_query(const char *qs, char id[37], int *limit, char *err)
{
	const char	*p, *amp, *eq;
	size_t		 klen, vlen, i;
	int		 have_id = 0, have_limit = 0;
	long		 n;

	id[0] = '\0';
	*limit = SRC_AUDIT_DEFAULT;
	if (qs == NULL)
		qs = "";
	if (strlen(qs) > 256) {
		rs_errf(err, "query string too long");
		goto fail;
	}
	/* Every '&' separates two name=value pairs: none may be empty. */
	for (p = qs, amp = qs; *qs != '\0' && *amp != '\0'; p = amp + 1) {
		amp = p + strcspn(p, "&");
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq == NULL) {
			rs_errf(err, "query parameters must be name=value");
			goto fail;
		}
		klen = (size_t)(eq - p);
		vlen = (size_t)(amp - eq - 1);
		if (klen == strlen("sourceId") &&
		    memcmp(p, "sourceId", klen) == 0) {
			if (have_id++) {
				rs_errf(err, "'sourceId' given twice");
				goto fail;
			}
			if (vlen != 36 || (memcpy(id, eq + 1, 36), id[36] = '\0',
			    !rs_is_uuid(id))) {
				id[0] = '\0';
				rs_errf(err, "'sourceId' must be a UUID");
				goto fail;
			}
		} else if (klen == strlen("limit") &&
		    memcmp(p, "limit", klen) == 0) {
			if (have_limit++) {
				rs_errf(err, "'limit' given twice");
				goto fail;
			}
			/* 1 to 3 digits, no sign, no leading zero. */
			n = 0;
			for (i = 0; i < vlen; i++) {
				if (eq[1 + i] < '0' || eq[1 + i] > '9')
					break;
				n = n * 10 + (eq[1 + i] - '0');
			}
			if (vlen == 0 || vlen > 3 || i != vlen ||
			    eq[1] == '0' || !src_audit_limit_ok(n)) {
				rs_errf(err, "'limit' must be an integer from 1 "
				    "to %d", SRC_AUDIT_MAX);
				goto fail;
			}
			*limit = (int)n;
		} else {
			for (i = 0; i < klen; i++)
				if (!((p[i] >= 'a' && p[i] <= 'z') ||
				    (p[i] >= 'A' && p[i] <= 'Z') ||
				    (p[i] >= '0' && p[i] <= '9') ||
				    p[i] == '_' || p[i] == '-'))
					break;
			if (klen > 0 && klen <= 32 && i == klen)
				rs_errf(err, "unknown parameter '%.*s'",
				    (int)klen, p);
			else
				rs_errf(err, "unknown parameter");
			goto fail;
		}
	}
	if (!have_id) {
		rs_errf(err, "'sourceId' is required");
		goto fail;
	}
	return RS_OK;
fail:
	id[0] = '\0';
	*limit = SRC_AUDIT_DEFAULT;
	return RS_EINPUT;
}

enum rs_status
src_audit(struct src_db *db, const char *id, int limit,
    struct json_object **out, char *err)
{
	struct json_object	*e;
	PGresult		*r;
	char			 lim[16];
	const char		*v[2];
	int			 i;

	*out = NULL;
	if (!src_audit_limit_ok(limit)) {
		rs_errf(err, "'limit' must be an integer from 1 to %d",
		    SRC_AUDIT_MAX);
		return RS_EINPUT;
	}
	(void)snprintf(lim, sizeof(lim), "%d", limit);
	v[0] = id;
	v[1] = lim;
	if ((r = src_run(db, SRC_AUDIT_LIST, 2, NULL, v, NULL, NULL, err)) ==
	    NULL)
		return RS_EDB;
	*out = json_object_new_array_ext(PQntuples(r));
	for (i = 0; i < PQntuples(r); i++) {
		e = json_object_new_object();
		json_object_object_add(e, "id", json_object_new_int64(
		    strtoll(PQgetvalue(r, i, 0), NULL, 10)));
		json_object_object_add(e, "at",
		    json_object_new_string(PQgetvalue(r, i, 1)));
		json_object_object_add(e, "actor",
		    json_object_new_string(PQgetvalue(r, i, 2)));
		json_object_object_add(e, "action",
		    json_object_new_string(PQgetvalue(r, i, 3)));
		json_object_object_add(e, "outcome",
		    json_object_new_string(PQgetvalue(r, i, 4)));
		json_object_object_add(e, "detail",
		    json_tokener_parse(PQgetvalue(r, i, 5)));
		json_object_array_add(*out, e);
	}
	PQclear(r);
	return RS_OK;
}

enum rs_status
src_runs(struct src_db *db, const char *id, int limit,
    struct json_object **out, char *err)
{
	PGresult	*r;
	char		 lim[16];
	const char	*v[2];
	int		 i;

	*out = NULL;
	if (!src_audit_limit_ok(limit)) {
		rs_errf(err, "'limit' must be an integer from 1 to %d",
		    SRC_AUDIT_MAX);
		return RS_EINPUT;
	}
	(void)snprintf(lim, sizeof(lim), "%d", limit);
	v[0] = id;
	v[1] = lim;
	if ((r = src_run(db, SRC_RUNS, 2, NULL, v, NULL, NULL, err)) == NULL)
		return RS_EDB;
	*out = json_object_new_array_ext(PQntuples(r));
	for (i = 0; i < PQntuples(r); i++)
		json_object_array_add(*out,
		    json_tokener_parse(PQgetvalue(r, i, 0)));
	PQclear(r);
	return RS_OK;
}

enum rs_status
src_parse_sweep(struct json_object *body, char id[37], char run[37],
    char *err)
{
	static const char *const keys[] = { "sourceId", "runId", NULL };
	struct json_object_iterator	 it, end;
	enum rs_status			 st;

	id[0] = run[0] = '\0';
	if (!json_object_is_type(body, json_type_object)) {
		rs_errf(err, "body must be a JSON object");
		return RS_EINPUT;
	}
	it = json_object_iter_begin(body);
	end = json_object_iter_end(body);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
		if (!src_known(keys, json_object_iter_peek_name(&it))) {
			rs_errf(err, "unknown field '%.64s'",
			    json_object_iter_peek_name(&it));
			return RS_EINPUT;
		}
	if ((st = src_uuid_field(body, "sourceId", id, err)) != RS_OK ||
	    (st = src_uuid_field(body, "runId", run, err)) != RS_OK) {
		id[0] = run[0] = '\0';
		return st;
	}
	return RS_OK;
}

/* ---- rows to JSON ----------------------------------------------------- */

static struct json_object *
src_str(PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	return json_object_new_string(PQgetvalue(r, row, col));
}

static struct json_object *
src_int(PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	return json_object_new_int64(strtoll(PQgetvalue(r, row, col), NULL,
	    10));
}

static struct json_object *
src_bool(PGresult *r, int row, int col)
{
	return json_object_new_boolean(strcmp(PQgetvalue(r, row, col), "t") ==
	    0);
}

/* The config as an object plus a summary (or why it does not parse). */
static void
src_add_config(struct json_object *o, const char *text)
{
	struct source_config	 cfg;
	struct json_object	*sum;
	char			 cerr[RS_ERRLEN];

	json_object_object_add(o, "config", json_tokener_parse(text));
	cerr[0] = '\0';
	if (cfg_parse(text, strlen(text), &cfg, cerr) != RS_OK) {
		json_object_object_add(o, "summary", NULL);
		json_object_object_add(o, "configError",
		    json_object_new_string(cerr));
		return;
	}
	sum = json_object_new_object();
	json_object_object_add(sum, "baseUrl",
	    json_object_new_string(cfg.base_url));
	json_object_object_add(sum, "cursorStyle",
	    json_object_new_string(cfg_style_name(cfg.style)));
	json_object_object_add(sum, "pageSize",
	    json_object_new_int(cfg.page_size));
	json_object_object_add(sum, "requiresAuth",
	    json_object_new_boolean(cfg.requires_auth));
	json_object_object_add(sum, "provider",
	    json_object_new_string(cfg.provider != NULL ? cfg.provider :
	    "rest"));
	json_object_object_add(o, "summary", sum);
	json_object_object_add(o, "configError", NULL);
	cfg_free(&cfg);
}

static struct json_object *
src_row_json(PGresult *r, int i)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "id", src_str(r, i, COL_ID));
	json_object_object_add(o, "tenantId", src_str(r, i, COL_TENANT_ID));
	json_object_object_add(o, "tenantName",
	    src_str(r, i, COL_TENANT_NAME));
	json_object_object_add(o, "title", src_str(r, i, COL_TITLE));
	json_object_object_add(o, "enabled", src_bool(r, i, COL_ENABLED));
	src_add_config(o, PQgetvalue(r, i, COL_CONFIG));
	json_object_object_add(o, "hasSecret", src_bool(r, i, COL_SECRET));
	json_object_object_add(o, "nextCursor", src_str(r, i, COL_NEXT));
	json_object_object_add(o, "pageCount", src_int(r, i, COL_PAGES));
	json_object_object_add(o, "itemCount", src_int(r, i, COL_ITEMS));
	json_object_object_add(o, "lastStatus", src_str(r, i, COL_STATUS));
	json_object_object_add(o, "lastHttpStatus", src_int(r, i, COL_HTTP));
	json_object_object_add(o, "lastSyncedAt", src_str(r, i, COL_SYNCED));
	json_object_object_add(o, "lastError", src_str(r, i, COL_ERROR));
	json_object_object_add(o, "done", src_bool(r, i, COL_DONE));
	json_object_object_add(o, "total", src_int(r, i, COL_TOTAL));
	json_object_object_add(o, "docs", src_int(r, i, COL_DOCS));
	json_object_object_add(o, "chunks", src_int(r, i, COL_CHUNKS));
	json_object_object_add(o, "createdAt", src_str(r, i, COL_CREATED));
	json_object_object_add(o, "updatedAt", src_str(r, i, COL_UPDATED));
	json_object_object_add(o, "lastRun", PQgetisnull(r, i, COL_RUN) ? NULL :
	    json_tokener_parse(PQgetvalue(r, i, COL_RUN)));
	json_object_object_add(o, "lastErrorUrl", src_str(r, i, COL_ERR_URL));
	json_object_object_add(o, "rateWaitUntil", src_str(r, i,
	    COL_RATE_WAIT));
	json_object_object_add(o, "configChangedAt",
	    src_str(r, i, COL_CONFIG_AT));
	json_object_object_add(o, "configAsSaved",
	    src_bool(r, i, COL_AS_SAVED));
	return o;
}

/* Rows of SRC_LIST for id (NULL: all) into a new array. */
static enum rs_status
src_query(struct src_db *db, const char *id, struct json_object **out,
    int *truncated, char *err)
{
	PGresult	*r;
	char		 lim[16];
	const char	*v[2];
	int		 i, n;

	*out = NULL;
	*truncated = 0;
	(void)snprintf(lim, sizeof(lim), "%d", SRC_LIST_MAX + 1);
	v[0] = id;
	v[1] = lim;
	if ((r = src_run(db, SRC_LIST, 2, NULL, v, NULL, NULL, err)) == NULL)
		return RS_EDB;
	if (PQnfields(r) != COL__MAX) {
		PQclear(r);
		rs_errf(err, "database: unexpected list shape");
		return RS_EDB;
	}
	n = PQntuples(r);
	if (n > SRC_LIST_MAX) {
		n = SRC_LIST_MAX;
		*truncated = 1;
	}
	*out = json_object_new_array_ext(n);
	for (i = 0; i < n; i++)
		json_object_array_add(*out, src_row_json(r, i));
	PQclear(r);
	return RS_OK;
}

enum rs_status
src_list(struct src_db *db, struct json_object **out, int *truncated,
    char *err)
{
	return src_query(db, NULL, out, truncated, err);
}

enum rs_status
src_get(struct src_db *db, const char *id, struct json_object **out,
    char *err)
{
	struct json_object	*arr;
	enum rs_status		 st;
	int			 trunc;

	*out = NULL;
	if ((st = src_query(db, id, &arr, &trunc, err)) != RS_OK)
		return st;
	if (json_object_array_length(arr) != 1) {
		json_object_put(arr);
		rs_errf(err, "no such source");
		return RS_ENOTFOUND;
	}
	*out = json_object_get(json_object_array_get_idx(arr, 0));
	json_object_put(arr);
	return RS_OK;
}

enum rs_status
src_tenants(struct src_db *db, struct json_object **out, char *err)
{
	struct json_object	*t;
	PGresult		*r;
	int			 i;

	*out = NULL;
	if ((r = src_run(db, SRC_TENANTS, 0, NULL, NULL, NULL, NULL, err)) ==
	    NULL)
		return RS_EDB;
	*out = json_object_new_array_ext(PQntuples(r));
	for (i = 0; i < PQntuples(r); i++) {
		t = json_object_new_object();
		json_object_object_add(t, "id", src_str(r, i, 0));
		json_object_object_add(t, "name", src_str(r, i, 1));
		json_object_array_add(*out, t);
	}
	PQclear(r);
	return RS_OK;
}

/* ---- changes ---------------------------------------------------------- */

/*
 * What a config's key is bound to (sql/007): its provider and its
 * baseUrl's origin, and whether it sends a key at all.  RS_EINPUT when
 * the config does not parse.
 */
struct src_binding {
	char	 provider[80];
	char	 origin[FETCH_ORIGIN_MAX];
	int	 auth;
	int	 oauth;		/* auth oauth2_client_credentials */
	char	 token_origin[FETCH_ORIGIN_MAX];	/* its tokenUrl's */
};

static enum rs_status
src_binding_of(const char *config, size_t len, struct src_binding *b,
    char *err)
{
	struct source_config	 cfg;
	enum rs_status		 st;
	int			 n;

	memset(b, 0, sizeof(*b));
	if ((st = cfg_parse(config, len, &cfg, err)) != RS_OK)
		return st;
	n = snprintf(b->provider, sizeof(b->provider), "%s",
	    cfg.provider != NULL ? cfg.provider : "rest");
	if (n < 0 || (size_t)n >= sizeof(b->provider) ||
	    fetch_origin(cfg.base_url, b->origin, sizeof(b->origin)) == -1) {
		rs_errf(err, "'baseUrl' or 'provider' cannot bind a key");
		st = RS_EINPUT;
	}
	b->auth = cfg.requires_auth;
	b->oauth = cfg.auth == CFG_AUTH_OAUTH2;
	if (b->oauth && fetch_origin(cfg.token_url, b->token_origin,
	    sizeof(b->token_origin)) == -1 && st == RS_OK) {
		rs_errf(err, "'auth.tokenUrl' cannot bind a client secret");
		st = RS_EINPUT;
	}
	cfg_free(&cfg);
	return st;
}

/*
 * An update that moves a source to another origin or provider: the key
 * stored for the old one must not follow (issue 14), so unless the
 * request brings the key again the change is refused — RS_EINPUT naming
 * apiKey.  A source that sends no key may move freely (its key, if it
 * turns auth on later, is looked up for the new origin and not found).
 * The audit detail d says what moved.
 */
/* d.<what>Changed = true, d.<what> = {from, to}. */
static void
src_audit_moved(struct json_object *d, const char *what, const char *from,
    const char *to)
{
	struct json_object	*o = json_object_new_object();
	char			 key[32];

	(void)snprintf(key, sizeof(key), "%sChanged", what);
	json_object_object_add(d, key, json_object_new_boolean(1));
	json_object_object_add(o, "from", json_object_new_string(from));
	json_object_object_add(o, "to", json_object_new_string(to));
	json_object_object_add(d, what, o);
}

static enum rs_status
src_check_move(const struct src_input *in, const struct src_binding *now,
    const struct src_binding *was, struct json_object *d, char *err)
{
	int			 origin = strcmp(now->origin, was->origin) != 0;
	int			 prov = strcmp(now->provider, was->provider) != 0;
	int			 tok = now->oauth &&
				    strcmp(now->token_origin, was->token_origin) != 0;

	if ((origin || prov || tok) && now->auth && now->oauth &&
	    in->client_id == NULL) {
		rs_errf(err, "clientSecret: changing the origin, token URL "
		    "origin or provider of a source with OAuth2 client "
		    "credentials needs clientId and clientSecret again (they "
		    "are bound to %s and token origin %s)", was->origin[0] !=
		    '\0' ? was->origin : "the old origin",
		    was->token_origin[0] != '\0' ? was->token_origin : "none");
		return RS_EINPUT;
	}
	if (tok)
		src_audit_moved(d, "tokenOrigin", was->token_origin,
		    now->token_origin);
	if ((origin || prov) && now->auth && !src_has_secret(in)) {
		rs_errf(err, "apiKey: changing the origin or provider of a "
		    "source that requires auth needs its API key again (the "
		    "stored key is bound to %s)", was->origin[0] != '\0' ?
		    was->origin : "the old origin");
		return RS_EINPUT;
	}
	if (origin)
		src_audit_moved(d, "origin", was->origin, now->origin);
	if (prov)
		src_audit_moved(d, "provider", was->provider, now->provider);
	return RS_OK;
}

/*
 * The secret a request brings must fit the config's auth: client
 * credentials only for oauth2_client_credentials, and an apiKey never
 * for it.  RS_EINPUT naming the field.
 */
static enum rs_status
src_secret_fits(const struct src_input *in, const struct src_binding *b,
    char *err)
{
	if (in->client_id != NULL && !b->oauth) {
		rs_errf(err, "clientId: 'clientId' and 'clientSecret' are for "
		    "a config whose auth is {\"type\": "
		    "\"oauth2_client_credentials\", ...}");
		return RS_EINPUT;
	}
	if (in->api_key != NULL && b->oauth) {
		rs_errf(err, "apiKey: this config's auth is "
		    "oauth2_client_credentials: enter 'clientId' and "
		    "'clientSecret' instead");
		return RS_EINPUT;
	}
	return RS_OK;
}

/*
 * Encrypt the request's secret for tenant+provider+origin (AAD) and
 * upsert it, inside the caller's transaction.  The plaintext is
 * {"api_key": ...}, or {"client_id", "client_secret", "token_origin"}
 * (secret.h); its JSON text is wiped before it is freed.
 */
static enum rs_status
src_put_secret(struct src_db *db, const unsigned char key[SECRET_KEYLEN],
    const char *tenant_id, const struct src_binding *b,
    const struct src_input *in, char *err)
{
	struct json_object	*pt;
	unsigned char		*ct = NULL, nonce[SECRET_NONCELEN];
	size_t			 ctlen = 0;
	const char		*s, *v[5];
	int			 lens[5] = { 0, 0, 0, 0, 0 },
				 fmts[5] = { 0, 0, 1, 1, 0 };
	Oid			 types[5] = { 0, 0, OID_BYTEA, OID_BYTEA, 0 };
	PGresult		*r;
	enum rs_status		 st;

	if ((st = src_secret_fits(in, b, err)) != RS_OK)
		return st;
	pt = json_object_new_object();
	if (in->api_key != NULL)
		json_object_object_add(pt, "api_key",
		    json_object_new_string(in->api_key));
	else {
		json_object_object_add(pt, "client_id",
		    json_object_new_string(in->client_id));
		json_object_object_add(pt, "client_secret",
		    json_object_new_string(in->client_secret));
		json_object_object_add(pt, "token_origin",
		    json_object_new_string(b->token_origin));
	}
	s = json_object_to_json_string_ext(pt, JSON_C_TO_STRING_PLAIN);
	st = secret_encrypt(key, tenant_id, b->provider, b->origin, s,
	    strlen(s), &ct, &ctlen, nonce, err);
	OPENSSL_cleanse((void *)(uintptr_t)s, strlen(s));
	secret_wipe_json(pt);
	json_object_put(pt);
	if (st != RS_OK)
		goto out;
	v[0] = tenant_id;
	v[1] = b->provider;
	v[2] = (const char *)ct;
	v[3] = (const char *)nonce;
	v[4] = b->origin;
	lens[2] = (int)ctlen;
	lens[3] = SECRET_NONCELEN;
	if ((r = src_run(db, SRC_SECRET_PUT, 5, types, v, lens, fmts, err)) ==
	    NULL) {
		st = RS_EDB;
		goto out;
	}
	PQclear(r);
	st = RS_OK;
out:
	free(ct);
	return st;
}

/* The secret-at-rest key, when an API key is to be stored. */
static enum rs_status
src_key(const struct src_input *in, unsigned char key[SECRET_KEYLEN],
    char *err)
{
	char	 kerr[RS_ERRLEN];

	if (!src_has_secret(in))
		return RS_OK;
	kerr[0] = '\0';
	if (secret_load_key(key, kerr) != RS_OK) {
		rs_errf(err, "apiKey: cannot store the key: %s", kerr);
		return RS_EINTERNAL;
	}
	return RS_OK;
}

/*
 * The source as the page shows it, after a change was committed.  The
 * change is done whatever happens here: if reading it back fails, answer
 * RS_OK with {id, tenantId, partial: true} rather than an error that
 * would invite the caller to do it again.
 */
static enum rs_status
src_get_committed(struct src_db *db, const char *id, const char *tenant,
    struct json_object **out)
{
	char	 ignored[RS_ERRLEN];

	if (src_get(db, id, out, ignored) == RS_OK)
		return RS_OK;
	*out = json_object_new_object();
	json_object_object_add(*out, "id", json_object_new_string(id));
	json_object_object_add(*out, "tenantId", json_object_new_string(tenant));
	json_object_object_add(*out, "partial", json_object_new_boolean(1));
	return RS_OK;
}

enum rs_status
src_create(struct src_db *db, const char *actor, const struct src_input *in,
    struct json_object **out, char *err)
{
	unsigned char		 key[SECRET_KEYLEN];
	struct json_object	*d;
	struct src_binding	 bind;
	PGresult		*r = NULL;
	const char		*v[4];
	char			 id[37], tenant[37];
	enum rs_status		 st;

	*out = NULL;
	id[0] = '\0';
	memset(key, 0, sizeof(key));
	if (in->title == NULL || in->config == NULL) {
		rs_errf(err, "'title' and 'config' are required");
		return RS_EINPUT;
	}
	if ((st = src_key(in, key, err)) != RS_OK)
		goto fail;
	if ((st = src_begin(db, err)) != RS_OK)
		goto fail;
	v[0] = in->tenant_id;
	v[1] = in->title;
	v[2] = in->config;
	v[3] = in->enabled == 0 ? "false" : "true";
	if ((r = src_run(db, SRC_INSERT, 4, NULL, v, NULL, NULL, err)) ==
	    NULL) {
		st = RS_EDB;
		goto fail;
	}
	if (PQntuples(r) != 1) {
		rs_errf(err, "tenantId: no such tenant");
		st = RS_ENOTFOUND;
		goto fail;
	}
	(void)snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
	(void)snprintf(tenant, sizeof(tenant), "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	r = NULL;
	if (src_has_secret(in) && ((st = src_binding_of(in->config,
	    strlen(in->config), &bind, err)) != RS_OK ||
	    (st = src_put_secret(db, key, tenant, &bind, in, err)) != RS_OK))
		goto fail;
	/* What was created, never the key: only that one was stored. */
	d = json_object_new_object();
	json_object_object_add(d, "title", json_object_new_string(in->title));
	json_object_object_add(d, "enabled",
	    json_object_new_boolean(in->enabled != 0));
	json_object_object_add(d, "provider",
	    json_object_new_string(in->provider));
	json_object_object_add(d, "keyStored",
	    json_object_new_boolean(src_has_secret(in)));
	if ((st = src_audit_row(db, actor, "create", id, tenant, "ok", d,
	    err)) != RS_OK)
		goto fail;
	if ((st = src_commit(db, err)) != RS_OK)
		goto fail;
	OPENSSL_cleanse(key, sizeof(key));
	return src_get_committed(db, id, tenant, out);
fail:
	PQclear(r);
	src_rollback(db);
	src_audit_failure(db, actor, "create", NULL, in->tenant_id, st, err);
	OPENSSL_cleanse(key, sizeof(key));
	return st;
}

/*
 * The source's chunks get the roles of its new config (cfg_effective_
 * roles); *n says how many chunks changed.  Inside the update's
 * transaction.
 */
static enum rs_status
src_update_roles(struct src_db *db, const char *id, const char *config,
    size_t len, long long *n, char *err)
{
	struct source_config	 cfg;
	struct rs_buf		 lit;
	const char *const	*roles;
	const char		*v[2];
	char			 cerr[RS_ERRLEN];
	size_t			 nroles, i;
	enum rs_status		 st;

	*n = 0;
	cerr[0] = '\0';
	if (cfg_parse(config, len, &cfg, cerr) != RS_OK) {
		rs_errf(err, "config: %s", cerr);
		return RS_EINPUT;
	}
	cfg_effective_roles(&cfg, &roles, &nroles);
	/* Roles are [a-z0-9_-] (config.c): an array literal needs no
	 * quoting. */
	rs_buf_init(&lit, 64 + nroles * 80);
	st = RS_ENOMEM;
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
	st = src_exec(db, SRC_ROLES, 2, v, n, err);
out:
	if (st == RS_ENOMEM)
		rs_errf(err, "out of memory");
	rs_buf_free(&lit);
	cfg_free(&cfg);
	return st;
}

/* {"from": a, "to": b}, takes a and b; has_a/has_b 0: that side absent. */
static struct json_object *
src_from_to(int has_a, struct json_object *a, int has_b,
    struct json_object *b)
{
	struct json_object	*o = json_object_new_object();

	if (has_a)
		json_object_object_add(o, "from", a);
	if (has_b)
		json_object_object_add(o, "to", b);
	return o;
}

/*
 * The top-level keys of config that differ between the texts a and b
 * (JSON equality, so key order and spacing do not count), as
 * {key: {from, to}} ("from" absent: added, "to" absent: removed); NULL
 * when none differ or a text does not parse.
 */
static struct json_object *
src_config_diff(const char *a, const char *b)
{
	struct json_object	*ja, *jb, *d = NULL, *other;

	ja = json_tokener_parse(a);
	jb = json_tokener_parse(b);
	if (!json_object_is_type(ja, json_type_object) ||
	    !json_object_is_type(jb, json_type_object))
		goto out;
	d = json_object_new_object();
	{
		json_object_object_foreach(ja, ka, va) {
			if (!json_object_object_get_ex(jb, ka, &other))
				json_object_object_add(d, ka, src_from_to(1,
				    json_object_get(va), 0, NULL));
			else if (!json_object_equal(va, other))
				json_object_object_add(d, ka, src_from_to(1,
				    json_object_get(va), 1,
				    json_object_get(other)));
		}
	}
	{
		json_object_object_foreach(jb, kb, vb) {
			if (!json_object_object_get_ex(ja, kb, NULL))
				json_object_object_add(d, kb, src_from_to(0,
				    NULL, 1, json_object_get(vb)));
		}
	}
	if (json_object_object_length(d) == 0) {
		json_object_put(d);
		d = NULL;
	}
out:
	json_object_put(ja);
	json_object_put(jb);
	return d;
}

/*
 * The audit detail of an update from the row SRC_UPDATE returned (new
 * config; old title, config, enabled): {changed: [names], title: {from,
 * to}, enabled: {from, to}, config: {key: {from, to}}, keyStored,
 * chunksRolesUpdated}, only what really changed.  NULL when nothing did
 * and no key was given: a no-op save is not an event.
 */
static struct json_object *
src_update_detail(const struct src_input *in, PGresult *r,
    long long roles_changed)
{
	struct json_object	*d, *changed, *cd = NULL;
	int			 was_enabled;

	d = json_object_new_object();
	changed = json_object_new_array();
	if (in->title != NULL && strcmp(in->title, PQgetvalue(r, 0, 2)) != 0) {
		json_object_array_add(changed, json_object_new_string("title"));
		json_object_object_add(d, "title", src_from_to(1,
		    json_object_new_string(PQgetvalue(r, 0, 2)), 1,
		    json_object_new_string(in->title)));
	}
	if (in->config != NULL && (cd = src_config_diff(PQgetvalue(r, 0, 3),
	    PQgetvalue(r, 0, 1))) != NULL) {
		json_object_array_add(changed,
		    json_object_new_string("config"));
		json_object_object_add(d, "config", cd);
		json_object_object_add(d, "chunksRolesUpdated",
		    json_object_new_int64(roles_changed));
	}
	was_enabled = strcmp(PQgetvalue(r, 0, 4), "t") == 0;
	if (in->enabled >= 0 && in->enabled != was_enabled) {
		json_object_array_add(changed,
		    json_object_new_string("enabled"));
		json_object_object_add(d, "enabled", src_from_to(1,
		    json_object_new_boolean(was_enabled), 1,
		    json_object_new_boolean(in->enabled)));
	}
	if (src_has_secret(in)) {
		json_object_array_add(changed, json_object_new_string(
		    in->api_key != NULL ? "apiKey" : "clientSecret"));
		json_object_object_add(d, "keyStored",
		    json_object_new_boolean(1));
	}
	if (json_object_array_length(changed) == 0) {
		json_object_put(changed);
		json_object_put(d);
		return NULL;
	}
	json_object_object_add(d, "changed", changed);
	return d;
}

enum rs_status
src_update(struct src_db *db, const char *actor, const struct src_input *in,
    struct json_object **out, char *err)
{
	struct json_object	*d = NULL, *mv = NULL;
	struct src_binding	 now, was;
	unsigned char		 key[SECRET_KEYLEN];
	PGresult		*r = NULL;
	const char		*v[4];
	char			 tenant[37], cerr[RS_ERRLEN];
	long long		 roles_changed = 0;
	enum rs_status		 st;

	*out = NULL;
	tenant[0] = '\0';
	memset(key, 0, sizeof(key));
	if ((st = src_key(in, key, err)) != RS_OK)
		goto fail;
	if ((st = src_begin(db, err)) != RS_OK)
		goto fail;
	v[0] = in->source_id;
	v[1] = in->title;
	v[2] = in->config;
	v[3] = in->enabled < 0 ? NULL : in->enabled ? "true" : "false";
	if ((r = src_run(db, SRC_UPDATE, 4, NULL, v, NULL, NULL, err)) ==
	    NULL) {
		st = RS_EDB;
		goto fail;
	}
	if (PQntuples(r) != 1) {
		rs_errf(err, "no such source");
		st = RS_ENOTFOUND;
		goto fail;
	}
	(void)snprintf(tenant, sizeof(tenant), "%s", PQgetvalue(r, 0, 0));
	if (in->config != NULL && (st = src_update_roles(db, in->source_id,
	    PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1), &roles_changed,
	    err)) != RS_OK)
		goto fail;
	/* The binding of the config now stored, and of the one before. */
	mv = json_object_new_object();
	cerr[0] = '\0';
	if ((src_has_secret(in) || in->config != NULL) &&
	    src_binding_of(PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1),
	    &now, cerr) != RS_OK) {
		rs_errf(err, "config: the stored config is invalid (%s); send "
		    "a valid config with the key", cerr);
		st = RS_EINPUT;
		goto fail;
	}
	if (in->config != NULL) {
		if (src_binding_of(PQgetvalue(r, 0, 3),
		    (size_t)PQgetlength(r, 0, 3), &was, cerr) != RS_OK)
			memset(&was, 0, sizeof(was));
		if ((st = src_check_move(in, &now, &was, mv, err)) != RS_OK)
			goto fail;
	}
	if (src_has_secret(in) && (st = src_put_secret(db, key, tenant,
	    &now, in, err)) != RS_OK)
		goto fail;
	/* What changed, from and to, never the key; a no-op leaves no row. */
	d = src_update_detail(in, r, roles_changed);
	PQclear(r);
	r = NULL;
	if (json_object_object_length(mv) > 0) {
		json_object_object_foreach(mv, mk, mval) {
			if (d == NULL)
				d = json_object_new_object();
			json_object_object_add(d, mk, json_object_get(mval));
		}
	}
	json_object_put(mv);
	mv = NULL;
	if (d != NULL) {
		st = src_audit_row(db, actor, "update", in->source_id, tenant,
		    "ok", d, err);
		d = NULL;	/* put by src_audit_row */
		if (st != RS_OK)
			goto fail;
	}
	if ((st = src_commit(db, err)) != RS_OK)
		goto fail;
	OPENSSL_cleanse(key, sizeof(key));
	return src_get_committed(db, in->source_id, tenant, out);
fail:
	PQclear(r);
	json_object_put(d);
	json_object_put(mv);
	src_rollback(db);
	src_audit_failure(db, actor, "update", in->source_id, tenant, st, err);
	OPENSSL_cleanse(key, sizeof(key));
	return st;
}

enum rs_status
src_reset(struct src_db *db, const char *actor, const char *id,
    int keep_mark, struct json_object **out, char *err)
{
	struct json_object	*d, *before = NULL;
	PGresult		*r = NULL;
	const char		*v[2] = { id, keep_mark ? "true" : "false" };
	char			 tenant[37], *title = NULL;
	enum rs_status		 st;

	*out = NULL;
	tenant[0] = '\0';
	if ((st = src_begin(db, err)) != RS_OK)
		goto fail;
	if ((st = src_lock(db, id, tenant, &title, err)) != RS_OK)
		goto fail;
	if ((r = src_run(db, SRC_RESET, 2, NULL, v, NULL, NULL, err)) ==
	    NULL) {
		st = RS_EDB;
		goto fail;
	}
	/* No cursor row: never synced, nothing to start over. */
	if (PQntuples(r) == 1) {
		before = json_object_new_object();
		json_object_object_add(before, "pageCount",
		    json_object_new_int64(strtoll(PQgetvalue(r, 0, 0), NULL,
		    10)));
		json_object_object_add(before, "itemCount",
		    json_object_new_int64(strtoll(PQgetvalue(r, 0, 1), NULL,
		    10)));
		json_object_object_add(before, "done", json_object_new_boolean(
		    strcmp(PQgetvalue(r, 0, 2), "t") == 0));
		if (!PQgetisnull(r, 0, 3))
			json_object_object_add(before, "stoppedRunId",
			    json_object_new_string(PQgetvalue(r, 0, 3)));
	}
	PQclear(r);
	r = NULL;
	d = json_object_new_object();
	json_object_object_add(d, "title", json_object_new_string(title));
	json_object_object_add(d, "before", before);
	if (keep_mark)
		json_object_object_add(d, "keepMark",
		    json_object_new_boolean(1));
	if ((st = src_audit_row(db, actor, "reset", id, tenant, "ok", d,
	    err)) != RS_OK)
		goto fail;
	if ((st = src_commit(db, err)) != RS_OK)
		goto fail;
	free(title);
	return src_get_committed(db, id, tenant, out);
fail:
	PQclear(r);
	free(title);
	src_rollback(db);
	src_audit_failure(db, actor, "reset", id, tenant, st, err);
	return st;
}

enum rs_status
src_delete(struct src_db *db, const char *actor, const char *id,
    long long *docs, long long *chunks, char *err)
{
	struct json_object	*d;
	const char		*v[1] = { id };
	char			 tenant[37], *title = NULL;
	long long		 n = 0;
	enum rs_status		 st;

	*docs = *chunks = 0;
	tenant[0] = '\0';
	if ((st = src_begin(db, err)) != RS_OK)
		goto fail;
	if ((st = src_lock(db, id, tenant, &title, err)) != RS_OK ||
	    (st = src_exec(db, SRC_DEL_CHUNKS, 1, v, chunks, err)) != RS_OK ||
	    (st = src_exec(db, SRC_DEL_DOCS, 1, v, docs, err)) != RS_OK ||
	    (st = src_exec(db, SRC_DEL_CURSOR, 1, v, NULL, err)) != RS_OK ||
	    (st = src_exec(db, SRC_DEL_SOURCE, 1, v, &n, err)) != RS_OK)
		goto fail;
	if (n != 1) {
		rs_errf(err, "no such source");
		st = RS_ENOTFOUND;
		goto fail;
	}
	/* The trail outlives the source: the title says what it was. */
	d = json_object_new_object();
	json_object_object_add(d, "title", json_object_new_string(title));
	json_object_object_add(d, "docs", json_object_new_int64(*docs));
	json_object_object_add(d, "chunks", json_object_new_int64(*chunks));
	if ((st = src_audit_row(db, actor, "delete", id, tenant, "ok", d,
	    err)) != RS_OK)
		goto fail;
	if ((st = src_commit(db, err)) != RS_OK)
		goto fail;
	free(title);
	return RS_OK;
fail:
	*docs = *chunks = 0;
	free(title);
	src_rollback(db);
	src_audit_failure(db, actor, "delete", id, tenant, st, err);
	return st;
}

