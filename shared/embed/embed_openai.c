/* The "openai" embedder: vectors from an OpenAI-compatible server (OpenAI, Ollama, llama.cpp, vLLM, LM Studio)
 * through POST {url}/embeddings, in batches of [embedder] batch_size. Wire format: OPENAI-COMPAT.md. Answers are
 * checked (count, indexes, dimensions, finite numbers) and re-normalised, since not every server normalises. */
#include "embed/embed.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/http.h"
#include "core/util.h"
#include "text/tokens.h"

#include "core/banned.h"

#define PROBE_TEXT "dimension probe"
/* Room for one number of a JSON answer ("-0.0123456789012345678, "), to size the answer cap. */
#define BYTES_PER_NUMBER 32
#define ANSWER_SLACK ((size_t)1 << 20)
#define ANSWER_MAX_UNKNOWN_DIMS ((size_t)64 << 20)

struct openai {
	struct embedder base;
	struct http_upstream up; /* {url}/embeddings */
	char *model;        /* as sent upstream */
	long long request_dims; /* sent as "dimensions" when > 0 */
	size_t batch;
	struct http_opts opts;
};

/* A text with nothing but whitespace gets the zero vector without asking the upstream (which may refuse empty
 * input). */
static int is_blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != '\f' && *s != '\v')
			return 0;
	return 1;
}

/* The request body for k texts. */
static char *request_body(const struct openai *o, const char *const *texts, const size_t *pos, size_t k,
			  size_t *len)
{
	json_t *req = json_object(), *input = json_array();
	char *s;

	for (size_t i = 0; i < k; i++)
		json_array_append_new(input, util_json_text(texts[pos[i]], strlen(texts[pos[i]])));
	json_object_set_new(req, "model", json_string(o->model));
	json_object_set_new(req, "input", input);
	json_object_set_new(req, "encoding_format", json_string("float"));
	if (o->request_dims > 0)
		json_object_set_new(req, "dimensions", json_integer(o->request_dims));
	s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!s) /* only on out of memory, or a model name that is not UTF-8 */
		return NULL;
	*len = strlen(s);
	return s;
}

/* Checks one answer for k texts and writes its vectors, ordered by index and L2-normalised, into *vecs
 * (k * dims floats, malloc'd). Learns the dimensions from the first vector when they are still 0. */
static int parse_answer(struct openai *o, json_t *root, size_t k, float **vecs, long long *usage,
			struct fs_error *e)
{
	json_t *data = json_object_get(root, "data"), *u;
	char *seen = NULL;
	float *v = NULL;
	size_t dims = o->base.dims;
	int rc = 0;

	*vecs = NULL;
	*usage = -1;
	if (!json_is_array(data)) {
		rc = fs_fail(e, FS_EUNAVAIL, "embedder upstream sent an answer without a \"data\" array");
		goto out;
	}
	if (json_array_size(data) != k) {
		rc = fs_fail(e, FS_EUNAVAIL, "embedder upstream sent %zu vectors for %zu texts", json_array_size(data),
			     k);
		goto out;
	}
	seen = xcalloc(k, 1);
	for (size_t i = 0; i < k; i++) {
		json_t *item = json_array_get(data, i), *ix, *emb;
		size_t at = i, len;

		if (!json_is_object(item) || !json_is_array(emb = json_object_get(item, "embedding"))) {
			rc = fs_fail(e, FS_EUNAVAIL, "embedder upstream sent an item without an \"embedding\" array");
			goto out;
		}
		ix = json_object_get(item, "index");
		if (ix) { /* order by index, not by position; servers that leave it out are taken in order */
			if (!json_is_integer(ix) || json_integer_value(ix) < 0 || (size_t)json_integer_value(ix) >= k) {
				rc = fs_fail(e, FS_EUNAVAIL, "embedder upstream sent an index outside 0..%zu", k - 1);
				goto out;
			}
			at = (size_t)json_integer_value(ix);
		}
		if (seen[at]) {
			rc = fs_fail(e, FS_EUNAVAIL, "embedder upstream sent index %zu twice", at);
			goto out;
		}
		seen[at] = 1;
		len = json_array_size(emb);
		if (dims == 0) {
			if (len == 0 || len > 65535) {
				rc = fs_fail(e, FS_EUNAVAIL, "embedder returned %zu dimensions", len);
				goto out;
			}
			dims = len;
		}
		if (len != dims) {
			rc = fs_fail(e, FS_EUNAVAIL, "embedder returned %zu dimensions, expected %zu", len, dims);
			goto out;
		}
		if (!v)
			v = xmalloc(k * dims * sizeof(float));
		double sum = 0;
		float *dst = v + at * dims;
		for (size_t d = 0; d < dims; d++) {
			json_t *num = json_array_get(emb, d);
			double x = json_number_value(num);
			if (!json_is_number(num) || !isfinite(x) || fabs(x) > FLT_MAX) {
				rc = fs_fail(e, FS_EUNAVAIL, "embedder upstream sent a vector with a value that"
							     " is not a finite number");
				goto out;
			}
			dst[d] = (float)x;
			sum += x * x;
		}
		if (sum > 0) {
			double norm = sqrt(sum);
			for (size_t d = 0; d < dims; d++)
				dst[d] = (float)(dst[d] / norm);
		}
	}
	o->base.dims = dims;
	u = json_object_get(root, "usage");
	if (json_is_integer(json_object_get(u, "prompt_tokens")))
		*usage = json_integer_value(json_object_get(u, "prompt_tokens"));
	else if (json_is_integer(json_object_get(u, "total_tokens")))
		*usage = json_integer_value(json_object_get(u, "total_tokens"));
	*vecs = v;
	v = NULL;
out:
	free(seen);
	free(v);
	return rc;
}

/* Embeds the k texts texts[pos[0..k)] in one request; vector i goes to out + pos[i] * dims (out may be NULL,
 * to only learn the dimensions). */
static int embed_batch(struct openai *o, const char *const *texts, const size_t *pos, size_t k, float *out,
		       long long *tokens, struct fs_error *e)
{
	const char *headers[4] = { "Content-Type: application/json", "Accept: application/json", NULL, NULL };
	struct http_response resp;
	struct http_opts opts = o->opts;
	struct fs_error he;
	json_t *root = NULL;
	float *vecs = NULL;
	long long usage;
	size_t len = 0;
	char *body;
	int rc;

	http_response_init(&resp);
	body = request_body(o, texts, pos, k, &len);
	if (!body) {
		rc = fs_fail(e, FS_EINTERNAL, "could not build the embeddings request");
		goto out;
	}
	headers[2] = o->up.auth_header;
	/* The answer may be as large as k vectors of printed numbers, and no larger. */
	opts.max_body = o->base.dims ? k * o->base.dims * BYTES_PER_NUMBER + ANSWER_SLACK : ANSWER_MAX_UNKNOWN_DIMS;
	fs_error_clear(&he);
	rc = http_request(o->up.http, "POST", o->up.endpoint, headers, body, len, &opts, &resp, &he);
	if ((rc = http_upstream_check(&o->up, rc, &he, &resp, e)) < 0)
		goto out;
	root = json_loadb(resp.body.ptr ? resp.body.ptr : "", resp.body.len, 0, NULL);
	if (!root || !json_is_object(root)) {
		rc = fs_fail(e, FS_EUNAVAIL, "embedder upstream sent malformed JSON (%s)",
			     root ? "not an object" : "it does not parse");
		goto out;
	}
	if ((rc = parse_answer(o, root, k, &vecs, &usage, e)) < 0)
		goto out;
	for (size_t i = 0; out && i < k; i++)
		memcpy(out + pos[i] * o->base.dims, vecs + i * o->base.dims, o->base.dims * sizeof(float));
	if (usage < 0) { /* no usage in the answer: price the texts ourselves */
		usage = 0;
		for (size_t i = 0; i < k; i++)
			usage += tokens_count(texts[pos[i]]);
	}
	*tokens += usage;
out:
	free(vecs);
	json_decref(root);
	free(body);
	http_response_release(&resp);
	return rc;
}

/* leads are not sent: the server's model reads each passage whole. */
static int openai_embed(struct embedder *em, const char *const *texts, const char *const *leads, size_t n,
			float *out, long long *tokens, struct fs_error *e)
{
	struct openai *o = (struct openai *)em;
	(void)leads;
	size_t *pos = xmalloc(o->batch * sizeof(size_t));
	int rc = 0;

	*tokens = 0;
	memset(out, 0, n * o->base.dims * sizeof(float));
	for (size_t at = 0; at < n && rc == 0;) {
		size_t k = 0;
		for (; at < n && k < o->batch; at++)
			if (!is_blank(texts[at]))
				pos[k++] = at;
		if (k)
			rc = embed_batch(o, texts, pos, k, out, tokens, e);
	}
	free(pos);
	return rc;
}

static void openai_free(struct embedder *em)
{
	struct openai *o = (struct openai *)em;
	http_upstream_release(&o->up);
	free(o->model);
	free(o);
}

static int openai_new(const struct config *cfg, struct embedder **out, struct fs_error *e)
{
	const char *url = cfg->embedder_url ? cfg->embedder_url : "";
	const char *model = cfg->embedder_model ? cfg->embedder_model : "";
	struct openai *o;
	int rc;

	*out = NULL;
	if (!*url || !*model)
		return fs_fail(e, FS_EINVAL, "[embedder] backend = openai needs url and model");
	o = xcalloc(1, sizeof(*o));
	o->base.ops = &embed_openai_ops;
	if ((rc = http_upstream_init(&o->up, url, "/embeddings", cfg->embedder_api_key, "embedder", e)) < 0) {
		free(o);
		return rc;
	}
	o->model = xstrdup(model);
	/* Recorded with every vector: printable ASCII only (the column is ASCII), cut to fit. */
	snprintf(o->base.model, sizeof(o->base.model), "openai:%s", model);
	for (char *p = o->base.model; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '_';
	o->request_dims = cfg->embedder_dimensions;
	o->base.dims = (size_t)cfg->embedder_dimensions;
	o->batch = cfg->embedder_batch_size > 0 ? (size_t)cfg->embedder_batch_size : 64;
	o->opts.timeout_ms = (long)cfg->embedder_timeout_ms;
	o->opts.max_retries = (int)cfg->embedder_max_retries;

	if (o->base.dims == 0) {
		/* Callers size their buffers by dims right after open, so ask the upstream once now. */
		const char *probe[1] = { PROBE_TEXT };
		size_t at = 0;
		long long ignored = 0;
		struct fs_error pe;
		fs_error_clear(&pe);
		rc = embed_batch(o, probe, &at, 1, NULL, &ignored, &pe);
		if (rc < 0) {
			rc = fs_fail(e, rc, "%s (while learning the vector size: [embedder] dimensions is 0)",
				     pe.msg);
			openai_free(&o->base);
			return rc;
		}
	}
	*out = &o->base;
	return 0;
}

const struct embed_ops embed_openai_ops = {
	.name = "openai",
	.new = openai_new,
	.embed = openai_embed,
	.free = openai_free,
};
