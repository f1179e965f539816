/* Questions as sets of stems (signature.h). */
#include "text/signature.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/banned.h"

static void add_stem(void *arg, const char *stem, size_t len, int sentence_break)
{
	struct signature_stems *s = arg;
	(void)sentence_break;
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->v[i]) == len && !memcmp(s->v[i], stem, len))
			return;
	if (s->n == s->cap)
		s->v = xrealloc(s->v, (s->cap = s->cap ? s->cap * 2 : 8) * sizeof(*s->v));
	s->v[s->n++] = xstrndup(stem, len);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void signature_stems(struct terms *t, const char *text, struct signature_stems *s)
{
	memset(s, 0, sizeof(*s));
	terms_each(t, text, add_stem, s);
	if (s->n) /* v is NULL for a text without words */
		qsort(s->v, s->n, sizeof(*s->v), cmp_str);
}

void signature_stems_release(struct signature_stems *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

#define FNV_START 1469598103934665603ULL
/* MariaDB's BIGINT UNSIGNED holds 64 bits, but the C binding passes signed values: hashes keep 63. */
#define HASH_BITS 0x7fffffffffffffffULL

/* FNV-1a of s and its NUL, continuing from h. */
static uint64_t fnv(uint64_t h, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s;; p++) {
		h = (h ^ *p) * 1099511628211ULL;
		if (!*p)
			return h;
	}
}

uint64_t signature_question(struct terms *t, const char *question)
{
	struct signature_stems s;
	uint64_t h = FNV_START;
	signature_stems(t, question, &s);
	for (size_t i = 0; i < s.n; i++)
		h = fnv(h, s.v[i]);
	if (s.n == 0)
		h = 0;
	signature_stems_release(&s);
	return h & HASH_BITS;
}

uint64_t signature_wording(const char *question)
{
	return fnv(FNV_START, question) & HASH_BITS;
}
