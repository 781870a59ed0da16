/*
 * incremental.c — marks, since values and the run's mode (see
 * incremental.h).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "incremental.h"
#include "jsonpath.h"
#include "pager.h"

/* An RFC 3339 date-time: seconds since the epoch, nanoseconds, and how
 * many fraction digits it was written with. */
struct incr_time {
	long long	 sec;
	long		 nsec;
	int		 fdigits;
};

/* n digits at s into *v; -1 if one is not a digit. */
static int
incr_digits(const char *s, int n, int *v)
{
	int	 i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant). */
static long long
incr_days(int y, int m, int d)
{
	long long	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
incr_mdays(int y, int m)
{
	static const int	 md[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
				    31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return md[m - 1];
}

/*
 * RFC 3339 §5.6 date-time: full-date "T" full-time, "T" either case (or
 * a space, §5.6 NOTE), time-secfrac optional, time-offset "Z" or
 * +hh:mm.  0 and *t on success, -1 otherwise.
 */
static int
incr_time_parse(const char *s, struct incr_time *t)
{
	int	 y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0, f = 0;
	long	 ns = 0;

	memset(t, 0, sizeof(*t));
	if (strlen(s) < 20 || incr_digits(s, 4, &y) == -1 || s[4] != '-' ||
	    incr_digits(s + 5, 2, &mo) == -1 || s[7] != '-' ||
	    incr_digits(s + 8, 2, &d) == -1 ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    incr_digits(s + 11, 2, &h) == -1 || s[13] != ':' ||
	    incr_digits(s + 14, 2, &mi) == -1 || s[16] != ':' ||
	    incr_digits(s + 17, 2, &se) == -1)
		return -1;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > incr_mdays(y, mo) ||
	    h > 23 || mi > 59 || se > 60)
		return -1;
	s += 19;
	if (*s == '.') {
		for (s++; isdigit((unsigned char)*s); s++, f++)
			if (f < 9)
				ns = ns * 10 + (*s - '0');
		if (f == 0)
			return -1;
		t->fdigits = f < 9 ? f : 9;
		for (; f < 9; f++)
			ns *= 10;
	}
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-') {
		sign = *s == '-' ? -1 : 1;
		if (incr_digits(s + 1, 2, &oh) == -1 || s[3] != ':' ||
		    incr_digits(s + 4, 2, &om) == -1 || oh > 23 || om > 59)
			return -1;
		s += 6;
	} else
		return -1;
	if (*s != '\0')
		return -1;
	t->sec = incr_days(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL +
	    (se > 59 ? 59 : se) - sign * (oh * 3600LL + om * 60LL);
	t->nsec = ns;
	return 0;
}

/* A decimal number (JSON syntax, optionally quoted in a string):
 * 1 and *d; *integer when it has no fraction or exponent and fits. */
static int
incr_number(const char *s, double *d, long long *ll, int *integer)
{
	const char	*p = s;
	char		*end;

	*integer = 0;
	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return 0;
	errno = 0;
	*d = strtod(s, &end);
	if (*end != '\0' || errno != 0 || !isfinite(*d))
		return 0;
	if (strpbrk(s, ".eE") == NULL) {
		errno = 0;
		*ll = strtoll(s, &end, 10);
		*integer = errno == 0 && *end == '\0' &&
		    *ll > -(1LL << 62) && *ll < (1LL << 62);
	}
	return 1;
}

int
incr_cmp(const char *a, const char *b)
{
	struct incr_time	 ta, tb;
	double			 da, db;
	long long		 la = 0, lb = 0;
	int			 ia, ib;

	if (incr_time_parse(a, &ta) == 0 && incr_time_parse(b, &tb) == 0) {
		if (ta.sec != tb.sec)
			return ta.sec < tb.sec ? -1 : 1;
		if (ta.nsec != tb.nsec)
			return ta.nsec < tb.nsec ? -1 : 1;
		return 0;
	}
	if (incr_number(a, &da, &la, &ia) && incr_number(b, &db, &lb, &ib)) {
		if (ia && ib)
			return la < lb ? -1 : la > lb;
		return da < db ? -1 : da > db;
	}
	return strcmp(a, b) < 0 ? -1 : strcmp(a, b) > 0;
}

/* Fraction digits of a decimal number written as s. */
static int
incr_decimals(const char *s)
{
	const char	*dot = strchr(s, '.');

	return dot == NULL ? 0 : (int)strspn(dot + 1, "0123456789");
}

int
incr_since(const char *mark, long long lookback, char *out, size_t outsz)
{
	struct incr_time	 t;
	struct tm		 tm;
	time_t			 sec;
	char			 frac[16];
	double			 d;
	long long		 ll;
	int			 n, integer;

	if (outsz > 0)
		out[0] = '\0';
	if (incr_time_parse(mark, &t) == 0) {
		/* 0001-01-01 .. 9999-12-31 */
		if (t.sec - lookback < -62135596800LL ||
		    t.sec - lookback > 253402300799LL)
			return -1;
		sec = (time_t)(t.sec - lookback);
		if (gmtime_r(&sec, &tm) == NULL)
			return -1;
		frac[0] = '\0';
		if (t.fdigits > 0)
			(void)snprintf(frac, sizeof(frac), ".%09ld", t.nsec);
		frac[t.fdigits > 0 ? t.fdigits + 1 : 0] = '\0';
		n = snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d%sZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, frac);
	} else if (incr_number(mark, &d, &ll, &integer)) {
		if (integer)
			n = snprintf(out, outsz, "%lld", ll - lookback);
		else
			n = snprintf(out, outsz, "%.*f", incr_decimals(mark),
			    d - (double)lookback);
	} else
		n = snprintf(out, outsz, "%s", mark);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

int
incr_item_value(struct json_object *item, const char *path, char *out,
    size_t outsz)
{
	struct json_object	*v;
	const char		*s = NULL;
	int			 n;

	out[0] = '\0';
	if (item == NULL || (v = jp_get(item, path)) == NULL)
		return 0;
	switch (json_object_get_type(v)) {
	case json_type_string:
		s = json_object_get_string(v);
		if (strlen(s) != (size_t)json_object_get_string_len(v))
			return 0;	/* an embedded NUL */
		break;
	case json_type_int:
		n = snprintf(out, outsz, "%" PRId64, json_object_get_int64(v));
		return n > 0 && (size_t)n < outsz;
	case json_type_double:
		s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		break;
	default:
		return 0;
	}
	if (s == NULL || s[0] == '\0' || strlen(s) > INCR_MAX_VALUE)
		return 0;
	n = snprintf(out, outsz, "%s", s);
	return n > 0 && (size_t)n < outsz;
}

void
incr_decide(const struct incr_config *ic, const char *mark, int runs,
    int first_page, struct incr_run *r)
{
	memset(r, 0, sizeof(*r));
	r->active = 1;
	if (mark != NULL && strlen(mark) <= INCR_MAX_VALUE) {
		r->has_mark = 1;
		(void)snprintf(r->mark, sizeof(r->mark), "%s", mark);
	}
	r->incremental = r->has_mark && first_page &&
	    !(ic->full_every > 0 && runs + 1 >= ic->full_every);
	if (r->incremental)
		r->has_since = incr_since(r->mark, ic->lookback, r->since,
		    sizeof(r->since)) == 0;
	else if (ic->initial != NULL)
		r->has_since = snprintf(r->since, sizeof(r->since), "%s",
		    ic->initial) > 0;
	if (!r->has_since)
		r->since[0] = '\0';
}

void
incr_page(struct incr_run *r, const struct incr_config *ic,
    struct json_object *items)
{
	char	 v[INCR_MAX_VALUE + 1];
	size_t	 i, n;

	if (!r->active || ic == NULL || items == NULL ||
	    !json_object_is_type(items, json_type_array))
		return;
	n = json_object_array_length(items);
	for (i = 0; i < n; i++) {
		if (!incr_item_value(json_object_array_get_idx(items, i),
		    ic->cursor_path, v, sizeof(v)))
			continue;
		if (!r->has_mark || incr_cmp(v, r->mark) > 0) {
			(void)snprintf(r->mark, sizeof(r->mark), "%s", v);
			r->has_mark = 1;
		}
	}
}

enum rs_status
incr_prepare(struct store *st, const struct source_config *cfg,
    const char *source_id, const char *run_id, int first_page,
    struct incr_run *r, char **url, char *err)
{
	struct store_incr	 si;
	enum rs_status		 rc;

	memset(r, 0, sizeof(*r));
	if (cfg->incremental == NULL)
		return RS_OK;
	if ((rc = store_incr_load(st, source_id, run_id, &si, err)) != RS_OK)
		return rc;
	if (si.decided) {
		r->active = 1;
		r->incremental = si.incremental;
		r->has_since = si.since[0] != '\0';
		(void)snprintf(r->since, sizeof(r->since), "%s", si.since);
		r->has_mark = si.run_mark[0] != '\0';
		(void)snprintf(r->mark, sizeof(r->mark), "%s", si.run_mark);
	} else
		incr_decide(cfg->incremental, si.mark[0] != '\0' ? si.mark :
		    NULL, si.runs, first_page, r);
	if (!r->has_since || cfg->incremental->param == NULL)
		return RS_OK;	/* none, or {{since}} in the body only */
	return pager_set_param(url, cfg->incremental->param, r->since, err);
}

enum rs_status
incr_carry(const struct source_config *cfg, const struct incr_run *from,
    struct incr_run *r, char **url, char *err)
{
	*r = *from;
	if (cfg->incremental == NULL || !r->active || !r->has_since ||
	    cfg->incremental->param == NULL)
		return RS_OK;
	return pager_set_param(url, cfg->incremental->param, r->since, err);
}

enum rs_status
incr_preview(const struct source_config *cfg, struct incr_run *r,
    char **url, char *err)
{
	memset(r, 0, sizeof(*r));
	if (cfg->incremental == NULL)
		return RS_OK;
	r->active = 1;		/* a first run: full */
	if (cfg->incremental->initial == NULL)
		return RS_OK;
	r->has_since = 1;
	(void)snprintf(r->since, sizeof(r->since), "%s",
	    cfg->incremental->initial);
	if (cfg->incremental->param == NULL)
		return RS_OK;
	return pager_set_param(url, cfg->incremental->param,
	    cfg->incremental->initial, err);
}

enum rs_status
incr_commit(struct store *st, const struct incr_run *r,
    const char *source_id, const char *run_id, int done, char *err)
{
	if (!r->active || run_id == NULL || run_id[0] == '\0')
		return RS_OK;
	return store_incr_save(st, source_id, run_id, r->incremental,
	    r->has_since ? r->since : NULL, r->has_mark ? r->mark : NULL,
	    done, err);
}
