/*
 * placeholder.c — bodyTemplate placeholders and the template check (see
 * placeholder.h).
 */
#include <stdio.h>
#include <string.h>

#include "placeholder.h"

#define PH_MAX_WHERE	128

static const char *const ph_names[PH__MAX] = {
	"{{cursor}}", "{{pageSize}}", "{{API_KEY}}", "{{since}}",
};

int
ph_at(const char *s, size_t *len)
{
	int	 i;

	for (i = 0; i < PH__MAX; i++) {
		*len = strlen(ph_names[i]);
		if (strncmp(s, ph_names[i], *len) == 0)
			return i;
	}
	return -1;
}

/* "where.name" (or "[i]") into out, cut to fit. */
static void
ph_where(char *out, size_t outsz, const char *where, const char *name,
    size_t idx)
{
	if (name != NULL)
		(void)snprintf(out, outsz, "%s%s%.64s", where,
		    where[0] != '\0' ? "." : "", name);
	else
		(void)snprintf(out, outsz, "%s[%zu]", where, idx);
}

static enum rs_status
ph_check_str(const char *s, const char *where, int *seen, char *err)
{
	const char	*p, *close;
	size_t		 len;
	int		 ph;

	for (p = strstr(s, "{{"); p != NULL; p = strstr(p + len, "{{")) {
		if ((ph = ph_at(p, &len)) >= 0) {
			seen[ph] = 1;
			continue;
		}
		close = strstr(p, "}}");
		if (close == NULL)
			rs_errf(err, "'bodyTemplate' at %s: '{{' without '}}'",
			    where[0] != '\0' ? where : "$");
		else
			rs_errf(err, "'bodyTemplate' at %s: unknown placeholder "
			    "'%.*s' (known: {{cursor}}, {{pageSize}}, "
			    "{{API_KEY}}, {{since}})", where[0] != '\0' ? where : "$",
			    (int)(close - p + 2 > 64 ? 64 : close - p + 2), p);
		return RS_EINPUT;
	}
	return RS_OK;
}

static enum rs_status
ph_walk(struct json_object *v, const char *where, int depth, int *seen,
    char *err)
{
	struct json_object_iterator	 it, end;
	char				 sub[PH_MAX_WHERE];
	size_t				 i, n;
	enum rs_status			 st;

	if (depth > PH_MAX_DEPTH) {
		rs_errf(err, "'bodyTemplate' nests deeper than %d levels",
		    PH_MAX_DEPTH);
		return RS_EINPUT;
	}
	switch (json_object_get_type(v)) {
	case json_type_object:
		it = json_object_iter_begin(v);
		end = json_object_iter_end(v);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it)) {
			ph_where(sub, sizeof(sub), where,
			    json_object_iter_peek_name(&it), 0);
			if ((st = ph_walk(json_object_iter_peek_value(&it),
			    sub, depth + 1, seen, err)) != RS_OK)
				return st;
		}
		return RS_OK;
	case json_type_array:
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			ph_where(sub, sizeof(sub), where, NULL, i);
			if ((st = ph_walk(json_object_array_get_idx(v, i),
			    sub, depth + 1, seen, err)) != RS_OK)
				return st;
		}
		return RS_OK;
	case json_type_string:
		if (strlen(json_object_get_string(v)) !=
		    (size_t)json_object_get_string_len(v)) {
			rs_errf(err, "'bodyTemplate' at %s: a string holds a "
			    "NUL byte", where);
			return RS_EINPUT;
		}
		return ph_check_str(json_object_get_string(v), where,
		    seen, err);
	default:
		return RS_OK;
	}
}

enum rs_status
ph_check(struct json_object *tpl, int seen[PH__MAX], char *err)
{
	const char	*s;

	memset(seen, 0, PH__MAX * sizeof(seen[0]));
	if (tpl == NULL || !json_object_is_type(tpl, json_type_object)) {
		rs_errf(err, "'bodyTemplate' must be a JSON object");
		return RS_EINPUT;
	}
	if ((s = json_object_to_json_string_ext(tpl,
	    JSON_C_TO_STRING_PLAIN)) == NULL ||
	    strlen(s) > PH_MAX_TEMPLATE) {
		rs_errf(err, "'bodyTemplate' is longer than %u bytes as JSON",
		    PH_MAX_TEMPLATE);
		return RS_EINPUT;
	}
	return ph_walk(tpl, "", 0, seen, err);
}
