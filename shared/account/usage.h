/* Usage events: one row per API request (who, which route, outcome, tokens, time), for analytics and billing.
 * A process queues its events and writes them in batches: when 32 are waiting, when the oldest is a second
 * old, when the process has had no request for a quarter of a second, and when it exits. The same transaction
 * adds the batch to the daily rollups (usage_daily, usage_latency_daily) that the dashboard reads. */
#ifndef FAQSURE_USAGE_H
#define FAQSURE_USAGE_H

#include <stddef.h>

#include "core/db.h"
#include "core/tally.h"

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
	long long time_us;    /* when it happened, in microseconds since the epoch; 0: when it is queued */
};

#define USAGE_BATCH 32
#define USAGE_MAX_AGE_MS 1000.0
#define USAGE_IDLE_FLUSH_MS 250
/* At most this many events are written (and rolled up) per transaction. */
#define USAGE_TXN_EVENTS 2048

struct usage_queue;

struct usage_queue *usage_queue_new(void);
/* Frees the queue; events still in it are lost, so flush first. */
void usage_queue_free(struct usage_queue *q);
/* Copies the event into the queue, with its time (now, unless ev->time_us says otherwise): the event row's
 * created_at and the day it is rolled up under both come from that one time. When the database has been
 * unreachable for so long that 10,000 events wait, the oldest are dropped (and said so on stderr). */
void usage_queue_add(struct usage_queue *q, const struct usage_event *ev);
size_t usage_queue_len(const struct usage_queue *q);
/* 1 when the queue should be written now (full, or its oldest event is old). */
int usage_queue_due(const struct usage_queue *q);
/* Writes every queued event and adds them to the daily rollups, up to USAGE_TXN_EVENTS per transaction (a
 * deadlock is retried at once). On failure the events of the failed transaction and after stay queued for the
 * next try, and nothing of that transaction is written. Events of an account deleted meanwhile are dropped: a
 * deleted account's rows never come back. */
int usage_queue_flush(struct usage_queue *q, struct db *db, struct fs_error *e);

/* Counts a document made ready today (UTC) with the tokens taken for it (indexing_daily, which the dashboard
 * reads), inside the caller's transaction. */
int usage_record_indexing(struct db *db, long long account_id, long long tokens, struct fs_error *e);
/* The account's usage events, daily rollups and indexing rows into t ("usage events", "daily usage rows",
 * "daily indexing rows"); with apply, deleted, big tables a slice at a time (account delete). */
int usage_purge_account(struct db *db, long long account_id, int apply, struct tally *t, struct fs_error *e);

/* The usage_latency_daily bucket of a processing time: ms itself below 1,000; then the lower bound of a bucket
 * 10 ms wide below 10,000, 100 ms wide below 100,000 and 1,000 ms wide beyond. */
long long usage_latency_bucket(long long ms);

/* One usage_daily row's key and increments. Unauthenticated events (account 0) are not rolled up. */
struct usage_daily_row {
	long long account_id;
	char day[11];    /* "YYYY-MM-DD", UTC */
	char key_id[37]; /* "" when the event had no key */
	char method[9];
	char route[65];
	long long requests, rate_limited, client_errors, server_errors; /* 429; other 4xx; 5xx */
	long long tokens_prompt, tokens_completion, ms_sum;
};

/* One usage_latency_daily row: n more requests of the route took ms (a usage_latency_bucket) that day. */
struct usage_latency_row {
	long long account_id;
	char day[11];
	char method[9];
	char route[65];
	long long ms, n;
};

/* The rollup increments of some queued events: one row per primary key, sorted by primary key as the database
 * orders it (so processes that flush at once lock rows in the same order). */
struct usage_rollup {
	struct usage_daily_row *daily;
	size_t ndaily;
	struct usage_latency_row *latency;
	size_t nlatency;
};

/* The rollup of the queue's events [first, first + n) (clamped to the queue). Release with usage_rollup_release. */
void usage_rollup_init(struct usage_rollup *r, const struct usage_queue *q, size_t first, size_t n);
void usage_rollup_release(struct usage_rollup *r);

#endif
