/*
 * rest_batch — POST /api/backoffice/rest-batch {"sourceId": "<uuid>"}
 * Runs exactly one batch of the source (common/batch.c) and answers
 * 200 {"ok":true,"done","items","next","url","status",...}.
 * Raises 400 for bad JSON or sourceId, 401/403 for a missing or non-admin
 * operator, 404 for an unknown or non-REST source, 405 for other methods,
 * 409 while another batch of the source runs, 415 for a non-JSON body,
 * 502 for upstream or embeddings failures, 503 when the database is down.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "auth.h"
#include "batch.h"
#include "fcgi_io.h"

int
main(void)
{
	struct fio_req		 rq;
	struct batch_ctx	 ctx;
	struct batch_result	 res;
	struct json_object	*body, *v, *log, *extra;
	enum rs_status		 st;
	char			 err[RS_ERRLEN];
	const char		*id;

	if (fio_init(&rq, "rest_batch") == -1 || fio_prefork(&rq) == -1)
		return 1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    batch_ctx_open(&ctx, err) != RS_OK) {
		fprintf(stderr, "rest_batch: %s\n", err);
		return 1;
	}
	while (fio_accept(&rq) >= 0) {
		memset(&res, 0, sizeof(res));
		body = NULL;
		id = "";
		err[0] = '\0';
		st = fio_json_post(&rq, &body, err);
		if (st == RS_OK)
			st = auth_require_admin(ctx.st, fio_user(&rq), err);
		if (st == RS_OK) {
			if (!json_object_object_get_ex(body, "sourceId", &v) ||
			    !json_object_is_type(v, json_type_string)) {
				rs_errf(err, "'sourceId' is required");
				st = RS_EINPUT;
			} else if (!rs_is_uuid(id = json_object_get_string(v))) {
				rs_errf(err, "'sourceId' must be a UUID");
				st = RS_EINPUT;
				id = "";
			}
		}
		if (st == RS_OK && json_object_object_get_ex(body, "action",
		    &v) && (!json_object_is_type(v, json_type_string) ||
		    (strcmp(json_object_get_string(v), "sync") != 0 &&
		    strcmp(json_object_get_string(v), "sync-to-end") != 0))) {
			rs_errf(err, "'action' must be \"sync\" or "
			    "\"sync-to-end\"");
			st = RS_EINPUT;
		}
		if (st == RS_OK)
			st = batch_run(&ctx, id, fio_user(&rq),
			    json_object_object_get_ex(body, "action", &v) ?
			    json_object_get_string(v) : "sync", &res, err);

		log = json_object_new_object();
		json_object_object_add(log, "source_id",
		    json_object_new_string(id));
		json_object_object_add(log, "status",
		    json_object_new_string(rs_status_name(st)));
		if (st == RS_OK) {
			struct json_object *out = batch_result_json(&res);

			json_object_object_add(log, "tenant_id",
			    json_object_new_string(res.tenant_id));
			json_object_object_add(log, "batch",
			    json_object_get(out));
			fio_write_json(&rq, 200, out);
		} else {
			extra = NULL;
			if (res.fetched || res.url != NULL) {
				extra = json_object_new_object();
				json_object_object_add(extra, "url",
				    res.url ? json_object_new_string(res.url) :
				    NULL);
				json_object_object_add(extra, "status",
				    res.status > 0 ?
				    json_object_new_int((int)res.status) :
				    NULL);
			}
			json_object_object_add(log, "error",
			    json_object_new_string(err));
			fio_write_error(&rq, st, err, extra);
		}
		fio_log(&rq, fio_http_status(st), log);
		batch_result_free(&res);
		json_object_put(body);
		fio_finish(&rq);
	}
	batch_ctx_close(&ctx);
	curl_global_cleanup();
	return 0;
}
