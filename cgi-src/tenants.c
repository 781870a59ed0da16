/*
 * tenants — GET /api/backoffice/tenants
 * 200 {"ok":true,"tenants":[{"id","name"}]}, by name: the choices of the
 * source form.  Raises 401/403 for a missing or non-admin operator, 405
 * for other methods, 503 when the database is down.
 */

#include "endpoint.h"
#include "fcgi_io.h"
#include "sources.h"

static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	struct json_object	*res = NULL;
	enum rs_status		 st;

	if ((st = src_tenants(r->src, &res, err)) != RS_OK)
		return st;
	*out = ep_ok_with("tenants", res);
	return RS_OK;
}

EP_PROGRAM("tenants", "GET", "tenants", EP_SOURCES, 200, handle)
