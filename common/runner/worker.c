/*
 * worker.c — due sources, claims and time slices (see worker.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include <sys/select.h>

#include "db.h"
#include "log.h"
#include "runner.h"
#include "store.h"
#include "worker.h"

#define WK_BUSY_MS_MIN	100	/* a batch of the source is running */
#define WK_BUSY_MS_MAX	300
#define WK_BACKOFF_MAX	30.0	/* seconds between database retries */
#define WK_RUN_POLL_MS	1000	/* look for server-side runs this often */
#define WK_RUN_BUSY_MAX_S 120	/* a run waits out other batches so long */

enum wk_stmt {
	WK_SETUP,
	WK_DUE,
	WK_TRY_LOCK,
	WK_UNLOCK,
	WK_RESTART,
	WK_PING,
	WK_LISTEN,
	WK_RUNS,
	WK_RUN_TRY_LOCK,
	WK_RUN_UNLOCK,
	WK_RUN_STATE,
	WK_RUN_CLAIM,
	WK_RUN_END,
	WK__MAX
};

static const char *const wk_stmts[WK__MAX] = {
	/*
	 * WK_SETUP.  The server probes an idle worker connection after 30 s
	 * and drops it after 3 unanswered probes 10 s apart: the locks of a
	 * machine that vanished are free again after about a minute (TCP
	 * only; ignored on unix sockets).
	 */
	"SET statement_timeout = 15000; "
	"SET application_name = 'restsync-worker'; SET TIME ZONE 'UTC'; "
	"SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; "
	"SET tcp_keepalives_count = 3",

	/*
	 * WK_DUE: $1 seconds per interval minute, $2 one source or NULL for
	 * all, $3 the row limit.  Kind: new | retry | restart | continue.
	 * The CASE keeps the cast away from a non-number interval.
	 */
	"SELECT s.id::text, "
	"       CASE WHEN c.last_synced_at IS NULL THEN 'new' "
	"            WHEN c.last_status = 'error' THEN 'retry' "
	"            WHEN c.done THEN 'restart' ELSE 'continue' END "
	"FROM kb_sources s "
	"CROSS JOIN LATERAL (SELECT CASE "
	"    WHEN jsonb_typeof(s.config->'syncIntervalMinutes') = 'number' "
	"    THEN (s.config->>'syncIntervalMinutes')::float8 * $1::float8 "
	"    END AS every) i "
	"LEFT JOIN kb_rest_cursors c ON c.source_id = s.id "
	"WHERE s.type = 'rest' AND s.enabled AND i.every > 0 "
	"  AND ($2::uuid IS NULL OR s.id = $2::uuid) "
	"  AND (c.last_synced_at IS NULL "
	"    OR (c.last_status = 'error' AND c.last_synced_at <= now() - "
	"        make_interval(secs => least(i.every, 5 * $1::float8))) "
	"    OR (c.last_status IS DISTINCT FROM 'error' AND NOT c.done) "
	"    OR (c.last_status IS DISTINCT FROM 'error' AND c.done AND "
	"        c.last_synced_at <= now() - make_interval(secs => i.every))) "
	"ORDER BY c.last_synced_at NULLS FIRST, s.id "
	"LIMIT $3::int",

	/* WK_TRY_LOCK: the worker's key, not the batch's. */
	"SELECT pg_try_advisory_lock(hashtextextended("
	"    '" DB_LOCK_WORKER "' || $1::uuid::text, 0))",

	/* WK_UNLOCK */
	"SELECT pg_advisory_unlock(hashtextextended("
	"    '" DB_LOCK_WORKER "' || $1::uuid::text, 0))",

	/*
	 * WK_RESTART: a new run from the first page.  Docs and chunks stay
	 * (unchanged items cost nothing; the run's sweep removes what the
	 * upstream no longer has); the counts the pager compares (pages
	 * and items of the run) start again from 0, and the next batch
	 * starts a new run.  Only the lock holder gets here, and only
	 * while the source is still done.
	 */
	"UPDATE kb_rest_cursors SET next_cursor = NULL, done = false, "
	"    page_count = 0, item_count = 0, run_id = NULL "
	"WHERE source_id = $1::uuid AND done",

	/* WK_PING: the session, and so the lock, is still there. */
	"SELECT 1",

	/* WK_LISTEN: rest-sync notifies when it starts a run. */
	"LISTEN restsync_runs",

	/* WK_RUNS: server-side runs to carry out, oldest first. */
	"SELECT id::text, source_id::text FROM kb_rest_runs "
	"WHERE server AND status = 'running' "
	"ORDER BY started_at LIMIT 16",

	/* WK_RUN_TRY_LOCK: one executor per run (dies with the session). */
	"SELECT pg_try_advisory_lock(hashtextextended("
	"    '" DB_LOCK_RUN "' || $1::uuid::text, 0))",

	/* WK_RUN_UNLOCK */
	"SELECT pg_advisory_unlock(hashtextextended("
	"    '" DB_LOCK_RUN "' || $1::uuid::text, 0))",

	/*
	 * WK_RUN_STATE: still a running server-side run of its source (the
	 * cursor's), and whether it was asked to stop.
	 */
	"SELECT r.stop_requested, r.status = 'running' AND r.server "
	"    AND c.run_id IS NOT DISTINCT FROM r.id "
	"FROM kb_rest_runs r "
	"LEFT JOIN kb_rest_cursors c ON c.source_id = r.source_id "
	"WHERE r.id = $1::uuid",

	/* WK_RUN_CLAIM: who carries it out. */
	"UPDATE kb_rest_runs SET executor = $2::text WHERE id = $1::uuid",

	/* WK_RUN_END: a run that ends otherwise than by its pages. */
	"UPDATE kb_rest_runs SET status = $2::text, "
	"    finished_at = coalesce(finished_at, now()), "
	"    error = coalesce($3::text, error) "
	"WHERE id = $1::uuid AND status = 'running'",
};

static const struct db_table wk_table = {
	"wk", wk_stmts, WK__MAX, 0
};

struct wk {
	const struct wk_opts	*o;
	struct batch_ctx	*ctx;
	const char		*actor;
	volatile sig_atomic_t	*stop;
	struct db		*db;	/* its own session: LISTEN, locks */
	char			 who[300];	/* host:pid, for the logs */
	unsigned		 seed;
};

static double
wk_env_num(const char *name, double dflt, double min, double max,
    int *bad)
{
	const char	*v = getenv(name);
	char		*end;
	double		 d;

	if (v == NULL || *v == '\0')
		return dflt;
	errno = 0;
	d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !isfinite(d) ||
	    d < min || d > max) {
		*bad = 1;
		return dflt;
	}
	return d;
}

enum rs_status
wk_opts_env(struct wk_opts *o, char *err)
{
	static const struct {
		const char	*name;
		double		 dflt, min, max;
		const char	*range;
	} vars[] = {
		{ "RESTSYNC_WORKER_SLICE_SECONDS", 60, 0.1, 86400,
		  "a number of seconds from 0.1 to 86400" },
		{ "RESTSYNC_WORKER_IDLE_SECONDS", 5, 0.01, 3600,
		  "a number of seconds from 0.01 to 3600" },
		{ "RESTSYNC_WORKER_MINUTE_SECONDS", 60, 0.01, 60,
		  "a number from 0.01 to 60" },
		{ "RESTSYNC_WORKER_SCHEDULE", 1, 0, 1, "0 or 1" },
		{ "RESTSYNC_WORKER_RUNS", 1, 0, 1, "0 or 1" },
	};
	double	 v[sizeof(vars) / sizeof(vars[0])];
	size_t	 i;
	int	 bad = 0;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		v[i] = wk_env_num(vars[i].name, vars[i].dflt, vars[i].min,
		    vars[i].max, &bad);
		if (bad) {
			rs_errf(err, "%s must be %s", vars[i].name,
			    vars[i].range);
			return RS_EINPUT;
		}
	}
	o->slice_s = v[0];
	o->idle_s = v[1];
	o->minute_s = v[2];
	o->schedule = (int)v[3];
	o->runs = (int)v[4];
	if (!o->schedule && !o->runs) {
		rs_errf(err, "RESTSYNC_WORKER_SCHEDULE and RESTSYNC_WORKER_RUNS "
		    "are both 0: nothing to do");
		return RS_EINPUT;
	}
	return RS_OK;
}

/* One JSON log line: time, program, worker, user, event, then fields
 * (put by this function). */
static void
wk_log(struct wk *w, const char *event, struct json_object *fields)
{
	struct json_object	*o = log_begin("restsync-worker");

	json_object_object_add(o, "worker", json_object_new_string(w->who));
	json_object_object_add(o, "user", json_object_new_string(w->actor));
	json_object_object_add(o, "event", json_object_new_string(event));
	log_emit(o, fields);
}

/* A number as written with %g (0.1, not 0.10000000000000001). */
static struct json_object *
wk_num(double v)
{
	char	 s[32];

	(void)snprintf(s, sizeof(s), "%g", v);
	return json_object_new_double_s(v, s);
}

static struct json_object *
wk_fields(const char *id, const char *k1, const char *v1)
{
	struct json_object	*f = json_object_new_object();

	if (id != NULL)
		json_object_object_add(f, "source_id",
		    json_object_new_string(id));
	if (k1 != NULL)
		json_object_object_add(f, k1, json_object_new_string(v1));
	return f;
}

/* Uniform in [lo, hi). */
static double
wk_rand(struct wk *w, double lo, double hi)
{
	return lo + (hi - lo) * ((double)rand_r(&w->seed) /
	    ((double)RAND_MAX + 1.0));
}

/*
 * Run statement s on the worker's own session.  Never reconnects by
 * itself (db.h's manual mode): a new session would not hold the locks of
 * the old one.  After a lost connection the caller's locks are gone and
 * wk_connect() opens a new session.
 */
static PGresult *
wk_run_stmt(struct wk *w, enum wk_stmt s, int n, const char *const *vals,
    char *err)
{
	return db_runv(w->db, &wk_table, (size_t)s, n, vals, DB_RETRY_NEVER,
	    err);
}

static enum rs_status
wk_connect(struct wk *w, char *err)
{
	enum rs_status	 st;

	if (w->db == NULL && (st = db_open(&w->db, NULL, wk_stmts[WK_SETUP], 1,
	    err)) != RS_OK)
		return st;
	if (db_connected(w->db))
		return RS_OK;
	if ((st = db_connect(w->db, err)) != RS_OK)
		return st;
	if (w->o->runs)
		return db_script(w->db, wk_stmts[WK_LISTEN], "listen", err);
	return RS_OK;
}

/* Due sources (all with id NULL, else that one); NULL on error. */
static PGresult *
wk_due(struct wk *w, const char *id, int limit, char *err)
{
	char		 minute[32], lim[16];
	const char	*v[3];

	(void)snprintf(minute, sizeof(minute), "%.6f", w->o->minute_s);
	(void)snprintf(lim, sizeof(lim), "%d", limit);
	v[0] = minute;
	v[1] = id;
	v[2] = lim;
	return wk_run_stmt(w, WK_DUE, 3, v, err);
}

/* 1 when the statement's single value is "t". */
static int
wk_true(PGresult *r)
{
	return PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
}

static void
wk_unlock(struct wk *w, const char *id)
{
	PGresult	*r;
	const char	*v[1] = { id };

	if ((r = wk_run_stmt(w, WK_UNLOCK, 1, v, NULL)) != NULL)
		PQclear(r);
}

/*
 * Claim the first due source that no other worker holds: id[0] == '\0'
 * when there is none.  On RS_OK with a source, its worker lock is held
 * and, when the round was over and due again, the cursor is back at the
 * first page.
 */
static enum rs_status
wk_claim(struct wk *w, char id[37], char kind[16], char *err)
{
	PGresult	*cand = NULL, *r = NULL;
	const char	*v[1];
	enum rs_status	 st = RS_EDB;
	int		 i;

	id[0] = kind[0] = '\0';
	if (wk_connect(w, err) != RS_OK ||
	    (cand = wk_due(w, NULL, WK_CANDIDATES, err)) == NULL)
		goto out;
	for (i = 0; i < PQntuples(cand) && !*w->stop; i++) {
		v[0] = PQgetvalue(cand, i, 0);
		if ((r = wk_run_stmt(w, WK_TRY_LOCK, 1, v, err)) == NULL)
			goto out;
		if (!wk_true(r)) {
			PQclear(r);
			r = NULL;
			continue;	/* another worker is on it */
		}
		PQclear(r);
		/* Locked: look again with a snapshot taken after the lock. */
		if ((r = wk_due(w, v[0], 1, err)) == NULL) {
			wk_unlock(w, v[0]);
			goto out;
		}
		if (PQntuples(r) != 1) {
			PQclear(r);
			r = NULL;
			wk_unlock(w, v[0]);
			continue;	/* finished by its last holder */
		}
		(void)snprintf(id, 37, "%s", v[0]);
		(void)snprintf(kind, 16, "%s", PQgetvalue(r, 0, 1));
		PQclear(r);
		r = NULL;
		if (strcmp(kind, "restart") == 0) {
			if ((r = wk_run_stmt(w, WK_RESTART, 1, v, err)) ==
			    NULL) {
				wk_unlock(w, id);
				id[0] = kind[0] = '\0';
				goto out;
			}
			PQclear(r);
			r = NULL;
		}
		break;
	}
	st = RS_OK;
out:
	PQclear(r);
	PQclear(cand);
	return st;
}

/* The per-batch log line. */
static void
wk_log_batch(struct wk *w, const char *id, enum rs_status st,
    const struct batch_result *res, const char *err)
{
	struct json_object	*f = wk_fields(id, NULL, NULL), *b, *v;

	json_object_object_add(f, "tenant_id",
	    json_object_new_string(res->tenant_id));
	json_object_object_add(f, "status",
	    json_object_new_string(rs_status_name(st)));
	b = batch_result_json(res);
	if (st == RS_OK) {
		static const char *const keep[] = { "done", "items",
		    "inserted", "skipped", "chunks", "attempts", "status",
		    "next", "itemCount", "notModified", "runId", "newItems",
		    "changedItems", "unchangedItems", "removedItems", "sweep",
		    "ms" };
		size_t	 i;

		for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			if (json_object_object_get_ex(b, keep[i], &v))
				json_object_object_add(f, strcmp(keep[i],
				    "status") == 0 ? "http" : keep[i],
				    json_object_get(v));
	} else {
		json_object_object_add(f, "http", res->status > 0 ?
		    json_object_new_int((int)res->status) : NULL);
		json_object_object_add(f, "attempts",
		    json_object_new_int(res->attempts));
		json_object_object_add(f, "error",
		    json_object_new_string(err));
	}
	json_object_put(b);
	wk_log(w, "batch", f);
}

/* What a slice or a run's runner callbacks share. */
struct wk_job {
	struct wk	*w;
	const char	*id;		/* the source */
	const char	*run;		/* the server-side run, or NULL */
	const char	*why;		/* why it ended early, or NULL */
	int		 batches;
};

/* Before each batch: still our session (so still our locks). */
static int
wk_before(void *arg)
{
	struct wk_job	*j = arg;
	PGresult	*r;
	const char	*v[1];
	char		 err[RS_ERRLEN];
	int		 go;

	/* A run's state query proves the session too: one round trip a
	 * page (pipelined runs ask before every page's commit). */
	if (j->run == NULL) {
		if ((r = wk_run_stmt(j->w, WK_PING, 0, NULL, err)) == NULL) {
			j->why = "lost-connection";
			return 0;
		}
		PQclear(r);
		return 1;
	}
	v[0] = j->run;
	if ((r = wk_run_stmt(j->w, WK_RUN_STATE, 1, v, err)) == NULL) {
		j->why = "lost-connection";
		return 0;
	}
	go = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "f") == 0 &&
	    strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	if (!go)
		j->why = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0),
		    "t") == 0 ? "stop-requested" : "not-current";
	PQclear(r);
	return go;
}

static void
wk_on_batch(void *arg, enum rs_status st, const struct batch_result *res,
    const char *err)
{
	struct wk_job	*j = arg;

	j->batches++;
	wk_log_batch(j->w, j->id, st, res, err);
}

/* Busy: a scheduled round goes on only while the source is due. */
static int
wk_on_busy(void *arg, double waited_ms)
{
	struct wk_job	*j = arg;
	PGresult	*r;
	char		 err[RS_ERRLEN];
	int		 due;

	(void)waited_ms;
	if (j->run != NULL)
		return 1;
	if ((r = wk_due(j->w, j->id, 1, err)) == NULL) {
		j->why = "lost-connection";
		return 0;
	}
	due = PQntuples(r) == 1;
	PQclear(r);
	if (!due)
		j->why = "not-due";
	return due;
}

/*
 * Run batches of the claimed source (common/runner/runner.c) until it is done,
 * the slice ends, a batch fails or the worker is told to stop.  Returns
 * why, for the log.
 */
static const char *
wk_slice(struct wk *w, const char *id, int *nbatches)
{
	struct runner_opts	 ro;
	struct runner_sum	 sum;
	struct wk_job		 j;
	enum runner_end		 end;
	char			 err[RS_ERRLEN];

	memset(&j, 0, sizeof(j));
	j.w = w;
	j.id = id;
	memset(&ro, 0, sizeof(ro));
	ro.actor = w->actor;
	ro.action = "worker";
	ro.deadline_ms = rs_now_ms() + w->o->slice_s * 1000;
	ro.busy_max_ms = 1e15;		/* as long as it stays due */
	ro.busy_nap_ms = WK_BUSY_MS_MIN;
	ro.stop = w->stop;
	ro.before = wk_before;
	ro.on_batch = wk_on_batch;
	ro.on_busy = wk_on_busy;
	ro.arg = &j;
	end = runner_loop(w->ctx, id, &ro, &sum, err);
	*nbatches = j.batches;
	switch (end) {
	case RUNNER_DONE:
		return "done";
	case RUNNER_STOPPED:
		return j.why != NULL ? j.why : "stop";
	case RUNNER_DEADLINE:
		return "slice";
	case RUNNER_GONE:
		return "gone";
	case RUNNER_BUSY:
	case RUNNER_DISABLED:
		return j.why != NULL ? j.why : "not-due";
	default:
		return "error";
	}
}

/*
 * Carry out a server-side run (docs/RUNS.md) until it is done, fails,
 * is asked to stop, or this worker is told to stop (the run stays
 * running: another worker goes on with it).
 */
static void
wk_do_run(struct wk *w, const char *run, const char *id)
{
	struct runner_opts	 ro;
	struct runner_sum	 sum;
	struct wk_job		 j;
	struct json_object	*f;
	enum runner_end		 end;
	PGresult		*r;
	const char		*v[3], *status = NULL;
	char			 err[RS_ERRLEN], note[RS_ERRLEN];

	memset(&j, 0, sizeof(j));
	j.w = w;
	j.id = id;
	j.run = run;
	v[0] = run;
	v[1] = w->who;
	if ((r = wk_run_stmt(w, WK_RUN_CLAIM, 2, v, err)) != NULL)
		PQclear(r);
	f = wk_fields(id, "run_id", run);
	wk_log(w, "run-claim", f);
	memset(&ro, 0, sizeof(ro));
	ro.actor = w->actor;
	ro.action = BATCH_ACTION_RUN;
	ro.pipeline = 1;
	ro.busy_max_ms = WK_RUN_BUSY_MAX_S * 1000.0;
	ro.stop = w->stop;
	ro.before = wk_before;
	ro.on_batch = wk_on_batch;
	ro.on_busy = wk_on_busy;
	ro.arg = &j;
	err[0] = note[0] = '\0';
	end = runner_loop(w->ctx, id, &ro, &sum, err);
	switch (end) {
	case RUNNER_STOPPED:
		if (j.why != NULL && strcmp(j.why, "stop-requested") == 0)
			status = "stopped";
		break;
	case RUNNER_BUSY:
		status = "failed";
		(void)snprintf(note, sizeof(note), "other batches of the source "
		    "kept it busy for %d s", WK_RUN_BUSY_MAX_S);
		break;
	case RUNNER_DISABLED:
		status = "stopped";
		(void)snprintf(note, sizeof(note), "the source was disabled");
		break;
	default:
		break;	/* done, failed: written by the batch */
	}
	if (status != NULL) {
		v[0] = run;
		v[1] = status;
		v[2] = note[0] != '\0' ? note : NULL;
		if ((r = wk_run_stmt(w, WK_RUN_END, 3, v, err)) != NULL)
			PQclear(r);
	}
	f = wk_fields(id, "run_id", run);
	json_object_object_add(f, "end",
	    json_object_new_string(status != NULL ? status :
	    runner_end_name(end)));
	json_object_object_add(f, "batches", json_object_new_int(j.batches));
	json_object_object_add(f, "items", json_object_new_int64(sum.items));
	json_object_object_add(f, "seconds", wk_num(sum.ms / 1000));
	if (sum.pool.max > 0) {
		/* The pipeline's embeddings requests (docs/RUNS.md). */
		json_object_object_add(f, "embed_concurrency",
		    json_object_new_int(sum.pool.max));
		json_object_object_add(f, "embed_limit",
		    json_object_new_int(sum.pool.limit));
		json_object_object_add(f, "embed_peak",
		    json_object_new_int(sum.pool.peak));
		json_object_object_add(f, "embed_429",
		    json_object_new_int(sum.pool.throttled));
	}
	wk_log(w, "run-end", f);
}

/*
 * Take the oldest server-side run no other worker carries out and carry
 * it out.  1 when one was run, 0 when there was none, -1 on database
 * trouble (err).
 */
static int
wk_runs(struct wk *w, char *err)
{
	PGresult	*cand = NULL, *r = NULL;
	const char	*v[1];
	char		 run[37], id[37];
	int		 i, did = 0, go;

	if (wk_connect(w, err) != RS_OK ||
	    (cand = wk_run_stmt(w, WK_RUNS, 0, NULL, err)) == NULL)
		return -1;
	for (i = 0; i < PQntuples(cand) && !*w->stop && !did; i++) {
		(void)snprintf(run, sizeof(run), "%s", PQgetvalue(cand, i, 0));
		(void)snprintf(id, sizeof(id), "%s", PQgetvalue(cand, i, 1));
		v[0] = run;
		if ((r = wk_run_stmt(w, WK_RUN_TRY_LOCK, 1, v, err)) == NULL)
			goto fail;
		go = wk_true(r);
		PQclear(r);
		if (!go)
			continue;	/* another worker carries it out */
		/* Locked: look again with a snapshot after the lock. */
		if ((r = wk_run_stmt(w, WK_RUN_STATE, 1, v, err)) == NULL)
			goto fail;
		go = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 1), "t") == 0;
		PQclear(r);
		if (go) {
			wk_do_run(w, run, id);
			did = 1;
		}
		if ((r = wk_run_stmt(w, WK_RUN_UNLOCK, 1, v, NULL)) != NULL)
			PQclear(r);
	}
	PQclear(cand);
	return did;
fail:
	PQclear(cand);
	return -1;
}

/*
 * Sleep up to ms, waking early when told to stop or when rest-sync
 * notifies a new run (LISTEN restsync_runs on the worker's connection).
 */
static void
wk_wait(struct wk *w, double ms)
{
	struct timeval	 tv;
	PGconn		*conn;
	PGnotify	*n;
	fd_set		 fds;
	double		 end = rs_now_ms() + ms, left;
	int		 fd, woke = 0;

	while (!*w->stop && !woke && (left = end - rs_now_ms()) > 0) {
		if (left > 100)
			left = 100;
		if (!w->o->runs || !db_connected(w->db) ||
		    (conn = db_pgconn(w->db, NULL)) == NULL ||
		    (fd = PQsocket(conn)) < 0) {
			runner_nap(left, w->stop);
			continue;
		}
		FD_ZERO(&fds);
		FD_SET(fd, &fds);
		tv.tv_sec = 0;
		tv.tv_usec = (long)(left * 1000);
		if (select(fd + 1, &fds, NULL, NULL, &tv) > 0) {
			(void)PQconsumeInput(conn);
			while ((n = PQnotifies(conn)) != NULL) {
				PQfreemem(n);
				woke = 1;
			}
		}
	}
}

/* 1, 2, 4 ... WK_BACKOFF_MAX s (jittered) while the database is away. */
static void
wk_backoff(struct wk *w, double *backoff)
{
	*backoff = *backoff == 0 ? 1 : *backoff * 2;
	if (*backoff > WK_BACKOFF_MAX)
		*backoff = WK_BACKOFF_MAX;
	runner_nap(*backoff * 1000 * wk_rand(w, 0.75, 1.25), w->stop);
}

/*
 * Database trouble (e, logged): 1 when the worker is to end (once: err
 * says why), else 0 after a backoff.
 */
static int
wk_trouble(struct wk *w, double *backoff, const char *e, char *err)
{
	wk_log(w, "error", wk_fields(NULL, "error", e));
	if (w->o->once) {
		rs_errf(err, "%s", e);
		return 1;
	}
	wk_backoff(w, backoff);
	return 0;
}

/* The worker's state, its name (host:pid) for the logs; "start" logged. */
static void
wk_init(struct wk *w, struct batch_ctx *ctx, const struct wk_opts *o,
    const char *actor, volatile sig_atomic_t *stop)
{
	struct json_object	*f;
	char			 host[256];

	memset(w, 0, sizeof(*w));
	w->o = o;
	w->ctx = ctx;
	w->actor = actor;
	w->stop = stop;
	if (gethostname(host, sizeof(host)) == -1)
		(void)snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	(void)snprintf(w->who, sizeof(w->who), "%.200s:%ld", host,
	    (long)getpid());
	w->seed = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
	f = json_object_new_object();
	json_object_object_add(f, "slice_s", wk_num(o->slice_s));
	json_object_object_add(f, "idle_s", wk_num(o->idle_s));
	json_object_object_add(f, "minute_s", wk_num(o->minute_s));
	json_object_object_add(f, "once", json_object_new_boolean(o->once));
	wk_log(w, "start", f);
}

enum rs_status
wk_run(struct batch_ctx *ctx, const struct wk_opts *o, const char *actor,
    volatile sig_atomic_t *stop, char *err)
{
	struct wk		 w;
	struct json_object	*f;
	enum rs_status		 st = RS_OK;
	char			 id[37], kind[16], e[RS_ERRLEN];
	const char		*why;
	double			 backoff = 0;
	int			 n;

	wk_init(&w, ctx, o, actor, stop);
	while (!*stop) {
		e[0] = '\0';
		if (o->runs) {
			if ((n = wk_runs(&w, e)) == 1) {
				backoff = 0;
				continue;
			}
			if (n == -1) {
				if (wk_trouble(&w, &backoff, e, err)) {
					st = RS_EDB;
					break;
				}
				continue;
			}
		}
		if (!o->schedule) {
			backoff = 0;
			if (o->once)
				break;
			wk_wait(&w, WK_RUN_POLL_MS);
			continue;
		}
		if (wk_claim(&w, id, kind, e) != RS_OK) {
			if (wk_trouble(&w, &backoff, e, err)) {
				st = RS_EDB;
				break;
			}
			continue;
		}
		backoff = 0;
		if (id[0] == '\0') {
			if (o->once)
				break;
			/* Runs are looked for at least every WK_RUN_POLL_MS
			 * (and at once when rest-sync notifies). */
			wk_wait(&w, fmin(o->idle_s * 1000 * wk_rand(&w, 0.5,
			    1.5), o->runs ? WK_RUN_POLL_MS : 1e12));
			continue;
		}
		wk_log(&w, "claim", wk_fields(id, "kind", kind));
		why = wk_slice(&w, id, &n);
		wk_unlock(&w, id);
		f = wk_fields(id, "reason", why);
		json_object_object_add(f, "batches", json_object_new_int(n));
		wk_log(&w, "release", f);
	}
	wk_log(&w, "stop", NULL);
	db_close(w.db);
	return st;
}
