/*
 * store.h — everything restsync says to PostgreSQL (libpq).  Prefix:
 * store_.  All SQL lives in store.c as static const statements with $n
 * parameters, indexed by an enum.
 *
 * One batch costs a constant number of round trips, whatever the size of
 * the sync: lock (1), load (1), existing hashes (1), commit (1), unlock
 * (1).  The commit is a single statement (upsert doc, insert chunks,
 * upsert cursor, validators, audit row), so it is atomic: a failure writes
 * nothing of the batch.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "hashing.h"
#include "rs.h"

#define STORE_MAX_DIMS	3072	/* floats of one embedding (embed.h agrees) */

/*
 * How kb_chunks.embedding holds a vector (schema_info.embedding_type):
 * raw float32 bytea, 4 little-endian bytes per dimension (sql/012, where
 * pgvector is absent); pgvector's vector; or real[] (a database not yet
 * migrated to 012).
 */
enum store_emb {
	STORE_EMB_BYTEA,
	STORE_EMB_VECTOR,
	STORE_EMB_REAL
};

struct store;
struct db;

/* Connection from DATABASE_URL, opened lazily and reopened when lost. */
enum rs_status	 store_open(struct store **, char *err);
void		 store_close(struct store *);
int		 store_round_trips(const struct store *);

/*
 * The store's database handle (common/db/db.h).  Modules with SQL of their
 * own (sources, obs, inspect, reembed, rotate) run their statement tables
 * on it, so a program holds one connection.  A borrower must end every
 * transaction it begins, and shares the session advisory locks
 * store_lock_source() holds.
 */
struct db	*store_db(struct store *);

/*
 * The embedding column's kind: as store_lock_source() last read it, else
 * asked once (one statement).
 */
enum rs_status	 store_embedding_kind(struct store *, enum store_emb *,
		    char *err);

/* The bytea column's bytes are rs.h's rs_f32le_put / rs_f32le_get. */

/* RS_OK and *ok = 1 when user is a platform admin. */
enum rs_status	 store_is_admin(struct store *, const char *user, int *ok,
		    char *err);

struct source_row {
	char		 id[37];
	char		 tenant_id[37];
	char		*type;
	char		*title;
	char		*config;	/* JSON text */
	int		 enabled;
	char		*next_cursor;	/* NULL: first page */
	int		 page_count;
	long long	 item_count;
	int		 done;
	unsigned char	*secret_ct;	/* NULL when no secret */
	size_t		 secret_ct_len;
	unsigned char	*secret_nonce;
	size_t		 secret_nonce_len;
	char		 secret_origin[321];	/* the origin it was entered for */
	int		 secret_aad;	/* 1: legacy AAD, 2: origin bound */
	long long	 chunk_count;	/* chunks stored by syncs */
	/* Validators remembered for the page at next_cursor (has_page). */
	int		 has_page;
	char		*page_etag;
	char		*page_last_modified;
	char		*page_next;	/* what followed that page */
	int		 page_done;
	int		 page_items;
	long long	 page_total;	/* -1 unknown */
	/* The cursor's run (docs/SYNC-RUNS.md): "" when none. */
	char		 run_id[37];
	char		 run_status[16];	/* running, failed, done, ... */
	int		 run_server;	/* a server-side run (rest-sync) */
	char		*roles;		/* allowedRolesOverride JSON, or NULL */
	char		*page_keys;	/* JSON array: the item keys of the
					   page at next_cursor, or NULL */
	char		*model;		/* its chunks' embeddingModel, NULL
					 * without chunks, "" unrecorded */
};

/*
 * Try to take the source's advisory lock, then (in a statement of its
 * own, so its snapshot follows the previous holder's commit) load source
 * id with its cursor, page validators and (when the config says
 * requiresAuth) its tenant's secret for the provider and the origin of
 * the config's baseUrl (sql/007).  RS_ENOTFOUND when
 * there is no such source; RS_EBUSY when another batch holds the lock.  On
 * RS_OK the lock is held until store_unlock_source().
 */
enum rs_status	 store_lock_source(struct store *, const char *id,
		    struct source_row *, char *err);

/*
 * Read the source's secret again into s (ciphertext, nonce, AAD
 * version): a copy loaded before a key rotation committed does not open
 * with the key file written after it.  RS_ENOTFOUND when it is gone.
 */
enum rs_status	 store_reload_secret(struct store *, struct source_row *,
		    char *err);
void		 store_unlock_source(struct store *, const char *id);
void		 store_source_free(struct source_row *);

/*
 * For hashes[0..n) set exists[i] = 1 when source_id already has a chunk
 * with that content hash.  One query.
 */
enum rs_status	 store_existing_hashes(struct store *, const char *source_id,
		    const char *const *hashes, size_t n, unsigned char *exists,
		    char *err);

struct store_chunk {
	const char	*title;
	const char	*content;
	const char	*hash;
	const char	*metadata;	/* JSON text */
	const float	*embedding;	/* store_batch.dims floats */
	int		 refs;		/* items of the page that hold it */
};

struct store_batch {
	const char		*tenant_id;
	const char		*source_id;
	const char		*doc_title;
	const char		*batch_hash;	/* hex, folds into the doc */
	int			 dims;		/* floats of each embedding */
	const char *const	*roles;
	size_t			 nroles;
	const struct store_chunk *chunks;
	size_t			 nchunks;
	const char		*next_cursor;	/* NULL when done */
	int			 done;
	long long		 items;
	int			 http_status;
	long long		 total;		/* -1 unknown */
	/* Validators to remember for this page (save_page). */
	int			 save_page;
	const char		*page_key;	/* cursor it was fetched at */
	const char		*etag;
	const char		*last_modified;
	/* 0 for all but the last statement of a multi-statement batch: the
	 * cursor and the validators are written by the last one only. */
	int			 advance;
	long long		 prior_inserted; /* by earlier statements */
	/* The audit row written with the last statement. */
	const char		*actor;
	const char		*action;
	const char		*detail;	/* JSON object text */
	/* The run's counters (with advance). */
	const char		*run_id;
	long long		 new_items, changed_items, unchanged_items;
	long long		 chunks_deleted;	/* by store_items_apply */
	long long		 embed_inputs;
	const char		*no_sweep;	/* why the run may not sweep */
	/* The page's item keys, kept with its validators (save_page). */
	const char *const	*page_item_keys;
	size_t			 npage_item_keys;
};

struct store_commit {
	long long	 inserted;
	int		 page_count;
	long long	 item_count;
	long long	 chunk_count;
	char		 doc_id[37];	/* "" when no chunk was new */
};

/*
 * Write a batch in one statement: doc, chunks, and (when b->advance) the
 * cursor and the page validators.  A batch too large for one statement is
 * written as several inside store_tx(BEGIN) ... store_tx(COMMIT), with
 * advance set on the last.
 */
enum rs_status	 store_commit_batch(struct store *, const struct store_batch *,
		    struct store_commit *, char *err);

/*
 * Go on with the cursor's failed run resume_run (NULL: none), else start
 * a new run of the source for actor/kind (from_start: the cursor is at
 * the first page) and make it the cursor's.  run_id gets the run's id.
 */
enum rs_status	 store_ensure_run(struct store *, const char *tenant_id,
		    const char *source_id, const char *actor, const char *kind,
		    int from_start, const char *resume_run, char run_id[37],
		    int *created, char *err);

/* What the source stores of one item key (store_items_lookup). */
struct store_item_state {
	int		 found;
	int		 seen_in_run;	/* the run saw it on an earlier page */
	int		 was_same;	/* ... and counted it unchanged */
	char		 hash[HASH_HEXLEN + 1];	/* "" unknown (upgraded) */
	char		*chunks;	/* content hashes, comma-separated */
};

/* For keys[0..n): out[i] as stored (found = 0 when new).  One probe of
 * the primary key per key. */
enum rs_status	 store_items_lookup(struct store *, const char *source_id,
		    const char *run_id, const char *const *keys, size_t n,
		    struct store_item_state *out, char *err);
void		 store_item_states_free(struct store_item_state *, size_t n);

/* One page's item changes, the first statement of its transaction. */
struct store_items {
	const char		*tenant_id;
	const char		*source_id;
	const char		*run_id;
	/* New and changed items. */
	const char		**keys;
	const char		**hashes;
	const char		**chunk_lists;	/* comma-separated */
	const char		**titles;
	size_t			 n;
	/* Unchanged items: only seen. */
	const char		**seen;
	size_t			 nseen;
	/* Stored chunks whose holders change: hash, change of the count,
	 * key and title of an item that holds it now (NULL: none). */
	const char *const	*dh;
	const int		*dn;
	const char *const	*dk;
	const char *const	*dt;
	size_t			 nd;
};

struct store_items_res {
	long long	 chunks_deleted;
	long long	 seen;		/* unchanged items marked seen */
};

/*
 * Apply the page's item changes (STMT_ITEMS_APPLY) and keep the docs
 * that lost chunks dense (STMT_DENSIFY).  Inside store_tx(BEGIN).
 */
enum rs_status	 store_items_apply(struct store *, const struct store_items *,
		    struct store_items_res *, char *err);

/* The end of a run, as the sweep decides on it. */
struct store_sweep_plan {
	long long	 live;		/* the source's items */
	long long	 missing;	/* ... not seen in the run */
	long long	 total_first, total_last;	/* -1 unknown */
	int		 from_start;
	int		 total_changed;
	char		 no_sweep[RS_ERRLEN];	/* "" none */
	char		 status[16];
	char		 sweep[16];	/* "" not decided */
};

/* RS_ENOTFOUND when run_id is not a run of source_id. */
enum rs_status	 store_sweep_plan(struct store *, const char *source_id,
		    const char *run_id, struct store_sweep_plan *, char *err);

/*
 * Remove up to limit items of the source that run_id did not see, with
 * keys after *after (a buffer of aftersz bytes, "" at first, advanced),
 * and the chunks no item holds any more (docs kept dense).  *items is
 * 0 when nothing was left.  Inside a transaction.
 */
enum rs_status	 store_sweep_group(struct store *, const char *source_id,
		    const char *run_id, int limit, char *after, size_t aftersz,
		    long long *items, long long *chunks, char *err);

/* Record the sweep's outcome in the run (and the cursor's count). */
enum rs_status	 store_sweep_finish(struct store *, const char *source_id,
		    const char *run_id, const char *sweep, const char *note,
		    long long candidates, long long removed, long long chunks,
		    char *err);

/*
 * In a page's transaction, before writing: the source's roles are still
 * those loaded (and the row is share-locked until the commit).  RS_EBUSY
 * when they changed.
 */
enum rs_status	 store_guard_source(struct store *,
		    const struct source_row *, char *err);

/*
 * Start a server-side run of the source (rest-sync): inside a
 * transaction the caller commits (store_tx COMMIT) after its audit row.
 * A done source starts over from its first page (*restarted); an
 * unfinished or failed run of the cursor goes on server-side; else a new
 * run.  The workers are notified at commit.  RS_ENOTFOUND, RS_EBUSY (a
 * batch or a run of the source is going), RS_EDISABLED, RS_EDB.  On
 * failure the transaction is rolled back.
 */
enum rs_status	 store_run_start(struct store *, const char *source_id,
		    const char *actor, char run_id[37], char tenant_id[37],
		    int *restarted, char *err);

/*
 * Ask the source's server-side run to stop after its page in flight
 * (*now: no worker carried it out, it is stopped already); inside a
 * transaction the caller commits.  RS_EBUSY when no run is going.
 */
enum rs_status	 store_run_stop(struct store *, const char *source_id,
		    const char *actor, char run_id[37], char tenant_id[37],
		    int *now, char *err);

/* One audit row (actor, action, outcome, detail JSON text). */
enum rs_status	 store_audit(struct store *, const char *actor,
		    const char *action, const char *source_id,
		    const char *tenant_id, const char *outcome,
		    const char *detail, char *err);

/* A source's incremental state and its run's (common/pipeline/incremental.c). */
#define STORE_MAX_MARK	512
struct store_incr {
	char	 mark[STORE_MAX_MARK + 1];	/* the source's, "" none */
	int	 runs;		/* incremental runs since the last full */
	int	 decided;	/* the run has a mode */
	int	 incremental;
	char	 since[STORE_MAX_MARK + 1];	/* "" none */
	char	 run_mark[STORE_MAX_MARK + 1];	/* "" none */
};

enum rs_status	 store_incr_load(struct store *, const char *source_id,
		    const char *run_id, struct store_incr *, char *err);
/* Inside the page's transaction (STMT_INCR_SAVE); since, mark may be
 * NULL. */
enum rs_status	 store_incr_save(struct store *, const char *source_id,
		    const char *run_id, int incremental, const char *since,
		    const char *mark, int done, char *err);

enum store_tx {
	STORE_BEGIN,
	STORE_COMMIT,
	STORE_ROLLBACK,
	STORE_TX__MAX
};

enum rs_status	 store_tx(struct store *, enum store_tx, char *err);

/*
 * After a failed batch: last_status = 'error' and the message in the
 * cursor row, and an audit row (outcome 'error', detail + the message).
 */
enum rs_status	 store_record_error(struct store *, const char *tenant_id,
		    const char *source_id, int http_status, const char *msg,
		    const char *actor, const char *action, const char *detail,
		    char *err);

#endif
