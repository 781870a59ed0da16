/*
 * rs.h — project-wide status codes, error buffers and the capped byte
 * buffer every module uses.  Prefix: rs_.
 *
 * Error idiom (see docs/ARCHITECTURE.md): a function that can fail returns
 * an enum rs_status and writes a human message into a caller-provided
 * char err[RS_ERRLEN] (NULL allowed).  fcgi_io maps statuses to HTTP codes.
 */
#ifndef RS_H
#define RS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define RS_ERRLEN 512
#define RS_UUID_LEN 36	/* a UUID's text, without its NUL */

enum rs_status {
	RS_OK = 0,
	RS_EINPUT,	/* bad request or bad config: 400 */
	RS_EAUTH,	/* no identity: 401 */
	RS_EFORBIDDEN,	/* identity not allowed: 403 */
	RS_ENOTFOUND,	/* unknown source: 404 */
	RS_EMETHOD,	/* wrong HTTP method: 405 */
	RS_EBUSY,	/* conflict, e.g. batch already running: 409 */
	RS_ETOOBIG,	/* request body too large: 413 */
	RS_EMEDIA,	/* wrong Content-Type: 415 */
	RS_EUPSTREAM,	/* upstream API failed: 502 */
	RS_EEMBED,	/* embeddings call failed: 502 */
	RS_EDB,		/* database failed: 503 */
	RS_ENOMEM,	/* allocation failed or a cap was hit internally: 500 */
	RS_EINTERNAL,	/* anything else: 500 */
	RS_EDISABLED,	/* the source is disabled: 409 */
	RS_ERATE,	/* the rate budget has no room in time: 429 */
	RS__MAX
};

/* Human name of a status ("upstream", "database", ...). */
const char	*rs_status_name(enum rs_status);

/* Write a message into err (if not NULL), truncating safely. */
void		 rs_errf(char *err, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/*
 * A growable byte buffer with a hard cap (curl's dynbuf).  The content is
 * always NUL-terminated.  Appends past max fail with -1 and leave the
 * buffer unchanged.
 */
struct rs_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
};

void	 rs_buf_init(struct rs_buf *, size_t max);
void	 rs_buf_free(struct rs_buf *);
void	 rs_buf_reset(struct rs_buf *);
int	 rs_buf_append(struct rs_buf *, const void *, size_t);
/* Make room for n more bytes at once (no doubling slack); -1 past max. */
int	 rs_buf_reserve(struct rs_buf *, size_t n);
int	 rs_buf_puts(struct rs_buf *, const char *);
int	 rs_buf_printf(struct rs_buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Append tpl with every "{{API_KEY}}" replaced by key ("" when NULL); -1
 * past the cap.  Templates of headersTemplate and queryTemplate.
 */
int	 rs_buf_render_key(struct rs_buf *, const char *tpl, const char *key);
/* Take ownership of the content (caller frees); buffer is reset. */
char	*rs_buf_steal(struct rs_buf *);
/* rs_buf_free() of a buffer that may hold a key: its content zeroed
 * first (a string: secret_free_str()). */
void	 rs_buf_free_wiped(struct rs_buf *);

/* Checked allocation helpers: NULL on overflow or failure. */
void	*rs_reallocarray(void *, size_t nmemb, size_t size);
char	*rs_strndup(const char *, size_t);

/* The value of hex digit c (either case), -1 if it is not one. */
int	 rs_hexval(int c);

/* 1 if s is a canonical 36-character UUID (any version), else 0. */
int	 rs_is_uuid(const char *s);

/* Monotonic milliseconds, as a double. */
double	 rs_now_ms(void);

/*
 * Call once at start: blocks of 256 KiB and more (bodies, a page's
 * statement parameters, vectors) come from mmap and go back to the
 * system when freed, and free heap above 1 MiB is trimmed.  glibc would
 * otherwise raise its mmap threshold after the first big free and keep
 * every page's peak resident for the life of a worker (a run over 16 MiB
 * pages: 71 MiB resident instead of 56).
 */
void	 rs_mem_init(void);
/* Give free heap pages back to the system (after a big page). */
void	 rs_mem_trim(void);

/*
 * The one UTF-8 decoder: the length (1..4) of the well-formed sequence at
 * s[0..len) (len > 0) with its code point in *cp, or 0 when it is
 * ill-formed, with *bad the length of its maximal ill-formed subpart
 * (Unicode 3.9, "U+FFFD substitution of maximal subparts").  Overlong
 * forms, surrogates and code points past U+10FFFF are ill-formed.
 */
size_t		 rs_utf8_seq(const unsigned char *s, size_t len, uint32_t *cp,
		    size_t *bad);

/*
 * n floats as little-endian IEEE 754 binary32 (4 n bytes), and back: the
 * form of OpenAI's base64 embeddings and of the bytea embedding column
 * (sql/012), whatever the host's byte order.
 */
void		 rs_f32le_put(unsigned char *out, const float *v, size_t n);
void		 rs_f32le_get(float *out, const unsigned char *p, size_t n);

#endif
