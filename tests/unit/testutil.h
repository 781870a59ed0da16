/*
 * testutil.h — helpers shared by the unit and fuzz tests.  Prefix: tu_.
 *
 * tu_utf8_valid is an oracle written apart from common/ (rs_utf8_seq):
 * a test must not judge the code with the code it judges.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* 1 if p[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF). */
static inline int
tu_utf8_valid(const unsigned char *p, size_t n)
{
	size_t		 i = 0, k, need;
	uint32_t	 cp;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0)
			need = 1;
		else if ((p[i] & 0xf0) == 0xe0)
			need = 2;
		else if ((p[i] & 0xf8) == 0xf0)
			need = 3;
		else
			return 0;
		if (n - i - 1 < need)
			return 0;
		cp = p[i] & (0x7f >> (need + 1));
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) ||
		    (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

#endif
