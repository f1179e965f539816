/* Exact top-k scan (see vscan.h). The dot product is written so the compiler vectorises it; target_clones
 * builds it for AVX2+FMA and AVX-512 too and picks the best at load time, so one binary runs on any x86-64 and
 * is fast on the CPU it runs on. The k best are kept in a small binary min-heap. */
#include "vstore/vscan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#include "core/banned.h"

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

/* Offers (row, score) to a heap of at most k best entries holding *have. */
static void heap_offer(uint32_t *ids, float *scores, size_t *have, size_t k, uint32_t row, float score)
{
	if (*have < k) {
		ids[*have] = row;
		scores[*have] = score;
		sift_up(ids, scores, (*have)++);
	} else if (worse(scores[0], ids[0], score, row)) {
		ids[0] = row;
		scores[0] = score;
		sift_down(ids, scores, *have, 0);
	}
}

/* Turns the heap into a list, best first (heap sort: the worst moves to the end each time). */
static void heap_to_list(uint32_t *ids, float *scores, size_t n)
{
	for (size_t end = n; end > 1; end--) {
		float ts = scores[0];
		uint32_t ti = ids[0];
		scores[0] = scores[end - 1];
		ids[0] = ids[end - 1];
		scores[end - 1] = ts;
		ids[end - 1] = ti;
		sift_down(ids, scores, end - 1, 0);
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
			heap_offer(ids, scores, &have, k, row, block[i]);
		}
	}
	heap_to_list(ids, scores, have);
	return have;
}

void vscan_normalize(float *v, size_t dims)
{
	double norm = 0;
	for (size_t d = 0; d < dims; d++)
		norm += (double)v[d] * v[d];
	if (norm > 0) {
		double len = sqrt(norm);
		for (size_t d = 0; d < dims; d++)
			v[d] = (float)(v[d] / len);
	}
}

void vscan_quantize(const float *v, size_t dims, int8_t *codes, float *scale)
{
	float max = 0;
	for (size_t d = 0; d < dims; d++)
		if (fabsf(v[d]) > max)
			max = fabsf(v[d]);
	if (max == 0) {
		memset(codes, 0, dims);
		*scale = 0;
		return;
	}
	for (size_t d = 0; d < dims; d++)
		codes[d] = (int8_t)lrintf(v[d] * 127.0f / max);
	*scale = max / 127.0f;
}

/* int8 products summed in int32: the compiler turns this into multiply-add instructions on 16 or 32 bytes. */
static inline int32_t idot(const int8_t *a, const int8_t *b, size_t dims)
{
	int32_t s = 0;
	for (size_t i = 0; i < dims; i++)
		s += (int16_t)a[i] * (int16_t)b[i];
	return s;
}

static void idot_block_plain(const int8_t *codes, size_t m, size_t dims, const int8_t *q, int32_t *out)
{
	for (size_t i = 0; i < m; i++)
		out[i] = idot(codes + i * dims, q, dims);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* AVX2: 16 codes at a time widened to 16 bits and multiplied-and-added in pairs into 8 int32 sums (vpmaddwd). */
__attribute__((target("avx2"))) static void idot_block_avx2(const int8_t *codes, size_t m, size_t dims,
								const int8_t *q, int32_t *out)
{
	for (size_t i = 0; i < m; i++) {
		const int8_t *r = codes + i * dims;
		__m256i acc = _mm256_setzero_si256();
		size_t d = 0;
		for (; d + 16 <= dims; d += 16) {
			__m256i a = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(r + d)));
			__m256i b = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(q + d)));
			acc = _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
		}
		__m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
		s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
		s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
		out[i] = _mm_cvtsi128_si32(s) + idot(r + d, q + d, dims - d);
	}
}

static void idot_block(const int8_t *codes, size_t m, size_t dims, const int8_t *q, int32_t *out)
{
	static int avx2 = -1;
	if (avx2 < 0)
		avx2 = __builtin_cpu_supports("avx2");
	(avx2 ? idot_block_avx2 : idot_block_plain)(codes, m, dims, q, out);
}
#else
#define idot_block idot_block_plain
#endif

size_t vscan_candidates_q8(const int8_t *codes, const float *scales, size_t n, size_t dims, const float *q,
			  const uint8_t *allow, size_t want, uint32_t *cid)
{
	size_t have = 0;
	int8_t *qc = xmalloc(dims ? dims : 1);
	float qs, *cs = xmalloc((want ? want : 1) * sizeof(*cs));
	int32_t block[BLOCK];
	if (want == 0 || n == 0) {
		free(qc);
		free(cs);
		return 0;
	}
	vscan_quantize(q, dims, qc, &qs);
	for (size_t base = 0; base < n; base += BLOCK) {
		size_t m = n - base < BLOCK ? n - base : BLOCK;
		idot_block(codes + base * dims, m, dims, qc, block);
		for (size_t i = 0; i < m; i++) {
			uint32_t row = (uint32_t)(base + i);
			float approx = (float)block[i] * scales[row];
			if (allow && !allow[row])
				continue;
			heap_offer(cid, cs, &have, want, row, approx);
		}
	}
	free(qc);
	free(cs);
	return have;
}

size_t vscan_topk_q8(const float *rows, const int8_t *codes, const float *scales, size_t n, size_t dims,
		     const float *q, const uint8_t *allow, size_t k, uint32_t *ids, float *scores)
{
	size_t want = 4 * k > k + 32 ? 4 * k : k + 32;
	uint32_t *cid = xmalloc(want * sizeof(*cid));
	size_t have = vscan_candidates_q8(codes, scales, n, dims, q, allow, k ? want : 0, cid);
	/* exact scores of the candidates, then the k best of them */
	size_t got = 0;
	for (size_t i = 0; i < have; i++)
		heap_offer(ids, scores, &got, k, cid[i], dot(rows + (size_t)cid[i] * dims, q, dims));
	heap_to_list(ids, scores, got);
	free(cid);
	return got;
}
