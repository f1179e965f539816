/* struct buf: growth, the hard cap, take, formatted adds. */
#include <stdlib.h>

#include "check.h"
#include "core/buf.h"

static void buf_grows_and_terminates(void)
{
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	CHECK_STR(buf_str(&b), "");
	for (int i = 0; i < 1000; i++)
		CHECK_INT(buf_adds(&b, "ab"), 0);
	CHECK_INT(b.len, 2000);
	CHECK_INT(b.ptr[2000], '\0');
	buf_release(&b);
}

static void buf_refuses_past_its_cap(void)
{
	struct buf b;
	buf_init(&b, 5);
	CHECK_INT(buf_adds(&b, "1234"), 0);
	CHECK_INT(buf_adds(&b, "56"), -1);
	CHECK_STR(buf_str(&b), "1234");
	CHECK_INT(buf_adds(&b, "5"), 0);
	CHECK_INT(buf_addf(&b, "%d", 7), -1);
	CHECK_STR(buf_str(&b), "12345");
	buf_release(&b);
}

static void buf_take_hands_over(void)
{
	struct buf b;
	size_t len;
	buf_init(&b, 100);
	buf_addf(&b, "%s-%03d", "x", 7);
	char *s = buf_take(&b, &len);
	CHECK_STR(s, "x-007");
	CHECK_INT(len, 5);
	CHECK(b.ptr == NULL && b.len == 0);
	free(s);
}

const struct test_case buf_cases[] = {
	{ "buf_grows_and_terminates", buf_grows_and_terminates },
	{ "buf_refuses_past_its_cap", buf_refuses_past_its_cap },
	{ "buf_take_hands_over", buf_take_hands_over },
	{ NULL, NULL },
};
