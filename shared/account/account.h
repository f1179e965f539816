/* Accounts (tenants), their state and their token balance: the one owner of the accounts table (and of
 * balance_holds). A balance of NULL in the database means unlimited.
 *
 * A balance never goes below zero. A request that spends tokens first sets aside (holds) the most it can cost,
 * under the account's row lock, and is refused (FS_EBALANCE, 402) when the balance less the other requests'
 * holds cannot cover that; when it is done, its exact cost is taken and its hold released in one transaction.
 * Holds of a process that died run out on their own (their ttl). */
#ifndef FAQSURE_ACCOUNT_H
#define FAQSURE_ACCOUNT_H

#include <limits.h>
#include <stdio.h>

#include "core/db.h"
#include "core/tally.h"

/* What the functions below say for an unlimited balance: a value no balance reaches (a balance left below zero by
 * an earlier version is a balance like any other: -1 must not read as unlimited). */
#define ACCOUNT_UNLIMITED LLONG_MIN

/* active; disabled: every key of the account is refused (401 "account is disabled") from its next request on,
 * in every process; deleting: as disabled, and `faqsurectl account delete` has begun removing it. */
enum account_state { ACCOUNT_ACTIVE, ACCOUNT_DISABLED, ACCOUNT_DELETING };

/* balance: tokens to start with, or ACCOUNT_UNLIMITED. A taken name is FS_ECONFLICT. */
int account_create(struct db *db, const char *name, long long balance, long long *id, struct fs_error *e);
/* FS_ENOTFOUND when there is no such account. */
int account_find(struct db *db, const char *name, long long *id, struct fs_error *e);
/* "active", "disabled", "deleting". */
const char *account_state_name(enum account_state s);
/* Sets the state of the account named name (its id to *id, its state before to *before; either may be NULL).
 * An account being deleted cannot be made active or disabled again (FS_ECONFLICT: finish the delete). */
int account_set_state(struct db *db, const char *name, enum account_state state, long long *id,
		      enum account_state *before, struct fs_error *e);
/* Adds n tokens. n may be negative to correct a mistake, but never so far that the balance would go below zero
 * (FS_EINVAL). An unlimited account is FS_EINVAL. */
int account_topup(struct db *db, const char *name, long long n, long long *balance, struct fs_error *e);
/* Prints every account as a table. */
int account_print_list(struct db *db, FILE *out, struct fs_error *e);
/* The account's balance now, or ACCOUNT_UNLIMITED. */
int account_balance(struct db *db, long long account_id, long long *balance, struct fs_error *e);
/* Locks the account's row for the rest of the caller's transaction (SELECT … FOR UPDATE): writers that must
 * not interleave for one account take it first. FS_ENOTFOUND when there is no such account. */
int account_lock(struct db *db, long long account_id, struct fs_error *e);

/* Tokens set aside for one request in progress. id is "" when nothing was set aside (an unlimited account). */
struct account_hold {
	char id[37];
	long long account_id;
	long long tokens;
};

/* Sets aside tokens for a request that will spend at most that many, for ttl_seconds, in a transaction of its own
 * (never inside the caller's). FS_EBALANCE, with the figures in the message, when the balance less the other
 * holds cannot cover them; FS_EAUTH when the account is gone. An unlimited account gets an empty hold and costs
 * one read. */
int account_hold(struct db *db, long long account_id, long long tokens, long long ttl_seconds,
		 struct account_hold *h, struct fs_error *e);
/* Gives a hold back (its request ended without spending), on its own; best effort, as a hold left behind runs
 * out by itself. Empties h. */
void account_release(struct db *db, struct account_hold *h);
/* Takes tokens from the balance inside the caller's transaction, releasing hold (NULL or empty: none) in it; the
 * account's row is locked first. The balance never goes below what other requests hold: when it cannot cover
 * tokens, FS_EBALANCE and nothing is taken — or, with partial, what it can cover is taken (the balance goes to 0
 * when no other request holds any). *taken (may be NULL) gets what was taken (tokens for an unlimited account,
 * whose balance does not change). FS_EAUTH when the account is gone. */
int account_debit(struct db *db, long long account_id, long long tokens, const struct account_hold *hold,
		  int partial, long long *taken, struct fs_error *e);

/* The last step of deleting an account (after its documents, conversations, agents and vectors went): with
 * apply, in one transaction that locks the account's row first, its rate-limit counters, usage events and
 * rollups, holds, keys and the row itself go; without, nothing changes. Either way t gets the counts
 * ("API keys", "rate-limit counters", "usage events", …). */
int account_purge(struct db *db, long long account_id, int apply, struct tally *t, struct fs_error *e);

#endif
