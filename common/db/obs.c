/*
 * obs.c — health and metrics from the database: one static SQL table,
 * the store's connection.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db.h"
#include "migrate.h"
#include "obs.h"

enum obs_stmt {
	OBS_MIGRATIONS,
	OBS_METRICS,
	OBS__MAX
};

/*
 * Histogram bounds in seconds (Prometheus' defaults, plus 20 s: the
 * batch deadline).  OBS_METRICS takes them as $1 in this order.
 */
static const char *const obs_bounds[] = {
	"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
	"5", "10", "20"
};
#define OBS_NBOUNDS	(sizeof(obs_bounds) / sizeof(obs_bounds[0]))

/* Columns of OBS_METRICS. */
enum obs_col {
	COL_KIND,		/* 0: batches, 1: sources */
	COL_L1,			/* action; status */
	COL_L2,			/* outcome */
	COL_UP_BUCKET,		/* width_bucket of the upstream time */
	COL_EMBED_BUCKET,	/* width_bucket of the embedding time */
	COL_COUNT,
	COL_ITEMS,
	COL_INSERTED,
	COL_UP_SUM,
	COL_EMBED_SUM,
	COL__MAX
};

static const char *const obs_stmts[OBS__MAX] = {
	/* OBS_MIGRATIONS (scripts/migrate.sh keeps the table) */
	"SELECT version FROM schema_migrations ORDER BY version LIMIT 1000",

	/*
	 * OBS_METRICS: everything a scrape shows, in one statement.  Every
	 * audit row that is not an operator action is a batch (sync,
	 * sync-to-end, worker, ...).  The m_* columns are generated from
	 * the row's detail (sql/005_audit_metrics.sql says what each
	 * counts) and held by the covering index kb_rest_audit_metrics.
	 * Batches are grouped by action, outcome and the histogram bucket
	 * of each time; the caller adds the groups up.
	 *
	 * Buckets: width_bucket() over the negated bounds in descending
	 * order is n + 1 - k for the smallest k with value <= bound k
	 * (Prometheus' "le"), 0 above the last bound, NULL for no value.
	 *
	 * XXX Scaling: linear in the audit rows, but as an index-only scan
	 * of the ~60-byte entries of kb_rest_audit_metrics (59 MB per
	 * million rows, next to 780 MB of table) plus a hash aggregate into
	 * a few dozen groups.  Measured with a million rows on the
	 * reference machine (2 cores, shared): a scrape takes 0.41-0.51 s
	 * through nginx, where parsing every row's jsonb took 4.3-4.6 s
	 * (and no plain index helps that: an index-only scan cannot read
	 * jsonb fields).  Rows not yet all-visible cost a heap fetch each;
	 * autovacuum's insert threshold keeps those few.  For a trail far
	 * beyond millions of rows, bound it with a retention job (DELETE
	 * ... WHERE at < now() - interval '90 days', served by
	 * kb_rest_audit_at); counters then drop, which Prometheus' rate()
	 * reads as a counter reset.
	 */
	"WITH nb AS ("
	"  SELECT array_agg(-v ORDER BY v DESC) AS a "
	"  FROM unnest($1::float8[]) AS v"
	") "
	"SELECT 0, action, outcome, width_bucket(-m_fetch_s, nb.a), "
	"       width_bucket(-m_embed_s, nb.a), count(*), sum(m_items), "
	"       sum(m_inserted), sum(m_fetch_s), sum(m_embed_s) "
	"FROM kb_rest_audit, nb "
	"WHERE action NOT IN ('create', 'update', 'reset', 'delete') "
	"GROUP BY action, outcome, 4, 5 "
	"UNION ALL "
	"SELECT 1, coalesce(c.last_status, 'never'), '', NULL, NULL, "
	"       count(*), NULL, NULL, NULL, NULL "
	"FROM kb_sources s LEFT JOIN kb_rest_cursors c ON c.source_id = s.id "
	"WHERE s.type = 'rest' "
	"GROUP BY 2 "
	"ORDER BY 1, 2, 3",
};

static const struct db_table obs_table = {
	"obs", obs_stmts, OBS__MAX, 0
};

/*
 * Run statement s; a connection found lost is reopened and the (read
 * only) statement retried once.  NULL on failure, *reachable = 0 when
 * the database could not be reached at all.
 */
static PGresult *
obs_run(struct store *st, enum obs_stmt s, int n, const char *const *vals,
    int *reachable, char *err)
{
	struct db	*db = store_db(st);
	PGresult	*r;

	r = db_runv(db, &obs_table, (size_t)s, n, vals, DB_RETRY_ALWAYS, err);
	*reachable = r != NULL || db_connected(db);
	return r;
}

/* ---- health ----------------------------------------------------------- */

/*
 * The migration names in dir (the migrator's own list, common/db/migrate.c),
 * sorted, into a new array (*out); RS_EINPUT when dir is unset or
 * unreadable or holds a badly named migration.
 */
static enum rs_status
obs_expected(const char *dir, struct json_object **out, char *err)
{
	char		**names = NULL;
	size_t		 n = 0, i;
	enum rs_status	 st;

	*out = NULL;
	if (dir == NULL || *dir == '\0') {
		rs_errf(err, "RESTSYNC_SQL_DIR is not set");
		return RS_EINPUT;
	}
	if ((st = mig_list(dir, &names, &n, err)) != RS_OK)
		return st;
	*out = json_object_new_array_ext((int)n);
	for (i = 0; i < n; i++) {
		json_object_array_add(*out, json_object_new_string(names[i]));
		free(names[i]);
	}
	free(names);
	return RS_OK;
}

/* 1 if every string of want is in have (both small arrays). */
static int
obs_subset(struct json_object *want, struct json_object *have)
{
	size_t	 i, j, nw = json_object_array_length(want),
		 nh = json_object_array_length(have);
	const char *w;

	for (i = 0; i < nw; i++) {
		w = json_object_get_string(json_object_array_get_idx(want, i));
		for (j = 0; j < nh; j++)
			if (strcmp(w, json_object_get_string(
			    json_object_array_get_idx(have, j))) == 0)
				break;
		if (j == nh)
			return 0;
	}
	return 1;
}

static struct json_object *
obs_ms(double v)
{
	char	 s[32];

	(void)snprintf(s, sizeof(s), "%.3f", v);
	return json_object_new_double_s(v, s);
}

void
obs_health(struct store *st, const char *sql_dir, struct json_object **out,
    int *ok)
{
	struct json_object	*o, *db, *mig, *applied = NULL, *expected;
	PGresult		*r;
	char			 err[RS_ERRLEN], merr[RS_ERRLEN];
	double			 t0;
	int			 reachable, current = 0, i;

	err[0] = merr[0] = '\0';
	t0 = rs_now_ms();
	r = obs_run(st, OBS_MIGRATIONS, 0, NULL, &reachable, err);
	db = json_object_new_object();
	json_object_object_add(db, "ok", json_object_new_boolean(reachable));
	json_object_object_add(db, "ms", obs_ms(rs_now_ms() - t0));
	if (!reachable)
		json_object_object_add(db, "error",
		    json_object_new_string(err));

	mig = json_object_new_object();
	if (r != NULL) {
		applied = json_object_new_array_ext(PQntuples(r));
		for (i = 0; i < PQntuples(r); i++)
			json_object_array_add(applied,
			    json_object_new_string(PQgetvalue(r, i, 0)));
		PQclear(r);
	} else if (reachable)
		/* Reachable, but no schema_migrations: never migrated. */
		rs_errf(merr, "%s", err);
	if (obs_expected(sql_dir, &expected, merr[0] == '\0' ? merr : NULL) !=
	    RS_OK && merr[0] == '\0')
		rs_errf(merr, "expected migrations unknown");
	if (applied != NULL && expected != NULL)
		current = obs_subset(expected, applied);
	json_object_object_add(mig, "applied", applied);
	json_object_object_add(mig, "expected", expected);
	json_object_object_add(mig, "current", json_object_new_boolean(current));
	if (merr[0] != '\0')
		json_object_object_add(mig, "error",
		    json_object_new_string(merr));

	*ok = reachable && current;
	o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(*ok));
	json_object_object_add(o, "database", db);
	json_object_object_add(o, "migrations", mig);
	*out = o;
}

/* ---- metrics ---------------------------------------------------------- */

/* A label value as the exposition format wants it (\\, \", \n). */
static int
obs_label(struct rs_buf *b, const char *v)
{
	int	 rc = 0;

	for (; *v != '\0' && rc == 0; v++) {
		if (*v == '\\')
			rc = rs_buf_puts(b, "\\\\");
		else if (*v == '"')
			rc = rs_buf_puts(b, "\\\"");
		else if (*v == '\n')
			rc = rs_buf_puts(b, "\\n");
		else
			rc = rs_buf_append(b, v, 1);
	}
	return rc;
}

/* A sample value: integers as such, others with 15 significant digits. */
static int
obs_value(struct rs_buf *b, double v)
{
	if (!isfinite(v))
		return rs_buf_puts(b, "NaN\n");
	if (v == floor(v) && fabs(v) < 1e15)
		return rs_buf_printf(b, "%.0f\n", v);
	return rs_buf_printf(b, "%.15g\n", v);
}

static int
obs_head(struct rs_buf *b, const char *name, const char *type,
    const char *help)
{
	return rs_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

struct obs_hist {
	double	 le[OBS_NBOUNDS + 1];	/* per bucket, then cumulated */
	double	 sum, count;
};

/* A group of n observations in width_bucket wb with the given sum. */
static void
obs_hist_add(struct obs_hist *h, const char *wb, double n, double sum)
{
	long	 i = strtol(wb, NULL, 10);

	/* width_bucket i (0..n) is bucket n + 1 - i (1-based). */
	if (i >= 0 && (size_t)i <= OBS_NBOUNDS)
		h->le[OBS_NBOUNDS - (size_t)i] += n;
	h->sum += sum;
	h->count += n;
}

static int
obs_hist_write(struct rs_buf *b, const char *name, const char *help,
    struct obs_hist *h)
{
	double	 acc = 0;
	size_t	 i;
	int	 rc;

	rc = obs_head(b, name, "histogram", help);
	for (i = 0; i <= OBS_NBOUNDS && rc == 0; i++) {
		acc += h->le[i];
		rc = rs_buf_printf(b, "%s_bucket{le=\"%s\"} ", name,
		    i < OBS_NBOUNDS ? obs_bounds[i] : "+Inf");
		if (rc == 0)
			rc = obs_value(b, acc);
	}
	if (rc == 0)
		rc = rs_buf_printf(b, "%s_sum ", name);
	if (rc == 0)
		rc = obs_value(b, h->sum);
	if (rc == 0)
		rc = rs_buf_printf(b, "%s_count ", name);
	if (rc == 0)
		rc = obs_value(b, h->count);
	return rc;
}

/* A numeric column, 0 when NULL. */
static double
obs_num(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 :
	    strtod(PQgetvalue(r, row, col), NULL);
}

/* One restsync_batches_total sample. */
static int
obs_batches(struct rs_buf *b, const char *action, const char *outcome,
    double n)
{
	int	 rc;

	rc = rs_buf_puts(b, "restsync_batches_total{action=\"");
	if (rc == 0)
		rc = obs_label(b, action);
	if (rc == 0)
		rc = rs_buf_puts(b, "\",outcome=\"");
	if (rc == 0)
		rc = obs_label(b, outcome);
	if (rc == 0)
		rc = rs_buf_puts(b, "\"} ");
	if (rc == 0)
		rc = obs_value(b, n);
	return rc;
}

static const char *const obs_statuses[] = { "never", "ok", "done",
    "error" };

/* The bucket bounds as a PostgreSQL array literal, {0.005,...}. */
static void
obs_bounds_text(char *out, size_t sz)
{
	size_t	 i, len = 0;

	out[len++] = '{';
	for (i = 0; i < OBS_NBOUNDS; i++)
		len += (size_t)snprintf(out + len, sz - len, "%s%s",
		    i ? "," : "", obs_bounds[i]);
	(void)snprintf(out + len, sz - len, "}");
}

/* A counter without labels: its HELP, TYPE and one sample. */
static int
obs_counter(struct rs_buf *b, const char *name, const char *help, double v)
{
	int	 rc;

	rc = obs_head(b, name, "counter", help);
	if (rc == 0)
		rc = rs_buf_printf(b, "%s ", name);
	if (rc == 0)
		rc = obs_value(b, v);
	return rc;
}

/* The batch series (kind 0 rows, grouped by action and outcome). */
static int
obs_batch_series(struct rs_buf *b, PGresult *r)
{
	struct obs_hist	 up, em;
	double		 items = 0, inserted = 0, n = 0;
	int		 rc, row, nrows = PQntuples(r);

	memset(&up, 0, sizeof(up));
	memset(&em, 0, sizeof(em));
	rc = obs_head(b, "restsync_batches_total", "counter",
	    "Batches run, by action (sync, sync-to-end, worker) and outcome "
	    "(ok, done, error), from the audit trail.");
	for (row = 0; row < nrows && rc == 0; row++) {
		if (atoi(PQgetvalue(r, row, COL_KIND)) != 0)
			break;
		n += obs_num(r, row, COL_COUNT);
		items += obs_num(r, row, COL_ITEMS);
		inserted += obs_num(r, row, COL_INSERTED);
		if (!PQgetisnull(r, row, COL_UP_BUCKET))
			obs_hist_add(&up, PQgetvalue(r, row, COL_UP_BUCKET),
			    obs_num(r, row, COL_COUNT),
			    obs_num(r, row, COL_UP_SUM));
		if (!PQgetisnull(r, row, COL_EMBED_BUCKET))
			obs_hist_add(&em, PQgetvalue(r, row,
			    COL_EMBED_BUCKET), obs_num(r, row, COL_COUNT),
			    obs_num(r, row, COL_EMBED_SUM));
		/* Last group of this action and outcome: one sample. */
		if (row + 1 == nrows ||
		    atoi(PQgetvalue(r, row + 1, COL_KIND)) != 0 ||
		    strcmp(PQgetvalue(r, row, COL_L1),
		    PQgetvalue(r, row + 1, COL_L1)) != 0 ||
		    strcmp(PQgetvalue(r, row, COL_L2),
		    PQgetvalue(r, row + 1, COL_L2)) != 0) {
			rc = obs_batches(b, PQgetvalue(r, row, COL_L1),
			    PQgetvalue(r, row, COL_L2), n);
			n = 0;
		}
	}
	if (rc == 0)
		rc = obs_counter(b, "restsync_items_total",
		    "Items fetched and stored by batches.", items);
	if (rc == 0)
		rc = obs_counter(b, "restsync_chunks_inserted_total",
		    "New chunks stored by batches (after dedup).", inserted);
	if (rc == 0)
		rc = obs_hist_write(b, "restsync_upstream_seconds",
		    "Upstream fetch time per batch that made an upstream "
		    "request, retries included.", &up);
	if (rc == 0)
		rc = obs_hist_write(b, "restsync_embed_seconds",
		    "Embedding time per batch that embedded.", &em);
	return rc;
}

/* 1 if status is one of obs_statuses (always written). */
static int
obs_usual_status(const char *status)
{
	size_t	 k;

	for (k = 0; k < sizeof(obs_statuses) / sizeof(obs_statuses[0]); k++)
		if (strcmp(status, obs_statuses[k]) == 0)
			return 1;
	return 0;
}

/* Sources by last status (kind 1 rows): the usual ones always, others
 * as found. */
static int
obs_source_series(struct rs_buf *b, PGresult *r)
{
	double	 n;
	size_t	 k;
	int	 rc, row, nrows = PQntuples(r);

	rc = obs_head(b, "restsync_sources", "gauge",
	    "REST sources by the last batch's status (never: not synced "
	    "yet).");
	for (k = 0; k < sizeof(obs_statuses) / sizeof(obs_statuses[0]) &&
	    rc == 0; k++) {
		n = 0;
		for (row = 0; row < nrows; row++)
			if (atoi(PQgetvalue(r, row, COL_KIND)) == 1 &&
			    strcmp(PQgetvalue(r, row, COL_L1),
			    obs_statuses[k]) == 0)
				n = obs_num(r, row, COL_COUNT);
		rc = rs_buf_printf(b, "restsync_sources{status=\"%s\"} ",
		    obs_statuses[k]);
		if (rc == 0)
			rc = obs_value(b, n);
	}
	for (row = 0; row < nrows && rc == 0; row++) {
		if (atoi(PQgetvalue(r, row, COL_KIND)) != 1 ||
		    obs_usual_status(PQgetvalue(r, row, COL_L1)))
			continue;
		rc = rs_buf_puts(b, "restsync_sources{status=\"");
		if (rc == 0)
			rc = obs_label(b, PQgetvalue(r, row, COL_L1));
		if (rc == 0)
			rc = rs_buf_puts(b, "\"} ");
		if (rc == 0)
			rc = obs_value(b, obs_num(r, row, COL_COUNT));
	}
	return rc;
}

enum rs_status
obs_metrics(struct store *st, struct rs_buf *b, char *err)
{
	PGresult	*r;
	char		 bounds[256];
	const char	*v[1] = { bounds };
	int		 reachable, rc;
	enum rs_status	 ret = RS_EDB;

	rs_buf_reset(b);
	obs_bounds_text(bounds, sizeof(bounds));
	r = obs_run(st, OBS_METRICS, 1, v, &reachable, err);
	if (r != NULL && PQnfields(r) != COL__MAX) {
		rs_errf(err, "database: unexpected metrics shape");
		PQclear(r);
		r = NULL;
	}
	rc = obs_head(b, "restsync_up", "gauge",
	    "1 when the database answered this scrape's query, else 0.");
	if (rc == 0)
		rc = rs_buf_printf(b, "restsync_up %d\n", r != NULL);
	/* Batch groups come first, ordered by action and outcome. */
	if (rc == 0 && r != NULL)
		rc = obs_batch_series(b, r);
	if (rc == 0 && r != NULL)
		rc = obs_source_series(b, r);
	if (rc == 0 && r != NULL)
		ret = RS_OK;
	PQclear(r);
	if (rc != 0) {
		rs_errf(err, "metrics larger than %u bytes", OBS_METRICS_MAX);
		ret = RS_ENOMEM;
	}
	return ret;
}
