/* The built-in answerer: extractive and honest. It answers with the run of whole sentences of the retrieved
 * passages that its span model (answer_span.h) rates most likely to answer the question — from a Q/A passage,
 * its answer — verbatim but for the line breaks of wrapped paragraphs, and falls back when that likelihood (the
 * confidence) is under the threshold. It never writes a word the knowledge base does not contain. Tokens are
 * counted with the built-in tokenizer: prompt = the question and the passage answered from, completion = the answer. */
#include "answer/answer.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "answer/answer_span.h"
#include "core/util.h"
#include "text/tokens.h"

#include "core/banned.h"

#define DELTA_WORDS 6

struct builtin_answerer {
	struct answerer base;
	struct span_finder *spans;
};

static int builtin_new(const struct config *cfg, struct answerer **out, struct fs_error *e)
{
	struct builtin_answerer *b = xcalloc(1, sizeof(*b));
	b->base.ops = &answer_builtin_ops;
	int rc = span_finder_new(&b->spans, cfg->answerer_sentence_model, e);
	if (rc < 0) {
		free(b);
		return rc;
	}
	*out = &b->base;
	return 0;
}

static void builtin_free(struct answerer *a)
{
	struct builtin_answerer *b = (struct builtin_answerer *)a;
	span_finder_free(b->spans);
	free(b);
}

/* Passes the answer on in pieces of a few words, as an upstream model would stream it. */
static int stream_text(const char *s, size_t len, answer_delta_fn delta, void *arg)
{
	size_t i = 0;
	while (i < len) {
		size_t j = i, words = 0;
		while (j < len && words < DELTA_WORDS) {
			while (j < len && !isspace((unsigned char)s[j]))
				j++;
			while (j < len && isspace((unsigned char)s[j]))
				j++;
			words++;
		}
		int rc = delta(arg, s + i, j - i);
		if (rc)
			return rc < 0 ? rc : FS_EINTERNAL;
		i = j;
	}
	return 0;
}

static int builtin_answer(struct answerer *a, const struct answer_input *in, answer_delta_fn delta, void *arg,
			  struct answer_output *out, struct fs_error *e)
{
	struct builtin_answerer *b = (struct builtin_answerer *)a;
	struct span_result sr;
	(void)e;
	out->tokens_from_upstream = 0;
	out->tokens_prompt = tokens_count(in->question);
	out->confidence = 0;
	if (!in->use_rag || in->nsources == 0) {
		out->cannot_answer = 1;
		return 0;
	}
	span_find(b->spans, in->query ? in->query : in->question, in->sources, in->nsources, NULL, NULL, &sr);
	if (!sr.found) {
		out->cannot_answer = 1;
		return 0;
	}
	out->confidence = round(sr.confidence * 10000) / 10000; /* as the chat stores it */
	out->source = sr.best.source;
	out->tokens_prompt += tokens_count(in->sources[sr.best.source].text);
	if (out->confidence < in->threshold) { /* the figure the client sees decides */
		out->cannot_answer = 1;
		return 0;
	}
	span_text(&out->text, in->sources[sr.best.source].text, sr.best.start, sr.best.end);
	out->tokens_completion = tokens_count(buf_str(&out->text));
	return delta ? stream_text(out->text.ptr, out->text.len, delta, arg) : 0;
}

/* The question, the passage the answer is read from and the answer, a run of that passage's sentences (whose words
 * are the passage's: never more tokens): at most the question and twice the longest passage. */
static long long builtin_cost_bound(struct answerer *a, const struct answer_input *in)
{
	long long longest = 0;
	(void)a;
	for (size_t i = 0; in->use_rag && i < in->nsources; i++) {
		long long n = tokens_count(in->sources[i].text);
		longest = n > longest ? n : longest;
	}
	return tokens_count(in->question) + 2 * longest;
}

const struct answer_ops answer_builtin_ops = {
	.name = "builtin",
	.judges_passages = 1,
	.reads_sentences = 1,
	.new = builtin_new,
	.free = builtin_free,
	.answer = builtin_answer,
	.cost_bound = builtin_cost_bound,
};
