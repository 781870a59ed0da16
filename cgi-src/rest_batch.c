/*
 * rest_batch — POST /api/backoffice/rest-batch {"sourceId": "<uuid>"}
 * Runs exactly one batch of the source (common/batch.c) and answers
 * 200 {"ok":true,"done","items","next","url","status",...}.
 * Raises 400 for bad JSON or sourceId, 401/403 for a missing or non-admin
 * operator, 404 for an unknown or non-REST source, 405 for other methods,
 * 409 while another batch of the source runs, 415 for a non-JSON body,
 * 429 {"retryAfter": seconds} when the source's rateLimit budget has no
 * room before the batch's deadline,
 * 502 for upstream or embeddings failures, 503 when the database is down.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "auth.h"
#include "batch.h"
#include "fcgi_io.h"

/*
 * The batch's figures for the log line, flat: items, inserted, skipped,
 * chunks, attempts, done, upstream status, embedRequests and the
 * per-stage times (stage_ms).  The URL is already redacted.
 */
static void
log_batch(struct json_object *log, const struct batch_result *res)
{
	static const struct {
		const char	*from, *to;
	} keys[] = {
		{ "items", "items" }, { "inserted", "inserted" },
		{ "skipped", "skipped" }, { "chunks", "chunks" },
		{ "attempts", "attempts" }, { "done", "done" },
		{ "status", "upstream_status" }, { "url", "url" },
		{ "embedRequests", "embed_requests" },
		{ "notModified", "not_modified" }, { "ms", "stage_ms" },
	};
	struct json_object	*b = batch_result_json(res), *v;
	size_t			 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_object_get_ex(b, keys[i].from, &v))
			json_object_object_add(log, keys[i].to,
			    json_object_get(v));
	json_object_put(b);
}

int
main(void)
{
	struct fio_req		 rq;
	struct batch_ctx	 ctx;
	struct batch_result	 res;
	struct json_object	*body, *v, *log, *extra;
	enum rs_status		 st;
	char			 err[RS_ERRLEN];
	const char		*id, *action;
	int			 ran;

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
		action = "sync";
		ran = 0;
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
		if (st == RS_OK) {
			if (json_object_object_get_ex(body, "action", &v))
				action = json_object_get_string(v);
			ran = 1;
			st = batch_run(&ctx, id, fio_user(&rq), action, &res,
			    err);
		}

		log = json_object_new_object();
		json_object_object_add(log, "action",
		    json_object_new_string(action));
		if (*id != '\0')
			json_object_object_add(log, "source_id",
			    json_object_new_string(id));
		if (res.tenant_id[0] != '\0')
			json_object_object_add(log, "tenant_id",
			    json_object_new_string(res.tenant_id));
		json_object_object_add(log, "status",
		    json_object_new_string(rs_status_name(st)));
		if (ran)
			log_batch(log, &res);
		if (st == RS_OK) {
			fio_write_json(&rq, 200, batch_result_json(&res));
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
			if (st == RS_ERATE) {
				/* ratelimit.h: when to try again. */
				if (extra == NULL)
					extra = json_object_new_object();
				json_object_object_add(extra, "retryAfter",
				    json_object_new_int64(res.retry_after));
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
