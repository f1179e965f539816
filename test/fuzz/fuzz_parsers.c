/* libFuzzer target for the parsers that read outside input: the INI configuration, list cursors, dates, strict
 * integers and request paths. Built and run by `make fuzz` (clang). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/page.h"
#include "core/util.h"
#include "web/app.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	struct config c;
	struct fs_error e;
	struct page_pos pos;
	time_t t;
	long long v;
	char *params[APP_MAX_PARAMS] = { 0 };
	size_t n = 0;

	config_init(&c);
	config_parse(&c, "fuzz", s, &e);
	config_release(&c);
	page_cursor_parse(s, &pos, &e);
	util_parse_time(s, &t);
	util_parse_ll(s, -100, 100, &v);
	if (app_match_path("/api/v1/{a}/x/{b}", s, params, &n))
		for (size_t i = 0; i < n; i++)
			free(params[i]);
	free(s);
	return 0;
}
