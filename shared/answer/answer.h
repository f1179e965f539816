/* Answerers: turn a question, the retrieved passages and the conversation so far into an answer. One interface,
 * backends chosen by name (an agent's `answerer`, else [answerer] backend):
 *   builtin  extractive: the sentences of the best passages that address the question, verbatim (a Q/A
 *            passage answers with its answer); never text the knowledge base does not contain.
 *   openai   an OpenAI-compatible POST {url}/chat/completions with the agent's system prompt, the passages as
 *            numbered context, the last turns of the conversation, and the agent's max_tokens and temperature.
 * An answerer that judges passages itself (ops->judges_passages: builtin, with its fitted span model,
 * answer_span.h) is given every retrieved passage in rank order and the threshold, applies the threshold to its
 * own confidence (the probability that its answer is right) and says cannot_answer under it. Any other answerer
 * is given only the passages whose similarity_score clears the threshold (none: the chat falls back without
 * asking it), and the chat's confidence is then the best of those scores. An answerer that is asked and finds
 * the passages do not answer the question says so (cannot_answer). */
#ifndef FAQSURE_ANSWER_H
#define FAQSURE_ANSWER_H

#include <stddef.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "search/search.h"
#include "text/tokens.h"

struct answer_turn {
	const char *role;    /* "user" | "assistant" */
	const char *content;
};

/* How the agent wants its answers written (the chat fills it from its agent, chat/agent.h); the built-in
 * answerer reads none of it. */
struct answer_style {
	const char *system_prompt; /* NULL = none */
	const char *model;         /* the openai model; NULL or "" = the [answerer] model */
	double temperature;
	int max_tokens;            /* 0 = the upstream's own limit */
};

struct answer_input {
	struct answer_style style;
	const char *question;
	const char *query; /* what retrieval searched with: the question, or for a follow-up the question with the
			      earlier one(s) it refers to; NULL = question */
	const struct answer_turn *history; /* earlier turns, oldest first (already cut to the agent's history_turns) */
	size_t nhistory;
	const struct search_result *sources; /* retrieval's passages in rank order; none without RAG */
	size_t nsources;
	double threshold; /* the agent's (or the request's) similarity_threshold (judges_passages answerers) */
	int use_rag;
};

struct answer_output {
	struct buf text;        /* the answer; initialised by answer_output_init */
	int cannot_answer;      /* the answerer found no answer in what it was given: the chat falls back */
	/* judges_passages answerers: the probability that the answer is right (on cannot_answer, that the best
	 * candidate would have been), and the index of the passage the answer stands on */
	double confidence;
	size_t source;
	long long tokens_prompt, tokens_completion;
	int tokens_from_upstream; /* 1 when the counts are the upstream's usage, 0 when counted by tokens_count */
};

/* Receives the answer's text as it is produced (streaming); non-zero stops the answer with that code. The
 * concatenation of every delta equals out->text when the answer completes without cannot_answer. */
typedef int (*answer_delta_fn)(void *arg, const char *text, size_t len);

struct answerer;

struct answer_ops {
	const char *name;
	int judges_passages; /* see the top of this file */
	int reads_sentences; /* reads the passages' stored sentence vectors (search_params.sentences) */
	int (*new)(const struct config *cfg, struct answerer **out, struct fs_error *e);
	void (*free)(struct answerer *a);
	/* delta may be NULL (no streaming). An upstream that cannot be reached (after the retries) or answers
	 * nonsense is FS_EUNAVAIL, with nothing passed to delta when possible. */
	int (*answer)(struct answerer *a, const struct answer_input *in, answer_delta_fn delta, void *arg,
		      struct answer_output *out, struct fs_error *e);
	/* The most an answer to in can cost (the tokens_prompt + tokens_completion answer() reports), for the
	 * balance to set aside before the work (account.h): never less than the built-in tokenizer's count of it;
	 * an upstream's own count is allowed twice that. */
	long long (*cost_bound)(struct answerer *a, const struct answer_input *in);
};

/* Every backend's struct starts with this. */
struct answerer {
	const struct answer_ops *ops;
};

extern const struct answer_ops answer_builtin_ops;
extern const struct answer_ops answer_openai_ops;

/* How many answerers there are: answer_index gives each a place in [0, ANSWER_BACKENDS). */
#define ANSWER_BACKENDS 2

/* The ops named name, or NULL. */
const struct answer_ops *answer_find(const char *name);
/* The place of the answerer named name, or -1. */
int answer_index(const char *name);
/* FS_EINVAL "unknown <what> 'name' (known: builtin, openai)". */
int answer_unknown(const char *what, const char *name, struct fs_error *e);
/* Opens the backend named name with cfg (which must outlive it); an unknown name is FS_EINVAL. */
int answerer_new(const struct config *cfg, const char *name, struct answerer **out, struct fs_error *e);
void answerer_free(struct answerer *a);
int answerer_answer(struct answerer *a, const struct answer_input *in, answer_delta_fn delta, void *arg,
		    struct answer_output *out, struct fs_error *e);

long long answerer_cost_bound(struct answerer *a, const struct answer_input *in);

void answer_output_init(struct answer_output *o);
void answer_output_release(struct answer_output *o);

/* The openai answerer's reader of a streamed answer (server-sent events) on its own, for the fuzz target: the
 * body arrives in npieces pieces, cut wherever the network cut it. delta (not NULL) and out are as for answer(),
 * the prompt counting 0 tokens. 0, FS_EUNAVAIL with the reason in e for a stream that cannot be read or is not
 * whole, or delta's non-zero code. */
int answer_openai_read_stream(const struct slice *pieces, size_t npieces, answer_delta_fn delta, void *arg,
			      struct answer_output *out, struct fs_error *e);

#endif
