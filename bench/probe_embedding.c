/*
 * probe_embedding.c — "The serial commit" (issue 13): storing each
 * embedding as raw little-endian float32 bytea (sql/012, what the schema
 * uses where pgvector is absent) against the real[] it replaced.  Two
 * scratch tables shaped like kb_chunks (LIKE
 * kb_chunks, its defaults, constraints, indexes and inline storage), one
 * with embedding real[] and one with embedding bytea, get BATCHES
 * inserts of CHUNKS rows each, written as the commit statement writes
 * them (one INSERT ... SELECT over unnest() of the batch's arrays, the
 * embedding sliced out of one flat binary parameter: a float4[] slice, or
 * a substring of a bytea), alternating batch by batch so that a noisy
 * neighbour hits both alike.  Then a binary scan of each table, as the
 * search scan reads it.  Connects with DATABASE_URL; drops its tables.
 *   probe_embedding [BATCHES [CHUNKS]]       (60 50)
 * Prints {"batches","chunks","insertMs":{"real":{..},"bytea":{..}},
 * "scanMs":{"real","bytea"},"rows"} on stdout.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "embed.h"
#include "hashing.h"
#include "rs.h"
#include "store.h"

#define MAX_BATCHES	10000
#define MAX_CHUNKS	1000
#define TEXT_LEN	400
#define OID_FLOAT4	700

static const char *const sql_setup[] = {
	"DROP TABLE IF EXISTS probe_emb_real, probe_emb_bytea",
	"CREATE TABLE probe_emb_real (LIKE kb_chunks INCLUDING DEFAULTS "
	"INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE) "
	"WITH (toast_tuple_target = 8160)",
	"CREATE TABLE probe_emb_bytea (LIKE kb_chunks INCLUDING DEFAULTS "
	"INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE) "
	"WITH (toast_tuple_target = 8160)",
	/* Each table gets the size check of its type: 011's for real[],
	 * 012's for bytea (4 bytes a dimension). */
	"DO $$DECLARE c record; BEGIN FOR c IN SELECT conrelid::regclass AS t, "
	"conname FROM pg_constraint WHERE conrelid IN "
	"('probe_emb_real'::regclass, 'probe_emb_bytea'::regclass) AND "
	"contype = 'c' AND pg_get_constraintdef(oid) LIKE '%embedding%' LOOP "
	"EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.t, "
	"c.conname); END LOOP; END$$",
	"ALTER TABLE probe_emb_real ALTER embedding TYPE real[] "
	"USING NULL, ALTER embedding SET STORAGE PLAIN, "
	"ADD CHECK (array_ndims(embedding) = 1 AND "
	"array_length(embedding, 1) = restsync_embedding_dims(metadata))",
	"ALTER TABLE probe_emb_bytea ALTER embedding TYPE bytea "
	"USING NULL, ALTER embedding SET STORAGE PLAIN, "
	"ADD CHECK (octet_length(embedding) = "
	"4 * restsync_embedding_dims(metadata))",
};

#define INSERT_HEAD \
	"(tenant_id, doc_id, chunk_idx, title, content, embedding, metadata, " \
	"allowed_roles, source_id, content_hash, item_refs) " \
	"SELECT '00000000-0000-4000-8000-0000000000bf'::uuid, $1::uuid, " \
	"$2::int + u.ord::int - 1, u.title, u.content, "
#define INSERT_TAIL \
	", u.meta::jsonb, '{member,support,admin}'::text[], $1::uuid, " \
	"u.hash, 1 FROM unnest($3::text[], $4::text[], $5::text[], " \
	"$6::text[]) WITH ORDINALITY AS u(title, content, hash, meta, ord)"

static const char sql_real[] =
    "INSERT INTO probe_emb_real " INSERT_HEAD
    "($7::real[])[((u.ord::int - 1) * 1536 + 1):(u.ord::int * 1536)]"
    INSERT_TAIL;
static const char sql_bytea[] =
    "INSERT INTO probe_emb_bytea " INSERT_HEAD
    "substring($7::bytea FROM (u.ord::int - 1) * 6144 + 1 FOR 6144)"
    INSERT_TAIL;

static unsigned long	 rng_state = 88172645463325252UL;

static unsigned long
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct json_object *
dist(double *v, size_t n)
{
	struct json_object	*o = json_object_new_object();
	double			 s = 0;
	size_t			 i;

	qsort(v, n, sizeof(*v), cmp_double);
	for (i = 0; i < n; i++)
		s += v[i];
	json_object_object_add(o, "mean", json_object_new_double(s / n));
	json_object_object_add(o, "p50", json_object_new_double(v[n / 2]));
	json_object_object_add(o, "min", json_object_new_double(v[0]));
	json_object_object_add(o, "max", json_object_new_double(v[n - 1]));
	return o;
}

/* A text[] literal of n strings with nothing to escape. */
static int
text_array(struct rs_buf *b, char *const *s, size_t n)
{
	size_t	 i;

	b->len = 0;
	if (rs_buf_puts(b, "{") == -1)
		return -1;
	for (i = 0; i < n; i++)
		if ((i > 0 && rs_buf_puts(b, ",") == -1) ||
		    rs_buf_puts(b, "\"") == -1 || rs_buf_puts(b, s[i]) == -1 ||
		    rs_buf_puts(b, "\"") == -1)
			return -1;
	return rs_buf_puts(b, "}");
}

/* The vectors as a binary float4[] (network order) or raw LE bytea. */
static size_t
vectors(char *out, const float *emb, size_t n, int bytea)
{
	uint32_t	 h[5], u, len = htonl(4);
	size_t		 i, off = 0;

	if (bytea) {
		/* As the commit writes them (store.c). */
		rs_f32le_put((unsigned char *)out, emb, n * EMBED_DIMS);
		return n * EMBED_DIMS * 4;
	}
	h[0] = htonl(1);
	h[1] = htonl(0);
	h[2] = htonl(OID_FLOAT4);
	h[3] = htonl((uint32_t)(n * EMBED_DIMS));
	h[4] = htonl(1);
	memcpy(out, h, sizeof(h));
	off = sizeof(h);
	for (i = 0; i < n * EMBED_DIMS; i++) {
		memcpy(&u, &emb[i], 4);
		u = htonl(u);
		memcpy(out + off, &len, 4);
		memcpy(out + off + 4, &u, 4);
		off += 8;
	}
	return off;
}

static double
scan(PGconn *c, const char *table)
{
	char		 q[128];
	PGresult	*r;
	double		 t = rs_now_ms();
	int		 i;
	volatile float	 sink = 0;

	(void)snprintf(q, sizeof(q), "SELECT embedding FROM %s", table);
	r = PQexecParams(c, q, 0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "scan: %s", PQerrorMessage(c));
		PQclear(r);
		return -1;
	}
	for (i = 0; i < PQntuples(r); i++)
		sink += (float)PQgetlength(r, i, 0);
	PQclear(r);
	(void)sink;
	return rs_now_ms() - t;
}

int
main(int argc, char *argv[])
{
	PGconn			*c;
	PGresult		*r;
	struct rs_buf		 arr[4];
	struct json_object	*out, *ins;
	char			**txt = NULL, **meta = NULL, **hash = NULL;
	char			**title = NULL, *vec = NULL, doc[37], idx[16];
	const char		*v[7];
	int			 len[7], fmt[7] = { 0, 0, 0, 0, 0, 0, 1 };
	float			*emb = NULL;
	double			*ms[2] = { NULL, NULL }, t, norm, sc[2];
	long			 nb = argc > 1 ? strtol(argv[1], NULL, 10) : 60;
	long			 nc = argc > 2 ? strtol(argv[2], NULL, 10) : 50;
	long			 b, i, j, k;
	int			 rc = 1;

	if (nb < 1 || nb > MAX_BATCHES || nc < 1 || nc > MAX_CHUNKS) {
		fprintf(stderr, "usage: probe_embedding [BATCHES [CHUNKS]]\n");
		return 2;
	}
	c = PQconnectdb(getenv("DATABASE_URL") ? getenv("DATABASE_URL") : "");
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "connect: %s", PQerrorMessage(c));
		return 1;
	}
	for (i = 0; i < 4; i++)
		rs_buf_init(&arr[i], 64u * 1024 * 1024);
	if ((txt = calloc((size_t)nc, sizeof(*txt))) == NULL ||
	    (meta = calloc((size_t)nc, sizeof(*meta))) == NULL ||
	    (hash = calloc((size_t)nc, sizeof(*hash))) == NULL ||
	    (title = calloc((size_t)nc, sizeof(*title))) == NULL ||
	    (emb = calloc((size_t)nc * EMBED_DIMS, sizeof(float))) == NULL ||
	    (vec = malloc(20 + (size_t)nc * EMBED_DIMS * 8)) == NULL ||
	    (ms[0] = calloc((size_t)nb, sizeof(double))) == NULL ||
	    (ms[1] = calloc((size_t)nb, sizeof(double))) == NULL)
		goto nomem;
	for (i = 0; i < nc; i++)
		if ((txt[i] = malloc(TEXT_LEN + 1)) == NULL ||
		    (meta[i] = malloc(256)) == NULL ||
		    (hash[i] = malloc(HASH_HEXLEN + 1)) == NULL ||
		    (title[i] = strdup("Probe item")) == NULL)
			goto nomem;
	for (i = 0; i < (long)(sizeof(sql_setup) / sizeof(sql_setup[0])); i++) {
		r = PQexec(c, sql_setup[i]);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "setup: %s", PQerrorMessage(c));
			PQclear(r);
			goto out;
		}
		PQclear(r);
	}
	rng_state ^= (unsigned long)rs_now_ms();
	(void)snprintf(doc, sizeof(doc), "%08lx-0000-4000-8000-%012lx",
	    rng() & 0xffffffffUL, rng() & 0xffffffffffffUL);
	for (b = 0; b < nb; b++) {
		for (k = 0; k < 2; k++) {
			/* New rows every time: texts, hashes, vectors. */
			for (i = 0; i < nc; i++) {
				for (j = 0; j < TEXT_LEN; j++)
					txt[i][j] = (char)(rng() % 7 == 0 ?
					    ' ' : 'a' + rng() % 26);
				txt[i][TEXT_LEN] = '\0';
				hash_sha256_hex(txt[i], TEXT_LEN, hash[i]);
				(void)snprintf(meta[i], 256, "{\\\"contentHash"
				    "\\\":\\\"%s\\\",\\\"page\\\":%ld}", hash[i],
				    b + 1);
				for (norm = 0, j = 0; j < EMBED_DIMS; j++) {
					float x = (float)(rng() % 20001) /
					    10000.0f - 1.0f;

					emb[i * EMBED_DIMS + j] = x;
					norm += (double)x * x;
				}
				for (j = 0; j < EMBED_DIMS; j++)
					emb[i * EMBED_DIMS + j] /=
					    (float)sqrt(norm);
			}
			if (text_array(&arr[0], title, (size_t)nc) == -1 ||
			    text_array(&arr[1], txt, (size_t)nc) == -1 ||
			    text_array(&arr[2], hash, (size_t)nc) == -1 ||
			    text_array(&arr[3], meta, (size_t)nc) == -1)
				goto nomem;
			(void)snprintf(idx, sizeof(idx), "%ld", b * nc);
			v[0] = doc;
			v[1] = idx;
			for (i = 0; i < 4; i++)
				v[2 + i] = arr[i].p;
			/* Alternate which goes first, batch by batch. */
			j = (b + k) % 2;
			len[6] = (int)vectors(vec, emb, (size_t)nc, (int)j);
			v[6] = vec;
			t = rs_now_ms();
			r = PQexecParams(c, j ? sql_bytea : sql_real, 7, NULL,
			    v, len, fmt, 0);
			ms[j][b] = rs_now_ms() - t;
			if (PQresultStatus(r) != PGRES_COMMAND_OK ||
			    atol(PQcmdTuples(r)) != nc) {
				fprintf(stderr, "insert: %s", PQerrorMessage(c));
				PQclear(r);
				goto out;
			}
			PQclear(r);
		}
	}
	if ((sc[0] = scan(c, "probe_emb_real")) < 0 ||
	    (sc[1] = scan(c, "probe_emb_bytea")) < 0)
		goto out;
	out = json_object_new_object();
	ins = json_object_new_object();
	json_object_object_add(out, "batches", json_object_new_int64(nb));
	json_object_object_add(out, "chunks", json_object_new_int64(nc));
	json_object_object_add(ins, "real", dist(ms[0], (size_t)nb));
	json_object_object_add(ins, "bytea", dist(ms[1], (size_t)nb));
	json_object_object_add(out, "insertMs", ins);
	ins = json_object_new_object();
	json_object_object_add(ins, "real", json_object_new_double(sc[0]));
	json_object_object_add(ins, "bytea", json_object_new_double(sc[1]));
	json_object_object_add(out, "scanMs", ins);
	json_object_object_add(out, "rows", json_object_new_int64(nb * nc));
	printf("%s\n", json_object_to_json_string_ext(out,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(out);
	rc = 0;
	goto out;
nomem:
	fprintf(stderr, "out of memory\n");
out:
	PQclear(PQexec(c, "DROP TABLE IF EXISTS probe_emb_real, "
	    "probe_emb_bytea"));
	PQfinish(c);
	for (i = 0; i < 4; i++)
		rs_buf_free(&arr[i]);
	for (i = 0; txt != NULL && i < nc; i++) {
		free(txt[i]);
		free(meta[i]);
		free(hash[i]);
		free(title[i]);
	}
	free(txt);
	free(meta);
	free(hash);
	free(title);
	free(emb);
	free(vec);
	free(ms[0]);
	free(ms[1]);
	return rc;
}
