/*
 * srcview.h — the JSON the source endpoints answer and audit, built with
 * json-c from the structs of srcdb.h and srcinput.h.  Prefix: srcview_.
 * Every function returns a new object the caller puts (or hands on);
 * none reads the database or holds a secret: audit details say that a
 * key was stored, never the key.
 */
#ifndef SRCVIEW_H
#define SRCVIEW_H

#include <stddef.h>

#include <json-c/json.h>

#include "rs.h"
#include "srcdb.h"
#include "srcinput.h"

/*
 * A source as the page shows it: id, tenantId, tenantName, title,
 * enabled, config, summary (or configError when the config does not
 * parse), hasSecret, nextCursor, pageCount, itemCount, lastStatus,
 * lastHttpStatus, lastSyncedAt, lastError, done, total, docs, chunks,
 * createdAt, updatedAt, lastRun, lastErrorUrl, rateWaitUntil,
 * configChangedAt, configAsSaved.
 */
struct json_object	*srcview_source(const struct srcdb_source *);

/* The struct srcdb_source rows, in order, as an array. */
struct json_object	*srcview_sources(const struct srcdb_rows *);

/* A change was committed but could not be read back: {id, tenantId,
 * partial: true}. */
struct json_object	*srcview_partial(const char *id, const char *tenant);

/* The struct srcdb_tenant rows: [{id, name}] */
struct json_object	*srcview_tenants(const struct srcdb_rows *);

/* The struct srcdb_audit rows: [{id, at, actor, action, outcome,
 * detail}], detail parsed. */
struct json_object	*srcview_audit(const struct srcdb_rows *);

/* The runs' JSON texts (srcdb_runs) parsed, as an array. */
struct json_object	*srcview_runs(const struct srcdb_rows *);

/* Audit details. */
/* A refused or failed change: {error: msg (or the status), status}. */
struct json_object	*srcview_failure(enum rs_status, const char *msg);

/* create: {title, enabled, provider, keyStored}. */
struct json_object	*srcview_create_detail(const struct source_input *);

/*
 * update: {changed: [names], title: {from, to}, enabled: {from, to},
 * config: {key: {from, to}}, chunksRolesUpdated, keyStored}, only what
 * really changed ("from" absent: a key added, "to" absent: removed).
 * NULL when nothing did and no key was given: a no-op save is not an
 * event.
 */
struct json_object	*srcview_update_detail(const struct source_input *,
			    const struct srcdb_updated *,
			    long long roles_changed);

/* d.<what>Changed = true, d.<what> = {from, to}. */
void			 srcview_moved(struct json_object *d,
			    const char *what, const char *from,
			    const char *to);

/* reset: {title, before: {pageCount, itemCount, done, stoppedRunId?} or
 * null, keepMark?}. */
struct json_object	*srcview_reset_detail(const char *title,
			    const struct srcdb_reset *, int keep_mark);

/* delete: {title, docs, chunks}. */
struct json_object	*srcview_delete_detail(const char *title,
			    long long docs, long long chunks);

#endif
