/*
 * chunk.h — split one item's text into overlapping chunks.  Prefix: chunk_.
 *
 * Sizes are in estimated tokens (chunk_est_tokens): ~4 bytes of ASCII per
 * token, one token per non-ASCII code point.  Because a BPE token always
 * covers at least one byte, a chunk of at most CHUNK_MAX_BYTES bytes can
 * never exceed CHUNK_MAX_TOKENS real tokens; the chunker enforces both.
 *
 * A chunk ends, in order of preference, at a paragraph break ("\n\n", with
 * only blanks between), a sentence end ('.', '!', '?' followed by
 * whitespace, or "\n"), a whitespace, or anywhere — but never inside a
 * UTF-8 sequence.  The preferred break is searched in the last half (in
 * bytes) of the window.  The next chunk starts about `overlap` tokens
 * before the previous end, moved forward to a word start if one lies
 * before that end; every chunk starts and ends after the one before, so
 * the split always moves on.  When the rest of the text fits in a window
 * it is the last chunk.  Leading and trailing ASCII whitespace is trimmed
 * from every chunk; chunks that would be empty are not emitted.  Text of
 * only whitespace gives 0 chunks.  The split is O(len) for any options.
 *
 * Invalid UTF-8 is split like valid text: a continuation byte (0x80-0xBF)
 * is never a cut point unless a run of them leaves no other, and then the
 * run is cut where the window ends.
 */
#ifndef CHUNK_H
#define CHUNK_H

#include <stddef.h>

#include "rs.h"

#define CHUNK_TARGET_TOKENS	1000
#define CHUNK_OVERLAP_TOKENS	120
#define CHUNK_MAX_TOKENS	8191
#define CHUNK_MAX_BYTES		8191

struct chunk {
	size_t	 off;	/* byte offset into the text */
	size_t	 len;	/* byte length, > 0 */
};

struct chunk_opts {
	size_t	 target;	/* tokens per chunk */
	size_t	 overlap;	/* tokens of overlap, < target */
};

/*
 * Estimated tokens of s[0..len): ceil(ASCII bytes / 4), rounded once over
 * the whole span, plus one per byte >= 0xC0 (a UTF-8 lead byte).
 * Continuation bytes count 0; CHUNK_MAX_BYTES bounds them.
 */
size_t		 chunk_est_tokens(const char *s, size_t len);

/*
 * Split text[0..len) into *out (malloc'd array the caller frees; NULL
 * and 0 when there are no chunks), in order of offset.  opts NULL means
 * the defaults above.  RS_OK; RS_EINPUT for invalid opts (target 0 or
 * overlap >= target), a NULL text with len > 0 or a NULL out or nout;
 * RS_ENOMEM.  *out and *nout are NULL and 0 on error.
 */
enum rs_status	 chunk_text(const char *text, size_t len,
		    const struct chunk_opts *opts, struct chunk **out,
		    size_t *nout, char *err);

#endif
