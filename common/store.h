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

#include "rs.h"

struct store;

/*
 * "database: <what>: <first line of libpq's msg>" into err (what may be
 * NULL).  The one formatter of libpq errors for every module with SQL.
 */
void		 store_errf(char *err, const char *what, const char *msg);

/* Connection from DATABASE_URL, opened lazily and reopened when lost. */
enum rs_status	 store_open(struct store **, char *err);
void		 store_close(struct store *);
int		 store_round_trips(const struct store *);

/*
 * The store's connection, opened (or reopened when lost) as a statement
 * would open it; NULL with a message when the database cannot be reached
 * (callers answer RS_EDB).  The store keeps ownership: modules with SQL of
 * their own (sources.c, obs.c) borrow it, so a program holds one
 * connection.  XXX A borrower must end every transaction it begins, and
 * sees the session advisory locks store_lock_source() holds.
 */
PGconn		*store_pgconn(struct store *, char *err);

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
	const float	*embedding;	/* EMBED_DIMS floats */
};

struct store_batch {
	const char		*tenant_id;
	const char		*source_id;
	const char		*doc_title;
	const char		*batch_hash;	/* hex, folds into the doc */
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
