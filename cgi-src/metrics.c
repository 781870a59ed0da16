/*
 * metrics — GET /api/backoffice/metrics (admin zone): the Prometheus text
 * exposition format 0.0.4 (common/db/obs.h lists the series).  One database
 * query per scrape.  200 also when that query fails: the text then says
 * "restsync_up 0".  Raises 401/403 for a missing or non-admin operator,
 * 405 for other methods than GET and HEAD, 503 when the database is down
 * before the admin check, 500 past the size cap.
 */
#include <stdio.h>
#include <string.h>

#include "endpoint.h"
#include "obs.h"

#define METRICS_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* One text per worker, reused from scrape to scrape. */
static struct rs_buf	 text;

static enum rs_status
handle(struct ep_req *r, struct json_object **out, char *err)
{
	enum rs_status	 st;
	char		 merr[RS_ERRLEN] = "";

	(void)out;
	if (text.max == 0)
		rs_buf_init(&text, OBS_METRICS_MAX);
	rs_buf_reset(&text);
	if ((st = obs_metrics(r->sto, &text, merr)) == RS_ENOMEM) {
		rs_errf(err, "%s", merr);
		return st;
	}
	/* A failed query is still an answer: "restsync_up 0". */
	json_object_object_add(r->log, "up", json_object_new_boolean(st ==
	    RS_OK));
	if (st != RS_OK)
		json_object_object_add(r->log, "error",
		    json_object_new_string(merr));
	json_object_object_add(r->log, "bytes",
	    json_object_new_int64((int64_t)text.len));
	r->text = text.p;
	r->text_len = text.len;
	r->text_type = METRICS_TYPE;
	return RS_OK;
}

EP_PROGRAM("metrics", "GET, HEAD", NULL, 0, 200, handle)
