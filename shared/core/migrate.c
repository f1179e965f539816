/* Applies db/ migrations under a lease held in a row of schema_lock, so two operators (or machines, or the nodes of
 * a Galera cluster) cannot race. GET_LOCK is not used: on Galera it is local to one node and every node grants it
 * at once. A row is certified cluster-wide: of two nodes taking it at once, one commit wins and the other gets a
 * deadlock error (or, after the server retried it, finds the row taken). */
#include "core/migrate.h"

#include <time.h>

#include "core/util.h"

#include "core/banned.h"

/* How long the lease lasts without renewal: it is renewed before each migration, so only a single migration longer
 * than this lets another run take over; a run that died holding it blocks others no longer than this. */
#define LEASE_SECONDS 600
#define WAIT_SECONDS 60

struct lease {
	char holder[37];
	long long taken; /* rows the last UPDATE matched */
};

static int take_once(struct db *db, void *arg, struct fs_error *e)
{
	struct lease *l = arg;
	struct db_res r;
	int rc = db_exec(db, &r, e,
			 "UPDATE schema_lock SET holder = ?, lease_until = UTC_TIMESTAMP(6) + INTERVAL ? SECOND"
			 " WHERE id = 1 AND (holder IS NULL OR holder = ? OR lease_until < UTC_TIMESTAMP(6))",
			 "sis", l->holder, (long long)LEASE_SECONDS, l->holder);
	if (rc < 0)
		return rc;
	l->taken = (long long)r.affected;
	db_res_release(&r);
	return 0;
}

static int release_once(struct db *db, void *arg, struct fs_error *e)
{
	struct lease *l = arg;
	return db_exec(db, NULL, e, "UPDATE schema_lock SET holder = NULL, lease_until = NULL WHERE id = 1 AND holder = ?",
		       "s", l->holder);
}

static int add_row_once(struct db *db, void *arg, struct fs_error *e)
{
	(void)arg;
	return db_exec(db, NULL, e, "INSERT IGNORE INTO schema_lock (id) VALUES (1)", "");
}

/* Takes the lease (or renews it when this run holds it), waiting up to WAIT_SECONDS for another run. */
static int lease_take(struct db *db, struct lease *l, struct fs_error *e)
{
	for (int i = 0; i < WAIT_SECONDS * 4; i++) {
		int rc = db_retry(db, take_once, l, e);
		if (rc < 0)
			return rc;
		if (l->taken == 1)
			return 0;
		struct timespec pause = { 0, 250 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	return fs_fail(e, FS_EUNAVAIL, "another migration has held the lock for %d s", WAIT_SECONDS);
}

int migrate_run(struct db *db, FILE *out, struct fs_error *e)
{
	struct db_res r;
	struct lease l = { .taken = 0 };
	util_uuid(l.holder);
	int rc = db_exec_script(db,
			       "CREATE TABLE IF NOT EXISTS schema_migrations ("
			       " version INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL,"
			       " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB;"
			       "CREATE TABLE IF NOT EXISTS schema_lock ("
			       " id TINYINT NOT NULL PRIMARY KEY, holder CHAR(36) NULL, lease_until DATETIME(6) NULL)"
			       " ENGINE=InnoDB",
			       e);
	if (rc < 0 || (rc = db_retry(db, add_row_once, NULL, e)) < 0 || (rc = lease_take(db, &l, e)) < 0)
		return rc;
	unsigned applied = 0;
	for (unsigned i = 0; i < migrations_count; i++) {
		const struct migration *m = &migrations[i];
		rc = db_exec(db, &r, e, "SELECT 1 FROM schema_migrations WHERE version = ?", "i", (long long)m->version);
		if (rc < 0)
			goto out;
		size_t done = r.nrows;
		db_res_release(&r);
		if (done)
			continue;
		/* Renewed before each migration; a run that finds the lease gone (it ran out and another run took it)
		 * stops here rather than apply a migration twice. */
		if ((rc = db_retry(db, take_once, &l, e)) < 0)
			goto out;
		if (l.taken != 1) {
			rc = fs_fail(e, FS_EUNAVAIL, "the migration lock ran out and another migration holds it now");
			goto out;
		}
		rc = db_exec_script(db, m->sql, e);
		if (rc < 0) {
			char why[sizeof(e->msg)];
			snprintf(why, sizeof(why), "%s", e ? e->msg : "");
			fs_fail(e, rc, "migration %s failed: %s", m->name, why);
			goto out;
		}
		rc = db_exec(db, NULL, e, "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", "is",
			     (long long)m->version, m->name);
		if (rc < 0)
			goto out;
		fprintf(out, "applied %s\n", m->name);
		applied++;
	}
	fprintf(out, "schema is up to date (%u migration%s applied now, %u in all)\n", applied,
		applied == 1 ? "" : "s", migrations_count);
out:
	db_retry(db, release_once, &l, NULL);
	return rc;
}
