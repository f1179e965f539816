/* Accounts: create, find, list, top up, lock, debit. */
#include "account/account.h"

#include <string.h>

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
	long long id;
	int rc = account_find(db, name, &id, e);
	if (rc == 0)
		rc = db_exec(db, NULL, e,
			     "UPDATE accounts SET balance = balance + ? WHERE id = ? AND balance IS NOT NULL", "ii", n, id);
	if (rc == 0)
		rc = account_balance(db, id, balance, e);
	if (rc == 0 && *balance == ACCOUNT_UNLIMITED)
		rc = fs_fail(e, FS_EINVAL, "account '%s' has an unlimited balance; there is nothing to top up", name);
	return rc;
}

int account_print_list(struct db *db, FILE *out, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e,
			 "SELECT a.id, a.name, a.balance, DATE_FORMAT(a.created_at, '%Y-%m-%dT%H:%i:%sZ'),"
			 " (SELECT COUNT(*) FROM api_keys k WHERE k.account_id = a.id AND k.revoked_at IS NULL)"
			 " FROM accounts a ORDER BY a.id",
			 "");
	if (rc < 0)
		return rc;
	fprintf(out, "%-6s %-30s %-14s %-5s %s\n", "ID", "NAME", "BALANCE", "KEYS", "CREATED");
	for (size_t i = 0; i < r.nrows; i++)
		fprintf(out, "%-6s %-30s %-14s %-5s %s\n", db_cell(&r, i, 0), db_cell(&r, i, 1),
			db_cell(&r, i, 2) ? db_cell(&r, i, 2) : "unlimited", db_cell(&r, i, 4), db_cell(&r, i, 3));
	db_res_release(&r);
	return 0;
}

int account_debit(struct db *db, long long account_id, long long tokens, long long *balance_out,
		  struct fs_error *e)
{
	long long balance;
	int rc = db_exec(db, NULL, e, "UPDATE accounts SET balance = balance - ? WHERE id = ? AND balance IS NOT NULL",
			 "ii", tokens, account_id);
	if (rc == 0)
		rc = account_balance(db, account_id, &balance, e);
	if (rc == 0 && balance_out)
		*balance_out = balance;
	return rc;
}
