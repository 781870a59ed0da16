/*
 * rest_sources — the operator's list of REST sources, and creation.
 *
 * GET  /api/backoffice/rest-sources
 *   200 {"ok":true,"sources":[...],"truncated":false} (common/admin/sources.h
 *   says what a source object holds; the API key is never sent back).
 * POST /api/backoffice/rest-sources
 *   {"tenantId","title","config","apiKey"?,"enabled"?}
 *   201 {"ok":true,"source":{...}}; audited as "create".
 * Raises 400 for bad JSON or an invalid field (the message names it),
 * 401/403 for a missing or non-admin operator, 403 cross-site, 404 for an
 * unknown tenant, 405 for other methods, 415 for a non-JSON body, 503 when
 * the database is down.
 */

#include "endpoint.h"
#include "fcgi_io.h"
#include "sources.h"

static enum rs_status
list(struct ep_req *r, struct json_object **out, char *err)
{
	struct json_object	*res = NULL;
	enum rs_status		 st;
	int			 trunc = 0;

	r->action = "list";
	if ((st = src_list(r->src, &res, &trunc, err)) != RS_OK)
		return st;
	json_object_object_add(r->log, "sources",
	    json_object_new_int((int)json_object_array_length(res)));
	*out = ep_ok_with("sources", res);
	json_object_object_add(*out, "truncated",
	    json_object_new_boolean(trunc));
	return RS_OK;
}

static enum rs_status
create(struct ep_req *r, struct json_object **out, char *err)
{
	r->action = "create";
	r->ok_code = 201;
	return ep_source_save(r, 1, "key_stored", out, err);
}

static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	return r->post ? create(r, out, err) : list(r, out, err);
}

EP_PROGRAM("rest_sources", "GET, POST", "list", EP_SOURCES, 200, handle)
