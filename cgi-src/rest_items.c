/*
 * rest_items — GET /api/backoffice/rest-items?sourceId=<uuid>&after=<key>
 * &limit=N, keyset paged (common/inspect.h):
 * 200 {"ok":true,"sourceId","limit","items":[{key, title, chunks,
 * firstSeenAt, lastSeenAt, changedAt}],"next":<key>|null}; pass next as
 * after for the following page.  GET ...?sourceId=<uuid>&key=<key>: 200
 * {"ok":true,"sourceId","item":{...},"chunks":[{position, chunkIndex,
 * docTitle, title, content, contentHash, allowedRoles, embeddingModel}]}.
 * Raises 400 for a bad query string, 401/403 for a missing or non-admin
 * operator, 404 for an unknown source or item, 405 for other methods than
 * GET and HEAD, 503 when the database is down.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "fcgi_io.h"
#include "inspect.h"
#include "store.h"

int
main(void)
{
	struct fio_req		 rq;
	struct insp_items_query	 q;
	struct store		*sto = NULL;
	struct insp_db		*db = NULL;
	struct json_object	*res, *out, *log, *v;
	enum rs_status		 st;
	char			 err[RS_ERRLEN];

	if (fio_init(&rq, "rest_items") == -1 || fio_prefork(&rq) == -1)
		return 1;
	rq.allow = "GET, HEAD";
	if (store_open(&sto, err) != RS_OK || insp_open(&db, sto, err) !=
	    RS_OK) {
		fprintf(stderr, "rest_items: %s\n", err);
		return 1;
	}
	while (fio_accept(&rq) >= 0) {
		res = NULL;
		err[0] = '\0';
		memset(&q, 0, sizeof(q));
		st = fio_get(&rq, err);
		if (st == RS_OK)
			st = auth_require_admin(sto, fio_user(&rq), err);
		if (st == RS_OK)
			st = insp_parse_items_query(fio_param(&rq,
			    "QUERY_STRING"), &q, err);
		if (st == RS_OK)
			st = q.key[0] != '\0' ? insp_item_chunks(db, &q, &res,
			    err) : insp_items(db, &q, &res, err);

		log = json_object_new_object();
		json_object_object_add(log, "action", json_object_new_string(
		    q.key[0] != '\0' ? "item" : "items"));
		if (q.source_id[0] != '\0')
			json_object_object_add(log, "source_id",
			    json_object_new_string(q.source_id));
		out = NULL;
		if (st == RS_OK) {
			out = fio_ok();
			json_object_object_add(out, "sourceId",
			    json_object_new_string(q.source_id));
			if (q.key[0] == '\0')
				json_object_object_add(out, "limit",
				    json_object_new_int(q.limit));
			json_object_object_foreach(res, name, val) {
				v = json_object_get(val);
				json_object_object_add(out, name, v);
			}
			json_object_put(res);
		}
		fio_reply(&rq, st, 200, out, err, log);
		fio_finish(&rq);
	}
	insp_close(db);
	store_close(sto);
	return 0;
}
