/* The openai answerer against the OpenAI-compatible stand-in (test/standins/openai_standin.py, started once on
 * first use and stopped at exit): the request it sends, plain and streamed answers, NO_ANSWER held back from the
 * stream, tokens, the stream framings real servers use, and every failure ending quickly in FS_EUNAVAIL with a
 * message that names the upstream and never the API key. */
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "answer/answer.h"
#include "check.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/http.h"
#include "core/util.h"
#include "embed/embed.h"
#include "text/tokens.h"

#define STANDIN "test/standins/openai_standin.py"
#define PYTHON "/usr/bin/python3"
#define API_KEY "sk-wrong-0123456789abcdef"
#define CHAT_PATH "/v1/chat/completions"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static struct {
	pid_t pid;
	int port;
	struct http_client *http; /* for the control routes */
} standin;

static void standin_stop(void)
{
	if (standin.pid > 0) {
		kill(standin.pid, SIGKILL);
		waitpid(standin.pid, NULL, 0);
		standin.pid = 0;
	}
	http_client_free(standin.http);
	standin.http = NULL;
}

/* One call to the stand-in's own routes; the answer's body (free() it), or NULL when the status is not 200. */
static char *standin_call(const char *method, const char *path, const char *body)
{
	const char *headers[] = { "Content-Type: application/json", NULL };
	struct http_opts o = { .timeout_ms = 5000 };
	struct http_response r;
	struct fs_error e;
	char url[128];
	char *out = NULL;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", standin.port, path);
	http_response_init(&r);
	if (http_request(standin.http, method, url, headers, body, body ? strlen(body) : 0, &o, &r, &e) == 0 &&
	    r.status == 200)
		out = buf_take(&r.body, NULL);
	else
		printf("    stand-in %s %s failed (HTTP %ld): %s\n", method, path, r.status, buf_str(&r.body));
	http_response_release(&r);
	return out;
}

/* Starts the stand-in once (it dies with this process, and at exit), then clears its faults and log; 0 or -1. */
static int standin_ready(void)
{
	struct fs_error e;
	char line[32] = "";
	size_t n = 0;
	int fds[2];
	char *ok;

	if (standin.pid <= 0) {
		if (access(STANDIN, R_OK) != 0) {
			printf("    %s not found: run the unit tests from the repository's root\n", STANDIN);
			check_failed = 1;
			return -1;
		}
		if (pipe(fds) < 0 || http_client_new(&standin.http, &e) < 0) {
			printf("    cannot start the stand-in: %s\n", strerror(errno));
			check_failed = 1;
			return -1;
		}
		fflush(stdout);
		standin.pid = fork();
		if (standin.pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			dup2(fds[1], 1);
			close(fds[0]);
			close(fds[1]);
			execl(PYTHON, PYTHON, STANDIN, (char *)NULL);
			_exit(127);
		}
		close(fds[1]);
		atexit(standin_stop);
		/* Its first line is its port. */
		while (n < sizeof(line) - 1) {
			struct pollfd p = { .fd = fds[0], .events = POLLIN };
			if (poll(&p, 1, 10000) <= 0 || read(fds[0], line + n, 1) != 1)
				break;
			if (line[n] == '\n')
				break;
			n++;
		}
		line[n] = '\0';
		close(fds[0]);
		standin.port = atoi(line);
		if (standin.pid < 0 || standin.port <= 0) {
			printf("    the stand-in did not say its port (got \"%s\")\n", line);
			check_failed = 1;
			standin_stop();
			return -1;
		}
	}
	ok = standin_call("POST", "/_reset", "{}");
	free(ok);
	if (!ok) {
		check_failed = 1;
		return -1;
	}
	return 0;
}

static void control(const char *json)
{
	char *ok = standin_call("POST", "/_control", json);
	CHECK(ok != NULL);
	free(ok);
}

/* The chat requests the stand-in got, oldest first (a new reference), or NULL. */
static json_t *chat_requests(void)
{
	char *text = standin_call("GET", "/_log", NULL);
	json_t *root = text ? json_loads(text, 0, NULL) : NULL, *all = json_object_get(root, "requests"), *out;
	size_t i;
	json_t *r;

	free(text);
	out = json_array();
	json_array_foreach(all, i, r)
		if (json_is_string(json_object_get(r, "path")) &&
		    !strcmp(json_string_value(json_object_get(r, "path")), CHAT_PATH))
			json_array_append(out, r);
	json_decref(root);
	return out;
}

/* The string member name of obj; "" when it is absent or not a string. */
static const char *str_at(json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);
	return json_is_string(v) ? json_string_value(v) : "";
}

struct run {
	struct config cfg;
	struct answerer *a;
	struct answer_output out;
	struct buf deltas;  /* every delta, concatenated */
	int ndeltas;
	int stop_at;        /* > 0: the delta callback answers 7 on this delta */
	struct fs_error e;
	double ms;          /* how long the answer took */
	int rc;
};

static int on_delta(void *arg, const char *text, size_t len)
{
	struct run *r = arg;
	CHECK(len > 0);
	buf_add(&r->deltas, text, len);
	r->ndeltas++;
	return r->stop_at && r->ndeltas == r->stop_at ? 7 : 0;
}

/* Opens the openai answerer on the stand-in with [answerer] model = cfg-model, timeout_ms = 3000,
 * max_retries = 2, then settings (more [answerer] lines, later ones winning); 0 or -1. */
static int run_open(struct run *r, const char *settings)
{
	char base[256];

	memset(r, 0, sizeof(*r));
	buf_init(&r->deltas, BUF_NO_LIMIT);
	answer_output_init(&r->out);
	config_init(&r->cfg);
	snprintf(base, sizeof(base),
		 "[answerer]\nbackend = openai\nurl = http://127.0.0.1:%d/v1/\nmodel = cfg-model\n"
		 "timeout_ms = 3000\nmax_retries = 2\n",
		 standin.port);
	CHECK_INT(config_parse(&r->cfg, "test.conf", base, &r->e), 0);
	if (settings)
		CHECK_INT(config_parse(&r->cfg, "test.conf", settings, &r->e), 0);
	CHECK_INT(answerer_new(&r->cfg, "openai", &r->a, &r->e), 0);
	return r->a ? 0 : -1;
}

static void run_answer(struct run *r, const struct answer_input *in, int stream)
{
	double t0 = util_now_ms();
	answer_output_release(&r->out);
	answer_output_init(&r->out);
	buf_reset(&r->deltas);
	r->ndeltas = 0;
	fs_error_clear(&r->e);
	r->rc = answerer_answer(r->a, in, stream ? on_delta : NULL, r, &r->out, &r->e);
	r->ms = util_now_ms() - t0;
}

static void run_close(struct run *r)
{
	answerer_free(r->a);
	answer_output_release(&r->out);
	buf_release(&r->deltas);
	config_release(&r->cfg);
}

static void style_init(struct answer_style *ag)
{
	memset(ag, 0, sizeof(*ag));
	ag->system_prompt = "You are the Acme support bot.";
	ag->temperature = 0.2;
	ag->max_tokens = 300;
}

/* A question with two sources and two earlier turns. */
static struct answer_turn history[] = { { "user", "Do you ship abroad?" }, { "assistant", "Yes, to the EU." } };
static struct search_result sources[2];

static void input_init(struct answer_input *in, const struct answer_style *ag, const char *question)
{
	memset(sources, 0, sizeof(sources));
	sources[0].text = "Returns are accepted within 30 days.";
	sources[0].filename = "returns.pdf";
	sources[1].text = "Refunds go to the original card.";
	sources[1].filename = "refunds.txt";
	memset(in, 0, sizeof(*in));
	in->style = *ag;
	in->question = question;
	in->history = history;
	in->nhistory = 2;
	in->sources = sources;
	in->nsources = 2;
	in->use_rag = 1;
}

/* Every answer test's start: the stand-in up, a run on settings (NULL: none beyond the stand-in's url), the
 * style_init style and an input_init input asking question. -1 (the failure recorded) when the stand-in is not
 * there. */
static int begin(struct run *r, const char *settings, struct answer_style *ag, struct answer_input *in,
		 const char *question)
{
	if (standin_ready() < 0 || run_open(r, settings) < 0)
		return -1;
	style_init(ag);
	input_init(in, ag, question);
	return 0;
}

/* The host:port the messages must name. */
static void host_of(char *out, size_t size)
{
	snprintf(out, size, "127.0.0.1:%d", standin.port);
}

static void answer_openai_open_needs_url(void)
{
	struct config cfg;
	struct answerer *a = (struct answerer *)&cfg;
	struct fs_error e;

	config_init(&cfg);
	CHECK_INT(answerer_new(&cfg, "openai", &a, &e), FS_EINVAL);
	CHECK_CONTAINS(e.msg, "[answerer] url");
	CHECK(a == NULL);
	CHECK_INT(config_parse(&cfg, "test.conf", "[answerer]\nurl = ftp://example.com/v1\n", &e), 0);
	CHECK_INT(answerer_new(&cfg, "openai", &a, &e), FS_EINVAL);
	CHECK_CONTAINS(e.msg, "[answerer] url");
	CHECK_INT(config_parse(&cfg, "test.conf", "[answerer]\nurl = http://127.0.0.1:9/v1\n", &e), 0);
	CHECK_INT(answerer_new(&cfg, "openai", &a, &e), 0);
	CHECK(a != NULL && a->ops == &answer_openai_ops);
	answerer_free(a);
	config_release(&cfg);
}

static void answer_openai_request_shape(void)
{
	struct answer_style ag;
	struct answer_input in;
	struct run r;
	json_t *reqs, *req, *body, *msgs, *usage;
	const char *sys;

	if (begin(&r, "[answerer]\napi_key = sk-test-key\n", &ag, &in, "How long do I have to return an item?") < 0)
		return;
	in.style.model = "agent-model";
	run_answer(&r, &in, 0);
	CHECK_INT(r.rc, 0);
	CHECK_STR(buf_str(&r.out.text), "Echo: How long do I have to return an item?");
	CHECK_INT(r.out.cannot_answer, 0);
	CHECK_INT(r.ndeltas, 0);

	reqs = chat_requests();
	CHECK_INT(json_array_size(reqs), 1);
	req = json_array_get(reqs, 0);
	body = json_object_get(req, "body");
	CHECK_STR(str_at(json_object_get(req, "headers"), "Authorization"), "Bearer sk-test-key");
	CHECK_STR(str_at(body, "model"), "agent-model");
	CHECK(json_real_value(json_object_get(body, "temperature")) == 0.2);
	CHECK_INT(json_integer_value(json_object_get(body, "max_tokens")), 300);
	CHECK(json_is_false(json_object_get(body, "stream")));
	CHECK(json_object_get(body, "stream_options") == NULL);
	msgs = json_object_get(body, "messages");
	CHECK_INT(json_array_size(msgs), 4);
	CHECK_STR(str_at(json_array_get(msgs, 0), "role"), "system");
	sys = str_at(json_array_get(msgs, 0), "content");
	CHECK(!strncmp(sys, "You are the Acme support bot.", 29));
	CHECK_CONTAINS(sys, "[1] (returns.pdf) Returns are accepted within 30 days.");
	CHECK_CONTAINS(sys, "[2] (refunds.txt) Refunds go to the original card.");
	CHECK(strstr(sys, "[1]") < strstr(sys, "[2]"));
	CHECK_CONTAINS(sys, "reply with exactly NO_ANSWER");
	CHECK_STR(str_at(json_array_get(msgs, 1), "role"), "user");
	CHECK_STR(str_at(json_array_get(msgs, 1), "content"), "Do you ship abroad?");
	CHECK_STR(str_at(json_array_get(msgs, 2), "role"), "assistant");
	CHECK_STR(str_at(json_array_get(msgs, 2), "content"), "Yes, to the EU.");
	CHECK_STR(str_at(json_array_get(msgs, 3), "role"), "user");
	CHECK_STR(str_at(json_array_get(msgs, 3), "content"), "How long do I have to return an item?");

	/* The upstream's usage is what gets charged. */
	usage = json_object_get(req, "usage");
	CHECK_INT(r.out.tokens_from_upstream, 1);
	CHECK_INT(r.out.tokens_prompt, json_integer_value(json_object_get(usage, "prompt_tokens")));
	CHECK_INT(r.out.tokens_completion, json_integer_value(json_object_get(usage, "completion_tokens")));
	CHECK(r.out.tokens_prompt > 20);
	json_decref(reqs);
	run_close(&r);
}

static void answer_openai_without_rag(void)
{
	struct answer_style ag;
	struct answer_input in;
	struct run r;
	json_t *reqs, *msgs, *body;

	if (begin(&r, NULL, &ag, &in, "Hello there") < 0)
		return;
	in.use_rag = 0;
	in.sources = NULL;
	in.nsources = 0;
	run_answer(&r, &in, 0);
	CHECK_INT(r.rc, 0);
	CHECK_STR(buf_str(&r.out.text), "Echo: Hello there");
	reqs = chat_requests();
	body = json_object_get(json_array_get(reqs, 0), "body");
	CHECK_STR(str_at(body, "model"), "cfg-model"); /* the agent names none */
	CHECK(json_object_get(json_object_get(json_array_get(reqs, 0), "headers"), "Authorization") == NULL);
	msgs = json_object_get(body, "messages");
	CHECK_INT(json_array_size(msgs), 4);
	CHECK_STR(str_at(json_array_get(msgs, 0), "content"), "You are the Acme support bot.");
	CHECK_STR(str_at(json_array_get(msgs, 3), "content"), "Hello there");
	json_decref(reqs);

	/* Without any history either: system prompt and question. */
	in.nhistory = 0;
	run_answer(&r, &in, 0);
	CHECK_INT(r.rc, 0);
	reqs = chat_requests();
	msgs = json_object_get(json_object_get(json_array_get(reqs, 1), "body"), "messages");
	CHECK_INT(json_array_size(msgs), 2);
	CHECK_STR(str_at(json_array_get(msgs, 1), "role"), "user");
	json_decref(reqs);
	run_close(&r);
}

static void answer_openai_needs_a_model(void)
{
	struct answer_style ag;
	struct answer_input in;
	struct run r;
	json_t *reqs;

	if (begin(&r, "[answerer]\nmodel =\n", &ag, &in, "Anyone there?") < 0)
		return;
	run_answer(&r, &in, 1);
	CHECK_INT(r.rc, FS_EUNAVAIL);
	CHECK_CONTAINS(r.e.msg, "[answerer] model");
	CHECK_INT(r.ndeltas, 0);
	reqs = chat_requests();
	CHECK_INT(json_array_size(reqs), 0);
	json_decref(reqs);
	run_close(&r);
}

static void answer_openai_streams(void)
{
	struct answer_style ag;
	struct answer_input in;
	struct run r;
	json_t *reqs, *body, *usage;

	if (begin(&r, NULL, &ag, &in, "Where is my parcel today?") < 0)
		return;
	run_answer(&r, &in, 1);
	CHECK_INT(r.rc, 0);
	CHECK_STR(buf_str(&r.out.text), "Echo: Where is my parcel today?");
	CHECK_STR(buf_str(&r.deltas), buf_str(&r.out.text));
	CHECK_INT(r.ndeltas, 6); /* one per word, as the stand-in sends them */
	CHECK_INT(r.out.cannot_answer, 0);
	reqs = chat_requests();
	body = json_object_get(json_array_get(reqs, 0), "body");
	CHECK(json_is_true(json_object_get(body, "stream")));
	CHECK(json_is_true(json_object_get(json_object_get(body, "stream_options"), "include_usage")));
	CHECK_STR(str_at(json_object_get(json_array_get(reqs, 0), "headers"), "Accept"), "text/event-stream");
	usage = json_object_get(json_array_get(reqs, 0), "usage");
	CHECK_INT(r.out.tokens_from_upstream, 1);
	CHECK_INT(r.out.tokens_prompt, json_integer_value(json_object_get(usage, "prompt_tokens")));
	CHECK_INT(r.out.tokens_completion, json_integer_value(json_object_get(usage, "completion_tokens")));
	json_decref(reqs);
	run_close(&r);
}

/* Without usage the built-in tokenizer prices every message sent and the answer. */
static void answer_openai_counts_tokens_without_usage(void)
{
	struct answer_style ag;
	struct answer_input in;
	struct run r;

	if (standin_ready() < 0 || run_open(&r, NULL) < 0)
		return;
	control("{\"no_usage\": true}");
	for (int stream = 0; stream <= 1; stream++) {
		json_t *reqs, *msgs, *m;
		long long want = 0;
		size_t i;

		style_init(&ag);
		input_init(&in, &ag, "What about refunds?");
		run_answer(&r, &in, stream);
		CHECK_INT(r.rc, 0);
		reqs = chat_requests();
		msgs = json_object_get(json_object_get(json_array_get(reqs, stream), "body"), "messages");
		CHECK_INT(json_array_size(msgs), 4);
		json_array_foreach(msgs, i, m)
			want += tokens_count(str_at(m, "content"));
		CHECK_INT(r.out.tokens_from_upstream, 0);
		CHECK_INT(r.out.tokens_prompt, want);
		CHECK_INT(r.out.tokens_completion, tokens_count("Echo: What about refunds?"));
		json_decref(reqs);
	}
	run_close(&r);
}

/* NO_ANSWER (after spaces, in pieces) is never streamed and becomes cannot_answer; text that only starts like
 * it is held back until it cannot be, then goes out whole. */
static void answer_openai_no_answer(void)
{
	static const struct {
		const char *pieces; /* reply_pieces, as JSON */
		int cannot_answer;
	} cases[] = {
		{ "[\"NO_ANSWER\"]", 1 },
		{ "[\"  \", \"\\nNO_\", \"ANS\", \"WER.\"]", 1 },
		{ "[\"NO_ANSWER - the context does not say.\"]", 1 },
		{ "[\" \", \"  \"]", 1 },
		{ "[\"NO\", \"_\", \"ANSWERING machine is needed.\"]", 1 },
		{ "[\"N\", \"O\", \"pe, we do not ship there.\"]", 0 },
		{ "[\"NO\"]", 0 },
		{ "[\" NO_ANSWE\"]", 0 },
		{ "[\"No\", \"t yet.\"]", 0 },
		{ "[\"Yes\", \" NO_ANSWER\"]", 0 },
	};
	struct answer_style ag;
	struct answer_input in;
	struct run r;
	char ctl[256];

	if (begin(&r, NULL, &ag, &in, "Do you ship to Mars?") < 0)
		return;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *p = json_loads(cases[i].pieces, 0, NULL);
		struct buf whole;
		size_t k;
		json_t *v;

		buf_init(&whole, BUF_NO_LIMIT);
		json_array_foreach(p, k, v)
			buf_adds(&whole, json_string_value(v));
		snprintf(ctl, sizeof(ctl), "{\"reply_pieces\": %s}", cases[i].pieces);
		control(ctl);
		for (int stream = 0; stream <= 1; stream++) {
			run_answer(&r, &in, stream);
			CHECK_INT(r.rc, 0);
			CHECK_STR(buf_str(&r.out.text), buf_str(&whole));
			if (r.out.cannot_answer != cases[i].cannot_answer)
				printf("    case %zu (%s), stream %d:\n", i, cases[i].pieces, stream);
			CHECK_INT(r.out.cannot_answer, cases[i].cannot_answer);
			if (cases[i].cannot_answer)
				CHECK_INT(r.ndeltas, 0);
			else if (stream)
				CHECK_STR(buf_str(&r.deltas), buf_str(&whole));
		}
		buf_release(&whole);
		json_decref(p);
	}
	/* Held-back text goes out in one piece once it is certain. */
	control("{\"reply_pieces\": [\"N\", \"O\", \"pe\", \", sorry\"]}");
	run_answer(&r, &in, 1);
	CHECK_INT(r.ndeltas, 2);
	CHECK_STR(buf_str(&r.deltas), "NOpe, sorry");
	run_close(&r);
}

/* The framings of OPENAI-COMPAT.md: "data:" without a space, comments, CR LF, no blank lines, choices null or
 * missing on the usage chunk, no [DONE], events cut across network packets. */
static void answer_openai_stream_quirks(void)
{
	static const char *const quirks[] = {
		"[\"no_space\", \"comments\", \"crlf\", \"null_choices\", \"no_done\", \"split\"]",
		"[\"no_blank\", \"no_choices\"]",
		"[\"split\", \"no_blank\", \"crlf\", \"comments\"]",
		"[\"no_blank\", \"no_done\", \"null_choices\"]", /* the usage chunk ends the stream unterminated */
	};
	struct answer_style ag;
	struct answer_input in;
	struct run r;
	char ctl[256];

	if (begin(&r, NULL, &ag, &in, "Can I pay by invoice, please?") < 0)
		return;
	for (size_t i = 0; i < sizeof(quirks) / sizeof(quirks[0]); i++) {
		snprintf(ctl, sizeof(ctl), "{\"stream_quirks\": %s}", quirks[i]);
		control(ctl);
		run_answer(&r, &in, 1);
		if (r.rc != 0)
			printf("    quirks %s: %s\n", quirks[i], r.e.msg);
		CHECK_INT(r.rc, 0);
		CHECK_STR(buf_str(&r.out.text), "Echo: Can I pay by invoice, please?");
		CHECK_STR(buf_str(&r.deltas), "Echo: Can I pay by invoice, please?");
		CHECK_INT(r.out.tokens_from_upstream, 1);
		CHECK(r.out.tokens_completion > 0);
	}
	run_close(&r);
}

static void answer_openai_retries(void)
{
	struct answer_style ag;
	struct answer_input in;
	struct run r;
	json_t *reqs;

	if (begin(&r, NULL, &ag, &in, "Still there?") < 0)
		return;
	for (int stream = 0; stream <= 1; stream++) {
		standin_ready();
		control("{\"fail\": [{\"status\": 500, \"times\": 2}]}");
		run_answer(&r, &in, stream);
		CHECK_INT(r.rc, 0);
		CHECK_STR(buf_str(&r.out.text), "Echo: Still there?");
		if (stream)
			CHECK_STR(buf_str(&r.deltas), "Echo: Still there?");
		reqs = chat_requests();
		CHECK_INT(json_array_size(reqs), 3);
		json_decref(reqs);
	}
	/* A connection closed without an answer is retried too. */
	standin_ready();
	control("{\"drop\": 1}");
	run_answer(&r, &in, 1);
	CHECK_INT(r.rc, 0);
	CHECK_STR(buf_str(&r.deltas), "Echo: Still there?");
	run_close(&r);
}

static void answer_openai_429_retry_after(void)
{
	struct answer_style ag;
	struct answer_input in;
	struct run r;
	json_t *reqs;

	if (begin(&r, NULL, &ag, &in, "Rate me") < 0)
		return;
	control("{\"fail\": [{\"status\": 429, \"times\": 1, \"retry_after\": 1}]}");
	run_answer(&r, &in, 1);
	CHECK_INT(r.rc, 0);
	CHECK_STR(buf_str(&r.deltas), "Echo: Rate me");
	CHECK(r.ms >= 900);  /* waited as told */
	CHECK(r.ms < 3000);
	reqs = chat_requests();
	CHECK_INT(json_array_size(reqs), 2);
	json_decref(reqs);
	run_close(&r);
}

/* An upstream that refuses: a 5xx that persists is tried 3 times (two short backoffs), a 4xx refuses this request
 * and is not retried; either way no delta, FS_EUNAVAIL naming the host, the status and the upstream's message. */
static const struct refusal {
	const char *control, *status, *message;
	size_t requests; /* the stand-in saw, over a plain and a streamed answer */
} refusals[] = {
	{ "{\"fail\": [{\"status\": 503, \"times\": true, \"message\": \"overloaded, try later\"}]}",
	  "HTTP 503 after 3 attempts", "overloaded, try later", 6 },
	{ "{\"fail\": [{\"status\": 404, \"times\": 2, \"message\": \"The model `cfg-model` does not exist\"}]}",
	  "HTTP 404", "The model `cfg-model` does not exist", 2 },
};

static void answer_openai_refusals(void)
{
	struct answer_style ag;
	struct answer_input in;
	char host[64];

	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal *f = &refusals[i];
		struct run r;
		if (begin(&r, NULL, &ag, &in, "Hello?") < 0)
			return;
		host_of(host, sizeof(host));
		control(f->control);
		for (int stream = 0; stream <= 1; stream++) {
			run_answer(&r, &in, stream);
			CHECK_INT(r.rc, FS_EUNAVAIL);
			CHECK_CONTAINS(r.e.msg, host);
			CHECK_CONTAINS(r.e.msg, f->status);
			CHECK_CONTAINS(r.e.msg, f->message);
			CHECK_INT(r.ndeltas, 0);
			CHECK(r.ms < 3000); /* at most two backoffs of at most 0.4 s */
		}
		json_t *reqs = chat_requests();
		CHECK_INT(json_array_size(reqs), f->requests);
		json_decref(reqs);
		run_close(&r);
	}
}

/* A stalled upstream costs at most (max_retries + 1) timeouts plus the backoff, before or during the stream. */
static void answer_openai_timeouts_bound_the_answer(void)
{
	struct answer_style ag;
	struct answer_input in;
	struct run r;
	char host[64];

	if (begin(&r, "[answerer]\ntimeout_ms = 400\nmax_retries = 1\n", &ag, &in, "Anybody home?") < 0)
		return;
	host_of(host, sizeof(host));
	control("{\"delay_ms\": 1000}");
	for (int stream = 0; stream <= 1; stream++) {
		run_answer(&r, &in, stream);
		CHECK_INT(r.rc, FS_EUNAVAIL);
		CHECK_CONTAINS(r.e.msg, host);
		CHECK_CONTAINS(r.e.msg, "2 attempts");
		CHECK_INT(r.ndeltas, 0);
		CHECK(r.ms >= 750);
		CHECK(r.ms < 1500);
	}
	/* The stand-in's handlers still sleeping would take faults meant for the next requests. */
	sleep_ms(1100);
	/* Stalls between events: the answer is cut off by the timeout after some text went out. */
	standin_ready();
	control("{\"chunk_delay_ms\": 150, \"reply\": \"one two three four five six seven eight nine ten\"}");
	run_answer(&r, &in, 1);
	CHECK_INT(r.rc, FS_EUNAVAIL);
	CHECK_CONTAINS(r.e.msg, host);
	CHECK_CONTAINS(r.e.msg, "cut off");
	CHECK(r.ndeltas >= 1);
	CHECK(r.ndeltas < 10);
	CHECK(r.ms < 1000); /* no retry once text went out */
	run_close(&r);
}

static void answer_openai_unreachable(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 9;
	struct answer_style ag;
	struct answer_input in;
	struct run r;
	char conf[160], host[64];

	/* A port nothing listens on: bound, then closed. */
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	if (standin_ready() < 0)
		return;
	snprintf(conf, sizeof(conf), "[answerer]\nurl = http://127.0.0.1:%d/v1\napi_key = " API_KEY "\n", port);
	if (run_open(&r, conf) < 0)
		return;
	snprintf(host, sizeof(host), "127.0.0.1:%d", port);
	style_init(&ag);
	input_init(&in, &ag, "Hello?");
	run_answer(&r, &in, 1);
	CHECK_INT(r.rc, FS_EUNAVAIL);
	CHECK_CONTAINS(r.e.msg, host);
	CHECK_CONTAINS(r.e.msg, "3 attempts");
	CHECK(!strstr(r.e.msg, API_KEY));
	CHECK(r.ms < 3000);
	run_close(&r);
}

static void answer_openai_malformed(void)
{
	struct answer_style ag;
	struct answer_input in;
	struct run r;
	char host[64];

	if (begin(&r, NULL, &ag, &in, "Hello?") < 0)
		return;
	host_of(host, sizeof(host));
	for (int stream = 0; stream <= 1; stream++) {
		control("{\"malformed\": 1}");
		run_answer(&r, &in, stream);
		CHECK_INT(r.rc, FS_EUNAVAIL);
		CHECK_CONTAINS(r.e.msg, host);
		CHECK_INT(r.ndeltas, 0);
	}
	run_close(&r);
}

static void answer_openai_cut_stream(void)
{
	struct answer_style ag;
	struct answer_input in;
	struct run r;
	char host[64];
	json_t *reqs;

	if (begin(&r, NULL, &ag, &in, "Tell me everything about shipping") < 0)
		return;
	host_of(host, sizeof(host));
	control("{\"cut_stream_after\": 3}");
	run_answer(&r, &in, 1);
	CHECK_INT(r.rc, FS_EUNAVAIL);
	CHECK_CONTAINS(r.e.msg, host);
	CHECK_CONTAINS(r.e.msg, "cut off");
	CHECK_STR(buf_str(&r.deltas), "Echo: Tell me");
	reqs = chat_requests();
	CHECK_INT(json_array_size(reqs), 1); /* text went out: repeating would repeat it */
	json_decref(reqs);
	run_close(&r);
}

/* Servers quote the key they were given; none of it reaches our messages. */
static void answer_openai_never_shows_the_key(void)
{
	static const char *const echoes[] = {
		"{\"fail\": [{\"status\": 500, \"times\": true, \"message\": \"bad key " API_KEY " here\"}]}",
		"{\"fail\": [{\"status\": 400, \"times\": true, \"message\": \"key sk-wrong-0123 is not valid\"}]}",
		"{\"fail\": [{\"status\": 429, \"times\": true, \"retry_after\": 0, \"message\": \"" API_KEY "\"}]}",
	};
	struct answer_style ag;
	struct answer_input in;
	struct run r;

	if (begin(&r, "[answerer]\napi_key = " API_KEY "\nmax_retries = 0\n", &ag, &in, "Hello?") < 0)
		return;
	control("{\"require_key\": \"sk-right\"}");
	for (int stream = 0; stream <= 1; stream++) {
		run_answer(&r, &in, stream);
		CHECK_INT(r.rc, FS_EUNAVAIL);
		CHECK_CONTAINS(r.e.msg, "HTTP 401");
		CHECK_CONTAINS(r.e.msg, "Incorrect API key provided: [redacted]");
		CHECK(!strstr(r.e.msg, "sk-wrong"));
	}
	for (size_t i = 0; i < sizeof(echoes) / sizeof(echoes[0]); i++) {
		standin_ready();
		control(echoes[i]);
		run_answer(&r, &in, (int)(i % 2));
		CHECK_INT(r.rc, FS_EUNAVAIL);
		CHECK_CONTAINS(r.e.msg, "[redacted]");
		CHECK(!strstr(r.e.msg, "sk-wrong"));
		CHECK(!strstr(r.e.msg, "0123456789"));
	}
	run_close(&r);
}

/* A delta callback that says stop ends the answer with its code. */
static void answer_openai_reader_stops(void)
{
	struct answer_style ag;
	struct answer_input in;
	struct run r;

	if (begin(&r, NULL, &ag, &in, "one two three four") < 0)
		return;
	r.stop_at = 2;
	run_answer(&r, &in, 1);
	CHECK_INT(r.rc, 7);
	CHECK_INT(r.ndeltas, 2);
	CHECK_STR(buf_str(&r.deltas), "Echo: one");
	/* Also when the held-back text goes out at the end of the stream. */
	r.stop_at = 1;
	control("{\"reply_pieces\": [\"NO\"]}");
	run_answer(&r, &in, 1);
	CHECK_INT(r.rc, 7);
	CHECK_INT(r.ndeltas, 1);
	run_close(&r);
}

/* Many long passages: the context stays about 24k characters, the best passages kept, the worst left out. */
static void answer_openai_context_cap(void)
{
	struct search_result many[10];
	char *texts[10];
	struct answer_style ag;
	struct answer_input in;
	struct run r;
	json_t *reqs;
	const char *sys;

	if (begin(&r, NULL, &ag, &in, "Which passage?") < 0)
		return;
	memset(many, 0, sizeof(many));
	for (int i = 0; i < 10; i++) {
		texts[i] = xmalloc(5001);
		memset(texts[i], 'a' + i, 5000);
		texts[i][5000] = '\0';
		many[i].text = texts[i];
		many[i].filename = "long.txt";
	}
	in.sources = many;
	in.nsources = 10;
	run_answer(&r, &in, 0);
	CHECK_INT(r.rc, 0);
	reqs = chat_requests();
	sys = str_at(json_array_get(json_object_get(json_object_get(json_array_get(reqs, 0), "body"), "messages"), 0),
		     "content");
	CHECK(strlen(sys) > 24000);
	CHECK(strlen(sys) < 24000 + 1000);
	CHECK_CONTAINS(sys, "[1] (long.txt) aaaa");
	CHECK_CONTAINS(sys, "[4] (long.txt) dddd");
	CHECK(!strstr(sys, "[6]"));
	CHECK(!strstr(sys, "ffff"));
	json_decref(reqs);
	for (int i = 0; i < 10; i++)
		free(texts[i]);
	run_close(&r);
}

const struct test_case answer_openai_cases[] = {
	{ "answer_openai_open_needs_url", answer_openai_open_needs_url },
	{ "answer_openai_request_shape", answer_openai_request_shape },
	{ "answer_openai_without_rag", answer_openai_without_rag },
	{ "answer_openai_needs_a_model", answer_openai_needs_a_model },
	{ "answer_openai_streams", answer_openai_streams },
	{ "answer_openai_counts_tokens_without_usage", answer_openai_counts_tokens_without_usage },
	{ "answer_openai_no_answer", answer_openai_no_answer },
	{ "answer_openai_stream_quirks", answer_openai_stream_quirks },
	{ "answer_openai_retries", answer_openai_retries },
	{ "answer_openai_429_retry_after", answer_openai_429_retry_after },
	{ "answer_openai_refusals", answer_openai_refusals },
	{ "answer_openai_timeouts_bound_the_answer", answer_openai_timeouts_bound_the_answer },
	{ "answer_openai_unreachable", answer_openai_unreachable },
	{ "answer_openai_malformed", answer_openai_malformed },
	{ "answer_openai_cut_stream", answer_openai_cut_stream },
	{ "answer_openai_never_shows_the_key", answer_openai_never_shows_the_key },
	{ "answer_openai_reader_stops", answer_openai_reader_stops },
	{ "answer_openai_context_cap", answer_openai_context_cap },
	{ NULL, NULL },
};
