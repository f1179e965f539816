/* embed: cases are added with the module. */
#include "check.h"

const struct test_case embed_cases[] = {
	{ NULL, NULL },
};
