/* Agents: a persona an account answers with — its system prompt, fallback message, retrieval defaults (top_k,
 * threshold, hybrid) and answerer settings. Every account has exactly one default agent (agents.default_for),
 * created on first need with the defaults below. */
#ifndef FAQSURE_AGENT_H
#define FAQSURE_AGENT_H

#include <jansson.h>

#include "core/db.h"
#include "core/err.h"
#include "core/tally.h"

#define AGENT_DEFAULT_NAME "Default"
#define AGENT_DEFAULT_SYSTEM_PROMPT                                                                               \
	"You are a helpful support assistant. Answer the user's question using only the numbered context "       \
	"passages from the knowledge base. Be concise. If the context does not contain the answer, say that you " \
	"do not know."
#define AGENT_DEFAULT_FALLBACK                                                                                    \
	"I'm sorry, I couldn't find an answer to that in our knowledge base. Please rephrase your question or "  \
	"contact our support team."
#define AGENT_DEFAULT_WELCOME "Hi! Ask me anything about our documentation."
#define AGENT_WELCOME_MAX 1000
#define AGENT_NAME_MAX 100
#define AGENT_PROMPT_MAX 8000
#define AGENT_MODEL_MAX 128

struct agent {
	char id[37];
	long long account_id;
	int is_default;
	char *name;
	char *system_prompt;
	char *fallback_message;
	char *welcome_message; /* the first line a chat widget shows */
	int top_k;            /* 1–50 */
	double threshold;     /* 0–1 */
	int use_hybrid;
	char *answerer;       /* "builtin" | "openai", or NULL: the [answerer] backend */
	char *model;          /* openai model, or NULL: the [answerer] model */
	double temperature;   /* 0–2 */
	int max_tokens;       /* 1–32768 */
	int history_turns;    /* earlier question/answer pairs given to the answerer and to retrieval, 0–20 */
	char *upstream_fallback; /* "error" (503 when the upstream stays unavailable) | "builtin" */
	char created_at[32], updated_at[32]; /* ISO 8601 UTC */
};

/* The account's default agent, created (with the defaults above) when the account has none yet. Safe against
 * other processes doing the same at once (the unique default_for decides; the loser reads the winner's). Call it
 * outside a transaction, so that re-read sees the other process's row. */
int agent_default(struct db *db, long long account_id, struct agent *out, struct fs_error *e);
/* One of the account's agents by id; FS_ENOTFOUND for an unknown id or another account's. */
int agent_load(struct db *db, long long account_id, const char *id, struct agent *out, struct fs_error *e);
void agent_release(struct agent *a);
/* The agent as the API shows it (API.md "Agents"). */
json_t *agent_json(const struct agent *a);

/* The routes' work, each for one account. body is the request's JSON object; a bad field is FS_EINVAL naming
 * it. create/update answer the stored agent in *out. Deleting the default agent is FS_ECONFLICT. */
int agent_create(struct db *db, long long account_id, json_t *body, json_t **out, struct fs_error *e);
int agent_update(struct db *db, long long account_id, const char *id, json_t *body, json_t **out,
		 struct fs_error *e);
int agent_delete(struct db *db, long long account_id, const char *id, struct fs_error *e);
/* A page of agents, oldest first (the default agent is created first if missing). */
int agent_list(struct db *db, long long account_id, long long limit, const char *cursor, json_t **items,
	       char **next_cursor, struct fs_error *e);

/* The account's agents into t ("agents"); with apply, deleted (account delete, after its conversations). */
int agent_purge_account(struct db *db, long long account_id, int apply, struct tally *t, struct fs_error *e);

#endif
