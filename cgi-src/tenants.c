/*
 * tenants — GET /api/backoffice/tenants
 * 200 {"ok":true,"tenants":[{"id","name"}]}, by name: the choices of the
 * source form.  Raises 401/403 for a missing or non-admin operator, 405
 * for other methods, 503 when the database is down.
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
	struct json_object	*res, *out;
	enum rs_status		 st;
	char			 err[RS_ERRLEN];

	if (src_program_start(&rq, "tenants", &sto, &db) == -1)
		return 1;
	rq.allow = "GET";
	while (fio_accept(&rq) >= 0) {
		res = NULL;
		err[0] = '\0';
		st = fio_get(&rq, err);
		if (st == RS_OK)
			st = auth_require_admin(sto, fio_user(&rq), err);
		if (st == RS_OK)
			st = src_tenants(db, &res, err);

		out = NULL;
		if (st == RS_OK) {
			out = fio_ok();
			json_object_object_add(out, "tenants", res);
		}
		fio_reply(&rq, st, 200, out, err, NULL);
		fio_finish(&rq);
	}
	src_close(db);
	store_close(sto);
	return 0;
}
