/* The index of one account's points (chunks): the embedded vector store's cache and the ranking code itself
 * (dense cosine by exact scan, sparse BM25, RRF fusion — as defined in vstore.h). It lives either in this
 * process's memory (built with vindex_add) or in a read-only file mapped from disk (vindex_map), which every
 * process of the machine shares; the ranking reads both alike. */
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
	uint64_t *sp_off;     /* row i's terms are sp_idx/sp_val[sp_off[i] .. sp_off[i + 1]) */
	uint32_t *sp_idx;
	float *sp_val;
	size_t sp_len, sp_cap;
	/* Inverted lists of the sparse vectors, built by the first keyword search after a change: for the i-th
	 * distinct term post_terms[i] (ascending), rows post_rows[post_off[i] .. post_off[i + 1]) with weights. */
	uint32_t *post_terms;
	uint64_t *post_off;
	uint32_t *post_rows;
	float *post_w;
	size_t post_nterms;
	int post_ready;
	/* A mapped index (vindex_map): every array above points into this read-only mapping, and the index must
	 * not be changed. NULL for an index in memory. */
	void *map;
	size_t map_len;
};

/* What a file says it holds: the account's vector generation and epoch when it was built, and the stamp of the
 * account's generation row (so a file is never taken for another database's account of the same number). */
struct vindex_label {
	uint64_t generation, epoch, stamp;
};

void vindex_init(struct vindex *ix, size_t dims);
void vindex_release(struct vindex *ix);
/* Appends a row; seq must be above every seq present. */
void vindex_add(struct vindex *ix, const char *chunk_id, const char *doc_id, uint64_t seq, const float *vec,
		const struct sparse *sp);
/* Keeps only the rows for which keep[i] is non-zero, in order. */
void vindex_retain(struct vindex *ix, const uint8_t *keep);
/* Builds what the first keyword search after a change would (the inverted lists). */
void vindex_prepare(struct vindex *ix);
/* Writes to path the index of base's rows for which keep[i] is non-zero (keep NULL: all), in order, followed by
 * add's rows (add may be NULL), without building it in memory: base may be a mapped file (an index in memory
 * needs its inverted lists, vindex_prepare). The same index as vindex_retain and vindex_add would make. Atomic:
 * a temporary file beside path, fsync, rename over path, fsync of the folder; a reader sees the old file or the
 * new one, never a part. mode: the file's permissions. */
int vindex_write_merged(const struct vindex *base, const uint8_t *keep, struct vindex *add, const char *path,
			const struct vindex_label *label, unsigned mode, struct fs_error *e);
/* Maps the file at path into ix (uninitialised) and its label into *label. FS_ENOTFOUND when there is no file;
 * FS_EINVAL when it is not a whole index of dims-sized vectors in this format (a damaged file is never used).
 * The mapping stays valid after the file is replaced or removed. */
int vindex_map(struct vindex *ix, const char *path, size_t dims, struct vindex_label *label, struct fs_error *e);
/* The label of the file at path, from its header alone (nothing checked beyond the header); -1 when there is
 * no such file or it is not an index file of this format. */
int vindex_peek(const char *path, struct vindex_label *label);

/* q->hybrid may also be this: the keyword ranking alone (for tuning and tests). */
#define VINDEX_SPARSE_ONLY 2

/* Ranks per vstore.h into hits (room for q->limit); returns the count. The query's account is not looked at:
 * the index holds one account. */
size_t vindex_search(const struct vindex *ix, const struct vstore_query *q, struct vstore_hit *hits);

#endif
