/* Text extraction: turns an uploaded file's bytes into an ordered list of sections (heading path + text, page
 * numbers for PDF, question/answer pairs for FAQ sheets). The type comes from the content (libmagic), never from
 * the client's name or Content-Type; the name only tells Markdown from plain text once the content is text.
 * Every parser is bounded by struct extract_limits: a hostile file fails with a reason, never exhausts memory,
 * never fetches anything over a network, never expands external entities. */
#ifndef FAQSURE_EXTRACT_H
#define FAQSURE_EXTRACT_H

#include <stddef.h>

#include <jansson.h>

#include "core/err.h"

enum extract_kind {
	EXTRACT_NONE = 0, /* not a type we read */
	EXTRACT_PDF,
	EXTRACT_DOCX,
	EXTRACT_HTML,
	EXTRACT_MARKDOWN,
	EXTRACT_TEXT,
	EXTRACT_CSV,
};

struct extract_limits {
	size_t max_pages;            /* PDF pages read (default 2000) */
	size_t max_text_bytes;       /* extracted text kept, all sections together (default 20 MiB) */
	size_t max_unzipped_bytes;   /* DOCX: sum of uncompressed sizes of the entries read (default 100 MiB) */
	size_t max_zip_entries;      /* DOCX: entries in the archive (default 10000) */
	size_t max_xml_depth;        /* HTML/DOCX XML nesting (default 256) */
};

void extract_limits_default(struct extract_limits *lim);

/* One piece of the document in reading order. Strings are owned (malloc'd), UTF-8, NUL-terminated. */
struct extract_section {
	char *heading; /* heading path, " > " between levels ("Travel > Per diem"); "" when none */
	char *text;    /* body text of the section; paragraphs separated by "\n\n"; for a Q/A pair, the answer */
	char *question; /* a Q/A pair's question (CSV FAQ sheets, Markdown/HTML FAQ headings stay in heading); or NULL */
	int page;      /* 1-based PDF page the text is on, 0 when the format has no pages */
};

struct extract_doc {
	struct extract_section *sections;
	size_t nsections;
	json_t *metadata; /* document-level metadata found in the file, a JSON object, never NULL after success:
			   * "title", "author", "subject" (PDF, DOCX), "pages" (PDF, an integer), "title", "author",
			   * "description", "keywords" (HTML), the front matter's keys (Markdown; values are strings,
			   * "- item" lists arrays of strings) */
	char *title;      /* metadata's "title", or NULL */
};

/* Detects the kind of data from its bytes (libmagic), using filename (may be NULL) only among text kinds: for
 * any "text/..." type a name ending in .md/.markdown/.mdown means Markdown (text/html too, unless the text starts
 * with a tag: Markdown with inline HTML sniffs as HTML), .csv means CSV; text/csv is CSV unless named .md or
 * .txt. XHTML that libmagic calls text/xml is HTML. Writes the detected MIME type (as libmagic names it, e.g.
 * "application/pdf"; for a DOCX that libmagic only calls a zip, the DOCX type; "application/x-empty" for no
 * bytes) into mime. The libmagic database is loaded once per process (not thread-safe). */
enum extract_kind extract_detect(const void *data, size_t len, const char *filename, char *mime, size_t mime_size);
/* The MIME type we report for a kind ("text/markdown", "text/csv", ...). */
const char *extract_kind_mime(enum extract_kind kind);

/* Extracts the text (lim NULL: the defaults). Fails with FS_EINVAL and a message a person understands: "the PDF
 * is encrypted", "the PDF has no text layer (scanned pages?)", "the file holds no text", "DOCX archive too large
 * when unpacked (over 100 MiB)", "XML nesting deeper than 256 levels", "CSV has no question and answer columns",
 * ...; FS_EUNSUPPORTED for EXTRACT_NONE. out is always initialised, and left empty on failure (releasing it is
 * then harmless). Headings: PDF headings are guessed from font size and weight and kept one level deep; a DOCX
 * "Title" paragraph heads the path of everything after it, and DOCX footnotes and endnotes come last under
 * "Footnotes" / "Endnotes". Only the first 64 KiB of Markdown front matter become metadata. */
int extract_document(enum extract_kind kind, const void *data, size_t len, const struct extract_limits *lim,
		     struct extract_doc *out, struct fs_error *e);
void extract_doc_release(struct extract_doc *doc);

#endif
