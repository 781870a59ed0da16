/*
 * ratelimit.h — a rate budget shared by every worker and endpoint, kept
 * in PostgreSQL.  Prefix: rl_.
 *
 * A source's config rateLimit {"requests": N, "perSeconds": S, "scope"}
 * allows at most N upstream requests in any S-second window: per source
 * ("source", the default: key "source:<id>"), or for all the tenant's
 * sources of the same provider ("provider": key
 * "provider:<tenant>:<provider>"; each request is judged by its own
 * source's N and S against the shared log, so give them one rateLimit).
 *
 * Every HTTP request to the API counts: each attempt of a retry and each
 * (same-origin) redirect hop; OAuth2 token requests do not (oauth.h).
 * Before each, rl_gate() takes a grant with one statement
 * (restsync_rate_take(), sql/010: a sliding log of the last N grants,
 * updated under the budget row's lock) and sleeps until it.  A grant is
 * reserved only if its wait still leaves the request its time before the
 * batch's deadline; otherwise nothing is reserved and the batch ends
 * with RS_ERATE (HTTP 429 with retryAfter, whole seconds); runs and the
 * CLI wait that long and go on (runner.c).  Grants keep RL_MARGIN_MS
 * between the N-th last request and the next, so that the upstream never
 * sees N + 1 in a window for the time a request takes to leave.
 */
#ifndef RATELIMIT_H
#define RATELIMIT_H

#include <stddef.h>

#include "config.h"
#include "rs.h"
#include "store.h"

#define RL_MARGIN_MS	100
#define RL_KEYLEN	200

/* One batch's gate (fetch_req.gate). */
struct rl_gate {
	struct store	*st;
	char		 key[RL_KEYLEN];
	const char	*source_id;
	int		 requests;
	double		 window_ms;
	double		 deadline;	/* rs_now_ms() the batch ends by */
	double		 need_ms;	/* what a request needs after its wait */
	/* Out. */
	int		 grants;
	double		 waited_ms;	/* slept for grants */
	long		 retry_after_s;	/* when refused: whole seconds */
};

/*
 * The budget key of cfg for source_id of tenant_id into out; 0, or -1
 * when cfg has no rateLimit or the key does not fit.
 */
int		 rl_key(const struct source_config *cfg, const char *tenant_id,
		    const char *source_id, char *out, size_t outsz);

/* Set g up for cfg (g->requests 0: no budget; the gate then lets all
 * pass).  need_ms: a request's own time (its timeout). */
void		 rl_gate_init(struct rl_gate *g, struct store *st,
		    const struct source_config *cfg, const char *tenant_id,
		    const char *source_id, double deadline, double need_ms);

/*
 * The longest wait that still fits: deadline - now - need_ms (0 when
 * nothing fits).
 */
double		 rl_max_wait(double deadline, double now, double need_ms);

/* Seconds to tell the caller: wait_ms rounded up, at least 1. */
long		 rl_retry_after_s(double wait_ms);

/*
 * Take one request from the budget (one statement) and sleep until its
 * grant.  RS_ERATE when the wait would not fit (g->retry_after_s set,
 * nothing reserved), RS_EDB when the budget cannot be read (the request
 * is not made).  The signature of fetch_req.gate (void *: the gate).
 */
enum rs_status	 rl_gate(void *g, char *err);

#endif
