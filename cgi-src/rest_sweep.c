/*
 * rest_sweep — POST /api/backoffice/rest-sweep {"sourceId", "runId"}
 * Carries out the held sweep of the source's latest run: the items that
 * run did not see leave with the chunks no other item holds, in one
 * transaction, audited as "sweep" (docs/SYNC-RUNS.md).  200 {"ok":true,
 * "sourceId","runId","sweep":"confirmed","note","removedItems",
 * "chunksDeleted"}.  Raises 400 for bad JSON or ids, 401/403 for a
 * missing or non-admin operator, 403 cross-site, 404 for an unknown
 * source or run, 405, 409 while a batch of the source runs, when the run
 * has no held sweep or a newer run started, 415, 503.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "fcgi_io.h"
#include "runs.h"
#include "sources.h"
#include "store.h"

int
main(void)
{
	struct fio_req		 rq;
	struct store		*sto = NULL;
	struct src_db		*db = NULL;
	struct json_object	*body, *out, *log;
	struct runs_sweep	 sw;
	enum rs_status		 st;
	char			 err[RS_ERRLEN], id[37], run[37];

	if (src_program_start(&rq, "rest_sweep", &sto, &db) == -1)
		return 1;
	while (fio_accept(&rq) >= 0) {
		body = NULL;
		err[0] = id[0] = run[0] = '\0';
		st = fio_json_post(&rq, &body, err);
		if (st == RS_OK)
			st = auth_require_admin(sto, fio_user(&rq), err);
		if (st == RS_OK)
			st = src_parse_sweep(body, id, run, err);
		if (st == RS_OK)
			st = runs_confirm_sweep(sto, id, run, fio_user(&rq), &sw,
			    err);

		log = json_object_new_object();
		json_object_object_add(log, "action",
		    json_object_new_string("sweep"));
		if (id[0] != '\0')
			json_object_object_add(log, "source_id",
			    json_object_new_string(id));
		out = NULL;
		if (st == RS_OK) {
			json_object_object_add(log, "removed",
			    json_object_new_int64(sw.removed));
			out = fio_ok();
			json_object_object_add(out, "sourceId",
			    json_object_new_string(id));
			json_object_object_add(out, "runId",
			    json_object_new_string(run));
			json_object_object_add(out, "sweep",
			    json_object_new_string(sw.sweep));
			json_object_object_add(out, "note",
			    json_object_new_string(sw.note));
			json_object_object_add(out, "removedItems",
			    json_object_new_int64(sw.removed));
			json_object_object_add(out, "chunksDeleted",
			    json_object_new_int64(sw.chunks));
		}
		fio_reply(&rq, st, 200, out, err, log);
		json_object_put(body);
		fio_finish(&rq);
	}
	src_close(db);
	store_close(sto);
	return 0;
}
