/*
 * runs.c — the sweep at the end of a run (see runs.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "runs.h"

#define RUNS_KEY_MAX	640	/* kb_rest_items.item_key is <= 600 */

static int
runs_style_shifts(const struct source_config *cfg)
{
	return cfg->style == CFG_STYLE_OFFSET || cfg->style == CFG_STYLE_PAGE;
}

/* Remove every item run_id did not see, in groups. */
static enum rs_status
runs_remove(struct store *st, const char *source_id, const char *run_id,
    struct runs_sweep *sw, char *err)
{
	char		 after[RUNS_KEY_MAX] = "";
	long long	 items, chunks;
	enum rs_status	 rc;

	do {
		if ((rc = store_sweep_group(st, source_id, run_id, 0, after,
		    sizeof(after), &items, &chunks, err)) != RS_OK)
			return rc;
		sw->removed += items;
		sw->chunks += chunks;
	} while (items > 0);
	return RS_OK;
}

int
runs_decide(const struct store_sweep_plan *p, const struct source_config *cfg,
    int confirm, char sweep[16], char *note, size_t notesz)
{
	if (confirm) {
		(void)snprintf(sweep, 16, "confirmed");
		(void)snprintf(note, notesz, "removed %lld of %lld items, "
		    "confirmed by an operator", p->missing, p->live);
		return 1;
	}
	if (!cfg->delete_missing) {
		(void)snprintf(sweep, 16, "skipped");
		(void)snprintf(note, notesz, "deleteMissing is false");
		return 0;
	}
	if (!p->from_start) {
		(void)snprintf(sweep, 16, "skipped");
		(void)snprintf(note, notesz, "the run did not start at the "
		    "first page");
		return 0;
	}
	if (p->no_sweep[0] != '\0') {
		(void)snprintf(sweep, 16, "skipped");
		(void)snprintf(note, notesz, "%s", p->no_sweep);
		return 0;
	}
	if (p->total_changed) {
		(void)snprintf(sweep, 16, "skipped");
		(void)snprintf(note, notesz, "the upstream's total changed "
		    "during the run (%lld to %lld): items may have moved "
		    "between pages; the next stable run sweeps",
		    p->total_first, p->total_last);
		return 0;
	}
	if (p->missing == 0) {
		(void)snprintf(sweep, 16, "done");
		(void)snprintf(note, notesz, "nothing to remove");
		return 0;
	}
	if (p->missing >= p->live) {
		/* Whatever maxDeleteFraction says (1 included). */
		(void)snprintf(sweep, 16, "held");
		(void)snprintf(note, notesz, "sweep held: would remove %lld of "
		    "%lld items: the run saw none of them (an upstream that "
		    "answers an empty list never empties the knowledge base; "
		    "confirm if it really has no items)", p->missing, p->live);
		return 0;
	}
	if ((double)p->missing > cfg->max_delete_fraction * (double)p->live) {
		(void)snprintf(sweep, 16, "held");
		(void)snprintf(note, notesz, "sweep held: would remove %lld of "
		    "%lld items (more than maxDeleteFraction %g)", p->missing,
		    p->live, cfg->max_delete_fraction);
		return 0;
	}
	if (runs_style_shifts(cfg) && p->total_last < 0) {
		(void)snprintf(sweep, 16, "held");
		(void)snprintf(note, notesz, "sweep held: would remove %lld of "
		    "%lld items, but this %s-style API reports no total, so a "
		    "deletion during the run cannot be told from one before it "
		    "(set totalPath, or confirm)", p->missing, p->live,
		    cfg_style_name(cfg->style));
		return 0;
	}
	(void)snprintf(sweep, 16, "done");
	(void)snprintf(note, notesz, "removed %lld of %lld items", p->missing,
	    p->live);
	return 1;
}

enum rs_status
runs_sweep(struct store *st, const struct source_config *cfg,
    const char *source_id, const char *run_id, int confirm,
    struct runs_sweep *sw, char *err)
{
	struct store_sweep_plan	 p;
	enum rs_status		 rc;

	memset(sw, 0, sizeof(*sw));
	if ((rc = store_sweep_plan(st, source_id, run_id, &p, err)) != RS_OK)
		return rc;
	sw->live = p.live;
	sw->candidates = p.missing;
	if (runs_decide(&p, cfg, confirm, sw->sweep, sw->note,
	    sizeof(sw->note)) &&
	    (rc = runs_remove(st, source_id, run_id, sw, err)) != RS_OK)
		return rc;
	return store_sweep_finish(st, source_id, run_id, sw->sweep, sw->note,
	    sw->candidates, sw->removed, sw->chunks, err);
}

static char *
runs_detail(const char *run_id, const struct runs_sweep *sw)
{
	struct json_object	*o = json_object_new_object();
	char			*s;

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "runId", json_object_new_string(run_id));
	json_object_object_add(o, "sweep", json_object_new_string(sw->sweep));
	json_object_object_add(o, "note", json_object_new_string(sw->note));
	json_object_object_add(o, "removedItems",
	    json_object_new_int64(sw->removed));
	json_object_object_add(o, "chunksDeleted",
	    json_object_new_int64(sw->chunks));
	json_object_object_add(o, "items", json_object_new_int64(sw->live));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

enum rs_status
runs_confirm_sweep(struct store *st, const char *source_id,
    const char *run_id, const char *actor, struct runs_sweep *sw,
    char *err)
{
	struct source_row	 src;
	struct source_config	 cfg;
	struct store_sweep_plan	 p;
	enum rs_status		 rc;
	char			*detail = NULL;
	int			 locked = 0, in_tx = 0, have_cfg = 0;

	memset(sw, 0, sizeof(*sw));
	if ((rc = store_lock_source(st, source_id, &src, err)) != RS_OK)
		return rc;
	locked = 1;
	if ((rc = store_sweep_plan(st, source_id, run_id, &p, err)) != RS_OK)
		goto out;
	if (strcmp(p.sweep, "held") != 0) {
		rs_errf(err, "run %s has no held sweep (its sweep: %s)", run_id,
		    p.sweep[0] != '\0' ? p.sweep : "none yet");
		rc = RS_EBUSY;
		goto out;
	}
	if (strcmp(src.run_id, run_id) != 0 || src.done == 0) {
		rs_errf(err, "a newer run of the source has started since run "
		    "%s: its sweep no longer applies", run_id);
		rc = RS_EBUSY;
		goto out;
	}
	if ((rc = cfg_parse(src.config, strlen(src.config), &cfg, err)) !=
	    RS_OK)
		goto out;
	have_cfg = 1;
	if ((rc = store_tx(st, STORE_BEGIN, err)) != RS_OK)
		goto out;
	in_tx = 1;
	if ((rc = runs_sweep(st, &cfg, source_id, run_id, 1, sw, err)) !=
	    RS_OK)
		goto out;
	if ((detail = runs_detail(run_id, sw)) == NULL) {
		rs_errf(err, "out of memory");
		rc = RS_ENOMEM;
		goto out;
	}
	if ((rc = store_audit(st, actor, "sweep", source_id, src.tenant_id,
	    "ok", detail, err)) != RS_OK)
		goto out;
	if ((rc = store_tx(st, STORE_COMMIT, err)) != RS_OK)
		goto out;
	in_tx = 0;
out:
	if (in_tx)
		(void)store_tx(st, STORE_ROLLBACK, NULL);
	if (have_cfg)
		cfg_free(&cfg);
	free(detail);
	if (locked)
		store_unlock_source(st, source_id);
	store_source_free(&src);
	return rc;
}

/* The audit detail of a run's start or stop (JSON text, malloc'd). */
static char *
runs_event(const char *run_id, const char *key, int flag)
{
	struct json_object	*o = json_object_new_object();
	char			*s;

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "runId", json_object_new_string(run_id));
	json_object_object_add(o, key, json_object_new_boolean(flag));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

/* Audit and commit the transaction a store_run_* call left open. */
static enum rs_status
runs_finish(struct store *st, const char *actor, const char *action,
    const char *source_id, const char *tenant_id, const char *detail,
    char *err)
{
	enum rs_status	 rc;

	if (detail == NULL) {
		rs_errf(err, "out of memory");
		rc = RS_ENOMEM;
	} else if ((rc = store_audit(st, actor, action, source_id, tenant_id,
	    "ok", detail, err)) == RS_OK &&
	    (rc = store_tx(st, STORE_COMMIT, err)) == RS_OK)
		return RS_OK;
	(void)store_tx(st, STORE_ROLLBACK, NULL);
	return rc;
}

enum rs_status
runs_start(struct store *st, const char *source_id, const char *actor,
    char run_id[37], char *err)
{
	char		 tenant[37], *detail;
	int		 restarted;
	enum rs_status	 rc;

	if ((rc = store_run_start(st, source_id, actor, run_id, tenant,
	    &restarted, err)) != RS_OK)
		return rc;
	detail = runs_event(run_id, "fromFirstPage", restarted);
	rc = runs_finish(st, actor, "run-start", source_id, tenant, detail,
	    err);
	free(detail);
	if (rc != RS_OK)
		run_id[0] = '\0';
	return rc;
}

enum rs_status
runs_stop(struct store *st, const char *source_id, const char *actor,
    char run_id[37], int *now, char *err)
{
	char		 tenant[37], *detail;
	enum rs_status	 rc;

	if ((rc = store_run_stop(st, source_id, actor, run_id, tenant, now,
	    err)) != RS_OK)
		return rc;
	detail = runs_event(run_id, "stoppedAtOnce", *now);
	rc = runs_finish(st, actor, "run-stop", source_id, tenant, detail,
	    err);
	free(detail);
	return rc;
}
