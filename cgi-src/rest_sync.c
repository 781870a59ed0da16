/*
 * rest_sync — POST /api/backoffice/rest-sync {"sourceId"}
 * Starts a server-side run of the source (docs/RUNS.md): a worker carries
 * it out page by page until it is done, fails or is stopped, whether or
 * not anybody watches.  A done source starts over from its first page; an
 * unfinished one goes on where its cursor is.  Audited as "run-start".
 * 202 {"ok":true,"runId"} at once.  Raises 400 for bad JSON or sourceId,
 * 401/403 for a missing or non-admin operator, 403 cross-site, 404 for
 * an unknown source, 405, 409 while a batch or a run of the source is
 * going or when it is disabled, 415, 503.
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
	enum rs_status		 st;
	char			 err[RS_ERRLEN], id[37], run[37];

	if (src_program_start(&rq, "rest_sync", &sto, &db) == -1)
		return 1;
	while (fio_accept(&rq) >= 0) {
		body = NULL;
		err[0] = id[0] = run[0] = '\0';
		st = fio_json_post(&rq, &body, err);
		if (st == RS_OK)
			st = auth_require_admin(sto, fio_user(&rq), err);
		if (st == RS_OK)
			st = src_parse_id(body, id, err);
		if (st == RS_OK)
			st = runs_start(sto, id, fio_user(&rq), run, err);

		log = json_object_new_object();
		json_object_object_add(log, "action",
		    json_object_new_string("run-start"));
		if (id[0] != '\0')
			json_object_object_add(log, "source_id",
			    json_object_new_string(id));
		out = NULL;
		if (st == RS_OK) {
			json_object_object_add(log, "run_id",
			    json_object_new_string(run));
			out = fio_ok();
			json_object_object_add(out, "runId",
			    json_object_new_string(run));
		}
		fio_reply(&rq, st, 202, out, err, log);
		json_object_put(body);
		fio_finish(&rq);
	}
	src_close(db);
	store_close(sto);
	return 0;
}
