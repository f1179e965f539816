/* The knowledge base's documents: the one owner of the documents and document_blobs tables. The upload program,
 * the ingestion worker, reindex, analytics and search read and change documents only through here; the passages
 * that search and reindex read carry their document's file name, so those reads live here too.
 *
 * A document is 'processing' from its upload until the worker stores its chunks ('ready') or gives up on it
 * ('failed', with the reason in error). Deleting one takes its bytes, job and chunks with it (foreign keys
 * cascade) and tells the vector store. Functions that change rows run inside the caller's transaction unless
 * they say otherwise. */
#ifndef FAQSURE_DOCUMENT_H
#define FAQSURE_DOCUMENT_H

#include <stddef.h>

#include <jansson.h>

#include "core/config.h"
#include "core/db.h"
#include "core/err.h"
#include "core/page.h"
#include "core/tally.h"

/* ---- as the API shows them ---- */

/* One document of the account as the API shows it ({"id", "filename", "status", "content_type", "size_bytes",
 * "chunk_count", "tokens", "error", "metadata", "created_at", "updated_at"}); FS_ENOTFOUND for an unknown id,
 * another account's, or one that is not a UUID. */
int document_get(struct db *db, long long account_id, const char *id, json_t **out, struct fs_error *e);
/* One page of the account's documents, newest first, those with status when it is not NULL; after is the
 * position of the previous page's last row or NULL. *items gets the array; *next the next page's cursor or NULL. */
int document_list(struct db *db, long long account_id, const char *status, long long limit,
		  const struct page_pos *after, json_t **items, char **next, struct fs_error *e);
/* How many documents the account has in each status: {"processing", "ready", "failed", "total"}. */
int document_counts(struct db *db, long long account_id, json_t **out, struct fs_error *e);

/* ---- upload ---- */

/* The newest document of the account that is not failed and holds exactly these bytes, as
 * {"id", "filename", "status", "duplicate": true, "metadata": {…}} (its real status and its upload metadata
 * now); *out NULL when there is none. */
int document_same_bytes(struct db *db, long long account_id, const unsigned char sha256[32], json_t **out,
			struct fs_error *e);

struct document_new {
	const char *filename;
	const char *content_type; /* what the content is (extract_kind_mime), never what the client said */
	const char *metadata;     /* a JSON object's text */
	const void *data;
	size_t len;
	const unsigned char *sha256; /* 32 bytes */
};

/* Stores a new document ('processing') and its bytes; id gets its new id. It replaces the account's newest
 * document of the same file name, if any (the worker deletes that one once this one is ready). Bytes that do not
 * fit the database's max_allowed_packet less DOCUMENT_PACKET_MARGIN (room for the statement around them) are
 * refused with FS_ETOOLARGE, the message naming the limit. */
#define DOCUMENT_PACKET_MARGIN 4096
int document_insert(struct db *db, long long account_id, const struct document_new *d, char id[37],
		    struct fs_error *e);
/* Deletes one document of the account and tells the vector store (vstore_changed). FS_ENOTFOUND when the
 * account has no such document. */
int document_delete(struct db *db, const struct config *cfg, long long account_id, const char *id,
		    struct fs_error *e);

/* ---- the worker ---- */

/* What the worker reads of a document: the cells point into r. */
struct document_source {
	struct db_res r;
	const char *filename, *metadata, *created_at, *data;
	size_t len;
};

/* FS_ENOTFOUND when the document is gone (deleted while it waited). */
int document_source_load(struct db *db, const char *id, struct document_source *out, struct fs_error *e);
void document_source_release(struct document_source *s);
/* file_metadata: what the file itself says (a JSON object's text), or NULL. */
int document_set_ready(struct db *db, const char *id, long long chunks, long long tokens, const char *file_metadata,
		       struct fs_error *e);
/* Locks a document's row for the caller's transaction and reads its status, its upload metadata and the file's
 * own (each malloc'd, NULL when the column is; pass NULL for what is not wanted). account_id 0: any account's.
 * FS_ENOTFOUND when it is gone. Whoever changes a document's metadata or stores its chunks locks it first. */
int document_lock_metadata(struct db *db, long long account_id, const char *id, char **status, char **metadata,
			   char **file_metadata, struct fs_error *e);
/* Replaces the upload metadata (a JSON object's text) of a document locked by document_lock_metadata. */
int document_set_metadata(struct db *db, const char *id, const char *metadata, struct fs_error *e);
int document_set_failed(struct db *db, const char *id, const char *reason, struct fs_error *e);
/* Keeps what went wrong on a document that is still processing, so that a person (and the final failure) can
 * say why; on its own, and best effort: a failure to keep it is not reported. */
void document_note_problem(struct db *db, const char *id, const char *problem);
/* The problem kept on the document, "" when there is none. */
int document_last_problem(struct db *db, const char *id, char *out, size_t size, struct fs_error *e);
/* Deletes the account's older documents of this file name (created at or before created_at, other than id),
 * locking them first, and tells the vector store of each. */
int document_delete_older(struct db *db, const struct config *cfg, long long account_id, const char *filename,
			  const char *id, const char *created_at, struct fs_error *e);

/* Every document of the account, with its stored file and chunks (foreign keys), into t ("documents", "stored
 * files", "chunks"); with apply, deleted, a hundred documents per transaction (account delete). The vector store
 * is not told per document: the caller removes the whole account from it (vstore_purge_account). */
int document_purge_account(struct db *db, long long account_id, int apply, struct tally *t, struct fs_error *e);

/* ---- lists for reindex and analytics ---- */

/* The ready documents, oldest first: of one account, or of every account when account_id is 0. */
enum { DOCUMENT_READY_ID, DOCUMENT_READY_ACCOUNT };
int document_ready(struct db *db, long long account_id, struct db_res *r, struct fs_error *e);
/* Every document of the account, oldest first. */
enum { DOCUMENT_NAME_ID, DOCUMENT_NAME_FILENAME, DOCUMENT_NAME_STATUS };
int document_names(struct db *db, long long account_id, struct db_res *r, struct fs_error *e);

/* ---- passages with their document's name ---- */

/* The account's chunks of these ids (in no order; ids of chunks that are gone are missing), with their
 * sentence vectors when sentences is non-zero (else that column is NULL). */
enum { PASSAGE_ID, PASSAGE_DOCUMENT, PASSAGE_TEXT, PASSAGE_METADATA, PASSAGE_FILENAME, PASSAGE_SENTENCES };
int document_passages(struct db *db, long long account_id, const char *const *chunk_ids, size_t n, int sentences,
		      struct db_res *r, struct fs_error *e);
/* One document's chunks in their order. */
enum { DOCUMENT_CHUNK_ID, DOCUMENT_CHUNK_SECTION, DOCUMENT_CHUNK_TEXT, DOCUMENT_CHUNK_FILENAME,
       DOCUMENT_CHUNK_METADATA };
int document_chunks(struct db *db, const char *id, struct db_res *r, struct fs_error *e);

#endif
