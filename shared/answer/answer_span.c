/* Answer spans (answer_span.h): sentences, candidates, their features, and the fitted models that score them. */
#include "answer/answer_span.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "embed/use_lite.h"
#include "text/terms.h"

#include "core/banned.h"

#define MAX_QTERMS 64

const char *const span_feature_names[SPAN_NFEATURES] = {
	[SF_BIAS] = "bias",
	[SF_SCORE] = "score",
	[SF_TOP] = "top",
	[SF_GAP] = "gap",
	[SF_QCOV] = "qcov",
	[SF_QCOV_PASSAGE] = "qcov_passage",
	[SF_QCOV_BEST] = "qcov_best",
	[SF_TYPE_MATCH] = "type_match",
	[SF_TYPE_MISS] = "type_miss",
	[SF_NOVELTY] = "novelty",
	[SF_LENGTH] = "length",
	[SF_SENTENCES] = "sentences",
	[SF_QUESTIONS] = "questions",
	[SF_QA] = "qa",
	[SF_LEAD] = "lead",
	[SF_FOCUS] = "focus",
	[SF_RARE] = "rare",
	[SF_SEM_SPAN] = "sem_span",
	[SF_SEM_BEST] = "sem_best",
	[SF_SEM_PASSAGE] = "sem_passage",
	[SF_META] = "meta",
	[SF_STEPS] = "steps",
	[SF_HEADING] = "heading",
};

/* The span model: log-odds that a candidate is a right answer, w . f (test/tune/answer_fit.py writes these). */
static const double span_weights[SPAN_NFEATURES] = {
	[SF_BIAS] = -7.6302,
	[SF_SCORE] = 1.8312,
	[SF_TOP] = 0.4565,
	[SF_GAP] = 3.0396,
	[SF_QCOV] = 1.3473,
	[SF_QCOV_PASSAGE] = 0.6266,
	[SF_QCOV_BEST] = 0.6906,
	[SF_TYPE_MATCH] = 0.5325,
	[SF_TYPE_MISS] = -0.2058,
	[SF_NOVELTY] = 0.1450,
	[SF_LENGTH] = 2.0149,
	[SF_SENTENCES] = 0.0724,
	[SF_QUESTIONS] = -1.1278,
	[SF_QA] = -0.1902,
	[SF_LEAD] = 0.1372,
	[SF_FOCUS] = -0.0687,
	[SF_RARE] = -0.1293,
	[SF_SEM_SPAN] = 1.3494,
	[SF_SEM_BEST] = 1.1115,
	[SF_SEM_PASSAGE] = 0.7437,
	[SF_META] = -0.2786,
	[SF_STEPS] = 0.4537,
	[SF_HEADING] = 0.4922,
};

/* The confidence model, over the best candidate: sigmoid(c0 + c1 z + c2 min(margin, SPAN_NO_RIVAL) + v . f), v
 * the weights of its own features (v[SF_BIAS] unused): what makes the best of a question's candidates right is
 * not only what makes one candidate better than another (test/tune/answer_fit.py writes these too). */
static const double calib[3] = { -1.7818, 1.0006, 0.2793 };
static const double calib_features[SPAN_NFEATURES] = {
	[SF_SCORE] = -0.4663,
	[SF_TOP] = -0.5120,
	[SF_GAP] = -0.4473,
	[SF_QCOV] = -0.3923,
	[SF_QCOV_PASSAGE] = -0.1642,
	[SF_QCOV_BEST] = 0.4437,
	[SF_TYPE_MATCH] = 0.4693,
	[SF_TYPE_MISS] = 0.5913,
	[SF_NOVELTY] = -0.0421,
	[SF_LENGTH] = 0.4534,
	[SF_SENTENCES] = 0.2787,
	[SF_QUESTIONS] = -0.5185,
	[SF_QA] = -0.5294,
	[SF_LEAD] = 0.6410,
	[SF_FOCUS] = -0.1160,
	[SF_RARE] = 0.4357,
	[SF_SEM_SPAN] = 0.4181,
	[SF_SEM_BEST] = 0.2505,
	[SF_SEM_PASSAGE] = 0.2944,
	[SF_META] = -0.1247,
	[SF_STEPS] = -0.4865,
	[SF_HEADING] = 0.2356,
};

enum qtype { QT_NONE, QT_NUMBER, QT_DATE, QT_NAME };

struct span_finder {
	struct terms *terms;
	struct use_model *model;
};

/* What is known of one sentence. */
struct sent {
	size_t start, end;
	double qcos; /* cosine of its sentence vector with the question's */
	uint64_t mask; /* which question terms it holds */
	int words, novel;
	int number, date, name, qmark, heading, step, meta, command;
};

struct question {
	uint32_t ids[MAX_QTERMS];
	double weight[MAX_QTERMS]; /* log((passages + 1) / (passages holding the term + 0.5)) */
	double total_weight;
	size_t n;
	enum qtype type;
	int procedure; /* it asks how to do something */
	char *lower; /* the question lower-cased, for "is this word the question's" */
	float vec[USE_DIMS]; /* its sentence vector */
};

int span_finder_new(struct span_finder **out, const char *model_path, struct fs_error *e)
{
	struct span_finder *sf = xcalloc(1, sizeof(*sf));
	int rc = terms_new(&sf->terms, e);
	if (rc < 0) {
		free(sf);
		return rc;
	}
	if ((rc = use_model_new(model_path, &sf->model, e)) < 0) {
		/* the server's own file: never the client's 404 or 400 */
		char why[sizeof(e->msg)];
		snprintf(why, sizeof(why), "%s", e ? e->msg : "");
		terms_free(sf->terms);
		free(sf);
		return fs_fail(e, FS_EINTERNAL, "%s ([answerer] sentence_model)", why);
	}
	*out = sf;
	return 0;
}

void span_finder_free(struct span_finder *sf)
{
	if (!sf)
		return;
	terms_free(sf->terms);
	use_model_free(sf->model);
	free(sf);
}

/* ---- the question ---- */

static int has_phrase(const char *lower, const char *phrase)
{
	size_t n = strlen(phrase);
	for (const char *p = strstr(lower, phrase); p; p = strstr(p + 1, phrase))
		if ((p == lower || !isalnum((unsigned char)p[-1])) && !isalnum((unsigned char)p[n]))
			return 1;
	return 0;
}

/* What kind of thing the question asks for, from its first question word. */
static enum qtype question_type(const char *lower)
{
	static const char *const number[] = { "how many", "how much", "how long", "how old", "how far", "how often",
					      "how big", "how large", "how tall", "how fast", "how high", "how deep",
					      "what percentage", "what percent", "what number", "what age" };
	static const char *const date[] = { "what year", "which year", "what date", "what time", "what century",
					    "what decade", "what day", "what month" };
	for (size_t i = 0; i < sizeof(number) / sizeof(number[0]); i++)
		if (has_phrase(lower, number[i]))
			return QT_NUMBER;
	for (size_t i = 0; i < sizeof(date) / sizeof(date[0]); i++)
		if (has_phrase(lower, date[i]))
			return QT_DATE;
	if (has_phrase(lower, "when"))
		return QT_DATE;
	if (has_phrase(lower, "who") || has_phrase(lower, "whom") || has_phrase(lower, "whose") ||
	    has_phrase(lower, "where"))
		return QT_NAME;
	return QT_NONE;
}

static void add_question_term(void *arg, const char *stem, size_t len, int sentence_break)
{
	struct question *q = arg;
	(void)sentence_break;
	uint32_t id = terms_id(stem, len);
	for (size_t i = 0; i < q->n; i++)
		if (q->ids[i] == id)
			return;
	if (q->n < MAX_QTERMS)
		q->ids[q->n++] = id;
}

static int question_term(const struct question *q, uint32_t id)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->ids[i] == id)
			return (int)i;
	return -1;
}

/* ---- sentence features ---- */

struct term_count {
	const struct question *q;
	uint64_t mask;
	int words, novel;
};

static void count_term(void *arg, const char *stem, size_t len, int sentence_break)
{
	struct term_count *tc = arg;
	(void)sentence_break;
	int k = question_term(tc->q, terms_id(stem, len));
	tc->words++;
	if (k >= 0)
		tc->mask |= (uint64_t)1 << k;
	else
		tc->novel++;
}

static uint64_t text_mask(struct terms *t, const struct question *q, const char *s, size_t len, int *words,
			  int *novel)
{
	struct term_count tc = { q, 0, 0, 0 };
	char *text = xstrndup(s, len);
	terms_each(t, text, count_term, &tc);
	free(text);
	if (words)
		*words = tc.words;
	if (novel)
		*novel = tc.novel;
	return tc.mask;
}

static int word_is(const char *w, size_t n, const char *const *list, size_t nlist)
{
	for (size_t i = 0; i < nlist; i++)
		if (strlen(list[i]) == n && !strncasecmp(w, list[i], n))
			return 1;
	return 0;
}

static const char *const number_words[] = { "one", "two", "three", "four", "five", "six", "seven", "eight",
					    "nine", "ten", "eleven", "twelve", "twenty", "thirty", "forty", "fifty",
					    "hundred", "hundreds", "thousand", "thousands", "million", "millions",
					    "billion", "dozen", "half", "twice", "once", "single", "double", "several" };
static const char *const date_words[] = { "january", "february", "march", "april", "may", "june", "july",
					  "august", "september", "october", "november", "december", "monday",
					  "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "century",
					  "centuries", "decade", "bc", "bce", "ad", "spring", "summer", "autumn",
					  "winter", "annually", "daily", "weekly", "monthly", "yearly" };
static const char *const function_caps[] = { "the", "a", "an", "in", "on", "at", "of", "it", "this", "that",
					      "these", "those", "he", "she", "they", "we", "you", "i", "his", "her",
					      "their", "its", "after", "before", "during", "when", "while", "if",
					      "as", "for", "but", "and", "or", "to", "from", "by", "with", "there" };

/* Numbers, dates and names in s[start, end): words and digits the question does not have. */
static void scan_evidence(const char *s, size_t start, size_t end, const struct question *q, struct sent *st)
{
	size_t i = start;
	int first = 1;
	while (i < end) {
		if (!isalnum((unsigned char)s[i])) {
			if (s[i] == '?')
				st->qmark = 1;
			i++;
			continue;
		}
		size_t b = i;
		while (i < end && (isalnum((unsigned char)s[i]) || ((s[i] == '.' || s[i] == ',') && i + 1 < end &&
								     isdigit((unsigned char)s[i + 1]) && isdigit((unsigned char)s[i - 1]))))
			i++;
		size_t n = i - b;
		char w[48];
		size_t wl = n < sizeof(w) - 1 ? n : sizeof(w) - 1;
		for (size_t k = 0; k < wl; k++)
			w[k] = (char)tolower((unsigned char)s[b + k]);
		w[wl] = '\0';
		int in_question = has_phrase(q->lower, w);
		if (isdigit((unsigned char)s[b])) {
			if (!in_question) {
				st->number = 1;
				/* a year: 3 or 4 digits from 100 to 2199, maybe with a decade's "s" */
				size_t d = 0;
				while (d < n && isdigit((unsigned char)s[b + d]))
					d++;
				long v = strtol(w, NULL, 10);
				if ((d == 4 || d == 3) && v >= 100 && v < 2200 && (d == n || (d + 1 == n && w[d] == 's')))
					st->date = 1;
				if (d < n && (!strcmp(w + d, "th") || !strcmp(w + d, "st") || !strcmp(w + d, "nd") ||
					      !strcmp(w + d, "rd")))
					st->date = st->date || (i + 1 < end && !strncasecmp(s + i + 1, "century", 7));
			}
		} else if (!in_question) {
			if (word_is(w, wl, number_words, sizeof(number_words) / sizeof(number_words[0])))
				st->number = 1;
			if (word_is(w, wl, date_words, sizeof(date_words) / sizeof(date_words[0])))
				st->date = 1;
			if (!first && isupper((unsigned char)s[b]) &&
			    !word_is(w, wl, function_caps, sizeof(function_caps) / sizeof(function_caps[0])))
				st->name = 1;
		}
		first = 0;
	}
}

static int popcount64(uint64_t m)
{
	int n = 0;
	for (; m; m &= m - 1)
		n++;
	return n;
}

static double weighted(const struct question *q, uint64_t m)
{
	double w = 0;
	for (size_t i = 0; i < q->n; i++)
		if (m & ((uint64_t)1 << i))
			w += q->weight[i];
	return q->total_weight > 0 ? w / q->total_weight : 0;
}

/* The answer part of a Q/A passage ("Q: …\nA: …" with metadata.question): its offset, or 0 when not one. */
static size_t qa_answer_at(const char *text, const json_t *metadata)
{
	const char *a = strstr(text, "\nA: ");
	if (strncmp(text, "Q: ", 3) != 0 || !a || !json_is_string(json_object_get(metadata, "question")))
		return 0;
	return (size_t)(a + 4 - text);
}

/* A chunk can start inside a sentence (the overlap with the chunk before it): the piece up to the first
 * sentence end is then a fragment. */
static int starts_fragment(const char *s, size_t start)
{
	unsigned char c = (unsigned char)s[start];
	if (c == '(' || c == '[' || c == '"' || c == '\'')
		c = (unsigned char)s[start + 1];
	return islower(c) || strchr(",;:)]", c) != NULL;
}

/* ... and end inside one: a last sentence that is long, has no closing punctuation and is no list line. */
static int ends_fragment(const char *s, const struct sent *st)
{
	char last = s[st->end - 1];
	return !st->heading && st->words >= 6 && !strchr(".!?:;\"')]", last) && !strchr("-*+|", s[st->start]);
}

/* A numbered step ("3. Open the link …", "2) …") or a list item ("- …"). */
static int is_step(const char *s, size_t start, size_t end)
{
	size_t i = start;
	if (i < end && strchr("-*+", s[i]) && i + 1 < end && s[i + 1] == ' ')
		return 1;
	while (i < end && isdigit((unsigned char)s[i]))
		i++;
	return i > start && i < end && (s[i] == '.' || s[i] == ')');
}

/* A sentence that speaks of the text itself rather than of its subject: "This page outlines how to…", "This
 * section describes…", "See above for…". */
static int is_meta(const char *s, size_t start, size_t end)
{
	static const char *const nouns[] = { "page", "pages", "guide", "document", "section", "chapter", "table",
					     "article", "appendix", "handbook", "memo", "memorandum", "tutorial",
					     "faq", "manual", "website", "site", "paragraph", "figure" };
	static const char *const refs[] = { "see above", "see below", "above for", "below for", "described above",
					    "described below", "discussed above", "discussed below" };
	size_t n = end - start < 400 ? end - start : 400;
	char lower[401];
	for (size_t i = 0; i < n; i++)
		lower[i] = (char)tolower((unsigned char)s[start + i]);
	lower[n] = '\0';
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++)
		if (has_phrase(lower, refs[i]))
			return 1;
	for (const char *p = strstr(lower, "this "); p; p = strstr(p + 1, "this ")) {
		if (p > lower && isalnum((unsigned char)p[-1]))
			continue;
		const char *w = p + 5;
		size_t wl = 0;
		while (isalpha((unsigned char)w[wl]))
			wl++;
		if (word_is(w, wl, nouns, sizeof(nouns) / sizeof(nouns[0])))
			return 1;
	}
	return 0;
}

/* A command line: "$ make", "# apachectl start", "C:\> …". */
static int is_command(const char *s, size_t start, size_t end)
{
	for (size_t i = start; i + 1 < end; i++)
		if ((i == start || s[i - 1] == '\n') && (s[i] == '$' || s[i] == '#' || s[i] == '>') && s[i + 1] == ' ')
			return 1;
	return 0;
}

static double sigmoid(double x)
{
	return 1.0 / (1.0 + exp(-x));
}

static double model_z(const double *f)
{
	double z = 0;
	for (int i = 0; i < SPAN_NFEATURES; i++)
		z += span_weights[i] * f[i];
	return z;
}

struct finding {
	struct span_result *out;
	double rival[SPAN_MAX_PASSAGES]; /* best z per passage */
	span_each_fn each;
	void *arg;
};

static void consider(struct finding *fd, const struct span_pick *c)
{
	if (fd->each)
		fd->each(fd->arg, c);
	if (c->z > fd->rival[c->source])
		fd->rival[c->source] = c->z;
	if (!fd->out->found || c->z > fd->out->best.z) {
		fd->out->found = 1;
		fd->out->best = *c;
	}
}

/* One passage as the candidates see it: its sentences and which question terms it holds. */
struct passage {
	size_t qa;            /* offset of a Q/A passage's answer, else 0 */
	struct sent *ss;
	size_t ns;
	uint64_t text_mask;   /* the terms of its text (a Q/A passage: question and answer) */
	uint64_t faq_mask;    /* ... of a Q/A passage's question */
	uint64_t heading_mask; /* ... of its section heading (metadata.section) */
	float *vecs;          /* ns sentence vectors, USE_DIMS floats each */
	double qcos;          /* cosine of the question's vector with the passage's (its sentences' mean) */
	double hcos;          /* ... with its heading's (heading_of), 0 without one */
};

/* ---- sentence vectors ---- */

/* What a passage's heading asks or names: a Q/A passage's question, else the last level of its section heading
 * ("Leave > Paid parental leave" -> "Paid parental leave"); NULL without one. */
static const char *heading_of(const json_t *metadata, size_t *len)
{
	const char *h = json_string_value(json_object_get(metadata, "question"));
	if (!h || !*h) {
		h = json_string_value(json_object_get(metadata, "section"));
		for (const char *p = h ? strstr(h, " > ") : NULL; p; p = strstr(h, " > "))
			h = p + 3;
	}
	if (!h || !*h)
		return NULL;
	*len = strlen(h);
	return h;
}

/* As kept with a chunk (chunks.sentences): SV_MAGIC, uint16 count, then per sentence uint32 start, uint32 end
 * (its bytes in the chunk's text), float32 scale and USE_DIMS int8 (component = scale · value); little-endian;
 * then, for a passage with a heading (heading_of), one more entry of the same shape for the heading, its start
 * the heading's hash (terms_id of its bytes: a kept vector is used only for the heading the passage has now) and
 * its end SV_HEADING. The magic carries SPAN_VECTORS_VERSION: vectors of another version
 * are computed again, not read. */
#define SV_STR2(v) #v
#define SV_STR(v) SV_STR2(v)
#define SV_MAGIC "SV" SV_STR(SPAN_VECTORS_VERSION) "\n" /* its first 4 bytes are compared */
_Static_assert(SPAN_VECTORS_VERSION > 0 && SPAN_VECTORS_VERSION < 100, "SV_MAGIC holds a version of two digits");
#define SV_HEAD 6
#define SV_ENTRY (12 + USE_DIMS)
#define SV_MAX 2000 /* sentences kept per chunk */
#define SV_HEADING 0xFFFFFFFFu

static double dot(const float *a, const float *b)
{
	double d = 0;
	for (size_t i = 0; i < USE_DIMS; i++)
		d += (double)a[i] * b[i];
	return d;
}

/* The vectors of the n sentences text[pos[i][0], pos[i][1]) as an answer would show them, into out. */
static void sentence_vectors(struct span_finder *sf, const char *text, size_t (*pos)[2], size_t n, float *out)
{
	struct buf *b = xcalloc(n ? n : 1, sizeof(*b));
	const char **texts = xcalloc(n ? n : 1, sizeof(*texts));
	size_t *lens = xcalloc(n ? n : 1, sizeof(*lens));
	for (size_t i = 0; i < n; i++) {
		buf_init(&b[i], BUF_NO_LIMIT);
		span_text(&b[i], text, pos[i][0], pos[i][1]);
		texts[i] = b[i].len ? b[i].ptr : "";
		lens[i] = b[i].len;
	}
	use_embed_many(sf->model, texts, lens, n, out);
	for (size_t i = 0; i < n; i++)
		buf_release(&b[i]);
	free(b);
	free(texts);
	free(lens);
}

/* The sentences of a passage, the one reading that both the stored vectors and the candidates use: of a Q/A
 * passage its answer (*qa: where that starts, else 0), of any other its whole text; [start, end) pairs of text into
 * *out (malloc'd); returns how many. */
static size_t passage_sentences(const char *text, const json_t *metadata, size_t *qa, size_t (**out)[2])
{
	*qa = qa_answer_at(text, metadata);
	size_t n = span_sentences(text + *qa, strlen(text) - *qa, out);
	for (size_t i = 0; i < n; i++) {
		(*out)[i][0] += *qa;
		(*out)[i][1] += *qa;
	}
	return n;
}

static void put_entry(struct buf *out, uint32_t start, uint32_t end, const float *v)
{
	float mx = 0;
	for (size_t j = 0; j < USE_DIMS; j++)
		mx = fabsf(v[j]) > mx ? fabsf(v[j]) : mx;
	float scale = mx > 0 ? mx / 127.0f : 1.0f;
	uint32_t se[2] = { start, end };
	int8_t qv[USE_DIMS];
	for (size_t j = 0; j < USE_DIMS; j++)
		qv[j] = (int8_t)lrintf(v[j] / scale);
	buf_add(out, se, sizeof(se));
	buf_add(out, &scale, sizeof(scale));
	buf_add(out, qv, sizeof(qv));
}

/* The unit vector of a kept entry into v. */
static void get_entry(const unsigned char *e, float *v)
{
	float scale;
	memcpy(&scale, e + 8, sizeof(scale));
	if (!isfinite(scale))
		scale = 0; /* a damaged row: a zero vector, which agrees with nothing */
	double norm = 0;
	for (size_t j = 0; j < USE_DIMS; j++) {
		v[j] = scale * (float)(int8_t)e[12 + j];
		norm += (double)v[j] * v[j];
	}
	float inv = norm > 0 ? (float)(1.0 / sqrt(norm)) : 0;
	for (size_t j = 0; j < USE_DIMS; j++)
		v[j] *= inv;
}

void span_passage_vectors(struct span_finder *sf, const char *text, const json_t *metadata, struct buf *out)
{
	size_t(*pos)[2], qa, hlen = 0;
	size_t n = passage_sentences(text, metadata, &qa, &pos);
	if (n > SV_MAX)
		n = SV_MAX;
	uint16_t count = (uint16_t)n;
	buf_add(out, SV_MAGIC, 4);
	buf_add(out, &count, 2);
	float *vecs = xcalloc(n ? n : 1, USE_DIMS * sizeof(float));
	sentence_vectors(sf, text, pos, n, vecs);
	for (size_t i = 0; i < n; i++)
		put_entry(out, (uint32_t)pos[i][0], (uint32_t)pos[i][1], vecs + i * USE_DIMS);
	const char *h = heading_of(metadata, &hlen);
	if (h) {
		float hv[USE_DIMS];
		use_embed(sf->model, h, hlen, hv);
		put_entry(out, terms_id(h, hlen), SV_HEADING, hv);
	}
	free(vecs);
	free(pos);
}

/* The passage's sentence vectors: those kept with its chunk when they are of these very sentences (pos, as
 * passage_sentences read them), else computed now (a chunk stored before sentence vectors were kept). */
static void passage_vectors(struct span_finder *sf, const struct question *q, const struct search_result *r,
			    size_t (*pos)[2], struct passage *pa)
{
	const unsigned char *b = r->sentences;
	size_t ns = pa->ns;
	pa->vecs = xcalloc(ns ? ns : 1, USE_DIMS * sizeof(float));
	uint16_t count = 0;
	int kept = b && r->sentences_len >= SV_HEAD && !memcmp(b, SV_MAGIC, 4);
	if (kept) {
		memcpy(&count, b + 4, 2);
		size_t body = SV_HEAD + (size_t)count * SV_ENTRY;
		kept = count == ns && (r->sentences_len == body || r->sentences_len == body + SV_ENTRY);
	}
	for (size_t i = 0; kept && i < ns; i++) {
		uint32_t se[2];
		memcpy(se, b + SV_HEAD + i * SV_ENTRY, sizeof(se));
		kept = se[0] == pos[i][0] && se[1] == pos[i][1];
	}
	if (!kept)
		sentence_vectors(sf, r->text, pos, ns, pa->vecs);
	float mean[USE_DIMS] = { 0 };
	for (size_t i = 0; i < ns; i++) {
		float *v = pa->vecs + i * USE_DIMS;
		if (kept)
			get_entry(b + SV_HEAD + i * SV_ENTRY, v);
		pa->ss[i].qcos = dot(q->vec, v);
		for (size_t j = 0; j < USE_DIMS; j++)
			mean[j] += v[j];
	}
	double norm = sqrt(dot(mean, mean));
	pa->qcos = norm > 0 ? dot(q->vec, mean) / norm : 0;
}

static void passage_read(struct span_finder *sf, const struct question *q, const struct search_result *r,
			 struct passage *pa)
{
	const char *text = r->text;
	size_t len = strlen(text);
	size_t(*pos)[2];
	memset(pa, 0, sizeof(*pa));
	pa->ns = passage_sentences(text, r->metadata, &pa->qa, &pos);
	pa->ss = xcalloc(pa->ns ? pa->ns : 1, sizeof(*pa->ss));
	for (size_t i = 0; i < pa->ns; i++) {
		struct sent *st = &pa->ss[i];
		st->start = pos[i][0];
		st->end = pos[i][1];
		st->mask = text_mask(sf->terms, q, text + st->start, st->end - st->start, &st->words, &st->novel);
		st->heading = st->end - st->start < 120 && !strchr(".!?:;,)\"'", text[st->end - 1]) &&
			      (st->end >= len || text[st->end] == '\n');
		scan_evidence(text, st->start, st->end, q, st);
		st->step = is_step(text, st->start, st->end);
		st->meta = is_meta(text, st->start, st->end);
		st->command = is_command(text, st->start, st->end);
		pa->text_mask |= st->mask;
	}
	passage_vectors(sf, q, r, pos, pa);
	free(pos);
	pa->faq_mask = pa->qa ? text_mask(sf->terms, q, text, pa->qa, NULL, NULL) : 0;
	pa->text_mask |= pa->faq_mask;
	const char *section = json_string_value(json_object_get(r->metadata, "section"));
	pa->heading_mask = section ? text_mask(sf->terms, q, section, strlen(section), NULL, NULL) : 0;
}

/* The heading vector kept with a passage's sentence vectors (span_passage_vectors) into v, when it is there and of
 * this heading; else 0. */
static int kept_heading(const struct search_result *r, const char *h, size_t hlen, float *v)
{
	const unsigned char *b = r->sentences;
	uint16_t count;
	if (!b || r->sentences_len < SV_HEAD + SV_ENTRY || memcmp(b, SV_MAGIC, 4))
		return 0;
	memcpy(&count, b + 4, 2);
	if (r->sentences_len != SV_HEAD + ((size_t)count + 1) * SV_ENTRY)
		return 0;
	const unsigned char *e = b + SV_HEAD + (size_t)count * SV_ENTRY;
	uint32_t se[2];
	memcpy(se, e, sizeof(se));
	if (se[1] != SV_HEADING || se[0] != terms_id(h, hlen))
		return 0;
	get_entry(e, v);
	return 1;
}

/* The cosine of the question's vector with each passage's heading (pa[p].hcos): the vector kept with the chunk,
 * else computed now (those of all the passages at once). */
static void passage_headings(struct span_finder *sf, const struct question *q, const struct search_result *src,
			     size_t np, struct passage *pa)
{
	const char *texts[SPAN_MAX_PASSAGES];
	size_t lens[SPAN_MAX_PASSAGES], of[SPAN_MAX_PASSAGES], n = 0;
	float v[USE_DIMS];
	for (size_t p = 0; p < np; p++) {
		pa[p].hcos = 0;
		if ((texts[n] = heading_of(src[p].metadata, &lens[n])) == NULL)
			continue;
		if (kept_heading(&src[p], texts[n], lens[n], v))
			pa[p].hcos = dot(q->vec, v);
		else
			of[n++] = p;
	}
	if (!n)
		return;
	float *vs = xmalloc(n * USE_DIMS * sizeof(float));
	use_embed_many(sf->model, texts, lens, n, vs);
	for (size_t i = 0; i < n; i++)
		pa[of[i]].hcos = dot(q->vec, vs + i * USE_DIMS);
	free(vs);
}

/* Every candidate of passage p (read into pa); best_hcos is the best heading agreement of the passages. */
static void passage_candidates(const struct question *q, const struct search_result *src, size_t n, size_t p,
			       const struct passage *pa, double best_hcos, struct finding *fd)
{
	const struct search_result *r = &src[p];
	const char *text = r->text;
	const struct sent *ss = pa->ss;
	size_t qa = pa->qa, ns = pa->ns;
	uint64_t faq_mask = pa->faq_mask, passage_mask = pa->text_mask | pa->heading_mask;
	uint64_t all = q->n >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << q->n) - 1), focus = all & ~pa->heading_mask;

	double best_other = 0;
	for (size_t k = 0; k < n && k < SPAN_MAX_PASSAGES; k++)
		if (k != p && src[k].score > best_other)
			best_other = src[k].score;
	double nq = q->n ? (double)q->n : 1;
	size_t first = !qa && ns > 1 && starts_fragment(text, ss[0].start);
	size_t last = ns; /* one past the last sentence a span may hold */
	if (!qa && ns > 1 && ends_fragment(text, &ss[ns - 1]))
		last = ns - 1;

	size_t room = 1;
	if (first < last) {
		room = util_utf8_chars(text + ss[first].start, ss[last - 1].end - ss[first].start);
		room = room < 1 ? 1 : room > SPAN_MAX_CHARS ? SPAN_MAX_CHARS : room;
	}
	for (size_t i = first; i < last; i++) {
		if (qa && i > 0)
			break; /* an FAQ's answer is read from its start */
		if (ss[i].heading && i + 1 < last)
			continue;
		uint64_t mask = faq_mask;
		int words = 0, novel = 0, best_cov = 0, number = 0, date = 0, name = 0, qmark = 0, steps = 0;
		int command = 0;
		float sum[USE_DIMS] = { 0 };
		double best_cos = -1;
		for (size_t k = 1; i + k <= last; k++) {
			const struct sent *st = &ss[i + k - 1];
			size_t chars = util_utf8_chars(text + ss[i].start, st->end - ss[i].start);
			/* an FAQ's answer and a run of steps or list items go on while they fit */
			int run_on = qa || (i + k < last && ss[i + k].step);
			if (chars > SPAN_MAX_CHARS || (k > SPAN_MAX_SENTENCES && !run_on && !ss[i + k - 1].step))
				break;
			mask |= st->mask;
			words += st->words;
			novel += st->novel;
			number |= st->number;
			date |= st->date;
			name |= st->name;
			qmark |= st->qmark;
			steps += st->step;
			command |= st->command;
			if (popcount64(st->mask) > best_cov)
				best_cov = popcount64(st->mask);
			const float *sv = pa->vecs + (i + k - 1) * USE_DIMS;
			for (size_t j = 0; j < USE_DIMS; j++)
				sum[j] += sv[j];
			if (st->qcos > best_cos)
				best_cos = st->qcos;
			double sum_norm = sqrt(dot(sum, sum));
			int evidence = q->type == QT_NUMBER ? number : q->type == QT_DATE ? date : q->type == QT_NAME ? name : 0;
			struct span_pick c = { .source = p, .start = ss[i].start, .end = st->end };
			c.f[SF_BIAS] = 1;
			c.f[SF_SCORE] = r->score;
			c.f[SF_TOP] = p == 0;
			c.f[SF_GAP] = r->score - best_other;
			c.f[SF_QCOV] = popcount64(mask) / nq;
			c.f[SF_QCOV_PASSAGE] = popcount64(passage_mask) / nq;
			c.f[SF_QCOV_BEST] = best_cov / nq;
			c.f[SF_TYPE_MATCH] = q->type != QT_NONE && evidence;
			c.f[SF_TYPE_MISS] = q->type != QT_NONE && !evidence;
			c.f[SF_NOVELTY] = words ? (double)novel / words : 0;
			c.f[SF_LENGTH] = (double)chars / (double)room;
			c.f[SF_SENTENCES] = (double)(k < SPAN_MAX_SENTENCES ? k : SPAN_MAX_SENTENCES) / SPAN_MAX_SENTENCES;
			c.f[SF_QUESTIONS] = qmark;
			c.f[SF_QA] = qa != 0;
			c.f[SF_LEAD] = i == 0;
			c.f[SF_FOCUS] = focus ? (double)popcount64(mask & focus) / popcount64(focus) : 1;
			c.f[SF_RARE] = weighted(q, mask);
			c.f[SF_SEM_SPAN] = sum_norm > 0 ? dot(q->vec, sum) / sum_norm : 0;
			c.f[SF_SEM_BEST] = best_cos;
			c.f[SF_SEM_PASSAGE] = pa->qcos;
			c.f[SF_META] = ss[i].meta;
			c.f[SF_STEPS] = q->procedure && (steps >= 2 || command);
			c.f[SF_HEADING] = pa->hcos - best_hcos;
			c.z = model_z(c.f);
			if (words == 0)
				continue; /* punctuation or a bare number */
			if (i + k < last && ss[i + k].step && (st->step || text[st->end - 1] == ':') &&
			    util_utf8_chars(text + ss[i].start, ss[i + k].end - ss[i].start) <= SPAN_MAX_CHARS)
				continue; /* the steps go on: a span never stops inside a list */
			consider(fd, &c);
		}
	}
}

void span_find(struct span_finder *sf, const char *question, const struct search_result *src, size_t n,
	       span_each_fn each, void *arg, struct span_result *out)
{
	struct question q = { .n = 0 };
	struct finding fd = { .out = out, .each = each, .arg = arg };
	memset(out, 0, sizeof(*out));
	q.lower = xstrdup(question);
	for (char *p = q.lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	q.type = question_type(q.lower);
	q.procedure = has_phrase(q.lower, "how do") || has_phrase(q.lower, "how can") || has_phrase(q.lower, "how to") ||
		      has_phrase(q.lower, "how should") || has_phrase(q.lower, "how does one") ||
		      has_phrase(q.lower, "what steps") || has_phrase(q.lower, "the steps") ||
		      has_phrase(q.lower, "instructions");
	use_embed(sf->model, question, strlen(question), q.vec);
	terms_each(sf->terms, question, add_question_term, &q);
	size_t np = n < SPAN_MAX_PASSAGES ? n : SPAN_MAX_PASSAGES;
	struct passage pa[SPAN_MAX_PASSAGES];
	int df[MAX_QTERMS] = { 0 };
	for (size_t p = 0; p < np; p++) {
		passage_read(sf, &q, &src[p], &pa[p]);
		for (size_t i = 0; i < q.n; i++)
			df[i] += (pa[p].text_mask >> i) & 1;
	}
	for (size_t i = 0; i < q.n; i++) {
		q.weight[i] = log(((double)np + 1) / (df[i] + 0.5));
		q.total_weight += q.weight[i];
	}
	for (size_t p = 0; p < SPAN_MAX_PASSAGES; p++)
		fd.rival[p] = -INFINITY;
	passage_headings(sf, &q, src, np, pa);
	double best_hcos = 0;
	for (size_t p = 0; p < np; p++)
		if (pa[p].hcos > best_hcos)
			best_hcos = pa[p].hcos;
	for (size_t p = 0; p < np; p++)
		passage_candidates(&q, src, n, p, &pa[p], best_hcos, &fd);
	if (out->found) {
		double rival = -INFINITY;
		for (size_t p = 0; p < n && p < SPAN_MAX_PASSAGES; p++)
			if (p != out->best.source && fd.rival[p] > rival)
				rival = fd.rival[p];
		out->margin = isfinite(rival) ? out->best.z - rival : SPAN_NO_RIVAL;
		if (out->margin > SPAN_NO_RIVAL)
			out->margin = SPAN_NO_RIVAL;
		double c = calib[0] + calib[1] * out->best.z + calib[2] * out->margin;
		for (int i = 1; i < SPAN_NFEATURES; i++)
			c += calib_features[i] * out->best.f[i];
		out->confidence = sigmoid(c);
	}
	for (size_t p = 0; p < np; p++) {
		free(pa[p].ss);
		free(pa[p].vecs);
	}
	free(q.lower);
}
