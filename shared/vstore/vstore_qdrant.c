/* The "qdrant" vector store: every account's points in one Qdrant collection ([vector] qdrant_collection), each
 * carrying its account (a tenant index) and document, reached over Qdrant's REST API (/points/query; only fields
 * that Qdrant 1.16 to 1.20 all accept). Writes always wait (?wait=true), so a change can be searched once the call
 * returns; a server that cannot be reached is FS_EUNAVAIL and the outbox (vstore_sync) tries again. */
#include "vstore/vstore.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/http.h"
#include "vstore/vscan.h"

#include "core/banned.h"

#define DENSE_NAME "dense"
#define SPARSE_NAME "bm25"
/* Qdrant refuses request bodies over its max_request_size_mb, 32 MiB by default: upserts are cut below it. */
#define MAX_REQUEST_BODY ((size_t)32 << 20)
/* Hits asked for beyond the limit: Qdrant leaves equal scores in no particular order, so the ones at the cut are
 * fetched too and ordered here as in every backend (fused ties by cosine, then any tie by chunk id). */
#define TIE_MARGIN 16
/* Qdrant's messages quoted in ours are cut to this many bytes. */
#define UPSTREAM_MSG_MAX 200

struct qdrant {
	struct vstore base;
	struct http_client *http;
	struct http_opts opts;
	char *url;               /* {qdrant_url}/collections/{name} */
	const char *name;        /* the collection (the configuration's string) */
	char *key_header;        /* "api-key: ..." (a secret: never in a message or a log); NULL when none */
	const char *headers[3];  /* Content-Type, the key header, NULL */
	int ready;               /* the collection was seen with our dims and both payload indexes */
};

/* What Qdrant answered to one request that got an answer. */
struct answer {
	long status;
	json_t *result;              /* 2xx: the envelope's "result" (owned) */
	char error[UPSTREAM_MSG_MAX + 1]; /* otherwise: its message (status.error, or the plain-text body) */
};

static void answer_release(struct answer *a)
{
	json_decref(a->result);
	a->result = NULL;
}

/* Copies Qdrant's message for a failed request into a->error: the envelope's status.error, else the text of
 * the body (401s are plain text), printable ASCII only and cut short, and never the key. */
static void keep_message(struct qdrant *q, struct answer *a, const json_t *root, const struct buf *body)
{
	const char *msg = json_string_value(json_object_get(json_object_get(root, "status"), "error"));
	size_t n = 0;

	if (!msg)
		msg = buf_str(body);
	for (; *msg && n < UPSTREAM_MSG_MAX; msg++)
		a->error[n++] = (*msg >= 0x20 && *msg < 0x7f) ? *msg : ' ';
	while (n > 0 && a->error[n - 1] == ' ')
		n--;
	a->error[n] = '\0';
	if (q->key_header) {
		const char *key = q->key_header + strlen("api-key: ");
		char *at;
		if (*key)
			while ((at = strstr(a->error, key)) != NULL)
				memset(at, '*', strlen(key));
	}
	if (!a->error[0])
		snprintf(a->error, sizeof(a->error), "no message");
}

/* One request to {url}{suffix}. Returns 0 when Qdrant answered with a 2xx (a->result set) or a 4xx other than
 * 401/403/429 (a->status and a->error set; the caller decides), FS_EUNAVAIL when it could not be reached, was
 * overloaded or failing (429, 5xx) after http's retries, refused the key, or answered something unreadable. */
static int request(struct qdrant *q, const char *method, const char *suffix, const char *body, size_t len,
		   struct answer *a, struct fs_error *e)
{
	struct http_response resp;
	struct buf url;
	json_t *root = NULL;
	json_error_t jerr;
	char cause[sizeof(e->msg)];
	int rc;

	a->status = 0;
	a->result = NULL;
	a->error[0] = '\0';
	buf_init(&url, BUF_NO_LIMIT);
	buf_addf(&url, "%s%s", q->url, suffix);
	http_response_init(&resp);
	rc = http_request(q->http, method, buf_str(&url), q->headers, body, len, &q->opts, &resp, e);
	if (rc < 0) {
		snprintf(cause, sizeof(cause), "%s", e ? e->msg : "no answer");
		if (rc == FS_EINVAL) /* a URL libcurl cannot use: the configuration's fault, not the server's */
			rc = fs_fail(e, FS_EINVAL, "vector store: %s (check qdrant_url in [vector])", cause);
		else
			rc = fs_fail(e, FS_EUNAVAIL, "vector store unavailable: %s", cause);
		goto out;
	}
	a->status = resp.status;
	root = json_loadb(resp.body.ptr ? resp.body.ptr : "", resp.body.len, 0, &jerr);
	if (resp.status >= 200 && resp.status < 300) {
		json_t *result = json_object_get(root, "result");
		if (!result) {
			rc = fs_fail(e, FS_EUNAVAIL, "vector store unavailable: Qdrant at %s answered HTTP %ld "
				     "without a result", q->base.cfg->qdrant_url, resp.status);
			goto out;
		}
		a->result = json_incref(result);
		goto out;
	}
	keep_message(q, a, root, &resp.body);
	if (resp.status == 401 || resp.status == 403) {
		rc = fs_fail(e, FS_EUNAVAIL, q->key_header
			     ? "vector store unavailable: Qdrant refused the API key (HTTP %ld: %s); check "
			       "qdrant_api_key in [vector]"
			     : "vector store unavailable: Qdrant wants an API key (HTTP %ld: %s); set qdrant_api_key "
			       "in [vector]", resp.status, a->error);
	} else if (resp.status == 429 || resp.status >= 500 || resp.status < 200) {
		rc = fs_fail(e, FS_EUNAVAIL, "vector store unavailable: Qdrant answered HTTP %ld after %d attempt%s: %s",
			     resp.status, resp.attempts, resp.attempts == 1 ? "" : "s", a->error);
	}
out:
	json_decref(root);
	http_response_release(&resp);
	buf_release(&url);
	return rc;
}

/* The error for an answer the caller did not expect. */
static int refused(const struct answer *a, const char *what, struct fs_error *e)
{
	return fs_fail(e, a->status == 404 ? FS_ENOTFOUND : FS_EINVAL, "the vector store refused %s (HTTP %ld: %s)",
		       what, a->status, a->error);
}

static int send_json(struct qdrant *q, const char *method, const char *suffix, const json_t *body,
		     struct answer *a, struct fs_error *e)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(9));
	int rc;

	if (!text)
		return fs_fail(e, FS_EINTERNAL, "could not write a request for the vector store");
	rc = request(q, method, suffix, text, strlen(text), a, e);
	free(text);
	return rc;
}

/* --- the collection ------------------------------------------------------------------------------------- */

static int create_collection(struct qdrant *q, struct fs_error *e)
{
	struct answer a;
	json_t *body;
	int rc;

	body = json_pack("{s:{s:{s:I, s:s, s:b}}, s:{s:{s:s}}, s:{s:{s:s, s:f, s:b}}, s:{s:i, s:i}}",
			 "vectors", DENSE_NAME, "size", (json_int_t)q->base.dims, "distance", "Cosine", "on_disk", 1,
			 "sparse_vectors", SPARSE_NAME, "modifier", "idf",
			 "quantization_config", "scalar", "type", "int8", "quantile", 0.99, "always_ram", 1,
			 "hnsw_config", "m", 16, "ef_construct", 100);
	if (!body)
		return fs_fail(e, FS_EINTERNAL, "could not write a request for the vector store");
	rc = send_json(q, "PUT", "", body, &a, e);
	json_decref(body);
	if (rc < 0)
		return rc;
	/* 409: another process created it first; the caller looks at what it holds. */
	if (a.status != 200 && a.status != 409)
		rc = refused(&a, "to create the collection", e);
	answer_release(&a);
	return rc;
}

static int create_index(struct qdrant *q, const char *field, int tenant, struct fs_error *e)
{
	struct answer a;
	json_t *body;
	int rc;

	if (tenant)
		body = json_pack("{s:s, s:{s:s, s:b}}", "field_name", field, "field_schema", "type", "keyword",
				 "is_tenant", 1);
	else
		body = json_pack("{s:s, s:s}", "field_name", field, "field_schema", "keyword");
	if (!body)
		return fs_fail(e, FS_EINTERNAL, "could not write a request for the vector store");
	rc = send_json(q, "PUT", "/index?wait=true", body, &a, e);
	json_decref(body);
	if (rc == 0 && a.status != 200)
		rc = refused(&a, "to create a payload index", e);
	answer_release(&a);
	return rc;
}

/* Makes sure the collection exists with our vector size and both payload indexes; creates what is missing.
 * Two processes may do this at once: a 409 on create and indexes created twice are both fine. */
static int ensure(struct qdrant *q, struct fs_error *e)
{
	struct answer a = { 0 };
	const json_t *params, *dense, *schema;
	json_int_t size;
	int rc;

	if (q->ready)
		return 0;
	rc = request(q, "GET", "", NULL, 0, &a, e);
	if (rc == 0 && a.status == 404) {
		rc = create_collection(q, e);
		if (rc == 0)
			rc = request(q, "GET", "", NULL, 0, &a, e);
	}
	if (rc < 0)
		goto out;
	if (a.status != 200) {
		rc = refused(&a, "to describe the collection", e);
		goto out;
	}
	params = json_object_get(json_object_get(a.result, "config"), "params");
	dense = json_object_get(json_object_get(params, "vectors"), DENSE_NAME);
	size = json_integer_value(json_object_get(dense, "size"));
	if (!dense || !json_object_get(json_object_get(params, "sparse_vectors"), SPARSE_NAME)) {
		rc = fs_fail(e, FS_EINVAL, "the Qdrant collection '%s' was not made by FAQSure (no '%s' and '%s' "
			     "vectors): run `faqsurectl reindex` to recreate it, or set another qdrant_collection in "
			     "[vector]", q->name, DENSE_NAME, SPARSE_NAME);
		goto out;
	}
	if (size != (json_int_t)q->base.dims) {
		rc = fs_fail(e, FS_EINVAL, "the Qdrant collection '%s' holds %lld-dimension vectors but the embedder "
			     "makes %zu: run `faqsurectl reindex` to rebuild it", q->name, (long long)size,
			     q->base.dims);
		goto out;
	}
	schema = json_object_get(a.result, "payload_schema");
	if (!json_object_get(schema, "account_id") && (rc = create_index(q, "account_id", 1, e)) < 0)
		goto out;
	if (!json_object_get(schema, "document_id") && (rc = create_index(q, "document_id", 0, e)) < 0)
		goto out;
	q->ready = 1;
out:
	answer_release(&a);
	return rc;
}

/* A write or query that wants the collection: made sure of first, and once more if it vanished meanwhile
 * (someone deleted it: a 404). 2xx answers leave their result in *result (may be NULL: not wanted). */
static int call(struct qdrant *q, const char *method, const char *suffix, const char *body, size_t len,
		const char *what, json_t **result, struct fs_error *e)
{
	struct answer a;
	int rc;

	for (int attempt = 0;; attempt++) {
		if ((rc = ensure(q, e)) < 0)
			return rc;
		if ((rc = request(q, method, suffix, body, len, &a, e)) < 0)
			return rc;
		if (a.status >= 200 && a.status < 300) {
			if (result)
				*result = a.result;
			else
				json_decref(a.result);
			return 0;
		}
		if (a.status == 404 && attempt == 0) {
			q->ready = 0;
			continue;
		}
		return refused(&a, what, e);
	}
}

static int call_json(struct qdrant *q, const char *method, const char *suffix, const json_t *body,
		     const char *what, json_t **result, struct fs_error *e)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(9));
	int rc;

	if (!text)
		return fs_fail(e, FS_EINTERNAL, "could not write a request for the vector store");
	rc = call(q, method, suffix, text, strlen(text), what, result, e);
	free(text);
	return rc;
}

/* --- the operations ------------------------------------------------------------------------------------- */

static int qdrant_new(const struct config *cfg, struct db *db, size_t dims, struct vstore **out,
		       struct fs_error *e)
{
	struct qdrant *q;
	struct buf b;
	size_t ulen;
	int rc;

	(void)db;
	*out = NULL;
	if (!cfg->qdrant_url || !*cfg->qdrant_url)
		return fs_fail(e, FS_EINVAL, "[vector] qdrant_url is empty");
	if (!cfg->qdrant_collection || !*cfg->qdrant_collection ||
	    strspn(cfg->qdrant_collection, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") !=
		    strlen(cfg->qdrant_collection) || strlen(cfg->qdrant_collection) > 255)
		return fs_fail(e, FS_EINVAL, "[vector] qdrant_collection must be 1 to 255 letters, digits, '_', '-' "
			       "or '.'");
	if (dims == 0)
		return fs_fail(e, FS_EINVAL, "the vector store needs the embedder's vector size");
	q = xcalloc(1, sizeof(*q));
	q->base.ops = &vstore_qdrant_ops;
	q->base.cfg = cfg;
	q->base.dims = dims;
	q->name = cfg->qdrant_collection;
	if ((rc = http_client_new(&q->http, e)) < 0) {
		free(q);
		return rc;
	}
	q->opts.timeout_ms = (long)cfg->qdrant_timeout_ms;
	q->opts.max_retries = (int)cfg->qdrant_max_retries;
	ulen = strlen(cfg->qdrant_url);
	while (ulen > 0 && cfg->qdrant_url[ulen - 1] == '/')
		ulen--;
	buf_init(&b, BUF_NO_LIMIT);
	buf_add(&b, cfg->qdrant_url, ulen);
	buf_addf(&b, "/collections/%s", cfg->qdrant_collection);
	q->url = buf_take(&b, NULL);
	q->headers[0] = "Content-Type: application/json";
	if (cfg->qdrant_api_key && *cfg->qdrant_api_key) {
		buf_init(&b, BUF_NO_LIMIT);
		buf_addf(&b, "api-key: %s", cfg->qdrant_api_key);
		q->key_header = buf_take(&b, NULL);
		q->headers[1] = q->key_header;
	}
	*out = &q->base;
	return 0;
}

static void qdrant_free(struct vstore *vs)
{
	struct qdrant *q = (struct qdrant *)vs;
	if (!q)
		return;
	http_client_free(q->http);
	free(q->url);
	if (q->key_header) {
		memset(q->key_header, 0, strlen(q->key_header));
		free(q->key_header);
	}
	free(q);
}

static json_t *account_filter(long long account_id, const char *const *document_ids, size_t ndocs)
{
	char acct[24];
	json_t *must, *any;

	snprintf(acct, sizeof(acct), "%lld", account_id);
	must = json_pack("[{s:s, s:{s:s}}]", "key", "account_id", "match", "value", acct);
	if (must && ndocs > 0) {
		any = json_array();
		for (size_t i = 0; i < ndocs; i++)
			json_array_append_new(any, json_string(document_ids[i]));
		json_array_append_new(must, json_pack("{s:s, s:{s:o}}", "key", "document_id", "match", "any", any));
	}
	return json_pack("{s:o}", "must", must);
}

static json_t *dense_json(const float *v, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_real((double)v[i]);
		if (!x) { /* NaN or infinity: Jansson refuses them, and so would Qdrant */
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, x);
	}
	return arr;
}

static json_t *sparse_json(const uint32_t *idx, const float *val, size_t n)
{
	json_t *ji = json_array(), *jv = dense_json(val, n);
	if (!jv) {
		json_decref(ji);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		json_array_append_new(ji, json_integer((json_int_t)idx[i]));
	return json_pack("{s:o, s:o}", "indices", ji, "values", jv);
}

/* One point as JSON text (malloc'd), or NULL when its vectors hold a number JSON cannot carry. */
static char *point_text(const struct vstore_point *p, const char *account, size_t dims)
{
	json_t *dense = dense_json(p->dense, dims);
	json_t *sparse = sparse_json(p->sparse_idx, p->sparse_val, p->sparse_n);
	json_t *point;
	char *text;

	if (!dense || !sparse) {
		json_decref(dense);
		json_decref(sparse);
		return NULL;
	}
	point = json_pack("{s:s, s:{s:o, s:o}, s:{s:s, s:s}}", "id", p->chunk_id, "vector", DENSE_NAME, dense,
			  SPARSE_NAME, sparse, "payload", "account_id", account, "document_id", p->document_id);
	text = point ? json_dumps(point, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
	json_decref(point);
	return text;
}

/* Points go in batches of at most qdrant_batch_points whose request stays under Qdrant's body cap. Every point
 * of a chunk carries its sparse vector, even an empty one, so all backends count the same N for idf. */
static int qdrant_upsert(struct vstore *vs, long long account_id, const struct vstore_point *pts, size_t n,
			 struct fs_error *e)
{
	static const char head[] = "{\"points\":[", tail[] = "]}";
	struct qdrant *q = (struct qdrant *)vs;
	size_t per_batch = q->base.cfg->qdrant_batch_points > 0 ? (size_t)q->base.cfg->qdrant_batch_points : 256;
	char account[24];
	struct buf body;
	size_t in_batch = 0;
	int rc = 0;

	snprintf(account, sizeof(account), "%lld", account_id);
	buf_init(&body, MAX_REQUEST_BODY);
	for (size_t i = 0; i <= n; i++) {
		char *text = NULL;
		size_t len = 0;

		if (i < n) {
			if (!pts[i].chunk_id || !pts[i].document_id || !pts[i].dense ||
			    (pts[i].sparse_n && (!pts[i].sparse_idx || !pts[i].sparse_val))) {
				rc = fs_fail(e, FS_EINVAL, "point %zu to store is incomplete", i);
				goto out;
			}
			text = point_text(&pts[i], account, q->base.dims);
			if (!text) {
				rc = fs_fail(e, FS_EINVAL, "chunk %s has a vector value that is not a finite number",
					     pts[i].chunk_id);
				goto out;
			}
			len = strlen(text);
			if (sizeof(head) - 1 + len + sizeof(tail) - 1 > MAX_REQUEST_BODY) {
				free(text);
				rc = fs_fail(e, FS_EINVAL, "chunk %s is too large for one Qdrant request (over %zu "
					     "bytes)", pts[i].chunk_id, MAX_REQUEST_BODY);
				goto out;
			}
		}
		/* Send what is gathered when the batch is full, this point would pass the cap, or all are in. */
		if (in_batch > 0 && (i == n || in_batch == per_batch ||
				     body.len + 1 + len + sizeof(tail) - 1 > MAX_REQUEST_BODY)) {
			buf_adds(&body, tail);
			rc = call(q, "PUT", "/points?wait=true", body.ptr, body.len, "to store points", NULL, e);
			buf_reset(&body);
			in_batch = 0;
			if (rc < 0) {
				free(text);
				goto out;
			}
		}
		if (i == n)
			break;
		if (in_batch == 0)
			buf_adds(&body, head);
		else
			buf_adds(&body, ",");
		buf_add(&body, text, len);
		in_batch++;
		free(text);
	}
out:
	buf_release(&body);
	return rc;
}

static int delete_by_filter(struct qdrant *q, json_t *filter, struct fs_error *e)
{
	json_t *body = json_pack("{s:o}", "filter", filter);
	int rc;

	if (!body)
		return fs_fail(e, FS_EINTERNAL, "could not write a request for the vector store");
	rc = call_json(q, "POST", "/points/delete?wait=true", body, "to delete points", NULL, e);
	json_decref(body);
	return rc;
}

static int qdrant_delete_document(struct vstore *vs, long long account_id, const char *document_id,
				  struct fs_error *e)
{
	const char *ids[1] = { document_id };
	return delete_by_filter((struct qdrant *)vs, account_filter(account_id, ids, 1), e);
}

static int qdrant_delete_account(struct vstore *vs, long long account_id, struct fs_error *e)
{
	return delete_by_filter((struct qdrant *)vs, account_filter(account_id, NULL, 0), e);
}

static int qdrant_recreate(struct vstore *vs, struct fs_error *e)
{
	struct qdrant *q = (struct qdrant *)vs;
	struct answer a;
	int rc;

	q->ready = 0;
	rc = request(q, "DELETE", "", NULL, 0, &a, e);
	if (rc < 0)
		return rc;
	if (a.status != 200 && a.status != 404) /* a collection that is not there is already gone */
		rc = refused(&a, "to delete the collection", e);
	answer_release(&a);
	return rc < 0 ? rc : ensure(q, e);
}

/* A hit and, for hybrid searches, its cosine with the query, which orders equal fused scores (as the embedded
 * store does) before the chunk id. */
struct ranked_hit {
	struct vstore_hit hit;
	double cosine;
};

static int hit_order(const void *pa, const void *pb)
{
	const struct ranked_hit *a = pa, *b = pb;
	if (a->hit.score != b->hit.score)
		return a->hit.score > b->hit.score ? -1 : 1;
	if (a->cosine != b->cosine)
		return a->cosine > b->cosine ? -1 : 1;
	return strcmp(a->hit.chunk_id, b->hit.chunk_id);
}

/* The cosine of a returned point's dense vector (unit length in Qdrant) with the query; -2 when it is missing
 * (below any cosine). */
static double point_cosine(const json_t *point, const float *q, size_t dims)
{
	const json_t *v = json_object_get(json_object_get(point, "vector"), DENSE_NAME);
	double dot = 0;

	if (json_array_size(v) != dims)
		return -2;
	for (size_t i = 0; i < dims; i++)
		dot += json_number_value(json_array_get(v, i)) * (double)q[i];
	return dot;
}

/* The share of the query's terms found in the point's returned sparse vector. */
static double point_coverage(const json_t *point, const struct vstore_query *q)
{
	const json_t *idx = json_object_get(json_object_get(json_object_get(point, "vector"), SPARSE_NAME), "indices");
	size_t found = 0;
	if (!q->sparse_n || !json_is_array(idx))
		return 0;
	for (size_t j = 0; j < q->sparse_n; j++)
		for (size_t i = 0; i < json_array_size(idx); i++)
			if ((json_int_t)q->sparse_idx[j] == json_integer_value(json_array_get(idx, i))) {
				found++;
				break;
			}
	return (double)found / (double)q->sparse_n;
}

/* Pseudo-relevance feedback (vstore.h): one query for the points nearest to q->dense with their vectors; their
 * mean times the weight is added to the query. *out gets the moved vector (malloc'd), or NULL when there was
 * nothing to add. */
static int feedback_vector(struct qdrant *qd, const struct vstore_query *q, float **out, struct fs_error *e)
{
	size_t dims = qd->base.dims, n = 0;
	json_t *filter = account_filter(q->account_id, q->document_ids, q->ndocument_ids);
	json_t *dense = dense_json(q->dense, dims), *result = NULL, *body;
	*out = NULL;
	if (!filter || !dense) {
		json_decref(filter);
		json_decref(dense);
		return fs_fail(e, FS_EINVAL, "the query vector holds a value that is not a finite number");
	}
	body = json_pack("{s:o, s:s, s:o, s:I, s:b, s:[s]}", "query", dense, "using", DENSE_NAME, "filter", filter,
			 "limit", (json_int_t)q->feedback, "with_payload", 0, "with_vector", DENSE_NAME);
	int rc = call_json(qd, "POST", "/points/query", body, "the feedback query", &result, e);
	json_decref(body);
	if (rc < 0)
		return rc;
	const json_t *points = json_object_get(result, "points");
	float *v = xmalloc(dims * sizeof(float));
	memcpy(v, q->dense, dims * sizeof(float));
	for (size_t i = 0; i < json_array_size(points); i++)
		if (json_array_size(json_object_get(json_object_get(json_array_get(points, i), "vector"), DENSE_NAME)) ==
		    dims)
			n++;
	for (size_t i = 0; n && i < json_array_size(points); i++) {
		const json_t *pv = json_object_get(json_object_get(json_array_get(points, i), "vector"), DENSE_NAME);
		if (json_array_size(pv) != dims)
			continue;
		for (size_t d = 0; d < dims; d++)
			v[d] += (float)(q->feedback_weight / (double)n * json_number_value(json_array_get(pv, d)));
	}
	vscan_normalize(v, dims);
	json_decref(result);
	if (!n) {
		free(v);
		return 0;
	}
	*out = v;
	return 0;
}

static int qdrant_search_at(struct vstore *vs, const struct vstore_query *q, struct vstore_hit *hits, size_t *nhits,
			    struct fs_error *e);

static int qdrant_search(struct vstore *vs, const struct vstore_query *q, struct vstore_hit *hits, size_t *nhits,
			 struct fs_error *e)
{
	struct vstore_query fq = *q;
	float *moved = NULL;
	int rc;
	*nhits = 0;
	if (q->limit && q->feedback) {
		if ((rc = feedback_vector((struct qdrant *)vs, q, &moved, e)) < 0)
			return rc;
		if (moved) {
			if (!fq.score_dense)
				fq.score_dense = q->dense;
			fq.dense = moved;
		}
	}
	rc = qdrant_search_at(vs, &fq, hits, nhits, e);
	free(moved);
	return rc;
}

static int qdrant_search_at(struct vstore *vs, const struct vstore_query *q, struct vstore_hit *hits, size_t *nhits,
			    struct fs_error *e)
{
	struct qdrant *qd = (struct qdrant *)vs;
	size_t want = q->limit + TIE_MARGIN, got = 0, prefetch;
	struct ranked_hit *all = NULL;
	json_t *body = NULL, *filter, *dense, *result = NULL, *points;
	int rc = 0;

	*nhits = 0;
	if (q->limit == 0)
		return 0;
	filter = account_filter(q->account_id, q->document_ids, q->ndocument_ids);
	dense = dense_json(q->dense, vs->dims);
	if (!filter || !dense) {
		json_decref(filter);
		json_decref(dense);
		return fs_fail(e, FS_EINVAL, "the query vector holds a value that is not a finite number");
	}
	if (!q->hybrid) {
		body = json_pack("{s:o, s:s, s:o, s:I, s:b, s:[s, s]}", "query", dense, "using", DENSE_NAME, "filter",
				 filter, "limit", (json_int_t)want, "with_payload", 0, "with_vector", DENSE_NAME,
				 SPARSE_NAME);
	} else {
		/* The top-level filter reaches the fused list only: every prefetch repeats it, or another account's
		 * points would take the candidates' places. The dense vectors come back to order equal fused scores
		 * by cosine. */
		json_t *pre = json_array();
		prefetch = q->prefetch > q->limit ? q->prefetch : q->limit;
		json_array_append_new(pre, json_pack("{s:o, s:s, s:I, s:O}", "query", dense, "using", DENSE_NAME,
						     "limit", (json_int_t)prefetch, "filter", filter));
		if (q->sparse_n > 0) { /* no query term: no sparse list, as in the other backends */
			json_t *sparse = sparse_json(q->sparse_idx, q->sparse_val, q->sparse_n);
			if (!sparse) {
				json_decref(pre);
				json_decref(filter);
				return fs_fail(e, FS_EINVAL, "the query's keyword weights hold a value that is not a "
					       "finite number");
			}
			json_array_append_new(pre, json_pack("{s:o, s:s, s:I, s:O}", "query", sparse, "using",
							     SPARSE_NAME, "limit", (json_int_t)prefetch, "filter",
							     filter));
		}
		body = json_pack("{s:o, s:{s:s}, s:o, s:I, s:b, s:[s, s]}", "prefetch", pre, "query", "fusion", "rrf",
				 "filter", filter, "limit", (json_int_t)want, "with_payload", 0, "with_vector",
				 DENSE_NAME, SPARSE_NAME);
	}
	if (!body)
		return fs_fail(e, FS_EINTERNAL, "could not write a query for the vector store");
	rc = call_json(qd, "POST", "/points/query", body, "the query", &result, e);
	if (rc < 0)
		goto out;
	points = json_object_get(result, "points");
	if (!json_is_array(points)) {
		rc = fs_fail(e, FS_EUNAVAIL, "vector store unavailable: Qdrant answered a query without points");
		goto out;
	}
	all = xcalloc(json_array_size(points) + 1, sizeof(*all));
	for (size_t i = 0; i < json_array_size(points); i++) {
		const json_t *p = json_array_get(points, i);
		const char *id = json_string_value(json_object_get(p, "id"));
		const json_t *score = json_object_get(p, "score");
		if (!id || strlen(id) != 36 || !json_is_number(score)) {
			rc = fs_fail(e, FS_EUNAVAIL, "vector store unavailable: Qdrant answered a point that is not a "
				     "chunk (id %s)", id ? "not a UUID" : "missing");
			goto out;
		}
		memcpy(all[got].hit.chunk_id, id, 37);
		all[got].hit.score = json_number_value(score);
		all[got].cosine = q->hybrid ? point_cosine(p, q->dense, vs->dims) : all[got].hit.score;
		all[got].hit.cosine = point_cosine(p, q->score_dense ? q->score_dense : q->dense, vs->dims);
		all[got].hit.coverage = point_coverage(p, q);
		got++;
	}
	qsort(all, got, sizeof(*all), hit_order);
	*nhits = got < q->limit ? got : q->limit;
	for (size_t i = 0; i < *nhits; i++)
		hits[i] = all[i].hit;
out:
	free(all);
	json_decref(result);
	json_decref(body);
	return rc;
}

const struct vstore_ops vstore_qdrant_ops = {
	.name = "qdrant",
	.external = 1,
	.new = qdrant_new,
	.upsert = qdrant_upsert,
	.delete_document = qdrant_delete_document,
	.delete_account = qdrant_delete_account,
	.recreate = qdrant_recreate,
	.search = qdrant_search,
	.free = qdrant_free,
};
