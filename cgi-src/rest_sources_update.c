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

#include "endpoint.h"

static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	return ep_source_save(r, 0, "key_changed", out, err);
}

EP_PROGRAM("rest_sources_update", "POST", "update", EP_SOURCES, 200, handle)
