-- Account state: token holds, so that no balance goes below zero.

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
