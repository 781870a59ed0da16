/*
 * test_hashing.c — hash_sha256_hex against known vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hashing.h"

/* The input is unit repeated rep times. */
static const struct hash_row {
	const char	*name;
	const char	*unit;
	size_t		 rep;
	const char	*want;
} hash_rows[] = {
	{ "empty", "", 1,
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc", "abc", 1,
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "448 bits", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  1,
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "million a", "a", 1000000,
	  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
	{ "utf-8", "h\xc3\xa9llo w\xc3\xb6rld \xe2\x80\x94 "
	  "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x8e\x89", 1,
	  "1043a91841e5a61ef9b6cc83f848d1b9c4c373ec7b4add02f07e001a75e7af0b" },
};

static void
test_vectors(void **state)
{
	const struct hash_row	*r;
	char			 out[HASH_HEXLEN + 1];
	char			*buf;
	size_t			 i, j, ulen;

	(void)state;
	for (i = 0; i < sizeof(hash_rows) / sizeof(hash_rows[0]); i++) {
		r = &hash_rows[i];
		ulen = strlen(r->unit);
		buf = malloc(ulen * r->rep + 1);
		assert_non_null(buf);
		for (j = 0; j < r->rep; j++)
			memcpy(buf + j * ulen, r->unit, ulen);
		memset(out, 'x', sizeof(out));
		hash_sha256_hex(buf, ulen * r->rep, out);
		if (strcmp(out, r->want) != 0)
			fail_msg("%s: got %s, want %s", r->name, out, r->want);
		free(buf);
	}
}

static void
test_null_empty(void **state)
{
	char	 out[HASH_HEXLEN + 1];

	(void)state;
	hash_sha256_hex(NULL, 0, out);
	assert_string_equal(out, hash_rows[0].want);
	/* A NULL pointer with a length is a caller bug: no hash. */
	hash_sha256_hex(NULL, 3, out);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_null_empty),
	};

	return cmocka_run_group_tests_name("hashing", tests, NULL, NULL);
}
