/*
 * ratelimit.c — the shared rate budget (see ratelimit.h).  Its one
 * statement runs on the store's connection (like obs.c).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "db.h"
#include "ratelimit.h"

enum rl_stmt {
	RL_TAKE,
	RL__MAX
};

static const char *const rl_stmts[RL__MAX] = {
	/* RL_TAKE: sql/010 restsync_rate_take(). */
	"SELECT granted, wait_ms FROM restsync_rate_take($1, $2::int, "
	"    $3::float8, $4::float8, $5::float8, $6::uuid)",
};

static const struct db_table rl_table = {
	"rate", rl_stmts, RL__MAX, 0
};

int
rl_key(const struct source_config *cfg, const char *tenant_id,
    const char *source_id, char *out, size_t outsz)
{
	int	 n;

	if (outsz > 0)
		out[0] = '\0';
	if (cfg->rate_requests <= 0 || cfg->rate_per_seconds <= 0)
		return -1;
	if (cfg->rate_scope == CFG_RATE_PROVIDER)
		n = snprintf(out, outsz, "provider:%s:%s", tenant_id,
		    cfg->provider != NULL ? cfg->provider : "rest");
	else
		n = snprintf(out, outsz, "source:%s", source_id);
	if (n < 0 || (size_t)n >= outsz) {
		if (outsz > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

void
rl_gate_init(struct rl_gate *g, struct store *st,
    const struct source_config *cfg, const char *tenant_id,
    const char *source_id, double deadline, double need_ms)
{
	memset(g, 0, sizeof(*g));
	g->st = st;
	g->source_id = source_id;
	g->deadline = deadline;
	g->need_ms = need_ms;
	if (rl_key(cfg, tenant_id, source_id, g->key, sizeof(g->key)) == 0) {
		g->requests = cfg->rate_requests;
		g->window_ms = (double)cfg->rate_per_seconds * 1000;
	}
}

double
rl_max_wait(double deadline, double now, double need_ms)
{
	double	 w = deadline - now - need_ms;

	return w > 0 ? w : 0;
}

long
rl_retry_after_s(double wait_ms)
{
	double	 s = ceil(wait_ms / 1000);

	if (!(s >= 1))
		return 1;
	if (s > 86400 * 2)
		return 86400 * 2;
	return (long)s;
}

static void
rl_sleep(double ms)
{
	struct timespec	 ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

enum rs_status
rl_gate(void *arg, char *err)
{
	struct rl_gate	*g = arg;
	PGresult	*r = NULL;
	const char	*v[6];
	char		 n[16], win[32], margin[32], maxw[32];
	double		 wait;
	int		 granted;
	enum rs_status	 st = RS_EDB;

	if (g == NULL || g->requests <= 0)
		return RS_OK;
	(void)snprintf(n, sizeof(n), "%d", g->requests);
	(void)snprintf(win, sizeof(win), "%.0f", g->window_ms);
	(void)snprintf(margin, sizeof(margin), "%d", RL_MARGIN_MS);
	(void)snprintf(maxw, sizeof(maxw), "%.0f",
	    rl_max_wait(g->deadline, rs_now_ms(), g->need_ms));
	v[0] = g->key;
	v[1] = n;
	v[2] = win;
	v[3] = margin;
	v[4] = maxw;
	v[5] = g->source_id;
	if ((r = db_runv(store_db(g->st), &rl_table, RL_TAKE, 6, v,
	    DB_RETRY_UNLOCKED, err)) == NULL)
		goto out;
	if (PQntuples(r) != 1) {
		rs_errf(err, "database: rate budget: no answer");
		goto out;
	}
	granted = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	wait = strtod(PQgetvalue(r, 0, 1), NULL);
	if (!granted) {
		g->retry_after_s = rl_retry_after_s(wait);
		rs_errf(err, "rate budget: %d requests per %.0f s (rateLimit) "
		    "has no room before the batch's deadline; retry after "
		    "%ld s", g->requests, g->window_ms / 1000,
		    g->retry_after_s);
		st = RS_ERATE;
		goto out;
	}
	g->grants++;
	if (wait > 0) {
		g->waited_ms += wait;
		rl_sleep(wait);
	}
	st = RS_OK;
out:
	PQclear(r);
	return st;
}
