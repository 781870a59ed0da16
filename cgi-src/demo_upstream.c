/*
 * demo_upstream — GET /demo/dummyjson/products?skip=N&limit=M
 * A DummyJSON-compatible catalogue served by the stack itself, so the demo
 * works offline: same semantics as dummyjson.com/products (limit defaults
 * to 30, limit=0 means all, body {products,total,skip,limit} where limit
 * is the number of products returned).  Data: $RESTSYNC_DATA_DIR/
 * dummyjson/products.json (the real DummyJSON catalogue, MIT licence).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi_io.h"

#define DEMO_MAX_DATA	(16 * 1024 * 1024)

/* Parse a non-negative integer query value; -1 if invalid. */
static long
qnum(const char *qs, const char *name, long dflt)
{
	size_t	 n = strlen(name);
	const char *p = qs;
	char	*end;
	long	 v;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			errno = 0;
			v = strtol(p + n + 1, &end, 10);
			if (errno != 0 || end == p + n + 1 || v < 0 ||
			    (*end != '\0' && *end != '&'))
				return -1;
			return v;
		}
		p = strchr(p, '&');
		if (p != NULL)
			p++;
	}
	return dflt;
}

/* Answer {"message": msg} with HTTP code; returns code. */
static int
message(struct fio_req *rq, int code, const char *msg)
{
	struct json_object	*out = json_object_new_object();

	json_object_object_add(out, "message", json_object_new_string(msg));
	fio_write_json(rq, code, out);
	return code;
}

int
main(void)
{
	struct fio_req		 rq;
	struct json_object	*all, *out, *arr;
	const char		*dir = getenv("RESTSYNC_DATA_DIR");
	const char		*uri;
	char			 path[4096];
	long			 skip, limit, total, i;
	int			 n, code;

	if (fio_init(&rq, "demo_upstream") == -1 || fio_prefork(&rq) == -1)
		return 1;
	n = snprintf(path, sizeof(path), "%s/dummyjson/products.json",
	    dir != NULL ? dir : "data");
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    (all = json_object_from_file(path)) == NULL ||
	    !json_object_is_type(all, json_type_array)) {
		fprintf(stderr, "demo_upstream: cannot load %s\n", path);
		return 1;
	}
	total = (long)json_object_array_length(all);
	while (fio_accept(&rq) >= 0) {
		uri = fio_param(&rq, "DOCUMENT_URI");
		code = 200;
		if (strcmp(fio_param(&rq, "REQUEST_METHOD"), "GET") != 0) {
			code = 405;
			fio_write_error(&rq, RS_EMETHOD, "method not allowed",
			    NULL);
			goto next;
		}
		if (strcmp(uri, "/demo/dummyjson/products") != 0) {
			code = message(&rq, 404, "not found");
			goto next;
		}
		skip = qnum(fio_param(&rq, "QUERY_STRING"), "skip", 0);
		limit = qnum(fio_param(&rq, "QUERY_STRING"), "limit", 30);
		if (skip < 0 || limit < 0) {
			code = message(&rq, 400, "invalid skip or limit");
			goto next;
		}
		if (limit == 0 || limit > total)
			limit = total;
		arr = json_object_new_array();
		for (i = skip; i < total && i < skip + limit; i++)
			json_object_array_add(arr, json_object_get(
			    json_object_array_get_idx(all, (size_t)i)));
		out = json_object_new_object();
		json_object_object_add(out, "products", arr);
		json_object_object_add(out, "total", json_object_new_int64(total));
		json_object_object_add(out, "skip", json_object_new_int64(skip));
		json_object_object_add(out, "limit", json_object_new_int64(
		    (long)json_object_array_length(arr)));
		fio_write_json(&rq, 200, out);
next:
		fio_log(&rq, code, NULL);
		fio_finish(&rq);
	}
	json_object_put(all);
	return 0;
}
