/*
 * rest_sweep — POST /api/backoffice/rest-sweep {"sourceId", "runId"}
 * Carries out the held sweep of the source's latest run: the items that
 * run did not see leave with the chunks no other item holds, in one
 * transaction, audited as "sweep" (docs/SYNC-RUNS.md).  200 {"ok":true,
 * "sourceId","runId","sweep":"confirmed","note","removedItems",
 * "chunksDeleted"}.  Raises 400 for bad JSON or ids, 401/403 for a
 * missing or non-admin operator, 403 cross-site, 404 for an unknown
 * source or run, 405, 409 while a batch of the source runs, when the run
 * has no held sweep or a newer run started, 415, 503.
 */

#include "endpoint.h"
#include "fcgi_io.h"
#include "runs.h"
#include "srcinput.h"

static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	struct runs_sweep	 sw;
	enum rs_status		 st;
	char			 run[RS_UUID_LEN + 1] = "";

	if ((st = srcin_parse_sweep(r->body, r->source_id, run, err)) != RS_OK ||
	    (st = runs_confirm_sweep(r->sto, r->source_id, run, r->user, &sw,
	    err)) != RS_OK)
		return st;
	json_object_object_add(r->log, "removed",
	    json_object_new_int64(sw.removed));
	*out = ep_ok_with("sourceId", json_object_new_string(r->source_id));
	json_object_object_add(*out, "runId", json_object_new_string(run));
	json_object_object_add(*out, "sweep", json_object_new_string(sw.sweep));
	json_object_object_add(*out, "note", json_object_new_string(sw.note));
	json_object_object_add(*out, "removedItems",
	    json_object_new_int64(sw.removed));
	json_object_object_add(*out, "chunksDeleted",
	    json_object_new_int64(sw.chunks));
	return RS_OK;
}

EP_PROGRAM("rest_sweep", "POST", "sweep", 0, 200, handle)
