/*
 * incremental.h — incremental syncs by an updated-at cursor (config
 * "incremental", docs/SYNC-RUNS.md "Incremental runs").  Prefix: incr_.
 *
 * A run of an incremental source sends param=<since> on every page:
 *   incremental run  since = the source's high-water mark − lookback
 *                    (a mark that parses as an RFC 3339 time: that time
 *                    minus lookbackSeconds, written back as RFC 3339 UTC;
 *                    else a number: minus lookbackSeconds; else the
 *                    string as is, lookback not applicable).  It never
 *                    sweeps (it sees only changed items).
 *   full run         since = initialValue, or nothing sent.  It may sweep.
 * A run is full when the source has no mark (the first run, the run after
 * a Reset), when it begins mid-walk, or when fullEvery > 0 and the last
 * fullEvery − 1 completed runs since the last full one were incremental
 * (fullEvery 3: full, incremental, incremental, full, ...).  The mode and
 * since are decided at the run's first page and kept in the run.
 *
 * The mark is the largest value at cursorPath of the run's items (and the
 * mark the run began with), compared as RFC 3339 times when both parse
 * as one, else as numbers when both are, else as strings (bytes).  It is
 * stored with the run on every page and becomes the source's when the run
 * completes, in the transaction of its last page.
 */
#ifndef INCREMENTAL_H
#define INCREMENTAL_H

#include <stddef.h>

#include <json-c/json.h>

#include "config.h"
#include "rs.h"
#include "store.h"

#define INCR_MAX_VALUE		CFG_INCR_MAX_VALUE	/* a mark or since */

/*
 * struct incr_config, the config key "incremental", is config.h's: the
 * config parser reads it without including this module.
 */

/* <0, 0, >0 as a is below, equal to or above b (rules above). */
int		 incr_cmp(const char *a, const char *b);

/*
 * since for mark and lookback seconds into out (rules above).  -1 when
 * it does not fit in outsz or the time falls outside years 1..9999.
 */
int		 incr_since(const char *mark, long long lookback, char *out,
		    size_t outsz);

/* The value at path in item as text into out; 0 when there is none (or
 * it is not a string or number, or is longer than INCR_MAX_VALUE). */
int		 incr_item_value(struct json_object *item, const char *path,
		    char *out, size_t outsz);

/* One run's state. */
struct incr_run {
	int	 active;	/* the source is incremental */
	int	 incremental;	/* this run: 1 incremental, 0 full */
	int	 has_since;
	char	 since[INCR_MAX_VALUE + 1];
	int	 has_mark;
	char	 mark[INCR_MAX_VALUE + 1];
};

/*
 * The decision for a run that stored no page yet (rules above): mark is
 * the source's (NULL none), runs its incremental runs since the last full
 * one, first_page whether the cursor is at the first page.
 */
void		 incr_decide(const struct incr_config *, const char *mark,
		    int runs, int first_page, struct incr_run *);

/* Fold the values at cursorPath of items (an array) into the mark. */
void		 incr_page(struct incr_run *, const struct incr_config *,
		    struct json_object *items);

/*
 * A batch's step 3 (batch.c): with cfg->incremental, load the run's
 * state (or decide it at its first page) and put param=since into *url
 * (replacing one the URL has).  Without, *r is left inactive.
 */
enum rs_status	 incr_prepare(struct store *, const struct source_config *,
		    const char *source_id, const char *run_id, int first_page,
		    struct incr_run *r, char **url, char *err);

/*
 * rest-preview: the first page as a source's first (full) run fetches
 * it: *r that run's state, since initialValue when one is set (and
 * param=initialValue in *url with incremental.param).
 */
/*
 * A pipelined run's next page (fetched before the page before it is
 * stored): go on with the run's state so far (from: mode, since, and the
 * mark of the pages before it), adding param=<since> to *url.
 */
enum rs_status	 incr_carry(const struct source_config *,
		    const struct incr_run *from, struct incr_run *r,
		    char **url, char *err);

enum rs_status	 incr_preview(const struct source_config *,
		    struct incr_run *r, char **url, char *err);

/*
 * In the page's transaction, before the sweep: record mode, since and
 * mark in the run (an incremental run gets its no_sweep reason); done:
 * the mark becomes the source's.  Nothing for an inactive run.
 */
enum rs_status	 incr_commit(struct store *, const struct incr_run *,
		    const char *source_id, const char *run_id, int done,
		    char *err);

#endif
