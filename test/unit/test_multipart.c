/* multipart: cases are added with the module. */
#include "check.h"

const struct test_case multipart_cases[] = {
	{ NULL, NULL },
};
