/* The "openai" answerer: POST {url}/chat/completions on an OpenAI-compatible server (OpenAI, Ollama, llama.cpp,
 * vLLM, LM Studio), plain or streamed as server-sent events (wire format: OPENAI-COMPAT.md). With RAG the passages
 * go into the system message as numbered context and the model is told to reply NO_ANSWER when they do not hold
 * the answer; such a reply is held back from the stream and becomes cannot_answer. */
#include "answer/answer.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/http.h"
#include "core/util.h"
#include "text/tokens.h"

#include "core/banned.h"

#define NO_ANSWER "NO_ANSWER"
#define NO_ANSWER_LEN (sizeof(NO_ANSWER) - 1)
/* The numbered context is cut to about this many bytes, the least relevant passages going first. */
#define CONTEXT_MAX 24000
/* A passage that does not fit whole is cut to the room left only when at least this much of it fits. */
#define CONTEXT_MIN_PART 400
/* The largest non-streamed answer, and the largest line or event of a stream. */
#define BODY_MAX ((size_t)8 << 20)
#define SSE_LINE_MAX ((size_t)2 << 20)

static const char rag_rules[] =
	"\n\nAnswer from the numbered context passages below; each begins with its number and, in parentheses, the "
	"document it comes from. If the context does not contain the answer to the question, reply with exactly "
	NO_ANSWER " and nothing else.\n\nContext:";

struct openai_answerer {
	struct answerer base;
	const struct config *cfg; /* [answerer] model is read per answer */
	struct http_upstream up;  /* {url}/chat/completions */
	struct http_opts opts;
};

/* The upstream's usage, when it sent one. */
struct upstream_usage {
	int seen;
	long long prompt, completion;
};

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Whether a complete answer says there is none: empty, only spaces, or NO_ANSWER after leading spaces. */
static int is_no_answer(const char *s, size_t len)
{
	while (len > 0 && is_space(*s))
		s++, len--;
	return len == 0 || (len >= NO_ANSWER_LEN && !memcmp(s, NO_ANSWER, NO_ANSWER_LEN));
}

/* Appends the numbered context to the system message: passages best first, "[n] (file) text", until
 * CONTEXT_MAX bytes are used; the passage that no longer fits is cut to the room left (when that is worth it)
 * and the rest are left out. */
static void add_context(struct buf *sys, const struct answer_input *in)
{
	size_t room = CONTEXT_MAX;
	struct buf head;

	buf_init(&head, BUF_NO_LIMIT);
	buf_adds(sys, rag_rules);
	for (size_t i = 0; i < in->nsources && room > 0; i++) {
		const struct search_result *r = &in->sources[i];
		const char *text = r->text ? r->text : "";
		size_t len = strlen(text), cut = len;

		buf_reset(&head);
		buf_addf(&head, "\n\n[%zu] (%s) ", i + 1, r->filename && *r->filename ? r->filename : "untitled");
		if (head.len + len > room) {
			if (room < head.len + CONTEXT_MIN_PART)
				break;
			cut = util_utf8_cut(text, len, room - head.len - 3);
		}
		buf_add(sys, head.ptr, head.len);
		buf_add(sys, text, cut);
		if (cut < len) {
			buf_adds(sys, "...");
			break;
		}
		room -= head.len + len;
	}
	if (in->nsources == 0)
		buf_adds(sys, "\n\n(no passages)");
	buf_release(&head);
}

static void add_message(json_t *msgs, const char *role, const char *content, size_t len, long long *tokens)
{
	json_t *m = json_object();
	json_object_set_new(m, "role", json_string(role));
	json_object_set_new(m, "content", util_json_text(content, len));
	json_array_append_new(msgs, m);
	*tokens += tokens_count(content);
}

/* The request body (malloc'd, *len bytes); *tokens gets the messages' size by the built-in tokenizer, the
 * prompt's price when the upstream sends no usage. */
static char *request_body(const struct answer_input *in, const char *model, int stream, long long *tokens,
			  size_t *len)
{
	const struct answer_style *st = &in->style;
	json_t *req = json_object(), *msgs = json_array();
	struct buf sys;
	char *s;

	*tokens = 0;
	buf_init(&sys, BUF_NO_LIMIT);
	buf_adds(&sys, st->system_prompt ? st->system_prompt : "");
	if (in->use_rag)
		add_context(&sys, in);
	add_message(msgs, "system", buf_str(&sys), sys.len, tokens);
	for (size_t i = 0; i < in->nhistory; i++) {
		const struct answer_turn *t = &in->history[i];
		const char *content = t->content ? t->content : "";
		add_message(msgs, t->role ? t->role : "user", content, strlen(content), tokens);
	}
	add_message(msgs, "user", in->question ? in->question : "", in->question ? strlen(in->question) : 0, tokens);

	json_object_set_new(req, "model", util_json_text(model, strlen(model)));
	json_object_set_new(req, "messages", msgs);
	json_object_set_new(req, "temperature", json_real(st->temperature));
	if (st->max_tokens > 0)
		json_object_set_new(req, "max_tokens", json_integer(st->max_tokens));
	json_object_set_new(req, "stream", json_boolean(stream));
	if (stream)
		json_object_set_new(req, "stream_options", json_pack("{s:b}", "include_usage", 1));
	/* 15 digits: a temperature of 0.2 goes out as 0.2, not 0.20000000000000001. */
	s = json_dumps(req, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(req);
	buf_release(&sys);
	*len = s ? strlen(s) : 0;
	return s;
}

/* Both counts of a usage object, when it has them. */
static void read_usage(json_t *u, struct upstream_usage *out)
{
	json_t *p = json_object_get(u, "prompt_tokens"), *c = json_object_get(u, "completion_tokens");
	if (json_is_integer(p) && json_is_integer(c) && json_integer_value(p) >= 0 && json_integer_value(c) >= 0) {
		out->seen = 1;
		out->prompt = json_integer_value(p);
		out->completion = json_integer_value(c);
	}
}

static void set_tokens(struct answer_output *out, const struct upstream_usage *u, long long prompt_counted)
{
	if (u->seen) {
		out->tokens_prompt = u->prompt;
		out->tokens_completion = u->completion;
		out->tokens_from_upstream = 1;
	} else {
		out->tokens_prompt = prompt_counted;
		out->tokens_completion = tokens_count(buf_str(&out->text));
		out->tokens_from_upstream = 0;
	}
}

/* One non-streamed request: the answer's text and usage into out. */
static int answer_plain(struct openai_answerer *o, const char *const *headers, const char *body, size_t len,
			struct answer_output *out, struct upstream_usage *u, struct fs_error *e)
{
	struct http_response resp;
	struct fs_error he;
	json_t *root = NULL, *msg, *content;
	int rc;

	http_response_init(&resp);
	fs_error_clear(&he);
	rc = http_request(o->up.http, "POST", o->up.endpoint, headers, body, len, &o->opts, &resp, &he);
	if ((rc = http_upstream_check(&o->up, rc, &he, &resp, e)) < 0)
		goto out;
	root = json_loadb(resp.body.ptr ? resp.body.ptr : "", resp.body.len, 0, NULL);
	if (!json_is_object(root)) {
		rc = fs_fail(e, FS_EUNAVAIL, "answerer upstream %s sent malformed JSON (%s)", o->up.host,
			     root ? "not an object" : "it does not parse");
		goto out;
	}
	msg = json_object_get(json_array_get(json_object_get(root, "choices"), 0), "message");
	content = json_object_get(msg, "content");
	if (!json_is_string(content) && json_is_string(json_object_get(msg, "refusal"))) {
		/* The model declined (OpenAI's refusal field): not an outage, and not an answer either. */
		out->cannot_answer = 1;
		content = json_object_get(msg, "refusal");
	}
	if (!json_is_string(content)) {
		rc = fs_fail(e, FS_EUNAVAIL, "answerer upstream %s sent an answer without choices[0].message.content",
			     o->up.host);
		goto out;
	}
	if (buf_add(&out->text, json_string_value(content), json_string_length(content)) < 0) {
		rc = fs_fail(e, FS_EUNAVAIL, "answerer upstream %s sent an answer longer than %zu bytes", o->up.host,
			     out->text.max);
		goto out;
	}
	read_usage(json_object_get(root, "usage"), u);
out:
	json_decref(root);
	http_response_release(&resp);
	return rc;
}

/* A streamed answer being received. Text is held back while it could still turn out to be NO_ANSWER. */
enum release { HOLD, PASS, SUPPRESS };

struct stream {
	const char *host;      /* for messages */
	const char *secret;    /* redacted from the upstream's messages; may be NULL */
	struct answer_output *out;
	answer_delta_fn delta;
	void *arg;
	struct buf line;       /* the line being received */
	struct buf data;       /* the data lines of the event being received, joined by \n */
	enum release release;
	size_t emitted;        /* bytes of out->text passed to delta */
	int choices_seen;      /* events that had a choice */
	int finished;          /* a finish_reason or [DONE] arrived */
	int done;              /* [DONE] arrived: anything after it is ignored */
	struct upstream_usage usage;
	int stop_rc;           /* the delta callback's non-zero answer */
	int failed;            /* err says why the stream was abandoned */
	struct fs_error err;
};

/* Passes the text not yet passed to delta, once it is certain the answer is not NO_ANSWER (at_end: nothing more
 * will come). Non-zero: the callback's answer. */
static int release_text(struct stream *s, int at_end)
{
	const char *t = s->out->text.ptr ? s->out->text.ptr : "";
	size_t len = s->out->text.len;
	int rc;

	if (s->release == HOLD) {
		while (len > 0 && is_space(*t))
			t++, len--;
		if (len >= NO_ANSWER_LEN && !memcmp(t, NO_ANSWER, NO_ANSWER_LEN))
			s->release = SUPPRESS;
		else if (len < NO_ANSWER_LEN && !memcmp(t, NO_ANSWER, len) && (!at_end || len == 0))
			return 0; /* still a prefix of NO_ANSWER (or nothing but spaces) */
		else
			s->release = PASS;
	}
	if (s->release != PASS || s->emitted == s->out->text.len)
		return 0;
	rc = s->delta(s->arg, s->out->text.ptr + s->emitted, s->out->text.len - s->emitted);
	s->emitted = s->out->text.len;
	if (rc)
		s->stop_rc = rc;
	return rc;
}

/* Abandons the stream: what the upstream did wrong goes into s->err, and the non-zero answer stops the transfer. */
static int stream_fail(struct stream *s, const char *what)
{
	s->failed = 1;
	fs_fail(&s->err, FS_EUNAVAIL, "answerer upstream %s %s", s->host, what);
	return FS_EUNAVAIL;
}

/* One event's data: a chunk of the answer, the usage, an error, or [DONE]. */
static int stream_event(struct stream *s, const char *data, size_t len)
{
	json_t *root, *choice, *content;
	int rc = 0;

	if (len == 6 && !memcmp(data, "[DONE]", 6)) {
		s->done = s->finished = 1;
		return 0;
	}
	root = json_loadb(data, len, 0, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return stream_fail(s, root ? "sent malformed JSON in its stream (an event that is not an object)"
					   : "sent malformed JSON in its stream (an event that does not parse)");
	}
	if (json_object_get(root, "error")) {
		char msg[HTTP_UPSTREAM_MSG_SIZE], what[HTTP_UPSTREAM_MSG_SIZE + 64];
		http_upstream_message(data, len, s->secret, msg, sizeof(msg));
		snprintf(what, sizeof(what), "reported an error in its stream: %s", *msg ? msg : "(no message)");
		json_decref(root);
		return stream_fail(s, what);
	}
	read_usage(json_object_get(root, "usage"), &s->usage);
	/* choices is null, missing or empty on the usage chunk of some servers. */
	choice = json_array_get(json_object_get(root, "choices"), 0);
	if (json_is_object(choice)) {
		s->choices_seen++;
		if (json_is_string(json_object_get(choice, "finish_reason")))
			s->finished = 1;
		content = json_object_get(json_object_get(choice, "delta"), "content");
		if (json_is_string(content) && json_string_length(content) > 0) {
			if (buf_add(&s->out->text, json_string_value(content), json_string_length(content)) < 0) {
				char what[80];
				snprintf(what, sizeof(what), "sent an answer longer than %zu bytes", s->out->text.max);
				json_decref(root);
				return stream_fail(s, what);
			}
			rc = release_text(s, 0);
		}
	}
	json_decref(root);
	return rc;
}

static int stream_dispatch(struct stream *s)
{
	int rc = 0;
	if (s->data.len && !s->done)
		rc = stream_event(s, s->data.ptr, s->data.len);
	buf_reset(&s->data);
	return rc;
}

/* One line of the event stream (without its end of line). A blank line ends an event; ':' starts a comment;
 * "data:" takes one optional space; other fields (event, id, retry) mean nothing here. */
static int stream_line(struct stream *s, const char *p, size_t len)
{
	int rc;

	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (len == 0)
		return stream_dispatch(s);
	if (p[0] == ':' || len < 5 || memcmp(p, "data", 4) != 0 || p[4] != ':')
		return 0;
	p += 5;
	len -= 5;
	if (len > 0 && *p == ' ')
		p++, len--;
	if (s->data.len) {
		/* A second data line: by the book it continues the event, but a server that leaves out the blank line
		 * between events also gets here, so an event that is already whole JSON goes out first. */
		json_t *whole = json_loadb(s->data.ptr, s->data.len, 0, NULL);
		if (whole || (s->data.len == 6 && !memcmp(s->data.ptr, "[DONE]", 6))) {
			json_decref(whole);
			if ((rc = stream_dispatch(s)) != 0)
				return rc;
		} else if (buf_add(&s->data, "\n", 1) < 0) {
			return stream_fail(s, "sent a stream event longer than 2 MiB");
		}
	}
	if (buf_add(&s->data, p, len) < 0)
		return stream_fail(s, "sent a stream event longer than 2 MiB");
	return 0;
}

/* http_chunk_fn: bytes of the stream as they arrive, cut into lines wherever the network cut them. */
static int stream_chunk(void *arg, const char *data, size_t len)
{
	struct stream *s = arg;
	int rc;

	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		if (buf_add(&s->line, data, n) < 0)
			return stream_fail(s, "sent a stream line longer than 2 MiB");
		if (!nl)
			break;
		rc = stream_line(s, s->line.ptr ? s->line.ptr : "", s->line.len);
		buf_reset(&s->line);
		if (rc)
			return rc;
		data += n + 1;
		len -= n + 1;
	}
	return 0;
}

/* Whether the stream ended itself: its reader said stop (*rc = the reader's code) or the upstream sent what
 * cannot be read (*rc = FS_EUNAVAIL). The messages go into e. */
static int stream_verdict(const struct stream *s, struct fs_error *e, int *rc)
{
	if (s->stop_rc)
		*rc = fs_fail(e, s->stop_rc, "the answer was stopped by its reader");
	else if (s->failed)
		*rc = fs_fail(e, s->err.code, "%s", s->err.msg);
	return s->stop_rc || s->failed;
}

static void stream_init(struct stream *s, const char *host, const char *secret, answer_delta_fn delta, void *arg,
			struct answer_output *out)
{
	memset(s, 0, sizeof(*s));
	s->host = host;
	s->secret = secret;
	s->out = out;
	s->delta = delta;
	s->arg = arg;
	s->release = HOLD;
	buf_init(&s->line, SSE_LINE_MAX);
	buf_init(&s->data, SSE_LINE_MAX);
}

static void stream_release(struct stream *s)
{
	buf_release(&s->line);
	buf_release(&s->data);
}

/* After the last byte of a stream that was not abandoned: reads what is left and tells whether the answer is
 * whole. 0, FS_EUNAVAIL (the message in e), or the reader's non-zero code. */
static int stream_finish(struct stream *s, struct fs_error *e)
{
	int rc = 0;

	/* The stream may end without a last end of line or blank line. */
	if (s->line.len == 0 || stream_line(s, s->line.ptr, s->line.len) == 0)
		stream_dispatch(s);
	if (stream_verdict(s, e, &rc))
		return rc;
	if (s->choices_seen == 0)
		return fs_fail(e, FS_EUNAVAIL, "answerer upstream %s sent a stream without any answer chunk", s->host);
	if (!s->finished) /* no finish_reason and no [DONE]: the connection ended early */
		return fs_fail(e, FS_EUNAVAIL, "answerer upstream %s ended its stream before the answer was complete",
			       s->host);
	release_text(s, 1);
	stream_verdict(s, e, &rc);
	return rc;
}

/* One streamed request: deltas as the text arrives, the whole text and usage into out. */
static int answer_stream(struct openai_answerer *o, const char *const *headers, const char *body, size_t len,
			 answer_delta_fn delta, void *arg, struct answer_output *out, struct upstream_usage *u,
			 struct fs_error *e)
{
	struct http_response resp;
	struct fs_error he;
	struct stream s;
	int rc;

	stream_init(&s, o->up.host, o->up.secret, delta, arg, out);
	http_response_init(&resp);
	fs_error_clear(&he);
	rc = http_request_stream(o->up.http, "POST", o->up.endpoint, headers, body, len, &o->opts, stream_chunk, &s,
				 &resp, &he);
	if (stream_verdict(&s, e, &rc))
		goto out;
	if ((rc = http_upstream_check(&o->up, rc, &he, &resp, e)) < 0)
		goto out;
	if ((rc = stream_finish(&s, e)) != 0)
		goto out;
	*u = s.usage;
out:
	stream_release(&s);
	http_response_release(&resp);
	return rc;
}

static void output_reset(struct answer_output *out)
{
	buf_reset(&out->text);
	out->cannot_answer = 0;
	out->tokens_prompt = out->tokens_completion = 0;
	out->tokens_from_upstream = 0;
}

/* What every complete answer ends with: whether it says there is none, and its token counts. */
static void output_finish(struct answer_output *out, const struct upstream_usage *u, long long prompt_counted)
{
	if (is_no_answer(buf_str(&out->text), out->text.len))
		out->cannot_answer = 1;
	set_tokens(out, u, prompt_counted);
}

int answer_openai_read_stream(const struct slice *pieces, size_t npieces, answer_delta_fn delta, void *arg,
			      struct answer_output *out, struct fs_error *e)
{
	struct stream s;
	int rc = 0;

	output_reset(out);
	stream_init(&s, "(stream)", NULL, delta, arg, out);
	for (size_t i = 0; i < npieces && rc == 0; i++)
		rc = stream_chunk(&s, pieces[i].ptr, pieces[i].len);
	if (!stream_verdict(&s, e, &rc) && (rc = stream_finish(&s, e)) == 0)
		output_finish(out, &s.usage, 0);
	stream_release(&s);
	return rc;
}

static int openai_answer(struct answerer *a, const struct answer_input *in, answer_delta_fn delta, void *arg,
			 struct answer_output *out, struct fs_error *e)
{
	struct openai_answerer *o = (struct openai_answerer *)a;
	const char *headers[4] = { "Content-Type: application/json", NULL, NULL, NULL };
	const char *model;
	struct upstream_usage u = { 0 };
	long long prompt_counted;
	size_t len;
	char *body = NULL;
	int rc;

	output_reset(out);
	model = in->style.model && *in->style.model ? in->style.model : o->cfg->answerer_model;
	if (!model || !*model)
		return fs_fail(e, FS_EUNAVAIL, "the openai answerer has no model: set [answerer] model or the "
					       "agent's model");
	body = request_body(in, model, delta != NULL, &prompt_counted, &len);
	if (!body)
		return fs_fail(e, FS_EINTERNAL, "could not build the chat completions request");
	headers[1] = delta ? "Accept: text/event-stream" : "Accept: application/json";
	headers[2] = o->up.auth_header;
	if (delta)
		rc = answer_stream(o, headers, body, len, delta, arg, out, &u, e);
	else
		rc = answer_plain(o, headers, body, len, out, &u, e);
	if (rc == 0)
		output_finish(out, &u, prompt_counted);
	free(body);
	return rc;
}

/* The messages as sent (our count) and the longest answer allowed, each twice: an upstream's tokenizer may count
 * words apart that ours counts as one; and a few tokens per message for the chat format. */
#define OPENAI_DEFAULT_MAX_TOKENS 4096
#define OPENAI_TOKENS_PER_MESSAGE 8
static long long openai_cost_bound(struct answerer *a, const struct answer_input *in)
{
	long long prompt = 0;
	size_t len;
	(void)a;
	free(request_body(in, "m", 0, &prompt, &len));
	long long most = in->style.max_tokens > 0 ? in->style.max_tokens : OPENAI_DEFAULT_MAX_TOKENS;
	return 2 * (prompt + most) + OPENAI_TOKENS_PER_MESSAGE * (long long)(in->nhistory + 2);
}

static void openai_free(struct answerer *a)
{
	struct openai_answerer *o = (struct openai_answerer *)a;
	http_upstream_release(&o->up);
	free(o);
}

static int openai_new(const struct config *cfg, struct answerer **out, struct fs_error *e)
{
	const char *url = cfg->answerer_url ? cfg->answerer_url : "";
	struct openai_answerer *o;
	int rc;

	*out = NULL;
	if (!*url)
		return fs_fail(e, FS_EINVAL, "the openai answerer needs [answerer] url (the server's base URL, e.g. "
					     "http://127.0.0.1:11434/v1)");
	o = xcalloc(1, sizeof(*o));
	o->base.ops = &answer_openai_ops;
	o->cfg = cfg;
	if ((rc = http_upstream_init(&o->up, url, "/chat/completions", cfg->answerer_api_key, "answerer", e)) < 0) {
		free(o);
		return rc;
	}
	/* timeout_ms bounds each attempt, a streamed one included, so a stalled upstream costs at most
	 * (max_retries + 1) timeouts plus the backoff between them. */
	o->opts.timeout_ms = (long)cfg->answerer_timeout_ms;
	o->opts.max_retries = (int)cfg->answerer_max_retries;
	o->opts.max_body = BODY_MAX;
	*out = &o->base;
	return 0;
}

const struct answer_ops answer_openai_ops = {
	.name = "openai",
	.new = openai_new,
	.free = openai_free,
	.answer = openai_answer,
	.cost_bound = openai_cost_bound,
};
