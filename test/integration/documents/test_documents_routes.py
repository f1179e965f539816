# GET/DELETE /api/v1/documents/{id} and the list (status filter, pagination) over real uploaded documents;
# another account's documents are a 404 on every route and stay untouched.

from harness import DOCS, TIME_RE, UUID_RE, check, eq, expect_error, paused_worker
from uploads import DOC_FIELDS

TYPES = {"id": str, "filename": str, "status": str, "content_type": str, "size_bytes": int, "chunk_count": int,
         "tokens": int, "metadata": dict, "created_at": str, "updated_at": str}


def check_doc_object(doc, what):
    eq(set(doc), DOC_FIELDS, f"{what}: fields")
    for k, t in TYPES.items():
        check(isinstance(doc[k], t) and not isinstance(doc[k], bool), f"{what}: {k} is {doc[k]!r}, not a {t.__name__}")
    check(UUID_RE.match(doc["id"]) is not None, f"{what}: id {doc['id']!r}")
    check(doc["error"] is None or isinstance(doc["error"], str), f"{what}: error {doc['error']!r}")
    for k in ("created_at", "updated_at"):
        check(TIME_RE.match(doc[k]) is not None, f"{what}: {k} {doc[k]!r}")
    check(doc["created_at"] <= doc["updated_at"], f"{what}: updated_at before created_at: {doc}")


def rows(s, doc_id):
    return {t: s.count_rows(t, f"document_id = '{doc_id}'") for t in ("chunks", "document_blobs", "ingest_jobs")}


def test_get_and_delete_one_document(s):
    _, key = s.docs_key("rt-one")
    data = b"# Parking\n\nVisitors park in bay C after signing the otter book.\n"
    doc_id = s.upload_ok(key, data, "parking.md", metadata={"site": "north"})
    s.wait_document(key, doc_id, "ready")
    doc = s.document(key, doc_id)
    check_doc_object(doc, "GET one document")
    eq({k: doc[k] for k in ("id", "filename", "status", "content_type", "size_bytes", "error")},
       {"id": doc_id, "filename": "parking.md", "status": "ready", "content_type": "text/markdown",
        "size_bytes": len(data), "error": None}, "GET one document")
    eq(doc["metadata"].get("site"), "north", "metadata")
    listed = s.get(DOCS, key=key).json["documents"]
    eq(listed, [doc], "the list's object is the same as GET's")
    head = s.head(f"{DOCS}/{doc_id}", key=key)
    eq((head.status, head.body), (200, b""), "HEAD on one document")
    before = rows(s, doc_id)
    check(all(before.values()), f"rows of a ready document: {before}")

    r = s.delete(f"{DOCS}/{doc_id}", key=key)
    eq((r.status, r.json), (200, {"id": doc_id, "deleted": True}), f"DELETE ({r.describe()})")
    expect_error(s.get(f"{DOCS}/{doc_id}", key=key), 404, "not_found")
    expect_error(s.delete(f"{DOCS}/{doc_id}", key=key), 404, "not_found")
    eq(rows(s, doc_id), {"chunks": 0, "document_blobs": 0, "ingest_jobs": 0}, "rows left after DELETE")
    eq(s.count_rows("documents", f"id = '{doc_id}'"), 0, "the documents row after DELETE")
    eq(s.get(DOCS, key=key).json["documents"], [], "list after DELETE")
    for bad in ("not-a-uuid", doc_id.upper(), "00000000-0000-0000-0000-000000000000"):
        expect_error(s.get(f"{DOCS}/{bad}", key=key), 404, "not_found")


def test_delete_while_processing(s):
    """A document deleted before the worker got to it is gone for good: the worker skips it."""
    _, key = s.docs_key("rt-delproc")
    with paused_worker(s):
        doc_id = s.upload_ok(key, b"Deleted before indexing: the lemur file.\n", "lemur.txt")
        r = s.delete(f"{DOCS}/{doc_id}", key=key)
        eq((r.status, r.json), (200, {"id": doc_id, "deleted": True}), f"DELETE while processing ({r.describe()})")
    after = s.upload_ok(key, b"Indexed after the deleted one: the gibbon file.\n", "gibbon.txt")
    s.wait_document(key, after, "ready")
    expect_error(s.get(f"{DOCS}/{doc_id}", key=key), 404, "not_found")
    eq(rows(s, doc_id), {"chunks": 0, "document_blobs": 0, "ingest_jobs": 0}, "rows of the deleted document")


def test_other_accounts_documents_are_404(s):
    _, owner = s.docs_key("rt-owner")
    _, stranger = s.docs_key("rt-stranger")
    doc_id = s.upload_ok(owner, b"Owner-only text about the secret dingo budget.\n", "budget.txt")
    s.wait_document(owner, doc_id, "ready")
    before = rows(s, doc_id)
    expect_error(s.get(f"{DOCS}/{doc_id}", key=stranger), 404, "not_found")
    head = s.head(f"{DOCS}/{doc_id}", key=stranger)
    eq(head.status, 404, "HEAD on another account's document")
    expect_error(s.delete(f"{DOCS}/{doc_id}", key=stranger), 404, "not_found")
    eq(s.get(DOCS, key=stranger).json["documents"], [], "the stranger's list")
    for q in ("status=ready", "limit=100"):
        eq(s.get(f"{DOCS}?{q}", key=stranger).json["documents"], [], f"the stranger's list ?{q}")
    doc = s.document(owner, doc_id)
    eq(doc["status"], "ready", "the owner's document after the stranger's DELETE")
    eq(rows(s, doc_id), before, "the owner's rows after the stranger's DELETE")
    # The same filename in the other account is its own document and replaces nothing of the owner's.
    theirs = s.upload_ok(stranger, b"The stranger's own budget text.\n", "budget.txt")
    s.wait_document(stranger, theirs, "ready")
    eq(s.document(owner, doc_id)["status"], "ready", "the owner's document after a same-named upload elsewhere")


def test_list_filters_by_status(s):
    _, key = s.docs_key("rt-filter")
    ok = s.upload_ok(key, b"A ready document about the puffin rota.\n", "ready.txt")
    bad = s.upload_ok(key, b"Name,Phone\r\nAnn,1\r\nBo,2\r\n", "bad.csv")
    s.wait_processed([ok, bad])
    with paused_worker(s):
        waiting = s.upload_ok(key, b"Still processing: the marmot memo.\n", "waiting.txt")
        for status, want in (("ready", [ok]), ("failed", [bad]), ("processing", [waiting]),
                             (None, [waiting, bad, ok])):
            r = s.get(DOCS + (f"?status={status}" if status else ""), key=key)
            eq(r.status, 200, f"?status={status} ({r.describe()})")
            eq([d["id"] for d in r.json["documents"]], want, f"ids listed for ?status={status}")
            eq(r.json["count"], len(want), f"count for ?status={status}")
            for d in r.json["documents"]:
                check_doc_object(d, f"listed document {d.get('filename')}")
                if status:
                    eq(d["status"], status, "status of a listed document")
        failed = s.get(f"{DOCS}?status=failed", key=key).json["documents"][0]
        check(failed["error"], f"a failed document's error: {failed}")
        eq(failed["chunk_count"], 0, "a failed document's chunk_count")
    s.wait_document(key, waiting, "ready")


def test_pagination_newest_first(s):
    _, key = s.docs_key("rt-page")
    ids = [s.upload_ok(key, f"Document number {i} about the wombat roster.\n".encode(), f"doc{i}.txt")
           for i in range(5)]
    s.wait_processed(ids)
    docs, sizes = s.pages(DOCS, key, "documents", limit=2)
    eq(sizes, [2, 2, 1], "page sizes over 5 documents with limit=2")
    eq([d["id"] for d in docs], ids[::-1], "ids over all pages (each once, newest first)")
    ready, sizes = s.pages(DOCS, key, "documents", limit=2, query={"status": "ready"})
    eq(([d["id"] for d in ready], sizes), (ids[::-1], [2, 2, 1]), "?status=ready&limit=2 over every page")
