/* Analytics: the dashboard of one account over a window of UTC days — usage, cost, answer quality and the
 * questions the knowledge base cannot answer yet (API.md "GET /api/v1/analytics/dashboard").
 *
 * It reads the daily rollups of the usage events (usage_daily, usage_latency_daily: written with the events,
 * usage.h), the chat tables (each question carries its paraphrase signature, text/signature.h) and the documents,
 * so its cost grows with the number of days and distinct questions in the window, not with the number of
 * requests. */
#ifndef FAQSURE_ANALYTICS_H
#define FAQSURE_ANALYTICS_H

#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "core/db.h"
#include "core/err.h"
#include "text/terms.h"

#define ANALYTICS_DEFAULT_DAYS 30
#define ANALYTICS_MAX_DAYS 366
#define ANALYTICS_TOP 10
#define ANALYTICS_DOWNVOTED 20

/* Days are "YYYY-MM-DD" (UTC), both ends included. */
struct analytics_window {
	char from[11], to[11];
	int days;
};

/* from and to as the client gave them (NULL when absent): the default is the ANALYTICS_DEFAULT_DAYS days up to
 * and including today (now); one end alone extends from or to it. A malformed date, from after to, or more than
 * ANALYTICS_MAX_DAYS days is FS_EINVAL naming the parameter. */
int analytics_window_parse(const char *from, const char *to, time_t now, struct analytics_window *w,
			   struct fs_error *e);


/* Gives questions stored before db/005 their signature, wording and their answer's fallback flag, in batches; *updated
 * counts them. */
int analytics_backfill(struct db *db, struct terms *t, long long *updated, struct fs_error *e);

/* The dashboard object for the account (API.md). t is the caller's tokenizer (for grouping paraphrases). */
int analytics_dashboard(struct db *db, struct terms *t, long long account_id, const struct analytics_window *w,
			json_t **out, struct fs_error *e);

#endif
