/*
 * obs.h — observability: health (database reachable, migrations current)
 * and Prometheus metrics computed from the database.  Prefix: obs_.  All
 * SQL lives in obs.c as static const statements indexed by an enum.
 *
 * Both run on the store's connection (store_db), so health tests the
 * very connection the program's other work uses.  Metrics come from the
 * database, not from process memory: the FastCGI workers, the CLI and
 * the scheduled workers are separate processes, and kb_rest_audit (one
 * row per batch) and kb_rest_cursors already hold everything.
 */
#ifndef OBS_H
#define OBS_H

#include <json-c/json.h>

#include "rs.h"
#include "store.h"

#define OBS_METRICS_MAX		(1024u * 1024)	/* exposition text cap */

/*
 * *out = {ok, database: {ok, ms[, error]}, migrations: {applied: [...],
 * expected: [...], current[, error]}} and *ok = ok.  expected are the
 * sql/NNN_name.sql names (without .sql) in the folder sql_dir (NULL or
 * unreadable: not ok, with an error); applied are schema_migrations'
 * versions; current when every expected one is applied.  ok = database
 * ok and migrations current.  Never fails: what went wrong is in *out.
 * Caller puts *out.
 */
void	obs_health(struct store *, const char *sql_dir,
	    struct json_object **out, int *ok);

/*
 * The Prometheus text exposition (format 0.0.4) into out (reset first),
 * from one query: restsync_up, restsync_batches_total{action,outcome},
 * restsync_items_total, restsync_chunks_inserted_total,
 * restsync_upstream_seconds and restsync_embed_seconds histograms,
 * restsync_sources{status}.  When the database does not answer, out
 * holds only restsync_up 0 and the status is RS_EDB (callers still answer
 * 200: a scrape that reached the program says "up 0").  RS_ENOMEM past
 * OBS_METRICS_MAX.
 */
enum rs_status	obs_metrics(struct store *, struct rs_buf *out, char *err);

#endif
