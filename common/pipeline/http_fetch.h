/*
 * http_fetch.h — one HTTP exchange with libcurl, with every limit set.
 * Prefix: fetch_.
 *
 * A struct fetcher wraps one reusable curl easy handle (connections are
 * kept alive between batches of a worker).  Only http and https are
 * allowed.  Redirects are followed by hand, at most FETCH_MAX_REDIRECTS,
 * and only within the origin (scheme, host, port) of the first URL, so
 * credentials in headers never reach another origin.  With check_addr,
 * the address actually connected to is checked: link-local and metadata
 * addresses are always refused, private and loopback ones unless
 * RESTSYNC_ALLOW_PRIVATE_NETWORKS=1.
 */
#ifndef HTTP_FETCH_H
#define HTTP_FETCH_H

#include <stddef.h>

#include "rs.h"

#define FETCH_MAX_REDIRECTS	5
#define FETCH_MAX_HEADER	8192	/* one captured response header */

struct fetcher;

struct fetch_req {
	const char		*method;	/* "GET" (default) or "POST" */
	const char		*url;
	const char *const	*headers;	/* "Name: value", NULL-ended */
	const char		*body;		/* POST body or NULL */
	const char		*content_type;	/* of the body; sent unless
						   headers name one */
	size_t			 body_len;
	long			 timeout_ms;	/* whole exchange, every hop */
	double			 deadline;	/* rs_now_ms() to end by; 0 none */
	size_t			 max_body;	/* response body cap, bytes */
	int			 check_addr;	/* SSRF check (upstreams) */
	/* Called before every exchange (each attempt, each redirect hop):
	 * anything but RS_OK ends the request with that status and no
	 * retry (the rate budget, ratelimit.h).  NULL: none. */
	enum rs_status		(*gate)(void *, char *err);
	void			*gate_arg;
};

struct fetch_resp {
	long		 status;	/* HTTP status, 0 if none */
	struct rs_buf	 body;
	char		*url;		/* final URL after redirects */
	char		*content_type;
	char		*etag;
	char		*last_modified;
	char		*link;		/* all Link headers, ", "-joined */
	char		*retry_after;
	double		 ms;		/* wall time of the exchange */
	int		 retryable;	/* transport failure worth retrying */
};

/*
 * Retry policy (fetch_retry): 429, 502, 503 and 504 answers and
 * connection failures (refused, reset, nothing received) are retried with
 * exponential backoff and full jitter, honouring Retry-After (seconds or
 * an HTTP date), as long as the next attempt can finish before deadline.
 * Timeouts, other statuses and refused addresses are not retried.
 */
struct fetch_policy {
	double		 deadline;	/* rs_now_ms() value to finish by */
	int		 max_attempts;
	long		 base_delay_ms;	/* first backoff, doubled each time */
	long		 max_delay_ms;
};

/*
 * fr made a POST of body (len bytes) to url with headers (NULL-ended),
 * each exchange within timeout_ms and its answer within max_body bytes;
 * every other field zeroed (no address check, deadline or gate).
 */
void		 fetch_req_post(struct fetch_req *fr, const char *url,
		    const char *const *headers, const char *body, size_t len,
		    long timeout_ms, size_t max_body);

enum rs_status	 fetch_open(struct fetcher **, char *err);
void		 fetch_close(struct fetcher *);

/*
 * Perform req; *resp is initialised here and must be released with
 * fetch_resp_free() whatever the result.  Any HTTP status is RS_OK
 * (callers judge it); transport failures, caps, refused addresses and
 * refused redirects are RS_EUPSTREAM with a message.
 */
enum rs_status	 fetch_do(struct fetcher *, const struct fetch_req *,
		    struct fetch_resp *, char *err);
void		 fetch_resp_free(struct fetch_resp *);

/*
 * fetch_do() under a retry policy.  req->timeout_ms caps each attempt
 * (and is cut to what is left before the deadline); the deadline bounds
 * everything — attempts, redirect hops, backoff and Retry-After waits.  *attempts counts the
 * exchanges made.  The result is the last attempt's; when retries were
 * given up because of the deadline the message says so.
 */
enum rs_status	 fetch_retry(struct fetcher *, const struct fetch_req *,
		    const struct fetch_policy *, struct fetch_resp *,
		    int *attempts, char *err);

/* Milliseconds a Retry-After value asks for; -1 if absent or invalid. */
long		 fetch_retry_after_ms(const char *value, long now);

/*
 * The RFC 6454 origin of an absolute URL, serialised: lower-case
 * "scheme://host" plus ":port" unless it is the scheme's default (the
 * form sql/007's restsync_origin() computes).  -1 (out "") if url does
 * not parse or the origin does not fit in outsz.
 */
#define FETCH_ORIGIN_MAX	320
int		 fetch_origin(const char *url, char *out, size_t outsz);

/* 1 if a and b are absolute URLs of the same scheme, host and port. */
int		 fetch_same_origin(const char *a, const char *b);

/* 1 if the numeric address may be connected to (see above). */
int		 fetch_addr_allowed(const char *ip);

#endif
