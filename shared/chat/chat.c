/* Chat: retrieval over the conversation, the agent's answerer, confidence and fallback, and the conversation
 * store (chat.h). */
#include "chat/chat.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/account.h"
#include "core/page.h"
#include "core/util.h"
#include "text/signature.h"
#include "text/terms.h"
#include "text/tokens.h"

#include "core/banned.h"

#define ISO(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"
#define MAX_MESSAGES_SHOWN 1000

void chat_engine_init(struct chat_engine *ce, const struct config *cfg)
{
	memset(ce, 0, sizeof(*ce));
	ce->cfg = cfg;
}

void chat_engine_release(struct chat_engine *ce)
{
	if (ce->searcher_ready)
		searcher_release(&ce->searcher);
	for (size_t i = 0; i < ANSWER_BACKENDS; i++)
		answerer_free(ce->answerers[i]);
	terms_free(ce->terms);
	memset(ce, 0, sizeof(*ce));
}

/* ---- follow-up questions ---- */

/* Words that point back at something said before. */
static const char *const referring[] = {
	"it", "its", "it's", "that", "this", "these", "those", "they", "them", "their", "there", "he", "she",
	"him", "her", "his", "hers", "one", "ones", "same", "also", "else", "above", "former", "latter",
};

static void count_word(void *arg, const char *stem, size_t len, int sentence_break)
{
	(void)stem;
	(void)len;
	(void)sentence_break;
	(*(size_t *)arg)++;
}

int chat_is_followup(const char *question)
{
	const char *p = question;
	char word[16];
	size_t nwords = 0;
	int opener = 0;
	while (*p) {
		while (*p && !isalnum((unsigned char)*p) && *p != '\'')
			p++;
		size_t n = 0;
		while (*p && (isalnum((unsigned char)*p) || *p == '\'')) {
			if (n + 1 < sizeof(word))
				word[n++] = (char)tolower((unsigned char)*p);
			p++;
		}
		word[n] = '\0';
		if (!n)
			continue;
		if (nwords == 0 && (!strcmp(word, "and") || !strcmp(word, "but")))
			return 1;
		if (nwords == 0)
			opener = !strcmp(word, "what") || !strcmp(word, "how");
		if (nwords == 1 && opener && !strcmp(word, "about")) /* "what about …?" */
			return 1;
		for (size_t i = 0; i < sizeof(referring) / sizeof(referring[0]); i++)
			if (!strcmp(word, referring[i]))
				return 1;
		nwords++;
	}
	/* "Costs?" or "for how long?": too little to search on its own */
	struct terms *t;
	size_t content = 0;
	if (terms_new(&t, NULL) < 0)
		return 0;
	terms_each(t, question, count_word, &content);
	terms_free(t);
	return content <= 1;
}

/* The retrieval query: the question, preceded by the earlier questions it leans on. */
static char *retrieval_query(const struct chat *c)
{
	const char *parts[CHAT_MAX_FOLLOWUP];
	size_t nparts = 0;
	struct buf q;
	buf_init(&q, BUF_NO_LIMIT);
	if (chat_is_followup(c->message)) {
		for (size_t i = c->nhistory; i-- > 0 && nparts < CHAT_MAX_FOLLOWUP - 1;) {
			if (strcmp(c->history[i].role, "user") != 0)
				continue;
			parts[nparts++] = c->history[i].content;
			if (!chat_is_followup(c->history[i].content))
				break;
		}
	}
	while (nparts-- > 0)
		buf_addf(&q, "%s\n", parts[nparts]);
	buf_adds(&q, c->message);
	return buf_take(&q, NULL);
}

/* ---- prepare ---- */

static int load_history(struct db *db, struct chat *c, struct fs_error *e)
{
	int turns = c->agent.history_turns;
	if (c->new_conversation || turns <= 0)
		return 0;
	int rc = db_exec(db, &c->history_res, e,
			 "SELECT role, content FROM messages WHERE conversation_id = ? AND account_id = ?"
			 " ORDER BY seq DESC LIMIT ?",
			 "sii", c->conversation_id, c->account_id, (long long)turns * 2);
	if (rc < 0)
		return rc;
	size_t n = c->history_res.nrows;
	c->history = xcalloc(n ? n : 1, sizeof(*c->history));
	for (size_t i = 0; i < n; i++) {
		c->history[n - 1 - i].role = db_cell(&c->history_res, i, 0);
		c->history[n - 1 - i].content = db_cell(&c->history_res, i, 1);
	}
	/* a window that starts with an answer lost its question: drop it */
	size_t skip = n && strcmp(c->history[0].role, "assistant") == 0;
	memmove(c->history, c->history + skip, (n - skip) * sizeof(*c->history));
	c->nhistory = n - skip;
	return 0;
}

/* The conversation's agent id into agent_id ("" when it has none any more). */
static int load_conversation(struct db *db, struct chat *c, const char *id, char agent_id[37], struct fs_error *e)
{
	struct db_res r;
	if (!util_is_uuid(id))
		return fs_fail(e, FS_ENOTFOUND, "no conversation '%s'", id);
	int rc = c->visitor ? db_exec(db, &r, e,
				      "SELECT agent_id FROM conversations WHERE id = ? AND account_id = ? AND visitor_hash = ?",
				      "sib", id, c->account_id, c->visitor_hash, sizeof(c->visitor_hash))
			    : db_exec(db, &r, e, "SELECT agent_id FROM conversations WHERE id = ? AND account_id = ?", "si",
				      id, c->account_id);
	if (rc < 0)
		return rc;
	if (r.nrows == 0) {
		rc = fs_fail(e, FS_ENOTFOUND, "no conversation '%s'", id);
	} else {
		snprintf(agent_id, 37, "%s", db_cell(&r, 0, 0) ? db_cell(&r, 0, 0) : "");
		snprintf(c->conversation_id, sizeof(c->conversation_id), "%s", id);
	}
	db_res_release(&r);
	return rc;
}

static int pick_agent(struct db *db, struct chat *c, const char *wanted, const char *conversation_agent,
		      struct fs_error *e)
{
	if (wanted) {
		if (!util_is_uuid(wanted))
			return fs_fail(e, FS_ENOTFOUND, "no agent '%s'", wanted);
		return agent_load(db, c->account_id, wanted, &c->agent, e);
	}
	if (conversation_agent[0]) {
		int rc = agent_load(db, c->account_id, conversation_agent, &c->agent, e);
		if (rc != FS_ENOTFOUND)
			return rc;
	}
	return agent_default(db, c->account_id, &c->agent, e);
}

/* The answerer that answers c: its agent's, else the configured one. */
static const char *answerer_name(const struct chat_engine *ce, const struct chat *c)
{
	return c->agent.answerer ? c->agent.answerer : ce->cfg->answerer_backend;
}

/* Whether retrieval brings the passages' sentence vectors: when the agent's answerer reads them. An agent that
 * falls back to such an answerer from an unreachable upstream does without: that answerer computes them. */
static int reads_sentences(const char *name)
{
	const struct answer_ops *ops = answer_find(name);
	return ops && ops->reads_sentences;
}

int chat_prepare(struct chat_engine *ce, struct db *db, long long account_id, const struct chat_params *p,
		 double started_ms, struct chat *c, struct fs_error *e)
{
	char conversation_agent[37] = "";
	int rc;
	memset(c, 0, sizeof(*c));
	c->account_id = account_id;
	c->message = p->message;
	c->started_ms = started_ms;
	c->use_rag = p->use_rag;
	if (p->visitor_hash) {
		c->visitor = 1;
		memcpy(c->visitor_hash, p->visitor_hash, sizeof(c->visitor_hash));
	}
	if (p->conversation_id) {
		if ((rc = load_conversation(db, c, p->conversation_id, conversation_agent, e)) < 0)
			goto fail;
	} else {
		util_uuid(c->conversation_id);
		c->new_conversation = 1;
	}
	if ((rc = pick_agent(db, c, p->agent_id, conversation_agent, e)) < 0)
		goto fail;
	c->top_k = p->top_k > 0 ? p->top_k : c->agent.top_k;
	c->threshold = p->threshold >= 0 ? p->threshold : c->agent.threshold;
	if ((rc = load_history(db, c, e)) < 0)
		goto fail;
	c->query = retrieval_query(c);
	if (!c->use_rag)
		return 0;
	if (!ce->searcher_ready) {
		if ((rc = searcher_init(&ce->searcher, ce->cfg, db, e)) < 0)
			goto fail;
		ce->searcher_ready = 1;
	}
	struct search_params sp = {
		.query = c->query,
		.top_k = c->top_k,
		.threshold = 0, /* the threshold is applied here, so a fallback still knows how close it came */
		.hybrid = p->hybrid >= 0 ? p->hybrid : c->agent.use_hybrid,
		.sentences = reads_sentences(answerer_name(ce, c)),
	};
	long long search_tokens = 0;
	if ((rc = search_run(&ce->searcher, db, account_id, &sp, &c->found, &c->nfound, &search_tokens, e)) < 0)
		goto fail;
	for (size_t i = 0; i < c->nfound; i++)
		c->nsources += c->found[i].score >= c->threshold;
	return 0;
fail:
	chat_release(c);
	return rc;
}

/* ---- answer ---- */

struct delta_count {
	answer_delta_fn fn;
	void *arg;
	size_t sent;
};

static int count_delta(void *arg, const char *text, size_t len)
{
	struct delta_count *d = arg;
	d->sent += len;
	return d->fn(d->arg, text, len);
}

static int open_answerer(struct chat_engine *ce, const char *name, struct answerer **out, struct fs_error *e)
{
	int i = answer_index(name);
	if (i < 0) {
		answer_unknown("answerer", name, e);
		e->code = FS_EUNAVAIL; /* the server's configuration, not the client's */
		return FS_EUNAVAIL;
	}
	struct answerer **slot = &ce->answerers[i];
	if (!*slot) {
		int rc = answerer_new(ce->cfg, name, slot, e);
		if (rc < 0) /* a misconfigured upstream is the server's problem, not the client's */
			return rc == FS_EINVAL ? FS_EUNAVAIL : rc;
	}
	*out = *slot;
	return 0;
}

/* The passages an answerer is given: all of them in rank order to one that judges passages, else those that
 * clear the threshold (shallow copies into *over, which the caller frees; their strings stay found's). */
static void passages_for(const struct chat *c, const struct answerer *a, struct search_result **over,
			 const struct search_result **sources, size_t *n)
{
	*over = NULL;
	if (!c->use_rag) {
		*sources = NULL;
		*n = 0;
	} else if (a->ops->judges_passages) {
		*sources = c->found;
		*n = c->nfound;
	} else {
		*over = xcalloc(c->nsources ? c->nsources : 1, sizeof(**over));
		*n = 0;
		for (size_t i = 0; i < c->nfound; i++)
			if (c->found[i].score >= c->threshold)
				(*over)[(*n)++] = c->found[i];
		*sources = *over;
	}
}

/* What answerer a is given for c (passages_for's copies in *over, which the caller frees). */
static void input_for(const struct chat *c, const struct answerer *a, struct answer_input *in,
		      struct search_result **over)
{
	*in = (struct answer_input){
		.style = { c->agent.system_prompt, c->agent.model, c->agent.temperature, c->agent.max_tokens },
		.question = c->message,
		.query = c->query,
		.history = c->history,
		.nhistory = c->nhistory,
		.threshold = c->threshold,
		.use_rag = c->use_rag,
	};
	passages_for(c, a, over, &in->sources, &in->nsources);
}

/* The most the chat can cost, set aside from the balance before any answerer runs: the bound of its answerer,
 * of the one it falls back to when an upstream stays away, and of a fallback answer (the question and the
 * fallback message). An answerer that cannot be opened counts nothing: answering fails the same way. */
static long long cost_bound(struct chat_engine *ce, const struct chat *c, const char *name)
{
	const struct answer_ops *next = answer_find(c->agent.upstream_fallback);
	const char *names[2] = { name, next && next != answer_find(name) ? next->name : NULL };
	long long most = tokens_count(c->message) + tokens_count(c->agent.fallback_message);
	for (size_t i = 0; i < 2; i++) {
		struct answerer *a;
		struct answer_input in;
		struct search_result *over = NULL;
		struct fs_error ignored;
		if (!names[i] || open_answerer(ce, names[i], &a, &ignored) < 0)
			continue;
		input_for(c, a, &in, &over);
		long long n = answerer_cost_bound(a, &in);
		most = n > most ? n : most;
		free(over);
	}
	return most;
}

/* How long a chat's hold may outlive its process: every try of both answerers, with room to spare. */
static long long hold_seconds(const struct config *cfg)
{
	return 60 + 2 * (cfg->answerer_timeout_ms / 1000 + 1) * (cfg->answerer_max_retries + 1);
}

static int run_answerer(struct chat_engine *ce, struct chat *c, const char *name, answer_delta_fn delta, void *arg,
			struct answer_output *out, size_t *sent, int *judged, struct fs_error *e)
{
	struct answerer *a = NULL;
	struct search_result *over = NULL;
	struct delta_count dc = { delta, arg, 0 };
	struct answer_input in;
	int rc = open_answerer(ce, name, &a, e);
	if (rc < 0)
		return rc;
	*judged = a->ops->judges_passages;
	input_for(c, a, &in, &over);
	if (in.nsources == 0 && c->use_rag)
		out->cannot_answer = 1; /* nothing to answer from: the answerer is not asked */
	else
		rc = answerer_answer(a, &in, delta ? count_delta : NULL, &dc, out, e);
	free(over);
	*sent += dc.sent;
	return rc;
}

/* The first question with its whitespace collapsed, cut to CHAT_TITLE_CHARS characters (never inside one). */
static void title_of(const char *message, char *out, size_t size)
{
	size_t o = 0, chars = 0;
	int space = 0;
	for (const unsigned char *p = (const unsigned char *)message; *p; p++) {
		if (isspace(*p)) {
			space = o > 0;
			continue;
		}
		int starts = (*p & 0xC0) != 0x80;
		if (starts && chars + space >= CHAT_TITLE_CHARS)
			break;
		if (o + 2 >= size) /* size holds CHAT_TITLE_CHARS characters of 4 bytes: never reached */
			break;
		if (space) {
			out[o++] = ' ';
			chars++;
			space = 0;
		}
		chars += starts;
		out[o++] = (char)*p;
	}
	out[o] = '\0';
}

static json_t *source_object(const struct search_result *r)
{
	return json_pack("{s:s, s:s, s:f, s:s, s:s, s:O}", "chunk_id", r->chunk_id, "text", r->text, "similarity_score",
			 r->score, "document_id", r->document_id, "document_filename", r->filename, "metadata",
			 r->metadata);
}

static json_t *sources_array(const struct chat *c)
{
	json_t *a = json_array();
	if (!c->fallback)
		for (size_t i = 0; i < c->nshown; i++)
			json_array_append_new(a, source_object(&c->found[c->shown[i]]));
	return a;
}

/* The answer's sources: the passage it stands on (first_source, when < nfound), then the others that clear the
 * threshold, in rank order. */
static void pick_shown(struct chat *c, size_t first_source)
{
	free(c->shown);
	c->shown = xcalloc(c->nfound ? c->nfound : 1, sizeof(*c->shown));
	c->nshown = 0;
	if (first_source < c->nfound)
		c->shown[c->nshown++] = first_source;
	for (size_t i = 0; i < c->nfound; i++)
		if (i != first_source && c->found[i].score >= c->threshold)
			c->shown[c->nshown++] = i;
}

/* Stores the question and the answer, counts them in the conversation and debits the balance (releasing the
 * chat's hold): one transaction. */
static int store_turn(struct db *db, struct chat *c, long long signature, const struct account_hold *hold,
		      struct fs_error *e)
{
	char question_id[37], title[CHAT_TITLE_CHARS * 4 + 8], confidence[32];
	struct db_res r;
	json_t *shown = sources_array(c);
	char *sources = json_dumps(shown, JSON_COMPACT);
	int rc;
	json_decref(shown);
	util_uuid(question_id);
	snprintf(confidence, sizeof(confidence), "%.4f", c->confidence);
	if ((rc = db_begin(db, e)) < 0)
		goto out;
	/* An account with a balance: its row is locked first. Inserting a conversation takes a shared lock on it
	 * (foreign key) and the debit an exclusive one, so two chats that both took the shared lock would deadlock;
	 * the account's chats are stored one at a time instead. An unlimited account has nothing to debit and no
	 * lock: its chats are stored side by side. */
	long long balance;
	if ((rc = account_balance(db, c->account_id, &balance, e)) < 0 ||
	    (balance != ACCOUNT_UNLIMITED && (rc = account_lock(db, c->account_id, e)) < 0))
		goto fail;
	long long seq = 0;
	if (c->new_conversation) {
		title_of(c->message, title, sizeof(title));
		if ((rc = db_exec(db, NULL, e,
				  "INSERT INTO conversations (id, account_id, agent_id, visitor_hash, title, message_count)"
				  " VALUES (?, ?, ?, ?, ?, 2)",
				  "sisbs", c->conversation_id, c->account_id, c->agent.id,
				  c->visitor ? c->visitor_hash : NULL, sizeof(c->visitor_hash), title)) < 0)
			goto fail;
	} else {
		/* the row lock orders two questions asked at once in one conversation */
		if ((rc = db_exec(db, &r, e,
				  "SELECT message_count FROM conversations WHERE id = ? AND account_id = ? FOR UPDATE", "si",
				  c->conversation_id, c->account_id)) < 0)
			goto fail;
		seq = r.nrows ? db_cell_ll(&r, 0, 0, 0) : -1;
		db_res_release(&r);
		if (seq < 0) {
			rc = fs_fail(e, FS_ENOTFOUND, "conversation '%s' was deleted meanwhile", c->conversation_id);
			goto fail;
		}
		if ((rc = db_exec(db, NULL, e,
				  "UPDATE conversations SET message_count = message_count + 2,"
				  " updated_at = CURRENT_TIMESTAMP(6) WHERE id = ?",
				  "s", c->conversation_id)) < 0)
			goto fail;
	}
	if ((rc = db_exec(db, NULL, e,
			  "INSERT INTO messages (id, account_id, conversation_id, seq, role, content, question_id,"
			  " agent_id, answerer, sources, confidence, fallback, use_rag, tokens_prompt, tokens_completion,"
			  " processing_ms, signature, wording) VALUES"
			  " (?, ?, ?, ?, 'user', ?, NULL, ?, NULL, NULL, NULL, ?, ?, 0, 0, 0, ?, ?),"
			  " (?, ?, ?, ?, 'assistant', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
			  "sisissiiii" "sisissssssiiiii", question_id, c->account_id, c->conversation_id, seq + 1,
			  c->message, c->agent.id, (long long)c->fallback, (long long)c->use_rag, signature,
			  (long long)signature_wording(c->message),
			  c->message_id, c->account_id,
			  c->conversation_id, seq + 2, c->answer, question_id, c->agent.id, c->answerer, sources,
			  confidence, (long long)c->fallback, (long long)c->use_rag, c->tokens_prompt,
			  c->tokens_completion, c->processing_ms)) < 0)
		goto fail;
	if (!c->fallback && c->nshown) {
		struct db_param *params = xcalloc(c->nshown * 6, sizeof(*params));
		char(*scores)[32] = xcalloc(c->nshown, sizeof(*scores));
		for (size_t i = 0; i < c->nshown; i++) {
			struct db_param *p = &params[i * 6];
			const struct search_result *src = &c->found[c->shown[i]];
			snprintf(scores[i], sizeof(scores[i]), "%.4f", src->score);
			p[0] = (struct db_param){ .type = 's', .ptr = c->message_id };
			p[1] = (struct db_param){ .type = 'i', .i = (long long)i + 1 };
			p[2] = (struct db_param){ .type = 'i', .i = c->account_id };
			p[3] = (struct db_param){ .type = 's', .ptr = src->document_id };
			p[4] = (struct db_param){ .type = 's', .ptr = src->chunk_id };
			p[5] = (struct db_param){ .type = 's', .ptr = scores[i] };
		}
		rc = db_insert_rows(db,
				    "INSERT INTO message_sources (message_id, pos, account_id, document_id, chunk_id,"
				    " score) VALUES ",
				    "(?, ?, ?, ?, ?, ?)", params, 6, c->nshown, 50, e);
		free(params);
		free(scores);
		if (rc < 0)
			goto fail;
	}
	/* The hold covers the built-in counts; an upstream that reports more than the hold, on a balance that cannot
	 * cover the rest, is charged what the balance has (partial): never below zero. */
	long long total = c->tokens_prompt + c->tokens_completion, taken = total;
	if ((balance != ACCOUNT_UNLIMITED && (rc = account_debit(db, c->account_id, total, hold, 1, &taken, e)) < 0) ||
	    (rc = db_commit(db, e)) < 0)
		goto fail;
	if (taken < total)
		fprintf(stderr, "faqsure chat: account %lld: answer %s cost %lld tokens, the balance covered %lld\n",
			c->account_id, c->message_id, total, taken);
	goto out;
fail:
	db_rollback(db);
out:
	free(sources);
	return rc;
}

/* How many times a turn is stored when the database acknowledges it and does not hold it, or went away while it
 * was being stored and does not hold it once back (chat_answer). */
#define TURN_STORES 3
/* How long an answer that is ready waits for a database that went away while it was being stored. */
#define STORE_WAIT_MS 15000

/* 1 when the turn is stored, 0 when it is not, FS_EUNAVAIL when the database cannot say. */
static int turn_stored(struct db *db, const char *message_id, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e, "SELECT 1 FROM messages WHERE id = ?", "s", message_id);
	if (rc < 0)
		return rc;
	rc = r.nrows > 0;
	db_res_release(&r);
	return rc;
}

/* Whether the stored turn is there (read on the node that stored it: with wsrep_sync_wait it sees its commit).
 * When the read itself fails, the COMMIT's word is taken. */
static int turn_kept(struct db *db, const char *message_id)
{
	struct fs_error ignored;
	return turn_stored(db, message_id, &ignored) != 0;
}

static void fall_back(struct chat *c)
{
	free(c->answer);
	c->answer = xstrdup(c->agent.fallback_message);
	c->fallback = 1;
	c->answerer = NULL;
	c->tokens_prompt = tokens_count(c->message);
	c->tokens_completion = tokens_count(c->answer);
}

struct turn {
	struct chat *c;
	long long signature;
	const struct account_hold *hold;
};

static int store_turn_once(struct db *db, void *arg, struct fs_error *e)
{
	struct turn *t = arg;
	return store_turn(db, t->c, t->signature, t->hold, e);
}

int chat_answer(struct chat_engine *ce, struct db *db, struct chat *c, answer_delta_fn delta, void *arg,
		struct fs_error *e)
{
	const char *name = answerer_name(ce, c);
	struct answer_output out;
	size_t sent = 0;
	int rc = 0;

	struct account_hold hold = { 0 };
	util_uuid(c->message_id);
	answer_output_init(&out);
	/* 402 before any answerer runs (and before a stream opens) when the balance cannot cover the most this
	 * chat can cost; the exact cost is taken when the answer is stored */
	if ((rc = account_hold(db, c->account_id, cost_bound(ce, c, name), hold_seconds(ce->cfg), &hold, e)) < 0)
		goto out;
	int judged = 0;
	rc = run_answerer(ce, c, name, delta, arg, &out, &sent, &judged, e);
	/* upstream_fallback names the answerer to try next ("error" names none) */
	const struct answer_ops *fallback = answer_find(c->agent.upstream_fallback);
	if (rc == FS_EUNAVAIL && sent == 0 && fallback && fallback != answer_find(name)) {
		fprintf(stderr, "faqsure chat: answerer %s unavailable, answering with %s: %s\n", name, fallback->name,
			e->msg);
		answer_output_release(&out);
		answer_output_init(&out);
		name = fallback->name;
		rc = run_answerer(ce, c, name, delta, arg, &out, &sent, &judged, e);
	}
	if (rc < 0)
		goto out;
	if (!c->use_rag) {
		c->confidence = 0;
	} else if (judged) {
		c->confidence = out.confidence;
	} else { /* the best score seen: over the threshold when answered, under it when not */
		c->confidence = 0;
		for (size_t i = 0; i < c->nfound; i++)
			if (c->found[i].score > c->confidence)
				c->confidence = c->found[i].score;
	}
	c->confidence = round(c->confidence * 10000) / 10000; /* as stored, to 4 places */
	if (out.cannot_answer) {
		fall_back(c);
	} else {
		c->answer = buf_take(&out.text, NULL);
		c->answerer = name;
		c->tokens_prompt = out.tokens_prompt;
		c->tokens_completion = out.tokens_completion;
		pick_shown(c, c->use_rag && judged ? out.source : c->nfound);
	}
	c->processing_ms = (long long)(util_now_ms() - c->started_ms + 0.5);
	if (!ce->terms && (rc = terms_new(&ce->terms, e)) < 0)
		goto out;
	long long signature = (long long)signature_question(ce->terms, c->message);
	struct turn t = { c, signature, &hold };
	int unsure = 0; /* an earlier try lost the database with its outcome unknown */
	for (int tries = 1;; tries++) {
		rc = db_retry(db, store_turn_once, &t, e);
		if (rc == FS_ECONFLICT && unsure && turn_stored(db, c->message_id, e) == 1) {
			/* The earlier try's COMMIT was still running in the server when the database was looked at
			 * (a client that goes away does not stop it): this try met its rows, so it went through. */
			fprintf(stderr, "faqsure chat: answer %s was stored by the try whose reply was lost\n", c->message_id);
			rc = 0;
		}
		if (rc == 0 && turn_kept(db, c->message_id)) {
			hold.id[0] = '\0'; /* released by the debit */
			break;
		}
		if (rc == 0) {
			/* A COMMIT that answered OK for a turn the node does not hold: seen on Galera before db_commit
			 * learnt to notice a transaction ended unseen (the turn gone, its debit committed alone; the
			 * debit now refuses to run outside its transaction). Storing it again is safe; never answered
			 * as stored when it is not. */
			fprintf(stderr, "faqsure chat: the database acknowledged answer %s and does not hold it; %s\n",
				c->message_id, tries < TURN_STORES ? "storing it again" : "given up");
		} else if (rc == FS_EUNAVAIL) {
			/* The database went away while the turn was being stored (restarted, a cluster node lost): its
			 * COMMIT may have gone through with only the answer lost, or nothing was kept. A 503 for a turn
			 * that was kept and debited would have the client ask, and pay, again: the answer is ready, so
			 * it waits for the database and looks. */
			fprintf(stderr, "faqsure chat: the database went away while answer %s was being stored; waiting up"
				" to %d s for it\n", c->message_id, STORE_WAIT_MS / 1000);
			unsure = 1;
			int kept = db_await(db, STORE_WAIT_MS, e);
			if (kept == 0)
				kept = turn_stored(db, c->message_id, e);
			if (kept < 0) {
				rc = fs_fail(e, FS_EUNAVAIL,
					     "the database went away while the answer was being stored and is still"
					     " unavailable; message %s of conversation %s may have been stored: look for it"
					     " there before asking again",
					     c->message_id, c->conversation_id);
				break;
			}
			if (kept) {
				fprintf(stderr, "faqsure chat: answer %s was stored before the database went away\n",
					c->message_id);
				rc = 0;
				hold.id[0] = '\0';
				break;
			}
		} else {
			break;
		}
		if (tries == TURN_STORES) {
			rc = fs_fail(e, FS_EUNAVAIL, "the answer could not be stored");
			break;
		}
	}
out:
	account_release(db, &hold);
	answer_output_release(&out);
	return rc;
}

json_t *chat_response(const struct chat *c)
{
	long long total = c->tokens_prompt + c->tokens_completion;
	return json_pack("{s:s, s:s, s:s, s:o, s:f, s:b, s:{s:I, s:I, s:I}, s:I, s:s}", "conversation_id",
			 c->conversation_id, "message_id", c->message_id, "message", c->answer, "sources",
			 sources_array(c), "confidence", c->confidence, "fallback_triggered", c->fallback, "tokens_used",
			 "prompt", (json_int_t)c->tokens_prompt, "completion", (json_int_t)c->tokens_completion, "total",
			 (json_int_t)total, "processing_time_ms", (json_int_t)c->processing_ms, "agent_id", c->agent.id);
}

void chat_release(struct chat *c)
{
	agent_release(&c->agent);
	free(c->query);
	free(c->history);
	db_res_release(&c->history_res);
	search_results_free(c->found, c->nfound);
	free(c->shown);
	free(c->answer);
	memset(c, 0, sizeof(*c));
}

/* ---- conversations and feedback ---- */

#define CONVERSATION_COLUMNS                                                                                      \
	"id, agent_id, title, message_count, " ISO("created_at") ", " ISO("updated_at") ", UNIX_TIMESTAMP(created_at),"  \
	" visitor_hash IS NOT NULL"
/* The list filters (enum chat_filter), as conditions on a row of conversations. */
#define WITH_FALLBACK                                                                                             \
	"EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id AND m.role = 'assistant'"      \
	" AND m.fallback = 1)"
#define WITH_DOWNVOTE                                                                                             \
	"EXISTS (SELECT 1 FROM messages m JOIN message_feedback f ON f.message_id = m.id"                          \
	" WHERE m.conversation_id = conversations.id AND f.rating = 'down')"

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *conversation_object(const struct db_res *r, size_t i)
{
	return json_pack("{s:s, s:o, s:s, s:I, s:b, s:s, s:s}", "id", db_cell(r, i, 0), "agent_id",
			 str_or_null(db_cell(r, i, 1)), "title", db_cell(r, i, 2), "message_count",
			 (json_int_t)db_cell_ll(r, i, 3, 0), "visitor", db_cell_ll(r, i, 7, 0) != 0, "created_at",
			 db_cell(r, i, 4), "updated_at", db_cell(r, i, 5));
}

int chat_list_conversations(struct db *db, long long account_id, unsigned filter, long long limit,
			    const char *cursor, json_t **items, char **next_cursor, struct fs_error *e)
{
	static const char *const where[] = { NULL, WITH_FALLBACK, WITH_DOWNVOTE, WITH_FALLBACK " OR " WITH_DOWNVOTE };
	struct db_res r;
	int rc = page_select_where(db, &r, CONVERSATION_COLUMNS, "conversations", where[filter & 3], account_id, limit,
				   cursor, 0, e);
	*next_cursor = NULL;
	if (rc < 0)
		return rc;
	*items = json_array();
	for (size_t i = 0; i < page_shown(&r, limit); i++)
		json_array_append_new(*items, conversation_object(&r, i));
	*next_cursor = page_next(&r, limit, 6);
	db_res_release(&r);
	return 0;
}

static json_t *message_object(const struct db_res *r, size_t i)
{
	json_t *m = json_pack("{s:s, s:s, s:s, s:s}", "id", db_cell(r, i, 0), "role", db_cell(r, i, 1), "content",
			      db_cell(r, i, 2), "created_at", db_cell(r, i, 3));
	if (strcmp(db_cell(r, i, 1), "assistant") != 0)
		return m;
	json_t *sources = db_cell(r, i, 4) ? json_loads(db_cell(r, i, 4), 0, NULL) : NULL;
	long long tp = db_cell_ll(r, i, 7, 0), tc = db_cell_ll(r, i, 8, 0);
	json_object_set_new(m, "sources", sources ? sources : json_array());
	json_object_set_new(m, "confidence", json_real(db_cell(r, i, 5) ? strtod(db_cell(r, i, 5), NULL) : 0));
	json_object_set_new(m, "fallback_triggered", json_boolean(db_cell_ll(r, i, 6, 0)));
	json_object_set_new(m, "tokens_used", json_pack("{s:I, s:I, s:I}", "prompt", (json_int_t)tp, "completion",
							(json_int_t)tc, "total", (json_int_t)(tp + tc)));
	json_object_set_new(m, "processing_time_ms", json_integer(db_cell_ll(r, i, 9, 0)));
	json_object_set_new(m, "agent_id", str_or_null(db_cell(r, i, 10)));
	json_object_set_new(m, "feedback",
			    db_cell(r, i, 11) ? json_pack("{s:s, s:o}", "rating", db_cell(r, i, 11), "comment",
							  str_or_null(db_cell(r, i, 12)))
					      : json_null());
	return m;
}

int chat_get_conversation(struct db *db, long long account_id, const char *id, const unsigned char *visitor_hash,
			  json_t **out, struct fs_error *e)
{
	struct db_res r, m;
	if (!util_is_uuid(id))
		return fs_fail(e, FS_ENOTFOUND, "no conversation '%s'", id);
	int rc = visitor_hash ? db_exec(db, &r, e,
					"SELECT " CONVERSATION_COLUMNS " FROM conversations WHERE id = ? AND account_id = ?"
					" AND visitor_hash = ?", "sib", id, account_id, visitor_hash, (size_t)32)
			      : db_exec(db, &r, e,
					"SELECT " CONVERSATION_COLUMNS " FROM conversations WHERE id = ? AND account_id = ?",
					"si", id, account_id);
	if (rc < 0)
		return rc;
	if (r.nrows == 0) {
		db_res_release(&r);
		return fs_fail(e, FS_ENOTFOUND, "no conversation '%s'", id);
	}
	*out = conversation_object(&r, 0);
	db_res_release(&r);
	rc = db_exec(db, &m, e,
		     "SELECT m.id, m.role, m.content, " ISO("m.created_at") ", m.sources, CAST(m.confidence AS CHAR), m.fallback,"
		     " m.tokens_prompt, m.tokens_completion, m.processing_ms, m.agent_id, f.rating, f.comment"
		     " FROM messages m LEFT JOIN message_feedback f ON f.message_id = m.id"
		     " WHERE m.conversation_id = ? AND m.account_id = ? ORDER BY m.seq LIMIT ?",
		     "sii", id, account_id, (long long)MAX_MESSAGES_SHOWN);
	if (rc < 0) {
		json_decref(*out);
		*out = NULL;
		return rc;
	}
	json_t *messages = json_array();
	for (size_t i = 0; i < m.nrows; i++)
		json_array_append_new(messages, message_object(&m, i));
	json_object_set_new(*out, "messages", messages);
	db_res_release(&m);
	return 0;
}

int chat_feedback(struct db *db, long long account_id, const char *message_id, const unsigned char *visitor_hash,
		  const char *rating, const char *comment, json_t **out, struct fs_error *e)
{
	struct db_res r;
	if (!util_is_uuid(message_id))
		return fs_fail(e, FS_ENOTFOUND, "no answer '%s'", message_id);
	int rc = visitor_hash ? db_exec(db, &r, e,
					"SELECT m.conversation_id FROM messages m JOIN conversations c ON c.id = m.conversation_id"
					" WHERE m.id = ? AND m.account_id = ? AND m.role = 'assistant' AND c.visitor_hash = ?",
					"sib", message_id, account_id, visitor_hash, (size_t)32)
			      : db_exec(db, &r, e,
					"SELECT conversation_id FROM messages WHERE id = ? AND account_id = ? AND role = 'assistant'",
					"si", message_id, account_id);
	if (rc < 0)
		return rc;
	size_t found = r.nrows;
	db_res_release(&r);
	if (!found)
		return fs_fail(e, FS_ENOTFOUND, "no answer '%s' (feedback is given on an answer's message_id)",
			       message_id);
	if ((rc = db_exec(db, NULL, e,
			  "INSERT INTO message_feedback (message_id, account_id, rating, comment) VALUES (?, ?, ?, ?)"
			  " ON DUPLICATE KEY UPDATE rating = VALUES(rating), comment = VALUES(comment)",
			  "siss", message_id, account_id, rating, comment)) < 0)
		return rc;
	if ((rc = db_exec(db, &r, e,
			  "SELECT rating, comment, " ISO("created_at") ", " ISO("updated_at")
			  " FROM message_feedback WHERE message_id = ?",
			  "s", message_id)) < 0)
		return rc;
	*out = json_pack("{s:s, s:s, s:o, s:s, s:s}", "message_id", message_id, "rating", db_cell(&r, 0, 0), "comment",
			 str_or_null(db_cell(&r, 0, 1)), "created_at", db_cell(&r, 0, 2), "updated_at",
			 db_cell(&r, 0, 3));
	db_res_release(&r);
	return 0;
}

/* ---- deleting an account ---- */

int chat_purge_account(struct db *db, long long account_id, int apply, struct tally *t, struct fs_error *e)
{
	/* children first, so each count is of what that table lost (a conversation takes what is left with it) */
	static const char *const tables[][2] = { { "message_feedback", "feedback ratings" },
						 { "message_sources", "cited sources" },
						 { "messages", "messages" },
						 { "conversations", "conversations" } };
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		int rc = db_purge_rows(db, tables[i][0], account_id, apply, t, tables[i][1], e);
		if (rc < 0)
			return rc;
	}
	return 0;
}
