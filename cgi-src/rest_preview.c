/*
 * rest_preview — POST /api/backoffice/rest-preview: a dry run of one page.
 * {"tenantId", "config", "title"?, "apiKey"?} tests a config before it is
 * saved (the first page); {"sourceId", "config"?, "apiKey"?} tests a
 * source (its next page, or the first page of the given config).  The
 * body is validated as saving validates it (srcin_parse_input); the page is
 * fetched, parsed, normalised and chunked with every rule of a batch
 * (batch_preview): nothing is written, nothing embedded.
 * 200 {"ok":true,"url","status","attempts","items","total","next","done",
 * "chunks","estimatedTokens","emptyTexts","warnings","preview":[...],
 * "fetchMs","processMs","totalMs"}.  Raises 400 for a bad body or config
 * (naming the key), 401/403, 404 for an unknown source or tenant, 405,
 * 413, 415, 502 when the upstream fails (with url and status), 503 when
 * the database is down.
 */
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "endpoint.h"
#include "fcgi_io.h"
#include "inspect.h"
#include "srcinput.h"

/* The body as saving reads it; a create without a title gets one. */
static enum rs_status
parse_body(struct json_object *body, struct source_input *in, char *err)
{
	struct json_object	*copy = NULL, *v;
	enum rs_status		 st;
	int			 create;

	create = json_object_object_get_ex(body, "tenantId", &v);
	if (create && !json_object_object_get_ex(body, "title", &v)) {
		if (json_object_deep_copy(body, &copy, NULL) != 0) {
			rs_errf(err, "out of memory");
			return RS_ENOMEM;
		}
		json_object_object_add(copy, "title",
		    json_object_new_string("Preview"));
		body = copy;
	}
	st = srcin_parse_input(body, create, in, err);
	json_object_put(copy);
	/* A dry run takes an apiKey in memory; client credentials only as
	 * stored (their token would be cached for the source). */
	if (st == RS_OK && in->client_id != NULL) {
		rs_errf(err, "clientId: a test uses the stored client "
		    "credentials; save them first");
		srcin_free(in);
		st = RS_EINPUT;
	}
	return st;
}

static enum rs_status
preview(struct batch_ctx *ctx, struct insp_db *db, struct json_object *body,
    struct json_object **res, char *err)
{
	struct source_input	 in;
	struct insp_preview	 pv;
	struct batch_preview_req rq;
	enum rs_status		 st;

	memset(&pv, 0, sizeof(pv));
	if ((st = parse_body(body, &in, err)) != RS_OK)
		return st;
	if ((st = insp_preview_load(db, in.source_id, in.tenant_id,
	    in.config, in.title, &pv, err)) != RS_OK)
		goto out;
	rq = (struct batch_preview_req){
		.tenant_id = pv.tenant_id, .title = pv.title,
		.config = pv.config, .cursor = pv.cursor,
		.items_before = pv.items_before, .pages_before = pv.pages_before,
		.api_key = in.api_key, .secret_aad = pv.aad,
		.secret_ct = pv.ct, .secret_ct_len = pv.ctlen,
		.secret_nonce = pv.nonce, .secret_nonce_len = pv.noncelen,
	};
	st = batch_preview(ctx, &rq, res, err);
out:
	insp_preview_free(&pv);
	srcin_free(&in);
	return st;
}

static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	struct json_object	*res = NULL, *v;
	enum rs_status		 st;

	if (json_object_object_get_ex(r->body, "sourceId", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    rs_is_uuid(json_object_get_string(v)))
		(void)snprintf(r->source_id, sizeof(r->source_id), "%s",
		    json_object_get_string(v));
	st = preview(r->batch, r->insp, r->body, &res, err);
	if (st == RS_OK) {
		*out = fio_ok();
		json_object_object_foreach(res, name, val)
			json_object_object_add(*out, name,
			    json_object_get(val));
	} else if (res != NULL && json_object_object_get_ex(res, "url", &v)) {
		/* The page fetched: the error says where and what came. */
		r->err_extra = json_object_new_object();
		json_object_object_add(r->err_extra, "url",
		    json_object_get(v));
		json_object_object_add(r->err_extra, "status",
		    json_object_object_get_ex(res, "status", &v) ?
		    json_object_get(v) : NULL);
	}
	json_object_put(res);
	return st;
}

EP_PROGRAM("rest_preview", "POST", "preview", EP_BATCH | EP_INSPECT, 200, handle)
