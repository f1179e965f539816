/* The built-in embedder ("builtin", model "builtin-v3"): one vector that carries two signals, so that every
 * vector store ranks by both with one cosine.
 *   - Words (the first 1024 dimensions): signed feature hashing of stemmed words, the character 3/4-grams of
 *     each stem and stem bigrams. Why 1024: hashing collisions are the noise of this part. On the dev eval sets
 *     (test/tune/rank_tune.c) going from 384 to 1024 dimensions raised dense nDCG@10 from 0.637 to 0.673
 *     (stackfaq) and from 0.255 to 0.299 (nfcorpus); 2048 gained only 0.01 more for twice the memory.
 *   - Meaning (the last 512): the sentence vector of the Universal Sentence Encoder Lite (use_lite.h; the file
 *     [answerer] sentence_model names), which knows that "coronavirus" and "COVID-19" are one thing. A passage
 *     with a lead (embed.h: an FAQ entry's question, else its first line) gets the mean of its lead's vector
 *     and its whole text's: a question asked in other words lies close to the FAQ entry that asks it, and the
 *     model, which reads only the first 128 pieces of a text, never loses the entry's question.
 * Each part is unit length and weighs by the square root of its share (LEX_SHARE), so the cosine of two vectors
 * is LEX_SHARE × the words' cosine + (1 − LEX_SHARE) × the meaning's. A text without any word gets the zero
 * vector. Changing anything that moves a vector (features, weights, hash, stopwords, the shares, the sentence
 * model) needs a new model name and a reindex. */
#include "embed/embed.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "embed/use_lite.h"
#include "text/terms.h"
#include "text/tokens.h"

#include "core/banned.h"

#define LEX_DIMS 1024
#define BUILTIN_DIMS (LEX_DIMS + USE_DIMS)
#define BUILTIN_MODEL "builtin-v3"
/* The words' share of the cosine. On the dev sets (rank-tune, hybrid nDCG@10 covidfaq / stackfaq / nfcorpus):
 * 0.3 → 0.590 / 0.753 / 0.316, 0.5 → 0.637 / 0.779 / 0.327 (with leads), 0.7 → 0.608 / 0.777 / 0.334. */
#define LEX_SHARE 0.5

/* Weight of each feature class before the sublinear term frequency (1 + ln tf). Words carry the meaning;
 * a word has many n-grams, so each weighs less; bigrams reward phrases kept together. Tuned on the eval sets
 * (n-gram weights 0.25 to 0.8, bigram 0.4 to 1.0, 5-grams: within 0.01). */
#define WEIGHT_WORD 1.0f
#define WEIGHT_NGRAM 0.5f
#define WEIGHT_BIGRAM 0.7f

/* The class is hashed first, so the word "the" and the trigram "the" are different features. */
enum feat_class { FEAT_WORD = 1, FEAT_NGRAM, FEAT_BIGRAM };

/* One distinct feature of the text being embedded. key 0 marks a free slot. */
struct feat {
	uint64_t key;
	uint32_t tf;
	uint32_t cls;
};

/* Scratch space is kept between texts (one text at a time per process), so a steady workload allocates
 * nothing per text. */
struct builtin {
	struct embedder base;
	struct terms *terms;
	struct use_model *use;
	int have_prev;
	struct feat *tab; /* open addressing, cap a power of two, at most half full */
	size_t cap, used;
	struct buf word;  /* the current stem */
	struct buf gram;  /* "#word#" for n-grams */
	struct buf prev;  /* the previous content word's stem, for bigrams */
	size_t *bounds;   /* character starts in gram */
	size_t nbounds_cap;
};

/* 64-bit FNV-1a, then a final avalanche (the murmur3 finaliser) so that low and high bits are all well mixed:
 * the dimension comes from the high half and the sign from the lowest bit. */
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv_add(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t feat_key(enum feat_class cls, const void *a, size_t alen, const void *b, size_t blen)
{
	unsigned char c = (unsigned char)cls, sep = 0;
	uint64_t h = fnv_add(FNV_OFFSET, &c, 1);
	h = fnv_add(h, a, alen);
	if (b) {
		h = fnv_add(h, &sep, 1);
		h = fnv_add(h, b, blen);
	}
	h = mix64(h);
	return h ? h : 1;
}

static void tab_grow(struct builtin *b)
{
	size_t cap = b->cap ? b->cap * 2 : 1024;
	struct feat *t = xcalloc(cap, sizeof(*t));
	for (size_t i = 0; i < b->cap; i++) {
		if (!b->tab[i].key)
			continue;
		size_t j = b->tab[i].key & (cap - 1);
		while (t[j].key)
			j = (j + 1) & (cap - 1);
		t[j] = b->tab[i];
	}
	free(b->tab);
	b->tab = t;
	b->cap = cap;
}

static void add_feat(struct builtin *b, enum feat_class cls, const void *a, size_t alen, const void *s2,
		     size_t s2len)
{
	uint64_t key = feat_key(cls, a, alen, s2, s2len);
	if (2 * (b->used + 1) > b->cap)
		tab_grow(b);
	size_t j = key & (b->cap - 1);
	while (b->tab[j].key && b->tab[j].key != key)
		j = (j + 1) & (b->cap - 1);
	if (!b->tab[j].key) {
		b->tab[j].key = key;
		b->tab[j].cls = cls;
		b->used++;
	}
	b->tab[j].tf++;
}

/* Character 3- and 4-grams of "#word#" (by UTF-8 characters, so scripts without spaces get useful features
 * too; a word of one character gives just "#x#"). */
static void add_ngrams(struct builtin *b)
{
	size_t n = 0;
	buf_reset(&b->gram);
	buf_adds(&b->gram, "#");
	buf_add(&b->gram, b->word.ptr, b->word.len);
	buf_adds(&b->gram, "#");
	const char *g = b->gram.ptr;
	size_t len = b->gram.len;
	if (b->nbounds_cap < len + 1) {
		b->nbounds_cap = len + 1;
		b->bounds = xrealloc(b->bounds, b->nbounds_cap * sizeof(*b->bounds));
	}
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)g[i] & 0xC0) != 0x80)
			b->bounds[n++] = i;
	b->bounds[n] = len;
	for (size_t i = 0; i + 3 <= n; i++) {
		add_feat(b, FEAT_NGRAM, g + b->bounds[i], b->bounds[i + 3] - b->bounds[i], NULL, 0);
		if (i + 4 <= n)
			add_feat(b, FEAT_NGRAM, g + b->bounds[i], b->bounds[i + 4] - b->bounds[i], NULL, 0);
	}
}

/* One content word: the stem itself, its character n-grams, and the bigram with the previous word of the same
 * sentence. */
static void word_features(void *arg, const char *stem, size_t slen, int sentence_break)
{
	struct builtin *b = arg;
	add_feat(b, FEAT_WORD, stem, slen, NULL, 0);
	if (b->have_prev && !sentence_break)
		add_feat(b, FEAT_BIGRAM, b->prev.ptr, b->prev.len, stem, slen);
	buf_reset(&b->word);
	buf_add(&b->word, stem, slen);
	add_ngrams(b);
	buf_reset(&b->prev);
	buf_add(&b->prev, stem, slen);
	b->have_prev = 1;
}

static void text_features(struct builtin *b, const char *text)
{
	b->have_prev = 0;
	terms_each(b->terms, text, word_features, b);
}

static float class_weight(uint32_t cls)
{
	return cls == FEAT_WORD ? WEIGHT_WORD : cls == FEAT_NGRAM ? WEIGHT_NGRAM : WEIGHT_BIGRAM;
}

/* Projects the table into v[LEX_DIMS] (zeroed here) and clears the table for the next text. Each feature lands
 * in one dimension with a sign taken from its hash, so collisions cancel out on average instead of inflating
 * every inner product. Returns 0 when the text had no feature (v stays zero). */
static int project(struct builtin *b, float *v)
{
	double norm = 0;
	memset(v, 0, LEX_DIMS * sizeof(*v));
	for (size_t i = 0; i < b->cap && b->used; i++) {
		struct feat *f = &b->tab[i];
		if (!f->key)
			continue;
		float w = class_weight(f->cls) * (1.0f + logf((float)f->tf));
		size_t dim = (size_t)(((f->key >> 32) * BUILTIN_DIMS) >> 32);
		v[dim] += (f->key & 1) ? w : -w;
		memset(f, 0, sizeof(*f));
		b->used--;
	}
	for (size_t d = 0; d < LEX_DIMS; d++)
		norm += (double)v[d] * v[d];
	if (norm > 0) {
		float inv = (float)(sqrt(LEX_SHARE) / sqrt(norm));
		for (size_t d = 0; d < LEX_DIMS; d++)
			v[d] *= inv;
	}
	return norm > 0;
}

/* The texts' meaning parts: batches of texts and leads through the sentence model together. */
#define SEM_BATCH 64

static void meaning(struct builtin *b, const char *const *texts, const char *const *leads, size_t n,
		    const int *has_words, float *out)
{
	const char *in[2 * SEM_BATCH];
	size_t lens[2 * SEM_BATCH], at[2 * SEM_BATCH];
	/* sized for what is asked: a search's one query must not pay for a batch's room */
	float *vecs = xmalloc(2 * (n < SEM_BATCH ? n : SEM_BATCH) * USE_DIMS * sizeof(float));
	for (size_t start = 0; start < n; start += SEM_BATCH) {
		size_t end = start + SEM_BATCH < n ? start + SEM_BATCH : n, k = 0;
		for (size_t i = start; i < end; i++) {
			if (!has_words[i])
				continue;
			in[k] = texts[i];
			lens[k] = strlen(texts[i]);
			at[k++] = i;
			if (leads && leads[i] && *leads[i]) {
				in[k] = leads[i];
				lens[k] = strlen(leads[i]);
				at[k++] = i;
			}
		}
		if (k == 1) /* a query: use_embed remembers it for the answerer */
			use_embed(b->use, in[0], lens[0], vecs);
		else
			use_embed_many(b->use, in, lens, k, vecs);
		for (size_t j = 0; j < k;) {
			float *v = out + at[j] * BUILTIN_DIMS + LEX_DIMS;
			size_t parts = j + 1 < k && at[j + 1] == at[j] ? 2 : 1;
			double norm = 0;
			for (size_t d = 0; d < USE_DIMS; d++) {
				v[d] = vecs[j * USE_DIMS + d] + (parts == 2 ? vecs[(j + 1) * USE_DIMS + d] : 0.0f);
				norm += (double)v[d] * v[d];
			}
			float inv = norm > 0 ? (float)(sqrt(1.0 - LEX_SHARE) / sqrt(norm)) : 0.0f;
			for (size_t d = 0; d < USE_DIMS; d++)
				v[d] *= inv;
			j += parts;
		}
	}
	free(vecs);
}

static int builtin_embed(struct embedder *em, const char *const *texts, const char *const *leads, size_t n,
			 float *out, long long *tokens, struct fs_error *e)
{
	struct builtin *b = (struct builtin *)em;
	int *has_words = xcalloc(n, sizeof(*has_words));
	(void)e;
	for (size_t i = 0; i < n; i++) {
		text_features(b, texts[i]);
		has_words[i] = project(b, out + i * BUILTIN_DIMS);
		memset(out + i * BUILTIN_DIMS + LEX_DIMS, 0, USE_DIMS * sizeof(float));
		*tokens += tokens_count(texts[i]);
	}
	meaning(b, texts, leads, n, has_words, out);
	free(has_words);
	return 0;
}

static void builtin_free(struct embedder *em)
{
	struct builtin *b = (struct builtin *)em;
	if (!b)
		return;
	terms_free(b->terms);
	use_model_free(b->use);
	free(b->tab);
	free(b->bounds);
	buf_release(&b->word);
	buf_release(&b->gram);
	buf_release(&b->prev);
	free(b);
}

static int builtin_new(const struct config *cfg, struct embedder **out, struct fs_error *e)
{
	struct builtin *b;
	int rc = 0;

	*out = NULL;
	b = xcalloc(1, sizeof(*b));
	b->base.ops = &embed_builtin_ops;
	b->base.dims = BUILTIN_DIMS;
	snprintf(b->base.model, sizeof(b->base.model), "%s", BUILTIN_MODEL);
	buf_init(&b->word, BUF_NO_LIMIT);
	buf_init(&b->gram, BUF_NO_LIMIT);
	buf_init(&b->prev, BUF_NO_LIMIT);
	if ((rc = terms_new(&b->terms, e)) < 0)
		goto out;
	if ((rc = use_model_new(cfg && cfg->answerer_sentence_model ? cfg->answerer_sentence_model : "", &b->use, e)) < 0) {
		/* a missing or broken model file is the installation's fault, never a client's */
		char why[sizeof(e->msg)];
		snprintf(why, sizeof(why), "%s", e->msg);
		rc = fs_fail(e, FS_EINTERNAL, "%s ([answerer] sentence_model, which the built-in embedder reads)", why);
		goto out;
	}
	*out = &b->base;
out:
	if (rc < 0)
		builtin_free(&b->base);
	return rc;
}

const struct embed_ops embed_builtin_ops = {
	.name = "builtin",
	.local = 1,
	.new = builtin_new,
	.embed = builtin_embed,
	.free = builtin_free,
};
