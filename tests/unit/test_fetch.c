/*
 * test_fetch.c — the fetcher's defences: the address table
 * (fetch_addr_allowed, with and without RESTSYNC_ALLOW_PRIVATE_NETWORKS),
 * the origin table (fetch_same_origin), and fetch_do against tiny HTTP
 * listeners on 127.0.0.1 started here: the connect-time address check,
 * kept-alive connections that must not bypass it, protocols, redirects
 * (same origin followed, another origin refused and never contacted),
 * the body cap and the timeout.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "http_fetch.h"
#include "settings.h"

#define NROWS(a)	(sizeof(a) / sizeof((a)[0]))
#define ALLOW_ENV	"RESTSYNC_ALLOW_PRIVATE_NETWORKS"

/* ---- The address table. ---- */

enum addr_class {
	A_PUBLIC,	/* always allowed */
	A_PRIVATE,	/* allowed only with RESTSYNC_ALLOW_PRIVATE_NETWORKS=1 */
	A_NEVER		/* link-local, metadata, reserved: always refused */
};

static const struct addr_row {
	const char	*ip;
	enum addr_class	 cls;
} addr_rows[] = {
	/* Cloud metadata and link-local. */
	{ "169.254.169.254", A_NEVER },
	{ "169.254.0.1", A_NEVER },
	{ "169.254.255.255", A_NEVER },
	{ "169.254.170.2", A_NEVER },		/* ECS task metadata */
	{ "100.100.100.200", A_NEVER },		/* Alibaba metadata */
	{ "192.0.0.192", A_NEVER },		/* Oracle metadata */
	{ "168.63.129.16", A_NEVER },		/* Azure wire server */
	{ "fd00:ec2::254", A_NEVER },		/* AWS metadata, IPv6 */
	{ "FD00:EC2:0:0:0:0:0:254", A_NEVER },
	{ "fe80::1", A_NEVER },
	{ "febf:ffff::1", A_NEVER },
	{ "::ffff:169.254.169.254", A_NEVER },
	{ "::ffff:a9fe:a9fe", A_NEVER },
	{ "64:ff9b::169.254.169.254", A_NEVER },	/* NAT64 */
	/* "This" network, multicast, reserved, broadcast. */
	{ "0.0.0.0", A_NEVER },
	{ "0.1.2.3", A_NEVER },
	{ "224.0.0.1", A_NEVER },
	{ "239.255.255.250", A_NEVER },
	{ "240.0.0.1", A_NEVER },
	{ "255.255.255.255", A_NEVER },
	{ "::", A_NEVER },
	{ "ff02::1", A_NEVER },
	{ "::ffff:0.0.0.0", A_NEVER },
	/* Loopback and private ranges. */
	{ "127.0.0.1", A_PRIVATE },
	{ "127.255.255.254", A_PRIVATE },
	{ "10.0.0.1", A_PRIVATE },
	{ "10.255.255.255", A_PRIVATE },
	{ "172.16.0.1", A_PRIVATE },
	{ "172.20.10.10", A_PRIVATE },
	{ "172.31.255.255", A_PRIVATE },
	{ "192.168.0.1", A_PRIVATE },
	{ "192.168.255.255", A_PRIVATE },
	{ "100.64.0.1", A_PRIVATE },		/* CGNAT 100.64/10 */
	{ "100.127.255.255", A_PRIVATE },
	{ "198.18.0.1", A_PRIVATE },		/* benchmarking 198.18/15 */
	{ "198.19.255.255", A_PRIVATE },
	{ "::1", A_PRIVATE },
	{ "::ffff:127.0.0.1", A_PRIVATE },
	{ "::ffff:7f00:1", A_PRIVATE },
	{ "::ffff:10.1.2.3", A_PRIVATE },
	{ "::ffff:192.168.1.1", A_PRIVATE },
	{ "64:ff9b::127.0.0.1", A_PRIVATE },	/* NAT64 */
	{ "64:ff9b::10.0.0.1", A_PRIVATE },
	{ "fc00::1", A_PRIVATE },		/* unique local fc00::/7 */
	{ "fd12:3456:789a::1", A_PRIVATE },
	{ "fec0::1", A_PRIVATE },		/* site-local */
	/* Public neighbours of every range above. */
	{ "8.8.8.8", A_PUBLIC },
	{ "1.1.1.1", A_PUBLIC },
	{ "9.255.255.255", A_PUBLIC },
	{ "11.0.0.0", A_PUBLIC },
	{ "126.255.255.255", A_PUBLIC },
	{ "128.0.0.0", A_PUBLIC },
	{ "169.253.255.255", A_PUBLIC },
	{ "169.255.0.0", A_PUBLIC },
	{ "172.15.255.255", A_PUBLIC },
	{ "172.32.0.0", A_PUBLIC },
	{ "192.167.255.255", A_PUBLIC },
	{ "192.169.0.0", A_PUBLIC },
	{ "100.63.255.255", A_PUBLIC },
	{ "100.128.0.0", A_PUBLIC },
	{ "198.17.255.255", A_PUBLIC },
	{ "198.20.0.0", A_PUBLIC },
	{ "168.63.129.17", A_PUBLIC },
	{ "223.255.255.255", A_PUBLIC },
	{ "2001:4860:4860::8888", A_PUBLIC },
	{ "2606:4700:4700::1111", A_PUBLIC },
	{ "::ffff:8.8.8.8", A_PUBLIC },
	{ "64:ff9b::8.8.8.8", A_PUBLIC },
	{ "fd00:ec2::253", A_PRIVATE },		/* ULA, not the metadata */
	/*
	 * Issue 14: every other form that embeds an IPv4 address is judged
	 * by it.  IPv4-compatible ::a.b.c.d (RFC 4291 §2.5.5.1).
	 */
	{ "::169.254.169.254", A_NEVER },
	{ "::a9fe:a9fe", A_NEVER },
	{ "::0.0.0.2", A_NEVER },
	{ "::224.0.0.1", A_NEVER },
	{ "::127.0.0.1", A_PRIVATE },
	{ "::10.0.0.1", A_PRIVATE },
	{ "::8.8.8.8", A_PUBLIC },
	/* SIIT IPv4-translated ::ffff:0:a.b.c.d (RFC 2765 §2.1). */
	{ "::ffff:0:169.254.169.254", A_NEVER },
	{ "::ffff:0:100.100.100.200", A_NEVER },
	{ "::ffff:0:127.0.0.1", A_PRIVATE },
	{ "::ffff:0:192.168.1.1", A_PRIVATE },
	{ "::ffff:0:8.8.8.8", A_PUBLIC },
	/* NAT64 local-use 64:ff9b:1::/48 (RFC 8215), /96 and /48 forms. */
	{ "64:ff9b:1::169.254.169.254", A_NEVER },
	{ "64:ff9b:1::a9fe:a9fe", A_NEVER },
	{ "64:ff9b:1:a9fe:a9:fe00::", A_NEVER },	/* /48: RFC 6052 */
	{ "64:ff9b:1::127.0.0.1", A_PRIVATE },
	{ "64:ff9b:1::10.0.0.1", A_PRIVATE },
	{ "64:ff9b:1::8.8.8.8", A_PUBLIC },
	/* 6to4 2002::/16 (RFC 3056): the IPv4 address in bits 16-47. */
	{ "2002:a9fe:a9fe::1", A_NEVER },
	{ "2002:a9fe:a9fe:1:2:3:4:5", A_NEVER },
	{ "2002::1", A_NEVER },				/* 0.0.0.0 */
	{ "2002:7f00:1::1", A_PRIVATE },
	{ "2002:c0a8:101::1", A_PRIVATE },
	{ "2002:a00:1::", A_PRIVATE },
	{ "2002:808:808::1", A_PUBLIC },
	/* Teredo 2001::/32 (RFC 4380): the server (bits 32-63) and the
	 * client, stored inverted in the last 32 bits. */
	{ "2001:0:4136:e378:8000:63bf:5601:5601", A_NEVER },  /* 169.254.169.254 */
	{ "2001:0:a9fe:a9fe:8000:63bf:f7f7:f7f7", A_NEVER },  /* server */
	{ "2001:0:4136:e378:8000:63bf:80ff:fffe", A_PRIVATE }, /* 127.0.0.1 */
	{ "2001:0:a00:1:8000:63bf:f7f7:f7f7", A_PRIVATE },     /* 10.0.0.1 */
	{ "2001:0:4136:e378:8000:63bf:f7f7:f7f7", A_PUBLIC },  /* 8.8.8.8 */
	{ "2001:db8::1", A_PUBLIC },		/* not Teredo (2001:0::/32) */
};

/* Not addresses at all: refused whatever the setting. */
static const char *const not_addrs[] = {
	"", "localhost", "example.com", "127.0.0.1.", "127.1", "0x7f000001",
	"2130706433", "127.0.0.1:80", "[::1]", "fe80::1%lo", "1.2.3.4.5",
};

static void
test_addr_table(void **state)
{
	const struct addr_row	*r;
	size_t			 i;
	int			 pass, allow, want;

	(void)state;
	for (pass = 0; pass < 3; pass++) {
		/* unset, "0" (not "1": stays strict), "1" */
		if (pass == 0)
			unsetenv(ALLOW_ENV);
		else
			setenv(ALLOW_ENV, pass == 1 ? "0" : "1", 1);
		settings_reload();
		allow = pass == 2;
		for (i = 0; i < NROWS(addr_rows); i++) {
			r = &addr_rows[i];
			want = r->cls == A_PUBLIC ||
			    (r->cls == A_PRIVATE && allow);
			if (fetch_addr_allowed(r->ip) != want)
				fail_msg("%s with %s=%s: got %d, want %d",
				    r->ip, ALLOW_ENV, pass == 0 ? "(unset)" :
				    pass == 1 ? "0" : "1", !want, want);
		}
		for (i = 0; i < NROWS(not_addrs); i++)
			if (fetch_addr_allowed(not_addrs[i]))
				fail_msg("'%s' allowed", not_addrs[i]);
	}
	unsetenv(ALLOW_ENV);
	settings_reload();
}

/* ---- The origin table. ---- */

static const struct origin_row {
	const char	*a, *b;
	int		 same;
} origin_rows[] = {
	{ "http://a.example/x", "http://a.example/y?z=1#f", 1 },
	{ "http://a.example/", "http://a.example:80/", 1 },
	{ "https://a.example/", "https://a.example:443/x", 1 },
	{ "HTTP://A.Example/", "http://a.example/", 1 },
	{ "http://[::1]:8080/", "http://[::1]:8080/p", 1 },
	{ "http://u:p@a.example/", "http://a.example/", 1 },
	{ "http://a.example/", "https://a.example/", 0 },
	{ "http://a.example/", "http://a.example:8080/", 0 },
	{ "https://a.example/", "https://a.example:80/", 0 },
	{ "http://a.example/", "http://b.example/", 0 },
	{ "http://a.example/", "http://evil.a.example/", 0 },
	{ "http://a.example/", "http://a.example.evil.example/", 0 },
	{ "http://a.example/", "http://a.example@evil.example/", 0 },
	{ "http://a.example/", "http://a.example:80@evil.example/", 0 },
	{ "http://a.example/", "http://evil.example/a.example", 0 },
	{ "http://a.example/", "http://evil.example/?http://a.example/", 0 },
	{ "http://127.0.0.1/", "http://localhost/", 0 },
	{ "http://127.0.0.1:8080/", "http://127.0.0.2:8080/", 0 },
	{ "http://a.example/", "/relative", 0 },
	{ "http://a.example/", "//a.example/x", 0 },
	{ "http://a.example/", "", 0 },
	{ "", "", 0 },
	{ "http://a.example/", "not a url", 0 },
};

static void
test_origin_table(void **state)
{
	const struct origin_row	*r;
	size_t			 i;

	(void)state;
	for (i = 0; i < NROWS(origin_rows); i++) {
		r = &origin_rows[i];
		if (fetch_same_origin(r->a, r->b) != r->same ||
		    fetch_same_origin(r->b, r->a) != r->same)
			fail_msg("'%s' vs '%s': want %d", r->a, r->b, r->same);
	}
}

/* ---- fetch_do against local listeners. ---- */

#define MAX_CONNS	16

struct listener {
	int		 fd;
	int		 port;
	pthread_t	 th;
	pthread_t	 conns[MAX_CONNS];
	int		 nconns;
	pthread_mutex_t	 mu;
	int		 accepts;	/* TCP connections accepted */
	int		 requests;	/* HTTP requests served */
	char		 last[2048];	/* head of the last request */
	char		 away[128];	/* "http://host:port" for /away */
};

struct conn {
	struct listener	*l;
	int		 fd;
};

static void
reply(int fd, const char *status, const char *extra, const char *body,
    size_t len)
{
	char	 head[512];
	int	 n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
	    status, len, extra);
	/* MSG_NOSIGNAL: the client may have gone (timeouts). */
	if (send(fd, head, (size_t)n, MSG_NOSIGNAL) != n ||
	    (len > 0 && send(fd, body, len, MSG_NOSIGNAL) != (ssize_t)len))
		return;
}

/* Serve requests on one kept-alive connection until the client closes. */
static void *
conn_main(void *arg)
{
	struct conn	*c = arg;
	struct listener	*l = c->l;
	char		 buf[4096], path[256], loc[512], *big;
	size_t		 have = 0;
	ssize_t		 n;
	char		*end;

	buf[0] = '\0';
	for (;;) {
		while ((end = strstr(buf, "\r\n\r\n")) == NULL ||
		    have == 0) {
			if (have >= sizeof(buf) - 1)
				goto done;
			n = read(c->fd, buf + have, sizeof(buf) - 1 - have);
			if (n <= 0)
				goto done;
			have += (size_t)n;
			buf[have] = '\0';
		}
		*end = '\0';
		path[0] = '\0';
		(void)sscanf(buf, "%*s %255s", path);
		pthread_mutex_lock(&l->mu);
		l->requests++;
		(void)snprintf(l->last, sizeof(l->last), "%.2000s", buf);
		pthread_mutex_unlock(&l->mu);
		/* Requests carry no body here: drop the head. */
		have -= (size_t)(end + 4 - buf);
		memmove(buf, end + 4, have);
		buf[have] = '\0';

		if (strcmp(path, "/same") == 0)
			reply(c->fd, "302 Found", "Location: /ok?from=same\r\n",
			    "", 0);
		else if (strcmp(path, "/away") == 0) {
			(void)snprintf(loc, sizeof(loc),
			    "Location: %s/ok?stolen=1\r\n", l->away);
			reply(c->fd, "302 Found", loc, "", 0);
		} else if (strcmp(path, "/ftp") == 0)
			reply(c->fd, "302 Found",
			    "Location: ftp://127.0.0.1/x\r\n", "", 0);
		else if (strcmp(path, "/file") == 0)
			reply(c->fd, "302 Found",
			    "Location: file:///etc/passwd\r\n", "", 0);
		else if (strcmp(path, "/loop") == 0)
			reply(c->fd, "302 Found", "Location: /loop\r\n", "",
			    0);
		else if (strcmp(path, "/big") == 0) {
			if ((big = malloc(4096)) == NULL)
				goto done;
			memset(big, 'x', 4096);
			reply(c->fd, "200 OK", "", big, 4096);
			free(big);
		} else if (strncmp(path, "/slowhop?n=", 11) == 0) {
			/* 700 ms, then a same-origin redirect to n - 1. */
			int hop = atoi(path + 11);

			usleep(700 * 1000);
			(void)snprintf(loc, sizeof(loc),
			    "Location: /slowhop?n=%d\r\n", hop - 1);
			if (hop > 0)
				reply(c->fd, "302 Found", loc, "", 0);
			else
				reply(c->fd, "200 OK", "", "{}", 2);
		} else if (strcmp(path, "/slow") == 0) {
			usleep(1500 * 1000);
			reply(c->fd, "200 OK", "", "{}", 2);
		} else
			reply(c->fd, "200 OK", "", "{\"ok\":true}", 11);
	}
done:
	close(c->fd);
	free(c);
	return NULL;
}

static void *
accept_main(void *arg)
{
	struct listener	*l = arg;
	struct conn	*c;
	int		 fd;

	while ((fd = accept(l->fd, NULL, NULL)) >= 0) {
		if ((c = malloc(sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->l = l;
		c->fd = fd;
		pthread_mutex_lock(&l->mu);
		l->accepts++;
		if (l->nconns < MAX_CONNS &&
		    pthread_create(&l->conns[l->nconns], NULL, conn_main, c) ==
		    0)
			l->nconns++;
		else {
			close(fd);
			free(c);
		}
		pthread_mutex_unlock(&l->mu);
	}
	return NULL;
}

static void
listener_start(struct listener *l)
{
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof(sin);
	int			 one = 1;

	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->mu, NULL);
	assert_true((l->fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	(void)setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	assert_int_equal(listen(l->fd, 16), 0);
	assert_int_equal(getsockname(l->fd, (struct sockaddr *)&sin, &slen),
	    0);
	l->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&l->th, NULL, accept_main, l), 0);
}

/* Stop accepting; connection threads end when their clients close. */
static void
listener_stop(struct listener *l)
{
	int	 i;

	shutdown(l->fd, SHUT_RDWR);
	close(l->fd);
	pthread_join(l->th, NULL);
	for (i = 0; i < l->nconns; i++)
		pthread_join(l->conns[i], NULL);
	pthread_mutex_destroy(&l->mu);
}

static int
counter(struct listener *l, const int *field)
{
	int	 v;

	pthread_mutex_lock(&l->mu);
	v = *field;
	pthread_mutex_unlock(&l->mu);
	return v;
}

#define ACCEPTS(l)	counter((l), &(l)->accepts)
#define REQUESTS(l)	counter((l), &(l)->requests)

/* One GET; returns the status and leaves the response in *resp. */
static enum rs_status
get(struct fetcher *fx, const char *url, int check, size_t cap,
    const char *const *headers, struct fetch_resp *resp, char *err)
{
	struct fetch_req	 req;

	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;
	req.headers = headers;
	req.timeout_ms = 3000;
	req.max_body = cap;
	req.check_addr = check;
	err[0] = '\0';
	return fetch_do(fx, &req, resp, err);
}

static char *
url_of(const struct listener *l, const char *path)
{
	static char	 buf[4][256];
	static int	 k;

	k = (k + 1) % 4;
	(void)snprintf(buf[k], sizeof(buf[k]), "http://127.0.0.1:%d%s",
	    l->port, path);
	return buf[k];
}

/*
 * The address check is made on the address actually connected to: a
 * listener on 127.0.0.1 is refused without the opt-in, before any byte
 * is sent, and served with it.
 */
static void
test_connect_check(void **state)
{
	struct listener		 l;
	struct fetcher		*fx;
	struct fetch_resp	 resp;
	char			 err[RS_ERRLEN], u[64];

	(void)state;
	listener_start(&l);
	assert_int_equal(fetch_open(&fx, err), RS_OK);

	unsetenv(ALLOW_ENV);
	settings_reload();
	assert_int_equal(get(fx, url_of(&l, "/ok"), 1, 1024, NULL, &resp,
	    err), RS_EUPSTREAM);
	assert_non_null(strstr(err, "refused to connect to 127.0.0.1"));
	assert_int_equal(resp.status, 0);
	assert_int_equal(resp.body.len, 0);
	fetch_resp_free(&resp);
	/* "localhost" resolves to loopback: refused the same way. */
	(void)snprintf(u, sizeof(u), "http://localhost:%d/ok", l.port);
	assert_int_equal(get(fx, u, 1, 1024, NULL, &resp, err), RS_EUPSTREAM);
	assert_non_null(strstr(err, "refused to connect to"));
	fetch_resp_free(&resp);
	assert_int_equal(ACCEPTS(&l), 0);
	assert_int_equal(REQUESTS(&l), 0);

	setenv(ALLOW_ENV, "1", 1);
	settings_reload();
	assert_int_equal(get(fx, url_of(&l, "/ok"), 1, 1024, NULL, &resp,
	    err), RS_OK);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body.p, "{\"ok\":true}");
	assert_string_equal(resp.content_type, "application/json");
	fetch_resp_free(&resp);
	assert_int_equal(REQUESTS(&l), 1);

	/* Unchecked exchanges (the embeddings endpoint) are not subject to
	 * the check. */
	unsetenv(ALLOW_ENV);
	settings_reload();
	assert_int_equal(get(fx, url_of(&l, "/ok"), 0, 1024, NULL, &resp,
	    err), RS_OK);
	assert_int_equal(resp.status, 200);
	fetch_resp_free(&resp);

	fetch_close(fx);
	listener_stop(&l);
}

/*
 * A kept-alive connection must not carry a checked request past the
 * check: neither one opened by an unchecked exchange (the embedder shares
 * the fetcher), nor one opened while private networks were allowed.
 */
static void
test_reuse_does_not_bypass(void **state)
{
	struct listener		 l;
	struct fetcher		*fx;
	struct fetch_resp	 resp;
	char			 err[RS_ERRLEN];
	int			 before;

	(void)state;
	listener_start(&l);
	assert_int_equal(fetch_open(&fx, err), RS_OK);
	unsetenv(ALLOW_ENV);
	settings_reload();

	/* An unchecked exchange opens a connection and keeps it. */
	assert_int_equal(get(fx, url_of(&l, "/ok"), 0, 1024, NULL, &resp,
	    err), RS_OK);
	fetch_resp_free(&resp);
	before = REQUESTS(&l);
	assert_int_equal(before, 1);
	/* A checked one to the same host and port is still refused. */
	assert_int_equal(get(fx, url_of(&l, "/ok"), 1, 1024, NULL, &resp,
	    err), RS_EUPSTREAM);
	assert_non_null(strstr(err, "refused to connect"));
	fetch_resp_free(&resp);
	assert_int_equal(REQUESTS(&l), before);

	/* Allowed: a checked connection is made and kept ... */
	setenv(ALLOW_ENV, "1", 1);
	settings_reload();
	assert_int_equal(get(fx, url_of(&l, "/ok"), 1, 1024, NULL, &resp,
	    err), RS_OK);
	fetch_resp_free(&resp);
	assert_int_equal(get(fx, url_of(&l, "/ok"), 1, 1024, NULL, &resp,
	    err), RS_OK);
	fetch_resp_free(&resp);
	before = REQUESTS(&l);
	/* ... and not reused once the setting says no. */
	unsetenv(ALLOW_ENV);
	settings_reload();
	assert_int_equal(get(fx, url_of(&l, "/ok"), 1, 1024, NULL, &resp,
	    err), RS_EUPSTREAM);
	fetch_resp_free(&resp);
	assert_int_equal(REQUESTS(&l), before);

	fetch_close(fx);
	listener_stop(&l);
}

/* Only http and https, for the first URL and for redirects. */
static void
test_protocols(void **state)
{
	static const char *const bad[] = {
		"ftp", "dict", "gopher", "telnet", "ldap", "smtp", "tftp",
		"scp", "sftp", "mqtt", "imap", "pop3", "rtsp", "ws",
	};
	struct listener		 l;
	struct fetcher		*fx;
	struct fetch_resp	 resp;
	char			 err[RS_ERRLEN], u[128];
	size_t			 i;

	(void)state;
	listener_start(&l);
	assert_int_equal(fetch_open(&fx, err), RS_OK);
	setenv(ALLOW_ENV, "1", 1);
	settings_reload();
	for (i = 0; i < NROWS(bad); i++) {
		(void)snprintf(u, sizeof(u), "%s://127.0.0.1:%d/x", bad[i],
		    l.port);
		if (get(fx, u, 1, 1 << 20, NULL, &resp, err) != RS_EUPSTREAM)
			fail_msg("%s fetched", u);
		if (resp.body.len != 0)
			fail_msg("%s: %zu bytes", u, resp.body.len);
		fetch_resp_free(&resp);
	}
	assert_int_equal(get(fx, "file:///etc/passwd", 1, 1 << 20, NULL, &resp,
	    err), RS_EUPSTREAM);
	assert_int_equal(resp.body.len, 0);
	fetch_resp_free(&resp);
	assert_int_equal(ACCEPTS(&l), 0);

	/* Redirects to other schemes: refused, the file never read. */
	assert_int_equal(get(fx, url_of(&l, "/ftp"), 1, 1 << 20, NULL, &resp,
	    err), RS_EUPSTREAM);
	assert_non_null(strstr(err, "another origin"));
	fetch_resp_free(&resp);
	assert_int_equal(get(fx, url_of(&l, "/file"), 1, 1 << 20, NULL, &resp,
	    err), RS_EUPSTREAM);
	assert_non_null(strstr(err, "another origin"));
	assert_null(strstr(resp.body.p ? resp.body.p : "", "root:"));
	fetch_resp_free(&resp);
	unsetenv(ALLOW_ENV);
	settings_reload();
	fetch_close(fx);
	listener_stop(&l);
}

/*
 * Redirects: same origin followed with the headers; another origin
 * refused and never contacted, so the credentials never leave.
 */
static void
test_redirects(void **state)
{
	static const char *const hdrs[] = {
		"Authorization: Bearer tok-redirect-test", NULL
	};
	struct listener		 a, b;
	struct fetcher		*fx;
	struct fetch_resp	 resp;
	char			 err[RS_ERRLEN];

	(void)state;
	listener_start(&a);
	listener_start(&b);
	/* Same host, another port: another origin. */
	(void)snprintf(a.away, sizeof(a.away), "http://127.0.0.1:%d", b.port);
	assert_int_equal(fetch_open(&fx, err), RS_OK);
	setenv(ALLOW_ENV, "1", 1);
	settings_reload();

	assert_int_equal(get(fx, url_of(&a, "/same"), 1, 1024, hdrs, &resp,
	    err), RS_OK);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.url, url_of(&a, "/ok?from=same"));
	pthread_mutex_lock(&a.mu);
	assert_non_null(strstr(a.last, "GET /ok?from=same "));
	assert_non_null(strstr(a.last, "Bearer tok-redirect-test"));
	pthread_mutex_unlock(&a.mu);
	fetch_resp_free(&resp);

	assert_int_equal(get(fx, url_of(&a, "/away"), 1, 1024, hdrs, &resp,
	    err), RS_EUPSTREAM);
	assert_non_null(strstr(err, "redirect to another origin refused"));
	fetch_resp_free(&resp);
	assert_int_equal(ACCEPTS(&b), 0);

	/* Another host name for the same address: still another origin. */
	(void)snprintf(a.away, sizeof(a.away), "http://localhost:%d", a.port);
	assert_int_equal(get(fx, url_of(&a, "/away"), 1, 1024, hdrs, &resp,
	    err), RS_EUPSTREAM);
	assert_non_null(strstr(err, "another origin"));
	fetch_resp_free(&resp);
	pthread_mutex_lock(&a.mu);
	assert_null(strstr(a.last, "stolen"));
	pthread_mutex_unlock(&a.mu);

	assert_int_equal(get(fx, url_of(&a, "/loop"), 1, 1024, hdrs, &resp,
	    err), RS_EUPSTREAM);
	assert_non_null(strstr(err, "more than 5 redirects"));
	fetch_resp_free(&resp);

	unsetenv(ALLOW_ENV);
	settings_reload();
	fetch_close(fx);
	listener_stop(&a);
	listener_stop(&b);
}

/* The body cap and the timeout. */
static void
test_caps(void **state)
{
	struct listener		 l;
	struct fetcher		*fx;
	struct fetch_resp	 resp;
	struct fetch_req	 req;
	char			 err[RS_ERRLEN];

	(void)state;
	listener_start(&l);
	assert_int_equal(fetch_open(&fx, err), RS_OK);
	setenv(ALLOW_ENV, "1", 1);
	settings_reload();

	assert_int_equal(get(fx, url_of(&l, "/big"), 1, 4096, NULL, &resp,
	    err), RS_OK);
	assert_int_equal(resp.body.len, 4096);
	fetch_resp_free(&resp);
	assert_int_equal(get(fx, url_of(&l, "/big"), 1, 4095, NULL, &resp,
	    err), RS_EUPSTREAM);
	assert_non_null(strstr(err, "response body exceeds 4095 bytes"));
	assert_true(resp.body.len <= 4095);
	fetch_resp_free(&resp);

	memset(&req, 0, sizeof(req));
	req.url = url_of(&l, "/slow");
	req.timeout_ms = 300;
	req.max_body = 1024;
	req.check_addr = 1;
	assert_int_equal(fetch_do(fx, &req, &resp, err), RS_EUPSTREAM);
	assert_non_null(strstr(err, "timed out after 300 ms"));
	assert_true(resp.ms < 1400);
	fetch_resp_free(&resp);

	unsetenv(ALLOW_ENV);
	settings_reload();
	fetch_close(fx);
	listener_stop(&l);
}

/* A proxy from the environment must not carry checked requests. */
static void
test_no_env_proxy(void **state)
{
	struct listener		 l, proxy;
	struct fetcher		*fx;
	struct fetch_resp	 resp;
	char			 err[RS_ERRLEN], p[64];

	(void)state;
	listener_start(&l);
	listener_start(&proxy);
	(void)snprintf(p, sizeof(p), "http://127.0.0.1:%d", proxy.port);
	setenv("http_proxy", p, 1);
	setenv("ALL_PROXY", p, 1);
	assert_int_equal(fetch_open(&fx, err), RS_OK);
	setenv(ALLOW_ENV, "1", 1);
	settings_reload();
	assert_int_equal(get(fx, url_of(&l, "/ok"), 1, 1024, NULL, &resp,
	    err), RS_OK);
	assert_int_equal(resp.status, 200);
	fetch_resp_free(&resp);
	assert_int_equal(REQUESTS(&l), 1);
	assert_int_equal(ACCEPTS(&proxy), 0);
	unsetenv("http_proxy");
	unsetenv("ALL_PROXY");
	unsetenv(ALLOW_ENV);
	settings_reload();
	fetch_close(fx);
	listener_stop(&l);
	listener_stop(&proxy);
}

/*
 * One deadline for the whole exchange (issue 14): redirect hops share the
 * request's timeout and the retry policy's deadline instead of getting a
 * fresh one each (5 hops of 700 ms against 2 s used to take 4.2 s).
 */
static void
test_deadline_across_hops(void **state)
{
	struct listener		 a;
	struct fetcher		*fx;
	struct fetch_resp	 resp;
	struct fetch_req	 req;
	struct fetch_policy	 pol;
	char			 err[RS_ERRLEN];
	double			 t0, ms;
	int			 attempts;

	(void)state;
	listener_start(&a);
	assert_int_equal(fetch_open(&fx, err), RS_OK);
	setenv(ALLOW_ENV, "1", 1);
	settings_reload();
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url_of(&a, "/slowhop?n=5");
	req.timeout_ms = 2000;
	req.max_body = 1024;
	req.check_addr = 1;

	/* fetch_do: the request's timeout covers every hop. */
	t0 = rs_now_ms();
	assert_int_equal(fetch_do(fx, &req, &resp, err), RS_EUPSTREAM);
	ms = rs_now_ms() - t0;
	print_message("5 hops of 700 ms, 2000 ms timeout: %.0f ms: %s\n", ms,
	    err);
	/* Which limit it was: the request's own. */
	assert_non_null(strstr(err, "timed out after 2000 ms (the request "
	    "timeout, timeoutMs)"));
	assert_true(ms >= 1900 && ms < 2600);
	fetch_resp_free(&resp);

	/* fetch_retry: the policy's deadline, whatever the attempt timeout. */
	req.timeout_ms = 4000;
	pol.deadline = rs_now_ms() + 1500;
	pol.max_attempts = 5;
	pol.base_delay_ms = 50;
	pol.max_delay_ms = 100;
	t0 = rs_now_ms();
	assert_int_equal(fetch_retry(fx, &req, &pol, &resp, &attempts, err),
	    RS_EUPSTREAM);
	ms = rs_now_ms() - t0;
	print_message("retry policy of 1500 ms: %.0f ms, %d attempt(s): %s\n",
	    ms, attempts, err);
	assert_true(ms < 2100);
	/* The batch's deadline came first, and the message says so (not
	 * "timed out after <what was left> ms" as if timeoutMs were that). */
	assert_non_null(strstr(err, " ms at the batch deadline ("));
	assert_non_null(strstr(err, "the request timeout, timeoutMs, is "
	    "4000 ms)"));
	assert_null(strstr(err, "(the request timeout, timeoutMs)"));
	fetch_resp_free(&resp);

	/* Within the time, the hops are followed. */
	req.url = url_of(&a, "/slowhop?n=2");
	req.timeout_ms = 4000;
	assert_int_equal(fetch_do(fx, &req, &resp, err), RS_OK);
	assert_int_equal(resp.status, 200);
	fetch_resp_free(&resp);

	unsetenv(ALLOW_ENV);
	settings_reload();
	fetch_close(fx);
	listener_stop(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_table),
		cmocka_unit_test(test_origin_table),
		cmocka_unit_test(test_connect_check),
		cmocka_unit_test(test_reuse_does_not_bypass),
		cmocka_unit_test(test_protocols),
		cmocka_unit_test(test_redirects),
		cmocka_unit_test(test_deadline_across_hops),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_no_env_proxy),
	};
	static const char *const proxies[] = {
		"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy",
		"ALL_PROXY", "no_proxy", "NO_PROXY",
	};
	size_t	 i;
	int	 rc;

	/* Unchecked exchanges honour proxies: none from the caller. */
	for (i = 0; i < NROWS(proxies); i++)
		unsetenv(proxies[i]);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
