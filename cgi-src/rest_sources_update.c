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
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "fcgi_io.h"
#include "sources.h"
#include "store.h"

int
main(void)
{
	struct fio_req		 rq;
	struct store		*sto = NULL;
	struct src_db		*db = NULL;
	struct src_input	 in;
	struct json_object	*body, *res, *out, *log;
	enum rs_status		 st;
	char			 err[RS_ERRLEN];

	if (src_program_start(&rq, "rest_sources_update", &sto, &db) == -1)
		return 1;
	memset(&in, 0, sizeof(in));
	while (fio_accept(&rq) >= 0) {
		body = res = NULL;
		err[0] = '\0';
		st = fio_json_post(&rq, &body, err);
		if (st == RS_OK)
			st = auth_require_admin(sto, fio_user(&rq), err);
		if (st == RS_OK)
			st = src_parse_input(body, 0, &in, err);
		if (st == RS_OK)
			st = src_update(db, fio_user(&rq), &in, &res, err);

		/* Never the body: it may carry the API key. */
		log = json_object_new_object();
		json_object_object_add(log, "action",
		    json_object_new_string("update"));
		if (in.source_id[0] != '\0')
			json_object_object_add(log, "source_id",
			    json_object_new_string(in.source_id));
		json_object_object_add(log, "key_changed",
		    json_object_new_boolean(st == RS_OK &&
		    src_has_secret(&in)));
		out = NULL;
		if (st == RS_OK) {
			json_object_object_add(log, "tenant_id",
			    json_object_get(json_object_object_get(res,
			    "tenantId")));
			out = fio_ok();
			json_object_object_add(out, "source", res);
		}
		fio_reply(&rq, st, 200, out, err, log);
		src_input_free(&in);
		json_object_put(body);
		fio_finish(&rq);
	}
	src_close(db);
	store_close(sto);
	return 0;
}
