/*
 * endpoint.h — the one request skeleton of the admin endpoints.  Prefix:
 * ep_.
 *
 * A cgi-src program is a handler plus ep_main(&def): the skeleton starts
 * the program (libfcgi, pre-forked workers, the layers def.needs names),
 * and for every request runs the edge checks of the method (a JSON POST
 * or a GET/HEAD, common/edge/fcgi_io.h), the platform-admin check
 * (common/edge/auth.h), the handler, the reply (the handler's object on
 * success, the error body of its status otherwise) and one log line with
 * the action, the source and tenant, the status and the handler's fields.
 * No program repeats the accept loop, the error body or the log line.
 */
#ifndef ENDPOINT_H
#define ENDPOINT_H

#include <stddef.h>

#include <json-c/json.h>

#include "rs.h"

struct fio_req;
struct store;
struct src_db;
struct insp_db;
struct batch_ctx;

/* Layers a program opens once at start (def.needs). */
#define EP_SOURCES	0x01u	/* src_db: sources, audit, runs listings */
#define EP_BATCH	0x02u	/* a batch context: fetcher and embedder */
#define EP_INSPECT	0x04u	/* insp_db: preview, search, items */

struct ep_req {
	struct fio_req		*rq;
	struct store		*sto;
	struct src_db		*src;	/* EP_SOURCES, else NULL */
	struct batch_ctx	*batch;	/* EP_BATCH, else NULL */
	struct insp_db		*insp;	/* EP_INSPECT, else NULL */
	struct json_object	*body;	/* a POST's JSON object; GET: NULL */
	const char		*user;	/* the nginx-validated operator */
	const char		*query;	/* QUERY_STRING ("" when none) */
	int			 post;	/* the request is a POST */
	const char		*action; /* the log's action (def's by default) */
	char			 source_id[RS_UUID_LEN + 1]; /* logged if set */
	char			 tenant_id[RS_UUID_LEN + 1]; /* logged if set */
	struct json_object	*log;	/* the handler's own log fields */
	struct json_object	*err_extra; /* merged into an error body */
	long			 retry_after; /* a 429's Retry-After, seconds */
	int			 ok_code; /* HTTP code of success (def's) */
	/* A text answer instead of JSON (metrics): set by the handler. */
	const char		*text;
	size_t			 text_len;
	const char		*text_type;
};

/*
 * The handler: on RS_OK *out is the success body (put by the skeleton),
 * unless r->text was set; otherwise err says why.
 */
typedef enum rs_status (*ep_handler)(struct ep_req *r,
    struct json_object **out, char *err);

struct ep_def {
	const char	*program;	/* for logs and start-up errors */
	const char	*allow;		/* "POST", "GET, HEAD" or "GET, POST" */
	const char	*action;	/* the log's default action, or NULL */
	unsigned	 needs;		/* EP_* layers */
	int		 ok_code;	/* 0: 200 */
	ep_handler	 handle;
};

/* The program: returns its exit code (1 when it cannot start). */
int		 ep_main(const struct ep_def *);

/*
 * A cgi-src program's last lines: its definition and main().  allow,
 * action, needs, ok_code and handle as in struct ep_def.
 */
#define EP_PROGRAM(program, allow, action, needs, ok_code, handle)	\
	static const struct ep_def ep_program_def = {			\
		program, allow, action, needs, ok_code, handle		\
	};								\
	int main(void);							\
	int								\
	main(void)							\
	{								\
		return ep_main(&ep_program_def);			\
	}

/* {"ok":true} plus name: value (value put by the caller's object). */
struct json_object *ep_ok_with(const char *name, struct json_object *value);

/* The request's "sourceId" (a UUID) into r->source_id (400 otherwise). */
enum rs_status	 ep_source_id(struct ep_req *r, char *err);

/*
 * rest-sources POST (create = 1) and rest-sources-update: the body saved
 * (src_save), {"ok":true,"source":{...}}; log_key says in the log whether
 * a secret was stored.  Never logs the body.
 */
enum rs_status	 ep_source_save(struct ep_req *r, int create,
		    const char *log_key, struct json_object **out, char *err);

/*
 * A listing of one source (GET ?sourceId=&limit=, the audit trail or the
 * runs): {"ok":true,"sourceId","limit",key:[...]}; the count is logged.
 */
typedef enum rs_status (*ep_lister)(struct src_db *, const char *source_id,
    int limit, struct json_object **res, char *err);
enum rs_status	 ep_source_listing(struct ep_req *r, ep_lister fn,
		    const char *key, struct json_object **out, char *err);

#endif
