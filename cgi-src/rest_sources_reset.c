/*
 * rest_sources_reset — POST /api/backoffice/rest-sources-reset
 *   {"sourceId", "keepMark"?}  (keepMark: a new walk that keeps the
 *   incremental high-water mark, as "Sync again" does)
 * Starts the source over from the first page (docs and chunks stay);
 * audited as "reset".  200 {"ok":true,"source":{...}}.  Raises 400 for
 * bad JSON or sourceId, 401/403 for a missing or non-admin operator, 403
 * cross-site, 404 for an unknown source, 405, 409 while a batch of the
 * source runs, 415, 503.
 */

#include "endpoint.h"
#include "fcgi_io.h"
#include "sources.h"

static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	struct json_object	*res = NULL;
	enum rs_status		 st;
	int			 keep_mark = 0;

	if ((st = srcin_parse_reset(r->body, r->source_id, &keep_mark,
	    err)) != RS_OK ||
	    (st = src_reset(r->src, r->user, r->source_id, keep_mark, &res,
	    err)) != RS_OK)
		return st;
	(void)snprintf(r->tenant_id, sizeof(r->tenant_id), "%s",
	    json_object_get_string(json_object_object_get(res, "tenantId")));
	*out = ep_ok_with("source", res);
	return RS_OK;
}

EP_PROGRAM("rest_sources_reset", "POST", "reset", EP_SOURCES, 200, handle)
