/* Whether ingestion workers run: each worker process keeps its row in `workers` fresh (a heartbeat), and the
 * health check reads the newest one together with the queue. Without a worker, uploads stay 'processing'. */
#ifndef FAQSURE_HEARTBEAT_H
#define FAQSURE_HEARTBEAT_H

#include <jansson.h>

#include "core/db.h"

/* A daemon worker beats this often between documents (a document in hand holds a lease instead). */
#define HEARTBEAT_SECONDS 5
/* A worker counts as running when seen this recently: above a cron run's minute, far above the daemon's beat. */
#define HEARTBEAT_ALIVE_SECONDS 150

/* Records that worker_id (host:pid) is alive, with the number of documents it processed so far; the first beat of
 * a process also removes the rows of workers not seen for a day. */
int heartbeat_beat(struct db *db, const char *worker_id, long long documents, int first, struct fs_error *e);

/* *out (new reference): {"ok": bool, "last_seen": ISO time or null, "queued": N, "oldest_queued_seconds": N or
 * null}. ok: a worker was seen within HEARTBEAT_ALIVE_SECONDS, or one holds a job under a lease that has not run
 * out (processing a long document). */
int heartbeat_status(struct db *db, json_t **out, struct fs_error *e);

#endif
