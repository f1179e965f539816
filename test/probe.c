/* probe.fcgi — a test-only program: the library's request path with one token-spending route, so the tests can
 * check the balance gate (402) before any product route spends tokens, and one server-sent-events route, so they
 * can check that the web servers pass events on as they are written. Never installed. */
#include <errno.h>
#include <time.h>

#include "account/account.h"
#include "core/jfield.h"
#include "core/util.h"
#include "web/app.h"
#include "core/banned.h"

static int spend(struct request *req, struct fs_error *e)
{
	json_t *body;
	long long tokens = 0, balance;
	int rc = req_json_body(req, &body, e);
	if (rc < 0)
		return rc;
	rc = jfield_int(body, "tokens", 0, 1000000, &tokens, e);
	json_decref(body);
	if (rc < 0)
		return rc;
	/* as a product route spends: never below zero (402 when the balance cannot cover it) */
	if ((rc = db_begin(req->db, e)) < 0)
		return rc;
	if ((rc = account_debit(req->db, req->key.account_id, tokens, NULL, 0, NULL, e)) < 0 ||
	    (rc = db_commit(req->db, e)) < 0) {
		db_rollback(req->db);
		return rc;
	}
	if ((rc = account_balance(req->db, req->key.account_id, &balance, e)) < 0)
		return rc;
	req->tokens_prompt = tokens;
	return req_reply(req, 200, json_pack("{s:I, s:o}", "spent", (json_int_t)tokens, "balance",
					     balance == ACCOUNT_UNLIMITED ? json_null() : json_integer(balance)));
}

/* POST /api/v1/probe/stream {"count": N, "interval_ms": D}: N "tick" events D ms apart, then one "done" event.
 * Each event carries the CLOCK_MONOTONIC time it was written (mono_ms, from util_now_ms: the clock of Python's
 * time.monotonic()), so a test on the same machine can compare when an event arrived with when a later one was
 * produced. */
static int stream(struct request *req, struct fs_error *e)
{
	json_t *body;
	long long count = 3, interval = 0;
	int rc = req_json_body(req, &body, e);
	if (rc < 0)
		return rc;
	rc = jfield_int(body, "count", 1, 1000, &count, e);
	if (rc >= 0)
		rc = jfield_int(body, "interval_ms", 0, 10000, &interval, e);
	json_decref(body);
	if (rc < 0)
		return rc;
	double start = util_now_ms();
	if (req_sse_begin(req) < 0)
		return 0; /* the client went away: nothing more to send */
	for (long long i = 1; i <= count; i++) {
		if (i > 1 && interval > 0) {
			struct timespec ts = { (time_t)(interval / 1000), (long)(interval % 1000) * 1000000L };
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
		if (req_sse_event(req, "tick", json_pack("{s:I, s:I, s:f}", "seq", (json_int_t)i, "count",
							 (json_int_t)count, "mono_ms", util_now_ms())) < 0)
			return 0;
	}
	req_sse_event(req, "done", json_pack("{s:I, s:f, s:f}", "count", (json_int_t)count, "mono_ms", util_now_ms(),
					     "elapsed_ms", util_now_ms() - start));
	return 0;
}

static const struct route routes[] = {
	{ "POST", "/api/v1/probe/spend", spend, ROUTE_SPENDS },
	{ "POST", "/api/v1/probe/stream", stream, 0 },
};

int main(void)
{
	static const struct app_program program = { "probe", routes, sizeof(routes) / sizeof(routes[0]), NULL,
						    NULL };
	return app_run(&program);
}
