/*
 * runner.h — the one "until done" loop: batches of a source until it is
 * done, with one wait policy.  Prefix: runner_.  Used by the CLI's sync,
 * the worker's scheduled rounds and server-side runs (docs/RUNS.md).
 *
 * Wait policy: a batch answered busy (another batch of the source holds
 * its lock) is retried after 0.5-1 s, for at most busy_max_ms in a row
 * (on_busy may give up sooner).  A batch whose rateLimit budget had no
 * room in time (RS_ERATE) is tried again after its retryAfter.  A disabled source, an unknown one, or a
 * failed batch ends the loop; so do stop, the deadline and before().
 */
#ifndef RUNNER_H
#define RUNNER_H

#include <signal.h>

#include "batch.h"
#include "rs.h"

enum runner_end {
	RUNNER_DONE = 0,	/* the source is done */
	RUNNER_STOPPED,		/* *stop, or before() said no */
	RUNNER_DEADLINE,	/* deadline_ms passed */
	RUNNER_FAILED,		/* a batch failed: err */
	RUNNER_BUSY,		/* other batches kept the source */
	RUNNER_DISABLED,	/* the source is disabled */
	RUNNER_GONE		/* no such REST source */
};

struct runner_opts {
	const char		*actor;		/* audit trail */
	const char		*action;	/* sync-to-end, worker, run */
	double			 deadline_ms;	/* rs_now_ms() bound; 0 none */
	double			 busy_max_ms;	/* busy in a row, at most */
	double			 busy_nap_ms;	/* wait before a retry (0: the
						   default 500-1000 ms) */
	volatile sig_atomic_t	*stop;		/* NULL: never */
	/* Pipelined pages (batch_pipe, docs/RUNS.md) instead of one
	 * batch at a time; sources that keep page validators run
	 * batches.  before() is asked before each page's commit. */
	int			 pipeline;
	/* Before each batch: 0 stops the loop (RUNNER_STOPPED). */
	int			(*before)(void *);
	/* After each batch that ran (not busy). */
	void			(*on_batch)(void *, enum rs_status,
				    const struct batch_result *, const char *);
	/* While busy, with the time waited so far: 0 gives up now. */
	int			(*on_busy)(void *, double waited_ms);
	void			*arg;
};

struct runner_sum {
	int		 batches;	/* batches that fetched */
	long long	 items, inserted, skipped;
	long long	 new_items, changed_items, unchanged_items;
	long long	 removed_items;
	long long	 total;		/* upstream's, -1 unknown */
	int		 was_done;	/* done before the first batch */
	double		 ms;
	struct embed_pool_stats	 pool;	/* a pipelined run's embedder */
};

enum runner_end	 runner_loop(struct batch_ctx *, const char *source_id,
		    const struct runner_opts *, struct runner_sum *,
		    char *err);

/* "done", "stopped", "deadline", "failed", "busy", "disabled", "gone". */
const char	*runner_end_name(enum runner_end);

/* Sleep ms, waking early when *stop is set (stop may be NULL). */
void		 runner_nap(double ms, volatile sig_atomic_t *stop);

#endif
