/* chat.fcgi — POST /api/v1/chat (a grounded answer, or a stream of it), the conversations and feedback on
 * answers (chat.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "core/jfield.h"
#include "core/util.h"
#include "web/app.h"
#include "core/banned.h"

#define COMMENT_MAX_CHARS 2000
/* A visitor token (a publishable key's conversation): fv_ + 43 base62 characters, 256 bits. */
#define VISITOR_TAG "fv_"
#define VISITOR_RANDOM_LEN 43
#define VISITOR_TOKEN_LEN (3 + VISITOR_RANDOM_LEN)

/* The SHA-256 of the request's X-Visitor-Token into hash: 1 when it has a well-formed one, else 0. */
static int visitor_of(const struct request *req, unsigned char hash[32])
{
	const char *token = req_param(req, "HTTP_X_VISITOR_TOKEN");
	if (!token || strlen(token) != VISITOR_TOKEN_LEN || strncmp(token, VISITOR_TAG, 3))
		return 0;
	util_sha256(token, VISITOR_TOKEN_LEN, hash);
	return 1;
}

/* With a publishable key: the visitor's hash (a token that matches nothing when the request has none, so the
 * conversation is not found); NULL with a secret key, which sees every conversation of its account. */
static const unsigned char *visitor_scope(const struct request *req, unsigned char hash[32])
{
	if (!req->key.publishable)
		return NULL;
	if (!visitor_of(req, hash))
		memset(hash, 0, 32);
	return hash;
}

static int blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return 0;
	return 1;
}

static int read_id(json_t *body, const char *name, const char **out, struct fs_error *e)
{
	int rc = jfield_text(body, name, 1, 64, out, e);
	if (rc < 0 && json_is_string(json_object_get(body, name)))
		rc = fs_fail(e, FS_EINVAL, "%s must be an id (a UUID)", name);
	if (rc > 0 && !util_is_uuid(*out))
		return fs_fail(e, FS_EINVAL, "%s must be an id (a UUID)", name);
	return rc < 0 ? rc : 0;
}

static int read_params(struct request *req, json_t *body, struct chat_params *p, int *stream, struct fs_error *e)
{
	long long max_chars = req->cfg->chat_max_message_chars, top_k = 0;
	int rc;
	memset(p, 0, sizeof(*p));
	p->use_rag = 1;
	p->threshold = -1;
	p->hybrid = -1;
	*stream = 0;
	if ((rc = jfield_text(body, "message", 1, (size_t)max_chars, &p->message, e)) < 0)
		return rc;
	if (rc == 0)
		return fs_fail(e, FS_EINVAL, "message is required: a string of 1 to %lld characters", max_chars);
	if (blank(p->message))
		return fs_fail(e, FS_EINVAL, "message must not be blank");
	if (req->key.publishable) { /* a page's visitor asks; the agent's settings apply */
		static const char *const fixed[] = { "agent_id", "use_rag", "top_k", "similarity_threshold", "use_hybrid" };
		for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
			if (json_object_get(body, fixed[i]) && !json_is_null(json_object_get(body, fixed[i])))
				return fs_fail(e, FS_EINVAL,
					       "%s cannot be set with a publishable key: the agent's settings apply", fixed[i]);
	}
	if ((rc = read_id(body, "conversation_id", &p->conversation_id, e)) < 0 ||
	    (rc = read_id(body, "agent_id", &p->agent_id, e)) < 0 ||
	    (rc = jfield_bool(body, "use_rag", &p->use_rag, e)) < 0 ||
	    (rc = jfield_int(body, "top_k", 1, SEARCH_MAX_TOP_K, &top_k, e)) < 0 ||
	    (rc = jfield_number(body, "similarity_threshold", 0, 1, &p->threshold, e)) < 0 ||
	    (rc = jfield_bool(body, "use_hybrid", &p->hybrid, e)) < 0 ||
	    (rc = jfield_bool(body, "stream", stream, e)) < 0)
		return rc;
	p->top_k = (int)top_k;
	return 0;
}

/* ---- streaming ---- */

struct stream {
	struct request *req;
	int opened;
	char carry[4]; /* the start of a UTF-8 character cut by the end of a delta */
	size_t ncarry;
};

static void stream_open(struct stream *s)
{
	if (!s->opened) {
		req_sse_begin(s->req);
		s->opened = 1;
	}
}

/* How much of data[0, len) ends on a whole UTF-8 character. */
static size_t whole_chars(const char *data, size_t len)
{
	size_t i = len, back = 0;
	while (i > 0 && back < 4 && ((unsigned char)data[i - 1] & 0xC0) == 0x80) {
		i--;
		back++;
	}
	if (i == 0)
		return len;
	unsigned char lead = (unsigned char)data[i - 1];
	size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	return need > back + 1 ? i - 1 : len;
}

/* Sends a delta event. A client that went away does not stop the answer: it is still stored and counted. */
static int on_delta(void *arg, const char *text, size_t len)
{
	struct stream *s = arg;
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	buf_add(&b, s->carry, s->ncarry);
	buf_add(&b, text, len);
	size_t whole = whole_chars(b.ptr, b.len);
	s->ncarry = b.len - whole;
	memcpy(s->carry, b.ptr + whole, s->ncarry);
	json_t *ev = whole ? json_pack("{s:s%}", "content", b.ptr, whole) : NULL;
	if (ev) {
		stream_open(s);
		req_sse_event(s->req, "delta", ev);
	}
	buf_release(&b);
	return 0;
}

/* ---- routes ---- */

static int chat(struct request *req, struct fs_error *e)
{
	double started = util_now_ms();
	json_t *body = NULL;
	struct chat_params p;
	struct chat c;
	struct stream s = { .req = req };
	int stream, prepared = 0, rc;
	unsigned char visitor[32];
	char token[VISITOR_TOKEN_LEN + 1] = "";

	if ((rc = req_json_body(req, &body, e)) < 0 || (rc = read_params(req, body, &p, &stream, e)) < 0)
		goto out;
	if (req->key.publishable) {
		if (p.conversation_id) {
			if (!visitor_of(req, visitor)) {
				rc = fs_fail(e, FS_ENOTFOUND, "no conversation '%s' of this visitor (send its X-Visitor-Token)",
					     p.conversation_id);
				goto out;
			}
		} else { /* a new conversation: the visitor's token proves it theirs from now on */
			memcpy(token, VISITOR_TAG, 3);
			util_base62(token + 3, VISITOR_RANDOM_LEN);
			util_sha256(token, VISITOR_TOKEN_LEN, visitor);
		}
		p.visitor_hash = visitor;
		p.agent_id = req->key.agent_id[0] ? req->key.agent_id : NULL;
	}
	struct chat_engine *engine = req->state;
	rc = chat_prepare(engine, req->db, req->key.account_id, &p, started, &c, e);
	if (rc == FS_ENOTFOUND && p.agent_id && req->key.publishable && !p.conversation_id) {
		p.agent_id = NULL; /* the key's agent was deleted since: the account's default answers */
		rc = chat_prepare(engine, req->db, req->key.account_id, &p, started, &c, e);
	}
	if (rc < 0)
		goto out;
	prepared = 1;
	if ((rc = chat_answer(engine, req->db, &c, stream ? on_delta : NULL, &s, e)) < 0)
		goto out;
	req->tokens_prompt = c.tokens_prompt;
	req->tokens_completion = c.tokens_completion;
	json_t *answer = chat_response(&c);
	if (token[0])
		json_object_set_new(answer, "visitor_token", json_string(token));
	if (!stream) {
		rc = req_reply(req, 200, answer);
		goto out;
	}
	stream_open(&s);
	if (c.fallback) /* no deltas came: the fallback message is the whole answer */
		req_sse_event(req, "delta", json_pack("{s:s}", "content", c.answer));
	req_sse_event(req, "done", answer);
out:
	if (prepared)
		chat_release(&c);
	json_decref(body);
	return rc;
}

/* A true/false query parameter: *on 1 for "true", 0 when absent or "false"; FS_EINVAL otherwise. */
static int query_flag(const struct request *req, const char *name, int *on, struct fs_error *e)
{
	char *v = req_query_param(req, name);
	int rc = 0;
	*on = v && !strcmp(v, "true");
	if (v && strcmp(v, "true") && strcmp(v, "false"))
		rc = fs_fail(e, FS_EINVAL, "%s must be true or false", name);
	free(v);
	return rc;
}

static int list_conversations(struct request *req, struct fs_error *e)
{
	long long limit;
	char *cursor = NULL, *next = NULL;
	json_t *items = NULL;
	int fallbacks, downvoted;
	int rc = query_flag(req, "fallbacks", &fallbacks, e);
	if (rc == 0)
		rc = query_flag(req, "downvoted", &downvoted, e);
	if (rc == 0)
		rc = req_page_params(req, &limit, &cursor, e);
	if (rc == 0)
		rc = chat_list_conversations(req->db, req->key.account_id,
					     (fallbacks ? CHAT_WITH_FALLBACK : 0) | (downvoted ? CHAT_WITH_DOWNVOTE : 0), limit,
					     cursor, &items, &next, e);
	free(cursor);
	return rc < 0 ? rc : req_reply_page(req, "conversations", items, next);
}

static int get_conversation(struct request *req, struct fs_error *e)
{
	json_t *conv;
	unsigned char visitor[32];
	int rc = chat_get_conversation(req->db, req->key.account_id, req->params[0], visitor_scope(req, visitor), &conv,
				       e);
	return rc < 0 ? rc : req_reply(req, 200, conv);
}

static int feedback(struct request *req, struct fs_error *e)
{
	json_t *body = NULL, *out;
	const char *rating = NULL, *comment = NULL;
	int rc;
	if ((rc = req_json_body(req, &body, e)) < 0)
		return rc;
	if ((rc = jfield_text(body, "rating", 1, 8, &rating, e)) < 0 ||
	    (rc = jfield_text(body, "comment", 0, COMMENT_MAX_CHARS, &comment, e)) < 0)
		goto out;
	if (!rating || (strcmp(rating, "up") && strcmp(rating, "down"))) {
		rc = fs_fail(e, FS_EINVAL, "rating is required: \"up\" or \"down\"");
		goto out;
	}
	unsigned char visitor[32];
	if ((rc = chat_feedback(req->db, req->key.account_id, req->params[0], visitor_scope(req, visitor), rating,
				comment, &out, e)) == 0)
		rc = req_reply(req, 200, out);
out:
	json_decref(body);
	return rc;
}

static const struct route routes[] = {
	{ "POST", "/api/v1/chat", chat, ROUTE_SPENDS | ROUTE_VISITOR },
	{ "GET", "/api/v1/chat/conversations", list_conversations, 0 },
	{ "GET", "/api/v1/chat/conversations/{id}", get_conversation, ROUTE_VISITOR },
	{ "POST", "/api/v1/chat/messages/{id}/feedback", feedback, ROUTE_VISITOR },
};

/* The state: the chat engine (its searcher and answerers, each opened on first use). */
static int init(const struct config *cfg, struct db *db, void **state, struct fs_error *e)
{
	(void)db;
	(void)e;
	struct chat_engine *ce = xcalloc(1, sizeof(*ce));
	chat_engine_init(ce, cfg);
	*state = ce;
	return 0;
}

static void release(void *state)
{
	chat_engine_release(state);
	free(state);
}

int main(void)
{
	static const struct app_program program = { "chat", routes, sizeof(routes) / sizeof(routes[0]), init,
						    release };
	return app_run(&program);
}
