/* Usage events, queued per process and written with multi-row INSERTs, together with their daily rollups. */
#include "account/usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/util.h"
#include "core/banned.h"

#define USAGE_MAX_QUEUED 10000
#define USAGE_COLUMNS 11
#define DAILY_COLUMNS 12
#define LATENCY_COLUMNS 6
/* Rows per rollup statement: powers of two whose parameters stay under the database layer's limit. */
#define DAILY_PER_STATEMENT 32
#define LATENCY_PER_STATEMENT 64

struct usage_row {
	long long account_id;
	char key_id[37];
	char request_id[33];
	char method[9];
	char route[65];
	char error[33];
	char at[32]; /* created_at, "YYYY-MM-DD HH:MM:SS.uuuuuu" UTC; its first 10 bytes are the rollup day */
	int status, has_key, has_error;
	int gone; /* its account was deleted before the event was written: dropped, never written */
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

long long usage_latency_bucket(long long ms)
{
	if (ms < 0)
		return 0;
	if (ms < 1000)
		return ms;
	if (ms < 10000)
		return ms - ms % 10;
	if (ms < 100000)
		return ms - ms % 100;
	return ms - ms % 1000;
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
	long long us = ev->time_us;
	if (us <= 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	}
	util_format_time_us(us, r->at);
	if (q->len == 0)
		q->oldest_ms = util_now_ms();
	q->len++;
}

/* The order of the key columns' collation (ascii_general_ci: case-insensitive, letters compared as upper case),
 * so rows are sorted as InnoDB sorts the primary key. */
static int ci_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int ca = *a >= 'a' && *a <= 'z' ? *a - 32 : (unsigned char)*a;
		int cb = *b >= 'a' && *b <= 'z' ? *b - 32 : (unsigned char)*b;
		if (ca != cb || !ca)
			return ca - cb;
	}
}

static int cmp_ll(long long a, long long b)
{
	return (a > b) - (a < b);
}

static int daily_cmp(const void *pa, const void *pb)
{
	const struct usage_daily_row *a = pa, *b = pb;
	int c = cmp_ll(a->account_id, b->account_id);
	if (!c)
		c = strcmp(a->day, b->day);
	if (!c)
		c = ci_cmp(a->key_id, b->key_id);
	if (!c)
		c = ci_cmp(a->method, b->method);
	if (!c)
		c = ci_cmp(a->route, b->route);
	return c;
}

static int latency_cmp(const void *pa, const void *pb)
{
	const struct usage_latency_row *a = pa, *b = pb;
	int c = cmp_ll(a->account_id, b->account_id);
	if (!c)
		c = strcmp(a->day, b->day);
	if (!c)
		c = ci_cmp(a->method, b->method);
	if (!c)
		c = ci_cmp(a->route, b->route);
	if (!c)
		c = cmp_ll(a->ms, b->ms);
	return c;
}

void usage_rollup_init(struct usage_rollup *r, const struct usage_queue *q, size_t first, size_t n)
{
	memset(r, 0, sizeof(*r));
	if (first >= q->len)
		return;
	if (n > q->len - first)
		n = q->len - first;
	r->daily = xcalloc(n ? n : 1, sizeof(*r->daily));
	r->latency = xcalloc(n ? n : 1, sizeof(*r->latency));
	size_t k = 0;
	for (size_t i = first; i < first + n; i++) {
		const struct usage_row *ev = &q->rows[i];
		if (ev->account_id <= 0 || ev->gone)
			continue;
		struct usage_daily_row *d = &r->daily[k];
		struct usage_latency_row *l = &r->latency[k];
		k++;
		d->account_id = l->account_id = ev->account_id;
		memcpy(d->day, ev->at, 10);
		memcpy(l->day, ev->at, 10);
		memcpy(d->key_id, ev->key_id, sizeof(d->key_id));
		memcpy(d->method, ev->method, sizeof(d->method));
		memcpy(l->method, ev->method, sizeof(l->method));
		memcpy(d->route, ev->route, sizeof(d->route));
		memcpy(l->route, ev->route, sizeof(l->route));
		d->requests = 1;
		d->rate_limited = ev->status == 429;
		d->client_errors = ev->status >= 400 && ev->status < 500 && ev->status != 429;
		d->server_errors = ev->status >= 500 && ev->status < 600;
		d->tokens_prompt = ev->tokens_prompt;
		d->tokens_completion = ev->tokens_completion;
		d->ms_sum = ev->processing_ms;
		l->ms = usage_latency_bucket(ev->processing_ms);
		l->n = 1;
	}
	qsort(r->daily, k, sizeof(*r->daily), daily_cmp);
	qsort(r->latency, k, sizeof(*r->latency), latency_cmp);
	/* merge the runs of equal keys */
	for (size_t i = 0; i < k; i++) {
		struct usage_daily_row *to = r->ndaily ? &r->daily[r->ndaily - 1] : NULL, *d = &r->daily[i];
		if (to && !daily_cmp(to, d)) {
			to->requests += d->requests;
			to->rate_limited += d->rate_limited;
			to->client_errors += d->client_errors;
			to->server_errors += d->server_errors;
			to->tokens_prompt += d->tokens_prompt;
			to->tokens_completion += d->tokens_completion;
			to->ms_sum += d->ms_sum;
		} else {
			r->daily[r->ndaily++] = *d;
		}
	}
	for (size_t i = 0; i < k; i++) {
		struct usage_latency_row *to = r->nlatency ? &r->latency[r->nlatency - 1] : NULL, *l = &r->latency[i];
		if (to && !latency_cmp(to, l))
			to->n += l->n;
		else
			r->latency[r->nlatency++] = *l;
	}
}

void usage_rollup_release(struct usage_rollup *r)
{
	free(r->daily);
	free(r->latency);
	memset(r, 0, sizeof(*r));
}

/* Writes rows [0, n) of the events (those not gone), USAGE_BATCH per statement. */
static int insert_events(struct db *db, const struct usage_row *rows, size_t n, struct fs_error *e)
{
	struct db_param *p = xcalloc((n ? n : 1) * USAGE_COLUMNS, sizeof(*p));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const struct usage_row *r = &rows[i];
		if (r->gone)
			continue;
		struct db_param *row = p + k++ * USAGE_COLUMNS;
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
		row[10] = (struct db_param){ .type = 's', .ptr = r->at };
	}
	int rc = db_insert_rows(db,
				"INSERT INTO usage_events (account_id, key_id, request_id, method, route, status, error,"
				" tokens_prompt, tokens_completion, processing_ms, created_at) VALUES ",
				"(NULLIF(?, 0), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", p, USAGE_COLUMNS, k, USAGE_BATCH, e);
	free(p);
	return rc;
}

/* How many rows to send for n: whole statements of per rows, and the last one padded to a power of two, so a
 * process prepares a handful of distinct statement texts instead of one per row count (the statement cache is
 * small). A padding row repeats the last key with zero increments: an update that changes nothing. */
static size_t padded_rows(size_t n, size_t per)
{
	size_t rest = n % per, p = 1;
	if (rest == 0)
		return n;
	while (p < rest)
		p <<= 1;
	return n - rest + p;
}

static int upsert_daily(struct db *db, const struct usage_rollup *ru, struct fs_error *e)
{
	if (!ru->ndaily)
		return 0;
	size_t m = padded_rows(ru->ndaily, DAILY_PER_STATEMENT);
	struct db_param *p = xcalloc(m * DAILY_COLUMNS, sizeof(*p));
	for (size_t i = 0; i < m; i++) {
		const struct usage_daily_row *r = &ru->daily[i < ru->ndaily ? i : ru->ndaily - 1];
		int real = i < ru->ndaily;
		struct db_param *row = p + i * DAILY_COLUMNS;
		row[0] = (struct db_param){ .type = 'i', .i = r->account_id };
		row[1] = (struct db_param){ .type = 's', .ptr = r->day };
		row[2] = (struct db_param){ .type = 's', .ptr = r->key_id };
		row[3] = (struct db_param){ .type = 's', .ptr = r->method };
		row[4] = (struct db_param){ .type = 's', .ptr = r->route };
		row[5] = (struct db_param){ .type = 'i', .i = real ? r->requests : 0 };
		row[6] = (struct db_param){ .type = 'i', .i = real ? r->rate_limited : 0 };
		row[7] = (struct db_param){ .type = 'i', .i = real ? r->client_errors : 0 };
		row[8] = (struct db_param){ .type = 'i', .i = real ? r->server_errors : 0 };
		row[9] = (struct db_param){ .type = 'i', .i = real ? r->tokens_prompt : 0 };
		row[10] = (struct db_param){ .type = 'i', .i = real ? r->tokens_completion : 0 };
		row[11] = (struct db_param){ .type = 'i', .i = real ? r->ms_sum : 0 };
	}
	int rc = db_upsert_rows(db,
			     "INSERT INTO usage_daily (account_id, day, key_id, method, route, requests, rate_limited,"
			     " client_errors, server_errors, tokens_prompt, tokens_completion, ms_sum) VALUES ",
			     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			     " ON DUPLICATE KEY UPDATE requests = requests + VALUES(requests),"
			     " rate_limited = rate_limited + VALUES(rate_limited),"
			     " client_errors = client_errors + VALUES(client_errors),"
			     " server_errors = server_errors + VALUES(server_errors),"
			     " tokens_prompt = tokens_prompt + VALUES(tokens_prompt),"
			     " tokens_completion = tokens_completion + VALUES(tokens_completion),"
			     " ms_sum = ms_sum + VALUES(ms_sum)",
			     p, DAILY_COLUMNS, m, DAILY_PER_STATEMENT, e);
	free(p);
	return rc;
}

static int upsert_latency(struct db *db, const struct usage_rollup *ru, struct fs_error *e)
{
	if (!ru->nlatency)
		return 0;
	size_t m = padded_rows(ru->nlatency, LATENCY_PER_STATEMENT);
	struct db_param *p = xcalloc(m * LATENCY_COLUMNS, sizeof(*p));
	for (size_t i = 0; i < m; i++) {
		const struct usage_latency_row *r = &ru->latency[i < ru->nlatency ? i : ru->nlatency - 1];
		struct db_param *row = p + i * LATENCY_COLUMNS;
		row[0] = (struct db_param){ .type = 'i', .i = r->account_id };
		row[1] = (struct db_param){ .type = 's', .ptr = r->day };
		row[2] = (struct db_param){ .type = 's', .ptr = r->method };
		row[3] = (struct db_param){ .type = 's', .ptr = r->route };
		row[4] = (struct db_param){ .type = 'i', .i = r->ms };
		row[5] = (struct db_param){ .type = 'i', .i = i < ru->nlatency ? r->n : 0 };
	}
	int rc = db_upsert_rows(db, "INSERT INTO usage_latency_daily (account_id, day, method, route, ms, n) VALUES ",
			     "(?, ?, ?, ?, ?, ?)", " ON DUPLICATE KEY UPDATE n = n + VALUES(n)", p, LATENCY_COLUMNS, m,
			     LATENCY_PER_STATEMENT, e);
	free(p);
	return rc;
}

/* Marks the events of [first, first + n) whose account was deleted (gone): their account rows are read with a
 * shared lock, so an account delete (account_purge locks the row first) either waits for this transaction, and
 * removes what it wrote, or has committed, and these events are dropped. A handful of distinct accounts per batch:
 * the id list is padded to a power of two (the statement cache is small). */
static int mark_gone_accounts(struct usage_queue *q, size_t first, size_t n, struct db *db, struct fs_error *e)
{
	long long *ids = xcalloc(n ? n : 1, sizeof(*ids));
	size_t nids = 0;
	for (size_t i = first; i < first + n; i++) {
		long long a = q->rows[i].account_id;
		size_t k = 0;
		while (k < nids && ids[k] != a)
			k++;
		if (a > 0 && !q->rows[i].gone && k == nids)
			ids[nids++] = a;
	}
	int rc = 0;
	for (size_t at = 0; at < nids && rc == 0; at += USAGE_BATCH) {
		size_t k = nids - at < USAGE_BATCH ? nids - at : USAGE_BATCH, m = padded_rows(k, USAGE_BATCH);
		struct db_param *p = xcalloc(m, sizeof(*p));
		struct buf sql;
		struct db_res r;
		buf_init(&sql, BUF_NO_LIMIT);
		buf_adds(&sql, "SELECT id FROM accounts WHERE id IN (");
		for (size_t i = 0; i < m; i++) {
			p[i] = (struct db_param){ .type = 'i', .i = ids[at + (i < k ? i : k - 1)] };
			buf_adds(&sql, i ? ", ?" : "?");
		}
		buf_adds(&sql, ") LOCK IN SHARE MODE");
		rc = db_exec_params(db, &r, e, buf_str(&sql), p, m);
		for (size_t i = 0; rc == 0 && i < k; i++) {
			int live = 0;
			for (size_t row = 0; row < r.nrows && !live; row++)
				live = db_cell_ll(&r, row, 0, 0) == ids[at + i];
			for (size_t j = first; !live && j < first + n; j++)
				if (q->rows[j].account_id == ids[at + i])
					q->rows[j].gone = 1;
		}
		if (rc == 0)
			db_res_release(&r);
		buf_release(&sql);
		free(p);
	}
	free(ids);
	return rc;
}

/* Events [first, first + n) and their rollups in one transaction: all of it is written, or none. */
static int write_batch(struct usage_queue *q, size_t first, size_t n, struct db *db, struct fs_error *e)
{
	struct usage_rollup ru = { 0 };
	int rc = db_begin(db, e);
	if (rc < 0)
		return rc;
	if ((rc = mark_gone_accounts(q, first, n, db, e)) < 0) {
		db_rollback(db);
		return rc;
	}
	usage_rollup_init(&ru, q, first, n);
	/* the events first: the rollup rows are the ones other processes wait for, so they are held the shortest */
	if ((rc = insert_events(db, q->rows + first, n, e)) < 0 || (rc = upsert_daily(db, &ru, e)) < 0 ||
	    (rc = upsert_latency(db, &ru, e)) < 0 || (rc = db_commit(db, e)) < 0)
		db_rollback(db);
	usage_rollup_release(&ru);
	return rc;
}

struct batch {
	struct usage_queue *q;
	size_t first, n;
};

static int write_batch_once(struct db *db, void *arg, struct fs_error *e)
{
	struct batch *b = arg;
	return write_batch(b->q, b->first, b->n, db, e);
}

int usage_queue_flush(struct usage_queue *q, struct db *db, struct fs_error *e)
{
	size_t done = 0;
	int rc = 0;
	while (done < q->len) {
		struct batch b = { q, done, q->len - done < USAGE_TXN_EVENTS ? q->len - done : USAGE_TXN_EVENTS };
		/* processes flushing at once may deadlock (db_retry) */
		if ((rc = db_retry(db, write_batch_once, &b, e)) < 0)
			break;
		done += b.n;
	}
	memmove(q->rows, q->rows + done, (q->len - done) * sizeof(*q->rows));
	q->len -= done;
	if (q->len)
		q->oldest_ms = util_now_ms(); /* try again in a second, not on every request */
	return rc;
}

int usage_record_indexing(struct db *db, long long account_id, long long tokens, struct fs_error *e)
{
	return db_exec(db, NULL, e,
		       "INSERT INTO indexing_daily (account_id, day, documents, tokens) VALUES (?, UTC_DATE(), 1, ?)"
		       " ON DUPLICATE KEY UPDATE documents = documents + 1, tokens = tokens + VALUES(tokens)",
		       "ii", account_id, tokens);
}

int usage_purge_account(struct db *db, long long account_id, int apply, struct tally *t, struct fs_error *e)
{
	int rc;
	if ((rc = db_purge_rows(db, "usage_events", account_id, apply, t, "usage events", e)) < 0 ||
	    (rc = db_purge_rows(db, "usage_daily", account_id, apply, t, "daily usage rows", e)) < 0 ||
	    (rc = db_purge_rows(db, "usage_latency_daily", account_id, apply, t, "daily usage rows", e)) < 0)
		return rc;
	return db_purge_rows(db, "indexing_daily", account_id, apply, t, "daily indexing rows", e);
}
