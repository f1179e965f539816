/* Exact top-k scan (see vscan.h). The dot product is written so the compiler vectorises it; target_clones
 * builds it for AVX2+FMA and AVX-512 too and picks the best at load time, so one binary runs on any x86-64 and
 * is fast on the CPU it runs on. The k best are kept in a small binary min-heap. */
#include "vscan.h"

#include <string.h>

#include "banned.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define MULTIVERSION __attribute__((target_clones("default", "avx2,fma", "avx512f")))
#else
#define MULTIVERSION
#endif

/* Eight partial sums break the dependency chain, so the loop runs at the speed of loads, not of additions. */
static inline float dot(const float *a, const float *b, size_t dims)
{
	float acc[8] = { 0 };
	size_t i = 0;
	for (; i + 8 <= dims; i += 8)
		for (size_t j = 0; j < 8; j++)
			acc[j] += a[i + j] * b[i + j];
	float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
	for (; i < dims; i++)
		s += a[i] * b[i];
	return s;
}

MULTIVERSION
float vscan_dot(const float *a, const float *b, size_t dims)
{
	return dot(a, b, dims);
}

MULTIVERSION
static void dot_block(const float *rows, size_t m, size_t dims, const float *q, float *out)
{
	for (size_t i = 0; i < m; i++)
		out[i] = dot(rows + i * dims, q, dims);
}

/* Heap order: the worst kept entry at the root. Worse = lower score, or equal score and higher row. */
static int worse(float sa, uint32_t ia, float sb, uint32_t ib)
{
	return sa < sb || (sa == sb && ia > ib);
}

static void sift_down(uint32_t *ids, float *scores, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && worse(scores[l], ids[l], scores[m], ids[m]))
			m = l;
		if (r < n && worse(scores[r], ids[r], scores[m], ids[m]))
			m = r;
		if (m == i)
			return;
		float ts = scores[i];
		uint32_t ti = ids[i];
		scores[i] = scores[m];
		ids[i] = ids[m];
		scores[m] = ts;
		ids[m] = ti;
		i = m;
	}
}

static void sift_up(uint32_t *ids, float *scores, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!worse(scores[i], ids[i], scores[p], ids[p]))
			return;
		float ts = scores[i];
		uint32_t ti = ids[i];
		scores[i] = scores[p];
		ids[i] = ids[p];
		scores[p] = ts;
		ids[p] = ti;
		i = p;
	}
}

/* Scores a block of rows at a time into a small array, then offers them to the heap: the dot products stay a
 * tight loop and the heap is touched only by rows that beat the current k-th best. */
#define BLOCK 64

size_t vscan_topk(const float *rows, size_t n, size_t dims, const float *q, const uint8_t *allow, size_t k,
		  uint32_t *ids, float *scores)
{
	size_t have = 0;
	float block[BLOCK];
	if (k == 0)
		return 0;
	for (size_t base = 0; base < n; base += BLOCK) {
		size_t m = n - base < BLOCK ? n - base : BLOCK;
		dot_block(rows + base * dims, m, dims, q, block);
		for (size_t i = 0; i < m; i++) {
			uint32_t row = (uint32_t)(base + i);
			if (allow && !allow[row])
				continue;
			if (have < k) {
				ids[have] = row;
				scores[have] = block[i];
				sift_up(ids, scores, have++);
			} else if (worse(scores[0], ids[0], block[i], row)) {
				ids[0] = row;
				scores[0] = block[i];
				sift_down(ids, scores, have, 0);
			}
		}
	}
	/* heap sort: repeatedly move the worst to the end */
	for (size_t end = have; end > 1; end--) {
		float ts = scores[0];
		uint32_t ti = ids[0];
		scores[0] = scores[end - 1];
		ids[0] = ids[end - 1];
		scores[end - 1] = ts;
		ids[end - 1] = ti;
		sift_down(ids, scores, end - 1, 0);
	}
	return have;
}
