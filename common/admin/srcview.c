/*
 * srcview.c — the source endpoints' JSON (see srcview.h).
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "srcview.h"

/* A string, or JSON null for NULL. */
static struct json_object *
srcview_str(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

/* An integer, or JSON null when has is 0. */
static struct json_object *
srcview_int(int has, long long v)
{
	return has ? json_object_new_int64(v) : NULL;
}

static void
srcview_add(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

/* The config as an object plus a summary (or why it does not parse). */
static void
srcview_config(struct json_object *o, const char *text)
{
	struct source_config	 cfg;
	struct json_object	*sum;
	char			 cerr[RS_ERRLEN];

	srcview_add(o, "config", json_tokener_parse(text));
	cerr[0] = '\0';
	if (cfg_parse(text, strlen(text), &cfg, cerr) != RS_OK) {
		srcview_add(o, "summary", NULL);
		srcview_add(o, "configError", json_object_new_string(cerr));
		return;
	}
	sum = json_object_new_object();
	srcview_add(sum, "baseUrl", json_object_new_string(cfg.base_url));
	srcview_add(sum, "cursorStyle",
	    json_object_new_string(cfg_style_name(cfg.style)));
	srcview_add(sum, "pageSize", json_object_new_int(cfg.page_size));
	srcview_add(sum, "requiresAuth",
	    json_object_new_boolean(cfg.requires_auth));
	srcview_add(sum, "provider", json_object_new_string(
	    cfg.provider != NULL ? cfg.provider : "rest"));
	srcview_add(o, "summary", sum);
	srcview_add(o, "configError", NULL);
	cfg_free(&cfg);
}

struct json_object *
srcview_source(const struct srcdb_source *s)
{
	struct json_object	*o = json_object_new_object();

	srcview_add(o, "id", json_object_new_string(s->id));
	srcview_add(o, "tenantId", json_object_new_string(s->tenant_id));
	srcview_add(o, "tenantName", srcview_str(s->tenant_name));
	srcview_add(o, "title", srcview_str(s->title));
	srcview_add(o, "enabled", json_object_new_boolean(s->enabled));
	srcview_config(o, s->config);
	srcview_add(o, "hasSecret", json_object_new_boolean(s->has_secret));
	srcview_add(o, "nextCursor", srcview_str(s->next_cursor));
	srcview_add(o, "pageCount", json_object_new_int64(s->page_count));
	srcview_add(o, "itemCount", json_object_new_int64(s->item_count));
	srcview_add(o, "lastStatus", srcview_str(s->last_status));
	srcview_add(o, "lastHttpStatus", srcview_int(s->has_http,
	    s->last_http));
	srcview_add(o, "lastSyncedAt", srcview_str(s->last_synced_at));
	srcview_add(o, "lastError", srcview_str(s->last_error));
	srcview_add(o, "done", json_object_new_boolean(s->done));
	srcview_add(o, "total", srcview_int(s->has_total, s->total));
	srcview_add(o, "docs", json_object_new_int64(s->docs));
	srcview_add(o, "chunks", json_object_new_int64(s->chunks));
	srcview_add(o, "createdAt", srcview_str(s->created_at));
	srcview_add(o, "updatedAt", srcview_str(s->updated_at));
	srcview_add(o, "lastRun", s->last_run != NULL ?
	    json_tokener_parse(s->last_run) : NULL);
	srcview_add(o, "lastErrorUrl", srcview_str(s->last_error_url));
	srcview_add(o, "rateWaitUntil", srcview_str(s->rate_wait_until));
	srcview_add(o, "configChangedAt", srcview_str(s->config_changed_at));
	srcview_add(o, "configAsSaved",
	    json_object_new_boolean(s->config_as_saved));
	return o;
}

/* An array of one(row) for each of the rows. */
static struct json_object *
srcview_array(const struct srcdb_rows *rows,
    struct json_object *(*one)(const void *))
{
	struct json_object	*a = json_object_new_array_ext((int)rows->n);
	const char		*p = rows->v;
	size_t			 i;

	for (i = 0; i < rows->n; i++)
		json_object_array_add(a, one(p + i * rows->size));
	return a;
}

static struct json_object *
srcview_source_elem(const void *s)
{
	return srcview_source(s);
}

struct json_object *
srcview_sources(const struct srcdb_rows *rows)
{
	return srcview_array(rows, srcview_source_elem);
}

struct json_object *
srcview_partial(const char *id, const char *tenant)
{
	struct json_object	*o = json_object_new_object();

	srcview_add(o, "id", json_object_new_string(id));
	srcview_add(o, "tenantId", json_object_new_string(tenant));
	srcview_add(o, "partial", json_object_new_boolean(1));
	return o;
}

static struct json_object *
srcview_tenant(const void *elem)
{
	const struct srcdb_tenant	*t = elem;
	struct json_object		*o = json_object_new_object();

	srcview_add(o, "id", json_object_new_string(t->id));
	srcview_add(o, "name", srcview_str(t->name));
	return o;
}

struct json_object *
srcview_tenants(const struct srcdb_rows *rows)
{
	return srcview_array(rows, srcview_tenant);
}

static struct json_object *
srcview_entry(const void *elem)
{
	const struct srcdb_audit	*e = elem;
	struct json_object		*o = json_object_new_object();

	srcview_add(o, "id", json_object_new_int64(e->id));
	srcview_add(o, "at", json_object_new_string(e->at));
	srcview_add(o, "actor", json_object_new_string(e->actor));
	srcview_add(o, "action", json_object_new_string(e->action));
	srcview_add(o, "outcome", json_object_new_string(e->outcome));
	srcview_add(o, "detail", json_tokener_parse(e->detail));
	return o;
}

struct json_object *
srcview_audit(const struct srcdb_rows *rows)
{
	return srcview_array(rows, srcview_entry);
}

/* A run's JSON text, parsed. */
static struct json_object *
srcview_run(const void *elem)
{
	return json_tokener_parse(*(char *const *)elem);
}

struct json_object *
srcview_runs(const struct srcdb_rows *rows)
{
	return srcview_array(rows, srcview_run);
}

/* ---- audit details ---------------------------------------------------- */

struct json_object *
srcview_failure(enum rs_status st, const char *msg)
{
	struct json_object	*d = json_object_new_object();

	srcview_add(d, "error", json_object_new_string(
	    msg != NULL && *msg != '\0' ? msg : rs_status_name(st)));
	srcview_add(d, "status", json_object_new_string(rs_status_name(st)));
	return d;
}

struct json_object *
srcview_create_detail(const struct source_input *in)
{
	struct json_object	*d = json_object_new_object();

	srcview_add(d, "title", json_object_new_string(in->title));
	srcview_add(d, "enabled", json_object_new_boolean(in->enabled != 0));
	srcview_add(d, "provider", json_object_new_string(in->provider));
	srcview_add(d, "keyStored",
	    json_object_new_boolean(srcin_has_secret(in)));
	return d;
}

/* {"from": a, "to": b}, takes a and b; has_a/has_b 0: that side absent. */
static struct json_object *
srcview_from_to(int has_a, struct json_object *a, int has_b,
    struct json_object *b)
{
	struct json_object	*o = json_object_new_object();

	if (has_a)
		srcview_add(o, "from", a);
	if (has_b)
		srcview_add(o, "to", b);
	return o;
}

void
srcview_moved(struct json_object *d, const char *what, const char *from,
    const char *to)
{
	char	 key[32];

	(void)snprintf(key, sizeof(key), "%sChanged", what);
	srcview_add(d, key, json_object_new_boolean(1));
	srcview_add(d, what, srcview_from_to(1, json_object_new_string(from),
	    1, json_object_new_string(to)));
}

/*
 * The top-level keys of config that differ between the texts a and b
 * (JSON equality, so key order and spacing do not count), as
 * {key: {from, to}} ("from" absent: added, "to" absent: removed); NULL
 * when none differ or a text does not parse.
 */
static struct json_object *
srcview_config_diff(const char *a, const char *b)
{
	struct json_object	*ja, *jb, *d = NULL, *other;

	ja = json_tokener_parse(a);
	jb = json_tokener_parse(b);
	if (!json_object_is_type(ja, json_type_object) ||
	    !json_object_is_type(jb, json_type_object))
		goto out;
	d = json_object_new_object();
	{
		json_object_object_foreach(ja, ka, va) {
			if (!json_object_object_get_ex(jb, ka, &other))
				srcview_add(d, ka, srcview_from_to(1,
				    json_object_get(va), 0, NULL));
			else if (!json_object_equal(va, other))
				srcview_add(d, ka, srcview_from_to(1,
				    json_object_get(va), 1,
				    json_object_get(other)));
		}
	}
	{
		json_object_object_foreach(jb, kb, vb) {
			if (!json_object_object_get_ex(ja, kb, NULL))
				srcview_add(d, kb, srcview_from_to(0, NULL, 1,
				    json_object_get(vb)));
		}
	}
	if (json_object_object_length(d) == 0) {
		json_object_put(d);
		d = NULL;
	}
out:
	json_object_put(ja);
	json_object_put(jb);
	return d;
}

/* changed[] += name; d.name = v. */
static void
srcview_changed(struct json_object *d, struct json_object *changed,
    const char *name, struct json_object *v)
{
	json_object_array_add(changed, json_object_new_string(name));
	srcview_add(d, name, v);
}

struct json_object *
srcview_update_detail(const struct source_input *in,
    const struct srcdb_updated *u, long long roles_changed)
{
	struct json_object	*d, *changed, *cd = NULL;

	d = json_object_new_object();
	changed = json_object_new_array();
	if (in->title != NULL && strcmp(in->title, u->old_title) != 0)
		srcview_changed(d, changed, "title", srcview_from_to(1,
		    json_object_new_string(u->old_title), 1,
		    json_object_new_string(in->title)));
	if (in->config != NULL && (cd = srcview_config_diff(u->old_config,
	    u->config)) != NULL) {
		srcview_changed(d, changed, "config", cd);
		srcview_add(d, "chunksRolesUpdated",
		    json_object_new_int64(roles_changed));
	}
	if (in->enabled >= 0 && in->enabled != u->old_enabled)
		srcview_changed(d, changed, "enabled", srcview_from_to(1,
		    json_object_new_boolean(u->old_enabled), 1,
		    json_object_new_boolean(in->enabled)));
	if (srcin_has_secret(in)) {
		json_object_array_add(changed, json_object_new_string(
		    in->api_key != NULL ? "apiKey" : "clientSecret"));
		srcview_add(d, "keyStored", json_object_new_boolean(1));
	}
	if (json_object_array_length(changed) == 0) {
		json_object_put(changed);
		json_object_put(d);
		return NULL;
	}
	srcview_add(d, "changed", changed);
	return d;
}

struct json_object *
srcview_reset_detail(const char *title, const struct srcdb_reset *rs,
    int keep_mark)
{
	struct json_object	*d = json_object_new_object(), *before = NULL;

	if (rs->had_cursor) {
		before = json_object_new_object();
		srcview_add(before, "pageCount",
		    json_object_new_int64(rs->page_count));
		srcview_add(before, "itemCount",
		    json_object_new_int64(rs->item_count));
		srcview_add(before, "done", json_object_new_boolean(rs->done));
		if (rs->stopped_run[0] != '\0')
			srcview_add(before, "stoppedRunId",
			    json_object_new_string(rs->stopped_run));
	}
	srcview_add(d, "title", json_object_new_string(title));
	srcview_add(d, "before", before);
	if (keep_mark)
		srcview_add(d, "keepMark", json_object_new_boolean(1));
	return d;
}

struct json_object *
srcview_delete_detail(const char *title, long long docs, long long chunks)
{
	struct json_object	*d = json_object_new_object();

	srcview_add(d, "title", json_object_new_string(title));
	srcview_add(d, "docs", json_object_new_int64(docs));
	srcview_add(d, "chunks", json_object_new_int64(chunks));
	return d;
}
