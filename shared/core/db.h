/* MariaDB access: one connection per process, prepared statements only (cached per connection), explicit
 * reconnect after the server went away, results copied out as strings. */
#ifndef FAQSURE_DB_H
#define FAQSURE_DB_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "core/tally.h"

struct db;

/* Rows of a result, every cell copied as a NUL-terminated string (NULL for SQL NULL). */
struct db_res {
	size_t nrows, ncols;
	char **cells;     /* nrows * ncols */
	size_t *lens;     /* nrows * ncols */
	unsigned long long affected;
};

/* The connection is opened lazily by the first statement. cfg must outlive db. */
struct db *db_new(const struct config *cfg);
void db_free(struct db *db);

/* Runs one statement. Each character of types binds the next variadic argument to the next '?':
 *   's' const char * (NULL binds SQL NULL)   'b' const void *, size_t (bytes)   'i' long long
 * res may be NULL when no rows are wanted; otherwise it must be released with db_res_release.
 * A lost connection gives FS_EUNAVAIL (a SELECT outside a transaction is retried once on a new connection);
 * a deadlock, lock wait timeout or Galera conflict FS_ERETRY (a SELECT outside a transaction is retried once at
 * once); a duplicate key gives FS_ECONFLICT; anything else FS_EINTERNAL. */
int db_exec(struct db *db, struct db_res *res, struct fs_error *e, const char *sql, const char *types, ...);
/* One bound parameter, for statements whose parameter count is only known at run time. */
struct db_param {
	char type;        /* 's', 'b' or 'i' as for db_exec */
	const void *ptr;  /* 's': the string (NULL binds SQL NULL); 'b': the bytes */
	size_t len;       /* 'b' only */
	long long i;      /* 'i' only */
};

int db_exec_params(struct db *db, struct db_res *res, struct fs_error *e, const char *sql,
		   const struct db_param *params, size_t nparams);
/* Multi-row INSERT: head is "INSERT INTO t (a, b) VALUES ", tuple the placeholders of one row ("(?, ?)");
 * params holds nrows * ncols parameters, row after row. Sent per_statement rows at a time. */
int db_insert_rows(struct db *db, const char *head, const char *tuple, const struct db_param *params, size_t ncols,
		   size_t nrows, size_t per_statement, struct fs_error *e);
/* As db_insert_rows, with tail (e.g. " ON DUPLICATE KEY UPDATE n = n + VALUES(n)") after each statement's rows. */
int db_upsert_rows(struct db *db, const char *head, const char *tuple, const char *tail,
		   const struct db_param *params, size_t ncols, size_t nrows, size_t per_statement, struct fs_error *e);
const char *db_cell(const struct db_res *r, size_t row, size_t col);
long long db_cell_ll(const struct db_res *r, size_t row, size_t col, long long if_null);
void db_res_release(struct db_res *r);

/* One unit of database work for db_retry: a statement in autocommit, or a whole transaction (db_begin …
 * db_commit, rolled back by the work itself when it fails). */
typedef int (*db_work_fn)(struct db *db, void *arg, struct fs_error *e);
/* 48: on a Galera cluster every write to a row that another node writes at once (a key's rate-limit counters under
 * a burst, an account's balance under chats and indexing on two nodes) fails certification and comes back as
 * 1213; 8 tries ran out under 40 requests at once on two nodes, 16 under a sustained load of 8 clients, 24 now and
 * then under 16 clients chatting on one key and one balance through two nodes. */
#define DB_RETRY_TRIES 48
/* The one retry policy for work that lost to another process: runs work, and again (up to DB_RETRY_TRIES in all,
 * each time after a random pause of up to 2^min(i,7) ms, so that colliding processes spread out; 5.4 s in all at
 * most, about half of it on average) while it answers FS_ERETRY (a deadlock, a lock wait timeout or a Galera
 * certification failure: the server rolled the work back, so running it again is safe). A lost connection is not
 * tried again here: db_exec already retries a read outside a transaction on a new connection, and a write whose
 * commit went unanswered may have happened. Returns work's last answer; when the tries run out, says on stderr
 * which statement kept losing. */
int db_retry(struct db *db, db_work_fn work, void *arg, struct fs_error *e);

int db_begin(struct db *db, struct fs_error *e);
int db_commit(struct db *db, struct fs_error *e);
/* Never fails from the caller's point of view: a rollback that cannot reach the server drops the connection. */
void db_rollback(struct db *db);

/* Counts the rows of table whose account_id is account_id into t as what; with apply, deletes them instead, at
 * most DB_PURGE_SLICE per statement until none is left, counting what went (also when a statement fails midway).
 * table is the caller's constant (the module that owns it), never client text. For deleting an account. */
#define DB_PURGE_SLICE 10000
int db_purge_rows(struct db *db, const char *table, long long account_id, int apply, struct tally *t,
		  const char *what, struct fs_error *e);

/* The server's max_allowed_packet in bytes: no statement (an upload's bytes are one parameter) and no result row
 * may be larger, or MariaDB drops the connection (2006, indistinguishable from an outage). Read once per
 * connection: a session cannot change it, and the connection made after a server restart reads it again. */
int db_max_packet(struct db *db, long long *out, struct fs_error *e);

/* How many times so far this handle found the database gone: a connection lost, or none to be made. A caller
 * compares two readings to learn whether work that failed met an outage (and not a refusal of its own). */
unsigned long long db_losses(const struct db *db);

/* Opens the connection if it is not open. 0, or FS_EUNAVAIL. */
int db_ping(struct db *db, struct fs_error *e);
/* Waits up to ms milliseconds for the database to answer a statement (trying again every 200 ms, on a new
 * connection when the old one is gone, without logging each failure): 0 once it does, else FS_EUNAVAIL. */
int db_await(struct db *db, int ms, struct fs_error *e);
/* Runs trusted SQL text that may hold several statements (migrations only: never with client data). */
int db_exec_script(struct db *db, const char *sql, struct fs_error *e);

#endif
