/* The embedded vector store ("embedded", the default): the vectors are the chunk rows in MariaDB; each process
 * keeps the accounts it serves in memory (struct vindex) and scans them exactly. Every search first reads the
 * account's generation (one primary-key lookup); when it moved, the process compares the chunk numbers
 * (vec_seq) it holds with the table's (an index-only scan), drops what is gone and loads what is new. So any
 * number of processes on any number of machines see every change at their next search, and nothing needs to be
 * written here: upsert and delete are the chunk rows themselves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "text/terms.h"
#include "vstore/vindex.h"
#include "vstore/vstore.h"
#include "core/banned.h"

/* Accounts kept in memory per process; the least recently searched goes first. */
#define MAX_ACCOUNTS 16
/* Chunks loaded per statement. */
#define LOAD_BATCH 500

struct cached {
	long long account_id;
	long long generation; /* -1: never loaded */
	long long epoch;
	unsigned long long last_used;
	struct vindex ix;
};

struct embedded {
	struct vstore base;
	struct db *db;
	struct cached accounts[MAX_ACCOUNTS];
	size_t naccounts;
	unsigned long long clock;
};

static int embedded_new(const struct config *cfg, struct db *db, size_t dims, struct vstore **out,
			 struct fs_error *e)
{
	(void)e;
	struct embedded *s = xcalloc(1, sizeof(*s));
	s->base.ops = &vstore_embedded_ops;
	s->base.cfg = cfg;
	s->base.dims = dims;
	s->db = db;
	*out = &s->base;
	return 0;
}

static void embedded_free(struct vstore *vs)
{
	struct embedded *s = (struct embedded *)vs;
	for (size_t i = 0; i < s->naccounts; i++)
		vindex_release(&s->accounts[i].ix);
	free(s);
}

/* The rows live in MariaDB: nothing to write. */
static int embedded_upsert(struct vstore *vs, long long account_id, const struct vstore_point *pts, size_t n,
			   struct fs_error *e)
{
	(void)vs, (void)account_id, (void)pts, (void)n, (void)e;
	return 0;
}

static int embedded_delete_document(struct vstore *vs, long long account_id, const char *document_id,
				    struct fs_error *e)
{
	(void)vs, (void)account_id, (void)document_id, (void)e;
	return 0;
}

static int embedded_delete_account(struct vstore *vs, long long account_id, struct fs_error *e)
{
	(void)vs, (void)account_id, (void)e;
	return 0;
}

static int embedded_recreate(struct vstore *vs, struct fs_error *e)
{
	(void)vs, (void)e;
	return 0;
}

static struct cached *cache_for(struct embedded *s, long long account_id)
{
	struct cached *c = NULL;
	for (size_t i = 0; i < s->naccounts; i++)
		if (s->accounts[i].account_id == account_id)
			c = &s->accounts[i];
	if (!c) {
		if (s->naccounts < MAX_ACCOUNTS) {
			c = &s->accounts[s->naccounts++];
		} else {
			c = &s->accounts[0];
			for (size_t i = 1; i < s->naccounts; i++)
				if (s->accounts[i].last_used < c->last_used)
					c = &s->accounts[i];
			vindex_release(&c->ix);
		}
		c->account_id = account_id;
		c->generation = -1;
		vindex_init(&c->ix, s->base.dims);
	}
	c->last_used = ++s->clock;
	return c;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int held(const uint64_t *sorted, size_t n, uint64_t seq)
{
	return bsearch(&seq, sorted, n, sizeof(*sorted), cmp_u64) != NULL;
}

/* Loads the chunks whose vec_seq is in want[0..n) (ascending). */
static int load_rows(struct embedded *s, struct cached *c, const uint64_t *want, size_t n, struct fs_error *e)
{
	float *vec = xmalloc(s->base.dims * sizeof(float));
	struct sparse sp;
	int rc = 0;
	sparse_init(&sp);
	for (size_t at = 0; at < n && rc == 0; at += LOAD_BATCH) {
		size_t k = n - at < LOAD_BATCH ? n - at : LOAD_BATCH;
		struct db_res r;
		/* a range covers the batch; rows in it that are already held are skipped */
		rc = db_exec(s->db, &r, e,
			     "SELECT id, document_id, vec_seq, embedding, sparse FROM chunks"
			     " WHERE account_id = ? AND vec_seq BETWEEN ? AND ? AND dims = ? ORDER BY vec_seq",
			     "iiii", c->account_id, (long long)want[at], (long long)want[at + k - 1],
			     (long long)s->base.dims);
		if (rc < 0)
			break;
		for (size_t i = 0; i < r.nrows; i++) {
			uint64_t seq = (uint64_t)db_cell_ll(&r, i, 2, 0);
			if (!bsearch(&seq, want + at, k, sizeof(*want), cmp_u64))
				continue;
			if (vstore_decode_vector(db_cell(&r, i, 3), r.lens[i * r.ncols + 3], s->base.dims, vec) < 0 ||
			    sparse_from_blob(db_cell(&r, i, 4), r.lens[i * r.ncols + 4], &sp) < 0) {
				fprintf(stderr, "faqsure: chunk %s has a damaged vector; skipped\n", db_cell(&r, i, 0));
				continue;
			}
			vindex_add(&c->ix, db_cell(&r, i, 0), db_cell(&r, i, 1), seq, vec, &sp);
		}
		db_res_release(&r);
	}
	sparse_release(&sp);
	free(vec);
	return rc;
}

/* Brings the cached account up to date with the table. */
static int refresh(struct embedded *s, struct cached *c, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(s->db, &r, e, "SELECT generation, epoch FROM vector_generations WHERE account_id = ?", "i",
			 c->account_id);
	if (rc < 0)
		return rc;
	long long gen = r.nrows ? db_cell_ll(&r, 0, 0, 0) : 0, epoch = r.nrows ? db_cell_ll(&r, 0, 1, 0) : 0;
	db_res_release(&r);
	if (gen == c->generation && epoch == c->epoch)
		return 0;
	if (epoch != c->epoch) { /* vectors changed in place: start over */
		vindex_release(&c->ix);
		vindex_init(&c->ix, s->base.dims);
		c->epoch = epoch;
	}

	rc = db_exec(s->db, &r, e, "SELECT vec_seq FROM chunks WHERE account_id = ? AND dims = ? ORDER BY vec_seq",
		     "ii", c->account_id, (long long)s->base.dims);
	if (rc < 0)
		return rc;
	size_t n = r.nrows, nwant = 0;
	uint64_t *table = xmalloc((n ? n : 1) * sizeof(*table));
	for (size_t i = 0; i < n; i++)
		table[i] = (uint64_t)db_cell_ll(&r, i, 0, 0);
	db_res_release(&r);

	/* drop rows the table no longer has */
	uint8_t *keep = xmalloc(c->ix.n ? c->ix.n : 1);
	for (size_t i = 0; i < c->ix.n; i++)
		keep[i] = (uint8_t)held(table, n, c->ix.seq[i]);
	vindex_retain(&c->ix, keep);
	free(keep);

	/* load rows it has that are not held (table order is ascending) */
	uint64_t *mine = xmalloc((c->ix.n ? c->ix.n : 1) * sizeof(*mine));
	if (c->ix.n) {
		memcpy(mine, c->ix.seq, c->ix.n * sizeof(*mine));
		qsort(mine, c->ix.n, sizeof(*mine), cmp_u64);
	}
	uint64_t *want = xmalloc((n ? n : 1) * sizeof(*want));
	for (size_t i = 0; i < n; i++)
		if (!held(mine, c->ix.n, table[i]))
			want[nwant++] = table[i];
	rc = nwant ? load_rows(s, c, want, nwant, e) : 0;
	free(want);
	free(mine);
	free(table);
	if (rc == 0)
		c->generation = gen;
	return rc;
}

static int embedded_search(struct vstore *vs, const struct vstore_query *q, struct vstore_hit *hits, size_t *nhits,
			   struct fs_error *e)
{
	struct embedded *s = (struct embedded *)vs;
	struct cached *c = cache_for(s, q->account_id);
	int rc = refresh(s, c, e);
	if (rc < 0) {
		c->generation = -1;
		return rc;
	}
	*nhits = vindex_search(&c->ix, q, hits);
	return 0;
}

const struct vstore_ops vstore_embedded_ops = {
	.name = "embedded",
	.external = 0,
	.new = embedded_new,
	.upsert = embedded_upsert,
	.delete_document = embedded_delete_document,
	.delete_account = embedded_delete_account,
	.recreate = embedded_recreate,
	.search = embedded_search,
	.free = embedded_free,
};
