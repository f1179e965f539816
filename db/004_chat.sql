-- Chat: agents (persona, prompts, retrieval defaults, answerer settings), conversations, their messages, the
-- sources each answer cited, and feedback on answers.

-- default_for holds the account id on the account's default agent and NULL on every other: the unique key makes
-- "exactly one default per account" a property of the table, not of the code.
CREATE TABLE IF NOT EXISTS agents (
  id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  default_for BIGINT UNSIGNED NULL,
  name VARCHAR(100) NOT NULL,
  system_prompt TEXT NOT NULL,
  fallback_message TEXT NOT NULL,
  top_k INT UNSIGNED NOT NULL DEFAULT 5,
  similarity_threshold DOUBLE NOT NULL DEFAULT 0.7,
  use_hybrid TINYINT(1) NOT NULL DEFAULT 1,
  answerer VARCHAR(16) CHARACTER SET ascii NULL COMMENT 'builtin | openai; NULL = the [answerer] backend',
  model VARCHAR(128) NULL COMMENT 'openai: the model; NULL = the [answerer] model',
  temperature DOUBLE NOT NULL DEFAULT 0.2,
  max_tokens INT UNSIGNED NOT NULL DEFAULT 512,
  history_turns INT UNSIGNED NOT NULL DEFAULT 6,
  upstream_fallback VARCHAR(16) CHARACTER SET ascii NOT NULL DEFAULT 'error'
    COMMENT 'when the upstream stays unavailable: error (503) | builtin (answer extractively)',
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  UNIQUE KEY agents_default (default_for),
  KEY agents_account_time (account_id, created_at, id),
  CONSTRAINT agents_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS conversations (
  id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  agent_id CHAR(36) CHARACTER SET ascii NULL COMMENT 'the agent of its first message; NULL once deleted',
  title VARCHAR(200) NOT NULL DEFAULT '' COMMENT 'the first question, cut short',
  message_count INT UNSIGNED NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY conversations_account_time (account_id, created_at, id),
  CONSTRAINT conversations_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE,
  CONSTRAINT conversations_agent_fk FOREIGN KEY (agent_id) REFERENCES agents (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A question and its answer are two rows (role user, role assistant) with consecutive seq. The answer carries
-- what analytics and the conversation view need: sources (the JSON the API answered), confidence, fallback,
-- tokens and timing. question_id links an answer to its question.
CREATE TABLE IF NOT EXISTS messages (
  id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  conversation_id CHAR(36) CHARACTER SET ascii NOT NULL,
  seq INT UNSIGNED NOT NULL,
  role ENUM('user', 'assistant') NOT NULL,
  content MEDIUMTEXT NOT NULL,
  question_id CHAR(36) CHARACTER SET ascii NULL,
  agent_id CHAR(36) CHARACTER SET ascii NULL,
  answerer VARCHAR(16) CHARACTER SET ascii NULL,
  sources LONGTEXT NULL CHECK (sources IS NULL OR JSON_VALID(sources)),
  confidence DOUBLE NULL,
  fallback TINYINT(1) NOT NULL DEFAULT 0,
  use_rag TINYINT(1) NOT NULL DEFAULT 1,
  tokens_prompt INT UNSIGNED NOT NULL DEFAULT 0,
  tokens_completion INT UNSIGNED NOT NULL DEFAULT 0,
  processing_ms INT UNSIGNED NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY messages_conversation_seq (conversation_id, seq),
  KEY messages_account_time (account_id, created_at),
  CONSTRAINT messages_conversation_fk FOREIGN KEY (conversation_id) REFERENCES conversations (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The sources an answer cited, one row each, for "most-cited documents" without parsing JSON. document_id is not
-- a foreign key: a cited document may be deleted later and the history stays.
CREATE TABLE IF NOT EXISTS message_sources (
  message_id CHAR(36) CHARACTER SET ascii NOT NULL,
  pos SMALLINT UNSIGNED NOT NULL COMMENT 'the source''s place in the answer, from 1',
  account_id BIGINT UNSIGNED NOT NULL,
  document_id CHAR(36) CHARACTER SET ascii NOT NULL,
  chunk_id CHAR(36) CHARACTER SET ascii NOT NULL,
  score DOUBLE NOT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (message_id, pos),
  KEY message_sources_account_doc (account_id, created_at, document_id),
  CONSTRAINT message_sources_message_fk FOREIGN KEY (message_id) REFERENCES messages (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- One rating per answer; posting again replaces it.
CREATE TABLE IF NOT EXISTS message_feedback (
  message_id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  rating ENUM('up', 'down') NOT NULL,
  comment TEXT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  KEY message_feedback_account_time (account_id, created_at),
  CONSTRAINT message_feedback_message_fk FOREIGN KEY (message_id) REFERENCES messages (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
