/* The vector-store registry, the per-account change counter and the outbox that carries changes to an external
 * store (see vstore.h). */
#include "vstore/vstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/registry.h"
#include "text/terms.h"
#include "core/banned.h"

static const void *const backends[] = {
	&vstore_embedded_ops,
	&vstore_qdrant_ops,
};

#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

/* Outbox rows taken per statement, and the longest wait between two tries of one change. */
#define OUTBOX_BATCH 32
#define OUTBOX_MAX_BACKOFF_S 300

static const char *backend_name(const struct config *cfg)
{
	return cfg->vector_backend ? cfg->vector_backend : "embedded";
}

static const struct vstore_ops *backend(const struct config *cfg)
{
	return registry_find(backends, NBACKENDS, backend_name(cfg));
}

int vstore_new(const struct config *cfg, struct db *db, size_t dims, struct vstore **out, struct fs_error *e)
{
	const struct vstore_ops *ops = backend(cfg);
	*out = NULL;
	if (!ops)
		return registry_unknown(backends, NBACKENDS, "vector backend", backend_name(cfg), e);
	return ops->new(cfg, db, dims, out, e);
}

void vstore_free(struct vstore *vs)
{
	if (vs)
		vs->ops->free(vs);
}

int vstore_external(const struct vstore *vs)
{
	return vs->ops->external;
}

int vstore_upsert(struct vstore *vs, long long account_id, const struct vstore_point *pts, size_t n,
		  struct fs_error *e)
{
	return vs->ops->upsert(vs, account_id, pts, n, e);
}

int vstore_delete_document(struct vstore *vs, long long account_id, const char *document_id, struct fs_error *e)
{
	return vs->ops->delete_document(vs, account_id, document_id, e);
}

int vstore_delete_account(struct vstore *vs, long long account_id, struct fs_error *e)
{
	return vs->ops->delete_account(vs, account_id, e);
}

int vstore_recreate(struct vstore *vs, struct fs_error *e)
{
	return vs->ops->recreate(vs, e);
}

int vstore_search(struct vstore *vs, const struct vstore_query *q, struct vstore_hit *hits, size_t *nhits,
		  struct fs_error *e)
{
	return vs->ops->search(vs, q, hits, nhits, e);
}

int vstore_warm(struct vstore *vs, long long account_id, struct fs_error *e)
{
	return vs->ops->warm ? vs->ops->warm(vs, account_id, e) : 0;
}

int vstore_tidy(struct vstore *vs, struct fs_error *e)
{
	return vs->ops->tidy ? vs->ops->tidy(vs, e) : 0;
}

int vstore_changed(const struct config *cfg, struct db *db, long long account_id, const char *document_id,
		   const char *op, struct fs_error *e)
{
	const struct vstore_ops *ops = backend(cfg);
	int rc = db_exec(db, NULL, e,
			 "INSERT INTO vector_generations (account_id, generation, stamp)"
			 " VALUES (?, 1, FLOOR(1 + RAND() * 9007199254740991))"
			 " ON DUPLICATE KEY UPDATE generation = generation + 1",
			 "i", account_id);
	if (rc < 0 || !ops || !ops->external)
		return rc;
	return db_exec(db, NULL, e, "INSERT INTO vector_outbox (account_id, document_id, op) VALUES (?, ?, ?)", "iss",
		       account_id, document_id, op);
}

void vstore_encode_vector(const float *v, size_t dims, unsigned char *out)
{
	for (size_t d = 0; d < dims; d++, out += 4) {
		uint32_t u;
		memcpy(&u, &v[d], 4);
		for (int k = 0; k < 4; k++)
			out[k] = (unsigned char)(u >> (8 * k));
	}
}

int vstore_decode_vector(const char *blob, size_t len, size_t dims, float *out)
{
	const unsigned char *p = (const unsigned char *)blob;
	if (len != dims * 4)
		return -1;
	for (size_t d = 0; d < dims; d++, p += 4) {
		uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		memcpy(&out[d], &v, 4);
	}
	return 0;
}

/* Reads a document's chunks back and hands them to the store. A document deleted meanwhile has none: nothing
 * to do (its delete follows in the outbox). Chunks embedded with other dimensions wait for a reindex. */
static int apply_upsert(struct vstore *vs, struct db *db, long long account_id, const char *document_id,
			struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e,
			 "SELECT id, embedding, sparse FROM chunks WHERE document_id = ? AND account_id = ? AND dims = ?"
			 " ORDER BY seq",
			 "sii", document_id, account_id, (long long)vs->dims);
	if (rc < 0)
		return rc;
	size_t n = r.nrows, k = 0;
	struct vstore_point *pts = xcalloc(n ? n : 1, sizeof(*pts));
	float *vecs = xmalloc((n ? n : 1) * vs->dims * sizeof(float));
	struct sparse *sp = xcalloc(n ? n : 1, sizeof(*sp));
	for (size_t i = 0; i < n; i++) {
		if (vstore_decode_vector(db_cell(&r, i, 1), r.lens[i * r.ncols + 1], vs->dims, vecs + k * vs->dims) < 0 ||
		    sparse_from_blob(db_cell(&r, i, 2), r.lens[i * r.ncols + 2], &sp[k]) < 0)
			continue;
		pts[k] = (struct vstore_point){ db_cell(&r, i, 0), document_id, vecs + k * vs->dims, sp[k].idx, sp[k].val,
						sp[k].n };
		k++;
	}
	rc = k ? vstore_upsert(vs, account_id, pts, k, e) : 0;
	/* A document deleted (or its account) while its points were on their way: its delete may have reached the
	 * store before them, so they go again. A delete committed after this check is queued after this upsert. */
	if (rc == 0 && k) {
		struct db_res left;
		if ((rc = db_exec(db, &left, e, "SELECT 1 FROM chunks WHERE document_id = ? LIMIT 1", "s", document_id)) == 0) {
			if (left.nrows == 0)
				rc = vstore_delete_document(vs, account_id, document_id, e);
			db_res_release(&left);
		}
	}
	for (size_t i = 0; i < n; i++)
		sparse_release(&sp[i]);
	free(sp);
	free(vecs);
	free(pts);
	db_res_release(&r);
	return rc;
}

int vstore_sync(struct vstore *vs, struct db *db, int max, struct fs_error *e)
{
	int applied = 0;
	if (!vstore_external(vs))
		return 0;
	while (applied < max) {
		struct db_res r;
		int rc = db_exec(db, &r, e,
				 "SELECT id, account_id, document_id, op, attempts FROM vector_outbox"
				 " WHERE next_try <= UTC_TIMESTAMP(6) ORDER BY id LIMIT ?",
				 "i", (long long)OUTBOX_BATCH);
		if (rc < 0)
			return rc;
		if (r.nrows == 0) {
			db_res_release(&r);
			break;
		}
		for (size_t i = 0; i < r.nrows && applied < max; i++) {
			long long id = db_cell_ll(&r, i, 0, 0), account = db_cell_ll(&r, i, 1, 0);
			long long attempts = db_cell_ll(&r, i, 4, 0);
			const char *doc = db_cell(&r, i, 2), *op = db_cell(&r, i, 3);
			struct fs_error se = { 0 };
			rc = !strcmp(op, "upsert")	   ? apply_upsert(vs, db, account, doc, &se)
			     : !strcmp(op, "delete_account") ? vstore_delete_account(vs, account, &se)
							     : vstore_delete_document(vs, account, doc, &se);
			if (rc == 0) {
				if ((rc = db_exec(db, NULL, e, "DELETE FROM vector_outbox WHERE id = ?", "i", id)) < 0) {
					db_res_release(&r);
					return rc;
				}
				applied++;
				continue;
			}
			/* The store refused or is away: try again later, waiting longer each time. */
			long long wait = 1LL << (attempts < 8 ? attempts : 8);
			if (wait > OUTBOX_MAX_BACKOFF_S)
				wait = OUTBOX_MAX_BACKOFF_S;
			fprintf(stderr, "faqsure: vector store %s of document %s deferred (%lld s): %s\n", op, doc, wait,
				se.msg);
			rc = db_exec(db, NULL, e,
				     "UPDATE vector_outbox SET attempts = attempts + 1, last_error = LEFT(?, 500),"
				     " next_try = UTC_TIMESTAMP(6) + INTERVAL ? SECOND WHERE id = ?",
				     "sii", se.msg, wait, id);
			db_res_release(&r);
			return rc < 0 ? rc : applied;
		}
		db_res_release(&r);
	}
	return applied;
}

int vstore_purge_account(const struct config *cfg, struct db *db, long long account_id, int apply, struct tally *t,
			 struct fs_error *e)
{
	const struct vstore_ops *ops = backend(cfg);
	struct db_res r;
	int rc;
	if (!apply) {
		if ((rc = db_exec(db, &r, e, "SELECT COUNT(*) FROM vector_outbox WHERE account_id = ?", "i", account_id)) < 0)
			return rc;
		tally_add(t, "queued vector-store changes", db_cell_ll(&r, 0, 0, 0));
		db_res_release(&r);
		return 0;
	}
	if ((rc = db_begin(db, e)) < 0)
		return rc;
	if ((rc = db_exec(db, &r, e, "DELETE FROM vector_outbox WHERE account_id = ?", "i", account_id)) < 0)
		goto fail;
	tally_add(t, "queued vector-store changes", (long long)r.affected);
	db_res_release(&r);
	if ((rc = db_exec(db, NULL, e, "DELETE FROM vector_generations WHERE account_id = ?", "i", account_id)) < 0 ||
	    (ops && ops->external &&
	     (rc = db_exec(db, NULL, e, "INSERT INTO vector_outbox (account_id, document_id, op) VALUES (?, '', ?)", "is",
			   account_id, "delete_account")) < 0) ||
	    (rc = db_commit(db, e)) < 0)
		goto fail;
	return 0;
fail:
	db_rollback(db);
	return rc;
}
