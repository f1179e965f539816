-- Publishable keys (for a browser page: the chat widget) with the origins they may be used from, key edits that
-- every process sees at once, visitors' own conversations, and the welcome line a widget shows.

-- kind: secret keys (faqsure_sk_) are for servers; publishable ones (faqsure_pk_) may only chat, from their
-- origins. agent_id: who answers on a publishable key (NULL = the account's default agent). revision grows with
-- every edit (PATCH): a process that remembers a key finds its remembered revision no longer matches and reads
-- the key again, so a changed limit or origin list holds from the next request on.
ALTER TABLE api_keys
  ADD COLUMN IF NOT EXISTS kind ENUM('secret', 'publishable') NOT NULL DEFAULT 'secret' AFTER scope,
  ADD COLUMN IF NOT EXISTS agent_id CHAR(36) CHARACTER SET ascii NULL AFTER kind,
  ADD COLUMN IF NOT EXISTS revision INT UNSIGNED NOT NULL DEFAULT 0 AFTER per_hour;

-- A publishable key's origins, one row each: the key lists them, and a preflight (which carries no key) asks
-- whether any usable key lists its origin.
CREATE TABLE IF NOT EXISTS api_key_origins (
  origin VARCHAR(300) CHARACTER SET ascii NOT NULL,
  key_id CHAR(36) CHARACTER SET ascii NOT NULL,
  PRIMARY KEY (origin, key_id),
  KEY api_key_origins_key (key_id),
  CONSTRAINT api_key_origins_key_fk FOREIGN KEY (key_id) REFERENCES api_keys (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- A conversation started on a publishable key belongs to the visitor holding its token: only the token's
-- SHA-256 is kept.
ALTER TABLE conversations
  ADD COLUMN IF NOT EXISTS visitor_hash BINARY(32) NULL AFTER agent_id;

ALTER TABLE agents
  ADD COLUMN IF NOT EXISTS welcome_message VARCHAR(1000) NOT NULL
    DEFAULT 'Hi! Ask me anything about our documentation.' AFTER fallback_message;
