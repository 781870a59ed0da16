/*
 * inspect.h — the operator's view of what a source holds: its items
 * (keyset paged), an item's chunks, and search as a role would see it.
 * Prefix: insp_.  All SQL lives in inspect.c as static const statements
 * indexed by an enum; the connection is the store's (store_db).
 *
 * Search embeds the query with the deployment's embedder and ranks the
 * chunks in scope (a source or a tenant, restricted to chunks whose
 * allowed_roles contain role when one is given) by cosine similarity:
 * with pgvector by `<=>` in PostgreSQL; elsewhere (float32 bytea, sql/012)
 * by an exact scan in C over rows streamed in binary, one row in memory
 * at a time (single-row mode) plus a k-entry heap.
 */
#ifndef INSPECT_H
#define INSPECT_H

#include <stddef.h>

#include <json-c/json.h>

#include "embed.h"
#include "rs.h"
#include "store.h"

#define INSP_ITEMS_DEFAULT	50
#define INSP_ITEMS_MAX		200
#define INSP_ITEM_CHUNKS_MAX	500	/* chunks shown for one item */
#define INSP_KEY_MAX		600	/* kb_rest_items.item_key */
#define INSP_QUERY_MAX		2000	/* bytes of a search query */
#define INSP_K_DEFAULT		10
#define INSP_K_MAX		50
#define INSP_EXCERPT		300	/* characters of content in a hit */

struct insp_db;

/* Borrow the store's connection; st must outlive the insp_db. */
enum rs_status	 insp_open(struct insp_db **, struct store *st, char *err);
void		 insp_close(struct insp_db *);

/* GET rest-items: sourceId, after ("" first page), limit, key ("" list). */
struct insp_items_query {
	char	 source_id[37];
	char	 after[INSP_KEY_MAX + 1];
	char	 key[INSP_KEY_MAX + 1];
	int	 limit;
};

/*
 * Parse the query string of GET rest-items: sourceId (required UUID),
 * after and key (percent-decoded, at most INSP_KEY_MAX bytes), limit
 * (1..INSP_ITEMS_MAX), each at most once, nothing else; key excludes
 * after and limit.  RS_EINPUT naming the parameter.
 */
enum rs_status	 insp_parse_items_query(const char *qs,
		    struct insp_items_query *, char *err);

/*
 * *out = {items: [{key, title, chunks, firstSeenAt, lastSeenAt,
 * changedAt}], next: <key to pass as after> | null}, keys in order after
 * q->after.  RS_ENOTFOUND when the source does not exist.
 */
enum rs_status	 insp_items(struct insp_db *, const struct insp_items_query *,
		    struct json_object **out, char *err);

/*
 * *out = {item: {...as in insp_items}, chunks: [{position, chunkIndex,
 * docTitle, title, content, contentHash, allowedRoles, embeddingModel}]}
 * for item q->key of q->source_id.  RS_ENOTFOUND (source or item).
 */
enum rs_status	 insp_item_chunks(struct insp_db *,
		    const struct insp_items_query *, struct json_object **out,
		    char *err);

/* A validated search request. */
struct insp_search {
	char	 source_id[37];	/* one of source_id ... */
	char	 tenant_id[37];	/* ... and tenant_id is "" */
	char	*query;
	char	 role[65];	/* "" any role */
	int	 k;
};

/* {"sourceId"|"tenantId", "query", "role"?, "k"?}.  RS_EINPUT. */
enum rs_status	 insp_parse_search(struct json_object *body,
		    struct insp_search *, char *err);
void		 insp_search_free(struct insp_search *);

/* What a search did, for the answer and the log. */
struct insp_search_stats {
	long long	 scanned;	/* rows read (exact scan) */
	long long	 skipped;	/* rows of another size or model */
	const char	*method;	/* "pgvector" or "exact-scan" */
	double		 embed_ms, search_ms;
};

/*
 * Embed s->query with em and answer *out = [{score, excerpt, docTitle,
 * title, itemKey, chunkIndex, itemChunkIndex, allowedRoles, sourceId,
 * embeddingModel}], best first.  RS_ENOTFOUND when the source or tenant
 * does not exist; RS_EEMBED; RS_EDB.
 */
enum rs_status	 insp_search_run(struct insp_db *, struct embedder *em,
		    const struct insp_search *, struct json_object **out,
		    struct insp_search_stats *, char *err);

/*
 * The k best of n scores so far, kept in a min-heap (insp_topk_*): pure
 * C, unit-tested.  ids are 16-byte UUIDs.
 */
struct insp_hit {
	unsigned char	 id[16];
	float		 score;
};

struct insp_topk {
	struct insp_hit	 h[INSP_K_MAX];
	int		 n, k;
};

void		 insp_topk_init(struct insp_topk *, int k);
void		 insp_topk_add(struct insp_topk *, const unsigned char id[16],
		    float score);
/* Sort the kept hits best first (the heap is gone afterwards). */
void		 insp_topk_sort(struct insp_topk *);

/*
 * Decode a PostgreSQL binary float4[] of one dimension into out[0..max);
 * *n = its length.  -1 when it is malformed, has NULLs, or is longer
 * than max.
 */
int		 insp_float4_array(const unsigned char *p, size_t len,
		    float *out, size_t max, size_t *n);

/*
 * Decode one embedding as a binary result holds it: a bytea (type 17,
 * sql/012) of 4 bytes of float32 little-endian per float, else a float4[]
 * (insp_float4_array).  -1 when malformed or longer than max.
 */
int		 insp_embedding(const unsigned char *p, size_t len,
		    unsigned int type, float *out, size_t max, size_t *n);

/* Cosine similarity of a and b (n floats); 0 when either is zero. */
float		 insp_cosine(const float *a, const float *b, size_t n);

/* What a dry run (rest-preview, batch_preview) starts from. */
struct insp_preview {
	char		 tenant_id[37];
	char		*title;
	char		*config;	/* the request's, else the source's */
	char		*cursor;	/* the source's next page, or NULL */
	long long	 items_before;
	int		 pages_before;
	unsigned char	*ct, *nonce;	/* the tenant's stored secret for the
					   config's provider and origin, or
					   NULL */
	size_t		 ctlen, noncelen;
	char		 origin[320];	/* the config's baseUrl origin */
	int		 aad;		/* the secret's aad_version */
};

/*
 * Load what a preview needs.  With source_id: its tenant, title and
 * config; with config NULL the source's next page (the first when the
 * source is done), else the first page of config.  With tenant_id:
 * config (required) and title.  RS_ENOTFOUND for an unknown source or
 * tenant; RS_EINPUT ("source config: ...") for a stored config that no
 * longer parses.
 */
enum rs_status	 insp_preview_load(struct insp_db *, const char *source_id,
		    const char *tenant_id, const char *config,
		    const char *title, struct insp_preview *, char *err);
void		 insp_preview_free(struct insp_preview *);

#endif
