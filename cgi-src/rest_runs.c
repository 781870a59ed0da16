/*
 * rest_runs — GET /api/backoffice/rest-runs?sourceId=<uuid>&limit=N
 * The last N (default 20, at most 200) runs of a source, newest first:
 * 200 {"ok":true,"sourceId","limit","runs":[{id, status, kind, actor,
 * startedAt, finishedAt, pages, items, newItems, changedItems,
 * unchangedItems, removedItems, chunksInserted, chunksDeleted,
 * embedInputs, itemsPerSecond, total, sweep, sweepNote, sweepCandidates,
 * error}]} (common/admin/sources.h, docs/SYNC-RUNS.md).  Raises 400 for any
 * other query string, 401/403 for a missing or non-admin operator, 405
 * for other methods than GET and HEAD, 503 when the database is down.
 */

#include "endpoint.h"
#include "sources.h"

static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	return ep_source_listing(r, src_runs, "runs", out, err);
}

EP_PROGRAM("rest_runs", "GET, HEAD", "runs", EP_SOURCES, 200, handle)
