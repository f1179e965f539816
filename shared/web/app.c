/* The shared request path: accept loop, routing, auth → rate limit → scope → balance → handler → JSON reply →
 * usage event. One request at a time per process (mod_fcgid sends one at a time anyway). */
#include "web/app.h"

#include <ctype.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "account/account.h"
#include "account/ratelimit.h"
#include "account/usage.h"
#include "core/page.h"
#include "core/util.h"
#include "core/banned.h"

static volatile sig_atomic_t stopping;

static void on_terminate(int sig)
{
	(void)sig;
	stopping = 1;
	FCGX_ShutdownPending();
}

/* ---- I/O: a FastCGI request, or plain CGI on stdin/stdout/environ ---- */

static FCGX_Request *fcgx(const struct request *req)
{
	return req->io;
}

const char *req_param(const struct request *req, const char *name)
{
	if (fcgx(req))
		return FCGX_GetParam(name, fcgx(req)->envp);
	return getenv(name);
}

static int io_write(struct request *req, const char *data, size_t len)
{
	if (fcgx(req))
		return FCGX_PutStr(data, (int)len, fcgx(req)->out) == (int)len ? 0 : -1;
	return fwrite(data, 1, len, stdout) == len ? 0 : -1;
}

static long io_read(struct request *req, char *data, size_t len)
{
	if (fcgx(req))
		return FCGX_GetStr(data, (int)len, fcgx(req)->in);
	return (long)fread(data, 1, len, stdin);
}

long req_read(struct request *req, char *data, size_t len)
{
	return io_read(req, data, len);
}

/* ---- responses ---- */

void req_header(struct request *req, const char *name, const char *value)
{
	if (strpbrk(name, "\r\n") || strpbrk(value, "\r\n"))
		return;
	buf_addf(&req->headers, "%s: %s\r\n", name, value);
}

void req_location(struct request *req, const char *api_path)
{
	struct buf v;
	buf_init(&v, BUF_NO_LIMIT);
	buf_addf(&v, "%s%s", req->base, api_path);
	req_header(req, "Location", buf_str(&v));
	buf_release(&v);
}

int req_reply(struct request *req, int status, json_t *body)
{
	struct buf head;
	char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(body);
	if (!text) {
		fprintf(stderr, "faqsure: out of memory serialising a reply\n");
		abort();
	}
	size_t len = strlen(text);
	buf_init(&head, BUF_NO_LIMIT);
	buf_addf(&head,
		 "Status: %d %s\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %zu\r\n"
		 "Cache-Control: %s\r\nX-Content-Type-Options: nosniff\r\nX-Request-Id: %s\r\n%s\r\n", status,
		 fs_http_reason(status), len + 1, req->cache_control ? req->cache_control : "no-store", req->request_id,
		 buf_str(&req->headers));
	int rc = io_write(req, head.ptr, head.len);
	if (strcmp(req->method, "HEAD") != 0) { /* HEAD: the same headers, no body */
		if (rc == 0)
			rc = io_write(req, text, len);
		if (rc == 0)
			rc = io_write(req, "\n", 1);
	}
	buf_release(&head);
	free(text);
	req->replied = 1;
	req->status = status;
	if (rc < 0) /* the client went away: nothing to answer, and not our error */
		fprintf(stderr, "faqsure: request %s: client went away before the reply\n", req->request_id);
	return 0;
}

int req_reply_empty(struct request *req, int status)
{
	struct buf head;
	buf_init(&head, BUF_NO_LIMIT);
	buf_addf(&head, "Status: %d %s\r\nCache-Control: no-store\r\nX-Request-Id: %s\r\n%s\r\n", status,
		 fs_http_reason(status), req->request_id, buf_str(&req->headers));
	if (io_write(req, head.ptr, head.len) < 0)
		fprintf(stderr, "faqsure: request %s: client went away before the reply\n", req->request_id);
	buf_release(&head);
	req->replied = 1;
	req->status = status;
	return 0;
}

static int io_flush(struct request *req)
{
	if (fcgx(req))
		return FCGX_FFlush(fcgx(req)->out) == 0 ? 0 : -1;
	return fflush(stdout) == 0 ? 0 : -1;
}

int req_sse_begin(struct request *req)
{
	struct buf head;
	buf_init(&head, BUF_NO_LIMIT);
	/* X-Accel-Buffering: no asks proxies in front (nginx) not to hold the events back. */
	buf_addf(&head,
		 "Status: 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-store\r\n"
		 "X-Accel-Buffering: no\r\nX-Content-Type-Options: nosniff\r\nX-Request-Id: %s\r\n%s\r\n",
		 req->request_id, buf_str(&req->headers));
	int rc = io_write(req, head.ptr, head.len);
	if (rc == 0)
		rc = io_flush(req);
	buf_release(&head);
	req->replied = 1;
	req->status = 200;
	req->streaming = 1;
	return rc;
}

int req_sse_event(struct request *req, const char *event, json_t *data)
{
	char *text = json_dumps(data, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(data);
	if (!text) {
		fprintf(stderr, "faqsure: out of memory serialising an event\n");
		abort();
	}
	struct buf ev;
	buf_init(&ev, BUF_NO_LIMIT);
	buf_addf(&ev, "event: %s\ndata: %s\n\n", event, text);
	free(text);
	int rc = req->client_gone ? -1 : io_write(req, ev.ptr, ev.len);
	if (rc == 0)
		rc = io_flush(req);
	buf_release(&ev);
	if (rc < 0)
		req->client_gone = 1;
	return rc;
}

int req_sse_error(struct request *req, const struct fs_error *e)
{
	int status = fs_http_status(e->code);
	const char *msg = e->msg[0] ? e->msg : fs_http_reason(status);
	req->error_code = fs_error_name(e->code);
	if (status == 500) {
		fprintf(stderr, "faqsure: request %s %s %s failed: %s\n", req->request_id, req->method, req->path,
			e->msg);
		msg = "internal error; quote the X-Request-Id when reporting it";
	}
	return req_sse_event(req, "error", json_pack("{s:s, s:s, s:i}", "error", req->error_code, "message", msg,
						     "status", status));
}

static void reply_error(struct request *req, const struct fs_error *e)
{
	int status = fs_http_status(e->code);
	req->error_code = fs_error_name(e->code);
	if (status >= 500 && e->code != FS_EUNAVAIL && e->code != FS_ERETRY)
		fprintf(stderr, "faqsure: request %s %s %s failed: %s\n", req->request_id, req->method, req->path,
			e->msg);
	const char *msg = e->msg[0] ? e->msg : fs_http_reason(status);
	if (status == 500)
		msg = "internal error; quote the X-Request-Id when reporting it";
	req_reply(req, status, json_pack("{s:s, s:s}", "error", req->error_code, "message", msg));
}

int req_reply_page(struct request *req, const char *name, json_t *items, char *next_cursor)
{
	size_t n = json_array_size(items);
	json_t *body = json_pack("{s:o, s:I, s:b, s:o}", name, items, "count", (json_int_t)n, "has_more",
				 next_cursor != NULL, "next_cursor",
				 next_cursor ? json_string(next_cursor) : json_null());
	free(next_cursor);
	return req_reply(req, 200, body);
}

int req_list(struct request *req, const char *name, req_list_fn list, struct fs_error *e)
{
	long long limit;
	char *cursor, *next = NULL;
	json_t *items = NULL;
	int rc = req_page_params(req, &limit, &cursor, e);
	if (rc == 0)
		rc = list(req->db, req->key.account_id, limit, cursor, &items, &next, e);
	free(cursor);
	return rc < 0 ? rc : req_reply_page(req, name, items, next);
}

/* ---- request parsing ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static char *percent_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0 &&
			   (s[i + 1] != '0' || s[i + 2] != '0')) { /* %00 stays as it is: no NUL inside a C string */
			*o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

char *req_query_param(const struct request *req, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = req->query;
	while (p && *p) {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		const char *kend = eq ? eq : end;
		if ((size_t)(kend - p) == nlen && !memcmp(p, name, nlen))
			return eq ? percent_decode(eq + 1, (size_t)(end - eq - 1)) : xstrdup("");
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

int req_page_params(const struct request *req, long long *limit, char **cursor, struct fs_error *e)
{
	char *l = req_query_param(req, "limit");
	*limit = PAGE_DEFAULT_LIMIT;
	*cursor = NULL;
	if (l && util_parse_ll(l, 1, PAGE_MAX_LIMIT, limit) < 0) {
		free(l);
		return fs_fail(e, FS_EINVAL, "limit must be an integer from 1 to %d", PAGE_MAX_LIMIT);
	}
	free(l);
	*cursor = req_query_param(req, "cursor");
	if (*cursor && !**cursor) {
		free(*cursor);
		*cursor = NULL;
	}
	return 0;
}

/* Jansson refuses integers beyond 64 bits outright; reads the body again with such numbers as reals to name
 * the top-level field that holds one. A malloc'd name, or NULL. */
static const char *too_big_field(const char *text, size_t len)
{
	const char *key, *found = NULL;
	json_t *v = json_loadb(text, len, JSON_DECODE_INT_AS_REAL, NULL), *val;
	json_object_foreach(v, key, val) {
		if (!found && json_is_real(val) && fabs(json_real_value(val)) >= 9.2e18)
			found = xstrdup(key);
	}
	json_decref(v);
	return found;
}

int req_json_body(struct request *req, json_t **out, struct fs_error *e)
{
	long long max = req->cfg->http_max_body_bytes;
	struct buf body;
	char chunk[8192];
	long n;
	int rc = 0;
	*out = NULL;
	if (req->content_length > max)
		return fs_fail(e, FS_ETOOLARGE, "request body is larger than %lld bytes", max);
	buf_init(&body, (size_t)max);
	while ((n = io_read(req, chunk, sizeof(chunk))) > 0) {
		if (buf_add(&body, chunk, (size_t)n) < 0) {
			rc = fs_fail(e, FS_ETOOLARGE, "request body is larger than %lld bytes", max);
			goto out;
		}
		if (req->content_length >= 0 && (long long)body.len >= req->content_length)
			break;
	}
	if (body.len == 0) {
		rc = fs_fail(e, FS_EINVAL, "request body is empty; send a JSON object");
		goto out;
	}
	/* A UTF-8 byte order mark (some Windows tools write one) is not part of the JSON text. */
	size_t skip = body.len >= 3 && !memcmp(body.ptr, "\xEF\xBB\xBF", 3) ? 3 : 0;
	json_error_t jerr;
	json_t *v = json_loadb(body.ptr + skip, body.len - skip, JSON_REJECT_DUPLICATES, &jerr);
	if (!v) {
		const char *field = json_error_code(&jerr) == json_error_numeric_overflow
			? too_big_field(body.ptr + skip, body.len - skip) : NULL;
		if (field)
			rc = fs_fail(e, FS_EINVAL, "%s is too large a number", field);
		else
			rc = fs_fail(e, FS_EINVAL, "request body is not valid JSON: %s (line %d, column %d)", jerr.text,
				     jerr.line, jerr.column);
		free((char *)field);
		goto out;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		rc = fs_fail(e, FS_EINVAL, "request body must be a JSON object");
		goto out;
	}
	*out = v;
out:
	buf_release(&body);
	return rc;
}

/* ---- routing ---- */

int app_match_path(const char *pattern, const char *path, char **params, size_t *nparams)
{
	const char *p = pattern, *s = path;
	size_t n = 0;
	while (*p && *s) {
		if (*p == '{') {
			const char *pe = strchr(p, '}'), *se = strchr(s, '/');
			size_t len = se ? (size_t)(se - s) : strlen(s);
			if (!pe || len == 0)
				goto nomatch;
			if (params) {
				if (n == APP_MAX_PARAMS)
					goto nomatch;
				params[n] = xstrndup(s, len);
			}
			n++;
			p = pe + 1;
			s += len;
		} else if (*p++ != *s++) {
			goto nomatch;
		}
	}
	if (*p || *s)
		goto nomatch;
	if (nparams)
		*nparams = n;
	return 1;
nomatch:
	if (params)
		for (size_t i = 0; i < n && i < APP_MAX_PARAMS; i++) {
			free(params[i]);
			params[i] = NULL;
		}
	return 0;
}

/* The methods of the routes whose pattern matches path, as an Allow header lists them (HEAD with GET), into allow
 * (empty when no route has that path). */
static void path_methods(const struct route *routes, size_t nroutes, const char *path, struct buf *allow)
{
	for (size_t i = 0; i < nroutes; i++) {
		if (!app_match_path(routes[i].pattern, path, NULL, NULL))
			continue;
		buf_addf(allow, "%s%s", allow->len ? ", " : "", routes[i].method);
		if (!strcmp(routes[i].method, "GET"))
			buf_adds(allow, ", HEAD");
	}
}

static int route_request(struct request *req, const struct route *routes, size_t nroutes, struct fs_error *e)
{
	struct buf allow;
	/* HEAD is served by the GET route (req_reply leaves the body out). */
	const char *method = strcmp(req->method, "HEAD") ? req->method : "GET";
	for (size_t i = 0; i < nroutes; i++) {
		if (!strcmp(routes[i].method, method) &&
		    app_match_path(routes[i].pattern, req->path, req->params, &req->nparams)) {
			req->route = &routes[i];
			return 0;
		}
	}
	buf_init(&allow, BUF_NO_LIMIT);
	path_methods(routes, nroutes, req->path, &allow);
	int rc;
	if (allow.len) {
		req_header(req, "Allow", buf_str(&allow));
		rc = fs_fail(e, FS_EMETHOD, "%s is not allowed on %s (allowed: %s)", method, req->path, buf_str(&allow));
	} else {
		rc = fs_fail(e, FS_ENOTFOUND, "no route %s %s", method, req->path);
	}
	buf_release(&allow);
	return rc;
}

/* ---- the request path ---- */

static void ratelimit_headers(struct request *req, const struct ratelimit_result *rl)
{
	char v[32];
	snprintf(v, sizeof(v), "%lld", req->key.per_minute);
	req_header(req, "X-RateLimit-Limit", v);
	snprintf(v, sizeof(v), "%lld", rl->remaining);
	req_header(req, "X-RateLimit-Remaining", v);
	snprintf(v, sizeof(v), "%lld", rl->reset_secs);
	req_header(req, "X-RateLimit-Reset", v);
}

/* The 429 of a refused request: the limits that applied (the key's, or "per visitor" ones: who names them). */
static int reply_rate_limited(struct request *req, const struct ratelimit_result *rl, long long per_minute,
			      long long per_hour, const char *who)
{
	char msg[128], v[32];
	snprintf(msg, sizeof(msg), "%lld requests per %s%s limit exceeded", rl->hit_hour ? per_hour : per_minute,
		 rl->hit_hour ? "hour" : "minute", who);
	snprintf(v, sizeof(v), "%lld", rl->reset_secs);
	req_header(req, "Retry-After", v);
	req->error_code = "rate_limit_exceeded";
	return req_reply(req, 429, json_pack("{s:s, s:s, s:I, s:I}", "error", "rate_limit_exceeded", "message", msg,
					     "limit_per_minute", (json_int_t)per_minute, "limit_per_hour",
					     (json_int_t)per_hour));
}

/* ---- browsers: CORS and publishable keys ---- */

static void cors_headers(struct request *req, const char *origin)
{
	if (req->cors)
		return;
	req_header(req, "Access-Control-Allow-Origin", origin);
	req_header(req, "Vary", "Origin");
	req_header(req, "Access-Control-Expose-Headers",
		   "X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, Location");
	req->cors = 1;
}

/* Whether a page of origin may call the API at all: listed in [cors] allowed_origins (secret keys) or by a usable
 * publishable key. Asked where no key says it: preflights, and errors before a key was known. */
static int origin_allowed(struct request *req, const char *origin, int *allowed, struct fs_error *e)
{
	*allowed = apikey_origin_listed(req->cfg->cors_allowed_origins, origin);
	return *allowed ? 0 : apikey_origin_known(req->db, origin, allowed, e);
}

/* The client's address for per-visitor limits: the connection's, or with [widget] trust_forwarded_for the last
 * entry of X-Forwarded-For (the one the trusted proxy added). */
static void client_address(const struct request *req, char *out, size_t size)
{
	const char *addr = req_param(req, "REMOTE_ADDR"), *xff = req_param(req, "HTTP_X_FORWARDED_FOR");
	snprintf(out, size, "%s", addr ? addr : "");
	if (req->cfg->widget_trust_forwarded_for && xff && *xff) {
		const char *last = strrchr(xff, ',');
		last = last ? last + 1 : xff;
		while (*last == ' ' || *last == '\t')
			last++;
		snprintf(out, size, "%.*s", (int)strcspn(last, " \t"), last);
	}
}

/* What a publishable key must pass besides its own limits: its origin, a route it may call, and the limits of
 * each visitor (client address) of the key. 0 to go on, 1 when the request was answered (429), or an error. */
static int admit_visitor(struct request *req, time_t now, struct fs_error *e)
{
	const char *origin = req_param(req, "HTTP_ORIGIN");
	if (!req->cors)
		return fs_fail(e, FS_EFORBIDDEN,
			       origin ? "origin %s is not allowed for this key (its allowed_origins do not list it)"
				      : "%sa publishable key must be used from a web page of one of its allowed_origins",
			       origin ? origin : "");
	if (!(req->route->flags & ROUTE_VISITOR))
		return fs_fail(e, FS_EFORBIDDEN,
			       "a publishable key may only chat (POST /api/v1/chat and the visitor's own conversation);"
			       " use a secret key on your server for %s %s", req->method, req->route->pattern);
	char addr[256], hex[65], bucket[37];
	unsigned char digest[32];
	struct buf b;
	struct ratelimit_result rl;
	client_address(req, addr, sizeof(addr));
	buf_init(&b, BUF_NO_LIMIT);
	buf_addf(&b, "%s|%s", req->key.id, addr);
	util_sha256(b.ptr, b.len, digest);
	buf_release(&b);
	util_hex(digest, sizeof(digest), hex);
	snprintf(bucket, sizeof(bucket), "v%.35s", hex); /* never a key id: those are UUIDs */
	long long per_minute = req->cfg->widget_visitor_per_minute, per_hour = req->cfg->widget_visitor_per_hour;
	int rc = ratelimit_take_bucket(req->db, bucket, per_minute, per_hour, now, &rl, e);
	if (rc < 0 || rl.allowed)
		return rc;
	/* The key's own count of this request goes back: it was refused. */
	if ((rc = ratelimit_give_back(req->db, req->key.id, now, e)) < 0)
		return rc;
	reply_rate_limited(req, &rl, per_minute, per_hour, " per visitor");
	return 1;
}

/* OPTIONS: a browser's preflight (Origin and Access-Control-Request-Method), or a plain question for the methods
 * of a path. Neither needs a key. */
static int preflight(struct request *req, const struct route *routes, size_t nroutes, struct fs_error *e)
{
	struct buf allow;
	int rc = 0, allowed;
	buf_init(&allow, BUF_NO_LIMIT);
	path_methods(routes, nroutes, req->path, &allow);
	const char *origin = req_param(req, "HTTP_ORIGIN"), *asked = req_param(req, "HTTP_ACCESS_CONTROL_REQUEST_METHOD");
	if (!allow.len) {
		rc = fs_fail(e, FS_ENOTFOUND, "no route %s", req->path);
		goto out;
	}
	buf_adds(&allow, ", OPTIONS");
	if (!origin || !asked) {
		req_header(req, "Allow", buf_str(&allow));
		rc = req_reply_empty(req, 204);
		goto out;
	}
	if ((rc = origin_allowed(req, origin, &allowed, e)) < 0)
		goto out;
	if (!allowed) {
		rc = fs_fail(e, FS_EFORBIDDEN,
			     "origin %s may not call this API from a browser: list it in a publishable key's"
			     " allowed_origins", origin);
		goto out;
	}
	cors_headers(req, origin);
	req_header(req, "Access-Control-Allow-Methods", buf_str(&allow));
	req_header(req, "Access-Control-Allow-Headers", "X-API-Key, Content-Type, X-Visitor-Token");
	req_header(req, "Access-Control-Max-Age", "600");
	rc = req_reply_empty(req, 204);
out:
	buf_release(&allow);
	return rc;
}

/* Authentication, rate limit, scope and balance for a route that needs a key. A key this process has seen
 * costs one statement: the rate-limit upsert, which also checks that the key is still usable. */
static int admit(struct request *req, struct fs_error *e)
{
	struct ratelimit_result rl;
	unsigned char hash[32];
	time_t now = time(NULL);
	const char *presented = req_param(req, "HTTP_X_API_KEY"), *authz = req_param(req, "HTTP_AUTHORIZATION");
	if ((!presented || !*presented) && authz && *authz)
		return fs_fail(e, FS_EAUTH, "API key is missing: send it in the X-API-Key header (X-API-Key: faqsure_sk_…),"
				       " not in Authorization");
	int rc = apikey_hash(presented, hash, e);
	if (rc < 0)
		return rc;
	struct apikey_cache_entry *known = apikey_cache_find(req->keys, hash);
	if (!known) {
		if ((rc = apikey_authenticate(req->db, hash, &req->key, e)) < 0)
			return rc;
		known = apikey_cache_put(req->keys, hash, &req->key);
	}
	req->key = known->auth;
	rc = ratelimit_take(req->db, &req->key, hash, now, &rl, e);
	if (rc == FS_EAUTH) { /* revoked, expired or edited since it was remembered: the full check says which */
		apikey_cache_drop(req->keys, hash);
		if ((rc = apikey_authenticate(req->db, hash, &req->key, e)) < 0)
			return rc;
		known = apikey_cache_put(req->keys, hash, &req->key); /* edited: count it as it is now */
		rc = ratelimit_take(req->db, &req->key, hash, now, &rl, e);
		if (rc == FS_EAUTH)
			return fs_fail(e, FS_EAUTH, "API key is not valid");
	}
	if (rc < 0)
		return rc;
	req->authenticated = 1;
	const char *origin = req_param(req, "HTTP_ORIGIN");
	if (origin && apikey_origin_listed(req->key.publishable ? req->key.origins : req->cfg->cors_allowed_origins,
					   origin))
		cors_headers(req, origin);
	if (util_now_ms() - known->marked_ms >= 60000.0 || known->marked_ms == 0) {
		if ((rc = apikey_mark_used(req->db, req->key.id, e)) < 0)
			return rc;
		known->marked_ms = util_now_ms();
	}
	ratelimit_headers(req, &rl);
	if (!rl.allowed) {
		reply_rate_limited(req, &rl, req->key.per_minute, req->key.per_hour, "");
		return 0;
	}
	if (req->key.publishable && (rc = admit_visitor(req, now, e)) != 0)
		return rc;
	if ((req->route->flags & ROUTE_ADMIN) && !req->key.admin)
		return fs_fail(e, FS_EFORBIDDEN, "this route needs an API key with the admin scope");
	if (req->route->flags & ROUTE_SPENDS) {
		long long balance;
		if ((rc = account_balance(req->db, req->key.account_id, &balance, e)) < 0)
			return rc;
		if (balance != ACCOUNT_UNLIMITED && balance <= 0)
			return fs_fail(e, FS_EBALANCE, "token balance depleted (%lld); top up the account to continue",
				       balance);
	}
	return 0;
}

static char *env_copy(const struct request *req, const char *name, const char *def)
{
	const char *v = req_param(req, name);
	return xstrdup(v ? v : def);
}

/* The path with empty, "." and ".." segments resolved (RFC 3986 5.2.4), as web servers do before mapping a
 * URL: "/api/v1/documents/../health" is "/api/v1/health", "/api//v1/keys/" is "/api/v1/keys". */
static char *normalise_path(const char *raw)
{
	char *out = xmalloc(strlen(raw) + 2);
	size_t len = 0;
	const char *p = raw;
	while (*p) {
		while (*p == '/')
			p++;
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			out[len++] = '/';
			memcpy(out + len, p, n);
			len += n;
		}
		p += n;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return out;
}

/* Where the API is mounted: with [http] base_path, that prefix (a path outside it keeps its full form and finds no
 * route); otherwise whatever precedes the first "/api" segment, so the programs answer under any folder of a
 * site (shared hosting: https://example.com/faqsure/api/v1/…) without being told. */
static void split_base(struct request *req)
{
	const char *conf = req->cfg->http_base_path, *p = req->path;
	size_t n = 0;
	if (conf && *conf) {
		size_t len = strlen(conf);
		while (len > 0 && conf[len - 1] == '/')
			len--;
		if (len && !strncmp(p, conf, len) && (p[len] == '/' || !p[len]))
			n = len;
	} else {
		for (const char *a = strstr(p, "/api"); a; a = strstr(a + 1, "/api"))
			if (a[4] == '/' || !a[4]) {
				n = (size_t)(a - p);
				break;
			}
	}
	req->base = xstrndup(p, n);
	if (n) {
		char *rest = xstrdup(p[n] ? p + n : "/");
		free(req->path);
		req->path = rest;
	}
}

/* Fills method, path (from REQUEST_URI, else SCRIPT_NAME + PATH_INFO, without the prefix: split_base) and
 * query. */
static void parse_target(struct request *req)
{
	req->method = env_copy(req, "REQUEST_METHOD", "GET");
	const char *uri = req_param(req, "REQUEST_URI");
	struct buf path;
	buf_init(&path, BUF_NO_LIMIT);
	if (uri && *uri) {
		const char *q = strchr(uri, '?');
		buf_add(&path, uri, q ? (size_t)(q - uri) : strlen(uri));
		req->query = xstrdup(q ? q + 1 : "");
	} else {
		buf_adds(&path, req_param(req, "SCRIPT_NAME") ? req_param(req, "SCRIPT_NAME") : "");
		buf_adds(&path, req_param(req, "PATH_INFO") ? req_param(req, "PATH_INFO") : "");
		req->query = env_copy(req, "QUERY_STRING", "");
	}
	req->path = normalise_path(buf_str(&path));
	buf_release(&path);
	split_base(req);
	const char *cl = req_param(req, "CONTENT_LENGTH");
	if (!cl || !*cl || util_parse_ll(cl, 0, (long long)1 << 62, &req->content_length) < 0)
		req->content_length = -1;
}

static void request_release(struct request *req)
{
	free(req->method);
	free(req->path);
	free(req->base);
	free(req->query);
	for (size_t i = 0; i < APP_MAX_PARAMS; i++)
		free(req->params[i]);
	buf_release(&req->headers);
}

/* Sends a CGI program's answer. Its body is written to its stdin before the answer is read: an answer given
 * without reading it (a 401, a 503) would fail that write and reset the connection, so the rest is dropped. */
static void finish_cgi(struct request *req)
{
	char chunk[65536];
	size_t n;
	fflush(stdout);
	for (long long left = req->content_length; left > 0; left -= (long long)n)
		if ((n = fread(chunk, 1, left < (long long)sizeof(chunk) ? (size_t)left : sizeof(chunk), stdin)) == 0)
			break;
}

/* What a program keeps for its whole life. */
struct app {
	const struct app_program *p; /* its name, routes and hooks */
	void *state;
	int ready; /* the init hook succeeded (or there is none) */
	struct config cfg;
	struct db *db;
	struct usage_queue *usage;
	struct apikey_cache keys;
};

static void flush_usage(struct app *app)
{
	struct fs_error e;
	if (usage_queue_len(app->usage) && usage_queue_flush(app->usage, app->db, &e) < 0)
		fprintf(stderr, "faqsure %s: %zu usage events not written yet: %s\n", app->p->name,
			usage_queue_len(app->usage), e.msg);
}

/* Runs the program's init hook unless it already succeeded. */
static int make_state(struct app *app, struct fs_error *e)
{
	if (app->ready)
		return 0;
	int rc = app->p->init ? app->p->init(&app->cfg, app->db, &app->state, e) : 0;
	if (rc < 0) {
		fprintf(stderr, "faqsure %s: starting: %s\n", app->p->name, e->msg);
		return rc;
	}
	app->ready = 1;
	return 0;
}

static void serve(struct app *app, FCGX_Request *fr)
{
	struct request req = { .db = app->db, .cfg = &app->cfg, .io = fr, .keys = &app->keys };
	struct fs_error e;
	unsigned char id[16];
	fs_error_clear(&e);
	buf_init(&req.headers, 64 * 1024);
	req.started_ms = util_now_ms();
	util_random(id, sizeof(id));
	util_hex(id, sizeof(id), req.request_id);
	parse_target(&req);

	int options = !strcmp(req.method, "OPTIONS");
	int rc = options ? preflight(&req, app->p->routes, app->p->nroutes, &e)
			 : route_request(&req, app->p->routes, app->p->nroutes, &e);
	if (rc == 0 && !options && !(req.route->flags & ROUTE_PUBLIC))
		rc = admit(&req, &e);
	if (rc == 0 && !req.replied && (rc = make_state(app, &e)) == 0) {
		req.state = app->state;
		rc = req.route->handler(&req, &e);
	}
	if (rc < 0 && req.streaming) {
		req_sse_error(&req, &e);
	} else if (rc < 0 && !req.replied) {
		/* A page of an origin that may call the API reads its errors too (a 401 for a bad key, say). */
		const char *origin = req_param(&req, "HTTP_ORIGIN");
		int allowed = 0;
		struct fs_error ignored;
		if (origin && !req.cors && !options && origin_allowed(&req, origin, &allowed, &ignored) == 0 && allowed)
			cors_headers(&req, origin);
		reply_error(&req, &e);
	}
	else if (!req.replied)
		reply_error(&req, &(struct fs_error){ FS_EINTERNAL, "handler gave no answer" });

	/* The client has its answer; the bookkeeping below does not delay it. */
	if (fr)
		FCGX_Finish_r(fr);
	else
		finish_cgi(&req);
	req.io = NULL;

	if (!options && (!req.route || !(req.route->flags & ROUTE_NO_USAGE))) {
		struct usage_event ev = {
			.account_id = req.authenticated ? req.key.account_id : 0,
			.key_id = req.authenticated ? req.key.id : NULL,
			.request_id = req.request_id,
			.method = req.method,
			.route = req.route ? req.route->pattern : "(none)",
			.status = req.status,
			.error = req.error_code,
			.tokens_prompt = req.tokens_prompt,
			.tokens_completion = req.tokens_completion,
			.processing_ms = (long long)(util_now_ms() - req.started_ms + 0.5),
		};
		usage_queue_add(app->usage, &ev);
	}
	unsigned r; /* the request id's random bytes also pick the requests that prune: no second getrandom */
	memcpy(&r, id, sizeof(r));
	if (req.authenticated && r % (unsigned)app->cfg.ratelimit_prune_every == 0 &&
	    ratelimit_prune(app->db, time(NULL), &e) < 0)
		fprintf(stderr, "faqsure %s: pruning rate-limit rows failed: %s\n", app->p->name, e.msg);
	request_release(&req);
}

/* Waits up to ms for the web server to hand over a request on the FastCGI listening socket (fd 0).
 * 1 when one is there (or a signal came), 0 on timeout. */
static int request_waiting(int ms)
{
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	return poll(&pfd, 1, ms) != 0;
}

static void serve_fastcgi(struct app *app)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_terminate;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL); /* no SA_RESTART: a blocked accept() or poll() must return */
	sigaction(SIGINT, &sa, NULL);
	if (FCGX_Init() != 0) {
		fprintf(stderr, "faqsure %s: FastCGI initialisation failed\n", app->p->name);
		return;
	}
	FCGX_Request fr;
	FCGX_InitRequest(&fr, 0, 0);
	while (!stopping) {
		/* Usage events go out when the process falls idle, so nothing waits long for the next request. */
		if (usage_queue_len(app->usage) && !request_waiting(USAGE_IDLE_FLUSH_MS)) {
			flush_usage(app);
			continue;
		}
		if (stopping || FCGX_Accept_r(&fr) < 0)
			break;
		serve(app, &fr);
		if (usage_queue_due(app->usage))
			flush_usage(app);
	}
	FCGX_Free(&fr, 1);
}

int app_run(const struct app_program *p)
{
	const char *program = p->name;
	struct app app = { .p = p };
	struct fs_error e;
	fs_error_clear(&e);
	if (config_load_env(&app.cfg, &e) < 0) {
		fprintf(stderr, "faqsure %s: %s\n", program, e.msg);
		config_release(&app.cfg);
		return 1;
	}
	app.db = db_new(&app.cfg);
	app.usage = usage_queue_new();
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_IsCGI()) {
		serve(&app, NULL); /* the one request makes the state if it needs it */
	} else {
		make_state(&app, &e); /* a failure is logged; each request tries again */
		serve_fastcgi(&app);
	}
	flush_usage(&app);
	if (app.ready && p->release)
		p->release(app.state);
	usage_queue_free(app.usage);
	db_free(app.db);
	config_release(&app.cfg);
	return 0;
}
