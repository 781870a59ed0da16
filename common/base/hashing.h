/*
 * hashing.h — SHA-256 content hashes (OpenSSL EVP).  Prefix: hash_.
 */
#ifndef HASHING_H
#define HASHING_H

#include <stddef.h>

#define HASH_HEXLEN	64

/*
 * Lower-case hex SHA-256 of data[0..len) into out (65 bytes, NUL-ended).
 * data may be NULL when len is 0.  XXX: out is "" (never a valid hash) if
 * OpenSSL fails, which it does only when out of memory, or if data is
 * NULL with len > 0.
 */
void	 hash_sha256_hex(const void *data, size_t len,
	    char out[HASH_HEXLEN + 1]);

#endif
