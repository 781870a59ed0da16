/*
 * probe_commit.c — time store_commit_batch() alone, as a batch calls it,
 * to find where the commit's milliseconds go.  Connects with DATABASE_URL
 * (libpq also reads PGOPTIONS, so session settings can be varied from
 * outside: PGOPTIONS='-c synchronous_commit=off').  Creates its own tenant
 * and source, then commits BATCHES batches of CHUNKS new chunks (distinct
 * ~TEXT-byte texts, unit 1536-dim embeddings, the batch's metadata shape).
 *   probe_commit [BATCHES [CHUNKS [TEXT]]]     (40 50 400)
 * Prints {"batches","chunks","commitMs":{mean,p50,p95,min,max},
 * "dedupMs":{...}} on stdout.
 */
#include <math.h>
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
#define MAX_TEXT	65536

static const char sql_setup[] =
    "INSERT INTO tenants (id, name) VALUES "
    "('00000000-0000-4000-8000-0000000000bf', 'Probe Tenant') "
    "ON CONFLICT DO NOTHING";
static const char sql_source[] =
    "INSERT INTO kb_sources (tenant_id, type, title, config) VALUES "
    "('00000000-0000-4000-8000-0000000000bf', 'rest', $1, '{}'::jsonb) "
    "RETURNING id";

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
	json_object_object_add(o, "p95", json_object_new_double(
	    v[(size_t)ceil(0.95 * n) - 1]));
	json_object_object_add(o, "min", json_object_new_double(v[0]));
	json_object_object_add(o, "max", json_object_new_double(v[n - 1]));
	return o;
}

/* A new source id (from its own connection; the store keeps its own). */
static int
new_source(char *id, size_t idsz)
{
	PGconn		*c = PQconnectdb(getenv("DATABASE_URL") ?
			    getenv("DATABASE_URL") : "");
	PGresult	*r = NULL;
	char		 title[64];
	const char	*v[1] = { title };
	int		 rc = -1;

	(void)snprintf(title, sizeof(title), "probe %lu", rng() % 1000000000);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "connect: %s", PQerrorMessage(c));
		goto out;
	}
	PQclear(PQexec(c, sql_setup));
	r = PQexecParams(c, sql_source, 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		fprintf(stderr, "source: %s", PQerrorMessage(c));
		goto out;
	}
	(void)snprintf(id, idsz, "%s", PQgetvalue(r, 0, 0));
	rc = 0;
out:
	PQclear(r);
	PQfinish(c);
	return rc;
}

int
main(int argc, char *argv[])
{
	static const char *const roles[] = { "member", "support", "admin" };
	struct store		*st = NULL;
	struct store_chunk	*sc = NULL;
	struct store_batch	 sb;
	struct store_commit	 cm;
	struct json_object	*out;
	char			 src[37], err[RS_ERRLEN], bhash[HASH_HEXLEN + 1];
	char			(*hashes)[HASH_HEXLEN + 1] = NULL;
	char			**texts = NULL, **meta = NULL;
	const char		**hp = NULL;
	unsigned char		*ex = NULL;
	float			*emb = NULL;
	double			*cms = NULL, *dms = NULL, t, norm;
	long			 nb = argc > 1 ? strtol(argv[1], NULL, 10) : 40;
	long			 nc = argc > 2 ? strtol(argv[2], NULL, 10) : 50;
	long			 tl = argc > 3 ? strtol(argv[3], NULL, 10) : 400;
	long			 b, i, j;
	int			 rc = 1, n;

	if (nb < 1 || nb > MAX_BATCHES || nc < 1 || nc > MAX_CHUNKS ||
	    tl < 16 || tl > MAX_TEXT) {
		fprintf(stderr, "usage: probe_commit [BATCHES<=%d [CHUNKS<=%d "
		    "[TEXT 16..%d]]]\n", MAX_BATCHES, MAX_CHUNKS, MAX_TEXT);
		return 2;
	}
	if ((sc = calloc((size_t)nc, sizeof(*sc))) == NULL ||
	    (hashes = calloc((size_t)nc, sizeof(*hashes))) == NULL ||
	    (texts = calloc((size_t)nc, sizeof(*texts))) == NULL ||
	    (meta = calloc((size_t)nc, sizeof(*meta))) == NULL ||
	    (hp = calloc((size_t)nc, sizeof(*hp))) == NULL ||
	    (ex = calloc((size_t)nc, 1)) == NULL ||
	    (emb = calloc((size_t)nc * EMBED_DIMS, sizeof(float))) == NULL ||
	    (cms = calloc((size_t)nb, sizeof(double))) == NULL ||
	    (dms = calloc((size_t)nb, sizeof(double))) == NULL) {
		fprintf(stderr, "out of memory\n");
		goto out;
	}
	for (i = 0; i < nc; i++)
		if ((texts[i] = malloc((size_t)tl + 1)) == NULL ||
		    (meta[i] = malloc(512)) == NULL) {
			fprintf(stderr, "out of memory\n");
			goto out;
		}
	rng_state ^= (unsigned long)rs_now_ms();
	if (new_source(src, sizeof(src)) == -1 ||
	    store_open(&st, err) != RS_OK)
		goto out;
	for (b = 0; b < nb; b++) {
		for (i = 0; i < nc; i++) {
			for (j = 0; j < tl; j++)
				texts[i][j] = (char)(rng() % 7 == 0 ? ' ' :
				    'a' + rng() % 26);
			texts[i][tl] = '\0';
			hash_sha256_hex(texts[i], (size_t)tl, hashes[i]);
			hp[i] = hashes[i];
			/* Hex, a UUID and integers: nothing to escape. */
			n = snprintf(meta[i], 512, "{\"contentHash\":\"%s\","
			    "\"sourceId\":\"%s\",\"itemIndex\":%ld,"
			    "\"chunkIndex\":0,\"page\":%ld}", hashes[i], src,
			    b * nc + i, b + 1);
			if (n < 0 || n >= 512) {
				fprintf(stderr, "metadata too long\n");
				goto out;
			}
			norm = 0;
			for (j = 0; j < EMBED_DIMS; j++) {
				emb[i * EMBED_DIMS + j] =
				    (float)(rng() % 20001) / 10000.0f - 1.0f;
				norm += (double)emb[i * EMBED_DIMS + j] *
				    emb[i * EMBED_DIMS + j];
			}
			for (j = 0; j < EMBED_DIMS; j++)
				emb[i * EMBED_DIMS + j] /= (float)sqrt(norm);
			sc[i].title = "Probe item";
			sc[i].content = texts[i];
			sc[i].hash = hashes[i];
			sc[i].metadata = meta[i];
			sc[i].embedding = emb + i * EMBED_DIMS;
		}
		t = rs_now_ms();
		if (store_existing_hashes(st, src, hp, (size_t)nc, ex, err) !=
		    RS_OK) {
			fprintf(stderr, "dedup: %s\n", err);
			goto out;
		}
		dms[b] = rs_now_ms() - t;
		hash_sha256_hex(texts[0], (size_t)tl, bhash);
		memset(&sb, 0, sizeof(sb));
		sb.tenant_id = "00000000-0000-4000-8000-0000000000bf";
		sb.source_id = src;
		sb.doc_title = "Probe doc";
		sb.batch_hash = bhash;
		sb.dims = EMBED_DIMS;
		sb.roles = roles;
		sb.nroles = 3;
		sb.chunks = sc;
		sb.nchunks = (size_t)nc;
		sb.next_cursor = "x";
		sb.items = nc;
		sb.http_status = 200;
		sb.total = -1;
		t = rs_now_ms();
		if (store_commit_batch(st, &sb, &cm, err) != RS_OK) {
			fprintf(stderr, "commit: %s\n", err);
			goto out;
		}
		cms[b] = rs_now_ms() - t;
		if (cm.inserted != nc) {
			fprintf(stderr, "commit inserted %lld of %ld\n",
			    cm.inserted, nc);
			goto out;
		}
	}
	out = json_object_new_object();
	json_object_object_add(out, "batches", json_object_new_int64(nb));
	json_object_object_add(out, "chunks", json_object_new_int64(nc));
	json_object_object_add(out, "textBytes", json_object_new_int64(tl));
	json_object_object_add(out, "commitMs", dist(cms, (size_t)nb));
	json_object_object_add(out, "dedupMs", dist(dms, (size_t)nb));
	printf("%s\n", json_object_to_json_string_ext(out,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(out);
	rc = 0;
out:
	store_close(st);
	if (texts != NULL)
		for (i = 0; i < nc; i++)
			free(texts[i]);
	if (meta != NULL)
		for (i = 0; i < nc; i++)
			free(meta[i]);
	free(texts);
	free(meta);
	free(sc);
	free(hashes);
	free(hp);
	free(ex);
	free(emb);
	free(cms);
	free(dms);
	return rc;
}
