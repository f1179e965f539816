/* Unit-test runner: runs every case of every table, prints ok/FAIL per case and "N passed, N failed". */
#include <stdio.h>
#include <string.h>

#include "check.h"

int check_failed;

extern const struct test_case answer_openai_cases[];
extern const struct test_case chat_cases[];
extern const struct test_case analytics_cases[];
extern const struct test_case usage_cases[];
extern const struct test_case use_lite_cases[];

static const struct test_case *const suites[] = { buf_cases, util_cases, config_cases, ratelimit_cases,
						  route_cases, page_cases, err_cases, extract_cases, chunk_cases,
						  embed_cases, multipart_cases, http_cases, search_cases,
						  answer_openai_cases, chat_cases, analytics_cases, usage_cases,
						  use_lite_cases };

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	const char *filter = argc > 1 ? argv[1] : NULL;
	for (size_t s = 0; s < sizeof(suites) / sizeof(suites[0]); s++) {
		for (const struct test_case *t = suites[s]; t->name; t++) {
			if (filter && !strstr(t->name, filter))
				continue;
			check_failed = 0;
			t->fn();
			printf("%s unit/%s\n", check_failed ? "FAIL" : "ok", t->name);
			if (check_failed)
				failed++;
			else
				passed++;
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
