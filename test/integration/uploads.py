# Documents through the API: uploads, waiting for the worker, reading them back.
import json
from pathlib import Path

from checks import UUID_RE, check, eq, sql_quote, wait_for
from client import DOCS, UPLOAD, multipart

# The fields of a document as the API shows it.
DOC_FIELDS = {"id", "filename", "status", "content_type", "size_bytes", "chunk_count", "tokens", "error",
              "metadata", "created_at", "updated_at"}


class Documents:
    """Uploads and the documents' life; needs the HttpClient and Database parts and the worker's."""

    # -- documents: uploads, their rows, the ingestion worker ---------------------------------------------------
    def upload(self, key, data, filename="doc.txt", metadata=None, file_type="application/octet-stream",
               extra_parts=(), timeout=60):
        """POST /api/v1/documents/upload with a `file` part (and a `metadata` part when metadata is not None: a
        dict is sent as JSON, str/bytes as is). extra_parts: more (name, value, filename, content_type)."""
        parts = [("file", data, filename, file_type)] if data is not None else []
        if metadata is not None:
            parts.append(("metadata", json.dumps(metadata) if isinstance(metadata, (dict, list)) else metadata,
                          None, None))
        parts.extend(extra_parts)
        body, ctype = multipart(parts)
        return self.request("POST", UPLOAD, key=key, body=body, headers={"Content-Type": ctype}, timeout=timeout)

    def upload_ok(self, key, data, filename, metadata=None):
        """An upload that must be accepted as a new document: checks the exact answer, returns the id."""
        r = self.upload(key, data, filename, metadata=metadata)
        eq(r.status, 200, f"upload of {filename} ({r.describe()})")
        check(isinstance(r.json, dict) and UUID_RE.match(str(r.json.get("id"))) is not None,
              f"upload of {filename}: no UUID id in {r.json!r}")
        eq(r.json, {"id": r.json["id"], "filename": Path(filename.replace("\\", "/")).name,
                    "status": "processing"}, f"answer to the upload of {filename}")
        return r.json["id"]

    def doc_states(self, ids):
        """{id: (status, error)} from the database, for those of ids that still exist."""
        if not ids:
            return {}
        rows = self.query(f"SELECT id, status, error FROM documents WHERE id IN ({', '.join(map(sql_quote, ids))})")
        return {i: (st, err) for i, st, err in rows}

    def wait_processed(self, ids, seconds=30.0):
        """Polls the database until none of ids is 'processing' (the worker decided each: ready, failed, or
        deleted); returns {id: (status, error)} of those that exist. Fails naming the ones still processing."""
        ids = list(ids)
        state = {}

        def done():
            state["s"] = self.doc_states(ids)
            return all(v[0] != "processing" for v in state["s"].values())

        try:
            wait_for(done, "documents processed", seconds, interval=0.25)
        except AssertionError:
            stuck = [i for i, v in state.get("s", {}).items() if v[0] == "processing"]
            raise AssertionError(f"{len(stuck)} of {len(ids)} documents still processing after {seconds} s "
                                 f"(daemon worker pid {self.worker_pid()}): {stuck}; worker.log ends:\n"
                                 f"{self.worker_log_tail()}") from None
        return state["s"]

    def document(self, key, doc_id):
        """GET /api/v1/documents/{id}: the object, after checking it is a 200."""
        r = self.get(f"{DOCS}/{doc_id}", key=key)
        eq(r.status, 200, f"GET {DOCS}/{doc_id} ({r.describe()})")
        return r.json

    def document_decided(self, key, doc_id, seconds=60.0):
        """Polls GET /api/v1/documents/{id} (the API only: also where the tests cannot reach the database) until the
        worker decided the document; returns it."""
        doc = {}

        def decided():
            doc.update(self.document(key, doc_id))
            return doc["status"] != "processing"

        wait_for(decided, f"the worker to decide document {doc_id}", seconds, interval=0.3)
        return doc

    def wait_document(self, key, doc_id, status, seconds=30.0):
        """Waits until the worker decided doc_id, then checks through the API that it has `status`."""
        self.wait_processed([doc_id], seconds)
        doc = self.document(key, doc_id)
        check(doc.get("status") == status,
              f"document {doc_id} ({doc.get('filename')}): status {doc.get('status')!r}, expected {status!r} "
              f"(error {doc.get('error')!r})")
        return doc

    def chunks(self, doc_id):
        """The chunk rows of a document in order: dicts with seq, text, section, page, metadata (parsed)."""
        rows = self.query(f"SELECT seq, text, section, page, metadata, tokens FROM chunks "
                          f"WHERE document_id = {sql_quote(doc_id)} ORDER BY seq")
        out = []
        for seq, text, section, page, meta, tokens in rows:
            out.append({"seq": int(seq), "text": text, "section": section,
                        "page": None if page is None else int(page), "metadata": json.loads(meta),
                        "tokens": int(tokens)})
        return out
