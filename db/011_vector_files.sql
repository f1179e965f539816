-- The embedded store's index files (one per account on each machine, shared by its processes) are labelled
-- with the account's generation and epoch. stamp tells this database's generation row from another's: a
-- database dropped and created again starts counting generations anew, and its account 1 must never be
-- served the file left by the old account 1. A row written after this gets a new random stamp.
ALTER TABLE vector_generations
  ADD COLUMN IF NOT EXISTS stamp BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'random, set when the row is made';
UPDATE vector_generations SET stamp = FLOOR(1 + RAND() * 9007199254740991) WHERE stamp = 0;
