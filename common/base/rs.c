/*
 * rs.c — status names, error formatting, capped buffers, small helpers.
 */
#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rs.h"

static const char *const rs_names[RS__MAX] = {
	"ok", "input", "auth", "forbidden", "not found", "method",
	"busy", "too big", "media type", "upstream", "embeddings", "database",
	"memory", "internal", "disabled", "rate budget",
};

const char *
rs_status_name(enum rs_status st)
{
	if ((unsigned)st >= RS__MAX)
		return "unknown";
	return rs_names[st];
}

void
rs_errf(char *err, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	/* Truncation of a message is harmless: it is only ever shown. */
	(void)vsnprintf(err, RS_ERRLEN, fmt, ap);
	va_end(ap);
}

void
rs_buf_init(struct rs_buf *b, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
rs_buf_free(struct rs_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void
rs_buf_reset(struct rs_buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

int
rs_buf_append(struct rs_buf *b, const void *data, size_t n)
{
	size_t	 need, ncap;
	char	*np;

	if (n > b->max || b->len > b->max - n)
		return -1;
	need = b->len + n + 1;
	if (need > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < need)
			ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
		if (ncap > b->max + 1)
			ncap = b->max + 1;
		if ((np = realloc(b->p, ncap)) == NULL)
			return -1;
		b->p = np;
		b->cap = ncap;
	}
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int
rs_buf_reserve(struct rs_buf *b, size_t n)
{
	char	*np;

	if (n > b->max || b->len > b->max - n)
		return -1;
	if (b->len + n + 1 <= b->cap)
		return 0;
	if ((np = realloc(b->p, b->len + n + 1)) == NULL)
		return -1;
	if (b->p == NULL)
		np[0] = '\0';
	b->p = np;
	b->cap = b->len + n + 1;
	return 0;
}

int
rs_buf_puts(struct rs_buf *b, const char *s)
{
	return rs_buf_append(b, s, strlen(s));
}

int
rs_buf_printf(struct rs_buf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	 small[512], *big = NULL;
	int	 n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return rs_buf_append(b, small, (size_t)n);
	if ((size_t)n > b->max || (big = malloc((size_t)n + 1)) == NULL)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = rs_buf_append(b, big, (size_t)n);
	free(big);
	return rc;
}

int
rs_buf_render_key(struct rs_buf *b, const char *tpl, const char *key)
{
	static const char	 ph[] = "{{API_KEY}}";
	const char		*p;

	while ((p = strstr(tpl, ph)) != NULL) {
		if (rs_buf_append(b, tpl, (size_t)(p - tpl)) == -1 ||
		    rs_buf_puts(b, key != NULL ? key : "") == -1)
			return -1;
		tpl = p + sizeof(ph) - 1;
	}
	return rs_buf_puts(b, tpl);
}

char *
rs_buf_steal(struct rs_buf *b)
{
	char	*p;

	if (b->p == NULL && rs_buf_append(b, "", 0) == -1)
		return NULL;
	p = b->p;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void *
rs_reallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, (nmemb * size) != 0 ? nmemb * size : 1);
}

char *
rs_strndup(const char *s, size_t n)
{
	char	*p;

	if (n == SIZE_MAX || (p = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int
rs_is_uuid(const char *s)
{
	size_t	 i;

	if (s == NULL || strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

double
rs_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void
rs_mem_init(void)
{
#ifdef M_MMAP_THRESHOLD
	(void)mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	(void)mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
#endif
}

void
rs_mem_trim(void)
{
#ifdef M_MMAP_THRESHOLD
	(void)malloc_trim(0);
#endif
}

int
rs_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t
rs_utf8_seq(const unsigned char *s, size_t len, uint32_t *cp, size_t *bad)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 need, i;

	*bad = 1;
	*cp = s[0];
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
		*cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		*cp = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		*cp = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;	/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* > U+10FFFF */
	} else
		return 0;	/* C1 lead, F5..FF, stray continuation */
	for (i = 1; i < need; i++) {
		if (i >= len || s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		*cp = *cp << 6 | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	return need;
}

void
rs_buf_free_wiped(struct rs_buf *b)
{
	if (b->p != NULL)
		explicit_bzero(b->p, b->len);
	rs_buf_free(b);
}

void
rs_f32le_put(unsigned char *out, const float *v, size_t n)
{
	uint32_t	 u;
	size_t		 i;

	for (i = 0; i < n; i++, out += 4) {
		memcpy(&u, &v[i], 4);
		out[0] = (unsigned char)u;
		out[1] = (unsigned char)(u >> 8);
		out[2] = (unsigned char)(u >> 16);
		out[3] = (unsigned char)(u >> 24);
	}
}

void
rs_f32le_get(float *out, const unsigned char *p, size_t n)
{
	uint32_t	 u;
	size_t		 i;

	for (i = 0; i < n; i++, p += 4) {
		u = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		memcpy(&out[i], &u, 4);
	}
}
