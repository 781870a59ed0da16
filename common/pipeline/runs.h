/*
 * runs.h — the end of a run: the sweep that removes what the upstream no
 * longer has (docs/SYNC-RUNS.md).  Prefix: runs_.
 *
 * A run that reached done decides, in the transaction of its last page:
 *   skipped  deleteMissing is false; the run did not start at the first
 *            page (a Reset in between, or it began mid-walk); a page
 *            could not account for its items (a 304 for a page whose
 *            items are unknown); it stopped at maxPages (pages may
 *            follow); it was incremental; or the upstream's total
 *            changed while the run walked it (items may have shifted
 *            between pages of an offset or page-number API: the next
 *            stable run sweeps)
 *   done     nothing missing, or the missing items (and the chunks no
 *            other item holds) removed
 *   held     the run saw none of the source's items (an empty first
 *            page: whatever maxDeleteFraction says), it would remove
 *            more than maxDeleteFraction of the items, or an
 *            offset/page-number API reports no total (a deletion during
 *            the run cannot be told from one before it): nothing
 *            removed until an operator confirms (runs_confirm_sweep)
 */
#ifndef RUNS_H
#define RUNS_H

#include "config.h"
#include "rs.h"
#include "store.h"

struct runs_sweep {
	char		 sweep[16];	/* done, held, skipped, confirmed */
	char		 note[RS_ERRLEN];
	long long	 live;		/* the source's items before */
	long long	 candidates;	/* not seen in the run */
	long long	 removed;
	long long	 chunks;	/* chunks deleted */
};

/*
 * The decision alone (table above): sweep gets done, held, skipped or
 * confirmed and note says why; 1 when items are to be removed.
 */
int		 runs_decide(const struct store_sweep_plan *,
		    const struct source_config *, int confirm, char sweep[16],
		    char *note, size_t notesz);

/*
 * Decide on and carry out the sweep of run_id (confirm: an operator
 * confirmed a held one), inside the caller's transaction; the outcome is
 * recorded in the run.
 */
enum rs_status	 runs_sweep(struct store *, const struct source_config *,
		    const char *source_id, const char *run_id, int confirm,
		    struct runs_sweep *, char *err);

/*
 * Carry out the held sweep of run_id: it must be the source's latest
 * run, done, and held.  Takes the source's batch lock (RS_EBUSY), one
 * transaction, audited for actor as "sweep".  RS_ENOTFOUND (no such run
 * of the source), RS_EBUSY (not held, or a newer run started).
 */
enum rs_status	 runs_confirm_sweep(struct store *, const char *source_id,
		    const char *run_id, const char *actor,
		    struct runs_sweep *, char *err);

/*
 * POST rest-sync: start a server-side run of the source for actor (see
 * store_run_start), audited as "run-start", workers notified.
 */
enum rs_status	 runs_start(struct store *, const char *source_id,
		    const char *actor, char run_id[37], char *err);

/*
 * POST rest-sync-stop: ask the source's server-side run to stop after
 * its page in flight (*now: it was stopped at once, no worker had it);
 * audited as "run-stop".  RS_EBUSY when no run is going.
 */
enum rs_status	 runs_stop(struct store *, const char *source_id,
		    const char *actor, char run_id[37], int *now, char *err);

#endif
