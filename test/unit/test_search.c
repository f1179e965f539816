/* search: terms (stopwords, stems, BM25 vectors, the stored blob), vscan_topk against a naive scan, vindex ranking
 * (dense, BM25 where the rare term wins, RRF, retain, the document filter), the index file (the same results
 * mapped as in memory, damaged files refused) and the similarity_score curve. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/buf.h"
#include "core/config.h"
#include "search/search.h"
#include "text/terms.h"
#include "vstore/vindex.h"
#include "vstore/vscan.h"

#define CHECK_NEAR(a, b, tol)                                                                                  \
	do {                                                                                                   \
		double na_ = (double)(a), nb_ = (double)(b);                                                   \
		if (!(fabs(na_ - nb_) <= (tol))) {                                                             \
			printf("    %s:%d: %s == %.9g, expected %s == %.9g\n", __FILE__, __LINE__, #a, na_, #b,   \
			       nb_);                                                                           \
			check_failed = 1;                                                                      \
		}                                                                                              \
	} while (0)

/* ---- terms ---------------------------------------------------------------------------------------------------- */

struct stems {
	size_t n;
	char words[32][32];
	int brk[32];
};

static void collect(void *arg, const char *stem, size_t len, int sentence_break)
{
	struct stems *s = arg;
	if (s->n < 32) {
		snprintf(s->words[s->n], sizeof(s->words[s->n]), "%.*s", (int)len, stem);
		s->brk[s->n] = sentence_break;
	}
	s->n++;
}

static struct terms *new_terms(void)
{
	struct terms *t = NULL;
	struct fs_error e;
	CHECK_INT(terms_new(&t, &e), 0);
	return t;
}

static size_t stems_of(struct terms *t, const char *text, struct stems *out)
{
	memset(out, 0, sizeof(*out));
	size_t n = terms_each(t, text, collect, out);
	CHECK_INT(n, out->n);
	return n;
}

static void search_terms_stopwords_dropped(void)
{
	struct terms *t = new_terms();
	struct stems s;
	if (!t)
		return;
	CHECK_INT(stems_of(t, "What is the refund policy of the shop?", &s), 3);
	CHECK_STR(s.words[0], "refund");
	CHECK_STR(s.words[1], "polici");
	CHECK_STR(s.words[2], "shop");
	/* case does not matter, nor do apostrophe tails */
	CHECK_INT(stems_of(t, "THE Shop's REFUNDS, isn't it", &s), 3);
	CHECK_STR(s.words[0], "shop");
	CHECK_STR(s.words[1], "refund");
	CHECK_STR(s.words[2], "isn");
	/* sentence punctuation between two content words is reported on the second */
	CHECK_INT(stems_of(t, "Parcels ship daily. Tracking is free", &s), 5);
	CHECK_INT(s.brk[0], 0);
	CHECK_INT(s.brk[2], 0);
	CHECK_INT(s.brk[3], 1);
	CHECK_INT(s.brk[4], 0);
	/* non-ASCII bytes make words; nothing but punctuation makes none */
	CHECK_INT(stems_of(t, "¿contraseña? 🔑", &s), 2);
	CHECK_INT(stems_of(t, "?!?... --- \"'", &s), 0);
	CHECK_INT(stems_of(t, "", &s), 0);
	/* no words: empty vectors, starting from vectors that never held anything */
	struct sparse q, d;
	sparse_init(&q);
	sparse_init(&d);
	terms_query_vector(t, "?!?...", &q);
	terms_doc_vector(t, "", &d);
	CHECK_INT(q.n, 0);
	CHECK_INT(d.n, 0);
	sparse_release(&q);
	sparse_release(&d);
	terms_free(t);
}

static void search_terms_stems_match(void)
{
	struct terms *t = new_terms();
	struct stems a, b;
	struct sparse x, y;
	if (!t)
		return;
	sparse_init(&x);
	sparse_init(&y);
	CHECK_INT(stems_of(t, "running", &a), 1);
	CHECK_INT(stems_of(t, "runs", &b), 1);
	CHECK_STR(a.words[0], b.words[0]);
	CHECK_INT(terms_id(a.words[0], strlen(a.words[0])), terms_id(b.words[0], strlen(b.words[0])));
	terms_query_vector(t, "running shoes", &x);
	terms_query_vector(t, "Runs, shoe", &y);
	CHECK_INT(x.n, 2);
	CHECK_INT(y.n, 2);
	if (x.n == 2 && y.n == 2) {
		CHECK_INT(x.idx[0], y.idx[0]);
		CHECK_INT(x.idx[1], y.idx[1]);
	}
	/* different words, different ids */
	CHECK(terms_id("refund", 6) != terms_id("return", 6));
	sparse_release(&x);
	sparse_release(&y);
	terms_free(t);
}

static void search_terms_all_stopwords_kept(void)
{
	struct terms *t = new_terms();
	struct stems s;
	struct sparse q;
	if (!t)
		return;
	sparse_init(&q);
	CHECK_INT(stems_of(t, "what is this", &s), 3);
	CHECK_STR(s.words[0], "what");
	CHECK_STR(s.words[2], "this");
	terms_query_vector(t, "what is this", &q);
	CHECK_INT(q.n, 3);
	/* one content word among them: only it counts */
	CHECK_INT(stems_of(t, "what is this gadget", &s), 1);
	CHECK_STR(s.words[0], "gadget");
	sparse_release(&q);
	terms_free(t);
}

static float weight_of(const struct sparse *s, uint32_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->idx[i] == id)
			return s->val[i];
	return -1;
}

static void search_terms_doc_vector_bm25(void)
{
	struct terms *t = new_terms();
	struct sparse d, q;
	if (!t)
		return;
	sparse_init(&d);
	sparse_init(&q);
	terms_doc_vector(t, "Refund refunds refunded. Shipping, warehouse and the parcel label.", &d);
	/* refund x3, ship, warehous, parcel, label: 7 words, 5 distinct */
	CHECK_INT(d.n, 5);
	for (size_t i = 1; i < d.n; i++)
		CHECK(d.idx[i - 1] < d.idx[i]);
	float norm = TERMS_K1 * (1.0f - TERMS_B + TERMS_B * 7.0f / TERMS_AVGLEN);
	float w3 = weight_of(&d, terms_id("refund", 6)), w1 = weight_of(&d, terms_id("ship", 4));
	CHECK_NEAR(w3, 3.0f * (TERMS_K1 + 1.0f) / (3.0f + norm), 1e-5);
	CHECK_NEAR(w1, 1.0f * (TERMS_K1 + 1.0f) / (1.0f + norm), 1e-5);
	CHECK(w3 > w1);
	CHECK(w3 < TERMS_K1 + 1.0f); /* saturates */
	/* a longer text weighs a single occurrence less */
	terms_doc_vector(t, "Shipping warehouse parcel label carrier courier depot van truck route", &q);
	CHECK(weight_of(&q, terms_id("ship", 4)) > 0);
	CHECK(weight_of(&q, terms_id("ship", 4)) < w1);
	/* the query vector: each distinct term once, weight 1, sorted */
	terms_query_vector(t, "refund Refunds refunded shipping", &q);
	CHECK_INT(q.n, 2);
	for (size_t i = 0; i < q.n; i++)
		CHECK_NEAR(q.val[i], 1.0, 0);
	if (q.n == 2)
		CHECK(q.idx[0] < q.idx[1]);
	terms_doc_vector(t, "", &d);
	CHECK_INT(d.n, 0);
	sparse_release(&d);
	sparse_release(&q);
	terms_free(t);
}

static void search_sparse_blob_round_trip(void)
{
	struct terms *t = new_terms();
	struct sparse d, back;
	struct buf b;
	if (!t)
		return;
	sparse_init(&d);
	sparse_init(&back);
	buf_init(&b, BUF_NO_LIMIT);
	terms_doc_vector(t, "Express delivery arrives the next business day when you order before 2 pm.", &d);
	CHECK(d.n > 3);
	sparse_to_blob(&d, &b);
	CHECK_INT(b.len, d.n * 8);
	CHECK_INT(sparse_from_blob(b.ptr, b.len, &back), 0);
	CHECK_INT(back.n, d.n);
	for (size_t i = 0; i < d.n && i < back.n; i++) {
		CHECK_INT(back.idx[i], d.idx[i]);
		CHECK(memcmp(&back.val[i], &d.val[i], sizeof(float)) == 0);
	}
	/* the stored form is little-endian: the first id's low byte comes first */
	if (d.n)
		CHECK_INT((unsigned char)b.ptr[0], d.idx[0] & 0xff);

	/* an empty blob is an empty vector */
	CHECK_INT(sparse_from_blob("", 0, &back), 0);
	CHECK_INT(back.n, 0);

	/* lengths that are not a multiple of 8 */
	for (size_t len = 1; len < 8; len++)
		CHECK_INT(sparse_from_blob(b.ptr, len, &back), -1);
	CHECK_INT(sparse_from_blob(b.ptr, b.len - 1, &back), -1);
	CHECK_INT(sparse_from_blob(b.ptr, b.len + 3, &back), -1);

	/* ids not strictly ascending: swapped, and repeated */
	unsigned char bad[16];
	memcpy(bad, b.ptr + 8, 8);
	memcpy(bad + 8, b.ptr, 8);
	CHECK_INT(sparse_from_blob(bad, 16, &back), -1);
	memcpy(bad, b.ptr, 8);
	memcpy(bad + 8, b.ptr, 8);
	CHECK_INT(sparse_from_blob(bad, 16, &back), -1);

	buf_release(&b);
	sparse_release(&d);
	sparse_release(&back);
	terms_free(t);
}

/* ---- vscan ---------------------------------------------------------------------------------------------------- */

/* Small-integer quarters: every dot product of these is exact in float, so any kernel gives the same scores and
 * ties are frequent (they must go to the lower row). */
static float quarter(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (float)((int)((*seed >> 16) % 9) - 4) / 4.0f;
}

struct scored {
	uint32_t row;
	double score;
};

static int cmp_scored(const void *a, const void *b)
{
	const struct scored *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

/* The naive answer: every allowed row scored, sorted, the first k. */
static size_t naive_topk(const float *rows, size_t n, size_t dims, const float *q, const uint8_t *allow, size_t k,
			 struct scored *out)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (allow && !allow[i])
			continue;
		double s = 0;
		for (size_t d = 0; d < dims; d++)
			s += (double)rows[i * dims + d] * q[d];
		out[m++] = (struct scored){ (uint32_t)i, s };
	}
	qsort(out, m, sizeof(*out), cmp_scored);
	return m < k ? m : k;
}

static void search_vscan_matches_naive(void)
{
	static const size_t ns[] = { 0, 1, 7, 64, 65, 300 };
	static const size_t dimss[] = { 1, 8, 37 };
	static const size_t ks[] = { 1, 3, 10, 64, 300, 500 };
	unsigned seed = 42;
	int mismatches = 0;
	for (size_t a = 0; a < sizeof(ns) / sizeof(ns[0]); a++) {
		for (size_t b = 0; b < sizeof(dimss) / sizeof(dimss[0]); b++) {
			size_t n = ns[a], dims = dimss[b];
			float *rows = malloc((n ? n : 1) * dims * sizeof(float));
			float *q = malloc(dims * sizeof(float));
			uint8_t *allow = malloc(n ? n : 1);
			struct scored *want = malloc((n ? n : 1) * sizeof(*want));
			for (size_t i = 0; i < n * dims; i++)
				rows[i] = quarter(&seed);
			for (size_t d = 0; d < dims; d++)
				q[d] = quarter(&seed);
			for (size_t i = 0; i < n; i++)
				allow[i] = (quarter(&seed) > 0) || i % 5 == 0;
			for (size_t c = 0; c < sizeof(ks) / sizeof(ks[0]); c++) {
				for (int masked = 0; masked < 2; masked++) {
					size_t k = ks[c];
					const uint8_t *al = masked ? allow : NULL;
					uint32_t *ids = malloc(k * sizeof(*ids));
					float *scores = malloc(k * sizeof(*scores));
					size_t got = vscan_topk(rows, n, dims, q, al, k, ids, scores);
					size_t exp = naive_topk(rows, n, dims, q, al, k, want);
					int bad = got != exp;
					for (size_t i = 0; !bad && i < got; i++)
						bad = ids[i] != want[i].row || (double)scores[i] != want[i].score;
					if (bad && mismatches++ < 5) {
						printf("    vscan_topk n=%zu dims=%zu k=%zu mask=%d: %zu rows, expected %zu;"
						       " first rows", n, dims, k, masked, got, exp);
						for (size_t i = 0; i < got && i < 6; i++)
							printf(" %u(%g)", ids[i], scores[i]);
						printf(", expected");
						for (size_t i = 0; i < exp && i < 6; i++)
							printf(" %u(%g)", want[i].row, want[i].score);
						printf("\n");
					}
					free(ids);
					free(scores);
				}
			}
			free(rows);
			free(q);
			free(allow);
			free(want);
		}
	}
	CHECK_INT(mismatches, 0);
}

static void search_vscan_ties_and_mask(void)
{
	enum { N = 200, D = 16 };
	float *rows = calloc(N * D, sizeof(float));
	float q[D] = { 0 };
	uint8_t allow[N];
	uint32_t ids[8];
	float scores[8];
	q[0] = 1;
	for (size_t i = 0; i < N; i++)
		rows[i * D + 1 + i % (D - 1)] = 1; /* orthogonal to q: score 0 */
	/* three equal best rows, in three different blocks of the scan */
	for (size_t r = 0; r < 3; r++) {
		size_t row = (size_t[]){ 150, 10, 70 }[r];
		memset(rows + row * D, 0, D * sizeof(float));
		rows[row * D] = 1;
	}
	rows[99 * D] = 0.5f; /* the fourth best */
	CHECK_INT(vscan_topk(rows, N, D, q, NULL, 4, ids, scores), 4);
	CHECK_INT(ids[0], 10);
	CHECK_INT(ids[1], 70);
	CHECK_INT(ids[2], 150);
	CHECK_INT(ids[3], 99);
	CHECK_NEAR(scores[0], 1.0, 0);
	CHECK_NEAR(scores[3], 0.5, 0);
	/* a tie across the k boundary keeps the lower rows */
	CHECK_INT(vscan_topk(rows, N, D, q, NULL, 2, ids, scores), 2);
	CHECK_INT(ids[0], 10);
	CHECK_INT(ids[1], 70);
	/* the mask removes rows; among the zero scores the lowest rows come next */
	memset(allow, 1, sizeof(allow));
	allow[10] = 0;
	allow[150] = 0;
	allow[0] = 0;
	CHECK_INT(vscan_topk(rows, N, D, q, allow, 4, ids, scores), 4);
	CHECK_INT(ids[0], 70);
	CHECK_INT(ids[1], 99);
	CHECK_INT(ids[2], 1);
	CHECK_INT(ids[3], 2);
	/* k above the allowed rows: all of them */
	memset(allow, 0, sizeof(allow));
	allow[199] = allow[5] = 1;
	CHECK_INT(vscan_topk(rows, N, D, q, allow, 8, ids, scores), 2);
	CHECK_INT(ids[0], 5);
	CHECK_INT(ids[1], 199);
	CHECK_INT(vscan_topk(rows, N, D, q, NULL, 0, ids, scores), 0);
	CHECK_INT(vscan_topk(rows, 0, D, q, NULL, 8, ids, scores), 0);
	CHECK_NEAR(vscan_dot(rows + 99 * D, q, D), 0.5, 0);
	free(rows);
}

/* ---- vindex --------------------------------------------------------------------------------------------------- */

#define DOC_A "aaaaaaaa-0000-4000-8000-000000000000"
#define DOC_B "bbbbbbbb-0000-4000-8000-000000000000"

static void chunk_id(char out[37], unsigned n)
{
	snprintf(out, 37, "00000000-0000-4000-8000-%012u", n);
}

/* Adds a row with a 4-dim vector (normalised here) and terms given as (id, weight) pairs. */
static void add_row(struct vindex *ix, unsigned n, const char *doc, const float v[4], size_t nterms,
		    const uint32_t *tid, const float *tw)
{
	char id[37];
	float u[4];
	double norm = 0;
	for (int d = 0; d < 4; d++)
		norm += (double)v[d] * v[d];
	for (int d = 0; d < 4; d++)
		u[d] = norm > 0 ? (float)(v[d] / sqrt(norm)) : 0;
	struct sparse sp = { .n = nterms, .cap = nterms, .idx = (uint32_t *)tid, .val = (float *)tw };
	chunk_id(id, n);
	vindex_add(ix, id, doc, ix->n ? ix->seq[ix->n - 1] + 1 : 1, u, &sp);
}

static size_t run(const struct vindex *ix, const float *qv, const uint32_t *qt, size_t nqt, int hybrid,
		  size_t limit, const char *const *docs, size_t ndocs, struct vstore_hit *hits)
{
	static const float ones[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	struct vstore_query q = {
		.account_id = 1,
		.dense = qv,
		.sparse_idx = qt,
		.sparse_val = ones,
		.sparse_n = nqt,
		.hybrid = hybrid,
		.limit = limit,
		.prefetch = 50,
		.document_ids = docs,
		.ndocument_ids = ndocs,
	};
	return vindex_search(ix, &q, hits);
}

static void expect_hit(const struct vstore_hit *h, unsigned n, double score, int line)
{
	char id[37];
	chunk_id(id, n);
	if (strcmp(h->chunk_id, id) || fabs(h->score - score) > 1e-6) {
		printf("    test_search.c:%d: hit %s (%.6f), expected %s (%.6f)\n", line, h->chunk_id, h->score, id,
		       score);
		check_failed = 1;
	}
}
#define EXPECT_HIT(h, n, score) expect_hit(h, n, score, __LINE__)

static void search_vindex_dense_ranking(void)
{
	struct vindex ix;
	struct vstore_hit hits[8];
	static const uint32_t none[1] = { 0 };
	const float q[4] = { 1, 0, 0, 0 };
	vindex_init(&ix, 4);
	add_row(&ix, 1, DOC_A, (float[]){ 0, 1, 0, 0 }, 0, none, NULL);   /* cosine 0 */
	add_row(&ix, 2, DOC_A, (float[]){ 1, 1, 0, 0 }, 0, none, NULL);   /* 0.7071 */
	add_row(&ix, 9, DOC_B, (float[]){ 1, 0, 0, 0 }, 0, none, NULL);   /* 1 */
	add_row(&ix, 3, DOC_B, (float[]){ -1, 0, 0, 0 }, 0, none, NULL);  /* -1 */
	add_row(&ix, 4, DOC_A, (float[]){ 1, 0, 0, 0 }, 0, none, NULL);   /* 1, a lower chunk id than row 9's */
	add_row(&ix, 5, DOC_A, (float[]){ 3, 0, 4, 0 }, 0, none, NULL);   /* 0.6 */
	CHECK_INT(run(&ix, q, NULL, 0, 0, 8, NULL, 0, hits), 6);
	EXPECT_HIT(&hits[0], 4, 1.0);
	EXPECT_HIT(&hits[1], 9, 1.0);
	EXPECT_HIT(&hits[2], 2, sqrt(0.5));
	EXPECT_HIT(&hits[3], 5, 0.6);
	EXPECT_HIT(&hits[4], 1, 0.0);
	EXPECT_HIT(&hits[5], 3, -1.0);
	CHECK_INT(run(&ix, q, NULL, 0, 0, 2, NULL, 0, hits), 2);
	EXPECT_HIT(&hits[0], 4, 1.0);
	EXPECT_HIT(&hits[1], 9, 1.0);
	vindex_release(&ix);

	/* an empty index */
	vindex_init(&ix, 4);
	CHECK_INT(run(&ix, q, NULL, 0, 0, 8, NULL, 0, hits), 0);
	CHECK_INT(run(&ix, q, NULL, 0, 1, 8, NULL, 0, hits), 0);
	vindex_release(&ix);
}

static double idf(double npoints, double df)
{
	return log(1.0 + (npoints - df + 0.5) / (df + 0.5));
}

static void search_vindex_bm25_rare_term_wins(void)
{
	/* Query "shipping cost": "ship" (id 10) is in every row but one, "cost" (id 20) in one row only. Row 1
	 * repeats "ship" a lot; row 3 mentions it once but has "cost": the rare term wins. Row 4 has neither term and
	 * is not in the keyword list at all. */
	struct vindex ix;
	struct vstore_hit hits[8];
	const float v[4] = { 1, 0, 0, 0 };
	const uint32_t qt[2] = { 10, 20 };
	vindex_init(&ix, 4);
	add_row(&ix, 1, DOC_A, v, 1, (uint32_t[]){ 10 }, (float[]){ 2.0f });
	add_row(&ix, 2, DOC_A, v, 2, (uint32_t[]){ 5, 10 }, (float[]){ 1.0f, 1.2f });
	add_row(&ix, 3, DOC_A, v, 3, (uint32_t[]){ 10, 20, 30 }, (float[]){ 0.8f, 0.9f, 1.0f });
	add_row(&ix, 4, DOC_B, v, 2, (uint32_t[]){ 5, 30 }, (float[]){ 1.0f, 1.0f });
	add_row(&ix, 5, DOC_B, v, 1, (uint32_t[]){ 10 }, (float[]){ 1.0f });
	double i_ship = idf(5, 4), i_cost = idf(5, 1);
	CHECK_INT(run(&ix, v, qt, 2, VINDEX_SPARSE_ONLY, 8, NULL, 0, hits), 4);
	EXPECT_HIT(&hits[0], 3, i_ship * 0.8f + i_cost * 0.9f);
	EXPECT_HIT(&hits[1], 1, i_ship * 2.0f);
	EXPECT_HIT(&hits[2], 2, i_ship * 1.2f);
	EXPECT_HIT(&hits[3], 5, i_ship * 1.0f);
	/* the idf counts only the rows the filter allows: within DOC_B "ship" is in 1 of 2 rows */
	const char *b[] = { DOC_B };
	CHECK_INT(run(&ix, v, qt, 2, VINDEX_SPARSE_ONLY, 8, b, 1, hits), 1);
	EXPECT_HIT(&hits[0], 5, idf(2, 1) * 1.0f);
	/* a query term no row has changes nothing; a query without terms finds nothing */
	const uint32_t qt3[3] = { 10, 20, 99 };
	CHECK_INT(run(&ix, v, qt3, 3, VINDEX_SPARSE_ONLY, 8, NULL, 0, hits), 4);
	EXPECT_HIT(&hits[0], 3, i_ship * 0.8f + i_cost * 0.9f);
	CHECK_INT(run(&ix, v, qt, 0, VINDEX_SPARSE_ONLY, 8, NULL, 0, hits), 0);
	vindex_release(&ix);
}

static void search_vindex_rrf_hybrid(void)
{
	/* Dense order: P (1), Q (0.8), R (0.6), S (0.2). Keyword order: P, R (S has no query term... nor does Q).
	 * RRF with k = 2: P 1/2 + 1/2, R 1/4 + 1/3, Q 1/3, S 1/5. */
	struct vindex ix;
	struct vstore_hit hits[8];
	const float q[4] = { 1, 0, 0, 0 };
	const uint32_t qt[1] = { 7 };
	vindex_init(&ix, 4);
	add_row(&ix, 4, DOC_A, (float[]){ 0.2f, 0.9797959f, 0, 0 }, 1, (uint32_t[]){ 8 }, (float[]){ 1 }); /* S */
	add_row(&ix, 3, DOC_A, (float[]){ 0.6f, 0.8f, 0, 0 }, 1, (uint32_t[]){ 7 }, (float[]){ 0.5f });    /* R */
	add_row(&ix, 2, DOC_B, (float[]){ 0.8f, 0.6f, 0, 0 }, 1, (uint32_t[]){ 8 }, (float[]){ 1 });       /* Q */
	add_row(&ix, 1, DOC_B, (float[]){ 1, 0, 0, 0 }, 1, (uint32_t[]){ 7 }, (float[]){ 1.5f });          /* P */
	CHECK_INT(run(&ix, q, qt, 1, 1, 8, NULL, 0, hits), 4);
	EXPECT_HIT(&hits[0], 1, 1.0 / 2 + 1.0 / 2);
	EXPECT_HIT(&hits[1], 3, 1.0 / 4 + 1.0 / 3);
	EXPECT_HIT(&hits[2], 2, 1.0 / 3);
	EXPECT_HIT(&hits[3], 4, 1.0 / 5);
	CHECK_INT(run(&ix, q, qt, 1, 1, 2, NULL, 0, hits), 2);
	EXPECT_HIT(&hits[0], 1, 1.0);
	EXPECT_HIT(&hits[1], 3, 1.0 / 4 + 1.0 / 3);
	/* dense alone keeps the cosine order */
	CHECK_INT(run(&ix, q, qt, 1, 0, 8, NULL, 0, hits), 4);
	EXPECT_HIT(&hits[0], 1, 1.0);
	EXPECT_HIT(&hits[1], 2, 0.8);
	EXPECT_HIT(&hits[2], 3, 0.6);
	EXPECT_HIT(&hits[3], 4, 0.2);
	/* a keyword-only candidate outside the dense prefetch still takes part: a tie of fused scores (rank 0 of
	 * one list each) goes to the higher cosine */
	vindex_release(&ix);
	vindex_init(&ix, 4);
	add_row(&ix, 1, DOC_A, (float[]){ 1, 0, 0, 0 }, 1, (uint32_t[]){ 8 }, (float[]){ 1 });   /* dense top */
	add_row(&ix, 2, DOC_A, (float[]){ 0, 1, 0, 0 }, 1, (uint32_t[]){ 7 }, (float[]){ 1 });   /* keyword top */
	struct vstore_query vq = { .account_id = 1, .dense = q, .sparse_idx = qt, .sparse_val = (float[]){ 1 },
				   .sparse_n = 1, .hybrid = 1, .limit = 1, .prefetch = 1 };
	CHECK_INT(vindex_search(&ix, &vq, hits), 1);
	EXPECT_HIT(&hits[0], 1, 0.5);
	vindex_release(&ix);
}

static void search_vindex_retain(void)
{
	struct vindex ix;
	struct vstore_hit hits[8];
	vindex_init(&ix, 4);
	for (unsigned i = 0; i < 6; i++) {
		uint32_t tid[6];
		float tw[6], v[4] = { 0, 0, 0, 0 };
		for (unsigned t = 0; t < i; t++) { /* row i has i terms: 100 * i + t */
			tid[t] = 100 * i + t;
			tw[t] = (float)(i + t);
		}
		v[i % 4] = 1;
		v[(i + 1) % 4] = (float)i;
		add_row(&ix, i, i % 2 ? DOC_B : DOC_A, v, i, tid, tw);
	}
	const uint8_t keep[6] = { 1, 0, 1, 1, 0, 1 };
	static const unsigned kept[4] = { 0, 2, 3, 5 };
	float *want = malloc(4 * 4 * sizeof(float));
	for (size_t w = 0; w < 4; w++)
		memcpy(want + w * 4, ix.vecs + kept[w] * 4, 4 * sizeof(float));
	vindex_retain(&ix, keep);
	CHECK_INT(ix.n, 4);
	for (size_t w = 0; w < 4 && w < ix.n; w++) {
		unsigned i = kept[w];
		char id[37];
		chunk_id(id, i);
		CHECK_STR(ix.chunk_ids[w], id);
		CHECK_STR(ix.doc_ids[w], i % 2 ? DOC_B : DOC_A);
		CHECK_INT(ix.seq[w], i + 1);
		CHECK(memcmp(ix.vecs + w * 4, want + w * 4, 4 * sizeof(float)) == 0);
		CHECK_INT(ix.sp_off[w + 1] - ix.sp_off[w], i);
		for (unsigned t = 0; t < i; t++) {
			CHECK_INT(ix.sp_idx[ix.sp_off[w] + t], 100 * i + t);
			CHECK_NEAR(ix.sp_val[ix.sp_off[w] + t], i + t, 0);
		}
	}
	CHECK_INT(ix.sp_off[0], 0);
	CHECK_INT(ix.sp_len, 0 + 2 + 3 + 5);
	/* still searchable, and rows can be added after */
	CHECK_INT(run(&ix, ix.vecs + 3 * 4, NULL, 0, 0, 1, NULL, 0, hits), 1);
	EXPECT_HIT(&hits[0], 5, 1.0);
	CHECK_INT(run(&ix, ix.vecs, (uint32_t[]){ 301 }, 1, VINDEX_SPARSE_ONLY, 8, NULL, 0, hits), 1);
	EXPECT_HIT(&hits[0], 3, idf(4, 1) * 4.0f);
	add_row(&ix, 7, DOC_A, (float[]){ 0, 0, 0, 1 }, 1, (uint32_t[]){ 700 }, (float[]){ 1 });
	CHECK_INT(ix.n, 5);
	CHECK_INT(run(&ix, ix.vecs, (uint32_t[]){ 700 }, 1, VINDEX_SPARSE_ONLY, 8, NULL, 0, hits), 1);
	EXPECT_HIT(&hits[0], 7, idf(5, 1));
	/* keeping nothing empties it */
	const uint8_t none[5] = { 0 };
	vindex_retain(&ix, none);
	CHECK_INT(ix.n, 0);
	CHECK_INT(ix.sp_len, 0);
	CHECK_INT(run(&ix, want, NULL, 0, 0, 8, NULL, 0, hits), 0);
	free(want);
	vindex_release(&ix);
}

static void search_vindex_document_filter(void)
{
	struct vindex ix;
	struct vstore_hit hits[16];
	const float q[4] = { 1, 0.5f, 0, 0 };
	const uint32_t qt[1] = { 7 };
	vindex_init(&ix, 4);
	for (unsigned i = 0; i < 12; i++) {
		float v[4] = { (float)(i % 5), 1, (float)(i % 3), 0.5f };
		add_row(&ix, i, i % 3 == 0 ? DOC_B : DOC_A, v, 1, (uint32_t[]){ i % 2 ? 7 : 8 }, (float[]){ 1 });
	}
	const char *only_b[] = { DOC_B };
	const char *both[] = { DOC_A, DOC_B };
	const char *other[] = { "cccccccc-0000-4000-8000-000000000000" };
	for (int hybrid = 0; hybrid <= VINDEX_SPARSE_ONLY; hybrid++) {
		size_t n = run(&ix, q, qt, 1, hybrid, 16, only_b, 1, hits);
		CHECK_INT(n, hybrid == VINDEX_SPARSE_ONLY ? 2 : 4); /* rows 0 3 6 9; 3 and 9 have term 7 */
		for (size_t h = 0; h < n; h++) {
			unsigned row = (unsigned)atoi(hits[h].chunk_id + 24);
			CHECK_INT(row % 3, 0);
		}
		size_t all = run(&ix, q, qt, 1, hybrid, 16, NULL, 0, hits);
		CHECK_INT(run(&ix, q, qt, 1, hybrid, 16, both, 2, hits), all);
		CHECK_INT(run(&ix, q, qt, 1, hybrid, 16, other, 1, hits), 0);
		/* a limit under the allowed rows */
		CHECK_INT(run(&ix, q, qt, 1, hybrid, 1, only_b, 1, hits), 1);
		CHECK_INT(atoi(hits[0].chunk_id + 24) % 3, 0);
	}
	vindex_release(&ix);
}

/* ---- the index file ----------------------------------------------------------------------------------------- */

/* A random index: 16 dims, terms from a wide id range (both halves of the postings' radix sort matter). */
static void random_rows(struct vindex *ix, unsigned rows, unsigned seed, unsigned first);

static void random_index(struct vindex *ix, unsigned rows, unsigned seed)
{
	vindex_init(ix, 16);
	random_rows(ix, rows, seed, 1);
}

/* Appends rows with chunk numbers from first. */
static void random_rows(struct vindex *ix, unsigned rows, unsigned seed, unsigned first)
{
	static const char *docs[] = { DOC_A, DOC_B };
	srand(seed);
	for (unsigned i = 0; i < rows; i++) {
		float v[16];
		uint32_t tid[12];
		float tw[12];
		size_t nt = (size_t)(rand() % 12);
		for (int d = 0; d < 16; d++)
			v[d] = (float)(rand() % 2001 - 1000) / 1000.0f;
		vscan_normalize(v, 16);
		/* ascending, distinct ids: a step from 1 to 2^20 each */
		uint32_t at = (uint32_t)(rand() % 300);
		for (size_t t = 0; t < nt; t++) {
			at += 1 + (uint32_t)(rand() % 2 ? rand() % 40 : rand() % (1 << 20));
			tid[t] = at;
			tw[t] = (float)(rand() % 100 + 1) / 50.0f;
		}
		struct sparse sp = { .n = nt, .cap = nt, .idx = tid, .val = tw };
		char id[37];
		chunk_id(id, first + i);
		vindex_add(ix, id, docs[i % 2], (uint64_t)(first + i), v, &sp);
	}
}

/* Every kind of query, against a and b: the same hits, the same scores. */
static void same_results(const struct vindex *a, const struct vindex *b, unsigned seed)
{
	struct vstore_hit ha[20], hb[20];
	const char *only_a[] = { DOC_A };
	srand(seed);
	for (int k = 0; k < 40; k++) {
		float q[16];
		uint32_t qt[4];
		float qw[4] = { 1, 1, 1, 1 };
		for (int d = 0; d < 16; d++)
			q[d] = (float)(rand() % 2001 - 1000) / 1000.0f;
		vscan_normalize(q, 16);
		/* terms the rows have (taken from a random row), or none */
		size_t nqt = 0;
		size_t row = (size_t)rand() % (a->n ? a->n : 1);
		for (uint64_t u = a->n ? a->sp_off[row] : 0; a->n && u < a->sp_off[row + 1] && nqt < 4; u++)
			qt[nqt++] = a->sp_idx[u];
		struct vstore_query vq = { .account_id = 1, .dense = q, .sparse_idx = qt, .sparse_val = qw,
					   .sparse_n = nqt, .hybrid = k % 3 == 2 ? VINDEX_SPARSE_ONLY : k % 3,
					   .limit = 20, .prefetch = 30, .feedback = (size_t)(k % 4 == 1 ? 3 : 0),
					   .feedback_weight = 1.0 };
		if (k % 5 == 4) {
			vq.document_ids = only_a;
			vq.ndocument_ids = 1;
		}
		size_t na = vindex_search(a, &vq, ha), nb = vindex_search(b, &vq, hb);
		CHECK_INT(nb, na);
		for (size_t h = 0; h < na && h < nb; h++) {
			CHECK_STR(hb[h].chunk_id, ha[h].chunk_id);
			CHECK_NEAR(hb[h].score, ha[h].score, 0);
			CHECK_NEAR(hb[h].cosine, ha[h].cosine, 0);
			CHECK_NEAR(hb[h].coverage, ha[h].coverage, 0);
		}
	}
}

/* The keyword ranking from the inverted lists against BM25 computed row by row. */
static void sparse_matches_naive(const struct vindex *ix)
{
	struct vstore_hit hits[500];
	for (size_t row = 0; row < ix->n; row += 37) {
		uint32_t qt[3];
		float qw[3] = { 1, 0.5f, 2 };
		size_t nq = 0;
		for (uint64_t u = ix->sp_off[row]; u < ix->sp_off[row + 1] && nq < 3; u++)
			qt[nq++] = ix->sp_idx[u];
		if (!nq)
			continue;
		struct vstore_query vq = { .account_id = 1, .dense = ix->vecs, .sparse_idx = qt, .sparse_val = qw,
					   .sparse_n = nq, .hybrid = VINDEX_SPARSE_ONLY, .limit = 500 };
		size_t n = vindex_search(ix, &vq, hits), expect = 0;
		double best = -1;
		for (size_t i = 0; i < ix->n; i++) {
			double score = 0;
			int any = 0;
			for (size_t j = 0; j < nq; j++) {
				size_t df = 0;
				for (size_t r = 0; r < ix->n; r++)
					for (uint64_t u = ix->sp_off[r]; u < ix->sp_off[r + 1]; u++)
						df += ix->sp_idx[u] == qt[j];
				for (uint64_t u = ix->sp_off[i]; u < ix->sp_off[i + 1]; u++)
					if (ix->sp_idx[u] == qt[j]) {
						score += idf((double)ix->n, (double)df) * qw[j] * ix->sp_val[u];
						any = 1;
					}
			}
			expect += any;
			if (any && score > best)
				best = score;
		}
		CHECK_INT(n, expect);
		if (n)
			CHECK_NEAR(hits[0].score, best, 1e-9);
	}
}

/* An index in memory written whole. */
static int write_whole(struct vindex *ix, const char *path, const struct vindex_label *label, struct fs_error *e)
{
	vindex_prepare(ix);
	return vindex_write_merged(ix, NULL, NULL, path, label, 0600, e);
}

static void search_vindex_file_round_trip(void)
{
	char dir[] = "/tmp/faqsure-vix-XXXXXX", path[64], bad[80];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/a.index", dir);
	snprintf(bad, sizeof(bad), "%s/bad.index", dir);
	struct vindex mem, map;
	struct vindex_label label = { 7, 2, 123456789012345ULL }, got = { 0, 0, 0 };
	struct fs_error e = { 0 };
	random_index(&mem, 600, 11);
	sparse_matches_naive(&mem);
	CHECK_INT(write_whole(&mem, path, &label, &e), 0);
	CHECK_INT(vindex_map(&map, path, 16, &got, &e), 0);
	CHECK(map.map != NULL);
	CHECK_INT(got.generation, 7);
	CHECK_INT(got.epoch, 2);
	CHECK(got.stamp == 123456789012345ULL);
	CHECK_INT(map.n, 600);
	same_results(&mem, &map, 5);
	sparse_matches_naive(&map);

	/* the mapped file's kept rows written to a new file (replacing it) = vindex_retain in memory; the old
	 * mapping stays valid after the file is replaced */
	uint8_t keep[600];
	for (int i = 0; i < 600; i++)
		keep[i] = i % 3 != 0;
	vindex_retain(&mem, keep);
	struct vindex_label next = { 8, 2, label.stamp };
	CHECK_INT(vindex_write_merged(&map, keep, NULL, path, &next, 0600, &e), 0);
	CHECK_INT(map.n, 600); /* the old mapping still answers */
	struct vstore_hit h1[5];
	struct vstore_query vq = { .account_id = 1, .dense = map.vecs, .hybrid = 0, .limit = 5 };
	CHECK_INT(vindex_search(&map, &vq, h1), 5);
	vindex_release(&map);
	CHECK_INT(vindex_map(&map, path, 16, &got, &e), 0);
	CHECK_INT(got.generation, 8);
	CHECK_INT(map.n, 400);
	same_results(&mem, &map, 7);

	/* written merged (the mapped file's kept rows, then new ones) = retained and added in memory */
	struct vindex fresh, merged, *ref = &mem;
	uint8_t keep2[400];
	vindex_init(&fresh, 16);
	random_rows(&fresh, 90, 21, 1000);
	for (int i = 0; i < 400; i++)
		keep2[i] = i % 7 != 3;
	vindex_retain(ref, keep2);
	for (size_t i = 0; i < fresh.n; i++) {
		struct sparse sp = { .n = fresh.sp_off[i + 1] - fresh.sp_off[i], .idx = fresh.sp_idx + fresh.sp_off[i],
				     .val = fresh.sp_val + fresh.sp_off[i] };
		sp.cap = sp.n;
		vindex_add(ref, fresh.chunk_ids[i], fresh.doc_ids[i], fresh.seq[i], fresh.vecs + i * 16, &sp);
	}
	struct vindex_label third = { 9, 2, label.stamp };
	char mpath[80];
	snprintf(mpath, sizeof(mpath), "%s/merged.index", dir);
	CHECK_INT(vindex_write_merged(&map, keep2, &fresh, mpath, &third, 0600, &e), 0);
	CHECK_INT(vindex_map(&merged, mpath, 16, &got, &e), 0);
	CHECK_INT(got.generation, 9);
	CHECK_INT(merged.n, ref->n);
	CHECK_INT(merged.sp_len, ref->sp_len);
	same_results(ref, &merged, 8);
	sparse_matches_naive(&merged);
	/* all of base dropped, only new rows; and nothing at all */
	uint8_t none[400] = { 0 };
	vindex_release(&merged);
	CHECK_INT(vindex_write_merged(&map, none, &fresh, bad, &third, 0600, &e), 0);
	CHECK_INT(vindex_map(&merged, bad, 16, &got, &e), 0);
	same_results(&fresh, &merged, 9);
	vindex_release(&merged);
	CHECK_INT(vindex_write_merged(&map, none, NULL, bad, &third, 0600, &e), 0);
	CHECK_INT(vindex_map(&merged, bad, 16, &got, &e), 0);
	CHECK_INT(merged.n, 0);
	vindex_release(&merged);
	vindex_release(&fresh);
	unlink(mpath);

	/* an empty index */
	struct vindex empty;
	vindex_init(&empty, 16);
	CHECK_INT(write_whole(&empty, bad, &label, &e), 0);
	vindex_release(&empty);
	CHECK_INT(vindex_map(&empty, bad, 16, &got, &e), 0);
	CHECK_INT(empty.n, 0);
	CHECK_INT(vindex_search(&empty, &vq, h1), 0);
	vindex_release(&empty);

	/* what is refused: no file, vectors of another size, a partial file, offsets out of order */
	CHECK_INT(vindex_map(&empty, "/nonexistent/a.index", 16, &got, &e), FS_ENOTFOUND);
	CHECK_INT(vindex_map(&empty, path, 8, &got, &e), FS_EINVAL);
	FILE *in = fopen(path, "rb"), *out = fopen(bad, "wb");
	CHECK(in && out);
	char block[4096];
	size_t len = map.map_len, at = 0, k;
	while (at < len / 2 && (k = fread(block, 1, sizeof(block), in)) > 0) {
		fwrite(block, 1, k, out);
		at += k;
	}
	fclose(in);
	fclose(out);
	CHECK_INT(vindex_map(&empty, bad, 16, &got, &e), FS_EINVAL);
	CHECK(strstr(e.msg, "partial") != NULL);
	/* a whole file whose row offsets were changed */
	in = fopen(path, "rb");
	out = fopen(bad, "wb");
	while ((k = fread(block, 1, sizeof(block), in)) > 0)
		fwrite(block, 1, k, out);
	fclose(in);
	uint64_t big = UINT64_MAX / 2;
	fseek(out, (long)((const char *)&map.sp_off[5] - (const char *)map.map), SEEK_SET);
	fwrite(&big, sizeof(big), 1, out);
	fclose(out);
	CHECK_INT(vindex_map(&empty, bad, 16, &got, &e), FS_EINVAL);
	vindex_release(&map);
	vindex_release(&mem);
	unlink(path);
	unlink(bad);
	rmdir(dir);
}

/* ---- the score -------------------------------------------------------------------------------------------------- */

static void search_score_curve(void)
{
	struct config cfg;
	config_init(&cfg);
	double prev_row = -1;
	for (int c = -20; c <= 20; c++) {
		double cs = c / 20.0, prev = -1;
		for (int v = 0; v <= 10; v++) {
			double cov = v / 10.0, s = search_score(&cfg, cs, cov);
			if (!(s >= 0 && s <= 1)) {
				printf("    search_score(%g, %g) = %g, not in [0, 1]\n", cs, cov, s);
				check_failed = 1;
			}
			if (!(s > prev)) {
				printf("    search_score(%g, %g) = %g does not rise with coverage (before: %g)\n", cs, cov,
				       s, prev);
				check_failed = 1;
			}
			prev = s;
		}
		double s0 = search_score(&cfg, cs, 0.5);
		if (!(s0 > prev_row)) {
			printf("    search_score(%g, 0.5) = %g does not rise with cosine (before: %g)\n", cs, s0, prev_row);
			check_failed = 1;
		}
		prev_row = s0;
	}
	/* the ends: an identical passage scores high, an unrelated one low; 0.7 lies between */
	CHECK(search_score(&cfg, 1, 1) >= 0.9);
	CHECK(search_score(&cfg, 0, 0) < 0.7);
	CHECK(search_score(&cfg, 0.2, 0) < 0.7);
	/* the documented formula with the configured constants */
	double x = cfg.search_score_cosine_weight * 0.4 + cfg.search_score_coverage_weight * 0.5;
	CHECK_NEAR(search_score(&cfg, 0.4, 0.5), 1 / (1 + exp(-cfg.search_score_slope * (x - cfg.search_score_midpoint))),
		   1e-12);
	CHECK_NEAR(search_score(&cfg, 0, 0), 1 / (1 + exp(cfg.search_score_slope * cfg.search_score_midpoint)), 1e-12);
	config_release(&cfg);
}

const struct test_case search_cases[] = {
	{ "search_terms_stopwords_dropped", search_terms_stopwords_dropped },
	{ "search_terms_stems_match", search_terms_stems_match },
	{ "search_terms_all_stopwords_kept", search_terms_all_stopwords_kept },
	{ "search_terms_doc_vector_bm25", search_terms_doc_vector_bm25 },
	{ "search_sparse_blob_round_trip", search_sparse_blob_round_trip },
	{ "search_vscan_matches_naive", search_vscan_matches_naive },
	{ "search_vscan_ties_and_mask", search_vscan_ties_and_mask },
	{ "search_vindex_dense_ranking", search_vindex_dense_ranking },
	{ "search_vindex_bm25_rare_term_wins", search_vindex_bm25_rare_term_wins },
	{ "search_vindex_rrf_hybrid", search_vindex_rrf_hybrid },
	{ "search_vindex_retain", search_vindex_retain },
	{ "search_vindex_document_filter", search_vindex_document_filter },
	{ "search_vindex_file_round_trip", search_vindex_file_round_trip },
	{ "search_score_curve", search_score_curve },
	{ NULL, NULL },
};
