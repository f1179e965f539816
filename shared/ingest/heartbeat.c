/* The workers' heartbeat rows (db/010_workers.sql) and what the health check makes of them. */
#include "ingest/heartbeat.h"

#include <stdio.h>

#include "core/banned.h"

int heartbeat_beat(struct db *db, const char *worker_id, long long documents, int first, struct fs_error *e)
{
	int rc = db_exec(db, NULL, e,
			 "INSERT INTO workers (id, documents) VALUES (?, ?)"
			 " ON DUPLICATE KEY UPDATE last_seen = CURRENT_TIMESTAMP(6), documents = VALUES(documents)",
			 "si", worker_id, documents);
	if (rc == 0 && first)
		rc = db_exec(db, NULL, e, "DELETE FROM workers WHERE last_seen < CURRENT_TIMESTAMP(6) - INTERVAL 1 DAY",
			     NULL);
	return rc;
}

int heartbeat_status(struct db *db, json_t **out, struct fs_error *e)
{
	struct db_res r;
	*out = NULL;
	int rc = db_exec(db, &r, e,
			 "SELECT DATE_FORMAT(w.seen, '%Y-%m-%dT%H:%i:%sZ'), TIMESTAMPDIFF(SECOND, w.seen, CURRENT_TIMESTAMP(6)),"
			 " (SELECT COUNT(*) FROM ingest_jobs WHERE state = 'queued'),"
			 " (SELECT TIMESTAMPDIFF(SECOND, MIN(created_at), CURRENT_TIMESTAMP(6)) FROM ingest_jobs"
			 "  WHERE state = 'queued'),"
			 " EXISTS (SELECT 1 FROM ingest_jobs WHERE state = 'running' AND lease_until > CURRENT_TIMESTAMP(6))"
			 " FROM (SELECT MAX(last_seen) AS seen FROM workers) w",
			 NULL);
	if (rc < 0)
		return rc;
	const char *seen = db_cell(&r, 0, 0);
	long long age = db_cell_ll(&r, 0, 1, -1), oldest = db_cell_ll(&r, 0, 3, -1);
	int leased = db_cell_ll(&r, 0, 4, 0) != 0;
	int ok = (seen && age <= HEARTBEAT_ALIVE_SECONDS) || leased;
	*out = json_pack("{s:b, s:o, s:I, s:o}", "ok", ok, "last_seen", seen ? json_string(seen) : json_null(),
			 "queued", (json_int_t)db_cell_ll(&r, 0, 2, 0),
			 "oldest_queued_seconds", oldest >= 0 ? json_integer(oldest) : json_null());
	db_res_release(&r);
	return 0;
}
