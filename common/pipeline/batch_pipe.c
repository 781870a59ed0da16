/*
 * batch_pipe.c — a pipelined run (docs/RUNS.md, "Pipelining inside a
 * run"): the batch's phases page after page, the chunks embedded ahead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_int.h"
#include "chunk.h"

#define PIPE_MAX_PAGES	4	/* pages in flight */
/*
 * And at most this much of their text and vectors: pages of ordinary
 * size (50 items of a few KiB: under 1 MiB with their vectors) keep four
 * in flight, pages near the body cap (16 MiB of text is ~30 MiB of
 * vectors) go one at a time, so a run worker's peak stays that of a
 * serial batch, under 64 MiB at the default cap (25_json_memory).
 */
#define PIPE_MAX_BYTES	(8u * 1024 * 1024)
/* A page whose vectors alone would pass that is not embedded ahead: its
 * commit embeds it group by group, as a serial batch does. */
#define PIPE_MAX_PRE	(4u * 1024 * 1024)
#define PIPE_TRIM_BYTES	(1024u * 1024)

struct pipe_page {
	struct work		 w;
	struct pager_next	 nx;
	struct batch_result	 res;
	struct pre		 pre;
	enum rs_status		 st;		/* of its fetch and parse */
	char			 err[RS_ERRLEN];
	double			 t0;		/* its fetch began */
};

struct pipe {
	struct batch_ctx	*ctx;
	struct batch_pipe	*o;
	struct embed_pool	*pool;
	struct work		 r;		/* the run's source, locked */
	struct pipe_page	*q[PIPE_MAX_PAGES];	/* in page order */
	size_t			 head, n;
	char			*cursor;	/* of the next page to fetch */
	long long		 items_before;
	int			 pages_before;
	int			 more;		/* a next page to fetch */
	struct incr_run		 inc;		/* the run's, page by page */
	int			 inc_known;	/* decided by its first page */
};

/* A chunk of a page, before the plan. */
struct cand {
	const char	*s;
	size_t		 len;
	char		 hash[HASH_HEXLEN + 1];
};

static int
cmp_cand(const void *a, const void *b)
{
	return strcmp(((const struct cand *)a)->hash,
	    ((const struct cand *)b)->hash);
}

static void
pre_free(struct pre *pr)
{
	free(pr->h);
	free(pr->texts);
	free(pr->lens);
	free(pr->v);
	memset(pr, 0, sizeof(*pr));
}

/* Append the chunks of one item's text to *c. */
static enum rs_status
cand_item(const struct item *t, struct cand **c, size_t *n, size_t *cap,
    char *err)
{
	struct chunk	*ch = NULL;
	struct cand	*nc;
	size_t		 j, nch = 0;
	enum rs_status	 st;

	if ((st = chunk_text(t->text, t->len, NULL, &ch, &nch, err)) != RS_OK)
		return st;
	for (j = 0; j < nch; j++) {
		if ((nc = batch_chunk_room(*c, *n, cap, sizeof(**c), &st,
		    err)) == NULL)
			break;
		*c = nc;
		(*c)[*n].s = t->text + ch[j].off;
		(*c)[*n].len = ch[j].len;
		hash_sha256_hex((*c)[*n].s, (*c)[*n].len, (*c)[*n].hash);
		(*n)++;
	}
	free(ch);
	return st;
}

/*
 * The page's chunks that may need a vector: those of the new and changed
 * items (batch_classify_items), distinct, not stored by the source (one query), and
 * not embedded ahead for a page before it.
 */
static enum rs_status
pre_candidates(struct pipe *pp, struct work *w, struct cand **c, size_t *n,
    char *err)
{
	const char	**h = NULL;
	unsigned char	*ex = NULL;
	size_t		 i, k, cap = 0;
	enum rs_status	 st = RS_OK;
	int		 ahead;

	*c = NULL;
	*n = 0;
	if (w->nit == 0)
		return RS_OK;
	/* As the store says now; the plan classifies them again once the
	 * pages before it committed, and chunks what this guessed wrong. */
	st = batch_classify_items(pp->ctx, w, err);
	for (i = 0; st == RS_OK && i < w->nit; i++)
		if (w->it[i].kind == ITEM_NEW ||
		    w->it[i].kind == ITEM_CHANGED) {
			st = cand_item(&w->it[i], c, n, &cap, err);
			w->it[i].chunked = 1;
		}
	if (st != RS_OK || *n == 0)
		goto out;
	qsort(*c, *n, sizeof(**c), cmp_cand);
	for (i = 1, k = 1; i < *n; i++)
		if (strcmp((*c)[i].hash, (*c)[k - 1].hash) != 0)
			(*c)[k++] = (*c)[i];
	*n = k;
	if ((h = rs_reallocarray(NULL, *n, sizeof(*h))) == NULL ||
	    (ex = malloc(*n)) == NULL) {
		rs_errf(err, "out of memory");
		st = RS_ENOMEM;
		goto out;
	}
	for (i = 0; i < *n; i++)
		h[i] = (*c)[i].hash;
	if ((st = store_existing_hashes(pp->ctx->st, w->src.id, h, *n, ex,
	    err)) != RS_OK)
		goto out;
	for (i = 0, k = 0; i < *n; i++) {
		size_t	 q;

		for (ahead = 0, q = 0; q < pp->n && !ahead; q++)
			ahead = batch_pre_find(&pp->q[(pp->head + q) %
			    PIPE_MAX_PAGES]->pre, (*c)[i].hash) >= 0;
		if (!ex[i] && !ahead)
			(*c)[k++] = (*c)[i];
	}
	*n = k;
out:
	free(h);
	free(ex);
	return st;
}

/* Embed the page's candidate chunks ahead, in the run's pool. */
static enum rs_status
pipe_pre(struct pipe *pp, struct pipe_page *pg, char *err)
{
	struct pre	*pr = &pg->pre;
	struct cand	*c = NULL;
	size_t		 i, n = 0;
	enum rs_status	 st;

	if ((st = pre_candidates(pp, &pg->w, &c, &n, err)) != RS_OK ||
	    n == 0 || n > PIPE_MAX_PRE / sizeof(float) /
	    (size_t)embed_dims(pp->ctx->em))
		goto out;
	if ((pr->h = calloc(n, sizeof(*pr->h))) == NULL ||
	    (pr->texts = calloc(n, sizeof(*pr->texts))) == NULL ||
	    (pr->lens = calloc(n, sizeof(*pr->lens))) == NULL ||
	    (pr->v = rs_reallocarray(NULL, n, sizeof(float) *
	    (size_t)embed_dims(pp->ctx->em))) == NULL) {
		rs_errf(err, "out of memory");
		st = RS_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		memcpy(pr->h[i], c[i].hash, sizeof(pr->h[i]));
		pr->texts[i] = c[i].s;
		pr->lens[i] = c[i].len;
	}
	pr->n = n;
	pr->job.texts = pr->texts;
	pr->job.lens = pr->lens;
	pr->job.n = n;
	pr->job.out = pr->v;
	pr->job.budget_ms = BATCH_DEADLINE_MS;
	embed_pool_submit(pp->pool, &pr->job);
	pr->submitted = 1;
out:
	free(c);
	return st;
}

/* The page at the run's next cursor, on the run's source. */
static void
pipe_page_init(struct pipe *pp, struct pipe_page *pg)
{
	struct work	*w = &pg->w;

	batch_begin(pp->ctx, w, pp->o->actor, pp->o->action, &pg->res);
	pg->t0 = rs_now_ms();
	w->borrowed = 1;
	w->cfg = pp->r.cfg;
	w->src = pp->r.src;
	w->sv = pp->r.sv;
	w->hdrs = pp->r.hdrs;
	w->nhdrs = pp->r.nhdrs;
	w->locked = 1;		/* the run holds the lock */
	w->inc_from = pp->inc_known ? &pp->inc : NULL;
	w->cursor = pp->cursor;
	pp->cursor = NULL;
	w->src.next_cursor = w->cursor;
	w->src.item_count = pp->items_before;
	w->src.page_count = pp->pages_before;
	w->src.has_page = 0;
	(void)snprintf(w->run_id, sizeof(w->run_id), "%s", pp->r.run_id);
	(void)snprintf(pg->res.run_id, sizeof(pg->res.run_id), "%s",
	    pp->r.run_id);
	(void)snprintf(pg->res.tenant_id, sizeof(pg->res.tenant_id), "%s",
	    pp->r.src.tenant_id);
	pg->res.page_count = pp->pages_before;
	pg->res.item_count = pp->items_before;
}

/*
 * Fetch and parse the next page, embed its chunks ahead, and move the
 * run's cursor on in memory: the next page can be fetched at once.
 */
static enum rs_status
pipe_fetch(struct pipe *pp, struct pipe_page *pg, char *err)
{
	struct work	*w = &pg->w;
	enum rs_status	 st;

	pipe_page_init(pp, pg);
	if ((st = batch_fetch(pp->ctx, w, rs_now_ms() + BATCH_DEADLINE_MS,
	    &pg->nx, &pg->res, err)) != RS_OK ||
	    (st = batch_parse(w, &pg->nx, &pg->res, err)) != RS_OK ||
	    (st = pipe_pre(pp, pg, err)) != RS_OK)
		return st;
	/* The next page goes on from this one's mode, since and mark. */
	pp->inc = w->inc;
	pp->inc_known = 1;
	pp->items_before += pg->res.items;
	pp->pages_before++;
	if (pg->nx.done || pg->nx.next == NULL)
		pp->more = 0;
	else if ((pp->cursor = strdup(pg->nx.next)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	return RS_OK;
}

/*
 * The head page, once the pages before it committed: its vectors, then
 * the serial plan (which sees what the pages before it stored) and its
 * one transaction.
 */
static enum rs_status
pipe_commit(struct pipe *pp, struct pipe_page *pg, char *err)
{
	struct work	*w = &pg->w;
	struct pre	*pr = &pg->pre;
	enum rs_status	 st;
	double		 t = rs_now_ms();

	if (pr->submitted) {
		embed_pool_wait(pp->pool, &pr->job);
		pg->res.embed_requests += pr->job.es.requests;
		pg->res.embed_attempts += pr->job.es.attempts;
		pg->res.ms.embed += rs_now_ms() - t;
		if (pr->job.st != RS_OK) {
			rs_errf(err, "%s", pr->job.err);
			return pr->job.st;
		}
	}
	w->pre = pr;
	if ((st = batch_plan(pp->ctx, w, &pg->nx, &pg->res, err)) == RS_OK)
		st = batch_commit(pp->ctx, w, &pg->nx, rs_now_ms() +
		    BATCH_DEADLINE_MS, &pg->res, err);
	/* From its fetch to its commit, the pages before it included. */
	pg->res.ms.total = rs_now_ms() - pg->t0;
	return st;
}

static void
pipe_page_free(struct pipe *pp, struct pipe_page *pg)
{
	if (pg == NULL)
		return;
	if (pg->pre.submitted)
		embed_pool_drop(pp->pool, &pg->pre.job);
	pre_free(&pg->pre);
	pager_next_free(&pg->nx);
	batch_work_free(&pg->w);
	batch_result_free(&pg->res);
	free(pg);
}

/* What a page in flight holds: its items' text and its vectors. */
static size_t
pipe_page_bytes(const struct pipe *pp, const struct pipe_page *pg)
{
	size_t	 b = 0, i;

	for (i = 0; i < pg->w.nit; i++)
		b += pg->w.it[i].len;
	return b + pg->pre.n * (size_t)embed_dims(pp->ctx->em) *
	    sizeof(float);
}

/* Drop the head page (committed, or discarded with the rest). */
static void
pipe_pop(struct pipe *pp)
{
	int	 big = pipe_page_bytes(pp, pp->q[pp->head]) >= PIPE_TRIM_BYTES;

	pipe_page_free(pp, pp->q[pp->head]);
	if (big)	/* what its parse and plan freed goes back at once */
		rs_mem_trim();
	pp->q[pp->head] = NULL;
	pp->head = (pp->head + 1) % PIPE_MAX_PAGES;
	pp->n--;
}

/* Fetch ahead while there is room, unless the head page can commit. */
static int
pipe_may_fetch(struct pipe *pp)
{
	const struct pipe_page	*h;
	size_t			 b = 0, q;

	if (!pp->more || pp->n >= PIPE_MAX_PAGES)
		return 0;
	if (pp->n == 0)
		return 1;
	for (q = 0; q < pp->n; q++)
		b += pipe_page_bytes(pp, pp->q[(pp->head + q) %
		    PIPE_MAX_PAGES]);
	if (b >= PIPE_MAX_BYTES)
		return 0;
	h = pp->q[pp->head];
	return h->st == RS_OK && h->pre.submitted &&
	    !embed_pool_ready(pp->pool, &pp->q[pp->head]->pre.job);
}

static enum rs_status
pipe_loop(struct pipe *pp, char *err)
{
	struct pipe_page	*pg;
	enum rs_status		 st;
	int			 done;

	for (;;) {
		while (pipe_may_fetch(pp)) {
			if ((pg = calloc(1, sizeof(*pg))) == NULL) {
				rs_errf(err, "out of memory");
				return RS_ENOMEM;
			}
			if ((pg->st = pipe_fetch(pp, pg, pg->err)) != RS_OK)
				pp->more = 0;
			pp->q[(pp->head + pp->n++) % PIPE_MAX_PAGES] = pg;
		}
		if (pp->n == 0)
			return RS_OK;
		if (!pp->o->go(pp->o->arg)) {
			pp->o->stopped = 1;
			return RS_OK;
		}
		pg = pp->q[pp->head];
		if (pg->st == RS_ERATE) {
			/* The budget: not a failure (batch_fail skips it). */
			rs_errf(err, "%s", pg->err);
			pp->o->retry_after = pg->res.retry_after;
			return RS_ERATE;
		}
		if ((st = pg->st) != RS_OK)
			rs_errf(err, "%s", pg->err);
		else
			st = pipe_commit(pp, pg, err);
		if (st != RS_OK)
			batch_fail(pp->ctx, &pg->w, st, &pg->res, err);
		pp->o->pages++;
		pp->o->on_page(pp->o->arg, st, &pg->res, err);
		if (st != RS_OK)
			return st;
		done = pg->res.done;
		pipe_pop(pp);
		if (done) {
			pp->o->done = 1;
			return RS_OK;
		}
	}
}

/* The run's source loaded and locked, the pool opened.  *go: pages. */
static enum rs_status
pipe_open(struct pipe *pp, const char *source_id, struct batch_result *lres,
    int *go, char *err)
{
	enum rs_status	 st;
	int		 idle, limit;

	*go = 0;
	if ((st = batch_load(pp->ctx, source_id, &pp->r, rs_now_ms() +
	    BATCH_DEADLINE_MS, lres, &idle, err)) !=
	    RS_OK)
		return st;
	if (idle) {
		pp->o->done = 1;
		pp->o->on_page(pp->o->arg, RS_OK, lres, err);
		return RS_OK;
	}
	/* Validators are per page and kept by the serial batch; an OAuth2
	 * token may be renewed mid-page (the headers are the page's). */
	if (pp->r.cfg.if_none_match != NULL ||
	    pp->r.cfg.if_modified_since != NULL ||
	    pp->r.cfg.auth == CFG_AUTH_OAUTH2) {
		pp->o->serial = 1;
		return RS_OK;
	}
	if (embed_concurrency(&limit, err) == -1)
		return RS_EINPUT;
	if ((st = embed_pool_open(&pp->pool, limit, err)) != RS_OK)
		return st;
	if (pp->r.src.next_cursor != NULL &&
	    (pp->cursor = strdup(pp->r.src.next_cursor)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	pp->items_before = pp->r.src.item_count;
	pp->pages_before = pp->r.src.page_count;
	pp->more = *go = 1;
	return RS_OK;
}

enum rs_status
batch_pipe(struct batch_ctx *ctx, const char *source_id,
    struct batch_pipe *o, char *err)
{
	struct pipe		 pp;
	struct batch_result	 lres;
	enum rs_status		 st;
	int			 go;

	memset(&pp, 0, sizeof(pp));
	memset(&o->ps, 0, sizeof(o->ps));
	pp.ctx = ctx;
	pp.o = o;
	o->serial = o->stopped = o->done = o->pages = 0;
	o->retry_after = 0;
	batch_begin(ctx, &pp.r, o->actor, o->action, &lres);
	if ((st = pipe_open(&pp, source_id, &lres, &go, err)) != RS_OK) {
		batch_fail(ctx, &pp.r, st, &lres, err);
		if (st != RS_EBUSY && st != RS_EDISABLED)
			o->on_page(o->arg, st, &lres, err);
	} else if (go)
		st = pipe_loop(&pp, err);
	while (pp.n > 0)
		pipe_pop(&pp);
	if (pp.pool != NULL) {
		embed_pool_stats(pp.pool, &o->ps);
		embed_pool_close(pp.pool);
	}
	if (pp.r.locked)
		store_unlock_source(ctx->st, source_id);
	free(pp.cursor);
	batch_work_free(&pp.r);
	batch_result_free(&lres);
	return st;
}
