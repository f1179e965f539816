/* The request path every FastCGI program shares: the accept loop (FastCGI, or one request as plain CGI), the
 * route table, authentication, rate limiting, the balance check, JSON responses and errors, the usage event. */
#ifndef FAQSURE_APP_H
#define FAQSURE_APP_H

#include <stddef.h>

#include <jansson.h>

#include "account/apikey.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/db.h"
#include "core/err.h"

struct request;

/* A handler answers with req_reply / req_reply_status and returns 0, or returns a negative code with e filled
 * in and the app answers the JSON error. */
typedef int (*route_fn)(struct request *req, struct fs_error *e);

enum route_flags {
	ROUTE_PUBLIC = 1 << 0, /* no API key needed; not rate limited */
	ROUTE_ADMIN = 1 << 1,  /* needs a key with scope admin */
	ROUTE_SPENDS = 1 << 2, /* spends tokens: 402 before any work when the balance is exhausted */
	ROUTE_NO_USAGE = 1 << 3, /* no usage event (health checks) */
	ROUTE_VISITOR = 1 << 4, /* a publishable key may call it (from one of its origins): chat and the widget */
};

struct route {
	const char *method;
	const char *pattern; /* "/api/v1/keys/{id}": {name} matches one path segment */
	route_fn handler;
	unsigned flags;
};

#define APP_MAX_PARAMS 4

struct request {
	struct db *db;
	const struct config *cfg;
	char *method;
	char *path;  /* from /api on: the prefix the API is served under is in base */
	char *base;  /* "" at the root of the host, else "/faqsure" ([http] base_path, or what preceded /api) */
	char *query;
	const struct route *route;
	char *params[APP_MAX_PARAMS]; /* the {…} segments of the path, in order */
	size_t nparams;
	char request_id[33];
	int authenticated;
	struct apikey_auth key;
	long long tokens_prompt, tokens_completion;
	const char *cache_control; /* of a req_reply answer: NULL is no-store (most answers are per key) */
	/* private to app.c */
	void *io;
	struct apikey_cache *keys;
	struct buf headers;
	long long content_length;
	int replied, status;
	int streaming, client_gone;
	const char *error_code;
	double started_ms;
	int cors; /* Access-Control-Allow-Origin was added */
	void *state; /* the program's, made by its init hook (struct app_program); NULL without one */
};

/* A program: its routes, and the state its handlers share (req->state), if it has any. init makes that state
 * once per process: under FastCGI after the configuration is loaded and before the first request is read; as
 * plain CGI by the one request, once it passed admission. release frees it at exit. An init that fails (a
 * database or model not there yet) is logged and tried again before each request that passed admission, which
 * answers its error until it succeeds. Both hooks may be NULL. */
struct app_program {
	const char *name;
	const struct route *routes;
	size_t nroutes;
	int (*init)(const struct config *cfg, struct db *db, void **state, struct fs_error *e);
	void (*release)(void *state);
};

/* Runs a program: loads the configuration (exits 1 with file:line on an error), then serves requests with its
 * routes until SIGTERM (FastCGI), or serves the one request of a CGI invocation. */
int app_run(const struct app_program *p);

/* Answers status with body (a JSON value; the reference is stolen). */
int req_reply(struct request *req, int status, json_t *body);
/* Answers status (204, 304) with the headers only, no body. */
int req_reply_empty(struct request *req, int status);
/* Server-sent events (text/event-stream): req_sse_begin sends the status line and headers at once (no
 * Content-Length); each req_sse_event then sends "event: <name>\ndata: <compact JSON>\n\n" and flushes it to the
 * web server at once (under mod_fcgid that needs FcgidOutputBufferSize 0). Events carry JSON only, so a data
 * line never holds a newline. The JSON reference is stolen. -1 once the client went away. req_sse_error sends
 * an "error" event {"error", "message"} for a failure after the stream opened and records it for the usage
 * event. */
int req_sse_begin(struct request *req);
int req_sse_event(struct request *req, const char *event, json_t *data);
int req_sse_error(struct request *req, const struct fs_error *e);
/* Adds a response header (name and value must not hold CR or LF). */
void req_header(struct request *req, const char *name, const char *value);
/* Location: the API path given ("/api/v1/keys/…") under the prefix the request came in on. */
void req_location(struct request *req, const char *api_path);
/* A CGI/FastCGI parameter of the request (e.g. "CONTENT_TYPE"), or NULL. */
const char *req_param(const struct request *req, const char *name);
/* Reads up to len bytes of the raw body; 0 at its end. For routes that stream their body (uploads). */
long req_read(struct request *req, char *data, size_t len);
/* The request body parsed as a JSON object, capped at http.max_body_bytes; FS_EINVAL / FS_ETOOLARGE. */
int req_json_body(struct request *req, json_t **out, struct fs_error *e);
/* The value of a query-string parameter, percent-decoded into a malloc'd string the caller frees; NULL if
 * absent. */
char *req_query_param(const struct request *req, const char *name);
/* limit and cursor from the query string, validated (limit 1–100, default 20). *cursor is malloc'd or NULL. */
int req_page_params(const struct request *req, long long *limit, char **cursor, struct fs_error *e);
/* A paginated list answer: {"<name>": items, "count": n, "has_more": b, "next_cursor": s|null}. Steals items,
 * frees next_cursor. */
int req_reply_page(struct request *req, const char *name, json_t *items, char *next_cursor);
/* One page of the key's account's rows, as list answers it (the shape of apikey_list, agent_list,
 * chat_list_conversations): items gets the array, next the next page's cursor or NULL. */
typedef int (*req_list_fn)(struct db *db, long long account_id, long long limit, const char *cursor, json_t **items,
			   char **next, struct fs_error *e);
/* A whole list route: the page parameters, list, and the answer {"<name>": …} as req_reply_page gives it. */
int req_list(struct request *req, const char *name, req_list_fn list, struct fs_error *e);

/* Splits a path against a route pattern; 1 on a match with the {…} segments in params. Exposed for tests. */
int app_match_path(const char *pattern, const char *path, char **params, size_t *nparams);

#endif
