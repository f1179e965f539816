# Real documents (../shared/docs: PDF, DOCX, XHTML, Markdown, text) through the whole stack: every one becomes
# ready with chunks that hold its words (a file with truly no text may fail, with a reason saying so), and the
# TechFAR handbook gives comparable text from its PDF and its DOCX. Skips when ../shared/docs is absent.
import html
import os
import re
import subprocess
import zipfile
from pathlib import Path

from harness import CTL, ROOT, SkipTest, check, eq, stack

# beside the clone, else where the project's reference material lives on its development and CI machines
SHARED_DOCS = next((p for p in (ROOT.parent / "shared" / "docs", Path("/work/shared/docs")) if p.is_dir()),
                   ROOT.parent / "shared" / "docs")
NO_TEXT_WORDS = ("no text", "text layer", "scanned", "holds no text", "no extractable text")
_result = {}  # one upload of the folder per run, shared by the tests below


def words(text, min_len=8):
    return {w.lower() for w in re.findall(r"[A-Za-z]{%d,}" % min_len, text)}


def visible_source_text(path):
    """The text a reader sees in a source file (tags, scripts, styles, link targets dropped); None for PDF."""
    if path.suffix == ".docx":
        with zipfile.ZipFile(path) as z:
            xml = z.read("word/document.xml").decode("utf-8", "replace")
        return html.unescape(" ".join(re.findall(r"<w:t(?:\s[^>]*)?>([^<]*)</w:t>", xml)))
    if path.suffix not in (".md", ".txt", ".html"):
        return None
    text = path.read_bytes().decode("utf-8", "replace")
    if path.suffix in (".html", ".htm"):
        text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
        text = re.sub(r"(?s)<!--.*?-->", " ", text)
        text = html.unescape(re.sub(r"(?s)<[^>]+>", " ", text))
    if path.suffix == ".md":
        text = re.sub(r"(?s)\A---\n.*?\n---\n", " ", text)  # front matter becomes metadata
        text = re.sub(r"\]\([^)]*\)", "] ", text)  # link targets
        text = re.sub(r"(?s)<[^>]+>", " ", text)  # inline HTML tags
        text = re.sub(r"\{[:%][^}]*[%]?\}", " ", text)  # Jekyll/kramdown attribute lists and tags
        text = re.sub(r"https?://\S+", " ", text)
    return text


def ingest_all():
    if "docs" in _result:
        return _result
    if not SHARED_DOCS.is_dir():
        raise SkipTest(f"{SHARED_DOCS} is absent")
    s = stack()
    _, key = s.docs_key("shared-docs")
    files = sorted(p for p in SHARED_DOCS.iterdir() if p.is_file())
    check(files, f"{SHARED_DOCS} is empty")
    ids, refused = {}, []
    for p in files:
        r = s.upload(key, p.read_bytes(), p.name)
        if r.status == 200 and r.json.get("status") == "processing" and not r.json.get("duplicate"):
            ids[p.name] = r.json["id"]
        else:
            refused.append(f"{p.name}: {r.describe()}")
    # Two more workers beside the daemon, so the folder does not take three times as long as it must.
    env = dict(os.environ, FAQSURE_CONFIG=str(s.config_path))
    helpers = [subprocess.Popen([str(CTL), "worker", "--once"], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    try:
        s.wait_processed(list(ids.values()), seconds=120)
    finally:
        for h in helpers:
            try:
                h.wait(timeout=120)
            except subprocess.TimeoutExpired:
                h.kill()
                h.wait()
    docs = {name: s.document(key, i) for name, i in ids.items()}
    chunks = {name: s.chunks(i) for name, i in ids.items()}
    _result.update(files=files, ids=ids, refused=refused, docs=docs, chunks=chunks)
    return _result


def test_every_shared_document_becomes_ready():
    res = ingest_all()
    check(not res["refused"], "uploads refused:\n" + "\n".join(res["refused"]))
    bad, notes = [], []
    for p in res["files"]:
        doc, chunks = res["docs"][p.name], res["chunks"][p.name]
        if doc["status"] == "failed":
            if any(w in (doc["error"] or "").lower() for w in NO_TEXT_WORDS):
                notes.append(f"{p.name} failed (accepted only for a file with no text): {doc['error']}")
            else:
                bad.append(f"{p.name}: failed: {doc['error']!r}")
            continue
        if doc["status"] != "ready" or doc["chunk_count"] <= 0 or doc["chunk_count"] != len(chunks):
            bad.append(f"{p.name}: status {doc['status']}, chunk_count {doc['chunk_count']}, {len(chunks)} rows")
            continue
        text = "\n".join(c["section"] + "\n" + c["text"] for c in chunks)  # headings are in the sections
        visible = visible_source_text(p)
        if visible is not None:
            src = words(visible, 9)
            missing = src - words(text, 9)
            if src and len(missing) > 0.2 * len(src):
                bad.append(f"{p.name}: {len(missing)} of {len(src)} long words of the file are in no chunk, e.g. "
                           f"{sorted(missing)[:8]}")
        if p.suffix == ".html":  # markup the page shows as text (&lt;a href…&gt; in an example) is fine
            tags = [t for t in re.findall(r"</?(?:p|div|span|a|h[1-6]|table|td|script|style)\b[^>]*>", text)
                    if t not in visible]
            if tags:
                bad.append(f"{p.name}: markup left in chunks: {tags[:5]}")
        if p.suffix == ".pdf" and len(words(text, 5)) < 5:
            bad.append(f"{p.name}: ready, but its chunks hold only {len(words(text, 5))} distinct words")
        oversized = [c["seq"] for c in chunks if len(c["text"]) > 1500]
        if oversized:
            bad.append(f"{p.name}: chunks over 1500 characters: {oversized[:5]}")
    for n in notes:
        print(f"note: {n}", flush=True)
    check(not bad, f"{len(bad)} of {len(res['files'])} files:\n" + "\n".join(bad))


def test_markdown_and_html_sections_from_real_files():
    res = ingest_all()
    bad = []
    for p in res["files"]:
        if p.suffix not in (".md", ".html") or res["docs"][p.name]["status"] != "ready":
            continue
        text = p.read_text("utf-8", "replace")
        has_headings = re.search(r"(?m)^#{1,6} \S", text) if p.suffix == ".md" else re.search(r"<h[1-6]\b", text)
        if has_headings and not any(c["metadata"].get("section") for c in res["chunks"][p.name]):
            bad.append(f"{p.name}: has headings, but no chunk has a metadata.section")
    check(not bad, "\n".join(bad))


def test_techfar_pdf_and_docx_give_comparable_text():
    res = ingest_all()
    names = ("usds-techfar-handbook-2014.pdf", "usds-techfar-handbook-2014.docx")
    for n in names:
        check(n in res["docs"], f"{n} is not in {SHARED_DOCS}")
        eq(res["docs"][n]["status"], "ready", f"status of {n} (error {res['docs'][n]['error']!r})")
    pdf, docx = (res["docs"][n]["chunk_count"] for n in names)
    check(max(pdf, docx) <= 2 * min(pdf, docx), f"chunk counts differ more than twofold: PDF {pdf}, DOCX {docx}")
    w_pdf, w_docx = (words("\n".join(c["text"] for c in res["chunks"][n]), 8) for n in names)
    common = w_pdf & w_docx
    share = len(common) / max(1, min(len(w_pdf), len(w_docx)))
    check(share >= 0.7, f"only {len(common)} of the distinctive words are shared ({share:.0%}); PDF has "
                        f"{len(w_pdf)}, DOCX {len(w_docx)}; e.g. only in the PDF: {sorted(w_pdf - w_docx)[:10]}, "
                        f"only in the DOCX: {sorted(w_docx - w_pdf)[:10]}")
    for phrase in ("TechFAR", "Digital Services Playbook", "Federal Acquisition Regulation"):
        for n in names:
            text = " ".join(" ".join(c["text"] for c in res["chunks"][n]).split())
            check(phrase.lower() in text.lower(), f"{n}: no chunk holds {phrase!r}")
