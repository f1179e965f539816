/* Offline answer tuning: reads questions with their retrieved passages (one JSON object a line on stdin, as
 * `make eval` writes them with EVAL_OUT: {"qid", "question", "passages": [{"text", "score", "metadata"}]}) and
 * prints every candidate span the built-in answerer considers, one JSON object a line:
 *   {"qid", "source", "text", "z", "f": [features in span_feature order]}
 * then, per question, the chosen one: {"qid", "chosen": {"source", "text", "z", "margin", "confidence"}}.
 * test/tune/answer_fit.py labels the candidates with the gold answers and fits the span and confidence models.
 * usage: answer-tune SENTENCE_MODEL < questions.jsonl > candidates.jsonl */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/answer_span.h"
#include "core/util.h"
#include "search/search.h"

struct ctx {
	const char *qid;
	const struct search_result *src;
};

static void print_candidate(void *arg, const struct span_pick *c)
{
	struct ctx *x = arg;
	json_t *f = json_array();
	for (int i = 0; i < SPAN_NFEATURES; i++)
		json_array_append_new(f, json_real(c->f[i]));
	json_t *o = json_pack("{s:s, s:I, s:s%, s:f, s:o}", "qid", x->qid, "source", (json_int_t)c->source, "text",
			      x->src[c->source].text + c->start, c->end - c->start, "z", c->z, "f", f);
	char *line = json_dumps(o, JSON_COMPACT);
	puts(line);
	free(line);
	json_decref(o);
}

int main(int argc, char **argv)
{
	struct span_finder *sf;
	struct fs_error e = { 0 };
	char *line = NULL;
	size_t cap = 0;
	if (argc != 2) {
		fprintf(stderr, "usage: answer-tune SENTENCE_MODEL < questions.jsonl > candidates.jsonl\n");
		return 2;
	}
	if (span_finder_new(&sf, argv[1], &e) < 0) {
		fprintf(stderr, "answer-tune: %s\n", e.msg);
		return 1;
	}
	printf("{\"features\": [");
	for (int i = 0; i < SPAN_NFEATURES; i++)
		printf("%s\"%s\"", i ? ", " : "", span_feature_names[i]);
	printf("]}\n");
	while (getline(&line, &cap, stdin) > 0) {
		json_error_t je;
		json_t *q = json_loads(line, 0, &je);
		if (!q) {
			fprintf(stderr, "answer-tune: bad line: %s\n", je.text);
			return 1;
		}
		json_t *ps = json_object_get(q, "passages");
		size_t n = json_array_size(ps);
		struct search_result *src = xcalloc(n ? n : 1, sizeof(*src));
		for (size_t i = 0; i < n; i++) {
			json_t *p = json_array_get(ps, i);
			src[i].text = (char *)json_string_value(json_object_get(p, "text"));
			src[i].score = json_number_value(json_object_get(p, "score"));
			src[i].metadata = json_object_get(p, "metadata");
			if (!src[i].text)
				src[i].text = "";
		}
		struct ctx x = { json_string_value(json_object_get(q, "qid")), src };
		struct span_result r;
		span_find(sf, json_string_value(json_object_get(q, "question")), src, n, print_candidate, &x, &r);
		json_t *o = r.found ? json_pack("{s:s, s:{s:I, s:s%, s:f, s:f, s:f}}", "qid", x.qid, "chosen", "source",
						(json_int_t)r.best.source, "text", src[r.best.source].text + r.best.start,
						r.best.end - r.best.start, "z", r.best.z, "margin", r.margin, "confidence",
						r.confidence)
				    : json_pack("{s:s, s:n}", "qid", x.qid, "chosen");
		char *out = json_dumps(o, JSON_COMPACT);
		puts(out);
		free(out);
		json_decref(o);
		free(src);
		json_decref(q);
	}
	free(line);
	span_finder_free(sf);
	return 0;
}
