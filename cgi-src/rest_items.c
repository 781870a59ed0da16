/*
 * rest_items — GET /api/backoffice/rest-items?sourceId=<uuid>&after=<key>
 * &limit=N, keyset paged (common/admin/inspect.h):
 * 200 {"ok":true,"sourceId","limit","items":[{key, title, chunks,
 * firstSeenAt, lastSeenAt, changedAt}],"next":<key>|null}; pass next as
 * after for the following page.  GET ...?sourceId=<uuid>&key=<key>: 200
 * {"ok":true,"sourceId","item":{...},"chunks":[{position, chunkIndex,
 * docTitle, title, content, contentHash, allowedRoles, embeddingModel}]}.
 * Raises 400 for a bad query string, 401/403 for a missing or non-admin
 * operator, 404 for an unknown source or item, 405 for other methods than
 * GET and HEAD, 503 when the database is down.
 */

#include <string.h>

#include "endpoint.h"
#include "fcgi_io.h"
#include "inspect.h"

static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	struct insp_items_query	 q;
	struct json_object	*res = NULL;
	enum rs_status		 st;

	memset(&q, 0, sizeof(q));
	st = insp_parse_items_query(r->query, &q, err);
	(void)snprintf(r->source_id, sizeof(r->source_id), "%s", q.source_id);
	if (q.key[0] != '\0')
		r->action = "item";
	if (st == RS_OK)
		st = q.key[0] != '\0' ? insp_item_chunks(r->insp, &q, &res,
		    err) : insp_items(r->insp, &q, &res, err);
	if (st != RS_OK)
		return st;
	*out = ep_ok_with("sourceId", json_object_new_string(q.source_id));
	if (q.key[0] == '\0')
		json_object_object_add(*out, "limit",
		    json_object_new_int(q.limit));
	json_object_object_foreach(res, name, val)
		json_object_object_add(*out, name, json_object_get(val));
	json_object_put(res);
	return RS_OK;
}

EP_PROGRAM("rest_items", "GET, HEAD", "items", EP_INSPECT, 200, handle)
