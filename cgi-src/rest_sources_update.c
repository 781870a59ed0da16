/*
 * rest_sources_update — POST /api/backoffice/rest-sources-update
 *   {"sourceId","title"?,"config"?,"apiKey"?,"enabled"?}
 * Changes the given fields in one transaction, audited as "update"; an
 * absent or empty apiKey leaves the tenant's stored key alone.
 * 200 {"ok":true,"source":{...}}.
 * Raises 400 for bad JSON or an invalid field (the message names it;
 * tenantId cannot change), 401/403 for a missing or non-admin operator,
 * 403 cross-site, 404 for an unknown source, 405, 415, 503.
 */

#include <string.h>

#include "endpoint.h"
#include "fcgi_io.h"
#include "sources.h"

/* Never log the body: it may carry the API key. */
static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	struct source_input	 in;
	struct json_object	*res = NULL;
	enum rs_status		 st;

	memset(&in, 0, sizeof(in));
	st = srcin_parse_input(r->body, 0, &in, err);
	(void)snprintf(r->source_id, sizeof(r->source_id), "%s", in.source_id);
	if (st == RS_OK)
		st = src_update(r->src, r->user, &in, &res, err);
	json_object_object_add(r->log, "key_changed",
	    json_object_new_boolean(st == RS_OK && srcin_has_secret(&in)));
	srcin_free(&in);
	if (st != RS_OK)
		return st;
	(void)snprintf(r->tenant_id, sizeof(r->tenant_id), "%s",
	    json_object_get_string(json_object_object_get(res, "tenantId")));
	*out = ep_ok_with("source", res);
	return RS_OK;
}

EP_PROGRAM("rest_sources_update", "POST", "update", EP_SOURCES, 200, handle)
