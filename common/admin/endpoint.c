/*
 * endpoint.c — the one request skeleton of the admin endpoints (see
 * endpoint.h).
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "auth.h"
#include "batch.h"
#include "endpoint.h"
#include "fcgi_io.h"
#include "inspect.h"
#include "sources.h"
#include "srcinput.h"
#include "store.h"

struct ep_layers {
	struct store		*sto;
	struct src_db		*src;
	struct insp_db		*insp;
	struct batch_ctx	 batch;
	int			 has_batch;
};

static void
ep_close(struct ep_layers *l)
{
	insp_close(l->insp);
	src_close(l->src);
	if (l->has_batch) {
		batch_ctx_close(&l->batch);	/* closes its store */
		curl_global_cleanup();
	} else
		store_close(l->sto);
}

static enum rs_status
ep_open(const struct ep_def *def, struct ep_layers *l, char *err)
{
	enum rs_status	 st;

	memset(l, 0, sizeof(*l));
	if (def->needs & EP_BATCH) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			rs_errf(err, "libcurl did not initialise");
			return RS_EINTERNAL;
		}
		if ((st = batch_ctx_open(&l->batch, err)) != RS_OK) {
			curl_global_cleanup();
			return st;
		}
		l->has_batch = 1;
		l->sto = l->batch.st;
	} else if ((st = store_open(&l->sto, err)) != RS_OK)
		return st;
	if ((def->needs & EP_SOURCES) &&
	    (st = src_open(&l->src, l->sto, err)) != RS_OK)
		goto fail;
	if ((def->needs & EP_INSPECT) &&
	    (st = insp_open(&l->insp, l->sto, err)) != RS_OK)
		goto fail;
	return RS_OK;
fail:
	ep_close(l);
	memset(l, 0, sizeof(*l));
	return st;
}

/* The edge checks of the request's method, then the admin check. */
static enum rs_status
ep_admit(const struct ep_def *def, struct ep_req *r, char *err)
{
	enum rs_status	 st;
	int		 gets = strstr(def->allow, "GET") != NULL;
	int		 posts = strstr(def->allow, "POST") != NULL;

	r->post = strcmp(fio_param(r->rq, "REQUEST_METHOD"), "POST") == 0;
	if (posts && (r->post || !gets))
		st = fio_json_post(r->rq, &r->body, err);
	else
		st = fio_get(r->rq, err);
	if (st == RS_OK)
		st = auth_require_admin(r->sto, r->user, err);
	return st;
}

/* Answer and log the request in one place. */
static void
ep_answer(struct ep_req *r, enum rs_status st, struct json_object *out,
    const char *err)
{
	struct json_object	*log = r->log;
	int			 code;

	r->log = NULL;
	if (log == NULL)
		log = json_object_new_object();
	if (r->action != NULL)
		json_object_object_add(log, "action",
		    json_object_new_string(r->action));
	if (r->source_id[0] != '\0')
		json_object_object_add(log, "source_id",
		    json_object_new_string(r->source_id));
	if (r->tenant_id[0] != '\0')
		json_object_object_add(log, "tenant_id",
		    json_object_new_string(r->tenant_id));
	r->rq->retry_after = r->retry_after;	/* fio_head(): with a 429 */
	if (st == RS_OK && r->text != NULL) {
		json_object_put(out);
		json_object_object_add(log, "status",
		    json_object_new_string(rs_status_name(st)));
		code = r->ok_code;
		fio_write_text(r->rq, code, r->text_type, r->text,
		    r->text_len);
		fio_log(r->rq, code, log);
	} else if (st != RS_OK && r->err_extra != NULL) {
		json_object_put(out);
		json_object_object_add(log, "status",
		    json_object_new_string(rs_status_name(st)));
		json_object_object_add(log, "error",
		    json_object_new_string(err));
		fio_write_error(r->rq, st, err, r->err_extra);
		r->err_extra = NULL;
		fio_log(r->rq, fio_http_status(st), log);
	} else
		fio_reply(r->rq, st, r->ok_code, out, err, log);
	json_object_put(r->err_extra);
	r->err_extra = NULL;
}

int
ep_main(const struct ep_def *def)
{
	struct fio_req		 rq;
	struct ep_layers	 l;
	struct ep_req		 r;
	struct json_object	*out;
	enum rs_status		 st;
	char			 err[RS_ERRLEN];

	if (fio_init(&rq, def->program) == -1 || fio_prefork(&rq) == -1)
		return 1;
	rq.allow = def->allow;
	if (ep_open(def, &l, err) != RS_OK) {
		fprintf(stderr, "%s: %s\n", def->program, err);
		return 1;
	}
	while (fio_accept(&rq) >= 0) {
		memset(&r, 0, sizeof(r));
		r.rq = &rq;
		r.sto = l.sto;
		r.src = l.src;
		r.insp = l.insp;
		r.batch = l.has_batch ? &l.batch : NULL;
		r.user = fio_user(&rq);
		r.query = fio_param(&rq, "QUERY_STRING");
		r.action = def->action;
		r.ok_code = def->ok_code > 0 ? def->ok_code : 200;
		r.log = json_object_new_object();
		out = NULL;
		err[0] = '\0';
		if ((st = ep_admit(def, &r, err)) == RS_OK)
			st = def->handle(&r, &out, err);
		ep_answer(&r, st, out, err);
		json_object_put(r.log);
		json_object_put(r.body);
		fio_finish(&rq);
	}
	ep_close(&l);
	return 0;
}

struct json_object *
ep_ok_with(const char *name, struct json_object *value)
{
	struct json_object	*out = fio_ok();

	json_object_object_add(out, name, value);
	return out;
}

enum rs_status
ep_source_id(struct ep_req *r, char *err)
{
	return srcin_parse_id(r->body, r->source_id, err);
}

enum rs_status
ep_source_save(struct ep_req *r, int create, const char *log_key,
    struct json_object **out, char *err)
{
	struct json_object	*res = NULL;
	enum rs_status		 st;
	int			 stored = 0;

	st = src_save(r->src, r->user, r->body, create, r->source_id,
	    r->tenant_id, &stored, &res, err);
	json_object_object_add(r->log, log_key,
	    json_object_new_boolean(stored));
	if (st == RS_OK)
		*out = ep_ok_with("source", res);
	return st;
}

enum rs_status
ep_source_listing(struct ep_req *r, ep_lister fn, const char *key,
    struct json_object **out, char *err)
{
	struct json_object	*res = NULL;
	enum rs_status		 st;
	int			 limit = 0;

	if ((st = srcin_parse_audit_query(r->query, r->source_id, &limit,
	    err)) != RS_OK ||
	    (st = fn(r->src, r->source_id, limit, &res, err)) != RS_OK)
		return st;
	json_object_object_add(r->log, key,
	    json_object_new_int((int)json_object_array_length(res)));
	*out = ep_ok_with("sourceId", json_object_new_string(r->source_id));
	json_object_object_add(*out, "limit", json_object_new_int(limit));
	json_object_object_add(*out, key, res);
	return RS_OK;
}
