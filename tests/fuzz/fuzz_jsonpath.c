/*
 * fuzz_jsonpath.c — libFuzzer harness for dot paths.  The input is
 * "<path>\n<json>": jp_check, jp_get and jp_collect run on both halves.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icommon \
 *       tests/fuzz/fuzz_jsonpath.c common/base/jsonpath.c common/base/rs.c \
 *       -ljson-c -o fuzz_jsonpath
 *   ./fuzz_jsonpath tests/fuzz/corpus/jsonpath
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "jsonpath.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct seen {
	size_t	 n;
	size_t	 stop;	/* stop after this many values, 0: never */
};

static int
visit(struct json_object *v, void *arg)
{
	struct seen	*s = arg;

	/* Never handed a JSON null; touch the value. */
	if (v == NULL)
		abort();
	(void)json_object_get_type(v);
	s->n++;
	return s->stop != 0 && s->n == s->stop ? 7 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_tokener	*tok;
	struct json_object	*root = NULL, *got;
	const uint8_t		*nl;
	char			 path[CFG_MAX_PATH + 64];
	size_t			 plen;
	struct seen		 s;
	int			 ok, rc;

	nl = memchr(data, '\n', size);
	plen = nl != NULL ? (size_t)(nl - data) : size;
	if (plen >= sizeof(path))
		return 0;
	memcpy(path, data, plen);
	path[plen] = '\0';
	ok = jp_check(path, NULL) == RS_OK;

	if (nl != NULL && (tok = json_tokener_new_ex(64)) != NULL) {
		root = json_tokener_parse_ex(tok, (const char *)nl + 1,
		    (int)(size - plen - 1));
		json_tokener_free(tok);
	}
	got = jp_get(root, path);
	if (!ok && got != NULL)
		abort();
	if (got != NULL)
		(void)json_object_get_type(got);

	memset(&s, 0, sizeof(s));
	rc = jp_collect(root, path, visit, &s);
	if ((!ok && rc != -1) || (rc == 0 && s.n > JP_MAX_VISIT) ||
	    (rc != 0 && rc != -1))
		abort();
	/* Whatever jp_get finds, jp_collect finds too. */
	if (got != NULL && s.n == 0 && rc == 0)
		abort();
	if (s.n > 1) {
		s.stop = s.n / 2 + 1;
		s.n = 0;
		if (jp_collect(root, path, visit, &s) != 7 || s.n != s.stop)
			abort();
	}
	json_object_put(root);
	return 0;
}
