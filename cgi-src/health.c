/*
 * health — GET /api/backoffice/health (admin zone) and /healthz (public).
 *
 * Admin: 200 {"ok":true,"database":{"ok","ms"},"migrations":{"applied",
 * "expected","current"}}, or the same with ok false and 503 when the
 * database is unreachable, a migration of RESTSYNC_SQL_DIR is not
 * applied (common/db/obs.h) or the embedder's configuration is wrong
 * (embedder.error, e.g. a bad EMBEDDING_DIMENSIONS).  Raises 401/403 for a missing or non-admin
 * operator and 405 for other methods than GET and HEAD.  When the
 * database is down the admin check itself cannot run: an operator nginx
 * authenticated then gets the 503 answer without the error messages.
 *
 * Public: nginx's "location = /healthz" sets the FastCGI parameter
 * RESTSYNC_PUBLIC_HEALTH=1 and no identity; the answer is only
 * "ok\n" (200) or "not ok\n" (503), text/plain, for load balancers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "embed.h"
#include "fcgi_io.h"
#include "obs.h"
#include "store.h"

/* Drop the error messages (paths, server text) from a health answer. */
static void
strip_errors(struct json_object *h)
{
	struct json_object	*o;

	if (json_object_object_get_ex(h, "database", &o))
		json_object_object_del(o, "error");
	if (json_object_object_get_ex(h, "migrations", &o))
		json_object_object_del(o, "error");
}

/*
 * Which embedder the deployment uses and at how many dimensions; the
 * local one is labelled.  A configuration error is named and makes the
 * deployment not ok (*ok = 0): no batch could embed.
 */
static void
add_embedder(struct json_object *h, const struct embedder *em, int *ok)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(
	    embed_name(em)));
	json_object_object_add(o, "model", json_object_new_string(
	    embed_model(em)));
	json_object_object_add(o, "semantic", json_object_new_boolean(
	    embed_semantic(em)));
	if (embed_error(em) != NULL) {
		json_object_object_add(o, "error", json_object_new_string(
		    embed_error(em)));
		*ok = 0;
	} else
		json_object_object_add(o, "dimensions", json_object_new_int(
		    embed_dims(em)));
	if (!embed_semantic(em))
		json_object_object_add(o, "note",
		    json_object_new_string(EMBED_LOCAL_NOTE));
	json_object_object_add(h, "embedder", o);
}

int
main(void)
{
	struct fio_req		 rq;
	struct store		*sto = NULL;
	struct embedder		*em = NULL;
	struct json_object	*h, *db, *log;
	enum rs_status		 st;
	const char		*m, *sql_dir = getenv("RESTSYNC_SQL_DIR");
	char			 err[RS_ERRLEN];
	int			 ok, pub, code;

	if (fio_init(&rq, "health") == -1 || fio_prefork(&rq) == -1)
		return 1;
	rq.allow = "GET, HEAD";
	/* Only described here: no fetcher, never called. */
	if (store_open(&sto, err) != RS_OK ||
	    embed_open(&em, NULL, err) != RS_OK) {
		fprintf(stderr, "health: %s\n", err);
		return 1;
	}
	while (fio_accept(&rq) >= 0) {
		h = NULL;
		ok = 0;
		err[0] = '\0';
		pub = strcmp(fio_param(&rq, "RESTSYNC_PUBLIC_HEALTH"), "1") == 0;
		m = fio_param(&rq, "REQUEST_METHOD");
		log = json_object_new_object();
		json_object_object_add(log, "public",
		    json_object_new_boolean(pub));
		if (pub) {
			/* Identity is neither needed nor read here. */
			if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
				code = 405;
				fio_write_text(&rq, code, NULL, "", 0);
			} else {
				obs_health(sto, sql_dir, &h, &ok);
				if (embed_error(em) != NULL)
					ok = 0;
				code = ok ? 200 : 503;
				fio_write_text(&rq, code, NULL, ok ? "ok\n" :
				    "not ok\n", ok ? 3 : 7);
			}
		} else {
			st = fio_get(&rq, err);
			if (st == RS_OK)
				st = auth_require_admin(sto, fio_user(&rq),
				    err);
			if (st == RS_OK || st == RS_EDB) {
				obs_health(sto, sql_dir, &h, &ok);
				if (st != RS_OK)
					strip_errors(h);
				add_embedder(h, em, &ok);
				json_object_object_add(h, "ok",
				    json_object_new_boolean(ok));
				code = ok ? 200 : 503;
				fio_write_json(&rq, code, json_object_get(h));
			} else {
				code = fio_http_status(st);
				json_object_object_add(log, "error",
				    json_object_new_string(err));
				fio_write_error(&rq, st, err, NULL);
			}
		}
		if (h != NULL) {
			json_object_object_add(log, "status",
			    json_object_new_string(ok ? "ok" : "not ok"));
			if (json_object_object_get_ex(h, "database", &db))
				json_object_object_add(log, "database",
				    json_object_get(db));
		}
		fio_log(&rq, code, log);
		json_object_put(h);
		fio_finish(&rq);
	}
	embed_close(em);
	store_close(sto);
	return 0;
}
