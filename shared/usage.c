/* Usage events, queued per process and written with multi-row INSERTs. */
#include "usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"
#include "banned.h"

#define USAGE_MAX_QUEUED 10000
#define USAGE_COLUMNS 10

struct usage_row {
	long long account_id;
	char key_id[37];
	char request_id[33];
	char method[9];
	char route[65];
	char error[33];
	int status, has_key, has_error;
	long long tokens_prompt, tokens_completion, processing_ms;
};

struct usage_queue {
	struct usage_row *rows;
	size_t len, cap;
	double oldest_ms;
	unsigned long dropped;
};

struct usage_queue *usage_queue_new(void)
{
	return xcalloc(1, sizeof(struct usage_queue));
}

void usage_queue_free(struct usage_queue *q)
{
	if (!q)
		return;
	free(q->rows);
	free(q);
}

size_t usage_queue_len(const struct usage_queue *q)
{
	return q->len;
}

int usage_queue_due(const struct usage_queue *q)
{
	return q->len >= USAGE_BATCH || (q->len > 0 && util_now_ms() - q->oldest_ms >= USAGE_MAX_AGE_MS);
}

void usage_queue_add(struct usage_queue *q, const struct usage_event *ev)
{
	if (q->len == USAGE_MAX_QUEUED) {
		memmove(q->rows, q->rows + 1, (q->len - 1) * sizeof(*q->rows));
		q->len--;
		if (q->dropped++ % 1000 == 0)
			fprintf(stderr, "faqsure: the database has been unreachable for long; dropping usage events\n");
	}
	if (q->len == q->cap) {
		q->cap = q->cap ? q->cap * 2 : USAGE_BATCH;
		q->rows = xrealloc(q->rows, q->cap * sizeof(*q->rows));
	}
	struct usage_row *r = &q->rows[q->len];
	memset(r, 0, sizeof(*r));
	r->account_id = ev->account_id;
	r->has_key = ev->key_id != NULL;
	snprintf(r->key_id, sizeof(r->key_id), "%s", ev->key_id ? ev->key_id : "");
	snprintf(r->request_id, sizeof(r->request_id), "%s", ev->request_id);
	snprintf(r->method, sizeof(r->method), "%s", ev->method);
	snprintf(r->route, sizeof(r->route), "%s", ev->route);
	r->has_error = ev->error != NULL;
	snprintf(r->error, sizeof(r->error), "%s", ev->error ? ev->error : "");
	r->status = ev->status;
	r->tokens_prompt = ev->tokens_prompt;
	r->tokens_completion = ev->tokens_completion;
	r->processing_ms = ev->processing_ms;
	if (q->len == 0)
		q->oldest_ms = util_now_ms();
	q->len++;
}

/* Writes rows [0, n) in one statement. */
static int insert_rows(struct db *db, const struct usage_row *rows, size_t n, struct fs_error *e)
{
	struct db_param *p = xcalloc(n * USAGE_COLUMNS, sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		const struct usage_row *r = &rows[i];
		struct db_param *row = p + i * USAGE_COLUMNS;
		row[0] = (struct db_param){ .type = 'i', .i = r->account_id };
		row[1] = (struct db_param){ .type = 's', .ptr = r->has_key ? r->key_id : NULL };
		row[2] = (struct db_param){ .type = 's', .ptr = r->request_id };
		row[3] = (struct db_param){ .type = 's', .ptr = r->method };
		row[4] = (struct db_param){ .type = 's', .ptr = r->route };
		row[5] = (struct db_param){ .type = 'i', .i = r->status };
		row[6] = (struct db_param){ .type = 's', .ptr = r->has_error ? r->error : NULL };
		row[7] = (struct db_param){ .type = 'i', .i = r->tokens_prompt };
		row[8] = (struct db_param){ .type = 'i', .i = r->tokens_completion };
		row[9] = (struct db_param){ .type = 'i', .i = r->processing_ms };
	}
	int rc = db_insert_rows(db,
				"INSERT INTO usage_events (account_id, key_id, request_id, method, route, status, error,"
				" tokens_prompt, tokens_completion, processing_ms) VALUES ",
				"(NULLIF(?, 0), ?, ?, ?, ?, ?, ?, ?, ?, ?)", p, USAGE_COLUMNS, n, n, e);
	free(p);
	return rc;
}

int usage_queue_flush(struct usage_queue *q, struct db *db, struct fs_error *e)
{
	size_t done = 0;
	int rc = 0;
	while (done < q->len) {
		size_t n = q->len - done < USAGE_BATCH ? q->len - done : USAGE_BATCH;
		rc = insert_rows(db, q->rows + done, n, e);
		if (rc < 0)
			break;
		done += n;
	}
	memmove(q->rows, q->rows + done, (q->len - done) * sizeof(*q->rows));
	q->len -= done;
	if (q->len)
		q->oldest_ms = util_now_ms(); /* try again in a second, not on every request */
	return rc;
}
