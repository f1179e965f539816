/* Chat: one question in a conversation → a grounded answer, or the agent's fallback message.
 *
 *  chat_prepare   the agent (given, else the conversation's, else the account's default), the conversation
 *                 (given, or a new one), its last turns, the retrieval query, and retrieval itself.
 *  chat_answer    sets aside the most the chat can cost from the balance (402 when it cannot: account.h), the
 *                 answerer (builtin or openai, per agent), confidence and fallback, then one transaction
 *                 that stores the question and the answer (with its sources), counts the conversation's
 *                 messages and debits the account's balance by tokens_used.total.
 * Everything that can be refused (bad ids, an unreachable embedder or store) is refused by chat_prepare, before
 * a streamed answer opens its stream.
 *
 * Follow-up questions: a question that refers back ("how long does that take?": a pronoun or demonstrative
 * such as it/that/those/they, "what about …", or at most one content word) is searched together with the
 * earlier questions of the conversation back to the last one that stood on its own (at most 3).
 *
 * confidence and the threshold: an answerer that judges passages (builtin) gets every retrieved passage and
 * its confidence is the probability that its answer is right (answer_span.h); the threshold applies to that
 * probability. Any other answerer gets the passages whose similarity_score clears the threshold, and the
 * confidence is the best of those scores (when falling back, the best score seen). 0 without RAG or with no
 * passage at all. fallback_triggered: the threshold was not met, the knowledge base is empty, RAG was off with
 * the builtin answerer, or the answerer found no answer in the sources.
 * sources: the passage the answer stands on first, then the other retrieved passages whose similarity_score
 * clears the threshold, in rank order; none on a fallback. */
#ifndef FAQSURE_CHAT_H
#define FAQSURE_CHAT_H

#include <stddef.h>

#include <jansson.h>

#include "answer/answer.h"
#include "chat/agent.h"
#include "core/config.h"
#include "core/db.h"
#include "core/err.h"
#include "core/tally.h"
#include "search/search.h"

#define CHAT_MAX_FOLLOWUP 3
#define CHAT_TITLE_CHARS 100

/* What a process keeps: the searcher and the answerers it has opened (each on first use). */
struct chat_engine {
	const struct config *cfg;
	struct searcher searcher;
	int searcher_ready;
	struct answerer *answerers[ANSWER_BACKENDS]; /* by answer_index, each opened on first use */
	struct terms *terms; /* for the questions' paraphrase signatures (text/signature.h) */
};

struct chat_params {
	const char *message;
	const char *conversation_id; /* NULL: a new conversation */
	const char *agent_id;        /* NULL: the conversation's agent, else the default */
	int use_rag;
	int top_k;                   /* 0: the agent's */
	double threshold;            /* < 0: the agent's */
	int hybrid;                  /* < 0: the agent's */
	/* A visitor's chat (a publishable key): the SHA-256 of the visitor token. A new conversation is theirs; an
	 * existing one must be theirs (else FS_ENOTFOUND, as an unknown one). NULL for a secret key's chat. */
	const unsigned char *visitor_hash;
};

/* One chat from chat_prepare to chat_release. */
struct chat {
	long long account_id;
	struct agent agent;
	char conversation_id[37];
	int new_conversation;
	int visitor;                     /* a visitor's chat: visitor_hash holds their token's SHA-256 */
	unsigned char visitor_hash[32];
	const char *message;
	char *query;                     /* the retrieval query (malloc'd) */
	struct answer_turn *history;     /* oldest first; strings owned by history_res */
	size_t nhistory;
	struct db_res history_res;
	int use_rag, top_k;
	double threshold;
	struct search_result *found;     /* retrieval's top_k in rank order, before the threshold */
	size_t nfound, nsources;         /* nsources: how many of found clear the threshold */
	size_t *shown;                   /* the sources of the answer: indexes into found (nshown of them) */
	size_t nshown;
	double started_ms;

	/* the answer, filled by chat_answer */
	char message_id[37];
	char *answer;
	const char *answerer;            /* which backend answered ("builtin", "openai"), or NULL for a fallback */
	double confidence;
	int fallback;
	long long tokens_prompt, tokens_completion;
	long long processing_ms;
};

void chat_engine_init(struct chat_engine *ce, const struct config *cfg);
void chat_engine_release(struct chat_engine *ce);

/* FS_ENOTFOUND for an unknown agent or conversation (or another account's); FS_EUNAVAIL when retrieval's
 * embedder or store cannot be reached. On failure c needs no chat_release. */
int chat_prepare(struct chat_engine *ce, struct db *db, long long account_id, const struct chat_params *p,
		 double started_ms, struct chat *c, struct fs_error *e);
/* delta (may be NULL) receives the answer's text as it is produced; a fallback gives no deltas. FS_EBALANCE, before
 * any delta, when the balance cannot cover the most the chat can cost; FS_EUNAVAIL when the agent's upstream
 * answerer cannot answer (unless the agent falls back to builtin). */
int chat_answer(struct chat_engine *ce, struct db *db, struct chat *c, answer_delta_fn delta, void *arg,
		struct fs_error *e);
/* The seed's response object (+ message_id, agent_id) for an answered chat. */
json_t *chat_response(const struct chat *c);
void chat_release(struct chat *c);

/* 1 when the question refers back to an earlier one (exposed for tests). */
int chat_is_followup(const char *question);

/* Which conversations a list shows: all, or only those with an answer that fell back and/or one rated down. */
enum chat_filter { CHAT_WITH_FALLBACK = 1 << 0, CHAT_WITH_DOWNVOTE = 1 << 1 };

/* GET /api/v1/chat/conversations: newest first; filter is 0 or chat_filter flags (either kind when both). */
int chat_list_conversations(struct db *db, long long account_id, unsigned filter, long long limit,
			    const char *cursor, json_t **items, char **next_cursor, struct fs_error *e);
/* GET /api/v1/chat/conversations/{id}: the conversation with its messages in order. visitor_hash (may be NULL)
 * restricts it to the visitor's own conversation (FS_ENOTFOUND otherwise). */
int chat_get_conversation(struct db *db, long long account_id, const char *id, const unsigned char *visitor_hash,
			  json_t **out, struct fs_error *e);
/* POST /api/v1/chat/messages/{id}/feedback: rating "up" | "down", comment may be NULL. Only an answer (an
 * assistant message) of the account takes feedback, and with visitor_hash only one of the visitor's own
 * conversation: anything else is FS_ENOTFOUND. */
int chat_feedback(struct db *db, long long account_id, const char *message_id, const unsigned char *visitor_hash,
		  const char *rating, const char *comment, json_t **out, struct fs_error *e);

/* The account's conversations with their messages, cited sources and feedback into t ("conversations",
 * "messages", "cited sources", "feedback ratings"); with apply, deleted, a slice per statement (account
 * delete). */
int chat_purge_account(struct db *db, long long account_id, int apply, struct tally *t, struct fs_error *e);

#endif
