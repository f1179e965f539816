/* Counts by what they count, in the order they were first named: what a command did or would do, for it to say
 * so (faqsurectl account delete lists what an account holds, then what went). */
#ifndef FAQSURE_TALLY_H
#define FAQSURE_TALLY_H

#include <stddef.h>

#define TALLY_MAX 32

struct tally_item {
	const char *what; /* not owned: a string that outlives the tally (a literal) */
	long long n;
};

struct tally {
	struct tally_item items[TALLY_MAX];
	size_t n;
};

void tally_init(struct tally *t);
/* Adds n to the count named what; a name not seen yet is appended (past TALLY_MAX names, it is dropped). */
void tally_add(struct tally *t, const char *what, long long n);
/* The count named what; 0 when it was never named. */
long long tally_get(const struct tally *t, const char *what);

#endif
