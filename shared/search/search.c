/* The search pipeline (see search.h). */
#include "search/search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "kb/document.h"
#include "core/banned.h"

int searcher_init(struct searcher *s, const struct config *cfg, struct db *db, struct fs_error *e)
{
	int rc;
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	if ((rc = embedder_new(cfg, &s->em, e)) < 0 || (rc = terms_new(&s->terms, e)) < 0 ||
	    (rc = vstore_new(cfg, db, s->em->dims, &s->vs, e)) < 0) {
		searcher_release(s);
		return rc;
	}
	return 0;
}

void searcher_release(struct searcher *s)
{
	vstore_free(s->vs);
	terms_free(s->terms);
	embedder_free(s->em);
	memset(s, 0, sizeof(*s));
}

double search_score(const struct config *cfg, double cosine, double coverage)
{
	double x = cfg->search_score_cosine_weight * cosine + cfg->search_score_coverage_weight * coverage;
	return 1.0 / (1.0 + exp(-cfg->search_score_slope * (x - cfg->search_score_midpoint)));
}

void search_results_free(struct search_result *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].text);
		free(r[i].filename);
		free(r[i].sentences);
		json_decref(r[i].metadata);
	}
	free(r);
}

/* Best similarity_score first; equal ones by cosine, then chunk id. */
static int cmp_score(const void *a, const void *b)
{
	const struct search_result *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->cosine != y->cosine)
		return x->cosine > y->cosine ? -1 : 1;
	return strcmp(x->chunk_id, y->chunk_id);
}

/* Reads the kept results' passages (text, metadata, file name; their sentence vectors when asked). A result whose
 * chunk is gone (deleted after the store answered) is dropped. */
static int load_passages(struct db *db, long long account_id, int sentences, struct search_result *res, size_t *n,
			 struct fs_error *e)
{
	const char **ids = xcalloc(*n + 1, sizeof(*ids));
	for (size_t i = 0; i < *n; i++)
		ids[i] = res[i].chunk_id;
	struct db_res r;
	int rc = document_passages(db, account_id, ids, *n, sentences, &r, e);
	free(ids);
	if (rc < 0)
		return rc;
	size_t kept = 0;
	for (size_t h = 0; h < *n; h++) {
		for (size_t i = 0; i < r.nrows; i++) {
			if (strcmp(db_cell(&r, i, PASSAGE_ID), res[h].chunk_id))
				continue;
			struct search_result *o = &res[kept++];
			if (o != &res[h])
				*o = res[h];
			snprintf(o->document_id, sizeof(o->document_id), "%s", db_cell(&r, i, PASSAGE_DOCUMENT));
			o->text = xstrdup(db_cell(&r, i, PASSAGE_TEXT));
			o->metadata = json_loads(db_cell(&r, i, PASSAGE_METADATA), 0, NULL);
			if (!json_is_object(o->metadata)) {
				json_decref(o->metadata);
				o->metadata = json_object();
			}
			o->filename = xstrdup(db_cell(&r, i, PASSAGE_FILENAME));
			if (db_cell(&r, i, PASSAGE_SENTENCES)) {
				o->sentences_len = r.lens[i * r.ncols + PASSAGE_SENTENCES];
				o->sentences = xmalloc(o->sentences_len + 1);
				memcpy(o->sentences, db_cell(&r, i, PASSAGE_SENTENCES), o->sentences_len);
			}
			break;
		}
	}
	*n = kept;
	db_res_release(&r);
	return 0;
}

int search_run(struct searcher *s, struct db *db, long long account_id, const struct search_params *p,
	       struct search_result **out, size_t *n, long long *tokens, struct fs_error *e)
{
	size_t dims = s->em->dims, nhits = 0, nres = 0;
	size_t limit = (size_t)(p->top_k > 0 ? p->top_k : 5);
	float *q0 = xmalloc(dims * sizeof(float));
	struct vstore_hit *hits = xcalloc(SEARCH_PREFETCH, sizeof(*hits));
	struct search_result *res = NULL;
	struct sparse qterms;
	int rc;

	*out = NULL;
	*n = 0;
	*tokens = 0;
	sparse_init(&qterms);
	if (limit > SEARCH_MAX_TOP_K)
		limit = SEARCH_MAX_TOP_K;
	if ((rc = embedder_embed(s->em, &p->query, 1, q0, tokens, e)) < 0)
		goto out;
	terms_query_vector(s->terms, p->query, &qterms);
	struct vstore_query vq = {
		.account_id = account_id,
		.dense = q0,
		.sparse_idx = qterms.idx,
		.sparse_val = qterms.val,
		.sparse_n = qterms.n,
		.hybrid = p->hybrid,
		.limit = limit,
		.prefetch = SEARCH_PREFETCH,
		.document_ids = p->document_ids,
		.ndocument_ids = p->ndocument_ids,
		.score_dense = q0,
		.feedback = (size_t)s->cfg->search_feedback_passages,
		.feedback_weight = s->cfg->search_feedback_weight,
	};
	/* dense: the nearest passages, ordered by similarity_score; hybrid: the fused order as it is */
	if (!p->hybrid)
		vq.limit = limit > SEARCH_PREFETCH ? limit : SEARCH_PREFETCH;
	if ((rc = vstore_search(s->vs, &vq, hits, &nhits, e)) < 0 || nhits == 0)
		goto out;
	res = xcalloc(nhits, sizeof(*res));
	for (size_t i = 0; i < nhits; i++) {
		snprintf(res[i].chunk_id, sizeof(res[i].chunk_id), "%s", hits[i].chunk_id);
		res[i].cosine = hits[i].cosine;
		res[i].coverage = hits[i].coverage;
		/* rounded as shown, so the threshold and the shown scores agree */
		res[i].score = floor(search_score(s->cfg, hits[i].cosine, hits[i].coverage) * 10000.0 + 0.5) / 10000.0;
	}
	if (!p->hybrid)
		qsort(res, nhits, sizeof(*res), cmp_score);
	for (size_t i = 0; i < nhits && i < limit; i++)
		if (res[i].score >= p->threshold)
			res[nres++] = res[i];
	if (nres && (rc = load_passages(db, account_id, p->sentences, res, &nres, e)) < 0) {
		nres = 0;
		goto out;
	}
	*out = res;
	*n = nres;
	res = NULL;
out:
	/* The request was valid: a store or embedder that refuses (misconfigured, wrong dimensions until a reindex)
	 * is the service's problem, never the client's 400/404. */
	if (rc == FS_EINVAL || rc == FS_ENOTFOUND || rc == FS_EUNSUPPORTED)
		rc = FS_EUNAVAIL;
	free(res);
	free(hits);
	free(q0);
	sparse_release(&qterms);
	return rc;
}
