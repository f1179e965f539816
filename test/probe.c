/* probe.fcgi — a test-only program: the library's request path with one token-spending route, so the tests can
 * check the balance gate (402) before any product route spends tokens. Never installed. */
#include "account.h"
#include "app.h"
#include "banned.h"

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
	if ((rc = account_debit(req->db, req->key.account_id, tokens, &balance, e)) < 0)
		return rc;
	req->tokens_prompt = tokens;
	return req_reply(req, 200, json_pack("{s:I, s:o}", "spent", (json_int_t)tokens, "balance",
					     balance == ACCOUNT_UNLIMITED ? json_null() : json_integer(balance)));
}

static const struct route routes[] = {
	{ "POST", "/api/v1/probe/spend", spend, ROUTE_SPENDS },
};

int main(void)
{
	return app_main("probe", routes, sizeof(routes) / sizeof(routes[0]));
}
