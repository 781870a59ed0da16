/*
 * metrics — GET /api/backoffice/metrics (admin zone): the Prometheus text
 * exposition format 0.0.4 (common/obs.h lists the series).  One database
 * query per scrape.  200 also when that query fails: the text then says
 * "restsync_up 0".  Raises 401/403 for a missing or non-admin operator,
 * 405 for other methods than GET and HEAD, 503 when the database is down
 * before the admin check, 500 past the size cap.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "fcgi_io.h"
#include "obs.h"
#include "store.h"

#define METRICS_TYPE	"text/plain; version=0.0.4; charset=utf-8"

int
main(void)
{
	struct fio_req		 rq;
	struct store		*sto = NULL;
	struct rs_buf		 text;
	struct json_object	*log;
	enum rs_status		 st, mst = RS_OK;
	char			 err[RS_ERRLEN], merr[RS_ERRLEN];
	int			 code;

	if (fio_init(&rq, "metrics") == -1 || fio_prefork(&rq) == -1)
		return 1;
	rq.allow = "GET, HEAD";
	if (store_open(&sto, err) != RS_OK) {
		fprintf(stderr, "metrics: %s\n", err);
		return 1;
	}
	rs_buf_init(&text, OBS_METRICS_MAX);
	while (fio_accept(&rq) >= 0) {
		err[0] = merr[0] = '\0';
		st = fio_get(&rq, err);
		if (st == RS_OK)
			st = auth_require_admin(sto, fio_user(&rq), err);
		if (st == RS_OK) {
			mst = obs_metrics(sto, &text, merr);
			if (mst == RS_ENOMEM) {
				st = mst;
				rs_errf(err, "%s", merr);
			}
		}
		log = json_object_new_object();
		json_object_object_add(log, "status",
		    json_object_new_string(rs_status_name(st)));
		if (st == RS_OK) {
			code = 200;
			json_object_object_add(log, "up",
			    json_object_new_boolean(mst == RS_OK));
			if (mst != RS_OK)
				json_object_object_add(log, "error",
				    json_object_new_string(merr));
			json_object_object_add(log, "bytes",
			    json_object_new_int64((int64_t)text.len));
			fio_write_text(&rq, code, METRICS_TYPE, text.p,
			    text.len);
		} else {
			code = fio_http_status(st);
			json_object_object_add(log, "error",
			    json_object_new_string(err));
			fio_write_error(&rq, st, err, NULL);
		}
		fio_log(&rq, code, log);
		rs_buf_reset(&text);
		fio_finish(&rq);
	}
	rs_buf_free(&text);
	store_close(sto);
	return 0;
}
