-- Analytics: daily rollups of the usage events, kept in the same transaction that writes the events, so the
-- dashboard reads a few rows per day however long the history grows; and a paraphrase signature on questions.

-- One row per account, UTC day, key, method and route. Unauthenticated requests (no account) are not rolled up.
-- rate_limited counts 429 answers; client_errors other 4xx; server_errors 5xx.
CREATE TABLE IF NOT EXISTS usage_daily (
  account_id BIGINT UNSIGNED NOT NULL,
  day DATE NOT NULL,
  key_id CHAR(36) CHARACTER SET ascii NOT NULL,
  method VARCHAR(8) CHARACTER SET ascii NOT NULL,
  route VARCHAR(64) CHARACTER SET ascii NOT NULL,
  requests BIGINT UNSIGNED NOT NULL DEFAULT 0,
  rate_limited BIGINT UNSIGNED NOT NULL DEFAULT 0,
  client_errors BIGINT UNSIGNED NOT NULL DEFAULT 0,
  server_errors BIGINT UNSIGNED NOT NULL DEFAULT 0,
  tokens_prompt BIGINT UNSIGNED NOT NULL DEFAULT 0,
  tokens_completion BIGINT UNSIGNED NOT NULL DEFAULT 0,
  ms_sum BIGINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, day, key_id, method, route)
) ENGINE=InnoDB;

-- How many requests of a route took each time: ms is exact below 1000 ms, then the lower bound of a bucket
-- (10 ms wide up to 10 s, 100 ms up to 100 s, 1 s beyond), so p50 and p95 below a second are exact.
CREATE TABLE IF NOT EXISTS usage_latency_daily (
  account_id BIGINT UNSIGNED NOT NULL,
  day DATE NOT NULL,
  method VARCHAR(8) CHARACTER SET ascii NOT NULL,
  route VARCHAR(64) CHARACTER SET ascii NOT NULL,
  ms INT UNSIGNED NOT NULL,
  n BIGINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, day, method, route, ms)
) ENGINE=InnoDB;

-- signature: a hash of the question's distinct stemmed content words, sorted (analytics_signature), so "What is
-- your return policy?" and "return policy??" count as one question; wording: a hash of its exact text
-- (analytics_wording), to count the wordings of a question without reading them. On a
-- question row, fallback says whether its answer fell back (as on the answer row). The key covers every count
-- the dashboard makes of messages (an InnoDB key also holds the primary key: an example row of each wording).
ALTER TABLE messages
  ADD COLUMN IF NOT EXISTS signature BIGINT UNSIGNED NULL COMMENT 'questions: hash of the sorted distinct stems',
  ADD COLUMN IF NOT EXISTS wording BIGINT UNSIGNED NULL COMMENT 'questions: hash of the text',
  ADD KEY IF NOT EXISTS messages_account_analytics
    (account_id, role, created_at, signature, wording, fallback, confidence);

-- "Documents never cited in the window" looks sources up by document.
ALTER TABLE message_sources
  ADD KEY IF NOT EXISTS message_sources_account_document (account_id, document_id, created_at);
