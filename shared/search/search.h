/* Search: the query → passages pipeline behind POST /api/v1/search (and the chat's retrieval).
 *
 *  1. The query is embedded (the configured embedder) and split into terms (terms.h).
 *  2. Pseudo-relevance feedback: the [search] feedback_passages best passages by cosine are averaged into the
 *     query vector (weight feedback_weight), which then finds passages phrased like the best ones.
 *  3. The vector store ranks (vstore.h): by cosine, or with use_hybrid by RRF of cosine and BM25.
 *  4. Each hit gets its similarity_score, the same on every path (dense or hybrid, any store):
 *        x = score_cosine_weight * cosine + score_coverage_weight * coverage
 *        similarity_score = 1 / (1 + exp(-score_slope * (x - score_midpoint)))
 *     where cosine is between the query's own embedding (before feedback) and the passage's, and coverage is
 *     the share of the query's distinct terms the passage contains. The defaults put 0.7 where the eval sets
 *     separate relevant from irrelevant passages (README "Search scores").
 *  5. top_k hits are kept, then those under similarity_threshold are dropped. */
#ifndef FAQSURE_SEARCH_H
#define FAQSURE_SEARCH_H

#include <stddef.h>

#include <jansson.h>

#include "core/config.h"
#include "core/db.h"
#include "core/err.h"
#include "embed/embed.h"
#include "text/terms.h"
#include "vstore/vstore.h"

#define SEARCH_MAX_TOP_K 50
#define SEARCH_PREFETCH 50

struct searcher {
	const struct config *cfg;
	struct embedder *em;
	struct vstore *vs;
	struct terms *terms;
};

struct search_params {
	const char *query;
	int top_k;
	double threshold;
	int hybrid;
	const char *const *document_ids; /* optional filter */
	size_t ndocument_ids;
	int sentences; /* also load each result's sentence vectors (the built-in answerer reads them) */
};

struct search_result {
	char chunk_id[37];
	char document_id[37];
	char *text;
	char *filename;
	json_t *metadata; /* owned */
	unsigned char *sentences; /* owned, may be NULL: the chunk's sentence vectors (answer_span.h) */
	size_t sentences_len;
	double score, cosine, coverage;
};

/* Opens the embedder and the vector store of cfg (db: the process's connection). */
int searcher_init(struct searcher *s, const struct config *cfg, struct db *db, struct fs_error *e);
void searcher_release(struct searcher *s);

/* Runs p for the account: *out (malloc'd, *n entries, best first) must be freed with search_results_free.
 * *tokens gets what embedding the query cost. The embedder or store being unreachable is FS_EUNAVAIL. */
int search_run(struct searcher *s, struct db *db, long long account_id, const struct search_params *p,
	       struct search_result **out, size_t *n, long long *tokens, struct fs_error *e);
void search_results_free(struct search_result *r, size_t n);

/* The similarity_score of step 4. */
double search_score(const struct config *cfg, double cosine, double coverage);

#endif
