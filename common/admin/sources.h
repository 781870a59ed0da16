/*
 * sources.h — the operator's resource: list, create, update, reset and
 * delete REST sources, list tenants, store a tenant's API key.  Prefix:
 * src_.  All SQL lives in sources.c as static const statements indexed by
 * an enum (like store.c).
 *
 * Request bodies are validated by src_parse_*() before the database is
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
#include "store.h"

#define SRC_TITLE_MAX	200	/* characters, like the schema's CHECK */
#define SRC_APIKEY_MAX	4096	/* bytes */
#define SRC_LIST_MAX	2000	/* sources in one list response */
#define SRC_AUDIT_DEFAULT 20	/* audit entries in one response ... */
#define SRC_AUDIT_MAX	200	/* ... and at most */

/* A validated create or update request. */
struct src_input {
	char	 source_id[37];	/* update: the source */
	char	 tenant_id[37];	/* create: the tenant */
	char	*title;		/* NULL: unchanged (update only) */
	char	*config;	/* JSON text; NULL: unchanged (update only) */
	char	*provider;	/* the config's provider, with config */
	char	*api_key;	/* NULL: leave the stored secret alone */
	/* auth oauth2_client_credentials: both or neither (NULL: leave the
	 * stored secret alone); never with api_key. */
	char	*client_id;
	char	*client_secret;
	int	 enabled;	/* 1, 0, or -1: unchanged / default */
};

/*
 * Validate a create (create = 1: tenantId, title, config required) or an
 * update (sourceId required; title, config, apiKey, enabled optional)
 * body into *in (zeroed first, empty again on failure).  RS_EINPUT with a
 * message that names the field; RS_ENOMEM.  An empty apiKey means "leave
 * the key alone"; unknown fields are refused.  clientId and clientSecret
 * (write-only, like apiKey) come together, never with apiKey.
 */
enum rs_status	 src_parse_input(struct json_object *body, int create,
		    struct src_input *in, char *err);
void		 src_input_free(struct src_input *);

/* 1 when the request brings a secret to store (apiKey or the client
 * credentials). */
int		 src_has_secret(const struct src_input *);

/* {"sourceId": "<uuid>"} (and nothing else) into id.  RS_EINPUT. */
enum rs_status	 src_parse_id(struct json_object *body, char id[37],
		    char *err);

/* rest-sources-reset: {"sourceId", "keepMark"?: bool}.  RS_EINPUT. */
enum rs_status	 src_parse_reset(struct json_object *body, char id[37],
		    int *keep_mark, char *err);

/* 1 if s is valid UTF-8 of 1..max characters, none a control character,
 * not only white space. */
int		 src_valid_text(const char *s, size_t max);

/*
 * The query string of GET rest-audit: sourceId=<uuid> (required) and
 * limit=1..SRC_AUDIT_MAX (default SRC_AUDIT_DEFAULT), each at most once,
 * nothing else, no encoding (neither value needs any).  RS_EINPUT with a
 * message naming the parameter; id and *limit are reset on failure.
 */
enum rs_status	 src_parse_audit_query(const char *qs, char id[37],
		    int *limit, char *err);

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
		    const struct src_input *, struct json_object **out,
		    char *err);

/*
 * Update in one transaction, audited for actor with what really changed
 * (title and enabled {from, to}, config {key: {from, to}}, whether a key
 * was stored); a save that changes nothing writes no audit row and keeps
 * updated_at.  *out = the source object.  RS_ENOTFOUND.
 */
enum rs_status	 src_update(struct src_db *, const char *actor,
		    const struct src_input *, struct json_object **out,
		    char *err);

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

/* {"sourceId", "runId"} (both UUIDs, nothing else).  RS_EINPUT. */
enum rs_status	 src_parse_sweep(struct json_object *body, char id[37],
		    char run[37], char *err);

#endif
