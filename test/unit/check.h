/* The unit-test runner's assertion macros: each failed check prints both values and marks the case failed. */
#ifndef FAQSURE_CHECK_H
#define FAQSURE_CHECK_H

#include <stdio.h>
#include <string.h>

extern int check_failed;

#define CHECK(cond)                                                                                            \
	do {                                                                                                   \
		if (!(cond)) {                                                                                 \
			printf("    %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                      \
			check_failed = 1;                                                                      \
		}                                                                                              \
	} while (0)

#define CHECK_INT(a, b)                                                                                        \
	do {                                                                                                   \
		long long va_ = (long long)(a), vb_ = (long long)(b);                                          \
		if (va_ != vb_) {                                                                              \
			printf("    %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, va_, #b,   \
			       vb_);                                                                           \
			check_failed = 1;                                                                      \
		}                                                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                                                        \
	do {                                                                                                   \
		const char *sa_ = (a), *sb_ = (b);                                                             \
		if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                                   \
			printf("    %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,             \
			       sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                                    \
			check_failed = 1;                                                                      \
		}                                                                                              \
	} while (0)

#define CHECK_CONTAINS(hay, needle)                                                                            \
	do {                                                                                                   \
		const char *h_ = (hay), *n_ = (needle);                                                        \
		if (!h_ || !strstr(h_, n_)) {                                                                  \
			printf("    %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, h_ ? h_ : "(null)", \
			       n_);                                                                            \
			check_failed = 1;                                                                      \
		}                                                                                              \
	} while (0)

struct test_case {
	const char *name;
	void (*fn)(void);
};

/* Each test file defines one table of cases, listed in runner.c. */
extern const struct test_case buf_cases[], util_cases[], config_cases[], ratelimit_cases[], route_cases[],
	page_cases[], err_cases[], extract_cases[], chunk_cases[], embed_cases[], multipart_cases[];
extern const struct test_case http_cases[];
extern const struct test_case search_cases[];

#endif
