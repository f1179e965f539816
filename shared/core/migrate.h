/* Schema migrations: the numbered files of db/, embedded at build time, applied in order and recorded in
 * schema_migrations. Forward-only; running them again does nothing. */
#ifndef FAQSURE_MIGRATE_H
#define FAQSURE_MIGRATE_H

#include <stdio.h>

#include "core/db.h"

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];
extern const unsigned migrations_count;

/* Applies what has not run yet, one migration at a time under a lease row (schema_lock) that holds on a Galera cluster too; says what it did on out. */
int migrate_run(struct db *db, FILE *out, struct fs_error *e);

#endif
