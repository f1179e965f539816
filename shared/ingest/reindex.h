/* Embedding stored chunks again: after the embedder changed (faqsurectl reindex), or after an upgrade changed the
 * built-in model (the worker, when its queue is empty). Both read the chunks back from MariaDB (kb/document.h) and
 * run on an ingestion worker's embedder and store. */
#ifndef FAQSURE_REINDEX_H
#define FAQSURE_REINDEX_H

#include <stdio.h>

#include "core/err.h"
#include "ingest/ingest.h"

/* With the built-in embedder, embeds again the chunks stored with an older built-in model's vectors (after an
 * upgrade changed it): up to max_docs documents of one account, then every process's cache of that account
 * starts over; *refreshed says how many documents. Until then search does not see those chunks. Nothing for
 * another embedder's vectors (a configuration change: `faqsurectl reindex`) or an external store (Qdrant's
 * collection has one vector size: `faqsurectl reindex` makes it again). The worker does it when its queue is
 * empty, before sentence vectors. */
int reindex_refresh(struct ingest_worker *w, int max_docs, int *refreshed, struct fs_error *e);

/* Re-embeds the ready documents of one account (account_id > 0) or of all (0) with the configured embedder and
 * rebuilds the vector store from MariaDB; progress lines go to progress (may be NULL). */
int reindex_accounts(struct ingest_worker *w, long long account_id, FILE *progress, struct fs_error *e);

#endif
