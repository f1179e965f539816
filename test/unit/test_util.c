/* util: UUIDs, hex, SHA-256, time parsing and formatting, strict integers; the JSON field readers; tallies. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/buf.h"
#include "core/jfield.h"
#include "core/tally.h"
#include "core/util.h"

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

/* jfield_text counts characters, not bytes, and its message names the limit it applied. */
static void jfield_text_counts_characters(void)
{
	struct fs_error e;
	const char *out = NULL;
	char *four_bytes = xmalloc(4001 * 4 + 1), *two_bytes = xmalloc(4000 * 2 + 1);
	for (int i = 0; i < 4001; i++)
		memcpy(four_bytes + 4 * i, "\xf0\x9f\x99\x82", 4); /* U+1F642 */
	four_bytes[4001 * 4] = '\0';
	for (int i = 0; i < 4000; i++)
		memcpy(two_bytes + 2 * i, "\xc3\xa9", 2); /* é */
	two_bytes[4000 * 2] = '\0';
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:n, s:s#}", "long", four_bytes, "fits", two_bytes, "empty",
			      "", "ascii", "abc", "number", 7, "null", "nul", "a\0b", (size_t)3);
	CHECK_INT(jfield_text(o, "fits", 1, 4000, &out, &e), 1);
	CHECK(out && strlen(out) == 8000);
	CHECK_INT(jfield_text(o, "long", 1, 4000, &out, &e), FS_EINVAL);
	CHECK_STR(e.msg, "long is too long: 4001 characters, at most 4000");
	CHECK_INT(jfield_text(o, "long", 1, 4001, &out, &e), 1);
	CHECK_INT(jfield_text(o, "empty", 1, 10, &out, &e), FS_EINVAL);
	CHECK_STR(e.msg, "empty is too short: 0 characters, at least 1");
	CHECK_INT(jfield_text(o, "empty", 0, 10, &out, &e), 1);
	CHECK_INT(jfield_text(o, "ascii", 1, 2, &out, &e), FS_EINVAL);
	CHECK_INT(jfield_text(o, "number", 1, 10, &out, &e), FS_EINVAL);
	CHECK_STR(e.msg, "number must be a string of 1 to 10 characters");
	CHECK_INT(jfield_text(o, "nul", 1, 10, &out, &e), FS_EINVAL);
	CHECK_CONTAINS(e.msg, "NUL");
	CHECK_INT(jfield_text(o, "null", 1, 10, &out, &e), 0);
	CHECK_INT(jfield_text(o, "absent", 1, 10, &out, &e), 0);
	json_decref(o);
	free(four_bytes);
	free(two_bytes);
}

static void tally_counts_by_name_in_first_order(void)
{
	struct tally t;
	tally_init(&t);
	tally_add(&t, "documents", 2);
	tally_add(&t, "chunks", 40);
	tally_add(&t, "documents", 3);
	tally_add(&t, "empty", 0);
	CHECK_INT(t.n, 3);
	CHECK_STR(t.items[0].what, "documents");
	CHECK_INT(t.items[0].n, 5);
	CHECK_INT(tally_get(&t, "chunks"), 40);
	CHECK_INT(tally_get(&t, "empty"), 0);
	CHECK_INT(tally_get(&t, "never named"), 0);
	static char names[TALLY_MAX + 5][8];
	for (int i = 0; i < TALLY_MAX + 5; i++) { /* past the last slot a new name is dropped, not written beyond */
		snprintf(names[i], sizeof(names[i]), "n%d", i);
		tally_add(&t, names[i], 1);
	}
	CHECK_INT(t.n, TALLY_MAX);
	CHECK_INT(tally_get(&t, "documents"), 5);
	CHECK_INT(tally_get(&t, names[TALLY_MAX + 4]), 0);
}

const struct test_case util_cases[] = {
	{ "tally_counts_by_name_in_first_order", tally_counts_by_name_in_first_order },
	{ "jfield_text_counts_characters", jfield_text_counts_characters },
	{ "uuid_is_v4_and_unique", uuid_is_v4_and_unique },
	{ "sha256_known_answer", sha256_known_answer },
	{ "parse_time_forms", parse_time_forms },
	{ "format_time_round_trips", format_time_round_trips },
	{ "parse_ll_is_strict", parse_ll_is_strict },
	{ NULL, NULL },
};
