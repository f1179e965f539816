/* The vector store interface (DESIGN.md "Pluggable parts"): an index derived from the chunks in MariaDB, which
 * stay the source of truth, so any store can be rebuilt from them (faqsurectl reindex). Backends are chosen by
 * name in the configuration ([vector] backend = embedded | qdrant).
 *
 * Every point is one chunk: its id is the chunk's UUID; it carries the account and document ids (every search
 * is filtered by account), a dense vector (the embedder's, unit length) and a sparse keyword vector (term id →
 * BM25 term weight, see terms.h).
 *
 * Ranking, identical in every backend so the same data gives the same order:
 *   dense:  cosine similarity (a dot product of unit vectors), highest first.
 *   sparse: sum over the query's terms of idf(t) * q(t) * d(t), idf(t) = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5)),
 *           N points and n(t) points containing t (Qdrant's "idf" modifier), highest first; points without any
 *           query term are not in this list.
 *   hybrid: reciprocal rank fusion of the top `prefetch` of each list, score = sum over the lists a point is in
 *           of 1 / (rank + 2), rank counted from 0 (Qdrant's RRF, k = 2), highest first.
 * Equal scores are ordered by cosine (hybrid), then by chunk id, ascending. A backend whose server does not do
 * that returns what it has; search re-sorts the hits by that rule once it knows the cosines. */
#ifndef FAQSURE_VSTORE_H
#define FAQSURE_VSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/db.h"
#include "core/err.h"
#include "core/tally.h"

struct vstore;

struct vstore_point {
	const char *chunk_id;    /* UUID, 36 characters */
	const char *document_id; /* UUID */
	const float *dense;      /* dims floats, unit length */
	const uint32_t *sparse_idx; /* sparse_n term ids, ascending */
	const float *sparse_val;
	size_t sparse_n;
};

struct vstore_query {
	long long account_id;
	const float *dense;         /* dims floats */
	const uint32_t *sparse_idx; /* the query's terms (hybrid only), ascending */
	const float *sparse_val;
	size_t sparse_n;
	int hybrid;                 /* 0: dense ranking only; 1: RRF of dense and sparse */
	size_t limit;               /* hits wanted */
	size_t prefetch;            /* hybrid: candidates taken from each list (>= limit) */
	const char *const *document_ids; /* when ndocument_ids > 0, only points of these documents */
	size_t ndocument_ids;
	const float *score_dense;   /* what each hit's cosine is measured against (NULL: dense) */
	size_t feedback;            /* pseudo-relevance feedback: before ranking, the mean of the `feedback` points */
	double feedback_weight;     /* nearest to dense, times this weight, is added to dense (then unit length) */
};

struct vstore_hit {
	char chunk_id[37];
	double score;    /* dense: the cosine; hybrid: the RRF score */
	double cosine;   /* the point's cosine with q->score_dense */
	double coverage; /* the share of the query's sparse terms the point contains (0 when it has none) */
};

struct vstore_ops {
	const char *name;
	/* Non-zero when the store lives outside MariaDB: changes then go through the outbox (vector_outbox) and
	 * vstore_sync applies them. The embedded store reads the chunk rows themselves and needs none. */
	int external;
	/* dims: the embedder's vector size. db is the process's connection (the embedded store reads chunks
	 * through it). Connects lazily: opening never fails because a server is down. */
	int (*new)(const struct config *cfg, struct db *db, size_t dims, struct vstore **out, struct fs_error *e);
	/* Adds or replaces points (all of one account). */
	int (*upsert)(struct vstore *vs, long long account_id, const struct vstore_point *pts, size_t n,
		      struct fs_error *e);
	/* Removes every point of a document / of an account. Removing what is not there succeeds. */
	int (*delete_document)(struct vstore *vs, long long account_id, const char *document_id, struct fs_error *e);
	int (*delete_account)(struct vstore *vs, long long account_id, struct fs_error *e);
	/* Drops everything and starts empty with the current dims (reindex after the embedder changed). */
	int (*recreate)(struct vstore *vs, struct fs_error *e);
	/* Up to q->limit hits into hits (room for q->limit), best first; *nhits gets the count. A store that
	 * cannot be reached is FS_EUNAVAIL. */
	int (*search)(struct vstore *vs, const struct vstore_query *q, struct vstore_hit *hits, size_t *nhits,
		      struct fs_error *e);
	/* Optional: brings what this machine keeps of the account up to date with MariaDB now, so that the next
	 * search does not wait for it (the worker, after indexing). */
	int (*warm)(struct vstore *vs, long long account_id, struct fs_error *e);
	/* Optional: removes what this machine keeps for accounts that are gone or vectors of another size (the
	 * worker, now and then). Returns how many things it removed, or a negative fs_code. */
	int (*tidy)(struct vstore *vs, struct fs_error *e);
	void (*free)(struct vstore *vs);
};

/* Every backend's struct starts with this. */
struct vstore {
	const struct vstore_ops *ops;
	const struct config *cfg;
	size_t dims;
};

/* Opens the backend named by cfg->vector_backend; an unknown name is FS_EINVAL naming the known ones. */
int vstore_new(const struct config *cfg, struct db *db, size_t dims, struct vstore **out, struct fs_error *e);
void vstore_free(struct vstore *vs);
/* The operations of the table above, dispatched to the backend. */
int vstore_external(const struct vstore *vs);
int vstore_upsert(struct vstore *vs, long long account_id, const struct vstore_point *pts, size_t n,
		  struct fs_error *e);
int vstore_delete_document(struct vstore *vs, long long account_id, const char *document_id, struct fs_error *e);
int vstore_delete_account(struct vstore *vs, long long account_id, struct fs_error *e);
int vstore_recreate(struct vstore *vs, struct fs_error *e);
int vstore_search(struct vstore *vs, const struct vstore_query *q, struct vstore_hit *hits, size_t *nhits,
		  struct fs_error *e);
/* The backend's warm and tidy operations; 0 when it has none. */
int vstore_warm(struct vstore *vs, long long account_id, struct fs_error *e);
int vstore_tidy(struct vstore *vs, struct fs_error *e);

/* Inside the caller's transaction that changed a document's chunks: bumps the account's vector generation and,
 * for an external store, queues the change in the outbox. op is "upsert" or "delete". */
int vstore_changed(const struct config *cfg, struct db *db, long long account_id, const char *document_id,
		   const char *op, struct fs_error *e);
/* Applies queued outbox changes whose time has come (up to max), reading the chunks back from MariaDB for
 * upserts (and deleting them again from the store when their document was deleted meanwhile). A change the store refuses or cannot take stays queued with a later next_try (backoff). Returns the
 * number applied, or a negative fs_code when the database failed. Does nothing for the embedded store. */
int vstore_sync(struct vstore *vs, struct db *db, int max, struct fs_error *e);

/* Deleting an account, after its chunks went: counts its queued outbox changes into t ("queued vector-store
 * changes"); with apply, drops them and its vector generation and, for an external store, queues one change that
 * removes every point of the account (vstore_sync applies it, whoever runs it first), in one transaction. */
int vstore_purge_account(const struct config *cfg, struct db *db, long long account_id, int apply, struct tally *t,
			 struct fs_error *e);

/* Encodes dims floats as a chunks.embedding value (dims * 4 bytes into out). */
void vstore_encode_vector(const float *v, size_t dims, unsigned char *out);
/* Decodes a chunks.embedding value (dims little-endian float32); -1 when its length is not dims * 4. */
int vstore_decode_vector(const char *blob, size_t len, size_t dims, float *out);

extern const struct vstore_ops vstore_embedded_ops;
extern const struct vstore_ops vstore_qdrant_ops;

#endif
