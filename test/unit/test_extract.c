/* extract: cases are added with the module. */
#include "check.h"

const struct test_case extract_cases[] = {
	{ NULL, NULL },
};
