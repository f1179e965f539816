/* Applies db/ migrations under GET_LOCK so two operators (or machines) cannot race. */
#include "core/migrate.h"

#include "core/banned.h"

int migrate_run(struct db *db, FILE *out, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec_script(db,
			       "CREATE TABLE IF NOT EXISTS schema_migrations ("
			       " version INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL,"
			       " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB",
			       e);
	if (rc < 0)
		return rc;
	rc = db_exec(db, &r, e, "SELECT GET_LOCK('faqsure_migrate', 60)", "");
	if (rc < 0)
		return rc;
	int locked = db_cell_ll(&r, 0, 0, 0) == 1;
	db_res_release(&r);
	if (!locked)
		return fs_fail(e, FS_EUNAVAIL, "another migration has held the lock for 60 s");
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
	if (db_exec(db, &r, NULL, "SELECT RELEASE_LOCK('faqsure_migrate')", "") == 0)
		db_res_release(&r);
	return rc;
}
