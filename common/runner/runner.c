/*
 * runner.c — batches until done (see runner.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runner.h"

#define RUNNER_BUSY_MIN_MS	500
#define RUNNER_BUSY_JITTER_MS	500

static const char *const runner_names[] = {
	"done", "stopped", "deadline", "failed", "busy", "disabled", "gone",
};

const char *
runner_end_name(enum runner_end e)
{
	if ((unsigned)e >= sizeof(runner_names) / sizeof(runner_names[0]))
		return "unknown";
	return runner_names[e];
}

void
runner_nap(double ms, volatile sig_atomic_t *stop)
{
	struct timespec	 ts;
	double		 end = rs_now_ms() + ms, left;

	while ((stop == NULL || !*stop) && (left = end - rs_now_ms()) > 0) {
		if (left > 100)
			left = 100;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(left * 1e6);
		(void)nanosleep(&ts, NULL);
	}
}

/*
 * The rateLimit budget had no room before the batch's deadline
 * (ratelimit.h): wait what it said, then go on; 0 when the loop's own
 * deadline comes first (the batch then counts as failed).
 */
static int
runner_rate_wait(const struct runner_opts *o, long retry_after)
{
	double	 ms = (double)(retry_after > 0 ? retry_after : 1) * 1000;

	if (o->deadline_ms > 0 && rs_now_ms() + ms >= o->deadline_ms)
		return 0;
	runner_nap(ms, o->stop);
	return 1;
}

static void
runner_add(struct runner_sum *sum, const struct batch_result *r)
{
	if (!r->fetched) {
		if (sum->batches == 0)
			sum->was_done = r->done;
		return;
	}
	sum->batches++;
	sum->items += r->items;
	sum->inserted += r->inserted;
	sum->skipped += r->skipped;
	sum->new_items += r->new_items;
	sum->changed_items += r->changed_items;
	sum->unchanged_items += r->unchanged_items - r->recounted;
	sum->removed_items += r->removed_items;
	if (r->total >= 0)
		sum->total = r->total;
}

/* Busy: 1 to wait and try again, 0 to give up (busy_max_ms, on_busy). */
static int
runner_busy(const struct runner_opts *o, double *busy_since, unsigned *seed)
{
	if (*busy_since == 0)
		*busy_since = rs_now_ms();
	if (rs_now_ms() - *busy_since >= o->busy_max_ms ||
	    (o->on_busy != NULL && !o->on_busy(o->arg, rs_now_ms() -
	    *busy_since)))
		return 0;
	runner_nap(o->busy_nap_ms > 0 ? o->busy_nap_ms *
	    (1 + (double)(rand_r(seed) % 100) / 100) :
	    RUNNER_BUSY_MIN_MS + (double)(rand_r(seed) %
	    RUNNER_BUSY_JITTER_MS), o->stop);
	return 1;
}

/* Stop, deadline, before(): 0 when the loop is to end (*end). */
static int
runner_go(const struct runner_opts *o, enum runner_end *end)
{
	if (o->stop != NULL && *o->stop) {
		*end = RUNNER_STOPPED;
		return 0;
	}
	if (o->deadline_ms > 0 && rs_now_ms() >= o->deadline_ms) {
		*end = RUNNER_DEADLINE;
		return 0;
	}
	if (o->before != NULL && !o->before(o->arg)) {
		*end = RUNNER_STOPPED;
		return 0;
	}
	return 1;
}

/* One pass of the loop (a pipelined run, or a batch) and its outcome. */
struct runner_pass {
	struct batch_ctx		*ctx;
	const char			*source_id;
	const struct runner_opts	*o;
	struct runner_sum		*sum;
	char				*err;
	enum runner_end			 end;		/* how the loop ends */
	enum runner_end			 go_end;	/* what go() said */
	long				 retry_after;	/* RS_ERATE: seconds */
};

/* How the loop ends after a batch failed with st. */
static enum runner_end
runner_failed(enum rs_status st)
{
	return st == RS_ENOTFOUND ? RUNNER_GONE : RUNNER_FAILED;
}

/* The pipeline's hooks: the loop's checks and counts. */
static int
runner_pipe_go(void *arg)
{
	struct runner_pass	*p = arg;

	return runner_go(p->o, &p->go_end);
}

static void
runner_pipe_page(void *arg, enum rs_status st, const struct batch_result *r,
    const char *err)
{
	struct runner_pass	*p = arg;

	if (st == RS_OK)
		runner_add(p->sum, r);
	if (p->o->on_batch != NULL)
		p->o->on_batch(p->o->arg, st, r, err);
}

/*
 * One pipelined pass (batch_pipe): RS_EBUSY and RS_EDISABLED as a batch
 * answers them; else p->end is set, or *serial when the source runs
 * batches.
 */
static enum rs_status
runner_pipe(struct runner_pass *p, int *serial)
{
	struct batch_pipe	 bp;
	enum rs_status		 st;

	memset(&bp, 0, sizeof(bp));
	p->go_end = RUNNER_STOPPED;
	bp.actor = p->o->actor;
	bp.action = p->o->action;
	bp.go = runner_pipe_go;
	bp.on_page = runner_pipe_page;
	bp.arg = p;
	st = batch_pipe(p->ctx, p->source_id, &bp, p->err);
	if (bp.ps.max > 0)
		p->sum->pool = bp.ps;
	*serial = bp.serial;
	p->retry_after = bp.retry_after;
	if (st == RS_OK)
		p->end = bp.done ? RUNNER_DONE : p->go_end;
	else if (st != RS_EBUSY && st != RS_EDISABLED && st != RS_ERATE)
		p->end = runner_failed(st);
	return st;
}

/* One batch (batch_run): RS_EBUSY and RS_EDISABLED as it answers them;
 * else p->end when the loop is to end, *more when it goes on. */
static enum rs_status
runner_batch(struct runner_pass *p, int *more)
{
	const struct runner_opts	*o = p->o;
	struct batch_result		 res;
	enum rs_status			 st;

	*more = 0;
	st = batch_run(p->ctx, p->source_id, o->actor, o->action, &res,
	    p->err);
	p->retry_after = res.retry_after;
	if (st == RS_ERATE)
		*more = 1;	/* unless the wait does not fit (the loop) */
	if (st == RS_EBUSY || st == RS_EDISABLED || st == RS_ERATE) {
		batch_result_free(&res);
		return st;
	}
	if (st == RS_OK)
		runner_add(p->sum, &res);
	if (o->on_batch != NULL)
		o->on_batch(o->arg, st, &res, p->err != NULL ? p->err : "");
	if (st != RS_OK)
		p->end = runner_failed(st);
	else if (res.done)
		p->end = RUNNER_DONE;
	else
		*more = 1;
	batch_result_free(&res);
	return st;
}

enum runner_end
runner_loop(struct batch_ctx *ctx, const char *source_id,
    const struct runner_opts *o, struct runner_sum *sum, char *err)
{
	struct runner_pass	 p;
	enum rs_status		 st;
	double			 t0 = rs_now_ms(), busy_since = 0;
	unsigned		 seed = (unsigned)t0 ^ (unsigned)(size_t)sum;
	int			 more = 0, serial = !o->pipeline;

	memset(sum, 0, sizeof(*sum));
	sum->total = -1;
	memset(&p, 0, sizeof(p));
	p.ctx = ctx;
	p.source_id = source_id;
	p.o = o;
	p.sum = sum;
	p.err = err;
	p.end = RUNNER_STOPPED;
	for (;;) {
		if (!runner_go(o, &p.end))
			break;
		if (err != NULL)
			err[0] = '\0';
		if (!serial) {
			st = runner_pipe(&p, &serial);
			more = serial;
		} else
			st = runner_batch(&p, &more);
		if (st == RS_EBUSY) {
			if (!runner_busy(o, &busy_since, &seed)) {
				p.end = RUNNER_BUSY;
				break;
			}
			continue;
		}
		busy_since = 0;
		if (st == RS_ERATE) {
			/* The rateLimit budget: wait when it fits, else the
			 * loop ends as a failure would. */
			if (runner_rate_wait(o, p.retry_after))
				continue;
			p.end = RUNNER_FAILED;
			break;
		}
		if (st == RS_EDISABLED) {
			p.end = RUNNER_DISABLED;
			break;
		}
		if (!more)
			break;
	}
	sum->ms = rs_now_ms() - t0;
	return p.end;
}
