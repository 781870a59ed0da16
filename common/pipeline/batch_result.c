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

/*
 * The endpoint's fields after "ok", in their order; "ms" comes last.
 * The second name is the field's key in the request's log line
 * (batch_result_log), NULL when the log does not carry it.
 */
#define RF(name, log, kind, field) \
	{ name, log, kind, offsetof(struct batch_result, field) }
static const struct res_field {
	const char	*name;
	const char	*log;
	enum res_kind	 kind;
	size_t		 off;
} res_fields[] = {
	RF("done", "done", RK_BOOL, done),
	RF("items", "items", RK_LL, items),
	RF("next", NULL, RK_STR, next),
	RF("url", "url", RK_STR, url),
	RF("status", "upstream_status", RK_STATUS, status),
	RF("chunks", "chunks", RK_LL, chunks),
	RF("inserted", "inserted", RK_LL, inserted),
	RF("skipped", "skipped", RK_LL, skipped),
	RF("total", NULL, RK_TOTAL, total),
	RF("pageCount", NULL, RK_INT, page_count),
	RF("itemCount", NULL, RK_LL, item_count),
	RF("chunkCount", NULL, RK_LL, chunk_count),
	RF("embedder", NULL, RK_NAME, embedder),
	RF("attempts", "attempts", RK_INT, attempts),
	RF("embedRequests", "embed_requests", RK_INT, embed_requests),
	RF("embedAttempts", NULL, RK_INT, embed_attempts),
	RF("notModified", "not_modified", RK_BOOL, not_modified),
	RF("dbRoundTrips", NULL, RK_INT, db_trips),
	RF("runId", NULL, RK_TEXT, run_id),
	RF("newItems", NULL, RK_LL, new_items),
	RF("changedItems", NULL, RK_LL, changed_items),
	RF("unchangedItems", NULL, RK_LL, unchanged_items),
	RF("removedItems", NULL, RK_LL, removed_items),
	RF("chunksDeleted", NULL, RK_LL, chunks_deleted),
	RF("embedInputs", NULL, RK_LL, embed_inputs),
	RF("chunkedItems", "chunked_items", RK_LL, chunked_items),
	RF("sweep", NULL, RK_TEXT, sweep),
	RF("sweepNote", NULL, RK_TEXT, sweep_note),
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

/* The stage times, {"load": ms, ..., "total": ms}. */
static struct json_object *
stages_json(const struct batch_ms *m)
{
	static const char *const names[] = { "load", "fetch", "parse",
	    "normalize", "items", "chunk", "hash", "dedup", "embed", "commit",
	    "sweep", "total" };
	const double		 v[] = { m->load, m->fetch, m->parse,
	    m->normalize, m->items, m->chunk, m->hash, m->dedup, m->embed,
	    m->commit, m->sweep, m->total };
	struct json_object	*ms = json_object_new_object();
	size_t			 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		json_object_object_add(ms, names[i], ms_json(v[i]));
	return ms;
}

struct json_object *
batch_result_json(const struct batch_result *r)
{
	struct json_object	*o = json_object_new_object();
	size_t			 i;

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	for (i = 0; i < sizeof(res_fields) / sizeof(res_fields[0]); i++)
		json_object_object_add(o, res_fields[i].name,
		    field_json(r, &res_fields[i]));
	json_object_object_add(o, "ms", stages_json(&r->ms));
	return o;
}

void
batch_result_log(const struct batch_result *r, struct json_object *log)
{
	size_t	 i;

	for (i = 0; i < sizeof(res_fields) / sizeof(res_fields[0]); i++)
		if (res_fields[i].log != NULL)
			json_object_object_add(log, res_fields[i].log,
			    field_json(r, &res_fields[i]));
	json_object_object_add(log, "stage_ms", stages_json(&r->ms));
}
