-- Account state: an account can be disabled (every key refused at once) and is deleted in steps; token holds, so
-- that no balance goes below zero; indexing tokens by day for the dashboard; the file's own metadata kept apart
-- from the upload's, so new upload metadata can be applied to stored chunks; and an outbox operation that removes
-- every point of an account from an external vector store.

-- state: 'disabled' and 'deleting' refuse every key of the account (401) on its next request, in every process
-- (the rate-limit statement reads it on every request); 'deleting' is set by `faqsurectl account delete` before
-- it removes anything, so an interrupted delete leaves an account nobody can use, and running it again finishes it.
ALTER TABLE accounts
  ADD COLUMN IF NOT EXISTS state ENUM('active', 'disabled', 'deleting') NOT NULL DEFAULT 'active',
  ADD COLUMN IF NOT EXISTS state_changed_at DATETIME(6) NULL;

-- Tokens set aside for requests in progress (the most a chat or an indexing job can cost), taken before the work
-- under the account's row lock and released when the exact debit is made: the balance less the holds is what a
-- new request may count on. A hold whose process died runs out at expires_at.
CREATE TABLE IF NOT EXISTS balance_holds (
  id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  tokens BIGINT UNSIGNED NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY balance_holds_account (account_id, expires_at),
  CONSTRAINT balance_holds_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- Documents made ready (indexed) and the tokens taken for them, per account and UTC day, written in the
-- transaction that makes a document ready; the history stays when documents are deleted or replaced.
CREATE TABLE IF NOT EXISTS indexing_daily (
  account_id BIGINT UNSIGNED NOT NULL,
  day DATE NOT NULL,
  documents BIGINT UNSIGNED NOT NULL DEFAULT 0,
  tokens BIGINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, day)
) ENGINE=InnoDB;

-- The documents ready before this migration, on the day they were last changed (the best record there is).
INSERT INTO indexing_daily (account_id, day, documents, tokens)
  SELECT account_id, DATE(updated_at), COUNT(*), SUM(tokens) FROM documents WHERE status = 'ready'
  GROUP BY account_id, DATE(updated_at)
  ON DUPLICATE KEY UPDATE documents = VALUES(documents), tokens = VALUES(tokens);

-- file_metadata: what the file itself says (title, author) as the worker read it; a chunk's metadata is the
-- upload's, then the file's keys the upload did not give, then its own (section, page, question).
ALTER TABLE documents
  ADD COLUMN IF NOT EXISTS file_metadata LONGTEXT NULL CHECK (file_metadata IS NULL OR JSON_VALID(file_metadata));

-- delete_account: every point of the account (document_id is '' on such a row).
ALTER TABLE vector_outbox
  MODIFY op ENUM('upsert', 'delete', 'delete_account') NOT NULL;
