/*
 * batch_plan.c — a page's commit planned without database or embedder:
 * each item's chunk list, which stored chunk is held by how many items,
 * the chunks to insert and the statement's fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "batch_int.h"

/* One item's hold on (+1) or release of (-1) a content hash. */
struct ref {
	const char	*hash;
	size_t		 item;
	int		 sign;
};

static int
cmp_ref(const void *a, const void *b)
{
	const struct ref	*x = a, *y = b;
	int			 c = strcmp(x->hash, y->hash);

	if (c != 0)
		return c;
	return x->item < y->item ? -1 : x->item > y->item;
}

static int
cmp_pending_hash(const void *a, const void *b)
{
	const struct pending *const *x = a, *const *y = b;

	return strcmp((*x)->hash, (*y)->hash);
}

/*
 * Each new or changed item's chunk hashes, distinct, in order, as a
 * comma list (what kb_rest_items.chunk_hashes stores).
 */
static enum rs_status
item_chunk_lists(struct work *w, char *err)
{
	struct rs_buf	 b;
	struct item	*t;
	size_t		 i, j, k;
	int		 again;

	for (i = 0; i < w->nit; i++) {
		t = &w->it[i];
		if (t->kind != ITEM_NEW && t->kind != ITEM_CHANGED)
			continue;
		rs_buf_init(&b, t->np * (HASH_HEXLEN + 1) + 1);
		if (rs_buf_puts(&b, "") == -1)
			goto nomem;
		for (j = 0; j < t->np; j++) {
			/* An item that repeats a chunk holds it once. */
			for (again = 0, k = 0; k < j && !again; k++)
				again = strcmp(w->p[t->p0 + k].hash,
				    w->p[t->p0 + j].hash) == 0;
			if (again)
				continue;
			if ((b.len > 0 && rs_buf_puts(&b, ",") == -1) ||
			    rs_buf_puts(&b, w->p[t->p0 + j].hash) == -1)
				goto nomem;
		}
		t->chunks = rs_buf_steal(&b);
		if (t->chunks == NULL)
			goto nomem;
	}
	return RS_OK;
nomem:
	rs_buf_free(&b);
	rs_errf(err, "out of memory");
	return RS_ENOMEM;
}

/* Append a ref per hash of a comma list; -1 when out of memory. */
static int
add_refs(struct ref **r, size_t *n, size_t *cap, const char *list,
    size_t item, int sign)
{
	const char	*p;
	struct ref	*nr;

	for (p = list; p != NULL && *p != '\0'; ) {
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			if ((nr = rs_reallocarray(*r, *cap, sizeof(**r))) ==
			    NULL)
				return -1;
			*r = nr;
		}
		(*r)[*n].hash = p;
		(*r)[*n].item = item;
		(*r)[*n].sign = sign;
		(*n)++;
		if ((p = strchr(p, ',')) != NULL)
			p++;
	}
	return 0;
}

/* Length of a hash in a comma list. */
static size_t
ref_len(const char *h)
{
	return strcspn(h, ",");
}

static int
ref_eq(const char *a, const char *b)
{
	size_t	 la = ref_len(a);

	return la == ref_len(b) && strncmp(a, b, la) == 0;
}

static void
plan_free(struct plan *pl)
{
	size_t	 i;

	for (i = 0; i < pl->nd; i++)
		free(pl->dh[i]);
	free(pl->dh);
	free(pl->dn);
	free(pl->dk);
	free(pl->dt);
	memset(pl, 0, sizeof(*pl));
}

static enum rs_status
plan_refs(struct work *w, struct plan *pl, char *err)
{
	struct ref	*r = NULL;
	struct pending	**ins = NULL, key, *kp, **found;
	size_t		 nr = 0, cap = 0, nins = 0, i, j, last;
	int		 sum, pos;
	enum rs_status	 st = RS_ENOMEM;

	memset(pl, 0, sizeof(*pl));
	for (i = 0; i < w->nit; i++) {
		struct item *t = &w->it[i];

		if (t->kind == ITEM_NEW || t->kind == ITEM_CHANGED)
			if (add_refs(&r, &nr, &cap, t->chunks, i, 1) == -1)
				goto out;
		if (t->kind == ITEM_CHANGED)
			if (add_refs(&r, &nr, &cap, t->old, i, -1) == -1)
				goto out;
	}
	if (nr == 0) {
		st = RS_OK;
		goto out;
	}
	qsort(r, nr, sizeof(*r), cmp_ref);
	if ((ins = rs_reallocarray(NULL, w->np + 1, sizeof(*ins))) == NULL ||
	    (pl->dh = calloc(nr, sizeof(*pl->dh))) == NULL ||
	    (pl->dn = calloc(nr, sizeof(*pl->dn))) == NULL ||
	    (pl->dk = calloc(nr, sizeof(*pl->dk))) == NULL ||
	    (pl->dt = calloc(nr, sizeof(*pl->dt))) == NULL)
		goto out;
	for (i = 0; i < w->np; i++)
		if (!w->p[i].drop)
			ins[nins++] = &w->p[i];
	qsort(ins, nins, sizeof(*ins), cmp_pending_hash);
	for (i = 0; i < nr; i = j) {
		sum = 0;
		pos = 0;
		last = 0;
		for (j = i; j < nr && ref_eq(r[i].hash, r[j].hash); j++) {
			sum += r[j].sign;
			if (r[j].sign > 0) {
				pos = 1;
				last = r[j].item;
			}
		}
		memset(&key, 0, sizeof(key));
		(void)snprintf(key.hash, sizeof(key.hash), "%.*s",
		    (int)ref_len(r[i].hash), r[i].hash);
		kp = &key;
		found = nins > 0 ? bsearch(&kp, ins, nins, sizeof(*ins),
		    cmp_pending_hash) : NULL;
		if (found != NULL) {
			(*found)->refs = sum > 0 ? sum : 1;
			continue;
		}
		if (sum == 0 && !pos)
			continue;
		if ((pl->dh[pl->nd] = strdup(key.hash)) == NULL)
			goto out;
		pl->dn[pl->nd] = sum;
		pl->dk[pl->nd] = pos ? w->it[last].key : NULL;
		pl->dt[pl->nd] = pos ? w->it[last].title : NULL;
		pl->nd++;
	}
	st = RS_OK;
out:
	if (st != RS_OK) {
		rs_errf(err, "out of memory");
		plan_free(pl);
	}
	free(r);
	free(ins);
	return st;
}

static char *
chunk_metadata(const struct pending *p, const struct item *t,
    const char *source_id, int page, const char *model)
{
	struct json_object	*o = json_object_new_object();
	char			*s;

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "contentHash",
	    json_object_new_string(p->hash));
	json_object_object_add(o, "sourceId",
	    json_object_new_string(source_id));
	json_object_object_add(o, "itemIndex",
	    json_object_new_int64(t->index));
	json_object_object_add(o, "chunkIndex",
	    json_object_new_int(p->chunk_index));
	json_object_object_add(o, "page", json_object_new_int(page));
	json_object_object_add(o, "itemKey", json_object_new_string(t->key));
	json_object_object_add(o, "embeddingModel",
	    json_object_new_string(model));
	if (t->id != NULL)
		json_object_object_add(o, "itemId",
		    json_object_new_string(t->id));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

/* The page's item changes for STMT_ITEMS_APPLY, and the run's counts. */
static enum rs_status
items_input(struct work *w, const struct plan *pl, struct store_items *si,
    struct batch_result *res, char *err)
{
	const char	**v = NULL, **k = NULL, **h = NULL, **c = NULL;
	const char	**t = NULL, **seen = NULL;
	size_t		 i, n = 0, ns = 0;
	struct item	*it;

	memset(si, 0, sizeof(*si));
	/* One block (items_input_free): keys, hashes, chunk lists, titles
	 * of the new and changed items, keys of the unchanged. */
	if (w->nit > 0) {
		if ((v = calloc(w->nit, 5 * sizeof(*v))) == NULL) {
			rs_errf(err, "out of memory");
			return RS_ENOMEM;
		}
		k = v;
		h = v + w->nit;
		c = v + 2 * w->nit;
		t = v + 3 * w->nit;
		seen = v + 4 * w->nit;
	}
	for (i = 0; i < w->nit; i++) {
		it = &w->it[i];
		switch (it->kind) {
		case ITEM_NEW:
		case ITEM_CHANGED:
			k[n] = it->key;
			h[n] = it->hash;
			c[n] = it->chunks != NULL ? it->chunks : "";
			t[n] = it->title;
			n++;
			/* Once per run: an item an earlier page of the run
			 * counted unchanged and whose later version differs
			 * becomes changed (the run's unchanged count goes
			 * down by it: res->recounted). */
			if (it->kind == ITEM_NEW)
				res->new_items++;
			else if (!it->seen_in_run || it->was_same) {
				res->changed_items++;
				res->recounted += it->seen_in_run;
			}
			break;
		case ITEM_SAME:
			seen[ns++] = it->key;
			if (!it->seen_in_run)
				res->unchanged_items++;
			break;
		default:
			break;
		}
		res->chunked_items += it->chunked;
	}
	si->tenant_id = w->src.tenant_id;
	si->source_id = w->src.id;
	si->run_id = w->run_id;
	si->keys = k;
	si->hashes = h;
	si->chunk_lists = c;
	si->titles = t;
	si->n = n;
	si->seen = seen;
	si->nseen = ns;
	si->dh = (const char *const *)pl->dh;
	si->dn = pl->dn;
	si->dk = pl->dk;
	si->dt = pl->dt;
	si->nd = pl->nd;
	return RS_OK;
}

/* What items_input allocated: one block, at si->keys. */
static void
items_input_free(struct store_items *si)
{
	free(si->keys);
	memset(si, 0, sizeof(*si));
}

void
batch_page_plan_free(struct page_plan *pp)
{
	size_t	 i;

	if (pp->meta != NULL)
		for (i = 0; i < pp->n; i++)
			free(pp->meta[i]);
	free(pp->meta);
	free(pp->sc);
	free(pp->texts);
	free(pp->lens);
	items_input_free(&pp->si);
	plan_free(&pp->pl);
	free(pp->page_keys);
	memset(pp, 0, sizeof(*pp));
}

/*
 * The chunks to insert (not dropped) as the store wants them: texts and
 * lengths for the embedder, metadata, and the batch hash over them.
 */
static enum rs_status
plan_chunks(struct batch_ctx *ctx, struct work *w, char *err)
{
	struct page_plan	*pp = &w->pp;
	struct rs_buf		 hb;
	size_t			 i, n = 0;
	enum rs_status		 st = RS_ENOMEM;

	rs_buf_init(&hb, (size_t)w->np * HASH_HEXLEN + 1);
	for (i = 0; i < w->np; i++)
		if (!w->p[i].drop)
			n++;
	if (n > 0 && ((pp->texts = rs_reallocarray(NULL, n,
	    sizeof(*pp->texts))) == NULL || (pp->lens = rs_reallocarray(NULL,
	    n, sizeof(*pp->lens))) == NULL || (pp->sc = calloc(n,
	    sizeof(*pp->sc))) == NULL || (pp->meta = calloc(n,
	    sizeof(*pp->meta))) == NULL))
		goto out;
	pp->n = n;
	for (i = 0, n = 0; i < w->np; i++) {
		const struct item *it = &w->it[w->p[i].item];

		if (w->p[i].drop)
			continue;
		pp->texts[n] = w->p[i].content;
		pp->lens[n] = w->p[i].len;
		if ((pp->meta[n] = chunk_metadata(&w->p[i], it, w->src.id,
		    w->src.page_count + 1, embed_model(ctx->em))) == NULL ||
		    rs_buf_puts(&hb, w->p[i].hash) == -1)
			goto out;
		pp->sc[n].title = it->title;
		pp->sc[n].content = w->p[i].content;
		pp->sc[n].hash = w->p[i].hash;
		pp->sc[n].metadata = pp->meta[n];
		pp->sc[n].embedding = NULL;
		pp->sc[n].refs = w->p[i].refs > 0 ? w->p[i].refs : 1;
		n++;
	}
	hash_sha256_hex(hb.p != NULL ? hb.p : "", hb.len, pp->bhash);
	st = RS_OK;
out:
	if (st != RS_OK)
		rs_errf(err, "out of memory");
	rs_buf_free(&hb);
	return st;
}

/*
 * Plan the page's commit (no database, no embedder): item chunk lists,
 * what changes in which stored chunk is held by whom, the chunks to
 * insert, and the statement's fields.
 */
enum rs_status
batch_store_plan(struct batch_ctx *ctx, struct work *w,
    const struct pager_next *nx, struct batch_result *res, char *err)
{
	struct page_plan	*pp = &w->pp;
	struct store_batch	*sb = &pp->sb;
	enum rs_status		 st;
	time_t			 now = time(NULL);
	struct tm		 tm;
	char			 day[16];
	size_t			 i;

	if ((st = item_chunk_lists(w, err)) != RS_OK ||
	    (st = plan_refs(w, &pp->pl, err)) != RS_OK ||
	    (st = items_input(w, &pp->pl, &pp->si, res, err)) != RS_OK ||
	    (st = plan_chunks(ctx, w, err)) != RS_OK)
		return st;
	res->skipped = (long long)w->np - (long long)pp->n;
	res->embed_inputs = (long long)pp->n;
	if (w->nit > 0 && (pp->page_keys = calloc(w->nit,
	    sizeof(*pp->page_keys))) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	for (i = 0; i < w->nit; i++)
		if (w->it[i].kind != ITEM_DUP)
			pp->page_keys[pp->npk++] = w->it[i].key;

	gmtime_r(&now, &tm);
	(void)strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	/* The title is capped by kb_sources (200 chars): this fits. */
	(void)snprintf(pp->doc_title, sizeof(pp->doc_title),
	    "%s \xe2\x80\x94 Sync %s", w->src.title, day);

	memset(sb, 0, sizeof(*sb));
	sb->tenant_id = w->src.tenant_id;
	sb->source_id = w->src.id;
	sb->doc_title = pp->doc_title;
	sb->batch_hash = pp->bhash;
	sb->dims = embed_dims(ctx->em);
	cfg_effective_roles(&w->cfg, &sb->roles, &sb->nroles);
	sb->next_cursor = nx->done ? NULL : nx->next;
	sb->done = nx->done;
	sb->items = res->items;
	sb->http_status = (int)res->status;
	sb->total = nx->total;
	sb->page_key = w->src.next_cursor;
	sb->etag = w->resp.etag;
	sb->last_modified = w->resp.last_modified;
	sb->save_page = w->conditional && !w->not_modified &&
	    (w->resp.etag != NULL || w->resp.last_modified != NULL);
	sb->actor = w->actor;
	sb->action = w->action;
	sb->run_id = w->run_id;
	sb->embed_inputs = res->embed_inputs;
	sb->page_item_keys = pp->page_keys;
	sb->npage_item_keys = pp->npk;
	if (w->not_modified && w->known < (long long)w->src.page_items)
		(void)snprintf(pp->nosweep, sizeof(pp->nosweep), "a page "
		    "answered 304 Not Modified but only %lld of its %d items "
		    "are known", w->known, w->src.page_items);
	else if (nx->capped)
		(void)snprintf(pp->nosweep, sizeof(pp->nosweep), "the run "
		    "stopped at maxPages (%d) and did not walk every page",
		    w->cfg.max_pages);
	res->done = nx->done;
	return RS_OK;
}
