/*
 * embed.h — turn chunk texts into embeddings of EMBEDDING_DIMENSIONS
 * dimensions (default 1536).
 * Prefix: embed_.
 *
 * With OPENAI_API_KEY set: POST {OPENAI_BASE_URL}/embeddings (default
 * https://api.openai.com/v1) with model EMBEDDING_MODEL (default
 * text-embedding-3-small), at most EMBED_MAX_INPUTS texts per request,
 * asking for base64 output (floats are accepted too) and, when
 * EMBEDDING_DIMENSIONS is set, for that many dimensions (the API's
 * "dimensions" parameter).  Without it: the built-in local embedder —
 * deterministic feature hashing of words and word pairs into
 * EMBEDDING_DIMENSIONS buckets, L2-normalised — so the system works
 * offline.
 */
#ifndef EMBED_H
#define EMBED_H

#include <stddef.h>

#include "http_fetch.h"
#include "rs.h"

#define EMBED_DIMS		1536	/* without EMBEDDING_DIMENSIONS */
#define EMBED_MAX_DIMS		3072	/* text-embedding-3-large's size */
#define EMBED_MAX_INPUTS	256	/* texts per request */
#define EMBED_TIMEOUT_MS	15000

struct embedder;

struct embed_stats {
	int	 requests;
	int	 attempts;
	double	 ms;
};

/*
 * Configure from the environment; fx is borrowed for remote calls.
 * A bad EMBEDDING_DIMENSIONS (or an EMBEDDING_MODEL with '@') does not
 * fail here: the embedder opens, embed_error() says what is wrong and
 * every embed_texts() fails with it (RS_EINPUT), so that health and
 * each batch name the variable instead of a program that never starts.
 */
enum rs_status	 embed_open(struct embedder **, struct fetcher *fx,
		    char *err);
void		 embed_close(struct embedder *);

/*
 * EMBEDDING_DIMENSIONS: NULL or "" is unset (*dims = EMBED_DIMS, 0);
 * else digits only, 1..EMBED_MAX_DIMS (*dims = it, 1).  -1 with a
 * message naming the variable otherwise.
 */
int		 embed_parse_dims(const char *v, int *dims, char *err);

/* The configuration error (see embed_open), or NULL. */
const char	*embed_error(const struct embedder *);

/* The size of every vector this embedder makes. */
int		 embed_dims(const struct embedder *);

/* "local" or "openai:<model>". */
const char	*embed_name(const struct embedder *);

/*
 * The model the vectors belong to, recorded with every chunk
 * (metadata.embeddingModel): EMBED_LOCAL_MODEL for the built-in
 * embedder, else EMBEDDING_MODEL; "@<dimensions>" appended when they are
 * not EMBED_DIMS ("text-embedding-3-small@512"), so that a change of
 * dimensions is a change of model.  Vectors of two models are never
 * compared.  sql/011 holds every stored vector to the length its label
 * says.
 */
#define EMBED_LOCAL_MODEL	"local-hash-v1"
const char	*embed_model(const struct embedder *);

/* 1 for a remote (semantic) model; the local one only matches words. */
int		 embed_semantic(const struct embedder *);
#define EMBED_LOCAL_NOTE	"not semantic \xe2\x80\x94 for demos and tests"

/*
 * Embed texts[i] (lens[i] bytes) into out[i * embed_dims() ...] for i < n,
 * finishing by deadline (an rs_now_ms() value).  Remote calls follow the
 * fetch_retry() policy (429/502/503/504 and connection failures retried
 * with backoff, Retry-After honoured).  RS_OK, RS_EEMBED (with the status
 * and a short reason; never the key), RS_EINPUT (embed_error()),
 * RS_ENOMEM.  Nothing is partially
 * valid on failure.
 */
enum rs_status	 embed_texts(struct embedder *, const char *const *texts,
		    const size_t *lens, size_t n, float *out, double deadline,
		    struct embed_stats *, char *err);

/*
 * A pool of embeddings requests in flight for one pipelined run
 * (docs/RUNS.md): jobs are carried out by up to `limit` threads, each
 * with its own connection (remote) or CPU (the local embedder), in the
 * order submitted.  A 429 answer lowers the number in flight by one for
 * the rest of the pool's life (to one at least) and the request goes
 * again after Retry-After.  Every function but open and close may be
 * called from one thread only (the run's).
 */
#define EMBED_POOL_DEFAULT	4	/* RESTSYNC_EMBED_CONCURRENCY */
#define EMBED_POOL_MAX		16

struct embed_pool;

struct embed_job {
	const char *const	*texts;		/* in: n texts, lengths */
	const size_t		*lens;
	size_t			 n;
	float			*out;		/* n * embed_dims() floats */
	double			 budget_ms;	/* from the job's start */
	/* Out, once embed_pool_wait() returned. */
	enum rs_status		 st;
	char			 err[RS_ERRLEN];
	struct embed_stats	 es;
	/* The pool's. */
	int			 state;
	struct embed_job	*next;
};

struct embed_pool_stats {
	int	 max;		/* the limit at the start */
	int	 limit;		/* now (lowered by 429s) */
	int	 peak;		/* most jobs in flight at once */
	int	 throttled;	/* 429 answers */
	int	 jobs;		/* jobs carried out */
};

/* RESTSYNC_EMBED_CONCURRENCY (default EMBED_POOL_DEFAULT) into *n; -1
 * with a message naming it when it is not an integer 1..EMBED_POOL_MAX. */
int		 embed_concurrency(int *n, char *err);
enum rs_status	 embed_pool_open(struct embed_pool **, int limit, char *err);
void		 embed_pool_close(struct embed_pool *);
void		 embed_pool_submit(struct embed_pool *, struct embed_job *);
/* 1 when the job is done (embed_pool_wait returns at once). */
int		 embed_pool_ready(struct embed_pool *, struct embed_job *);
void		 embed_pool_wait(struct embed_pool *, struct embed_job *);
/* Take a queued job back, or wait for a running one to end. */
void		 embed_pool_drop(struct embed_pool *, struct embed_job *);
void		 embed_pool_stats(struct embed_pool *, struct embed_pool_stats *);

/* The local embedder for one text: dims floats (EMBED_DIMS for
 * embed_local); the buckets are the hash modulo dims. */
void		 embed_local(const char *text, size_t len, float *out);
void		 embed_local_dims(const char *text, size_t len, int dims,
		    float *out);

#endif
