-- Ingestion workers seen alive: one row per worker process (host:pid), written when it starts and every few
-- seconds while it runs (a daemon) or at the start and end of a `worker --once` run (cron). GET /api/v1/health
-- reads the newest row with the queue, so it can say when no worker runs and documents stay 'processing'.
-- A worker removes the rows of workers not seen for a day when it starts (cron makes a new pid each run).
CREATE TABLE IF NOT EXISTS workers (
  id VARCHAR(128) NOT NULL PRIMARY KEY COMMENT 'host:pid, as on the jobs it holds (ingest_jobs.worker)',
  started_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  last_seen DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  documents BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'jobs it processed since it started',
  KEY workers_last_seen (last_seen)
) ENGINE=InnoDB;
