/*
 * batch_int.h — what the files of the batch module share; private to
 * them (common/pipeline/batch*.c only: tests/gates/layers.sh checks it).
 * The public surface is batch.h.  A batch's phases, in batch.c, and the
 * file that does each step:
 *
 *   load    lock, source, run, config          batch.c
 *           secret, headers, OAuth2 token      batch_auth.c
 *   fetch   URL, page (conditional, retried)   batch.c, batch_auth.c
 *   parse   items, text, keys, next cursor     batch.c, batch_items.c
 *   plan    new/changed/same, chunks, dedup    batch_items.c
 *           refs, chunks to insert, fields     batch_plan.c
 *   commit  vectors, one transaction, sweep    batch_commit.c
 *
 * batch_pipe.c runs the same phases page after page (a pipelined run),
 * batch_preview.c the fetch and parse of a dry run, batch_result.c
 * writes a result as JSON.
 */
#ifndef BATCH_INT_H
#define BATCH_INT_H

#include <stddef.h>

#include <json-c/json.h>

#include "batch.h"
#include "config.h"
#include "embed.h"
#include "hashing.h"
#include "http_fetch.h"
#include "incremental.h"
#include "pager.h"
#include "rs.h"
#include "secret.h"
#include "store.h"

#define BATCH_JSON_DEPTH	64
#define BATCH_MAX_CHUNKS	100000	/* chunks from one page */
#define BATCH_MAX_ATTEMPTS	5
#define BATCH_GROUP		256	/* chunks per embed call + statement */
#define BATCH_MAX_HEADER	8192
#define BATCH_MAX_ID		500	/* longer ids are keyed by their hash */

/* A chunk on its way to the database. */
struct pending {
	char		*content;
	size_t		 len;
	char		 hash[HASH_HEXLEN + 1];
	size_t		 item;		/* index into work.it */
	int		 chunk_index;	/* within the item */
	int		 drop;		/* duplicate in batch or stored */
	int		 stored;	/* the source has it already */
	int		 refs;		/* items of the page holding it */
};

enum item_kind {
	ITEM_NEW = 0,
	ITEM_CHANGED,
	ITEM_SAME,		/* same hash: only "seen" */
	ITEM_DUP		/* its key comes again later in the page */
};

/* One item of the page (docs/SYNC-RUNS.md). */
struct item {
	char		*key;		/* "id:<id>", "idh:<sha>", "text:<sha>" */
	char		*id;		/* the scalar id, for metadata */
	char		*title;
	char		*text;		/* normalised; NULL once chunked */
	size_t		 len;
	char		 hash[HASH_HEXLEN + 1];	/* of title and text */
	long long	 index;		/* position in the run */
	enum item_kind	 kind;
	int		 seen_in_run;	/* an earlier page of the run had it */
	int		 was_same;	/* ... and counted it unchanged */
	int		 chunked;	/* its text was chunked for this page */
	char		*old;		/* stored chunk hashes, comma list */
	char		*chunks;	/* its chunk hashes, comma list */
	size_t		 p0, np;	/* its chunks in work.p */
};

/*
 * What the page changes in which chunk is held by how many items: a
 * chunk to insert gets its count (pending.refs); a stored chunk whose
 * count, title or item changes goes to the delta list (for
 * STMT_ITEMS_APPLY).  Hashes in comma lists are compared by length.
 */
struct plan {
	char		**dh;		/* malloc'd hash strings */
	int		 *dn;
	const char	**dk;
	const char	**dt;
	size_t		  nd;
};

/* The page's commit as planned (batch_store_plan): what batch_commit
 * writes. */
struct page_plan {
	struct plan		 pl;
	struct store_items	 si;
	struct store_chunk	*sc;		/* the chunks to insert */
	const char		**texts;	/* ... their texts, lengths */
	size_t			*lens;
	char			**meta;		/* ... their metadata */
	size_t			 n;
	const char		**page_keys;
	size_t			 npk;
	char			 doc_title[512];
	char			 bhash[HASH_HEXLEN + 1];
	char			 nosweep[RS_ERRLEN];
	struct store_batch	 sb;
};

/*
 * A page's chunks embedded ahead, while the pages before it commit:
 * h[i] is the hash of vector v[i], sorted; texts point into the items'.
 */
struct pre {
	char			(*h)[HASH_HEXLEN + 1];
	const char		**texts;
	size_t			*lens;
	float			*v;
	size_t			 n;
	struct embed_job	 job;
	int			 submitted;
};

struct work {
	struct source_config	 cfg;
	struct source_row	 src;
	struct secret_values	 sv;
	struct fetch_resp	 resp;
	struct json_object	*root;
	struct pending		*p;
	size_t			 np, cap;
	struct item		*it;
	size_t			 nit;
	char			**hdrs;
	size_t			 nhdrs;
	char			*url;
	int			 locked;
	const char		*actor;		/* for the audit trail */
	const char		*action;
	int			 conditional;	/* validators kept (config) */
	int			 sent_validators; /* and sent with this fetch */
	int			 not_modified;	/* the upstream said 304 */
	long long		 known;		/* 304: items of the page stored */
	char			 run_id[37];
	struct page_plan	 pp;
	int			 in_tx;		/* the page's transaction */
	/* A page of a pipelined run: cfg, src, sv and hdrs are the run's
	 * (borrowed), but for src.next_cursor (cursor, its own); vectors
	 * embedded ahead in pre. */
	int			 borrowed;
	char			*cursor;
	const struct pre	*pre;
	struct incr_run		 inc;		/* incremental.h */
	const struct incr_run	*inc_from;	/* a pipelined page: the run's */
	char			*body;		/* method POST (bodytpl.h) */
	size_t			 body_len;
};

/* batch.c: the phases (batch.h's steps), each with its own contract. */
void		 batch_begin(struct batch_ctx *, struct work *,
		    const char *actor, const char *action,
		    struct batch_result *);
enum rs_status	 batch_load(struct batch_ctx *, const char *source_id,
		    struct work *, double deadline, struct batch_result *,
		    int *idle, char *err);
enum rs_status	 batch_fetch(struct batch_ctx *, struct work *,
		    double deadline, struct pager_next *, struct batch_result *,
		    char *err);
enum rs_status	 batch_parse(struct work *, struct pager_next *,
		    struct batch_result *, char *err);
enum rs_status	 batch_plan(struct batch_ctx *, struct work *,
		    const struct pager_next *, struct batch_result *,
		    char *err);
void		 batch_fail(struct batch_ctx *, struct work *, enum rs_status,
		    struct batch_result *, char *err);
void		 batch_work_free(struct work *);
enum rs_status	 batch_parse_page(struct work *, struct json_object **items,
		    char *err);
enum rs_status	 batch_parse_config(struct work *, const char *config,
		    const char *what, char *err);
enum rs_status	 batch_next(struct work *, const char *cursor, size_t nitems,
		    long long items_before, int pages_before,
		    struct pager_next *, char *err);
enum rs_status	 batch_request(struct work *, const char *cursor,
		    long timeout_ms, double deadline, struct fetch_req *,
		    struct fetch_policy *, char *err);
enum rs_status	 batch_fetch_outcome(const struct work *, enum rs_status,
		    int attempts, const char *note, char *err);

/* batch_auth.c: the secret, the request headers, what keeps it out. */
const char	*batch_key(const struct secret_values *);
enum rs_status	 batch_shown_url(const struct work *, char **out, char *err);
enum rs_status	 batch_load_secret(struct store *, struct work *, char *err);
enum rs_status	 batch_build_headers(struct work *, char *err);
void		 batch_free_headers(struct work *);
enum rs_status	 batch_add_conditional(struct work *, char *err);
enum rs_status	 batch_oauth(struct batch_ctx *, struct work *,
		    double deadline, int rejected, char *err);
enum rs_status	 batch_oauth_refetch(struct batch_ctx *, struct work *,
		    struct fetch_req *, const struct fetch_policy *,
		    struct batch_result *, char *note);
void		 batch_redact(char **, const struct secret_values *);
void		 batch_redact_buf(char *err, const struct secret_values *);
enum rs_status	 batch_safe_next(struct pager_next *,
		    const struct secret_values *, char *err);
void		 batch_body_excerpt(const struct rs_buf *,
		    const struct secret_values *, char *out, size_t outsz);

/* batch_items.c: the page's items and chunks. */
void		*batch_chunk_room(void *, size_t n, size_t *cap, size_t sz,
		    enum rs_status *, char *err);
enum rs_status	 batch_make_items(struct work *, struct json_object *items,
		    struct batch_result *, char *err);
enum rs_status	 batch_classify_items(struct batch_ctx *, struct work *,
		    char *err);
enum rs_status	 batch_items_not_modified(struct batch_ctx *, struct work *,
		    char *err);
enum rs_status	 batch_chunk_items(struct work *, struct batch_result *,
		    char *err);
enum rs_status	 batch_hash_chunks(struct work *, char *err);
enum rs_status	 batch_dedup_stored(struct batch_ctx *, struct work *,
		    char *err);

/* batch_plan.c: the page's commit planned, no database, no embedder. */
enum rs_status	 batch_store_plan(struct batch_ctx *, struct work *,
		    const struct pager_next *, struct batch_result *,
		    char *err);
void		 batch_page_plan_free(struct page_plan *);

/* batch_commit.c: the planned page embedded and written. */
enum rs_status	 batch_commit(struct batch_ctx *, struct work *,
		    const struct pager_next *, double deadline,
		    struct batch_result *, char *err);

/* batch_commit.c: the index of a hash's vector embedded ahead, or -1. */
int		 batch_pre_find(const struct pre *, const char *hash);

/* batch_result.c: the audit row's detail (JSON, malloc'd). */
char		*batch_audit_detail(const struct batch_result *);

#endif
