/*
 * rest_sync_stop — POST /api/backoffice/rest-sync-stop {"sourceId"}
 * Stops the source's server-side run after the page in flight (at once
 * when no worker carries it out); audited as "run-stop".  200
 * {"ok":true,"runId","stopped"} where stopped says it is stopped already
 * (else its worker stops it after the page in flight).  Raises 400, 401,
 * 403, 404 for an unknown source, 405, 409 when no run is going, 415,
 * 503.
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
	int			 now = 0;

	if (src_program_start(&rq, "rest_sync_stop", &sto, &db) == -1)
		return 1;
	while (fio_accept(&rq) >= 0) {
		body = NULL;
		err[0] = id[0] = run[0] = '\0';
		now = 0;
		st = fio_json_post(&rq, &body, err);
		if (st == RS_OK)
			st = auth_require_admin(sto, fio_user(&rq), err);
		if (st == RS_OK)
			st = src_parse_id(body, id, err);
		if (st == RS_OK)
			st = runs_stop(sto, id, fio_user(&rq), run, &now, err);

		log = json_object_new_object();
		json_object_object_add(log, "action",
		    json_object_new_string("run-stop"));
		if (id[0] != '\0')
			json_object_object_add(log, "source_id",
			    json_object_new_string(id));
		out = NULL;
		if (st == RS_OK) {
			out = fio_ok();
			json_object_object_add(out, "runId",
			    json_object_new_string(run));
			json_object_object_add(out, "stopped",
			    json_object_new_boolean(now));
		}
		fio_reply(&rq, st, 200, out, err, log);
		json_object_put(body);
		fio_finish(&rq);
	}
	src_close(db);
	store_close(sto);
	return 0;
}
