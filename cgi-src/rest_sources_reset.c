/*
 * rest_sources_reset — POST /api/backoffice/rest-sources-reset
 *   {"sourceId"}
 * Starts the source over from the first page (docs and chunks stay);
 * audited as "reset".  200 {"ok":true,"source":{...}}.  Raises 400 for
 * bad JSON or sourceId, 401/403 for a missing or non-admin operator, 403
 * cross-site, 404 for an unknown source, 405, 409 while a batch of the
 * source runs, 415, 503.
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
	struct json_object	*body, *res, *out, *log;
	enum rs_status		 st;
	char			 err[RS_ERRLEN], id[37];
	int			 keep_mark = 0;

	if (src_program_start(&rq, "rest_sources_reset", &sto, &db) == -1)
		return 1;
	while (fio_accept(&rq) >= 0) {
		body = res = NULL;
		err[0] = id[0] = '\0';
		st = fio_json_post(&rq, &body, err);
		if (st == RS_OK)
			st = auth_require_admin(sto, fio_user(&rq), err);
		if (st == RS_OK)
			st = src_parse_reset(body, id, &keep_mark, err);
		if (st == RS_OK)
			st = src_reset(db, fio_user(&rq), id, keep_mark, &res,
			    err);

		log = json_object_new_object();
		json_object_object_add(log, "action",
		    json_object_new_string("reset"));
		if (id[0] != '\0')
			json_object_object_add(log, "source_id",
			    json_object_new_string(id));
		out = NULL;
		if (st == RS_OK) {
			json_object_object_add(log, "tenant_id",
			    json_object_get(json_object_object_get(res,
			    "tenantId")));
			out = fio_ok();
			json_object_object_add(out, "source", res);
		}
		fio_reply(&rq, st, 200, out, err, log);
		json_object_put(body);
		fio_finish(&rq);
	}
	src_close(db);
	store_close(sto);
	return 0;
}
