/* Usage events: one row per API request (who, which route, outcome, tokens, time), for analytics and billing. */
#ifndef FAQSURE_USAGE_H
#define FAQSURE_USAGE_H

#include "db.h"

struct usage_event {
	long long account_id; /* 0 when the request was not authenticated */
	const char *key_id;   /* NULL when not authenticated */
	const char *request_id;
	const char *method;
	const char *route;    /* the route's pattern, e.g. "/api/v1/keys/{id}" */
	int status;
	const char *error;    /* API error code, or NULL */
	long long tokens_prompt;
	long long tokens_completion;
	long long processing_ms;
};

int usage_record(struct db *db, const struct usage_event *ev, struct fs_error *e);

#endif
