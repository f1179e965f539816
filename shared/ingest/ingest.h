/* Ingestion: the worker's side of uploads. Jobs are claimed with SELECT … FOR UPDATE SKIP LOCKED (many workers
 * on many machines never take the same job) under a lease; a job whose worker died is queued again when its
 * lease runs out, or at once by a worker of the same machine, which sees that the process is gone. Each job
 * extracts, chunks and embeds its document and stores the chunks in one transaction; the document ends 'ready'
 * with its chunk count or 'failed' with a reason. */
#ifndef FAQSURE_INGEST_H
#define FAQSURE_INGEST_H

#include <stdio.h>

#include "answer/answer_span.h"
#include "core/config.h"
#include "core/db.h"
#include "core/tally.h"
#include "embed/embed.h"
#include "text/terms.h"
#include "vstore/vstore.h"

#define INGEST_MAX_ATTEMPTS 3

#define INGEST_TOUCHED_MAX 32

struct ingest_worker {
	struct db *db;
	const struct config *cfg;
	struct embedder *embedder;
	struct terms *terms;
	struct vstore *vs;
	struct span_finder *spans; /* for the sentence vectors the answerer reads (answer_span.h) */
	char id[128]; /* host:pid, recorded on the jobs it holds */
	/* Accounts whose documents it indexed since it last warmed the vector store (ingest_warm). */
	long long touched[INGEST_TOUCHED_MAX];
	size_t ntouched;
	/* A job the database still shows as this worker's though the worker let go of it when the database went
	 * away (the claim's COMMIT unanswered, or the attempt cut off): queued again as soon as the database
	 * answers, rather than when its lease runs out. 0 when none. */
	long long dropped_job;
};

/* Queues a stored document (kb/document.h, document_insert) for the worker, inside the caller's transaction. */
int ingest_enqueue(struct db *db, long long account_id, const char *document_id, struct fs_error *e);

int ingest_worker_init(struct ingest_worker *w, const struct config *cfg, struct fs_error *e);
void ingest_worker_release(struct ingest_worker *w);

/* Puts jobs whose lease ran out back in the queue, then claims and processes one job. *worked says whether
 * there was one. A job that fails leaves its document 'failed' and returns 0: the error is the document's. */
int ingest_run_one(struct ingest_worker *w, int *worked, struct fs_error *e);

/* Brings the vector store's copy on this machine of each account indexed since the last call up to date
 * (vstore_warm), so the first search after an upload does not wait for it; the worker calls it when its queue
 * is empty. An account beyond INGEST_TOUCHED_MAX is left to its first search. */
int ingest_warm(struct ingest_worker *w, struct fs_error *e);

/* What is embedded (and keyword-indexed) for a chunk (malloc'd): the document's title as its file name says it
 * ("return-policy.pdf" gives "return policy": the words of the name without its extension, leaving out words
 * with digits, which are ids and dates), its section heading path, each on a line of its own, then its text.
 * People name files after what they hold, and a question often asks in those words ("What is your return
 * policy?" of a text that only says "returns"). Indexing and reindexing both use it, so a reindex embeds exactly
 * what ingestion did. filename and section may be NULL. */
char *ingest_embed_text(const char *filename, const char *section, const char *text);
/* A chunk's lead for the embedder (embed.h): its question when it is an FAQ entry (question non-NULL and not
 * empty), else the first line of its text when more lines follow and it is at most INGEST_LEAD_MAX bytes (a
 * title, a heading, a question), else NULL. malloc'd. */
#define INGEST_LEAD_MAX 300
char *ingest_embed_lead(const char *question, const char *text);

/* Into out (emptied first): the sentence vectors of a stored chunk, its text and its metadata column as stored
 * (span_passage_vectors), as the worker, `faqsurectl sentences` and reindex all store them. */
void ingest_chunk_sentences(struct ingest_worker *w, const char *text, const char *metadata, struct buf *out);

/* Computes the sentence vectors the built-in answerer reads (answer_span.h, span_passage_vectors) of up to max
 * chunks that have none yet (of one account, or of all for account_id 0); *filled says how many. The worker does it when its queue is empty:
 * a document is ready as soon as its chunks are stored, and a chat on a chunk without them computes them itself
 * (same answer, more time) until then. */
int ingest_fill_sentences(struct ingest_worker *w, long long account_id, int max, int *filled, struct fs_error *e);

/* The same bytes uploaded again with metadata (a JSON object's text): it becomes the document's upload metadata,
 * and its stored chunks' metadata is made again from it (the upload's, then the file's own keys the upload does
 * not give, then the chunk's section, page and question); a document still processing gets it when the worker
 * stores its chunks. *changed says whether it differed. A transaction of its own; FS_ENOTFOUND when the
 * account has no such document. */
int ingest_update_metadata(struct db *db, long long account_id, const char *document_id, const char *metadata,
			   int *changed, struct fs_error *e);

/* The account's ingestion jobs into t ("ingestion jobs"); with apply, deleted: a worker holding one then finds
 * it gone and stores nothing (account delete, before the documents). */
int ingest_purge_account(struct db *db, long long account_id, int apply, struct tally *t, struct fs_error *e);

#endif
