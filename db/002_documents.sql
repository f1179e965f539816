-- Documents: original bytes, ingestion jobs, chunks with their embeddings.

ALTER TABLE documents
  ADD COLUMN IF NOT EXISTS replaces_id CHAR(36) CHARACTER SET ascii NULL
    COMMENT 'an older version with the same filename, deleted once this one is ready',
  ADD COLUMN IF NOT EXISTS tokens BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'tokens spent embedding it',
  ADD KEY IF NOT EXISTS documents_account_sha (account_id, sha256),
  ADD KEY IF NOT EXISTS documents_account_filename (account_id, filename);

-- The uploaded bytes, kept in the database so a worker on any machine can process them.
CREATE TABLE IF NOT EXISTS document_blobs (
  document_id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  data LONGBLOB NOT NULL,
  CONSTRAINT document_blobs_doc_fk FOREIGN KEY (document_id) REFERENCES documents (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- One job per document. Workers claim 'queued' jobs with SELECT ... FOR UPDATE SKIP LOCKED in id order, which
-- KEY (state, id) covers; a 'running' job whose lease ran out is put back to 'queued'.
CREATE TABLE IF NOT EXISTS ingest_jobs (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  document_id CHAR(36) CHARACTER SET ascii NOT NULL,
  account_id BIGINT UNSIGNED NOT NULL,
  state ENUM('queued', 'running', 'done', 'failed') NOT NULL DEFAULT 'queued',
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  worker VARCHAR(128) NULL,
  lease_until DATETIME(6) NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  UNIQUE KEY ingest_jobs_document (document_id),
  KEY ingest_jobs_state_id (state, id),
  KEY ingest_jobs_state_lease (state, lease_until),
  CONSTRAINT ingest_jobs_doc_fk FOREIGN KEY (document_id) REFERENCES documents (id) ON DELETE CASCADE
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS chunks (
  id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  document_id CHAR(36) CHARACTER SET ascii NOT NULL,
  seq INT UNSIGNED NOT NULL COMMENT 'position in the document',
  text MEDIUMTEXT NOT NULL,
  section VARCHAR(1000) NOT NULL DEFAULT '',
  page INT UNSIGNED NULL,
  metadata LONGTEXT NOT NULL CHECK (JSON_VALID(metadata)),
  tokens INT UNSIGNED NOT NULL DEFAULT 0,
  embed_model VARCHAR(64) CHARACTER SET ascii NOT NULL,
  dims SMALLINT UNSIGNED NOT NULL,
  embedding BLOB NOT NULL COMMENT 'dims little-endian float32, L2-normalised',
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY chunks_document (document_id, seq),
  KEY chunks_account (account_id, id),
  CONSTRAINT chunks_doc_fk FOREIGN KEY (document_id) REFERENCES documents (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
