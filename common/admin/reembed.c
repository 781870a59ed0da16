/*
 * reembed.c — re-embed a source's chunks in groups (see reembed.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "db.h"
#include "reembed.h"

#define REEMBED_HASH_MAX	65	/* content hashes are 64 hex digits */

enum reembed_stmt {
	RE_NEXT,
	RE_WRITE,
	RE_WRITE_BYTEA,
	RE_LEFT,
	RE__MAX
};

#define RE_OTHER_MODEL \
	"(k.metadata->>'embeddingModel') IS DISTINCT FROM $2::text "

/* RE_WRITE's end: the model, and the group's rows in the order of $4. */
#define RE_WRITE_TAIL \
	"    metadata = k.metadata || jsonb_build_object('embeddingModel', " \
	"    $2::text) " \
	"FROM unnest($4::uuid[]) WITH ORDINALITY AS u(id, ord) " \
	"WHERE k.source_id = $1::uuid AND k.id = u.id"

static const char *const re_stmts[RE__MAX] = {
	/* RE_NEXT: the next group, a range of the unique (source_id,
	 * content_hash) index. */
	"SELECT k.id::text, k.content, k.content_hash FROM kb_chunks k "
	"WHERE k.source_id = $1::uuid AND k.content_hash > $3::text "
	"AND " RE_OTHER_MODEL
	"ORDER BY k.content_hash LIMIT $4::int",
	/* RE_WRITE: the group's vectors ($3, flat; $5 = embed_dims() per
	 * chunk, in the order of $4) and the model, one statement.  $3 is a
	 * float4[] literal (real[], or pgvector's vector by its cast). */
	"UPDATE kb_chunks k SET embedding = "
	"    ($3::real[])[((u.ord::int - 1) * $5::int + 1):"
	"                 (u.ord::int * $5::int)], "
	RE_WRITE_TAIL,
	/* RE_WRITE_BYTEA (sql/012): $3 binary, the float32 little-endian
	 * bytes, 4 * $5 per chunk. */
	"UPDATE kb_chunks k SET embedding = "
	"    substring($3::bytea FROM (u.ord::int - 1) * 4 * $5::int + 1 "
	"        FOR 4 * $5::int), "
	RE_WRITE_TAIL,
	/* RE_LEFT */
	"SELECT count(*) FROM kb_chunks k WHERE k.source_id = $1::uuid "
	"AND " RE_OTHER_MODEL,
};

static const struct db_table re_table = {
	"reembed", re_stmts, RE__MAX, 0
};

static PGresult *
re_run(struct store *st, enum reembed_stmt s, int n, const char *const *v,
    char *err)
{
	return db_runv(store_db(st), &re_table, (size_t)s, n, v,
	    DB_RETRY_NEVER, err);
}

/* The flat vectors (dims floats each) as the column takes them: float32
 * little-endian bytes (bytea), else the text form {x,y} of a float4[]. */
static int
re_vectors(const float *vec, size_t nf, enum store_emb kind,
    struct rs_buf *vs)
{
	size_t	 j;

	if (kind == STORE_EMB_BYTEA) {
		if (rs_buf_reserve(vs, nf * 4) == -1)
			return -1;
		rs_f32le_put((unsigned char *)vs->p, vec, nf);
		vs->len = nf * 4;
		vs->p[vs->len] = '\0';
		return 0;
	}
	if (rs_buf_puts(vs, "{") == -1)
		return -1;
	for (j = 0; j < nf; j++)
		if (rs_buf_printf(vs, j ? ",%.9g" : "%.9g",
		    (double)vec[j]) == -1)
			return -1;
	return rs_buf_puts(vs, "}");
}

/* The group's ids ({a,b}) and flat vectors (re_vectors()). */
static enum rs_status
re_params(PGresult *r, const float *vec, size_t dims, enum store_emb kind,
    struct rs_buf *ids, struct rs_buf *vs, char *err)
{
	int	 i, n = PQntuples(r);

	if (rs_buf_puts(ids, "{") == -1)
		goto nomem;
	for (i = 0; i < n; i++)
		if (rs_buf_printf(ids, "%s%s", i ? "," : "",
		    PQgetvalue(r, i, 0)) == -1)
			goto nomem;
	if (rs_buf_puts(ids, "}") == -1 ||
	    re_vectors(vec, (size_t)n * dims, kind, vs) == -1)
		goto nomem;
	return RS_OK;
nomem:
	rs_errf(err, "out of memory");
	return RS_ENOMEM;
}

/* RE_WRITE (or _BYTEA: $3 binary) with v[0..5) and the vectors in vs. */
static enum rs_status
re_write(struct store *st, enum store_emb kind, const char **v,
    const struct rs_buf *vs, char *err)
{
	static const Oid	 types[5] = { 0, 0, DB_OID_BYTEA, 0, 0 };
	static const int	 fmts[5] = { 0, 0, 1, 0, 0 };
	const int		 lens[5] = { 0, 0, (int)vs->len, 0, 0 };
	int			 bin = kind == STORE_EMB_BYTEA;
	PGresult		*w;

	v[2] = vs->p;
	if ((w = db_runp(store_db(st), &re_table, bin ? RE_WRITE_BYTEA :
	    RE_WRITE, 5, bin ? types : NULL, v, bin ? lens : NULL,
	    bin ? fmts : NULL, DB_RETRY_NEVER, err)) == NULL)
		return RS_EDB;
	PQclear(w);
	return RS_OK;
}

/* One group: read, embed, write.  *n = 0 when nothing was left. */
static enum rs_status
re_group(struct store *st, struct embedder *em, const char *id,
    char after[REEMBED_HASH_MAX], double finish_by, int *n, char *err)
{
	struct embed_stats	 es;
	struct rs_buf		 ids, vs;
	PGresult		*r;
	enum store_emb		 kind;
	const char		*v[5], **texts = NULL;
	size_t			*lens = NULL, dims = (size_t)embed_dims(em);
	float			*vec = NULL;
	char			 lim[16], dm[16];
	int			 i;
	enum rs_status		 rc = RS_ENOMEM;

	*n = 0;
	rs_buf_init(&ids, (size_t)REEMBED_GROUP * 40 + 4);
	rs_buf_init(&vs, (size_t)REEMBED_GROUP * dims * 18 + 4);
	(void)snprintf(dm, sizeof(dm), "%zu", dims);
	(void)snprintf(lim, sizeof(lim), "%d", REEMBED_GROUP);
	v[0] = id;
	v[1] = embed_model(em);
	v[2] = after;
	v[3] = lim;
	if (store_embedding_kind(st, &kind, err) != RS_OK ||
	    (r = re_run(st, RE_NEXT, 4, v, err)) == NULL)
		return RS_EDB;
	if ((*n = PQntuples(r)) == 0) {
		rc = RS_OK;
		goto out;
	}
	if ((texts = rs_reallocarray(NULL, (size_t)*n, sizeof(*texts))) ==
	    NULL || (lens = rs_reallocarray(NULL, (size_t)*n,
	    sizeof(*lens))) == NULL || (vec = rs_reallocarray(NULL,
	    (size_t)*n, sizeof(float) * dims)) == NULL) {
		rs_errf(err, "out of memory");
		goto out;
	}
	for (i = 0; i < *n; i++) {
		texts[i] = PQgetvalue(r, i, 1);
		lens[i] = (size_t)PQgetlength(r, i, 1);
	}
	if ((rc = embed_texts(em, texts, lens, (size_t)*n, vec,
	    finish_by > 0 ? finish_by : rs_now_ms() + REEMBED_GROUP_MS, &es,
	    err)) != RS_OK ||
	    (rc = re_params(r, vec, dims, kind, &ids, &vs, err)) != RS_OK)
		goto out;
	v[3] = ids.p;
	v[4] = dm;
	if ((rc = re_write(st, kind, v, &vs, err)) != RS_OK)
		goto out;
	(void)snprintf(after, REEMBED_HASH_MAX, "%s", PQgetvalue(r, *n - 1, 2));
	rc = RS_OK;
out:
	PQclear(r);
	free(texts);
	free(lens);
	free(vec);
	rs_buf_free(&ids);
	rs_buf_free(&vs);
	return rc;
}

static void
re_audit(struct store *st, const struct source_row *src, const char *actor,
    const struct reembed_result *res, enum rs_status rc, const char *msg)
{
	struct json_object	*d = json_object_new_object();

	json_object_object_add(d, "model", json_object_new_string(res->model));
	json_object_object_add(d, "chunks", json_object_new_int64(res->chunks));
	json_object_object_add(d, "groups", json_object_new_int(res->groups));
	json_object_object_add(d, "left", json_object_new_int64(res->left));
	if (rc != RS_OK)
		json_object_object_add(d, "error", json_object_new_string(msg));
	(void)store_audit(st, actor, "reembed", src->id, src->tenant_id,
	    rc == RS_OK ? "ok" : "error", json_object_to_json_string_ext(d,
	    JSON_C_TO_STRING_PLAIN), NULL);
	json_object_put(d);
}

enum rs_status
reembed_source(struct store *st, struct embedder *em, const char *id,
    const char *actor, double start_by, double finish_by,
    struct reembed_result *res, char *err)
{
	struct source_row	 src;
	PGresult		*r;
	const char		*v[2];
	char			 after[REEMBED_HASH_MAX] = "";
	int			 n = 0;
	enum rs_status		 rc;

	memset(res, 0, sizeof(*res));
	res->model = embed_model(em);
	if ((rc = store_lock_source(st, id, &src, err)) != RS_OK)
		return rc;
	do {
		if ((rc = re_group(st, em, id, after, finish_by, &n, err)) !=
		    RS_OK)
			break;
		if (n > 0) {
			res->chunks += n;
			res->groups++;
		}
	} while (n == REEMBED_GROUP &&
	    (finish_by <= 0 || rs_now_ms() < start_by));
	v[0] = id;
	v[1] = res->model;
	if ((r = re_run(st, RE_LEFT, 2, v, rc == RS_OK ? err : NULL)) ==
	    NULL) {
		if (rc == RS_OK)
			rc = RS_EDB;
	} else {
		res->left = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
	}
	re_audit(st, &src, actor, res, rc, err != NULL ? err : "");
	store_unlock_source(st, id);
	store_source_free(&src);
	return rc;
}

struct json_object *
reembed_result_json(const char *source_id, const struct reembed_result *res)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "sourceId",
	    json_object_new_string(source_id));
	json_object_object_add(o, "model", json_object_new_string(res->model));
	json_object_object_add(o, "chunks", json_object_new_int64(res->chunks));
	json_object_object_add(o, "groups", json_object_new_int(res->groups));
	json_object_object_add(o, "left", json_object_new_int64(res->left));
	return o;
}
