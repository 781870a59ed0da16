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
runner_rate_wait(const struct runner_opts *o, const struct batch_result *r)
{
	double	 ms = (double)(r->retry_after > 0 ? r->retry_after : 1) * 1000;

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
	sum->unchanged_items += r->unchanged_items;
	sum->removed_items += r->removed_items;
	if (r->total >= 0)
		sum->total = r->total;
}

enum runner_end
runner_loop(struct batch_ctx *ctx, const char *source_id,
    const struct runner_opts *o, struct runner_sum *sum, char *err)
{
	struct batch_result	 res;
	enum rs_status		 st;
	enum runner_end		 end;
	double			 t0 = rs_now_ms(), busy_since = 0;
	unsigned		 seed = (unsigned)t0 ^ (unsigned)(size_t)sum;

	memset(sum, 0, sizeof(*sum));
	sum->total = -1;
	for (;;) {
		if (o->stop != NULL && *o->stop) {
			end = RUNNER_STOPPED;
			break;
		}
		if (o->deadline_ms > 0 && rs_now_ms() >= o->deadline_ms) {
			end = RUNNER_DEADLINE;
			break;
		}
		if (o->before != NULL && !o->before(o->arg)) {
			end = RUNNER_STOPPED;
			break;
		}
		if (err != NULL)
			err[0] = '\0';
		st = batch_run(ctx, source_id, o->actor, o->action, &res, err);
		if (st == RS_EBUSY) {
			batch_result_free(&res);
			if (busy_since == 0)
				busy_since = rs_now_ms();
			if (rs_now_ms() - busy_since >= o->busy_max_ms ||
			    (o->on_busy != NULL &&
			    !o->on_busy(o->arg, rs_now_ms() - busy_since))) {
				end = RUNNER_BUSY;
				break;
			}
			runner_nap(o->busy_nap_ms > 0 ? o->busy_nap_ms *
			    (1 + (double)(rand_r(&seed) % 100) / 100) :
			    RUNNER_BUSY_MIN_MS + (double)(rand_r(&seed) %
			    RUNNER_BUSY_JITTER_MS), o->stop);
			continue;
		}
		busy_since = 0;
		if (st == RS_ERATE && runner_rate_wait(o, &res)) {
			batch_result_free(&res);
			continue;
		}
		if (st == RS_EDISABLED) {
			batch_result_free(&res);
			end = RUNNER_DISABLED;
			break;
		}
		if (st == RS_OK)
			runner_add(sum, &res);
		if (o->on_batch != NULL)
			o->on_batch(o->arg, st, &res, err != NULL ? err : "");
		if (st != RS_OK) {
			batch_result_free(&res);
			end = st == RS_ENOTFOUND ? RUNNER_GONE : RUNNER_FAILED;
			break;
		}
		if (res.done) {
			batch_result_free(&res);
			end = RUNNER_DONE;
			break;
		}
		batch_result_free(&res);
	}
	sum->ms = rs_now_ms() - t0;
	return end;
}
