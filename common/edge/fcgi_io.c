/*
 * fcgi_io.c — request edge and responses for the FastCGI programs.
 */
#define _GNU_SOURCE		/* struct ucred, accept4 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fastcgi.h>
#include <openssl/crypto.h>

#include "fcgi_io.h"
#include "log.h"
#include "jsonbound.h"
#include "secret.h"

static const int http_codes[RS__MAX] = {
	200,	/* RS_OK */
	400,	/* RS_EINPUT */
	401,	/* RS_EAUTH */
	403,	/* RS_EFORBIDDEN */
	404,	/* RS_ENOTFOUND */
	405,	/* RS_EMETHOD */
	409,	/* RS_EBUSY */
	413,	/* RS_ETOOBIG */
	415,	/* RS_EMEDIA */
	502,	/* RS_EUPSTREAM */
	502,	/* RS_EEMBED */
	503,	/* RS_EDB */
	500,	/* RS_ENOMEM */
	500,	/* RS_EINTERNAL */
	409,	/* RS_EDISABLED */
	429,	/* RS_ERATE */
};

static const char *
reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

int
fio_http_status(enum rs_status st)
{
	if ((unsigned)st >= RS__MAX)
		return 500;
	return http_codes[st];
}

/*
 * The FastCGI boundary (issue 14, item 3).  We accept connections
 * ourselves instead of letting libfcgi do it, to check who is at the
 * other end (SO_PEERCRED: the nginx user, nobody else) and to put a
 * deadline on reading the request (libfcgi has none: an idle connection
 * would hold a worker for ever).  libfcgi is handed the connection with
 * keepConnection set, so that its FCGX_Accept_r reads the request from it;
 * its own listening socket is -1, so a bad request makes it fail at once
 * instead of accepting the next connection itself, without a deadline.
 */
static uid_t			 fio_peer_uid;	/* the nginx user */
static long			 fio_deadline_ms = FIO_READ_DEADLINE_MS;
static volatile sig_atomic_t	 fio_conn = -1;	/* the connection read */
static volatile sig_atomic_t	 fio_expired;

/* SIGALRM: the request was not read in time; end the connection. */
static void
fio_on_alarm(int sig)
{
	int	 fd = fio_conn;

	(void)sig;
	fio_expired = 1;
	if (fd >= 0)
		(void)shutdown(fd, SHUT_RD);	/* reads end; an answer may go */
}

/* Arm (ms > 0) or disarm (0) the read deadline of the connection fd. */
static void
fio_deadline(int fd, long ms)
{
	struct itimerval	 it;

	memset(&it, 0, sizeof(it));
	if (ms > 0) {
		fio_expired = 0;
		fio_conn = fd;
		it.it_value.tv_sec = ms / 1000;
		it.it_value.tv_usec = (ms % 1000) * 1000;
	}
	(void)setitimer(ITIMER_REAL, &it, NULL);
	if (ms <= 0)
		fio_conn = -1;
}

/*
 * The peer allowed to connect: RESTSYNC_NGINX_USER (a name or a uid),
 * else our own user (development: nginx and the programs run as one
 * user).  -1 with a message when the name is unknown.
 */
static int
fio_peer_setup(const char *program)
{
	const char	*u = getenv("RESTSYNC_NGINX_USER");
	const char	*t = getenv("RESTSYNC_REQUEST_TIMEOUT_MS");
	struct passwd	*pw;
	char		*end;
	long		 v;

	fio_peer_uid = geteuid();
	if (u != NULL && *u != '\0') {
		errno = 0;
		v = strtol(u, &end, 10);
		if (*end == '\0' && errno == 0 && v >= 0 && v < INT_MAX)
			fio_peer_uid = (uid_t)v;
		else if ((pw = getpwnam(u)) != NULL)
			fio_peer_uid = pw->pw_uid;
		else {
			fprintf(stderr, "%s: RESTSYNC_NGINX_USER: no user "
			    "'%.64s'\n", program, u);
			return -1;
		}
	}
	if (t != NULL && *t != '\0') {
		errno = 0;
		v = strtol(t, &end, 10);
		if (*end != '\0' || errno != 0 || v < 100 || v > 600000) {
			fprintf(stderr, "%s: RESTSYNC_REQUEST_TIMEOUT_MS must be "
			    "100..600000\n", program);
			return -1;
		}
		fio_deadline_ms = v;
	}
	return 0;
}

int
fio_init(struct fio_req *rq, const char *program)
{
	const char		*allow = getenv("RESTSYNC_ALLOW_ROOT");
	struct sigaction	 sa;

	rs_mem_init();
	memset(rq, 0, sizeof(*rq));
	rq->program = program;
	rq->allow = "POST";
	if ((getuid() == 0 || geteuid() == 0) &&
	    (allow == NULL || strcmp(allow, "1") != 0)) {
		fprintf(stderr, "%s: refusing to run as root; start it with "
		    "spawn-fcgi -u USER (or set RESTSYNC_ALLOW_ROOT=1)\n",
		    program);
		return -1;
	}
	if (fio_peer_setup(program) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fio_on_alarm;	/* no SA_RESTART: reads must end */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&rq->fcgx, -1, 0) != 0) {
		fprintf(stderr, "%s: FCGX_Init failed\n", program);
		return -1;
	}
	return 0;
}

/* A connection from anyone but the nginx user: logged and closed. */
static int
fio_peer_ok(struct fio_req *rq, int fd)
{
	struct ucred		 cr;
	socklen_t		 len = sizeof(cr);
	struct json_object	*o;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 &&
	    len == sizeof(cr) && cr.uid == fio_peer_uid)
		return 1;
	o = log_begin(rq->program);
	json_object_object_add(o, "status", json_object_new_string("error"));
	json_object_object_add(o, "error", json_object_new_string(
	    "FastCGI connection refused: the peer is not the nginx user"));
	if (len == sizeof(cr)) {
		json_object_object_add(o, "peer_uid",
		    json_object_new_int64((int64_t)cr.uid));
		json_object_object_add(o, "peer_pid",
		    json_object_new_int64((int64_t)cr.pid));
	}
	log_emit(o, NULL);
	return 0;
}

#define FIO_MAX_WORKERS	64

static volatile sig_atomic_t	 fio_stop;

static void
fio_on_term(int sig)
{
	(void)sig;
	fio_stop = 1;
	FCGX_ShutdownPending();
}

/* Install h for SIGTERM and SIGINT without SA_RESTART (accept must wake). */
static void
fio_signals(void (*h)(int))
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = h;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static pid_t
fio_spawn(void)
{
	pid_t	 pid = fork();

	if (pid == 0)
		fio_signals(fio_on_term);
	return pid;
}

int
fio_prefork(struct fio_req *rq)
{
	const char	*env = getenv("RESTSYNC_WORKERS");
	pid_t		 kids[FIO_MAX_WORKERS], pid;
	long		 n = env != NULL ? strtol(env, NULL, 10) : 2;
	int		 i, status;
	time_t		 last_spawn = 0;

	if (n < 1)
		n = 1;
	if (n > FIO_MAX_WORKERS)
		n = FIO_MAX_WORKERS;
	fio_signals(fio_on_term);
	for (i = 0; i < n; i++) {
		if ((kids[i] = fio_spawn()) == 0)
			return 0;
		if (kids[i] == -1)
			fprintf(stderr, "%s: fork: %s\n", rq->program,
			    strerror(errno));
	}
	while (!fio_stop) {
		pid = waitpid(-1, &status, 0);
		if (pid == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < n; i++) {
			if (kids[i] != pid || fio_stop)
				continue;
			fprintf(stderr, "%s: worker %ld exited (%s %d); "
			    "respawning\n", rq->program, (long)pid,
			    WIFSIGNALED(status) ? "signal" : "status",
			    WIFSIGNALED(status) ? WTERMSIG(status) :
			    WEXITSTATUS(status));
			/* A worker that dies at once every time must not
			 * spin: at most one respawn a second. */
			if (time(NULL) == last_spawn)
				sleep(1);
			last_spawn = time(NULL);
			if ((kids[i] = fio_spawn()) == 0)
				return 0;
		}
	}
	for (i = 0; i < n; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGTERM);
	for (i = 0; i < n; i++)
		while (kids[i] > 0 && waitpid(kids[i], &status, 0) == -1 &&
		    errno == EINTR)
			;
	exit(0);
}

/*
 * The request body and its parsed tree may hold an API key (apiKey):
 * wiped before they are freed (issue 14).
 */
static void
fio_drop_body(struct fio_req *rq)
{
	if (rq->body != NULL) {
		OPENSSL_cleanse(rq->body, rq->body_len);
		free(rq->body);
	}
	rq->body = NULL;
	rq->body_len = 0;
	if (rq->json != NULL) {
		secret_wipe_json(rq->json);
		json_object_put(rq->json);
		rq->json = NULL;
	}
}

int
fio_accept(struct fio_req *rq)
{
	struct timeval	 tv;
	const char	*cl;
	int		 fd;

	fio_drop_body(rq);
	while (!fio_stop) {
		if ((fd = rq->fcgx.ipcFd) < 0) {
			/* Blocks until a connection comes; SIGTERM ends it
			 * (EINTR: no SA_RESTART). */
			if ((fd = accept4(FCGI_LISTENSOCK_FILENO, NULL, NULL,
			    SOCK_CLOEXEC)) == -1) {
				if (errno == EBADF || errno == ENOTSOCK ||
				    errno == EINVAL) {
					fprintf(stderr, "%s: accept: %s\n",
					    rq->program, strerror(errno));
					return -1;
				}
				continue;
			}
			if (!fio_peer_ok(rq, fd)) {
				close(fd);
				continue;
			}
			/* Writes too must not block for ever. */
			tv.tv_sec = 3 * fio_deadline_ms / 1000;
			tv.tv_usec = 0;
			(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
			    sizeof(tv));
			rq->fcgx.ipcFd = fd;
			rq->fcgx.keepConnection = 1;	/* see above */
		}
		fio_deadline(fd, fio_deadline_ms);
		if (FCGX_Accept_r(&rq->fcgx) < 0) {
			/* libfcgi closed it (bad or late request). */
			fio_deadline(-1, 0);
			rq->fcgx.ipcFd = -1;
			continue;
		}
		rq->t0 = rs_now_ms();
		/* Nothing more to read: the deadline is over. */
		cl = fio_param(rq, "CONTENT_LENGTH");
		if (*cl == '\0' || strcmp(cl, "0") == 0)
			fio_deadline(-1, 0);
		return 0;
	}
	return -1;
}

void
fio_finish(struct fio_req *rq)
{
	fio_drop_body(rq);
	/* libfcgi drains the connection before closing it: bounded too. */
	if (rq->fcgx.ipcFd >= 0)
		fio_deadline(rq->fcgx.ipcFd, fio_deadline_ms);
	FCGX_Finish_r(&rq->fcgx);
	fio_deadline(-1, 0);
}

const char *
fio_param(struct fio_req *rq, const char *name)
{
	const char	*v = FCGX_GetParam(name, rq->fcgx.envp);

	return v != NULL ? v : "";
}

const char *
fio_user(struct fio_req *rq)
{
	return fio_param(rq, "REMOTE_USER");
}

/* Read the body, at most FIO_MAX_BODY bytes. */
static enum rs_status
read_body(struct fio_req *rq, char *err)
{
	const char	*cl = fio_param(rq, "CONTENT_LENGTH");
	char		*end;
	long		 n;
	int		 got;

	n = *cl ? strtol(cl, &end, 10) : 0;
	if (*cl && (*end != '\0' || n < 0)) {
		rs_errf(err, "invalid Content-Length");
		return RS_EINPUT;
	}
	if ((size_t)n > FIO_MAX_BODY) {
		rs_errf(err, "request body larger than %u bytes",
		    FIO_MAX_BODY);
		return RS_ETOOBIG;
	}
	if ((rq->body = malloc((size_t)n + 1)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	got = n > 0 ? FCGX_GetStr(rq->body, (int)n, rq->fcgx.in) : 0;
	fio_deadline(-1, 0);	/* the request is read */
	if (got != n) {
		if (fio_expired)
			rs_errf(err, "request body not received within %ld ms",
			    fio_deadline_ms);
		else
			rs_errf(err, "request body shorter than "
			    "Content-Length");
		return RS_EINPUT;
	}
	rq->body[n] = '\0';
	rq->body_len = (size_t)n;
	return RS_OK;
}

/* 1 if Content-Type is application/json (parameters allowed). */
static int
is_json_type(const char *ct)
{
	size_t	 n = strlen("application/json");

	return strncasecmp(ct, "application/json", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/*
 * Same-origin check (CSRF).  A browser always sends Origin on a
 * cross-origin POST and Sec-Fetch-Site on every request; non-browser
 * clients (curl, the CLI) send neither and are not subject to CSRF.
 */
static int
same_origin(struct fio_req *rq)
{
	const char	*origin = fio_param(rq, "HTTP_ORIGIN");
	const char	*site = fio_param(rq, "HTTP_SEC_FETCH_SITE");
	const char	*host = fio_param(rq, "HTTP_HOST");
	const char	*scheme = fio_param(rq, "REQUEST_SCHEME");
	char		 want[512];
	int		 n;

	if (*site && strcmp(site, "same-origin") != 0 &&
	    strcmp(site, "none") != 0)
		return 0;
	if (*origin == '\0')
		return 1;
	n = snprintf(want, sizeof(want), "%s://%s", *scheme ? scheme : "http",
	    host);
	if (n < 0 || (size_t)n >= sizeof(want))
		return 0;
	return strcasecmp(origin, want) == 0;
}

enum rs_status
fio_json_post(struct fio_req *rq, struct json_object **body, char *err)
{
	struct json_object	*o = NULL;
	enum rs_status		 st;

	*body = NULL;
	if (strcmp(fio_param(rq, "REQUEST_METHOD"), "POST") != 0) {
		rs_errf(err, "method not allowed; use POST");
		return RS_EMETHOD;
	}
	if (*fio_user(rq) == '\0') {
		rs_errf(err, "authentication required");
		return RS_EAUTH;
	}
	if (!same_origin(rq)) {
		rs_errf(err, "cross-site request refused");
		return RS_EFORBIDDEN;
	}
	if (!is_json_type(fio_param(rq, "CONTENT_TYPE"))) {
		rs_errf(err, "Content-Type must be application/json");
		return RS_EMEDIA;
	}
	if ((st = read_body(rq, err)) != RS_OK)
		return st;
	/* 64 KiB of "[{},...]" would be 17 MiB of tree: bounded first. */
	if ((st = jbound_parse(rq->body, rq->body_len, FIO_JSON_DEPTH,
	    FIO_JSON_BUDGET, "request body", &o, NULL, err)) != RS_OK) {
		if (st == RS_EINPUT)
			rs_errf(err, "request body is not valid JSON");
		return st;
	}
	if (!json_object_is_type(o, json_type_object)) {
		rs_errf(err, "request body must be a JSON object");
		json_object_put(o);
		return RS_EINPUT;
	}
	/* Ours too, to wipe it when the request is finished. */
	rq->json = json_object_get(o);
	*body = o;
	return RS_OK;
}

enum rs_status
fio_get(struct fio_req *rq, char *err)
{
	const char	*m = fio_param(rq, "REQUEST_METHOD");

	if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
		rs_errf(err, "method not allowed; use GET");
		return RS_EMETHOD;
	}
	if (*fio_user(rq) == '\0') {
		rs_errf(err, "authentication required");
		return RS_EAUTH;
	}
	return RS_OK;
}

/* The status line and the common headers, once per response. */
static void
fio_head(struct fio_req *rq, int code, const char *ctype, size_t len)
{
	char		 head[512], allow[64];
	int		 n;

	fio_deadline(-1, 0);	/* answering: the request was read */
	allow[0] = '\0';
	if (code == 405)
		(void)snprintf(allow, sizeof(allow), "Allow: %s\r\n",
		    rq->allow != NULL ? rq->allow : "POST");
	else if (code == 429 && rq->retry_after > 0)
		(void)snprintf(allow, sizeof(allow), "Retry-After: %ld\r\n",
		    rq->retry_after);
	rq->retry_after = 0;
	/* libfcgi's own printf lacks %zu: format headers with snprintf. */
	n = snprintf(head, sizeof(head),
	    "Status: %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Content-Security-Policy: default-src 'none'; "
	    "frame-ancestors 'none'\r\n"
	    "%s"
	    "\r\n", code, reason(code), ctype, len, allow);
	if (n > 0 && (size_t)n < sizeof(head))
		FCGX_PutStr(head, n, rq->fcgx.out);
}

void
fio_write_text(struct fio_req *rq, int code, const char *ctype,
    const char *body, size_t len)
{
	if (len > INT_MAX)
		len = 0;
	fio_head(rq, code, ctype != NULL ? ctype :
	    "text/plain; charset=utf-8", len);
	if (strcmp(fio_param(rq, "REQUEST_METHOD"), "HEAD") != 0 && len > 0)
		FCGX_PutStr(body, (int)len, rq->fcgx.out);
}

void
fio_write_json(struct fio_req *rq, int code, struct json_object *obj)
{
	const char	*s;
	size_t		 len;

	s = json_object_to_json_string_ext(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(s);
	fio_write_text(rq, code, "application/json; charset=utf-8", s, len);
	json_object_put(obj);
}

void
fio_write_error(struct fio_req *rq, enum rs_status st, const char *msg,
    struct json_object *extra)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	if (extra != NULL) {
		json_object_object_foreach(extra, k, v)
			json_object_object_add(o, k, json_object_get(v));
		json_object_put(extra);
	}
	fio_write_json(rq, fio_http_status(st), o);
}

struct json_object *
fio_ok(void)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

void
fio_reply(struct fio_req *rq, enum rs_status st, int ok_code,
    struct json_object *out, const char *msg, struct json_object *log)
{
	int	 code = st == RS_OK ? ok_code : fio_http_status(st);

	if (log == NULL)
		log = json_object_new_object();
	json_object_object_add(log, "status",
	    json_object_new_string(rs_status_name(st)));
	if (st == RS_OK)
		fio_write_json(rq, code, out);
	else {
		json_object_put(out);
		json_object_object_add(log, "error",
		    json_object_new_string(msg));
		fio_write_error(rq, st, msg, NULL);
	}
	fio_log(rq, code, log);
}

void
fio_log(struct fio_req *rq, int code, struct json_object *fields)
{
	struct json_object	*o = log_begin(rq->program);
	char			 ms[32];

	json_object_object_add(o, "request_id",
	    json_object_new_string(fio_param(rq, "REQUEST_ID")));
	json_object_object_add(o, "user", json_object_new_string(fio_user(rq)));
	json_object_object_add(o, "http", json_object_new_int(code));
	(void)snprintf(ms, sizeof(ms), "%.2f", rs_now_ms() - rq->t0);
	json_object_object_add(o, "ms",
	    json_object_new_double_s(rs_now_ms() - rq->t0, ms));
	json_object_object_add(o, "source_id", NULL);
	json_object_object_add(o, "tenant_id", NULL);
	json_object_object_add(o, "status",
	    json_object_new_string(code < 400 ? "ok" : "error"));
	log_emit(o, fields);
}

