/*
 * http_fetch.c — libcurl exchanges with caps, manual same-origin redirects
 * and a connect-time address check.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>

#include "http_fetch.h"
#include "secret.h"
#include "settings.h"

/*
 * Two handles, hence two connection caches: a kept-alive connection is
 * reused without a new connect, so one opened for an unchecked exchange
 * (the embeddings endpoint) must never carry a checked one.
 */
struct fetcher {
	CURL	*h;			/* unchecked exchanges */
	CURL	*hc;			/* checked exchanges (upstreams) */
	int	 allow_private;		/* setting hc's connections obey */
	int	 refused;		/* set by the open-socket callback */
	char	 refused_ip[64];
};

struct sink {
	struct rs_buf	*buf;
	int		 overflow;
};

static size_t
fetch_write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink	*s = arg;
	size_t		 n = size * nmemb;

	if (rs_buf_append(s->buf, p, n) == -1) {
		s->overflow = 1;
		return 0;	/* CURLE_WRITE_ERROR */
	}
	return n;
}

static int
ipv4_blocked(const unsigned char *a, int allow_private)
{
	/* Always refused: link-local incl. cloud metadata, "this" net,
	 * multicast and reserved. */
	if (a[0] == 169 && a[1] == 254)
		return 1;
	/* Metadata services outside 169.254/16: Alibaba 100.100.100.200,
	 * Oracle 192.0.0.192, Azure's wire server 168.63.129.16. */
	if ((a[0] == 100 && a[1] == 100 && a[2] == 100 && a[3] == 200) ||
	    (a[0] == 192 && a[1] == 0 && a[2] == 0 && a[3] == 192) ||
	    (a[0] == 168 && a[1] == 63 && a[2] == 129 && a[3] == 16))
		return 1;
	if (a[0] == 0 || a[0] >= 224)
		return 1;
	if (allow_private)
		return 0;
	return a[0] == 127 || a[0] == 10 ||
	    (a[0] == 172 && (a[1] & 0xf0) == 16) ||
	    (a[0] == 192 && a[1] == 168) ||
	    (a[0] == 100 && (a[1] & 0xc0) == 64) ||	/* CGNAT */
	    (a[0] == 198 && (a[1] & 0xfe) == 18);	/* benchmarking */
}

/*
 * An IPv6 address that carries an IPv4 address is judged by it (issue
 * 14): -1 when b is not one, else ipv4_blocked() of every IPv4 address
 * it may stand for.  The forms: IPv4-mapped ::ffff:0:0/96 and
 * IPv4-compatible ::/96 (RFC 4291 §2.5.5; :: and ::1 are themselves),
 * SIIT ::ffff:0:0:0/96 (RFC 2765), NAT64 64:ff9b::/96 (RFC 6052) and the
 * local-use 64:ff9b:1::/48 (RFC 8215: the IPv4 address sits where the
 * operator's prefix length puts it, RFC 6052 §2.2 — every candidate is
 * judged), 6to4 2002::/16 (RFC 3056, bits 16-47) and Teredo 2001::/32
 * (RFC 4380: the server in bits 32-63, the client inverted in 96-127).
 */
static int
ipv6_embedded_blocked(const unsigned char *b, int allow_private)
{
	static const unsigned char zero[12];
	static const unsigned char v4mapped[12] =
	    { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
	static const unsigned char siit[12] =
	    { 0,0,0,0,0,0,0,0,0xff,0xff,0,0 };
	static const unsigned char nat64[12] =	/* 64:ff9b::/96 */
	    { 0,0x64,0xff,0x9b,0,0,0,0,0,0,0,0 };
	static const unsigned char nat64l[6] =	/* 64:ff9b:1::/48 */
	    { 0,0x64,0xff,0x9b,0,0x01 };
	unsigned char		 v4[4];
	int			 i;

	if (memcmp(b, v4mapped, 12) == 0 || memcmp(b, siit, 12) == 0 ||
	    memcmp(b, nat64, 12) == 0)
		return ipv4_blocked(b + 12, allow_private);
	if (memcmp(b, zero, 12) == 0) {
		if (b[12] == 0 && b[13] == 0 && b[14] == 0 && b[15] <= 1)
			return -1;	/* :: and ::1 */
		return ipv4_blocked(b + 12, allow_private);
	}
	if (memcmp(b, nat64l, 6) == 0) {
		/* /96 */
		if (ipv4_blocked(b + 12, allow_private))
			return 1;
		if (memcmp(b + 6, zero, 6) == 0)
			return 0;
		/* /48, /56, /64 (bits 64-71 are the "u" octet). */
		v4[0] = b[6]; v4[1] = b[7]; v4[2] = b[9]; v4[3] = b[10];
		if (ipv4_blocked(v4, allow_private))
			return 1;
		v4[0] = b[7]; v4[1] = b[9]; v4[2] = b[10]; v4[3] = b[11];
		if (ipv4_blocked(v4, allow_private))
			return 1;
		return ipv4_blocked(b + 9, allow_private);
	}
	if (b[0] == 0x20 && b[1] == 0x02)		/* 6to4 */
		return ipv4_blocked(b + 2, allow_private);
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) {
		/* Teredo: the server, then the client (inverted). */
		if (ipv4_blocked(b + 4, allow_private))
			return 1;
		for (i = 0; i < 4; i++)
			v4[i] = (unsigned char)~b[12 + i];
		return ipv4_blocked(v4, allow_private);
	}
	return -1;
}

static int
ipv6_blocked(const struct in6_addr *a6, int allow_private)
{
	const unsigned char	*b = a6->s6_addr;
	static const unsigned char ec2md[16] =	/* fd00:ec2::254 */
	    { 0xfd,0,0x0e,0xc2,0,0,0,0,0,0,0,0,0,0,0x02,0x54 };
	int			 v;

	/* Addresses that carry an IPv4 address are judged by it. */
	if ((v = ipv6_embedded_blocked(b, allow_private)) != -1)
		return v;
	if (memcmp(b, ec2md, 16) == 0)
		return 1;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)	/* fe80::/10 */
		return 1;
	if (b[0] == 0xff)				/* multicast */
		return 1;
	if (IN6_IS_ADDR_UNSPECIFIED(a6))
		return 1;
	if (allow_private)
		return 0;
	return IN6_IS_ADDR_LOOPBACK(a6) || (b[0] & 0xfe) == 0xfc ||
	    (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0);	/* site-local */
}

static int
env_allow_private(void)
{
	return settings_get()->allow_private;
}

int
fetch_addr_allowed(const char *ip)
{
	unsigned char	 a4[4];
	struct in6_addr	 a6;

	if (inet_pton(AF_INET, ip, a4) == 1)
		return !ipv4_blocked(a4, env_allow_private());
	if (inet_pton(AF_INET6, ip, &a6) == 1)
		return !ipv6_blocked(&a6, env_allow_private());
	return 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: refuse the connection before it is made. */
static curl_socket_t
fetch_open_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct fetcher		*fx = arg;
	int			 bad = 1;

	(void)purpose;
	if (addr->family == AF_INET) {
		const struct sockaddr_in *sin =
		    (const struct sockaddr_in *)(const void *)&addr->addr;
		bad = ipv4_blocked((const unsigned char *)&sin->sin_addr,
		    fx->allow_private);
		inet_ntop(AF_INET, &sin->sin_addr, fx->refused_ip,
		    sizeof(fx->refused_ip));
	} else if (addr->family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)(const void *)&addr->addr;
		bad = ipv6_blocked(&sin6->sin6_addr, fx->allow_private);
		inet_ntop(AF_INET6, &sin6->sin6_addr, fx->refused_ip,
		    sizeof(fx->refused_ip));
	}
	if (bad) {
		fx->refused = 1;
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype, addr->protocol);
}

void
fetch_req_post(struct fetch_req *fr, const char *url,
    const char *const *headers, const char *body, size_t len,
    long timeout_ms, size_t max_body)
{
	memset(fr, 0, sizeof(*fr));
	fr->method = "POST";
	fr->url = url;
	fr->headers = headers;
	fr->body = body;
	fr->body_len = len;
	fr->timeout_ms = timeout_ms;
	fr->max_body = max_body;
}

enum rs_status
fetch_open(struct fetcher **out, char *err)
{
	struct fetcher	*fx;

	*out = NULL;
	if ((fx = calloc(1, sizeof(*fx))) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	if ((fx->h = curl_easy_init()) == NULL) {
		free(fx);
		rs_errf(err, "curl_easy_init failed");
		return RS_EINTERNAL;
	}
	*out = fx;
	return RS_OK;
}

void
fetch_close(struct fetcher *fx)
{
	if (fx == NULL)
		return;
	curl_easy_cleanup(fx->h);
	curl_easy_cleanup(fx->hc);
	free(fx);
}

/*
 * The handle for checked exchanges, made on first use and made anew (its
 * kept-alive connections closed) when RESTSYNC_ALLOW_PRIVATE_NETWORKS
 * changes, so no connection outlives the setting it was checked under.
 */
static CURL *
checked_handle(struct fetcher *fx)
{
	int	 allow = env_allow_private();

	if (fx->hc != NULL && allow != fx->allow_private) {
		curl_easy_cleanup(fx->hc);
		fx->hc = NULL;
	}
	if (fx->hc == NULL)
		fx->hc = curl_easy_init();
	fx->allow_private = allow;
	return fx->hc;
}

void
fetch_resp_free(struct fetch_resp *r)
{
	rs_buf_free(&r->body);
	secret_free_str(r->url);	/* its query may hold a key */
	free(r->content_type);
	free(r->etag);
	free(r->last_modified);
	free(r->link);
	free(r->retry_after);
	memset(r, 0, sizeof(*r));
}

int
fetch_origin(const char *url, char *out, size_t outsz)
{
	CURLU	*u;
	char	*scheme = NULL, *host = NULL, *port = NULL;
	int	 rc = -1, n;
	size_t	 i;
	CURLUcode pc;

	if (outsz > 0)
		out[0] = '\0';
	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	pc = curl_url_get(u, CURLUPART_PORT, &port, CURLU_NO_DEFAULT_PORT);
	if (pc != CURLUE_OK && pc != CURLUE_NO_PORT)
		goto out;
	n = snprintf(out, outsz, "%s://%s%s%s", scheme, host,
	    port != NULL ? ":" : "", port != NULL ? port : "");
	if (n < 0 || (size_t)n >= outsz)
		goto out;
	for (i = 0; out[i] != '\0'; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
	rc = 0;
out:
	if (rc == -1 && outsz > 0)
		out[0] = '\0';
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

int
fetch_same_origin(const char *a, const char *b)
{
	char	 oa[1024], ob[1024];

	/* Default ports are left out of both: http://a:80 is http://a. */
	if (fetch_origin(a, oa, sizeof(oa)) == -1 ||
	    fetch_origin(b, ob, sizeof(ob)) == -1)
		return 0;
	return strcmp(oa, ob) == 0;
}

/* Copy response header name (last instance) into *dst, or leave NULL. */
static void
grab_header(CURL *h, const char *name, char **dst)
{
	struct curl_header	*hd;

	free(*dst);
	*dst = NULL;
	if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &hd) ==
	    CURLHE_OK && hd->value != NULL &&
	    strlen(hd->value) < FETCH_MAX_HEADER)
		*dst = strdup(hd->value);
}

/*
 * All instances of Link, joined with ", " (RFC 8288 §3 allows both), into
 * *dst; -1 when they exceed the cap.
 */
static int
grab_links(CURL *h, char **dst)
{
	struct curl_header	*hd;
	struct rs_buf		 b;
	size_t			 i, amount;

	free(*dst);
	*dst = NULL;
	if (curl_easy_header(h, "Link", 0, CURLH_HEADER, -1, &hd) !=
	    CURLHE_OK)
		return 0;
	amount = hd->amount;
	rs_buf_init(&b, FETCH_MAX_HEADER * 4);
	for (i = 0; i < amount; i++) {
		if (curl_easy_header(h, "Link", i, CURLH_HEADER, -1, &hd) !=
		    CURLHE_OK)
			break;
		if ((b.len > 0 && rs_buf_puts(&b, ", ") == -1) ||
		    rs_buf_puts(&b, hd->value) == -1) {
			rs_buf_free(&b);
			return -1;
		}
	}
	*dst = rs_buf_steal(&b);
	return *dst != NULL ? 0 : -1;
}

/* Resolve a Location against base into a newly allocated URL. */
static char *
resolve_location(const char *base, const char *loc)
{
	CURLU	*u;
	char	*s = NULL, *out = NULL;

	if ((u = curl_url()) == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, loc, CURLU_URLENCODE) ==
	    CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK)
		out = strdup(s);
	curl_free(s);
	curl_url_cleanup(u);
	return out;
}

/*
 * The request's headers into *hl, with req->content_type as a header
 * unless req->headers name one.
 */
static enum rs_status
fetch_header_list(const struct fetch_req *req, struct curl_slist **hl,
    char *err)
{
	struct curl_slist	*tmp;
	char			 h[256];
	size_t			 i;
	int			 n;

	for (i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
		if ((tmp = curl_slist_append(*hl, req->headers[i])) == NULL) {
			rs_errf(err, "out of memory");
			return RS_ENOMEM;
		}
		*hl = tmp;
	}
	if (req->content_type == NULL)
		return RS_OK;
	for (i = 0; req->headers != NULL && req->headers[i] != NULL; i++)
		if (strncasecmp(req->headers[i], "Content-Type:", 13) == 0)
			return RS_OK;
	n = snprintf(h, sizeof(h), "Content-Type: %s", req->content_type);
	if (n < 0 || (size_t)n >= sizeof(h)) {
		rs_errf(err, "Content-Type is too long");
		return RS_EINTERNAL;
	}
	if ((tmp = curl_slist_append(*hl, h)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	*hl = tmp;
	return RS_OK;
}

/* One fetch_do(): the request, its handle and what each hop shares. */
struct exchange {
	struct fetcher		*fx;
	const struct fetch_req	*req;
	CURL			*h;
	struct curl_slist	*hl;
	struct sink		 sink;
	char			*url;		/* this hop's */
	char			*loc;		/* its Location */
	char			 ebuf[CURL_ERROR_SIZE];
	int			 is_post;
	double			 t0;
};

/*
 * A timeout into err, saying which limit it was (the operator page's hint
 * reads it): the request's own (timeoutMs), or the deadline of the batch
 * when that came first (what was left of it when the exchange started).
 */
static void
fetch_timed_out(const struct exchange *x, char *err)
{
	const struct fetch_req	*req = x->req;
	double			 now = rs_now_ms();

	if (req->deadline > 0 && req->deadline < x->t0 +
	    (double)req->timeout_ms)
		rs_errf(err, "timed out after %.0f ms at the batch deadline "
		    "(%.0f ms were left of the batch when the request "
		    "started; the request timeout, timeoutMs, is %ld ms)",
		    now - x->t0, req->deadline > x->t0 ? req->deadline -
		    x->t0 : 0.0, req->timeout_ms);
	else
		rs_errf(err, "timed out after %ld ms (the request timeout, "
		    "timeoutMs)", req->timeout_ms);
}

/*
 * What is left for the next hop: one budget for all hops, what is left
 * of the request's timeout and of its deadline (issue 14).  Below 1 (and
 * err) when nothing is.
 */
static double
fetch_left(const struct exchange *x, char *err)
{
	const struct fetch_req	*req = x->req;
	double			 left;

	left = (double)req->timeout_ms - (rs_now_ms() - x->t0);
	if (req->deadline > 0 && req->deadline - rs_now_ms() < left)
		left = req->deadline - rs_now_ms();
	if (left < 1)
		fetch_timed_out(x, err);
	return left;
}

/* Set the handle up for one hop to x->url within left ms. */
static void
fetch_setup(struct exchange *x, double left)
{
	const struct fetch_req	*req = x->req;
	CURL			*h = x->h;

	curl_easy_reset(h);
	rs_buf_reset(x->sink.buf);
	x->sink.overflow = 0;
	x->fx->refused = 0;
	x->ebuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, x->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)left);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)req->max_body);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "restsync/0.1");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fetch_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x->sink);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->ebuf);
	if (req->check_addr) {
		curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, fetch_open_cb);
		curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, x->fx);
		/* No proxy from the environment: the check must see the
		 * upstream's address, not a proxy's. */
		curl_easy_setopt(h, CURLOPT_PROXY, "");
	}
	if (x->is_post) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)req->body_len);
	}
}

/* A transfer that failed with cc: whether it is worth retrying, and why
 * it failed into err. */
static void
fetch_failed(const struct exchange *x, CURLcode cc, struct fetch_resp *resp,
    char *err)
{
	const struct fetcher	*fx = x->fx;

	resp->retryable = !fx->refused && !x->sink.overflow &&
	    (cc == CURLE_COULDNT_CONNECT || cc == CURLE_SEND_ERROR ||
	    cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING ||
	    cc == CURLE_PARTIAL_FILE);
	if (fx->refused)
		rs_errf(err, "refused to connect to %s: private, loopback or "
		    "link-local address (set RESTSYNC_ALLOW_PRIVATE_NETWORKS=1 "
		    "to allow private ones)", fx->refused_ip);
	else if (x->sink.overflow || cc == CURLE_FILESIZE_EXCEEDED)
		rs_errf(err, "response body exceeds %zu bytes",
		    x->req->max_body);
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		fetch_timed_out(x, err);
	else
		rs_errf(err, "%s", x->ebuf[0] != '\0' ? x->ebuf :
		    curl_easy_strerror(cc));
}

/*
 * After an answer with status: 0 when it is the last (not a redirect, or
 * one without Location; a POST is never redirected), 1 when x->url is now
 * the redirect's target, to fetch next (by hand, same origin only), -1
 * (err) when the redirect is refused.
 */
static int
fetch_follow(struct exchange *x, long status, int hops, char *err)
{
	char	*next;

	if (status < 300 || status >= 400 || status == 304 || x->is_post)
		return 0;
	grab_header(x->h, "Location", &x->loc);
	if (x->loc == NULL)
		return 0;
	if (hops >= FETCH_MAX_REDIRECTS) {
		rs_errf(err, "more than %d redirects", FETCH_MAX_REDIRECTS);
		return -1;
	}
	if ((next = resolve_location(x->url, x->loc)) == NULL) {
		rs_errf(err, "redirect to an invalid location");
		return -1;
	}
	if (!fetch_same_origin(x->req->url, next)) {
		rs_errf(err, "redirect to another origin refused");
		free(next);
		return -1;
	}
	secret_free_str(x->url);
	x->url = next;
	return 1;
}

/* The headers of the last answer that resp keeps. */
static enum rs_status
fetch_grab(CURL *h, struct fetch_resp *resp, char *err)
{
	grab_header(h, "Content-Type", &resp->content_type);
	grab_header(h, "ETag", &resp->etag);
	grab_header(h, "Last-Modified", &resp->last_modified);
	grab_header(h, "Retry-After", &resp->retry_after);
	/* A Link header we cannot hold must not read as "no next page". */
	if (grab_links(h, &resp->link) == -1) {
		rs_errf(err, "Link header larger than %d bytes",
		    FETCH_MAX_HEADER * 4);
		return RS_EUPSTREAM;
	}
	return RS_OK;
}

enum rs_status
fetch_do(struct fetcher *fx, const struct fetch_req *req,
    struct fetch_resp *resp, char *err)
{
	struct exchange	 x;
	CURLcode	 cc;
	enum rs_status	 st;
	double		 left;
	int		 hops, rc;

	memset(&x, 0, sizeof(x));
	x.fx = fx;
	x.req = req;
	x.h = fx->h;
	x.t0 = rs_now_ms();
	memset(resp, 0, sizeof(*resp));
	rs_buf_init(&resp->body, req->max_body);
	x.sink.buf = &resp->body;
	x.is_post = req->method != NULL && strcmp(req->method, "POST") == 0;

	if ((st = fetch_header_list(req, &x.hl, err)) != RS_OK)
		goto out;
	if ((x.url = strdup(req->url)) == NULL) {
		rs_errf(err, "out of memory");
		st = RS_ENOMEM;
		goto out;
	}
	if (req->check_addr && (x.h = checked_handle(fx)) == NULL) {
		x.h = fx->h;
		rs_errf(err, "curl_easy_init failed");
		st = RS_EINTERNAL;
		goto out;
	}
	for (hops = 0; ; hops++) {
		if (req->gate != NULL &&
		    (st = req->gate(req->gate_arg, err)) != RS_OK)
			goto out;
		st = RS_EUPSTREAM;
		if ((left = fetch_left(&x, err)) < 1)
			goto out;
		fetch_setup(&x, left);
		cc = curl_easy_perform(x.h);
		curl_easy_getinfo(x.h, CURLINFO_RESPONSE_CODE, &resp->status);
		if (cc != CURLE_OK) {
			fetch_failed(&x, cc, resp, err);
			goto out;
		}
		if ((rc = fetch_follow(&x, resp->status, hops, err)) == -1)
			goto out;
		if (rc == 0)
			break;
	}
	if ((st = fetch_grab(x.h, resp, err)) != RS_OK)
		goto out;
	resp->url = x.url;
	x.url = NULL;
out:
	resp->ms = rs_now_ms() - x.t0;
	if (resp->url == NULL && x.url != NULL) {
		resp->url = x.url;
		x.url = NULL;
	}
	secret_free_str(x.url);
	free(x.loc);
	curl_slist_free_all(x.hl);
	/* Do not keep the header list pointer in the reusable handle. */
	curl_easy_setopt(x.h, CURLOPT_HTTPHEADER, NULL);
	return st;
}

long
fetch_retry_after_ms(const char *v, long now)
{
	char	*end;
	long	 secs;
	time_t	 t;

	if (v == NULL)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		errno = 0;
		secs = strtol(v, &end, 10);
		while (*end == ' ' || *end == '\t')
			end++;
		if (errno != 0 || *end != '\0' || secs > 86400)
			return -1;
		return secs * 1000;
	}
	/* RFC 9110 §10.2.3: an HTTP-date. */
	if ((t = curl_getdate(v, NULL)) == -1)
		return -1;
	return t <= now ? 0 : (long)(t - now) * 1000;
}

static int
status_retryable(long status)
{
	return status == 429 || status == 502 || status == 503 ||
	    status == 504;
}

enum rs_status
fetch_retry(struct fetcher *fx, const struct fetch_req *req,
    const struct fetch_policy *pol, struct fetch_resp *resp, int *attempts,
    char *err)
{
	struct fetch_req	 r = *req;
	enum rs_status		 st = RS_EUPSTREAM;
	double			 left;
	long			 delay, backoff, ra;
	int			 again;

	r.deadline = pol->deadline;
	*attempts = 0;
	for (;;) {
		left = pol->deadline - rs_now_ms();
		if (left < 50 && *attempts > 0)
			break;
		/* r.timeout_ms stays the request's: fetch_do cuts each
		 * exchange to the deadline and says which limit it hit. */
		if (*attempts > 0)
			fetch_resp_free(resp);
		st = fetch_do(fx, &r, resp, err);
		(*attempts)++;
		again = st == RS_OK ? status_retryable(resp->status) :
		    (st == RS_EUPSTREAM && resp->retryable);
		if (!again || *attempts >= pol->max_attempts)
			return st;

		backoff = pol->base_delay_ms << (*attempts - 1);
		if (backoff > pol->max_delay_ms || backoff <= 0)
			backoff = pol->max_delay_ms;
		/* Full jitter, but never less than half the backoff. */
		delay = backoff / 2 + (long)arc4random_uniform(
		    (uint32_t)(backoff / 2 + 1));
		ra = st == RS_OK ? fetch_retry_after_ms(resp->retry_after,
		    (long)time(NULL)) : -1;
		if (ra >= 0)
			delay = ra;
		left = pol->deadline - rs_now_ms();
		/* The next attempt needs time to run, not just to start. */
		if ((double)delay + 100 > left) {
			if (st == RS_OK && ra >= 0)
				rs_errf(err, "upstream asked to retry after "
				    "%ld ms, beyond the batch deadline", ra);
			else if (st == RS_OK)
				rs_errf(err, "no time left to retry");
			resp->retryable = 0;
			return st;
		}
		{
			struct timespec ts;

			ts.tv_sec = delay / 1000;
			ts.tv_nsec = (delay % 1000) * 1000000L;
			while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
				;
		}
	}
	return st;
}
