-- Vectors of an older embedder: when the built-in embedder changes (builtin-v2 to builtin-v3 added meaning to
-- words), chunks keep the vectors they were stored with until they are embedded again. The worker finds them
-- by this key when its queue is empty (ingest_refresh_vectors) and embeds them again, one account at a time;
-- `faqsurectl reindex` does all at once.
ALTER TABLE chunks
  ADD KEY IF NOT EXISTS chunks_embed_model (embed_model, dims);
