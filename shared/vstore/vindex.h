/* An in-memory index of one account's points (chunks): the embedded vector store's cache and the ranking code
 * itself (dense cosine by exact scan, sparse BM25, RRF fusion — as defined in vstore.h). */
#ifndef FAQSURE_VINDEX_H
#define FAQSURE_VINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "text/terms.h"
#include "vstore/vstore.h"

struct vindex {
	size_t dims;
	size_t n, cap;
	float *vecs;          /* n * dims */
	int8_t *codes;        /* n * dims: the vectors quantised for the scan's first pass (vscan_topk_q8) */
	float *scales;
	char (*chunk_ids)[37];
	char (*doc_ids)[37];
	uint64_t *seq;        /* chunks.vec_seq, ascending */
	size_t *sp_off;       /* row i's terms are sp_idx/sp_val[sp_off[i] .. sp_off[i + 1]) */
	uint32_t *sp_idx;
	float *sp_val;
	size_t sp_len, sp_cap;
	/* Inverted lists of the sparse vectors, built by the first keyword search after a change: for the i-th
	 * distinct term post_terms[i] (ascending), rows post_rows[post_off[i] .. post_off[i + 1]) with weights. */
	uint32_t *post_terms;
	size_t *post_off;
	uint32_t *post_rows;
	float *post_w;
	size_t post_nterms;
	int post_ready;
};

void vindex_init(struct vindex *ix, size_t dims);
void vindex_release(struct vindex *ix);
/* Appends a row; seq must be above every seq present. */
void vindex_add(struct vindex *ix, const char *chunk_id, const char *doc_id, uint64_t seq, const float *vec,
		const struct sparse *sp);
/* Keeps only the rows for which keep[i] is non-zero, in order. */
void vindex_retain(struct vindex *ix, const uint8_t *keep);

/* q->hybrid may also be this: the keyword ranking alone (for tuning and tests). */
#define VINDEX_SPARSE_ONLY 2

/* Ranks per vstore.h into hits (room for q->limit); returns the count. The query's account is not looked at:
 * the index holds one account. */
size_t vindex_search(const struct vindex *ix, const struct vstore_query *q, struct vstore_hit *hits);

#endif
