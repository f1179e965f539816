/* The built-in answerer: extractive and honest. It answers with the run of whole sentences of the retrieved
 * passages that its span model (answer_span.h) rates most likely to answer the question — from a Q/A passage,
 * its answer — verbatim but for the line breaks of wrapped paragraphs, and falls back when that likelihood (the
 * confidence) is under the threshold. It never writes a word the knowledge base does not contain. Tokens are
 * counted with the built-in tokenizer: prompt = the question and the passage answered from, completion = the answer. */
#include "answer.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "answer_span.h"
#include "embed.h"
#include "util.h"

#include "banned.h"

#define DELTA_WORDS 6

struct builtin_answerer {
	struct answerer base;
	struct span_finder *spans;
};

static int builtin_open(struct answerer **out, const struct config *cfg, struct fs_error *e)
{
	(void)cfg;
	struct builtin_answerer *b = xcalloc(1, sizeof(*b));
	b->base.ops = &answer_builtin_ops;
	int rc = span_finder_new(&b->spans, e);
	if (rc < 0) {
		free(b);
		return rc;
	}
	*out = &b->base;
	return 0;
}

static void builtin_close(struct answerer *a)
{
	struct builtin_answerer *b = (struct builtin_answerer *)a;
	span_finder_free(b->spans);
	free(b);
}

/* A line break that ends a sentence: a blank line, a list item or a table row follows. */
static int line_break_kept(const char *s, size_t len, size_t i)
{
	size_t j = i + 1;
	while (j < len && (s[j] == ' ' || s[j] == '\t'))
		j++;
	if (j >= len || s[j] == '\n' || s[j] == '\r' || strchr("-*+|#>", s[j]))
		return 1;
	size_t d = j;
	while (d < len && isdigit((unsigned char)s[d]))
		d++;
	return d > j && d < len && (s[d] == '.' || s[d] == ')');
}

/* Adds text[start, end) to out with the line breaks of wrapped paragraphs turned into spaces (the words stay
 * verbatim; a paragraph break or a list's line break stays). */
static void add_unwrapped(struct buf *out, const char *text, size_t start, size_t end)
{
	size_t i = start;
	while (i < end) {
		if (!isspace((unsigned char)text[i])) {
			buf_add(out, text + i, 1);
			i++;
			continue;
		}
		size_t j = i, newlines = 0, first_nl = end;
		for (; j < end && isspace((unsigned char)text[j]); j++)
			if (text[j] == '\n' && newlines++ == 0)
				first_nl = j;
		if (newlines >= 2)
			buf_adds(out, "\n\n");
		else if (newlines == 1 && line_break_kept(text, end, first_nl))
			buf_adds(out, "\n");
		else
			buf_adds(out, " ");
		i = j;
	}
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
	out->tokens_prompt = embed_count_tokens(in->question);
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
	out->tokens_prompt += embed_count_tokens(in->sources[sr.best.source].text);
	if (sr.confidence < in->threshold) {
		out->cannot_answer = 1;
		return 0;
	}
	add_unwrapped(&out->text, in->sources[sr.best.source].text, sr.best.start, sr.best.end);
	out->tokens_completion = embed_count_tokens(buf_str(&out->text));
	return delta ? stream_text(out->text.ptr, out->text.len, delta, arg) : 0;
}

const struct answer_ops answer_builtin_ops = {
	.name = "builtin",
	.judges_passages = 1,
	.open = builtin_open,
	.close = builtin_close,
	.answer = builtin_answer,
};
