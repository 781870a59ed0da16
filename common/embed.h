/*
 * embed.h — turn chunk texts into 1536-dimensional embeddings.
 * Prefix: embed_.
 *
 * With OPENAI_API_KEY set: POST {OPENAI_BASE_URL}/embeddings (default
 * https://api.openai.com/v1) with model EMBEDDING_MODEL (default
 * text-embedding-3-small), at most EMBED_MAX_INPUTS texts per request,
 * asking for base64 output (floats are accepted too).  Without it: the
 * built-in local embedder — deterministic feature hashing of words and
 * word pairs, L2-normalised — so the system works offline.
 */
#ifndef EMBED_H
#define EMBED_H

#include <stddef.h>

#include "http_fetch.h"
#include "rs.h"

#define EMBED_DIMS		1536
#define EMBED_MAX_INPUTS	256	/* texts per request */
#define EMBED_TIMEOUT_MS	15000

struct embedder;

struct embed_stats {
	int	 requests;
	int	 attempts;
	double	 ms;
};

/* Configure from the environment; fx is borrowed for remote calls. */
enum rs_status	 embed_open(struct embedder **, struct fetcher *fx,
		    char *err);
void		 embed_close(struct embedder *);

/* "local" or "openai:<model>". */
const char	*embed_name(const struct embedder *);

/*
 * The model the vectors belong to, recorded with every chunk
 * (metadata.embeddingModel): EMBED_LOCAL_MODEL for the built-in
 * embedder, else EMBEDDING_MODEL.  Vectors of two models are never
 * compared.
 */
#define EMBED_LOCAL_MODEL	"local-hash-v1"
const char	*embed_model(const struct embedder *);

/* 1 for a remote (semantic) model; the local one only matches words. */
int		 embed_semantic(const struct embedder *);
#define EMBED_LOCAL_NOTE	"not semantic \xe2\x80\x94 for demos and tests"

/*
 * Embed texts[i] (lens[i] bytes) into out[i * EMBED_DIMS ...] for i < n,
 * finishing by deadline (an rs_now_ms() value).  Remote calls follow the
 * fetch_retry() policy (429/502/503/504 and connection failures retried
 * with backoff, Retry-After honoured).  RS_OK, RS_EEMBED (with the status
 * and a short reason; never the key), RS_ENOMEM.  Nothing is partially
 * valid on failure.
 */
enum rs_status	 embed_texts(struct embedder *, const char *const *texts,
		    const size_t *lens, size_t n, float *out, double deadline,
		    struct embed_stats *, char *err);

/* The local embedder for one text. */
void		 embed_local(const char *text, size_t len, float *out);

#endif
