/* chunk: cases are added with the module. */
#include "check.h"

const struct test_case chunk_cases[] = {
	{ NULL, NULL },
};
