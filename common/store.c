/*
 * store.c — libpq access: one static SQL table, binary array parameters,
 * lazy (re)connection.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "embed.h"
#include "store.h"

#define STORE_MAX_PARAM	(256u * 1024 * 1024)	/* one binary array */
#define OID_TEXTARRAY	1009
#define OID_FLOAT4ARRAY	1021
#define OID_TEXT	25
#define OID_FLOAT4	700

enum stmt {
	STMT_IS_ADMIN,
	STMT_TRY_LOCK,
	STMT_LOCK_SOURCE,
	STMT_UNLOCK_SOURCE,
	STMT_EXISTING_HASHES,
	STMT_COMMIT_BATCH,
	STMT_RECORD_ERROR,
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	/* STMT_IS_ADMIN */
	"SELECT 1 FROM platform_admins WHERE username = $1",

	/* STMT_TRY_LOCK: the batch lock of a source (session-level; it dies
	 * with the connection if a worker dies). */
	"SELECT pg_try_advisory_lock(hashtextextended("
	"    'restsync:source:' || $1::uuid::text, 0))",

	/*
	 * STMT_LOCK_SOURCE: load the source once its lock is held.  It must
	 * be a statement of its own, after STMT_TRY_LOCK: a statement's
	 * snapshot is taken when it starts, so a cursor read in the same
	 * statement that takes the lock could predate the commit of the
	 * batch that just released it (and fetch that page again).
	 */
	"SELECT s.tenant_id, s.type, s.title, s.config::text, s.enabled, "
	"       c.next_cursor, coalesce(c.page_count, 0), "
	"       coalesce(c.item_count, 0), coalesce(c.done, false), "
	"       sec.ciphertext, sec.nonce, "
	"       true, coalesce(c.chunk_count, 0), v.page_key IS NOT NULL, v.etag, "
	"       v.last_modified, v.next_cursor, coalesce(v.done, false), "
	"       coalesce(v.items, 0), v.total, "
	"       sec.origin, sec.aad_version "
	"FROM kb_sources s "
	"LEFT JOIN kb_rest_cursors c ON c.source_id = s.id "
	"LEFT JOIN kb_rest_page_validators v ON v.source_id = s.id "
	"      AND v.page_key = coalesce(c.next_cursor, '') "
	/* The secret entered for this baseUrl's origin (sql/007); batch.c
	 * checks the origin again before decrypting. */
	"LEFT JOIN integration_secrets sec ON sec.tenant_id = s.tenant_id "
	"      AND sec.provider = coalesce(s.config->>'provider', 'rest') "
	"      AND sec.origin = restsync_origin(s.config->>'baseUrl') "
	"      AND s.config->'requiresAuth' = 'true'::jsonb "
	"WHERE s.id = $1::uuid",

	/* STMT_UNLOCK_SOURCE */
	"SELECT pg_advisory_unlock(hashtextextended("
	"    'restsync:source:' || $1::uuid::text, 0))",

	/* STMT_EXISTING_HASHES: 1-based positions of hashes already stored. */
	"SELECT u.ord FROM unnest($2::text[]) WITH ORDINALITY AS u(h, ord) "
	"WHERE EXISTS (SELECT 1 FROM kb_chunks k "
	"              WHERE k.source_id = $1::uuid AND k.content_hash = u.h)",

	/*
	 * STMT_COMMIT_BATCH: one atomic statement.  The day's doc is created
	 * or extended only when there are chunks; chunk_idx comes from the
	 * doc row's allocator (locked by the upsert, so race-free); dedup is
	 * the unique (source_id, content_hash) index; the cursor advances.
	 * $11 is all embeddings in one flat float4 array, sliced per chunk.
	 */
	"WITH doc AS ("
	"  INSERT INTO kb_docs AS d (tenant_id, source_id, title, status, "
	"                            content_hash, next_chunk_idx) "
	"  SELECT $1::uuid, $2::uuid, $3::text, 'ready', $4::text, $5::int "
	"  WHERE $5::int > 0 "
	"  ON CONFLICT (source_id, title) DO UPDATE SET "
	"    next_chunk_idx = d.next_chunk_idx + EXCLUDED.next_chunk_idx, "
	"    content_hash = encode(sha256(convert_to("
	"        coalesce(d.content_hash, '') || EXCLUDED.content_hash, "
	"        'UTF8')), 'hex'), "
	"    status = 'ready', error = NULL, updated_at = now() "
	"  RETURNING d.id, d.next_chunk_idx - $5::int AS base"
	"), ins AS ("
	"  INSERT INTO kb_chunks (tenant_id, doc_id, chunk_idx, title, content, "
	"                         embedding, metadata, allowed_roles, "
	"                         source_id, content_hash) "
	"  SELECT $1::uuid, doc.id, doc.base + u.ord::int - 1, u.title, "
	"         u.content, "
	"         ($11::real[])[((u.ord::int - 1) * 1536 + 1):(u.ord::int * 1536)], "
	"         u.meta::jsonb, $6::text[], $2::uuid, u.hash "
	"  FROM doc, unnest($7::text[], $8::text[], $9::text[], $10::text[]) "
	"       WITH ORDINALITY AS u(title, content, hash, meta, ord) "
	"  ON CONFLICT (source_id, content_hash) DO NOTHING "
	"  RETURNING 1"
	"), cur AS ("
	"  INSERT INTO kb_rest_cursors AS c (tenant_id, source_id, next_cursor, "
	"      page_count, item_count, last_status, last_http_status, "
	"      last_synced_at, last_error, done, total, chunk_count) "
	"  SELECT $1::uuid, $2::uuid, $12::text, 1, $13::bigint, $14::text, "
	"      $15::int, now(), NULL, $16::boolean, $17::bigint, "
	"      (SELECT count(*) FROM ins) + $23::bigint WHERE $22::boolean "
	"  ON CONFLICT (source_id) DO UPDATE SET "
	"    next_cursor = EXCLUDED.next_cursor, "
	"    page_count = c.page_count + 1, "
	"    item_count = c.item_count + EXCLUDED.item_count, "
	"    last_status = EXCLUDED.last_status, "
	"    last_http_status = EXCLUDED.last_http_status, "
	"    last_synced_at = now(), last_error = NULL, "
	"    done = EXCLUDED.done, "
	"    total = coalesce(EXCLUDED.total, c.total), "
	"    chunk_count = c.chunk_count + EXCLUDED.chunk_count "
	"  RETURNING c.page_count, c.item_count, c.chunk_count"
	"), val AS ("
	"  INSERT INTO kb_rest_page_validators AS v (source_id, page_key, "
	"      etag, last_modified, next_cursor, done, items, total) "
	"  SELECT $2::uuid, $18::text, $19::text, $20::text, $12::text, "
	"      $16::boolean, $13::int, $17::bigint "
	"  WHERE $21::boolean AND $22::boolean "
	"  ON CONFLICT (source_id, page_key) DO UPDATE SET "
	"    etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified, "
	"    next_cursor = EXCLUDED.next_cursor, done = EXCLUDED.done, "
	"    items = EXCLUDED.items, total = EXCLUDED.total, "
	"    updated_at = now() "
	"  RETURNING 1"
	"), aud AS ("
	"  INSERT INTO kb_rest_audit (actor, action, source_id, tenant_id, "
	"      outcome, detail) "
	"  SELECT $24::text, $25::text, $2::uuid, $1::uuid, $14::text, "
	"      $26::jsonb || jsonb_build_object('inserted', "
	"          (SELECT count(*) FROM ins) + $23::bigint) "
	"  WHERE $22::boolean "
	"  RETURNING 1"
	") "
	"SELECT (SELECT id FROM doc), (SELECT count(*) FROM ins), "
	"       (SELECT page_count FROM cur), (SELECT item_count FROM cur), "
	"       (SELECT chunk_count FROM cur), (SELECT count(*) FROM val), "
	"       (SELECT count(*) FROM aud)",

	/* STMT_RECORD_ERROR: the cursor row and the audit trail. */
	"WITH c AS ("
	"  INSERT INTO kb_rest_cursors AS c (tenant_id, source_id, "
	"      last_status, last_http_status, last_synced_at, last_error) "
	"  VALUES ($1::uuid, $2::uuid, 'error', $3::int, now(), $4::text) "
	"  ON CONFLICT (source_id) DO UPDATE SET last_status = 'error', "
	"      last_http_status = EXCLUDED.last_http_status, "
	"      last_synced_at = now(), last_error = EXCLUDED.last_error "
	"  RETURNING 1"
	") "
	"INSERT INTO kb_rest_audit (actor, action, source_id, tenant_id, "
	"    outcome, detail) "
	"SELECT $5::text, $6::text, $2::uuid, $1::uuid, 'error', "
	"    $7::jsonb || jsonb_build_object('error', $4::text) "
	"FROM c",

	/* STMT_BEGIN, STMT_COMMIT, STMT_ROLLBACK */
	"BEGIN",
	"COMMIT",
	"ROLLBACK",
};

struct store {
	PGconn		*conn;
	int		 trips;
	unsigned	 prepared;	/* bit per statement, this connection */
	int		 locked;	/* a source lock is held (session) */
};

/*
 * run()'s retry after a lost connection: never (a write that may have
 * happened), only while no source lock is held (reads of a batch: the new
 * session would not hold the lock), always (needs no lock).
 */
#define RETRY_NEVER	0
#define RETRY_UNLOCKED	1
#define RETRY_ALWAYS	2

/* Statements worth preparing once per connection (not BEGIN/COMMIT). */
#define STORE_PREPARE(s)	((s) < STMT_BEGIN)

enum rs_status
store_open(struct store **out, char *err)
{
	struct store	*st;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	*out = st;
	return RS_OK;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->conn != NULL)
		PQfinish(st->conn);
	free(st);
}

int
store_round_trips(const struct store *st)
{
	return st->trips;
}

void
store_errf(char *err, const char *what, const char *msg)
{
	size_t	 n = strcspn(msg, "\n");

	if (what != NULL)
		rs_errf(err, "database: %s: %.*s", what,
		    (int)(n > 300 ? 300 : n), msg);
	else
		rs_errf(err, "database: %.*s", (int)(n > 300 ? 300 : n), msg);
}

static enum rs_status
store_connect(struct store *st, char *err)
{
	const char	*url = getenv("DATABASE_URL");
	PGresult	*r;

	if (st->conn != NULL && PQstatus(st->conn) == CONNECTION_OK)
		return RS_OK;
	if (st->conn != NULL) {
		PQfinish(st->conn);
		st->conn = NULL;
	}
	if (url == NULL || *url == '\0') {
		rs_errf(err, "database: DATABASE_URL is not set");
		return RS_EDB;
	}
	st->prepared = 0;
	st->locked = 0;		/* a new session holds no lock */
	st->conn = PQconnectdb(url);
	if (PQstatus(st->conn) != CONNECTION_OK) {
		store_errf(err, "cannot connect", PQerrorMessage(st->conn));
		PQfinish(st->conn);
		st->conn = NULL;
		return RS_EDB;
	}
	r = PQexec(st->conn, "SET statement_timeout = 15000; "
	    "SET application_name = 'restsync'; SET TIME ZONE 'UTC'");
	PQclear(r);
	return RS_OK;
}

PGconn *
store_pgconn(struct store *st, char *err)
{
	if (store_connect(st, err) != RS_OK)
		return NULL;
	return st->conn;
}

/*
 * Run statement s.  A lost connection is reopened and an idempotent
 * statement retried once (a worker outlives a PostgreSQL restart).
 */
static PGresult *
run(struct store *st, enum stmt s, int n, const Oid *types,
    const char *const *vals, const int *lens, const int *fmts,
    int idempotent, char *err)
{
	PGresult	*r;
	int		 tries;
	ExecStatusType	 es;

	for (tries = 0; tries < 2; tries++) {
		if (st->locked && idempotent != RETRY_ALWAYS && (tries > 0 ||
		    (st->conn != NULL && PQstatus(st->conn) != CONNECTION_OK))) {
			/* The source lock went with the lost session: the
			 * batch must not go on as if it held it. */
			st->locked = 0;
			rs_errf(err, "database: connection lost during the "
			    "batch");
			return NULL;
		}
		if (store_connect(st, err) != RS_OK)
			return NULL;
		if (STORE_PREPARE(s) && !(st->prepared & (1u << s))) {
			/* Planned once per connection, not on every batch. */
			char name[16];

			(void)snprintf(name, sizeof(name), "rs_%d", (int)s);
			st->trips++;
			r = PQprepare(st->conn, name, stmts[s], n, types);
			if (PQresultStatus(r) != PGRES_COMMAND_OK) {
				store_errf(err, "prepare failed", r != NULL ?
				    PQresultErrorMessage(r) :
				    PQerrorMessage(st->conn));
				PQclear(r);
				if (PQstatus(st->conn) == CONNECTION_OK)
					return NULL;
				continue;
			}
			PQclear(r);
			st->prepared |= 1u << s;
		}

		st->trips++;
		if (STORE_PREPARE(s)) {
			char name[16];

			(void)snprintf(name, sizeof(name), "rs_%d", (int)s);
			r = PQexecPrepared(st->conn, name, n, vals, lens, fmts,
			    0);
		} else
			r = PQexecParams(st->conn, stmts[s], n, types, vals,
			    lens, fmts, 0);
		es = PQresultStatus(r);
		if (es == PGRES_TUPLES_OK || es == PGRES_COMMAND_OK)
			return r;
		store_errf(err, "query failed", r != NULL ?
		    PQresultErrorMessage(r) : PQerrorMessage(st->conn));
		PQclear(r);
		if (PQstatus(st->conn) == CONNECTION_OK || !idempotent)
			return NULL;
	}
	return NULL;
}

enum rs_status
store_is_admin(struct store *st, const char *user, int *ok, char *err)
{
	PGresult	*r;
	const char	*v[1] = { user };

	*ok = 0;
	if ((r = run(st, STMT_IS_ADMIN, 1, NULL, v, NULL, NULL, RETRY_ALWAYS,
	    err)) == NULL)
		return RS_EDB;
	*ok = PQntuples(r) == 1;
	PQclear(r);
	return RS_OK;
}

void
store_source_free(struct source_row *s)
{
	free(s->type);
	free(s->title);
	free(s->config);
	free(s->next_cursor);
	free(s->page_etag);
	free(s->page_last_modified);
	free(s->page_next);
	if (s->secret_ct != NULL)
		PQfreemem(s->secret_ct);
	if (s->secret_nonce != NULL)
		PQfreemem(s->secret_nonce);
	memset(s, 0, sizeof(*s));
}

static char *
dup_val(PGresult *r, int col)
{
	if (PQgetisnull(r, 0, col))
		return NULL;
	return strdup(PQgetvalue(r, 0, col));
}

enum rs_status
store_lock_source(struct store *st, const char *id, struct source_row *s,
    char *err)
{
	PGresult	*r;
	const char	*v[1] = { id };
	enum rs_status	 rc = RS_EDB;

	memset(s, 0, sizeof(*s));
	if ((r = run(st, STMT_TRY_LOCK, 1, NULL, v, NULL, NULL, RETRY_ALWAYS,
	    err)) ==
	    NULL)
		return RS_EDB;
	if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		PQclear(r);
		rs_errf(err, "a batch for this source is already running");
		return RS_EBUSY;
	}
	PQclear(r);
	st->locked = 1;
	if ((r = run(st, STMT_LOCK_SOURCE, 1, NULL, v, NULL, NULL,
	    RETRY_UNLOCKED, err)) == NULL) {
		store_unlock_source(st, id);
		return RS_EDB;
	}
	if (PQntuples(r) != 1) {
		store_unlock_source(st, id);
		rs_errf(err, "no such source");
		rc = RS_ENOTFOUND;
		goto out;
	}
	(void)snprintf(s->id, sizeof(s->id), "%s", id);
	(void)snprintf(s->tenant_id, sizeof(s->tenant_id), "%s",
	    PQgetvalue(r, 0, 0));
	s->type = dup_val(r, 1);
	s->title = dup_val(r, 2);
	s->config = dup_val(r, 3);
	s->enabled = strcmp(PQgetvalue(r, 0, 4), "t") == 0;
	s->next_cursor = dup_val(r, 5);
	s->page_count = atoi(PQgetvalue(r, 0, 6));
	s->item_count = strtoll(PQgetvalue(r, 0, 7), NULL, 10);
	s->done = strcmp(PQgetvalue(r, 0, 8), "t") == 0;
	if (!PQgetisnull(r, 0, 9) && !PQgetisnull(r, 0, 10)) {
		s->secret_ct = PQunescapeBytea(
		    (const unsigned char *)PQgetvalue(r, 0, 9),
		    &s->secret_ct_len);
		s->secret_nonce = PQunescapeBytea(
		    (const unsigned char *)PQgetvalue(r, 0, 10),
		    &s->secret_nonce_len);
	}
	s->chunk_count = strtoll(PQgetvalue(r, 0, 12), NULL, 10);
	s->has_page = strcmp(PQgetvalue(r, 0, 13), "t") == 0;
	s->page_etag = dup_val(r, 14);
	s->page_last_modified = dup_val(r, 15);
	s->page_next = dup_val(r, 16);
	s->page_done = strcmp(PQgetvalue(r, 0, 17), "t") == 0;
	s->page_items = atoi(PQgetvalue(r, 0, 18));
	s->page_total = PQgetisnull(r, 0, 19) ? -1 :
	    strtoll(PQgetvalue(r, 0, 19), NULL, 10);
	(void)snprintf(s->secret_origin, sizeof(s->secret_origin), "%s",
	    PQgetvalue(r, 0, 20));
	s->secret_aad = atoi(PQgetvalue(r, 0, 21));
	if ((!PQgetisnull(r, 0, 9) && !PQgetisnull(r, 0, 10) &&
	    (s->secret_ct == NULL || s->secret_nonce == NULL)) ||
	    s->type == NULL || s->title == NULL || s->config == NULL ||
	    (s->next_cursor == NULL && !PQgetisnull(r, 0, 5)) ||
	    (s->page_etag == NULL && !PQgetisnull(r, 0, 14)) ||
	    (s->page_last_modified == NULL && !PQgetisnull(r, 0, 15)) ||
	    (s->page_next == NULL && !PQgetisnull(r, 0, 16))) {
		store_source_free(s);
		PQclear(r);
		store_unlock_source(st, id);
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	rc = RS_OK;
out:
	PQclear(r);
	return rc;
}

void
store_unlock_source(struct store *st, const char *id)
{
	PGresult	*r;
	const char	*v[1] = { id };

	/* If the connection was lost, the lock went with it. */
	if (!st->locked)
		return;
	st->locked = 0;
	if ((r = run(st, STMT_UNLOCK_SOURCE, 1, NULL, v, NULL, NULL, RETRY_NEVER,
	    NULL)) != NULL)
		PQclear(r);
}

/* PostgreSQL binary array header for a 1-D array of n elements. */
static int
bin_header(struct rs_buf *b, uint32_t elemtype, size_t n)
{
	uint32_t	 h[5];

	if (n > INT32_MAX)
		return -1;
	h[0] = htonl(1);		/* ndim */
	h[1] = htonl(0);		/* has nulls */
	h[2] = htonl(elemtype);
	h[3] = htonl((uint32_t)n);	/* dimension */
	h[4] = htonl(1);		/* lower bound */
	return rs_buf_append(b, h, sizeof(h));
}

/* Binary text[] of strs[0..n) (NULL elements become empty strings). */
static int
bin_text_array(struct rs_buf *b, const char *const *strs, size_t stride,
    size_t n)
{
	const char	*s;
	uint32_t	 len;
	size_t		 i, l, total = 20;

	/* Size it exactly first: these arrays can be megabytes. */
	for (i = 0; i < n; i++) {
		s = *(const char *const *)(const void *)
		    ((const char *)strs + i * stride);
		l = s != NULL ? strlen(s) : 0;
		if (l > INT32_MAX || total > SIZE_MAX - 4 - l)
			return -1;
		total += 4 + l;
	}
	if (rs_buf_reserve(b, total) == -1 || bin_header(b, OID_TEXT, n) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		s = *(const char *const *)(const void *)
		    ((const char *)strs + i * stride);
		l = s != NULL ? strlen(s) : 0;
		if (l > INT32_MAX)
			return -1;
		len = htonl((uint32_t)l);
		if (rs_buf_append(b, &len, 4) == -1 ||
		    rs_buf_append(b, s != NULL ? s : "", l) == -1)
			return -1;
	}
	return 0;
}

/* Binary float4[] of every chunk's embedding, flattened. */
static int
bin_embeddings(struct rs_buf *b, const struct store_chunk *c, size_t n)
{
	uint32_t	 rec[2], u;
	size_t		 i, j;
	char		*p;

	if (n > INT32_MAX / EMBED_DIMS ||
	    rs_buf_reserve(b, 20 + n * EMBED_DIMS * sizeof(rec)) == -1 ||
	    bin_header(b, OID_FLOAT4, n * EMBED_DIMS) == -1)
		return -1;
	/* Reserved above: write the elements in place. */
	p = b->p + b->len;
	rec[0] = htonl(4);
	for (i = 0; i < n; i++)
		for (j = 0; j < EMBED_DIMS; j++) {
			memcpy(&u, &c[i].embedding[j], 4);
			rec[1] = htonl(u);
			memcpy(p, rec, sizeof(rec));
			p += sizeof(rec);
		}
	b->len += n * EMBED_DIMS * sizeof(rec);
	b->p[b->len] = '\0';
	return 0;
}

enum rs_status
store_existing_hashes(struct store *st, const char *source_id,
    const char *const *hashes, size_t n, unsigned char *exists, char *err)
{
	struct rs_buf	 arr;
	PGresult	*r = NULL;
	const char	*v[2];
	int		 lens[2] = { 0, 0 }, fmts[2] = { 0, 1 };
	Oid		 types[2] = { 0, OID_TEXTARRAY };
	enum rs_status	 rc = RS_EDB;
	long		 k;
	int		 i;

	memset(exists, 0, n);
	if (n == 0)
		return RS_OK;
	rs_buf_init(&arr, STORE_MAX_PARAM);
	if (bin_text_array(&arr, hashes, sizeof(char *), n) == -1) {
		rs_errf(err, "out of memory");
		rc = RS_ENOMEM;
		goto out;
	}
	v[0] = source_id;
	v[1] = arr.p;
	lens[1] = (int)arr.len;
	if ((r = run(st, STMT_EXISTING_HASHES, 2, types, v, lens, fmts,
	    RETRY_UNLOCKED, err)) == NULL)
		goto out;
	for (i = 0; i < PQntuples(r); i++) {
		k = strtol(PQgetvalue(r, i, 0), NULL, 10);
		if (k >= 1 && (size_t)k <= n)
			exists[k - 1] = 1;
	}
	rc = RS_OK;
out:
	PQclear(r);
	rs_buf_free(&arr);
	return rc;
}

enum rs_status
store_commit_batch(struct store *st, const struct store_batch *b,
    struct store_commit *res, char *err)
{
	enum { NP = 26 };
	struct rs_buf	 arrs[6];
	PGresult	*r = NULL;
	const char	*v[NP];
	int		 lens[NP], fmts[NP];
	Oid		 types[NP];
	char		 nchunks[32], items[32], http[32], total[32];
	char		 prior[32];
	enum rs_status	 rc = RS_ENOMEM;
	size_t		 i;
	static const struct store_chunk none;
	const struct store_chunk *c = b->nchunks > 0 ? b->chunks : &none;

	memset(res, 0, sizeof(*res));
	memset(lens, 0, sizeof(lens));
	memset(fmts, 0, sizeof(fmts));
	memset(types, 0, sizeof(types));
	for (i = 0; i < 6; i++)
		rs_buf_init(&arrs[i], STORE_MAX_PARAM);
	if (bin_text_array(&arrs[0], b->roles, sizeof(char *), b->nroles) ||
	    bin_text_array(&arrs[1], &c->title, sizeof(*c), b->nchunks) ||
	    bin_text_array(&arrs[2], &c->content, sizeof(*c), b->nchunks) ||
	    bin_text_array(&arrs[3], &c->hash, sizeof(*c), b->nchunks) ||
	    bin_text_array(&arrs[4], &c->metadata, sizeof(*c), b->nchunks) ||
	    bin_embeddings(&arrs[5], c, b->nchunks)) {
		rs_errf(err, "out of memory building the batch");
		goto out;
	}
	(void)snprintf(nchunks, sizeof(nchunks), "%zu", b->nchunks);
	(void)snprintf(items, sizeof(items), "%lld", b->items);
	(void)snprintf(http, sizeof(http), "%d", b->http_status);
	(void)snprintf(total, sizeof(total), "%lld", b->total);

	v[0] = b->tenant_id;
	v[1] = b->source_id;
	v[2] = b->doc_title;
	v[3] = b->batch_hash;
	v[4] = nchunks;
	for (i = 0; i < 6; i++) {
		v[5 + i] = arrs[i].p;
		lens[5 + i] = (int)arrs[i].len;
		fmts[5 + i] = 1;
		types[5 + i] = i == 5 ? OID_FLOAT4ARRAY : OID_TEXTARRAY;
	}
	v[11] = b->next_cursor;
	v[12] = items;
	v[13] = b->done ? "done" : "ok";
	v[14] = b->http_status > 0 ? http : NULL;
	v[15] = b->done ? "true" : "false";
	v[16] = b->total >= 0 ? total : NULL;
	v[17] = b->page_key != NULL ? b->page_key : "";
	v[18] = b->etag;
	v[19] = b->last_modified;
	v[20] = b->save_page ? "true" : "false";
	v[21] = b->advance ? "true" : "false";
	(void)snprintf(prior, sizeof(prior), "%lld", b->prior_inserted);
	v[22] = prior;
	v[23] = b->actor != NULL ? b->actor : "unknown";
	v[24] = b->action != NULL ? b->action : "sync";
	v[25] = b->detail != NULL ? b->detail : "{}";

	if ((r = run(st, STMT_COMMIT_BATCH, NP, types, v, lens, fmts, RETRY_NEVER,
	    err)) == NULL) {
		rc = RS_EDB;
		goto out;
	}
	if (PQntuples(r) != 1) {
		rs_errf(err, "database: commit returned no row");
		rc = RS_EDB;
		goto out;
	}
	if (!PQgetisnull(r, 0, 0))
		(void)snprintf(res->doc_id, sizeof(res->doc_id), "%s",
		    PQgetvalue(r, 0, 0));
	res->inserted = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	/* Empty (NULL) when the cursor was not advanced. */
	res->page_count = atoi(PQgetvalue(r, 0, 2));
	res->item_count = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	res->chunk_count = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
	rc = RS_OK;
out:
	PQclear(r);
	for (i = 0; i < 6; i++)
		rs_buf_free(&arrs[i]);
	return rc;
}

enum rs_status
store_tx(struct store *st, enum store_tx tx, char *err)
{
	static const enum stmt map[STORE_TX__MAX] =
	    { STMT_BEGIN, STMT_COMMIT, STMT_ROLLBACK };
	PGresult	*r;

	if ((unsigned)tx >= STORE_TX__MAX)
		return RS_EINTERNAL;
	/* BEGIN on a lost connection may be retried; the others not. */
	if ((r = run(st, map[tx], 0, NULL, NULL, NULL, NULL,
	    tx == STORE_BEGIN, err)) == NULL)
		return RS_EDB;
	PQclear(r);
	return RS_OK;
}

enum rs_status
store_record_error(struct store *st, const char *tenant_id,
    const char *source_id, int http_status, const char *msg,
    const char *actor, const char *action, const char *detail, char *err)
{
	PGresult	*r;
	char		 http[32];
	const char	*v[7];

	(void)snprintf(http, sizeof(http), "%d", http_status);
	v[0] = tenant_id;
	v[1] = source_id;
	v[2] = http_status > 0 ? http : NULL;
	v[3] = msg;
	v[4] = actor != NULL ? actor : "unknown";
	v[5] = action != NULL ? action : "sync";
	v[6] = detail != NULL ? detail : "{}";
	if ((r = run(st, STMT_RECORD_ERROR, 7, NULL, v, NULL, NULL, RETRY_ALWAYS,
	    err)) ==
	    NULL)
		return RS_EDB;
	PQclear(r);
	return RS_OK;
}
