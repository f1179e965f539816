/* Per-key rate limits as MariaDB counter rows: one row per key and calendar minute, one per key and calendar
 * hour (UTC). Both are incremented by one atomic statement that returns the new counts; a request is admitted
 * only when both counts are within their limits, so no window ever admits more than its limit, across any
 * number of processes and machines. A refused request gives its increments back, so it uses no quota. */
#ifndef FAQSURE_RATELIMIT_H
#define FAQSURE_RATELIMIT_H

#include <time.h>

#include "account/apikey.h"
#include "core/db.h"
#include "core/tally.h"

struct ratelimit_result {
	int allowed;
	int hit_hour;          /* when refused: 1 if the hourly limit was the one hit, 0 if the minute's */
	long long remaining;   /* requests still admitted now (min of both windows) */
	long long reset_secs;  /* seconds until the window that decides `remaining` (or the refusal) ends */
};

/* Counts one request at time now for the key (its id, limits and revision) with SHA-256 key_hash. 0 with res
 * filled in, or a negative code (FS_EUNAVAIL). The same statement makes sure the key is still usable (not
 * revoked, not expired, its account not disabled) and still at the remembered revision, and counts nothing, answering FS_EAUTH, when it is
 * not: a process that remembers a key needs no other query to admit a request, and reads it again after that. */
int ratelimit_take(struct db *db, const struct apikey_auth *key, const unsigned char key_hash[32], time_t now,
		   struct ratelimit_result *res, struct fs_error *e);
/* The same for a bucket that is not a key (36 ASCII characters, e.g. a visitor of a publishable key). */
int ratelimit_take_bucket(struct db *db, const char *bucket, long long per_minute, long long per_hour, time_t now,
			  struct ratelimit_result *res, struct fs_error *e);
/* Gives back one request counted at time now (one admitted by ratelimit_take, then refused for another reason). */
int ratelimit_give_back(struct db *db, const char *key_id, time_t now, struct fs_error *e);
/* Deletes counter rows of windows that ended more than an hour before now. */
int ratelimit_prune(struct db *db, time_t now, struct fs_error *e);
/* The counter rows of the account's keys into t ("rate-limit counters"); with apply, deleted (account delete). */
int ratelimit_purge_account(struct db *db, long long account_id, int apply, struct tally *t, struct fs_error *e);

/* The window arithmetic, exposed for unit tests. */
void ratelimit_decide(long long n_minute, long long n_hour, long long per_minute, long long per_hour, time_t now,
		      struct ratelimit_result *res);

#endif
