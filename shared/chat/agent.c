/* Agents: loading, the lazily created default, and the API's create / update / delete / list, each for one
 * account. Writes that could move or remove the default take the account's row lock first, so they run one
 * after another and the account never ends a transaction without its default. */
#include "chat/agent.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/account.h"
#include "answer/answer.h"
#include "core/buf.h"
#include "core/jfield.h"
#include "core/page.h"
#include "core/util.h"
#include "core/banned.h"

#define ISO(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"
/* The columns struct agent is read from (agent_from_row), in this order; the last one is for cursors. The
 * DOUBLE columns are cast to text by the server: the client library's own conversion of a DOUBLE into a string
 * result buffer reports no length (db.c fetches every cell as a string). */
#define AGENT_COLUMNS                                                                                          \
	"id, account_id, default_for IS NOT NULL, name, system_prompt, fallback_message, top_k, "              \
	"CAST(similarity_threshold AS CHAR), use_hybrid, answerer, model, CAST(temperature AS CHAR), "          \
	"max_tokens, history_turns, upstream_fallback, " ISO("created_at") ", " ISO("updated_at") ", "         \
	"UNIX_TIMESTAMP(created_at), welcome_message"
#define COL_WHEN 17

/* What a body may set, with the API's names and limits; is_default is handled on its own (it moves the mark).
 * A null value sets a field to its default (for answerer and model that is NULL: the server's [answerer]
 * settings), except where no_null says it must have a value. */
enum field_kind { F_TEXT, F_CHOICE, F_ANSWERER, F_INT, F_NUMBER, F_BOOL };

struct field {
	const char *name;
	enum field_kind kind;
	size_t off;                  /* of the member in struct agent: char *, int or double by kind */
	long long min, max;          /* characters for F_TEXT; the range for F_INT and F_NUMBER */
	const char *const *choices;  /* F_CHOICE */
	int no_null;
};

static const char *const upstream_fallbacks[] = { "error", "builtin", NULL };

static const struct field fields[] = {
	{ "name", F_TEXT, offsetof(struct agent, name), 1, AGENT_NAME_MAX, NULL, 1 },
	{ "system_prompt", F_TEXT, offsetof(struct agent, system_prompt), 0, AGENT_PROMPT_MAX, NULL, 0 },
	{ "fallback_message", F_TEXT, offsetof(struct agent, fallback_message), 1, AGENT_PROMPT_MAX, NULL, 0 },
	{ "welcome_message", F_TEXT, offsetof(struct agent, welcome_message), 0, AGENT_WELCOME_MAX, NULL, 0 },
	{ "top_k", F_INT, offsetof(struct agent, top_k), 1, 50, NULL, 0 },
	{ "similarity_threshold", F_NUMBER, offsetof(struct agent, threshold), 0, 1, NULL, 0 },
	{ "use_hybrid", F_BOOL, offsetof(struct agent, use_hybrid), 0, 0, NULL, 0 },
	{ "answerer", F_ANSWERER, offsetof(struct agent, answerer), 0, 0, NULL, 0 },
	{ "model", F_TEXT, offsetof(struct agent, model), 1, AGENT_MODEL_MAX, NULL, 0 },
	{ "temperature", F_NUMBER, offsetof(struct agent, temperature), 0, 2, NULL, 0 },
	{ "max_tokens", F_INT, offsetof(struct agent, max_tokens), 1, 32768, NULL, 0 },
	{ "history_turns", F_INT, offsetof(struct agent, history_turns), 0, 20, NULL, 0 },
	{ "upstream_fallback", F_CHOICE, offsetof(struct agent, upstream_fallback), 0, 0, upstream_fallbacks, 0 },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static void set_str(char **slot, const char *v)
{
	free(*slot);
	*slot = v ? xstrdup(v) : NULL;
}

/* A new agent with the table's defaults (db/004_chat.sql), named AGENT_DEFAULT_NAME, with a fresh id. */
static void agent_init_defaults(struct agent *a, long long account_id)
{
	memset(a, 0, sizeof(*a));
	util_uuid(a->id);
	a->account_id = account_id;
	a->name = xstrdup(AGENT_DEFAULT_NAME);
	a->system_prompt = xstrdup(AGENT_DEFAULT_SYSTEM_PROMPT);
	a->fallback_message = xstrdup(AGENT_DEFAULT_FALLBACK);
	a->welcome_message = xstrdup(AGENT_DEFAULT_WELCOME);
	a->top_k = 5;
	a->threshold = 0.7;
	a->use_hybrid = 1;
	a->temperature = 0.2;
	a->max_tokens = 512;
	a->history_turns = 6;
	a->upstream_fallback = xstrdup("error");
}

void agent_release(struct agent *a)
{
	free(a->name);
	free(a->system_prompt);
	free(a->fallback_message);
	free(a->welcome_message);
	free(a->answerer);
	free(a->model);
	free(a->upstream_fallback);
	memset(a, 0, sizeof(*a));
}

static const char *cell_or(const struct db_res *r, size_t i, size_t col, const char *def)
{
	const char *s = db_cell(r, i, col);
	return s ? s : def;
}

static void agent_from_row(const struct db_res *r, size_t i, struct agent *a)
{
	const char *answerer = db_cell(r, i, 9), *model = db_cell(r, i, 10);
	memset(a, 0, sizeof(*a));
	snprintf(a->id, sizeof(a->id), "%s", db_cell(r, i, 0));
	a->account_id = db_cell_ll(r, i, 1, 0);
	a->is_default = db_cell_ll(r, i, 2, 0) != 0;
	a->name = xstrdup(cell_or(r, i, 3, ""));
	a->system_prompt = xstrdup(cell_or(r, i, 4, ""));
	a->fallback_message = xstrdup(cell_or(r, i, 5, ""));
	a->top_k = (int)db_cell_ll(r, i, 6, 5);
	a->threshold = strtod(cell_or(r, i, 7, "0.7"), NULL);
	a->use_hybrid = db_cell_ll(r, i, 8, 1) != 0;
	a->answerer = answerer ? xstrdup(answerer) : NULL;
	a->model = model ? xstrdup(model) : NULL;
	a->temperature = strtod(cell_or(r, i, 11, "0.2"), NULL);
	a->max_tokens = (int)db_cell_ll(r, i, 12, 512);
	a->history_turns = (int)db_cell_ll(r, i, 13, 6);
	a->upstream_fallback = xstrdup(cell_or(r, i, 14, "error"));
	snprintf(a->created_at, sizeof(a->created_at), "%s", cell_or(r, i, 15, ""));
	snprintf(a->updated_at, sizeof(a->updated_at), "%s", cell_or(r, i, 16, ""));
	a->welcome_message = xstrdup(cell_or(r, i, 18, ""));
}

json_t *agent_json(const struct agent *a)
{
	return json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:i, s:f, s:b, s:o, s:o, s:f, s:i, s:i, s:s, s:s, s:s}",
			 "id", a->id, "name", a->name, "is_default", a->is_default, "system_prompt", a->system_prompt,
			 "fallback_message", a->fallback_message, "welcome_message", a->welcome_message, "top_k",
			 a->top_k, "similarity_threshold",
			 a->threshold, "use_hybrid", a->use_hybrid, "answerer",
			 a->answerer ? json_string(a->answerer) : json_null(), "model",
			 a->model ? json_string(a->model) : json_null(), "temperature", a->temperature, "max_tokens",
			 a->max_tokens, "history_turns", a->history_turns, "upstream_fallback", a->upstream_fallback,
			 "created_at", a->created_at, "updated_at", a->updated_at);
}

/* One agent of the account; lock = 1 reads it FOR UPDATE (inside the caller's transaction). */
static int load(struct db *db, long long account_id, const char *id, int lock, struct agent *out,
		struct fs_error *e)
{
	struct db_res r;
	if (!util_is_uuid(id))
		return fs_fail(e, FS_ENOTFOUND, "no agent '%s'", id);
	int rc = db_exec(db, &r, e,
			 lock ? "SELECT " AGENT_COLUMNS " FROM agents WHERE id = ? AND account_id = ? FOR UPDATE"
			      : "SELECT " AGENT_COLUMNS " FROM agents WHERE id = ? AND account_id = ?",
			 "si", id, account_id);
	if (rc < 0)
		return rc;
	if (r.nrows == 0)
		rc = fs_fail(e, FS_ENOTFOUND, "no agent '%s'", id);
	else
		agent_from_row(&r, 0, out);
	db_res_release(&r);
	return rc;
}

int agent_load(struct db *db, long long account_id, const char *id, struct agent *out, struct fs_error *e)
{
	return load(db, account_id, id, 0, out, e);
}

/* The account's default agent if it has one: 1 with *out filled, 0 when it has none. */
static int find_default(struct db *db, long long account_id, struct agent *out, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e, "SELECT " AGENT_COLUMNS " FROM agents WHERE default_for = ?", "i", account_id);
	if (rc < 0)
		return rc;
	if (r.nrows > 0) {
		agent_from_row(&r, 0, out);
		rc = 1;
	}
	db_res_release(&r);
	return rc;
}

/* Writes a new agent's row; is_default puts the account's mark on it (FS_ECONFLICT if another has it). */
static int insert(struct db *db, const struct agent *a, int is_default, struct fs_error *e)
{
	char account[24], threshold[32], temperature[32];
	snprintf(account, sizeof(account), "%lld", a->account_id);
	snprintf(threshold, sizeof(threshold), "%.17g", a->threshold);
	snprintf(temperature, sizeof(temperature), "%.17g", a->temperature);
	return db_exec(db, NULL, e,
		       "INSERT INTO agents (id, account_id, default_for, name, system_prompt, fallback_message, top_k,"
		       " similarity_threshold, use_hybrid, answerer, model, temperature, max_tokens, history_turns,"
		       " upstream_fallback, welcome_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		       "sissssisisssiiss", a->id, a->account_id, is_default ? account : NULL, a->name, a->system_prompt,
		       a->fallback_message, (long long)a->top_k, threshold, (long long)a->use_hybrid, a->answerer, a->model,
		       temperature, (long long)a->max_tokens, (long long)a->history_turns, a->upstream_fallback,
		       a->welcome_message);
}

struct defaulting {
	long long account_id;
	struct agent *out;
};

static int default_once(struct db *db, void *arg, struct fs_error *e)
{
	struct defaulting *d = arg;
	struct agent a;
	int rc = find_default(db, d->account_id, d->out, e);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	agent_init_defaults(&a, d->account_id);
	rc = insert(db, &a, 1, e);
	agent_release(&a);
	/* Another process made the default between our read and our insert (the unique default_for refused ours;
	 * on Galera, two nodes inserting at once: 1213): theirs is the one, read on the next try. */
	if (rc == FS_ECONFLICT)
		return fs_fail(e, FS_ERETRY, "the default agent was made meanwhile");
	if (rc < 0)
		return rc;
	rc = find_default(db, d->account_id, d->out, e);
	if (rc == 0)
		rc = fs_fail(e, FS_EINTERNAL, "account %lld has no default agent after creating one", d->account_id);
	return rc < 0 ? rc : 0;
}

int agent_default(struct db *db, long long account_id, struct agent *out, struct fs_error *e)
{
	struct defaulting d = { account_id, out };
	return db_retry(db, default_once, &d, e);
}

static int read_choice(json_t *body, const struct field *f, const char **out, struct fs_error *e)
{
	json_t *v = json_object_get(body, f->name);
	if (!v || json_is_null(v))
		return 0;
	for (const char *const *c = f->choices; json_is_string(v) && *c; c++)
		if (!strcmp(json_string_value(v), *c)) {
			*out = *c;
			return 1;
		}
	struct buf allowed;
	buf_init(&allowed, BUF_NO_LIMIT);
	for (const char *const *c = f->choices; *c; c++)
		buf_addf(&allowed, "%s\"%s\"", c == f->choices ? "" : (c[1] ? ", " : " or "), *c);
	int rc = fs_fail(e, FS_EINVAL, "%s must be %s%s", f->name, buf_str(&allowed),
			 f->no_null ? "" : " (or null for the default)");
	buf_release(&allowed);
	return rc;
}

/* Refuses what the body must not hold: read-only and unknown fields (a typo should not be ignored). */
static int check_names(json_t *body, struct fs_error *e)
{
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v) {
		int known = !strcmp(key, "is_default");
		for (size_t i = 0; i < NFIELDS && !known; i++)
			known = !strcmp(key, fields[i].name);
		if (known)
			continue;
		if (!strcmp(key, "id") || !strcmp(key, "created_at") || !strcmp(key, "updated_at"))
			return fs_fail(e, FS_EINVAL, "%s is read-only", key);
		return fs_fail(e, FS_EINVAL, "unknown field '%s'", key);
	}
	return 0;
}

/* Sets the fields the body gives onto a. *make_default gets 1 or 0 for "is_default": true / false, -1 when the
 * body does not say. Nothing is written to the database. */
static int apply(struct agent *a, json_t *body, int *make_default, struct fs_error *e)
{
	struct agent d;
	int rc = check_names(body, e);
	if (rc < 0)
		return rc;
	json_t *isdef = json_object_get(body, "is_default");
	if (isdef && !json_is_boolean(isdef))
		return fs_fail(e, FS_EINVAL, "is_default must be true or false");
	*make_default = isdef ? json_is_true(isdef) : -1;
	agent_init_defaults(&d, a->account_id);
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct field *f = &fields[i];
		void *slot = (char *)a + f->off, *def = (char *)&d + f->off;
		json_t *v = json_object_get(body, f->name);
		const char *s = NULL;
		long long n = 0;
		double x = 0;
		int b = 0;
		if (!v)
			continue;
		if (json_is_null(v)) {
			if (f->no_null) {
				rc = fs_fail(e, FS_EINVAL, "%s must be a string of %lld to %lld characters", f->name,
					     f->min, f->max);
				goto out;
			}
			if (f->kind == F_TEXT || f->kind == F_CHOICE || f->kind == F_ANSWERER)
				set_str(slot, *(char **)def);
			else if (f->kind == F_NUMBER)
				*(double *)slot = *(double *)def;
			else
				*(int *)slot = *(int *)def;
			continue;
		}
		switch (f->kind) {
		case F_TEXT:
			if ((rc = jfield_text(body, f->name, (size_t)f->min, (size_t)f->max, &s, e)) > 0)
				set_str(slot, s);
			break;
		case F_CHOICE:
			if ((rc = read_choice(body, f, &s, e)) > 0)
				set_str(slot, s);
			break;
		case F_ANSWERER: { /* the name of an answerer (answer.h's registry) */
			const struct answer_ops *ops = json_is_string(v) ? answer_find(json_string_value(v)) : NULL;
			if (ops)
				set_str(slot, ops->name);
			else
				rc = answer_unknown(f->name, json_is_string(v) ? json_string_value(v) : "", e);
			break;
		}
		case F_INT:
			if ((rc = jfield_int(body, f->name, f->min, f->max, &n, e)) > 0)
				*(int *)slot = (int)n;
			break;
		case F_NUMBER:
			if ((rc = jfield_number(body, f->name, (double)f->min, (double)f->max, &x, e)) > 0)
				*(double *)slot = x;
			break;
		case F_BOOL:
			if ((rc = jfield_bool(body, f->name, &b, e)) > 0)
				*(int *)slot = b;
			break;
		}
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	agent_release(&d);
	return rc;
}

static int clear_default(struct db *db, long long account_id, struct fs_error *e)
{
	return db_exec(db, NULL, e, "UPDATE agents SET default_for = NULL WHERE default_for = ?", "i", account_id);
}

/* The stored agent as JSON. */
static int answer(struct db *db, long long account_id, const char *id, json_t **out, struct fs_error *e)
{
	struct agent a;
	int rc = agent_load(db, account_id, id, &a, e);
	if (rc < 0)
		return rc;
	*out = agent_json(&a);
	agent_release(&a);
	return 0;
}

int agent_create(struct db *db, long long account_id, json_t *body, json_t **out, struct fs_error *e)
{
	struct agent a;
	int make_default, rc;
	agent_init_defaults(&a, account_id);
	json_t *name = json_object_get(body, "name");
	if (!name || json_is_null(name)) {
		rc = fs_fail(e, FS_EINVAL, "name is required: a string of 1 to %d characters", AGENT_NAME_MAX);
		goto out;
	}
	if ((rc = apply(&a, body, &make_default, e)) < 0)
		goto out;
	if (make_default != 1) {
		/* The default comes first, so a new account's list starts with it. */
		struct agent d;
		if ((rc = agent_default(db, account_id, &d, e)) < 0)
			goto out;
		agent_release(&d);
		if ((rc = insert(db, &a, 0, e)) < 0)
			goto out;
	} else {
		if ((rc = db_begin(db, e)) < 0)
			goto out;
		if ((rc = account_lock(db, account_id, e)) < 0 || (rc = clear_default(db, account_id, e)) < 0 ||
		    (rc = insert(db, &a, 1, e)) < 0 || (rc = db_commit(db, e)) < 0) {
			db_rollback(db);
			goto out;
		}
	}
	rc = answer(db, account_id, a.id, out, e);
out:
	agent_release(&a);
	return rc;
}

int agent_update(struct db *db, long long account_id, const char *id, json_t *body, json_t **out,
		 struct fs_error *e)
{
	struct agent a = { 0 };
	char account[24], threshold[32], temperature[32];
	int make_default, rc;
	if (!util_is_uuid(id))
		return fs_fail(e, FS_ENOTFOUND, "no agent '%s'", id);
	if ((rc = db_begin(db, e)) < 0)
		return rc;
	if ((rc = account_lock(db, account_id, e)) < 0 || (rc = load(db, account_id, id, 1, &a, e)) < 0 ||
	    (rc = apply(&a, body, &make_default, e)) < 0)
		goto fail;
	if (make_default == 0 && a.is_default) {
		rc = fs_fail(e, FS_ECONFLICT,
			     "agent '%s' is the account's default agent and there must always be one; make another "
			     "agent the default (\"is_default\": true) instead",
			     id);
		goto fail;
	}
	if (make_default == 1 && !a.is_default) {
		if ((rc = clear_default(db, account_id, e)) < 0)
			goto fail;
		a.is_default = 1;
	}
	snprintf(account, sizeof(account), "%lld", account_id);
	snprintf(threshold, sizeof(threshold), "%.17g", a.threshold);
	snprintf(temperature, sizeof(temperature), "%.17g", a.temperature);
	rc = db_exec(db, NULL, e,
		     "UPDATE agents SET default_for = ?, name = ?, system_prompt = ?, fallback_message = ?, top_k = ?,"
		     " similarity_threshold = ?, use_hybrid = ?, answerer = ?, model = ?, temperature = ?,"
		     " max_tokens = ?, history_turns = ?, upstream_fallback = ?, welcome_message = ?"
		     " WHERE id = ? AND account_id = ?",
		     "ssssisisssiisssi", a.is_default ? account : NULL, a.name, a.system_prompt, a.fallback_message,
		     (long long)a.top_k, threshold, (long long)a.use_hybrid, a.answerer, a.model, temperature,
		     (long long)a.max_tokens, (long long)a.history_turns, a.upstream_fallback, a.welcome_message, id,
		     account_id);
	if (rc < 0 || (rc = db_commit(db, e)) < 0)
		goto fail;
	agent_release(&a);
	return answer(db, account_id, id, out, e);
fail:
	db_rollback(db);
	agent_release(&a);
	return rc;
}

int agent_delete(struct db *db, long long account_id, const char *id, struct fs_error *e)
{
	struct agent a = { 0 };
	int rc;
	if (!util_is_uuid(id))
		return fs_fail(e, FS_ENOTFOUND, "no agent '%s'", id);
	if ((rc = db_begin(db, e)) < 0)
		return rc;
	if ((rc = account_lock(db, account_id, e)) < 0 || (rc = load(db, account_id, id, 1, &a, e)) < 0)
		goto fail;
	if (a.is_default) {
		rc = fs_fail(e, FS_ECONFLICT,
			     "agent '%s' is the account's default agent; make another agent the default first "
			     "(PATCH it with \"is_default\": true), then delete this one",
			     id);
		goto fail;
	}
	/* Conversations keep their messages: their agent_id becomes NULL (ON DELETE SET NULL). */
	rc = db_exec(db, NULL, e, "DELETE FROM agents WHERE id = ? AND account_id = ?", "si", id, account_id);
	if (rc < 0 || (rc = db_commit(db, e)) < 0)
		goto fail;
	agent_release(&a);
	return 0;
fail:
	db_rollback(db);
	agent_release(&a);
	return rc;
}

int agent_list(struct db *db, long long account_id, long long limit, const char *cursor, json_t **items,
	       char **next_cursor, struct fs_error *e)
{
	struct db_res r;
	struct page_pos pos;
	struct agent a;
	int rc;
	*next_cursor = NULL;
	if (cursor && (rc = page_cursor_parse(cursor, &pos, e)) < 0) /* a bad cursor before the default is made */
		return rc;
	if ((rc = agent_default(db, account_id, &a, e)) < 0)
		return rc;
	agent_release(&a);
	if ((rc = page_select(db, &r, AGENT_COLUMNS, "agents", account_id, limit, cursor, 1, e)) < 0)
		return rc;
	*items = json_array();
	for (size_t i = 0; i < page_shown(&r, limit); i++) {
		agent_from_row(&r, i, &a);
		json_array_append_new(*items, agent_json(&a));
		agent_release(&a);
	}
	*next_cursor = page_next(&r, limit, COL_WHEN);
	db_res_release(&r);
	return 0;
}

int agent_purge_account(struct db *db, long long account_id, int apply, struct tally *t, struct fs_error *e)
{
	return db_purge_rows(db, "agents", account_id, apply, t, "agents", e);
}
