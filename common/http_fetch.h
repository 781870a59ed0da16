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
	size_t			 body_len;
	long			 timeout_ms;	/* whole exchange */
	size_t			 max_body;	/* response body cap, bytes */
	int			 check_addr;	/* SSRF check (upstreams) */
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
};

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

/* 1 if a and b are absolute URLs of the same scheme, host and port. */
int		 fetch_same_origin(const char *a, const char *b);

/* 1 if the numeric address may be connected to (see above). */
int		 fetch_addr_allowed(const char *ip);

#endif
