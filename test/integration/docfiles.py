# Small documents made on the fly for the upload tests, so each test knows exactly what text, headings, pages and
# rows its file holds: PDF (pages of text, or none), DOCX (headings, paragraphs, a table), HTML, Markdown, CSV.
# Standard library only.
import io
import random
import struct
import zipfile
import zlib


# ---- PDF ------------------------------------------------------------------------------------------------------

def _pdf_escape(text):
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf(pages, title=None, text=True):
    """A PDF whose page i shows the lines pages[i] (Helvetica, a real text layer). text=False draws the same
    number of pages with rectangles only (no text layer: what a scan looks like to a text extractor)."""
    objs = {}  # number -> bytes
    n_pages = len(pages)
    font = 3
    first_page = 4
    for i, lines in enumerate(pages):
        page_no, content_no = first_page + 2 * i, first_page + 2 * i + 1
        if text:
            ops = ["BT", "/F1 12 Tf", "14 TL", "72 740 Td"]
            for line in lines:
                ops.append(f"({_pdf_escape(line)}) Tj T*")
            ops.append("ET")
        else:
            ops = ["0.2 0.2 0.2 rg"] + [f"72 {700 - 30 * k} 400 18 re f" for k in range(len(lines))]
        stream = "\n".join(ops).encode("latin-1")
        objs[content_no] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
        objs[page_no] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                         b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (content_no, font))
    kids = " ".join(f"{first_page + 2 * i} 0 R" for i in range(n_pages)).encode()
    objs[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objs[2] = b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % n_pages
    objs[font] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    info = None
    if title:
        info = max(objs) + 1
        objs[info] = b"<< /Title (" + _pdf_escape(title).encode("latin-1") + b") /Producer (faqsure tests) >>"
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objs):
        offsets[num] = out.tell()
        out.write(b"%d 0 obj\n" % num + objs[num] + b"\nendobj\n")
    xref = out.tell()
    size = max(objs) + 1
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    for num in range(1, size):
        out.write(b"%010d 00000 n \n" % offsets[num])
    trailer = b"<< /Size %d /Root 1 0 R" % size + (b" /Info %d 0 R" % info if info else b"") + b" >>"
    out.write(b"trailer\n" + trailer + b"\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


# ---- DOCX -----------------------------------------------------------------------------------------------------

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CONTENT_TYPES = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                 '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                 '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                 '<Default Extension="xml" ContentType="application/xml"/>'
                 '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
                 'officedocument.wordprocessingml.document.main+xml"/>'
                 '<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-'
                 'officedocument.wordprocessingml.styles+xml"/>'
                 '</Types>')
ROOT_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
             '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
             'officeDocument" Target="word/document.xml"/></Relationships>')
DOC_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'styles" Target="styles.xml"/></Relationships>')
STYLES = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          f'<w:styles xmlns:w="{W_NS}">'
          '<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>'
          '<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/>'
          '<w:basedOn w:val="Normal"/><w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style>'
          '<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/>'
          '<w:basedOn w:val="Normal"/><w:pPr><w:outlineLvl w:val="1"/></w:pPr></w:style>'
          '</w:styles>')


def _xml_text(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _para(text, style=None):
    ppr = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f'<w:p>{ppr}<w:r><w:t xml:space="preserve">{_xml_text(text)}</w:t></w:r></w:p>'


def docx(blocks, document_xml=None, extra_entries=()):
    """A DOCX from blocks: ("h1", text), ("h2", text), ("p", text), ("table", [[cell, ...], ...]).
    document_xml replaces the generated word/document.xml; extra_entries adds (name, bytes) to the archive."""
    if document_xml is None:
        body = []
        for kind, value in blocks:
            if kind == "h1":
                body.append(_para(value, "Heading1"))
            elif kind == "h2":
                body.append(_para(value, "Heading2"))
            elif kind == "p":
                body.append(_para(value))
            elif kind == "table":
                rows = "".join("<w:tr>" + "".join(f"<w:tc>{_para(c)}</w:tc>" for c in row) + "</w:tr>"
                               for row in value)
                body.append(f"<w:tbl>{rows}</w:tbl>")
        document_xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                        f'<w:document xmlns:w="{W_NS}"><w:body>{"".join(body)}</w:body></w:document>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", ROOT_RELS)
        z.writestr("word/_rels/document.xml.rels", DOC_RELS)
        z.writestr("word/document.xml", document_xml)
        z.writestr("word/styles.xml", STYLES)
        for name, data in extra_entries:
            z.writestr(name, data)
    return out.getvalue()


def docx_bomb(unpacked_mib=150):
    """A DOCX whose word/document.xml unpacks to unpacked_mib MiB (one paragraph of spaces) from a few hundred
    KB: a zip bomb against the default 100 MiB cap on unpacked size."""
    head = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="{W_NS}"><w:body>'
            '<w:p><w:r><w:t xml:space="preserve">bomb ').encode()
    tail = b"</w:t></w:r></w:p></w:body></w:document>"
    pad = unpacked_mib * 1024 * 1024
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = b" " * (1 << 20)
    deflated = [comp.compress(head)]
    for _ in range(unpacked_mib):
        deflated.append(comp.compress(block))
    deflated.append(comp.compress(tail))
    deflated.append(comp.flush())
    data = b"".join(deflated)
    size = len(head) + pad + len(tail)
    crc = zlib.crc32(head)
    for _ in range(unpacked_mib):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail, crc)
    # The other entries the normal way; the big one written by hand (zipfile would deflate 150 MiB again).
    base = io.BytesIO()
    with zipfile.ZipFile(base, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", ROOT_RELS)
    zin = zipfile.ZipFile(io.BytesIO(base.getvalue()))
    out = io.BytesIO()
    central = []
    for info in zin.infolist():
        raw = base.getvalue()[info.header_offset:]
        # Copy the local header + data as written.
        name_len, extra_len = struct.unpack("<HH", raw[26:30])
        total = 30 + name_len + extra_len + info.compress_size
        central.append((info.filename.encode(), info.CRC, info.compress_size, info.file_size, out.tell()))
        out.write(raw[:total])
    name = b"word/document.xml"
    offset = out.tell()
    out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(name), 0))
    out.write(name)
    out.write(data)
    central.append((name, crc, len(data), size, offset))
    cd_start = out.tell()
    for fname, fcrc, csize, usize, off in central:
        out.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, fcrc, csize, usize,
                              len(fname), 0, 0, 0, 0, 0, off))
        out.write(fname)
    cd_size = out.tell() - cd_start
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), cd_size, cd_start, 0))
    return out.getvalue()


# ---- other kinds ----------------------------------------------------------------------------------------------

def png(width=16, height=16):
    """A real PNG image (grey gradient)."""
    raw = b"".join(b"\x00" + bytes((x * 16 + y) & 0xFF for x in range(width)) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def random_bytes(n, seed=1):
    return random.Random(seed).randbytes(n)


WORDS = ("ledger harbor velvet orbit cinder maple quartz lantern meadow summit pebble falcon copper tundra "
         "willow saddle beacon marble thistle canyon ember glacier hollow juniper kestrel lagoon mosaic nectar "
         "opal prairie quiver ripple sierra timber umber vortex walnut yonder zephyr anchor bramble cobalt").split()


def prose(n_bytes, seed=1, prefix=""):
    """Plain text of about n_bytes: sentences of common words in paragraphs, different for each seed."""
    rng = random.Random(seed)
    out = [prefix] if prefix else []
    size = len(prefix)
    while size < n_bytes:
        para = []
        for _ in range(rng.randint(3, 7)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(6, 16))]
            para.append(" ".join(words).capitalize() + ".")
        text = " ".join(para) + "\n\n"
        out.append(text)
        size += len(text)
    return "".join(out)
