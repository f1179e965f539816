-- Agreement in meaning for the built-in answerer: each chunk keeps the vectors of its sentences
-- (shared/answer/answer_span.h, span_passage_vectors). The worker computes them when its queue is empty
-- (ingest_fill_sentences), so that a document is ready as soon as its chunks are stored; until then a chat computes
-- the vectors of the passages it reads itself (the same answer, more time). Reindex rewrites them too.
ALTER TABLE chunks
  ADD COLUMN IF NOT EXISTS sentences MEDIUMBLOB NULL COMMENT 'answer_span.c SV_MAGIC: per sentence its byte range and an int8 vector',
  ADD COLUMN IF NOT EXISTS sentences_version TINYINT UNSIGNED NOT NULL DEFAULT 0
    COMMENT 'the version (SPAN_VECTORS_VERSION) of the vectors in sentences; 0: none yet',
  ADD KEY IF NOT EXISTS chunks_sentences_todo (sentences_version),
  ADD KEY IF NOT EXISTS chunks_account_sentences (account_id, sentences_version);
