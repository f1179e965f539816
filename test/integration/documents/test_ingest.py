# What the ingestion worker makes of uploads beyond the happy path: files that cannot be indexed fail with a
# reason a person understands (and harm nothing: the worker goes on); identical bytes are not indexed twice (the
# answer is the document that holds them, its real status, and new metadata applied); a new version under the
# same name replaces the old one only once it is ready.
import re

import docfiles
from harness import DATA, DOCS, DOCX_MIME, check, eq, expect_error, paused_worker, sql_quote

EXTRACT = DATA / "extract"  # the extraction module's own fixtures (make-fixtures.py there)

W = docfiles.W_NS
BILLION_LAUGHS_DOCX_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<!DOCTYPE w:document [\n'
    '<!ENTITY lol "lol">\n'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10))
    + f']>\n<w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>')
BILLION_LAUGHS_HTML = (
    '<?xml version="1.0"?>\n<!DOCTYPE html [\n<!ENTITY lol "lol">\n'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10))
    + ']>\n<html xmlns="http://www.w3.org/1999/xhtml"><head><title>laughs</title></head>'
      '<body><h1>Laughs</h1><p>&lol9;</p></body></html>\n')
XXE_DOCX_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    f'<w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>before &xxe; after</w:t></w:r></w:p></w:body></w:document>')
XXE_HTML = ('<?xml version="1.0"?>\n<!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
            '<html xmlns="http://www.w3.org/1999/xhtml"><body><h1>Leak</h1><p>before &xxe; after the gecko</p>'
            '</body></html>\n')

# Words a reason is expected to use (any one of each group; lower case).
BROKEN = ("damaged", "corrupt", "broken", "invalid", "not a valid", "could not", "cannot", "can't", "unreadable",
          "malformed", "truncated", "read")


def fixture(name):
    p = EXTRACT / name
    check(p.exists(), f"fixture {p} is missing")
    return p.read_bytes()


def understandable(error, groups, what):
    """error is a sentence for a person that uses a word of every group."""
    check(isinstance(error, str) and error.strip(), f"{what}: no error text ({error!r})")
    low = error.lower()
    for group in groups:
        check(any(w in low for w in group), f"{what}: error {error!r} should say one of {list(group)}")
    check(len(error) <= 600, f"{what}: error is {len(error)} characters long: {error[:200]!r}...")
    for junk in ("(null)", "FS_E", "errno", "%s", "%d", "0x", "Segmentation"):
        check(junk not in error, f"{what}: error reads like a program's, not a person's: {error!r}")


def failing_cases():
    good_pdf = docfiles.pdf([["The ibis report is due every quarter."] * 3, ["Page two of the ibis report."]])
    return [
        # (filename, bytes, [word groups the error must use])
        ("encrypted.pdf", fixture("encrypted.pdf"), [("encrypt", "password")]),
        ("scanned.pdf", docfiles.pdf([["x"] * 5, ["y"] * 5], text=False), [("no text", "scanned", "text layer")]),
        ("garbage.pdf", b"%PDF-1.4\n" + docfiles.random_bytes(20000, seed=5), [BROKEN]),
        ("truncated.pdf", good_pdf[:len(good_pdf) * 2 // 5], [BROKEN]),
        ("bomb.docx", docfiles.docx_bomb(150), [("large", "big", "limit", "bomb", "unpack", "decompress", "mib")]),
        ("laughs.docx", docfiles.docx([], document_xml=BILLION_LAUGHS_DOCX_XML),
         [("entit", "nesting", "amplification", "large", "limit", "loop", "dtd", "doctype")]),
        ("contacts.csv", b"Name,Email,Phone\r\nAnn Lee,ann@example.com,555-0100\r\nBo Chan,bo@example.com,555-0101\r\n"
         b"Cy Diaz,cy@example.com,555-0102\r\n", [("question",), ("answer",), ("email",)]),
        ("scripts-only.html", b"<!DOCTYPE html><html><head><title></title><script>var x = 'not text';</script>"
         b"<style>p { color: red }</style></head><body>\n  \n<script>x += 1;</script></body></html>\n",
         [("no text", "no extractable text", "holds no text", "empty", "nothing")]),
        ("empty-paragraphs.docx", docfiles.docx([("p", " "), ("p", ""), ("table", [["", " "]])]),
         [("no text", "no extractable text", "holds no text", "empty", "nothing")]),
    ]


def test_failing_documents_fail_with_a_reason(s):
    account, key = s.docs_key("ing-fail")
    daemon = s.worker_pid()
    cases = failing_cases()
    ids = {}
    bad = []
    for name, data, _ in cases:
        r = s.upload(key, data, name)
        if r.status != 200:
            bad.append(f"{name}: upload answered {r.describe()} (expected 200, then a failed document)")
        else:
            ids[name] = r.json["id"]
    s.wait_processed(list(ids.values()), seconds=90)
    for name, data, groups in cases:
        if name not in ids:
            continue
        try:
            doc = s.document(key, ids[name])
            eq(doc["status"], "failed", f"status (error {doc.get('error')!r}, chunk_count {doc.get('chunk_count')})")
            understandable(doc["error"], groups, name)
            eq(doc["chunk_count"], 0, "chunk_count")
            eq(s.count_rows("chunks", f"document_id = '{ids[name]}'"), 0, "chunk rows")
            eq(s.query(f"SELECT state FROM ingest_jobs WHERE document_id = '{ids[name]}'"), [["failed"]],
               "job state")
        except AssertionError as e:
            bad.append(f"{name}: {e}")
    # The worker survived all of them: the same daemon processes a good document next.
    good = s.upload_ok(key, b"After the hostile files, the axolotl memo is indexed as usual.\n", "after.txt")
    doc = s.wait_document(key, good, "ready", seconds=30)
    check(doc["chunk_count"] > 0, f"chunk_count of the document after the failures: {doc}")
    eq(s.worker_pid(), daemon, "the daemon worker's pid (it must not have died and been replaced)")
    check(not bad, "\n".join(bad))
    eq(s.count_rows("documents", f"account_id = {s.account_id(account)} AND status = 'failed'"), len(cases),
       "failed documents listed")


def test_hostile_xml_never_reads_local_files(s):
    """External entities are never expanded (the file may fail or index without them); entity-expansion bombs
    in XHTML fail or stay unexpanded."""
    _, key = s.docs_key("ing-xxe")
    cases = [("xxe.docx", docfiles.docx([], document_xml=XXE_DOCX_XML)), ("xxe.xhtml", XXE_HTML.encode()),
             ("laughs.html", BILLION_LAUGHS_HTML.encode())]
    ids = {}
    for name, data in cases:
        r = s.upload(key, data, name)
        check(r.status in (200, 415), f"{name}: upload answered {r.describe()}")
        if r.status == 200:
            ids[name] = r.json["id"]
    states = s.wait_processed(list(ids.values()), seconds=60)
    bad = []
    for name, doc_id in ids.items():
        status, error = states[doc_id]
        text = " ".join(c["text"] for c in s.chunks(doc_id))
        if re.search(r"root:.*:0:0:", text):
            bad.append(f"{name}: /etc/passwd content in the chunks")
        if text.count("lol") > 1000:
            bad.append(f"{name}: entities expanded into {text.count('lol')} 'lol's")
        if status == "failed":
            try:
                understandable(error, [], name)
            except AssertionError as e:
                bad.append(str(e))
    check(not bad, "\n".join(bad))
    good = s.upload_ok(key, b"The worker still indexes the tapir notes.\n", "tapir.txt")
    s.wait_document(key, good, "ready", seconds=30)


# What each file of test/data/extract gives through the whole stack: (status, content_type or refusal, chunks),
# chunks being how many (all Q/A pairs) or (how many, how many of them Q/A pairs).
NO_TEXT = ("no text", "text layer", "holds no text")
EXTRACT_OUTCOMES = {
    "two-pages.pdf": ("ready", "application/pdf", None),
    "owner-password.pdf": ("ready", "application/pdf", None),
    "handbook.docx": ("ready", DOCX_MIME, None),
    "zip-first.docx": ("ready", DOCX_MIME, None),
    "many-entries.docx": ("ready", DOCX_MIME, None),
    "page.html": ("ready", "text/html", None),
    "manual.xhtml": ("ready", "text/html", None),
    "billion-laughs.xhtml": ("ready", "text/html", None),  # the HTML parser leaves &lol9; unexpanded
    "xxe.xhtml": ("ready", "text/html", None),
    "guide.md": ("ready", "text/markdown", None),
    "notes.txt": ("ready", "text/plain", None),
    "latin1.txt": ("ready", "text/plain", None),
    "invalid-utf8.txt": ("ready", "text/plain", None),
    "inline-faq.txt": ("ready", "text/plain", (5, 3)),  # 5 chunks, 3 of them the Q/A pairs written inline
    "clean.pdf": ("ready", "application/pdf", None),
    "clean.docx": ("ready", DOCX_MIME, None),
    "clean.html": ("ready", "text/html", None),
    "clean.md": ("ready", "text/markdown", None),
    "clean.txt": ("ready", "text/plain", None),
    "faq.csv": ("ready", "text/csv", 3),
    "faq-semicolon.csv": ("ready", "text/csv", 2),
    "faq-utf16.csv": ("ready", "text/csv", 1),
    "encrypted.pdf": ("failed", ("encrypt", "password"), None),
    "no-text.pdf": ("failed", NO_TEXT, None),
    "truncated.pdf": ("failed", BROKEN, None),
    "truncated.docx": ("failed", BROKEN, None),
    "malformed.docx": ("failed", BROKEN, None),
    "zip-bomb.docx": ("failed", ("too large", "unpacked", "mib"), None),
    "zip-bomb-lying.docx": ("failed", BROKEN + ("too large",), None),
    "billion-laughs.docx": ("failed", ("not a valid", "entit", "dtd"), None),
    "xxe.docx": ("failed", ("not a valid", "entit", "dtd"), None),
    "deep.docx": ("failed", ("nesting", "deeper"), None),
    "deep.html": ("failed", ("nesting", "deeper"), None),
    "script-only.html": ("failed", NO_TEXT, None),
    "front-matter-only.md": ("failed", NO_TEXT, None),
    "no-qa.csv": ("failed", ("question",), None),
    "empty.txt": (400, "invalid_request", None),
    "random.bin": (415, "application/octet-stream", None),
    "pixel.png": (415, "image/png", None),
    "not-word.zip": (415, "application/zip", None),
}


def test_extraction_fixtures_end_to_end(s):
    account, key = s.docs_key("ing-fixtures")
    present = sorted(p.name for p in EXTRACT.iterdir() if p.is_file() and p.suffix != ".py")
    eq(sorted(set(present) - set(EXTRACT_OUTCOMES)), [], f"fixtures in {EXTRACT} this test does not know")
    ids, bad = {}, []
    for name, (want, what, _) in EXTRACT_OUTCOMES.items():
        r = s.upload(key, fixture(name), name)
        try:
            if isinstance(want, int):
                body = expect_error(r, want, "unsupported_file_type" if want == 415 else what)
                if want == 415:
                    check(what in body["message"], f"415 message should name {what}: {body['message']!r}")
            else:
                eq(r.status, 200, f"upload status ({r.describe()})")
                ids[name] = r.json["id"]
        except AssertionError as e:
            bad.append(f"{name}: {e}")
    s.wait_processed(list(ids.values()), seconds=60)
    for name, doc_id in ids.items():
        want, what, n_chunks = EXTRACT_OUTCOMES[name]
        try:
            doc = s.document(key, doc_id)
            eq(doc["status"], want, f"status (error {doc['error']!r})")
            chunks = s.chunks(doc_id)
            if want == "ready":
                eq(doc["content_type"], what, "content_type")
                check(doc["chunk_count"] == len(chunks) > 0, f"chunk_count {doc['chunk_count']}, {len(chunks)} rows")
                text = " ".join(c["text"] for c in chunks)
                check("root:" not in text and text.count("lol") < 1000, f"entities expanded: {text[:200]!r}")
                if n_chunks is not None:
                    n_all, n_qa = n_chunks if isinstance(n_chunks, tuple) else (n_chunks, n_chunks)
                    eq(len(chunks), n_all, "chunks (one per question/answer row)")
                    eq(sum(1 for c in chunks if c["metadata"].get("question")), n_qa, "Q/A chunks with metadata.question")
            else:
                understandable(doc["error"], [what], name)
                eq(chunks, [], "chunks of a failed document")
        except AssertionError as e:
            bad.append(f"{name}: {e}")
    check(not bad, f"{len(bad)} of {len(EXTRACT_OUTCOMES)} fixtures:\n" + "\n".join(bad))
    eq(s.account_docs(account), len(ids), "documents stored (none for refused uploads)")


# ---- the same bytes again; new bytes under the same name --------------------------------------------------------

def listed(s, key, query=""):
    r = s.get(f"{DOCS}?limit=100{query}", key=key)
    eq(r.status, 200, f"GET {DOCS} ({r.describe()})")
    return r.json["documents"]


def test_identical_bytes_are_not_indexed_twice(s):
    account, key = s.docs_key("ing-dup")
    data = b"# Holidays\n\nThe office is closed on the day of the heron festival.\n"
    with paused_worker(s):  # the answer while the first is still processing says so
        first = s.upload_ok(key, data, "holidays.md")
        r = s.upload(key, data, "holidays.md")
        eq(r.status, 200, f"second upload of the same bytes ({r.describe()})")
        eq(r.json, {"id": first, "filename": "holidays.md", "status": "processing", "duplicate": True,
                    "metadata": {}, "metadata_updated": False}, "answer to the same bytes again, still processing")
    s.wait_document(key, first, "ready")
    # Once ready, under another name too: still the same document (its name), with its real status.
    r = s.upload(key, data, "copy-of-holidays.md")
    eq((r.status, r.json), (200, {"id": first, "filename": "holidays.md", "status": "ready", "duplicate": True,
                                  "metadata": {}, "metadata_updated": False}),
       "the same bytes under another name, after the first is ready")
    docs = listed(s, key)
    eq([d["id"] for d in docs], [first], "documents listed after three uploads of the same bytes")
    eq(s.count_rows("ingest_jobs", f"account_id = {s.account_id(account)}"), 1, "ingest jobs")
    # Another account's identical bytes are its own document.
    _, other = s.docs_key("ing-dup-other")
    theirs = s.upload_ok(other, data, "holidays.md")
    check(theirs != first, "another account's upload of the same bytes got this account's id")
    s.wait_document(other, theirs, "ready")


LEAVE_MD = b"""---
title: Leave Handbook
audience: staff
---
# Leave

Everyone gets annual leave from their first day.

## Sick leave

Sick leave needs a note from a doctor after three consecutive days.
"""


def chunk_metadata(s, doc_id):
    return [c["metadata"] for c in s.chunks(doc_id)]


def test_identical_bytes_with_new_metadata_apply_it(s):
    """The same bytes with a metadata part: the document's metadata becomes the new one, and so does every chunk's
    (with the file's own keys the upload does not give, and the chunk's section); without a metadata part nothing
    changes; while the document is still processing, the worker stores its chunks with the newest metadata."""
    _, key = s.docs_key("ing-dup-meta")
    doc = s.upload_ok(key, LEAVE_MD, "leave.md", metadata={"team": "hr", "audience": "everyone"})
    s.wait_document(key, doc, "ready")
    metas = chunk_metadata(s, doc)
    check(metas and all(m.get("team") == "hr" and m.get("audience") == "everyone" and m.get("title") == "Leave Handbook"
                        for m in metas), f"chunk metadata after the first upload: {metas}")
    sections = [m["section"] for m in metas]

    r = s.upload(key, LEAVE_MD, "leave.md", metadata={"team": "people", "region": "emea"})
    eq((r.status, r.json), (200, {"id": doc, "filename": "leave.md", "status": "ready", "duplicate": True,
                                  "metadata": {"team": "people", "region": "emea"}, "metadata_updated": True}),
       "the same bytes with new metadata")
    eq(s.document(key, doc)["metadata"], {"team": "people", "region": "emea"}, "the document's metadata now")
    metas = chunk_metadata(s, doc)
    eq([m["section"] for m in metas], sections, "the chunks' sections stay")
    for m in metas:
        # the upload's keys; the file's own where the upload is silent (audience came back from the front matter)
        eq({k: m.get(k) for k in ("team", "region", "audience", "title")},
           {"team": "people", "region": "emea", "audience": "staff", "title": "Leave Handbook"}, f"chunk metadata {m}")
    r = s.upload(key, LEAVE_MD, "leave.md")
    eq((r.status, r.json.get("metadata"), r.json.get("metadata_updated")),
       (200, {"team": "people", "region": "emea"}, False), "the same bytes without a metadata part")
    r = s.upload(key, LEAVE_MD, "leave.md", metadata={"team": "people", "region": "emea"})
    eq(r.json.get("metadata_updated"), False, "the same metadata again changes nothing")
    expect_error(s.upload(key, LEAVE_MD, "leave.md", metadata="[1, 2]"), 400, "invalid_request", "metadata")
    eq(s.document(key, doc)["metadata"], {"team": "people", "region": "emea"}, "after a refused metadata part")
    r = s.get(f"{DOCS}?limit=100", key=key)
    eq([d["id"] for d in r.json["documents"]], [doc], "still one document")
    # a document indexed before the file's own metadata was kept apart (db/009): the chunks keep what is not the
    # old upload metadata's
    s.sql(f"UPDATE documents SET file_metadata = NULL WHERE id = {sql_quote(doc)}")
    r = s.upload(key, LEAVE_MD, "leave.md", metadata={"team": "ops"})
    eq(r.json.get("metadata_updated"), True, "new metadata for a document indexed before db/009")
    for m in chunk_metadata(s, doc):
        eq({k: m.get(k) for k in ("team", "region", "audience", "title")},
           {"team": "ops", "region": None, "audience": "staff", "title": "Leave Handbook"}, f"chunk metadata {m}")

    # still processing: the answer says so, and the worker stores the chunks with the newest metadata
    with paused_worker(s):
        other = s.upload_ok(key, b"Desks are booked through the facilities page.\n", "desks.txt", metadata={"v": 1})
        r = s.upload(key, b"Desks are booked through the facilities page.\n", "desks.txt", metadata={"v": 2})
        eq((r.json.get("status"), r.json.get("metadata"), r.json.get("metadata_updated")),
           ("processing", {"v": 2}, True), "new metadata for a document still processing")
    s.wait_document(key, other, "ready")
    eq([m.get("v") for m in chunk_metadata(s, other)], [2] * len(chunk_metadata(s, other)),
       "chunks stored after the metadata changed")


def test_failed_document_does_not_count_as_duplicate(s):
    _, key = s.docs_key("ing-dupfail")
    data = b"id,name,email\r\n1,Ann,ann@example.com\r\n2,Bo,bo@example.com\r\n"
    first = s.upload_ok(key, data, "people.csv")
    s.wait_document(key, first, "failed")
    second = s.upload_ok(key, data, "people.csv")  # checks the answer has no "duplicate"
    check(second != first, "the upload after a failed one got the failed document's id")
    s.wait_document(key, second, "failed")


def test_new_version_replaces_the_old_once_ready(s):
    _, key = s.docs_key("ing-repl")
    v1 = s.upload_ok(key, b"Version one: the kiwi hotline opens at eight.\n", "hotline.txt", metadata={"v": 1})
    s.wait_document(key, v1, "ready")
    v1_chunks = s.count_rows("chunks", f"document_id = '{v1}'")
    with paused_worker(s):
        v2 = s.upload_ok(key, b"Version two: the kiwi hotline opens at nine.\n", "hotline.txt", metadata={"v": 2})
        check(v2 != v1, "new bytes under an existing name got the old id")
        docs = {d["id"]: d["status"] for d in listed(s, key)}
        eq(docs, {v1: "ready", v2: "processing"}, "documents while the new version is processing")
        eq(s.document(key, v1)["status"], "ready", "the old version answers meanwhile")
        eq(s.count_rows("chunks", f"document_id = '{v1}'"), v1_chunks, "the old version's chunks meanwhile")
    s.wait_document(key, v2, "ready")
    eq([d["id"] for d in listed(s, key)], [v2], "documents once the new version is ready")
    r = s.get(f"{DOCS}/{v1}", key=key)
    eq(r.status, 404, f"GET the replaced version ({r.describe()})")
    for table, col in (("chunks", "document_id"), ("document_blobs", "document_id"), ("ingest_jobs", "document_id")):
        eq(s.count_rows(table, f"{col} = '{v1}'"), 0, f"{table} rows of the replaced version")
    texts = [c["text"] for c in s.chunks(v2)]
    check(any("nine" in t for t in texts) and not any("eight" in t for t in texts),
          f"chunks of the new version: {texts}")
    check(all(c["metadata"].get("v") == 2 for c in s.chunks(v2)), "chunks carry the new version's metadata")


def test_failing_new_version_keeps_the_old(s):
    _, key = s.docs_key("ing-replfail")
    good = b"Question,Answer\r\nWhen is payday?,On the 15th of each month.\r\nWho signs leave?,Your manager.\r\n"
    v1 = s.upload_ok(key, good, "faq.csv")
    s.wait_document(key, v1, "ready")
    v2 = s.upload_ok(key, b"Name,Email\r\nAnn,ann@example.com\r\nBo,bo@example.com\r\n", "faq.csv")
    s.wait_document(key, v2, "failed")
    docs = {d["id"]: d["status"] for d in listed(s, key)}
    eq(docs, {v1: "ready", v2: "failed"}, "documents after a failing new version")
    eq(s.document(key, v1)["chunk_count"], 2, "the old version's chunk_count")
    eq(s.count_rows("chunks", f"document_id = '{v1}'"), 2, "the old version's chunk rows")
