/* Terms: the words of a text as the keyword side of retrieval sees them — split at anything that is not a letter
 * or digit (non-ASCII bytes count as letters, so every script gives words), lower-cased, English function words
 * dropped, stemmed with libstemmer's English (Porter 2) stemmer. The built-in embedder reads the same words.
 *
 * A text's keyword vector (struct sparse) maps each term's id (a 32-bit hash of its stem) to a weight:
 *   document: BM25's saturated term frequency, tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avglen)) with
 *             k1 = 1.2, b = 0.75 and a fixed avglen (TERMS_AVGLEN), so a chunk's vector never depends on the
 *             rest of the corpus and can be stored once;
 *   query:    1 for each distinct term.
 * The inverse document frequency is applied at search time by the vector store (see vstore.h). */
#ifndef FAQSURE_TERMS_H
#define FAQSURE_TERMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define TERMS_K1 1.2f
#define TERMS_B 0.75f
#define TERMS_AVGLEN 80.0f

struct terms;

/* Sorted by idx, no duplicates. */
struct sparse {
	size_t n, cap;
	uint32_t *idx;
	float *val;
};

/* One tokenizer per process or per user (not thread-safe: it holds the stemmer and scratch space). */
int terms_new(struct terms **out, struct fs_error *e);
void terms_free(struct terms *t);

/* Called for each content word in order: its stem, and whether sentence punctuation (. ! ? ; :) came between it
 * and the previous word. stem is only valid during the call. */
typedef void (*terms_fn)(void *arg, const char *stem, size_t len, int sentence_break);
/* Gives every content word of text to fn and returns how many there were. A text made only of function words
 * ("what is this") gives those instead: better a weak signal than none. */
size_t terms_each(struct terms *t, const char *text, terms_fn fn, void *arg);

uint32_t terms_id(const char *stem, size_t len);

void terms_doc_vector(struct terms *t, const char *text, struct sparse *out);
void terms_query_vector(struct terms *t, const char *text, struct sparse *out);

void sparse_init(struct sparse *s);
void sparse_release(struct sparse *s);
/* The stored form: n pairs of little-endian uint32 id and float32 weight, 8 bytes each. */
void sparse_to_blob(const struct sparse *s, struct buf *out);
/* Fails (-1) on a length that is not a multiple of 8 or ids not strictly ascending. */
int sparse_from_blob(const void *data, size_t len, struct sparse *out);

#endif
