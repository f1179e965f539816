/* Questions as sets of stems, so that analytics can count paraphrases of one question together: the distinct
 * stems of a text, a question's paraphrase signature, and its exact wording's hash. */
#ifndef FAQSURE_SIGNATURE_H
#define FAQSURE_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

#include "text/terms.h"

/* The distinct stems of a text, sorted (v is NULL for a text without words). */
struct signature_stems {
	char **v;
	size_t n, cap;
};

void signature_stems(struct terms *t, const char *text, struct signature_stems *out);
void signature_stems_release(struct signature_stems *s);

/* A question's paraphrase signature: a 63-bit hash of its distinct stemmed content words, sorted, so word order,
 * case, punctuation, inflections and function words do not tell two questions apart. 0 for a question with no
 * word at all. */
uint64_t signature_question(struct terms *t, const char *question);

/* A question's wording: a 63-bit hash of its exact text, so the askings of one wording are counted from an index. */
uint64_t signature_wording(const char *question);

#endif
