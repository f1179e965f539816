/* embed: the registry, the built-in tokenizer, and the built-in embedder's promises (deterministic, unit
 * length, zero for featureless text) and its quality floor (related texts beat unrelated ones, words that mean
 * the same meet, an FAQ entry's question counts). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/buf.h"
#include "core/config.h"
#include "embed/embed.h"
#include "embed/use_lite.h"
#include "text/tokens.h"

#define DIMS 1536 /* 1024 for words, 512 for meaning */

/* The build's sentence model (run from the repository), or FAQSURE_TEST_USE_MODEL. */
static struct embedder *open_builtin(struct config *cfg)
{
	struct embedder *em = NULL;
	struct fs_error e;
	const char *model = getenv("FAQSURE_TEST_USE_MODEL");
	config_init(cfg);
	free(cfg->answerer_sentence_model);
	cfg->answerer_sentence_model = xstrdup(model ? model : "build/model/" USE_MODEL_FILE);
	CHECK_INT(embedder_new(cfg, &em, &e), 0);
	return em;
}

static float dot(const float *a, const float *b)
{
	float s = 0;
	for (size_t i = 0; i < DIMS; i++)
		s += a[i] * b[i];
	return s;
}

/* Cosine of two texts' vectors (which are unit length, so their dot product). */
static float similarity(struct embedder *em, const char *x, const char *y)
{
	const char *texts[2] = { x, y };
	float v[2 * DIMS];
	struct fs_error e;
	if (embedder_embed(em, texts, 2, v, NULL, &e) != 0)
		return -2;
	return dot(v, v + DIMS);
}

static void embed_registry_unknown_backend(void)
{
	struct config cfg;
	struct embedder *em = (struct embedder *)&cfg;
	struct fs_error e;
	config_init(&cfg);
	CHECK_INT(config_parse(&cfg, "test.conf", "[embedder]\nbackend = word2vec\n", &e), 0);
	CHECK_INT(embedder_new(&cfg, &em, &e), FS_EINVAL);
	CHECK_STR(e.msg, "unknown embedder backend 'word2vec' (known: builtin, openai)");
	CHECK(em == NULL);
	config_release(&cfg);
}

static void embed_builtin_identity(void)
{
	struct config cfg;
	struct embedder *em = open_builtin(&cfg);
	if (em) {
		CHECK_STR(em->ops->name, "builtin");
		CHECK_INT(em->dims, DIMS);
		CHECK_STR(em->model, "builtin-v3");
	}
	embedder_free(em);
	embedder_free(NULL);
	config_release(&cfg);
}

static void embed_builtin_deterministic(void)
{
	struct config cfg, cfg2;
	struct embedder *a = open_builtin(&cfg), *b = open_builtin(&cfg2);
	const char *texts[3] = { "Per diem rates for Alaska, Hawaii and U.S. territories.",
				 "Sonstige Reisekosten werden erstattet.", "Per diem rates for Alaska, Hawaii and U.S. territories." };
	float v[3 * DIMS], w[DIMS];
	struct fs_error e;
	if (!a || !b)
		goto out;
	CHECK_INT(embedder_embed(a, texts, 3, v, NULL, &e), 0);
	CHECK(memcmp(v, v + 2 * DIMS, DIMS * sizeof(float)) == 0); /* same text in one batch */
	CHECK_INT(embedder_embed(b, texts + 2, 1, w, NULL, &e), 0);
	CHECK(memcmp(v, w, sizeof(w)) == 0); /* another embedder, after other texts */
	CHECK_INT(embedder_embed(a, texts + 1, 1, w, NULL, &e), 0);
	CHECK(memcmp(v + DIMS, w, sizeof(w)) == 0); /* alone and in a batch */
out:
	embedder_free(a);
	embedder_free(b);
	config_release(&cfg);
	config_release(&cfg2);
}

static void embed_builtin_unit_length(void)
{
	static const char *const texts[] = {
		"x",
		"How do I reset my password?",
		"Сотрудники получают возмещение разумных расходов.",
		"出張する社員は合理的な費用の払い戻しを受けられます。",
		"🚗🚕🚙 emoji ✈ and café crème brûlée",
		"what is this", /* only stopwords: they are used rather than give nothing */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"\xff\xfe invalid \xc3 UTF-8 \x80",
	};
	size_t n = sizeof(texts) / sizeof(texts[0]);
	struct config cfg;
	struct embedder *em = open_builtin(&cfg);
	float *v = calloc(n * DIMS, sizeof(float));
	struct fs_error e;
	if (em) {
		CHECK_INT(embedder_embed(em, (const char *const *)texts, n, v, NULL, &e), 0);
		for (size_t i = 0; i < n; i++) {
			float len = sqrtf(dot(v + i * DIMS, v + i * DIMS));
			if (fabsf(len - 1.0f) > 1e-5f) {
				printf("    text %zu \"%s\": length %f\n", i, texts[i], (double)len);
				check_failed = 1;
			}
		}
	}
	free(v);
	embedder_free(em);
	config_release(&cfg);
}

static void embed_builtin_featureless_is_zero(void)
{
	static const char *const texts[] = { "", "   \n\t ", "?! -- ..." };
	struct config cfg;
	struct embedder *em = open_builtin(&cfg);
	float v[3 * DIMS];
	long long tokens = -1;
	struct fs_error e;
	memset(v, 0x7f, sizeof(v));
	if (em) {
		CHECK_INT(embedder_embed(em, (const char *const *)texts, 3, v, &tokens, &e), 0);
		for (size_t i = 0; i < 3 * DIMS; i++)
			if (v[i] != 0.0f) {
				printf("    v[%zu] == %f, expected 0\n", i, (double)v[i]);
				check_failed = 1;
				break;
			}
		CHECK_INT(tokens, 7); /* the punctuation of the third text */
	}
	embedder_free(em);
	config_release(&cfg);
}

/* Pairs where the first two texts must be closer than the first and the third, by at least margin. */
static const struct {
	const char *query, *related, *unrelated;
	float margin;
} ranking_cases[] = {
	{ "How do I reset my password?", "To reset your password, click Forgot password", "Travel per diem rates for Alaska",
	  0.5f },
	{ "running shoes", "run shoe", "red apples", 0.4f },                       /* stemming */
	{ "paswword reset", "password reset", "travel expenses", 0.3f },          /* typo: n-grams */
	{ "What is the per diem in Anchorage?", "Per diem rates for Alaska cities including Anchorage and Juneau",
	  "How do I reset my password?", 0.3f },
	{ "vacation policy", "How many vacation days do employees get per year?",
	  "Reimbursement of travel expenses requires receipts", 0.1f },
	{ "возмещение расходов", "Сотрудники получают возмещение разумных расходов.", "Суточные зависят от города.",
	  0.2f }, /* non-English words hash consistently */
	/* no word in common: only the meaning part can tell */
	{ "where did coronavirus originate from", "COVID-19 was first seen in bats in a market in Wuhan",
	  "Our office closes at five on Fridays", 0.05f },
	{ "carry over annual leave", "Can I roll over vacation days into next year?", "Printer toner is in room 12",
	  0.05f },
};

static void embed_builtin_related_beats_unrelated(void)
{
	struct config cfg;
	struct embedder *em = open_builtin(&cfg);
	for (size_t i = 0; em && i < sizeof(ranking_cases) / sizeof(ranking_cases[0]); i++) {
		float rel = similarity(em, ranking_cases[i].query, ranking_cases[i].related);
		float unrel = similarity(em, ranking_cases[i].query, ranking_cases[i].unrelated);
		if (!(rel >= unrel + ranking_cases[i].margin)) {
			printf("    \"%s\": related %.3f, unrelated %.3f, wanted a margin of %.2f\n", ranking_cases[i].query,
			       (double)rel, (double)unrel, (double)ranking_cases[i].margin);
			check_failed = 1;
		}
	}
	embedder_free(em);
	config_release(&cfg);
}

/* A passage's lead (an FAQ entry's question) brings it closer to the same question in other words. */
static void embed_builtin_lead_brings_the_question_closer(void)
{
	struct config cfg;
	struct embedder *em = open_builtin(&cfg);
	const char *texts[2] = { "What are the symptoms of the virus?\nMost people have a fever, a dry cough and "
				 "tiredness; some lose taste or smell. Call your doctor before you go there.",
				 "which signs show that someone has caught the virus" };
	const char *leads[2] = { "What are the symptoms of the virus?", NULL };
	float with[2 * DIMS], without[2 * DIMS];
	struct fs_error e;
	if (em) {
		CHECK_INT(embedder_embed_passages(em, texts, leads, 2, with, NULL, &e), 0);
		CHECK_INT(embedder_embed(em, texts, 2, without, NULL, &e), 0);
		CHECK(memcmp(with + DIMS, without + DIMS, DIMS * sizeof(float)) == 0); /* no lead: the same */
		float a = dot(with, with + DIMS), b = dot(without, without + DIMS);
		if (!(a > b + 0.015f)) {
			printf("    with its lead %.3f, without %.3f\n", (double)a, (double)b);
			check_failed = 1;
		}
		float len = sqrtf(dot(with, with));
		CHECK(fabsf(len - 1.0f) < 1e-5f);
	}
	embedder_free(em);
	config_release(&cfg);
}

static void embed_builtin_without_its_model_is_a_server_error(void)
{
	struct config cfg;
	struct embedder *em = NULL;
	struct fs_error e;
	config_init(&cfg);
	free(cfg.answerer_sentence_model);
	cfg.answerer_sentence_model = xstrdup("/nonexistent/use-lite.bin");
	CHECK_INT(embedder_new(&cfg, &em, &e), FS_EINTERNAL);
	CHECK_CONTAINS(e.msg, "/nonexistent/use-lite.bin");
	CHECK_CONTAINS(e.msg, "[answerer] sentence_model");
	CHECK(em == NULL);
	config_release(&cfg);
}

static const struct {
	const char *text;
	long long tokens;
} token_cases[] = {
	{ "", 0 },
	{ " \n\t ", 0 },
	{ "Hello, world!", 4 },
	{ "reset-password2 now", 4 },
	{ "C++ 2.0", 6 },
	{ "café crème", 2 },
	{ "日本語のテキスト", 1 }, /* no spaces: one run of non-ASCII bytes */
	{ "Сотрудники получают", 2 },
};

static void tokens_count_cases(void)
{
	for (size_t i = 0; i < sizeof(token_cases) / sizeof(token_cases[0]); i++)
		CHECK_INT(tokens_count(token_cases[i].text), token_cases[i].tokens);
	CHECK_INT(tokens_count(NULL), 0);
}

static void embed_tokens_summed_and_arguments(void)
{
	struct config cfg;
	struct embedder *em = open_builtin(&cfg);
	const char *texts[3] = { "Hello, world!", "C++ 2.0", NULL };
	float v[3 * DIMS];
	long long tokens = -1;
	struct fs_error e;
	if (em) {
		CHECK_INT(embedder_embed(em, texts, 2, v, &tokens, &e), 0);
		CHECK_INT(tokens, 10);
		CHECK_INT(embedder_embed(em, texts, 0, v, &tokens, &e), 0);
		CHECK_INT(tokens, 0);
		CHECK_INT(embedder_embed(em, texts, 3, v, &tokens, &e), FS_EINVAL);
		CHECK_CONTAINS(e.msg, "text 2");
	}
	embedder_free(em);
	config_release(&cfg);
}

const struct test_case embed_cases[] = {
	{ "embed_registry_unknown_backend", embed_registry_unknown_backend },
	{ "embed_builtin_identity", embed_builtin_identity },
	{ "embed_builtin_deterministic", embed_builtin_deterministic },
	{ "embed_builtin_unit_length", embed_builtin_unit_length },
	{ "embed_builtin_featureless_is_zero", embed_builtin_featureless_is_zero },
	{ "embed_builtin_related_beats_unrelated", embed_builtin_related_beats_unrelated },
	{ "embed_builtin_lead_brings_the_question_closer", embed_builtin_lead_brings_the_question_closer },
	{ "embed_builtin_without_its_model_is_a_server_error", embed_builtin_without_its_model_is_a_server_error },
	{ "tokens_count_cases", tokens_count_cases },
	{ "embed_tokens_summed_and_arguments", embed_tokens_summed_and_arguments },
	{ NULL, NULL },
};
