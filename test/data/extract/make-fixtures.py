#!/usr/bin/env python3
"""Regenerates the extraction fixtures in this directory (python3 standard library; qpdf for encrypted.pdf).

Every file is small and made from scratch here, so each one tests one thing: well-formed documents of each
format with known text, and broken, encrypted, empty and hostile ones (zip bombs, billion laughs, deep nesting).
Run from anywhere: python3 test/data/extract/make-fixtures.py
"""
import os
import random
import struct
import subprocess
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


# ---- PDF ----------------------------------------------------------------------------------------------------

def pdf_string(s):
    return "(" + s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def make_pdf(pages, info=None, dingbats=False):
    """pages: list of content streams (str). Fonts F1 = Helvetica, F2 = Helvetica-Bold (standard 14), with
    dingbats also F3 = ZapfDingbats."""
    objs = []  # index i holds object i+1

    def add(body):
        objs.append(body)
        return len(objs)

    catalog = add(None)
    pages_obj = add(None)
    f1 = add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    f2 = add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
    f3 = add("<< /Type /Font /Subtype /Type1 /BaseFont /ZapfDingbats >>") if dingbats else None
    kids = []
    for content in pages:
        data = content.encode("latin-1")
        stream = add("<< /Length %d >>\nstream\n" % len(data) + data.decode("latin-1") + "\nendstream")
        kids.append(add("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                        "/Resources << /Font << /F1 %d 0 R /F2 %d 0 R%s >> >> >>" % (
                            pages_obj, stream, f1, f2, " /F3 %d 0 R" % f3 if f3 else "")))
    objs[catalog - 1] = "<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    objs[pages_obj - 1] = "<< /Type /Pages /Kids [%s] /Count %d >>" % (
        " ".join("%d 0 R" % k for k in kids), len(kids))
    info_obj = None
    if info:
        info_obj = add("<< " + " ".join("/%s %s" % (k, pdf_string(v)) for k, v in info.items()) + " >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs):
        offsets.append(len(out))
        out += ("%d 0 obj\n%s\nendobj\n" % (i + 1, body)).encode("latin-1")
    xref = len(out)
    out += ("xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)).encode()
    for off in offsets:
        out += ("%010d 00000 n \n" % off).encode()
    trailer = "<< /Size %d /Root %d 0 R" % (len(objs) + 1, catalog)
    if info_obj:
        trailer += " /Info %d 0 R" % info_obj
    out += ("trailer\n%s >>\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref)).encode()
    return bytes(out)


def text_block(x, y, size, font, lines, leading=None):
    leading = leading or size * 1.3
    s = "BT /%s %g Tf %g TL %g %g Td " % (font, size, leading, x, y)
    s += " T* ".join(pdf_string(l) + " Tj" for l in lines)
    return s + " ET\n"


def make_pdfs():
    page1 = (text_block(72, 720, 20, "F2", ["Travel Policy"]) +
             text_block(72, 690, 11, "F1", ["Employees may book economy flights for any trip",
                                             "shorter than six hours. Business class needs approval."]) +
             text_block(72, 640, 11, "F1", ["Receipts must be kept for seven years. The daily allowance is reim-",
                                             "bursed within ten days of the trip."]) +
             text_block(300, 40, 9, "F1", ["1"]))
    page2 = (text_block(72, 720, 20, "F2", ["Per Diem"]) +
             text_block(72, 690, 11, "F1", ["Meals are paid at the GSA per diem rate for the city of the meeting."]) +
             text_block(300, 40, 9, "F1", ["2"]))
    two = make_pdf([page1, page2], {"Title": "Company Travel Policy", "Author": "Jane Doe"})
    write("two-pages.pdf", two)
    write("no-text.pdf", make_pdf(["0 0 1 RG 2 w 100 100 200 150 re S\n"]))
    write("truncated.pdf", two[: len(two) // 3])
    # AES-128 with --static-id and --static-aes-iv: reproducible output (AES-256 salts are always random).
    # A user password is needed to open it; poppler must refuse with POPPLER_ERROR_ENCRYPTED.
    subprocess.run(["qpdf", "--static-id", "--static-aes-iv", "--encrypt", "secret-user", "secret-owner", "128",
                    "--use-aes=y", "--", path("two-pages.pdf"), path("encrypted.pdf")], check=True)
    # Only an owner password (restrictions, no user password): anyone can open it, so it reads normally.
    subprocess.run(["qpdf", "--static-id", "--static-aes-iv", "--encrypt", "", "secret-owner", "128",
                    "--print=none", "--use-aes=y", "--", path("two-pages.pdf"), path("owner-password.pdf")],
                   check=True)


# ---- DOCX ---------------------------------------------------------------------------------------------------

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
MC = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>
<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>
</Types>"""

RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>
</Relationships>"""

# Style ids as a German Word writes them: only the names say which are headings.
STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles %s>
<w:style w:type="paragraph" w:default="1" w:styleId="Standard"><w:name w:val="Normal"/></w:style>
<w:style w:type="paragraph" w:styleId="Titel"><w:name w:val="Title"/><w:basedOn w:val="Standard"/></w:style>
<w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/><w:basedOn w:val="Standard"/>
<w:pPr><w:outlineLvl w:val="0"/></w:pPr><w:rPr><w:b/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="berschrift2"><w:name w:val="heading 2"/><w:basedOn w:val="Standard"/>
<w:pPr><w:outlineLvl w:val="1"/></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="Zwischentitel"><w:name w:val="My Subhead"/>
<w:basedOn w:val="berschrift2"/></w:style>
<w:style w:type="character" w:styleId="Fett"><w:name w:val="Strong"/><w:rPr><w:b/></w:rPr></w:style>
</w:styles>""" % W

CORE = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
 xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Employee Handbook</dc:title>
<dc:creator>HR Team</dc:creator></cp:coreProperties>"""


def para(text, style=None, runs=None):
    ppr = '<w:pPr><w:pStyle w:val="%s"/></w:pPr>' % style if style else ""
    runs = runs if runs is not None else ['<w:r><w:t xml:space="preserve">%s</w:t></w:r>' % text]
    return "<w:p>%s%s</w:p>" % (ppr, "".join(runs))


def cell(text):
    return "<w:tc><w:tcPr/>%s</w:tc>" % para(text)


HANDBOOK_BODY = "".join([
    para("Employee Handbook 2024", "Titel"),
    para("Welcome to the company. This handbook explains how we work."),
    para("Leave", "berschrift1"),
    para("Annual leave", "berschrift2"),
    para(None, runs=['<w:r><w:t>Full-time staff get</w:t></w:r>', '<w:r><w:tab/><w:t>25 days</w:t></w:r>',
                     '<w:r><w:t xml:space="preserve"> of annual leave.</w:t><w:br/>'
                     '<w:t>Unused days expire in March.</w:t></w:r>',
                     '<w:r><w:rPr><w:vanish/></w:rPr><w:t>HIDDEN DRAFT NOTE</w:t></w:r>',
                     '<w:r><w:delText>DELETED TEXT</w:delText></w:r>',
                     '<w:r><w:instrText> HYPERLINK "http://example.com" </w:instrText></w:r>']),
    para("Sick leave", "Zwischentitel"),
    para("Tell your manager before 10 am on the first day of illness."),
    "<w:tbl><w:tblPr/><w:tr>%s</w:tr><w:tr>%s</w:tr><w:tr>%s</w:tr></w:tbl>" % (
        cell("Days off sick") + cell("Certificate needed"),
        cell("1-3") + cell("No"),
        cell("4 or more") + cell("Yes")),
    para("Expenses", "berschrift1"),
    # A text box: Word writes it twice, as mc:Choice and as mc:Fallback; it must come out once.
    "<w:p><w:r><mc:AlternateContent><mc:Choice Requires=\"wps\"><w:drawing><w:txbxContent>%s</w:txbxContent>"
    "</w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent>%s</w:txbxContent></w:pict></mc:Fallback>"
    "</mc:AlternateContent></w:r></w:p>" % (para("Boxed tip: keep every receipt."),
                                            para("Boxed tip: keep every receipt.")),
    para(None, runs=['<w:r><w:rPr><w:b/></w:rPr><w:t>Mileage</w:t></w:r>']),  # bold only: a heading by looks
    para("Cars are paid at 30 cents per kilometre."),
])


def document_xml(body):
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document %s %s><w:body>%s'
            '<w:sectPr/></w:body></w:document>' % (W, MC, body))


def make_docx(name, document, extra=None, order=None, styles=True, core=True):
    entries = [("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", RELS), ("word/document.xml", document)]
    if styles:
        entries.append(("word/styles.xml", STYLES))
    if core:
        entries.append(("docProps/core.xml", CORE))
    entries += extra or []
    if order:
        entries.sort(key=lambda e: order.index(e[0]) if e[0] in order else len(order))
    with zipfile.ZipFile(path(name), "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in entries:
            z.writestr(zipfile.ZipInfo(n, date_time=(2024, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)


def write_zip_bomb(name, size, lie_to=None):
    """A DOCX whose word/document.xml inflates to size bytes (mostly spaces inside one w:t). With lie_to, the
    local header and the central directory claim that many bytes instead (the directory lies)."""
    head = ('<?xml version="1.0" encoding="UTF-8"?><w:document %s><w:body><w:p><w:r><w:t>' % W).encode()
    tail = b"</w:t></w:r></w:p></w:body></w:document>"
    pad = size - len(head) - len(tail)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    crc = zlib.crc32(head)
    data = [comp.compress(head)]
    chunk = b" " * (1 << 20)
    left = pad
    while left > 0:
        c = chunk[: min(left, len(chunk))]
        crc = zlib.crc32(c, crc)
        data.append(comp.compress(c))
        left -= len(c)
    crc = zlib.crc32(tail, crc)
    data.append(comp.compress(tail))
    data.append(comp.flush())
    deflated = b"".join(data)
    claimed = lie_to if lie_to is not None else size
    entries = [("[Content_Types].xml", CONTENT_TYPES.encode()), ("_rels/.rels", RELS.encode())]
    out = bytearray()
    central = bytearray()

    def add(fname, raw, deflated_data, crc32, usize):
        nonlocal out, central
        off = len(out)
        fn = fname.encode()
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x5821, crc32, len(deflated_data), usize,
                           len(fn), 0) + fn + deflated_data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x5821, crc32,
                               len(deflated_data), usize, len(fn), 0, 0, 0, 0, 0, off) + fn

    for fname, raw in entries:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        d = c.compress(raw) + c.flush()
        add(fname, raw, d, zlib.crc32(raw), len(raw))
    add("word/document.xml", None, deflated, crc, claimed)
    cd_off = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 3, 3, len(central), cd_off, 0)
    write(name, bytes(out))


NOTES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:%(kind)ss %(ns)s><w:%(kind)s w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:%(kind)s>
<w:%(kind)s w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p></w:%(kind)s>
%(notes)s</w:%(kind)ss>"""


def make_docxs():
    footnotes = NOTES % {"kind": "footnote", "ns": W, "notes": '<w:footnote w:id="1">%s</w:footnote>' % para(
        None, runs=['<w:r><w:footnoteRef/></w:r>', '<w:r><w:t xml:space="preserve"> Leave rules follow the 2024 '
                    'agreement.</w:t></w:r>'])}
    endnotes = NOTES % {"kind": "endnote", "ns": W, "notes": ""}  # separators only: no text
    make_docx("handbook.docx", document_xml(HANDBOOK_BODY),
              extra=[("word/footnotes.xml", footnotes), ("word/endnotes.xml", endnotes)])
    # Another producer's entry order (custom XML first): libmagic then calls it only application/zip.
    make_docx("zip-first.docx", document_xml(para("Zipped in another order.")), styles=False, core=False,
              extra=[("customXml/item1.xml", "<b:Sources xmlns:b=\"urn:x\"/>")],
              order=["customXml/item1.xml", "word/document.xml"])
    with zipfile.ZipFile(path("not-word.zip"), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("readme.txt", date_time=(2024, 1, 1, 0, 0, 0)), "just a zip\n")
        z.writestr(zipfile.ZipInfo("data/numbers.txt", date_time=(2024, 1, 1, 0, 0, 0)), "1 2 3\n" * 50)
    make_docx("many-entries.docx", document_xml(para("Lots of parts.")),
              extra=[("word/media/part%02d.xml" % i, "<x/>") for i in range(20)])
    # Billion laughs: ten levels of ten references. OOXML forbids DTDs, so the DOCTYPE alone fails it.
    ents = '<!ENTITY lol0 "lol">' + "".join(
        '<!ENTITY lol%d "%s">' % (i, ("&lol%d;" % (i - 1)) * 10) for i in range(1, 10))
    laughs = ('<?xml version="1.0"?>\n<!DOCTYPE w:document [%s]>\n<w:document %s><w:body><w:p><w:r>'
              '<w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>' % (ents, W))
    make_docx("billion-laughs.docx", laughs)
    deep = ('<?xml version="1.0"?><w:document %s><w:body>%s<w:p><w:r><w:t>deep</w:t></w:r></w:p>%s'
            '</w:body></w:document>' % (W, "<w:sdt><w:sdtContent>" * 200, "</w:sdtContent></w:sdt>" * 200))
    make_docx("deep.docx", deep)
    # External entity (XXE): would read a local file if entities were loaded.
    make_docx("xxe.docx", '<?xml version="1.0"?>\n<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
              '<w:document %s><w:body><w:p><w:r><w:t>Secret: &xxe;</w:t></w:r></w:p></w:body></w:document>' % W)
    make_docx("malformed.docx", document_xml(para("Unclosed <w:p> here")).replace("</w:body>", ""))
    write_zip_bomb("zip-bomb.docx", 200 * 1024 * 1024)
    write_zip_bomb("zip-bomb-lying.docx", 120 * 1024 * 1024, lie_to=4096)
    hb = open(path("handbook.docx"), "rb").read()
    write("truncated.docx", hb[: len(hb) // 2])


# ---- HTML ---------------------------------------------------------------------------------------------------

PAGE_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Help Centre &amp; FAQ</title>
<meta name="author" content="Support Team">
<meta name="description" content="Answers to common questions">
<style>body { color: red } .secret::after { content: "STYLE TEXT" }</style>
<script>var leaked = "SCRIPT TEXT";</script>
</head>
<body>
<nav><a href="/">Home</a> | <a href="/faq">FAQ</a></nav>
<noscript>NOSCRIPT TEXT</noscript>
<template><p>TEMPLATE TEXT</p></template>
<h1>Help Centre</h1>
<p>Welcome to the <b>help</b>&nbsp;centre.   Read   on.</p>
<h2>Accounts</h2>
<h3>How do I reset my password?</h3>
<p>Open <a href="/settings">Settings</a>, then choose <em>Reset</em>.<br>You will get an e-mail.</p>
<div hidden>HIDDEN TEXT</div>
<div style="display: none">INVISIBLE TEXT</div>
<h3>Can I have two accounts?</h3>
<ul><li>One per person.</li><li>Teams use organisations.</li></ul>
<h2>Billing</h2>
<table><tr><th>Plan</th><th>Price</th></tr><tr><td>Basic</td><td>5 &euro;</td></tr></table>
<pre>
  indented
    code
</pre>
<!-- COMMENT TEXT -->
<p>Caf&eacute; cr&egrave;me &#x2603; &#169;</p>
</body>
</html>
"""

XHTML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" lang="en" xml:lang="en"><head>
<meta content="text/html; charset=UTF-8" http-equiv="Content-Type" />
<title>Server Manual</title>
</head>
<body>
<h1>Server Manual</h1>
<h2><a name="install" id="install">Installing</a> <a class="permalink" href="#install">&#182;</a></h2>
<p>Run <code>make install</code> as root.</p>
</body>
</html>
"""


def make_html():
    write("page.html", PAGE_HTML)
    write("manual.xhtml", XHTML)
    ents = '<!ENTITY lol "lol">' + "".join(
        '<!ENTITY lol%d "%s">' % (i, ("&lol%s;" % ("" if i == 1 else i - 1)) * 10) for i in range(1, 10))
    write("billion-laughs.xhtml",
          '<?xml version="1.0"?>\n<!DOCTYPE html [%s]>\n<html xmlns="http://www.w3.org/1999/xhtml">'
          '<head><title>Laughs</title></head><body><p>Before &lol9; after.</p></body></html>\n' % ents)
    write("xxe.xhtml", '<?xml version="1.0"?>\n<!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
                       '<html xmlns="http://www.w3.org/1999/xhtml"><body><p>Secret: &xxe;</p></body></html>\n')
    write("deep.html", "<html><body>" + "<div>" * 5000 + "deep text" + "</div>" * 5000 + "</body></html>\n")
    write("script-only.html", "<html><head><title></title><script>alert(1)</script></head><body>"
                              "<script>document.write('x')</script>   </body></html>\n")


# ---- Markdown, text, CSV --------------------------------------------------------------------------------------

GUIDE_MD = """---
title: "Onboarding Guide"
description: First week at the company
tags:
  - onboarding
  - hr
owner: people-team
---

Intro paragraph with **bold**, _emphasis_, `inline code` and a [link](https://example.com/x).
Second line of the same paragraph; snake_case_names stay.

# Getting started

## Laptop

Pick up your laptop at the IT desk.
See the <a href="/it">IT page</a> for details.

```sh
# this is a shell comment, not a heading
make setup
```

{% alert %}
Text inside a Liquid block stays; the tags go.
{% endalert %}

Accounts
--------

* Email
* Chat

> Quoted advice: ask questions early.

| Tool | Owner |
|------|-------|
| Chat | IT    |

Office &amp; Facilities
=======================

### Keys ###

Badges open the front door \\*always\\*.

[ref]: https://example.com/ref
"""


# Q/A pairs written in running text, as handbooks do: numbered "Question –" / "Answer –" lines (a question
# that runs over two lines, a stray number before "Answer"), "Q:" / "A:", and lines that only look like it.
INLINE_FAQ = """Ordering help

The question of returns is covered below.

1. Question \u2013 Can I change an order after it ships?
Answer \u2013 No. Once an order ships it cannot be changed, but you can return it within 30 days.

Returns are free for members.

2. Question \u2013 How long does a refund take
for a card payment?

3 Answer: About five business days after we receive the item.

Q: Do you ship abroad?
A: Yes, to 40 countries.

Question \u2013 one without an answer, which stays text.
"""


def make_text():
    write("guide.md", GUIDE_MD)
    write("front-matter-only.md", "---\ntitle: Nothing here\n---\n\n   \n")
    write("notes.txt", "Meeting notes\n\nThe   budget was approved.\nNext review in May.\n\n\n"
                       "Action items follow.\n")
    write("latin1.txt", b"Caf\xe9 cr\xe8me \x96 na\xefve \x93quotes\x94\n")  # Windows-1252
    write("invalid-utf8.txt", b"Valid \xc3\xa9 and \xe2\x82\xac, then stray \xff\xfe bytes and a cut \xe2\x82.\n")
    write("empty.txt", b"")
    write("inline-faq.txt", INLINE_FAQ)
    csv = ("\ufeffCategory,Answer,Question,Notes\r\n"
           "Billing,\"Yes, by card or \"\"invoice\"\".\",Can I pay later?,x\r\n"
           "Accounts,\"Open Settings.\r\nThen choose Reset.\",How do I reset my password?,\r\n"
           "Accounts,,Question without an answer,\r\n"
           ",An answer without a question,,\r\n"
           "\r\n"
           ",Anything,Is a category optional?,\r\n")
    write("faq.csv", csv)
    write("faq-semicolon.csv", "FAQ;Response\nWhere is the office?;\"Main street 1; floor 2\"\n"
                               "\"When; exactly?\";\"At 9\"\n")
    write("faq-utf16.csv", ("Question\tAnswer\r\nWhat is \u00e9t\u00e9?\tSummer in French.\r\n").encode("utf-16"))
    write("no-qa.csv", "name,email,phone\nAda,ada@example.com,123\nBob,bob@example.com,456\n")
    rnd = random.Random(3)
    write("random.bin", bytes(rnd.getrandbits(8) for _ in range(4096)))
    # A 1x1 PNG: a real, unsupported type.
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))
    write("pixel.png", png)


def make_clean():
    """Leftovers every reader must clean (clean.md, clean.html and clean.txt are written by hand)."""
    page = (text_block(72, 720, 18, "F2", ["Remote access"]) +
            # a footnote mark set small and raised, glued to the word before it
            "BT /F1 11 Tf 72 690 Td (Agencies release new custom source code) Tj /F1 6 Tf 3 Ts (29) Tj "
            "0 Ts /F1 11 Tf ( each year.) Tj ET\n" +
            text_block(72, 670, 11, "F1", ["Read this impor-", "tant notice first."]) +
            # bullets: a ZapfDingbats glyph, and WinAnsi's bullet in the text font
            "BT /F3 11 Tf 72 640 Td (n) Tj /F1 11 Tf 14 0 Td (You will then be asked for your username.) Tj ET\n" +
            "BT /F1 11 Tf 72 626 Td (\x95 Type in a 4 digit code.) Tj ET\n")
    write("clean.pdf", make_pdf([page], dingbats=True))
    body = "".join([
        para("Usability", "berschrift1"),
        para(None, runs=['<w:r><w:t>Agencies release custom code</w:t></w:r>',
                         '<w:r><w:rPr><w:vertAlign w:val="superscript"/></w:rPr><w:footnoteReference w:id="1"/>'
                         '</w:r>', '<w:r><w:t xml:space="preserve"> each year.</w:t></w:r>']),
        para("\u25cf Typed bullet item"),
        "<w:tbl><w:tblPr/><w:tr><w:trPr><w:tblHeader/></w:trPr>%s</w:tr><w:tr>%s</w:tr></w:tbl>" % (
            cell("Consideration") + cell("Memorized secrets"),
            cell("Unmasked text entry") +
            '<w:tc><w:tcPr/><w:p><w:r><w:rPr><w:rFonts w:ascii="Wingdings"/></w:rPr><w:t>\uf077</w:t></w:r></w:p>'
            '</w:tc>'),
        "<w:tbl><w:tblPr/><w:tr>%s</w:tr></w:tbl>" % (
            cell("1") + cell("Question \u2013 Should Agile be used for all IT needs? Not always, and here is why.")),
    ])
    make_docx("clean.docx", document_xml(body))


if __name__ == "__main__":
    make_clean()
    make_pdfs()
    make_docxs()
    make_html()
    make_text()
