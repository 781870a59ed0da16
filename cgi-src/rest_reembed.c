/*
 * rest_reembed — POST /api/backoffice/rest-reembed {"sourceId"}: re-embed
 * groups of the source's chunks that carry another embedding model than
 * the deployment's (common/reembed.h), starting groups for at most
 * REEMBED_START_MS and ending by BATCH_DEADLINE_MS (below nginx's
 * fastcgi_read_timeout); the page repeats it while "left" is above 0.
 * 200 {"ok":true,"sourceId","model","chunks","groups","left"}.  Raises
 * 400 for a bad body, 401/403, 404 for an unknown source, 405, 409 while
 * a batch of the source runs, 413, 415, 502 when the embedder fails, 503
 * when the database is down.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "auth.h"
#include "batch.h"
#include "fcgi_io.h"
#include "reembed.h"
#include "sources.h"

#define REEMBED_START_MS	8000	/* start no group after this */

int
main(void)
{
	struct fio_req		 rq;
	struct batch_ctx	 ctx;
	struct reembed_result	 res;
	struct json_object	*body, *out, *log;
	enum rs_status		 st;
	char			 err[RS_ERRLEN], id[37];
	double			 t0;

	if (fio_init(&rq, "rest_reembed") == -1 || fio_prefork(&rq) == -1)
		return 1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    batch_ctx_open(&ctx, err) != RS_OK) {
		fprintf(stderr, "rest_reembed: %s\n", err);
		return 1;
	}
	while (fio_accept(&rq) >= 0) {
		body = out = NULL;
		err[0] = id[0] = '\0';
		memset(&res, 0, sizeof(res));
		t0 = rs_now_ms();
		st = fio_json_post(&rq, &body, err);
		if (st == RS_OK)
			st = auth_require_admin(ctx.st, fio_user(&rq), err);
		if (st == RS_OK)
			st = src_parse_id(body, id, err);
		if (st == RS_OK)
			st = reembed_source(ctx.st, ctx.em, id, fio_user(&rq),
			    t0 + REEMBED_START_MS, t0 + BATCH_DEADLINE_MS, &res,
			    err);
		log = json_object_new_object();
		json_object_object_add(log, "action",
		    json_object_new_string("reembed"));
		if (id[0] != '\0')
			json_object_object_add(log, "source_id",
			    json_object_new_string(id));
		if (st == RS_OK) {
			out = reembed_result_json(id, &res);
			json_object_object_add(log, "chunks",
			    json_object_new_int64(res.chunks));
		}
		fio_reply(&rq, st, 200, out, err, log);
		json_object_put(body);
		fio_finish(&rq);
	}
	batch_ctx_close(&ctx);
	curl_global_cleanup();
	return 0;
}
