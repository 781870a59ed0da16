/*
 * batch_preview.c — rest-preview: a dry run of one page with the
 * batch's own steps (writes and embeds nothing).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "batch_int.h"
#include "bodytpl.h"
#include "chunk.h"

/*
 * The secret a preview uses: an apiKey from the request (encrypted for
 * the tenant and provider, so batch_load_secret checks it like a stored
 * one), or the stored one.  *ct and *nonce are what w->src points at
 * (freed by the caller, never by store_source_free).
 */
static enum rs_status
preview_secret(struct work *w, const struct batch_preview_req *rq,
    unsigned char **ct, unsigned char **nonce, char *err)
{
	unsigned char	 key[SECRET_KEYLEN];
	size_t		 ctlen = 0;
	enum rs_status	 st = RS_OK;

	*ct = *nonce = NULL;
	if (!w->cfg.requires_auth)
		return RS_OK;
	/* The secret is bound to the config's origin (issue 14). */
	if (fetch_origin(w->cfg.base_url, w->src.secret_origin,
	    sizeof(w->src.secret_origin)) == -1) {
		rs_errf(err, "source config: 'baseUrl' has no origin");
		return RS_EINPUT;
	}
	w->src.secret_aad = 2;
	if (rq->api_key != NULL) {
		if ((*nonce = malloc(SECRET_NONCELEN)) == NULL)
			goto nomem;
		if ((st = secret_load_key(key, err)) != RS_OK)
			return st;
		st = secret_encrypt(key, rq->tenant_id, w->cfg.provider,
		    w->src.secret_origin, rq->api_key, strlen(rq->api_key), ct,
		    &ctlen, *nonce, err);
		memset(key, 0, sizeof(key));
		if (st != RS_OK)
			return st;
		w->src.secret_ct_len = ctlen;
		w->src.secret_nonce_len = SECRET_NONCELEN;
	} else if (rq->secret_ct != NULL && rq->secret_nonce != NULL) {
		if ((*ct = malloc(rq->secret_ct_len + 1)) == NULL ||
		    (*nonce = malloc(rq->secret_nonce_len + 1)) == NULL)
			goto nomem;
		memcpy(*ct, rq->secret_ct, rq->secret_ct_len);
		memcpy(*nonce, rq->secret_nonce, rq->secret_nonce_len);
		w->src.secret_ct_len = rq->secret_ct_len;
		w->src.secret_nonce_len = rq->secret_nonce_len;
		w->src.secret_aad = rq->secret_aad;
	}
	w->src.secret_ct = *ct;
	w->src.secret_nonce = *nonce;
	return batch_load_secret(NULL, w, err);	/* a dry run: as loaded */
nomem:
	rs_errf(err, "out of memory");
	return RS_ENOMEM;
}

/* Fetch the page as a batch would (no validators: a dry run wants the
 * body).  RS_EUPSTREAM for a failed exchange or a non-2xx answer. */
static enum rs_status
preview_fetch(struct batch_ctx *ctx, struct work *w, const char *cursor,
    double deadline, struct json_object *out, char *err)
{
	struct fetch_req	 fr;
	struct fetch_policy	 pol;
	char			 note[RS_ERRLEN];
	int			 attempts = 0;
	double			 t = rs_now_ms();
	enum rs_status		 st;

	if ((st = batch_request(w, cursor, BATCH_FETCH_TIMEOUT_MS, deadline,
	    &fr, &pol, err)) != RS_OK)
		return st;
	fr.headers = (const char *const *)w->hdrs;
	note[0] = '\0';
	st = fetch_retry(ctx->fx, &fr, &pol, &w->resp, &attempts, note);
	json_object_object_add(out, "status", w->resp.status > 0 ?
	    json_object_new_int((int)w->resp.status) : NULL);
	json_object_object_add(out, "attempts", json_object_new_int(attempts));
	json_object_object_add(out, "fetchMs", json_object_new_double(
	    rs_now_ms() - t));
	/* A non-2xx answer shows its body, not why it was not retried. */
	return batch_fetch_outcome(w, st, attempts, st != RS_OK ? note : "",
	    err);
}

/* At most max bytes of s, cut at a UTF-8 character boundary. */
static struct json_object *
preview_text(const char *s, size_t len, size_t max)
{
	if (len > max) {
		len = max;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	return json_object_new_string_len(s, (int)len);
}

/* One item as the preview shows it; *nch and *tok get its chunking. */
static enum rs_status
preview_item(const struct item *t, int full, struct json_object *arr,
    long long *nch, long long *tok, char *err)
{
	struct json_object	*o, *toks;
	struct chunk		*ch = NULL;
	size_t			 i, n = 0, est;
	enum rs_status		 st;

	*nch = *tok = 0;
	if ((st = chunk_text(t->text, t->len, NULL, &ch, &n, err)) != RS_OK)
		return st;
	toks = json_object_new_array();
	for (i = 0; i < n; i++) {
		est = chunk_est_tokens(t->text + ch[i].off, ch[i].len);
		*tok += (long long)est;
		json_object_array_add(toks, json_object_new_int64(
		    (int64_t)est));
	}
	*nch = (long long)n;
	free(ch);
	if (!full) {
		json_object_put(toks);
		return RS_OK;
	}
	o = json_object_new_object();
	json_object_object_add(o, "key", json_object_new_string(t->key));
	json_object_object_add(o, "title", json_object_new_string(t->title));
	json_object_object_add(o, "text", preview_text(t->text, t->len,
	    BATCH_PREVIEW_TEXT));
	json_object_object_add(o, "textBytes",
	    json_object_new_int64((int64_t)t->len));
	json_object_object_add(o, "truncated",
	    json_object_new_boolean(t->len > BATCH_PREVIEW_TEXT));
	json_object_object_add(o, "empty", json_object_new_boolean(n == 0));
	json_object_object_add(o, "chunks", json_object_new_int64(*nch));
	json_object_object_add(o, "tokens", toks);
	json_object_array_add(arr, o);
	return RS_OK;
}

/* Every item chunked (counts), the first few shown; empty texts flagged. */
static enum rs_status
preview_items(struct work *w, struct json_object *out, char *err)
{
	struct json_object	*arr = json_object_new_array(), *warn;
	long long		 nch, tok, chunks = 0, tokens = 0, empty = 0;
	size_t			 i;
	enum rs_status		 st = RS_OK;
	char			 msg[RS_ERRLEN];

	json_object_object_add(out, "preview", arr);
	for (i = 0; i < w->nit; i++) {
		if ((st = preview_item(&w->it[i], i < BATCH_PREVIEW_ITEMS, arr,
		    &nch, &tok, err)) != RS_OK)
			return st;
		chunks += nch;
		tokens += tok;
		empty += nch == 0;
	}
	json_object_object_add(out, "chunks", json_object_new_int64(chunks));
	json_object_object_add(out, "estimatedTokens",
	    json_object_new_int64(tokens));
	json_object_object_add(out, "emptyTexts", json_object_new_int64(empty));
	warn = json_object_new_array();
	if (empty > 0) {
		(void)snprintf(msg, sizeof(msg), "%lld of %zu items have no "
		    "text: check textFields (a sync would store nothing for "
		    "them)", empty, w->nit);
		json_object_array_add(warn, json_object_new_string(msg));
	}
	if (w->nit == 0)
		json_object_array_add(warn, json_object_new_string("the page "
		    "has no items: check itemsPath and the first page's "
		    "parameters"));
	json_object_object_add(out, "warnings", warn);
	return RS_OK;
}

/* Parse, normalise, chunk and page: everything after the fetch. */
static enum rs_status
preview_page(struct work *w, const struct batch_preview_req *rq,
    struct json_object *out, char *err)
{
	struct batch_result	 res;
	struct json_object	*items;
	struct pager_next	 nx;
	enum rs_status		 st;
	double			 t = rs_now_ms();

	memset(&res, 0, sizeof(res));
	memset(&nx, 0, sizeof(nx));
	if ((st = batch_parse_page(w, &items, err)) != RS_OK)
		goto out;
	json_object_object_add(out, "items", json_object_new_int64(
	    (int64_t)json_object_array_length(items)));
	if ((st = batch_make_items(w, items, &res, err)) != RS_OK ||
	    (st = preview_items(w, out, err)) != RS_OK)
		goto out;
	if ((st = batch_next(w, rq->cursor, json_object_array_length(items),
	    rq->items_before, rq->pages_before, &nx, err)) != RS_OK)
		goto out;
	batch_redact(&nx.next, &w->sv);
	json_object_object_add(out, "next", nx.next != NULL ?
	    json_object_new_string(nx.next) : NULL);
	json_object_object_add(out, "done", json_object_new_boolean(nx.done));
	json_object_object_add(out, "total", nx.total >= 0 ?
	    json_object_new_int64(nx.total) : NULL);
out:
	json_object_object_add(out, "processMs",
	    json_object_new_double(rs_now_ms() - t));
	pager_next_free(&nx);
	return st;
}

enum rs_status
batch_preview(struct batch_ctx *ctx, const struct batch_preview_req *rq,
    struct json_object **out, char *err)
{
	struct work	 w;
	unsigned char	*ct = NULL, *nonce = NULL;
	char		*url = NULL;
	enum rs_status	 st;
	double		 t0 = rs_now_ms();

	memset(&w, 0, sizeof(w));
	*out = json_object_new_object();
	(void)snprintf(w.src.tenant_id, sizeof(w.src.tenant_id), "%s",
	    rq->tenant_id);
	if ((w.src.title = strdup(rq->title)) == NULL) {
		rs_errf(err, "out of memory");
		st = RS_ENOMEM;
		goto out;
	}
	w.src.item_count = rq->items_before;
	if ((st = batch_parse_config(&w, rq->config, "config", err)) !=
	    RS_OK ||
	    (st = preview_secret(&w, rq, &ct, &nonce, err)) != RS_OK ||
	    (st = batch_oauth(ctx, &w, t0 + BATCH_DEADLINE_MS, 0, err)) !=
	    RS_OK || (st = batch_build_headers(&w, err)) != RS_OK ||
	    (st = pager_url(&w.cfg, rq->cursor, batch_key(&w.sv), &w.url,
	    err)) != RS_OK ||
	    (st = incr_preview(&w.cfg, &w.inc, &w.url, err)) != RS_OK ||
	    (st = batch_shown_url(&w, &url, err)) != RS_OK)
		goto out;
	json_object_object_add(*out, "url", json_object_new_string(url));
	if ((st = preview_fetch(ctx, &w, rq->cursor, t0 + BATCH_DEADLINE_MS,
	    *out, err)) != RS_OK)
		goto out;
	st = preview_page(&w, rq, *out, err);
out:
	batch_redact_buf(err, &w.sv);
	json_object_object_add(*out, "totalMs",
	    json_object_new_double(rs_now_ms() - t0));
	w.src.secret_ct = w.src.secret_nonce = NULL;
	free(ct);
	free(nonce);
	free(url);
	batch_work_free(&w);
	return st;
}
