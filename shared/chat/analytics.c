/* The analytics dashboard (analytics.h): a handful of grouped queries over the rollups and the chat tables, and
 * the grouping of paraphrased questions. */
#include "chat/analytics.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/account.h"
#include "core/buf.h"
#include "core/util.h"
#include "kb/document.h"
#include "text/signature.h"

#include "core/banned.h"

/* Question groups looked at when merging paraphrases: the most asked and the most unanswered. */
#define CANDIDATE_GROUPS 200
/* Two groups are one question when this share of their distinct words is common (Jaccard). */
#define MERGE_JACCARD 0.6
#define MAX_PARAPHRASES 5
#define NEVER_CITED_SHOWN 50
#define DAY_SECONDS 86400

/* ---- the window ---- */

/* A strict "YYYY-MM-DD" into the time of its midnight UTC; -1 when it is not a real date. */
static int parse_day(const char *s, time_t *out)
{
	struct tm tm;
	char back[11];
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = atoi(s + 5) - 1;
	tm.tm_mday = atoi(s + 8);
	*out = timegm(&tm);
	/* timegm normalises 2026-02-30 to March 2nd: a date that does not come back unchanged is not a date */
	gmtime_r(out, &tm);
	strftime(back, sizeof(back), "%Y-%m-%d", &tm);
	return strcmp(back, s) == 0 && tm.tm_year >= 0 ? 0 : -1;
}

static void format_day(time_t t, char out[11])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

int analytics_window_parse(const char *from, const char *to, time_t now, struct analytics_window *w,
			   struct fs_error *e)
{
	time_t f, t;
	if (from && parse_day(from, &f) < 0)
		return fs_fail(e, FS_EINVAL, "from must be a date YYYY-MM-DD");
	if (to && parse_day(to, &t) < 0)
		return fs_fail(e, FS_EINVAL, "to must be a date YYYY-MM-DD");
	if (!to)
		t = now - now % DAY_SECONDS;
	if (!from)
		f = t - (time_t)(ANALYTICS_DEFAULT_DAYS - 1) * DAY_SECONDS;
	if (f > t)
		return fs_fail(e, FS_EINVAL, "from (%s) is after to (%s)", from ? from : "", to ? to : "today");
	long long days = (long long)((t - f) / DAY_SECONDS) + 1;
	if (days > ANALYTICS_MAX_DAYS)
		return fs_fail(e, FS_EINVAL, "from and to span %lld days; at most %d", days, ANALYTICS_MAX_DAYS);
	format_day(f, w->from);
	format_day(t, w->to);
	w->days = (int)days;
	return 0;
}

int analytics_backfill(struct db *db, struct terms *t, long long *updated, struct fs_error *e)
{
	struct db_res r;
	int rc;
	*updated = 0;
	do {
		/* the answer follows its question (seq + 1); its fallback is copied onto the question too */
		if ((rc = db_exec(db, &r, e,
				  "SELECT q.id, q.content, COALESCE(a.fallback, q.fallback) FROM messages q"
				  " LEFT JOIN messages a ON a.conversation_id = q.conversation_id AND a.seq = q.seq + 1"
				  " WHERE q.role = 'user' AND q.signature IS NULL LIMIT 500",
				  "")) < 0)
			return rc;
		for (size_t i = 0; i < r.nrows && rc == 0; i++)
			rc = db_exec(db, NULL, e,
				     "UPDATE messages SET signature = ?, wording = ?, fallback = ? WHERE id = ?", "iiis",
				     (long long)signature_question(t, db_cell(&r, i, 1)),
				     (long long)signature_wording(db_cell(&r, i, 1)), db_cell_ll(&r, i, 2, 0),
				     db_cell(&r, i, 0));
		*updated += (long long)r.nrows;
		size_t n = r.nrows;
		db_res_release(&r);
		if (rc < 0 || n == 0)
			return rc;
	} while (1);
}

/* ---- helpers ---- */

struct span {
	char start[20], end[20]; /* "YYYY-MM-DD 00:00:00" of from, and of the day after to */
};

static void window_span(const struct analytics_window *w, struct span *s)
{
	time_t t;
	snprintf(s->start, sizeof(s->start), "%s 00:00:00", w->from);
	parse_day(w->to, &t);
	format_day(t + DAY_SECONDS, s->end);
	memcpy(s->end + 10, " 00:00:00", 10);
}

static long long cell_ll(const struct db_res *r, size_t row, size_t col)
{
	return db_cell_ll(r, row, col, 0);
}

static double cell_double(const struct db_res *r, size_t row, size_t col)
{
	const char *c = db_cell(r, row, col);
	return c ? strtod(c, NULL) : 0;
}

static double round_to(double x, double unit)
{
	return (double)(long long)(x / unit + (x >= 0 ? 0.5 : -0.5)) * unit;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* ---- totals ---- */

static int totals(struct db *db, long long account, const struct span *sp, json_t *out, struct fs_error *e)
{
	struct db_res r;
	long long questions = 0, answers = 0, fallbacks = 0, conversations = 0;
	double confidence = 0;
	int rc = db_exec(db, &r, e,
			 "SELECT role, COUNT(*), SUM(fallback), CAST(SUM(confidence) AS CHAR)"
			 " FROM messages FORCE INDEX (messages_account_analytics) WHERE account_id = ? AND role IN ('user', 'assistant') AND created_at >= ? AND created_at < ?"
			 " GROUP BY role",
			 "iss", account, sp->start, sp->end);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < r.nrows; i++) {
		if (!strcmp(db_cell(&r, i, 0), "user")) {
			questions = cell_ll(&r, i, 1);
		} else {
			answers = cell_ll(&r, i, 1);
			fallbacks = cell_ll(&r, i, 2);
			confidence = cell_double(&r, i, 3);
		}
	}
	db_res_release(&r);
	if ((rc = db_exec(db, &r, e,
			  "SELECT COUNT(*) FROM conversations WHERE account_id = ? AND created_at >= ? AND created_at < ?",
			  "iss", account, sp->start, sp->end)) < 0)
		return rc;
	conversations = cell_ll(&r, 0, 0);
	db_res_release(&r);
	json_object_set_new(out, "conversations", json_integer(conversations));
	json_object_set_new(out, "messages", json_integer(questions + answers));
	json_object_set_new(out, "questions", json_integer(questions));
	json_object_set_new(out, "answered", json_integer(answers - fallbacks));
	json_object_set_new(out, "fallbacks", json_integer(fallbacks));
	json_object_set_new(out, "fallback_rate",
			    json_real(questions ? round_to((double)fallbacks / (double)questions, 0.0001) : 0));
	json_object_set_new(out, "average_confidence",
			    json_real(answers ? round_to(confidence / (double)answers, 0.0001) : 0));

	if ((rc = db_exec(db, &r, e,
			  "SELECT COALESCE(SUM(tokens_prompt), 0), COALESCE(SUM(tokens_completion), 0) FROM usage_daily"
			  " WHERE account_id = ? AND day >= ? AND day < ?",
			  "iss", account, sp->start, sp->end)) < 0)
		return rc;
	long long tp = cell_ll(&r, 0, 0), tc = cell_ll(&r, 0, 1);
	db_res_release(&r);
	json_object_set_new(out, "tokens", json_pack("{s:I, s:I, s:I}", "prompt", (json_int_t)tp, "completion",
						     (json_int_t)tc, "total", (json_int_t)(tp + tc)));
	/* indexing is no request: the worker counts it per day as it takes the tokens (usage_record_indexing) */
	if ((rc = db_exec(db, &r, e,
			  "SELECT CAST(COALESCE(SUM(tokens), 0) AS SIGNED), CAST(COALESCE(SUM(documents), 0) AS SIGNED)"
			  " FROM indexing_daily WHERE account_id = ? AND day >= ? AND day < ?",
			  "iss", account, sp->start, sp->end)) < 0)
		return rc;
	json_object_set_new(out, "indexing_tokens", json_integer(cell_ll(&r, 0, 0)));
	json_object_set_new(out, "documents_indexed", json_integer(cell_ll(&r, 0, 1)));
	db_res_release(&r);

	long long balance;
	if ((rc = account_balance(db, account, &balance, e)) < 0)
		return rc;
	json_object_set_new(out, "token_balance", balance == ACCOUNT_UNLIMITED ? json_null() : json_integer(balance));

	json_t *docs;
	if ((rc = document_counts(db, account, &docs, e)) < 0)
		return rc;
	json_object_set_new(out, "documents", docs);

	if ((rc = db_exec(db, &r, e, "SELECT COUNT(*) FROM chunks WHERE account_id = ?", "i", account)) < 0)
		return rc;
	json_object_set_new(out, "chunks", json_integer(cell_ll(&r, 0, 0)));
	db_res_release(&r);
	return 0;
}

/* ---- latency and keys (the usage rollups) ---- */

/* The nearest-rank percentile p (0–100) of a route's buckets, rows [from, to) of r (ms, n ascending by ms). */
static long long percentile(const struct db_res *r, size_t from, size_t to, long long requests, double p)
{
	long long rank = (long long)((p / 100.0) * (double)requests + 0.999999999), seen = 0;
	if (rank < 1)
		rank = 1;
	for (size_t i = from; i < to; i++) {
		seen += cell_ll(r, i, 3);
		if (seen >= rank)
			return cell_ll(r, i, 2);
	}
	return to > from ? cell_ll(r, to - 1, 2) : 0;
}

static int latency(struct db *db, long long account, const struct span *sp, json_t **out, struct fs_error *e)
{
	struct db_res r, b;
	int rc = db_exec(db, &r, e,
			 "SELECT method, route, SUM(requests) AS n, SUM(ms_sum) FROM usage_daily"
			 " WHERE account_id = ? AND day >= ? AND day < ? GROUP BY method, route ORDER BY n DESC, route, method",
			 "iss", account, sp->start, sp->end);
	if (rc < 0)
		return rc;
	if ((rc = db_exec(db, &b, e,
			  "SELECT method, route, ms, SUM(n) FROM usage_latency_daily WHERE account_id = ? AND day >= ?"
			  " AND day < ? GROUP BY method, route, ms ORDER BY method, route, ms",
			  "iss", account, sp->start, sp->end)) < 0) {
		db_res_release(&r);
		return rc;
	}
	*out = json_array();
	for (size_t i = 0; i < r.nrows; i++) {
		const char *method = db_cell(&r, i, 0), *route = db_cell(&r, i, 1);
		long long n = cell_ll(&r, i, 2);
		size_t from = 0, to;
		while (from < b.nrows && (strcmp(db_cell(&b, from, 0), method) || strcmp(db_cell(&b, from, 1), route)))
			from++;
		for (to = from; to < b.nrows && !strcmp(db_cell(&b, to, 0), method) && !strcmp(db_cell(&b, to, 1), route);
		     to++)
			;
		json_array_append_new(*out, json_pack("{s:s, s:s, s:I, s:f, s:I, s:I}", "method", method, "route", route,
						      "requests", (json_int_t)n, "average_ms",
						      n ? round_to(cell_double(&r, i, 3) / (double)n, 0.1) : 0.0,
						      "p50_ms", (json_int_t)percentile(&b, from, to, n, 50),
						      "p95_ms", (json_int_t)percentile(&b, from, to, n, 95)));
	}
	db_res_release(&r);
	db_res_release(&b);
	return 0;
}

static int keys(struct db *db, long long account, const struct span *sp, json_t **out, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e,
			 "SELECT u.key_id, k.prefix, k.name, SUM(u.requests) AS n, SUM(u.rate_limited),"
			 " SUM(u.client_errors) + SUM(u.server_errors) FROM usage_daily u"
			 " LEFT JOIN api_keys k ON k.id = u.key_id AND k.account_id = u.account_id"
			 " WHERE u.account_id = ? AND u.day >= ? AND u.day < ? AND u.key_id <> ''"
			 " GROUP BY u.key_id, k.prefix, k.name ORDER BY n DESC, u.key_id",
			 "iss", account, sp->start, sp->end);
	if (rc < 0)
		return rc;
	*out = json_array();
	for (size_t i = 0; i < r.nrows; i++)
		json_array_append_new(*out, json_pack("{s:s, s:o, s:o, s:I, s:I, s:I}", "key_id", db_cell(&r, i, 0),
						      "prefix", str_or_null(db_cell(&r, i, 1)), "name",
						      str_or_null(db_cell(&r, i, 2)), "requests",
						      (json_int_t)cell_ll(&r, i, 3), "rate_limited",
						      (json_int_t)cell_ll(&r, i, 4), "errors", (json_int_t)cell_ll(&r, i, 5)));
	db_res_release(&r);
	return 0;
}

/* ---- the daily series ---- */

static json_t *day_of(json_t *days, const struct analytics_window *w, const char *date)
{
	time_t f, d;
	if (!date || parse_day(date, &d) < 0 || parse_day(w->from, &f) < 0)
		return NULL;
	return json_array_get(days, (size_t)((d - f) / DAY_SECONDS));
}

static void add_to_day(json_t *days, const struct analytics_window *w, const char *date, const char *field,
		       long long n)
{
	json_t *day = day_of(days, w, date);
	if (day)
		json_object_set_new(day, field, json_integer(json_integer_value(json_object_get(day, field)) + n));
}

static int daily(struct db *db, long long account, const struct analytics_window *w, const struct span *sp,
		 json_t **out, struct fs_error *e)
{
	struct db_res r;
	time_t f;
	int rc;
	json_t *days = json_array();
	parse_day(w->from, &f);
	for (int i = 0; i < w->days; i++) {
		char date[11];
		format_day(f + (time_t)i * DAY_SECONDS, date);
		json_array_append_new(days, json_pack("{s:s, s:i, s:i, s:i, s:i, s:i}", "date", date, "conversations", 0,
						      "messages", 0, "fallbacks", 0, "tokens", 0, "indexing_tokens", 0));
	}
	if ((rc = db_exec(db, &r, e,
			  "SELECT DATE(created_at), COUNT(*) FROM conversations WHERE account_id = ? AND created_at >= ?"
			  " AND created_at < ? GROUP BY 1",
			  "iss", account, sp->start, sp->end)) < 0)
		goto fail;
	for (size_t i = 0; i < r.nrows; i++)
		add_to_day(days, w, db_cell(&r, i, 0), "conversations", cell_ll(&r, i, 1));
	db_res_release(&r);
	if ((rc = db_exec(db, &r, e,
			  "SELECT DATE(created_at), COUNT(*), SUM(role = 'assistant' AND fallback)"
			  " FROM messages FORCE INDEX (messages_account_analytics) WHERE account_id = ? AND role IN ('user', 'assistant') AND created_at >= ? AND created_at < ?"
			  " GROUP BY 1",
			  "iss", account, sp->start, sp->end)) < 0)
		goto fail;
	for (size_t i = 0; i < r.nrows; i++) {
		add_to_day(days, w, db_cell(&r, i, 0), "messages", cell_ll(&r, i, 1));
		add_to_day(days, w, db_cell(&r, i, 0), "fallbacks", cell_ll(&r, i, 2));
	}
	db_res_release(&r);
	if ((rc = db_exec(db, &r, e,
			  "SELECT day, SUM(tokens_prompt + tokens_completion) FROM usage_daily WHERE account_id = ?"
			  " AND day >= ? AND day < ? GROUP BY day",
			  "iss", account, sp->start, sp->end)) < 0)
		goto fail;
	for (size_t i = 0; i < r.nrows; i++)
		add_to_day(days, w, db_cell(&r, i, 0), "tokens", cell_ll(&r, i, 1));
	db_res_release(&r);
	if ((rc = db_exec(db, &r, e, "SELECT day, tokens FROM indexing_daily WHERE account_id = ? AND day >= ? AND day < ?",
			  "iss", account, sp->start, sp->end)) < 0)
		goto fail;
	for (size_t i = 0; i < r.nrows; i++)
		add_to_day(days, w, db_cell(&r, i, 0), "indexing_tokens", cell_ll(&r, i, 1));
	db_res_release(&r);
	*out = days;
	return 0;
fail:
	json_decref(days);
	return rc;
}

/* ---- questions: paraphrases grouped ---- */

/* One wording of a question: how often it was asked, and one row that holds its text. */
struct wording {
	char example[37];
	char *text;            /* read only for the groups that need it */
	long long count;
};

struct group {
	long long signature;
	long long count, fallbacks;
	char last_asked[24];
	struct wording *words; /* most asked first (after sort_words) */
	size_t nwords;
	struct signature_stems stems;    /* of the most asked wording */
	struct group *into;    /* merged into another group */
	int candidate;
};

/* Most asked first; among equals, those whose text was read first, by text, then by example row. */
static int cmp_wording(const void *a, const void *b)
{
	const struct wording *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	if (!x->text != !y->text)
		return x->text ? -1 : 1;
	int c = x->text ? strcmp(x->text, y->text) : 0;
	return c ? c : strcmp(x->example, y->example);
}

static double jaccard(const struct signature_stems *a, const struct signature_stems *b)
{
	size_t i = 0, j = 0, common = 0;
	while (i < a->n && j < b->n) {
		int c = strcmp(a->v[i], b->v[j]);
		common += c == 0;
		i += c <= 0;
		j += c >= 0;
	}
	size_t all = a->n + b->n - common;
	return all ? (double)common / (double)all : 1.0;
}

static struct group *find_group(struct group **g, size_t *n, size_t *cap, long long signature)
{
	for (size_t i = *n; i-- > 0;) /* rows come grouped by signature: the last group is the usual hit */
		if ((*g)[i].signature == signature)
			return &(*g)[i];
	if (*n == *cap)
		*g = xrealloc(*g, (*cap = *cap ? *cap * 2 : 64) * sizeof(**g));
	struct group *x = &(*g)[(*n)++];
	memset(x, 0, sizeof(*x));
	x->signature = signature;
	return x;
}

/* Every question group of the window with its wordings' counts, from the covering index alone. */
static int load_groups(struct db *db, long long account, const struct span *sp, struct group **out, size_t *n,
		       struct fs_error *e)
{
	struct db_res r;
	size_t cap = 0;
	int rc = db_exec(db, &r, e,
			 "SELECT COALESCE(signature, 0), COALESCE(wording, 0), COUNT(*), SUM(fallback),"
			 " DATE_FORMAT(MAX(created_at), '%Y-%m-%dT%H:%i:%sZ'), MIN(id)"
			 " FROM messages FORCE INDEX (messages_account_analytics) WHERE account_id = ? AND role = 'user'"
			 " AND created_at >= ? AND created_at < ? GROUP BY 1, 2",
			 "iss", account, sp->start, sp->end);
	*out = NULL;
	*n = 0;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < r.nrows; i++) {
		struct group *g = find_group(out, n, &cap, cell_ll(&r, i, 0));
		g->count += cell_ll(&r, i, 2);
		g->fallbacks += cell_ll(&r, i, 3);
		if (strcmp(db_cell(&r, i, 4), g->last_asked) > 0)
			snprintf(g->last_asked, sizeof(g->last_asked), "%s", db_cell(&r, i, 4));
		g->words = xrealloc(g->words, (g->nwords + 1) * sizeof(*g->words));
		struct wording *w = &g->words[g->nwords++];
		memset(w, 0, sizeof(*w));
		snprintf(w->example, sizeof(w->example), "%s", db_cell(&r, i, 5));
		w->count = cell_ll(&r, i, 2);
	}
	db_res_release(&r);
	for (size_t i = 0; i < *n; i++)
		qsort((*out)[i].words, (*out)[i].nwords, sizeof(*(*out)[i].words), cmp_wording);
	return 0;
}

/* Reads the text of the first `upto` wordings of the groups marked candidate, in one query per 500 rows. */
static int load_texts(struct db *db, struct group *g, size_t n, size_t upto, struct fs_error *e)
{
	struct wording **want = NULL;
	size_t nwant = 0, cap = 0;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (!g[i].candidate || g[i].into)
			continue;
		for (size_t k = 0; k < g[i].nwords && k < upto; k++) {
			if (g[i].words[k].text)
				continue;
			if (nwant == cap)
				want = xrealloc(want, (cap = cap ? cap * 2 : 64) * sizeof(*want));
			want[nwant++] = &g[i].words[k];
		}
	}
	for (size_t at = 0; at < nwant && rc == 0; at += 500) {
		size_t k = nwant - at < 500 ? nwant - at : 500;
		struct db_param *params = xcalloc(k, sizeof(*params));
		struct buf sql;
		struct db_res r;
		buf_init(&sql, BUF_NO_LIMIT);
		buf_adds(&sql, "SELECT id, content FROM messages WHERE id IN (");
		for (size_t i = 0; i < k; i++) {
			buf_adds(&sql, i ? ", ?" : "?");
			params[i] = (struct db_param){ .type = 's', .ptr = want[at + i]->example };
		}
		buf_adds(&sql, ")");
		rc = db_exec_params(db, &r, e, buf_str(&sql), params, k);
		buf_release(&sql);
		free(params);
		for (size_t row = 0; rc == 0 && row < r.nrows; row++)
			for (size_t i = 0; i < k; i++)
				if (!want[at + i]->text && !strcmp(want[at + i]->example, db_cell(&r, row, 0)))
					want[at + i]->text = xstrdup(db_cell(&r, row, 1));
		if (rc == 0)
			db_res_release(&r);
	}
	for (size_t i = 0; i < nwant; i++) /* a row deleted meanwhile: its wording shows empty, never NULL */
		if (!want[i]->text)
			want[i]->text = xstrdup("");
	free(want);
	return rc;
}

/* Folds groups whose words mostly overlap into the larger one (its count, fallbacks, wordings). */
static void merge_groups(struct group *g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!g[i].candidate || g[i].into || !g[i].stems.n)
			continue;
		for (size_t j = 0; j < n; j++) {
			if (j == i || !g[j].candidate || g[j].into || !g[j].stems.n ||
			    jaccard(&g[i].stems, &g[j].stems) < MERGE_JACCARD)
				continue;
			struct group *big = g[i].count >= g[j].count ? &g[i] : &g[j], *small = big == &g[i] ? &g[j] : &g[i];
			big->count += small->count;
			big->fallbacks += small->fallbacks;
			if (strcmp(small->last_asked, big->last_asked) > 0)
				memcpy(big->last_asked, small->last_asked, sizeof(big->last_asked));
			big->words = xrealloc(big->words, (big->nwords + small->nwords) * sizeof(*big->words));
			memcpy(big->words + big->nwords, small->words, small->nwords * sizeof(*small->words));
			big->nwords += small->nwords;
			small->nwords = 0;
			small->into = big;
			qsort(big->words, big->nwords, sizeof(*big->words), cmp_wording);
			if (small == &g[i])
				break;
		}
	}
}

/* Orders groups for a list: by count (top questions) or by fallbacks then count (unanswered), then wording. */
static int better(const struct group *a, const struct group *b, int unanswered)
{
	if (unanswered && a->fallbacks != b->fallbacks)
		return a->fallbacks > b->fallbacks;
	if (a->count != b->count)
		return a->count > b->count;
	if (a->words[0].text && b->words[0].text)
		return strcmp(a->words[0].text, b->words[0].text) < 0;
	return a->signature < b->signature;
}

/* Marks the best `k` groups of a list as candidates (those not merged away, by better()). */
static void mark_best(struct group *g, size_t n, size_t k, int unanswered)
{
	unsigned char *taken = xcalloc(n ? n : 1, 1);
	for (size_t picked = 0; picked < k; picked++) {
		struct group *best = NULL;
		for (size_t i = 0; i < n; i++)
			if (!taken[i] && !g[i].into && g[i].nwords && (!unanswered || g[i].fallbacks) &&
			    (!best || better(&g[i], best, unanswered)))
				best = &g[i];
		if (!best)
			break;
		taken[best - g] = 1;
		best->candidate = 1;
	}
	free(taken);
}

static json_t *group_list(struct group *g, size_t n, int unanswered)
{
	unsigned char *taken = xcalloc(n ? n : 1, 1);
	json_t *list = json_array();
	while (json_array_size(list) < ANALYTICS_TOP) {
		struct group *best = NULL;
		for (size_t i = 0; i < n; i++)
			if (!taken[i] && g[i].candidate && !g[i].into && g[i].nwords && (!unanswered || g[i].fallbacks) &&
			    (!best || better(&g[i], best, unanswered)))
				best = &g[i];
		if (!best)
			break;
		taken[best - g] = 1;
		json_t *para = json_array();
		for (size_t i = 1; i < best->nwords && i <= MAX_PARAPHRASES; i++)
			json_array_append_new(para, json_string(best->words[i].text));
		json_t *o = json_pack("{s:s, s:I, s:I}", "question", best->words[0].text, "count",
				      (json_int_t)best->count, "fallbacks", (json_int_t)best->fallbacks);
		if (unanswered)
			json_object_set_new(o, "last_asked", json_string(best->last_asked));
		else
			json_object_set_new(o, "answered", json_integer(best->count - best->fallbacks));
		json_object_set_new(o, "paraphrases", para);
		json_array_append_new(list, o);
	}
	free(taken);
	return list;
}

/* The top and unanswered lists. Only the CANDIDATE_GROUPS best groups of each list are read and compared for
 * merging: the rest are too rare to reach a top ten even merged. */
static int questions(struct db *db, struct terms *t, long long account, const struct span *sp, json_t *out,
		     struct fs_error *e)
{
	struct group *g = NULL;
	size_t n = 0;
	int rc = load_groups(db, account, sp, &g, &n, e);
	if (rc == 0) {
		mark_best(g, n, CANDIDATE_GROUPS, 0);
		mark_best(g, n, CANDIDATE_GROUPS, 1);
		rc = load_texts(db, g, n, 1, e);
	}
	if (rc == 0) {
		for (size_t i = 0; i < n; i++)
			if (g[i].candidate)
				signature_stems(t, g[i].words[0].text, &g[i].stems);
		merge_groups(g, n);
		/* only the groups shown need their other wordings' text */
		for (size_t i = 0; i < n; i++)
			g[i].candidate = 0;
		mark_best(g, n, ANALYTICS_TOP, 0);
		mark_best(g, n, ANALYTICS_TOP, 1);
		rc = load_texts(db, g, n, MAX_PARAPHRASES + 1, e);
	}
	if (rc == 0) {
		for (size_t i = 0; i < n; i++) /* with their texts, ties between wordings order by text */
			if (g[i].candidate)
				qsort(g[i].words, g[i].nwords, sizeof(*g[i].words), cmp_wording);
		json_object_set_new(out, "top_questions", group_list(g, n, 0));
		json_object_set_new(out, "unanswered_questions", group_list(g, n, 1));
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < g[i].nwords; k++)
			free(g[i].words[k].text);
		free(g[i].words);
		signature_stems_release(&g[i].stems);
	}
	free(g);
	return rc;
}

/* ---- documents and feedback ---- */

static int cmp_id(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	return strcmp(*x, *y);
}

/* A document's id and file name, for lookups by id. */
struct named {
	const char *id; /* first: a struct named sorts and is found as its id */
	const char *filename;
};

/* The most cited documents, and the ready documents no answer of the window cited. Both come from two scans:
 * the window's citations grouped by document (an index range), and the account's documents (kb/document.h). */
static int documents(struct db *db, long long account, const struct span *sp, json_t **out, struct fs_error *e)
{
	struct db_res c, d;
	int rc = db_exec(db, &c, e,
			 "SELECT document_id, COUNT(*) AS n FROM message_sources"
			 " WHERE account_id = ? AND created_at >= ? AND created_at < ?"
			 " GROUP BY document_id ORDER BY n DESC, document_id",
			 "iss", account, sp->start, sp->end);
	if (rc < 0)
		return rc;
	if ((rc = document_names(db, account, &d, e)) < 0) {
		db_res_release(&c);
		return rc;
	}
	struct named *names = xcalloc(d.nrows ? d.nrows : 1, sizeof(*names));
	for (size_t i = 0; i < d.nrows; i++)
		names[i] = (struct named){ db_cell(&d, i, DOCUMENT_NAME_ID), db_cell(&d, i, DOCUMENT_NAME_FILENAME) };
	qsort(names, d.nrows, sizeof(*names), cmp_id);
	json_t *cited = json_array(), *uncited = json_array();
	for (size_t i = 0; i < c.nrows && i < ANALYTICS_TOP; i++) {
		const char *id = db_cell(&c, i, 0);
		const struct named *hit = bsearch(&id, names, d.nrows, sizeof(*names), cmp_id);
		const char *filename = hit ? hit->filename : NULL; /* NULL: deleted since */
		json_array_append_new(cited, json_pack("{s:s, s:o, s:I}", "document_id", id, "filename",
						       str_or_null(filename), "citations", (json_int_t)cell_ll(&c, i, 1)));
	}
	const char **ids = xcalloc(c.nrows ? c.nrows : 1, sizeof(*ids));
	for (size_t i = 0; i < c.nrows; i++)
		ids[i] = db_cell(&c, i, 0);
	qsort(ids, c.nrows, sizeof(*ids), cmp_id);
	long long never = 0;
	for (size_t i = 0; i < d.nrows; i++) {
		const char *id = db_cell(&d, i, DOCUMENT_NAME_ID);
		if (strcmp(db_cell(&d, i, DOCUMENT_NAME_STATUS), "ready") ||
		    bsearch(&id, ids, c.nrows, sizeof(*ids), cmp_id))
			continue;
		if (never++ < NEVER_CITED_SHOWN)
			json_array_append_new(uncited, json_pack("{s:s, s:s}", "document_id", id, "filename",
								 db_cell(&d, i, DOCUMENT_NAME_FILENAME)));
	}
	free(ids);
	free(names);
	db_res_release(&c);
	db_res_release(&d);
	*out = json_pack("{s:o, s:o, s:I}", "most_cited", cited, "never_cited", uncited, "never_cited_count",
			 (json_int_t)never);
	return 0;
}

static int feedback(struct db *db, long long account, const struct span *sp, json_t **out, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e,
			 "SELECT rating, COUNT(*) FROM message_feedback WHERE account_id = ? AND created_at >= ?"
			 " AND created_at < ? GROUP BY rating",
			 "iss", account, sp->start, sp->end);
	if (rc < 0)
		return rc;
	*out = json_pack("{s:i, s:i}", "up", 0, "down", 0);
	for (size_t i = 0; i < r.nrows; i++)
		json_object_set_new(*out, db_cell(&r, i, 0), json_integer(cell_ll(&r, i, 1)));
	db_res_release(&r);
	return 0;
}

/* ---- answers to look at: rated down, least sure ---- */

#define ANSWER_COLUMNS                                                                                            \
	"q.content, a.content, CAST(a.confidence AS CHAR), a.conversation_id, a.id, " ISO_OF("a.created_at")
#define ISO_OF(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"

static json_t *answer_object(const struct db_res *r, size_t i)
{
	return json_pack("{s:o, s:s, s:f, s:s, s:s, s:s}", "question", str_or_null(db_cell(r, i, 0)), "answer",
			 db_cell(r, i, 1), "confidence", cell_double(r, i, 2), "conversation_id", db_cell(r, i, 3),
			 "message_id", db_cell(r, i, 4), "created_at", db_cell(r, i, 5));
}

/* The answers rated down in the window (by when the rating was last given), newest first. */
static int downvoted(struct db *db, long long account, const struct span *sp, json_t **out, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e,
			 "SELECT " ANSWER_COLUMNS ", f.comment, " ISO_OF("f.updated_at")
			 " FROM message_feedback f JOIN messages a ON a.id = f.message_id"
			 " LEFT JOIN messages q ON q.id = a.question_id"
			 " WHERE f.account_id = ? AND f.rating = 'down' AND f.updated_at >= ? AND f.updated_at < ?"
			 " ORDER BY f.updated_at DESC, f.message_id LIMIT ?",
			 "issi", account, sp->start, sp->end, (long long)ANALYTICS_DOWNVOTED);
	if (rc < 0)
		return rc;
	*out = json_array();
	for (size_t i = 0; i < r.nrows; i++) {
		json_t *o = answer_object(&r, i);
		json_object_set_new(o, "comment", str_or_null(db_cell(&r, i, 6)));
		json_object_set_new(o, "rated_at", json_string(db_cell(&r, i, 7)));
		json_array_append_new(*out, o);
	}
	db_res_release(&r);
	return 0;
}

/* The answers of the window the answerer was least sure of, lowest confidence first: not fallbacks, and not of
 * confidence 0 (answers given without RAG, which have none to speak of). The ten are picked from the covering
 * index alone (messages_account_analytics holds fallback and confidence), then read. */
static int least_sure(struct db *db, long long account, const struct span *sp, json_t **out, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e,
			 "SELECT " ANSWER_COLUMNS " FROM (SELECT id, confidence, created_at FROM messages"
			 " FORCE INDEX (messages_account_analytics) WHERE account_id = ? AND role = 'assistant'"
			 " AND created_at >= ? AND created_at < ? AND fallback = 0 AND confidence > 0"
			 " ORDER BY confidence, created_at DESC, id LIMIT ?) x"
			 " JOIN messages a ON a.id = x.id LEFT JOIN messages q ON q.id = a.question_id"
			 " ORDER BY x.confidence, x.created_at DESC, x.id",
			 "issi", account, sp->start, sp->end, (long long)ANALYTICS_TOP);
	if (rc < 0)
		return rc;
	*out = json_array();
	for (size_t i = 0; i < r.nrows; i++)
		json_array_append_new(*out, answer_object(&r, i));
	db_res_release(&r);
	return 0;
}

/* ---- the dashboard ---- */

int analytics_dashboard(struct db *db, struct terms *t, long long account_id, const struct analytics_window *w,
			json_t **out, struct fs_error *e)
{
	struct span sp;
	json_t *d = json_object(), *tot = json_object(), *part = NULL;
	int rc;
	window_span(w, &sp);
	json_object_set_new(d, "window", json_pack("{s:s, s:s, s:i}", "from", w->from, "to", w->to, "days", w->days));
	json_object_set_new(d, "totals", tot);
	if ((rc = totals(db, account_id, &sp, tot, e)) < 0)
		goto fail;
	if ((rc = latency(db, account_id, &sp, &part, e)) < 0)
		goto fail;
	json_object_set_new(d, "latency", part);
	if ((rc = keys(db, account_id, &sp, &part, e)) < 0)
		goto fail;
	json_object_set_new(d, "keys", part);
	if ((rc = daily(db, account_id, w, &sp, &part, e)) < 0)
		goto fail;
	json_object_set_new(d, "daily", part);
	if ((rc = questions(db, t, account_id, &sp, d, e)) < 0)
		goto fail;
	if ((rc = documents(db, account_id, &sp, &part, e)) < 0)
		goto fail;
	json_object_set_new(d, "documents", part);
	if ((rc = feedback(db, account_id, &sp, &part, e)) < 0)
		goto fail;
	json_object_set_new(d, "feedback", part);
	if ((rc = downvoted(db, account_id, &sp, &part, e)) < 0)
		goto fail;
	json_object_set_new(d, "downvoted_answers", part);
	if ((rc = least_sure(db, account_id, &sp, &part, e)) < 0)
		goto fail;
	json_object_set_new(d, "lowest_confidence_answers", part);
	*out = d;
	return 0;
fail:
	json_decref(d);
	*out = NULL;
	return rc;
}
