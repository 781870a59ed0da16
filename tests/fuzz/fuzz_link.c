/*
 * fuzz_link.c — libFuzzer harness for the RFC 8288 Link header parser.
 * The input is "<base>\n<Link field value>" (no newline: the whole input
 * is the field value and there is no base).  pager_link_next must never
 * crash, and what it returns must be what pager_next may store:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icommon \
 *       $(pkg-config --cflags libcurl json-c) tests/fuzz/fuzz_link.c \
 *       common/pipeline/pager.c common/pipeline/http_fetch.c common/pipeline/config.c \
 *       common/base/jsonpath.c common/base/rs.c -ljson-c -lcurl -o fuzz_link
 *   ./fuzz_link tests/fuzz/corpus/link
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pager.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 err[RS_ERRLEN];
	char		*buf, *base = NULL, *link, *nl, *next = NULL, *p;
	char		*again = NULL;
	enum rs_status	 st;

	if (size > PAGER_MAX_LINK + 1024 || (buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	link = buf;
	if ((nl = memchr(buf, '\n', size)) != NULL) {
		*nl = '\0';
		base = buf;
		link = nl + 1;
	}
	err[0] = '\0';
	st = pager_link_next(link, base, &next, err);
	if (st != RS_OK) {
		/* Failure: nothing returned, and a message says why. */
		if (next != NULL || err[0] == '\0' ||
		    (st != RS_EUPSTREAM && st != RS_ENOMEM))
			abort();
	} else if (next != NULL) {
		/* An absolute http(s) URL with no space or control byte,
		 * within the URL cap. */
		if (strncasecmp(next, "http://", 7) != 0 &&
		    strncasecmp(next, "https://", 8) != 0)
			abort();
		for (p = next; *p != '\0'; p++)
			if ((unsigned char)*p <= 0x20 || *p == 0x7f)
				abort();
		if (strlen(next) > 2 * PAGER_MAX_URL)
			abort();
	}
	/* Deterministic: a second parse agrees. */
	if (pager_link_next(link, base, &again, err) != st ||
	    (next == NULL) != (again == NULL) ||
	    (next != NULL && strcmp(next, again) != 0))
		abort();
	free(again);
	free(next);
	free(buf);
	return 0;
}
