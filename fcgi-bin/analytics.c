/* analytics.fcgi — GET /api/v1/analytics/dashboard: the account's usage, cost, answer quality and coverage gaps
 * over a window of days (analytics.h). */
#include <stdlib.h>
#include <time.h>

#include "chat/analytics.h"
#include "web/app.h"
#include "core/banned.h"

static int dashboard(struct request *req, struct fs_error *e)
{
	struct analytics_window w;
	json_t *out;
	char *from = req_query_param(req, "from"), *to = req_query_param(req, "to");
	int rc = analytics_window_parse(from, to, time(NULL), &w, e);
	free(from);
	free(to);
	if (rc == 0)
		rc = analytics_dashboard(req->db, req->state, req->key.account_id, &w, &out, e);
	return rc < 0 ? rc : req_reply(req, 200, out);
}

static const struct route routes[] = {
	{ "GET", "/api/v1/analytics/dashboard", dashboard, 0 },
};

/* The state: the tokenizer that groups paraphrased questions (struct terms). */
static int init(const struct config *cfg, struct db *db, void **state, struct fs_error *e)
{
	(void)cfg;
	(void)db;
	return terms_new((struct terms **)state, e);
}

static void release(void *state)
{
	terms_free(state);
}

int main(void)
{
	static const struct app_program program = { "analytics", routes, sizeof(routes) / sizeof(routes[0]), init,
						    release };
	return app_run(&program);
}
