/*
 * batch.c — the phases of one batch and batch_run (see batch.h for the
 * steps, batch_int.h for the file that does each).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "batch_int.h"
#include "bodytpl.h"
#include "jsonbound.h"
#include "jsonpath.h"
#include "ratelimit.h"

void
batch_work_free(struct work *w)
{
	size_t	 i;

	batch_page_plan_free(&w->pp);
	for (i = 0; i < w->np; i++)
		free(w->p[i].content);
	free(w->p);
	for (i = 0; i < w->nit; i++) {
		free(w->it[i].key);
		free(w->it[i].id);
		free(w->it[i].title);
		free(w->it[i].text);
		free(w->it[i].old);
		free(w->it[i].chunks);
	}
	free(w->it);
	secret_free_str(w->url);	/* its query may carry the key */
	bodytpl_free(w->body, w->body_len);	/* and the body */
	json_object_put(w->root);
	fetch_resp_free(&w->resp);
	free(w->cursor);
	if (w->borrowed)
		return;
	batch_free_headers(w);
	secret_values_free(&w->sv);
	store_source_free(&w->src);
	cfg_free(&w->cfg);
}

/*
 * A batch never mixes two embedding models in one source: RS_EINPUT
 * naming both when the source's chunks carry another model than the
 * deployment's (restsync reembed SOURCE converts them).  The model
 * includes the dimensions (embed.h).  RS_EINPUT too when the embedder's
 * configuration is wrong (EMBEDDING_DIMENSIONS).
 */
static enum rs_status
same_model(struct batch_ctx *ctx, const struct work *w, char *err)
{
	const char	*m = embed_model(ctx->em);

	if (embed_error(ctx->em) != NULL) {
		rs_errf(err, "embedder: %s", embed_error(ctx->em));
		return RS_EINPUT;
	}
	if (w->src.model == NULL || strcmp(w->src.model, m) == 0)
		return RS_OK;
	/* Chunks from before embeddingModel: taken as the deployment's
	 * model, but they are 1536 floats whatever it was. */
	if (w->src.model[0] == '\0' && embed_dims(ctx->em) == EMBED_DIMS)
		return RS_OK;
	if (w->src.model[0] == '\0') {
		rs_errf(err, "the source's chunks were embedded before restsync "
		    "recorded models, at %d dimensions, but this deployment "
		    "embeds with '%.100s': a batch never mixes two models in "
		    "one source; re-embed it first (restsync reembed SOURCE, or "
		    "Re-embed on the page)", EMBED_DIMS, m);
		return RS_EINPUT;
	}
	rs_errf(err, "the source's chunks were embedded with '%.100s' but "
	    "this deployment embeds with '%.100s': a batch never mixes two "
	    "models in one source; re-embed it first (restsync reembed "
	    "SOURCE, or Re-embed on the page)", w->src.model, m);
	return RS_EINPUT;
}

/*
 * Parse the page's body (a UTF-8 BOM skipped) into w->root, nested at
 * most BATCH_JSON_DEPTH deep, and find its items at itemsPath.
 * RS_EUPSTREAM naming what is wrong; RS_ENOMEM.
 */
enum rs_status
batch_parse_page(struct work *w, struct json_object **items, char *err)
{
	int	 syntax = 0;

	*items = NULL;
	/* Parsed under a memory budget (jsonbound.c); the body goes as soon
	 * as the tree holds the page. */
	if (jbound_parse(w->resp.body.p, w->resp.body.len, BATCH_JSON_DEPTH,
	    jbound_budget(w->cfg.max_body), "upstream JSON", &w->root, &syntax,
	    err) != RS_OK) {
		if (syntax)
			rs_errf(err, "upstream response is not valid JSON "
			    "(Content-Type: %.100s)", w->resp.content_type ?
			    w->resp.content_type : "none");
		return RS_EUPSTREAM;
	}
	rs_buf_free(&w->resp.body);
	*items = w->cfg.items_path != NULL ? jp_get(w->root,
	    w->cfg.items_path) : w->root;
	if (*items == NULL || !json_object_is_type(*items, json_type_array)) {
		rs_errf(err, "itemsPath '%s' is not an array in the response",
		    w->cfg.items_path != NULL ? w->cfg.items_path : "$");
		*items = NULL;
		return RS_EUPSTREAM;
	}
	return RS_OK;
}

/* config (JSON text) parsed into w->cfg; RS_EINPUT's message says "what: ". */
enum rs_status
batch_parse_config(struct work *w, const char *config, const char *what,
    char *err)
{
	enum rs_status	 st;
	char		 tmp[RS_ERRLEN];

	st = cfg_parse(config, strlen(config), &w->cfg, err);
	if (st == RS_EINPUT && err != NULL) {
		(void)snprintf(tmp, sizeof(tmp), "%s", err);
		rs_errf(err, "%s: %s", what, tmp);
	}
	return st;
}

/*
 * 8. The next cursor after the page fetched at cursor (w->root, nitems
 * items), the run having synced items_before items in pages_before pages.
 */
enum rs_status
batch_next(struct work *w, const char *cursor, size_t nitems,
    long long items_before, int pages_before, struct pager_next *nx,
    char *err)
{
	struct pager_page	 pg;

	memset(&pg, 0, sizeof(pg));
	pg.cursor = cursor;
	pg.body = w->root;
	pg.nitems = nitems;
	pg.items_before = items_before;
	pg.pages_before = pages_before;
	pg.link = w->resp.link;
	/* RFC 3986 §5.1.3: relative links resolve against the URL the page
	 * was retrieved from, after (same-origin) redirects. */
	pg.url = w->resp.url != NULL ? w->resp.url : w->url;
	return pager_next(&w->cfg, &pg, nx, err);
}

/*
 * 1. Load and lock the source; the run the batch belongs to; config,
 * secret, headers.  *idle: the source is done, nothing to fetch.
 */
enum rs_status
batch_load(struct batch_ctx *ctx, const char *source_id, struct work *w,
    double deadline, struct batch_result *res, int *idle, char *err)
{
	enum rs_status	 st;
	double		 t = rs_now_ms();
	int		 created;

	*idle = 0;
	if ((st = store_lock_source(ctx->st, source_id, &w->src, err)) !=
	    RS_OK)
		return st;
	w->locked = 1;
	res->ms.load = rs_now_ms() - t;
	(void)snprintf(res->tenant_id, sizeof(res->tenant_id), "%s",
	    w->src.tenant_id);
	if (strcmp(w->src.type, "rest") != 0) {
		rs_errf(err, "source is not a REST source");
		return RS_ENOTFOUND;
	}
	if (!w->src.enabled) {
		rs_errf(err, "source is disabled; enable it to sync");
		return RS_EDISABLED;
	}
	res->page_count = w->src.page_count;
	res->item_count = w->src.item_count;
	res->chunk_count = w->src.chunk_count;
	if (w->src.done) {
		res->done = *idle = 1;
		return RS_OK;
	}
	if ((st = same_model(ctx, w, err)) != RS_OK)
		return st;

	/* The run this batch belongs to (docs/SYNC-RUNS.md).  A server-side
	 * run's pages are its executor's alone (action "run"). */
	if (strcmp(w->src.run_status, "running") == 0 && w->src.run_server &&
	    strcmp(w->action, BATCH_ACTION_RUN) != 0) {
		rs_errf(err, "a server-side run of this source is going (run "
		    "%s); stop it to sync by hand", w->src.run_id);
		return RS_EBUSY;
	}
	if (strcmp(w->src.run_status, "running") == 0)
		(void)snprintf(w->run_id, sizeof(w->run_id), "%s",
		    w->src.run_id);
	else if ((st = store_ensure_run(ctx->st, w->src.tenant_id, w->src.id,
	    w->actor, w->action, w->src.next_cursor == NULL,
	    strcmp(w->src.run_status, "failed") == 0 ? w->src.run_id : NULL,
	    w->run_id, &created, err)) != RS_OK)
		return st;
	(void)snprintf(res->run_id, sizeof(res->run_id), "%s", w->run_id);

	/* 2. Config, secret, headers. */
	if ((st = batch_parse_config(w, w->src.config, "source config",
	    err)) != RS_OK ||
	    (st = batch_load_secret(ctx->st, w, err)) != RS_OK ||
	    (st = batch_oauth(ctx, w, deadline, 0, err)) != RS_OK)
		return st;
	return batch_build_headers(w, err);
}

/* A 304 to our validators: the page as remembered, its items seen. */
static enum rs_status
fetch_not_modified(struct batch_ctx *ctx, struct work *w,
    struct pager_next *nx, struct batch_result *res, char *err)
{
	w->not_modified = 1;
	res->not_modified = 1;
	nx->done = w->src.page_done;
	nx->total = w->src.page_total;
	/* The validators do not say whether maxPages cut the walk short:
	 * a remembered last page at the cap is taken as if it did. */
	nx->capped = nx->done && w->cfg.max_pages > 0 &&
	    w->src.page_count + 1 >= w->cfg.max_pages;
	if (w->src.page_next != NULL &&
	    (nx->next = strdup(w->src.page_next)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	res->items = w->src.page_items;
	return batch_items_not_modified(ctx, w, err);
}

/*
 * The page's request as every fetch of a batch sends it: a GET of
 * w->url (or bodyTemplate's POST at cursor, bodytpl.h) with the body cap
 * and the address check, and its retry policy until deadline.  The
 * caller sets the headers (after batch_add_conditional, which moves them).
 */
enum rs_status
batch_request(struct work *w, const char *cursor, long timeout_ms,
    double deadline, struct fetch_req *fr, struct fetch_policy *pol,
    char *err)
{
	memset(fr, 0, sizeof(*fr));
	fr->method = "GET";
	fr->url = w->url;
	fr->timeout_ms = timeout_ms;
	fr->max_body = w->cfg.max_body;
	fr->check_addr = 1;
	pol->deadline = deadline;
	pol->max_attempts = BATCH_MAX_ATTEMPTS;
	pol->base_delay_ms = 250;
	pol->max_delay_ms = 4000;
	/* The incremental run's since, for {{since}} (set with the URL). */
	return bodytpl_request(&w->cfg, cursor, batch_key(&w->sv),
	    w->inc.active && w->inc.has_since ? w->inc.since : NULL,
	    &w->body, &w->body_len, fr, err);
}

/*
 * The outcome of a page's exchange: RS_OK for a 2xx answer; else st with
 * its note (after retries), or RS_EUPSTREAM naming the status with the
 * note, or without one an excerpt of the body (redacted).
 */
enum rs_status
batch_fetch_outcome(const struct work *w, enum rs_status st, int attempts,
    const char *note, char *err)
{
	char	 excerpt[300];

	if (st != RS_OK) {
		rs_errf(err, "%s%s", note, attempts > 1 ? " (after retries)" :
		    "");
		return st;
	}
	if (w->resp.status >= 200 && w->resp.status <= 299)
		return RS_OK;
	batch_body_excerpt(&w->resp.body, &w->sv, excerpt, sizeof(excerpt));
	rs_errf(err, "upstream returned HTTP %ld%s%s%s", w->resp.status,
	    attempts > 1 ? " after retries" : "", note[0] ? "; " : "",
	    note[0] ? note : excerpt);
	return RS_EUPSTREAM;
}

/* The page's URL, with the incremental param; res->url its shown copy. */
static enum rs_status
fetch_url(struct batch_ctx *ctx, struct work *w, struct batch_result *res,
    char *err)
{
	enum rs_status	 st;

	if ((st = pager_url(&w->cfg, w->src.next_cursor, batch_key(&w->sv),
	    &w->url, err)) != RS_OK)
		return st;
	/* The incremental param: a pipelined page goes on with its run's
	 * state, a batch loads it (incremental.h). */
	if ((st = w->inc_from != NULL ? incr_carry(&w->cfg, w->inc_from,
	    &w->inc, &w->url, err) : incr_prepare(ctx->st, &w->cfg,
	    w->src.id, w->run_id, w->src.next_cursor == NULL, &w->inc,
	    &w->url, err)) != RS_OK)
		return st;
	return batch_shown_url(w, &res->url, err);
}

/* 3. The page's URL, and the page (retried until deadline). */
enum rs_status
batch_fetch(struct batch_ctx *ctx, struct work *w, double deadline,
    struct pager_next *nx, struct batch_result *res, char *err)
{
	struct fetch_req	 fr;
	struct fetch_policy	 pol;
	struct rl_gate		 gate;
	enum rs_status		 st;
	char			 note[RS_ERRLEN];
	double			 t;

	/* timeoutMs (config.h) per attempt. */
	if ((st = fetch_url(ctx, w, res, err)) != RS_OK ||
	    (st = batch_request(w, w->src.next_cursor, w->cfg.timeout_ms,
	    deadline, &fr, &pol, err)) != RS_OK ||
	    (st = batch_add_conditional(w, err)) != RS_OK)
		return st;
	/* Every exchange drawn from the rateLimit budget (ratelimit.h). */
	rl_gate_init(&gate, ctx->st, &w->cfg, w->src.tenant_id, w->src.id,
	    deadline, w->cfg.timeout_ms);
	fr.gate = rl_gate;
	fr.gate_arg = &gate;
	fr.headers = (const char *const *)w->hdrs;
	note[0] = '\0';
	t = rs_now_ms();
	st = fetch_retry(ctx->fx, &fr, &pol, &w->resp, &res->attempts, note);
	if (st == RS_OK && w->resp.status == 401 &&
	    w->cfg.auth == CFG_AUTH_OAUTH2)
		st = batch_oauth_refetch(ctx, w, &fr, &pol, res, note);
	res->ms.fetch = rs_now_ms() - t;
	res->status = w->resp.status;
	res->fetched = 1;
	res->retry_after = gate.retry_after_s;
	res->rate_wait_ms = gate.waited_ms;
	if (st == RS_OK && w->resp.status == 304) {
		if (w->sent_validators)
			return fetch_not_modified(ctx, w, nx, res, err);
		rs_errf(err, "upstream answered 304 Not Modified to a "
		    "request without validators");
		return RS_EUPSTREAM;
	}
	return batch_fetch_outcome(w, st, res->attempts, note, err);
}

/*
 * 4. Parse (under a memory budget, jsonbound.h), find, normalise, key
 * and hash the items; 8. the next cursor, stored and shown without
 * secrets.  The tree and the body are dropped at the end: the page is in
 * w->it now.  A 304 page has its items and cursor already.
 */
enum rs_status
batch_parse(struct work *w, struct pager_next *nx, struct batch_result *res,
    char *err)
{
	struct json_object	*items;
	enum rs_status		 st;
	double			 t = rs_now_ms();

	if (!w->not_modified) {
		if ((st = batch_parse_page(w, &items, err)) != RS_OK)
			return st;
		res->items = (long long)json_object_array_length(items);
		res->ms.parse = rs_now_ms() - t;
		incr_page(&w->inc, w->cfg.incremental, items);
		if ((st = batch_make_items(w, items, res, err)) != RS_OK)
			return st;
		if ((st = batch_next(w, w->src.next_cursor,
		    (size_t)res->items, w->src.item_count, w->src.page_count,
		    nx, err)) != RS_OK)
			return st;
	}
	res->total = nx->total;
	res->done = nx->done;
	if ((st = batch_safe_next(nx, &w->sv, err)) != RS_OK)
		return st;
	if (nx->next != NULL && (res->next = strdup(nx->next)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	batch_redact(&res->next, &w->sv);
	json_object_put(w->root);
	w->root = NULL;
	rs_buf_free(&w->resp.body);
	return RS_OK;
}

/*
 * 5 + 6. New, changed or same (one query); chunk the new and changed
 * items, hash the chunks, drop those the source has (one query); then
 * plan the commit.
 */
enum rs_status
batch_plan(struct batch_ctx *ctx, struct work *w, const struct pager_next *nx,
    struct batch_result *res, char *err)
{
	enum rs_status	 st;
	double		 t;

	if (!w->not_modified) {
		t = rs_now_ms();
		if ((st = batch_classify_items(ctx, w, err)) != RS_OK)
			return st;
		res->ms.items = rs_now_ms() - t;
		if ((st = batch_chunk_items(w, res, err)) != RS_OK)
			return st;
		res->chunks = (long long)w->np;
		t = rs_now_ms();
		if ((st = batch_hash_chunks(w, err)) != RS_OK)
			return st;
		res->ms.hash = rs_now_ms() - t;
		t = rs_now_ms();
		if ((st = batch_dedup_stored(ctx, w, err)) != RS_OK)
			return st;
		res->ms.dedup = rs_now_ms() - t;
	}
	return batch_store_plan(ctx, w, nx, res, err);
}

/*
 * 10. Record the failure (a separate write; the batch wrote nothing).
 * Secrets never reach the message.
 */
void
batch_fail(struct batch_ctx *ctx, struct work *w, enum rs_status st,
    struct batch_result *res, char *err)
{
	char	*detail;

	batch_redact_buf(err, &w->sv);
	if (st == RS_EBUSY || st == RS_EDISABLED || st == RS_ENOTFOUND ||
	    st == RS_ERATE || !w->locked)
		return;
	detail = batch_audit_detail(res);
	(void)store_record_error(ctx->st, w->src.tenant_id, w->src.id,
	    (int)res->status, err != NULL ? err : "batch failed", w->actor,
	    w->action, detail, NULL);
	free(detail);
}

void
batch_begin(struct batch_ctx *ctx, struct work *w, const char *actor,
    const char *action, struct batch_result *res)
{
	memset(w, 0, sizeof(*w));
	memset(res, 0, sizeof(*res));
	w->actor = actor;
	w->action = action;
	res->total = -1;
	res->embedder = embed_name(ctx->em);
}

enum rs_status
batch_run(struct batch_ctx *ctx, const char *source_id, const char *actor,
    const char *action, struct batch_result *res, char *err)
{
	struct work		 w;
	struct pager_next	 nx;
	enum rs_status		 st;
	int			 idle, trips0 = store_round_trips(ctx->st);
	double			 t0 = rs_now_ms();
	double			 deadline = t0 + BATCH_DEADLINE_MS;

	batch_begin(ctx, &w, actor, action, res);
	memset(&nx, 0, sizeof(nx));
	if ((st = batch_load(ctx, source_id, &w, deadline, res, &idle,
	    err)) != RS_OK)
		goto fail;
	if (idle)
		goto out;
	if ((st = batch_fetch(ctx, &w, deadline, &nx, res, err)) != RS_OK ||
	    (st = batch_parse(&w, &nx, res, err)) != RS_OK ||
	    (st = batch_plan(ctx, &w, &nx, res, err)) != RS_OK ||
	    (st = batch_commit(ctx, &w, &nx, deadline, res, err)) != RS_OK)
		goto fail;
	goto out;
fail:
	batch_fail(ctx, &w, st, res, err);
out:
	if (w.locked)
		store_unlock_source(ctx->st, source_id);
	pager_next_free(&nx);
	batch_work_free(&w);
	res->db_trips = store_round_trips(ctx->st) - trips0;
	res->ms.total = rs_now_ms() - t0;
	return st;
}

void
batch_ctx_close(struct batch_ctx *ctx)
{
	embed_close(ctx->em);
	fetch_close(ctx->fx);
	store_close(ctx->st);
	memset(ctx, 0, sizeof(*ctx));
}

enum rs_status
batch_ctx_open(struct batch_ctx *ctx, char *err)
{
	enum rs_status	 st;

	memset(ctx, 0, sizeof(*ctx));
	if ((st = store_open(&ctx->st, err)) != RS_OK ||
	    (st = fetch_open(&ctx->fx, err)) != RS_OK ||
	    (st = embed_open(&ctx->em, ctx->fx, err)) != RS_OK) {
		batch_ctx_close(ctx);
		return st;
	}
	return RS_OK;
}
