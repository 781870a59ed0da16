/*
 * fuzz_normalize.c — libFuzzer harness: the input as one upstream item
 * through norm_item and norm_title with a fixed config, and as raw
 * bytes through norm_utf8.  Every output must be valid UTF-8 without
 * C0 controls other than TAB and LF, nor DEL.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icommon \
 *       tests/fuzz/fuzz_normalize.c common/pipeline/normalize.c \
 *       common/base/jsonpath.c common/base/rs.c -ljson-c -lm -o fuzz_normalize
 *   ./fuzz_normalize tests/fuzz/corpus/normalize
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "normalize.h"
#include "../unit/testutil.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	 f0[] = "title", f1[] = "description", f2[] = "tags",
		 f3[] = "reviews.comment", f4[] = "dimensions", f5[] = "$",
		 f6[] = "a.-1.b", f7[] = "0", title[] = "title";
static char	*fields[] = { f0, f1, f2, f3, f4, f5, f6, f7 };

/* An independent strict check: no C0 control but tab and newline, no
 * DEL, and well-formed UTF-8 (tests/unit/testutil.h). */
static int
valid(const unsigned char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\n') ||
		    s[i] == 0x7f)
			return 0;
	return tu_utf8_valid(s, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct source_config	 cfg;
	struct json_tokener	*tok;
	struct json_object	*item = NULL;
	struct rs_buf		 out;
	char			 t[NORM_MAX_TITLE], err[RS_ERRLEN];
	enum rs_status		 st;

	memset(&cfg, 0, sizeof(cfg));
	cfg.text_fields = fields;
	cfg.ntext_fields = sizeof(fields) / sizeof(fields[0]);
	cfg.title_field = title;

	rs_buf_init(&out, NORM_MAX_TEXT);
	if (norm_utf8(&out, (const char *)data, size) != 0 ||
	    !valid((const unsigned char *)out.p, out.len) ||
	    out.len > 3 * size)
		abort();

	if ((tok = json_tokener_new_ex(32)) != NULL) {
		item = json_tokener_parse_ex(tok, (const char *)data,
		    (int)size);
		json_tokener_free(tok);
	}
	st = norm_item(item, &cfg, &out, err);
	if (st != RS_OK && st != RS_EINPUT)
		abort();
	if (st == RS_OK && (out.len > NORM_MAX_TEXT ||
	    (out.len > 0 && !valid((const unsigned char *)out.p, out.len))))
		abort();
	if (st != RS_OK && out.len != 0)
		abort();

	norm_title(item, &cfg, t, sizeof(t));
	if (strlen(t) >= NORM_MAX_TITLE ||
	    !valid((const unsigned char *)t, strlen(t)) ||
	    strchr(t, '\n') != NULL || strchr(t, '\t') != NULL ||
	    strstr(t, "  ") != NULL || t[0] == ' ' ||
	    (t[0] != '\0' && t[strlen(t) - 1] == ' '))
		abort();

	json_object_put(item);
	rs_buf_free(&out);
	return 0;
}
