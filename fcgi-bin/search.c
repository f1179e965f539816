/* search.fcgi — POST /api/v1/search: the knowledge base's passages for a query (search.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jfield.h"
#include "core/util.h"
#include "search/search.h"
#include "web/app.h"
#include "core/banned.h"

#define QUERY_MAX_CHARS 4000
#define MAX_DOCUMENT_IDS 100

static int read_params(json_t *body, struct search_params *p, const char ***doc_ids, struct fs_error *e)
{
	long long top_k = 5;
	int rc;
	memset(p, 0, sizeof(*p));
	if ((rc = jfield_text(body, "query", 1, QUERY_MAX_CHARS, &p->query, e)) < 0)
		return rc;
	if (rc == 0)
		return fs_fail(e, FS_EINVAL, "query is required: a non-empty string");
	if ((rc = jfield_int(body, "top_k", 1, SEARCH_MAX_TOP_K, &top_k, e)) < 0 ||
	    (rc = jfield_number(body, "similarity_threshold", 0, 1, &p->threshold, e)) < 0 ||
	    (rc = jfield_bool(body, "use_hybrid", &p->hybrid, e)) < 0)
		return rc;
	p->top_k = (int)top_k;
	json_t *ids = json_object_get(body, "document_ids");
	if (ids && !json_is_null(ids)) {
		size_t i;
		json_t *v;
		if (!json_is_array(ids) || json_array_size(ids) > MAX_DOCUMENT_IDS)
			return fs_fail(e, FS_EINVAL, "document_ids must be an array of at most %d document ids",
				       MAX_DOCUMENT_IDS);
		*doc_ids = xcalloc(json_array_size(ids) + 1, sizeof(**doc_ids));
		json_array_foreach(ids, i, v) {
			if (!json_is_string(v) || !util_is_uuid(json_string_value(v)))
				return fs_fail(e, FS_EINVAL, "document_ids[%zu] is not a document id", i);
			(*doc_ids)[i] = json_string_value(v);
		}
		p->document_ids = *doc_ids;
		p->ndocument_ids = json_array_size(ids);
		/* an empty list filters nothing in: no document matches it */
		if (!p->ndocument_ids)
			p->top_k = 0;
	}
	return 0;
}

static json_t *result_object(const struct search_result *r)
{
	/* four decimals: enough to compare, no false precision */
	double score = (double)(long long)(r->score * 10000.0 + 0.5) / 10000.0;
	return json_pack("{s:s, s:s, s:f, s:s, s:s, s:O}", "chunk_id", r->chunk_id, "text", r->text, "similarity_score",
			 score, "document_id", r->document_id, "document_filename", r->filename, "metadata",
			 r->metadata);
}

static int search(struct request *req, struct fs_error *e)
{
	double started = util_now_ms();
	json_t *body = NULL, *results;
	const char **doc_ids = NULL;
	struct search_params p;
	struct search_result *found = NULL;
	size_t n = 0;
	long long tokens = 0;
	int rc;

	if ((rc = req_json_body(req, &body, e)) < 0 || (rc = read_params(body, &p, &doc_ids, e)) < 0)
		goto out;
	if (p.top_k > 0 && (rc = search_run(req->state, req->db, req->key.account_id, &p, &found, &n, &tokens, e)) < 0)
		goto out;
	req->tokens_prompt = tokens;
	results = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(results, result_object(&found[i]));
	rc = req_reply(req, 200,
		       json_pack("{s:o, s:I, s:I}", "results", results, "count", (json_int_t)n, "processing_time_ms",
				 (json_int_t)(util_now_ms() - started + 0.5)));
out:
	search_results_free(found, n);
	free(doc_ids);
	json_decref(body);
	return rc;
}

static const struct route routes[] = {
	{ "POST", "/api/v1/search", search, 0 },
};

/* The state: the searcher (its embedder, vector store and caches), kept for the life of the process. */
static int init(const struct config *cfg, struct db *db, void **state, struct fs_error *e)
{
	struct searcher *s = xcalloc(1, sizeof(*s));
	int rc = searcher_init(s, cfg, db, e);
	if (rc < 0)
		free(s);
	else
		*state = s;
	return rc;
}

static void release(void *state)
{
	searcher_release(state);
	free(state);
}

int main(void)
{
	static const struct app_program program = { "search", routes, sizeof(routes) / sizeof(routes[0]), init,
						    release };
	return app_run(&program);
}
