/* The built-in answerer: extractive and honest. It answers with text of the best source, verbatim:
 *   - a Q/A passage ("Q: …\nA: …", metadata.question set) answers with its answer;
 *   - any other passage answers with the run of 1 to 3 consecutive sentences that holds the most of the
 *     question's distinct terms (stemmed words, terms.h), widened by the next sentence when it is very short.
 * It never writes a word the knowledge base does not contain; with no source it cannot answer. Tokens are
 * counted with the built-in tokenizer: prompt = the question and the source it read, completion = the answer. */
#include "answer.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "terms.h"
#include "util.h"

#include "banned.h"

#define MAX_SENTENCES 3
#define SHORT_ANSWER_CHARS 80
#define MAX_ANSWER_CHARS 900
#define DELTA_WORDS 6

struct builtin_answerer {
	struct answerer base;
	struct terms *terms;
};

struct span {
	size_t start, end; /* [start, end) in the passage, trimmed */
};

static int builtin_open(struct answerer **out, const struct config *cfg, struct fs_error *e)
{
	(void)cfg;
	struct builtin_answerer *b = xcalloc(1, sizeof(*b));
	b->base.ops = &answer_builtin_ops;
	int rc = terms_new(&b->terms, e);
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
	terms_free(b->terms);
	free(b);
}

/* A line break ends a sentence when a blank line, a list item or a table row follows; inside a paragraph that was
 * wrapped it is a space. */
static int line_ends_sentence(const char *s, size_t len, size_t i)
{
	size_t j = i + 1;
	while (j < len && (s[j] == ' ' || s[j] == '\t'))
		j++;
	if (j >= len || s[j] == '\n' || s[j] == '\r' || strchr("-*+|#>", s[j]))
		return 1;
	while (j < len && isdigit((unsigned char)s[j]))
		j++;
	return j > i + 1 && j < len && (s[j] == '.' || s[j] == ')') && isdigit((unsigned char)s[j - 1]);
}

/* Where a sentence ends: after . ! ? (and closing quotes or brackets) followed by whitespace and then not a
 * lower-case letter ("e.g. this" goes on), unless the full stop ends a bare number ("1. Click"); or at a line
 * break that line_ends_sentence accepts. Returns the index just past the sentence. */
static size_t sentence_end(const char *s, size_t len, size_t i)
{
	size_t from = i;
	for (; i < len; i++) {
		if (s[i] == '\n') {
			if (line_ends_sentence(s, len, i))
				return i + 1;
			continue;
		}
		if (s[i] != '.' && s[i] != '!' && s[i] != '?')
			continue;
		size_t d = i;
		while (d > from && isdigit((unsigned char)s[d - 1]))
			d--;
		if (s[i] == '.' && d < i && (d == from || isspace((unsigned char)s[d - 1])))
			continue; /* a numbered step: "1." */
		size_t j = i + 1;
		while (j < len && strchr("\"')]", s[j]))
			j++;
		if (j >= len)
			return len;
		if (!isspace((unsigned char)s[j]))
			continue;
		size_t k = j;
		while (k < len && isspace((unsigned char)s[k]))
			k++;
		if (k < len && islower((unsigned char)s[k]))
			continue;
		return j;
	}
	return len;
}

/* A heading: a line without closing punctuation, standing alone before a blank line or a sentence. */
static int is_heading(const char *s, struct span sp)
{
	char last = s[sp.end - 1];
	return sp.end - sp.start < 120 && !strchr(".!?:;,)\"'", last) && !memchr(s + sp.start, '\n', sp.end - sp.start);
}

static struct span trim(const char *s, size_t start, size_t end)
{
	while (start < end && isspace((unsigned char)s[start]))
		start++;
	while (end > start && isspace((unsigned char)s[end - 1]))
		end--;
	return (struct span){ start, end };
}

/* The passage's sentences (non-empty, trimmed) into *out; returns how many. */
static size_t split_sentences(const char *s, size_t len, struct span **out)
{
	size_t n = 0, cap = 16, i = 0;
	*out = xmalloc(cap * sizeof(**out));
	while (i < len) {
		size_t end = sentence_end(s, len, i);
		struct span sp = trim(s, i, end);
		if (sp.end > sp.start) {
			if (n == cap)
				*out = xrealloc(*out, (cap *= 2) * sizeof(**out));
			(*out)[n++] = sp;
		}
		i = end;
	}
	return n;
}

/* How many of the question's terms (sorted ids) occur in s[start, end). */
static size_t covered(struct terms *t, const struct sparse *q, const char *s, size_t start, size_t end)
{
	struct sparse v;
	char *text = xstrndup(s + start, end - start);
	size_t hits = 0, i = 0, j = 0;
	sparse_init(&v);
	terms_query_vector(t, text, &v);
	while (i < q->n && j < v.n) {
		if (q->idx[i] == v.idx[j]) {
			hits++;
			i++;
			j++;
		} else if (q->idx[i] < v.idx[j]) {
			i++;
		} else {
			j++;
		}
	}
	sparse_release(&v);
	free(text);
	return hits;
}

/* The answer part of a Q/A passage, or NULL when the passage is not one. */
static const char *qa_answer(const struct search_result *src)
{
	const char *a = strstr(src->text, "\nA: ");
	if (strncmp(src->text, "Q: ", 3) != 0 || !a)
		return NULL;
	if (!json_is_string(json_object_get(src->metadata, "question")))
		return NULL;
	a += 4;
	while (isspace((unsigned char)*a))
		a++;
	return *a ? a : NULL;
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
		else if (newlines == 1 && line_ends_sentence(text, end, first_nl))
			buf_adds(out, "\n");
		else
			buf_adds(out, " ");
		i = j;
	}
}

/* 1 when the sentence is a numbered step ("3. Open the link …"). */
static int is_step(const char *s, struct span sp)
{
	size_t i = sp.start;
	while (i < sp.end && isdigit((unsigned char)s[i]))
		i++;
	return i > sp.start && i < sp.end && (s[i] == '.' || s[i] == ')');
}

/* The best run of sentences of text into out: the most question terms for its length (a run of k sentences
 * scores hits / (1 + 0.3 (k - 1))), not starting on a heading; widened while it is very short or while the
 * numbered steps it starts go on. */
static void best_sentences(struct terms *t, const char *question, const char *text, struct buf *out)
{
	struct sparse q;
	struct span *sent;
	size_t len = strlen(text), n = split_sentences(text, len, &sent);
	size_t best_i = 0, best_n = n ? 1 : 0;
	double best = 0;

	while (best_i + 1 < n && is_heading(text, sent[best_i]))
		best_i++;
	sparse_init(&q);
	terms_query_vector(t, question, &q);
	for (size_t i = 0; i < n; i++) {
		if (is_heading(text, sent[i]) && i + 1 < n)
			continue; /* an answer does not start with a heading */
		for (size_t k = 1; k <= MAX_SENTENCES && i + k <= n; k++) {
			size_t start = sent[i].start, end = sent[i + k - 1].end;
			if (k > 1 && end - start > MAX_ANSWER_CHARS)
				break;
			double score = (double)covered(t, &q, text, start, end) / (1.0 + 0.3 * (double)(k - 1));
			if (score > best) {
				best = score;
				best_i = i;
				best_n = k;
			}
		}
	}
	while (best_n && best_i + best_n < n &&
	       (sent[best_i + best_n - 1].end - sent[best_i].start < SHORT_ANSWER_CHARS ||
		is_step(text, sent[best_i + best_n])) &&
	       sent[best_i + best_n].end - sent[best_i].start <= MAX_ANSWER_CHARS)
		best_n++;
	if (best_n)
		add_unwrapped(out, text, sent[best_i].start, sent[best_i + best_n - 1].end);
	sparse_release(&q);
	free(sent);
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
	(void)e;
	out->tokens_from_upstream = 0;
	out->tokens_prompt = embed_count_tokens(in->question);
	if (!in->use_rag || in->nsources == 0) {
		out->cannot_answer = 1;
		return 0;
	}
	const struct search_result *best = &in->sources[0];
	out->tokens_prompt += embed_count_tokens(best->text);
	const char *qa = qa_answer(best);
	if (qa) {
		struct span sp = trim(qa, 0, strlen(qa));
		buf_add(&out->text, qa + sp.start, sp.end - sp.start);
	} else {
		best_sentences(b->terms, in->query ? in->query : in->question, best->text, &out->text);
	}
	if (out->text.len == 0) {
		out->cannot_answer = 1;
		return 0;
	}
	out->tokens_completion = embed_count_tokens(buf_str(&out->text));
	return delta ? stream_text(out->text.ptr, out->text.len, delta, arg) : 0;
}

const struct answer_ops answer_builtin_ops = {
	.name = "builtin",
	.open = builtin_open,
	.close = builtin_close,
	.answer = builtin_answer,
};
