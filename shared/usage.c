/* Usage events. */
#include "usage.h"

#include "banned.h"

int usage_record(struct db *db, const struct usage_event *ev, struct fs_error *e)
{
	return db_exec(db, NULL, e,
		       "INSERT INTO usage_events (account_id, key_id, request_id, method, route, status, error,"
		       " tokens_prompt, tokens_completion, processing_ms) VALUES (NULLIF(?, 0), ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		       "issssisiii", ev->account_id, ev->key_id, ev->request_id, ev->method, ev->route,
		       (long long)ev->status, ev->error, ev->tokens_prompt, ev->tokens_completion, ev->processing_ms);
}
