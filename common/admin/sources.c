/*
 * sources.c — the operator's REST sources: the operations of sources.h,
 * each a transaction with its audit row, tying together the validated
 * input (srcinput.c), the SQL (common/db/srcdb.c), the JSON (srcview.c)
 * and the secret (srcsecret.c).  The connection is the store's
 * (store_db).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "config.h"
#include "db.h"
#include "sources.h"
#include "srcdb.h"
#include "srcsecret.h"
#include "srcview.h"

struct src_db {
	struct store	*st;	/* owns the connection */
	struct db	*db;	/* the store's (common/db/db.h) */
};

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
	enum rs_status	 st;

	st = srcdb_audit_add(db->db, actor, action, source_id, tenant_id,
	    outcome, detail != NULL ? json_object_to_json_string_ext(detail,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : NULL,
	    err);
	json_object_put(detail);
	return st;
}

/*
 * After a refused or failed change: roll back, then an 'error' row with
 * the message, best effort.  Bad input and unknown sources are the
 * caller's mistakes, not operations, and leave no row.
 */
static void
src_fail(struct src_db *db, const char *actor, const char *action,
    const char *source_id, const char *tenant_id, enum rs_status st,
    const char *msg)
{
	db_rollback(db->db);
	if (st == RS_EINPUT || st == RS_ENOTFOUND || st == RS_ENOMEM)
		return;
	(void)src_audit_row(db, actor, action, source_id, tenant_id, "error",
	    srcview_failure(st, msg), NULL);
}

/* Audit the change and commit it. */
static enum rs_status
src_audit_commit(struct src_db *db, const char *actor, const char *action,
    const char *id, const char *tenant, struct json_object *detail,
    char *err)
{
	enum rs_status	 st;

	if ((st = src_audit_row(db, actor, action, id, tenant, "ok", detail,
	    err)) != RS_OK)
		return st;
	return db_commit(db->db, err);
}

/* ---- listings --------------------------------------------------------- */

/* The sources of id (NULL: all) as an array. */
static enum rs_status
src_query(struct src_db *db, const char *id, struct json_object **out,
    int *truncated, char *err)
{
	struct srcdb_rows	 rows;
	enum rs_status		 st;

	*out = NULL;
	if ((st = srcdb_list(db->db, id, NULL, SRC_LIST_MAX, &rows, truncated,
	    err)) != RS_OK)
		return st;
	*out = srcview_sources(&rows);
	srcdb_rows_free(&rows);
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
	struct srcdb_rows	 rows;
	enum rs_status		 st;

	*out = NULL;
	if ((st = srcdb_tenants(db->db, &rows, err)) != RS_OK)
		return st;
	*out = srcview_tenants(&rows);
	srcdb_rows_free(&rows);
	return RS_OK;
}

/*
 * A listing of one source (the audit trail, the runs): limit checked
 * (RS_EINPUT, HTTP 400, outside 1..SRC_AUDIT_MAX), the rows loaded,
 * then rendered.
 */
static enum rs_status
src_listing(struct src_db *db, const char *id, int limit,
    enum rs_status (*load)(struct db *, const char *, int,
    struct srcdb_rows *, char *),
    struct json_object *(*view)(const struct srcdb_rows *),
    struct json_object **out, char *err)
{
	struct srcdb_rows	 rows;
	enum rs_status		 st;

	*out = NULL;
	if (!srcin_limit_ok(limit)) {
		rs_errf(err, "'limit' must be an integer from 1 to %d",
		    SRC_AUDIT_MAX);
		return RS_EINPUT;
	}
	if ((st = load(db->db, id, limit, &rows, err)) != RS_OK)
		return st;
	*out = view(&rows);
	srcdb_rows_free(&rows);
	return RS_OK;
}

enum rs_status
src_audit(struct src_db *db, const char *id, int limit,
    struct json_object **out, char *err)
{
	return src_listing(db, id, limit, srcdb_audit_list, srcview_audit,
	    out, err);
}

enum rs_status
src_runs(struct src_db *db, const char *id, int limit,
    struct json_object **out, char *err)
{
	return src_listing(db, id, limit, srcdb_runs, srcview_runs, out, err);
}

enum rs_status
src_deleted(struct src_db *db, const char *tenant, int limit,
    struct json_object **out, char *err)
{
	/* Rows of JSON text, like the runs'. */
	return src_listing(db, tenant, limit, srcdb_deleted, srcview_runs,
	    out, err);
}

/* ---- changes ---------------------------------------------------------- */

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
	*out = srcview_partial(id, tenant);
	return RS_OK;
}

enum rs_status
src_create(struct src_db *db, const char *actor,
    const struct source_input *in, struct json_object **out, char *err)
{
	unsigned char		 key[SECRET_KEYLEN];
	struct srcsec_binding	 bind;
	char			 id[RS_UUID_LEN + 1], tenant[RS_UUID_LEN + 1];
	enum rs_status		 st;

	*out = NULL;
	id[0] = '\0';
	memset(key, 0, sizeof(key));
	if (in->title == NULL || in->config == NULL) {
		rs_errf(err, "'title' and 'config' are required");
		return RS_EINPUT;
	}
	if ((st = srcsec_key(in, key, err)) != RS_OK ||
	    (st = db_begin(db->db, err)) != RS_OK ||
	    (st = srcdb_insert(db->db, in->tenant_id, in->title, in->config,
	    in->enabled != 0, id, tenant, err)) != RS_OK)
		goto fail;
	if (srcin_has_secret(in) && ((st = srcsec_binding_of(in->config,
	    strlen(in->config), &bind, err)) != RS_OK ||
	    (st = srcsec_check_shared(db->db, tenant, id, &bind, in, err)) !=
	    RS_OK ||
	    (st = srcsec_put(db->db, key, tenant, &bind, in, err)) != RS_OK))
		goto fail;
	/* What was created, never the key: only that one was stored. */
	if ((st = src_audit_commit(db, actor, "create", id, tenant,
	    srcview_create_detail(in), err)) != RS_OK)
		goto fail;
	OPENSSL_cleanse(key, sizeof(key));
	return src_get_committed(db, id, tenant, out);
fail:
	src_fail(db, actor, "create", NULL, in->tenant_id, st, err);
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
    long long *n, char *err)
{
	struct source_config	 cfg;
	const char *const	*roles;
	char			 cerr[RS_ERRLEN];
	size_t			 nroles;
	enum rs_status		 st;

	*n = 0;
	cerr[0] = '\0';
	if (cfg_parse(config, strlen(config), &cfg, cerr) != RS_OK) {
		rs_errf(err, "config: %s", cerr);
		return RS_EINPUT;
	}
	cfg_effective_roles(&cfg, &roles, &nroles);
	st = srcdb_set_roles(db->db, id, roles, nroles, n, err);
	cfg_free(&cfg);
	return st;
}

/*
 * What follows the row's update, inside its transaction: the chunks'
 * roles, the secret's binding (the config now stored, and the one
 * before: a move is refused without the secret again, what moved goes
 * into mv), the secret itself.
 */
static enum rs_status
src_update_bound(struct src_db *db, const struct source_input *in,
    const unsigned char key[SECRET_KEYLEN], const struct srcdb_updated *u,
    struct json_object *mv, long long *roles_changed, char *err)
{
	struct srcsec_binding	 now, was;
	char			 cerr[RS_ERRLEN];
	enum rs_status		 st;

	*roles_changed = 0;
	if (in->config != NULL && (st = src_update_roles(db, in->source_id,
	    u->config, roles_changed, err)) != RS_OK)
		return st;
	cerr[0] = '\0';
	if ((srcin_has_secret(in) || in->config != NULL) &&
	    srcsec_binding_of(u->config, strlen(u->config), &now, cerr) !=
	    RS_OK) {
		rs_errf(err, "config: the stored config is invalid (%s); send "
		    "a valid config with the key", cerr);
		return RS_EINPUT;
	}
	if (in->config != NULL) {
		if (srcsec_binding_of(u->old_config, strlen(u->old_config),
		    &was, cerr) != RS_OK)
			memset(&was, 0, sizeof(was));
		if ((st = srcsec_check_move(in, &now, &was, mv, err)) != RS_OK)
			return st;
	}
	if (!srcin_has_secret(in))
		return RS_OK;
	if ((st = srcsec_check_shared(db->db, u->tenant_id, in->source_id,
	    &now, in, err)) != RS_OK)
		return st;
	return srcsec_put(db->db, key, u->tenant_id, &now, in, err);
}

/* The audit detail of an update with what moved (mv) merged in; NULL
 * when nothing changed.  Takes mv. */
static struct json_object *
src_update_detail(const struct source_input *in,
    const struct srcdb_updated *u, long long roles_changed,
    struct json_object *mv)
{
	struct json_object	*d;

	d = srcview_update_detail(in, u, roles_changed);
	if (json_object_object_length(mv) > 0) {
		json_object_object_foreach(mv, mk, mval) {
			if (d == NULL)
				d = json_object_new_object();
			json_object_object_add(d, mk, json_object_get(mval));
		}
	}
	json_object_put(mv);
	return d;
}

enum rs_status
src_update(struct src_db *db, const char *actor,
    const struct source_input *in, struct json_object **out, char *err)
{
	struct json_object	*d, *mv = NULL;
	struct srcdb_updated	 u;
	unsigned char		 key[SECRET_KEYLEN];
	char			 tenant[RS_UUID_LEN + 1];
	long long		 roles_changed = 0;
	enum rs_status		 st;

	*out = NULL;
	tenant[0] = '\0';
	memset(&u, 0, sizeof(u));
	memset(key, 0, sizeof(key));
	if ((st = srcsec_key(in, key, err)) != RS_OK ||
	    (st = db_begin(db->db, err)) != RS_OK ||
	    (st = srcdb_update(db->db, in->source_id, in->title, in->config,
	    in->enabled, &u, err)) != RS_OK)
		goto fail;
	(void)snprintf(tenant, sizeof(tenant), "%s", u.tenant_id);
	mv = json_object_new_object();
	if ((st = src_update_bound(db, in, key, &u, mv, &roles_changed,
	    err)) != RS_OK)
		goto fail;
	/* What changed, from and to, never the key; a no-op leaves no row. */
	d = src_update_detail(in, &u, roles_changed, mv);
	mv = NULL;
	if (d != NULL)
		st = src_audit_commit(db, actor, "update", in->source_id,
		    tenant, d, err);
	else
		st = db_commit(db->db, err);
	if (st != RS_OK)
		goto fail;
	srcdb_updated_free(&u);
	OPENSSL_cleanse(key, sizeof(key));
	return src_get_committed(db, in->source_id, tenant, out);
fail:
	json_object_put(mv);
	srcdb_updated_free(&u);
	src_fail(db, actor, "update", in->source_id, tenant, st, err);
	OPENSSL_cleanse(key, sizeof(key));
	return st;
}

/* The string field name of o into id ("" when none). */
static void
src_copy_id(char id[RS_UUID_LEN + 1], struct json_object *o,
    const char *name)
{
	struct json_object	*v;

	(void)snprintf(id, RS_UUID_LEN + 1, "%s",
	    json_object_object_get_ex(o, name, &v) &&
	    json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : "");
}

/*
 * An update whose config names no provider keeps the one the stored
 * config names (a source stored without one stays on the default).
 */
static enum rs_status
src_keep_provider(struct src_db *db, struct source_input *in, char *err)
{
	struct srcdb_rows	 rows;
	char			 p[SRCIN_PROVIDER_MAX + 1];
	enum rs_status		 st;
	int			 trunc;

	if (in->config == NULL || in->provider_named)
		return RS_OK;
	if ((st = srcdb_list(db->db, in->source_id, NULL, 1, &rows, &trunc,
	    err)) != RS_OK)
		return st;
	if (rows.n == 1 && ((struct srcdb_source *)rows.v)->config != NULL &&
	    srcin_named_provider(((struct srcdb_source *)rows.v)->config, p,
	    sizeof(p)))
		st = srcin_set_provider(in, p, err);
	srcdb_rows_free(&rows);
	return st;
}

enum rs_status
src_save(struct src_db *db, const char *actor, struct json_object *body,
    int create, char source_id[RS_UUID_LEN + 1],
    char tenant_id[RS_UUID_LEN + 1], int *key_stored,
    struct json_object **out, char *err)
{
	struct source_input	 in;
	enum rs_status		 st;

	*out = NULL;
	*key_stored = 0;
	st = srcin_parse_input(body, create, &in, err);
	(void)snprintf(source_id, RS_UUID_LEN + 1, "%s", in.source_id);
	(void)snprintf(tenant_id, RS_UUID_LEN + 1, "%s", in.tenant_id);
	if (st == RS_OK && !create)
		st = src_keep_provider(db, &in, err);
	if (st == RS_OK)
		st = create ? src_create(db, actor, &in, out, err) :
		    src_update(db, actor, &in, out, err);
	if (st == RS_OK) {
		*key_stored = srcin_has_secret(&in);
		src_copy_id(source_id, *out, "id");
		src_copy_id(tenant_id, *out, "tenantId");
	}
	srcin_free(&in);
	return st;
}

enum rs_status
src_reset(struct src_db *db, const char *actor, const char *id,
    int keep_mark, struct json_object **out, char *err)
{
	struct srcdb_reset	 before;
	char			 tenant[RS_UUID_LEN + 1], *title = NULL;
	enum rs_status		 st;

	*out = NULL;
	tenant[0] = '\0';
	if ((st = db_begin(db->db, err)) != RS_OK ||
	    (st = srcdb_lock(db->db, id, tenant, &title, err)) != RS_OK ||
	    (st = srcdb_reset(db->db, id, keep_mark, &before, err)) != RS_OK ||
	    (st = src_audit_commit(db, actor, "reset", id, tenant,
	    srcview_reset_detail(title, &before, keep_mark), err)) != RS_OK)
		goto fail;
	free(title);
	return src_get_committed(db, id, tenant, out);
fail:
	free(title);
	src_fail(db, actor, "reset", id, tenant, st, err);
	return st;
}

enum rs_status
src_delete(struct src_db *db, const char *actor, const char *id,
    long long *docs, long long *chunks, char *err)
{
	char		 tenant[RS_UUID_LEN + 1], *title = NULL;
	enum rs_status	 st;

	*docs = *chunks = 0;
	tenant[0] = '\0';
	/* The trail outlives the source: the title says what it was. */
	if ((st = db_begin(db->db, err)) != RS_OK ||
	    (st = srcdb_lock(db->db, id, tenant, &title, err)) != RS_OK ||
	    (st = srcdb_delete(db->db, id, docs, chunks, err)) != RS_OK ||
	    (st = src_audit_commit(db, actor, "delete", id, tenant,
	    srcview_delete_detail(title, *docs, *chunks), err)) != RS_OK)
		goto fail;
	free(title);
	return RS_OK;
fail:
	*docs = *chunks = 0;
	free(title);
	src_fail(db, actor, "delete", id, tenant, st, err);
	return st;
}
