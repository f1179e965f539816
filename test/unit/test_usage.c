/* Usage events: the latency buckets and the daily rollups a batch of queued events adds up to. */
#include <string.h>

#include "account/usage.h"
#include "check.h"

/* 2026-03-01 23:59:59.999999 UTC and the microsecond after it */
#define LAST_US_OF_MARCH_1 1772409599999999LL
#define FIRST_US_OF_MARCH_2 1772409600000000LL

static void usage_latency_buckets(void)
{
	static const long long cases[][2] = {
		{ -5, 0 },	       { 0, 0 },	    { 1, 1 },		  { 999, 999 },	       { 1000, 1000 },
		{ 1009, 1000 },	       { 1010, 1010 },	    { 1019, 1010 },	  { 9999, 9990 },      { 10000, 10000 },
		{ 10099, 10000 },      { 10100, 10100 },    { 99999, 99900 },	  { 100000, 100000 },  { 100999, 100000 },
		{ 123456, 123000 },    { 4000000000LL, 4000000000LL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_INT(usage_latency_bucket(cases[i][0]), cases[i][1]);
}

static void add(struct usage_queue *q, long long account, const char *key, const char *method, const char *route,
		int status, long long tp, long long tc, long long ms, long long us)
{
	struct usage_event ev = { .account_id = account, .key_id = key, .request_id = "0123456789abcdef0123456789abcdef",
				  .method = method, .route = route, .status = status, .tokens_prompt = tp,
				  .tokens_completion = tc, .processing_ms = ms, .time_us = us };
	usage_queue_add(q, &ev);
}

static void usage_rollup_adds_up_per_key_and_day(void)
{
	const char *k1 = "11111111-1111-1111-1111-111111111111", *k2 = "22222222-2222-2222-2222-222222222222";
	struct usage_queue *q = usage_queue_new();
	long long d1 = LAST_US_OF_MARCH_1, d2 = FIRST_US_OF_MARCH_2;
	add(q, 7, k2, "POST", "/api/v1/search", 200, 10, 0, 12, d1);
	add(q, 7, k1, "POST", "/api/v1/search", 429, 0, 0, 1, d1);
	add(q, 7, k2, "POST", "/api/v1/search", 400, 0, 0, 12, d1 - 3600000000LL);
	add(q, 0, NULL, "GET", "/api/v1/documents", 401, 0, 0, 3, d1);    /* no account: not rolled up */
	add(q, 7, k2, "POST", "/api/v1/search", 500, 5, 0, 1234, d2);     /* the next UTC day */
	add(q, 7, NULL, "GET", "/api/v1/documents", 404, 0, 0, 1239, d2); /* an account without a key */
	add(q, 3, k1, "POST", "/api/v1/chat", 200, 100, 50, 2000, d2);
	add(q, 7, k2, "POST", "/api/v1/search", 503, 1, 2, 1231, d2);
	add(q, 7, k2, "post", "/api/v1/search", 200, 1, 1, 1, d2); /* the key columns compare case-insensitively */
	CHECK_INT(usage_queue_len(q), 9);

	struct usage_rollup r;
	usage_rollup_init(&r, q, 0, 100);
	CHECK_INT(r.ndaily, 5);
	if (r.ndaily == 5) {
		/* account 3 first; then account 7 by day, key ("" first), method, route */
		CHECK_INT(r.daily[0].account_id, 3);
		CHECK_STR(r.daily[0].day, "2026-03-02");
		CHECK_INT(r.daily[0].tokens_completion, 50);
		const struct usage_daily_row *a = &r.daily[1], *b = &r.daily[2];
		CHECK_STR(a->day, "2026-03-01");
		CHECK_STR(a->key_id, k1);
		CHECK_INT(a->requests, 1);
		CHECK_INT(a->rate_limited, 1);
		CHECK_INT(a->client_errors, 0);
		CHECK_STR(b->day, "2026-03-01");
		CHECK_STR(b->key_id, k2);
		CHECK_INT(b->requests, 2);
		CHECK_INT(b->client_errors, 1);
		CHECK_INT(b->tokens_prompt, 10);
		CHECK_INT(b->ms_sum, 24);
		const struct usage_daily_row *c = &r.daily[3], *d = &r.daily[4];
		CHECK_STR(c->day, "2026-03-02");
		CHECK_STR(c->key_id, "");
		CHECK_STR(c->route, "/api/v1/documents");
		CHECK_INT(c->client_errors, 1);
		CHECK_STR(d->key_id, k2);
		CHECK_STR(d->method, "POST");
		CHECK_INT(d->requests, 3);
		CHECK_INT(d->server_errors, 2);
		CHECK_INT(d->client_errors + d->rate_limited, 0);
		CHECK_INT(d->tokens_prompt, 7);
		CHECK_INT(d->tokens_completion, 3);
		CHECK_INT(d->ms_sum, 1234 + 1231 + 1);
	}

	/* latency: (account, day, method, route, bucket); 1234 and 1231 share the 1230 bucket */
	static const struct {
		long long account;
		const char *day, *route;
		long long ms, n;
	} want[] = {
		{ 3, "2026-03-02", "/api/v1/chat", 2000, 1 },	  { 7, "2026-03-01", "/api/v1/search", 1, 1 },
		{ 7, "2026-03-01", "/api/v1/search", 12, 2 },	  { 7, "2026-03-02", "/api/v1/documents", 1230, 1 },
		{ 7, "2026-03-02", "/api/v1/search", 1, 1 },	  { 7, "2026-03-02", "/api/v1/search", 1230, 2 },
	};
	CHECK_INT(r.nlatency, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < r.nlatency && i < sizeof(want) / sizeof(want[0]); i++) {
		CHECK_INT(r.latency[i].account_id, want[i].account);
		CHECK_STR(r.latency[i].day, want[i].day);
		CHECK_STR(r.latency[i].route, want[i].route);
		CHECK_INT(r.latency[i].ms, want[i].ms);
		CHECK_INT(r.latency[i].n, want[i].n);
	}
	usage_rollup_release(&r);

	/* a slice of the queue: events 4..5 only */
	usage_rollup_init(&r, q, 4, 2);
	CHECK_INT(r.ndaily, 2);
	CHECK_INT(r.nlatency, 2);
	usage_rollup_release(&r);
	usage_rollup_init(&r, q, 9, 5);
	CHECK_INT(r.ndaily + r.nlatency, 0);
	usage_rollup_release(&r);
	usage_queue_free(q);
}

static void usage_rollup_sorts_like_the_primary_key(void)
{
	/* ascii_general_ci compares letters as upper case: "_" (0x5F) sorts after "b" (as "B", 0x42), "{" after both */
	struct usage_queue *q = usage_queue_new();
	add(q, 1, NULL, "GET", "/x/{id}", 200, 0, 0, 5, FIRST_US_OF_MARCH_2);
	add(q, 1, NULL, "GET", "/x/_", 200, 0, 0, 5, FIRST_US_OF_MARCH_2);
	add(q, 1, NULL, "GET", "/x/b", 200, 0, 0, 5, FIRST_US_OF_MARCH_2);
	add(q, 1, NULL, "GET", "(none)", 404, 0, 0, 5, FIRST_US_OF_MARCH_2);
	struct usage_rollup r;
	usage_rollup_init(&r, q, 0, 4);
	CHECK_INT(r.ndaily, 4);
	if (r.ndaily == 4) {
		CHECK_STR(r.daily[0].route, "(none)");
		CHECK_STR(r.daily[1].route, "/x/b");
		CHECK_STR(r.daily[2].route, "/x/_");
		CHECK_STR(r.daily[3].route, "/x/{id}");
	}
	usage_rollup_release(&r);
	usage_queue_free(q);
}

const struct test_case usage_cases[] = {
	{ "usage_latency_buckets", usage_latency_buckets },
	{ "usage_rollup_adds_up_per_key_and_day", usage_rollup_adds_up_per_key_and_day },
	{ "usage_rollup_sorts_like_the_primary_key", usage_rollup_sorts_like_the_primary_key },
	{ NULL, NULL },
};
