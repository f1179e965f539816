/* The embedder interface (DESIGN.md "Pluggable parts"): text in, unit-length float vectors out. Backends are
 * chosen by name in the configuration ([embedder] backend = builtin | openai). */
#ifndef FAQSURE_EMBED_H
#define FAQSURE_EMBED_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

struct embedder;

struct embed_ops {
	const char *name;
	/* Non-zero when the vectors are computed in this process, at no cost and without any server: the worker
	 * may then compute stored vectors again when the model changed (reindex_refresh). */
	int local;
	/* Creates the backend from the configuration. */
	int (*new)(const struct config *cfg, struct embedder **out, struct fs_error *e);
	/* Vectors for n texts into out (n * dims floats, each vector L2-normalised); *tokens gets what the
	 * texts cost (the upstream's usage, or the built-in tokenizer's count). leads is NULL (queries) or, for
	 * passages, each text's lead (see embedder_embed_passages; an entry may be NULL); a backend may ignore it. */
	int (*embed)(struct embedder *em, const char *const *texts, const char *const *leads, size_t n, float *out,
		     long long *tokens, struct fs_error *e);
	void (*free)(struct embedder *em);
};

/* Every backend's struct starts with this. */
struct embedder {
	const struct embed_ops *ops;
	size_t dims;
	char model[64]; /* recorded with the vectors, e.g. "builtin-v1" */
};

/* Opens the backend named by cfg->embedder_backend; an unknown name is FS_EINVAL "unknown embedder backend 'x'
 * (known: builtin, ...)". Long-lived: open once per process, close at exit. */
int embedder_new(const struct config *cfg, struct embedder **out, struct fs_error *e);
/* texts must all be non-NULL (else FS_EINVAL); out holds n * em->dims floats; tokens may be NULL. A text without
 * any feature the backend can use (empty, only spaces) gets an all-zero vector: the one exception to unit
 * length, which scores 0 against everything. */
int embedder_embed(struct embedder *em, const char *const *texts, size_t n, float *out, long long *tokens,
		   struct fs_error *e);
/* The same for passages that have a lead: the line that says what the passage is about — an FAQ entry's
 * question, else the first line of its text — which a backend may weigh apart from the whole (the built-in one
 * does: a question asked in other words then finds the FAQ entry that asks it). leads[i] may be NULL. */
int embedder_embed_passages(struct embedder *em, const char *const *texts, const char *const *leads, size_t n,
			    float *out, long long *tokens, struct fs_error *e);
/* NULL is fine. */
void embedder_free(struct embedder *em);

/* The built-in embedder ([answerer] sentence_model names the sentence model it reads too; see embed_builtin.c). */
extern const struct embed_ops embed_builtin_ops;
/* An OpenAI-compatible server's POST {url}/embeddings ([embedder] url, model, api_key, dimensions, batch_size,
 * timeout_ms, max_retries). With dimensions = 0, open asks the server once for a vector to learn its size. */
extern const struct embed_ops embed_openai_ops;

#endif
