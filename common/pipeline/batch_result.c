/*
 * batch_result.c — a batch's result as JSON (the endpoint's answer and
 * the audit row's detail).
 */
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
