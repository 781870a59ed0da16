/*
 * sources.h — the operator's resource: list, create, update, reset and
 * delete REST sources, list tenants, store a tenant's API key.  Prefix:
 * src_.  The thin layer that ties four modules together, each in one
 * file: srcinput.c validates request bodies and query strings, srcdb.c
 * (common/db/) holds the SQL and returns structs, srcview.c renders the
 * JSON, srcsecret.c binds and stores the secret.  sources.c owns the
 * transactions and the audit rows.
 *
 * Request bodies are validated by srcin_parse_*() before the database is
 * touched, so bad input changes nothing.  Reset and delete take the same
 * advisory lock key as a batch (store.c) with pg_try_advisory_xact_lock
 * inside their transaction: RS_EBUSY while a batch of the source runs.
 *
 * The API key is write-only: it is encrypted (secret.h) into
 * integration_secrets for the source's tenant and its config's provider;
 * responses only ever say "hasSecret".
 *
 * Audit trail: create, update, reset and delete write a kb_rest_audit row
 * (actor = the nginx-validated operator, outcome "ok") in the same
 * transaction as the change; a change refused or failed for another
 * reason than bad input or an unknown source leaves an "error" row with
 * the message.  Details name what changed, never the API key.
 */
#ifndef SOURCES_H
#define SOURCES_H

#include <json-c/json.h>

#include "rs.h"
#include "srcinput.h"
#include "store.h"

#define SRC_LIST_MAX	2000	/* sources in one list response */
#define SRC_AUDIT_DEFAULT SRCIN_LIMIT_DEFAULT	/* entries in one listing */
#define SRC_AUDIT_MAX	SRCIN_LIMIT_MAX		/* ... and at most */

struct src_db;

/*
 * Borrow the store's connection (store_db: opened lazily, reopened
 * when lost).  st must outlive the src_db; src_close frees only the
 * src_db.
 */
enum rs_status	 src_open(struct src_db **, struct store *st, char *err);

void		 src_close(struct src_db *);

/*
 * *out = array of source objects (id, tenantId, tenantName, title,
 * enabled, config, summary, configError, hasSecret, nextCursor,
 * pageCount, itemCount, lastStatus, lastHttpStatus, lastSyncedAt,
 * lastError, done, total, docs, chunks, createdAt, updatedAt, lastRun,
 * lastErrorUrl: the failed request's redacted URL while lastStatus is
 * "error", configChangedAt: the last audited edit of the config), at most
 * SRC_LIST_MAX; *truncated = 1 when there were more.  Caller puts *out.
 */
enum rs_status	 src_list(struct src_db *, struct json_object **out,
		    int *truncated, char *err);

/* *out = the source object of id (as in src_list); RS_ENOTFOUND. */
enum rs_status	 src_get(struct src_db *, const char *id,
		    struct json_object **out, char *err);

/* *out = array of {id, name}, by name.  Caller puts *out. */
enum rs_status	 src_tenants(struct src_db *, struct json_object **out,
		    char *err);

/*
 * Create a REST source (and its tenant's secret when apiKey is given) in
 * one transaction, audited for actor; *out = the new source object.
 * RS_ENOTFOUND when the tenant does not exist; RS_EINTERNAL when the
 * secret key is unusable.
 */
enum rs_status	 src_create(struct src_db *, const char *actor,
		    const struct source_input *, struct json_object **out,
		    char *err);

/*
 * Update in one transaction, audited for actor with what really changed
 * (title and enabled {from, to}, config {key: {from, to}}, whether a key
 * was stored); a save that changes nothing writes no audit row and keeps
 * updated_at.  *out = the source object.  RS_ENOTFOUND.
 */
enum rs_status	 src_update(struct src_db *, const char *actor,
		    const struct source_input *, struct json_object **out,
		    char *err);

/*
 * A rest-sources (create = 1) or rest-sources-update body validated
 * (srcin_parse_input) and carried out by src_create or src_update for
 * actor.  source_id and tenant_id get the ids as far as they are known
 * (for the log line, also on failure); *key_stored whether a secret was
 * stored.  Never log the body: it may carry the API key.
 */
enum rs_status	 src_save(struct src_db *, const char *actor,
		    struct json_object *body, int create,
		    char source_id[RS_UUID_LEN + 1],
		    char tenant_id[RS_UUID_LEN + 1], int *key_stored,
		    struct json_object **out, char *err);

/*
 * Start the source over from the first page: cursor next NULL, done
 * false, counts 0, status and error NULL; docs and chunks stay.  The
 * incremental high-water mark is cleared (the next run is full) unless
 * keep_mark (the page's Sync again: a new walk, incremental).
 * *out = the source object.  RS_ENOTFOUND, RS_EBUSY (batch running).
 */
enum rs_status	 src_reset(struct src_db *, const char *actor,
		    const char *id, int keep_mark, struct json_object **out,
		    char *err);

/*
 * Delete chunks, docs, cursor and source in one transaction; *docs and
 * *chunks say how many rows went.  RS_ENOTFOUND, RS_EBUSY.
 */
enum rs_status	 src_delete(struct src_db *, const char *actor,
		    const char *id, long long *docs, long long *chunks,
		    char *err);

/*
 * *out = the last limit (1..SRC_AUDIT_MAX) audit entries of source id,
 * newest first: [{id, at, actor, action, outcome, detail}], detail as
 * written (a batch's JSON, or what an operator changed).  Sources that
 * were deleted keep their trail.  Caller puts *out.  RS_EINPUT, RS_EDB.
 */
enum rs_status	 src_audit(struct src_db *, const char *id, int limit,
		    struct json_object **out, char *err);

/*
 * *out = the last limit (1..SRC_AUDIT_MAX) runs of source id, newest
 * first: [{id, status, kind, actor, startedAt, finishedAt, fromStart,
 * pages, items, newItems, changedItems, unchangedItems, removedItems,
 * chunksInserted, chunksDeleted, embedInputs, itemsPerSecond, total,
 * sweep, sweepNote, sweepCandidates, error}].  RS_EINPUT, RS_EDB.
 */
enum rs_status	 src_runs(struct src_db *, const char *id, int limit,
		    struct json_object **out, char *err);

/*
 * *out = the last limit (1..SRC_AUDIT_MAX) sources of tenant that were
 * deleted, newest first, from the trail's delete rows: [{sourceId,
 * title, at, actor, docs, chunks}] (their history stays in src_audit).
 * RS_EINPUT, RS_EDB.
 */
enum rs_status	 src_deleted(struct src_db *, const char *tenant, int limit,
		    struct json_object **out, char *err);

#endif
