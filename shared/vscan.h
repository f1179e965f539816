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

/* Dot product of two vectors of dims floats (the same kernel). */
float vscan_dot(const float *a, const float *b, size_t dims);

#endif
