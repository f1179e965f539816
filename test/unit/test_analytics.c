/* The dashboard's window of days and the paraphrase signature of questions. */
#include <string.h>

#include "chat/analytics.h"
#include "check.h"
#include "text/signature.h"

/* 2026-11-26 12:00:00 UTC */
#define NOW ((time_t)1795694400)

static void analytics_window_defaults_and_ends(void)
{
	struct analytics_window w;
	struct fs_error e;
	CHECK_INT(analytics_window_parse(NULL, NULL, NOW, &w, &e), 0);
	CHECK_STR(w.from, "2026-10-28");
	CHECK_STR(w.to, "2026-11-26");
	CHECK_INT(w.days, 30);
	CHECK_INT(analytics_window_parse("2026-11-01", "2026-11-03", NOW, &w, &e), 0);
	CHECK_STR(w.from, "2026-11-01");
	CHECK_STR(w.to, "2026-11-03");
	CHECK_INT(w.days, 3);
	CHECK_INT(analytics_window_parse("2026-11-20", NULL, NOW, &w, &e), 0); /* from alone runs to today */
	CHECK_STR(w.to, "2026-11-26");
	CHECK_INT(w.days, 7);
	CHECK_INT(analytics_window_parse(NULL, "2026-02-28", NOW, &w, &e), 0); /* to alone: the 30 days ending then */
	CHECK_STR(w.from, "2026-01-30");
	CHECK_INT(w.days, 30);
	CHECK_INT(analytics_window_parse("2024-02-29", "2024-02-29", NOW, &w, &e), 0); /* a leap day */
	CHECK_INT(w.days, 1);
	CHECK_INT(analytics_window_parse("2025-01-01", "2025-12-31", NOW, &w, &e), 0);
	CHECK_INT(w.days, 365);
}

static void analytics_window_refusals(void)
{
	struct analytics_window w;
	struct fs_error e;
	const char *bad[] = { "2026-13-01", "2026-02-30", "2026-2-3", "26-11-01", "2026-11-01T00:00:00Z", "",
			      "yesterday", "2026-11-0a", "2026/11/01" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(analytics_window_parse(bad[i], NULL, NOW, &w, &e), FS_EINVAL);
		CHECK_CONTAINS(e.msg, "from");
		CHECK_INT(analytics_window_parse(NULL, bad[i], NOW, &w, &e), FS_EINVAL);
		CHECK_CONTAINS(e.msg, "to");
	}
	CHECK_INT(analytics_window_parse("2026-11-27", NULL, NOW, &w, &e), FS_EINVAL); /* from tomorrow to today */
	CHECK_INT(analytics_window_parse("2026-11-05", "2026-11-04", NOW, &w, &e), FS_EINVAL);
	CHECK_CONTAINS(e.msg, "after");
	CHECK_INT(analytics_window_parse("2024-01-01", "2025-01-01", NOW, &w, &e), FS_EINVAL); /* 367 days */
	CHECK_INT(analytics_window_parse("2024-01-01", "2024-12-31", NOW, &w, &e), 0);        /* 366 */
}

static void signature_question_groups_paraphrases(void)
{
	struct terms *t;
	struct fs_error e;
	CHECK_INT(terms_new(&t, &e), 0);
	uint64_t s = signature_question(t, "What is your return policy?");
	CHECK(s != 0);
	CHECK(signature_question(t, "return policy??") == s);
	CHECK(signature_question(t, "Returns policies") == s);
	CHECK(signature_question(t, "the policy for returns") == s);
	CHECK(signature_question(t, "Can I return gift cards?") != s);
	CHECK(signature_question(t, "return") != s);
	CHECK_INT(signature_question(t, "?!"), 0);
	CHECK(signature_question(t, "What is your return policy?") < ((uint64_t)1 << 63));
	terms_free(t);
}

const struct test_case analytics_cases[] = {
	{ "analytics_window_defaults_and_ends", analytics_window_defaults_and_ends },
	{ "analytics_window_refusals", analytics_window_refusals },
	{ "signature_question_groups_paraphrases", signature_question_groups_paraphrases },
	{ NULL, NULL },
};
