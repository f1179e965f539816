/* In-memory index of one account's points and the ranking of vstore.h. */
#include "vstore/vindex.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/buf.h"
#include "vstore/vscan.h"
#include "core/banned.h"

void vindex_init(struct vindex *ix, size_t dims)
{
	memset(ix, 0, sizeof(*ix));
	ix->dims = dims;
	ix->sp_off = xcalloc(1, sizeof(*ix->sp_off));
}

static void postings_drop(struct vindex *ix)
{
	free(ix->post_terms);
	free(ix->post_off);
	free(ix->post_rows);
	free(ix->post_w);
	ix->post_terms = NULL;
	ix->post_off = NULL;
	ix->post_rows = NULL;
	ix->post_w = NULL;
	ix->post_nterms = 0;
	ix->post_ready = 0;
}

/* A mapped index is read-only: changing one is a bug in the caller. */
static void must_be_mine(const struct vindex *ix)
{
	if (ix->map) {
		fputs("faqsure: a mapped vector index was about to be changed\n", stderr);
		abort();
	}
}

void vindex_release(struct vindex *ix)
{
	if (ix->map) {
		munmap(ix->map, ix->map_len);
		memset(ix, 0, sizeof(*ix));
		return;
	}
	postings_drop(ix);
	free(ix->vecs);
	free(ix->codes);
	free(ix->scales);
	free(ix->chunk_ids);
	free(ix->doc_ids);
	free(ix->seq);
	free(ix->sp_off);
	free(ix->sp_idx);
	free(ix->sp_val);
	memset(ix, 0, sizeof(*ix));
}

void vindex_add(struct vindex *ix, const char *chunk_id, const char *doc_id, uint64_t seq, const float *vec,
		const struct sparse *sp)
{
	must_be_mine(ix);
	postings_drop(ix);
	if (ix->n == ix->cap) {
		ix->cap = ix->cap ? 2 * ix->cap : 256;
		ix->vecs = xrealloc(ix->vecs, ix->cap * ix->dims * sizeof(float));
		ix->codes = xrealloc(ix->codes, ix->cap * ix->dims);
		ix->scales = xrealloc(ix->scales, ix->cap * sizeof(float));
		ix->chunk_ids = xrealloc(ix->chunk_ids, ix->cap * sizeof(*ix->chunk_ids));
		ix->doc_ids = xrealloc(ix->doc_ids, ix->cap * sizeof(*ix->doc_ids));
		ix->seq = xrealloc(ix->seq, ix->cap * sizeof(*ix->seq));
		ix->sp_off = xrealloc(ix->sp_off, (ix->cap + 1) * sizeof(*ix->sp_off));
	}
	if (ix->sp_len + sp->n > ix->sp_cap) {
		while (ix->sp_len + sp->n > ix->sp_cap)
			ix->sp_cap = ix->sp_cap ? 2 * ix->sp_cap : 4096;
		ix->sp_idx = xrealloc(ix->sp_idx, ix->sp_cap * sizeof(*ix->sp_idx));
		ix->sp_val = xrealloc(ix->sp_val, ix->sp_cap * sizeof(*ix->sp_val));
	}
	size_t i = ix->n++;
	memcpy(ix->vecs + i * ix->dims, vec, ix->dims * sizeof(float));
	vscan_quantize(vec, ix->dims, ix->codes + i * ix->dims, &ix->scales[i]);
	memset(ix->chunk_ids[i], 0, sizeof(ix->chunk_ids[i])); /* no stray bytes in a written file */
	memset(ix->doc_ids[i], 0, sizeof(ix->doc_ids[i]));
	snprintf(ix->chunk_ids[i], sizeof(ix->chunk_ids[i]), "%s", chunk_id);
	snprintf(ix->doc_ids[i], sizeof(ix->doc_ids[i]), "%s", doc_id);
	ix->seq[i] = seq;
	if (sp->n) {
		memcpy(ix->sp_idx + ix->sp_len, sp->idx, sp->n * sizeof(*sp->idx));
		memcpy(ix->sp_val + ix->sp_len, sp->val, sp->n * sizeof(*sp->val));
	}
	ix->sp_len += sp->n;
	ix->sp_off[i + 1] = ix->sp_len;
}

void vindex_retain(struct vindex *ix, const uint8_t *keep)
{
	size_t w = 0, spw = 0;
	must_be_mine(ix);
	postings_drop(ix);
	for (size_t i = 0; i < ix->n; i++) {
		size_t a = ix->sp_off[i], b = ix->sp_off[i + 1];
		if (!keep[i])
			continue;
		if (w != i) {
			memmove(ix->vecs + w * ix->dims, ix->vecs + i * ix->dims, ix->dims * sizeof(float));
			memmove(ix->codes + w * ix->dims, ix->codes + i * ix->dims, ix->dims);
			ix->scales[w] = ix->scales[i];
			memcpy(ix->chunk_ids[w], ix->chunk_ids[i], sizeof(ix->chunk_ids[w]));
			memcpy(ix->doc_ids[w], ix->doc_ids[i], sizeof(ix->doc_ids[w]));
			ix->seq[w] = ix->seq[i];
		}
		if (b > a) {
			memmove(ix->sp_idx + spw, ix->sp_idx + a, (b - a) * sizeof(*ix->sp_idx));
			memmove(ix->sp_val + spw, ix->sp_val + a, (b - a) * sizeof(*ix->sp_val));
		}
		ix->sp_off[w] = spw;
		spw += b - a;
		w++;
	}
	ix->n = w;
	ix->sp_len = spw;
	ix->sp_off[w] = spw;
}

struct ranked {
	uint32_t row;
	double score;
	double cosine; /* hybrid: breaks ties of the fused score */
};

/* Best first; equal scores by cosine (hybrid), then by chunk id. */
static const struct vindex *sort_ix;
static int cmp_ranked(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->cosine != y->cosine)
		return x->cosine > y->cosine ? -1 : 1;
	return strcmp(sort_ix->chunk_ids[x->row], sort_ix->chunk_ids[y->row]);
}

static void sort_ranked(const struct vindex *ix, struct ranked *r, size_t n)
{
	sort_ix = ix;
	qsort(r, n, sizeof(*r), cmp_ranked);
}

/* Rows allowed by the query's document filter, or NULL for all. */
static uint8_t *allowed_rows(const struct vindex *ix, const struct vstore_query *q)
{
	if (!q->ndocument_ids)
		return NULL;
	uint8_t *allow = xcalloc(ix->n ? ix->n : 1, 1);
	for (size_t i = 0; i < ix->n; i++)
		for (size_t j = 0; j < q->ndocument_ids && !allow[i]; j++)
			allow[i] = !strcmp(ix->doc_ids[i], q->document_ids[j]);
	return allow;
}

/* Rows a query with feedback is ranked among: the nearest to the query before feedback (see with_feedback). */
struct candidates {
	uint32_t *rows;
	size_t n;
};

static size_t dense_top(const struct vindex *ix, const struct vstore_query *q, const uint8_t *allow, size_t k,
			const struct candidates *cand, struct ranked *out)
{
	if (cand->rows) { /* exact scores of the candidates with the moved query */
		size_t n = 0;
		struct ranked *all = xmalloc((cand->n ? cand->n : 1) * sizeof(*all));
		for (size_t i = 0; i < cand->n; i++)
			all[i] = (struct ranked){ cand->rows[i],
						  vscan_dot(ix->vecs + (size_t)cand->rows[i] * ix->dims, q->dense, ix->dims),
						  0 };
		sort_ranked(ix, all, cand->n);
		n = cand->n < k ? cand->n : k;
		memcpy(out, all, n * sizeof(*out));
		free(all);
		return n;
	}
	uint32_t *ids = xmalloc((k ? k : 1) * sizeof(*ids));
	float *scores = xmalloc((k ? k : 1) * sizeof(*scores));
	size_t n = vscan_topk_q8(ix->vecs, ix->codes, ix->scales, ix->n, ix->dims, q->dense, allow, k, ids, scores);
	for (size_t i = 0; i < n; i++)
		out[i] = (struct ranked){ ids[i], scores[i], 0 };
	free(ids);
	free(scores);
	sort_ranked(ix, out, n);
	return n;
}

/* Position of id in the row's sorted terms, or -1. */
static long find_term(const uint32_t *idx, size_t n, uint32_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (idx[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && idx[lo] == id ? (long)lo : -1;
}

/* Builds the inverted lists (a cache: the index is otherwise read-only during a search). The postings are
 * sorted by term with two stable counting passes over the term's 16-bit halves, so each list keeps the rows in
 * ascending order; a sort by comparison took seconds at 100k chunks. */
static void postings_build(struct vindex *ix)
{
	size_t n = ix->sp_len, t = 0;
	uint32_t *term = xmalloc((n ? n : 1) * sizeof(*term)), *row = xmalloc((n ? n : 1) * sizeof(*row));
	uint32_t *term2 = xmalloc((n ? n : 1) * sizeof(*term2)), *row2 = xmalloc((n ? n : 1) * sizeof(*row2));
	float *w = xmalloc((n ? n : 1) * sizeof(*w)), *w2 = xmalloc((n ? n : 1) * sizeof(*w2));
	size_t *count = xmalloc(65537 * sizeof(*count));
	for (size_t i = 0, at = 0; i < ix->n; i++)
		for (uint64_t u = ix->sp_off[i]; u < ix->sp_off[i + 1]; u++, at++) {
			term[at] = ix->sp_idx[u];
			row[at] = (uint32_t)i;
			w[at] = ix->sp_val[u];
		}
	for (int shift = 0; shift <= 16; shift += 16) {
		memset(count, 0, 65537 * sizeof(*count));
		for (size_t i = 0; i < n; i++)
			count[((term[i] >> shift) & 0xffff) + 1]++;
		for (size_t b = 1; b <= 65536; b++)
			count[b] += count[b - 1];
		for (size_t i = 0; i < n; i++) {
			size_t to = count[(term[i] >> shift) & 0xffff]++;
			term2[to] = term[i];
			row2[to] = row[i];
			w2[to] = w[i];
		}
		uint32_t *tt = term; term = term2; term2 = tt;
		uint32_t *rr = row; row = row2; row2 = rr;
		float *ww = w; w = w2; w2 = ww;
	}
	free(count);
	free(term2);
	free(row2);
	free(w2);
	for (size_t i = 0; i < n; i++)
		t += i == 0 || term[i] != term[i - 1];
	ix->post_terms = xmalloc((t ? t : 1) * sizeof(*ix->post_terms));
	ix->post_off = xmalloc((t + 1) * sizeof(*ix->post_off));
	t = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || term[i] != term[i - 1]) {
			ix->post_terms[t] = term[i];
			ix->post_off[t++] = i;
		}
	ix->post_off[t] = n;
	ix->post_nterms = t;
	ix->post_rows = row;
	ix->post_w = w;
	ix->post_ready = 1;
	free(term);
}

void vindex_prepare(struct vindex *ix)
{
	if (!ix->post_ready)
		postings_build(ix);
}

/* The inverted list of a term: [*from, *to) in post_rows, empty when no row has it. */
static void postings_of(const struct vindex *ix, uint32_t term, size_t *from, size_t *to)
{
	size_t lo = 0, hi = ix->post_nterms;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ix->post_terms[mid] < term)
			lo = mid + 1;
		else
			hi = mid;
	}
	*from = *to = 0;
	if (lo < ix->post_nterms && ix->post_terms[lo] == term) {
		*from = ix->post_off[lo];
		*to = ix->post_off[lo + 1];
	}
}

/* BM25 over the allowed rows from the inverted lists of the query's terms: document frequencies first (the
 * idf needs them), then the scores, summed term by term in the query's order. */
static size_t sparse_top(const struct vindex *ix, const struct vstore_query *q, const uint8_t *allow, size_t k,
			 struct ranked *out)
{
	size_t nq = q->sparse_n, nrows = 0, npoints = ix->n;
	if (!nq || !ix->n)
		return 0;
	if (!ix->post_ready)
		postings_build((struct vindex *)ix);
	if (allow) {
		npoints = 0;
		for (size_t i = 0; i < ix->n; i++)
			npoints += allow[i] != 0;
	}
	double *acc = xcalloc(ix->n, sizeof(*acc));
	uint32_t *touched = xmalloc(ix->n * sizeof(*touched));
	uint8_t *seen = xcalloc(ix->n, 1);
	for (size_t j = 0; j < nq; j++) {
		size_t from, to, df = 0;
		postings_of(ix, q->sparse_idx[j], &from, &to);
		for (size_t p = from; p < to; p++)
			df += ix->post_rows[p] < ix->n && (!allow || allow[ix->post_rows[p]]);
		if (!df)
			continue;
		double idf = log(1.0 + ((double)npoints - (double)df + 0.5) / ((double)df + 0.5));
		for (size_t p = from; p < to; p++) {
			uint32_t row = ix->post_rows[p];
			if (row >= ix->n || (allow && !allow[row])) /* the first: a mapped file is checked, not trusted */
				continue;
			acc[row] += idf * q->sparse_val[j] * ix->post_w[p];
			if (!seen[row]) {
				seen[row] = 1;
				touched[nrows++] = row;
			}
		}
	}
	struct ranked *all = xmalloc((nrows ? nrows : 1) * sizeof(*all));
	for (size_t i = 0; i < nrows; i++)
		all[i] = (struct ranked){ touched[i], acc[touched[i]], 0 };
	sort_ranked(ix, all, nrows);
	if (nrows > k)
		nrows = k;
	memcpy(out, all, nrows * sizeof(*out));
	free(all);
	free(seen);
	free(touched);
	free(acc);
	return nrows;
}

/* One result: the row's id, the ranking's score, and the cosine and coverage search scores it by. */
static void put_hit(const struct vindex *ix, const struct vstore_query *q, uint32_t row, double score,
		    struct vstore_hit *h)
{
	const uint32_t *idx = ix->sp_idx + ix->sp_off[row];
	size_t len = ix->sp_off[row + 1] - ix->sp_off[row], found = 0;
	snprintf(h->chunk_id, sizeof(h->chunk_id), "%s", ix->chunk_ids[row]);
	h->score = score;
	h->cosine = vscan_dot(ix->vecs + (size_t)row * ix->dims, q->score_dense ? q->score_dense : q->dense, ix->dims);
	for (size_t j = 0; j < q->sparse_n; j++)
		found += find_term(idx, len, q->sparse_idx[j]) >= 0;
	h->coverage = q->sparse_n ? (double)found / (double)q->sparse_n : 0;
}

/* Candidates kept per wanted result when feedback moves the query: one scan finds the rows nearest to the
 * query as given, the feedback comes from the best of them, and the moved query ranks only these rows. A row
 * the moved query would rank in its top 50 that was not among the first query's top 200 is missed; on the eval
 * sets that changed no result. */
#define FEEDBACK_CANDIDATES 4

/* q with its dense vector moved towards its nearest points (vstore.h, feedback); *owned is what to free; cand
 * gets the rows to rank (rows NULL: all). */
static struct vstore_query with_feedback(const struct vindex *ix, const struct vstore_query *q, const uint8_t *allow,
					 float **owned, struct candidates *cand)
{
	struct vstore_query fq = *q;
	size_t want = q->prefetch > q->limit ? q->prefetch : q->limit, k, n;
	*owned = NULL;
	cand->rows = NULL;
	cand->n = 0;
	if (!q->feedback || !ix->n)
		return fq;
	want = FEEDBACK_CANDIDATES * (want > 50 ? want : 50);
	uint32_t *ids = xmalloc(want * sizeof(*ids));
	n = vscan_candidates_q8(ix->codes, ix->scales, ix->n, ix->dims, q->dense, allow, want, ids);
	/* the feedback passages: the best of the candidates by exact cosine */
	struct ranked *best = xmalloc((n ? n : 1) * sizeof(*best));
	for (size_t i = 0; i < n; i++)
		best[i] = (struct ranked){ ids[i], vscan_dot(ix->vecs + (size_t)ids[i] * ix->dims, q->dense, ix->dims), 0 };
	sort_ranked(ix, best, n);
	for (size_t i = 0; i < n; i++)
		ids[i] = best[i].row;
	free(best);
	k = q->feedback < n ? q->feedback : n;
	if (!k) {
		free(ids);
		return fq;
	}
	cand->rows = ids;
	cand->n = n;
	float *v = xmalloc(ix->dims * sizeof(float));
	memcpy(v, q->dense, ix->dims * sizeof(float));
	for (size_t i = 0; i < k; i++) /* ids are best first */
		for (size_t d = 0; d < ix->dims; d++)
			v[d] += (float)(q->feedback_weight / (double)k) * ix->vecs[(size_t)ids[i] * ix->dims + d];
	vscan_normalize(v, ix->dims);
	if (!fq.score_dense)
		fq.score_dense = q->dense;
	fq.dense = v;
	*owned = v;
	return fq;
}

size_t vindex_search(const struct vindex *ix, const struct vstore_query *q0, struct vstore_hit *hits)
{
	uint8_t *allow = allowed_rows(ix, q0);
	float *expanded;
	struct candidates cand;
	struct vstore_query qq = with_feedback(ix, q0, allow, &expanded, &cand);
	const struct vstore_query *q = &qq;
	if (q->hybrid == VINDEX_SPARSE_ONLY) {
		struct ranked *r = xmalloc((q->limit ? q->limit : 1) * sizeof(*r));
		size_t nr = sparse_top(ix, q, allow, q->limit, r);
		for (size_t i = 0; i < nr; i++)
			put_hit(ix, q, r[i].row, r[i].score, &hits[i]);
		free(r);
		free(allow);
		free(expanded);
		free(cand.rows);
		return nr;
	}
	size_t pre = q->hybrid ? (q->prefetch > q->limit ? q->prefetch : q->limit) : q->limit;
	struct ranked *dense = xmalloc((pre ? pre : 1) * sizeof(*dense));
	size_t nd = dense_top(ix, q, allow, pre, &cand, dense), n = 0;
	if (!q->hybrid) {
		for (; n < nd && n < q->limit; n++)
			put_hit(ix, q, dense[n].row, dense[n].score, &hits[n]);
	} else {
		struct ranked *sparse = xmalloc(pre * sizeof(*sparse));
		size_t ns = sparse_top(ix, q, allow, pre, sparse);
		struct ranked *fused = xmalloc((nd + ns + 1) * sizeof(*fused));
		size_t nf = 0;
		for (size_t i = 0; i < nd; i++)
			fused[nf++] = (struct ranked){ dense[i].row, 1.0 / ((double)i + 2.0), dense[i].score };
		for (size_t i = 0; i < ns; i++) {
			size_t j = 0;
			while (j < nf && fused[j].row != sparse[i].row)
				j++;
			if (j == nf)
				fused[nf++] = (struct ranked){ sparse[i].row, 0,
							       vscan_dot(ix->vecs + sparse[i].row * ix->dims, q->dense,
									 ix->dims) };
			fused[j].score += 1.0 / ((double)i + 2.0);
		}
		sort_ranked(ix, fused, nf);
		for (; n < nf && n < q->limit; n++)
			put_hit(ix, q, fused[n].row, fused[n].score, &hits[n]);
		free(fused);
		free(sparse);
	}
	free(dense);
	free(allow);
	free(expanded);
	free(cand.rows);
	return n;
}
