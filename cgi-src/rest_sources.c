/*
 * rest_sources — the operator's list of REST sources, and creation.
 *
 * GET  /api/backoffice/rest-sources
 *   200 {"ok":true,"sources":[...],"truncated":false} (common/sources.h
 *   says what a source object holds; the API key is never sent back).
 * POST /api/backoffice/rest-sources
 *   {"tenantId","title","config","apiKey"?,"enabled"?}
 *   201 {"ok":true,"source":{...}}; audited as "create".
 * Raises 400 for bad JSON or an invalid field (the message names it),
 * 401/403 for a missing or non-admin operator, 403 cross-site, 404 for an
 * unknown tenant, 405 for other methods, 415 for a non-JSON body, 503 when
 * the database is down.
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
	struct src_input	 in;
	struct json_object	*body, *res, *out, *log;
	enum rs_status		 st;
	char			 err[RS_ERRLEN];
	int			 post, trunc;

	if (src_program_start(&rq, "rest_sources", &sto, &db) == -1)
		return 1;
	rq.allow = "GET, POST";
	memset(&in, 0, sizeof(in));
	while (fio_accept(&rq) >= 0) {
		body = res = NULL;
		err[0] = '\0';
		trunc = 0;
		post = strcmp(fio_param(&rq, "REQUEST_METHOD"), "POST") == 0;
		st = post ? fio_json_post(&rq, &body, err) : fio_get(&rq, err);
		if (st == RS_OK)
			st = auth_require_admin(sto, fio_user(&rq), err);
		if (st == RS_OK && post)
			st = src_parse_input(body, 1, &in, err);
		if (st == RS_OK)
			st = post ? src_create(db, fio_user(&rq), &in, &res,
			    err) : src_list(db, &res, &trunc, err);

		/* Never the body: it may carry the API key. */
		log = json_object_new_object();
		json_object_object_add(log, "action",
		    json_object_new_string(post ? "create" : "list"));
		if (post && in.tenant_id[0] != '\0')
			json_object_object_add(log, "tenant_id",
			    json_object_new_string(in.tenant_id));
		if (post)
			json_object_object_add(log, "key_stored",
			    json_object_new_boolean(st == RS_OK &&
			    src_has_secret(&in)));
		out = NULL;
		if (st == RS_OK) {
			out = fio_ok();
			if (post) {
				json_object_object_add(log, "source_id",
				    json_object_get(json_object_object_get(res,
				    "id")));
				json_object_object_add(out, "source", res);
			} else {
				json_object_object_add(log, "sources",
				    json_object_new_int((int)
				    json_object_array_length(res)));
				json_object_object_add(out, "sources", res);
				json_object_object_add(out, "truncated",
				    json_object_new_boolean(trunc));
			}
		}
		fio_reply(&rq, st, post ? 201 : 200, out, err, log);
		src_input_free(&in);
		json_object_put(body);
		fio_finish(&rq);
	}
	src_close(db);
	store_close(sto);
	return 0;
}
