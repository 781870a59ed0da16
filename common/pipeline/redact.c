/*
 * redact.c — secret values out of messages, excerpts and stored links.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "normalize.h"
#include "redact.h"

#define REDACT_MIN	4	/* shorter values are not looked for */
#define REDACT_NSPELL	4

/*
 * The spellings of v, malloc'd into sp[0..REDACT_NSPELL) (NULL where one
 * equals an earlier one): raw, %XX, %xx, and %XX with '+' for space.
 * -1 when out of memory.
 */
static int
redact_spellings(const char *v, char **sp)
{
	static const char	 hex[] = "0123456789ABCDEF";
	size_t			 i, k, j, l = strlen(v);
	unsigned char		 c;
	char			*e;

	memset(sp, 0, REDACT_NSPELL * sizeof(*sp));
	if ((sp[0] = strdup(v)) == NULL)
		return -1;
	for (k = 1; k < REDACT_NSPELL; k++) {
		if (l > (SIZE_MAX - 1) / 3 || (e = malloc(3 * l + 1)) == NULL)
			return -1;
		for (i = 0, j = 0; i < l; i++) {
			c = (unsigned char)v[i];
			if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
			    c == '_' || c == '~')
				e[j++] = (char)c;
			else if (k == 3 && c == ' ')
				e[j++] = '+';
			else {
				e[j++] = '%';
				e[j++] = k == 2 ? (char)(hex[c >> 4] | 0x20) :
				    hex[c >> 4];
				e[j++] = k == 2 ? (char)(hex[c & 15] | 0x20) :
				    hex[c & 15];
			}
		}
		e[j] = '\0';
		for (i = 0; i < k; i++)
			if (sp[i] != NULL && strcmp(sp[i], e) == 0)
				break;
		if (i < k)
			free(e);
		else
			sp[k] = e;
	}
	return 0;
}

static void
redact_spellings_free(char **sp)
{
	size_t	 k;

	for (k = 0; k < REDACT_NSPELL; k++)
		free(sp[k]);
}

/* Replace needle by repl in *s; count, or -1 when out of memory. */
static int
redact_one(char **s, const char *needle, const char *repl)
{
	struct rs_buf	 b;
	const char	*p, *q;
	size_t		 nl = strlen(needle), rl = strlen(repl);
	int		 count = 0;

	if (nl < REDACT_MIN || strstr(*s, needle) == NULL)
		return 0;
	rs_buf_init(&b, strlen(*s) / nl * (rl + 1) + strlen(*s) + 64);
	for (p = *s; (q = strstr(p, needle)) != NULL; p = q + nl, count++)
		if (rs_buf_append(&b, p, (size_t)(q - p)) == -1 ||
		    rs_buf_puts(&b, repl) == -1)
			goto fail;
	if (rs_buf_puts(&b, p) == -1)
		goto fail;
	free(*s);
	*s = rs_buf_steal(&b);
	return *s == NULL ? -1 : count;
fail:
	rs_buf_free(&b);
	return -1;
}

int
redact_replace(char **s, const char *const *vals, size_t n, const char *repl)
{
	char	*sp[REDACT_NSPELL];
	size_t	 i, k;
	int	 total = 0, c;

	if (*s == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		if (vals[i] == NULL || strlen(vals[i]) < REDACT_MIN)
			continue;
		if (redact_spellings(vals[i], sp) == -1) {
			redact_spellings_free(sp);
			goto nomem;
		}
		for (k = 0; k < REDACT_NSPELL; k++) {
			if (sp[k] == NULL)
				continue;
			if ((c = redact_one(s, sp[k], repl)) == -1) {
				redact_spellings_free(sp);
				goto nomem;
			}
			total += c;
		}
		redact_spellings_free(sp);
	}
	return total;
nomem:
	free(*s);
	*s = strdup(repl);
	return -1;
}

int
redact_leaks(const char *s, const char *const *vals, size_t n)
{
	char	*d;
	size_t	 i, j, l;
	int	 hi, lo, leak = 0;

	if (s == NULL)
		return 0;
	l = strlen(s);
	if ((d = malloc(l + 1)) == NULL)
		return 1;	/* cannot tell: assume the worst */
	for (i = 0, j = 0; i < l; i++) {
		if (s[i] == '%' && i + 2 < l + 0 && (hi = rs_hexval(s[i + 1])) >= 0 &&
		    (lo = rs_hexval(s[i + 2])) >= 0) {
			d[j++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			d[j++] = s[i] == '+' ? ' ' : s[i];
	}
	d[j] = '\0';
	for (i = 0; i < n && !leak; i++)
		if (vals[i] != NULL && strlen(vals[i]) >= REDACT_MIN &&
		    (strstr(s, vals[i]) != NULL || strstr(d, vals[i]) != NULL))
			leak = 1;
	free(d);
	return leak;
}

void
redact_excerpt(const char *p, size_t len, size_t max,
    const char *const *vals, size_t n, char *out, size_t outsz)
{
	struct rs_buf	 s;
	size_t		 i, w = max, l;
	char		*win = NULL;

	if (outsz > 0)
		out[0] = '\0';
	if (len == 0 || outsz == 0)
		return;
	/* Long enough for any spelling of a secret starting before max. */
	for (i = 0; i < n; i++)
		if (vals[i] != NULL && (l = strlen(vals[i])) < SIZE_MAX / 4)
			w = w > SIZE_MAX - 3 * l ? SIZE_MAX : w + 3 * l;
	if (w > len)
		w = len;
	if ((win = rs_strndup(p, w)) == NULL ||
	    redact_replace(&win, vals, n, REDACT_MARK) == -1 || win == NULL) {
		(void)snprintf(out, outsz, "%s", REDACT_MARK);
		goto out;
	}
	l = strlen(win);	/* a NUL in the body ends the excerpt */
	rs_buf_init(&s, 4 * max + 16);
	if (norm_utf8(&s, win, l < max ? l : max) == 0 && s.len > 0)
		(void)snprintf(out, outsz, "%s%s", s.p,
		    len > max ? "..." : "");
	rs_buf_free(&s);
	if (redact_leaks(out, vals, n))
		(void)snprintf(out, outsz, "%s", REDACT_MARK);
out:
	free(win);
}
