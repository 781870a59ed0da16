/*
 * rest_sync — POST /api/backoffice/rest-sync {"sourceId"}
 * Starts a server-side run of the source (docs/RUNS.md): a worker carries
 * it out page by page until it is done, fails or is stopped, whether or
 * not anybody watches.  A done source starts over from its first page; an
 * unfinished one goes on where its cursor is.  Audited as "run-start".
 * 202 {"ok":true,"runId"} at once.  Raises 400 for bad JSON or sourceId,
 * 401/403 for a missing or non-admin operator, 403 cross-site, 404 for
 * an unknown source, 405, 409 while a batch or a run of the source is
 * going or when it is disabled, 415, 503.
 */

#include "endpoint.h"
#include "fcgi_io.h"
#include "runs.h"

static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	enum rs_status	 st;
	char		 run[RS_UUID_LEN + 1] = "";

	if ((st = ep_source_id(r, err)) != RS_OK ||
	    (st = runs_start(r->sto, r->source_id, r->user, run, err)) != RS_OK)
		return st;
	json_object_object_add(r->log, "run_id", json_object_new_string(run));
	*out = ep_ok_with("runId", json_object_new_string(run));
	return RS_OK;
}

EP_PROGRAM("rest_sync", "POST", "run-start", 0, 202, handle)
