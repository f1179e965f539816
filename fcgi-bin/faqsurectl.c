/* faqsurectl — the operator's command line: schema migrations, accounts, API keys, agents, the worker. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <signal.h>
#include <unistd.h>

#include "version.h" /* generated: $(BUILD)/gen */

#include "account/account.h"
#include "account/apikey.h"
#include "account/usage.h"
#include "chat/agent.h"
#include "chat/analytics.h"
#include "chat/chat.h"
#include "kb/document.h"
#include "core/config.h"
#include "core/db.h"
#include "core/migrate.h"
#include "core/tally.h"
#include "core/util.h"
#include "ingest/heartbeat.h"
#include "ingest/ingest.h"
#include "ingest/reindex.h"
#include "core/banned.h"

struct ctl {
	struct config cfg;
	struct db *db;
	struct fs_error err;
};

/* Options of one subcommand: --name value pairs and bare --flags, plus positional arguments. */
#define MAX_ARGS 16
struct args {
	const char *names[MAX_ARGS];
	const char *values[MAX_ARGS]; /* NULL for a flag */
	size_t n;
	const char *pos[MAX_ARGS];
	size_t npos;
	int help;
};

static const char usage_main[] =
	"usage: faqsurectl [--config FILE] COMMAND [ARGS]\n"
	"\n"
	"Manages a FAQSure installation: its database schema, accounts, API keys and agents.\n"
	"The configuration is FILE, else $FAQSURE_CONFIG, else " CONFIG_BUNDLE_PATH " of the bundle this program runs\n"
	"from (make dist: the folder above bin/), else " CONFIG_DEFAULT_PATH ".\n"
	"\n"
	"commands:\n"
	"  migrate                         apply the database migrations that have not run yet\n"
	"  account create NAME [--balance N | --unlimited]\n"
	"  account list\n"
	"  account topup NAME N            add N tokens to an account's balance\n"
	"  account disable NAME            refuse every key of the account (401) from its next request on\n"
	"  account enable NAME             accept its keys again\n"
	"  account delete NAME [--yes]     delete the account and everything it holds (without --yes: say what)\n"
	"  key create --account NAME --name LABEL [--per-minute N] [--per-hour N]\n"
	"             [--expires DATE] [--scope admin]\n"
	"  key list --account NAME\n"
	"  key revoke ID_OR_PREFIX\n"
	"  agent create --account NAME --name LABEL [--system-prompt S] [--fallback-message F] [--default]\n"
	"  agent list --account NAME\n"
	"  worker [--once] [--log FILE]    process uploaded documents (a daemon; --once drains the queue)\n"
	"  reindex [--account NAME]        re-embed stored chunks and rebuild the vector store\n"
	"  sentences [--account NAME]      compute the sentence vectors stored chunks still lack\n"
	"  stats --account NAME [--from DATE] [--to DATE]\n"
	"                                  the account's analytics dashboard, as JSON\n"
	"\n"
	"Every command takes --help.\n";

static const char usage_migrate[] =
	"usage: faqsurectl migrate\n"
	"\n"
	"Applies the numbered migrations built into this program that the database has not run yet, in order,\n"
	"and records them in schema_migrations. Running it again does nothing. Questions stored before analytics\n"
	"existed are then given their paraphrase signature.\n";

static const char usage_account_create[] =
	"usage: faqsurectl account create NAME [--balance N | --unlimited]\n"
	"\n"
	"Creates an account (a tenant). It has an unlimited token balance unless --balance gives one.\n";

static const char usage_account_list[] =
	"usage: faqsurectl account list\n"
	"\n"
	"Lists every account with its balance, number of active keys and state (active, disabled, or deleting: a\n"
	"delete that has not finished).\n";

static const char usage_account_topup[] =
	"usage: faqsurectl account topup NAME N\n"
	"\n"
	"Adds N tokens to the account's balance (N may be negative to correct a mistake, but a balance never goes\n"
	"below zero) and prints the new balance. Accounts with an unlimited balance cannot be topped up.\n";

static const char usage_account_disable[] =
	"usage: faqsurectl account disable NAME\n"
	"\n"
	"Disables an account: every key of it is refused with 401 invalid_api_key (\"account is disabled\") from\n"
	"its next request on, in every process of every machine. Nothing is deleted: its documents, conversations,\n"
	"keys and balance stay, and 'faqsurectl account enable NAME' brings it back as it was.\n";

static const char usage_account_enable[] =
	"usage: faqsurectl account enable NAME\n"
	"\n"
	"Enables a disabled account again: its keys that are neither revoked nor expired work from their next\n"
	"request on. An account whose delete began cannot be enabled (run the delete again to finish it).\n";

static const char usage_account_delete[] =
	"usage: faqsurectl account delete NAME [--yes]\n"
	"\n"
	"Deletes an account and every row of it: documents with their stored files, chunks and vectors (also in\n"
	"Qdrant with [vector] backend = qdrant), ingestion jobs, conversations, messages, cited sources, feedback,\n"
	"agents, usage events and rollups, rate-limit counters, balance holds and API keys. Without --yes it\n"
	"deletes nothing: it lists what it would delete and exits 1.\n"
	"With --yes it first disables the account (its keys are refused at once everywhere), then deletes it in\n"
	"steps and lists what it deleted. If it is interrupted, the account stays disabled and running the command\n"
	"again finishes the delete. A worker that was indexing one of its documents stores nothing.\n";

static const char usage_key_create[] =
	"usage: faqsurectl key create --account NAME --name LABEL [--per-minute N] [--per-hour N]\n"
	"                             [--expires DATE] [--scope admin | --origins LIST]\n"
	"\n"
	"Creates an API key and prints it once, alone on the last line: store it now, it cannot be shown again.\n"
	"  --per-minute N   requests per calendar minute (default from the config, normally 60)\n"
	"  --per-hour N     requests per calendar hour (default from the config, normally 1000)\n"
	"  --expires DATE   YYYY-MM-DD (midnight UTC) or an ISO 8601 date-time such as 2027-01-31T12:00:00Z\n"
	"  --scope admin    lets the key manage the account's keys over HTTP (/api/v1/keys)\n"
	"  --origins LIST   makes a publishable key (faqsure_pk_) for web pages of these origins, comma-separated\n"
	"                   (https://www.example.com,https://shop.example.com): it may only chat, from them\n";

static const char usage_key_list[] =
	"usage: faqsurectl key list --account NAME\n"
	"\n"
	"Lists the account's keys (display prefix, name, limits, expiry, last use, revocation). Secrets are\n"
	"never stored, so they cannot be listed.\n";

static const char usage_key_revoke[] =
	"usage: faqsurectl key revoke ID_OR_PREFIX\n"
	"\n"
	"Revokes a key, given its id or its display prefix (faqsure_sk_xxxxxx). It is refused from then on.\n";

static const char usage_agent_create[] =
	"usage: faqsurectl agent create --account NAME --name LABEL [--system-prompt S] [--fallback-message F]\n"
	"                               [--default]\n"
	"\n"
	"Creates an agent (a persona the account answers with) and prints its id. Settings not given here take\n"
	"their defaults; change them over HTTP (PATCH /api/v1/agents/{id}).\n"
	"  --system-prompt S     the instructions the answerer gets (default: a concise support assistant)\n"
	"  --fallback-message F  the answer when the knowledge base has nothing relevant\n"
	"  --default             makes it the account's default agent (the previous default stays, not default)\n";

static const char usage_agent_list[] =
	"usage: faqsurectl agent list --account NAME\n"
	"\n"
	"Lists the account's agents, oldest first, marking the default. An account that has none gets its default\n"
	"agent (\"Default\") now.\n";

static int parse_args(int argc, char **argv, const char *const *flags, struct args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];
		if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
			a->help = 1;
			continue;
		}
		if (strncmp(s, "--", 2) != 0) {
			if (a->npos == MAX_ARGS)
				return -1;
			a->pos[a->npos++] = s;
			continue;
		}
		if (a->n == MAX_ARGS)
			return -1;
		int is_flag = 0;
		for (const char *const *f = flags; f && *f; f++)
			if (!strcmp(*f, s))
				is_flag = 1;
		a->names[a->n] = s;
		if (is_flag) {
			a->values[a->n++] = NULL;
		} else if (i + 1 < argc) {
			a->values[a->n++] = argv[++i];
		} else {
			fprintf(stderr, "faqsurectl: %s needs a value\n", s);
			return -1;
		}
	}
	return 0;
}

/* The value of option name; "" for a flag that is present; NULL when absent. */
static const char *opt(const struct args *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->names[i], name))
			return a->values[i] ? a->values[i] : "";
	return NULL;
}

/* Refuses options the command does not know, and the wrong number of positional arguments. */
static int check_args(const struct args *a, const char *const *known, size_t npos, const char *usage)
{
	for (size_t i = 0; i < a->n; i++) {
		int ok = 0;
		for (const char *const *k = known; k && *k; k++)
			if (!strcmp(*k, a->names[i]))
				ok = 1;
		if (!ok) {
			fprintf(stderr, "faqsurectl: unknown option %s\n\n%s", a->names[i], usage);
			return -1;
		}
	}
	if (a->npos != npos) {
		fprintf(stderr, "faqsurectl: wrong number of arguments\n\n%s", usage);
		return -1;
	}
	return 0;
}

static int fail(struct ctl *c)
{
	fprintf(stderr, "faqsurectl: %s\n", c->err.msg);
	return 1;
}

static int parse_count(const char *what, const char *s, long long min, long long max, long long *out)
{
	if (util_parse_ll(s, min, max, out) < 0) {
		fprintf(stderr, "faqsurectl: %s must be an integer from %lld to %lld, not '%s'\n", what, min, max, s);
		return -1;
	}
	return 0;
}

/* Run from a bundle (make dist: shared hosting, no daemons), the worker is a cron job: say the line to add. */
static void print_cron_line(const struct ctl *c)
{
	char bundled[PATH_MAX];
	if (!c->cfg.path || config_bundle_path(bundled, sizeof(bundled)) < 0 || strcmp(bundled, c->cfg.path) != 0)
		return;
	char *etc = strrchr(bundled, '/');
	*etc = '\0';
	char *top = strrchr(bundled, '/');
	*top = '\0'; /* the bundle's folder */
	printf("\nUploaded documents are indexed by the worker: add this line to your crontab (crontab -e, or your host's\n"
	       "control panel) to run it every minute:\n\n"
	       "* * * * * %s/bin/faqsurectl worker --once >>%s/var/worker.log 2>&1\n", bundled, bundled);
}

static int cmd_migrate(struct ctl *c, const struct args *a)
{
	struct terms *t = NULL;
	long long done = 0;
	if (check_args(a, NULL, 0, usage_migrate) < 0)
		return 2;
	/* Questions asked before they had paraphrase signatures (db/005) get theirs: it needs the stemmer, not SQL. */
	int rc = migrate_run(c->db, stdout, &c->err);
	if (rc == 0)
		rc = terms_new(&t, &c->err);
	if (rc == 0)
		rc = analytics_backfill(c->db, t, &done, &c->err);
	terms_free(t);
	if (rc == 0 && done)
		printf("gave %lld earlier questions their paraphrase signature\n", done);
	if (rc < 0)
		return fail(c);
	print_cron_line(c);
	return 0;
}

static int cmd_account_create(struct ctl *c, const struct args *a)
{
	static const char *const known[] = { "--balance", "--unlimited", NULL };
	long long balance = ACCOUNT_UNLIMITED, id;
	if (check_args(a, known, 1, usage_account_create) < 0)
		return 2;
	if (opt(a, "--balance") && opt(a, "--unlimited")) {
		fprintf(stderr, "faqsurectl: give --balance or --unlimited, not both\n");
		return 2;
	}
	if (opt(a, "--balance") && parse_count("--balance", opt(a, "--balance"), 0, (long long)1 << 60, &balance) < 0)
		return 2;
	size_t len = strlen(a->pos[0]);
	if (len == 0 || len > 100) {
		fprintf(stderr, "faqsurectl: an account name has 1 to 100 characters\n");
		return 2;
	}
	if (account_create(c->db, a->pos[0], balance, &id, &c->err) < 0)
		return fail(c);
	if (balance == ACCOUNT_UNLIMITED)
		printf("created account %s (id %lld, unlimited balance)\n", a->pos[0], id);
	else
		printf("created account %s (id %lld, balance %lld tokens)\n", a->pos[0], id, balance);
	return 0;
}

static int cmd_account_list(struct ctl *c, const struct args *a)
{
	if (check_args(a, NULL, 0, usage_account_list) < 0)
		return 2;
	return account_print_list(c->db, stdout, &c->err) < 0 ? fail(c) : 0;
}

static int cmd_account_topup(struct ctl *c, const struct args *a)
{
	long long n, balance;
	if (check_args(a, NULL, 2, usage_account_topup) < 0)
		return 2;
	if (parse_count("N", a->pos[1], -((long long)1 << 60), (long long)1 << 60, &n) < 0)
		return 2;
	if (account_topup(c->db, a->pos[0], n, &balance, &c->err) < 0)
		return fail(c);
	printf("account %s now has %lld tokens\n", a->pos[0], balance);
	return 0;
}

static int cmd_account_state(struct ctl *c, const struct args *a, enum account_state state, const char *usage)
{
	enum account_state before;
	if (check_args(a, NULL, 1, usage) < 0)
		return 2;
	if (account_set_state(c->db, a->pos[0], state, NULL, &before, &c->err) < 0)
		return fail(c);
	if (before == state)
		printf("account %s was already %s\n", a->pos[0], account_state_name(state));
	else if (state == ACCOUNT_DISABLED)
		printf("account %s disabled: its keys are refused (401) from their next request on\n", a->pos[0]);
	else
		printf("account %s enabled: its keys work again\n", a->pos[0]);
	return 0;
}

static int cmd_account_disable(struct ctl *c, const struct args *a)
{
	return cmd_account_state(c, a, ACCOUNT_DISABLED, usage_account_disable);
}

static int cmd_account_enable(struct ctl *c, const struct args *a)
{
	return cmd_account_state(c, a, ACCOUNT_ACTIVE, usage_account_enable);
}

/* Every owner's part of an account, in the order a delete takes them: jobs before documents (a worker holding
 * one stores nothing), conversations before agents, the vector store once the chunks are gone, and the account
 * itself (keys, usage, counters) last. */
static int purge_account(struct ctl *c, long long id, int apply, struct tally *t)
{
	int rc;
	if ((rc = ingest_purge_account(c->db, id, apply, t, &c->err)) < 0 ||
	    (rc = document_purge_account(c->db, id, apply, t, &c->err)) < 0 ||
	    (rc = chat_purge_account(c->db, id, apply, t, &c->err)) < 0 ||
	    (rc = agent_purge_account(c->db, id, apply, t, &c->err)) < 0 ||
	    (rc = vstore_purge_account(&c->cfg, c->db, id, apply, t, &c->err)) < 0)
		return rc;
	/* the big usage table a slice at a time first; what is flushed meanwhile goes in account_purge's
	 * transaction */
	if (apply && (rc = usage_purge_account(c->db, id, 1, t, &c->err)) < 0)
		return rc;
	return account_purge(c->db, id, apply, t, &c->err);
}

static void print_tally(const struct tally *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->items[i].what, "account") != 0)
			printf("  %-28s %lld\n", t->items[i].what, t->items[i].n);
}

/* With an external vector store, the account's points go now when the store answers (else the queued change
 * waits for the worker): says which. */
static void purge_vectors(struct ctl *c, long long id, long long chunks)
{
	struct ingest_worker w;
	struct fs_error se = { 0 };
	struct tally left;
	if (!c->cfg.vector_backend || strcmp(c->cfg.vector_backend, "embedded") == 0) {
		printf("  %-28s %lld (with the chunks, in MariaDB)\n", "vectors", chunks);
		return;
	}
	if (ingest_worker_init(&w, &c->cfg, &se) == 0) {
		while (vstore_sync(w.vs, w.db, 1000, &se) > 0)
			;
		ingest_worker_release(&w);
	}
	tally_init(&left);
	if (vstore_purge_account(&c->cfg, c->db, id, 0, &left, &se) == 0 && tally_get(&left, "queued vector-store changes") == 0)
		printf("  %-28s every point of the account deleted from %s\n", "vectors", c->cfg.vector_backend);
	else
		printf("  %-28s queued: %s does not answer (%s); the worker deletes the account's points when it does\n",
		       "vectors", c->cfg.vector_backend, se.msg[0] ? se.msg : "no answer");
}

static int cmd_account_delete(struct ctl *c, const struct args *a)
{
	static const char *const known[] = { "--yes", NULL };
	struct tally t;
	long long id;
	if (check_args(a, known, 1, usage_account_delete) < 0)
		return 2;
	const char *name = a->pos[0];
	tally_init(&t);
	if (account_find(c->db, name, &id, &c->err) < 0 || purge_account(c, id, 0, &t) < 0)
		return fail(c);
	if (!opt(a, "--yes")) {
		printf("account %s (id %lld) holds:\n", name, id);
		print_tally(&t);
		if (c->cfg.vector_backend && strcmp(c->cfg.vector_backend, "embedded") != 0)
			printf("  %-28s one per chunk, in %s\n", "vectors", c->cfg.vector_backend);
		fprintf(stderr, "faqsurectl: account %s not deleted: run 'faqsurectl account delete %s --yes' to delete "
			"it and everything above\n", name, name);
		return 1;
	}
	long long chunks = tally_get(&t, "chunks");
	tally_init(&t);
	if (account_set_state(c->db, name, ACCOUNT_DELETING, NULL, NULL, &c->err) < 0 || purge_account(c, id, 1, &t) < 0) {
		fprintf(stderr, "faqsurectl: the account stays disabled; run the delete again to finish it\n");
		return fail(c);
	}
	printf("deleted account %s (id %lld):\n", name, id);
	print_tally(&t);
	purge_vectors(c, id, chunks);
	return 0;
}

static int cmd_key_create(struct ctl *c, const struct args *a)
{
	static const char *const known[] = { "--account", "--name", "--per-minute", "--per-hour", "--expires",
					     "--scope", "--origins", NULL };
	char origins[APIKEY_ORIGINS_SIZE];
	struct apikey_spec spec = { .per_minute = c->cfg.keys_default_per_minute,
				    .per_hour = c->cfg.keys_default_per_hour,
				    .scope = "default" };
	char secret[APIKEY_LEN + 1], id[37];
	if (check_args(a, known, 0, usage_key_create) < 0)
		return 2;
	const char *account = opt(a, "--account"), *expires = opt(a, "--expires"), *scope = opt(a, "--scope");
	spec.name = opt(a, "--name");
	if (!account || !spec.name) {
		fprintf(stderr, "faqsurectl: key create needs --account and --name\n\n%s", usage_key_create);
		return 2;
	}
	if (!*spec.name || strlen(spec.name) > APIKEY_NAME_MAX) {
		fprintf(stderr, "faqsurectl: --name must have 1 to %d characters\n", APIKEY_NAME_MAX);
		return 2;
	}
	if ((opt(a, "--per-minute") &&
	     parse_count("--per-minute", opt(a, "--per-minute"), 1, APIKEY_MAX_PER_MINUTE, &spec.per_minute) < 0) ||
	    (opt(a, "--per-hour") &&
	     parse_count("--per-hour", opt(a, "--per-hour"), 1, APIKEY_MAX_PER_HOUR, &spec.per_hour) < 0))
		return 2;
	if (expires && util_parse_time(expires, &spec.expires_at) < 0) {
		fprintf(stderr, "faqsurectl: --expires must be YYYY-MM-DD or an ISO 8601 date-time, not '%s'\n", expires);
		return 2;
	}
	if (expires && spec.expires_at <= time(NULL)) {
		fprintf(stderr, "faqsurectl: --expires must be in the future\n");
		return 2;
	}
	if (scope) {
		if (strcmp(scope, "admin") && strcmp(scope, "default")) {
			fprintf(stderr, "faqsurectl: --scope must be admin or default\n");
			return 2;
		}
		spec.scope = scope;
	}
	if (opt(a, "--origins")) {
		if (!strcmp(spec.scope, "admin")) {
			fprintf(stderr, "faqsurectl: a publishable key (--origins) cannot have the admin scope\n");
			return 2;
		}
		json_t *list = json_array();
		const char *p, *cursor = opt(a, "--origins");
		size_t n;
		while ((p = apikey_origins_next(&cursor, &n)))
			json_array_append_new(list, json_stringn(p, n));
		int rc = apikey_origins_parse(list, "--origins", origins, &c->err);
		json_decref(list);
		if (rc < 0) {
			fprintf(stderr, "faqsurectl: %s\n", c->err.msg);
			return 2;
		}
		spec.publishable = 1;
		spec.origins = origins;
	}
	if (account_find(c->db, account, &spec.account_id, &c->err) < 0 ||
	    apikey_create(c->db, &spec, secret, id, &c->err) < 0)
		return fail(c);
	char when[21] = "never";
	if (spec.expires_at)
		util_format_time(spec.expires_at, when);
	printf("created %skey %s (%s) for account %s: %lld/minute, %lld/hour, scope %s, expires %s%s%s\n",
	       spec.publishable ? "publishable " : "", id, spec.name, account, spec.per_minute, spec.per_hour, spec.scope,
	       when, spec.publishable ? ", origins " : "", spec.publishable ? spec.origins : "");
	printf("store this key now; it is not shown again:\n%s\n", secret);
	return 0;
}

static const char *js(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

static int cmd_key_list(struct ctl *c, const struct args *a)
{
	static const char *const known[] = { "--account", NULL };
	long long account_id;
	char *cursor = NULL, *next = NULL;
	if (check_args(a, known, 0, usage_key_list) < 0)
		return 2;
	if (!opt(a, "--account")) {
		fprintf(stderr, "faqsurectl: key list needs --account\n\n%s", usage_key_list);
		return 2;
	}
	if (account_find(c->db, opt(a, "--account"), &account_id, &c->err) < 0)
		return fail(c);
	printf("%-36s  %-17s  %-20s  %-7s  %8s  %9s  %-20s  %-20s  %s\n", "ID", "PREFIX", "NAME", "SCOPE", "/MINUTE",
	       "/HOUR", "EXPIRES", "LAST USED", "REVOKED");
	do {
		json_t *keys, *k;
		size_t i;
		if (apikey_list(c->db, account_id, 100, cursor, &keys, &next, &c->err) < 0) {
			free(cursor);
			return fail(c);
		}
		json_array_foreach(keys, i, k) {
			printf("%-36s  %-17s  %-20s  %-7s  %8lld  %9lld  %-20s  %-20s  %s\n", js(k, "id"), js(k, "prefix"),
			       js(k, "name"), js(k, "scope"),
			       (long long)json_integer_value(json_object_get(k, "rate_limit_per_minute")),
			       (long long)json_integer_value(json_object_get(k, "rate_limit_per_hour")),
			       json_is_null(json_object_get(k, "expires_at")) ? "never" : js(k, "expires_at"),
			       json_is_null(json_object_get(k, "last_used_at")) ? "never" : js(k, "last_used_at"),
			       json_is_null(json_object_get(k, "revoked_at")) ? "no" : js(k, "revoked_at"));
		}
		json_decref(keys);
		free(cursor);
		cursor = next;
	} while (cursor);
	return 0;
}

static int cmd_key_revoke(struct ctl *c, const struct args *a)
{
	char id[37];
	if (check_args(a, NULL, 1, usage_key_revoke) < 0)
		return 2;
	if (apikey_revoke(c->db, 0, a->pos[0], id, &c->err) < 0)
		return fail(c);
	printf("revoked key %s\n", id);
	return 0;
}

static int cmd_agent_create(struct ctl *c, const struct args *a)
{
	static const char *const known[] = { "--account", "--name", "--system-prompt", "--fallback-message",
					     "--default", NULL };
	long long account_id;
	json_t *agent = NULL;
	if (check_args(a, known, 0, usage_agent_create) < 0)
		return 2;
	const char *account = opt(a, "--account"), *name = opt(a, "--name");
	if (!account || !name) {
		fprintf(stderr, "faqsurectl: agent create needs --account and --name\n\n%s", usage_agent_create);
		return 2;
	}
	/* The API's body, so the command line gets the same checks and messages as POST /api/v1/agents. */
	json_t *body = json_pack("{s:s, s:b}", "name", name, "is_default", opt(a, "--default") != NULL);
	int rc = 0, bad = body == NULL; /* json_pack and json_string refuse text that is not UTF-8 */
	if (!bad && opt(a, "--system-prompt"))
		bad = json_object_set_new(body, "system_prompt", json_string(opt(a, "--system-prompt"))) < 0;
	if (!bad && opt(a, "--fallback-message"))
		bad = json_object_set_new(body, "fallback_message", json_string(opt(a, "--fallback-message"))) < 0;
	if (bad) {
		fprintf(stderr, "faqsurectl: --name, --system-prompt and --fallback-message must be UTF-8 text\n");
		rc = 2;
	} else if (account_find(c->db, account, &account_id, &c->err) < 0 ||
		   agent_create(c->db, account_id, body, &agent, &c->err) < 0) {
		rc = fail(c);
	} else {
		printf("created agent %s (%s) for account %s%s\n", json_string_value(json_object_get(agent, "id")),
		       json_string_value(json_object_get(agent, "name")), account,
		       json_is_true(json_object_get(agent, "is_default")) ? ", now its default agent" : "");
	}
	json_decref(agent);
	json_decref(body);
	return rc;
}

static int cmd_agent_list(struct ctl *c, const struct args *a)
{
	static const char *const known[] = { "--account", NULL };
	long long account_id;
	char *cursor = NULL, *next = NULL;
	if (check_args(a, known, 0, usage_agent_list) < 0)
		return 2;
	if (!opt(a, "--account")) {
		fprintf(stderr, "faqsurectl: agent list needs --account\n\n%s", usage_agent_list);
		return 2;
	}
	if (account_find(c->db, opt(a, "--account"), &account_id, &c->err) < 0)
		return fail(c);
	printf("%-36s  %-30s  %-7s  %5s  %9s  %-8s  %-20s\n", "ID", "NAME", "DEFAULT", "TOP_K", "THRESHOLD",
	       "ANSWERER", "CREATED");
	do {
		json_t *agents, *g;
		size_t i;
		if (agent_list(c->db, account_id, 100, cursor, &agents, &next, &c->err) < 0) {
			free(cursor);
			return fail(c);
		}
		json_array_foreach(agents, i, g) {
			printf("%-36s  %-30s  %-7s  %5lld  %9g  %-8s  %-20s\n", js(g, "id"), js(g, "name"),
			       json_is_true(json_object_get(g, "is_default")) ? "yes" : "no",
			       (long long)json_integer_value(json_object_get(g, "top_k")),
			       json_number_value(json_object_get(g, "similarity_threshold")),
			       json_is_null(json_object_get(g, "answerer")) ? "server" : js(g, "answerer"),
			       js(g, "created_at"));
		}
		json_decref(agents);
		free(cursor);
		cursor = next;
	} while (cursor);
	return 0;
}

static const char usage_worker[] =
	"usage: faqsurectl worker [--once] [--log FILE]\n"
	"\n"
	"Processes uploaded documents: extracts their text, cuts it into chunks, embeds them and stores them, so\n"
	"they can be searched. Any number of workers on any number of machines may run against one database; a job\n"
	"whose worker died is taken up again by the next worker of its machine at once, elsewhere when its lease\n"
	"([worker] lease_seconds) runs out.\n"
	"  --once       process what is queued now, then spend up to [worker] sentence_seconds on that idle work,\n"
	"               then exit (for cron on hosts where no daemon may run)\n"
	"  --log FILE   append its lines to FILE (reopened on SIGHUP) instead of standard error; the default is\n"
	"               [worker] log_file\n"
	"It says when it starts (version, configuration, database, pid) and stops, and writes one line per document\n"
	"(id, status, chunks, time). Every few seconds it records that it is alive, which GET /api/v1/health shows.\n"
	"When the queue is empty it embeds again the chunks stored with an older embedder's vectors (after an upgrade\n"
	"changed the built-in model; search does not see them until then), then computes the sentence vectors the\n"
	"built-in answerer reads for stored chunks that have none yet (until then a chat computes them itself).\n"
	"Without --once it runs until SIGTERM or SIGINT, finishing the document in hand first.\n";

static volatile sig_atomic_t worker_stopping, worker_reopen;

static void on_worker_signal(int sig)
{
	if (sig == SIGHUP)
		worker_reopen = 1;
	else
		worker_stopping = 1;
}

/* Points stderr (where every part of the worker writes) at path, appended. Before the first line, and on SIGHUP
 * after logrotate moved the file away. */
static int worker_open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	int rc = dup2(fd, STDERR_FILENO) < 0 ? -1 : 0;
	close(fd);
	return rc;
}

/* The start line: where this worker reads its settings and which database it works on (never the password). */
static void worker_hello(const struct ctl *c, const struct ingest_worker *w, int once)
{
	const struct config *cfg = &c->cfg;
	char where[600];
	if (cfg->db_socket[0])
		snprintf(where, sizeof(where), "socket %s", cfg->db_socket);
	else
		snprintf(where, sizeof(where), "%s:%lld", cfg->db_host[0] ? cfg->db_host : "127.0.0.1", cfg->db_port);
	util_log("worker %s started%s: pid %ld, id %s, config %s, database %s on %s as user %s, embedder %s",
		 FAQSURE_VERSION, once ? " (--once)" : "", (long)getpid(), w->id, cfg->path ? cfg->path : "(defaults)",
		 cfg->db_name, where, cfg->db_user, w->embedder->model);
}

/* The heartbeat (ingest/heartbeat.h); a failure is said once until it works again, and never stops the work. */
static void worker_beat(struct ingest_worker *w, long long documents, int first, int *failing)
{
	struct fs_error e = { 0 };
	if (heartbeat_beat(w->db, w->id, documents, first, &e) < 0) {
		if (!*failing)
			util_log("worker: cannot record that it is alive: %s", e.msg);
		*failing = 1;
	} else {
		*failing = 0;
	}
}

/* How often an idle worker removes the vector index files of deleted accounts (vstore_tidy). */
#define TIDY_SECONDS 600

static int cmd_worker(struct ctl *c, const struct args *a)
{
	static const char *const known[] = { "--once", "--log", NULL };
	struct ingest_worker w;
	int once = opt(a, "--once") != NULL, rc = 0, worked, beat_failing = 0, log_lost = 0;
	long long documents = 0;
	if (check_args(a, known, 0, usage_worker) < 0)
		return 2;
	const char *log = opt(a, "--log") ? opt(a, "--log") : c->cfg.worker_log_file;
	if (log[0] && worker_open_log(log) < 0) {
		fprintf(stderr, "faqsurectl worker: cannot open the log file %s: %s\n", log, strerror(errno));
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_worker_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (ingest_worker_init(&w, &c->cfg, &c->err) < 0)
		return fail(c);
	worker_hello(c, &w, once);
	worker_beat(&w, 0, 1, &beat_failing);
	double started = 0, beaten = util_now_ms(), tidied = 0;
	while (!worker_stopping && !log_lost) {
		if (worker_reopen) {
			worker_reopen = 0;
			if (log[0] && worker_open_log(log) < 0)
				log_lost = 1; /* its folder went: exit as failed, so systemd starts it again */
		}
		if (util_now_ms() - beaten >= 1000.0 * HEARTBEAT_SECONDS) {
			worker_beat(&w, documents, 0, &beat_failing);
			beaten = util_now_ms();
		}
		rc = ingest_run_one(&w, &worked, &c->err);
		documents += worked;
		if (rc < 0) {
			/* Say so, wait, try again: a daemon outlives outages, and a failed job's lease lets a later run
			 * finish it. --once goes on with the queue unless the database is gone or nothing could be
			 * claimed (trying again at once would fail the same way). */
			util_log("worker: %s", c->err.msg);
			if (once && (rc == FS_EUNAVAIL || !worked))
				break;
			rc = 0;
			if (once) /* go on with the rest of the queue */
				continue;
			worked = 0; /* the daemon waits before trying again */
		}
		if (worked)
			continue;
		/* Idle: hand changes an external vector store missed (it was down) to it again. */
		struct fs_error se = { 0 };
		if (started == 0)
			started = util_now_ms();
		if (vstore_sync(w.vs, w.db, 1000, &se) < 0)
			util_log("worker: vector outbox: %s", se.msg);
		/* ... bring this machine's index of the accounts just indexed up to date, so their next search does
		 * not wait for it ... */
		if (ingest_warm(&w, &se) < 0)
			util_log("worker: vector index: %s", se.msg);
		/* ... and now and then, remove the index files of deleted accounts */
		if (util_now_ms() - tidied >= 1000.0 * TIDY_SECONDS) {
			int removed = vstore_tidy(w.vs, &se);
			if (removed < 0)
				util_log("worker: vector index files: %s", se.msg);
			else if (removed > 0)
				util_log("worker: removed %d vector index file(s) of deleted accounts", removed);
			tidied = util_now_ms();
		}
		/* ... and compute the sentence vectors of stored chunks, a few at a time so that a new upload waits
		 * little; --once for at most [worker] sentence_seconds */
		int filled = 0, refreshed = 0;
		if (once && util_now_ms() - started >= 1000.0 * (double)c->cfg.worker_sentence_seconds)
			break;
		/* chunks embedded by an older model first: search does not see them until they are done */
		if (reindex_refresh(&w, 16, &refreshed, &se) < 0) {
			util_log("worker: vectors of an older embedder: %s", se.msg);
		} else if (refreshed > 0) {
			util_log("worker: embedded %d document(s) again with %s", refreshed, w.embedder->model);
			continue;
		}
		if (ingest_fill_sentences(&w, 0, 16, &filled, &se) < 0)
			util_log("worker: sentence vectors: %s", se.msg);
		else if (filled > 0)
			continue;
		if (once)
			break;
		/* Poll the queue every poll_ms, in short naps so a signal is noticed at once. */
		for (long long slept = 0; slept < c->cfg.worker_poll_ms && !worker_stopping; slept += 50) {
			struct timespec ts = { 0, 50 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	worker_beat(&w, documents, 0, &beat_failing);
	util_log("worker: stopped after %lld document(s)%s", documents,
		 log_lost ? ": cannot reopen its log file" : worker_stopping ? " (signal)" : "");
	ingest_worker_release(&w);
	return rc < 0 || log_lost ? 1 : 0;
}

struct command {
	const char *group;
	const char *name; /* NULL for a command without a second word */
	int (*run)(struct ctl *, const struct args *);
	const char *usage;
	const char *const *flags;
};

static const char usage_reindex[] =
	"usage: faqsurectl reindex [--account NAME]\n"
	"\n"
	"Re-embeds the stored chunks of every ready document (of one account with --account) with the configured\n"
	"[embedder] and rebuilds the [vector] store from MariaDB. Run it after changing the embedder (vectors of\n"
	"another model or size are not searched until then) or the vector backend. Searches go on meanwhile: one\n"
	"document is rewritten per transaction. With an external store (qdrant) the account's points (or the whole\n"
	"collection, without --account) are dropped first and written again.\n";

static int cmd_reindex(struct ctl *c, const struct args *a)
{
	static const char *const known[] = { "--account", NULL };
	struct ingest_worker w;
	long long account_id = 0;
	const char *name = opt(a, "--account");
	if (check_args(a, known, 0, usage_reindex) < 0)
		return 2;
	if (ingest_worker_init(&w, &c->cfg, &c->err) < 0)
		return fail(c);
	int rc = name ? account_find(w.db, name, &account_id, &c->err) : 0;
	if (rc == 0)
		rc = reindex_accounts(&w, account_id, stdout, &c->err);
	ingest_worker_release(&w);
	return rc < 0 ? fail(c) : 0;
}

static const char usage_sentences[] =
	"usage: faqsurectl sentences [--account NAME]\n"
	"\n"
	"Computes now the sentence vectors the built-in answerer reads for every stored chunk (of one account with\n"
	"--account) that has none yet, and prints how many it did. The worker does this by itself when its queue is\n"
	"empty; this is for when answers should be fast at once (after a large upload). Several may run at a time.\n";

static int cmd_sentences(struct ctl *c, const struct args *a)
{
	static const char *const known[] = { "--account", NULL };
	struct ingest_worker w;
	long long account_id = 0, total = 0;
	const char *name = opt(a, "--account");
	int filled = 0;
	if (check_args(a, known, 0, usage_sentences) < 0)
		return 2;
	if (ingest_worker_init(&w, &c->cfg, &c->err) < 0)
		return fail(c);
	int rc = name ? account_find(w.db, name, &account_id, &c->err) : 0;
	while (rc == 0 && (rc = ingest_fill_sentences(&w, account_id, 16, &filled, &c->err)) == 0 && filled > 0)
		total += filled;
	ingest_worker_release(&w);
	if (rc < 0)
		return fail(c);
	printf("%lld chunks given sentence vectors\n", total);
	return 0;
}

static const char usage_stats[] =
	"usage: faqsurectl stats --account NAME [--from YYYY-MM-DD] [--to YYYY-MM-DD]\n"
	"\n"
	"Prints the account's analytics dashboard as JSON: the object GET /api/v1/analytics/dashboard answers for\n"
	"the same window (API.md). The window is the days from --from to --to (UTC, both included); by default the\n"
	"30 days up to and including today.\n";

static int cmd_stats(struct ctl *c, const struct args *a)
{
	static const char *const known[] = { "--account", "--from", "--to", NULL };
	struct analytics_window w;
	struct terms *t = NULL;
	json_t *out = NULL;
	long long account_id;
	if (check_args(a, known, 0, usage_stats) < 0)
		return 2;
	if (!opt(a, "--account")) {
		fprintf(stderr, "faqsurectl: stats needs --account\n\n%s", usage_stats);
		return 2;
	}
	if (analytics_window_parse(opt(a, "--from"), opt(a, "--to"), time(NULL), &w, &c->err) < 0) {
		fprintf(stderr, "faqsurectl: %s\n\n%s", c->err.msg, usage_stats);
		return 2;
	}
	int rc = account_find(c->db, opt(a, "--account"), &account_id, &c->err);
	if (rc == 0)
		rc = terms_new(&t, &c->err);
	if (rc == 0)
		rc = analytics_dashboard(c->db, t, account_id, &w, &out, &c->err);
	terms_free(t);
	if (rc < 0)
		return fail(c);
	char *text = json_dumps(out, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	printf("%s\n", text);
	free(text);
	json_decref(out);
	return 0;
}

static const char *const account_create_flags[] = { "--unlimited", NULL };
static const char *const account_delete_flags[] = { "--yes", NULL };
static const char *const worker_flags[] = { "--once", NULL }; /* --log takes a value */
static const char *const agent_create_flags[] = { "--default", NULL };

static const struct command commands[] = {
	{ "migrate", NULL, cmd_migrate, usage_migrate, NULL },
	{ "account", "create", cmd_account_create, usage_account_create, account_create_flags },
	{ "account", "list", cmd_account_list, usage_account_list, NULL },
	{ "account", "topup", cmd_account_topup, usage_account_topup, NULL },
	{ "account", "disable", cmd_account_disable, usage_account_disable, NULL },
	{ "account", "enable", cmd_account_enable, usage_account_enable, NULL },
	{ "account", "delete", cmd_account_delete, usage_account_delete, account_delete_flags },
	{ "key", "create", cmd_key_create, usage_key_create, NULL },
	{ "key", "list", cmd_key_list, usage_key_list, NULL },
	{ "key", "revoke", cmd_key_revoke, usage_key_revoke, NULL },
	{ "agent", "create", cmd_agent_create, usage_agent_create, agent_create_flags },
	{ "agent", "list", cmd_agent_list, usage_agent_list, NULL },
	{ "worker", NULL, cmd_worker, usage_worker, worker_flags },
	{ "reindex", NULL, cmd_reindex, usage_reindex, NULL },
	{ "sentences", NULL, cmd_sentences, usage_sentences, NULL },
	{ "stats", NULL, cmd_stats, usage_stats, NULL },
};

int main(int argc, char **argv)
{
	struct ctl c;
	struct args a;
	const char *config_path = NULL;
	int i = 1, rc;
	if (i + 1 < argc && !strcmp(argv[i], "--config")) {
		config_path = argv[i + 1];
		i += 2;
	}
	if (i >= argc || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") || !strcmp(argv[i], "help")) {
		fputs(usage_main, i >= argc ? stderr : stdout);
		return i >= argc ? 2 : 0;
	}
	const struct command *cmd = NULL;
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		if (strcmp(commands[k].group, argv[i]))
			continue;
		if (!commands[k].name) {
			cmd = &commands[k];
			i += 1;
			break;
		}
		if (i + 1 < argc && !strcmp(commands[k].name, argv[i + 1])) {
			cmd = &commands[k];
			i += 2;
			break;
		}
	}
	if (!cmd) {
		/* "faqsurectl key --help" lists the key commands; anything else unknown is an error. */
		int group_help = i + 1 < argc && (!strcmp(argv[i + 1], "--help") || !strcmp(argv[i + 1], "-h"));
		for (size_t k = 0; group_help && k < sizeof(commands) / sizeof(commands[0]); k++)
			if (!strcmp(commands[k].group, argv[i]))
				fputs(commands[k].usage, stdout);
		for (size_t k = 0; group_help && k < sizeof(commands) / sizeof(commands[0]); k++)
			if (!strcmp(commands[k].group, argv[i]))
				return 0;
		fprintf(stderr, "faqsurectl: unknown command '%s'\n\n%s", argv[i], usage_main);
		return 2;
	}
	if (parse_args(argc - i, argv + i, cmd->flags, &a) < 0)
		return 2;
	if (a.help) {
		fputs(cmd->usage, stdout);
		return 0;
	}
	fs_error_clear(&c.err);
	if (config_path) {
		config_init(&c.cfg);
		rc = config_load(&c.cfg, config_path, 1, &c.err);
	} else {
		rc = config_load_env(&c.cfg, &c.err);
	}
	if (rc < 0) {
		fprintf(stderr, "faqsurectl: %s\n", c.err.msg);
		config_release(&c.cfg);
		return 1;
	}
	c.db = db_new(&c.cfg);
	rc = cmd->run(&c, &a);
	db_free(c.db);
	config_release(&c.cfg);
	return rc;
}
