# POST /api/v1/documents/upload: every supported format becomes a ready document with sensible chunks (text,
# sections, pages, Q/A rows, the upload's metadata); bad uploads are refused with the documented errors and leave
# nothing behind; the token balance is checked before and debited after, never below zero.
import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import docfiles
from harness import (CTL, DOCS, DOCUMENTS_FCGI, DOCX_MIME, UPLOAD, UUID_RE, check, eq, expect_error, multipart,
                     paused_worker)
from uploads import DOC_FIELDS

META = {"team": "support", "tags": ["faq", "v2"], "priority": 3}


def norm(text):
    return " ".join(text.split())


def with_phrase(chunks, phrase):
    """The chunks whose text holds phrase (whitespace-insensitive); fails when none does."""
    found = [c for c in chunks if norm(phrase) in norm(c["text"])]
    check(found, f"no chunk holds {phrase!r}; chunks: {[c['text'][:80] for c in chunks]}")
    return found


def ingest(s, key, data, filename, content_type, metadata=META):
    """Uploads, waits for ready, checks the document and chunk rows every format shares; returns (doc, chunks)."""
    doc_id = s.upload_ok(key, data, filename, metadata=metadata)
    doc = s.wait_document(key, doc_id, "ready")
    eq(set(doc), DOC_FIELDS, f"{filename}: fields of the document")
    eq(doc["filename"], filename, f"{filename}: filename")
    eq(doc["content_type"], content_type, f"{filename}: content_type")
    eq(doc["size_bytes"], len(data), f"{filename}: size_bytes")
    eq(doc["error"], None, f"{filename}: error")
    check(isinstance(doc["tokens"], int) and doc["tokens"] > 0, f"{filename}: tokens {doc['tokens']!r}")
    chunks = s.chunks(doc_id)
    check(doc["chunk_count"] > 0, f"{filename}: chunk_count {doc['chunk_count']!r}")
    eq(doc["chunk_count"], len(chunks), f"{filename}: chunk_count against the chunk rows")
    eq([c["seq"] for c in chunks], list(range(len(chunks))), f"{filename}: chunk seq numbers")
    for k, v in (metadata or {}).items():
        eq(doc["metadata"].get(k), v, f"{filename}: document metadata[{k!r}]")
    for c in chunks:
        check(c["text"].strip(), f"{filename}: chunk {c['seq']} is empty")
        check(isinstance(c["metadata"], dict) and "section" in c["metadata"],
              f"{filename}: chunk {c['seq']} metadata has no section: {c['metadata']!r}")
        eq(c["metadata"]["section"], c["section"], f"{filename}: chunk {c['seq']} metadata.section vs section")
        for k, v in (metadata or {}).items():
            eq(c["metadata"].get(k), v, f"{filename}: chunk {c['seq']} metadata[{k!r}]")
    ids = s.query(f"SELECT id FROM chunks WHERE document_id = '{doc_id}'")
    bad = [r[0] for r in ids if not UUID_RE.match(r[0])]
    check(not bad, f"{filename}: chunk ids that are not UUIDs: {bad[:3]}")
    return doc, chunks


def sections_of(chunks, phrase):
    return {c["metadata"]["section"] for c in with_phrase(chunks, phrase)}


def in_order(section, *names):
    """section holds names in this order (a heading path, outer first)."""
    at = -1
    for n in names:
        i = section.find(n, at + 1)
        if i < 0:
            return False
        at = i
    return True


# ---- one test per format ---------------------------------------------------------------------------------------

def test_pdf_pages(s):
    _, key = s.docs_key("up-pdf")
    data = docfiles.pdf([["Remote Work Policy", "Employees may work remotely up to three days per week.",
                          "Requests go to the quokka desk before Friday noon."],
                         ["Equipment", "The laptop stipend is 450 dollars per calendar year.",
                          "Return all hardware within ten business days of leaving."]], title="Remote Work")
    doc, chunks = ingest(s, key, data, "remote-work.pdf", "application/pdf")
    for phrase, page in (("quokka desk before Friday", 1), ("laptop stipend is 450 dollars", 2),
                         ("within ten business days", 2)):
        for c in with_phrase(chunks, phrase):
            eq(c["metadata"].get("page"), page, f"metadata.page of the chunk with {phrase!r}")
            eq(c["page"], page, f"page column of the chunk with {phrase!r}")


def test_docx_headings_paragraphs_tables(s):
    _, key = s.docs_key("up-docx")
    data = docfiles.docx([("h1", "Travel Policy"), ("p", "This policy covers every trip paid by the company."),
                          ("h2", "Per Diem"), ("p", "The per diem for Wellington is 87 dollars a day."),
                          ("table", [["City", "Rate"], ["Auckland", "92 dollars"], ["Dunedin", "74 dollars"]]),
                          ("h2", "Booking"),
                          ("p", "Book flights through the heron portal at least two weeks ahead.")])
    doc, chunks = ingest(s, key, data, "travel.docx", DOCX_MIME)
    for sec in sections_of(chunks, "per diem for Wellington"):
        check(in_order(sec, "Travel Policy", "Per Diem"), f"section of the Per Diem paragraph: {sec!r}")
    for sec in sections_of(chunks, "heron portal"):
        check(in_order(sec, "Travel Policy", "Booking") and "Per Diem" not in sec,
              f"section of the Booking paragraph: {sec!r}")
    table = with_phrase(chunks, "Dunedin")
    check(any("74" in c["text"] for c in table), f"the table row 'Dunedin | 74 dollars' lost its rate: {table}")
    first = lambda p: with_phrase(chunks, p)[0]["seq"]  # noqa: E731
    check(first("per diem for Wellington") <= first("Dunedin") <= first("heron portal"),
          "paragraphs, table and headings are not in document order")


HTML = """<!DOCTYPE html>
<html><head><title>Help Centre</title>
<style>.stylesecret { color: red }</style>
<script>var scriptsecret = "never index this";</script>
<link rel="stylesheet" href="http://127.0.0.1:9/never-fetched.css">
</head>
<body>
<h1>Help Centre</h1>
<p>Welcome to the narwhal help centre.</p>
<h2>Passwords</h2>
<p>Reset your password from the <a href="/account">account page</a> every ninety days.</p>
<h3>Lockouts</h3>
<p>After five failed attempts the account locks for fifteen minutes.</p>
<script>document.write("scriptsecret two");</script>
<noscript>noscript fallback text</noscript>
<img src="http://127.0.0.1:9/never-fetched.png" alt="">
<h2>Billing</h2>
<ul><li>Invoices are sent on the first day of the month.</li><li>Refunds take five working days.</li></ul>
</body></html>
"""


def test_html_visible_text_and_headings(s):
    _, key = s.docs_key("up-html")
    doc, chunks = ingest(s, key, HTML.encode(), "help.html", "text/html")
    for sec in sections_of(chunks, "every ninety days"):
        check(in_order(sec, "Help Centre", "Passwords") and "Lockouts" not in sec,
              f"section of the Passwords paragraph: {sec!r}")
    for sec in sections_of(chunks, "five failed attempts"):
        check(in_order(sec, "Passwords", "Lockouts"), f"section of the Lockouts paragraph: {sec!r}")
    for sec in sections_of(chunks, "Refunds take five working days"):
        check("Billing" in sec and "Passwords" not in sec, f"section of the Billing list: {sec!r}")
    with_phrase(chunks, "account page every ninety days")  # the link's text stays in its sentence
    leaked = [c["text"][:120] for c in chunks if "scriptsecret" in c["text"] or "stylesecret" in c["text"]]
    check(not leaked, f"script or style content in chunks: {leaked}")


MARKDOWN = """---
title: Leave Handbook
audience: staff
---
# Leave

Everyone gets annual leave from their first day.

## Sick leave

Sick leave needs a note from a doctor after three consecutive days.

## Parental leave

Parental leave is twelve weeks at full pay for the pangolin team.

```
code blocks keep their text
```
"""


def test_markdown_front_matter_and_sections(s):
    _, key = s.docs_key("up-md")
    doc, chunks = ingest(s, key, MARKDOWN.encode(), "leave.md", "text/markdown")
    for sec in sections_of(chunks, "three consecutive days"):
        check(in_order(sec, "Leave", "Sick leave"), f"section of the Sick leave paragraph: {sec!r}")
    for sec in sections_of(chunks, "twelve weeks at full pay"):
        check(in_order(sec, "Leave", "Parental leave") and "Sick" not in sec,
              f"section of the Parental leave paragraph: {sec!r}")
    for c in chunks:
        eq(c["metadata"].get("audience"), "staff", f"front matter 'audience' in chunk {c['seq']} metadata")
    leaked = [c["text"][:80] for c in chunks if "audience: staff" in c["text"]]
    check(not leaked, f"the front matter block is indexed as text: {leaked}")


def test_plain_text_long_is_cut_in_bounded_pieces(s):
    _, key = s.docs_key("up-txt")
    phrase = "The office closes at noon on the last Friday of each month."
    text = docfiles.prose(3000, seed=7) + phrase + "\n\n" + docfiles.prose(3000, seed=8)
    doc, chunks = ingest(s, key, text.encode(), "notes.txt", "text/plain")
    with_phrase(chunks, phrase)
    check(len(chunks) >= 3, f"6 KB of text gave {len(chunks)} chunk(s); expected several bounded ones")
    too_long = [(c["seq"], len(c["text"])) for c in chunks if len(c["text"]) > 1500]
    check(not too_long, f"chunks over the default chunk.max_chars (1500): {too_long}")
    words = set(norm(text).split())
    for c in chunks:
        stray = [w for w in norm(c["text"]).split() if w not in words]
        check(not stray, f"chunk {c['seq']} has words that are not in the file: {stray[:5]}")


CSV_ROWS = [("How can I pay?", "You can pay by card, invoice or bank transfer.", "billing"),
            ("I forgot my password. What now?", "Use the reset link on the sign-in page.", "account"),
            ("How fast do you ship?", "Orders ship within 2 days.\nExpress orders ship the same day.", "shipping"),
            ("Do you sell my data?", "We never sell your data, and we say \"no\" to brokers.", "privacy")]


def csv_text(header, rows):
    def cell(v):
        return '"' + v.replace('"', '""') + '"' if any(ch in v for ch in ',"\n') else v
    return "\r\n".join([",".join(header)] + [",".join(cell(v) for v in r) for r in rows]) + "\r\n"


def test_csv_faq_one_chunk_per_row(s):
    _, key = s.docs_key("up-csv")
    # Columns in another order than question, answer, with an extra one: the names decide.
    data = csv_text(["Category", "Answer", "Question"], [(c, a, q) for q, a, c in CSV_ROWS]).encode()
    doc, chunks = ingest(s, key, data, "faq.csv", "text/csv")
    eq(len(chunks), len(CSV_ROWS), "chunks of a 4-row FAQ sheet")
    for c, (q, a, _) in zip(chunks, CSV_ROWS):
        eq(c["metadata"].get("question"), q, f"metadata.question of chunk {c['seq']}")
        check(norm(a) in norm(c["text"]), f"chunk {c['seq']} lacks its answer {a!r}: {c['text']!r}")
        check(q in c["text"], f"chunk {c['seq']} lacks its question {q!r}: {c['text']!r}")
        check("Category" not in c["text"], f"chunk {c['seq']} holds the header row: {c['text']!r}")


def test_upload_without_metadata_has_empty_object(s):
    _, key = s.docs_key("up-nometa")
    doc_id = s.upload_ok(key, b"Just one line of plain text about the platypus rota.\n", "rota.txt")
    doc = s.wait_document(key, doc_id, "ready")
    eq(doc["metadata"], {}, "metadata of a document uploaded without one")
    for c in s.chunks(doc_id):
        eq(set(c["metadata"]) - {"section", "page", "question"}, set(), f"chunk {c['seq']} metadata keys")


def test_type_comes_from_the_bytes_not_the_name(s):
    """A PDF named .txt and sent as image/png is a PDF; a PNG named .pdf and sent as application/pdf is a 415."""
    account, key = s.docs_key("up-sniff")
    data = docfiles.pdf([["The walrus roster is posted on Mondays."]])
    r = s.upload(key, data, "roster.txt", file_type="image/png")
    eq(r.status, 200, f"a PDF named roster.txt ({r.describe()})")
    doc = s.wait_document(key, r.json["id"], "ready")
    eq(doc["content_type"], "application/pdf", "content_type of a PDF named .txt")
    before = s.account_docs(account)
    r = s.upload(key, docfiles.png(), "scan.pdf", file_type="application/pdf")
    body = expect_error(r, 415, "unsupported_file_type")
    check("image/png" in body["message"], f"415 message should name image/png: {body['message']!r}")
    eq(s.account_docs(account), before, "documents after a refused upload")


# ---- refused uploads -------------------------------------------------------------------------------------------

def test_bad_uploads_400_and_nothing_stored(s):
    account, key = s.docs_key("up-bad")
    good = b"Some text about the capybara schedule.\n"
    cases = []

    def raw(body, ctype):
        return s.request("POST", UPLOAD, key=key, body=body, headers={"Content-Type": ctype})

    cases.append(("no file field", s.upload(key, None, metadata={"a": 1}), None))
    cases.append(("only a field of another name",
                  s.upload(key, None, extra_parts=[("attachment", good, "x.txt", "text/plain")]), None))
    cases.append(("empty file", s.upload(key, b"", "empty.txt"), None))
    cases.append(("JSON body", s.post(UPLOAD, {"file": "hello", "filename": "a.txt"}, key=key), None))
    cases.append(("form-urlencoded body", raw(b"file=hello", "application/x-www-form-urlencoded"), None))
    cases.append(("no body", s.request("POST", UPLOAD, key=key), None))
    body, ctype = multipart([("file", good, "a.txt", "text/plain")])
    cases.append(("multipart without its closing boundary", raw(body[:body.rindex(b"--")], ctype), None))
    cases.append(("multipart with another boundary", raw(body, "multipart/form-data; boundary=nope"), None))
    for meta in ("[1, 2]", '"text"', "42", "null", "not json", "{\"a\": 1"):
        cases.append((f"metadata {meta}", s.upload(key, good, "a.txt", metadata=meta), "metadata"))
    bad = []
    for what, r, field in cases:
        try:
            expect_error(r, 400, "invalid_request", field)
            check(r.headers.get("Content-Type", "").startswith("application/json"),
                  f"Content-Type {r.headers.get('Content-Type')!r}")
        except AssertionError as e:
            bad.append(f"{what}: {e}")
    check(not bad, "\n".join(bad))
    eq(s.account_docs(account), 0, "documents stored by refused uploads")
    # The same key still uploads fine.
    s.upload_ok(key, good, "fine.txt", metadata={"a": 1})


def test_unsupported_types_415_name_the_type(s):
    account, key = s.docs_key("up-415")
    zip_not_docx = _plain_zip()
    cases = [("photo.png", docfiles.png(), "image/png"),
             ("blob.bin", docfiles.random_bytes(4096), "application/octet-stream"),
             ("notes.txt", docfiles.random_bytes(4096, seed=2), "application/octet-stream"),
             ("archive.zip", zip_not_docx, "application/zip"),
             ("image.gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
              b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;", "image/gif"),
             ("prog.elf", Path("/bin/true").read_bytes()[:65536], "application/x-")]
    bad = []
    for name, data, mime in cases:
        try:
            body = expect_error(s.upload(key, data, name), 415, "unsupported_file_type")
            check(mime in body["message"], f"message should name {mime!r}: {body['message']!r}")
        except AssertionError as e:
            bad.append(f"{name}: {e}")
    check(not bad, "\n".join(bad))
    eq(s.account_docs(account), 0, "documents stored by refused uploads")


def _plain_zip():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("readme.txt", "just a zip, not a Word document " * 20)
    return out.getvalue()


def test_filename_is_the_base_name(s):
    _, key = s.docs_key("up-name")
    ids, bad = {}, []
    # Sent as is on the wire: a browser sends a Windows path's backslashes unescaped (the HTML form encoding),
    # an RFC 2616-minded client escapes them inside the quoted string; either way the base name is kept.
    for sent, stored in (("../../etc/faqsure-it-x.md", "faqsure-it-x.md"), ("C:\\dir\\y.md", "y.md"),
                         ("C:\\\\dir\\\\w.md", "w.md"), ("/abs/path/z.txt", "z.txt")):
        r = s.upload(key, f"# Heading\n\nText of {stored} about the {sent.count('/')} slashes.\n".encode(), sent)
        eq(r.status, 200, f"upload named {sent!r} ({r.describe()})")
        ids[sent] = r.json["id"]
        if r.json.get("filename") != stored:
            bad.append(f"{sent!r} is answered as {r.json.get('filename')!r}, expected {stored!r}")
    s.wait_processed(list(ids.values()))
    for sent, doc_id in ids.items():
        doc = s.document(key, doc_id)
        if doc["status"] != "ready" or "/" in doc["filename"] or "\\" in doc["filename"]:
            bad.append(f"{sent!r}: stored as {doc['filename']!r}, status {doc['status']!r}")
    if os.path.exists("/etc/faqsure-it-x.md"):
        bad.append("an upload named ../../etc/faqsure-it-x.md wrote a file there")
    r = s.upload(key, b"text with a control character in its name\n", "bad\x01name\x7f.txt")
    eq(r.status, 200, f"upload with control characters in the name ({r.describe()})")
    name = r.json.get("filename", "")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        bad.append(f"control characters kept: {name!r}")
    r = s.upload(key, b"text with a very long name\n", "n" * 400 + ".txt")
    eq(r.status, 200, f"upload with a 404-byte name ({r.describe()})")
    if not 0 < len(r.json.get("filename", "").encode()) <= 255:
        bad.append(f"a 404-byte name kept as {len(r.json['filename'])} bytes")
    check(not bad, "\n".join(bad))


def test_cgi_file_too_large_413(s):
    """[upload] max_bytes = 2048: one byte more is a 413 whether the Content-Length or the stream tells."""
    account, key = s.docs_key("up-413")
    conf = s.config_copy("[upload]\nmax_bytes = 2048\n")
    try:
        def cgi_upload(data, name):
            body, ctype = multipart([("file", data, name, "text/plain")])
            status, headers, payload, rc = s.cgi(DOCUMENTS_FCGI, "POST", UPLOAD, key=key, body=body,
                                                 extra_env={"FAQSURE_CONFIG": str(conf), "CONTENT_TYPE": ctype})
            eq(rc, 0, f"CGI exit code for {name}")
            return status, headers, payload

        for size in (2049, 5000, 300000):
            status, headers, payload = cgi_upload(docfiles.prose(size, seed=size).encode()[:size], f"big{size}.txt")
            body = json.loads(payload)
            eq((status, body.get("error")), (413, "file_too_large"), f"CGI upload of {size} bytes ({payload[:200]!r})")
            check(isinstance(body.get("message"), str) and body["message"], f"413 message: {body!r}")
            check(headers.get("content-type", "").startswith("application/json"), f"413 Content-Type {headers}")
        eq(s.account_docs(account), 0, "documents after refused large uploads")
        status, _, payload = cgi_upload(docfiles.prose(2048, seed=1).encode()[:2048], "fits.txt")
        eq(status, 200, f"CGI upload of exactly 2048 bytes ({payload[:200]!r})")
        eq(s.account_docs(account), 1, "documents after an upload of exactly max_bytes")
    finally:
        shutil.rmtree(conf.parent, ignore_errors=True)


def test_apache_file_too_large_413(s):
    """Through the web server: a file one byte over the default 25,000,000 is FAQSure's 413; a body over the web
    server's own cap is its JSON 413."""
    account, key = s.docs_key("up-413a")
    line = b"The quick brown fox jumps over the lazy dog again and again.\n"
    big = (line * (25_000_001 // len(line) + 1))[:25_000_001]
    r = s.upload(key, big, "huge.txt", timeout=60)
    expect_error(r, 413, "file_too_large")
    check(r.headers.get("X-RateLimit-Limit") is not None, "the 413 for 25,000,001 bytes is not FAQSure's own "
                                                          "(no X-RateLimit-* headers): the web server refused it")
    expect_error(s.upload(key, big + big[:3_000_000], "huger.txt", timeout=60), 413, "file_too_large")
    eq(s.account_docs(account), 0, "documents after refused large uploads")


# ---- balance ---------------------------------------------------------------------------------------------------

def test_zero_balance_402_on_upload(s):
    account = s.new_account("up-402", balance=0)
    key = s.new_key(account, per_minute=1000)
    expect_error(s.upload(key, b"text that is never indexed\n", "a.txt"), 402, "insufficient_balance")
    eq(s.account_docs(account), 0, "documents of an account with no balance")
    r = s.get(DOCS, key=key)
    eq(r.status, 200, f"listing still works ({r.describe()})")


def test_ready_document_debits_its_tokens(s):
    account = s.new_account("up-bal", balance=1000000)
    key = s.new_key(account, per_minute=1000)
    doc_id = s.upload_ok(key, docfiles.prose(4000, seed=3).encode(), "tokens.txt")
    doc = s.wait_document(key, doc_id, "ready")
    check(doc["tokens"] > 0, f"tokens of a ready 4 KB document: {doc['tokens']!r}")
    eq(s.balance(account), 1000000 - doc["tokens"], "balance after the document became ready")


def test_indexing_never_takes_the_balance_below_zero(s):
    """Six documents indexed by three workers at once on a balance for about two of them: those the balance can
    cover become ready and are debited exactly their tokens; the others fail before they are embedded, saying
    how many tokens they need, and take nothing. The balance ends at zero or above; topped up, the same bytes are
    a new upload that becomes ready."""
    texts = [docfiles.prose(3000, seed=40 + i).encode() for i in range(6)]
    probe_account = s.new_account("up-bal-probe")
    probe_key = s.new_key(probe_account, per_minute=1000)
    one = s.wait_document(probe_key, s.upload_ok(probe_key, texts[0], "probe.txt"), "ready")["tokens"]
    start = int(one * 2.5)
    account = s.new_account("up-bal-par", balance=start)
    key = s.new_key(account, per_minute=1000)
    with paused_worker(s):
        s.worker_once()  # what other tests left queued
        ids = [s.upload_ok(key, t, f"part-{i}.txt") for i, t in enumerate(texts)]
        procs = [subprocess.Popen([str(CTL), "worker", "--once"], env=dict(os.environ, FAQSURE_CONFIG=str(s.config_path)),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(3)]
        for p in procs:
            _, err = p.communicate(timeout=120)
            check("Sanitizer" not in err and "runtime error:" not in err, f"a worker reported:\n{err}")
        s.wait_processed(ids)
    docs = [s.document(key, i) for i in ids]
    ready = [d for d in docs if d["status"] == "ready"]
    failed = [d for d in docs if d["status"] == "failed"]
    eq(len(ready) + len(failed), 6, f"every document decided: {[(d['status'], d['error']) for d in docs]}")
    check(ready and failed, f"{len(ready)} ready and {len(failed)} failed on a balance for about two")
    left = s.balance(account)
    check(left >= 0, f"balance after indexing: {left}")
    eq(left, start - sum(d["tokens"] for d in ready), "the balance drops by the ready documents' tokens")
    for d in failed:
        check(d["error"].startswith("not indexed: token balance too low") and "top up" in d["error"] and
              "upload the document again" in d["error"], f"the reason of a document the balance could not cover: "
              f"{d['error']!r}")
        eq((d["tokens"], d["chunk_count"]), (0, 0), "tokens and chunks of a document not indexed")
        eq(s.chunks(d["id"]), [], "chunk rows of a document not indexed")
    eq(s.count_rows("balance_holds", f"account_id = {s.account_id(account)}"), 0, "holds left after the workers")
    s.ctl("account", "topup", account, 10 * one)
    again = s.upload_ok(key, texts[ids.index(failed[0]["id"])], "again.txt")
    check(again != failed[0]["id"], "the same bytes as a failed document are a new document")
    s.wait_document(key, again, "ready")


def test_a_balance_of_exactly_a_documents_tokens_indexes_it(s):
    """With the built-in embedder, what indexing sets aside is exactly what it takes: a balance of a document's
    tokens indexes it and ends at 0."""
    text = docfiles.prose(2000, seed=77).encode()
    probe = s.new_key(s.new_account("up-exact-probe"), per_minute=1000)
    tokens = s.wait_document(probe, s.upload_ok(probe, text, "exact.txt"), "ready")["tokens"]
    account = s.new_account("up-exact", balance=tokens)
    key = s.new_key(account, per_minute=1000)
    doc = s.wait_document(key, s.upload_ok(key, text, "exact.txt"), "ready")
    eq((doc["tokens"], s.balance(account)), (tokens, 0), "tokens taken and the balance left")
    account = s.new_account("up-exact-short", balance=tokens - 1)
    key = s.new_key(account, per_minute=1000)
    doc = s.wait_document(key, s.upload_ok(key, text, "exact.txt"), "failed")
    check(f"needs up to {tokens} tokens and {tokens - 1} are available" in doc["error"], f"one token short: {doc}")
    eq(s.balance(account), tokens - 1, "the balance of a document not indexed")
