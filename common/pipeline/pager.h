/*
 * pager.h — build the URL of the next page and compute the cursor after
 * it, for each pagination style.  Prefix: pager_.
 *
 * The cursor stored in kb_rest_cursors.next_cursor is text:
 *   offset  the item offset of the next page ("50"); NULL = 0
 *   page    the page number of the next page ("3"); NULL = pageStart
 *   cursor  the opaque token sent as cursorParam, or an absolute http(s)
 *           URL to fetch as is; NULL = first page (no cursor sent)
 *   link    the absolute URL of the next page, from the Link header;
 *           NULL = first page
 * Next URLs (cursor and link styles) are stored without the queryTemplate
 * parameters, which pager_url adds again, so a key an API echoes into its
 * next links is never stored; they must be on baseUrl's origin.
 */
#ifndef PAGER_H
#define PAGER_H

#include <json-c/json.h>

#include "config.h"
#include "rs.h"

#define PAGER_MAX_URL		8192
#define PAGER_MAX_CURSOR	4096
/* Offsets, page numbers and totals above this are not numbers to us, so
 * "offset + items" and "page + 1" can never overflow. */
#define PAGER_MAX_POSITION	1000000000000000LL

/*
 * The URL for the page at cursor (NULL: first page) into *url (malloc'd).
 * api_key, if not NULL, fills {{API_KEY}} in queryTemplate values.
 * RS_EINPUT when the stored cursor is unusable (e.g. an absolute URL on
 * another origin than baseUrl, or a non-numeric offset).
 */
enum rs_status	 pager_url(const struct source_config *, const char *cursor,
		    const char *api_key, char **url, char *err);

/*
 * Set the query parameter name of *url (malloc'd) to value, replacing
 * any it had (the incremental param, incremental.c).  RS_EINPUT when the
 * URL does not parse or grows past PAGER_MAX_URL; RS_ENOMEM.
 */
enum rs_status	 pager_set_param(char **url, const char *name,
		    const char *value, char *err);

struct pager_page {
	const char		*cursor;	/* cursor this page was fetched at */
	struct json_object	*body;		/* parsed response */
	const char		*link;		/* all Link header values, or NULL */
	const char		*url;		/* URL the page came from (the base
						 * of relative links), or NULL */
	size_t			 nitems;	/* items in the page */
	long long		 items_before;	/* items synced before it */
	int			 pages_before;	/* pages synced before it */
};

struct pager_next {
	char		*next;		/* malloc'd; NULL when done */
	int		 done;
	long long	 total;		/* upstream's total, -1 unknown */
	int		 capped;	/* done only because maxPages was
					 * reached: pages may follow upstream */
};

/*
 * Decide what follows page pg.  Rules, first match wins:
 *   hasMorePath present and boolean: false -> done;
 *   maxPages reached -> done; capped too unless the rules below say
 *     the page was the last anyway (an error of theirs is then ignored);
 *   hasMorePath true: the API says there is more, which wins over the
 *     empty-page, short-page, total and totalPages rules below; the next
 *     cursor or link must then be there (else RS_EUPSTREAM);
 *   offset: total known -> done when offset + nitems >= total; else done
 *     on an empty page or, when pageSizeParam is sent, a short page;
 *     next = offset (currentOffsetPath in the body, else the cursor) +
 *     nitems; an empty page is done even when hasMore says true (the
 *     offset would not move);
 *   page: done on an empty page, when totalPagesPath says it was the last,
 *     when totalPath is reached, or on a short page when pageSizeParam is
 *     sent; next = page + 1;
 *   cursor: done when the value at nextCursorPath is missing, null, empty,
 *     false, equal to the current cursor (a loop), or the page is empty.
 *     "$last.<path>" reads <path> in the last item of the page (itemsPath)
 *     instead of the body, for starting_after-style APIs;
 *   link: done when the Link header has no rel="next" (pager_link_next),
 *     it equals the current cursor, or the page is empty.
 * RS_EUPSTREAM when the body contradicts the config (e.g. a next cursor
 * that is an object), when a next URL is on another origin than baseUrl
 * (credentials never leave it), or a Link header is malformed; RS_ENOMEM.
 */
enum rs_status	 pager_next(const struct source_config *,
		    const struct pager_page *, struct pager_next *, char *err);
void		 pager_next_free(struct pager_next *);

/*
 * RFC 8288 §3: the target of the first link in the Link field value link
 * (several field lines joined with ", ", as RFC 9110 §5.3 allows) whose
 * rel parameter has "next" among its space-separated relation types
 * (compared ignoring case, §2.1.1).  Parameters may be tokens (read
 * leniently: any visible bytes but ; , ") or quoted strings; only the
 * first rel of a link counts (§3.3); a link with an
 * anchor parameter has another context and is skipped (§3.2).  A relative
 * target is resolved against base (RFC 3986 §5).  On RS_OK *next is the
 * absolute http(s) URL (malloc'd) or NULL when there is no next link.
 * RS_EUPSTREAM with a message when the field is malformed or longer than
 * PAGER_MAX_LINK, or the target is not an http(s) URL; RS_ENOMEM.
 */
#define PAGER_MAX_LINK		65536
enum rs_status	 pager_link_next(const char *link, const char *base,
		    char **next, char *err);

/*
 * The offset or page number at cursor of an offset or page style source
 * (NULL: the first page's) into *pos.  RS_EINPUT when the stored cursor
 * is not one.
 */
enum rs_status	 pager_position(const struct source_config *,
		    const char *cursor, long long *pos, char *err);

/* A stored offset or page number (a non-negative decimal up to
 * PAGER_MAX_POSITION); -1 when it is not one. */
long long	 pager_count(const char *s);

#endif
