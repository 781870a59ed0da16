/*
 * hashing.c — SHA-256 content hashes through OpenSSL's EVP interface.
 */
#include <openssl/evp.h>

#include "hashing.h"

void
hash_sha256_hex(const void *data, size_t len, char out[HASH_HEXLEN + 1])
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0, i;

	out[0] = '\0';
	if (data == NULL) {
		if (len > 0)
			return;
		data = "";
	}
	/* XXX: fails only when OpenSSL cannot allocate; out stays "". */
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen * 2 != HASH_HEXLEN)
		return;
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0f];
	}
	out[HASH_HEXLEN] = '\0';
}
