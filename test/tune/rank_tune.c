/* Offline retrieval tuning: runs an eval set (../shared/eval/<set>) through the same extraction, chunking,
 * embedding and ranking code as the service, in one process, and prints nDCG@10 / MRR@10 / R@5 / R@10 for the
 * dense, keyword and hybrid rankings, plus how cosines of relevant and irrelevant top-10 results are spread
 * (for calibrating similarity_score). `make eval` measures the real thing through the API; this is the fast
 * loop.
 * usage: rank-tune SET_DIR [max_queries]   (run from the repository: the sentence model is build/model's, or
 * SENTENCE_MODEL)
 * Knobs for experiments (environment): T_PRF / T_ALPHA feedback passages and weight (default: the config's),
 * T_RESCORE=1 orders dense and hybrid lists by similarity_score (search's dense order: then "dense" equals
 * make eval's figure), T_CT chunk target size, T_WS / T_K weighted RRF of the "wfused" line, T_HM ranking whose cosines are
 * histogrammed (0 dense, 2 hybrid), T_DUMP=1 prints "D rel cosine coverage nterms rank" per top-10 result (the
 * input of the score calibration), T_SCORE="cosine_weight coverage_weight midpoint slope" tries other
 * similarity_score constants. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "embed/embed.h"
#include "embed/use_lite.h"
#include "extract/extract.h"
#include "ingest/chunk.h"
#include "ingest/ingest.h"
#include "search/search.h"
#include "text/terms.h"
#include "vstore/vindex.h"
#include "vstore/vscan.h"

struct qrel {
	char q[64], d[64];
	int rel;
};

static struct qrel *qrels;
static size_t nqrels;

static int rel_of(const char *q, const char *d)
{
	for (size_t i = 0; i < nqrels; i++)
		if (!strcmp(qrels[i].q, q) && !strcmp(qrels[i].d, d))
			return qrels[i].rel;
	return 0;
}

static void load_qrels(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	if (!f || !fgets(line, sizeof(line), f)) {
		perror(path);
		exit(1);
	}
	size_t cap = 0;
	while (fgets(line, sizeof(line), f)) {
		if (nqrels == cap)
			qrels = realloc(qrels, (cap = cap ? cap * 2 : 1024) * sizeof(*qrels));
		struct qrel *r = &qrels[nqrels];
		if (sscanf(line, "%63s %63s %d", r->q, r->d, &r->rel) == 3)
			nqrels++;
	}
	fclose(f);
}

struct metrics {
	double ndcg, mrr, r5, r10;
	size_t n;
};

/* docs: ranked corpus ids (deduplicated), count n */
static void score_query(const char *qid, char (*docs)[64], size_t n, struct metrics *m)
{
	double dcg = 0, idcg = 0, mrr = 0;
	int gains[4096];
	size_t ng = 0, nrel = 0, f5 = 0, f10 = 0;
	for (size_t i = 0; i < nqrels; i++)
		if (!strcmp(qrels[i].q, qid) && qrels[i].rel > 0 && ng < 4096) {
			gains[ng++] = qrels[i].rel;
			nrel++;
		}
	if (!nrel)
		return;
	for (size_t i = 0; i < ng; i++) /* sort descending */
		for (size_t j = i + 1; j < ng; j++)
			if (gains[j] > gains[i]) {
				int t = gains[i];
				gains[i] = gains[j];
				gains[j] = t;
			}
	for (size_t i = 0; i < ng && i < 10; i++)
		idcg += (pow(2, gains[i]) - 1) / log2((double)i + 2);
	for (size_t i = 0; i < n && i < 10; i++) {
		int r = rel_of(qid, docs[i]);
		if (r > 0) {
			dcg += (pow(2, r) - 1) / log2((double)i + 2);
			if (!mrr)
				mrr = 1.0 / ((double)i + 1);
			f10++;
			if (i < 5)
				f5++;
		}
	}
	m->ndcg += dcg / idcg;
	m->mrr += mrr;
	m->r5 += (double)f5 / (double)nrel;
	m->r10 += (double)f10 / (double)nrel;
	m->n++;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char tmp[65536];
	size_t r;
	if (!f) {
		perror(path);
		exit(1);
	}
	buf_init(&b, BUF_NO_LIMIT);
	while ((r = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(&b, tmp, r);
	fclose(f);
	return buf_take(&b, NULL);
}

int main(int argc, char **argv)
{
	struct fs_error e = { 0 };
	struct config cfg;
	struct embedder *em;
	struct terms *tm;
	char path[1024];
	size_t maxq = argc > 2 ? (size_t)atol(argv[2]) : (size_t)-1;
	if (argc < 2) {
		fprintf(stderr, "usage: rank-tune SET_DIR [max_queries]\n");
		return 2;
	}
	config_init(&cfg);
	if (getenv("T_SCORE")) /* "cosine_weight coverage_weight midpoint slope" of similarity_score */
		sscanf(getenv("T_SCORE"), "%lf %lf %lf %lf", &cfg.search_score_cosine_weight,
		       &cfg.search_score_coverage_weight, &cfg.search_score_midpoint, &cfg.search_score_slope);
	free(cfg.answerer_sentence_model); /* the build's model unless SENTENCE_MODEL names another */
	cfg.answerer_sentence_model = xstrdup(getenv("SENTENCE_MODEL") ? getenv("SENTENCE_MODEL")
								  : "build/model/" USE_MODEL_FILE);
	if (embedder_new(&cfg, &em, &e) < 0 || terms_new(&tm, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/qrels.dev.tsv", argv[1]);
	load_qrels(path);

	struct vindex ix;
	struct chunk_opts copts;
	chunk_opts_default(&copts);
	if (getenv("T_CT")) {
		copts.target_chars = (size_t)atol(getenv("T_CT"));
		copts.max_chars = copts.target_chars * 3 / 2;
	}
	vindex_init(&ix, em->dims);
	char (*chunk_doc)[64] = NULL;
	size_t nchunks = 0;
	snprintf(path, sizeof(path), "%s/corpus.jsonl", argv[1]);
	char *corpus = read_file(path);
	float *vec = malloc(em->dims * sizeof(float));
	struct sparse sp;
	sparse_init(&sp);
	for (char *line = strtok(corpus, "\n"); line; line = strtok(NULL, "\n")) {
		json_t *j = json_loads(line, 0, NULL);
		const char *id = json_string_value(json_object_get(j, "_id"));
		const char *title = json_string_value(json_object_get(j, "title"));
		const char *text = json_string_value(json_object_get(j, "text"));
		struct buf body;
		char fname[128], mime[128];
		buf_init(&body, BUF_NO_LIMIT);
		if (title && *title)
			buf_addf(&body, "%s\n\n", title);
		buf_adds(&body, text ? text : "");
		snprintf(fname, sizeof(fname), "%s.txt", id);
		enum extract_kind kind = extract_detect(body.ptr, body.len, fname, mime, sizeof(mime));
		struct extract_doc doc;
		struct chunk *chunks;
		size_t n;
		if (extract_document(kind, body.ptr, body.len, NULL, &doc, &e) < 0 ||
		    chunk_document(&doc, &copts, &chunks, &n, &e) < 0) {
			fprintf(stderr, "%s: %s\n", id, e.msg);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			long long tok = 0;
			char *tp = ingest_embed_text(fname, chunks[i].section, chunks[i].text);
			char *lead = ingest_embed_lead(chunks[i].question, chunks[i].text);
			embedder_embed_passages(em, (const char *const *)&tp, (const char *const *)&lead, 1, vec, &tok, &e);
			free(lead);
			terms_doc_vector(tm, tp, &sp);
			char cid[37];
			snprintf(cid, sizeof(cid), "%036zu", nchunks);
			vindex_add(&ix, cid, "d", nchunks, vec, &sp);
			chunk_doc = realloc(chunk_doc, (nchunks + 1) * sizeof(*chunk_doc));
			snprintf(chunk_doc[nchunks++], 64, "%s", id);
			free(tp);
		}
		chunk_list_free(chunks, n);
		extract_doc_release(&doc);
		buf_release(&body);
		json_decref(j);
	}
	fprintf(stderr, "%zu chunks, %zu terms\n", nchunks, ix.sp_len);

	snprintf(path, sizeof(path), "%s/queries.dev.jsonl", argv[1]);
	char *queries = read_file(path);
	struct metrics m[4] = { 0 };
	const char *names[4] = { "dense", "bm25", "hybrid", "wfused" };
	/* cosine histogram of top-10 results: relevant vs not */
	long hist[2][41] = { 0 };
	size_t nq = 0;
	struct sparse qs;
	sparse_init(&qs);
	for (char *line = strtok(queries, "\n"); line && nq < maxq; line = strtok(NULL, "\n"), nq++) {
		json_t *j = json_loads(line, 0, NULL);
		const char *qid = json_string_value(json_object_get(j, "_id"));
		const char *text = json_string_value(json_object_get(j, "text"));
		long long tok = 0;
		embedder_embed(em, &text, 1, vec, &tok, &e);
		terms_query_vector(tm, text, &qs);
		struct vstore_hit saved[2][50];
		size_t nsaved[2] = { 0, 0 };
		for (int mode = 0; mode < 4; mode++) {
			/* feedback as search asks the store for it ([search] feedback_*, or T_PRF / T_ALPHA) */
			struct vstore_query q = { .dense = vec, .sparse_idx = qs.idx, .sparse_val = qs.val,
						  .sparse_n = qs.n, .hybrid = mode == 2, .limit = 50, .prefetch = 50,
						  .feedback = getenv("T_PRF") ? (size_t)atol(getenv("T_PRF"))
									 : (size_t)cfg.search_feedback_passages,
						  .feedback_weight = getenv("T_ALPHA") ? atof(getenv("T_ALPHA"))
										       : cfg.search_feedback_weight };
			struct vstore_hit hits[50];
			size_t nh;
			if (mode == 1)
				q.hybrid = VINDEX_SPARSE_ONLY;
			if (mode < 3) {
				nh = vindex_search(&ix, &q, hits);
			} else {
				double ws = getenv("T_WS") ? atof(getenv("T_WS")) : 1, kk = getenv("T_K") ? atof(getenv("T_K")) : 2;
				double w[2] = { 1, ws };
				nh = 0;
				for (int l = 0; l < 2; l++)
					for (size_t r = 0; r < nsaved[l]; r++) {
						size_t at = 0;
						while (at < nh && strcmp(hits[at].chunk_id, saved[l][r].chunk_id))
							at++;
						if (at == nh) {
							if (nh == 50)
								continue;
							hits[nh] = saved[l][r];
							hits[nh++].score = 0;
						}
						hits[at].score += 1.0 / (((double)r + 1) / w[l] + kk - 1);
					}
				for (size_t a = 0; a < nh; a++)
					for (size_t b2 = a + 1; b2 < nh; b2++)
						if (hits[b2].score > hits[a].score) {
							struct vstore_hit t = hits[a];
							hits[a] = hits[b2];
							hits[b2] = t;
						}
			}
			if (getenv("T_RESCORE") && (mode == 0 || mode == 2)) { /* order by similarity_score */
				for (size_t i = 0; i < nh; i++) {
					long row = atol(hits[i].chunk_id);
					size_t a0 = ix.sp_off[row], a1 = ix.sp_off[row + 1], found = 0;
					for (size_t t = 0; t < qs.n; t++)
						for (size_t u = a0; u < a1; u++)
							found += ix.sp_idx[u] == qs.idx[t];
					double cs = vscan_dot(ix.vecs + (size_t)row * ix.dims, vec, ix.dims);
					hits[i].score = search_score(&cfg, cs, qs.n ? (double)found / (double)qs.n : 0.0);
				}
				for (size_t a = 0; a < nh; a++)
					for (size_t b2 = a + 1; b2 < nh; b2++)
						if (hits[b2].score > hits[a].score) {
							struct vstore_hit t = hits[a];
							hits[a] = hits[b2];
							hits[b2] = t;
						}
			}
			if (mode < 2) {
				memcpy(saved[mode], hits, sizeof(hits));
				nsaved[mode] = nh;
			}
			char docs[50][64];
			size_t nd = 0;
			for (size_t i = 0; i < nh; i++) {
				const char *d = chunk_doc[atol(hits[i].chunk_id)];
				int dup = 0;
				for (size_t k = 0; k < nd; k++)
					dup |= !strcmp(docs[k], d);
				if (!dup)
					snprintf(docs[nd++], 64, "%s", d);
				if (mode == (getenv("T_HM") ? atoi(getenv("T_HM")) : 0) && !dup && nd <= 10) {
					int r = rel_of(qid, d) > 0;
					long row = atol(hits[i].chunk_id);
					double cs = vscan_dot(ix.vecs + (size_t)row * ix.dims, vec, ix.dims);
					if (getenv("T_DUMP")) { /* rel cos coverage nterms */
						size_t a0 = ix.sp_off[row], a1 = ix.sp_off[row + 1], found = 0;
						for (size_t t = 0; t < qs.n; t++)
							for (size_t u = a0; u < a1; u++)
								found += ix.sp_idx[u] == qs.idx[t];
						fprintf(stdout, "D %d %.4f %.4f %zu %zu\n", rel_of(qid, d), cs,
							qs.n ? (double)found / (double)qs.n : 0.0, qs.n, nd);
					}
					int b = (int)floor(cs * 40);
					hist[r][b < 0 ? 0 : b > 40 ? 40 : b]++;
				}
			}
			score_query(qid, docs, nd, &m[mode]);
		}
		json_decref(j);
	}
	for (int mode = 0; mode < 4; mode++)
		printf("%-7s nDCG@10 %.3f  MRR@10 %.3f  R@5 %.3f  R@10 %.3f  (%zu queries)\n", names[mode],
		       m[mode].ndcg / m[mode].n, m[mode].mrr / m[mode].n, m[mode].r5 / m[mode].n,
		       m[mode].r10 / m[mode].n, m[mode].n);
	printf("cosine of top-10 (dense): bucket  relevant  irrelevant\n");
	for (int b = 0; b <= 40; b++)
		if (hist[0][b] || hist[1][b])
			printf("  %.3f  %6ld  %6ld\n", b / 40.0, hist[1][b], hist[0][b]);
	return 0;
}
