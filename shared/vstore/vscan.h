/* Exact nearest-neighbour scan: the inner loop of the embedded vector store. Rows are unit vectors stored
 * contiguously (row i at rows + i * dims); the score of a row is its dot product with the query (the cosine). */
#ifndef FAQSURE_VSCAN_H
#define FAQSURE_VSCAN_H

#include <stddef.h>
#include <stdint.h>

/* The k best rows (highest score first; equal scores by lower row number) into ids[] and scores[], which have
 * room for k. Rows whose allow[i] is 0 are skipped (allow may be NULL: every row). Returns how many were found
 * (min(k, rows allowed)). Single-threaded; uses the widest SIMD the CPU offers. */
size_t vscan_topk(const float *rows, size_t n, size_t dims, const float *q, const uint8_t *allow, size_t k,
		  uint32_t *ids, float *scores);

/* Quantises a unit vector for the fast scan: codes[d] = round(v[d] * 127 / max|v|), *scale = max|v| / 127 (so
 * v ≈ codes * scale). A zero vector gets zero codes and scale 0. */
void vscan_quantize(const float *v, size_t dims, int8_t *codes, float *scale);

/* vscan_topk's result, four times less memory read: every row is first scored by its int8 codes (codes +
 * i * dims, scales[i]), then the best max(4k, k + 32) of those are scored again exactly from rows and the k best
 * kept. The quantisation error is about 1e-3 of a cosine, far below the gap between the k-th and the
 * 4k-th row, so in practice the answer is the exact one; the scores returned are exact. */
size_t vscan_topk_q8(const float *rows, const int8_t *codes, const float *scales, size_t n, size_t dims,
		     const float *q, const uint8_t *allow, size_t k, uint32_t *ids, float *scores);

/* The first pass alone: up to want rows with the best int8 scores (in no particular order) into cid. */
size_t vscan_candidates_q8(const int8_t *codes, const float *scales, size_t n, size_t dims, const float *q,
			  const uint8_t *allow, size_t want, uint32_t *cid);

/* Scales v to unit length (a zero vector stays zero). */
void vscan_normalize(float *v, size_t dims);

/* Dot product of two vectors of dims floats (the same kernel). */
float vscan_dot(const float *a, const float *b, size_t dims);

#endif
