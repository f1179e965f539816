/* use-embed — the sentence encoder from the command line, for checks and tuning: each input line is a JSON
 * object {"id":…, "text":"…"}; each output line is {"id":…, "pieces":[…], "v":[512 floats]}. Lines are embedded
 * 64 at a time (use_embed_many), as the worker does a chunk's sentences.
 * usage: use-embed MODEL_FILE < in.jsonl > out.jsonl */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "embed/use_lite.h"

#include "core/banned.h"

#define LINES 64

static void flush(const struct use_model *m, json_t **in, size_t n)
{
	const char *texts[LINES];
	size_t lens[LINES];
	float *v = xmalloc((n ? n : 1) * USE_DIMS * sizeof(float));
	for (size_t i = 0; i < n; i++) {
		texts[i] = json_string_value(json_object_get(in[i], "text"));
		lens[i] = json_string_length(json_object_get(in[i], "text"));
	}
	use_embed_many(m, texts, lens, n, v);
	for (size_t i = 0; i < n; i++) {
		int ids[USE_MAX_PIECES];
		size_t np = use_tokenize(m, texts[i], lens[i], ids, USE_MAX_PIECES);
		json_t *out = json_object(), *pieces = json_array(), *vec = json_array();
		json_object_set(out, "id", json_object_get(in[i], "id"));
		for (size_t k = 0; k < np && k < USE_MAX_PIECES; k++)
			json_array_append_new(pieces, json_integer(ids[k]));
		for (int k = 0; k < USE_DIMS; k++)
			json_array_append_new(vec, json_real(v[i * USE_DIMS + k]));
		json_object_set_new(out, "pieces", pieces);
		json_object_set_new(out, "v", vec);
		char *s = json_dumps(out, JSON_COMPACT);
		puts(s);
		free(s);
		json_decref(out);
		json_decref(in[i]);
	}
	free(v);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: use-embed MODEL_FILE < in.jsonl\n");
		return 2;
	}
	struct use_model *m;
	struct fs_error e = { 0 };
	if (use_model_new(argv[1], &m, &e) < 0) {
		fprintf(stderr, "use-embed: %s\n", e.msg);
		return 1;
	}
	char *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;
	json_t *batch[LINES];
	while ((len = getline(&line, &cap, stdin)) > 0) {
		json_error_t je;
		json_t *in = json_loadb(line, (size_t)len, 0, &je);
		if (!json_is_string(json_object_get(in, "text"))) {
			json_decref(in);
			continue;
		}
		batch[n++] = in;
		if (n == LINES) {
			flush(m, batch, n);
			n = 0;
		}
	}
	flush(m, batch, n);
	free(line);
	use_model_free(m);
	return 0;
}
