/*
 * jsonpath.c — dot paths into json-c documents.
 *
 * A path is split once into a stack copy (dots replaced by NULs), so
 * lookups never allocate and never write to the caller's string.
 */
#include <limits.h>
#include <string.h>

#include "jsonpath.h"

/* Deepest recursion jp_collect allows (segments plus nested arrays). */
#define JP_MAX_NEST	(JP_MAX_DEPTH + 64)

struct jp_seg {
	const char	*name;		/* NUL-terminated, inside jp_path.buf */
	int		 is_index;
	long		 index;		/* saturates at +-INT_MAX */
};

struct jp_path {
	char		 buf[JP_MAX_PATH + 1];
	struct jp_seg	 seg[JP_MAX_DEPTH];
	size_t		 nseg;
};

/* A segment is an index when it is an optional '-' and 1+ digits. */
static void
jp_seg_index(struct jp_seg *s)
{
	const char	*p = s->name;
	int		 neg = 0;
	long		 v = 0;

	s->is_index = 0;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (*p == '\0')
		return;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return;
		/* Saturate: no array is this long, so it never matches. */
		if (v <= (INT_MAX - 9) / 10)
			v = v * 10 + (*p - '0');
		else
			v = INT_MAX;
	}
	s->is_index = 1;
	s->index = neg ? -v : v;
}

static enum rs_status
jp_parse(const char *path, struct jp_path *jp, char *err)
{
	size_t	 len;
	char	*p, *dot;

	jp->nseg = 0;
	if (path == NULL) {
		rs_errf(err, "path is missing");
		return RS_EINPUT;
	}
	len = strnlen(path, JP_MAX_PATH + 1);
	if (len > JP_MAX_PATH) {
		rs_errf(err, "path is longer than %d bytes", JP_MAX_PATH);
		return RS_EINPUT;
	}
	if (len == 0 || strcmp(path, "$") == 0)
		return RS_OK;
	if (strncmp(path, "$.", 2) == 0) {
		path += 2;
		len -= 2;
	}
	memcpy(jp->buf, path, len + 1);
	p = jp->buf;
	for (;;) {
		if (jp->nseg == JP_MAX_DEPTH) {
			rs_errf(err, "path has more than %d segments",
			    JP_MAX_DEPTH);
			return RS_EINPUT;
		}
		if ((dot = strchr(p, '.')) != NULL)
			*dot = '\0';
		if (*p == '\0') {
			rs_errf(err, "path has an empty segment");
			return RS_EINPUT;
		}
		jp->seg[jp->nseg].name = p;
		jp_seg_index(&jp->seg[jp->nseg]);
		jp->nseg++;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	return RS_OK;
}

enum rs_status
jp_check(const char *path, char *err)
{
	struct jp_path	 jp;

	return jp_parse(path, &jp, err);
}

/* Element i of array a (negative counts from the end), or NULL. */
static struct json_object *
jp_index(struct json_object *a, long i)
{
	size_t	 n = json_object_array_length(a);

	if (i < 0) {
		if ((unsigned long)-(i + 1) >= n)
			return NULL;
		return json_object_array_get_idx(a, n - 1 - (size_t)-(i + 1));
	}
	if ((unsigned long)i >= n)
		return NULL;
	return json_object_array_get_idx(a, (size_t)i);
}

/* One step of a strict lookup: NULL on a type mismatch or a miss. */
static struct json_object *
jp_step(struct json_object *cur, const struct jp_seg *s)
{
	struct json_object	*next = NULL;

	if (s->is_index) {
		if (!json_object_is_type(cur, json_type_array))
			return NULL;
		return jp_index(cur, s->index);
	}
	if (!json_object_is_type(cur, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(cur, s->name, &next))
		return NULL;
	return next;
}

struct json_object *
jp_get(struct json_object *root, const char *path)
{
	struct jp_path		 jp;
	struct json_object	*cur = root;
	size_t			 i;

	if (jp_parse(path, &jp, NULL) != RS_OK)
		return NULL;
	for (i = 0; i < jp.nseg && cur != NULL; i++)
		cur = jp_step(cur, &jp.seg[i]);
	if (json_object_is_type(cur, json_type_null))
		return NULL;
	return cur;
}

struct jp_walk {
	const struct jp_path	*jp;
	int			(*cb)(struct json_object *, void *);
	void			*arg;
	size_t			 visits;
};

/*
 * Visit what segments [i..] reach from cur.  Returns 0 to go on, or the
 * non-zero value that stops the walk (the callback's, or -1 on a limit).
 */
static int
jp_walk(struct jp_walk *w, struct json_object *cur, size_t i, size_t nest)
{
	const struct jp_seg	*s;
	size_t			 k, n;
	int			 rc;

	if (cur == NULL || json_object_is_type(cur, json_type_null))
		return 0;
	if (nest > JP_MAX_NEST)
		return -1;
	if (i == w->jp->nseg) {
		if (++w->visits > JP_MAX_VISIT)
			return -1;
		return w->cb(cur, w->arg);
	}
	s = &w->jp->seg[i];
	if (!s->is_index && json_object_is_type(cur, json_type_array)) {
		n = json_object_array_length(cur);
		for (k = 0; k < n; k++) {
			rc = jp_walk(w, json_object_array_get_idx(cur, k),
			    i, nest + 1);
			if (rc != 0)
				return rc;
		}
		return 0;
	}
	return jp_walk(w, jp_step(cur, s), i + 1, nest + 1);
}

int
jp_collect(struct json_object *root, const char *path,
    int (*cb)(struct json_object *, void *), void *arg)
{
	struct jp_path	 jp;
	struct jp_walk	 w;

	if (jp_parse(path, &jp, NULL) != RS_OK)
		return -1;
	w.jp = &jp;
	w.cb = cb;
	w.arg = arg;
	w.visits = 0;
	return jp_walk(&w, root, 0, 0);
}
