-- Foundation: tenants, API keys, rate-limit counters, usage events, and the documents table the list route reads.
-- Times are UTC (every connection sets time_zone = '+00:00').

CREATE TABLE IF NOT EXISTS accounts (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  balance BIGINT NULL COMMENT 'tokens left; NULL = unlimited',
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY accounts_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS api_keys (
  id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  name VARCHAR(100) NOT NULL,
  prefix VARCHAR(32) CHARACTER SET ascii NOT NULL COMMENT 'shown to people; not secret',
  key_hash BINARY(32) NOT NULL COMMENT 'SHA-256 of the whole key; the key itself is never stored',
  scope VARCHAR(16) CHARACTER SET ascii NOT NULL DEFAULT 'default',
  per_minute INT UNSIGNED NOT NULL,
  per_hour INT UNSIGNED NOT NULL,
  expires_at DATETIME NULL,
  revoked_at DATETIME NULL,
  last_used_at DATETIME NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY api_keys_hash (key_hash),
  KEY api_keys_account (account_id, created_at),
  KEY api_keys_prefix (prefix),
  CONSTRAINT api_keys_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per key, window kind ('m' minute, 'h' hour) and window start (Unix seconds).
CREATE TABLE IF NOT EXISTS rate_counters (
  key_id CHAR(36) CHARACTER SET ascii NOT NULL,
  window_kind CHAR(1) CHARACTER SET ascii NOT NULL,
  window_start BIGINT NOT NULL,
  n INT UNSIGNED NOT NULL,
  PRIMARY KEY (key_id, window_kind, window_start),
  KEY rate_counters_start (window_start)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS usage_events (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id BIGINT UNSIGNED NULL,
  key_id CHAR(36) CHARACTER SET ascii NULL,
  request_id CHAR(32) CHARACTER SET ascii NOT NULL,
  method VARCHAR(8) CHARACTER SET ascii NOT NULL,
  route VARCHAR(64) CHARACTER SET ascii NOT NULL COMMENT 'route pattern, not the raw path',
  status SMALLINT UNSIGNED NOT NULL,
  error VARCHAR(32) CHARACTER SET ascii NULL,
  tokens_prompt INT UNSIGNED NOT NULL DEFAULT 0,
  tokens_completion INT UNSIGNED NOT NULL DEFAULT 0,
  processing_ms INT UNSIGNED NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY usage_account_time (account_id, created_at),
  KEY usage_key_time (key_id, created_at)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS documents (
  id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  filename VARCHAR(255) NOT NULL,
  status ENUM('processing', 'ready', 'failed') NOT NULL DEFAULT 'processing',
  content_type VARCHAR(127) NULL,
  size_bytes BIGINT UNSIGNED NOT NULL DEFAULT 0,
  chunk_count INT UNSIGNED NOT NULL DEFAULT 0,
  error TEXT NULL,
  metadata LONGTEXT NULL CHECK (metadata IS NULL OR JSON_VALID(metadata)),
  sha256 BINARY(32) NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  KEY documents_account_time (account_id, created_at, id),
  KEY documents_account_status_time (account_id, status, created_at, id),
  CONSTRAINT documents_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
