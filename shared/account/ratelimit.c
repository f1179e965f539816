/* Rate limiting with counter rows: one INSERT … ON DUPLICATE KEY UPDATE … RETURNING per request, in autocommit,
 * so the hot rows of a busy key are locked only for one statement (not across a client round trip). */
#include "account/ratelimit.h"

#include <string.h>
#include <time.h>

#include "core/util.h"

#include "core/banned.h"

/* One take: the key's two counter rows, each one higher (or new), with their counts. */
struct take {
	struct db_res *r;
	long long hour, minute;
	const unsigned char *key_hash;
	long long revision;
	const char *bucket; /* a visitor's bucket (ratelimit_take_bucket): no key to check */
};

static int take_once(struct db *db, void *arg, struct fs_error *e)
{
	struct take *t = arg;
	/* Rows are always locked hour first, then minute (primary-key order, as the UPDATE below scans them), so
	 * two requests of one key cannot lock them in opposite orders. */
	return db_exec(db, t->r, e,
		       "INSERT INTO rate_counters (key_id, window_kind, window_start, n)"
		       " SELECT k.id, IF(s.seq = 1, 'h', 'm'), IF(s.seq = 1, ?, ?), 1"
		       " FROM api_keys k JOIN accounts a ON a.id = k.account_id AND a.state = 'active' JOIN seq_1_to_2 s"
		       " WHERE k.key_hash = ? AND k.revoked_at IS NULL AND k.revision = ?"
		       " AND (k.expires_at IS NULL OR k.expires_at > UTC_TIMESTAMP())"
		       " ON DUPLICATE KEY UPDATE n = n + 1 RETURNING window_kind, n",
		       "iibi", t->hour, t->minute, t->key_hash, (size_t)32, t->revision);
}

static int take_bucket_once(struct db *db, void *arg, struct fs_error *e)
{
	struct take *t = arg;
	return db_exec(db, t->r, e,
		       "INSERT INTO rate_counters (key_id, window_kind, window_start, n) VALUES (?, 'h', ?, 1), (?, 'm', ?, 1)"
		       " ON DUPLICATE KEY UPDATE n = n + 1 RETURNING window_kind, n",
		       "sisi", t->bucket, t->hour, t->bucket, t->minute);
}

/* Gives one take back. */
struct give_back {
	const char *key_id;
	long long hour, minute;
};

static int give_back_once(struct db *db, void *arg, struct fs_error *e)
{
	struct give_back *g = arg;
	return db_exec(db, NULL, e,
		       "UPDATE rate_counters SET n = n - 1 WHERE key_id = ? AND n > 0 AND"
		       " ((window_kind = 'm' AND window_start = ?) OR (window_kind = 'h' AND window_start = ?))",
		       "sii", g->key_id, g->minute, g->hour);
}

void ratelimit_decide(long long n_minute, long long n_hour, long long per_minute, long long per_hour, time_t now,
		      struct ratelimit_result *res)
{
	long long to_minute_end = 60 - (long long)(now % 60), to_hour_end = 3600 - (long long)(now % 3600);
	memset(res, 0, sizeof(*res));
	if (n_minute > per_minute) {
		res->reset_secs = to_minute_end;
		return;
	}
	if (n_hour > per_hour) {
		res->hit_hour = 1;
		res->reset_secs = to_hour_end;
		return;
	}
	res->allowed = 1;
	long long left_minute = per_minute - n_minute, left_hour = per_hour - n_hour;
	if (left_hour < left_minute) {
		res->remaining = left_hour;
		res->reset_secs = to_hour_end;
	} else {
		res->remaining = left_minute;
		res->reset_secs = to_minute_end;
	}
}

/* Counts one request in the two windows of a key (checked by its hash and revision) or of a bucket. */
static int take(struct db *db, const char *key_id, struct take *t, long long per_minute, long long per_hour,
		time_t now, struct ratelimit_result *res, struct fs_error *e)
{
	struct db_res r;
	long long n_minute = 0, n_hour = 0, minute = (long long)(now - now % 60), hour = (long long)(now - now % 3600);
	t->r = &r;
	t->hour = hour;
	t->minute = minute;
	int rc = db_retry(db, t->bucket ? take_bucket_once : take_once, t, e);
	if (rc < 0)
		return rc;
	if (r.nrows == 0) { /* the key is no longer usable, or was edited */
		db_res_release(&r);
		return FS_EAUTH;
	}
	/* Two rows, or more on Galera: a node retrying the statement after a conflict (wsrep_retry_autocommit) sends
	 * the rows of the aborted attempts first and the committed ones last, so the last row of each kind counts. */
	for (size_t i = 0; i < r.nrows; i++) {
		if (db_cell(&r, i, 0)[0] == 'm')
			n_minute = db_cell_ll(&r, i, 1, 0);
		else
			n_hour = db_cell_ll(&r, i, 1, 0);
	}
	db_res_release(&r);
	ratelimit_decide(n_minute, n_hour, per_minute, per_hour, now, res);
	if (res->allowed)
		return 0;
	/* Refused: give the increments back so the refusal uses no quota. Until then a concurrent request may
	 * see a count one too high and be refused too; none is ever admitted beyond the limit. */
	return ratelimit_give_back(db, key_id, now, e);
}

int ratelimit_take(struct db *db, const struct apikey_auth *key, const unsigned char key_hash[32], time_t now,
		   struct ratelimit_result *res, struct fs_error *e)
{
	struct take t = { .key_hash = key_hash, .revision = key->revision };
	return take(db, key->id, &t, key->per_minute, key->per_hour, now, res, e);
}

int ratelimit_take_bucket(struct db *db, const char *bucket, long long per_minute, long long per_hour, time_t now,
			  struct ratelimit_result *res, struct fs_error *e)
{
	struct take t = { .bucket = bucket };
	return take(db, bucket, &t, per_minute, per_hour, now, res, e);
}

int ratelimit_prune(struct db *db, time_t now, struct fs_error *e)
{
	return db_exec(db, NULL, e, "DELETE FROM rate_counters WHERE window_start < ? LIMIT 10000", "i",
		       (long long)(now - 7200));
}

int ratelimit_give_back(struct db *db, const char *key_id, time_t now, struct fs_error *e)
{
	struct give_back g = { key_id, (long long)(now - now % 3600), (long long)(now - now % 60) };
	return db_retry(db, give_back_once, &g, e);
}

int ratelimit_purge_account(struct db *db, long long account_id, int apply, struct tally *t, struct fs_error *e)
{
	struct db_res r;
	int rc = apply ? db_exec(db, &r, e,
				 "DELETE c FROM rate_counters c JOIN api_keys k ON k.id = c.key_id WHERE k.account_id = ?",
				 "i", account_id)
		       : db_exec(db, &r, e,
				 "SELECT COUNT(*) FROM rate_counters c JOIN api_keys k ON k.id = c.key_id"
				 " WHERE k.account_id = ?",
				 "i", account_id);
	if (rc < 0)
		return rc;
	tally_add(t, "rate-limit counters", apply ? (long long)r.affected : db_cell_ll(&r, 0, 0, 0));
	db_res_release(&r);
	return 0;
}
