/*
 * worker.h — `restsync worker`: keeps sources fresh, on as many machines
 * as you like, with PostgreSQL as the only coordinator.  Prefix: wk_.
 *
 * A source is due when it is an enabled REST source whose config has
 * syncIntervalMinutes, and
 *   - it was never synced, or
 *   - it is not done and its last batch did not fail (a sync in progress,
 *     e.g. one whose previous worker's time slice ended, goes on), or
 *   - it is done and last_synced_at is older than the interval: the worker
 *     starts it over from the first page (next_cursor NULL, done false;
 *     dedup and conditional fetches make the new round cheap), or
 *   - its last batch failed and last_synced_at is older than
 *     min(interval, 5 minutes).
 *
 * Claim: a session advisory lock on the worker's own connection,
 * pg_try_advisory_lock(hashtextextended('restsync:worker:' || id, 0)),
 * held for the worker's time slice (RESTSYNC_WORKER_SLICE_SECONDS, 60)
 * and released with pg_advisory_unlock, or by PostgreSQL when the
 * session ends (a crashed worker frees its source at once; a machine
 * that vanished once the server's TCP keepalives, set by the worker's
 * session to 30 s + 3 x 10 s, declare its connection dead).  Not
 * FOR UPDATE SKIP LOCKED: a row lock lives only as
 * long as its transaction, and holding a transaction open for a slice of
 * batches (each committing on its own connection) would pin a snapshot
 * and hold back vacuum for a minute at a time.  The key is not the
 * batch's ('restsync:source:' + id, store.c): every batch still takes
 * the batch lock, so the HTTP endpoint and the CLI interleave with a
 * worker batch by batch and never run a batch at the same time.
 *
 * Why no source runs twice and none is skipped:
 *   - the candidates are read with one snapshot, but after taking a lock
 *     the worker reads the source's state again (a new statement, a new
 *     snapshot): a source another worker finished and released a moment
 *     ago is then seen done and fresh, and left alone.  Only the lock
 *     holder starts a round, and only on a source that is still done
 *     (the restart UPDATE says "AND done").
 *   - a due source is either locked (a worker is on it) or in the next
 *     candidate list; candidates come oldest last_synced_at first (never
 *     synced first), so a source just worked on goes to the back, and the
 *     list (WK_CANDIDATES) is longer than the number of workers.
 *
 * Server-side runs (POST rest-sync, docs/RUNS.md) come first: the oldest
 * running server-side run no other worker holds (session advisory lock
 * 'restsync:run:' + id) is carried out to its end (common/runner/runner.c), its
 * stop flag read before every page.  The worker LISTENs on
 * restsync_runs and looks at least every second.
 *
 * Environment: RESTSYNC_WORKER_SCHEDULE (1; 0: runs only),
 * RESTSYNC_WORKER_RUNS (1; 0: scheduled rounds only),
 * RESTSYNC_WORKER_SLICE_SECONDS (60), RESTSYNC_WORKER_IDLE_
 * SECONDS (5; the sleep when nothing is due, with +-50% jitter) and, as a
 * test knob only, RESTSYNC_WORKER_MINUTE_SECONDS (60: how long one
 * "minute" of syncIntervalMinutes and of the 5-minute retry is).
 */
#ifndef WORKER_H
#define WORKER_H

#include <signal.h>

#include "batch.h"
#include "rs.h"

#define WK_CANDIDATES	256	/* due sources read per claim */
#define WK_ACTOR_MAX	200	/* kb_rest_audit.actor */

struct wk_opts {
	double	 slice_s;	/* time slice per claimed source */
	double	 idle_s;	/* sleep when nothing is due (mean) */
	double	 minute_s;	/* seconds in an interval "minute" */
	int	 once;		/* exit when nothing can be claimed */
	int	 schedule;	/* keep due sources fresh (default 1) */
	int	 runs;		/* carry out server-side runs (default 1) */
};

/* Defaults overridden by the environment; RS_EINPUT names a bad value. */
enum rs_status	 wk_opts_env(struct wk_opts *, char *err);

/*
 * Work until *stop is set (SIGTERM/SIGINT: the current batch finishes,
 * the lock is released) or, with once, until no due source can be
 * claimed.  One JSON line per event and per batch on stderr.  Database
 * trouble is logged and retried with backoff, except with once, where it
 * is RS_EDB.  actor goes to the audit trail ("worker@<host>").
 */
enum rs_status	 wk_run(struct batch_ctx *, const struct wk_opts *,
		    const char *actor, volatile sig_atomic_t *stop,
		    char *err);

#endif
