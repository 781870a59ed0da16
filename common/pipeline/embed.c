/*
 * embed.c — local feature-hashing embedder and the OpenAI-compatible
 * client.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "embed.h"
#include "jsonbound.h"
#include "store.h"

_Static_assert(EMBED_MAX_DIMS == STORE_MAX_DIMS,
    "the store takes the embedder's largest vectors");

#define EMBED_ATTEMPTS		5	/* 502/503/504 and connection failures */
#define EMBED_POOL_429_TRIES	8	/* a pool's request answered 429 */

#define EMBED_MAX_RESP	(64u * 1024 * 1024)
#define EMBED_MAX_TOKEN	64	/* bytes of one word that are hashed */
/*
 * What json-c may allocate for an answer: a vector sent as an array of
 * numbers costs jsonbound's ~112 bytes a number, so a budget of 128 bytes
 * per expected number plus 1 MiB fits every honest answer (base64 needs
 * far less) and refuses a hostile one ("[{},{},…]") before it is built.
 * An error body is read for its message only: 1 MiB.
 */
#define EMBED_JSON_PER_NUM	128u
#define EMBED_JSON_BASE		(1024u * 1024)
#define EMBED_JSON_DEPTH	8

struct embedder {
	struct fetcher	*fx;
	int		 remote;
	char		 url[1024];
	char		 auth[1024];	/* "Authorization: Bearer ..." */
	char		 model[128];
	char		 name[160];
	int		 dims;		/* of every vector */
	int		 dims_set;	/* EMBEDDING_DIMENSIONS given: sent */
	char		 ident[160];	/* embed_model(): model[@dims] */
	char		 cfg_err[RS_ERRLEN]; /* embed_error(), "" if none */
};

static uint64_t
fnv1a(const unsigned char *p, size_t n, uint64_t h)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb93fe53a87fdULL;
	x ^= x >> 33;
	return x;
}

static void
add_feature(float *out, size_t dims, uint64_t h, float w)
{
	h = mix64(h);
	out[h % dims] += (h >> 63) ? w : -w;
}

void
embed_local(const char *text, size_t len, float *out)
{
	embed_local_dims(text, len, EMBED_DIMS, out);
}

void
embed_local_dims(const char *text, size_t len, int dims, float *out)
{
	const unsigned char	*s = (const unsigned char *)text;
	unsigned char		 word[EMBED_MAX_TOKEN];
	uint64_t		 h, prev = 0;
	size_t			 i = 0, wl;
	double			 norm = 0;
	int			 have_prev = 0, any = 0;
	size_t			 d = (size_t)dims;

	memset(out, 0, sizeof(float) * d);
	while (i < len) {
		/* A word: ASCII letters/digits (lower-cased) or any
		 * non-ASCII bytes (UTF-8 letters of other scripts). */
		wl = 0;
		while (i < len && (s[i] >= 0x80 ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9'))) {
			if (wl < sizeof(word))
				word[wl++] = (s[i] >= 'A' && s[i] <= 'Z') ?
				    (unsigned char)(s[i] + 32) : s[i];
			i++;
		}
		if (wl == 0) {
			i++;
			continue;
		}
		h = fnv1a(word, wl, 0xcbf29ce484222325ULL);
		add_feature(out, d, h, 1.0f);
		if (have_prev)
			add_feature(out, d, prev * 31 + h, 0.5f);
		prev = h;
		have_prev = 1;
		any = 1;
	}
	if (!any) {
		/* No words: still a valid unit vector, derived from bytes. */
		out[fnv1a(s, len, 0xcbf29ce484222325ULL) % d] = 1.0f;
		return;
	}
	for (i = 0; i < d; i++)
		norm += (double)out[i] * out[i];
	norm = sqrt(norm);
	if (norm == 0) {
		out[0] = 1.0f;
		return;
	}
	for (i = 0; i < d; i++)
		out[i] = (float)(out[i] / norm);
}

static int
copy_env(char *dst, size_t dstsz, const char *name, const char *dflt)
{
	const char	*v = getenv(name);
	int		 n;

	if (v == NULL || *v == '\0')
		v = dflt;
	n = snprintf(dst, dstsz, "%s", v);
	return n < 0 || (size_t)n >= dstsz ? -1 : 0;
}

int
embed_parse_dims(const char *v, int *dims, char *err)
{
	size_t	 i;
	long	 n = 0;

	*dims = EMBED_DIMS;
	if (v == NULL || *v == '\0')
		return 0;
	for (i = 0; v[i] != '\0' && n <= EMBED_MAX_DIMS; i++) {
		if (v[i] < '0' || v[i] > '9')
			break;
		n = n * 10 + (v[i] - '0');
	}
	if (v[i] != '\0' || n < 1 || n > EMBED_MAX_DIMS) {
		rs_errf(err, "EMBEDDING_DIMENSIONS must be an integer from 1 "
		    "to %d (got '%.40s%s')", EMBED_MAX_DIMS, v,
		    strlen(v) > 40 ? "..." : "");
		return -1;
	}
	*dims = (int)n;
	return 1;
}

/*
 * Dimensions and the model's identity (embed.h): a bad value leaves
 * em->cfg_err set (embed_open's comment says why it does not fail).
 */
static void
embed_set_dims(struct embedder *em)
{
	int	 set;

	set = embed_parse_dims(getenv("EMBEDDING_DIMENSIONS"), &em->dims,
	    em->cfg_err);
	em->dims_set = set == 1;
	if (set == -1)
		em->dims = EMBED_DIMS;
	else if (strchr(em->model, '@') != NULL)
		(void)snprintf(em->cfg_err, sizeof(em->cfg_err),
		    "EMBEDDING_MODEL must not contain '@' (restsync records "
		    "the dimensions as model@dimensions)");
	if (em->dims == EMBED_DIMS)
		(void)snprintf(em->ident, sizeof(em->ident), "%s", em->model);
	else
		(void)snprintf(em->ident, sizeof(em->ident), "%s@%d",
		    em->model, em->dims);
}

enum rs_status
embed_open(struct embedder **out, struct fetcher *fx, char *err)
{
	struct embedder	*em;
	const char	*key = getenv("OPENAI_API_KEY");
	char		 base[900];
	size_t		 n;
	int		 w;

	*out = NULL;
	if ((em = calloc(1, sizeof(*em))) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	em->fx = fx;
	if (key == NULL || *key == '\0') {
		(void)snprintf(em->name, sizeof(em->name), "local");
		(void)snprintf(em->model, sizeof(em->model), "%s",
		    EMBED_LOCAL_MODEL);
		embed_set_dims(em);
		*out = em;
		return RS_OK;
	}
	em->remote = 1;
	if (copy_env(base, sizeof(base), "OPENAI_BASE_URL",
	    "https://api.openai.com/v1") == -1 ||
	    copy_env(em->model, sizeof(em->model), "EMBEDDING_MODEL",
	    "text-embedding-3-small") == -1) {
		rs_errf(err, "OPENAI_BASE_URL or EMBEDDING_MODEL too long");
		free(em);
		return RS_EINPUT;
	}
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		base[--n] = '\0';
	w = snprintf(em->url, sizeof(em->url), "%s/embeddings", base);
	if (w < 0 || (size_t)w >= sizeof(em->url) ||
	    strchr(key, '\r') != NULL || strchr(key, '\n') != NULL ||
	    (w = snprintf(em->auth, sizeof(em->auth),
	    "Authorization: Bearer %s", key)) < 0 ||
	    (size_t)w >= sizeof(em->auth)) {
		rs_errf(err, "OPENAI_API_KEY or OPENAI_BASE_URL is invalid");
		free(em);
		return RS_EINPUT;
	}
	(void)snprintf(em->name, sizeof(em->name), "openai:%s", em->model);
	embed_set_dims(em);
	*out = em;
	return RS_OK;
}

void
embed_close(struct embedder *em)
{
	if (em == NULL)
		return;
	OPENSSL_cleanse(em->auth, sizeof(em->auth));
	free(em);
}

const char *
embed_name(const struct embedder *em)
{
	return em->name;
}

const char *
embed_model(const struct embedder *em)
{
	return em->ident;
}

int
embed_dims(const struct embedder *em)
{
	return em->dims;
}

const char *
embed_error(const struct embedder *em)
{
	return em->cfg_err[0] != '\0' ? em->cfg_err : NULL;
}

int
embed_semantic(const struct embedder *em)
{
	return em->remote;
}

/* Decode one embedding of dims floats (base64 float32 LE, or an array of
 * numbers); any other length is -1. */
static int
decode_vec(struct json_object *e, float *dst, size_t dims)
{
	unsigned char	 raw[EMBED_MAX_DIMS * 4 + 4];
	const char	*s;
	size_t		 i, slen;
	int		 n, pad = 0;

	if (json_object_is_type(e, json_type_array)) {
		if (json_object_array_length(e) != dims)
			return -1;
		for (i = 0; i < dims; i++) {
			struct json_object *x = json_object_array_get_idx(e, i);
			if (!json_object_is_type(x, json_type_double) &&
			    !json_object_is_type(x, json_type_int))
				return -1;
			dst[i] = (float)json_object_get_double(x);
			/* NaN, Infinity (json-c reads both) and doubles
			 * beyond float range are not an embedding. */
			if (!isfinite(dst[i]))
				return -1;
		}
		return 0;
	}
	if (!json_object_is_type(e, json_type_string))
		return -1;
	s = json_object_get_string(e);
	slen = (size_t)json_object_get_string_len(e);
	if (dims > EMBED_MAX_DIMS || slen != 4 * ((dims * 4 + 2) / 3))
		return -1;
	n = EVP_DecodeBlock(raw, (const unsigned char *)s, (int)slen);
	if (slen >= 1 && s[slen - 1] == '=')
		pad++;
	if (slen >= 2 && s[slen - 2] == '=')
		pad++;
	if (n < 0 || (size_t)(n - pad) != dims * 4)
		return -1;
	rs_f32le_get(dst, raw, dims);
	for (i = 0; i < dims; i++)
		if (!isfinite(dst[i]))
			return -1;
	return 0;
}

/*
 * Short, secret-free reason from an error body ("error.message").  Servers
 * echo a wrong key back ("Incorrect API key provided: sk-..."): the key,
 * and anything from "sk-" on, is cut.
 */
static void
error_reason(const struct rs_buf *body, const char *key, char *out,
    size_t outsz)
{
	struct json_object	*root, *e, *m;
	struct rs_buf		 b;
	char			 perr[RS_ERRLEN];
	const char		*msg, *p;
	size_t			 i, kl = key != NULL ? strlen(key) : 0;

	out[0] = '\0';
	if (body->len == 0 || jbound_parse(body->p, body->len,
	    EMBED_JSON_DEPTH, EMBED_JSON_BASE, "embeddings error", &root, NULL,
	    perr) != RS_OK)
		return;
	if (!json_object_object_get_ex(root, "error", &e) ||
	    !json_object_object_get_ex(e, "message", &m) ||
	    !json_object_is_type(m, json_type_string)) {
		json_object_put(root);
		return;
	}
	/* Redact the whole message first, then cut it: cutting first could
	 * leave a prefix of the key behind. */
	msg = json_object_get_string(m);
	rs_buf_init(&b, 4096);
	while (kl > 0 && msg != NULL && (p = strstr(msg, key)) != NULL) {
		if (rs_buf_append(&b, msg, (size_t)(p - msg)) == -1 ||
		    rs_buf_puts(&b, "[redacted]") == -1)
			msg = NULL;	/* too long: say nothing */
		else
			msg = p + kl;
	}
	if (msg != NULL && rs_buf_puts(&b, msg) == 0)
		(void)snprintf(out, outsz, ": %s", b.p);
	rs_buf_free(&b);
	json_object_put(root);
	for (i = 0; out[i] != '\0'; i++)
		if (strncmp(out + i, "sk-", 3) == 0) {
			(void)snprintf(out + i, outsz - i, "[redacted]");
			break;
		}
}

static void	pool_throttled(struct embed_pool *);

static void
embed_sleep(long ms)
{
	struct timespec	 ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * One embeddings request under the retry policy.  Alone (pool NULL):
 * fetch_retry()'s.  In a pool, attempt by attempt, so that a 429 is
 * seen: it lowers the pool's concurrency (pool_throttled) and the request
 * goes again after Retry-After (else the backoff), up to
 * EMBED_POOL_429_TRIES times; other retryable answers as fetch_retry.
 */
static enum rs_status
embed_post(struct embedder *em, const struct fetch_req *fr, double deadline,
    struct embed_pool *pool, struct fetch_resp *resp, int *attempts,
    char *ferr)
{
	struct fetch_policy	 pol;
	enum rs_status		 st;
	long			 delay, ra;
	int			 a, n429 = 0, again;

	pol.deadline = deadline;
	pol.max_attempts = EMBED_ATTEMPTS;
	pol.base_delay_ms = 250;
	pol.max_delay_ms = 4000;
	if (pool == NULL)
		return fetch_retry(em->fx, fr, &pol, resp, attempts, ferr);
	pol.max_attempts = 1;
	for (*attempts = 0;;) {
		if (*attempts > 0)
			fetch_resp_free(resp);
		st = fetch_retry(em->fx, fr, &pol, resp, &a, ferr);
		(*attempts)++;
		if (st == RS_OK && resp->status == 429) {
			pool_throttled(pool);
			again = ++n429 < EMBED_POOL_429_TRIES;
		} else
			again = *attempts - n429 < EMBED_ATTEMPTS &&
			    (st == RS_OK ? resp->status == 502 ||
			    resp->status == 503 || resp->status == 504 :
			    resp->retryable);
		if (!again)
			return st;
		delay = 250L << (*attempts < 5 ? *attempts - 1 : 4);
		if (delay > 4000)
			delay = 4000;
		ra = st == RS_OK ? fetch_retry_after_ms(resp->retry_after,
		    (long)time(NULL)) : -1;
		if (ra >= 0)
			delay = ra;
		if ((double)delay + 100 > deadline - rs_now_ms())
			return st;
		embed_sleep(delay);
	}
}

/*
 * The vectors of an embeddings answer into out[index * dims]: every input
 * exactly once, each dims finite floats.  RS_EEMBED naming what is wrong;
 * RS_ENOMEM.
 */
static enum rs_status
embed_decode(const struct rs_buf *body, size_t n, int dims, float *out,
    char *err)
{
	struct json_object	*root = NULL, *data, *it, *idx, *emb;
	unsigned char		*seen = NULL;
	enum rs_status		 st = RS_EEMBED, pst;
	size_t			 i, got, budget;
	long			 k;

	budget = EMBED_JSON_BASE + n * (size_t)dims * EMBED_JSON_PER_NUM;
	if ((seen = calloc(n, 1)) == NULL) {
		rs_errf(err, "out of memory");
		st = RS_ENOMEM;
		goto out;
	}
	pst = jbound_parse(body->p, body->len, EMBED_JSON_DEPTH, budget,
	    "embeddings response", &root, NULL, err);
	if (pst == RS_ENOMEM) {
		st = RS_ENOMEM;
		goto out;
	}
	if (pst == RS_ETOOBIG) {
		rs_errf(err, "embeddings response (%zu bytes) would take more "
		    "than %zu bytes of memory to parse for %zu inputs of %d "
		    "dimensions", body->len, budget, n, dims);
		goto out;
	}
	if (pst != RS_OK || !json_object_object_get_ex(root, "data", &data) ||
	    !json_object_is_type(data, json_type_array)) {
		rs_errf(err, "embeddings response is not the expected JSON");
		goto out;
	}
	got = json_object_array_length(data);
	for (i = 0; i < got; i++) {
		it = json_object_array_get_idx(data, i);
		k = (long)i;
		if (json_object_object_get_ex(it, "index", &idx))
			k = (long)json_object_get_int64(idx);
		if (k < 0 || (size_t)k >= n || seen[k] ||
		    !json_object_object_get_ex(it, "embedding", &emb) ||
		    decode_vec(emb, out + (size_t)k * (size_t)dims,
		    (size_t)dims) == -1) {
			rs_errf(err, "embeddings response item %zu is invalid "
			    "(expected %d dimensions)", i, dims);
			goto out;
		}
		seen[k] = 1;
	}
	for (i = 0; i < n; i++)
		if (!seen[i]) {
			rs_errf(err, "embeddings response lacks input %zu", i);
			goto out;
		}
	st = RS_OK;
out:
	json_object_put(root);
	free(seen);
	return st;
}

static enum rs_status
embed_remote(struct embedder *em, const char *const *texts,
    const size_t *lens, size_t n, float *out, double deadline,
    struct embed_pool *pool, struct embed_stats *es, char *err)
{
	struct json_object	*req = NULL, *arr;
	struct fetch_resp	 resp;
	struct fetch_req	 fr;
	const char		*hdrs[3], *body;
	char			 reason[256], ferr[RS_ERRLEN];
	enum rs_status		 st = RS_EEMBED;
	size_t			 i;
	int			 attempts = 0;

	memset(&resp, 0, sizeof(resp));
	if ((req = json_object_new_object()) == NULL ||
	    (arr = json_object_new_array_ext((int)n)) == NULL)
		goto nomem;
	json_object_object_add(req, "input", arr);
	for (i = 0; i < n; i++)
		if (json_object_array_add(arr,
		    json_object_new_string_len(texts[i], (int)lens[i])) != 0)
			goto nomem;
	json_object_object_add(req, "model",
	    json_object_new_string(em->model));
	json_object_object_add(req, "encoding_format",
	    json_object_new_string("base64"));
	if (em->dims_set)
		json_object_object_add(req, "dimensions",
		    json_object_new_int(em->dims));
	body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);

	hdrs[0] = em->auth;
	hdrs[1] = "Content-Type: application/json";
	hdrs[2] = NULL;
	fetch_req_post(&fr, em->url, hdrs, body, strlen(body),
	    EMBED_TIMEOUT_MS, EMBED_MAX_RESP);
	ferr[0] = '\0';
	es->requests++;
	st = embed_post(em, &fr, deadline, pool, &resp, &attempts, ferr);
	es->attempts += attempts;
	es->ms += resp.ms;
	if (st != RS_OK) {
		rs_errf(err, "embeddings request failed: %s", ferr);
		st = RS_EEMBED;
		goto out;
	}
	st = RS_EEMBED;
	if (resp.status != 200) {
		error_reason(&resp.body, em->auth + strlen("Authorization: "
		    "Bearer "), reason, sizeof(reason));
		rs_errf(err, "embeddings request returned HTTP %ld%s%s",
		    resp.status, attempts > 1 ? " after retries" : "",
		    reason);
		goto out;
	}
	st = embed_decode(&resp.body, n, em->dims, out, err);
	goto out;
nomem:
	rs_errf(err, "out of memory");
	st = RS_ENOMEM;
out:
	json_object_put(req);
	fetch_resp_free(&resp);
	return st;
}

/* embed_texts, with the requests of a pool's thread (pool not NULL). */
static enum rs_status
embed_some(struct embedder *em, const char *const *texts, const size_t *lens,
    size_t n, float *out, double deadline, struct embed_pool *pool,
    struct embed_stats *es, char *err)
{
	enum rs_status	 st;
	size_t		 i, m;
	double		 t0 = rs_now_ms();

	memset(es, 0, sizeof(*es));
	if (em->cfg_err[0] != '\0') {
		rs_errf(err, "embedder: %s", em->cfg_err);
		return RS_EINPUT;
	}
	if (!em->remote) {
		for (i = 0; i < n; i++)
			embed_local_dims(texts[i], lens[i], em->dims,
			    out + i * (size_t)em->dims);
		es->ms = rs_now_ms() - t0;
		return RS_OK;
	}
	for (i = 0; i < n; i += m) {
		m = n - i < EMBED_MAX_INPUTS ? n - i : EMBED_MAX_INPUTS;
		st = embed_remote(em, texts + i, lens + i, m,
		    out + i * (size_t)em->dims, deadline, pool, es, err);
		if (st != RS_OK)
			return st;
	}
	es->ms = rs_now_ms() - t0;
	return RS_OK;
}

enum rs_status
embed_texts(struct embedder *em, const char *const *texts,
    const size_t *lens, size_t n, float *out, double deadline,
    struct embed_stats *es, char *err)
{
	return embed_some(em, texts, lens, n, out, deadline, NULL, es, err);
}

/* ---- the pool: embeddings requests in flight for one run ---- */

enum { JOB_QUEUED = 1, JOB_RUNNING, JOB_DONE };

struct pool_thread {
	struct embed_pool	*pool;
	struct fetcher		*fx;
	struct embedder		*em;
	pthread_t		 th;
	int			 started;
};

struct embed_pool {
	pthread_mutex_t		 mu;
	pthread_cond_t		 work;		/* a job, a slot, or closing */
	pthread_cond_t		 done;		/* a job done */
	struct embed_job	*head, *tail;
	int			 limit, active, closing;
	struct embed_pool_stats	 stats;
	struct pool_thread	 t[EMBED_POOL_MAX];
	int			 nt;
};

int
embed_concurrency(int *n, char *err)
{
	const char	*v = getenv("RESTSYNC_EMBED_CONCURRENCY");
	char		*end;
	long		 l;

	*n = EMBED_POOL_DEFAULT;
	if (v == NULL || *v == '\0')
		return 0;
	errno = 0;
	l = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || l < 1 || l > EMBED_POOL_MAX) {
		rs_errf(err, "RESTSYNC_EMBED_CONCURRENCY must be an integer "
		    "from 1 to %d", EMBED_POOL_MAX);
		return -1;
	}
	*n = (int)l;
	return 0;
}

/* A 429: one request fewer in flight from now on (one at least). */
static void
pool_throttled(struct embed_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stats.throttled++;
	if (p->limit > 1)
		p->limit--;
	p->stats.limit = p->limit;
	pthread_mutex_unlock(&p->mu);
}

static void
pool_job(struct pool_thread *t, struct embed_job *j)
{
	j->err[0] = '\0';
	j->st = embed_some(t->em, j->texts, j->lens, j->n, j->out,
	    rs_now_ms() + j->budget_ms, t->pool, &j->es, j->err);
}

static void *
pool_main(void *arg)
{
	struct pool_thread	*t = arg;
	struct embed_pool	*p = t->pool;
	struct embed_job	*j;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->closing && (p->head == NULL ||
		    p->active >= p->limit))
			pthread_cond_wait(&p->work, &p->mu);
		if (p->closing)
			break;
		j = p->head;
		if ((p->head = j->next) == NULL)
			p->tail = NULL;
		j->state = JOB_RUNNING;
		if (++p->active > p->stats.peak)
			p->stats.peak = p->active;
		pthread_mutex_unlock(&p->mu);
		pool_job(t, j);
		pthread_mutex_lock(&p->mu);
		p->active--;
		p->stats.jobs++;
		j->state = JOB_DONE;
		pthread_cond_broadcast(&p->done);
		pthread_cond_broadcast(&p->work);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

enum rs_status
embed_pool_open(struct embed_pool **out, int limit, char *err)
{
	struct embed_pool	*p;
	struct pool_thread	*t;
	enum rs_status		 st = RS_ENOMEM;
	int			 i;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		rs_errf(err, "out of memory");
		return RS_ENOMEM;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->limit = p->stats.limit = p->stats.max = limit < 1 ? 1 :
	    limit > EMBED_POOL_MAX ? EMBED_POOL_MAX : limit;
	for (i = 0; i < p->limit; i++) {
		t = &p->t[p->nt++];
		t->pool = p;
		if ((st = fetch_open(&t->fx, err)) != RS_OK ||
		    (st = embed_open(&t->em, t->fx, err)) != RS_OK)
			goto fail;
		if (pthread_create(&t->th, NULL, pool_main, t) != 0) {
			rs_errf(err, "cannot start an embedding thread");
			st = RS_ENOMEM;
			goto fail;
		}
		t->started = 1;
	}
	*out = p;
	return RS_OK;
fail:
	embed_pool_close(p);
	return st;
}

void
embed_pool_close(struct embed_pool *p)
{
	int	 i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->closing = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nt; i++) {
		if (p->t[i].started)
			(void)pthread_join(p->t[i].th, NULL);
		embed_close(p->t[i].em);
		fetch_close(p->t[i].fx);
	}
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

void
embed_pool_submit(struct embed_pool *p, struct embed_job *j)
{
	pthread_mutex_lock(&p->mu);
	j->next = NULL;
	j->state = JOB_QUEUED;
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

int
embed_pool_ready(struct embed_pool *p, struct embed_job *j)
{
	int	 done;

	pthread_mutex_lock(&p->mu);
	done = j->state == JOB_DONE;
	pthread_mutex_unlock(&p->mu);
	return done;
}

void
embed_pool_wait(struct embed_pool *p, struct embed_job *j)
{
	pthread_mutex_lock(&p->mu);
	while (j->state == JOB_QUEUED || j->state == JOB_RUNNING)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void
embed_pool_drop(struct embed_pool *p, struct embed_job *j)
{
	struct embed_job	**pp;

	pthread_mutex_lock(&p->mu);
	if (j->state == JOB_QUEUED) {
		p->tail = NULL;
		for (pp = &p->head; *pp != NULL; ) {
			if (*pp == j)
				*pp = j->next;
			else {
				p->tail = *pp;
				pp = &(*pp)->next;
			}
		}
		j->state = 0;
	}
	while (j->state == JOB_RUNNING)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void
embed_pool_stats(struct embed_pool *p, struct embed_pool_stats *s)
{
	pthread_mutex_lock(&p->mu);
	*s = p->stats;
	pthread_mutex_unlock(&p->mu);
}
