/* Usage events: one row per API request (who, which route, outcome, tokens, time), for analytics and billing.
 * A process queues its events and writes them in batches: when 32 are waiting, when the oldest is a second
 * old, when the process has had no request for a quarter of a second, and when it exits. */
#ifndef FAQSURE_USAGE_H
#define FAQSURE_USAGE_H

#include <stddef.h>

#include "db.h"

struct usage_event {
	long long account_id; /* 0 when the request was not authenticated */
	const char *key_id;   /* NULL when not authenticated */
	const char *request_id;
	const char *method;
	const char *route;    /* the route's pattern, e.g. "/api/v1/keys/{id}" */
	int status;
	const char *error;    /* API error code, or NULL */
	long long tokens_prompt;
	long long tokens_completion;
	long long processing_ms;
};

#define USAGE_BATCH 32
#define USAGE_MAX_AGE_MS 1000.0
#define USAGE_IDLE_FLUSH_MS 250

struct usage_queue;

struct usage_queue *usage_queue_new(void);
/* Frees the queue; events still in it are lost, so flush first. */
void usage_queue_free(struct usage_queue *q);
/* Copies the event into the queue. When the database has been unreachable for so long that 10,000 events
 * wait, the oldest are dropped (and said so on stderr). */
void usage_queue_add(struct usage_queue *q, const struct usage_event *ev);
size_t usage_queue_len(const struct usage_queue *q);
/* 1 when the queue should be written now (full, or its oldest event is old). */
int usage_queue_due(const struct usage_queue *q);
/* Writes every queued event; on failure they stay queued for the next try. */
int usage_queue_flush(struct usage_queue *q, struct db *db, struct fs_error *e);

#endif
