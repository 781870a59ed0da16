/*
 * batch_commit.c — a planned page embedded and written in one
 * transaction, with its run's sweep at the run's end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_int.h"
#include "runs.h"

static int
cmp_hex(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The index of hash's vector in pr (embedded ahead by a pipelined run),
 * or -1. */
int
batch_pre_find(const struct pre *pr, const char *hash)
{
	const char	(*f)[HASH_HEXLEN + 1];

	if (pr->n == 0)
		return -1;
	f = bsearch(hash, pr->h, pr->n, sizeof(*pr->h), cmp_hex);
	return f == NULL ? -1 : (int)(f - pr->h);
}

/*
 * The vectors of the plan's chunks [off, off + m) into emb: those a
 * pipelined run embedded ahead (w->pre) copied, the others (all of them
 * in a serial batch) from the embedder now.
 */
static enum rs_status
plan_vectors(struct batch_ctx *ctx, struct work *w, size_t off, size_t m,
    float *emb, double deadline, struct batch_result *res, char *err)
{
	struct page_plan	*pp = &w->pp;
	struct embed_stats	 es;
	const char		**texts = pp->texts + off, **mt = NULL;
	const size_t		*lens = pp->lens + off;
	size_t			*ml = NULL, *at = NULL, i, k = 0;
	float			*out = emb, *mv = NULL;
	int			 f;
	enum rs_status		 st = RS_ENOMEM;
	double			 t = rs_now_ms();
	size_t			 dims = (size_t)embed_dims(ctx->em);

	if (w->pre != NULL) {
		if ((mt = calloc(m, sizeof(*mt))) == NULL ||
		    (ml = calloc(m, sizeof(*ml))) == NULL ||
		    (at = calloc(m, sizeof(*at))) == NULL ||
		    (mv = rs_reallocarray(NULL, m, sizeof(float) * dims)) ==
		    NULL) {
			rs_errf(err, "out of memory");
			goto out;
		}
		for (i = 0; i < m; i++) {
			f = batch_pre_find(w->pre, pp->sc[off + i].hash);
			if (f >= 0)
				memcpy(emb + i * dims, w->pre->v +
				    (size_t)f * dims, sizeof(float) * dims);
			else {
				mt[k] = texts[i];
				ml[k] = lens[i];
				at[k++] = i;
			}
		}
		texts = mt;
		lens = ml;
		out = mv;
		m = k;
	}
	memset(&es, 0, sizeof(es));
	st = m > 0 ? embed_texts(ctx->em, texts, lens, m, out, deadline, &es,
	    err) : RS_OK;
	res->embed_requests += es.requests;
	res->embed_attempts += es.attempts;
	for (i = 0; st == RS_OK && w->pre != NULL && i < k; i++)
		memcpy(emb + at[i] * dims, mv + i * dims,
		    sizeof(float) * dims);
	if (st == RS_OK)
		res->ms.embed += rs_now_ms() - t;
out:
	free(mt);
	free(ml);
	free(at);
	free(mv);
	return st;
}

/* The page's transaction opened: the source guarded, the item changes. */
static enum rs_status
commit_begin(struct batch_ctx *ctx, struct work *w, struct batch_result *res,
    struct store_items_res *sr, char *err)
{
	struct store_batch	*sb = &w->pp.sb;
	enum rs_status		 st;

	if ((st = store_tx(ctx->st, STORE_BEGIN, err)) != RS_OK)
		return st;
	w->in_tx = 1;
	if ((st = store_guard_source(ctx->st, &w->src, err)) != RS_OK ||
	    (st = store_items_apply(ctx->st, &w->pp.si, sr, err)) != RS_OK)
		return st;
	res->chunks_deleted += sr->chunks_deleted;
	sb->new_items = res->new_items;
	sb->changed_items = res->changed_items;
	sb->unchanged_items = res->unchanged_items - res->recounted;
	sb->chunks_deleted = res->chunks_deleted;
	sb->no_sweep = w->pp.nosweep[0] != '\0' ? w->pp.nosweep : NULL;
	return RS_OK;
}

/* The run ends with this page: its sweep, in the same transaction. */
static enum rs_status
commit_sweep(struct batch_ctx *ctx, struct work *w, struct batch_result *res,
    char *err)
{
	struct runs_sweep	 sw;
	enum rs_status		 st;
	double			 t = rs_now_ms();

	if ((st = runs_sweep(ctx->st, &w->cfg, w->src.id, w->run_id, 0, &sw,
	    err)) != RS_OK)
		return st;
	res->removed_items = sw.removed;
	res->chunks_deleted += sw.chunks;
	(void)snprintf(res->sweep, sizeof(res->sweep), "%s", sw.sweep);
	(void)snprintf(res->sweep_note, sizeof(res->sweep_note), "%s",
	    sw.note);
	res->ms.sweep = rs_now_ms() - t;
	return RS_OK;
}

/* A page's commit under way (batch_commit). */
struct commit {
	struct store_commit	 cm;		/* the last statement's */
	struct store_items_res	 sr;		/* the item changes' */
	float			*emb;		/* one group's vectors */
	char			*detail;	/* the audit row's */
	long long		 inserted;
};

/*
 * The group of the plan's chunks at off: its vectors, then its statement
 * (the first opens the transaction).  The last group's statement carries
 * the audit detail (every stage but the commit: the statement adds
 * "inserted") and advances the cursor.
 */
static enum rs_status
commit_group(struct batch_ctx *ctx, struct work *w, size_t off,
    double deadline, struct batch_result *res, struct commit *c, char *err)
{
	struct page_plan	*pp = &w->pp;
	struct store_batch	*sb = &pp->sb;
	size_t			 i, n = pp->n, m;
	size_t			 dims = (size_t)embed_dims(ctx->em);
	enum rs_status		 st;
	double			 t;

	m = n - off < BATCH_GROUP ? n - off : BATCH_GROUP;
	if (m > 0 && (st = plan_vectors(ctx, w, off, m, c->emb, deadline,
	    res, err)) != RS_OK)
		return st;
	for (i = 0; i < m; i++)
		pp->sc[off + i].embedding = c->emb + i * dims;
	t = rs_now_ms();
	if (!w->in_tx && (st = commit_begin(ctx, w, res, &c->sr, err)) !=
	    RS_OK)
		return st;
	sb->chunks = pp->sc + off;
	sb->nchunks = m;
	sb->advance = off + BATCH_GROUP >= n;
	sb->prior_inserted = c->inserted;
	if (sb->advance && (sb->detail = c->detail =
	    batch_audit_detail(res)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	if ((st = store_commit_batch(ctx->st, sb, &c->cm, err)) != RS_OK)
		return st;
	res->ms.commit += rs_now_ms() - t;
	c->inserted += c->cm.inserted;
	return RS_OK;
}

/* After the last group: the incremental mark, the sweep, the commit. */
static enum rs_status
commit_end(struct batch_ctx *ctx, struct work *w, const struct pager_next *nx,
    struct batch_result *res, const struct commit *c, char *err)
{
	enum rs_status	 st;
	double		 t;

	if ((st = incr_commit(ctx->st, &w->inc, w->src.id, w->run_id,
	    nx->done, err)) != RS_OK)
		return st;
	if (nx->done && w->run_id[0] != '\0' &&
	    (st = commit_sweep(ctx, w, res, err)) != RS_OK)
		return st;
	t = rs_now_ms();
	if ((st = store_tx(ctx->st, STORE_COMMIT, err)) != RS_OK)
		return st;
	res->ms.commit += rs_now_ms() - t;
	w->in_tx = 0;
	res->inserted = c->inserted;
	/* Rows a concurrent writer stored first count as skipped. */
	res->skipped += (long long)w->pp.n - c->inserted;
	res->page_count = c->cm.page_count;
	res->item_count = c->cm.item_count;
	/* The cursor's count, less what the sweep deleted after it. */
	res->chunk_count = c->cm.chunk_count - (res->chunks_deleted -
	    c->sr.chunks_deleted);
	return RS_OK;
}

/*
 * Embed the planned chunks and write the page in one transaction: the
 * item changes (chunks no item holds any more leave, docs stay dense),
 * the new chunks with doc and cursor, and at the end of a run its sweep.
 * Up to BATCH_GROUP new chunks: one embeddings call before the
 * transaction.  More (a page of very long items): group by group inside
 * it, so a worker holds only one group's vectors and parameters at a
 * time; the last statement advances the cursor.  Any failure writes
 * nothing.
 */
enum rs_status
batch_commit(struct batch_ctx *ctx, struct work *w,
    const struct pager_next *nx, double deadline, struct batch_result *res,
    char *err)
{
	struct commit	 c;
	size_t		 off, n = w->pp.n;
	enum rs_status	 st = RS_OK;

	memset(&c, 0, sizeof(c));
	if (n > 0 && (c.emb = rs_reallocarray(NULL, n < BATCH_GROUP ? n :
	    BATCH_GROUP, sizeof(float) * (size_t)embed_dims(ctx->em))) ==
	    NULL) {
		rs_errf(err, "out of memory");
		st = RS_ENOMEM;
		goto out;
	}
	for (off = 0; off < n || (n == 0 && off == 0); off += BATCH_GROUP) {
		if ((st = commit_group(ctx, w, off, deadline, res, &c, err)) !=
		    RS_OK)
			goto out;
		if (n == 0)
			break;
	}
	st = commit_end(ctx, w, nx, res, &c, err);
out:
	if (w->in_tx)
		(void)store_tx(ctx->st, STORE_ROLLBACK, NULL);
	w->in_tx = 0;
	free(c.emb);
	free(c.detail);
	return st;
}
