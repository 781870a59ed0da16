/*
 * rest_sync_stop — POST /api/backoffice/rest-sync-stop {"sourceId"}
 * Stops the source's server-side run after the page in flight (at once
 * when no worker carries it out); audited as "run-stop".  200
 * {"ok":true,"runId","stopped"} where stopped says it is stopped already
 * (else its worker stops it after the page in flight).  Raises 400, 401,
 * 403, 404 for an unknown source, 405, 409 when no run is going, 415,
 * 503.
 */

#include "endpoint.h"
#include "fcgi_io.h"
#include "runs.h"

static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	enum rs_status	 st;
	char		 run[RS_UUID_LEN + 1] = "";
	int		 now = 0;

	if ((st = ep_source_id(r, err)) != RS_OK ||
	    (st = runs_stop(r->sto, r->source_id, r->user, run, &now,
	    err)) != RS_OK)
		return st;
	*out = ep_ok_with("runId", json_object_new_string(run));
	json_object_object_add(*out, "stopped", json_object_new_boolean(now));
	return RS_OK;
}

EP_PROGRAM("rest_sync_stop", "POST", "run-stop", 0, 200, handle)
