/*
 * test_runs.c — the sweep's decision (runs_decide), table-driven: every
 * reason a run skips, holds or carries out its sweep (docs/SYNC-RUNS.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "runs.h"

#define CFG(extra) \
	"{\"baseUrl\":\"http://h/x\",\"textFields\":[\"t\"]" extra "}"
#define CURSOR	",\"cursorStyle\":\"cursor\",\"nextCursorPath\":\"n\""

static const struct decide_row {
	const char	*name;
	const char	*config;
	long long	 live, missing, total_first, total_last;
	int		 from_start, total_changed, confirm;
	const char	*no_sweep;
	const char	*sweep;
	int		 remove;
	const char	*note;		/* a substring of the note */
} decide_rows[] = {
	{ "nothing missing", CFG(",\"cursorStyle\":\"offset\""), 10, 0, 10,
	  10, 1, 0, 0, "", "done", 0, "nothing to remove" },
	{ "a few missing, stable total", CFG(",\"cursorStyle\":\"offset\""),
	  10, 3, 7, 7, 1, 0, 0, "", "done", 1, "removed 3 of 10 items" },
	{ "half is not more than 0.5", CFG(CURSOR),
	  10,
	  5, -1, -1, 1, 0, 0, "", "done", 1, "removed 5 of 10" },
	{ "more than maxDeleteFraction", CFG(CURSOR),
	  10,
	  6, -1, -1, 1, 0, 0, "", "held", 0,
	  "sweep held: would remove 6 of 10 items" },
	{ "an empty upstream", CFG(",\"cursorStyle\":\"offset\""), 12, 12, 0, 0,
	  1, 0, 0, "", "held", 0, "would remove 12 of 12" },
	{ "maxDeleteFraction 1 allows all but one", CFG(CURSOR
	  ",\"maxDeleteFraction\":1"), 4, 3, -1, -1, 1, 0, 0, "", "done", 1,
	  "removed 3 of 4" },
	{ "a run that saw no item holds, even at maxDeleteFraction 1",
	  CFG(CURSOR ",\"maxDeleteFraction\":1"), 4, 4, -1, -1, 1, 0, 0, "",
	  "held", 0, "would remove 4 of 4 items: the run saw none of them" },
	{ "an empty offset upstream with a total, maxDeleteFraction 1",
	  CFG(",\"cursorStyle\":\"offset\",\"maxDeleteFraction\":1"), 12,
	  12, 0, 0, 1, 0, 0, "", "held", 0, "the run saw none of them" },
	{ "an empty run confirmed", CFG(CURSOR ",\"maxDeleteFraction\":1"), 4,
	  4, -1, -1, 1, 0, 1, "", "confirmed", 1, "removed 4 of 4 items" },
	{ "stopped at maxPages", CFG(CURSOR ",\"maxPages\":2"), 10, 3, -1,
	  -1, 1, 0, 0, "the run stopped at maxPages (2) and did not walk "
	  "every page", "skipped", 0, "stopped at maxPages (2)" },
	{ "maxDeleteFraction 0 holds any", CFG(CURSOR
	  ",\"maxDeleteFraction\":0"), 100, 1, -1, -1, 1, 0, 0, "", "held", 0,
	  "would remove 1 of 100" },
	{ "deleteMissing false", CFG(",\"deleteMissing\":false"), 10, 3, -1,
	  -1, 1, 0, 0, "", "skipped", 0, "deleteMissing is false" },
	{ "not from the first page", CFG(""), 10, 3, -1, -1, 0, 0, 0, "",
	  "skipped", 0, "did not start at the first page" },
	{ "a 304 page with unknown items", CFG(""), 10, 3, -1, -1, 1, 0, 0,
	  "a page answered 304", "skipped", 0, "a page answered 304" },
	{ "total changed during the run", CFG(",\"cursorStyle\":\"offset\""),
	  30, 2, 30, 29, 1, 1, 0, "", "skipped", 0,
	  "total changed during the run (30 to 29)" },
	{ "offset without a total", CFG(",\"cursorStyle\":\"offset\""), 10, 2,
	  -1, -1, 1, 0, 0, "", "held", 0, "reports no total" },
	{ "page style without a total", CFG(",\"cursorStyle\":\"page\""), 10,
	  2, -1, -1, 1, 0, 0, "", "held", 0, "page-style API" },
	{ "link style needs no total", CFG(",\"cursorStyle\":\"link\""), 10, 2,
	  -1, -1, 1, 0, 0, "", "done", 1, "removed 2 of 10" },
	{ "confirmed, whatever else", CFG(",\"cursorStyle\":\"offset\""), 10,
	  10, -1, -1, 0, 1, 1, "x", "confirmed", 1,
	  "removed 10 of 10 items, confirmed by an operator" },
};

static void
test_decide(void **state)
{
	const struct decide_row	*r;
	struct store_sweep_plan	 p;
	struct source_config	 cfg;
	char			 sweep[16], note[RS_ERRLEN], err[RS_ERRLEN];
	size_t			 i;
	int			 rm;

	(void)state;
	for (i = 0; i < sizeof(decide_rows) / sizeof(decide_rows[0]); i++) {
		r = &decide_rows[i];
		if (cfg_parse(r->config, strlen(r->config), &cfg, err) != RS_OK)
			fail_msg("%s: config: %s", r->name, err);
		memset(&p, 0, sizeof(p));
		p.live = r->live;
		p.missing = r->missing;
		p.total_first = r->total_first;
		p.total_last = r->total_last;
		p.from_start = r->from_start;
		p.total_changed = r->total_changed;
		(void)snprintf(p.no_sweep, sizeof(p.no_sweep), "%s",
		    r->no_sweep);
		rm = runs_decide(&p, &cfg, r->confirm, sweep, note,
		    sizeof(note));
		if (strcmp(sweep, r->sweep) != 0 || rm != r->remove ||
		    strstr(note, r->note) == NULL)
			fail_msg("%s: sweep %s (want %s), remove %d, note '%s'",
			    r->name, sweep, r->sweep, rm, note);
		cfg_free(&cfg);
	}
}

/* The config keys the sweep reads: defaults and bounds. */
static void
test_config_keys(void **state)
{
	struct source_config	 cfg;
	char			 err[RS_ERRLEN];
	static const char *const bad[] = {
		CFG(",\"deleteMissing\":1"),
		CFG(",\"maxDeleteFraction\":1.5"),
		CFG(",\"maxDeleteFraction\":-0.1"),
		CFG(",\"maxDeleteFraction\":\"0.5\""),
		CFG(",\"itemIdPath\":7"),
	};
	size_t			 i;

	(void)state;
	assert_int_equal(cfg_parse(CFG(""), strlen(CFG("")), &cfg, err), RS_OK);
	assert_int_equal(cfg.delete_missing, 1);
	assert_true(cfg.max_delete_fraction == 0.5);
	assert_null(cfg.item_id_path);
	cfg_free(&cfg);
	assert_int_equal(cfg_parse(CFG(",\"itemIdPath\":\"sku.code\"")
	    , strlen(CFG(",\"itemIdPath\":\"sku.code\"")), &cfg, err), RS_OK);
	assert_string_equal(cfg.item_id_path, "sku.code");
	cfg_free(&cfg);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cfg_parse(bad[i], strlen(bad[i]), &cfg, err),
		    RS_EINPUT);
		assert_non_null(strstr(err, i == 4 ? "itemIdPath" : i == 0 ?
		    "deleteMissing" : "maxDeleteFraction"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_config_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
