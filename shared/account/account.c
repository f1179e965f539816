/* Accounts: create, find, state, list, top up, lock, holds and debits, purge. */
#include "account/account.h"

#include <stdio.h>
#include <string.h>

#include "account/ratelimit.h"
#include "account/usage.h"
#include "core/util.h"
#include "core/banned.h"

int account_create(struct db *db, const char *name, long long balance, long long *id, struct fs_error *e)
{
	struct db_res r;
	int rc;
	if (balance == ACCOUNT_UNLIMITED)
		rc = db_exec(db, &r, e, "INSERT INTO accounts (name, balance) VALUES (?, NULL) RETURNING id", "s",
			     name);
	else
		rc = db_exec(db, &r, e, "INSERT INTO accounts (name, balance) VALUES (?, ?) RETURNING id", "si", name,
			     balance);
	if (rc == FS_ECONFLICT)
		return fs_fail(e, rc, "an account named '%s' already exists", name);
	if (rc < 0)
		return rc;
	if (id)
		*id = db_cell_ll(&r, 0, 0, 0);
	db_res_release(&r);
	return 0;
}

int account_find(struct db *db, const char *name, long long *id, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e, "SELECT id FROM accounts WHERE name = ?", "s", name);
	if (rc < 0)
		return rc;
	if (r.nrows == 0)
		rc = fs_fail(e, FS_ENOTFOUND, "no account named '%s'", name);
	else
		*id = db_cell_ll(&r, 0, 0, 0);
	db_res_release(&r);
	return rc;
}

static const char *const state_names[] = { "active", "disabled", "deleting" };

const char *account_state_name(enum account_state s)
{
	return s <= ACCOUNT_DELETING ? state_names[s] : "active";
}

static enum account_state state_of(const char *name)
{
	for (int s = ACCOUNT_ACTIVE; s <= ACCOUNT_DELETING; s++)
		if (name && !strcmp(name, state_names[s]))
			return (enum account_state)s;
	return ACCOUNT_ACTIVE;
}

int account_set_state(struct db *db, const char *name, enum account_state state, long long *id,
		      enum account_state *before, struct fs_error *e)
{
	struct db_res r;
	int rc = db_begin(db, e);
	if (rc < 0)
		return rc;
	if ((rc = db_exec(db, &r, e, "SELECT id, state FROM accounts WHERE name = ? FOR UPDATE", "s", name)) < 0)
		goto fail;
	if (r.nrows == 0) {
		db_res_release(&r);
		rc = fs_fail(e, FS_ENOTFOUND, "no account named '%s'", name);
		goto fail;
	}
	long long account_id = db_cell_ll(&r, 0, 0, 0);
	enum account_state was = state_of(db_cell(&r, 0, 1));
	db_res_release(&r);
	if (was == ACCOUNT_DELETING && state != ACCOUNT_DELETING) {
		rc = fs_fail(e, FS_ECONFLICT, "account '%s' is being deleted; run 'faqsurectl account delete %s --yes' "
			     "again to finish", name, name);
		goto fail;
	}
	if (was != state &&
	    (rc = db_exec(db, NULL, e, "UPDATE accounts SET state = ?, state_changed_at = UTC_TIMESTAMP(6) WHERE id = ?",
			  "si", account_state_name(state), account_id)) < 0)
		goto fail;
	if ((rc = db_commit(db, e)) < 0)
		goto fail;
	if (id)
		*id = account_id;
	if (before)
		*before = was;
	return 0;
fail:
	db_rollback(db);
	return rc;
}

int account_balance(struct db *db, long long account_id, long long *balance, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e, "SELECT balance FROM accounts WHERE id = ?", "i", account_id);
	if (rc < 0)
		return rc;
	if (r.nrows == 0)
		rc = fs_fail(e, FS_EAUTH, "the key's account no longer exists");
	else
		*balance = db_cell_ll(&r, 0, 0, ACCOUNT_UNLIMITED);
	db_res_release(&r);
	return rc;
}

int account_lock(struct db *db, long long account_id, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e, "SELECT id FROM accounts WHERE id = ? FOR UPDATE", "i", account_id);
	if (rc < 0)
		return rc;
	if (r.nrows == 0)
		rc = fs_fail(e, FS_ENOTFOUND, "no account %lld", account_id);
	db_res_release(&r);
	return rc;
}

int account_topup(struct db *db, const char *name, long long n, long long *balance, struct fs_error *e)
{
	struct db_res r;
	long long id;
	int rc = account_find(db, name, &id, e);
	if (rc < 0)
		return rc;
	/* A correction (n < 0) may not take the balance below zero; adding tokens to a balance an earlier version
	 * left below zero is always fine. */
	if ((rc = db_exec(db, &r, e,
			  "UPDATE accounts SET balance = balance + ? WHERE id = ? AND balance IS NOT NULL"
			  " AND (? >= 0 OR balance + ? >= 0)",
			  "iiii", n, id, n, n)) < 0)
		return rc;
	unsigned long long changed = r.affected;
	db_res_release(&r);
	if ((rc = account_balance(db, id, balance, e)) < 0)
		return rc;
	if (*balance == ACCOUNT_UNLIMITED)
		return fs_fail(e, FS_EINVAL, "account '%s' has an unlimited balance; there is nothing to top up", name);
	if (!changed && n < 0)
		return fs_fail(e, FS_EINVAL, "account '%s' has %lld tokens: taking %lld would leave it below zero", name,
			       *balance, -n);
	return 0;
}

int account_print_list(struct db *db, FILE *out, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e,
			 "SELECT a.id, a.name, a.balance, DATE_FORMAT(a.created_at, '%Y-%m-%dT%H:%i:%sZ'),"
			 " (SELECT COUNT(*) FROM api_keys k WHERE k.account_id = a.id AND k.revoked_at IS NULL), a.state"
			 " FROM accounts a ORDER BY a.id",
			 "");
	if (rc < 0)
		return rc;
	fprintf(out, "%-6s %-30s %-14s %-5s %-20s %s\n", "ID", "NAME", "BALANCE", "KEYS", "CREATED", "STATE");
	for (size_t i = 0; i < r.nrows; i++)
		fprintf(out, "%-6s %-30s %-14s %-5s %-20s %s\n", db_cell(&r, i, 0), db_cell(&r, i, 1),
			db_cell(&r, i, 2) ? db_cell(&r, i, 2) : "unlimited", db_cell(&r, i, 4), db_cell(&r, i, 3),
			db_cell(&r, i, 5));
	db_res_release(&r);
	return 0;
}

/* ---- holds and debits ---- */

/* The account's balance, its row locked for the caller's transaction: FS_EAUTH when it is gone. */
static int locked_balance(struct db *db, long long account_id, long long *balance, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e, "SELECT balance FROM accounts WHERE id = ? FOR UPDATE", "i", account_id);
	if (rc < 0)
		return rc;
	if (r.nrows == 0)
		rc = fs_fail(e, FS_EAUTH, "the account no longer exists");
	else
		*balance = db_cell_ll(&r, 0, 0, ACCOUNT_UNLIMITED);
	db_res_release(&r);
	return rc;
}

/* What the account's live holds set aside. Read under the account's row lock, which every hold is written
 * under, so it sees every hold committed before. */
static int held(struct db *db, long long account_id, long long *tokens, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e,
			 "SELECT CAST(COALESCE(SUM(tokens), 0) AS SIGNED) FROM balance_holds"
			 " WHERE account_id = ? AND expires_at > UTC_TIMESTAMP(6)",
			 "i", account_id);
	if (rc < 0)
		return rc;
	*tokens = db_cell_ll(&r, 0, 0, 0);
	db_res_release(&r);
	return 0;
}

struct holding {
	long long account_id, tokens, ttl;
	struct account_hold *h;
};

static int hold_once(struct db *db, void *arg, struct fs_error *e)
{
	struct holding *x = arg;
	long long balance, other;
	int rc = db_begin(db, e);
	if (rc < 0)
		return rc;
	if ((rc = locked_balance(db, x->account_id, &balance, e)) < 0)
		goto fail;
	if (balance == ACCOUNT_UNLIMITED) { /* became unlimited meanwhile: nothing to set aside */
		db_rollback(db);
		return 0;
	}
	/* holds whose process died: gone now rather than counted */
	if ((rc = db_exec(db, NULL, e, "DELETE FROM balance_holds WHERE account_id = ? AND expires_at <= UTC_TIMESTAMP(6)",
			  "i", x->account_id)) < 0 ||
	    (rc = held(db, x->account_id, &other, e)) < 0)
		goto fail;
	if (balance - other < x->tokens) {
		rc = fs_fail(e, FS_EBALANCE,
			     "token balance too low: this needs up to %lld tokens and %lld are available"
			     " (balance %lld, %lld set aside for requests in progress); top up the account to continue",
			     x->tokens, balance - other > 0 ? balance - other : 0, balance, other);
		goto fail;
	}
	util_uuid(x->h->id);
	if ((rc = db_exec(db, NULL, e,
			  "INSERT INTO balance_holds (id, account_id, tokens, expires_at)"
			  " VALUES (?, ?, ?, UTC_TIMESTAMP(6) + INTERVAL ? SECOND)",
			  "siii", x->h->id, x->account_id, x->tokens, x->ttl)) < 0 ||
	    (rc = db_commit(db, e)) < 0)
		goto fail;
	return 0;
fail:
	x->h->id[0] = '\0';
	db_rollback(db);
	return rc;
}

int account_hold(struct db *db, long long account_id, long long tokens, long long ttl_seconds,
		 struct account_hold *h, struct fs_error *e)
{
	long long balance;
	memset(h, 0, sizeof(*h));
	h->account_id = account_id;
	h->tokens = tokens < 0 ? 0 : tokens;
	int rc = account_balance(db, account_id, &balance, e);
	if (rc < 0 || balance == ACCOUNT_UNLIMITED) /* unlimited: no lock, no row */
		return rc;
	struct holding x = { account_id, h->tokens, ttl_seconds, h };
	return db_retry(db, hold_once, &x, e);
}

void account_release(struct db *db, struct account_hold *h)
{
	struct fs_error ignored;
	if (h->id[0])
		db_exec(db, NULL, &ignored, "DELETE FROM balance_holds WHERE id = ?", "s", h->id);
	h->id[0] = '\0';
}

int account_debit(struct db *db, long long account_id, long long tokens, const struct account_hold *hold,
		  int partial, long long *taken, struct fs_error *e)
{
	long long balance, other;
	int rc = locked_balance(db, account_id, &balance, e);
	if (rc < 0)
		return rc;
	if (balance == ACCOUNT_UNLIMITED) {
		if (taken)
			*taken = tokens;
		return 0;
	}
	if ((hold && hold->id[0] &&
	     (rc = db_exec(db, NULL, e, "DELETE FROM balance_holds WHERE id = ?", "s", hold->id)) < 0) ||
	    (rc = held(db, account_id, &other, e)) < 0)
		return rc;
	long long room = balance - other > 0 ? balance - other : 0, take = tokens;
	if (take > room) {
		if (!partial)
			return fs_fail(e, FS_EBALANCE,
				       "token balance too low: this takes %lld tokens and %lld are available (balance %lld,"
				       " %lld set aside for requests in progress); top up the account to continue",
				       tokens, room, balance, other);
		take = room;
	}
	if (take > 0) {
		/* Only inside the caller's transaction, which holds what the debit pays for: should that transaction
		 * have ended unseen, this statement would run on its own and charge for rows that are gone. */
		struct db_res r;
		if ((rc = db_exec(db, &r, e, "UPDATE accounts SET balance = balance - ? WHERE id = ? AND @@in_transaction = 1",
				  "ii", take, account_id)) < 0)
			return rc;
		unsigned long long n = r.affected;
		db_res_release(&r);
		if (n != 1) {
			fprintf(stderr, "faqsure: account %lld: a debit outside its transaction refused\n", account_id);
			return fs_fail(e, FS_ERETRY, "database busy (the transaction was ended)");
		}
	}
	if (taken)
		*taken = take;
	return 0;
}

/* ---- deleting an account ---- */

static int purge_all(struct db *db, long long account_id, int apply, struct tally *t, struct fs_error *e)
{
	int rc;
	if ((rc = ratelimit_purge_account(db, account_id, apply, t, e)) < 0 ||
	    (rc = usage_purge_account(db, account_id, apply, t, e)) < 0 ||
	    (rc = db_purge_rows(db, "balance_holds", account_id, apply, t, "balance holds", e)) < 0 ||
	    (rc = db_purge_rows(db, "api_keys", account_id, apply, t, "API keys", e)) < 0 || !apply)
		return rc;
	/* whatever a request admitted before the account was disabled added meanwhile goes with it (foreign keys) */
	return db_exec(db, NULL, e, "DELETE FROM accounts WHERE id = ?", "i", account_id);
}

struct purging {
	long long account_id;
	struct tally *t;
};

static int purge_once(struct db *db, void *arg, struct fs_error *e)
{
	struct purging *p = arg;
	struct tally t = *p->t; /* counted again if a deadlock makes us start over */
	/* the row first: usage flushes lock it before writing the account's events, so none slips in after */
	int rc = db_begin(db, e);
	if (rc == 0 && (rc = account_lock(db, p->account_id, e)) == 0 && (rc = purge_all(db, p->account_id, 1, &t, e)) == 0 &&
	    (rc = db_commit(db, e)) == 0) {
		*p->t = t;
		return 0;
	}
	db_rollback(db);
	return rc;
}

int account_purge(struct db *db, long long account_id, int apply, struct tally *t, struct fs_error *e)
{
	if (!apply)
		return purge_all(db, account_id, 0, t, e);
	struct purging p = { account_id, t };
	return db_retry(db, purge_once, &p, e);
}
