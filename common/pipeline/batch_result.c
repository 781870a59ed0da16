/*
 * batch_result.c — a batch's result as JSON (the endpoint's answer and
 * the audit row's detail).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "batch_int.h"

void
batch_result_free(struct batch_result *r)
{
	free(r->next);
	free(r->url);
	memset(r, 0, sizeof(*r));
}

/* The audit row's detail: what the batch did so far (JSON, malloc'd). */
char *
batch_audit_detail(const struct batch_result *r)
{
	struct json_object	*o = batch_result_json(r);
	char			*s;

	json_object_object_del(o, "ok");
	s = strdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

static struct json_object *
ms_json(double v)
{
	char	 s[32];

	(void)snprintf(s, sizeof(s), "%.3f", v);
	return json_object_new_double_s(v, s);
}

/* How a field of struct batch_result is shown (res_fields[]). */
enum res_kind {
	RK_BOOL,		/* int, true or false */
	RK_INT,			/* int */
	RK_LL,			/* long long */
	RK_STATUS,		/* long, null unless > 0 */
	RK_TOTAL,		/* long long, null when < 0 */
	RK_STR,			/* char *, null when NULL */
	RK_NAME,		/* const char *, "" when NULL */
	RK_TEXT			/* char [], null when empty */
};

/* The endpoint's fields after "ok", in their order; "ms" comes last. */
#define RF(name, kind, field) \
	{ name, kind, offsetof(struct batch_result, field) }
static const struct res_field {
	const char	*name;
	enum res_kind	 kind;
	size_t		 off;
} res_fields[] = {
	RF("done", RK_BOOL, done),
	RF("items", RK_LL, items),
	RF("next", RK_STR, next),
	RF("url", RK_STR, url),
	RF("status", RK_STATUS, status),
	RF("chunks", RK_LL, chunks),
	RF("inserted", RK_LL, inserted),
	RF("skipped", RK_LL, skipped),
	RF("total", RK_TOTAL, total),
	RF("pageCount", RK_INT, page_count),
	RF("itemCount", RK_LL, item_count),
	RF("chunkCount", RK_LL, chunk_count),
	RF("embedder", RK_NAME, embedder),
	RF("attempts", RK_INT, attempts),
	RF("embedRequests", RK_INT, embed_requests),
	RF("embedAttempts", RK_INT, embed_attempts),
	RF("notModified", RK_BOOL, not_modified),
	RF("dbRoundTrips", RK_INT, db_trips),
	RF("runId", RK_TEXT, run_id),
	RF("newItems", RK_LL, new_items),
	RF("changedItems", RK_LL, changed_items),
	RF("unchangedItems", RK_LL, unchanged_items),
	RF("removedItems", RK_LL, removed_items),
	RF("chunksDeleted", RK_LL, chunks_deleted),
	RF("embedInputs", RK_LL, embed_inputs),
	RF("sweep", RK_TEXT, sweep),
	RF("sweepNote", RK_TEXT, sweep_note),
};
#undef RF

static struct json_object *
field_json(const struct batch_result *r, const struct res_field *f)
{
	const char	*p = (const char *)r + f->off, *s;
	long long	 v;

	switch (f->kind) {
	case RK_BOOL:
		return json_object_new_boolean(*(const int *)p);
	case RK_INT:
		return json_object_new_int(*(const int *)p);
	case RK_LL:
		return json_object_new_int64(*(const long long *)p);
	case RK_STATUS:
		v = *(const long *)p;
		return v > 0 ? json_object_new_int((int)v) : NULL;
	case RK_TOTAL:
		v = *(const long long *)p;
		return v >= 0 ? json_object_new_int64(v) : NULL;
	case RK_STR:
		s = *(const char *const *)p;
		return s != NULL ? json_object_new_string(s) : NULL;
	case RK_NAME:
		s = *(const char *const *)p;
		return json_object_new_string(s != NULL ? s : "");
	case RK_TEXT:
		return *p != '\0' ? json_object_new_string(p) : NULL;
	}
	return NULL;
}

struct json_object *
batch_result_json(const struct batch_result *r)
{
	static const char *const ms_names[] = { "load", "fetch", "parse",
	    "normalize", "items", "chunk", "hash", "dedup", "embed", "commit",
	    "sweep", "total" };
	const double		 ms_v[] = { r->ms.load, r->ms.fetch,
	    r->ms.parse, r->ms.normalize, r->ms.items, r->ms.chunk,
	    r->ms.hash, r->ms.dedup, r->ms.embed, r->ms.commit, r->ms.sweep,
	    r->ms.total };
	struct json_object	*o = json_object_new_object(), *ms;
	size_t			 i;

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	for (i = 0; i < sizeof(res_fields) / sizeof(res_fields[0]); i++)
		json_object_object_add(o, res_fields[i].name,
		    field_json(r, &res_fields[i]));
	ms = json_object_new_object();
	for (i = 0; i < sizeof(ms_names) / sizeof(ms_names[0]); i++)
		json_object_object_add(ms, ms_names[i], ms_json(ms_v[i]));
	json_object_object_add(o, "ms", ms);
	return o;
}
