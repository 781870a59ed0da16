/*
 * rest_delete — POST /api/backoffice/rest-delete {"sourceId"}
 * Deletes the source's chunks, docs, cursor and the source itself in one
 * transaction, audited as "delete" (the trail stays).
 * 200 {"ok":true,"sourceId","deleted":{"docs":n,"chunks":m}}.
 * Raises 400 for bad JSON or sourceId, 401/403 for a missing or non-admin
 * operator, 403 cross-site, 404 for an unknown source, 405, 409 while a
 * batch of the source runs, 415, 503.
 */

#include "endpoint.h"
#include "fcgi_io.h"
#include "sources.h"

static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	struct json_object	*del;
	enum rs_status		 st;
	long long		 docs = 0, chunks = 0;

	if ((st = ep_source_id(r, err)) != RS_OK ||
	    (st = src_delete(r->src, r->user, r->source_id, &docs, &chunks,
	    err)) != RS_OK)
		return st;
	del = json_object_new_object();
	json_object_object_add(del, "docs", json_object_new_int64(docs));
	json_object_object_add(del, "chunks", json_object_new_int64(chunks));
	json_object_object_add(r->log, "deleted", json_object_get(del));
	*out = ep_ok_with("sourceId", json_object_new_string(r->source_id));
	json_object_object_add(*out, "deleted", del);
	return RS_OK;
}

EP_PROGRAM("rest_delete", "POST", "delete", EP_SOURCES, 200, handle)
