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
#include "bodytpl.h"
#include "chunk.h"
#include "config.h"
#include "hashing.h"
#include "incremental.h"
#include "jsonbound.h"
#include "jsonpath.h"
#include "normalize.h"
#include "oauth.h"
#include "pager.h"
#include "ratelimit.h"
#include "runs.h"
#include "redact.h"
#include "secret.h"

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

/* The page's commit as planned (store_plan): what store_commit writes. */
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

static void	page_plan_free(struct page_plan *);
static int	pre_find(const struct pre *, const char *hash);
static void	free_headers(struct work *);
static enum rs_status	add_conditional(struct work *, char *);

static void
work_free(struct work *w)
{
	size_t	 i;

	page_plan_free(&w->pp);
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
	free_headers(w);
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
/* The source's stored secret under one key; *pt is freed by the caller. */
static enum rs_status
decrypt_source_secret(const struct work *w, const unsigned char *key,
    const char *origin, char **pt, char *err)
{
	return secret_decrypt(key, w->src.tenant_id, w->cfg.provider,
	    w->src.secret_aad == 1 ? NULL : origin, w->src.secret_ct,
	    w->src.secret_ct_len, w->src.secret_nonce,
	    w->src.secret_nonce_len, pt, err);
}

/*
 * Open the source's secret under the key file as it is now, across a key
 * rotation: the key file; else the new key beside it (between the
 * rotation's commit and its file swap); else the key file read again
 * (the swap came between the two reads).
 */
static enum rs_status
open_under_current_key(const struct work *w, const char *origin, char **pt,
    char *err)
{
	unsigned char	 key[SECRET_KEYLEN];
	enum rs_status	 st;

	if ((st = secret_load_key(key, err)) != RS_OK)
		return st;
	st = decrypt_source_secret(w, key, origin, pt, err);
	if (st == RS_EINPUT && secret_load_next_key(key, NULL) == RS_OK)
		st = decrypt_source_secret(w, key, origin, pt, err);
	if (st == RS_EINPUT && secret_load_key(key, NULL) == RS_OK)
		st = decrypt_source_secret(w, key, origin, pt, err);
	OPENSSL_cleanse(key, sizeof(key));
	return st;
}

static enum rs_status
load_secret(struct store *sto, struct work *w, char *err)
{
	static const char	 ph[] = "{{API_KEY}}";
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
	st = open_under_current_key(w, origin, &pt, err);
	/* Our copy of the secret was read before a rotation committed and
	 * the key file after its swap: read the secret again (a swap never
	 * comes before its commit) and open it the same way. */
	if (st == RS_EINPUT && sto != NULL && w->src.id[0] != '\0' &&
	    store_reload_secret(sto, &w->src, NULL) == RS_OK)
		st = open_under_current_key(w, origin, &pt, err);
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
	case CFG_AUTH_OAUTH2:
		return oauth_check_secret(&w->cfg, &w->sv, err);
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
	case CFG_AUTH_OAUTH2:
		/* RFC 6750 §2.1; the token comes from batch_oauth(). */
		w->hdrs[w->nhdrs] = render_header("Authorization",
		    "Bearer {{API_KEY}}", sv->access);
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

static void
free_headers(struct work *w)
{
	size_t	 i;

	for (i = 0; i < w->nhdrs; i++)
		secret_free_str(w->hdrs[i]);
	free(w->hdrs);
	w->hdrs = NULL;
	w->nhdrs = 0;
}

/* auth oauth2_client_credentials: an access token (oauth.h). */
static enum rs_status
batch_oauth(struct batch_ctx *ctx, struct work *w, double deadline,
    int rejected, char *err)
{
	return oauth_source_token(ctx->st, ctx->fx, &w->cfg,
	    w->src.id[0] != '\0' ? w->src.id : NULL, w->src.tenant_id, &w->sv,
	    deadline, rejected, err);
}

/*
 * A 401 to a request with an OAuth2 token: the token was revoked or
 * expired early.  Get another (once), and fetch the page again.
 */
static enum rs_status
oauth_refetch(struct batch_ctx *ctx, struct work *w, struct fetch_req *fr,
    const struct fetch_policy *pol, struct batch_result *res, char *note)
{
	enum rs_status	 st;
	int		 n = 0;

	if ((st = batch_oauth(ctx, w, pol->deadline, 1, note)) != RS_OK)
		return st;
	free_headers(w);
	w->sent_validators = 0;
	if ((st = build_headers(w, note)) != RS_OK ||
	    (st = add_conditional(w, note)) != RS_OK)
		return st;
	fr->headers = (const char *const *)w->hdrs;
	fetch_resp_free(&w->resp);
	st = fetch_retry(ctx->fx, fr, pol, &w->resp, &n, note);
	res->attempts += n;
	return st;
}

static enum rs_status
add_pending(struct work *w, const char *s, size_t len, size_t item,
    int chunk_index, char *err)
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
	if ((p->content = rs_strndup(s, len)) == NULL)
		goto nomem;
	p->len = len;
	p->item = item;
	p->chunk_index = chunk_index;
	w->np++;
	return RS_OK;
nomem:
	rs_errf(err, "out of memory");
	return RS_ENOMEM;
}

/*
 * The item's key: the scalar at itemIdPath, else at "id", as "id:<v>"
 * ("idh:<sha256>" when longer than BATCH_MAX_ID bytes); with none, the
 * hash of its text, "text:<sha256>".  *id gets the scalar (malloc'd).
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

static int
cmp_item_key(const void *a, const void *b)
{
	const struct item *const *x = a, *const *y = b;
	int	 c = strcmp((*x)->key, (*y)->key);

	if (c == 0)
		return (*x)->index < (*y)->index ? -1 :
		    (*x)->index > (*y)->index;
	return c;
}

/* The same key twice in a page: the later item wins. */
static enum rs_status
drop_dup_keys(struct work *w, char *err)
{
	struct item	**v;
	size_t		 i;

	if (w->nit < 2)
		return RS_OK;
	if ((v = rs_reallocarray(NULL, w->nit, sizeof(*v))) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	for (i = 0; i < w->nit; i++)
		v[i] = &w->it[i];
	qsort(v, w->nit, sizeof(*v), cmp_item_key);
	for (i = 0; i + 1 < w->nit; i++)
		if (strcmp(v[i]->key, v[i + 1]->key) == 0)
			v[i]->kind = ITEM_DUP;
	free(v);
	return RS_OK;
}

/* Normalise every item of the page into w->it: text, title, key, hash. */
static enum rs_status
make_items(struct work *w, struct json_object *items,
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
	st = drop_dup_keys(w, err);
	goto out;
nomem:
	rs_errf(err, "out of memory");
	st = RS_ENOMEM;
out:
	rs_buf_free(&text);
	return st;
}

/* What the source stores of the page's items: new, changed or same. */
static enum rs_status
classify_items(struct batch_ctx *ctx, struct work *w, char *err)
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

		if (!ss[i].found) {
			t->kind = ITEM_NEW;
			continue;
		}
		t->seen_in_run = ss[i].seen_in_run;
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
static enum rs_status
items_not_modified(struct batch_ctx *ctx, struct work *w, char *err)
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
	if ((st = classify_items(ctx, w, err)) != RS_OK)
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
static enum rs_status
chunk_items(struct work *w, struct batch_result *res, char *err)
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
		t->p0 = w->np;
		for (j = 0; j < nch; j++)
			if ((st = add_pending(w, t->text + ch[j].off,
			    ch[j].len, i, (int)j, err)) != RS_OK)
				goto out;
		t->np = nch;
	}
	/* The chunks hold copies: the texts are no longer needed. */
	for (i = 0; i < w->nit; i++) {
		free(w->it[i].text);
		w->it[i].text = NULL;
	}
out:
	free(ch);
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
			w->p[map[i]].drop = w->p[map[i]].stored = 1;
out:
	free(h);
	free(map);
	free(ex);
	return st;
}

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

/* The page's item changes for STMT_ITEMS_APPLY, and the run's counts. */
static enum rs_status
items_input(struct work *w, const struct plan *pl, struct store_items *si,
    struct batch_result *res, char *err)
{
	const char	**k = NULL, **h = NULL, **c = NULL, **t = NULL;
	const char	**seen = NULL;
	size_t		 i, n = 0, ns = 0;
	struct item	*it;

	memset(si, 0, sizeof(*si));
	if (w->nit > 0 && ((k = calloc(w->nit, sizeof(*k))) == NULL ||
	    (h = calloc(w->nit, sizeof(*h))) == NULL ||
	    (c = calloc(w->nit, sizeof(*c))) == NULL ||
	    (t = calloc(w->nit, sizeof(*t))) == NULL ||
	    (seen = calloc(w->nit, sizeof(*seen))) == NULL)) {
		free(k);
		free(h);
		free(c);
		free(t);
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
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
			if (it->kind == ITEM_NEW)
				res->new_items++;
			else if (!it->seen_in_run)
				res->changed_items++;
			break;
		case ITEM_SAME:
			seen[ns++] = it->key;
			if (!it->seen_in_run)
				res->unchanged_items++;
			break;
		default:
			break;
		}
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

static void
items_input_free(struct store_items *si)
{
	free(si->keys);
	free(si->hashes);
	free(si->chunk_lists);
	free(si->titles);
	free(si->seen);
	memset(si, 0, sizeof(*si));
}

static void
page_plan_free(struct page_plan *pp)
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
static enum rs_status
store_plan(struct batch_ctx *ctx, struct work *w, const struct pager_next *nx,
    struct batch_result *res, char *err)
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
	res->done = nx->done;
	return RS_OK;
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
			if ((f = pre_find(w->pre, pp->sc[off + i].hash)) >= 0)
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
	sb->unchanged_items = res->unchanged_items;
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
static enum rs_status
store_commit(struct batch_ctx *ctx, struct work *w, const struct pager_next *nx,
    double deadline, struct batch_result *res, char *err)
{
	struct page_plan	*pp = &w->pp;
	struct store_batch	*sb = &pp->sb;
	struct store_commit	 cm;
	struct store_items_res	 sr;
	float			*emb = NULL;
	char			*detail = NULL;
	size_t			 off, m, n = pp->n;
	long long		 inserted = 0;
	double			 t;
	enum rs_status		 st = RS_ENOMEM;

	memset(&cm, 0, sizeof(cm));
	memset(&sr, 0, sizeof(sr));
	m = n < BATCH_GROUP ? n : BATCH_GROUP;
	if (n > 0 && (emb = rs_reallocarray(NULL, m,
	    sizeof(float) * (size_t)embed_dims(ctx->em))) == NULL) {
		rs_errf(err, "out of memory");
		goto out;
	}
	for (off = 0; off < n || (n == 0 && off == 0); off += BATCH_GROUP) {
		m = n - off < BATCH_GROUP ? n - off : BATCH_GROUP;
		if (m > 0 && (st = plan_vectors(ctx, w, off, m, emb, deadline,
		    res, err)) != RS_OK)
			goto out;
		for (size_t i = 0; i < m; i++)
			pp->sc[off + i].embedding = emb + i *
			    (size_t)embed_dims(ctx->em);
		t = rs_now_ms();
		if (!w->in_tx && (st = commit_begin(ctx, w, res, &sr, err)) !=
		    RS_OK)
			goto out;
		sb->chunks = pp->sc + off;
		sb->nchunks = m;
		sb->advance = off + BATCH_GROUP >= n;
		sb->prior_inserted = inserted;
		/* The audit detail: every stage but the commit (the
		 * statement adds "inserted"). */
		if (sb->advance && (sb->detail = detail =
		    audit_detail(res)) == NULL) {
			rs_errf(err, "out of memory");
			st = RS_ENOMEM;
			goto out;
		}
		if ((st = store_commit_batch(ctx->st, sb, &cm, err)) != RS_OK)
			goto out;
		res->ms.commit += rs_now_ms() - t;
		inserted += cm.inserted;
		if (n == 0)
			break;
	}
	if ((st = incr_commit(ctx->st, &w->inc, w->src.id, w->run_id,
	    nx->done, err)) != RS_OK)
		goto out;
	if (nx->done && w->run_id[0] != '\0' &&
	    (st = commit_sweep(ctx, w, res, err)) != RS_OK)
		goto out;
	t = rs_now_ms();
	if ((st = store_tx(ctx->st, STORE_COMMIT, err)) != RS_OK)
		goto out;
	res->ms.commit += rs_now_ms() - t;
	w->in_tx = 0;
	res->inserted = inserted;
	/* Rows a concurrent writer stored first count as skipped. */
	res->skipped += (long long)n - inserted;
	res->page_count = cm.page_count;
	res->item_count = cm.item_count;
	/* The cursor's count, less what the sweep deleted after it. */
	res->chunk_count = cm.chunk_count - (res->chunks_deleted -
	    sr.chunks_deleted);
	st = RS_OK;
out:
	if (w->in_tx)
		(void)store_tx(ctx->st, STORE_ROLLBACK, NULL);
	w->in_tx = 0;
	free(emb);
	free(detail);
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
	others[n++] = sv->client_id;
	others[n++] = sv->client_secret;
	others[n++] = sv->access;
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
static enum rs_status
parse_page(struct work *w, struct json_object **items, char *err)
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

/*
 * 1. Load and lock the source; the run the batch belongs to; config,
 * secret, headers.  *idle: the source is done, nothing to fetch.
 */
static enum rs_status
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
	if ((st = cfg_parse(w->src.config, strlen(w->src.config), &w->cfg,
	    err)) != RS_OK) {
		if (st == RS_EINPUT && err != NULL) {
			char	 tmp[RS_ERRLEN];

			(void)snprintf(tmp, sizeof(tmp), "%s", err);
			rs_errf(err, "source config: %s", tmp);
		}
		return st;
	}
	if ((st = load_secret(ctx->st, w, err)) != RS_OK ||
	    (st = batch_oauth(ctx, w, deadline, 0, err)) != RS_OK)
		return st;
	return build_headers(w, err);
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
	if (w->src.page_next != NULL &&
	    (nx->next = strdup(w->src.page_next)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	res->items = w->src.page_items;
	return items_not_modified(ctx, w, err);
}

/* 3. The page's URL, and the page (retried until deadline). */
static enum rs_status
batch_fetch(struct batch_ctx *ctx, struct work *w, double deadline,
    struct pager_next *nx, struct batch_result *res, char *err)
{
	struct fetch_req	 fr;
	struct fetch_policy	 pol;
	struct rl_gate		 gate;
	enum rs_status		 st;
	char			 excerpt[300], note[RS_ERRLEN];
	const char		*key = w->sv.api_key != NULL ? w->sv.api_key :
				    w->sv.token;
	double			 t;

	if ((st = pager_url(&w->cfg, w->src.next_cursor, key, &w->url,
	    err)) != RS_OK)
		return st;
	/* The incremental param: a pipelined page goes on with its run's
	 * state, a batch loads it (incremental.h). */
	if ((st = w->inc_from != NULL ? incr_carry(&w->cfg, w->inc_from,
	    &w->inc, &w->url, err) : incr_prepare(ctx->st, &w->cfg,
	    w->src.id, w->run_id, w->src.next_cursor == NULL, &w->inc,
	    &w->url, err)) != RS_OK)
		return st;
	if ((res->url = strdup(w->url)) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	redact(&res->url, &w->sv);
	memset(&fr, 0, sizeof(fr));
	fr.method = "GET";
	fr.url = w->url;
	fr.timeout_ms = w->cfg.timeout_ms;	/* timeoutMs (config.h) */
	fr.max_body = w->cfg.max_body;
	fr.check_addr = 1;
	/* Every exchange drawn from the rateLimit budget (ratelimit.h). */
	rl_gate_init(&gate, ctx->st, &w->cfg, w->src.tenant_id, w->src.id,
	    deadline, w->cfg.timeout_ms);
	fr.gate = rl_gate;
	fr.gate_arg = &gate;
	if ((st = bodytpl_request(&w->cfg, w->src.next_cursor, key, &w->body,
	    &w->body_len, &fr, err)) != RS_OK ||
	    (st = add_conditional(w, err)) != RS_OK)
		return st;
	fr.headers = (const char *const *)w->hdrs;
	pol.deadline = deadline;
	pol.max_attempts = BATCH_MAX_ATTEMPTS;
	pol.base_delay_ms = 250;
	pol.max_delay_ms = 4000;
	note[0] = '\0';
	t = rs_now_ms();
	st = fetch_retry(ctx->fx, &fr, &pol, &w->resp, &res->attempts, note);
	if (st == RS_OK && w->resp.status == 401 &&
	    w->cfg.auth == CFG_AUTH_OAUTH2)
		st = oauth_refetch(ctx, w, &fr, &pol, res, note);
	res->ms.fetch = rs_now_ms() - t;
	res->status = w->resp.status;
	res->fetched = 1;
	res->retry_after = gate.retry_after_s;
	res->rate_wait_ms = gate.waited_ms;
	if (st != RS_OK) {
		rs_errf(err, "%s%s", note, res->attempts > 1 ?
		    " (after retries)" : "");
		return st;
	}
	if (w->resp.status == 304 && w->sent_validators)
		return fetch_not_modified(ctx, w, nx, res, err);
	if (w->resp.status < 200 || w->resp.status > 299) {
		body_excerpt(&w->resp.body, &w->sv, excerpt, sizeof(excerpt));
		if (w->resp.status == 304)
			rs_errf(err, "upstream answered 304 Not Modified to a "
			    "request without validators");
		else
			rs_errf(err, "upstream returned HTTP %ld%s%s%s",
			    w->resp.status, res->attempts > 1 ?
			    " after retries" : "", note[0] ? "; " : "",
			    note[0] ? note : excerpt);
		return RS_EUPSTREAM;
	}
	return RS_OK;
}

/*
 * 4. Parse (under a memory budget, jsonbound.h), find, normalise, key
 * and hash the items; 8. the next cursor, stored and shown without
 * secrets.  The tree and the body are dropped at the end: the page is in
 * w->it now.  A 304 page has its items and cursor already.
 */
static enum rs_status
batch_parse(struct work *w, struct pager_next *nx, struct batch_result *res,
    char *err)
{
	struct json_object	*items;
	struct pager_page	 pg;
	enum rs_status		 st;
	double			 t = rs_now_ms();

	if (!w->not_modified) {
		if ((st = parse_page(w, &items, err)) != RS_OK)
			return st;
		res->items = (long long)json_object_array_length(items);
		res->ms.parse = rs_now_ms() - t;
		incr_page(&w->inc, w->cfg.incremental, items);
		if ((st = make_items(w, items, res, err)) != RS_OK)
			return st;
		memset(&pg, 0, sizeof(pg));
		pg.cursor = w->src.next_cursor;
		pg.body = w->root;
		pg.nitems = (size_t)res->items;
		pg.items_before = w->src.item_count;
		pg.pages_before = w->src.page_count;
		pg.link = w->resp.link;
		/* RFC 3986 §5.1.3: relative links resolve against the URL
		 * the page was retrieved from, after (same-origin)
		 * redirects. */
		pg.url = w->resp.url != NULL ? w->resp.url : w->url;
		if ((st = pager_next(&w->cfg, &pg, nx, err)) != RS_OK)
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
	redact(&res->next, &w->sv);
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
static enum rs_status
batch_plan(struct batch_ctx *ctx, struct work *w, const struct pager_next *nx,
    struct batch_result *res, char *err)
{
	enum rs_status	 st;
	double		 t;

	if (!w->not_modified) {
		t = rs_now_ms();
		if ((st = classify_items(ctx, w, err)) != RS_OK)
			return st;
		res->ms.items = rs_now_ms() - t;
		if ((st = chunk_items(w, res, err)) != RS_OK)
			return st;
		res->chunks = (long long)w->np;
		t = rs_now_ms();
		if ((st = hash_chunks(w, err)) != RS_OK)
			return st;
		res->ms.hash = rs_now_ms() - t;
		t = rs_now_ms();
		if ((st = dedup_stored(ctx, w, err)) != RS_OK)
			return st;
		res->ms.dedup = rs_now_ms() - t;
	}
	return store_plan(ctx, w, nx, res, err);
}

/*
 * 10. Record the failure (a separate write; the batch wrote nothing).
 * Secrets never reach the message.
 */
static void
batch_fail(struct batch_ctx *ctx, struct work *w, enum rs_status st,
    struct batch_result *res, char *err)
{
	char	*detail;

	redact_buf(err, &w->sv);
	if (st == RS_EBUSY || st == RS_EDISABLED || st == RS_ENOTFOUND ||
	    st == RS_ERATE || !w->locked)
		return;
	detail = audit_detail(res);
	(void)store_record_error(ctx->st, w->src.tenant_id, w->src.id,
	    (int)res->status, err != NULL ? err : "batch failed", w->actor,
	    w->action, detail, NULL);
	free(detail);
}

static void
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
	    (st = store_commit(ctx, &w, &nx, deadline, res, err)) != RS_OK)
		goto fail;
	goto out;
fail:
	batch_fail(ctx, &w, st, res, err);
out:
	if (w.locked)
		store_unlock_source(ctx->st, source_id);
	pager_next_free(&nx);
	work_free(&w);
	res->db_trips = store_round_trips(ctx->st) - trips0;
	res->ms.total = rs_now_ms() - t0;
	return st;
}

/* ---- pipelined runs (docs/RUNS.md, "Pipelining inside a run") ---- */

#define PIPE_MAX_PAGES	4	/* pages in flight: memory is 4 pages */


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

static int
cmp_hex(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The index of hash's vector in pr, or -1. */
static int
pre_find(const struct pre *pr, const char *hash)
{
	const char	(*f)[HASH_HEXLEN + 1];

	if (pr->n == 0)
		return -1;
	f = bsearch(hash, pr->h, pr->n, sizeof(*pr->h), cmp_hex);
	return f == NULL ? -1 : (int)(f - pr->h);
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
		if (*n >= BATCH_MAX_CHUNKS) {
			rs_errf(err, "page makes more than %d chunks",
			    BATCH_MAX_CHUNKS);
			st = RS_EUPSTREAM;
			break;
		}
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			if ((nc = rs_reallocarray(*c, *cap, sizeof(**c))) ==
			    NULL) {
				rs_errf(err, "out of memory");
				st = RS_ENOMEM;
				break;
			}
			*c = nc;
		}
		(*c)[*n].s = t->text + ch[j].off;
		(*c)[*n].len = ch[j].len;
		hash_sha256_hex((*c)[*n].s, (*c)[*n].len, (*c)[*n].hash);
		(*n)++;
	}
	free(ch);
	return st;
}

/*
 * The page's chunks that may need a vector: those of every item (but a
 * key that comes again later in the page), distinct, not stored by the
 * source (one query), and not embedded ahead for a page before it.
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
	for (i = 0; st == RS_OK && i < w->nit; i++)
		if (w->it[i].kind != ITEM_DUP)
			st = cand_item(&w->it[i], c, n, &cap, err);
	if (st != RS_OK || *n == 0)
		return st;
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
			ahead = pre_find(&pp->q[(pp->head + q) %
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
	    n == 0)
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
		st = store_commit(pp->ctx, w, &pg->nx, rs_now_ms() +
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
	work_free(&pg->w);
	batch_result_free(&pg->res);
	free(pg);
}

/* Drop the head page (committed, or discarded with the rest). */
static void
pipe_pop(struct pipe *pp)
{
	pipe_page_free(pp, pp->q[pp->head]);
	pp->q[pp->head] = NULL;
	pp->head = (pp->head + 1) % PIPE_MAX_PAGES;
	pp->n--;
}

/* Fetch ahead while there is room, unless the head page can commit. */
static int
pipe_may_fetch(struct pipe *pp)
{
	const struct pipe_page	*h;

	if (!pp->more || pp->n >= PIPE_MAX_PAGES)
		return 0;
	if (pp->n == 0)
		return 1;
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
	work_free(&pp.r);
	batch_result_free(&lres);
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
	json_object_object_add(o, "runId", r->run_id[0] != '\0' ?
	    json_object_new_string(r->run_id) : NULL);
	json_object_object_add(o, "newItems",
	    json_object_new_int64(r->new_items));
	json_object_object_add(o, "changedItems",
	    json_object_new_int64(r->changed_items));
	json_object_object_add(o, "unchangedItems",
	    json_object_new_int64(r->unchanged_items));
	json_object_object_add(o, "removedItems",
	    json_object_new_int64(r->removed_items));
	json_object_object_add(o, "chunksDeleted",
	    json_object_new_int64(r->chunks_deleted));
	json_object_object_add(o, "embedInputs",
	    json_object_new_int64(r->embed_inputs));
	json_object_object_add(o, "sweep", r->sweep[0] != '\0' ?
	    json_object_new_string(r->sweep) : NULL);
	json_object_object_add(o, "sweepNote", r->sweep_note[0] != '\0' ?
	    json_object_new_string(r->sweep_note) : NULL);
	ms = json_object_new_object();
	json_object_object_add(ms, "load", ms_json(r->ms.load));
	json_object_object_add(ms, "fetch", ms_json(r->ms.fetch));
	json_object_object_add(ms, "parse", ms_json(r->ms.parse));
	json_object_object_add(ms, "normalize", ms_json(r->ms.normalize));
	json_object_object_add(ms, "items", ms_json(r->ms.items));
	json_object_object_add(ms, "chunk", ms_json(r->ms.chunk));
	json_object_object_add(ms, "hash", ms_json(r->ms.hash));
	json_object_object_add(ms, "dedup", ms_json(r->ms.dedup));
	json_object_object_add(ms, "embed", ms_json(r->ms.embed));
	json_object_object_add(ms, "commit", ms_json(r->ms.commit));
	json_object_object_add(ms, "sweep", ms_json(r->ms.sweep));
	json_object_object_add(ms, "total", ms_json(r->ms.total));
	json_object_object_add(o, "ms", ms);
	return o;
}

/* ---- rest-preview: a dry run of one page (writes and embeds nothing) -- */

/*
 * The secret a preview uses: an apiKey from the request (encrypted for
 * the tenant and provider, so load_secret checks it like a stored one),
 * or the stored one.  *ct and *nonce are what w->src points at (freed by
 * the caller, never by store_source_free).
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
	return load_secret(NULL, w, err);	/* a dry run: as loaded */
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
	char			 note[RS_ERRLEN], excerpt[300];
	int			 attempts = 0;
	double			 t = rs_now_ms();
	enum rs_status		 st;

	memset(&fr, 0, sizeof(fr));
	fr.method = "GET";
	fr.url = w->url;
	fr.headers = (const char *const *)w->hdrs;
	fr.timeout_ms = BATCH_FETCH_TIMEOUT_MS;
	fr.max_body = w->cfg.max_body;
	fr.check_addr = 1;
	if ((st = bodytpl_request(&w->cfg, cursor, w->sv.api_key != NULL ?
	    w->sv.api_key : w->sv.token, &w->body, &w->body_len, &fr,
	    err)) != RS_OK)
		return st;
	pol.deadline = deadline;
	pol.max_attempts = BATCH_MAX_ATTEMPTS;
	pol.base_delay_ms = 250;
	pol.max_delay_ms = 4000;
	note[0] = '\0';
	st = fetch_retry(ctx->fx, &fr, &pol, &w->resp, &attempts, note);
	json_object_object_add(out, "status", w->resp.status > 0 ?
	    json_object_new_int((int)w->resp.status) : NULL);
	json_object_object_add(out, "attempts", json_object_new_int(attempts));
	json_object_object_add(out, "fetchMs", json_object_new_double(
	    rs_now_ms() - t));
	if (st != RS_OK) {
		rs_errf(err, "%s%s", note, attempts > 1 ? " (after retries)" :
		    "");
		return st;
	}
	if (w->resp.status < 200 || w->resp.status > 299) {
		body_excerpt(&w->resp.body, &w->sv, excerpt, sizeof(excerpt));
		rs_errf(err, "upstream returned HTTP %ld%s%s", w->resp.status,
		    attempts > 1 ? " after retries" : "", excerpt);
		return RS_EUPSTREAM;
	}
	return RS_OK;
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
	struct pager_page	 pg;
	struct pager_next	 nx;
	enum rs_status		 st;
	double			 t = rs_now_ms();

	memset(&res, 0, sizeof(res));
	memset(&nx, 0, sizeof(nx));
	if ((st = parse_page(w, &items, err)) != RS_OK)
		goto out;
	json_object_object_add(out, "items", json_object_new_int64(
	    (int64_t)json_object_array_length(items)));
	if ((st = make_items(w, items, &res, err)) != RS_OK ||
	    (st = preview_items(w, out, err)) != RS_OK)
		goto out;
	memset(&pg, 0, sizeof(pg));
	pg.cursor = rq->cursor;
	pg.body = w->root;
	pg.nitems = json_object_array_length(items);
	pg.items_before = rq->items_before;
	pg.pages_before = rq->pages_before;
	pg.link = w->resp.link;
	pg.url = w->resp.url != NULL ? w->resp.url : w->url;
	if ((st = pager_next(&w->cfg, &pg, &nx, err)) != RS_OK)
		goto out;
	redact(&nx.next, &w->sv);
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
	if ((st = cfg_parse(rq->config, strlen(rq->config), &w.cfg, err)) !=
	    RS_OK) {
		if (st == RS_EINPUT && err != NULL) {
			char	 tmp[RS_ERRLEN];

			(void)snprintf(tmp, sizeof(tmp), "%s", err);
			rs_errf(err, "config: %s", tmp);
		}
		goto out;
	}
	if ((st = preview_secret(&w, rq, &ct, &nonce, err)) != RS_OK ||
	    (st = batch_oauth(ctx, &w, t0 + BATCH_DEADLINE_MS, 0, err)) !=
	    RS_OK || (st = build_headers(&w, err)) != RS_OK ||
	    (st = pager_url(&w.cfg, rq->cursor, w.sv.api_key != NULL ?
	    w.sv.api_key : w.sv.token, &w.url, err)) != RS_OK ||
	    (st = incr_preview(&w.cfg, &w.url, err)) != RS_OK)
		goto out;
	if ((url = strdup(w.url)) == NULL) {
		rs_errf(err, "out of memory");
		st = RS_ENOMEM;
		goto out;
	}
	redact(&url, &w.sv);
	json_object_object_add(*out, "url", json_object_new_string(url));
	if ((st = preview_fetch(ctx, &w, rq->cursor, t0 + BATCH_DEADLINE_MS,
	    *out, err)) != RS_OK)
		goto out;
	st = preview_page(&w, rq, *out, err);
out:
	redact_buf(err, &w.sv);
	json_object_object_add(*out, "totalMs",
	    json_object_new_double(rs_now_ms() - t0));
	w.src.secret_ct = w.src.secret_nonce = NULL;
	free(ct);
	free(nonce);
	free(url);
	work_free(&w);
	return st;
}
