/*
 * micro_common.h — shared helpers of the micro-benchmarks (header-only,
 * each program includes it once).  Throughput is in MB/s with MB = 10^6
 * bytes; a case runs until it has taken at least BENCH_MIN_MS of wall
 * time and BENCH_MIN_ITERS iterations.
 */
#ifndef MICRO_COMMON_H
#define MICRO_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "rs.h"

#define BENCH_MIN_MS	300.0
#define BENCH_MIN_ITERS	5
#define BENCH_MAX_FILE	(64u * 1024 * 1024)

/* Milliseconds a case should run for (BENCH_MICRO_MS overrides). */
static double
micro_min_ms(void)
{
	const char	*v = getenv("BENCH_MICRO_MS");
	double		 ms;

	if (v == NULL || (ms = strtod(v, NULL)) <= 0)
		return BENCH_MIN_MS;
	return ms;
}

/* Read a whole file into *out (NUL-terminated, capped). -1 on error. */
static int
micro_read_file(const char *path, struct rs_buf *out)
{
	FILE	*f;
	char	 blk[65536];
	size_t	 n;
	int	 rc = -1;

	rs_buf_init(out, BENCH_MAX_FILE);
	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	while ((n = fread(blk, 1, sizeof(blk), f)) > 0)
		if (rs_buf_append(out, blk, n) == -1) {
			fprintf(stderr, "%s: larger than %u bytes\n", path,
			    BENCH_MAX_FILE);
			goto out;
		}
	rc = ferror(f) ? -1 : 0;
out:
	fclose(f);
	return rc;
}

/* The DummyJSON catalogue (an array of products), parsed. */
static struct json_object *
micro_products(void)
{
	const char		*dir = getenv("RESTSYNC_DATA_DIR");
	char			 path[1024];
	struct rs_buf		 b;
	struct json_object	*root = NULL;
	int			 n;

	n = snprintf(path, sizeof(path), "%s/dummyjson/products.json",
	    dir != NULL && *dir != '\0' ? dir : "data");
	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "RESTSYNC_DATA_DIR too long\n");
		return NULL;
	}
	if (micro_read_file(path, &b) == 0)
		root = json_tokener_parse(b.p);
	rs_buf_free(&b);
	if (root == NULL || !json_object_is_type(root, json_type_array)) {
		fprintf(stderr, "%s: not a JSON array\n", path);
		json_object_put(root);
		return NULL;
	}
	return root;
}

/* One result row: {"case", "bytes", "iterations", "ms", "mbPerS", ...}. */
static struct json_object *
micro_row(const char *name, size_t bytes, long iters, double ms)
{
	struct json_object	*o = json_object_new_object();
	double			 mbs = ms > 0 ?
				    (double)bytes * (double)iters / 1e6 /
				    (ms / 1000.0) : 0;

	json_object_object_add(o, "case", json_object_new_string(name));
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)bytes));
	json_object_object_add(o, "iterations", json_object_new_int64(iters));
	json_object_object_add(o, "ms", json_object_new_double(ms));
	json_object_object_add(o, "mbPerS", json_object_new_double(mbs));
	fprintf(stderr, "  %-44s %10zu B  %8.1f MB/s  (%ld runs, %.0f ms)\n",
	    name, bytes, mbs, iters, ms);
	return o;
}

#endif
