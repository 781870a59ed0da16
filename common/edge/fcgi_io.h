/*
 * fcgi_io.h — the edge of every FastCGI program: accept a request, read
 * and cap its body, check method, media type, origin and identity, write
 * JSON responses with the common headers.  Prefix: fio_.
 *
 * Status → HTTP mapping lives here and only here (fio_http_status).
 * Identity is the FastCGI parameter REMOTE_USER, set by nginx after it
 * validated the operator; client headers (HTTP_*) are never consulted.
 */
#ifndef FCGI_IO_H
#define FCGI_IO_H

#include <stddef.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "rs.h"

#define FIO_MAX_BODY	(64u * 1024)	/* request bodies to our endpoints */
#define FIO_JSON_DEPTH	16
#define FIO_READ_DEADLINE_MS	5000 	/* to read a request, by default */
#define FIO_JSON_BUDGET	(2u * 1024 * 1024)	/* heap for a body's tree */

struct fio_req {
	FCGX_Request	 fcgx;
	char		*body;
	size_t		 body_len;
	double		 t0;
	const char	*program;
	const char	*allow;		/* methods for 405's Allow ("POST") */
	long		 retry_after;	/* 429's Retry-After, seconds; 0 none
					 * (set by the handler, reset per answer) */
	struct json_object *json;	/* the parsed body, wiped at the end */
};

/*
 * Initialise libfcgi and refuse to run as root (spawn-fcgi drops to an
 * unprivileged user; RESTSYNC_ALLOW_ROOT=1 overrides for debugging).
 * Connections are accepted only from the user RESTSYNC_NGINX_USER names
 * (default: our own user), checked with SO_PEERCRED; a request must be
 * read within RESTSYNC_REQUEST_TIMEOUT_MS (default FIO_READ_DEADLINE_MS),
 * else its connection is closed and the worker takes the next one.
 * Returns -1 with a message on stderr when the program must exit.
 */
int		 fio_init(struct fio_req *, const char *program);

/*
 * Become a small pre-forking supervisor: fork RESTSYNC_WORKERS (default 2,
 * at most 64) workers that share the listening socket, respawn any that
 * dies (a killed worker loses only its own request), and forward SIGTERM/
 * SIGINT to them.  Returns 0 in each worker; the supervisor itself exits
 * from inside this function when told to stop.  SIGTERM in a worker makes
 * fio_accept() return -1 after the current request, for a clean exit.
 */
int		 fio_prefork(struct fio_req *);

/* Wait for the next request; -1 when the program should exit. */
int		 fio_accept(struct fio_req *);
void		 fio_finish(struct fio_req *);

/* A FastCGI parameter ("" when absent). */
const char	*fio_param(struct fio_req *, const char *name);

/* The HTTP status for a status code. */
int		 fio_http_status(enum rs_status);

/*
 * Edge checks for a state-changing JSON endpoint: method POST (else 405),
 * Content-Type application/json (415), same-origin by Origin and
 * Sec-Fetch-Site (403), identity present (401), body within FIO_MAX_BODY
 * (413) and a JSON object (400).  *body is the parsed object (caller
 * puts it).  Authorization (platform admin) is the caller's next step.
 */
enum rs_status	 fio_json_post(struct fio_req *, struct json_object **body,
		    char *err);

/* Edge checks for a read-only endpoint: GET or HEAD, identity present. */
enum rs_status	 fio_get(struct fio_req *, char *err);

/* The validated operator (REMOTE_USER), "" when none. */
const char	*fio_user(struct fio_req *);

/*
 * Write obj (put by this function) as the response body with the common
 * headers: Content-Type, Cache-Control: no-store, nosniff, CSP.
 */
void		 fio_write_json(struct fio_req *, int http_status,
		    struct json_object *obj);

/*
 * {"ok":false,"error":msg, ...extra} with the HTTP status of st; extra
 * (may be NULL) is merged and put.
 */
void		 fio_write_error(struct fio_req *, enum rs_status st,
		    const char *msg, struct json_object *extra);

/*
 * body[0..len) as text/plain (or ctype) with the common headers; Allow
 * on 405.  For the few answers that are not JSON (/healthz, metrics).
 */
void		 fio_write_text(struct fio_req *, int http_status,
		    const char *ctype, const char *body, size_t len);

/* A new {"ok":true} object for a success body. */
struct json_object *fio_ok(void);

/*
 * Finish a request in one place: with RS_OK write out (put) with ok_code;
 * otherwise put out and write the error JSON of st with msg.  Then one
 * log line with log's fields (put; may be NULL) plus "status", and
 * "error" on failure.
 */
void		 fio_reply(struct fio_req *, enum rs_status st, int ok_code,
		    struct json_object *out, const char *msg,
		    struct json_object *log);

/*
 * One JSON line to stderr per request: time, request_id, program, user,
 * http, ms (the request's wall time), then fields (put by this function;
 * may be NULL).  source_id and tenant_id are null and status is "ok" or
 * "error" by the HTTP code unless fields say otherwise.  Fields must
 * never carry a secret: callers log what they did, not request bodies.
 */
void		 fio_log(struct fio_req *, int http_status,
		    struct json_object *fields);

#endif
