/* util: UUIDs, hex, SHA-256, time parsing and formatting, strict integers. */
#include <string.h>

#include "check.h"
#include "util.h"

static void uuid_is_v4_and_unique(void)
{
	char a[37], b[37];
	util_uuid(a);
	util_uuid(b);
	CHECK(util_is_uuid(a));
	CHECK(strcmp(a, b) != 0);
	CHECK_INT(a[14], '4');
	CHECK(strchr("89ab", a[19]) != NULL);
	CHECK(!util_is_uuid("not-a-uuid"));
	CHECK(!util_is_uuid("0123456789abcdef0123456789abcdef0123"));
}

static void sha256_known_answer(void)
{
	unsigned char h[32];
	char hex[65];
	util_sha256("abc", 3, h);
	util_hex(h, 32, hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void parse_time_forms(void)
{
	time_t t;
	CHECK_INT(util_parse_time("2027-01-31", &t), 0);
	CHECK_INT(t, 1801353600);
	CHECK_INT(util_parse_time("2027-01-31T12:00:00Z", &t), 0);
	CHECK_INT(t, 1801396800);
	CHECK_INT(util_parse_time("2027-01-31T14:00:00+02:00", &t), 0);
	CHECK_INT(t, 1801396800);
	CHECK_INT(util_parse_time("2027-01-31 12:00", &t), 0);
	CHECK_INT(t, 1801396800);
	CHECK_INT(util_parse_time("2027-01-31T12:00:00.250-0130", &t), 0);
	CHECK_INT(t, 1801396800 + 5400);
	CHECK_INT(util_parse_time("2027-02-29", &t), -1);
	CHECK_INT(util_parse_time("2028-02-29", &t), 0);
	CHECK_INT(util_parse_time("2027-13-01", &t), -1);
	CHECK_INT(util_parse_time("2027-01-31T25:00:00Z", &t), -1);
	CHECK_INT(util_parse_time("2027-01-31Tjunk", &t), -1);
	CHECK_INT(util_parse_time("tomorrow", &t), -1);
	CHECK_INT(util_parse_time("", &t), -1);
}

static void format_time_round_trips(void)
{
	char s[21];
	time_t t;
	util_format_time(1801396800, s);
	CHECK_STR(s, "2027-01-31T12:00:00Z");
	CHECK_INT(util_parse_time(s, &t), 0);
	CHECK_INT(t, 1801396800);
}

static void parse_ll_is_strict(void)
{
	long long v;
	CHECK_INT(util_parse_ll("60", 1, 100, &v), 0);
	CHECK_INT(v, 60);
	CHECK_INT(util_parse_ll("0", 1, 100, &v), -1);
	CHECK_INT(util_parse_ll("101", 1, 100, &v), -1);
	CHECK_INT(util_parse_ll("5x", 1, 100, &v), -1);
	CHECK_INT(util_parse_ll(" 5", 1, 100, &v), -1);
	CHECK_INT(util_parse_ll("", 1, 100, &v), -1);
	CHECK_INT(util_parse_ll("99999999999999999999", 1, 100, &v), -1);
}

const struct test_case util_cases[] = {
	{ "uuid_is_v4_and_unique", uuid_is_v4_and_unique },
	{ "sha256_known_answer", sha256_known_answer },
	{ "parse_time_forms", parse_time_forms },
	{ "format_time_round_trips", format_time_round_trips },
	{ "parse_ll_is_strict", parse_ll_is_strict },
	{ NULL, NULL },
};
