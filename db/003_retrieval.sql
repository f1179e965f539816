-- Retrieval: each chunk's keyword vector, a change counter per account for in-process vector caches, and the
-- outbox of changes still to be applied to an external vector store (Qdrant).

-- sparse: the chunk's keyword (BM25) vector as pairs of little-endian uint32 term id + float32 weight, sorted
-- by term id. vec_seq numbers chunks in insertion order so a process can load only what it has not seen.
ALTER TABLE chunks
  ADD COLUMN IF NOT EXISTS sparse BLOB NOT NULL DEFAULT '' COMMENT 'uint32 term + float32 weight pairs',
  ADD COLUMN IF NOT EXISTS vec_seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE,
  ADD KEY IF NOT EXISTS chunks_account_seq (account_id, vec_seq);

-- generation is bumped in the same transaction as every change to an account's chunks: a process that cached the
-- account's vectors compares one number per search to know whether to look again. epoch is bumped when vectors
-- change in place (faqsurectl reindex): caches then reload everything.
CREATE TABLE IF NOT EXISTS vector_generations (
  account_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  generation BIGINT UNSIGNED NOT NULL DEFAULT 0,
  epoch BIGINT UNSIGNED NOT NULL DEFAULT 0
) ENGINE=InnoDB;

-- Changes an external vector store has not confirmed yet: written in the transaction that changes the chunks,
-- deleted once the store answered. A store that is down leaves them here to be retried, so nothing is lost.
CREATE TABLE IF NOT EXISTS vector_outbox (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  document_id CHAR(36) CHARACTER SET ascii NOT NULL,
  op ENUM('upsert', 'delete') NOT NULL,
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  next_try DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  last_error VARCHAR(500) NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY vector_outbox_next (next_try, id)
) ENGINE=InnoDB;
