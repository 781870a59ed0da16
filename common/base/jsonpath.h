/*
 * jsonpath.h — dot paths into json-c documents.  Prefix: jp_.
 *
 * Syntax: "$" or "" is the document itself; otherwise segments separated
 * by '.', optionally after a leading "$.".  A segment that is an integer
 * (optionally negative: -1 is the last element) indexes an array; any
 * other segment names an object member.  Empty segments ("a..b"), and
 * paths longer than JP_MAX_PATH bytes or with more than JP_MAX_DEPTH
 * segments, are invalid.
 */
#ifndef JSONPATH_H
#define JSONPATH_H

#include <json-c/json.h>

#include "rs.h"

#define JP_MAX_PATH	256	/* one dot path, bytes */
#define JP_MAX_DEPTH	32	/* segments in one path */
#define JP_MAX_VISIT	100000	/* values one jp_collect may yield */

/* RS_OK if path is valid, else RS_EINPUT with a message. */
enum rs_status	 jp_check(const char *path, char *err);

/*
 * The value at path, borrowed from root (do not put), or NULL when any
 * segment is missing, indexes a non-array, or names a member of a
 * non-object.  A JSON null value is returned as NULL too.
 */
struct json_object	*jp_get(struct json_object *root, const char *path);

/*
 * Like jp_get, but when a named segment meets an array, it continues into
 * every element of that array ("reviews.comment" yields each review's
 * comment), recursively for arrays of arrays.  An index segment still
 * indexes ("products.reviews.0.comment": each product's first review).
 * A final value that is itself an array is yielded as one value.  Calls
 * cb for each non-null value found, in document order, and stops early
 * when cb returns non-zero (that value is returned).  Returns 0 when
 * done, -1 if JP_MAX_VISIT was exceeded, arrays nest too deeply (about
 * 100 levels, only possible with hand-built objects) or the path is
 * invalid.
 */
int	 jp_collect(struct json_object *root, const char *path,
	    int (*cb)(struct json_object *, void *), void *arg);

#endif
