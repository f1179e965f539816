/* Accounts (tenants) and their token balance. A balance of NULL in the database means unlimited. */
#ifndef FAQSURE_ACCOUNT_H
#define FAQSURE_ACCOUNT_H

#include <stdio.h>

#include "core/db.h"

#define ACCOUNT_UNLIMITED (-1LL)

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
/* Takes tokens from the balance in one atomic statement (never below what is left: the balance may go
 * negative by the last answer's cost, and the next request then gets 402). balance_out is
 * ACCOUNT_UNLIMITED for unlimited accounts. */
int account_debit(struct db *db, long long account_id, long long tokens, long long *balance_out,
		  struct fs_error *e);

#endif
