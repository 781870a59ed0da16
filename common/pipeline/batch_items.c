/*
 * batch_items.c — a page's items (text, title, key, hash; new, changed
 * or same) and their chunks (hashed, deduplicated in the page and against
 * the source).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_int.h"
#include "chunk.h"
#include "jsonpath.h"
#include "normalize.h"

/*
 * Room in v (n used of *cap, each sz bytes) for one more chunk of the
 * page: v, or v doubled from 64 when full; NULL (v kept, *st set) past
 * BATCH_MAX_CHUNKS (RS_EUPSTREAM) or out of memory (RS_ENOMEM).
 */
void *
batch_chunk_room(void *v, size_t n, size_t *cap, size_t sz,
    enum rs_status *st, char *err)
{
	size_t	 ncap;

	*st = RS_OK;
	if (n >= BATCH_MAX_CHUNKS) {
		rs_errf(err, "page makes more than %d chunks",
		    BATCH_MAX_CHUNKS);
		*st = RS_EUPSTREAM;
		return NULL;
	}
	if (n < *cap)
		return v;
	ncap = *cap ? *cap * 2 : 64;
	if ((v = rs_reallocarray(v, ncap, sz)) == NULL) {
		rs_errf(err, "out of memory");
		*st = RS_ENOMEM;
		return NULL;
	}
	*cap = ncap;
	return v;
}

static enum rs_status
add_pending(struct work *w, const char *s, size_t len, size_t item,
    int chunk_index, char *err)
{
	struct pending	*np, *p;
	enum rs_status	 st;

	if ((np = batch_chunk_room(w->p, w->np, &w->cap, sizeof(*np), &st,
	    err)) == NULL)
		return st;
	w->p = np;
	p = &w->p[w->np];
	memset(p, 0, sizeof(*p));
	if ((p->content = rs_strndup(s, len)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	p->len = len;
	p->item = item;
	p->chunk_index = chunk_index;
	w->np++;
	return RS_OK;
}

/*
 * The item's key: the scalar at itemIdPath when set (only there), else
 * at "id", as "id:<v>" ("idh:<sha256>" when longer than BATCH_MAX_ID
 * bytes); with none, the hash of its text, "text:<sha256>".  *id gets
 * the scalar (malloc'd).
 */
static enum rs_status
item_key(struct json_object *it, const struct source_config *cfg,
    const char *text, size_t len, char **key, char **id)
{
	struct json_object	*v = NULL;
	char			 h[HASH_HEXLEN + 1];
	const char		*s;
	size_t			 n;

	*key = *id = NULL;
	if (cfg->item_id_path != NULL)
		v = jp_get(it, cfg->item_id_path);
	else if (json_object_is_type(it, json_type_object))
		(void)json_object_object_get_ex(it, "id", &v);
	if (v != NULL && (json_object_is_type(v, json_type_string) ||
	    json_object_is_type(v, json_type_int)) &&
	    (s = json_object_get_string(v)) != NULL && *s != '\0') {
		if ((*id = strdup(s)) == NULL)
			return RS_ENOMEM;
		n = strlen(s);
		if (n <= BATCH_MAX_ID) {
			if ((*key = malloc(n + 4)) == NULL)
				return RS_ENOMEM;
			(void)snprintf(*key, n + 4, "id:%s", s);
			return RS_OK;
		}
		hash_sha256_hex(s, n, h);
		if ((*key = malloc(4 + HASH_HEXLEN + 1)) == NULL)
			return RS_ENOMEM;
		(void)snprintf(*key, 4 + HASH_HEXLEN + 1, "idh:%s", h);
		return RS_OK;
	}
	hash_sha256_hex(text, len, h);
	if ((*key = malloc(5 + HASH_HEXLEN + 1)) == NULL)
		return RS_ENOMEM;
	(void)snprintf(*key, 5 + HASH_HEXLEN + 1, "text:%s", h);
	return RS_OK;
}

/* SHA-256 of title, a NUL, and text: what "unchanged" compares. */
static enum rs_status
item_hash(struct item *t)
{
	size_t	 tl = strlen(t->title);
	char	*b;

	if ((b = malloc(tl + 1 + t->len + 1)) == NULL)
		return RS_ENOMEM;
	memcpy(b, t->title, tl + 1);
	memcpy(b + tl + 1, t->text, t->len);
	hash_sha256_hex(b, tl + 1 + t->len, t->hash);
	free(b);
	return RS_OK;
}

/* A string of the page (an item's key, a chunk's hash), and its place. */
struct keyed {
	const char	*s;
	size_t		 i;
};

static int
cmp_keyed(const void *a, const void *b)
{
	const struct keyed	*x = a, *y = b;
	int			 c = strcmp(x->s, y->s);

	if (c == 0)
		return x->i < y->i ? -1 : x->i > y->i;
	return c;
}

/*
 * Repeats inside the page: of the items with one key, all but the last
 * are ITEM_DUP (the later item wins); of the chunks with one hash, all
 * but the first are dropped.
 */
static enum rs_status
mark_repeats(struct work *w, int items, char *err)
{
	struct keyed	*v;
	size_t		 i, n = items ? w->nit : w->np;

	if (n < 2)
		return RS_OK;
	if ((v = rs_reallocarray(NULL, n, sizeof(*v))) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		v[i].s = items ? w->it[i].key : w->p[i].hash;
		v[i].i = i;
	}
	qsort(v, n, sizeof(*v), cmp_keyed);
	for (i = 1; i < n; i++) {
		if (strcmp(v[i].s, v[i - 1].s) != 0)
			continue;
		if (items)
			w->it[v[i - 1].i].kind = ITEM_DUP;
		else
			w->p[v[i].i].drop = 1;
	}
	free(v);
	return RS_OK;
}

/* Normalise every item of the page into w->it: text, title, key, hash. */
enum rs_status
batch_make_items(struct work *w, struct json_object *items,
    struct batch_result *res, char *err)
{
	struct rs_buf		 text;
	struct json_object	*it;
	struct item		*t;
	char			 title[NORM_MAX_TITLE];
	size_t			 i, n;
	enum rs_status		 st = RS_OK;
	double			 t0;

	rs_buf_init(&text, NORM_MAX_TEXT);
	n = json_object_array_length(items);
	if (n > 0 && (w->it = calloc(n, sizeof(*w->it))) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(items, i);
		t0 = rs_now_ms();
		if ((st = norm_item(it, &w->cfg, &text, err)) != RS_OK)
			goto out;
		norm_title(it, &w->cfg, title, sizeof(title));
		res->ms.normalize += rs_now_ms() - t0;
		if (title[0] == '\0')
			(void)snprintf(title, sizeof(title), "%s",
			    w->src.title);
		t = &w->it[w->nit++];
		t->index = w->src.item_count + (long long)i;
		t->len = text.len;
		if ((t->text = rs_strndup(text.p != NULL ? text.p : "",
		    text.len)) == NULL || (t->title = strdup(title)) == NULL ||
		    item_key(it, &w->cfg, t->text, t->len, &t->key, &t->id) !=
		    RS_OK || item_hash(t) != RS_OK)
			goto nomem;
	}
	st = mark_repeats(w, 1, err);
	goto out;
nomem:
	rs_errf(err, "out of memory");
	st = RS_ENOMEM;
out:
	rs_buf_free(&text);
	return st;
}

/* What the source stores of the page's items: new, changed or same. */
enum rs_status
batch_classify_items(struct batch_ctx *ctx, struct work *w, char *err)
{
	struct store_item_state	*ss = NULL;
	const char		**keys = NULL;
	size_t			*map = NULL, i, n = 0;
	enum rs_status		 st = RS_ENOMEM;

	if (w->nit == 0)
		return RS_OK;
	if ((keys = rs_reallocarray(NULL, w->nit, sizeof(*keys))) == NULL ||
	    (map = rs_reallocarray(NULL, w->nit, sizeof(*map))) == NULL ||
	    (ss = calloc(w->nit, sizeof(*ss))) == NULL) {
		rs_errf(err, "out of memory");
		goto out;
	}
	for (i = 0; i < w->nit; i++)
		if (w->it[i].kind != ITEM_DUP) {
			map[n] = i;
			keys[n++] = w->it[i].key;
		}
	if ((st = store_items_lookup(ctx->st, w->src.id, w->run_id, keys, n,
	    ss, err)) != RS_OK)
		goto out;
	for (i = 0; i < n; i++) {
		struct item *t = &w->it[map[i]];

		/* A pipelined page is classified ahead, then again at its
		 * commit (the pages before it may have changed the store). */
		free(t->old);
		t->old = NULL;
		if (!ss[i].found) {
			t->kind = ITEM_NEW;
			continue;
		}
		t->seen_in_run = ss[i].seen_in_run;
		t->was_same = ss[i].was_same;
		t->kind = strcmp(ss[i].hash, t->hash) == 0 ? ITEM_SAME :
		    ITEM_CHANGED;
		t->old = ss[i].chunks;
		ss[i].chunks = NULL;
	}
out:
	store_item_states_free(ss, n);
	free(ss);
	free(keys);
	free(map);
	return st;
}

/*
 * A 304 page: its items (as kept with its validators) are seen again,
 * unchanged; w->known counts those the source still has.
 */
enum rs_status
batch_items_not_modified(struct batch_ctx *ctx, struct work *w, char *err)
{
	struct json_object	*keys = NULL, *k;
	size_t			 i, n;
	enum rs_status		 st = RS_OK;

	if (w->src.page_keys == NULL ||
	    (keys = json_tokener_parse(w->src.page_keys)) == NULL ||
	    !json_object_is_type(keys, json_type_array))
		goto out;
	n = json_object_array_length(keys);
	if (n > 0 && (w->it = calloc(n, sizeof(*w->it))) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		k = json_object_array_get_idx(keys, i);
		if (!json_object_is_type(k, json_type_string))
			continue;
		if ((w->it[w->nit].key = strdup(json_object_get_string(k))) ==
		    NULL || (w->it[w->nit].title = strdup("")) == NULL)
			goto nomem;
		w->nit++;
	}
	if ((st = batch_classify_items(ctx, w, err)) != RS_OK)
		goto out;
	for (i = 0; i < w->nit; i++) {
		if (w->it[i].kind == ITEM_NEW) {
			w->it[i].kind = ITEM_DUP;	/* gone since: ignore */
			continue;
		}
		w->it[i].kind = ITEM_SAME;
		w->known++;
	}
	goto out;
nomem:
	rs_errf(err, "out of memory");
	st = RS_ENOMEM;
out:
	json_object_put(keys);
	return st;
}

/* Chunk the new and changed items into w->p. */
enum rs_status
batch_chunk_items(struct work *w, struct batch_result *res, char *err)
{
	struct chunk	*ch = NULL;
	struct item	*t;
	size_t		 i, j, nch = 0;
	enum rs_status	 st = RS_OK;
	double		 t0;

	for (i = 0; i < w->nit; i++) {
		t = &w->it[i];
		if (t->kind != ITEM_NEW && t->kind != ITEM_CHANGED)
			continue;
		t0 = rs_now_ms();
		free(ch);
		ch = NULL;
		if ((st = chunk_text(t->text, t->len, NULL, &ch, &nch,
		    err)) != RS_OK)
			goto out;
		res->ms.chunk += rs_now_ms() - t0;
		t->chunked = 1;
		t->p0 = w->np;
		for (j = 0; j < nch; j++)
			if ((st = add_pending(w, t->text + ch[j].off,
			    ch[j].len, i, (int)j, err)) != RS_OK)
				goto out;
		t->np = nch;
		/* Its chunks hold copies: a page's text and its chunks are
		 * never both whole in memory. */
		free(t->text);
		t->text = NULL;
	}
	/* The texts of the items not chunked are no longer needed either. */
	for (i = 0; i < w->nit; i++) {
		free(w->it[i].text);
		w->it[i].text = NULL;
	}
out:
	free(ch);
	return st;
}

/* Hash every chunk and drop duplicates inside the batch. */
enum rs_status
batch_hash_chunks(struct work *w, char *err)
{
	size_t	 i;

	for (i = 0; i < w->np; i++)
		hash_sha256_hex(w->p[i].content, w->p[i].len, w->p[i].hash);
	return mark_repeats(w, 0, err);
}

/* Mark chunks the source already stores; one query. */
enum rs_status
batch_dedup_stored(struct batch_ctx *ctx, struct work *w, char *err)
{
	const char	**h = NULL;
	unsigned char	*ex = NULL;
	size_t		*map = NULL, i, n = 0;
	enum rs_status	 st = RS_ENOMEM;

	if (w->np == 0)
		return RS_OK;
	if ((h = rs_reallocarray(NULL, w->np, sizeof(*h))) == NULL ||
	    (map = rs_reallocarray(NULL, w->np, sizeof(*map))) == NULL ||
	    (ex = malloc(w->np)) == NULL) {
		rs_errf(err, "out of memory");
		goto out;
	}
	for (i = 0; i < w->np; i++)
		if (!w->p[i].drop) {
			map[n] = i;
			h[n++] = w->p[i].hash;
		}
	if ((st = store_existing_hashes(ctx->st, w->src.id, h, n, ex,
	    err)) != RS_OK)
		goto out;
	for (i = 0; i < n; i++)
		if (ex[i])
			w->p[map[i]].drop = w->p[map[i]].stored = 1;
out:
	free(h);
	free(map);
	free(ex);
	return st;
}
