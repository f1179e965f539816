/* The sentence encoder (use_lite.h) against the npm package's own TF.js run: the same pieces and the same vectors
 * (test/data/use_lite/reference.jsonl, written by test/tune/use_reference.sh), many at once as one at a time, a
 * sense of meaning, and clear errors for a missing or foreign model file. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/buf.h"
#include "embed/use_lite.h"

#define REF_DIR "test/data/use_lite"

static struct use_model *model(void)
{
	static struct use_model *m;
	if (!m) {
		const char *path = getenv("FAQSURE_SENTENCE_MODEL");
		struct fs_error e = { 0 };
		if (use_model_new(path ? path : "build/model/" USE_MODEL_FILE, &m, &e) < 0)
			printf("    %s\n", e.msg);
	}
	return m;
}

static double cosine(const float *a, const float *b)
{
	double d = 0;
	for (int i = 0; i < USE_DIMS; i++)
		d += (double)a[i] * b[i];
	return d;
}

static void use_lite_matches_the_reference(void)
{
	struct use_model *m = model();
	CHECK(m != NULL);
	if (!m)
		return;
	FILE *texts = fopen(REF_DIR "/texts.jsonl", "r"), *refs = fopen(REF_DIR "/reference.jsonl", "r");
	CHECK(texts && refs);
	char *a = NULL, *b = NULL;
	size_t ca = 0, cb = 0;
	int n = 0;
	while (texts && refs && getline(&a, &ca, texts) > 0 && getline(&b, &cb, refs) > 0) {
		json_t *t = json_loads(a, 0, NULL), *r = json_loads(b, 0, NULL);
		const char *text = json_string_value(json_object_get(t, "text"));
		size_t len = json_string_length(json_object_get(t, "text"));
		json_t *pieces = json_object_get(r, "pieces"), *vec = json_object_get(r, "v");
		int ids[USE_MAX_PIECES];
		size_t np = use_tokenize(m, text, len, ids, USE_MAX_PIECES);
		CHECK_INT(np, json_array_size(pieces));
		for (size_t i = 0; i < np && i < USE_MAX_PIECES; i++)
			CHECK_INT(ids[i], json_integer_value(json_array_get(pieces, i)));
		float v[USE_DIMS], want[USE_DIMS];
		use_embed(m, text, len, v);
		CHECK_INT(json_array_size(vec), USE_DIMS);
		double worst = 0;
		for (int i = 0; i < USE_DIMS; i++) {
			want[i] = (float)json_number_value(json_array_get(vec, (size_t)i));
			worst = fmax(worst, fabs(v[i] - want[i]));
		}
		if (worst > 1e-4 || cosine(v, want) < 0.9999) {
			printf("    text %d: largest difference %g, cosine %.6f\n", n + 1, worst, cosine(v, want));
			check_failed = 1;
		}
		json_decref(t);
		json_decref(r);
		n++;
	}
	CHECK_INT(n, 6);
	free(a);
	free(b);
	if (texts)
		fclose(texts);
	if (refs)
		fclose(refs);
}

static void use_lite_many_at_once_equals_one_at_a_time(void)
{
	struct use_model *m = model();
	CHECK(m != NULL);
	if (!m)
		return;
	const char *texts[] = { "How many weeks of parental leave do I get?", "", "   ", "Ok.",
				"Send the form to the finance center by fax.", "é" };
	size_t lens[6];
	for (int i = 0; i < 6; i++)
		lens[i] = strlen(texts[i]);
	float many[6 * USE_DIMS], one[USE_DIMS];
	use_embed_many(m, texts, lens, 6, many);
	for (int i = 0; i < 6; i++) {
		use_embed(m, texts[i], lens[i], one);
		double d = 0;
		for (int j = 0; j < USE_DIMS; j++)
			d = fmax(d, fabs(one[j] - many[i * USE_DIMS + j]));
		CHECK(d < 1e-5);
		CHECK(fabs(cosine(one, one) - 1) < 1e-4); /* unit length, even for an empty text */
	}
	/* the remembered last text: asked again, and after another, each gets its own vector */
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 6; i++) {
			use_embed(m, texts[i], lens[i], one);
			CHECK(memcmp(one, many + i * USE_DIMS, sizeof(one)) == 0 || cosine(one, many + i * USE_DIMS) > 0.99999);
			use_embed(m, texts[i], lens[i], one);
			CHECK(cosine(one, many + i * USE_DIMS) > 0.99999);
		}
	use_embed(m, texts[0], lens[0] - 1, one); /* a prefix of the remembered text is another text */
	CHECK(cosine(one, many) < 0.99999);
}

static void use_lite_knows_what_sentences_mean(void)
{
	struct use_model *m = model();
	CHECK(m != NULL);
	if (!m)
		return;
	/* no word in common with the question, yet closer than a sentence on another subject that shares words */
	const char *q = "How much vacation time can I roll over into next year?";
	const char *same = "You can carry over a maximum of 240 annual leave hours.";
	const char *other = "Next year the time to roll out the new phone system is in spring.";
	float vq[USE_DIMS], vs[USE_DIMS], vo[USE_DIMS];
	use_embed(m, q, strlen(q), vq);
	use_embed(m, same, strlen(same), vs);
	use_embed(m, other, strlen(other), vo);
	CHECK(cosine(vq, vs) > cosine(vq, vo));
}

static void use_lite_refuses_missing_and_foreign_files(void)
{
	struct use_model *m = NULL;
	struct fs_error e = { 0 };
	CHECK_INT(use_model_new("/nonexistent/use-lite.bin", &m, &e), FS_ENOTFOUND);
	CHECK_CONTAINS(e.msg, "/nonexistent/use-lite.bin");
	CHECK(m == NULL);
	char path[] = "/tmp/faqsure-use-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	static const char junk[4096] = "FSUSE99\nnot a model";
	CHECK_INT(write(fd, junk, sizeof(junk)), sizeof(junk));
	close(fd);
	CHECK_INT(use_model_new(path, &m, &e), FS_EINVAL);
	CHECK_CONTAINS(e.msg, "not a sentence model file");
	CHECK(m == NULL);
	/* the real file's header with more pieces than the model has embeddings, then the real file cut short */
	const char *real = getenv("FAQSURE_SENTENCE_MODEL");
	FILE *in = fopen(real ? real : "build/model/" USE_MODEL_FILE, "rb");
	CHECK(in != NULL);
	if (in) {
		static char head[16];
		CHECK_INT(fread(head, 1, sizeof(head), in), sizeof(head));
		fclose(in);
		unsigned int pieces = 100000;
		memcpy(head + 8, &pieces, 4);
		FILE *out = fopen(path, "wb");
		fwrite(head, 1, sizeof(head), out);
		fwrite(junk, 1, sizeof(junk), out);
		fclose(out);
		CHECK_INT(use_model_new(path, &m, &e), FS_EINVAL);
		CHECK_CONTAINS(e.msg, "not a sentence model file");
		pieces = 8000;
		memcpy(head + 8, &pieces, 4);
		out = fopen(path, "wb");
		fwrite(head, 1, sizeof(head), out);
		fwrite(junk, 1, sizeof(junk), out);
		fclose(out);
		CHECK_INT(use_model_new(path, &m, &e), FS_EINVAL);
		CHECK_CONTAINS(e.msg, "cut short");
		CHECK(m == NULL);
	}
	unlink(path);
}

/* NFKC may make a character much longer (U+FDFA is 18 characters): a text of several is normalised all the
 * same, as the reference does, not read as unknown pieces. */
static void use_lite_normalises_long_expansions(void)
{
	struct use_model *m = model();
	CHECK(m != NULL);
	if (!m)
		return;
	const char *one = "\xef\xb7\xba", *four = "\xef\xb7\xba \xef\xb7\xba \xef\xb7\xba \xef\xb7\xba";
	int a[USE_MAX_PIECES], b[USE_MAX_PIECES];
	size_t na = use_tokenize(m, one, strlen(one), a, USE_MAX_PIECES);
	size_t nb = use_tokenize(m, four, strlen(four), b, USE_MAX_PIECES);
	CHECK(na > 5);
	CHECK(nb >= 4 * na);
	for (size_t i = 0; i < na && i < nb; i++)
		CHECK_INT(b[i], a[i]);
}

const struct test_case use_lite_cases[] = {
	{ "use_lite_matches_the_reference", use_lite_matches_the_reference },
	{ "use_lite_many_at_once_equals_one_at_a_time", use_lite_many_at_once_equals_one_at_a_time },
	{ "use_lite_knows_what_sentences_mean", use_lite_knows_what_sentences_mean },
	{ "use_lite_refuses_missing_and_foreign_files", use_lite_refuses_missing_and_foreign_files },
	{ "use_lite_normalises_long_expansions", use_lite_normalises_long_expansions },
	{ NULL, NULL },
};
