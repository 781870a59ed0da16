/*
 * chunk.c — split text into overlapping chunks sized in estimated tokens.
 *
 * A window [s, e) slides over the text with both ends only ever moving
 * forward; its weight is a running sum, and as e moves it remembers the
 * latest break of each kind.  The overlap start and the word-start search
 * are forward-only cursors too, so a split is O(len) whatever the options:
 * no byte is weighed or scanned more than a few times.
 *
 * Sizes in this file are in quarter tokens: an ASCII byte weighs 1, a byte
 * >= 0xC0 (a UTF-8 lead byte, or an invalid one) weighs 4, a continuation
 * byte 0x80-0xBF weighs 0.  chunk_est_tokens() is ceil(quarters / 4), so
 * "at most n tokens" is exactly "at most 4n quarters".
 */
#include <stdlib.h>
#include <string.h>

#include "chunk.h"

struct chunker {
	const unsigned char	*t;
	size_t			 len;
	size_t			 limq;	/* most quarters in a window */
	size_t			 limo;	/* most quarters of overlap */
	size_t			 s, e;	/* the window [s, e) */
	size_t			 q;	/* its weight */
	/*
	 * The latest break of each kind below e, as the index of the
	 * whitespace byte to cut at; 0 (never a usable cut) means none.
	 */
	size_t			 para, sent, word;
	int			 blank;	/* only blanks since the last '\n' */
	size_t			 op, ot;	/* overlap cursor [op, ot) */
	size_t			 oq;	/* its weight */
	size_t			 wfrom, wat;	/* first word start >= wfrom */
};

static int
chunk_isws(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static int
chunk_iscont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

static size_t
chunk_weight(unsigned char c)
{
	return c < 0x80 ? 1 : c >= 0xc0 ? 4 : 0;
}

size_t
chunk_est_tokens(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, ascii = 0, other = 0;

	for (i = 0; i < len; i++) {
		if (p[i] < 0x80)
			ascii++;
		else if (p[i] >= 0xc0)
			other++;
	}
	return ascii / 4 + (ascii % 4 != 0) + other;
}

/* Weight of t[a..b). */
static size_t
chunk_weigh(const unsigned char *t, size_t a, size_t b)
{
	size_t	 q = 0;

	while (a < b)
		q += chunk_weight(t[a++]);
	return q;
}

static size_t
chunk_skipws(const struct chunker *c, size_t i)
{
	while (i < c->len && chunk_isws(c->t[i]))
		i++;
	return i;
}

/* Move the window start forward to ns (ns >= s). */
static void
chunk_win_move(struct chunker *c, size_t ns)
{
	if (ns >= c->e) {
		c->s = c->e = ns;
		c->q = 0;
		c->blank = 0;
		return;
	}
	c->q -= chunk_weigh(c->t, c->s, ns);
	c->s = ns;
}

/* Grow the window end as far as both caps allow, noting breaks. */
static void
chunk_win_extend(struct chunker *c)
{
	const unsigned char	*t = c->t;
	size_t			 e = c->e, q = c->q, lim = c->limq, end, w;
	int			 blank = c->blank;

	end = c->len - c->s > CHUNK_MAX_BYTES ?
	    c->s + CHUNK_MAX_BYTES : c->len;
	for (; e < end; e++) {
		w = chunk_weight(t[e]);
		if (q + w > lim)
			break;
		q += w;
		if (!chunk_isws(t[e])) {
			blank = 0;
			continue;
		}
		c->word = e;
		if (t[e] == '\n' || (e > 0 &&
		    (t[e - 1] == '.' || t[e - 1] == '!' || t[e - 1] == '?')))
			c->sent = e;
		if (t[e] == '\n') {
			if (blank)
				c->para = e;
			blank = 1;
		}
	}
	c->e = e;
	c->q = q;
	c->blank = blank;
}

/*
 * Where the chunk starting at s ends: all the rest if it fits, else the
 * best break in the last half of the window, else the last code point
 * boundary in the window.  The end is at least need (<= e), the end of the
 * first code point past the previous chunk, so chunks always move on.
 * Only a run of continuation bytes with no boundary in [need, e] is cut
 * inside, at e.
 */
static size_t
chunk_pick_cut(const struct chunker *c, size_t need)
{
	size_t	 lo, cut;

	if (c->e == c->len)
		return c->len;
	lo = c->s + (c->e - c->s) / 2;
	if (lo < need)
		lo = need;
	if (c->para >= lo)
		return c->para;
	if (c->sent >= lo)
		return c->sent;
	if (c->word >= lo)
		return c->word;
	cut = c->e;
	while (cut > need && chunk_iscont(c->t[cut]))
		cut--;
	return chunk_iscont(c->t[cut]) ? c->e : cut;
}

/* First word start (non-space after a space, or at 0) at or after p. */
static size_t
chunk_word_start(struct chunker *c, size_t p)
{
	size_t	 i;

	if (p >= c->wfrom && p <= c->wat)
		return c->wat;
	for (i = p; i < c->len; i++)
		if (!chunk_isws(c->t[i]) && (i == 0 || chunk_isws(c->t[i - 1])))
			break;
	c->wfrom = p;
	c->wat = i;
	return i;
}

/*
 * Start of the chunk after one that began at prev and ended (trimmed) at
 * te: about limo quarters before te, moved forward to a word start when
 * one lies before te, always after prev and never past nx, the first
 * non-space at or after the previous cut.
 */
static size_t
chunk_next_start(struct chunker *c, size_t prev, size_t te)
{
	size_t	 op = c->op, oq = c->oq, p, w;

	if (c->ot < te) {
		oq += chunk_weigh(c->t, c->ot, te);
		c->ot = te;
	}
	while (oq > c->limo)
		oq -= chunk_weight(c->t[op++]);
	c->op = op;
	c->oq = oq;
	p = op > prev ? op : prev + 1;
	while (p < te && chunk_iscont(c->t[p]))
		p++;
	if ((w = chunk_word_start(c, p)) < te)
		p = w;
	return chunk_skipws(c, p);
}

enum rs_status
chunk_text(const char *text, size_t len, const struct chunk_opts *opts,
    struct chunk **out, size_t *nout, char *err)
{
	static const struct chunk_opts	 defaults = {
		CHUNK_TARGET_TOKENS, CHUNK_OVERLAP_TOKENS
	};
	struct chunker			 c;
	struct chunk			*v = NULL, *nv;
	size_t				 n = 0, cap = 0, ncap, nx, need, cut, te = 0;
	enum rs_status			 st = RS_EINPUT;

	if (out != NULL)
		*out = NULL;
	if (nout != NULL)
		*nout = 0;
	if (out == NULL || nout == NULL || (text == NULL && len > 0)) {
		rs_errf(err, "chunk_text: missing text or output");
		goto fail;
	}
	if (opts == NULL)
		opts = &defaults;
	if (opts->target < 1 || opts->overlap >= opts->target) {
		rs_errf(err, "chunk options: need target >= 1 and "
		    "overlap < target, got target %zu overlap %zu",
		    opts->target, opts->overlap);
		goto fail;
	}

	/* No window holds more than 4 * CHUNK_MAX_BYTES quarters. */
	memset(&c, 0, sizeof(c));
	c.t = (const unsigned char *)text;
	c.len = len;
	c.limq = opts->target > CHUNK_MAX_BYTES ?
	    4 * (size_t)CHUNK_MAX_BYTES : 4 * opts->target;
	c.limo = opts->overlap > CHUNK_MAX_BYTES ?
	    4 * (size_t)CHUNK_MAX_BYTES : 4 * opts->overlap;
	c.wfrom = 1;

	nx = chunk_skipws(&c, 0);
	chunk_win_move(&c, nx);
	while (nx < len) {
		if (n > 0)
			chunk_win_move(&c, chunk_next_start(&c, c.s, te));
		chunk_win_extend(&c);
		/* The chunk must take in the code point at nx, at least. */
		need = nx + 1;
		while (need < len && need - nx < 4 && chunk_iscont(c.t[need]))
			need++;
		if (c.e < need) {
			/* The overlap filled the window: drop it. */
			chunk_win_move(&c, nx);
			chunk_win_extend(&c);
		}
		cut = chunk_pick_cut(&c, need);
		for (te = cut; te > c.s && chunk_isws(c.t[te - 1]); te--)
			continue;
		if (n == cap) {
			ncap = cap ? cap * 2 : 16;
			if (ncap < cap || (nv = rs_reallocarray(v, ncap,
			    sizeof(*v))) == NULL) {
				st = RS_ENOMEM;
				rs_errf(err, "chunk_text: no memory for %zu "
				    "chunks", ncap);
				goto fail;
			}
			v = nv;
			cap = ncap;
		}
		v[n].off = c.s;
		v[n].len = te - c.s;
		n++;
		nx = chunk_skipws(&c, cut);
	}
	*out = v;
	*nout = n;
	return RS_OK;
fail:
	free(v);
	return st;
}
