/*
 * placeholder.h — the placeholders of a bodyTemplate (config "method":
 * "POST"): {{cursor}}, {{pageSize}}, {{API_KEY}} and {{since}} in its
 * strings, and
 * the check of a template that config.c runs.  bodytpl.c renders them.
 * Prefix: ph_.
 *
 * Below config: it knows templates, not configs, so that config.c can
 * check the key without including the modules that use the config.
 */
#ifndef PLACEHOLDER_H
#define PLACEHOLDER_H

#include <stddef.h>

#include <json-c/json.h>

#include "rs.h"

#define PH_MAX_TEMPLATE		(64u * 1024)	/* the template as JSON */
#define PH_MAX_DEPTH		32		/* its nesting */

enum ph_name {
	PH_CURSOR = 0,
	PH_PAGE_SIZE,
	PH_API_KEY,
	PH_SINCE,	/* an incremental run's since (config "incremental") */
	PH__MAX
};

/* The placeholder s starts with (and *len its length), or -1. */
int		 ph_at(const char *s, size_t *len);

/*
 * RS_OK when tpl is an object whose strings hold only known, closed
 * placeholders; seen[PH_x] says whether each occurs.  RS_EINPUT naming
 * 'bodyTemplate' and the place ("'bodyTemplate' at filter.value: unknown
 * placeholder '{{x}}'").
 */
enum rs_status	 ph_check(struct json_object *tpl, int seen[PH__MAX],
		    char *err);

#endif
