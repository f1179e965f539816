/* HTTP client over one reused libcurl easy handle: timeouts, retries with capped exponential backoff and
 * jitter, Retry-After, a body size cap, and a streamed variant. Error messages name the host and the cause
 * only: never a header value, a body or the URL (they may carry API keys). */
#include "core/http.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/util.h"

#include "core/banned.h"

#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_BACKOFF_MS 200L
#define DEFAULT_MAX_BACKOFF_MS 5000L
#define DEFAULT_MAX_BODY ((size_t)64 << 20)
/* Only this much of an upstream's error message is looked at, and runs of this many bytes of the secret in it
 * are redacted. */
#define UPSTREAM_MSG_SCAN 4096
#define SECRET_RUN_MIN 8

/* Loopback upstreams (the stand-ins, a local Ollama) are never reached through a proxy from the environment;
 * everything else follows libcurl's usual http_proxy / https_proxy / no_proxy handling. */
#define LOOPBACK_NOPROXY "localhost,127.0.0.1,::1"

struct http_client {
	CURL *curl;
	char *noproxy; /* the environment's no_proxy plus the loopback names */
};

/* What one attempt's callbacks see and record. */
struct transfer {
	struct http_response *resp;
	long status;          /* of the response being received (the last status line seen) */
	long retry_after_ms;  /* from its Retry-After header; -1 when absent */
	int too_large;        /* the body passed the cap */
	http_chunk_fn fn;     /* streamed: 2xx body pieces go here */
	void *arg;
	int delivered;        /* streamed: some 2xx body byte went to fn */
	int aborted;          /* streamed: fn asked to stop, with this value */
	int abort_rc;
};

static int curl_ready;

void http_response_init(struct http_response *r)
{
	r->status = 0;
	buf_init(&r->body, DEFAULT_MAX_BODY);
	r->attempts = 0;
}

void http_response_release(struct http_response *r)
{
	buf_release(&r->body);
	r->status = 0;
	r->attempts = 0;
}

int http_client_new(struct http_client **out, struct fs_error *e)
{
	struct http_client *c;
	const char *env;

	*out = NULL;
	if (!curl_ready) { /* once per process; not thread-safe, and the programs are single-threaded */
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return fs_fail(e, FS_EINTERNAL, "libcurl could not be initialised");
		curl_ready = 1;
	}
	c = xcalloc(1, sizeof(*c));
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return fs_fail(e, FS_EINTERNAL, "libcurl could not create a handle");
	}
	/* Setting CURLOPT_NOPROXY replaces the environment's list, so carry it over. "*" already covers all. */
	env = getenv("no_proxy");
	if (!env || !*env)
		env = getenv("NO_PROXY");
	if (env && !strcmp(env, "*")) {
		c->noproxy = xstrdup("*");
	} else {
		struct buf b;
		buf_init(&b, BUF_NO_LIMIT);
		if (env && *env)
			buf_addf(&b, "%s,", env);
		buf_adds(&b, LOOPBACK_NOPROXY);
		c->noproxy = buf_take(&b, NULL);
	}
	*out = c;
	return 0;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c->noproxy);
	free(c);
}

void http_url_host(const char *url, char *out, size_t size)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;

	snprintf(out, size, "%s", "the upstream (bad URL)");
	if (!u)
		return;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
			snprintf(out, size, "%s:%s", host, port);
		else
			snprintf(out, size, "%s", host);
	}
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

/* Retry-After is delta-seconds or an HTTP date; -1 when neither. */
static long parse_retry_after(const char *v, size_t len)
{
	char tmp[64];
	long long secs;
	time_t when;

	while (len && isspace((unsigned char)v[len - 1]))
		len--;
	while (len && isspace((unsigned char)*v)) {
		v++;
		len--;
	}
	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, v, len);
	tmp[len] = '\0';
	if (util_parse_ll(tmp, 0, 86400 * 365, &secs) == 0)
		return (long)(secs > LONG_MAX / 1000 ? LONG_MAX : secs * 1000);
	when = curl_getdate(tmp, NULL);
	if (when == (time_t)-1)
		return -1;
	return when <= time(NULL) ? 0 : (long)((when - time(NULL)) * 1000);
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
	struct transfer *t = userp;
	size_t len = size * n;
	static const char ra[] = "retry-after:";

	if (len > 5 && !memcmp(data, "HTTP/", 5)) { /* a new response (after 100 Continue, say) starts over */
		const char *sp = memchr(data, ' ', len);
		t->status = 0;
		t->retry_after_ms = -1;
		if (sp && (size_t)(sp - data) + 4 <= len && isdigit((unsigned char)sp[1]) &&
		    isdigit((unsigned char)sp[2]) && isdigit((unsigned char)sp[3]))
			t->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
	} else if (len > sizeof(ra) - 1 && !strncasecmp(data, ra, sizeof(ra) - 1)) {
		t->retry_after_ms = parse_retry_after(data + sizeof(ra) - 1, len - (sizeof(ra) - 1));
	}
	return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
	struct transfer *t = userp;
	size_t len = size * n;

	if (t->fn && t->status >= 200 && t->status < 300) {
		int rc;
		if (len == 0)
			return len;
		t->delivered = 1;
		rc = t->fn(t->arg, data, len);
		if (rc) {
			t->aborted = 1;
			t->abort_rc = rc;
			return 0; /* CURLE_WRITE_ERROR ends the transfer */
		}
		return len;
	}
	if (buf_add(&t->resp->body, data, len) < 0) {
		t->too_large = 1;
		return 0;
	}
	return len;
}

static int retryable_status(long status)
{
	return status == 429 || status >= 500;
}

/* How long to wait before retry number `retry` (1-based): the backoff doubles each time and is capped, then
 * "equal jitter" picks a point in its upper half, so many clients that failed together do not come back
 * together. A Retry-After the server sent wins, under the same cap. */
static long backoff_delay(const struct http_opts *o, int retry, long retry_after_ms)
{
	long base = o->backoff_ms > 0 ? o->backoff_ms : DEFAULT_BACKOFF_MS;
	long cap = o->max_backoff_ms > 0 ? o->max_backoff_ms : DEFAULT_MAX_BACKOFF_MS;
	long d = base;
	uint32_t r;

	if (retry_after_ms >= 0)
		return retry_after_ms < cap ? retry_after_ms : cap;
	for (int i = 1; i < retry && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	util_random(&r, sizeof(r));
	return d / 2 + (long)(r % (uint32_t)(d / 2 + 1));
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Prepares the handle for one attempt. Options left from the previous request are cleared by the reset, which
 * keeps the open connections. */
static int setup(struct http_client *c, const char *method, const char *url, struct curl_slist *hdrs,
		 const char *body, size_t body_len, long timeout_ms, struct transfer *t)
{
	CURL *h = c->curl;
	CURLcode rc = CURLE_OK;

	curl_easy_reset(h);
#define SET(opt, val)                                                                                          \
	do {                                                                                                   \
		if (rc == CURLE_OK)                                                                            \
			rc = curl_easy_setopt(h, opt, val);                                                    \
	} while (0)
	SET(CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_TIMEOUT_MS, timeout_ms);
	SET(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_NOPROXY, c->noproxy);
	SET(CURLOPT_HTTPHEADER, hdrs);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, t);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, t);
	if (!strcmp(method, "HEAD")) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (!strcmp(method, "GET") && !body) {
		SET(CURLOPT_HTTPGET, 1L);
	} else {
		/* POST with the body given (an empty one when NULL), under the method asked for. */
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
		SET(CURLOPT_POSTFIELDS, body ? body : "");
		if (strcmp(method, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, method);
	}
#undef SET
	return rc == CURLE_OK ? 0 : -1;
}

/* The cause of a failed attempt in words: libcurl's name for the error, and the system's when there is one
 * ("Couldn't connect to server (Connection refused)"). Never libcurl's error buffer, which may quote URLs. */
static void describe_failure(CURL *h, CURLcode cc, char *out, size_t size)
{
	long os_errno = 0;
	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
	if (os_errno && cc != CURLE_OPERATION_TIMEDOUT)
		snprintf(out, size, "%s (%s)", curl_easy_strerror(cc), strerror((int)os_errno));
	else
		snprintf(out, size, "%s", curl_easy_strerror(cc));
}

static int run(struct http_client *c, const char *method, const char *url, const char *const *headers,
	       const char *body, size_t body_len, const struct http_opts *opts, http_chunk_fn fn, void *arg,
	       struct http_response *resp, struct fs_error *e)
{
	static const struct http_opts defaults = { 0 };
	const struct http_opts *o = opts ? opts : &defaults;
	long timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	int max_retries = o->max_retries > 0 ? o->max_retries : 0;
	struct curl_slist *hdrs = NULL;
	struct transfer t;
	char host[300], cause[300];
	int rc = 0;

	http_url_host(url, host, sizeof(host));
	resp->status = 0;
	resp->attempts = 0;
	resp->body.max = o->max_body ? o->max_body : DEFAULT_MAX_BODY;
	buf_reset(&resp->body);
	for (size_t i = 0; headers && headers[i]; i++) {
		struct curl_slist *n = curl_slist_append(hdrs, headers[i]);
		if (!n) {
			rc = fs_fail(e, FS_EINTERNAL, "out of memory building a request to %s", host);
			goto out;
		}
		hdrs = n;
	}
	/* No "Expect: 100-continue" round trip before large bodies. */
	if (!(hdrs = curl_slist_append(hdrs, "Expect:"))) {
		rc = fs_fail(e, FS_EINTERNAL, "out of memory building a request to %s", host);
		goto out;
	}

	for (int attempt = 0;; attempt++) {
		CURLcode cc;
		long wait;

		memset(&t, 0, sizeof(t));
		t.resp = resp;
		t.retry_after_ms = -1;
		t.fn = fn;
		t.arg = arg;
		buf_reset(&resp->body);
		if (setup(c, method, url, hdrs, body, body_len, timeout_ms, &t) < 0) {
			rc = fs_fail(e, FS_EINTERNAL, "libcurl refused the options of a request to %s", host);
			goto out;
		}
		resp->attempts++;
		cc = curl_easy_perform(c->curl);
		if (cc == CURLE_OK) {
			long status = 0;
			curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
			resp->status = status;
			if (!retryable_status(status) || attempt >= max_retries || t.delivered)
				goto out; /* rc 0: the caller reads resp->status */
			wait = backoff_delay(o, attempt + 1, t.retry_after_ms);
		} else {
			resp->status = t.status;
			if (t.aborted) {
				rc = fs_fail(e, t.abort_rc < 0 ? t.abort_rc : FS_EINTERNAL,
					     "the answer from %s was abandoned by its reader", host);
				goto out;
			}
			if (t.too_large) {
				rc = fs_fail(e, FS_EUNAVAIL, "the answer from %s is larger than %zu bytes", host,
					     resp->body.max);
				goto out;
			}
			if (cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL) {
				rc = fs_fail(e, FS_EINVAL, "the URL for %s is not a valid http(s) URL", host);
				goto out;
			}
			describe_failure(c->curl, cc, cause, sizeof(cause));
			if (t.delivered) { /* part of a streamed answer went out: repeating it would duplicate it */
				rc = fs_fail(e, FS_EUNAVAIL, "the answer from %s was cut off: %s", host, cause);
				goto out;
			}
			if (attempt >= max_retries) {
				rc = fs_fail(e, FS_EUNAVAIL, "no answer from %s after %d attempt%s: %s", host,
					     resp->attempts, resp->attempts == 1 ? "" : "s", cause);
				goto out;
			}
			/* A status line arrived but the body did not: a 429 or 503 may still have said when. */
			wait = backoff_delay(o, attempt + 1, retryable_status(t.status) ? t.retry_after_ms : -1);
		}
		sleep_ms(wait);
	}
out:
	curl_slist_free_all(hdrs);
	return rc;
}

int http_request(struct http_client *c, const char *method, const char *url, const char *const *headers,
		 const char *body, size_t body_len, const struct http_opts *opts, struct http_response *resp,
		 struct fs_error *e)
{
	return run(c, method, url, headers, body, body_len, opts, NULL, NULL, resp, e);
}

int http_request_stream(struct http_client *c, const char *method, const char *url, const char *const *headers,
			const char *body, size_t body_len, const struct http_opts *opts, http_chunk_fn fn, void *arg,
			struct http_response *resp, struct fs_error *e)
{
	return run(c, method, url, headers, body, body_len, opts, fn, arg, resp, e);
}

/* The length of the longest run at s (of len bytes) that occurs somewhere in secret. */
static size_t secret_run(const char *s, size_t len, const char *secret, size_t slen)
{
	size_t best = 0;
	for (size_t k = 0; k < slen; k++) {
		size_t n = 0;
		while (n < len && k + n < slen && s[n] == secret[k + n])
			n++;
		if (n > best)
			best = n;
	}
	return best;
}

void http_upstream_message(const char *body, size_t len, const char *secret, char *out, size_t size)
{
	json_t *root = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
	json_t *err = json_object_get(root, "error"), *m = NULL;
	size_t slen = secret ? strlen(secret) : 0;
	size_t min_run = slen < SECRET_RUN_MIN ? slen : SECRET_RUN_MIN;
	size_t mlen, scan, room, cut;
	const char *msg;
	struct buf b, safe;

	if (size == 0)
		goto out;
	out[0] = '\0';
	if (json_is_string(err))
		m = err;
	else if (json_is_string(json_object_get(err, "message")))
		m = json_object_get(err, "message");
	else if (json_is_string(json_object_get(root, "message")))
		m = json_object_get(root, "message");
	if (!m)
		goto out;
	msg = json_string_value(m);
	mlen = json_string_length(m);
	scan = util_utf8_cut(msg, mlen, UPSTREAM_MSG_SCAN);
	buf_init(&b, BUF_NO_LIMIT);
	buf_init(&safe, BUF_NO_LIMIT);
	/* Byte by byte, so a run of the secret is found wherever it starts; a run that began or ended inside a
	 * character leaves a piece of one, which the second pass replaces. */
	for (size_t i = 0; i < scan;) {
		size_t run = slen ? secret_run(msg + i, scan - i, secret, slen) : 0;
		if (slen && run >= min_run) {
			buf_adds(&b, "[redacted]");
			i += run;
		} else {
			char c = (unsigned char)msg[i] < 0x20 || msg[i] == 0x7f ? ' ' : msg[i];
			buf_add(&b, &c, 1);
			i++;
		}
	}
	for (size_t i = 0; i < b.len;) {
		size_t n = util_utf8_seq((const unsigned char *)b.ptr + i, b.len - i);
		if (n) {
			buf_add(&safe, b.ptr + i, n);
			i += n;
		} else {
			buf_adds(&safe, "\xef\xbf\xbd");
			i++;
		}
	}
	room = size >= HTTP_UPSTREAM_MSG_SIZE ? HTTP_UPSTREAM_MSG_MAX : size > 4 ? size - 4 : 0;
	cut = util_utf8_cut(buf_str(&safe), safe.len, room);
	snprintf(out, size, "%.*s%s", (int)cut, buf_str(&safe), cut < safe.len || scan < mlen ? "..." : "");
	buf_release(&b);
	buf_release(&safe);
out:
	json_decref(root);
}

int http_upstream_init(struct http_upstream *u, const char *base_url, const char *path, const char *api_key,
		       const char *what, struct fs_error *e)
{
	size_t ulen = strlen(base_url);
	struct buf b;
	int rc;

	memset(u, 0, sizeof(*u));
	u->what = what;
	if (strncasecmp(base_url, "http://", 7) != 0 && strncasecmp(base_url, "https://", 8) != 0)
		return fs_fail(e, FS_EINVAL, "[%s] url must start with http:// or https://", what);
	if ((rc = http_client_new(&u->http, e)) < 0)
		return rc;
	while (ulen > 0 && base_url[ulen - 1] == '/')
		ulen--;
	buf_init(&b, BUF_NO_LIMIT);
	buf_addf(&b, "%.*s%s", (int)ulen, base_url, path);
	u->endpoint = buf_take(&b, NULL);
	http_url_host(u->endpoint, u->host, sizeof(u->host));
	if (api_key && *api_key) {
		u->secret = xstrdup(api_key);
		buf_addf(&b, "Authorization: Bearer %s", api_key);
		u->auth_header = buf_take(&b, NULL);
	}
	return 0;
}

void http_upstream_release(struct http_upstream *u)
{
	http_client_free(u->http);
	free(u->endpoint);
	free(u->auth_header);
	free(u->secret);
	memset(u, 0, sizeof(*u));
}

int http_upstream_check(const struct http_upstream *u, int rc, const struct fs_error *he,
			const struct http_response *resp, struct fs_error *e)
{
	char msg[HTTP_UPSTREAM_MSG_SIZE];

	if (rc < 0)
		return fs_fail(e, rc == FS_EINTERNAL ? FS_EINTERNAL : FS_EUNAVAIL, "%s upstream unavailable: %s",
			       u->what, he->msg);
	if (resp->status >= 200 && resp->status < 300)
		return 0;
	http_upstream_message(resp->body.ptr, resp->body.len, u->secret, msg, sizeof(msg));
	if (retryable_status(resp->status))
		return fs_fail(e, FS_EUNAVAIL, "%s upstream unavailable: %s answered HTTP %ld after %d attempt%s%s%s",
			       u->what, u->host, resp->status, resp->attempts, resp->attempts == 1 ? "" : "s",
			       *msg ? ": " : "", msg);
	return fs_fail(e, FS_EUNAVAIL, "%s upstream %s refused the request (HTTP %ld)%s%s", u->what, u->host,
		       resp->status, *msg ? ": " : "", msg);
}
