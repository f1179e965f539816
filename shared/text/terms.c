/* Terms: tokenizing, stopwords, stemming and keyword vectors (see terms.h). */
#include "text/terms.h"

#include <libstemmer.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/banned.h"

/* Words longer than this (bytes) are not stemmed: they are not English words (IDs, URLs, unspaced scripts). */
#define STEM_MAX_BYTES 64

struct terms {
	struct sb_stemmer *stemmer;
	struct buf word; /* the current word, lower-cased */
};

/* Common English function words, kept sorted (bsearch; checked by terms_new). Single letters and contraction
 * tails ("s", "t", "ll") come from splitting words at apostrophes. */
static const char *const stopwords[] = {
	"a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at",
	"be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could",
	"d", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had",
	"has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i",
	"if", "in", "into", "is", "it", "its", "itself", "just", "ll", "m", "me", "more", "most", "my",
	"myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours",
	"ourselves", "out", "over", "own", "re", "s", "same", "she", "should", "so", "some", "such", "t",
	"than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they",
	"this", "those", "through", "to", "too", "under", "until", "up", "ve", "very", "was", "we", "were",
	"what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you",
	"your", "yours", "yourself", "yourselves",
};

#define NSTOPWORDS (sizeof(stopwords) / sizeof(stopwords[0]))

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int is_stopword(const char *w)
{
	return bsearch(&w, stopwords, NSTOPWORDS, sizeof(stopwords[0]), cmp_str) != NULL;
}

int terms_new(struct terms **out, struct fs_error *e)
{
	*out = NULL;
	for (size_t i = 1; i < NSTOPWORDS; i++)
		if (strcmp(stopwords[i - 1], stopwords[i]) >= 0)
			return fs_fail(e, FS_EINTERNAL, "terms: stopword list not sorted at '%s'", stopwords[i]);
	struct terms *t = xcalloc(1, sizeof(*t));
	buf_init(&t->word, BUF_NO_LIMIT);
	t->stemmer = sb_stemmer_new("english", NULL);
	if (!t->stemmer) {
		terms_free(t);
		return fs_fail(e, FS_EINTERNAL, "terms: libstemmer has no English (UTF-8) stemmer");
	}
	*out = t;
	return 0;
}

void terms_free(struct terms *t)
{
	if (!t)
		return;
	if (t->stemmer)
		sb_stemmer_delete(t->stemmer);
	buf_release(&t->word);
	free(t);
}

static int is_word_byte(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* The word starting at *p, lower-cased (ASCII; other bytes kept as they are) into t->word; *p moves past it.
 * Returns 0 at the end of the text. Sentence punctuation in between sets *sentence_break. */
static int next_word(struct terms *t, const unsigned char **p, int *sentence_break)
{
	const unsigned char *s = *p;
	*sentence_break = 0;
	while (*s && !is_word_byte(*s)) {
		if (*s == '.' || *s == '!' || *s == '?' || *s == ';' || *s == ':')
			*sentence_break = 1;
		s++;
	}
	if (!*s)
		return 0;
	buf_reset(&t->word);
	while (is_word_byte(*s)) {
		char c = (char)(*s >= 'A' && *s <= 'Z' ? *s + ('a' - 'A') : *s);
		buf_add(&t->word, &c, 1);
		s++;
	}
	*p = s;
	return 1;
}

size_t terms_each(struct terms *t, const char *text, terms_fn fn, void *arg)
{
	const unsigned char *p = (const unsigned char *)text;
	int brk, pending_break = 0, all_stop = 1;
	size_t n = 0;

	for (const unsigned char *q = p; next_word(t, &q, &brk);) {
		if (!is_stopword(buf_str(&t->word))) {
			all_stop = 0;
			break;
		}
	}
	while (next_word(t, &p, &brk)) {
		const char *stem = t->word.ptr;
		size_t slen = t->word.len;
		pending_break |= brk;
		if (!all_stop && is_stopword(t->word.ptr))
			continue;
		if (slen <= STEM_MAX_BYTES) {
			const sb_symbol *st = sb_stemmer_stem(t->stemmer, (const sb_symbol *)stem, (int)slen);
			if (!st) {
				fprintf(stderr, "faqsure: out of memory in the stemmer\n");
				abort();
			}
			stem = (const char *)st;
			slen = (size_t)sb_stemmer_length(t->stemmer);
		}
		fn(arg, stem, slen, pending_break);
		pending_break = 0;
		n++;
	}
	return n;
}

/* FNV-1a over the stem, then the murmur3 finaliser so every bit depends on every byte. */
uint32_t terms_id(const char *stem, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)stem[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (uint32_t)h;
}

void sparse_init(struct sparse *s)
{
	memset(s, 0, sizeof(*s));
}

void sparse_release(struct sparse *s)
{
	free(s->idx);
	free(s->val);
	sparse_init(s);
}

static void sparse_push(struct sparse *s, uint32_t idx, float val)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 32;
		s->idx = xrealloc(s->idx, s->cap * sizeof(*s->idx));
		s->val = xrealloc(s->val, s->cap * sizeof(*s->val));
	}
	s->idx[s->n] = idx;
	s->val[s->n++] = val;
}

static void collect_id(void *arg, const char *stem, size_t len, int brk)
{
	(void)brk;
	sparse_push(arg, terms_id(stem, len), 1.0f);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The ids of text's terms, sorted, into out->idx; returns the number of words. out->val is left unset. */
static size_t sorted_ids(struct terms *t, const char *text, struct sparse *out)
{
	out->n = 0;
	size_t words = terms_each(t, text, collect_id, out);
	if (out->n)
		qsort(out->idx, out->n, sizeof(*out->idx), cmp_u32);
	return words;
}

void terms_doc_vector(struct terms *t, const char *text, struct sparse *out)
{
	size_t len = sorted_ids(t, text, out), w = 0;
	float norm = TERMS_K1 * (1.0f - TERMS_B + TERMS_B * (float)len / TERMS_AVGLEN);
	for (size_t i = 0; i < out->n;) {
		size_t j = i;
		while (j < out->n && out->idx[j] == out->idx[i])
			j++;
		float tf = (float)(j - i);
		out->idx[w] = out->idx[i];
		out->val[w++] = tf * (TERMS_K1 + 1.0f) / (tf + norm);
		i = j;
	}
	out->n = w;
}

void terms_query_vector(struct terms *t, const char *text, struct sparse *out)
{
	size_t w = 0;
	sorted_ids(t, text, out);
	for (size_t i = 0; i < out->n; i++) {
		if (w && out->idx[w - 1] == out->idx[i])
			continue;
		out->idx[w] = out->idx[i];
		out->val[w++] = 1.0f;
	}
	out->n = w;
}

void sparse_to_blob(const struct sparse *s, struct buf *out)
{
	for (size_t i = 0; i < s->n; i++) {
		unsigned char b[8];
		uint32_t v;
		memcpy(&v, &s->val[i], 4);
		for (int k = 0; k < 4; k++) {
			b[k] = (unsigned char)(s->idx[i] >> (8 * k));
			b[4 + k] = (unsigned char)(v >> (8 * k));
		}
		buf_add(out, b, 8);
	}
}

int sparse_from_blob(const void *data, size_t len, struct sparse *out)
{
	const unsigned char *p = data;
	out->n = 0;
	if (len % 8)
		return -1;
	for (size_t i = 0; i < len / 8; i++, p += 8) {
		uint32_t id = 0, v = 0;
		float f;
		for (int k = 0; k < 4; k++) {
			id |= (uint32_t)p[k] << (8 * k);
			v |= (uint32_t)p[4 + k] << (8 * k);
		}
		if (out->n && id <= out->idx[out->n - 1])
			return -1;
		memcpy(&f, &v, 4);
		sparse_push(out, id, f);
	}
	return 0;
}
