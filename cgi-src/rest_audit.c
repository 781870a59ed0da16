/*
 * rest_audit — GET /api/backoffice/rest-audit?sourceId=<uuid>&limit=N
 * The last N (default 20, at most 200) audit entries of a source, newest
 * first: 200 {"ok":true,"sourceId","limit","entries":[{id, at, actor,
 * action, outcome, detail}]} (common/admin/sources.h).  A deleted source keeps
 * its trail; an unknown one has none.
 * GET /api/backoffice/rest-audit?tenantId=<uuid>&limit=N
 * The tenant's last N deleted sources, from the trail: 200 {"ok":true,
 * "tenantId","limit","deleted":[{sourceId, title, at, actor, docs,
 * chunks}]}, so that their history stays reachable.  Raises 400 for any other query
 * string (unknown, repeated or malformed parameters), 401/403 for a
 * missing or non-admin operator, 405 for other methods than GET and HEAD,
 * 503 when the database is down.
 */

#include <string.h>

#include "endpoint.h"
#include "sources.h"
#include "srcinput.h"

/* ?tenantId=<uuid>[&limit=N]: the tenant's deleted sources. */
static enum rs_status
deleted(struct ep_req *r, struct json_object **out, char *err)
{
	struct json_object	*res = NULL;
	enum rs_status		 st;
	int			 limit = 0;

	if ((st = srcin_parse_deleted_query(r->query, r->tenant_id, &limit,
	    err)) != RS_OK ||
	    (st = src_deleted(r->src, r->tenant_id, limit, &res, err)) !=
	    RS_OK)
		return st;
	json_object_object_add(r->log, "deleted",
	    json_object_new_int((int)json_object_array_length(res)));
	*out = ep_ok_with("tenantId", json_object_new_string(r->tenant_id));
	json_object_object_add(*out, "limit", json_object_new_int(limit));
	json_object_object_add(*out, "deleted", res);
	return RS_OK;
}

static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	const char	*q = r->query != NULL ? r->query : "";

	if (strncmp(q, "tenantId=", 9) == 0 ||
	    strstr(q, "&tenantId=") != NULL)
		return deleted(r, out, err);
	return ep_source_listing(r, src_audit, "entries", out, err);
}

EP_PROGRAM("rest_audit", "GET, HEAD", "audit", EP_SOURCES, 200, handle)
