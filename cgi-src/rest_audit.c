/*
 * rest_audit — GET /api/backoffice/rest-audit?sourceId=<uuid>&limit=N
 * The last N (default 20, at most 200) audit entries of a source, newest
 * first: 200 {"ok":true,"sourceId","limit","entries":[{id, at, actor,
 * action, outcome, detail}]} (common/admin/sources.h).  A deleted source keeps
 * its trail; an unknown one has none.  Raises 400 for any other query
 * string (unknown, repeated or malformed parameters), 401/403 for a
 * missing or non-admin operator, 405 for other methods than GET and HEAD,
 * 503 when the database is down.
 */

#include "endpoint.h"
#include "sources.h"

static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	return ep_source_listing(r, src_audit, "entries", out, err);
}

EP_PROGRAM("rest_audit", "GET, HEAD", "audit", EP_SOURCES, 200, handle)
