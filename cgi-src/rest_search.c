/*
 * rest_search — POST /api/backoffice/rest-search {"sourceId" | "tenantId",
 * "query", "role"?, "k"?}: the query embedded with the deployment's
 * embedder, the k (default 10, at most 50) chunks of the source or tenant
 * nearest to it, restricted to chunks whose allowed_roles contain role
 * when one is given (common/admin/inspect.h):
 * 200 {"ok":true,"query","role","k","embedder","embeddingModel",
 * "semantic","method","scanned","ms":{embed,search},"results":[{score,
 * excerpt, docTitle, title, itemKey, chunkIndex, itemChunkIndex,
 * allowedRoles, sourceId, embeddingModel}]}.  Raises 400 for a bad body,
 * 401/403, 404 for an unknown source or tenant, 405, 413, 415, 502 when
 * the embedder fails, 503 when the database is down.
 */
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "endpoint.h"
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

static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	struct insp_search	 s;
	struct insp_search_stats ss;
	struct json_object	*res = NULL;
	enum rs_status		 st;

	memset(&s, 0, sizeof(s));
	memset(&ss, 0, sizeof(ss));
	st = insp_parse_search(r->body, &s, err);
	(void)snprintf(r->source_id, sizeof(r->source_id), "%s", s.source_id);
	(void)snprintf(r->tenant_id, sizeof(r->tenant_id), "%s", s.tenant_id);
	if (st == RS_OK)
		st = insp_search_run(r->insp, r->batch->em, &s, &res, &ss, err);
	if (ss.method != NULL) {
		json_object_object_add(r->log, "method",
		    json_object_new_string(ss.method));
		json_object_object_add(r->log, "scanned",
		    json_object_new_int64(ss.scanned));
	}
	if (st == RS_OK)
		*out = answer(&s, r->batch->em, &ss, res);
	insp_search_free(&s);
	return st;
}

EP_PROGRAM("rest_search", "POST", "search", EP_BATCH | EP_INSPECT, 200, handle)
