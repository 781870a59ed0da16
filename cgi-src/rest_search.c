/*
 * rest_search — POST /api/backoffice/rest-search {"sourceId" | "tenantId",
 * "query", "role"?, "k"?}: the query embedded with the deployment's
 * embedder, the k (default 10, at most 50) chunks of the source or tenant
 * nearest to it, restricted to chunks whose allowed_roles contain role
 * when one is given (common/inspect.h):
 * 200 {"ok":true,"query","role","k","embedder","embeddingModel",
 * "semantic","method","scanned","ms":{embed,search},"results":[{score,
 * excerpt, docTitle, title, itemKey, chunkIndex, itemChunkIndex,
 * allowedRoles, sourceId, embeddingModel}]}.  Raises 400 for a bad body,
 * 401/403, 404 for an unknown source or tenant, 405, 413, 415, 502 when
 * the embedder fails, 503 when the database is down.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "auth.h"
#include "batch.h"
#include "fcgi_io.h"
#include "inspect.h"

static struct json_object *
answer(const struct insp_search *s, struct embedder *em,
    const struct insp_search_stats *ss, struct json_object *res)
{
	struct json_object	*out = fio_ok(), *ms;

	json_object_object_add(out, "query", json_object_new_string(s->query));
	json_object_object_add(out, "role", s->role[0] != '\0' ?
	    json_object_new_string(s->role) : NULL);
	json_object_object_add(out, "k", json_object_new_int(s->k));
	json_object_object_add(out, "embedder",
	    json_object_new_string(embed_name(em)));
	json_object_object_add(out, "embeddingModel",
	    json_object_new_string(embed_model(em)));
	json_object_object_add(out, "semantic",
	    json_object_new_boolean(embed_semantic(em)));
	json_object_object_add(out, "method",
	    json_object_new_string(ss->method));
	json_object_object_add(out, "scanned",
	    json_object_new_int64(ss->scanned));
	ms = json_object_new_object();
	json_object_object_add(ms, "embed",
	    json_object_new_double(ss->embed_ms));
	json_object_object_add(ms, "search",
	    json_object_new_double(ss->search_ms));
	json_object_object_add(out, "ms", ms);
	json_object_object_add(out, "results", res);
	return out;
}

int
main(void)
{
	struct fio_req		 rq;
	struct batch_ctx	 ctx;
	struct insp_db		*db = NULL;
	struct insp_search	 s;
	struct insp_search_stats ss;
	struct json_object	*body, *res, *out, *log;
	enum rs_status		 st;
	char			 err[RS_ERRLEN];

	if (fio_init(&rq, "rest_search") == -1 || fio_prefork(&rq) == -1)
		return 1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    batch_ctx_open(&ctx, err) != RS_OK ||
	    insp_open(&db, ctx.st, err) != RS_OK) {
		fprintf(stderr, "rest_search: %s\n", err);
		return 1;
	}
	while (fio_accept(&rq) >= 0) {
		body = res = out = NULL;
		err[0] = '\0';
		memset(&s, 0, sizeof(s));
		memset(&ss, 0, sizeof(ss));
		st = fio_json_post(&rq, &body, err);
		if (st == RS_OK)
			st = auth_require_admin(ctx.st, fio_user(&rq), err);
		if (st == RS_OK)
			st = insp_parse_search(body, &s, err);
		if (st == RS_OK)
			st = insp_search_run(db, ctx.em, &s, &res, &ss, err);
		if (st == RS_OK)
			out = answer(&s, ctx.em, &ss, res);

		log = json_object_new_object();
		json_object_object_add(log, "action",
		    json_object_new_string("search"));
		if (s.source_id[0] != '\0')
			json_object_object_add(log, "source_id",
			    json_object_new_string(s.source_id));
		if (s.tenant_id[0] != '\0')
			json_object_object_add(log, "tenant_id",
			    json_object_new_string(s.tenant_id));
		if (ss.method != NULL) {
			json_object_object_add(log, "method",
			    json_object_new_string(ss.method));
			json_object_object_add(log, "scanned",
			    json_object_new_int64(ss.scanned));
		}
		fio_reply(&rq, st, 200, out, err, log);
		insp_search_free(&s);
		json_object_put(body);
		fio_finish(&rq);
	}
	insp_close(db);
	batch_ctx_close(&ctx);
	curl_global_cleanup();
	return 0;
}
