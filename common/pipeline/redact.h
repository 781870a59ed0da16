/*
 * redact.h — keep secret values out of what restsync stores and shows.
 * Prefix: redact_.
 *
 * A secret may reach text in several spellings: raw, percent-encoded with
 * upper- or lower-case hex, form-encoded ('+' for space).  Every function
 * here knows them all; redact_leaks() is the last check, on the fully
 * decoded text, for spellings nobody replaced (mixed-case hex): callers
 * then withhold the text.  Values shorter than 4 bytes are ignored
 * (batch_auth.c refuses such secrets).
 */
#ifndef REDACT_H
#define REDACT_H

#include <stddef.h>

#include "rs.h"

#define REDACT_MARK	"[redacted]"

/*
 * Replace every spelling of every vals[i] (NULL entries skipped) in *s
 * with repl.  Returns the number of replacements, -1 when out of memory
 * (*s is then replaced by repl itself: never left holding a secret).
 */
int	 redact_replace(char **s, const char *const *vals, size_t n,
	    const char *repl);

/* 1 if s, percent- and form-decoded, still contains one of vals. */
int	 redact_leaks(const char *s, const char *const *vals, size_t n);

/*
 * A printable excerpt of p[0..len) of at most max bytes (valid UTF-8,
 * "..." when cut) into out: the secrets are redacted from a window long
 * enough to hold any of them that starts before the cut, and only then
 * is it cut — so no prefix of a secret straddling the cut survives.
 * Empty when len is 0; REDACT_MARK alone when the secret survives in a
 * spelling redaction does not know.
 */
void	 redact_excerpt(const char *p, size_t len, size_t max,
	    const char *const *vals, size_t n, char *out, size_t outsz);

#endif
