/*
 * bodytpl.h — request bodies for POST-body paging (config "method":
 * "POST" with "bodyTemplate").  Prefix: bodytpl_.
 *
 * The template is a JSON object.  String values (at any depth; names are
 * never templated) may hold the placeholders {{cursor}}, {{pageSize}},
 * {{API_KEY}} and {{since}}.  A string that is exactly one placeholder
 * becomes the value with its JSON type: {{pageSize}} a number; {{cursor}}
 * a number for offset and page paging (the offset, the page number), else
 * the cursor string, or null on the first page; {{API_KEY}} the key
 * string; {{since}} (config "incremental") the run's since, a number when
 * its text is a JSON number (the text kept as it is), else a string, or
 * null when the run sends none (a full run without initialValue).
 * Anywhere else in a string a placeholder is replaced by the value's text
 * (a null cursor or since by nothing).  The body is built with json-c, never by
 * pasting strings, and holds the key only while it is sent.
 */
#ifndef BODYTPL_H
#define BODYTPL_H

#include <stddef.h>

#include <json-c/json.h>

#include "config.h"
#include "http_fetch.h"
#include "rs.h"

/* The placeholders, and the check of a template (config.c runs it),
 * are placeholder.h's. */

#define BODYTPL_MAX_BODY	(256u * 1024)	/* a rendered body */

enum bodytpl_type {
	BODYTPL_NULL = 0,
	BODYTPL_INT,
	BODYTPL_STRING,
	BODYTPL__MAX
};

struct bodytpl_vals {
	enum bodytpl_type	 cursor_type;
	long long		 cursor_num;	/* BODYTPL_INT */
	const char		*cursor;	/* BODYTPL_STRING */
	int			 page_size;
	const char		*api_key;	/* NULL: "" */
	const char		*since;		/* NULL: none */
};

/*
 * The body for vals into *body (malloc'd, NUL-terminated, *len bytes;
 * the caller zeroes and frees it: it may hold the key).  RS_EINPUT when
 * it would exceed BODYTPL_MAX_BODY; RS_ENOMEM.
 */
enum rs_status	 bodytpl_render(struct json_object *tpl,
		    const struct bodytpl_vals *, char **body, size_t *len,
		    char *err);

/*
 * The body of the source's page at cursor (NULL: the first page), the
 * cursor typed by the paging style (see above), since the incremental
 * run's (NULL: none).  RS_EINPUT when the stored cursor is unusable or
 * the body too big; RS_ENOMEM.
 */
enum rs_status	 bodytpl_page(const struct source_config *,
		    const char *cursor, const char *api_key, const char *since,
		    char **body, size_t *len, char *err);

/*
 * A batch's request (batch.c batch_request()): with method POST, the body of the page at
 * cursor into *body (owned by the caller: bodytpl_free) and fr made a POST
 * of it as application/json (sent again by every retry).  Nothing for
 * GET.  Errors as bodytpl_page.
 */
enum rs_status	 bodytpl_request(const struct source_config *,
		    const char *cursor, const char *api_key, const char *since,
		    char **body, size_t *len, struct fetch_req *fr, char *err);

/* Zero and free a body. */
void		 bodytpl_free(char *body, size_t len);

#endif
