/*
 * batch.c — orchestrates one batch (see batch.h for the steps).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "batch.h"
#include "chunk.h"
#include "config.h"
#include "hashing.h"
#include "jsonbound.h"
#include "jsonpath.h"
#include "normalize.h"
#include "pager.h"
#include "redact.h"
#include "secret.h"

#define BATCH_JSON_DEPTH	64
#define BATCH_MAX_CHUNKS	100000	/* chunks from one page */
#define BATCH_MAX_ATTEMPTS	5
#define BATCH_GROUP		256	/* chunks per embed call + statement */
#define BATCH_MAX_HEADER	8192

static const char *const default_roles[] = { "support", "operations", "admin" };

/* A chunk on its way to the database. */
struct pending {
	char		*content;
	size_t		 len;
	char		*title;
	char		 hash[HASH_HEXLEN + 1];
	long long	 item_index;	/* absolute position of the item */
	int		 chunk_index;	/* within the item */
	char		*item_id;	/* the item's "id", if scalar */
	int		 drop;		/* duplicate in batch or stored */
};

struct work {
	struct source_config	 cfg;
	struct source_row	 src;
	struct secret_values	 sv;
	struct fetch_resp	 resp;
	struct json_object	*root;
	struct pending		*p;
	size_t			 np, cap;
	char			**hdrs;
	size_t			 nhdrs;
	char			*url;
	int			 locked;
	const char		*actor;		/* for the audit trail */
	const char		*action;
	int			 conditional;	/* validators kept (config) */
	int			 sent_validators; /* and sent with this fetch */
	int			 not_modified;	/* the upstream said 304 */
};

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

void
batch_ctx_close(struct batch_ctx *ctx)
{
	embed_close(ctx->em);
	fetch_close(ctx->fx);
	store_close(ctx->st);
	memset(ctx, 0, sizeof(*ctx));
}

void
batch_result_free(struct batch_result *r)
{
	free(r->next);
	free(r->url);
	memset(r, 0, sizeof(*r));
}

/*
 * Redact the secret values, in every spelling redact.c knows (raw,
 * percent-encoded either case, form-encoded), from *s.
 */
static void
redact(char **s, const struct secret_values *sv)
{
	const char	*vals[SECRET_NVALUES];

	secret_values_array(sv, vals);
	(void)redact_replace(s, vals, SECRET_NVALUES, REDACT_MARK);
}

static void
redact_buf(char *err, const struct secret_values *sv)
{
	char	*s;

	if (err == NULL || (s = strdup(err)) == NULL)
		return;
	redact(&s, sv);
	rs_errf(err, "%s", s);
	free(s);
}

static void
work_free(struct work *w)
{
	size_t	 i;

	for (i = 0; i < w->np; i++) {
		free(w->p[i].content);
		free(w->p[i].title);
		free(w->p[i].item_id);
	}
	free(w->p);
	for (i = 0; i < w->nhdrs; i++)
		secret_free_str(w->hdrs[i]);
	free(w->hdrs);
	secret_free_str(w->url);	/* its query may carry the key */
	json_object_put(w->root);
	fetch_resp_free(&w->resp);
	secret_values_free(&w->sv);
	store_source_free(&w->src);
	cfg_free(&w->cfg);
}

/*
 * "name: tpl" with every "{{API_KEY}}" replaced by key ("" when NULL),
 * malloc'd (free with secret_free_str); NULL when out of memory or longer
 * than BATCH_MAX_HEADER.
 */
static char *
render_header(const char *name, const char *tpl, const char *key)
{
	struct rs_buf		 b;

	rs_buf_init(&b, BATCH_MAX_HEADER);
	if (rs_buf_puts(&b, name) == -1 || rs_buf_puts(&b, ": ") == -1 ||
	    rs_buf_render_key(&b, tpl, key) == -1)
		goto fail;
	return rs_buf_steal(&b);
fail:
	if (b.p != NULL)
		secret_free_str(b.p);
	return NULL;
}

/*
 * The origin of the source's baseUrl into origin, and a check that the
 * secret found was entered for exactly it (sql/007 joins on it; this is
 * the C side of the same rule).  RS_EINPUT: no key for this origin, so
 * nothing is sent anywhere.
 */
static enum rs_status
batch_secret_origin(const struct source_config *cfg,
    const struct source_row *src, char *origin, size_t originsz, char *err)
{
	if (fetch_origin(cfg->base_url, origin, originsz) == -1) {
		rs_errf(err, "source config: 'baseUrl' has no origin");
		return RS_EINPUT;
	}
	if (src->secret_ct == NULL) {
		rs_errf(err, "source requires auth but the tenant has no "
		    "secret for provider '%s' at origin %s (a key is bound to "
		    "the origin it was entered for: enter it again)",
		    cfg->provider, origin);
		return RS_EINPUT;
	}
	if (strcmp(origin, src->secret_origin) != 0) {
		rs_errf(err, "the secret for provider '%s' was entered for "
		    "another origin than %s", cfg->provider, origin);
		return RS_EINPUT;
	}
	return RS_OK;
}

/*
 * Decrypt the tenant's secret when the source requires auth, and check
 * it holds what the config's auth form needs.  RS_EINPUT naming the
 * missing field: a source that would send an empty credential fails
 * before any request.
 */
static enum rs_status
load_secret(struct work *w, char *err)
{
	static const char	 ph[] = "{{API_KEY}}";
	unsigned char		 key[SECRET_KEYLEN];
	const char		*vals[4], *names[4] =
				    { "api_key", "token", "username",
				      "password" };
	const char		*s;
	char			*pt = NULL, origin[FETCH_ORIGIN_MAX];
	size_t			 i;
	int			 uses_key = 0;
	enum rs_status		 st;

	if (!w->cfg.requires_auth)
		return RS_OK;
	if ((st = batch_secret_origin(&w->cfg, &w->src, origin,
	    sizeof(origin), err)) != RS_OK)
		return st;
	if ((st = secret_load_key(key, err)) != RS_OK)
		return st;
	st = secret_decrypt(key, w->src.tenant_id, w->cfg.provider,
	    w->src.secret_aad == 1 ? NULL : origin, w->src.secret_ct, w->src.secret_ct_len, w->src.secret_nonce,
	    w->src.secret_nonce_len, &pt, err);
	OPENSSL_cleanse(key, sizeof(key));
	if (st != RS_OK)
		return st;
	st = secret_parse(pt, &w->sv, err);
	secret_free_str(pt);
	if (st != RS_OK)
		return st;

	/* Values go into headers and URLs: no CR/LF or other control. */
	vals[0] = w->sv.api_key;
	vals[1] = w->sv.token;
	vals[2] = w->sv.username;
	vals[3] = w->sv.password;
	for (i = 0; i < 4; i++) {
		for (s = vals[i]; s != NULL && *s != '\0'; s++)
			if ((unsigned char)*s < 0x20 || *s == 0x7f) {
				rs_errf(err, "the secret for provider '%s' has "
				    "a control character in '%s'",
				    w->cfg.provider, names[i]);
				return RS_EINPUT;
			}
		/* redact() cannot keep a 1-3 character secret out of
		 * messages without mangling them: refuse it. */
		if (i != 2 && vals[i] != NULL && *vals[i] != '\0' &&
		    strlen(vals[i]) < 4) {
			rs_errf(err, "the secret for provider '%s' has a "
			    "'%s' shorter than 4 characters", w->cfg.provider,
			    names[i]);
			return RS_EINPUT;
		}
	}
	for (i = 0; i < w->cfg.nheaders; i++)
		if (strstr(w->cfg.headers[i].value, ph) != NULL)
			uses_key = 1;
	for (i = 0; i < w->cfg.nquery; i++)
		if (strstr(w->cfg.query[i].value, ph) != NULL)
			uses_key = 1;
	if (uses_key && w->sv.api_key == NULL && w->sv.token == NULL) {
		rs_errf(err, "the config uses {{API_KEY}} but the secret for "
		    "provider '%s' has no 'api_key' or 'token'",
		    w->cfg.provider);
		return RS_EINPUT;
	}
	switch (w->cfg.auth) {
	case CFG_AUTH_BASIC:
		/* RFC 7617 §2: the user-id cannot contain a colon. */
		if (w->sv.username == NULL || *w->sv.username == '\0' ||
		    strchr(w->sv.username, ':') != NULL) {
			rs_errf(err, "auth 'basic' needs a 'username' without "
			    "':' (and a 'password') in the secret for "
			    "provider '%s'", w->cfg.provider);
			return RS_EINPUT;
		}
		break;
	case CFG_AUTH_BEARER:
		if ((w->sv.token == NULL || *w->sv.token == '\0') &&
		    (w->sv.api_key == NULL || *w->sv.api_key == '\0')) {
			rs_errf(err, "auth 'bearer' needs a 'token' or "
			    "'api_key' in the secret for provider '%s'",
			    w->cfg.provider);
			return RS_EINPUT;
		}
		break;
	default:
		break;
	}
	return RS_OK;
}

/*
 * The request headers: headersTemplate ({{API_KEY}} is api_key, else
 * token), the auth form's Authorization (RFC 7617 Basic from username
 * and password; RFC 6750 Bearer from token, else api_key), and Accept.
 * load_secret has checked the secret fits the auth form.
 */
static enum rs_status
build_headers(struct work *w, char *err)
{
	const struct secret_values	*sv = &w->sv;
	struct rs_buf			 up;
	unsigned char			*b64 = NULL;
	const char			*key;
	size_t				 i;
	enum rs_status			 st = RS_ENOMEM;

	rs_buf_init(&up, BATCH_MAX_HEADER);
	w->hdrs = calloc(w->cfg.nheaders + 3, sizeof(char *));
	if (w->hdrs == NULL)
		goto nomem;
	key = sv->api_key != NULL ? sv->api_key : sv->token;
	for (i = 0; i < w->cfg.nheaders; i++) {
		w->hdrs[w->nhdrs] = render_header(w->cfg.headers[i].name,
		    w->cfg.headers[i].value, key);
		if (w->hdrs[w->nhdrs] == NULL)
			goto nomem;
		w->nhdrs++;
	}
	switch (w->cfg.auth) {
	case CFG_AUTH_BASIC:
		if (rs_buf_puts(&up, sv->username) == -1 ||
		    rs_buf_puts(&up, ":") == -1 ||
		    rs_buf_puts(&up, sv->password != NULL ? sv->password :
		    "") == -1 ||
		    (b64 = malloc(4 * ((up.len + 2) / 3) + 1)) == NULL)
			goto nomem;
		(void)EVP_EncodeBlock(b64, (const unsigned char *)up.p,
		    (int)up.len);
		/* What goes on the wire must stay out of messages too. */
		if ((w->sv.derived = strdup((const char *)b64)) == NULL)
			goto nomem;
		w->hdrs[w->nhdrs] = render_header("Authorization",
		    "Basic {{API_KEY}}", (const char *)b64);
		break;
	case CFG_AUTH_BEARER:
		w->hdrs[w->nhdrs] = render_header("Authorization",
		    "Bearer {{API_KEY}}", sv->token != NULL ? sv->token :
		    sv->api_key);
		break;
	default:
		break;
	}
	if (w->cfg.auth != CFG_AUTH_NONE) {
		if (w->hdrs[w->nhdrs] == NULL)
			goto nomem;
		w->nhdrs++;
	}
	if ((w->hdrs[w->nhdrs] = strdup("Accept: application/json")) == NULL)
		goto nomem;
	w->nhdrs++;
	st = RS_OK;
	goto out;
nomem:
	rs_errf(err, "cannot render the request headers: out of memory or "
	    "a header longer than %d bytes", BATCH_MAX_HEADER);
out:
	secret_free_str((char *)b64);
	if (up.p != NULL)
		secret_free_str(up.p);
	return st;
}

static enum rs_status
add_pending(struct work *w, const char *s, size_t len, const char *title,
    long long item_index, int chunk_index, const char *item_id, char *err)
{
	struct pending	*np, *p;
	size_t		 ncap;

	if (w->np >= BATCH_MAX_CHUNKS) {
		rs_errf(err, "page makes more than %d chunks",
		    BATCH_MAX_CHUNKS);
		return RS_EUPSTREAM;
	}
	if (w->np == w->cap) {
		ncap = w->cap ? w->cap * 2 : 64;
		if ((np = rs_reallocarray(w->p, ncap, sizeof(*np))) == NULL)
			goto nomem;
		w->p = np;
		w->cap = ncap;
	}
	p = &w->p[w->np];
	memset(p, 0, sizeof(*p));
	if ((p->content = rs_strndup(s, len)) == NULL ||
	    (p->title = strdup(title)) == NULL ||
	    (item_id != NULL && (p->item_id = strdup(item_id)) == NULL)) {
		free(p->content);
		free(p->title);
		goto nomem;
	}
	p->len = len;
	p->item_index = item_index;
	p->chunk_index = chunk_index;
	w->np++;
	return RS_OK;
nomem:
	rs_errf(err, "out of memory");
	return RS_ENOMEM;
}

/* Normalise and chunk every item of the page into w->p. */
static enum rs_status
make_chunks(struct work *w, struct json_object *items,
    struct batch_result *res, char *err)
{
	struct rs_buf		 text;
	struct chunk		*ch = NULL;
	struct json_object	*it, *idv;
	char			 title[NORM_MAX_TITLE];
	const char		*item_id;
	size_t			 i, j, nch = 0, n;
	enum rs_status		 st = RS_OK;
	double			 t;

	rs_buf_init(&text, NORM_MAX_TEXT);
	n = json_object_array_length(items);
	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(items, i);
		t = rs_now_ms();
		if ((st = norm_item(it, &w->cfg, &text, err)) != RS_OK)
			goto out;
		norm_title(it, &w->cfg, title, sizeof(title));
		res->ms.normalize += rs_now_ms() - t;
		if (text.len == 0)
			continue;
		if (title[0] == '\0')
			(void)snprintf(title, sizeof(title), "%s",
			    w->src.title);
		item_id = NULL;
		if (json_object_is_type(it, json_type_object) &&
		    json_object_object_get_ex(it, "id", &idv) &&
		    (json_object_is_type(idv, json_type_string) ||
		    json_object_is_type(idv, json_type_int)))
			item_id = json_object_get_string(idv);

		t = rs_now_ms();
		free(ch);
		ch = NULL;
		if ((st = chunk_text(text.p, text.len, NULL, &ch, &nch,
		    err)) != RS_OK)
			goto out;
		res->ms.chunk += rs_now_ms() - t;
		for (j = 0; j < nch; j++)
			if ((st = add_pending(w, text.p + ch[j].off,
			    ch[j].len, title, w->src.item_count +
			    (long long)i, (int)j, item_id, err)) != RS_OK)
				goto out;
	}
out:
	free(ch);
	rs_buf_free(&text);
	return st;
}

static int
cmp_hash(const void *a, const void *b)
{
	const struct pending *const *x = a, *const *y = b;
	int	 c = strcmp((*x)->hash, (*y)->hash);

	/* Stable among equals: keep the first occurrence. */
	if (c == 0)
		return *x < *y ? -1 : *x > *y;
	return c;
}

/* Hash every chunk and drop duplicates inside the batch. */
static enum rs_status
hash_chunks(struct work *w, char *err)
{
	struct pending	**v;
	size_t		 i;

	for (i = 0; i < w->np; i++)
		hash_sha256_hex(w->p[i].content, w->p[i].len, w->p[i].hash);
	if (w->np < 2)
		return RS_OK;
	if ((v = rs_reallocarray(NULL, w->np, sizeof(*v))) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	for (i = 0; i < w->np; i++)
		v[i] = &w->p[i];
	qsort(v, w->np, sizeof(*v), cmp_hash);
	for (i = 1; i < w->np; i++)
		if (strcmp(v[i]->hash, v[i - 1]->hash) == 0)
			v[i]->drop = 1;
	free(v);
	return RS_OK;
}

/* Mark chunks the source already stores; one query. */
static enum rs_status
dedup_stored(struct batch_ctx *ctx, struct work *w, char *err)
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
			w->p[map[i]].drop = 1;
out:
	free(h);
	free(map);
	free(ex);
	return st;
}

static char *
chunk_metadata(const struct pending *p, const char *source_id, int page)
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
	    json_object_new_int64(p->item_index));
	json_object_object_add(o, "chunkIndex",
	    json_object_new_int(p->chunk_index));
	json_object_object_add(o, "page", json_object_new_int(page));
	if (p->item_id != NULL)
		json_object_object_add(o, "itemId",
		    json_object_new_string(p->item_id));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

/* The audit row's detail: what the batch did so far (JSON, malloc'd). */
static char *
audit_detail(const struct batch_result *r)
{
	struct json_object	*o = batch_result_json(r);
	char			*s;

	json_object_object_del(o, "ok");
	s = strdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

/*
 * Embed the new chunks and write doc, chunks and cursor.  Up to
 * BATCH_GROUP new chunks: one embeddings call, then one statement.  More
 * (a page of very long items): group by group inside one transaction, so
 * a worker holds only one group's vectors and parameters at a time; the
 * last statement advances the cursor.  Any failure writes nothing.
 */
static enum rs_status
store_page(struct batch_ctx *ctx, struct work *w, const struct pager_next *nx,
    double deadline, struct batch_result *res, char *err)
{
	struct store_chunk	*sc = NULL;
	struct store_batch	 sb;
	struct store_commit	 cm;
	struct embed_stats	 es;
	const char		**texts = NULL;
	size_t			*lens = NULL, i, n = 0, off, m, ngroups;
	float			*emb = NULL;
	char			**meta = NULL, doc_title[512], day[16];
	char			 bhash[HASH_HEXLEN + 1];
	struct rs_buf		 hb;
	enum rs_status		 st = RS_ENOMEM;
	time_t			 now = time(NULL);
	struct tm		 tm;
	double			 t;
	int			 in_tx = 0;
	long long		 inserted = 0;
	char			*detail = NULL;

	memset(&cm, 0, sizeof(cm));
	rs_buf_init(&hb, (size_t)w->np * HASH_HEXLEN + 1);
	for (i = 0; i < w->np; i++)
		if (!w->p[i].drop)
			n++;
	m = n < BATCH_GROUP ? n : BATCH_GROUP;
	if (n > 0 && ((texts = rs_reallocarray(NULL, n, sizeof(*texts))) ==
	    NULL || (lens = rs_reallocarray(NULL, n, sizeof(*lens))) == NULL ||
	    (sc = calloc(n, sizeof(*sc))) == NULL ||
	    (meta = calloc(n, sizeof(*meta))) == NULL ||
	    (emb = rs_reallocarray(NULL, m, sizeof(float) * EMBED_DIMS)) ==
	    NULL)) {
		rs_errf(err, "out of memory");
		goto out;
	}
	for (i = 0, n = 0; i < w->np; i++) {
		if (w->p[i].drop)
			continue;
		texts[n] = w->p[i].content;
		lens[n] = w->p[i].len;
		if ((meta[n] = chunk_metadata(&w->p[i], w->src.id,
		    w->src.page_count + 1)) == NULL ||
		    rs_buf_puts(&hb, w->p[i].hash) == -1) {
			rs_errf(err, "out of memory");
			goto out;
		}
		sc[n].title = w->p[i].title;
		sc[n].content = w->p[i].content;
		sc[n].hash = w->p[i].hash;
		sc[n].metadata = meta[n];
		sc[n].embedding = NULL;
		n++;
	}
	res->skipped = (long long)w->np - (long long)n;

	gmtime_r(&now, &tm);
	(void)strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	/* The title is capped by kb_sources (200 chars): this fits. */
	(void)snprintf(doc_title, sizeof(doc_title), "%s \xe2\x80\x94 Sync %s",
	    w->src.title, day);
	hash_sha256_hex(hb.p != NULL ? hb.p : "", hb.len, bhash);

	memset(&sb, 0, sizeof(sb));
	sb.tenant_id = w->src.tenant_id;
	sb.source_id = w->src.id;
	sb.doc_title = doc_title;
	sb.batch_hash = bhash;
	if (w->cfg.roles != NULL) {
		sb.roles = (const char *const *)w->cfg.roles;
		sb.nroles = w->cfg.nroles;
	} else {
		sb.roles = default_roles;
		sb.nroles = sizeof(default_roles) / sizeof(default_roles[0]);
	}
	sb.next_cursor = nx->done ? NULL : nx->next;
	sb.done = nx->done;
	sb.items = res->items;
	sb.http_status = (int)res->status;
	sb.total = nx->total;
	sb.page_key = w->src.next_cursor;
	sb.etag = w->resp.etag;
	sb.last_modified = w->resp.last_modified;
	sb.save_page = w->conditional && !w->not_modified &&
	    (w->resp.etag != NULL || w->resp.last_modified != NULL);
	sb.actor = w->actor;
	sb.action = w->action;
	res->done = nx->done;

	ngroups = n == 0 ? 1 : (n + BATCH_GROUP - 1) / BATCH_GROUP;
	if (ngroups > 1) {
		if ((st = store_tx(ctx->st, STORE_BEGIN, err)) != RS_OK)
			goto out;
		in_tx = 1;
	}
	for (off = 0; off < n || (n == 0 && off == 0); off += BATCH_GROUP) {
		m = n - off < BATCH_GROUP ? n - off : BATCH_GROUP;
		t = rs_now_ms();
		memset(&es, 0, sizeof(es));
		if (m > 0) {
			st = embed_texts(ctx->em, texts + off, lens + off, m,
			    emb, deadline, &es, err);
			res->embed_requests += es.requests;
			res->embed_attempts += es.attempts;
			if (st != RS_OK)
				goto out;
		}
		res->ms.embed += rs_now_ms() - t;
		for (i = 0; i < m; i++)
			sc[off + i].embedding = emb + i * EMBED_DIMS;
		sb.chunks = sc + off;
		sb.nchunks = m;
		sb.advance = off + BATCH_GROUP >= n;
		sb.prior_inserted = inserted;
		if (sb.advance) {
			/* The audit detail: every stage but the commit (the
			 * statement adds "inserted"). */
			if ((detail = audit_detail(res)) == NULL) {
				rs_errf(err, "out of memory");
				st = RS_ENOMEM;
				goto out;
			}
			sb.detail = detail;
		}
		t = rs_now_ms();
		if ((st = store_commit_batch(ctx->st, &sb, &cm, err)) != RS_OK)
			goto out;
		res->ms.commit += rs_now_ms() - t;
		inserted += cm.inserted;
		if (n == 0)
			break;
	}
	if (in_tx) {
		t = rs_now_ms();
		if ((st = store_tx(ctx->st, STORE_COMMIT, err)) != RS_OK)
			goto out;
		res->ms.commit += rs_now_ms() - t;
		in_tx = 0;
	}
	res->inserted = inserted;
	/* Rows a concurrent writer stored first count as skipped. */
	res->skipped += (long long)n - inserted;
	res->page_count = cm.page_count;
	res->item_count = cm.item_count;
	res->chunk_count = cm.chunk_count;
	st = RS_OK;
out:
	if (in_tx)
		(void)store_tx(ctx->st, STORE_ROLLBACK, NULL);
	if (meta != NULL)
		for (i = 0; i < n; i++)
			free(meta[i]);
	free(meta);
	free(sc);
	free(texts);
	free(lens);
	free(emb);
	free(detail);
	rs_buf_free(&hb);
	return st;
}

/*
 * With ifNoneMatchHeader / ifModifiedSinceHeader configured, send the
 * validators remembered for this page (RFC 9110 §13.1) and remember the
 * new ones after the fetch.
 */
static enum rs_status
add_conditional(struct work *w, char *err)
{
	char	**nh, *h[2] = { NULL, NULL };
	size_t	 i, k = 0;
	int	 n;

	w->conditional = w->cfg.if_none_match != NULL ||
	    w->cfg.if_modified_since != NULL;
	if (!w->conditional || !w->src.has_page)
		return RS_OK;
	for (i = 0; i < 2; i++) {
		const char *name = i == 0 ? w->cfg.if_none_match :
		    w->cfg.if_modified_since;
		const char *val = i == 0 ? w->src.page_etag :
		    w->src.page_last_modified;
		size_t len;

		if (name == NULL || val == NULL ||
		    strpbrk(val, "\r\n") != NULL)
			continue;
		len = strlen(name) + strlen(val) + 3;
		if (len > BATCH_MAX_HEADER || (h[k] = malloc(len)) == NULL)
			continue;
		n = snprintf(h[k], len, "%s: %s", name, val);
		if (n < 0 || (size_t)n >= len) {
			free(h[k]);
			h[k] = NULL;
			continue;
		}
		k++;
	}
	if (k == 0)
		return RS_OK;
	if ((nh = rs_reallocarray(w->hdrs, w->nhdrs + k + 1,
	    sizeof(*nh))) == NULL) {
		free(h[0]);
		free(h[1]);
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	w->hdrs = nh;
	for (i = 0; i < k; i++)
		w->hdrs[w->nhdrs++] = h[i];
	w->hdrs[w->nhdrs] = NULL;
	w->sent_validators = 1;
	return RS_OK;
}

/*
 * The next cursor as it may be stored and shown (issue 14): the key that
 * {{API_KEY}} stands for (api_key, else token), in any spelling and
 * wherever it is — any parameter, the path, a bare token — becomes the
 * placeholder again (pager_url() renders it back for the next fetch); the
 * other secret values become [redacted].  RS_EUPSTREAM when a secret
 * survives in a spelling redact.c does not know: nothing is stored.
 */
static enum rs_status
batch_safe_next(struct pager_next *nx, const struct secret_values *sv,
    char *err)
{
	const char	*key = sv->api_key != NULL ? sv->api_key : sv->token;
	const char	*others[SECRET_NVALUES], *all[SECRET_NVALUES];
	size_t		 n = 0;

	if (nx->next == NULL)
		return RS_OK;
	secret_values_array(sv, all);
	if (sv->api_key != NULL && sv->token != NULL)
		others[n++] = sv->token;
	others[n++] = sv->password;
	others[n++] = sv->username;
	others[n++] = sv->derived;
	if (redact_replace(&nx->next, &key, 1, "{{API_KEY}}") == -1 ||
	    redact_replace(&nx->next, others, n, REDACT_MARK) == -1) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	if (redact_leaks(nx->next, all, SECRET_NVALUES)) {
		rs_errf(err, "the next cursor holds a secret in a form that "
		    "cannot be redacted; it was not stored");
		return RS_EUPSTREAM;
	}
	return RS_OK;
}

/*
 * A short, printable excerpt of an error body for last_error, redacted
 * before it is cut (redact.h): a key straddling the cut leaves nothing.
 */
static void
body_excerpt(const struct rs_buf *b, const struct secret_values *sv,
    char *out, size_t outsz)
{
	const char	*vals[SECRET_NVALUES];
	char		 ex[256];

	secret_values_array(sv, vals);
	out[0] = '\0';
	redact_excerpt(b->p, b->len, 200, vals, SECRET_NVALUES, ex,
	    sizeof(ex));
	if (ex[0] != '\0')
		(void)snprintf(out, outsz, ": %s", ex);
}

enum rs_status
batch_run(struct batch_ctx *ctx, const char *source_id, const char *actor,
    const char *action, struct batch_result *res, char *err)
{
	struct work		 w;
	struct fetch_req	 fr;
	struct pager_page	 pg;
	struct pager_next	 nx;
	struct fetch_policy	 pol;
	struct json_object	*items;
	enum rs_status		 st;
	char			 excerpt[300], note[RS_ERRLEN];
	int			 syntax = 0;
	int			 trips0 = store_round_trips(ctx->st);
	double			 t, t0 = rs_now_ms();

	memset(&w, 0, sizeof(w));
	memset(&nx, 0, sizeof(nx));
	memset(res, 0, sizeof(*res));
	w.actor = actor;
	w.action = action;
	res->total = -1;
	res->embedder = embed_name(ctx->em);

	/* 1. Load and lock. */
	t = rs_now_ms();
	if ((st = store_lock_source(ctx->st, source_id, &w.src, err)) !=
	    RS_OK)
		goto out;
	w.locked = 1;
	res->ms.load = rs_now_ms() - t;
	(void)snprintf(res->tenant_id, sizeof(res->tenant_id), "%s",
	    w.src.tenant_id);
	if (strcmp(w.src.type, "rest") != 0) {
		rs_errf(err, "source is not a REST source");
		st = RS_ENOTFOUND;
		goto out;
	}
	if (!w.src.enabled) {
		rs_errf(err, "source is disabled; enable it to sync");
		st = RS_EBUSY;
		goto out;
	}
	res->page_count = w.src.page_count;
	res->item_count = w.src.item_count;
	res->chunk_count = w.src.chunk_count;
	if (w.src.done) {
		res->done = 1;
		st = RS_OK;
		goto out;
	}

	/* 2. Config, secret, headers. */
	if ((st = cfg_parse(w.src.config, strlen(w.src.config), &w.cfg,
	    err)) != RS_OK) {
		if (st == RS_EINPUT && err != NULL) {
			char	 tmp[RS_ERRLEN];

			(void)snprintf(tmp, sizeof(tmp), "%s", err);
			rs_errf(err, "source config: %s", tmp);
		}
		goto fail;
	}
	if ((st = load_secret(&w, err)) != RS_OK ||
	    (st = build_headers(&w, err)) != RS_OK)
		goto fail;

	/* 3. URL and fetch (retried within the batch deadline). */
	if ((st = pager_url(&w.cfg, w.src.next_cursor,
	    w.sv.api_key != NULL ? w.sv.api_key : w.sv.token, &w.url,
	    err)) != RS_OK)
		goto fail;
	if ((res->url = strdup(w.url)) == NULL) {
		rs_errf(err, "out of memory");
		st = RS_ENOMEM;
		goto fail;
	}
	redact(&res->url, &w.sv);
	memset(&fr, 0, sizeof(fr));
	fr.method = "GET";
	fr.url = w.url;
	fr.headers = (const char *const *)w.hdrs;
	fr.timeout_ms = BATCH_FETCH_TIMEOUT_MS;
	fr.max_body = w.cfg.max_body;
	fr.check_addr = 1;
	if ((st = add_conditional(&w, err)) != RS_OK)
		goto fail;
	fr.headers = (const char *const *)w.hdrs;
	pol.deadline = t0 + BATCH_DEADLINE_MS;
	pol.max_attempts = BATCH_MAX_ATTEMPTS;
	pol.base_delay_ms = 250;
	pol.max_delay_ms = 4000;
	note[0] = '\0';
	t = rs_now_ms();
	st = fetch_retry(ctx->fx, &fr, &pol, &w.resp, &res->attempts, note);
	res->ms.fetch = rs_now_ms() - t;
	res->status = w.resp.status;
	res->fetched = 1;
	if (st != RS_OK) {
		rs_errf(err, "%s%s", note, res->attempts > 1 ?
		    " (after retries)" : "");
		goto fail;
	}
	if (w.resp.status == 304 && w.sent_validators) {
		w.not_modified = 1;
		res->not_modified = 1;
		nx.done = w.src.page_done;
		nx.total = w.src.page_total;
		if (w.src.page_next != NULL &&
		    (nx.next = strdup(w.src.page_next)) == NULL) {
			rs_errf(err, "out of memory");
			st = RS_ENOMEM;
			goto fail;
		}
		res->items = w.src.page_items;
		goto store;
	}
	if (w.resp.status < 200 || w.resp.status > 299) {
		body_excerpt(&w.resp.body, &w.sv, excerpt, sizeof(excerpt));
		if (w.resp.status == 304)
			rs_errf(err, "upstream answered 304 Not Modified to a "
			    "request without validators");
		else
			rs_errf(err, "upstream returned HTTP %ld%s%s%s",
			    w.resp.status, res->attempts > 1 ?
			    " after retries" : "", note[0] ? "; " : "",
			    note[0] ? note : excerpt);
		st = RS_EUPSTREAM;
		goto fail;
	}

	/* 4. Parse (under a memory budget, jsonbound.h) and find the
	 * items.  The body is dropped at once: the tree is all we need. */
	t = rs_now_ms();
	if (jbound_parse(w.resp.body.p, w.resp.body.len, BATCH_JSON_DEPTH,
	    jbound_budget(w.cfg.max_body), "upstream JSON", &w.root, &syntax,
	    err) != RS_OK) {
		if (syntax)
			rs_errf(err, "upstream response is not valid JSON "
			    "(Content-Type: %.100s)", w.resp.content_type ?
			    w.resp.content_type : "none");
		st = RS_EUPSTREAM;
		goto fail;
	}
	rs_buf_free(&w.resp.body);
	items = w.cfg.items_path != NULL ? jp_get(w.root, w.cfg.items_path) :
	    w.root;
	if (items == NULL || !json_object_is_type(items, json_type_array)) {
		rs_errf(err, "itemsPath '%s' is not an array in the response",
		    w.cfg.items_path != NULL ? w.cfg.items_path : "$");
		st = RS_EUPSTREAM;
		goto fail;
	}
	res->items = (long long)json_object_array_length(items);
	res->ms.parse = rs_now_ms() - t;

	/* 5. Normalise, chunk, hash. */
	if ((st = make_chunks(&w, items, res, err)) != RS_OK)
		goto fail;
	res->chunks = (long long)w.np;
	t = rs_now_ms();
	if ((st = hash_chunks(&w, err)) != RS_OK)
		goto fail;
	res->ms.hash = rs_now_ms() - t;

	/* 6. Dedup against what the source has. */
	t = rs_now_ms();
	if ((st = dedup_stored(ctx, &w, err)) != RS_OK)
		goto fail;
	res->ms.dedup = rs_now_ms() - t;

	/* 8. Next cursor (before writing, so a bad body writes nothing). */
	memset(&pg, 0, sizeof(pg));
	pg.cursor = w.src.next_cursor;
	pg.body = w.root;
	pg.nitems = (size_t)res->items;
	pg.items_before = w.src.item_count;
	pg.pages_before = w.src.page_count;
	pg.link = w.resp.link;
	/* RFC 3986 §5.1.3: relative links resolve against the URL the page
	 * was retrieved from, after (same-origin) redirects. */
	pg.url = w.resp.url != NULL ? w.resp.url : w.url;
	if ((st = pager_next(&w.cfg, &pg, &nx, err)) != RS_OK)
		goto fail;
store:
	res->total = nx.total;
	res->done = nx.done;
	if ((st = batch_safe_next(&nx, &w.sv, err)) != RS_OK)
		goto fail;
	if (nx.next != NULL && (res->next = strdup(nx.next)) == NULL) {
		rs_errf(err, "out of memory");
		st = RS_ENOMEM;
		goto fail;
	}
	redact(&res->next, &w.sv);

	/* The page is in w.p now: drop the tree and the body before the
	 * memory-hungry part. */
	json_object_put(w.root);
	w.root = NULL;
	rs_buf_free(&w.resp.body);

	/* 7 + 9. Embed and commit. */
	if ((st = store_page(ctx, &w, &nx, t0 + BATCH_DEADLINE_MS, res,
	    err)) != RS_OK)
		goto fail;
	goto out;
fail:
	/* 10. Record the failure (a separate write; the batch wrote
	 * nothing).  Secrets never reach the message. */
	redact_buf(err, &w.sv);
	if (st != RS_EBUSY && st != RS_ENOTFOUND && w.locked) {
		char	*detail = audit_detail(res);

		(void)store_record_error(ctx->st, w.src.tenant_id, w.src.id,
		    (int)res->status, err != NULL ? err : "batch failed",
		    actor, action, detail, NULL);
		free(detail);
	}
out:
	if (w.locked)
		store_unlock_source(ctx->st, source_id);
	pager_next_free(&nx);
	work_free(&w);
	res->db_trips = store_round_trips(ctx->st) - trips0;
	res->ms.total = rs_now_ms() - t0;
	return st;
}

static struct json_object *
ms_json(double v)
{
	char	 s[32];

	(void)snprintf(s, sizeof(s), "%.3f", v);
	return json_object_new_double_s(v, s);
}

struct json_object *
batch_result_json(const struct batch_result *r)
{
	struct json_object	*o = json_object_new_object(), *ms;

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "done", json_object_new_boolean(r->done));
	json_object_object_add(o, "items", json_object_new_int64(r->items));
	json_object_object_add(o, "next", r->next != NULL ?
	    json_object_new_string(r->next) : NULL);
	json_object_object_add(o, "url", r->url != NULL ?
	    json_object_new_string(r->url) : NULL);
	json_object_object_add(o, "status", r->status > 0 ?
	    json_object_new_int((int)r->status) : NULL);
	json_object_object_add(o, "chunks", json_object_new_int64(r->chunks));
	json_object_object_add(o, "inserted",
	    json_object_new_int64(r->inserted));
	json_object_object_add(o, "skipped", json_object_new_int64(r->skipped));
	json_object_object_add(o, "total", r->total >= 0 ?
	    json_object_new_int64(r->total) : NULL);
	json_object_object_add(o, "pageCount",
	    json_object_new_int(r->page_count));
	json_object_object_add(o, "itemCount",
	    json_object_new_int64(r->item_count));
	json_object_object_add(o, "chunkCount",
	    json_object_new_int64(r->chunk_count));
	json_object_object_add(o, "embedder",
	    json_object_new_string(r->embedder != NULL ? r->embedder : ""));
	json_object_object_add(o, "attempts", json_object_new_int(r->attempts));
	json_object_object_add(o, "embedRequests",
	    json_object_new_int(r->embed_requests));
	json_object_object_add(o, "embedAttempts",
	    json_object_new_int(r->embed_attempts));
	json_object_object_add(o, "notModified",
	    json_object_new_boolean(r->not_modified));
	json_object_object_add(o, "dbRoundTrips",
	    json_object_new_int(r->db_trips));
	ms = json_object_new_object();
	json_object_object_add(ms, "load", ms_json(r->ms.load));
	json_object_object_add(ms, "fetch", ms_json(r->ms.fetch));
	json_object_object_add(ms, "parse", ms_json(r->ms.parse));
	json_object_object_add(ms, "normalize", ms_json(r->ms.normalize));
	json_object_object_add(ms, "chunk", ms_json(r->ms.chunk));
	json_object_object_add(ms, "hash", ms_json(r->ms.hash));
	json_object_object_add(ms, "dedup", ms_json(r->ms.dedup));
	json_object_object_add(ms, "embed", ms_json(r->ms.embed));
	json_object_object_add(ms, "commit", ms_json(r->ms.commit));
	json_object_object_add(ms, "total", ms_json(r->ms.total));
	json_object_object_add(o, "ms", ms);
	return o;
}
