/* analytics-gen — a test-only program: fills one account with a month of history for the analytics dashboard's
 * benchmark. Usage events go through the usage queue (usage.h), so the daily rollups are written by the same
 * path the programs use; conversations, messages (questions with their paraphrase signature), cited sources,
 * feedback and a few documents go in with plain multi-row INSERTs. Never installed.
 *
 * usage: FAQSURE_CONFIG=... analytics-gen ACCOUNT EVENTS MESSAGES [DAYS [SEED]]
 *   ACCOUNT: the account's id or name (it needs at least one API key); DAYS: the window the history spreads over,
 *   from 00:00 UTC DAYS-1 days ago until now (default 30, the dashboard's default window). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "account/usage.h"
#include "chat/analytics.h"
#include "core/config.h"
#include "core/db.h"
#include "core/util.h"
#include "text/signature.h"
#include "text/terms.h"
#include "core/banned.h"

#define MAX_KEYS 8
#define NDOCS 40
#define CITED_DOCS 30 /* documents NDOCS-CITED_DOCS.. are never cited */
#define CONVERSATIONS_PER_TXN 2000

/* ---- a small deterministic generator (splitmix64): the same SEED gives the same history, but ids come from
 * util_uuid, so a second run into the same database never collides ---- */

static unsigned long long rng_state;

static unsigned long long rnd(void)
{
	unsigned long long z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform in [0, 1) */
static double rnd01(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

static long long rnd_range(long long lo, long long hi)
{
	return lo + (long long)(rnd() % (unsigned long long)(hi - lo + 1));
}

/* log-normal around median with spread sigma */
static double rnd_lognormal(double median, double sigma)
{
	double u1 = rnd01(), u2 = rnd01();
	double z = sqrt(-2.0 * log(u1 > 0 ? u1 : 1e-12)) * cos(6.283185307179586 * u2);
	return median * exp(sigma * z);
}

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- usage events ---- */

struct route_mix {
	const char *method, *route;
	int weight;
	double median_ms, sigma; /* latency of a successful request */
	int tokens;              /* 0 none, 1 chat, 2 search, 3 upload */
};

static const struct route_mix routes[] = {
	{ "POST", "/api/v1/chat", 34, 900, 0.7, 1 },
	{ "POST", "/api/v1/search", 24, 35, 0.6, 2 },
	{ "GET", "/api/v1/documents", 12, 6, 0.5, 0 },
	{ "GET", "/api/v1/documents/{id}", 6, 4, 0.5, 0 },
	{ "POST", "/api/v1/documents/upload", 3, 180, 1.0, 3 },
	{ "DELETE", "/api/v1/documents/{id}", 1, 12, 0.5, 0 },
	{ "GET", "/api/v1/chat/conversations", 7, 9, 0.5, 0 },
	{ "GET", "/api/v1/chat/conversations/{id}", 6, 7, 0.5, 0 },
	{ "POST", "/api/v1/chat/messages/{id}/feedback", 3, 8, 0.4, 0 },
	{ "GET", "/api/v1/agents", 2, 5, 0.4, 0 },
	{ "GET", "/api/v1/keys", 1, 5, 0.4, 0 },
	{ "GET", "/api/v1/analytics/dashboard", 1, 120, 0.5, 0 },
};

static const struct route_mix *pick_route(void)
{
	static int total;
	if (!total)
		for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
			total += routes[i].weight;
	int x = (int)(rnd() % (unsigned)total);
	for (size_t i = 0;; i++) {
		if (x < routes[i].weight)
			return &routes[i];
		x -= routes[i].weight;
	}
}

static void pick_status(const struct route_mix *r, int *status, const char **error)
{
	double x = rnd01();
	*error = NULL;
	if ((x -= 0.025) < 0) {
		*status = 429, *error = "rate_limit_exceeded";
	} else if ((x -= 0.02) < 0) {
		*status = 400, *error = "invalid_request";
	} else if ((x -= (strstr(r->route, "{id}") ? 0.04 : 0.003)) < 0) {
		*status = 404, *error = "not_found";
	} else if ((x -= 0.003) < 0) {
		*status = 500, *error = "internal_error";
	} else if ((x -= (r->tokens == 1 ? 0.01 : 0.001)) < 0) {
		*status = 503, *error = "upstream_unavailable";
	} else {
		*status = 200;
	}
}

static int gen_events(struct db *db, long long account, char keys[][37], size_t nkeys, long long n, long long t0,
		      long long t1, struct fs_error *e)
{
	struct usage_queue *q = usage_queue_new();
	int rc = 0;
	double step = (double)(t1 - t0) / (double)(n ? n : 1);
	for (long long i = 0; i < n && rc == 0; i++) {
		const struct route_mix *r = pick_route();
		struct usage_event ev = { .account_id = account, .method = r->method, .route = r->route };
		char rid[33];
		snprintf(rid, sizeof(rid), "%016llx%016llx", rnd(), rnd());
		ev.request_id = rid;
		/* the first key carries most of the traffic */
		ev.key_id = keys[rnd01() < 0.6 || nkeys == 1 ? 0 : 1 + rnd() % (nkeys - 1)];
		pick_status(r, &ev.status, &ev.error);
		double ms = ev.status == 200 || ev.status == 503 ? rnd_lognormal(r->median_ms, r->sigma)
								 : rnd_lognormal(3, 0.5);
		if (ev.status == 200 && rnd01() < 0.005)
			ms *= 12; /* a slow outlier now and then */
		ev.processing_ms = (long long)ms;
		if (ev.status == 200 && r->tokens == 1) {
			ev.tokens_prompt = rnd_range(250, 1800);
			ev.tokens_completion = rnd_range(20, 420);
		} else if (ev.status == 200 && r->tokens == 2) {
			ev.tokens_prompt = rnd_range(3, 40);
		} else if (ev.status == 200 && r->tokens == 3) {
			ev.tokens_prompt = rnd_range(200, 60000);
		}
		/* in time order, so one transaction's events fall on a day or two and roll up into few rows */
		ev.time_us = t0 + (long long)(((double)i + rnd01()) * step);
		usage_queue_add(q, &ev);
		if (usage_queue_len(q) >= USAGE_TXN_EVENTS || i == n - 1)
			rc = usage_queue_flush(q, db, e);
	}
	usage_queue_free(q);
	return rc;
}

/* ---- questions ---- */

static const char *const topics[] = {
	"return policy", "refund", "shipping cost", "delivery time", "order status", "password reset",
	"account deletion", "two-factor authentication", "invoice", "billing address", "payment method",
	"credit card", "subscription plan", "free trial", "discount code", "gift card", "warranty",
	"product manual", "size chart", "international shipping", "customs fee", "tracking number", "damaged item",
	"exchange", "cancellation", "API key", "rate limit", "data export", "privacy policy", "cookie settings",
	"email notifications", "mobile app", "browser support", "single sign-on", "team members", "user roles",
	"storage quota", "file upload limit", "Slack integration", "webhook", "backup", "uptime", "support hours",
	"phone support", "live chat", "store locations", "opening hours", "student discount", "loyalty points",
	"referral program", "price match", "pre-order", "out of stock item", "newsletter", "accessibility",
	"language settings", "time zone", "dark mode", "offline mode", "calendar sync", "contact import",
	"CSV export", "shipping label", "bulk order", "wholesale pricing", "tax exemption", "VAT number",
	"receipt", "payment failure", "chargeback", "security audit", "GDPR request", "data retention",
	"server location", "username",
};
#define NTOPICS (sizeof(topics) / sizeof(topics[0]))
#define NINTENTS 4
#define NBASES (NTOPICS * NINTENTS)

/* Surface forms of each intent, @ standing for the topic: many ask the same thing in other words (and mostly get
 * the same signature). */
static const char *const forms[NINTENTS][7] = {
	{ "what is the @", "@", "what's your @", "tell me about the @", "info on @ please", "the @", "about @" },
	{ "how do I change my @", "how to change @", "change @", "changing my @", "can I change the @",
	  "@ change", "how can I change the @" },
	{ "where can I find the @", "where do I find @", "finding the @", "where is the @", "find @",
	  "where would I find my @", "@ where to find" },
	{ "why is my @ not working", "@ not working", "@ doesn't work", "my @ stopped working", "@ is broken",
	  "@ does not work anymore", "why doesn't the @ work" },
};

static const char *const endings[] = { "?", "?", "", "??", "!", " ?", "...", "." };

/* The questions' popularity: a Zipf law over the bases, in a shuffled order. */
struct popularity {
	int order[NBASES];
	double cum[NBASES];
};

static void popularity_init(struct popularity *p)
{
	double total = 0;
	for (size_t i = 0; i < NBASES; i++)
		p->order[i] = (int)i;
	for (size_t i = NBASES - 1; i > 0; i--) {
		size_t j = rnd() % (i + 1);
		int t = p->order[i];
		p->order[i] = p->order[j];
		p->order[j] = t;
	}
	for (size_t i = 0; i < NBASES; i++) {
		total += 1.0 / pow((double)(i + 1), 0.9);
		p->cum[i] = total;
	}
	for (size_t i = 0; i < NBASES; i++)
		p->cum[i] /= total;
}

/* A question's place in the popularity order: 0 is the most asked. */
static int pick_rank(const struct popularity *p)
{
	double x = rnd01();
	int lo = 0, hi = (int)NBASES - 1;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (p->cum[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* One question in five, popular ones included, is not covered by the knowledge base and mostly falls back:
 * about 20% of all answers. */
static double fallback_rate(int rank)
{
	return rank % 5 == 3 ? 0.85 : 0.06;
}

static void question_text(int base, char *out, size_t size)
{
	const char *topic = topics[base / NINTENTS];
	char body[160];
	const char *form = forms[base % NINTENTS][rnd() % 7], *at = strchr(form, '@');
	snprintf(body, sizeof(body), "%.*s%s%s", (int)(at - form), form, topic, at + 1);
	int style = (int)(rnd() % 10);
	for (char *c = body; *c; c++) {
		if (style == 0)
			*c = (char)toupper((unsigned char)*c);
		else if (style < 4)
			*c = (char)tolower((unsigned char)*c);
	}
	if (style >= 4)
		body[0] = (char)toupper((unsigned char)body[0]);
	snprintf(out, size, "%s%s%s", rnd() % 8 == 0 ? "Hi, " : "", body, endings[rnd() % 8]);
}

/* ---- conversations and messages ---- */

struct doc {
	char id[37], filename[64];
};

struct msg {
	char id[37], conv[37], question[37], at[32], confidence[16], signature[24], wording[24];
	int seq, user, fallback;
	long long tokens_prompt, tokens_completion, ms;
	char *content, *sources; /* owned; sources NULL on questions */
};

struct conv {
	char id[37], title[201], at[32], updated[32];
	int count;
};

struct cite {
	char message[37], chunk[37], score[16], at[32];
	int pos, doc;
};

struct rating {
	char message[37], at[32];
	int up, comment;
};

/* One transaction's worth of rows. */
struct batch {
	struct conv *convs;
	struct msg *msgs;
	struct cite *cites;
	struct rating *ratings;
	size_t nconvs, nmsgs, ncites, nratings, cap_msgs, cap_cites, cap_ratings;
};

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return p;
	*cap = *cap ? *cap * 2 : 1024;
	if (*cap < need)
		*cap = need;
	return xrealloc(p, *cap * size);
}

static void batch_reset(struct batch *b)
{
	for (size_t i = 0; i < b->nmsgs; i++) {
		free(b->msgs[i].content);
		free(b->msgs[i].sources);
	}
	b->nconvs = b->nmsgs = b->ncites = b->nratings = 0;
}

static int write_batch(struct db *db, long long account, const struct doc *docs, struct batch *b, struct fs_error *e)
{
	struct db_param *p = NULL;
	int rc = db_begin(db, e);
	if (rc < 0)
		return rc;

	p = xcalloc(b->nconvs * 6, sizeof(*p));
	for (size_t i = 0; i < b->nconvs; i++) {
		struct db_param *row = p + i * 6;
		const struct conv *c = &b->convs[i];
		row[0] = (struct db_param){ .type = 's', .ptr = c->id };
		row[1] = (struct db_param){ .type = 'i', .i = account };
		row[2] = (struct db_param){ .type = 's', .ptr = c->title };
		row[3] = (struct db_param){ .type = 'i', .i = c->count };
		row[4] = (struct db_param){ .type = 's', .ptr = c->at };
		row[5] = (struct db_param){ .type = 's', .ptr = c->updated };
	}
	rc = db_insert_rows(db,
			    "INSERT INTO conversations (id, account_id, title, message_count, created_at, updated_at)"
			    " VALUES ",
			    "(?, ?, ?, ?, ?, ?)", p, 6, b->nconvs, 80, e);
	free(p);
	if (rc < 0)
		goto fail;

	p = xcalloc(b->nmsgs * 17, sizeof(*p));
	for (size_t i = 0; i < b->nmsgs; i++) {
		struct db_param *row = p + i * 17;
		const struct msg *m = &b->msgs[i];
		row[0] = (struct db_param){ .type = 's', .ptr = m->id };
		row[1] = (struct db_param){ .type = 'i', .i = account };
		row[2] = (struct db_param){ .type = 's', .ptr = m->conv };
		row[3] = (struct db_param){ .type = 'i', .i = m->seq };
		row[4] = (struct db_param){ .type = 's', .ptr = m->user ? "user" : "assistant" };
		row[5] = (struct db_param){ .type = 's', .ptr = m->content };
		row[6] = (struct db_param){ .type = 's', .ptr = m->user ? NULL : m->question };
		row[7] = (struct db_param){ .type = 's', .ptr = m->user ? NULL : (m->seq % 4 == 2 ? "openai" : "builtin") };
		row[8] = (struct db_param){ .type = 's', .ptr = m->sources };
		row[9] = (struct db_param){ .type = 's', .ptr = m->user ? NULL : m->confidence };
		row[10] = (struct db_param){ .type = 'i', .i = m->fallback };
		row[11] = (struct db_param){ .type = 'i', .i = m->tokens_prompt };
		row[12] = (struct db_param){ .type = 'i', .i = m->tokens_completion };
		row[13] = (struct db_param){ .type = 'i', .i = m->ms };
		row[14] = (struct db_param){ .type = 's', .ptr = m->at };
		row[15] = (struct db_param){ .type = 's', .ptr = m->user ? m->signature : NULL };
		row[16] = (struct db_param){ .type = 's', .ptr = m->user ? m->wording : NULL };
	}
	rc = db_insert_rows(db,
			    "INSERT INTO messages (id, account_id, conversation_id, seq, role, content, question_id,"
			    " answerer, sources, confidence, fallback, tokens_prompt, tokens_completion, processing_ms,"
			    " created_at, signature, wording) VALUES ",
			    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", p, 17, b->nmsgs, 28, e);
	free(p);
	if (rc < 0)
		goto fail;

	p = xcalloc(b->ncites * 7, sizeof(*p));
	for (size_t i = 0; i < b->ncites; i++) {
		struct db_param *row = p + i * 7;
		const struct cite *c = &b->cites[i];
		row[0] = (struct db_param){ .type = 's', .ptr = c->message };
		row[1] = (struct db_param){ .type = 'i', .i = c->pos };
		row[2] = (struct db_param){ .type = 'i', .i = account };
		row[3] = (struct db_param){ .type = 's', .ptr = docs[c->doc].id };
		row[4] = (struct db_param){ .type = 's', .ptr = c->chunk };
		row[5] = (struct db_param){ .type = 's', .ptr = c->score };
		row[6] = (struct db_param){ .type = 's', .ptr = c->at };
	}
	rc = db_insert_rows(db,
			    "INSERT INTO message_sources (message_id, pos, account_id, document_id, chunk_id, score,"
			    " created_at) VALUES ",
			    "(?, ?, ?, ?, ?, ?, ?)", p, 7, b->ncites, 64, e);
	free(p);
	if (rc < 0)
		goto fail;

	p = xcalloc(b->nratings * 6, sizeof(*p));
	for (size_t i = 0; i < b->nratings; i++) {
		struct db_param *row = p + i * 6;
		const struct rating *r = &b->ratings[i];
		row[0] = (struct db_param){ .type = 's', .ptr = r->message };
		row[1] = (struct db_param){ .type = 'i', .i = account };
		row[2] = (struct db_param){ .type = 's', .ptr = r->up ? "up" : "down" };
		row[3] = (struct db_param){ .type = 's',
					    .ptr = !r->comment ? NULL
						 : r->up   ? "Exactly what I needed."
							   : "This did not answer my question." };
		row[4] = (struct db_param){ .type = 's', .ptr = r->at };
		row[5] = (struct db_param){ .type = 's', .ptr = r->at };
	}
	rc = db_insert_rows(db,
			    "INSERT INTO message_feedback (message_id, account_id, rating, comment, created_at,"
			    " updated_at) VALUES ",
			    "(?, ?, ?, ?, ?, ?)", p, 6, b->nratings, 80, e);
	free(p);
	if (rc < 0)
		goto fail;
	return db_commit(db, e);
fail:
	db_rollback(db);
	return rc;
}

static int insert_documents(struct db *db, long long account, struct doc *docs, long long t0, struct fs_error *e)
{
	static const char *const kinds[] = { "faq", "guide", "policy", "manual", "handbook" };
	struct db_param p[NDOCS * 6];
	char at[32];
	util_format_time_us(t0 - 7LL * 86400 * 1000000, at);
	for (int i = 0; i < NDOCS; i++) {
		util_uuid(docs[i].id);
		snprintf(docs[i].filename, sizeof(docs[i].filename), "%s-%02d-%s.md", kinds[i % 5], i + 1,
			 topics[(size_t)i * 3 % NTOPICS]);
		for (char *c = docs[i].filename; *c; c++)
			if (*c == ' ')
				*c = '-';
		struct db_param *row = p + i * 6;
		row[0] = (struct db_param){ .type = 's', .ptr = docs[i].id };
		row[1] = (struct db_param){ .type = 'i', .i = account };
		row[2] = (struct db_param){ .type = 's', .ptr = docs[i].filename };
		row[3] = (struct db_param){ .type = 'i', .i = rnd_range(2000, 90000) };
		row[4] = (struct db_param){ .type = 'i', .i = rnd_range(2, 40) };
		row[5] = (struct db_param){ .type = 's', .ptr = at };
	}
	return db_insert_rows(db,
			      "INSERT INTO documents (id, account_id, filename, status, content_type, size_bytes, chunk_count,"
			      " created_at) VALUES ",
			      "(?, ?, ?, 'ready', 'text/markdown', ?, ?, ?)", p, 6, NDOCS, NDOCS, e);
}

/* The answer's sources as the chat API shows them (chat.c's source_object), and their message_sources rows. */
static char *answer_sources(struct batch *b, const struct msg *a, const struct doc *docs, int topic)
{
	json_t *arr = json_array();
	int n = a->fallback ? 0 : (int)rnd_range(1, 3);
	for (int pos = 1; pos <= n; pos++) {
		b->cites = grow(b->cites, &b->cap_cites, b->ncites + 1, sizeof(*b->cites));
		struct cite *c = &b->cites[b->ncites++];
		/* a topic's first source is its own document; others are popular ones */
		c->doc = pos == 1 ? topic % CITED_DOCS : (int)(rnd() % (unsigned)(1 + rnd() % CITED_DOCS));
		c->pos = pos;
		memcpy(c->message, a->id, sizeof(c->message));
		memcpy(c->at, a->at, sizeof(c->at));
		util_uuid(c->chunk);
		double score = 0.92 - 0.08 * pos - 0.1 * rnd01();
		snprintf(c->score, sizeof(c->score), "%.4f", score);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:f, s:s, s:s, s:{}}", "chunk_id", c->chunk, "text",
						     "An excerpt of the document that answers the question.",
						     "similarity_score", score, "document_id", docs[c->doc].id,
						     "document_filename", docs[c->doc].filename, "metadata"));
	}
	char *s = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return s;
}

static int gen_messages(struct db *db, struct terms *t, long long account, long long n, long long t0, long long t1,
			struct fs_error *e)
{
	struct doc docs[NDOCS];
	struct popularity pop;
	struct batch b;
	int rc = insert_documents(db, account, docs, t0, e);
	if (rc < 0)
		return rc;
	popularity_init(&pop);
	memset(&b, 0, sizeof(b));
	b.convs = xcalloc(CONVERSATIONS_PER_TXN, sizeof(*b.convs));
	long long questions = n / 2, asked = 0;
	while (asked < questions && rc == 0) {
		struct conv *c = &b.convs[b.nconvs++];
		int turns = 1;
		while (turns < 8 && rnd01() < 0.45)
			turns++;
		if (turns > questions - asked)
			turns = (int)(questions - asked);
		util_uuid(c->id);
		/* the conversation starts early enough for all its turns to be in the past */
		long long at = t0 + (long long)(rnd01() * (double)(t1 - t0 - 3600LL * 1000000));
		util_format_time_us(at, c->at);
		c->count = 2 * turns;
		int rank = pick_rank(&pop);
		for (int k = 0; k < turns; k++, asked++) {
			if (k > 0 && rnd01() < 0.7) /* follow-ups drift to another question */
				rank = pick_rank(&pop);
			int base = pop.order[rank];
			char text[200];
			question_text(base, text, sizeof(text));
			if (k == 0)
				snprintf(c->title, sizeof(c->title), "%s", text);
			b.msgs = grow(b.msgs, &b.cap_msgs, b.nmsgs + 2, sizeof(*b.msgs));
			struct msg *q = &b.msgs[b.nmsgs++], *a = &b.msgs[b.nmsgs++];
			memset(q, 0, sizeof(*q));
			memset(a, 0, sizeof(*a));
			memcpy(q->conv, c->id, sizeof(q->conv));
			memcpy(a->conv, c->id, sizeof(a->conv));
			util_uuid(q->id);
			util_uuid(a->id);
			memcpy(a->question, q->id, sizeof(a->question));
			q->user = 1;
			q->seq = 2 * k + 1;
			a->seq = 2 * k + 2;
			at += rnd_range(5, 90) * 1000000LL;
			util_format_time_us(at, q->at);
			q->content = xstrdup(text);
			snprintf(q->signature, sizeof(q->signature), "%llu",
				 (unsigned long long)signature_question(t, text));
			snprintf(q->wording, sizeof(q->wording), "%llu", (unsigned long long)signature_wording(text));
			q->fallback = a->fallback = rnd01() < fallback_rate(rank);
			a->ms = a->fallback ? rnd_range(40, 400) : (long long)rnd_lognormal(900, 0.6);
			at += (a->ms + 1) * 1000;
			util_format_time_us(at, a->at);
			const char *topic = topics[base / NINTENTS];
			struct buf content;
			buf_init(&content, BUF_NO_LIMIT);
			if (a->fallback)
				buf_adds(&content, "I'm sorry, I could not find an answer to that in our documentation. "
						   "Please contact our support team.");
			else
				buf_addf(&content,
					 "Here is what our documentation says about the %s: you will find the details in "
					 "the %s section, and the steps are the same on every plan.",
					 topic, topic);
			a->content = buf_take(&content, NULL);
			snprintf(a->confidence, sizeof(a->confidence), "%.4f",
				 a->fallback ? 0.2 + 0.3 * rnd01() : 0.62 + 0.35 * rnd01());
			a->tokens_prompt = rnd_range(250, 1800);
			a->tokens_completion = a->fallback ? rnd_range(15, 40) : rnd_range(40, 420);
			a->sources = answer_sources(&b, a, docs, base / NINTENTS);
			if (rnd01() < 0.12) {
				b.ratings = grow(b.ratings, &b.cap_ratings, b.nratings + 1, sizeof(*b.ratings));
				struct rating *r = &b.ratings[b.nratings++];
				memcpy(r->message, a->id, sizeof(r->message));
				memcpy(r->at, a->at, sizeof(r->at));
				r->up = rnd01() < (a->fallback ? 0.2 : 0.8);
				r->comment = rnd01() < 0.3;
			}
		}
		util_format_time_us(at, c->updated);
		if (b.nconvs == CONVERSATIONS_PER_TXN || asked == questions) {
			rc = write_batch(db, account, docs, &b, e);
			batch_reset(&b);
		}
	}
	batch_reset(&b);
	free(b.convs);
	free(b.msgs);
	free(b.cites);
	free(b.ratings);
	return rc;
}

/* ---- main ---- */

static int find_account(struct db *db, const char *arg, long long *id, char keys[][37], size_t *nkeys,
			struct fs_error *e)
{
	struct db_res r;
	int by_id = arg[strspn(arg, "0123456789")] == '\0';
	int rc = db_exec(db, &r, e, by_id ? "SELECT id FROM accounts WHERE id = ?" : "SELECT id FROM accounts WHERE name = ?",
			 "s", arg);
	if (rc < 0)
		return rc;
	*id = r.nrows ? db_cell_ll(&r, 0, 0, 0) : 0;
	db_res_release(&r);
	if (!*id)
		return fs_fail(e, FS_ENOTFOUND, "no account '%s'", arg);
	if ((rc = db_exec(db, &r, e, "SELECT id FROM api_keys WHERE account_id = ? ORDER BY created_at, id LIMIT 8", "i",
			  *id)) < 0)
		return rc;
	*nkeys = r.nrows;
	for (size_t i = 0; i < r.nrows; i++)
		snprintf(keys[i], 37, "%s", db_cell(&r, i, 0));
	db_res_release(&r);
	return *nkeys ? 0 : fs_fail(e, FS_EINVAL, "account '%s' has no API key: create one first", arg);
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct fs_error e;
	struct db *db = NULL;
	struct terms *t = NULL;
	char keys[MAX_KEYS][37];
	size_t nkeys = 0;
	long long account, events, messages, days = 30, seed = 1;
	int rc = 1;
	fs_error_clear(&e);
	memset(&cfg, 0, sizeof(cfg));
	if (argc < 4 || argc > 6 || util_parse_ll(argv[2], 0, 100000000, &events) < 0 ||
	    util_parse_ll(argv[3], 0, 100000000, &messages) < 0 ||
	    (argc > 4 && util_parse_ll(argv[4], 1, 366, &days) < 0) ||
	    (argc > 5 && util_parse_ll(argv[5], 0, 1LL << 62, &seed) < 0)) {
		fprintf(stderr, "usage: FAQSURE_CONFIG=... analytics-gen ACCOUNT EVENTS MESSAGES [DAYS [SEED]]\n");
		return 2;
	}
	rng_state = (unsigned long long)seed;
	if (config_load_env(&cfg, &e) < 0)
		goto out;
	db = db_new(&cfg);
	if (find_account(db, argv[1], &account, keys, &nkeys, &e) < 0 || terms_new(&t, &e) < 0)
		goto out;
	/* from 00:00 UTC of the window's first day until a second ago */
	long long t1 = now_us() - 1000000, day_us = 86400LL * 1000000;
	long long t0 = (t1 / day_us - (days - 1)) * day_us;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (gen_events(db, account, keys, nkeys, events, t0, t1, &e) < 0)
		goto out;
	double ev_s = seconds_since(&start);
	printf("%lld usage events in %.2f s (%.0f/s)\n", events, ev_s, ev_s > 0 ? (double)events / ev_s : 0.0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (messages > 0 && gen_messages(db, t, account, messages, t0, t1, &e) < 0)
		goto out;
	double msg_s = seconds_since(&start);
	printf("%lld messages in %.2f s (%.0f/s)\n", messages / 2 * 2, msg_s,
	       msg_s > 0 ? (double)(messages / 2 * 2) / msg_s : 0.0);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "analytics-gen: %s\n", e.msg);
	terms_free(t);
	db_free(db);
	config_release(&cfg);
	return rc;
}
