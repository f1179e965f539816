/* Reindex: re-embeds stored chunks with the configured embedder and rebuilds the vector store from MariaDB (after
 * the embedder or the vector backend changed). The chunks' text stays; their vectors, keyword vectors, sentence
 * vectors (answer_span.h), model and dims are rewritten one document per transaction, so searches go on
 * meanwhile. */
#include "ingest/reindex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "kb/document.h"
#include "core/banned.h"

#define REINDEX_BATCH 64

/* Re-embeds one document's chunks in one transaction, its row locked first; *done says whether it was still
 * there (a document deleted meanwhile, or its account, is left alone: nothing of it comes back). */
static int reindex_document(struct ingest_worker *w, long long account_id, const char *doc_id, size_t *nchunks,
			    int *done, struct fs_error *e)
{
	size_t dims = w->embedder->dims;
	struct db_res r;
	int rc = document_chunks(w->db, doc_id, &r, e);
	if (rc < 0)
		return rc;
	size_t n = r.nrows;
	char **texts = xcalloc(n ? n : 1, sizeof(*texts)), **leads = xcalloc(n ? n : 1, sizeof(*leads));
	float *vecs = xmalloc((n ? n : 1) * dims * sizeof(float));
	unsigned char *blob = xmalloc(dims * 4);
	struct sparse sp;
	struct buf spb, sentences;
	sparse_init(&sp);
	buf_init(&spb, BUF_NO_LIMIT);
	buf_init(&sentences, BUF_NO_LIMIT);
	for (size_t i = 0; i < n; i++) {
		texts[i] = ingest_embed_text(db_cell(&r, i, DOCUMENT_CHUNK_FILENAME), db_cell(&r, i, DOCUMENT_CHUNK_SECTION),
					     db_cell(&r, i, DOCUMENT_CHUNK_TEXT));
		const char *meta = db_cell(&r, i, DOCUMENT_CHUNK_METADATA);
		json_t *m = json_loads(meta ? meta : "{}", 0, NULL);
		leads[i] = ingest_embed_lead(json_string_value(json_object_get(m, "question")),
					     db_cell(&r, i, DOCUMENT_CHUNK_TEXT));
		json_decref(m);
	}
	for (size_t at = 0; at < n && rc == 0; at += REINDEX_BATCH) {
		size_t k = n - at < REINDEX_BATCH ? n - at : REINDEX_BATCH;
		long long used = 0;
		rc = embedder_embed_passages(w->embedder, (const char *const *)texts + at, (const char *const *)leads + at,
					     k, vecs + at * dims, &used, e);
	}
	*done = 0;
	if (rc == 0 && (rc = db_begin(w->db, e)) == 0) {
		if ((rc = document_lock_metadata(w->db, 0, doc_id, NULL, NULL, NULL, e)) == FS_ENOTFOUND) {
			db_rollback(w->db);
			rc = 0;
			goto out;
		}
		*done = 1;
		for (size_t i = 0; i < n && rc == 0; i++) {
			vstore_encode_vector(vecs + i * dims, dims, blob);
			terms_doc_vector(w->terms, texts[i], &sp);
			buf_reset(&spb);
			sparse_to_blob(&sp, &spb);
			ingest_chunk_sentences(w, db_cell(&r, i, DOCUMENT_CHUNK_TEXT), db_cell(&r, i, DOCUMENT_CHUNK_METADATA),
					       &sentences);
			rc = db_exec(w->db, NULL, e,
				     "UPDATE chunks SET embedding = ?, sparse = ?, sentences = ?, sentences_version = ?, embed_model = ?,"
				     " dims = ? WHERE id = ?",
				     "bbbisis", blob, dims * 4, spb.ptr ? spb.ptr : "", spb.len, sentences.ptr, sentences.len,
				     (long long)SPAN_VECTORS_VERSION, w->embedder->model, (long long)dims, db_cell(&r, i, DOCUMENT_CHUNK_ID));
		}
		if (rc == 0)
			rc = vstore_changed(w->cfg, w->db, account_id, doc_id, "upsert", e);
		if (rc == 0)
			rc = db_commit(w->db, e);
		else
			db_rollback(w->db);
	}
	if (rc == 0 && *done)
		*nchunks += n;
out:
	for (size_t i = 0; i < n; i++) {
		free(texts[i]);
		free(leads[i]);
	}
	free(texts);
	free(leads);
	free(vecs);
	free(blob);
	sparse_release(&sp);
	buf_release(&spb);
	buf_release(&sentences);
	db_res_release(&r);
	return rc;
}

/* Every process's cache of the account starts over (its vectors changed in place). */
static int restart_caches(struct ingest_worker *w, long long account_id, struct fs_error *e)
{
	return db_exec(w->db, NULL, e,
		       "INSERT INTO vector_generations (account_id, generation, epoch, stamp)"
		       " VALUES (?, 1, 1, FLOOR(1 + RAND() * 9007199254740991))"
		       " ON DUPLICATE KEY UPDATE generation = generation + 1, epoch = epoch + 1",
		       "i", account_id);
}

int reindex_refresh(struct ingest_worker *w, int max_docs, int *refreshed, struct fs_error *e)
{
	struct db_res r;
	size_t nchunks = 0;
	int rc;
	*refreshed = 0;
	/* only an upgrade of the built-in model: vectors of another embedder are the configuration's business
	 * (faqsurectl reindex), and an external store's collection has one vector size, made with it */
	if (vstore_external(w->vs) || !w->embedder->ops->local)
		return 0;
	rc = db_exec(w->db, &r, e,
		     "SELECT account_id FROM chunks WHERE embed_model LIKE 'builtin-%' AND embed_model <> ? LIMIT 1", "s",
		     w->embedder->model);
	if (rc < 0)
		return rc;
	long long account_id = r.nrows ? db_cell_ll(&r, 0, 0, 0) : 0;
	db_res_release(&r);
	if (!account_id)
		return 0;
	rc = db_exec(w->db, &r, e,
		     "SELECT DISTINCT document_id FROM chunks WHERE account_id = ? AND embed_model LIKE 'builtin-%'"
		     " AND embed_model <> ? LIMIT ?",
		     "isi", account_id, w->embedder->model, (long long)max_docs);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < r.nrows && rc == 0; i++) {
		int done = 0;
		if ((rc = reindex_document(w, account_id, db_cell(&r, i, 0), &nchunks, &done, e)) == 0 && done)
			(*refreshed)++;
	}
	db_res_release(&r);
	/* once for the batch: a reload of the account's vectors is what each refresh costs the searchers */
	if (*refreshed > 0) {
		struct fs_error ignored; /* the first failure is the one to report */
		int grc = restart_caches(w, account_id, rc == 0 ? e : &ignored);
		rc = rc == 0 ? grc : rc;
	}
	return rc;
}

int reindex_accounts(struct ingest_worker *w, long long account_id, FILE *progress, struct fs_error *e)
{
	struct db_res r;
	size_t ndocs = 0, nchunks = 0;
	int rc;
	/* an external store starts empty (for everyone, or for this account) and is filled again */
	if (vstore_external(w->vs)) {
		rc = account_id ? vstore_delete_account(w->vs, account_id, e) : vstore_recreate(w->vs, e);
		if (rc < 0)
			return rc;
	}
	if ((rc = document_ready(w->db, account_id, &r, e)) < 0)
		return rc;
	for (size_t i = 0; i < r.nrows && rc == 0; i++) {
		int done;
		rc = reindex_document(w, db_cell_ll(&r, i, DOCUMENT_READY_ACCOUNT, 0), db_cell(&r, i, DOCUMENT_READY_ID),
				     &nchunks, &done, e);
		ndocs++;
		if (progress && (ndocs % 100 == 0 || ndocs == r.nrows))
			fprintf(progress, "reindexed %zu of %zu documents (%zu chunks)\n", ndocs, r.nrows, nchunks);
	}
	/* in-place vector changes: every process's cache of these accounts starts over */
	if (rc == 0)
		rc = account_id ? restart_caches(w, account_id, e)
				: db_exec(w->db, NULL, e,
					  "UPDATE vector_generations SET generation = generation + 1, epoch = epoch + 1", "");
	db_res_release(&r);
	while (rc == 0 && vstore_external(w->vs)) {
		int applied = vstore_sync(w->vs, w->db, 1000, e);
		if (applied < 0)
			rc = applied;
		if (applied <= 0)
			break;
	}
	if (rc == 0 && progress)
		fprintf(progress, "reindex done: %zu documents, %zu chunks, model %s, %zu dimensions\n", ndocs, nchunks,
			w->embedder->model, w->embedder->dims);
	return rc;
}
