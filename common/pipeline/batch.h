/*
 * batch.h — one resumable batch of one source: the heart of restsync.
 * Prefix: batch_.  Shared by the rest_batch endpoint and every other entry
 * point.  Steps, and the module that owns each:
 *
 *   1 load source + cursor + secret, take the lock   store.c
 *   2 parse config, decrypt secret, render headers   config.c, secret.c
 *   3 build the page URL, fetch one page             pager.c, http_fetch.c
 *   4 extract items, normalise each to text          jsonpath.c, normalize.c
 *     key and hash each item; new, changed or same   store.c (one query)
 *   5 chunk new and changed items, hash each chunk   chunk.c, hashing.c
 *   6 drop chunks the source already has            store.c (one query)
 *   7 embed the new chunks                           embed.c
 *   8 next cursor                                    pager.c
 *   9 one transaction: item changes, doc + chunks +  store.c
 *     cursor + run, and at the run's end its sweep   runs.c
 *  10 on failure: record last_error, cursor stays    store.c
 */
#ifndef BATCH_H
#define BATCH_H

#include <json-c/json.h>

#include "embed.h"
#include "http_fetch.h"
#include "rs.h"
#include "store.h"

#define BATCH_FETCH_TIMEOUT_MS	4000	/* one upstream attempt */
#define BATCH_ACTION_RUN	"run"	/* the batches of a server-side run */
#define BATCH_DEADLINE_MS	20000	/* whole batch, retries included;
					   below nginx's fastcgi_read_timeout */

struct batch_ctx {
	struct store	*st;
	struct fetcher	*fx;
	struct embedder	*em;
};

/* Per-stage wall time of one batch, in milliseconds. */
struct batch_ms {
	double	 load, fetch, parse, normalize, items, chunk, hash, dedup;
	double	 embed, commit, sweep, total;
};

struct batch_result {
	int		 done;
	long long	 items;		/* items in the fetched page */
	char		*next;		/* next cursor, NULL when done */
	char		*url;		/* fetched URL, secrets redacted */
	long		 status;	/* upstream HTTP status, 0 if none */
	long long	 chunks;	/* chunks made from the page */
	long long	 inserted;	/* new chunks stored */
	long long	 skipped;	/* chunks the source already had */
	long long	 total;		/* upstream's total, -1 unknown */
	int		 page_count;
	long long	 item_count;
	long long	 chunk_count;
	int		 attempts;	/* upstream exchanges */
	int		 embed_requests;
	int		 embed_attempts;
	int		 not_modified;	/* 304: page unchanged */
	int		 db_trips;
	int		 fetched;	/* 0 when a done source was not fetched */
	const char	*embedder;
	char		 tenant_id[37];
	/* Item identity and runs (docs/SYNC-RUNS.md). */
	char		 run_id[37];
	long long	 new_items, changed_items, unchanged_items;
	long long	 removed_items;	/* by the run's sweep */
	long long	 chunks_deleted;
	long long	 embed_inputs;	/* chunk texts sent to the embedder */
	long long	 chunked_items;	/* items whose text was chunked */
	long long	 recounted;	/* items an earlier page of the run
					 * counted unchanged, now changed: the
					 * run's unchanged count less these */
	char		 sweep[16];	/* at the run's end: done, held, ... */
	char		 sweep_note[RS_ERRLEN];
	struct batch_ms	 ms;
	/* rateLimit (ratelimit.h): RS_ERATE's retryAfter, seconds; the
	 * time this batch waited for its budget. */
	long		 retry_after;
	double		 rate_wait_ms;
};

enum rs_status	 batch_ctx_open(struct batch_ctx *, char *err);
void		 batch_ctx_close(struct batch_ctx *);

/*
 * Run one batch of source_id for actor (the nginx-validated user,
 * "worker@<host>", "cli:<user>") as action ("sync", "sync-to-end",
 * "worker"); both go to the audit trail.  On RS_OK the cursor advanced.
 * Errors:
 * RS_ENOTFOUND (no such REST source), RS_EBUSY (a batch is running, or
 * the source is disabled), RS_EINPUT (stored config or secret unusable),
 * RS_EUPSTREAM, RS_EEMBED, RS_EDB, RS_ERATE (the rateLimit budget has no
 * room before the deadline: res->retry_after seconds; nothing recorded).  After a failure past loading, the
 * cursor row records last_status 'error' and the message; nothing else of
 * the batch is written.  *res is filled as far as the batch got (url and
 * status for error responses) and must be freed with batch_result_free.
 */
enum rs_status	 batch_run(struct batch_ctx *, const char *source_id,
		    const char *actor, const char *action,
		    struct batch_result *res, char *err);
void		 batch_result_free(struct batch_result *);

/*
 * A pipelined run of a source (docs/RUNS.md, "Pipelining inside a
 * run"): while page N's chunks are embedded, pages N+1.. are fetched
 * and parsed (up to 4 pages in flight, RESTSYNC_EMBED_CONCURRENCY
 * embeddings requests); pages commit strictly in order, each in its own
 * transaction with its cursor, planned only once the page before it
 * committed.  The source's lock is held throughout.
 */
struct batch_pipe {
	const char		*actor;
	const char		*action;
	/* Before each page's commit: 0 stops (what is in flight is
	 * dropped; the cursor stays at the last committed page). */
	int			(*go)(void *);
	/* Each page, committed or failed, as batch_run would report it. */
	void			(*on_page)(void *, enum rs_status,
				    const struct batch_result *, const char *);
	void			*arg;
	/* Out. */
	int			 done;		/* the source is done */
	int			 stopped;	/* go() said no */
	int			 serial;	/* cannot pipeline (validators):
						   nothing done, run batches */
	int			 pages;		/* reported to on_page */
	long			 retry_after;	/* RS_ERATE: seconds */
	struct embed_pool_stats	 ps;
};

/*
 * Pages of source_id until it is done, go() says no, or a page fails
 * (its error, reported to on_page and recorded as a batch records it).
 * RS_EBUSY and RS_EDISABLED: nothing was done (not reported).  RS_ERATE:
 * the rateLimit budget had no room for the next page (not reported; the
 * pages before it are stored; retry_after says when to go on).
 */
enum rs_status	 batch_pipe(struct batch_ctx *, const char *source_id,
		    struct batch_pipe *, char *err);

/* The endpoint's JSON for a result: {ok, done, items, next, url, ...}. */
struct json_object *batch_result_json(const struct batch_result *);

/* The result's fields in a request's log line (items, inserted, skipped,
 * chunks, attempts, done, upstream_status, url, embed_requests,
 * not_modified, stage_ms), added to log. */
void		 batch_result_log(const struct batch_result *,
		    struct json_object *log);

#define BATCH_PREVIEW_ITEMS	5	/* items shown in full */
#define BATCH_PREVIEW_TEXT	2000	/* bytes of each text shown */

/* What a dry run fetches (rest-preview). */
struct batch_preview_req {
	const char		*tenant_id;
	const char		*title;		/* fallback item title */
	const char		*config;	/* JSON text */
	const char		*cursor;	/* NULL: the first page */
	long long		 items_before;	/* of the current run */
	int			 pages_before;
	const char		*api_key;	/* NULL: the stored secret */
	const unsigned char	*secret_ct;	/* stored secret, or NULL */
	size_t			 secret_ct_len;
	const unsigned char	*secret_nonce;
	size_t			 secret_nonce_len;
	int			 secret_aad;	/* its aad_version */
};

/*
 * A dry run of one page with every rule of a batch: config parsed
 * (RS_EINPUT "config: ..." naming the key), the secret checked against
 * the auth form, the URL built, the page fetched with the address check,
 * caps and retries, parsed, its items normalised and chunked, the next
 * cursor decided.  Nothing is written and nothing is embedded.  *out
 * (always set; caller puts it) = {url, status, attempts, items, total,
 * next, done, chunks, estimatedTokens, emptyTexts, warnings, preview:
 * [{key, title, text, textBytes, truncated, empty, chunks, tokens}], ms}
 * as far as the run got; errors as batch_run's, url and status in *out.
 */
enum rs_status	 batch_preview(struct batch_ctx *,
		    const struct batch_preview_req *, struct json_object **out,
		    char *err);

#endif
