/*
 * fuzz_config.c — libFuzzer harness: cfg_parse on arbitrary bytes.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icommon \
 *       tests/fuzz/fuzz_config.c common/pipeline/config.c common/base/jsonpath.c \
 *       common/base/rs.c -ljson-c -lcurl -o fuzz_config
 *   ./fuzz_config tests/fuzz/corpus/config
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "jsonpath.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct source_config	 cfg;
	char			 err[RS_ERRLEN];
	size_t			 i;

	err[0] = '\0';
	if (cfg_parse((const char *)data, size, &cfg, err) != RS_OK) {
		/* Failure leaves nothing behind and always says why. */
		if (cfg.base_url != NULL || cfg.text_fields != NULL ||
		    err[0] == '\0')
			abort();
		return 0;
	}
	/* What success promises to every caller. */
	if (cfg.base_url == NULL || cfg.cursor_param == NULL ||
	    cfg.provider == NULL || cfg.ntext_fields == 0 ||
	    cfg.ntext_fields > CFG_MAX_FIELDS ||
	    (unsigned)cfg.style >= CFG_STYLE__MAX ||
	    (cfg.style == CFG_STYLE_CURSOR && cfg.next_cursor_path == NULL) ||
	    cfg.page_size < 1 || cfg.page_size > CFG_MAX_PAGE_SIZE ||
	    cfg.max_body < 1024 || cfg.max_body > CFG_MAX_BODY_CAP ||
	    cfg.nheaders > CFG_MAX_FIELDS || cfg.nquery > CFG_MAX_FIELDS ||
	    (cfg.roles == NULL) != (cfg.nroles == 0))
		abort();
	for (i = 0; i < cfg.ntext_fields; i++)
		if (jp_check(cfg.text_fields[i], NULL) != RS_OK)
			abort();
	for (i = 0; i < cfg.nheaders; i++)
		if (strpbrk(cfg.headers[i].value, "\r\n") != NULL ||
		    strpbrk(cfg.headers[i].name, "\r\n: ") != NULL)
			abort();
	cfg_free(&cfg);
	return 0;
}
