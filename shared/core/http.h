/* HTTP client for upstream services (OpenAI-compatible servers, Qdrant) over libcurl: one reusable handle per
 * process (keep-alive), hard timeouts, and retries with exponential backoff on connection failures, 429 and
 * 5xx (honouring Retry-After up to a cap). Never logs headers or bodies: they may hold API keys. */
#ifndef FAQSURE_HTTP_H
#define FAQSURE_HTTP_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

struct http_client;

struct http_opts {
	long timeout_ms;      /* whole request, connect included */
	int max_retries;      /* extra attempts after the first (0 = one attempt) */
	long backoff_ms;      /* first wait; doubles each retry (with jitter); 0 = 200 */
	long max_backoff_ms;  /* cap for one wait, Retry-After included; 0 = 5000 */
	size_t max_body;      /* answers larger than this fail (FS_EUNAVAIL); 0 = 64 MiB */
};

struct http_response {
	long status;          /* last HTTP status received; 0 when none was (connection failed) */
	struct buf body;      /* the answer body, NUL-terminated */
	int attempts;         /* how many requests were sent */
};

/* Called with each piece of the body as it arrives, for streamed answers; non-zero aborts the transfer. */
typedef int (*http_chunk_fn)(void *arg, const char *data, size_t len);

int http_client_new(struct http_client **out, struct fs_error *e);
void http_client_free(struct http_client *c);

/* Sends method url with the given extra headers (NULL-terminated array of "Name: value" strings, may be NULL)
 * and body (may be NULL for no body; Content-Type is the caller's header). Retries as described above.
 * Returns 0 once an answer with status < 500 and != 429 arrived (the caller looks at resp->status, 2xx or 4xx),
 * or after the retries ran out on 429/5xx (resp->status tells which); FS_EUNAVAIL when no answer arrived at all
 * (refused, timed out, cut off) after the retries, with a message naming the host and the cause; FS_EINVAL for
 * a URL that is not http(s).
 * resp must be initialised with http_response_init and released with http_response_release. */
int http_request(struct http_client *c, const char *method, const char *url, const char *const *headers,
		 const char *body, size_t body_len, const struct http_opts *opts, struct http_response *resp,
		 struct fs_error *e);

/* As http_request, but the body goes to fn as it arrives (not kept in resp->body when the status is 2xx) and
 * no retry happens once any 2xx body byte was delivered (a transfer cut off after that is FS_EUNAVAIL). When fn
 * returns non-zero the call ends with that value if it is negative (an fs_code), else with FS_EINTERNAL. */
int http_request_stream(struct http_client *c, const char *method, const char *url, const char *const *headers,
			const char *body, size_t body_len, const struct http_opts *opts, http_chunk_fn fn, void *arg,
			struct http_response *resp, struct fs_error *e);

void http_response_init(struct http_response *r);
/* "host:port" (or "host") of url into out, for messages that must name an upstream without the URL's user,
 * password, path or query; "the upstream (bad URL)" when url does not parse. */
void http_url_host(const char *url, char *out, size_t size);
void http_response_release(struct http_response *r);

/* Room for a message from http_upstream_message: HTTP_UPSTREAM_MSG_MAX bytes, "..." and the NUL. */
#define HTTP_UPSTREAM_MSG_MAX 200
#define HTTP_UPSTREAM_MSG_SIZE (HTTP_UPSTREAM_MSG_MAX + 4)

/* The message of an upstream's JSON error body (error.message, a bare "error" string, or a top-level "message")
 * made safe to quote in ours: every run of 8 or more bytes of secret (all of it, when shorter) becomes
 * "[redacted]" since servers quote the key they were given, control characters become spaces, bytes that are
 * not UTF-8 become U+FFFD, and it is cut on a character boundary to fit out (HTTP_UPSTREAM_MSG_MAX bytes at
 * most), "..." marking a cut. "" when the body holds no message. body and secret may be NULL. */
void http_upstream_message(const char *body, size_t len, const char *secret, char *out, size_t size);

/* One endpoint of an OpenAI-compatible server as a backend holds it for the process's life: its own client
 * (keep-alive), the URL, the bearer key, and the names its messages use. */
struct http_upstream {
	struct http_client *http;
	char *endpoint;     /* base_url without trailing '/', then path */
	char *auth_header;  /* "Authorization: Bearer {key}"; NULL when no key */
	char *secret;       /* the key, only to redact it from upstream messages; NULL when none */
	const char *what;   /* "embedder", "answerer": starts the messages; also the config section of the URL */
	char host[300];     /* "host:port" of the endpoint (http_url_host), for messages */
};

/* Sets u up for base_url + path (path starts with '/'). api_key may be NULL or "" (no Authorization header).
 * what must outlive u. FS_EINVAL "[what] url must start with http:// or https://" for any other URL, or the
 * error of http_client_new; u then holds nothing (http_upstream_release is harmless). */
int http_upstream_init(struct http_upstream *u, const char *base_url, const char *path, const char *api_key,
		       const char *what, struct fs_error *e);
/* Frees what u holds; u may be all zeroes. */
void http_upstream_release(struct http_upstream *u);

/* The verdict on a request to u: rc and he are what http_request (or http_request_stream) returned and said,
 * resp its answer. 0 for a 2xx answer. Otherwise FS_EUNAVAIL with a message that starts with u->what:
 * "what upstream unavailable: {he's message}" when no answer came, "what upstream unavailable: host answered
 * HTTP n after k attempts" when 429/5xx outlasted the retries, "what upstream host refused the request (HTTP n)"
 * for any other status, the last two followed by the upstream's own message (http_upstream_message, u->secret
 * redacted) when it sent one. Only rc FS_EINTERNAL (our failure, not the upstream's) keeps its code; a URL
 * libcurl cannot use is FS_EUNAVAIL like an outage, so a chat can still fall back. */
int http_upstream_check(const struct http_upstream *u, int rc, const struct fs_error *he,
			const struct http_response *resp, struct fs_error *e);

#endif
