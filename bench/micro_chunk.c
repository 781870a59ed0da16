/*
 * micro_chunk.c — chunker throughput (MB/s) on long texts built from the
 * DummyJSON catalogue, and on the short per-item texts a batch really
 * chunks.  Prints a table on stderr and a JSON object on stdout:
 *   {"bench":"chunk","cases":[{"case","bytes","iterations","ms","mbPerS",
 *    "chunks"}...]}
 * Run from the checkout (or set RESTSYNC_DATA_DIR).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "chunk.h"
#include "hashing.h"
#include "micro_common.h"
#include "rs.h"

#define LONG_BYTES	(1024u * 1024)

enum text_kind {
	TEXT_PROSE,	/* descriptions, paragraph breaks every 5 products */
	TEXT_ONELINE,	/* the same sentences, no line breaks at all */
	TEXT_UTF8,	/* prose with every 'e' as U+00E9 and 'o' as U+00F6 */
	TEXT_NOSPACE,	/* one 1 MiB word: the worst case */
	TEXT__MAX
};

static const char *const kind_names[TEXT__MAX] = {
	"chunk 1 MiB prose (paragraphs)",
	"chunk 1 MiB prose (one line)",
	"chunk 1 MiB prose (UTF-8 heavy)",
	"chunk 1 MiB without whitespace",
};

static int
add_product_text(struct rs_buf *b, struct json_object *p, enum text_kind k,
    size_t i)
{
	struct json_object	*d;
	const char		*s;

	if (!json_object_object_get_ex(p, "description", &d))
		return 0;
	for (s = json_object_get_string(d); *s != '\0'; s++) {
		if (k == TEXT_UTF8 && *s == 'e') {
			if (rs_buf_puts(b, "\xc3\xa9") == -1)
				return -1;
		} else if (k == TEXT_UTF8 && *s == 'o') {
			if (rs_buf_puts(b, "\xc3\xb6") == -1)
				return -1;
		} else if (rs_buf_append(b, s, 1) == -1)
			return -1;
	}
	return rs_buf_puts(b, k != TEXT_ONELINE && i % 5 == 4 ? "\n\n" : " ");
}

/* Exactly LONG_BYTES of text of kind k (cut at a UTF-8 boundary). */
static int
make_text(struct rs_buf *b, struct json_object *products, enum text_kind k)
{
	size_t	 i, n = json_object_array_length(products);

	rs_buf_init(b, LONG_BYTES + 4096);
	if (k == TEXT_NOSPACE) {
		while (b->len < LONG_BYTES)
			if (rs_buf_puts(b, "x") == -1)
				return -1;
		return 0;
	}
	for (i = 0; b->len < LONG_BYTES; i++)
		if (add_product_text(b, json_object_array_get_idx(products,
		    i % n), k, i) == -1)
			return -1;
	b->len = LONG_BYTES;
	while (b->len > 0 && ((unsigned char)b->p[b->len] & 0xc0) == 0x80)
		b->len--;
	b->p[b->len] = '\0';
	return 0;
}

static struct json_object *
run_case(const char *name, const char *const *texts, const size_t *lens,
    size_t ntexts, double min_ms)
{
	struct json_object	*row;
	struct chunk		*ch;
	size_t			 nch, total = 0, chunks = 0, i;
	long			 iters = 0;
	double			 t0 = rs_now_ms(), ms;
	char			 err[RS_ERRLEN];

	for (i = 0; i < ntexts; i++)
		total += lens[i];
	do {
		for (i = 0; i < ntexts; i++) {
			if (chunk_text(texts[i], lens[i], NULL, &ch, &nch,
			    err) != RS_OK) {
				fprintf(stderr, "%s: %s\n", name, err);
				return NULL;
			}
			free(ch);
			if (iters == 0)
				chunks += nch;
		}
		iters++;
	} while ((ms = rs_now_ms() - t0) < min_ms || iters < BENCH_MIN_ITERS);
	row = micro_row(name, total, iters, ms);
	json_object_object_add(row, "chunks", json_object_new_int64(
	    (int64_t)chunks));
	return row;
}

/* SHA-256 of the same short texts, for scale. */
static struct json_object *
run_hash(const char *const *texts, const size_t *lens, size_t ntexts,
    double min_ms)
{
	char	 hex[HASH_HEXLEN + 1];
	size_t	 total = 0, i;
	long	 iters = 0;
	double	 t0 = rs_now_ms(), ms;

	for (i = 0; i < ntexts; i++)
		total += lens[i];
	do {
		for (i = 0; i < ntexts; i++)
			hash_sha256_hex(texts[i], lens[i], hex);
		iters++;
	} while ((ms = rs_now_ms() - t0) < min_ms || iters < BENCH_MIN_ITERS);
	return micro_row("sha256 194 item texts (as hashed per chunk)",
	    total, iters, ms);
}

int
main(void)
{
	struct json_object	*products, *out = NULL, *cases, *row;
	struct json_object	*p, *d;
	struct rs_buf		 texts[TEXT__MAX];
	const char		**items = NULL;
	size_t			*lens = NULL, n = 0, i;
	double			 min_ms = micro_min_ms();
	int			 rc = 1, k;

	for (k = 0; k < TEXT__MAX; k++)
		rs_buf_init(&texts[k], 0);
	if ((products = micro_products()) == NULL)
		return 1;
	out = json_object_new_object();
	cases = json_object_new_array();
	json_object_object_add(out, "bench", json_object_new_string("chunk"));
	json_object_object_add(out, "cases", cases);
	fprintf(stderr, "chunker (target %d, overlap %d tokens):\n",
	    CHUNK_TARGET_TOKENS, CHUNK_OVERLAP_TOKENS);
	for (k = 0; k < TEXT__MAX; k++) {
		const char	*t;
		size_t		 l;

		if (make_text(&texts[k], products, (enum text_kind)k) == -1) {
			fprintf(stderr, "out of memory\n");
			goto out;
		}
		t = texts[k].p;
		l = texts[k].len;
		if ((row = run_case(kind_names[k], &t, &l, 1, min_ms)) == NULL)
			goto out;
		json_object_array_add(cases, row);
	}

	/* The texts a batch chunks: one short description per item. */
	n = json_object_array_length(products);
	if ((items = calloc(n, sizeof(*items))) == NULL ||
	    (lens = calloc(n, sizeof(*lens))) == NULL) {
		fprintf(stderr, "out of memory\n");
		goto out;
	}
	for (i = 0; i < n; i++) {
		p = json_object_array_get_idx(products, i);
		items[i] = "";
		if (json_object_object_get_ex(p, "description", &d))
			items[i] = json_object_get_string(d);
		lens[i] = strlen(items[i]);
	}
	if ((row = run_case("chunk 194 item descriptions (short)", items,
	    lens, n, min_ms)) == NULL)
		goto out;
	json_object_array_add(cases, row);
	json_object_array_add(cases, run_hash(items, lens, n, min_ms));
	printf("%s\n", json_object_to_json_string_ext(out,
	    JSON_C_TO_STRING_PLAIN));
	rc = 0;
out:
	free(items);
	free(lens);
	for (k = 0; k < TEXT__MAX; k++)
		rs_buf_free(&texts[k]);
	json_object_put(out);
	json_object_put(products);
	return rc;
}
