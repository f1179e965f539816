/* Accounts (tenants) and their token balance: the one owner of the accounts table. A balance of NULL in the
 * database means unlimited. */
#ifndef FAQSURE_ACCOUNT_H
#define FAQSURE_ACCOUNT_H

#include <limits.h>
#include <stdio.h>

#include "core/db.h"

/* What the functions below say for an unlimited balance: a value no balance reaches (a limited balance may go
 * below zero by the last answer's cost, so -1 is a balance like any other). */
#define ACCOUNT_UNLIMITED LLONG_MIN

/* balance: tokens to start with, or ACCOUNT_UNLIMITED. A taken name is FS_ECONFLICT. */
int account_create(struct db *db, const char *name, long long balance, long long *id, struct fs_error *e);
/* FS_ENOTFOUND when there is no such account. */
int account_find(struct db *db, const char *name, long long *id, struct fs_error *e);
/* Adds n tokens (n may be negative to correct a mistake). An unlimited account is FS_EINVAL. */
int account_topup(struct db *db, const char *name, long long n, long long *balance, struct fs_error *e);
/* Prints every account as a table. */
int account_print_list(struct db *db, FILE *out, struct fs_error *e);
/* The account's balance now, or ACCOUNT_UNLIMITED. */
int account_balance(struct db *db, long long account_id, long long *balance, struct fs_error *e);
/* Locks the account's row for the rest of the caller's transaction (SELECT … FOR UPDATE): writers that must
 * not interleave for one account take it first. FS_ENOTFOUND when there is no such account. */
int account_lock(struct db *db, long long account_id, struct fs_error *e);
/* Takes tokens from the balance in one atomic statement (never below what is left: the balance may go
 * negative by the last answer's cost, and the next request then gets 402). balance_out is
 * ACCOUNT_UNLIMITED for unlimited accounts. */
int account_debit(struct db *db, long long account_id, long long tokens, long long *balance_out,
		  struct fs_error *e);

#endif
