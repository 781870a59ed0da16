/*
 * pager.h — build the URL of the next page and compute the cursor after
 * it, for each pagination style.  Prefix: pager_.
 *
 * The cursor stored in kb_rest_cursors.next_cursor is text:
 *   offset  the item offset of the next page ("50"); NULL = 0
 *   page    the page number of the next page ("3"); NULL = pageStart
 *   cursor  the opaque token sent as cursorParam, or an absolute http(s)
 *           URL to fetch as is; NULL = first page (no cursor sent)
 */
#ifndef PAGER_H
#define PAGER_H

#include <json-c/json.h>

#include "config.h"
#include "rs.h"

#define PAGER_MAX_URL		8192
#define PAGER_MAX_CURSOR	4096

/*
 * The URL for the page at cursor (NULL: first page) into *url (malloc'd).
 * api_key, if not NULL, fills {{API_KEY}} in queryTemplate values.
 * RS_EINPUT when the stored cursor is unusable (e.g. an absolute URL on
 * another origin than baseUrl, or a non-numeric offset).
 */
enum rs_status	 pager_url(const struct source_config *, const char *cursor,
		    const char *api_key, char **url, char *err);

struct pager_page {
	const char		*cursor;	/* cursor this page was fetched at */
	struct json_object	*body;		/* parsed response */
	size_t			 nitems;	/* items in the page */
	long long		 items_before;	/* items synced before it */
	int			 pages_before;	/* pages synced before it */
};

struct pager_next {
	char		*next;		/* malloc'd; NULL when done */
	int		 done;
	long long	 total;		/* upstream's total, -1 unknown */
};

/*
 * Decide what follows page pg.  Rules, first match wins:
 *   hasMorePath present and boolean: false -> done;
 *   maxPages reached -> done;
 *   offset: total known -> done when offset + nitems >= total; else done
 *     on an empty page or, when pageSizeParam is sent, a short page;
 *     next = offset (currentOffsetPath in the body, else the cursor) +
 *     nitems;
 *   page: done on an empty page, when totalPagesPath says it was the last,
 *     when totalPath is reached, or on a short page when pageSizeParam is
 *     sent; next = page + 1;
 *   cursor: done when the value at nextCursorPath is missing, null, empty,
 *     equal to the current cursor (a loop), or the page is empty.
 * RS_EUPSTREAM when the body contradicts the config (e.g. a next cursor
 * that is an object), RS_ENOMEM.
 */
enum rs_status	 pager_next(const struct source_config *,
		    const struct pager_page *, struct pager_next *, char *err);
void		 pager_next_free(struct pager_next *);

#endif
