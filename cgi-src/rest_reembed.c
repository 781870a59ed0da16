/*
 * rest_reembed — POST /api/backoffice/rest-reembed {"sourceId"}: re-embed
 * groups of the source's chunks that carry another embedding model than
 * the deployment's (common/admin/reembed.h), starting groups for at most
 * REEMBED_START_MS and ending by BATCH_DEADLINE_MS (below nginx's
 * fastcgi_read_timeout); the page repeats it while "left" is above 0.
 * 200 {"ok":true,"sourceId","model","chunks","groups","left"}.  Raises
 * 400 for a bad body, 401/403, 404 for an unknown source, 405, 409 while
 * a batch of the source runs, 413, 415, 502 when the embedder fails, 503
 * when the database is down.
 */

#include <string.h>

#include "batch.h"
#include "endpoint.h"
#include "reembed.h"

#define REEMBED_START_MS	8000	/* start no group after this */

static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	struct reembed_result	 res;
	enum rs_status		 st;
	double			 t0 = rs_now_ms();

	memset(&res, 0, sizeof(res));
	if ((st = ep_source_id(r, err)) != RS_OK ||
	    (st = reembed_source(r->sto, r->batch->em, r->source_id, r->user,
	    t0 + REEMBED_START_MS, t0 + BATCH_DEADLINE_MS, &res, err)) != RS_OK)
		return st;
	json_object_object_add(r->log, "chunks",
	    json_object_new_int64(res.chunks));
	*out = reembed_result_json(r->source_id, &res);
	return RS_OK;
}

EP_PROGRAM("rest_reembed", "POST", "reembed", EP_BATCH, 200, handle)
