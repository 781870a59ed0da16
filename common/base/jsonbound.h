/*
 * jsonbound.h — parse untrusted JSON with json-c under a memory budget.
 * Prefix: jbound_.
 *
 * json-c builds a tree whose size is not proportional to the text: a
 * 16 MiB body of "[{},{},…]" needs about 4 GiB (an empty object costs
 * ~784 bytes of heap for 3 bytes of text).  jbound_parse() first scans
 * the text once (no allocation, O(n), stops as soon as the budget is
 * exceeded) and adds up an upper bound of what json-c 0.16 will allocate
 * for it — objects with their hash tables, arrays with their slots,
 * strings, keys, numbers, the tokener's buffer — using glibc's malloc
 * chunk sizes; only when that fits the budget does json-c build the tree.
 * tests/unit/test_jsonbound.c checks the bound against the heap actually
 * used (mallinfo2) for the pathological shapes and for ordinary data.
 */
#ifndef JSONBOUND_H
#define JSONBOUND_H

#include <stddef.h>

#include <json-c/json.h>

#include "rs.h"

/*
 * Upper bound, in bytes, of the heap json-c needs to parse text[0..len)
 * (NUL not required); stops counting once past limit and returns a value
 * above it.  Malformed text gives some finite value (json-c rejects it).
 */
size_t		 jbound_cost(const char *text, size_t len, size_t limit);

/*
 * Parse text[0..len) (a UTF-8 byte order mark is skipped) into *out, at
 * most depth levels deep, refusing before parsing when jbound_cost()
 * exceeds budget.  what names the text in messages ("upstream JSON",
 * "request body").  RS_EINPUT: not JSON or trailing bytes (*syntax = 1,
 * may be NULL) or too deep; RS_ETOOBIG: over the budget (err never holds
 * the text); RS_ENOMEM.  *out is NULL on failure; the
 * caller puts it on success.
 */
enum rs_status	 jbound_parse(const char *text, size_t len, int depth,
		    size_t budget, const char *what, struct json_object **out,
		    int *syntax, char *err);

/* The budget jbound_parse uses for an upstream body under body cap. */
size_t		 jbound_budget(size_t body_cap);

#endif
