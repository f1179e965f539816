/* MariaDB Connector/C wrapper: lazy connect, per-connection statement cache, reconnect on lost connections. */
#include "core/db.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "core/buf.h"
#include "core/util.h"
#include "core/banned.h"

#define DB_MAX_PARAMS 512
#define DB_MAX_STMTS 128

struct cached_stmt {
	char *sql; /* a copy of the statement text */
	MYSQL_STMT *stmt;
};

struct db {
	const struct config *cfg;
	MYSQL *conn;
	int in_txn;
	int galera; /* the server is a Galera node: 1, 0, or -1 until the connection's first transaction asks */
	int host_at; /* the server of [database] host connected to, or tried first next time */
	long long max_packet; /* the server's max_allowed_packet as this connection got it; 0 until asked */
	char lost_sql[100]; /* the start of the statement of the last deadlock or lock wait timeout (db_retry's log) */
	unsigned long long losses; /* db_losses */
	int quiet; /* db_await: failed connects are not logged one by one */
	size_t nstmts;
	struct cached_stmt stmts[DB_MAX_STMTS];
};

struct db *db_new(const struct config *cfg)
{
	struct db *db = xcalloc(1, sizeof(*db));
	db->cfg = cfg;
	db->galera = -1;
	return db;
}

static void db_disconnect(struct db *db)
{
	for (size_t i = 0; i < db->nstmts; i++) {
		mysql_stmt_close(db->stmts[i].stmt);
		free(db->stmts[i].sql);
	}
	db->nstmts = 0;
	if (db->conn)
		mysql_close(db->conn);
	db->conn = NULL;
	db->in_txn = 0;
	db->galera = -1;
	db->max_packet = 0;
}

/* On a Galera node a transaction runs with autocommit off (db_begin): on again after it; a connection that
 * cannot take it is dropped (a new one starts with autocommit on). */
static void autocommit_back(struct db *db)
{
	if (db->conn && db->galera > 0 && mysql_query(db->conn, "SET autocommit = 1") != 0)
		db_disconnect(db);
}

void db_free(struct db *db)
{
	if (!db)
		return;
	db_disconnect(db);
	free(db);
	mysql_library_end();
}

static int is_connection_error(unsigned int err)
{
	return err == CR_SERVER_GONE_ERROR || err == CR_SERVER_LOST || err == CR_CONNECTION_ERROR ||
	       err == CR_CONN_HOST_ERROR || err == CR_SERVER_LOST_EXTENDED || err == ER_CONNECTION_KILLED ||
	       err == ER_SERVER_SHUTDOWN || err == 4031 /* ER_CLIENT_INTERACTION_TIMEOUT */ ||
	       err == CR_COMMANDS_OUT_OF_SYNC ||
	       /* a Galera node that is not part of the cluster (cut off, or joining and not Synced yet) takes
		* connections and refuses statements: "WSREP has not yet prepared node for application use" */
	       err == ER_UNKNOWN_COM_ERROR;
}

static MYSQL *new_handle(const struct config *c)
{
	MYSQL *m = mysql_init(NULL);
	if (!m)
		return NULL;
	unsigned int ct = (unsigned int)c->db_connect_timeout, rt = (unsigned int)c->db_read_timeout,
		     wt = (unsigned int)c->db_write_timeout;
	my_bool off = 0;
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rt);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &wt);
	mysql_options(m, MYSQL_OPT_RECONNECT, &off);
	unsigned long max_packet = 1UL << 30; /* uploads are stored whole; the server's own limit still applies */
	mysql_options(m, MYSQL_OPT_MAX_ALLOWED_PACKET, &max_packet);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(m, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
	mysql_options(m, MYSQL_INIT_COMMAND, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
	return m;
}

/* Connects to the socket, or to the servers of [database] host: the one this handle last used first, then the
 * others in turn (several Galera nodes: any of them serves; a process stays on the one that answers). */
static int db_connect(struct db *db, struct fs_error *e)
{
	if (db->conn)
		return 0;
	const struct config *c = db->cfg;
	const char *sock = c->db_socket[0] ? c->db_socket : NULL;
	int n = c->db_nhosts > 0 ? c->db_nhosts : 1;
	char last[256] = "";
	for (int i = 0; i < n; i++) {
		int at = (db->host_at + i) % n;
		const char *host = c->db_nhosts > 0 ? c->db_hosts[at].name : (sock ? "localhost" : "127.0.0.1");
		unsigned int port = c->db_nhosts > 0 ? (unsigned int)c->db_hosts[at].port : (unsigned int)c->db_port;
		MYSQL *m = new_handle(c);
		if (!m)
			return fs_fail(e, FS_EINTERNAL, "out of memory");
		if (mysql_real_connect(m, host, c->db_user, c->db_password, c->db_name, port, sock, CLIENT_FOUND_ROWS)) {
			if (at != db->host_at)
				fprintf(stderr, "faqsure: database server %s:%d did not answer; now on %s:%u\n",
					c->db_hosts[db->host_at].name, c->db_hosts[db->host_at].port, host, port);
			db->host_at = at;
			db->conn = m;
			return 0;
		}
		snprintf(last, sizeof(last), "%s", mysql_error(m));
		mysql_close(m);
	}
	if (!db->quiet)
		fprintf(stderr, "faqsure: database connect failed: %s%s\n", last,
			n > 1 ? " (and every other server of [database] host)" : "");
	db->losses++;
	return fs_fail(e, FS_EUNAVAIL, "database unavailable");
}

/* The connection is gone. The next connect starts with the next server of [database] host, if it lists several:
 * the one lost may be down, or a Galera node not part of its cluster (it takes connections, refuses statements). */
static void drop_lost(struct db *db)
{
	db->losses++;
	if (db->cfg->db_nhosts > 1)
		db->host_at = (db->host_at + 1) % db->cfg->db_nhosts;
	db_disconnect(db);
}

int db_ping(struct db *db, struct fs_error *e)
{
	int rc = db_connect(db, e);
	if (rc < 0)
		return rc;
	if (mysql_ping(db->conn) != 0) {
		drop_lost(db);
		rc = db_connect(db, e);
		if (rc < 0)
			return rc;
		if (mysql_ping(db->conn) != 0) {
			drop_lost(db);
			return fs_fail(e, FS_EUNAVAIL, "database unavailable");
		}
	}
	return 0;
}

/* Maps a Connector/C error to our codes; drops the connection when it is gone. */
static int db_error(struct db *db, unsigned int err, const char *what, const char *sql, struct fs_error *e)
{
	if (is_connection_error(err)) {
		if (!db->quiet)
			fprintf(stderr, "faqsure: database connection lost (%u: %s)\n", err, what);
		drop_lost(db);
		return fs_fail(e, FS_EUNAVAIL, "database unavailable");
	}
	if (err == ER_LOCK_DEADLOCK || err == ER_LOCK_WAIT_TIMEOUT) {
		/* InnoDB has rolled the transaction back already (a lock wait timeout only the statement: finish
		 * the job). The caller may run it again. */
		if (db->in_txn)
			db_rollback(db);
		snprintf(db->lost_sql, sizeof(db->lost_sql), "%s", sql);
		return fs_fail(e, FS_ERETRY, "database busy (%u)", err);
	}
	if (err == ER_DUP_ENTRY)
		return fs_fail(e, FS_ECONFLICT, "duplicate entry");
	if (err == ER_NET_PACKET_TOO_LARGE) /* the server refused it whole and kept the connection */
		return fs_fail(e, FS_ETOOLARGE, "the statement is larger than the database's max_allowed_packet");
	fprintf(stderr, "faqsure: database error %u: %s in: %.200s\n", err, what, sql);
	return fs_fail(e, FS_EINTERNAL, "database error %u", err);
}

static MYSQL_STMT *db_stmt(struct db *db, const char *sql, struct fs_error *e, int *rc)
{
	for (size_t i = 0; i < db->nstmts; i++)
		if (!strcmp(db->stmts[i].sql, sql))
			return db->stmts[i].stmt;
	MYSQL_STMT *st = mysql_stmt_init(db->conn);
	if (!st) {
		*rc = fs_fail(e, FS_EINTERNAL, "out of memory");
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
		unsigned int err = mysql_stmt_errno(st);
		char what[256];
		snprintf(what, sizeof(what), "%s", mysql_stmt_error(st));
		mysql_stmt_close(st);
		*rc = db_error(db, err, what, sql, e);
		return NULL;
	}
	if (db->nstmts == DB_MAX_STMTS) { /* more distinct statements than expected: forget the oldest */
		mysql_stmt_close(db->stmts[0].stmt);
		free(db->stmts[0].sql);
		memmove(db->stmts, db->stmts + 1, (DB_MAX_STMTS - 1) * sizeof(db->stmts[0]));
		db->nstmts--;
	}
	db->stmts[db->nstmts].sql = xstrdup(sql);
	db->stmts[db->nstmts].stmt = st;
	db->nstmts++;
	return st;
}

struct param_list {
	size_t n;
	MYSQL_BIND *bind;
	long long *ints;
	unsigned long *lens;
};

static void param_list_release(struct param_list *p)
{
	free(p->bind);
	free(p->ints);
	free(p->lens);
}

static int bind_params(struct param_list *p, const struct db_param *params, size_t n, struct fs_error *e)
{
	memset(p, 0, sizeof(*p));
	if (n > DB_MAX_PARAMS)
		return fs_fail(e, FS_EINTERNAL, "too many statement parameters");
	p->bind = xcalloc(n, sizeof(MYSQL_BIND));
	p->ints = xcalloc(n, sizeof(long long));
	p->lens = xcalloc(n, sizeof(unsigned long));
	for (size_t k = 0; k < n; k++) {
		MYSQL_BIND *b = &p->bind[k];
		const struct db_param *q = &params[k];
		if ((q->type == 's' || q->type == 'b') && !q->ptr) { /* a NULL pointer is SQL NULL */
			b->buffer_type = MYSQL_TYPE_NULL;
		} else if (q->type == 's' || q->type == 'b') {
			b->buffer_type = q->type == 's' ? MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
			b->buffer = (void *)q->ptr;
			p->lens[k] = (unsigned long)(q->type == 's' ? strlen(q->ptr) : q->len);
			b->length = &p->lens[k];
		} else if (q->type == 'i') {
			p->ints[k] = q->i;
			b->buffer_type = MYSQL_TYPE_LONGLONG;
			b->buffer = &p->ints[k];
		} else {
			return fs_fail(e, FS_EINTERNAL, "bad parameter type '%c'", q->type);
		}
	}
	p->n = n;
	return 0;
}

static int fetch_rows(struct db *db, MYSQL_STMT *st, struct db_res *res, const char *sql, struct fs_error *e)
{
	MYSQL_RES *meta = mysql_stmt_result_metadata(st);
	if (!meta)
		return 0;
	size_t ncols = mysql_num_fields(meta);
	mysql_free_result(meta);
	MYSQL_BIND *binds = xcalloc(ncols, sizeof(MYSQL_BIND));
	unsigned long *lens = xcalloc(ncols, sizeof(unsigned long));
	my_bool *nulls = xcalloc(ncols, sizeof(my_bool));
	int rc = 0;
	for (size_t i = 0; i < ncols; i++) {
		binds[i].buffer_type = MYSQL_TYPE_STRING;
		binds[i].length = &lens[i];
		binds[i].is_null = &nulls[i];
	}
	if (mysql_stmt_bind_result(st, binds) != 0) {
		rc = db_error(db, mysql_stmt_errno(st), mysql_stmt_error(st), sql, e);
		goto out;
	}
	/* Buffer the whole result first: an error the server raises after the first rows (a deadlock while
	 * INSERT … RETURNING produces them) then surfaces here with its real code. */
	if (mysql_stmt_store_result(st) != 0) {
		rc = db_error(db, mysql_stmt_errno(st) ? mysql_stmt_errno(st) : mysql_errno(db->conn),
			      mysql_stmt_errno(st) ? mysql_stmt_error(st) : mysql_error(db->conn), sql, e);
		goto out;
	}
	size_t cap = 0;
	res->ncols = ncols;
	for (;;) {
		int f = mysql_stmt_fetch(st);
		if (f == MYSQL_NO_DATA)
			break;
		if (f == 1) {
			rc = db_error(db, mysql_stmt_errno(st), mysql_stmt_error(st), sql, e);
			goto out;
		}
		if (res->nrows == cap) {
			cap = cap ? cap * 2 : 8;
			res->cells = xrealloc(res->cells, cap * ncols * sizeof(char *));
			res->lens = xrealloc(res->lens, cap * ncols * sizeof(size_t));
		}
		for (size_t i = 0; i < ncols; i++) {
			size_t at = res->nrows * ncols + i;
			res->cells[at] = NULL;
			res->lens[at] = 0;
			if (nulls[i])
				continue;
			char *cell = xmalloc(lens[i] + 1);
			MYSQL_BIND one = { 0 };
			unsigned long got = 0;
			one.buffer_type = MYSQL_TYPE_STRING;
			one.buffer = cell;
			one.buffer_length = lens[i] + 1;
			one.length = &got;
			if (lens[i] > 0 && mysql_stmt_fetch_column(st, &one, (unsigned int)i, 0) != 0) {
				free(cell);
				res->nrows++;
				rc = db_error(db, mysql_stmt_errno(st), mysql_stmt_error(st), sql, e);
				goto out;
			}
			cell[lens[i]] = '\0';
			res->cells[at] = cell;
			res->lens[at] = lens[i];
		}
		res->nrows++;
	}
out:
	if (db->conn)
		mysql_stmt_free_result(st);
	free(binds);
	free(lens);
	free(nulls);
	return rc;
}

/* Closes a cached statement (after it failed: its handle may be left in a state no one should reuse). */
static void db_forget_stmt(struct db *db, MYSQL_STMT *st)
{
	for (size_t i = 0; i < db->nstmts; i++) {
		if (db->stmts[i].stmt != st)
			continue;
		mysql_stmt_close(st);
		free(db->stmts[i].sql);
		db->stmts[i] = db->stmts[--db->nstmts];
		return;
	}
}

static int exec_once(struct db *db, struct db_res *res, struct fs_error *e, const char *sql, struct param_list *p)
{
	int rc = db_connect(db, e);
	if (rc < 0)
		return rc;
	MYSQL_STMT *st = db_stmt(db, sql, e, &rc);
	if (!st)
		return rc;
	if (mysql_stmt_param_count(st) != p->n)
		return fs_fail(e, FS_EINTERNAL, "statement wants %lu parameters, got %zu", mysql_stmt_param_count(st),
			       p->n);
	if (p->n && mysql_stmt_bind_param(st, p->bind) != 0)
		rc = db_error(db, mysql_stmt_errno(st), mysql_stmt_error(st), sql, e);
	else if (mysql_stmt_execute(st) != 0)
		rc = db_error(db, mysql_stmt_errno(st), mysql_stmt_error(st), sql, e);
	else if (res)
		rc = fetch_rows(db, st, res, sql, e);
	else
		mysql_stmt_free_result(st);
	if (rc == 0 && res)
		res->affected = mysql_stmt_affected_rows(st);
	if (rc == 0 && db->in_txn && !(db->conn->server_status & SERVER_STATUS_IN_TRANS)) {
		/* Every answer says whether a transaction is open: ours was ended under us without an error (see
		 * db_begin). Started again as after a deadlock. */
		fprintf(stderr, "faqsure: the database ended the transaction unseen, before: %.100s\n", sql);
		snprintf(db->lost_sql, sizeof(db->lost_sql), "%s", sql);
		db_rollback(db);
		rc = fs_fail(e, FS_ERETRY, "database busy (the transaction was ended)");
	} else if (rc == 0 && !db->in_txn && db->galera > 0 && !(db->conn->server_status & SERVER_STATUS_AUTOCOMMIT)) {
		/* a transaction left open by a path that neither committed nor rolled back: what it and this
		 * statement did is committed, as without Galera, and autocommit is back */
		fprintf(stderr, "faqsure: a transaction was left open before: %.100s\n", sql);
		autocommit_back(db);
	}
	if (rc < 0 && db->conn) /* still connected: only this statement is suspect */
		db_forget_stmt(db, st);
	return rc;
}

int db_exec_params(struct db *db, struct db_res *res, struct fs_error *e, const char *sql,
		   const struct db_param *params, size_t nparams)
{
	struct param_list p;
	int rc = bind_params(&p, params, nparams, e);
	if (rc < 0)
		goto out;
	if (res)
		memset(res, 0, sizeof(*res));
	int was_in_txn = db->in_txn, had_conn = db->conn != NULL;
	rc = exec_once(db, res, e, sql, &p);
	/* A read outside a transaction is safe to ask again: on a new connection when the old one had died while
	 * idle, and at once after a 1213 (a Galera node can hand a conflict of the connection's previous
	 * transaction to its next statement) */
	if (((rc == FS_EUNAVAIL && had_conn) || rc == FS_ERETRY) && !was_in_txn && !strncmp(sql, "SELECT", 6)) {
		if (res)
			db_res_release(res);
		rc = exec_once(db, res, e, sql, &p);
	}
	if (rc < 0 && res)
		db_res_release(res);
out:
	param_list_release(&p);
	return rc;
}

int db_upsert_rows(struct db *db, const char *head, const char *tuple, const char *tail,
		   const struct db_param *params, size_t ncols, size_t nrows, size_t per_statement, struct fs_error *e)
{
	int rc = 0;
	/* never more parameters than one statement may bind, whatever the caller asked */
	if (ncols && per_statement * ncols > DB_MAX_PARAMS)
		per_statement = DB_MAX_PARAMS / ncols;
	if (per_statement == 0)
		per_statement = 1;
	for (size_t at = 0; at < nrows && rc == 0; at += per_statement) {
		size_t k = nrows - at < per_statement ? nrows - at : per_statement;
		struct buf sql;
		buf_init(&sql, BUF_NO_LIMIT);
		buf_adds(&sql, head);
		for (size_t i = 0; i < k; i++) {
			buf_adds(&sql, i ? ", " : "");
			buf_adds(&sql, tuple);
		}
		if (tail)
			buf_adds(&sql, tail);
		rc = db_exec_params(db, NULL, e, buf_str(&sql), params + at * ncols, k * ncols);
		buf_release(&sql);
	}
	return rc;
}

int db_insert_rows(struct db *db, const char *head, const char *tuple, const struct db_param *params, size_t ncols,
		   size_t nrows, size_t per_statement, struct fs_error *e)
{
	return db_upsert_rows(db, head, tuple, NULL, params, ncols, nrows, per_statement, e);
}

int db_exec(struct db *db, struct db_res *res, struct fs_error *e, const char *sql, const char *types, ...)
{
	struct db_param params[64];
	size_t n = 0;
	va_list ap;
	va_start(ap, types);
	for (const char *t = types ? types : ""; *t; t++, n++) {
		if (n == sizeof(params) / sizeof(params[0])) {
			va_end(ap);
			return fs_fail(e, FS_EINTERNAL, "too many statement parameters");
		}
		params[n] = (struct db_param){ .type = *t };
		if (*t == 's') {
			params[n].ptr = va_arg(ap, const char *);
		} else if (*t == 'b') {
			params[n].ptr = va_arg(ap, const void *);
			params[n].len = va_arg(ap, size_t);
		} else if (*t == 'i') {
			params[n].i = va_arg(ap, long long);
		} else {
			va_end(ap);
			return fs_fail(e, FS_EINTERNAL, "bad parameter type '%c'", *t);
		}
	}
	va_end(ap);
	return db_exec_params(db, res, e, sql, params, n);
}

const char *db_cell(const struct db_res *r, size_t row, size_t col)
{
	if (row >= r->nrows || col >= r->ncols)
		return NULL;
	return r->cells[row * r->ncols + col];
}

long long db_cell_ll(const struct db_res *r, size_t row, size_t col, long long if_null)
{
	const char *s = db_cell(r, row, col);
	return s ? strtoll(s, NULL, 10) : if_null;
}

void db_res_release(struct db_res *r)
{
	for (size_t i = 0; i < r->nrows * r->ncols; i++)
		free(r->cells[i]);
	free(r->cells);
	free(r->lens);
	memset(r, 0, sizeof(*r));
}

static int simple_query(struct db *db, const char *sql, struct fs_error *e)
{
	int rc = db_connect(db, e);
	if (rc < 0)
		return rc;
	if (mysql_query(db->conn, sql) != 0)
		return db_error(db, mysql_errno(db->conn), mysql_error(db->conn), sql, e);
	return 0;
}

/* Whether the server is a Galera node: asked once per connection, on its first transaction. */
static int ask_galera(struct db *db, struct fs_error *e)
{
	if (db->galera >= 0)
		return 0;
	int rc = simple_query(db, "SELECT @@wsrep_on", e);
	if (rc == FS_EUNAVAIL || rc == FS_ERETRY) /* asked again by the next try */
		return rc;
	db->galera = 0; /* a server without the variable has no Galera */
	if (rc == 0) {
		MYSQL_RES *r = mysql_store_result(db->conn);
		MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
		db->galera = row && row[0] && strcmp(row[0], "0") != 0;
		if (r)
			mysql_free_result(r);
	}
	return 0;
}

#define SAVEPOINT_NAME "faqsure_transaction"

/* On a Galera node a transaction can end under its client with no error: a node that has to abort it for a write
 * replicated from another node (the 1213 every client must retry) was seen, under load, to answer the next
 * statement as if it ran alone, in autocommit, and every statement after it too; COMMIT then answers OK. A chat
 * was charged twice so (its turn rolled back, its debit committed alone, the turn stored again). There, a
 * transaction runs with autocommit off and a savepoint at its start: statements after such an end then run in a
 * new implicit transaction instead of committing one by one, and db_commit, finding the savepoint gone, rolls
 * that back and answers FS_ERETRY. Three statements instead of one at the start, two more at the end; only on
 * Galera. */
static int begin_once(struct db *db, struct fs_error *e)
{
	int rc = db_connect(db, e);
	if (rc == 0)
		rc = ask_galera(db, e);
	if (rc < 0)
		return rc;
	if (!db->galera)
		return simple_query(db, "START TRANSACTION", e);
	if ((rc = simple_query(db, "SET autocommit = 0", e)) == 0 && (rc = simple_query(db, "START TRANSACTION", e)) == 0 &&
	    (rc = simple_query(db, "SAVEPOINT " SAVEPOINT_NAME, e)) == 0)
		return 0;
	db_rollback(db); /* autocommit back on */
	return rc;
}

int db_begin(struct db *db, struct fs_error *e)
{
	int rc = begin_once(db, e);
	if (rc == FS_EUNAVAIL) /* an idle connection that died: nothing was sent yet, so try a fresh one */
		rc = begin_once(db, e);
	if (rc == 0)
		db->in_txn = 1;
	return rc;
}

unsigned long long db_losses(const struct db *db)
{
	return db->losses;
}

int db_commit(struct db *db, struct fs_error *e)
{
	int rc;
	if (db->galera > 0 && db->conn && mysql_query(db->conn, "RELEASE SAVEPOINT " SAVEPOINT_NAME) != 0) {
		unsigned int err = mysql_errno(db->conn);
		if (err == ER_SP_DOES_NOT_EXIST) {
			fprintf(stderr, "faqsure: the database ended the transaction unseen; what ran after is rolled back\n");
			db_rollback(db);
			return fs_fail(e, FS_ERETRY, "database busy (the transaction was ended)");
		}
		char what[256];
		snprintf(what, sizeof(what), "%s", mysql_error(db->conn));
		rc = db_error(db, err, what, "RELEASE SAVEPOINT", e);
		if (db->in_txn)
			db_rollback(db);
		return rc;
	}
	rc = simple_query(db, "COMMIT", e);
	if (rc < 0 && db->in_txn) /* not rolled back by db_error (a deadlock is): autocommit back on as well */
		db_rollback(db);
	else if (rc == 0)
		autocommit_back(db);
	db->in_txn = 0;
	return rc;
}

void db_rollback(struct db *db)
{
	if (db->conn && mysql_query(db->conn, "ROLLBACK") != 0)
		db_disconnect(db);
	autocommit_back(db);
	db->in_txn = 0;
}

int db_exec_script(struct db *db, const char *sql, struct fs_error *e)
{
	int rc = db_connect(db, e);
	if (rc < 0)
		return rc;
	mysql_set_server_option(db->conn, MYSQL_OPTION_MULTI_STATEMENTS_ON);
	int failed = mysql_real_query(db->conn, sql, strlen(sql)) != 0;
	while (!failed) {
		MYSQL_RES *r = mysql_store_result(db->conn);
		if (r)
			mysql_free_result(r);
		int next = mysql_next_result(db->conn);
		if (next == -1)
			break;
		failed = next > 0;
	}
	if (failed) {
		unsigned int err = mysql_errno(db->conn);
		char what[400];
		snprintf(what, sizeof(what), "%s", mysql_error(db->conn));
		rc = db_error(db, err, what, "migration", e);
		if (rc != FS_EUNAVAIL)
			fs_fail(e, rc, "%s", what);
	}
	if (db->conn)
		mysql_set_server_option(db->conn, MYSQL_OPTION_MULTI_STATEMENTS_OFF);
	return rc;
}

/* Before try i (from 0): nothing, then a random pause of up to 2^i ms. */
static void retry_pause(int i)
{
	unsigned r;
	if (i == 0)
		return;
	util_random(&r, sizeof(r));
	struct timespec ts = { 0, (long)(r % (1000000u << (i > 7 ? 7 : i))) };
	nanosleep(&ts, NULL);
}

/* A statement answered: a Galera node that takes connections but is not Synced yet answers ping, not statements. */
static int answers(struct db *db, struct fs_error *e)
{
	int rc = simple_query(db, "SELECT 1", e);
	if (rc == 0) {
		MYSQL_RES *r = mysql_store_result(db->conn);
		if (r)
			mysql_free_result(r);
	}
	return rc;
}

/* Before trying again after a conflict: on a Galera node, a write loses certification to every replicated write
 * of the same rows that its node had not applied yet when the write read them. A node that lags behind a busy
 * other node (its appliers always a few writes behind) then loses every time, and its clients starve while the
 * other node's go on. A read waits until the node has applied everything committed before it (wsrep_sync_wait,
 * which the Galera settings ask for), so the next try starts from the cluster's present. Elsewhere it is one
 * cheap round trip after a deadlock. */
static void catch_up(struct db *db)
{
	struct fs_error ignored;
	if (db->conn)
		answers(db, &ignored);
}

int db_await(struct db *db, int ms, struct fs_error *e)
{
	double until = util_now_ms() + ms;
	struct timespec pause = { 0, 200 * 1000000L };
	int rc;
	db->quiet = 1;
	while ((rc = answers(db, e)) == FS_EUNAVAIL && util_now_ms() < until)
		nanosleep(&pause, NULL);
	db->quiet = 0;
	return rc;
}

int db_retry(struct db *db, db_work_fn work, void *arg, struct fs_error *e)
{
	int rc = FS_ERETRY;
	for (int i = 0; i < DB_RETRY_TRIES && rc == FS_ERETRY; i++) {
		retry_pause(i);
		if (i > 0)
			catch_up(db);
		rc = work(db, arg, e);
	}
	if (rc == FS_ERETRY) /* what the operator needs to see: which rows are this contended */
		fprintf(stderr, "faqsure: database conflict %d times in a row, given up: %s\n", DB_RETRY_TRIES,
			db->lost_sql);
	return rc;
}

int db_purge_rows(struct db *db, const char *table, long long account_id, int apply, struct tally *t,
		  const char *what, struct fs_error *e)
{
	char sql[192];
	struct db_res r;
	unsigned long long gone;
	long long n = 0;
	int rc;
	if (!apply) {
		snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s WHERE account_id = ?", table);
		if ((rc = db_exec(db, &r, e, sql, "i", account_id)) < 0)
			return rc;
		tally_add(t, what, db_cell_ll(&r, 0, 0, 0));
		db_res_release(&r);
		return 0;
	}
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE account_id = ? LIMIT %d", table, DB_PURGE_SLICE);
	do {
		if ((rc = db_exec(db, &r, e, sql, "i", account_id)) < 0)
			break;
		gone = r.affected;
		n += (long long)gone;
		db_res_release(&r);
	} while (gone > 0);
	tally_add(t, what, n);
	return rc;
}

int db_max_packet(struct db *db, long long *out, struct fs_error *e)
{
	if (db->conn && db->max_packet > 0) {
		*out = db->max_packet;
		return 0;
	}
	struct db_res r;
	int rc = db_exec(db, &r, e, "SELECT @@max_allowed_packet", NULL);
	if (rc < 0)
		return rc;
	long long v = db_cell_ll(&r, 0, 0, 0);
	db_res_release(&r);
	if (v <= 0)
		return fs_fail(e, FS_EINTERNAL, "the database did not say its max_allowed_packet");
	db->max_packet = v;
	*out = v;
	return 0;
}
