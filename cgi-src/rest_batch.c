/*
 * rest_batch — POST /api/backoffice/rest-batch {"sourceId": "<uuid>"}
 * Runs exactly one batch of the source (common/pipeline/batch.c) and answers
 * 200 {"ok":true,"done","items","next","url","status",...}.
 * Raises 400 for bad JSON or sourceId, 401/403 for a missing or non-admin
 * operator, 404 for an unknown or non-REST source, 405 for other methods,
 * 409 while another batch of the source runs, 415 for a non-JSON body,
 * 429 {"retryAfter": seconds} when the source's rateLimit budget has no
 * room before the batch's deadline,
 * 502 for upstream or embeddings failures, 503 when the database is down.
 */
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "endpoint.h"

/* sourceId (a UUID) and the optional action of the body. */
static enum rs_status
parse(struct ep_req *r, char *err)
{
	struct json_object	*v;
	const char		*a;

	if (!json_object_object_get_ex(r->body, "sourceId", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		rs_errf(err, "'sourceId' is required");
		return RS_EINPUT;
	}
	if (!rs_is_uuid(json_object_get_string(v))) {
		rs_errf(err, "'sourceId' must be a UUID");
		return RS_EINPUT;
	}
	(void)snprintf(r->source_id, sizeof(r->source_id), "%s",
	    json_object_get_string(v));
	if (!json_object_object_get_ex(r->body, "action", &v))
		return RS_OK;
	a = json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : "";
	if (strcmp(a, "sync") != 0 && strcmp(a, "sync-to-end") != 0) {
		rs_errf(err, "'action' must be \"sync\" or \"sync-to-end\"");
		return RS_EINPUT;
	}
	r->action = a;
	return RS_OK;
}

static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	struct batch_result	 res;
	enum rs_status		 st;

	memset(&res, 0, sizeof(res));
	if ((st = parse(r, err)) != RS_OK)
		return st;
	st = batch_run(r->batch, r->source_id, r->user, r->action, &res, err);
	(void)snprintf(r->tenant_id, sizeof(r->tenant_id), "%s",
	    res.tenant_id);
	batch_result_log(&res, r->log);
	if (st == RS_OK)
		*out = batch_result_json(&res);
	else if (res.fetched || res.url != NULL) {
		/* The page fetched: the error says where and what came. */
		r->err_extra = json_object_new_object();
		json_object_object_add(r->err_extra, "url", res.url ?
		    json_object_new_string(res.url) : NULL);
		json_object_object_add(r->err_extra, "status", res.status > 0 ?
		    json_object_new_int((int)res.status) : NULL);
	}
	if (st == RS_ERATE) {
		/* ratelimit.h: when to try again. */
		if (r->err_extra == NULL)
			r->err_extra = json_object_new_object();
		json_object_object_add(r->err_extra, "retryAfter",
		    json_object_new_int64(res.retry_after));
		r->retry_after = res.retry_after;	/* and the header */
	}
	batch_result_free(&res);
	return st;
}

EP_PROGRAM("rest_batch", "POST", "sync", EP_BATCH, 200, handle)
