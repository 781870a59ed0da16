/*
 * rest_runs — GET /api/backoffice/rest-runs?sourceId=<uuid>&limit=N
 * The last N (default 20, at most 200) runs of a source, newest first:
 * 200 {"ok":true,"sourceId","limit","runs":[{id, status, kind, actor,
 * startedAt, finishedAt, pages, items, newItems, changedItems,
 * unchangedItems, removedItems, chunksInserted, chunksDeleted,
 * embedInputs, itemsPerSecond, total, sweep, sweepNote, sweepCandidates,
 * error}]} (common/sources.h, docs/SYNC-RUNS.md).  Raises 400 for any
 * other query string, 401/403 for a missing or non-admin operator, 405
 * for other methods than GET and HEAD, 503 when the database is down.
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
	struct json_object	*res, *out, *log;
	enum rs_status		 st;
	char			 err[RS_ERRLEN], id[37];
	int			 limit;

	if (src_program_start(&rq, "rest_runs", &sto, &db) == -1)
		return 1;
	rq.allow = "GET, HEAD";
	while (fio_accept(&rq) >= 0) {
		res = NULL;
		err[0] = id[0] = '\0';
		limit = 0;
		st = fio_get(&rq, err);
		if (st == RS_OK)
			st = auth_require_admin(sto, fio_user(&rq), err);
		if (st == RS_OK)
			st = src_parse_audit_query(fio_param(&rq,
			    "QUERY_STRING"), id, &limit, err);
		if (st == RS_OK)
			st = src_runs(db, id, limit, &res, err);

		log = json_object_new_object();
		json_object_object_add(log, "action",
		    json_object_new_string("runs"));
		if (id[0] != '\0')
			json_object_object_add(log, "source_id",
			    json_object_new_string(id));
		out = NULL;
		if (st == RS_OK) {
			out = fio_ok();
			json_object_object_add(out, "sourceId",
			    json_object_new_string(id));
			json_object_object_add(out, "limit",
			    json_object_new_int(limit));
			json_object_object_add(out, "runs", res);
		}
		fio_reply(&rq, st, 200, out, err, log);
		fio_finish(&rq);
	}
	src_close(db);
	store_close(sto);
	return 0;
}
