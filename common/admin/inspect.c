/*
 * inspect.c — items, an item's chunks, search, and the tenant lookup of
 * a preview (see inspect.h).  One static SQL table; the connection is
 * the store's.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "config.h"
#include "db.h"
#include "http_fetch.h"
#include "inspect.h"

#define OID_UUIDARRAY	2951
#define INSP_QS_MAX	2048	/* bytes of a query string */

enum insp_stmt {
	INSP_SOURCE,
	INSP_TENANT,
	INSP_ITEMS,
	INSP_ITEM,
	INSP_ITEM_CHUNKS,
	INSP_SCAN_SOURCE,
	INSP_SCAN_TENANT,
	INSP_VEC_SOURCE,
	INSP_VEC_TENANT,
	INSP_HITS,
	INSP_SECRET,
	INSP_PREVIEW_SOURCE,
	INSP__MAX
};

#define INSP_ISO(x) "to_char(" x " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

#define INSP_ITEM_JSON \
	"json_build_object('key', i.item_key, 'title', i.title, " \
	"'chunks', cardinality(i.chunk_hashes), " \
	"'firstSeenAt', " INSP_ISO("i.first_seen_at") ", " \
	"'lastSeenAt', " INSP_ISO("i.last_seen_at") ", " \
	"'changedAt', " INSP_ISO("i.changed_at") ")::text "

/* Chunks in scope: $2 a role ('' any), $3 the deployment's model (a
 * chunk without embeddingModel predates the field: taken as current). */
#define INSP_SCOPE \
	"AND k.embedding IS NOT NULL " \
	"AND ($2::text = '' OR $2::text = ANY (k.allowed_roles)) " \
	"AND coalesce(k.metadata->>'embeddingModel', $3::text) = $3::text "

static const char *const insp_stmts[INSP__MAX] = {
	/* INSP_SOURCE */
	"SELECT tenant_id FROM kb_sources WHERE id = $1::uuid "
	"AND type = 'rest'",
	/* INSP_TENANT */
	"SELECT 1 FROM tenants WHERE id = $1::uuid",
	/* INSP_ITEMS: keyset over the primary key (source_id, item_key). */
	"SELECT " INSP_ITEM_JSON
	"FROM kb_rest_items i WHERE i.source_id = $1::uuid "
	"AND i.item_key > $2::text ORDER BY i.item_key LIMIT $3::int",
	/* INSP_ITEM */
	"SELECT " INSP_ITEM_JSON
	"FROM kb_rest_items i WHERE i.source_id = $1::uuid "
	"AND i.item_key = $2::text",
	/* INSP_ITEM_CHUNKS: the item's chunks in its order, one probe of
	 * (source_id, content_hash) each. */
	"SELECT json_build_object('position', h.ord, "
	"    'chunkIndex', k.chunk_idx, 'docTitle', d.title, "
	"    'title', k.title, 'content', k.content, "
	"    'contentHash', k.content_hash, 'allowedRoles', k.allowed_roles, "
	"    'embeddingModel', k.metadata->>'embeddingModel')::text "
	"FROM kb_rest_items i "
	"CROSS JOIN LATERAL unnest(i.chunk_hashes) "
	"    WITH ORDINALITY h(hash, ord) "
	"CROSS JOIN LATERAL (SELECT * FROM kb_chunks c "
	"    WHERE c.source_id = i.source_id AND c.content_hash = h.hash "
	"    LIMIT 1) k "
	"JOIN kb_docs d ON d.id = k.doc_id "
	"WHERE i.source_id = $1::uuid AND i.item_key = $2::text "
	"ORDER BY h.ord LIMIT $3::int",
	/* INSP_SCAN_SOURCE: streamed in binary (id uuid, embedding: float32
	 * little-endian bytea, sql/012; real[] before it). */
	"SELECT k.id, k.embedding FROM kb_chunks k "
	"WHERE k.source_id = $1::uuid " INSP_SCOPE,
	/* INSP_SCAN_TENANT */
	"SELECT k.id, k.embedding FROM kb_chunks k "
	"WHERE k.tenant_id = $1::uuid " INSP_SCOPE,
	/* INSP_VEC_SOURCE: pgvector's cosine distance, over vectors of the
	 * query's size $6 only (<=> refuses two sizes; sql/011: the column
	 * holds any size, each chunk the one of its model). */
	"SELECT k.id::text, (1 - (k.embedding <=> $4::text::vector))::float4 "
	"FROM kb_chunks k WHERE k.source_id = $1::uuid " INSP_SCOPE
	"AND vector_dims(k.embedding) = $6::int "
	"ORDER BY k.embedding <=> $4::text::vector LIMIT $5::int",
	/* INSP_VEC_TENANT */
	"SELECT k.id::text, (1 - (k.embedding <=> $4::text::vector))::float4 "
	"FROM kb_chunks k WHERE k.tenant_id = $1::uuid " INSP_SCOPE
	"AND vector_dims(k.embedding) = $6::int "
	"ORDER BY k.embedding <=> $4::text::vector LIMIT $5::int",
	/* INSP_HITS: what the page shows of each hit, in the given order. */
	"SELECT json_build_object('excerpt', left(k.content, $2::int), "
	"    'docTitle', d.title, 'title', k.title, "
	"    'itemKey', k.metadata->>'itemKey', 'chunkIndex', k.chunk_idx, "
	"    'itemChunkIndex', k.metadata->'chunkIndex', "
	"    'allowedRoles', k.allowed_roles, 'sourceId', k.source_id, "
	"    'embeddingModel', k.metadata->>'embeddingModel')::text "
	"FROM unnest($1::uuid[]) WITH ORDINALITY u(id, ord) "
	"JOIN kb_chunks k ON k.id = u.id JOIN kb_docs d ON d.id = k.doc_id "
	"ORDER BY u.ord",
	/* INSP_SECRET: binary result (bytea). */
	"SELECT t.id, s.ciphertext, s.nonce, s.aad_version FROM tenants t "
	"LEFT JOIN integration_secrets s ON s.tenant_id = t.id "
	"      AND s.provider = $2::text AND s.origin = $3::text "
	"WHERE t.id = $1::uuid",
	/* INSP_PREVIEW_SOURCE */
	"SELECT s.tenant_id, s.title, s.config::text, c.next_cursor, "
	"       coalesce(c.done, false), coalesce(c.page_count, 0), "
	"       coalesce(c.item_count, 0) "
	"FROM kb_sources s LEFT JOIN kb_rest_cursors c ON c.source_id = s.id "
	"WHERE s.id = $1::uuid AND s.type = 'rest'",
};

static const struct db_table insp_table = {
	"insp", insp_stmts, INSP__MAX, 0
};

struct insp_db {
	struct store	*st;
};

enum rs_status
insp_open(struct insp_db **out, struct store *st, char *err)
{
	*out = NULL;
	if ((*out = calloc(1, sizeof(**out))) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	(*out)->st = st;
	return RS_OK;
}

void
insp_close(struct insp_db *db)
{
	free(db);
}

/*
 * Run statement s (text parameters; results in format fmt).  A lost
 * connection is reopened and the statement (a read) retried once.
 */
static PGresult *
insp_run(struct insp_db *db, enum insp_stmt s, int n,
    const char *const *vals, int fmt, char *err)
{
	struct db_args	 a;

	memset(&a, 0, sizeof(a));
	a.n = n;
	a.vals = vals;
	a.result_fmt = fmt;
	return db_run(store_db(db->st), &insp_table, (size_t)s, &a,
	    DB_RETRY_ALWAYS, err);
}

/* RS_ENOTFOUND ("no such <what>") unless statement s finds id. */
static enum rs_status
insp_exists(struct insp_db *db, enum insp_stmt s, const char *id,
    const char *what, char *err)
{
	PGresult	*r;
	const char	*v[1] = { id };
	enum rs_status	 st = RS_OK;

	if ((r = insp_run(db, s, 1, v, 0, err)) == NULL)
		return RS_EDB;
	if (PQntuples(r) != 1) {
		rs_errf(err, "no such %s", what);
		st = RS_ENOTFOUND;
	}
	PQclear(r);
	return st;
}

/* RS_ENOTFOUND unless source id is a REST source. */
static enum rs_status
insp_source_exists(struct insp_db *db, const char *id, char *err)
{
	return insp_exists(db, INSP_SOURCE, id, "source", err);
}

/* ---- query strings ------------------------------------------------------ */

/*
 * Percent-decode s[0..n) ('+' is a space) into out (outsz bytes, NUL
 * terminated).  -1 on a bad escape, a NUL byte, or when it does not fit.
 */
static int
insp_decode(const char *s, size_t n, char *out, size_t outsz)
{
	size_t	 i, o = 0;
	int	 hi, lo, c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			if (i + 2 >= n)
				return -1;
			if ((hi = rs_hexval(s[i + 1])) < 0 ||
			    (lo = rs_hexval(s[i + 2])) < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || o + 1 >= outsz)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* A decimal integer from..to in s[0..n), no sign, no leading zero. */
static int
insp_int(const char *s, size_t n, int from, int to, int *out)
{
	size_t	 i;
	long	 v = 0;

	if (n == 0 || n > 6 || s[0] == '0')
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < from || v > to)
		return -1;
	*out = (int)v;
	return 0;
}

/* Parameter names of rest-items and where each goes. */
enum insp_param { P_SOURCE, P_AFTER, P_LIMIT, P_KEY, P__MAX };

static const char *const insp_params[P__MAX] = {
	"sourceId", "after", "limit", "key"
};

/* One name=value of rest-items into q; seen[] counts each name. */
static enum rs_status
insp_items_param(const char *p, size_t klen, const char *val, size_t vlen,
    struct insp_items_query *q, int seen[P__MAX], char *err)
{
	char	 tmp[INSP_KEY_MAX + 1];
	int	 i;

	for (i = 0; i < P__MAX; i++)
		if (strlen(insp_params[i]) == klen &&
		    memcmp(insp_params[i], p, klen) == 0)
			break;
	if (i == P__MAX) {
		rs_errf(err, "unknown parameter '%.*s'", klen <= 32 ?
		    (int)klen : 32, p);
		return RS_EINPUT;
	}
	if (seen[i]++) {
		rs_errf(err, "'%s' given twice", insp_params[i]);
		return RS_EINPUT;
	}
	switch (i) {
	case P_SOURCE:
		if (insp_decode(val, vlen, tmp, sizeof(tmp)) == -1 ||
		    !rs_is_uuid(tmp)) {
			rs_errf(err, "'sourceId' must be a UUID");
			return RS_EINPUT;
		}
		memcpy(q->source_id, tmp, sizeof(q->source_id));
		break;
	case P_LIMIT:
		if (insp_int(val, vlen, 1, INSP_ITEMS_MAX, &q->limit) == -1) {
			rs_errf(err, "'limit' must be an integer from 1 to %d",
			    INSP_ITEMS_MAX);
			return RS_EINPUT;
		}
		break;
	default:
		if (insp_decode(val, vlen, i == P_KEY ? q->key : q->after,
		    INSP_KEY_MAX + 1) == -1) {
			rs_errf(err, "'%s' must be a percent-encoded item key "
			    "of at most %d bytes", insp_params[i],
			    INSP_KEY_MAX);
			return RS_EINPUT;
		}
		if (i == P_KEY && q->key[0] == '\0') {
			rs_errf(err, "'key' must not be empty");
			return RS_EINPUT;
		}
		break;
	}
	return RS_OK;
}

enum rs_status
insp_parse_items_query(const char *qs, struct insp_items_query *q,
    char *err)
{
	const char	*p, *amp, *eq;
	int		 seen[P__MAX] = { 0 };
	enum rs_status	 st = RS_EINPUT;

	memset(q, 0, sizeof(*q));
	q->limit = INSP_ITEMS_DEFAULT;
	if (qs == NULL)
		qs = "";
	if (strlen(qs) > INSP_QS_MAX) {
		rs_errf(err, "query string too long");
		goto fail;
	}
	for (p = qs; *qs != '\0'; p = amp + 1) {
		amp = p + strcspn(p, "&");
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL) {
			rs_errf(err, "query parameters must be name=value");
			goto fail;
		}
		if ((st = insp_items_param(p, (size_t)(eq - p), eq + 1,
		    (size_t)(amp - eq - 1), q, seen, err)) != RS_OK)
			goto fail;
		st = RS_EINPUT;
		if (*amp == '\0')
			break;
	}
	if (!seen[P_SOURCE]) {
		rs_errf(err, "'sourceId' is required");
		goto fail;
	}
	if (seen[P_KEY] && (seen[P_AFTER] || seen[P_LIMIT])) {
		rs_errf(err, "'key' cannot be combined with 'after' or "
		    "'limit'");
		goto fail;
	}
	return RS_OK;
fail:
	memset(q, 0, sizeof(*q));
	q->limit = INSP_ITEMS_DEFAULT;
	return st;
}

/* ---- items -------------------------------------------------------------- */

enum rs_status
insp_items(struct insp_db *db, const struct insp_items_query *q,
    struct json_object **out, char *err)
{
	struct json_object	*arr, *o;
	PGresult		*r;
	const char		*v[3];
	char			 lim[16];
	int			 i, n;
	enum rs_status		 st;

	*out = NULL;
	if ((st = insp_source_exists(db, q->source_id, err)) != RS_OK)
		return st;
	(void)snprintf(lim, sizeof(lim), "%d", q->limit + 1);
	v[0] = q->source_id;
	v[1] = q->after;
	v[2] = lim;
	if ((r = insp_run(db, INSP_ITEMS, 3, v, 0, err)) == NULL)
		return RS_EDB;
	n = PQntuples(r) > q->limit ? q->limit : PQntuples(r);
	arr = json_object_new_array_ext(n);
	for (i = 0; i < n; i++)
		json_object_array_add(arr,
		    json_tokener_parse(PQgetvalue(r, i, 0)));
	*out = json_object_new_object();
	json_object_object_add(*out, "items", arr);
	/* One more row than asked for: there is a next page. */
	o = NULL;
	if (PQntuples(r) > q->limit && n > 0) {
		struct json_object *last = json_object_array_get_idx(arr,
		    (size_t)n - 1), *k;

		if (json_object_object_get_ex(last, "key", &k))
			o = json_object_get(k);
	}
	json_object_object_add(*out, "next", o);
	PQclear(r);
	return RS_OK;
}

enum rs_status
insp_item_chunks(struct insp_db *db, const struct insp_items_query *q,
    struct json_object **out, char *err)
{
	struct json_object	*arr;
	PGresult		*r = NULL;
	const char		*v[3];
	char			 lim[16];
	int			 i;
	enum rs_status		 st;

	*out = NULL;
	if ((st = insp_source_exists(db, q->source_id, err)) != RS_OK)
		return st;
	v[0] = q->source_id;
	v[1] = q->key;
	if ((r = insp_run(db, INSP_ITEM, 2, v, 0, err)) == NULL)
		return RS_EDB;
	if (PQntuples(r) != 1) {
		PQclear(r);
		rs_errf(err, "no such item");
		return RS_ENOTFOUND;
	}
	*out = json_object_new_object();
	json_object_object_add(*out, "item",
	    json_tokener_parse(PQgetvalue(r, 0, 0)));
	PQclear(r);
	(void)snprintf(lim, sizeof(lim), "%d", INSP_ITEM_CHUNKS_MAX);
	v[2] = lim;
	if ((r = insp_run(db, INSP_ITEM_CHUNKS, 3, v, 0, err)) == NULL) {
		json_object_put(*out);
		*out = NULL;
		return RS_EDB;
	}
	arr = json_object_new_array_ext(PQntuples(r));
	for (i = 0; i < PQntuples(r); i++)
		json_object_array_add(arr,
		    json_tokener_parse(PQgetvalue(r, i, 0)));
	json_object_object_add(*out, "chunks", arr);
	PQclear(r);
	return RS_OK;
}

/* ---- search: validation ------------------------------------------------- */

static int
insp_role_ok(const char *s)
{
	size_t	 i, n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '-' || s[i] == '.' || s[i] == ':'))
			return 0;
	return 1;
}

/* A UUID field of body into id ("" when absent).  RS_EINPUT. */
static enum rs_status
insp_uuid(struct json_object *body, const char *name, char id[37],
    char *err)
{
	struct json_object	*v;

	id[0] = '\0';
	if (!json_object_object_get_ex(body, name, &v))
		return RS_OK;
	if (!json_object_is_type(v, json_type_string) ||
	    !rs_is_uuid(json_object_get_string(v))) {
		rs_errf(err, "'%s' must be a UUID", name);
		return RS_EINPUT;
	}
	(void)snprintf(id, 37, "%s", json_object_get_string(v));
	return RS_OK;
}

enum rs_status
insp_parse_search(struct json_object *body, struct insp_search *s,
    char *err)
{
	static const char *const keys[] =
	    { "sourceId", "tenantId", "query", "role", "k", NULL };
	struct json_object_iterator	 it, end;
	struct json_object		*v;
	const char			*name, *q;
	size_t				 i;

	memset(s, 0, sizeof(*s));
	s->k = INSP_K_DEFAULT;
	it = json_object_iter_begin(body);
	end = json_object_iter_end(body);
	for (; !json_object_iter_equal(&it, &end);
	    json_object_iter_next(&it)) {
		name = json_object_iter_peek_name(&it);
		for (i = 0; keys[i] != NULL; i++)
			if (strcmp(keys[i], name) == 0)
				break;
		if (keys[i] == NULL) {
			rs_errf(err, "unknown field '%.64s'", name);
			goto fail;
		}
	}
	if (insp_uuid(body, "sourceId", s->source_id, err) != RS_OK ||
	    insp_uuid(body, "tenantId", s->tenant_id, err) != RS_OK)
		goto fail;
	if ((s->source_id[0] == '\0') == (s->tenant_id[0] == '\0')) {
		rs_errf(err, "give exactly one of 'sourceId' and 'tenantId'");
		goto fail;
	}
	if (!json_object_object_get_ex(body, "query", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) < 1 ||
	    json_object_get_string_len(v) > INSP_QUERY_MAX) {
		rs_errf(err, "'query' must be a string of 1 to %d bytes",
		    INSP_QUERY_MAX);
		goto fail;
	}
	q = json_object_get_string(v);
	if (strlen(q) != (size_t)json_object_get_string_len(v)) {
		rs_errf(err, "'query' must not contain a NUL character");
		goto fail;
	}
	if (json_object_object_get_ex(body, "role", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_string) ||
		    !insp_role_ok(json_object_get_string(v))) {
			rs_errf(err, "'role' must be a role name (letters, "
			    "digits, _ - . :, at most 64)");
			goto fail;
		}
		(void)snprintf(s->role, sizeof(s->role), "%s",
		    json_object_get_string(v));
	}
	if (json_object_object_get_ex(body, "k", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 1 ||
		    json_object_get_int64(v) > INSP_K_MAX) {
			rs_errf(err, "'k' must be an integer from 1 to %d",
			    INSP_K_MAX);
			goto fail;
		}
		s->k = (int)json_object_get_int64(v);
	}
	if ((s->query = strdup(q)) == NULL) {
		rs_errf(err, "out of memory");
		memset(s, 0, sizeof(*s));
		return RS_ENOMEM;
	}
	return RS_OK;
fail:
	memset(s, 0, sizeof(*s));
	return RS_EINPUT;
}

void
insp_search_free(struct insp_search *s)
{
	free(s->query);
	s->query = NULL;
}

/* ---- search: scoring ---------------------------------------------------- */

void
insp_topk_init(struct insp_topk *t, int k)
{
	memset(t, 0, sizeof(*t));
	t->k = k < 1 ? 1 : k > INSP_K_MAX ? INSP_K_MAX : k;
}

static void
insp_swap(struct insp_hit *a, struct insp_hit *b)
{
	struct insp_hit	 t = *a;

	*a = *b;
	*b = t;
}

/* Restore the min-heap below index i (n entries). */
static void
insp_sift_down(struct insp_hit *h, int n, int i)
{
	int	 l, r, m;

	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < n && h[l].score < h[m].score)
			m = l;
		if (r < n && h[r].score < h[m].score)
			m = r;
		if (m == i)
			return;
		insp_swap(&h[i], &h[m]);
		i = m;
	}
}

void
insp_topk_add(struct insp_topk *t, const unsigned char id[16], float score)
{
	int	 i;

	if (isnan(score))
		return;
	if (t->n < t->k) {
		i = t->n++;
		memcpy(t->h[i].id, id, 16);
		t->h[i].score = score;
		while (i > 0 && t->h[(i - 1) / 2].score > t->h[i].score) {
			insp_swap(&t->h[i], &t->h[(i - 1) / 2]);
			i = (i - 1) / 2;
		}
		return;
	}
	if (score <= t->h[0].score)
		return;
	memcpy(t->h[0].id, id, 16);
	t->h[0].score = score;
	insp_sift_down(t->h, t->n, 0);
}

static int
insp_cmp_hit(const void *a, const void *b)
{
	const struct insp_hit	*x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return memcmp(x->id, y->id, 16);
}

void
insp_topk_sort(struct insp_topk *t)
{
	qsort(t->h, (size_t)t->n, sizeof(t->h[0]), insp_cmp_hit);
}

static uint32_t
insp_be32(const unsigned char *p)
{
	uint32_t	 u;

	memcpy(&u, p, 4);
	return ntohl(u);
}

/*
 * PostgreSQL's binary array: ndim, has-nulls flag, element type, then
 * (length, lower bound) per dimension, then (length, bytes) per element.
 */
int
insp_float4_array(const unsigned char *p, size_t len, float *out,
    size_t max, size_t *n)
{
	uint32_t	 ndim, dim, u;
	size_t		 i, off;

	*n = 0;
	if (len < 12)
		return -1;
	ndim = insp_be32(p);
	if (ndim == 0)
		return 0;
	if (ndim != 1 || insp_be32(p + 4) != 0 || insp_be32(p + 8) != 700 ||
	    len < 20)
		return -1;
	dim = insp_be32(p + 12);
	if (dim > max || len != 20 + (size_t)dim * 8)
		return -1;
	for (i = 0, off = 20; i < dim; i++, off += 8) {
		if (insp_be32(p + off) != 4)
			return -1;
		u = insp_be32(p + off + 4);
		memcpy(&out[i], &u, 4);
	}
	*n = dim;
	return 0;
}

int
insp_embedding(const unsigned char *p, size_t len, unsigned int type,
    float *out, size_t max, size_t *n)
{
	*n = 0;
	if (type != DB_OID_BYTEA)
		return insp_float4_array(p, len, out, max, n);
	if (len % 4 != 0 || len / 4 > max)
		return -1;
	rs_f32le_get(out, p, len / 4);
	*n = len / 4;
	return 0;
}

float
insp_cosine(const float *a, const float *b, size_t n)
{
	double	 dot = 0, na = 0, nb = 0;
	size_t	 i;

	for (i = 0; i < n; i++) {
		dot += (double)a[i] * b[i];
		na += (double)a[i] * a[i];
		nb += (double)b[i] * b[i];
	}
	if (na == 0 || nb == 0)
		return 0;
	return (float)(dot / (sqrt(na) * sqrt(nb)));
}

/* ---- search: the database ----------------------------------------------- */

/* Scope: the source or the tenant must exist. */
static enum rs_status
insp_scope(struct insp_db *db, const struct insp_search *s, char *err)
{
	if (s->source_id[0] != '\0')
		return insp_source_exists(db, s->source_id, err);
	return insp_exists(db, INSP_TENANT, s->tenant_id, "tenant", err);
}

/*
 * The exact scan: every chunk in scope streamed in binary, one row at a
 * time (single-row mode), scored against q into t.
 */
static enum rs_status
insp_scan(struct insp_db *db, const char *const *v, int source,
    const float *q, size_t dims, struct insp_topk *t,
    struct insp_search_stats *ss, char *err)
{
	PGconn		*conn;
	PGresult	*r;
	float		*vec = NULL;
	size_t		 n;
	enum rs_status	 st = RS_OK;
	int		 done = 0;

	if ((conn = db_pgconn(store_db(db->st), err)) == NULL)
		return RS_EDB;
	if ((vec = rs_reallocarray(NULL, dims, sizeof(*vec))) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	if (!PQsendQueryParams(conn, insp_stmts[source ? INSP_SCAN_SOURCE :
	    INSP_SCAN_TENANT], 3, NULL, v, NULL, NULL, 1) ||
	    !PQsetSingleRowMode(conn)) {
		db_errf(err, "search", PQerrorMessage(conn));
		st = RS_EDB;
		done = 1;
	}
	/* Drain every result, even after an error, so the connection is
	 * ready for the next statement. */
	while ((r = PQgetResult(conn)) != NULL) {
		switch (PQresultStatus(r)) {
		case PGRES_SINGLE_TUPLE:
			if (done || PQgetlength(r, 0, 0) != 16)
				break;
			ss->scanned++;
			if (insp_embedding((const unsigned char *)
			    PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1),
			    PQftype(r, 1), vec, dims, &n) == -1 || n != dims) {
				ss->skipped++;
				break;
			}
			insp_topk_add(t, (const unsigned char *)
			    PQgetvalue(r, 0, 0), insp_cosine(q, vec, n));
			break;
		case PGRES_TUPLES_OK:
			break;
		default:
			if (st == RS_OK) {
				db_errf(err, "search",
				    PQresultErrorMessage(r));
				st = RS_EDB;
			}
			done = 1;
			break;
		}
		PQclear(r);
	}
	free(vec);
	return st;
}

/* pgvector: PostgreSQL ranks; the text form of q is "[x,y,...]". */
static enum rs_status
insp_vector(struct insp_db *db, const char *const *v3, int source,
    const float *q, size_t dims, int k, struct insp_topk *t, char *err)
{
	struct rs_buf	 b;
	PGresult	*r = NULL;
	const char	*v[6];
	char		 kk[16], dm[16], hex[33];
	unsigned char	 id[16];
	size_t		 i, j, o;
	enum rs_status	 st = RS_ENOMEM;

	rs_buf_init(&b, dims * 20 + 4);
	if (rs_buf_puts(&b, "[") == -1)
		goto nomem;
	for (i = 0; i < dims; i++)
		if (rs_buf_printf(&b, i ? ",%.9g" : "%.9g", (double)q[i]) ==
		    -1)
			goto nomem;
	if (rs_buf_puts(&b, "]") == -1)
		goto nomem;
	(void)snprintf(kk, sizeof(kk), "%d", k);
	(void)snprintf(dm, sizeof(dm), "%zu", dims);
	v[0] = v3[0];
	v[1] = v3[1];
	v[2] = v3[2];
	v[3] = b.p;
	v[4] = kk;
	v[5] = dm;
	st = RS_EDB;
	if ((r = insp_run(db, source ? INSP_VEC_SOURCE : INSP_VEC_TENANT, 6,
	    v, 0, err)) == NULL)
		goto out;
	for (i = 0; i < (size_t)PQntuples(r); i++) {
		const char *s = PQgetvalue(r, (int)i, 0);

		for (j = 0, o = 0; s[j] != '\0' && o < 32; j++)
			if (s[j] != '-')
				hex[o++] = s[j];
		hex[o] = '\0';
		for (j = 0; j < 16 && o == 32; j++)
			id[j] = (unsigned char)(rs_hexval(hex[2 * j]) * 16 +
			    rs_hexval(hex[2 * j + 1]));
		insp_topk_add(t, id, strtof(PQgetvalue(r, (int)i, 1), NULL));
	}
	st = RS_OK;
	goto out;
nomem:
	rs_errf(err, "out of memory");
out:
	PQclear(r);
	rs_buf_free(&b);
	return st;
}

/* The hits' details, in order, each with its score. */
static enum rs_status
insp_hits(struct insp_db *db, const struct insp_topk *t,
    struct json_object **out, char *err)
{
	struct rs_buf	 ids;
	PGresult	*r;
	const char	*v[2];
	char		 ex[16], sc[32];
	int		 i, j;
	const unsigned char *id;
	struct json_object *o;

	*out = json_object_new_array();
	if (t->n == 0)
		return RS_OK;
	rs_buf_init(&ids, (size_t)INSP_K_MAX * 40 + 4);
	(void)rs_buf_puts(&ids, "{");
	for (i = 0; i < t->n; i++) {
		id = t->h[i].id;
		(void)rs_buf_puts(&ids, i ? "," : "");
		for (j = 0; j < 16; j++)
			(void)rs_buf_printf(&ids, "%s%02x", j == 4 || j == 6 ||
			    j == 8 || j == 10 ? "-" : "", id[j]);
	}
	if (rs_buf_puts(&ids, "}") == -1) {
		rs_buf_free(&ids);
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	(void)snprintf(ex, sizeof(ex), "%d", INSP_EXCERPT);
	v[0] = ids.p;
	v[1] = ex;
	r = insp_run(db, INSP_HITS, 2, v, 0, err);
	rs_buf_free(&ids);
	if (r == NULL)
		return RS_EDB;
	/* A chunk deleted since the scan is left out. */
	for (i = 0; i < PQntuples(r) && i < t->n; i++) {
		if ((o = json_tokener_parse(PQgetvalue(r, i, 0))) == NULL)
			continue;
		(void)snprintf(sc, sizeof(sc), "%.4f", (double)t->h[i].score);
		json_object_object_add(o, "score",
		    json_object_new_double_s((double)t->h[i].score, sc));
		json_object_array_add(*out, o);
	}
	PQclear(r);
	return RS_OK;
}

enum rs_status
insp_search_run(struct insp_db *db, struct embedder *em,
    const struct insp_search *s, struct json_object **out,
    struct insp_search_stats *ss, char *err)
{
	struct insp_topk	 t;
	struct embed_stats	 es;
	const char		*v[3];
	float			*q = NULL;
	size_t			 len = strlen(s->query);
	size_t			 dims = (size_t)embed_dims(em);
	double			 t0;
	enum store_emb		 kind;
	int			 vec;
	enum rs_status		 st;

	*out = NULL;
	memset(ss, 0, sizeof(*ss));
	memset(&es, 0, sizeof(es));
	if ((st = insp_scope(db, s, err)) != RS_OK ||
	    (st = store_embedding_kind(db->st, &kind, err)) != RS_OK)
		return st;
	vec = kind == STORE_EMB_VECTOR;
	ss->method = vec ? "pgvector" : "exact-scan";
	if ((q = rs_reallocarray(NULL, dims, sizeof(*q))) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	t0 = rs_now_ms();
	if ((st = embed_texts(em, (const char *const *)&s->query, &len, 1, q,
	    t0 + EMBED_TIMEOUT_MS, &es, err)) != RS_OK)
		goto out;
	ss->embed_ms = rs_now_ms() - t0;
	t0 = rs_now_ms();
	v[0] = s->source_id[0] != '\0' ? s->source_id : s->tenant_id;
	v[1] = s->role;
	v[2] = embed_model(em);
	insp_topk_init(&t, s->k);
	st = vec ? insp_vector(db, v, s->source_id[0] != '\0', q, dims, s->k,
	    &t, err) : insp_scan(db, v, s->source_id[0] != '\0', q, dims, &t,
	    ss, err);
	if (st != RS_OK)
		goto out;
	insp_topk_sort(&t);
	st = insp_hits(db, &t, out, err);
	ss->search_ms = rs_now_ms() - t0;
out:
	free(q);
	return st;
}

/* ---- preview ------------------------------------------------------------ */

static unsigned char *
insp_bytes(PGresult *r, int col, size_t *len)
{
	unsigned char	*p;

	*len = 0;
	if (PQgetisnull(r, 0, col))
		return NULL;
	*len = (size_t)PQgetlength(r, 0, col);
	if ((p = malloc(*len + 1)) == NULL)
		return NULL;
	memcpy(p, PQgetvalue(r, 0, col), *len);
	return p;
}

static enum rs_status
insp_tenant_secret(struct insp_db *db, const char *tenant_id,
    const char *provider, const char *origin, unsigned char **ct,
    size_t *ctlen, unsigned char **nonce, size_t *noncelen, int *aad,
    char *err)
{
	PGresult	*r;
	const char	*v[3] = { tenant_id, provider, origin };
	enum rs_status	 st = RS_OK;

	*ct = *nonce = NULL;
	*ctlen = *noncelen = 0;
	if ((r = insp_run(db, INSP_SECRET, 3, v, 1, err)) == NULL)
		return RS_EDB;
	if (PQntuples(r) != 1) {
		rs_errf(err, "no such tenant");
		st = RS_ENOTFOUND;
		goto out;
	}
	if (PQgetisnull(r, 0, 1))
		goto out;
	/* Binary result: aad_version is a big-endian int4. */
	*aad = PQgetlength(r, 0, 3) == 4 ?
	    (int)(((unsigned)(unsigned char)PQgetvalue(r, 0, 3)[2] << 8) |
	    (unsigned char)PQgetvalue(r, 0, 3)[3]) : 2;
	if ((*ct = insp_bytes(r, 1, ctlen)) == NULL ||
	    (*nonce = insp_bytes(r, 2, noncelen)) == NULL) {
		free(*ct);
		*ct = NULL;
		rs_errf(err, "out of memory");
		st = RS_ENOMEM;
	}
out:
	PQclear(r);
	return st;
}

/* The source's tenant, title, config and (when config is NULL) cursor. */
static enum rs_status
insp_preview_source(struct insp_db *db, const char *id, const char *config,
    struct insp_preview *pv, char *err)
{
	PGresult	*r;
	const char	*v[1] = { id };
	enum rs_status	 st = RS_ENOMEM;

	if ((r = insp_run(db, INSP_PREVIEW_SOURCE, 1, v, 0, err)) == NULL)
		return RS_EDB;
	if (PQntuples(r) != 1) {
		PQclear(r);
		rs_errf(err, "no such source");
		return RS_ENOTFOUND;
	}
	(void)snprintf(pv->tenant_id, sizeof(pv->tenant_id), "%s",
	    PQgetvalue(r, 0, 0));
	if ((pv->title = strdup(PQgetvalue(r, 0, 1))) == NULL ||
	    (pv->config = strdup(config != NULL ? config :
	    PQgetvalue(r, 0, 2))) == NULL)
		goto out;
	/* The source's next page, unless the config is a new one or the
	 * source is done (then its first page). */
	if (config == NULL && strcmp(PQgetvalue(r, 0, 4), "t") != 0) {
		if (!PQgetisnull(r, 0, 3) &&
		    (pv->cursor = strdup(PQgetvalue(r, 0, 3))) == NULL)
			goto out;
		pv->pages_before = atoi(PQgetvalue(r, 0, 5));
		pv->items_before = strtoll(PQgetvalue(r, 0, 6), NULL, 10);
	}
	st = RS_OK;
out:
	if (st != RS_OK)
		rs_errf(err, "out of memory");
	PQclear(r);
	return st;
}

enum rs_status
insp_preview_load(struct insp_db *db, const char *source_id,
    const char *tenant_id, const char *config, const char *title,
    struct insp_preview *pv, char *err)
{
	struct source_config	 cfg;
	char			 cerr[RS_ERRLEN];
	enum rs_status		 st;

	memset(pv, 0, sizeof(*pv));
	if (source_id != NULL && *source_id != '\0')
		st = insp_preview_source(db, source_id, config, pv, err);
	else {
		(void)snprintf(pv->tenant_id, sizeof(pv->tenant_id), "%s",
		    tenant_id);
		pv->title = strdup(title != NULL ? title : "Preview");
		pv->config = config != NULL ? strdup(config) : NULL;
		st = pv->title != NULL && pv->config != NULL ? RS_OK :
		    RS_ENOMEM;
		if (st != RS_OK)
			rs_errf(err, "out of memory");
	}
	if (st != RS_OK)
		goto fail;
	cerr[0] = '\0';
	if ((st = cfg_parse(pv->config, strlen(pv->config), &cfg, cerr)) !=
	    RS_OK) {
		rs_errf(err, "source config: %s", cerr);
		goto fail;
	}
	/* A key is bound to the origin it was entered for (issue 14). */
	if (fetch_origin(cfg.base_url, pv->origin, sizeof(pv->origin)) == -1)
		pv->origin[0] = '\0';
	st = insp_tenant_secret(db, pv->tenant_id, cfg.provider != NULL ?
	    cfg.provider : "rest", pv->origin, &pv->ct, &pv->ctlen, &pv->nonce,
	    &pv->noncelen, &pv->aad, err);
	cfg_free(&cfg);
	if (st != RS_OK)
		goto fail;
	return RS_OK;
fail:
	insp_preview_free(pv);
	return st;
}

void
insp_preview_free(struct insp_preview *pv)
{
	free(pv->title);
	free(pv->config);
	free(pv->cursor);
	free(pv->ct);
	free(pv->nonce);
	memset(pv, 0, sizeof(*pv));
}
