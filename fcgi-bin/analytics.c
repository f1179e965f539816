/* analytics.fcgi — GET /api/v1/analytics/dashboard: the account's usage, cost, answer quality and coverage gaps
 * over a window of days (analytics.h). */
#include <stdlib.h>
#include <time.h>

#include "chat/analytics.h"
#include "web/app.h"
#include "core/banned.h"

/* The tokenizer that groups paraphrased questions, made by the first request and kept. */
static struct terms *terms;

static int dashboard(struct request *req, struct fs_error *e)
{
	struct analytics_window w;
	json_t *out;
	char *from = req_query_param(req, "from"), *to = req_query_param(req, "to");
	int rc = analytics_window_parse(from, to, time(NULL), &w, e);
	free(from);
	free(to);
	if (rc == 0 && !terms)
		rc = terms_new(&terms, e);
	if (rc == 0)
		rc = analytics_dashboard(req->db, terms, req->key.account_id, &w, &out, e);
	return rc < 0 ? rc : req_reply(req, 200, out);
}

static const struct route routes[] = {
	{ "GET", "/api/v1/analytics/dashboard", dashboard, 0 },
};

int main(void)
{
	int rc = app_main("analytics", routes, sizeof(routes) / sizeof(routes[0]));
	terms_free(terms);
	return rc;
}
