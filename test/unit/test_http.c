/* http and the openai embedder against a scripted HTTP server forked from the test: each request it gets is
 * answered with the next scripted response (status, headers, body, a delay, or a cut-off), and written to a
 * log file the test reads back. Covers retries, Retry-After and its cap, the body cap, timeouts, streaming, and
 * the embedder's ordering, batching, checks and messages. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/http.h"
#include "core/util.h"
#include "embed/embed.h"
#include "text/tokens.h"

struct reply {
	int status;
	const char *headers; /* extra header lines, each ending in \r\n; may be NULL */
	const char *body;    /* NULL: "conn=N", the number of the connection it came on */
	int delay_ms;        /* before answering */
	long cut_after;      /* > 0: announce the whole body, send this many bytes, hang up */
};

struct server {
	pid_t pid;
	int port;
	char log[64];
};

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One request from fd into req (head and body); -1 when the client hung up. */
static int read_request(int fd, struct buf *req)
{
	char tmp[4096];
	size_t head_end = 0, want = 0;
	buf_reset(req);
	for (;;) {
		if (!head_end) {
			const char *p = req->len ? strstr(buf_str(req), "\r\n\r\n") : NULL;
			if (p) {
				const char *cl;
				head_end = (size_t)(p - req->ptr) + 4;
				for (cl = req->ptr; cl && cl < p; cl = strstr(cl + 1, "\r\n")) {
					if (!strncasecmp(cl, "\r\nContent-Length:", 17)) {
						want = strtoul(cl + 17, NULL, 10);
						break;
					}
				}
			}
		}
		if (head_end && req->len >= head_end + want)
			return 0;
		ssize_t r = recv(fd, tmp, sizeof(tmp), 0);
		if (r <= 0)
			return -1;
		buf_add(req, tmp, (size_t)r);
	}
}

static void serve(int lfd, int logfd, const struct reply *script, size_t n)
{
	struct buf req, out;
	size_t next = 0;
	int conns = 0;
	buf_init(&req, BUF_NO_LIMIT);
	buf_init(&out, BUF_NO_LIMIT);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		conns++;
		while (read_request(fd, &req) == 0) {
			const struct reply *r = next < n ? &script[next++] : NULL;
			char conn_body[32];
			const char *body;
			size_t blen, send_len;
			if (write(logfd, req.ptr, req.len) < 0 || write(logfd, "\n=====\n", 7) < 0)
				_exit(3);
			snprintf(conn_body, sizeof(conn_body), "conn=%d", conns);
			body = !r ? "script exhausted" : r->body ? r->body : conn_body;
			blen = strlen(body);
			if (r && r->delay_ms)
				sleep_ms(r->delay_ms);
			buf_reset(&out);
			buf_addf(&out, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", r ? r->status : 500, blen,
				 r && r->headers ? r->headers : "");
			send_len = r && r->cut_after > 0 && (size_t)r->cut_after < blen ? (size_t)r->cut_after : blen;
			buf_add(&out, body, send_len);
			if (send_all(fd, out.ptr, out.len) < 0 || send_len < blen)
				break;
		}
		close(fd);
	}
}

/* Forks the server with its script; 0 or -1. */
static int server_start(struct server *s, const struct reply *script, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), logfd;
	snprintf(s->log, sizeof(s->log), "/tmp/faqsure-http-test-XXXXXX");
	logfd = mkstemp(s->log);
	if (lfd < 0 || logfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0) {
		printf("    scripted server: %s\n", strerror(errno));
		return -1;
	}
	s->port = ntohs(a.sin_port);
	fflush(stdout);
	s->pid = fork();
	if (s->pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		serve(lfd, logfd, script, n);
		_exit(0);
	}
	close(lfd);
	close(logfd);
	return s->pid > 0 ? 0 : -1;
}

static void server_stop(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	unlink(s->log);
}

/* Everything the server received so far (requests separated by "\n=====\n"); free() it. */
static char *server_log(const struct server *s)
{
	struct buf b;
	char tmp[4096];
	ssize_t r;
	int fd = open(s->log, O_RDONLY);
	buf_init(&b, BUF_NO_LIMIT);
	buf_adds(&b, "");
	while (fd >= 0 && (r = read(fd, tmp, sizeof(tmp))) > 0)
		buf_add(&b, tmp, (size_t)r);
	if (fd >= 0)
		close(fd);
	return buf_take(&b, NULL);
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* A port nothing listens on (bound, then closed). */
static int dead_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 9;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

#define NREPLIES(a) (sizeof(a) / sizeof(a[0]))

/* One request to the scripted server: rc, with resp filled and the time it took in *ms. */
static int fetch(struct server *s, const struct http_opts *o, const char *const *headers, struct http_response *resp,
		 struct fs_error *e, double *ms)
{
	struct http_client *c = NULL;
	char url[64];
	double t0 = util_now_ms();
	int rc;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/x", s->port);
	CHECK_INT(http_client_new(&c, e), 0);
	if (!c)
		return -100;
	rc = http_request(c, "POST", url, headers, "{}", 2, o, resp, e);
	if (ms)
		*ms = util_now_ms() - t0;
	http_client_free(c);
	return rc;
}

static void http_retries_5xx_then_succeeds(void)
{
	static const struct reply script[] = { { 500, NULL, "a", 0, 0 }, { 503, NULL, "b", 0, 0 },
					       { 200, NULL, "done", 0, 0 } };
	struct http_opts o = { .timeout_ms = 2000, .max_retries = 3, .backoff_ms = 10 };
	struct http_response r;
	struct fs_error e;
	struct server s;
	http_response_init(&r);
	if (server_start(&s, script, NREPLIES(script)) < 0)
		return;
	CHECK_INT(fetch(&s, &o, NULL, &r, &e, NULL), 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.attempts, 3);
	CHECK_STR(buf_str(&r.body), "done");
	http_response_release(&r);
	server_stop(&s);
}

static void http_retries_run_out_and_4xx_is_final(void)
{
	static const struct reply script[] = { { 502, NULL, "x", 0, 0 }, { 502, NULL, "y", 0, 0 },
					       { 404, NULL, "{\"error\":\"nope\"}", 0, 0 } };
	struct http_opts o = { .timeout_ms = 2000, .max_retries = 1, .backoff_ms = 10 };
	struct http_response r;
	struct fs_error e;
	struct server s;
	http_response_init(&r);
	if (server_start(&s, script, NREPLIES(script)) < 0)
		return;
	CHECK_INT(fetch(&s, &o, NULL, &r, &e, NULL), 0);
	CHECK_INT(r.status, 502);
	CHECK_INT(r.attempts, 2);
	CHECK_STR(buf_str(&r.body), "y");
	o.max_retries = 5;
	CHECK_INT(fetch(&s, &o, NULL, &r, &e, NULL), 0); /* 404: no retry */
	CHECK_INT(r.status, 404);
	CHECK_INT(r.attempts, 1);
	CHECK_STR(buf_str(&r.body), "{\"error\":\"nope\"}");
	http_response_release(&r);
	server_stop(&s);
}

static void http_keeps_the_connection(void)
{
	static const struct reply script[] = { { 200, NULL, NULL, 0, 0 }, { 200, NULL, NULL, 0, 0 } };
	struct http_opts o = { .timeout_ms = 2000 };
	struct http_client *c = NULL;
	struct http_response r;
	struct fs_error e;
	struct server s;
	char url[64];
	http_response_init(&r);
	if (server_start(&s, script, NREPLIES(script)) < 0)
		return;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	CHECK_INT(http_client_new(&c, &e), 0);
	CHECK_INT(http_request(c, "GET", url, NULL, NULL, 0, &o, &r, &e), 0);
	CHECK_STR(buf_str(&r.body), "conn=1");
	CHECK_INT(http_request(c, "POST", url, NULL, "{}", 2, &o, &r, &e), 0);
	CHECK_STR(buf_str(&r.body), "conn=1");
	http_client_free(c);
	http_response_release(&r);
	server_stop(&s);
}

static void http_honours_retry_after_under_the_cap(void)
{
	static const struct reply script[] = { { 429, "Retry-After: 1\r\n", "slow down", 0, 0 },
					       { 200, NULL, "ok", 0, 0 },
					       { 503, "Retry-After: 30\r\n", "later", 0, 0 },
					       { 200, NULL, "ok", 0, 0 } };
	struct http_opts o = { .timeout_ms = 2000, .max_retries = 1, .backoff_ms = 10, .max_backoff_ms = 5000 };
	struct http_response r;
	struct fs_error e;
	struct server s;
	double ms = 0;
	http_response_init(&r);
	if (server_start(&s, script, NREPLIES(script)) < 0)
		return;
	CHECK_INT(fetch(&s, &o, NULL, &r, &e, &ms), 0);
	CHECK_INT(r.status, 200);
	CHECK(ms >= 950 && ms < 3000);
	if (!(ms >= 950 && ms < 3000))
		printf("    Retry-After: 1 took %.0f ms\n", ms);
	o.max_backoff_ms = 300; /* Retry-After: 30 is cut to this */
	CHECK_INT(fetch(&s, &o, NULL, &r, &e, &ms), 0);
	CHECK_INT(r.status, 200);
	CHECK(ms >= 280 && ms < 1500);
	if (!(ms >= 280 && ms < 1500))
		printf("    Retry-After: 30 under a 300 ms cap took %.0f ms\n", ms);
	http_response_release(&r);
	server_stop(&s);
}

static void http_caps_the_body(void)
{
	static const struct reply script[] = { { 200, NULL, "0123456789012345678901234567890123456789", 0, 0 } };
	struct http_opts o = { .timeout_ms = 2000, .max_retries = 3, .max_body = 16 };
	struct http_response r;
	struct fs_error e;
	struct server s;
	http_response_init(&r);
	if (server_start(&s, script, NREPLIES(script)) < 0)
		return;
	CHECK_INT(fetch(&s, &o, NULL, &r, &e, NULL), FS_EUNAVAIL);
	CHECK_CONTAINS(e.msg, "larger than 16 bytes");
	CHECK_INT(r.attempts, 1);
	http_response_release(&r);
	server_stop(&s);
}

static void http_refused_names_host_not_secrets(void)
{
	const char *headers[] = { "Authorization: Bearer sk-very-secret", NULL };
	struct http_opts o = { .timeout_ms = 2000, .max_retries = 2, .backoff_ms = 5 };
	struct server s = { .pid = 0, .port = dead_port() };
	struct http_response r;
	struct fs_error e;
	char host[32];
	snprintf(s.log, sizeof(s.log), "/nonexistent");
	snprintf(host, sizeof(host), "127.0.0.1:%d", s.port);
	http_response_init(&r);
	CHECK_INT(fetch(&s, &o, headers, &r, &e, NULL), FS_EUNAVAIL);
	CHECK_CONTAINS(e.msg, host);
	CHECK_CONTAINS(e.msg, "after 3 attempts");
	CHECK_CONTAINS(e.msg, "Connection refused");
	CHECK(!strstr(e.msg, "secret") && !strstr(e.msg, "/v1/x"));
	CHECK_INT(r.status, 0);
	CHECK_INT(r.attempts, 3);
	http_response_release(&r);
}

static void http_times_out(void)
{
	static const struct reply script[] = { { 200, NULL, "late", 1500, 0 } };
	struct http_opts o = { .timeout_ms = 200, .max_retries = 0 };
	struct http_response r;
	struct fs_error e;
	struct server s;
	double ms = 0;
	http_response_init(&r);
	if (server_start(&s, script, NREPLIES(script)) < 0)
		return;
	CHECK_INT(fetch(&s, &o, NULL, &r, &e, &ms), FS_EUNAVAIL);
	CHECK_CONTAINS(e.msg, "Timeout");
	CHECK(ms < 1000);
	http_response_release(&r);
	server_stop(&s);
}

static void http_bad_url(void)
{
	struct http_client *c = NULL;
	struct http_response r;
	struct fs_error e;
	char host[64];
	http_response_init(&r);
	CHECK_INT(http_client_new(&c, &e), 0);
	CHECK_INT(http_request(c, "GET", "gopher://127.0.0.1/", NULL, NULL, 0, NULL, &r, &e), FS_EINVAL);
	http_client_free(c);
	http_response_release(&r);
	http_url_host("http://user:pw@example.com:8080/v1?key=1", host, sizeof(host));
	CHECK_STR(host, "example.com:8080");
	http_url_host("https://api.example.com/v1", host, sizeof(host));
	CHECK_STR(host, "api.example.com");
}

struct sink {
	struct buf got;
	int stop_after; /* pieces; 0 = never */
	int pieces;
};

static int collect(void *arg, const char *data, size_t len)
{
	struct sink *k = arg;
	buf_add(&k->got, data, len);
	k->pieces++;
	return k->stop_after && k->pieces >= k->stop_after ? FS_EINVAL : 0;
}

static void http_stream_cases(void)
{
	static const struct reply script[] = {
		{ 503, NULL, "busy", 0, 0 },
		{ 200, NULL, "data: one\n\ndata: two\n\n", 0, 0 }, /* retried: nothing was delivered yet */
		{ 200, NULL, "data: partial answer that is cut off", 0, 10 },
		{ 200, NULL, "data: x\n\n", 0, 0 },
	};
	struct http_opts o = { .timeout_ms = 2000, .max_retries = 3, .backoff_ms = 5 };
	struct http_client *c = NULL;
	struct http_response r;
	struct fs_error e;
	struct server s;
	struct sink k = { .stop_after = 0 };
	char url[64];
	buf_init(&k.got, BUF_NO_LIMIT);
	http_response_init(&r);
	if (server_start(&s, script, NREPLIES(script)) < 0)
		return;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/chat", s.port);
	CHECK_INT(http_client_new(&c, &e), 0);
	CHECK_INT(http_request_stream(c, "POST", url, NULL, "{}", 2, &o, collect, &k, &r, &e), 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.attempts, 2);
	CHECK_STR(buf_str(&k.got), "data: one\n\ndata: two\n\n");
	CHECK_INT(r.body.len, 0);

	buf_reset(&k.got);
	CHECK_INT(http_request_stream(c, "POST", url, NULL, "{}", 2, &o, collect, &k, &r, &e), FS_EUNAVAIL);
	CHECK_CONTAINS(e.msg, "cut off");
	CHECK_INT(r.attempts, 1); /* bytes went out: never again */
	CHECK_STR(buf_str(&k.got), "data: part");

	buf_reset(&k.got);
	k.stop_after = 1;
	CHECK_INT(http_request_stream(c, "POST", url, NULL, "{}", 2, &o, collect, &k, &r, &e), FS_EINVAL);
	CHECK_INT(r.attempts, 1);
	http_client_free(c);
	http_response_release(&r);
	buf_release(&k.got);
	server_stop(&s);
}

/* --- the openai embedder ------------------------------------------------------------------------------------ */

static struct embedder *open_openai(struct config *cfg, const struct server *s, const char *extra, int want_rc,
				    struct fs_error *e)
{
	struct embedder *em = NULL;
	struct buf text;
	buf_init(&text, BUF_NO_LIMIT);
	buf_addf(&text, "[embedder]\nbackend = openai\nurl = http://127.0.0.1:%d/v1/\nmodel = test-model\n"
			"timeout_ms = 2000\nmax_retries = 1\n%s",
		 s->port, extra);
	config_init(cfg);
	CHECK_INT(config_parse(cfg, "test.conf", buf_str(&text), e), 0);
	CHECK_INT(embedder_new(cfg, &em, e), want_rc);
	buf_release(&text);
	return em;
}

static int near(float a, float b)
{
	return a - b < 1e-6f && b - a < 1e-6f;
}

static void embed_openai_orders_normalises_and_skips_blanks(void)
{
	static const struct reply script[] = {
		{ 200, NULL,
		  "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":1,\"embedding\":[0,3,4]},"
		  "{\"index\":0,\"embedding\":[2,0,0]}],\"model\":\"m\","
		  "\"usage\":{\"prompt_tokens\":7,\"total_tokens\":7}}",
		  0, 0 },
		{ 200, NULL, "{\"data\":[{\"index\":0,\"embedding\":[0,0,-5]}]}", 0, 0 },
	};
	const char *texts[4] = { "first", " \n ", "second text", "third, with\xff a bad byte" };
	struct config cfg;
	struct fs_error e;
	struct server s;
	struct embedder *em;
	float v[12];
	long long tokens = 0;
	char *log;
	if (server_start(&s, script, NREPLIES(script)) < 0)
		return;
	em = open_openai(&cfg, &s, "dimensions = 3\nbatch_size = 2\napi_key = sk-unit\n", 0, &e);
	if (em) {
		CHECK_STR(em->model, "openai:test-model");
		CHECK_INT(em->dims, 3);
		CHECK_INT(embedder_embed(em, texts, 4, v, &tokens, &e), 0);
		CHECK(near(v[0], 1) && near(v[1], 0) && near(v[2], 0));       /* index 0 came second */
		CHECK(near(v[3], 0) && near(v[4], 0) && near(v[5], 0));       /* blank: zero, not sent */
		CHECK(near(v[6], 0) && near(v[7], 0.6f) && near(v[8], 0.8f)); /* normalised */
		CHECK(near(v[9], 0) && near(v[10], 0) && near(v[11], -1));
		CHECK_INT(tokens, 7 + tokens_count(texts[3])); /* usage, else our own count */
	}
	log = server_log(&s);
	CHECK_INT(count_of(log, "POST /v1/embeddings HTTP/1.1"), 2);
	CHECK_CONTAINS(log, "{\"model\":\"test-model\",\"input\":[\"first\",\"second text\"],"
			    "\"encoding_format\":\"float\",\"dimensions\":3}");
	CHECK_CONTAINS(log, "\"input\":[\"third, with\xef\xbf\xbd a bad byte\"]");
	CHECK_CONTAINS(log, "Authorization: Bearer sk-unit\r\n");
	CHECK_CONTAINS(log, "Content-Type: application/json\r\n");
	free(log);
	embedder_free(em);
	config_release(&cfg);
	server_stop(&s);
}

static void embed_openai_probes_dimensions(void)
{
	static const struct reply script[] = {
		{ 200, NULL, "{\"data\":[{\"index\":0,\"embedding\":[1,1,1,1]}]}", 0, 0 },
		{ 200, NULL, "{\"data\":[{\"index\":0,\"embedding\":[1,1,1,1,1]}]}", 0, 0 },
	};
	const char *texts[1] = { "hello" };
	struct config cfg;
	struct fs_error e;
	struct server s;
	struct embedder *em;
	float v[5];
	char *log;
	if (server_start(&s, script, NREPLIES(script)) < 0)
		return;
	em = open_openai(&cfg, &s, "", 0, &e);
	if (em) {
		CHECK_INT(em->dims, 4);
		CHECK_INT(embedder_embed(em, texts, 1, v, NULL, &e), FS_EUNAVAIL);
		CHECK_STR(e.msg, "embedder returned 5 dimensions, expected 4");
	}
	log = server_log(&s);
	CHECK_CONTAINS(log, "\"input\":[\"dimension probe\"],\"encoding_format\":\"float\"}");
	CHECK(!strstr(log, "Authorization"));
	CHECK(!strstr(log, "dimensions"));
	free(log);
	embedder_free(em);
	config_release(&cfg);
	server_stop(&s);

	/* Nobody answers: open fails. */
	s.port = dead_port();
	em = open_openai(&cfg, &s, "max_retries = 0\n", FS_EUNAVAIL, &e);
	CHECK(em == NULL);
	CHECK_CONTAINS(e.msg, "embedder upstream unavailable: no answer from 127.0.0.1:");
	config_release(&cfg);
}

#define ITEM(i, emb) "{\"index\":" #i ",\"embedding\":" emb "}"
#define DATA(items) "{\"data\":[" items "]}"

static void embed_openai_rejects_bad_answers(void)
{
	static const struct {
		struct reply r;
		const char *msg;
	} cases[] = {
		{ { 200, NULL, DATA(ITEM(0, "[1,2]")), 0, 0 },
		  "embedder upstream sent 1 vectors for 2 texts" },
		{ { 200, NULL, DATA(ITEM(0, "[1,2]") "," ITEM(0, "[1,2]")), 0, 0 },
		  "embedder upstream sent index 0 twice" },
		{ { 200, NULL, DATA(ITEM(0, "[1,2]") "," ITEM(2, "[1,2]")), 0, 0 },
		  "embedder upstream sent an index outside 0..1" },
		{ { 200, NULL, DATA(ITEM(0, "[1,2]") "," ITEM(1, "[1,2,3]")), 0, 0 },
		  "embedder returned 3 dimensions, expected 2" },
		{ { 200, NULL, DATA(ITEM(0, "[1,2]") "," ITEM(1, "[1,1e39]")), 0, 0 },
		  "embedder upstream sent a vector with a value that is not a finite number" },
		{ { 200, NULL, DATA(ITEM(0, "\"AAAA\"") "," ITEM(1, "[1,2]")), 0, 0 },
		  "embedder upstream sent an item without an \"embedding\" array" },
		{ { 200, NULL, "{\"object\":\"list\"}", 0, 0 },
		  "embedder upstream sent an answer without a \"data\" array" },
		{ { 200, NULL, "{\"data\":[{\"index\":0,\"embe", 0, 0 }, "embedder upstream sent malformed JSON" },
		{ { 200, NULL, "<html>Bad gateway</html>", 0, 0 }, "embedder upstream sent malformed JSON" },
		{ { 401, NULL, "{\"error\":{\"message\":\"Incorrect API key provided: sk-unit-secret.\"}}", 0, 0 },
		  "refused the request (HTTP 401): Incorrect API key provided: [redacted]." },
		{ { 400, NULL, "{\"error\":\"model 'test-model' not found\"}", 0, 0 },
		  "refused the request (HTTP 400): model 'test-model' not found" },
		{ { 500, NULL, "{\"error\":{\"message\":\"boom\"}}", 0, 0 },
		  "answered HTTP 500 after 2 attempts: boom" },
	};
	const char *texts[2] = { "a", "b" };
	struct reply script[sizeof(cases) / sizeof(cases[0]) + 1];
	size_t n = 0;
	struct config cfg;
	struct fs_error e;
	struct server s;
	struct embedder *em;
	float v[4];
	for (size_t i = 0; i < NREPLIES(cases); i++) {
		script[n++] = cases[i].r;
		if (cases[i].r.status >= 500) /* max_retries = 1: the retry gets the same */
			script[n++] = cases[i].r;
	}
	if (server_start(&s, script, n) < 0)
		return;
	em = open_openai(&cfg, &s, "dimensions = 2\napi_key = sk-unit-secret\n", 0, &e);
	for (size_t i = 0; em && i < NREPLIES(cases); i++) {
		fs_error_clear(&e);
		CHECK_INT(embedder_embed(em, texts, 2, v, NULL, &e), FS_EUNAVAIL);
		CHECK_CONTAINS(e.msg, cases[i].msg);
		CHECK(!strstr(e.msg, "sk-unit-secret"));
	}
	embedder_free(em);
	config_release(&cfg);
	server_stop(&s);
}

static void embed_openai_configuration(void)
{
	struct config cfg;
	struct embedder *em = NULL;
	struct fs_error e;
	struct server s = { .port = 9 };
	config_init(&cfg);
	CHECK_INT(config_parse(&cfg, "t.conf", "[embedder]\nbackend = openai\nurl = http://127.0.0.1:9/v1\n", &e), 0);
	CHECK_INT(embedder_new(&cfg, &em, &e), FS_EINVAL);
	CHECK_STR(e.msg, "[embedder] backend = openai needs url and model");
	config_release(&cfg);
	config_init(&cfg);
	CHECK_INT(config_parse(&cfg, "t.conf", "[embedder]\nbackend = openai\nurl = localhost:11434\nmodel = m\n", &e),
		  0);
	CHECK_INT(embedder_new(&cfg, &em, &e), FS_EINVAL);
	CHECK_STR(e.msg, "[embedder] url must start with http:// or https://");
	config_release(&cfg);
	/* The recorded model name is printable ASCII and fits. */
	em = open_openai(&cfg, &s,
			 "dimensions = 8\n"
			 "model = a-very-long-model-name-\xc3\xa9-that-goes-on-and-on-and-on-past-the-column\n",
			 0, &e);
	if (em) {
		CHECK_INT(strlen(em->model), 63);
		CHECK(!strncmp(em->model, "openai:a-very-long-model-name-__-that", 37));
	}
	embedder_free(em);
	config_release(&cfg);
}

const struct test_case http_cases[] = {
	{ "http_retries_5xx_then_succeeds", http_retries_5xx_then_succeeds },
	{ "http_retries_run_out_and_4xx_is_final", http_retries_run_out_and_4xx_is_final },
	{ "http_keeps_the_connection", http_keeps_the_connection },
	{ "http_honours_retry_after_under_the_cap", http_honours_retry_after_under_the_cap },
	{ "http_caps_the_body", http_caps_the_body },
	{ "http_refused_names_host_not_secrets", http_refused_names_host_not_secrets },
	{ "http_times_out", http_times_out },
	{ "http_bad_url", http_bad_url },
	{ "http_stream_cases", http_stream_cases },
	{ "embed_openai_orders_normalises_and_skips_blanks", embed_openai_orders_normalises_and_skips_blanks },
	{ "embed_openai_probes_dimensions", embed_openai_probes_dimensions },
	{ "embed_openai_rejects_bad_answers", embed_openai_rejects_bad_answers },
	{ "embed_openai_configuration", embed_openai_configuration },
	{ NULL, NULL },
};
