/*
 * normalize.h — turn one upstream item into the text we chunk and embed.
 * Prefix: norm_.
 *
 * For each entry of cfg->text_fields, in order, the values found with
 * jp_collect() are rendered and emitted as a line "<path>: <text>":
 *   - strings as they are (sanitised, see norm_utf8);
 *   - integers and booleans in their JSON spelling; doubles in the
 *     shortest "%g" form that reads back exactly ("9.99", 99.0 as "99");
 *   - arrays of scalars joined with ", ";
 *   - objects as "key: value" pairs joined with "; " (nested objects and
 *     arrays rendered recursively in the same way, to a depth of 8
 *     containers counting the field's value; deeper ones are skipped);
 *   - null, missing and empty (after trimming) values are skipped.
 * Every rendered value is trimmed of ASCII whitespace.  Several values
 * for one path (fan-out over an array) are joined with ", " on the same
 * line.  Lines are separated by "\n"; a string value may itself hold
 * "\n".
 * An item whose text is empty is skipped by the caller (out->len == 0).
 */
#ifndef NORMALIZE_H
#define NORMALIZE_H

#include <json-c/json.h>

#include "config.h"
#include "rs.h"

#define NORM_MAX_TEXT	(4u * 1024 * 1024)	/* one item's text */
#define NORM_MAX_TITLE	512

/*
 * Render item into out (reset first; its cap should be >= NORM_MAX_TEXT).
 * RS_OK (possibly with empty text), RS_EINPUT when the text would exceed
 * NORM_MAX_TEXT, RS_ENOMEM on allocation failure.
 */
enum rs_status	 norm_item(struct json_object *item,
		    const struct source_config *cfg, struct rs_buf *out,
		    char *err);

/*
 * The item's title from cfg->title_field (a scalar rendered as text,
 * sanitised, whitespace collapsed, cut at a UTF-8 boundary to fit
 * NORM_MAX_TITLE - 1 bytes, or titlesz - 1 if smaller) into title; ""
 * when there is none.  Only the first 4 KiB of a string are looked at.
 */
void		 norm_title(struct json_object *item,
		    const struct source_config *cfg, char *title,
		    size_t titlesz);

/*
 * Append s[0..len) to out as valid UTF-8: invalid or overlong sequences,
 * surrogates and code points > U+10FFFF become U+FFFD (one per maximal
 * ill-formed subpart, as Unicode §3.9 recommends); "\r\n" and lone
 * "\r" become "\n"; other C0 controls except "\t" and "\n", and DEL,
 * are dropped; NUL is dropped.  Returns -1 if out's cap is hit.
 */
int		 norm_utf8(struct rs_buf *out, const char *s, size_t len);

#endif
