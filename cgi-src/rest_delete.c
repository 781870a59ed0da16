/*
 * rest_delete — POST /api/backoffice/rest-delete {"sourceId"}
 * Deletes the source's chunks, docs, cursor and the source itself in one
 * transaction, audited as "delete" (the trail stays).
 * 200 {"ok":true,"sourceId","deleted":{"docs":n,"chunks":m}}.
 * Raises 400 for bad JSON or sourceId, 401/403 for a missing or non-admin
 * operator, 403 cross-site, 404 for an unknown source, 405, 409 while a
 * batch of the source runs, 415, 503.
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
	struct json_object	*body, *out, *del, *log;
	enum rs_status		 st;
	char			 err[RS_ERRLEN], id[37];
	long long		 docs, chunks;

	if (src_program_start(&rq, "rest_delete", &sto, &db) == -1)
		return 1;
	while (fio_accept(&rq) >= 0) {
		body = NULL;
		err[0] = id[0] = '\0';
		docs = chunks = 0;
		st = fio_json_post(&rq, &body, err);
		if (st == RS_OK)
			st = auth_require_admin(sto, fio_user(&rq), err);
		if (st == RS_OK)
			st = src_parse_id(body, id, err);
		if (st == RS_OK)
			st = src_delete(db, fio_user(&rq), id, &docs, &chunks,
			    err);

		log = json_object_new_object();
		json_object_object_add(log, "action",
		    json_object_new_string("delete"));
		if (id[0] != '\0')
			json_object_object_add(log, "source_id",
			    json_object_new_string(id));
		out = NULL;
		if (st == RS_OK) {
			del = json_object_new_object();
			json_object_object_add(del, "docs",
			    json_object_new_int64(docs));
			json_object_object_add(del, "chunks",
			    json_object_new_int64(chunks));
			json_object_object_add(log, "deleted",
			    json_object_get(del));
			out = fio_ok();
			json_object_object_add(out, "sourceId",
			    json_object_new_string(id));
			json_object_object_add(out, "deleted", del);
		}
		fio_reply(&rq, st, 200, out, err, log);
		json_object_put(body);
		fio_finish(&rq);
	}
	src_close(db);
	store_close(sto);
	return 0;
}
