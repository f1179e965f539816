/* What the readers in shared/extract/ share and nobody else sees: the reader table's shape, the section builder
 * every reader feeds, the text helpers, and the zip opener that sniffing and the DOCX reader both use. Not part
 * of the extract contract (that is shared/extract/extract.h). */
#ifndef FAQSURE_EXTRACT_INTERNAL_H
#define FAQSURE_EXTRACT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/xmlerror.h>
#include <zip.h>

#include "core/buf.h"
#include "extract/extract.h"

#define KIB ((size_t)1024)
#define MIB (KIB * 1024)

#define DOCX_MIME "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

/* Longest heading: anything longer is body text set in a heading style, and is kept as text (every chunk of a
 * section carries the whole heading path). */
#define HEADING_MAX 400
#define HEADING_LEVELS 10 /* 0 = a DOCX "Title" paragraph, 1..9 = heading levels */

/* ---- Readers --------------------------------------------------------------------------------------------- */

struct builder;

/* What a kind is called ("pdf", "docx", ...) and the MIME type extract_kind_mime reports for it. */
struct extract_type {
	const char *name;
	const char *mime;
};

/* Indexed by enum extract_kind (detect.c); EXTRACT_NONE's entry is empty. */
extern const struct extract_type extract_types[EXTRACT_CSV + 1];

/* One format's reader (the table is in extract.c). read gets the file's bytes, or with decode_text set the bytes
 * already turned into UTF-8 text with "\n" line ends (text_decode), NUL-terminated at len; it adds sections
 * through b and returns 0 or a negative error already recorded in b->e. */
struct extract_reader {
	enum extract_kind kind;
	const struct extract_type *type;
	int decode_text;
	int (*read)(const char *data, size_t len, const struct extract_limits *lim, struct builder *b);
};

int extract_pdf_read(const char *data, size_t len, const struct extract_limits *lim, struct builder *b);
int extract_docx_read(const char *data, size_t len, const struct extract_limits *lim, struct builder *b);
int extract_html_read(const char *data, size_t len, const struct extract_limits *lim, struct builder *b);
int extract_markdown_read(const char *text, size_t len, const struct extract_limits *lim, struct builder *b);
int extract_text_read(const char *text, size_t len, const struct extract_limits *lim, struct builder *b);
int extract_csv_read(const char *text, size_t len, const struct extract_limits *lim, struct builder *b);

/* ---- Text helpers (builder.c) ---------------------------------------------------------------------------- */

/* "20 MiB", "64 KiB" or "1000 bytes", for messages that quote a limit. */
const char *text_fmt_size(size_t n, char out[40]);
/* Length (1-4) of the well-formed UTF-8 sequence at s, its code point in *cp; 0 when the bytes are not one. */
size_t text_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp);
int text_utf8_put(struct buf *b, uint32_t cp);
/* Appends s to out as clean UTF-8 (see builder.c); -1 when out's cap is reached. */
int text_clean(struct buf *out, const char *str, size_t n);
/* The bytes of a text file as UTF-8 with "\n" line ends and no NULs, into out (initialised here, uncapped). */
void text_decode(const unsigned char *p, size_t n, struct buf *out);
/* In place: no trailing blanks on lines, at most one empty line in a row, nothing blank at either end. */
void text_tidy(struct buf *b);
/* In place: every run of white space becomes one space; trimmed at both ends. */
void text_squeeze(struct buf *b);
int text_has_letter(const char *s, size_t n);
int text_ends_like_sentence(const char *s, size_t n);
/* Whether superscript text is only a footnote mark: digits, brackets, "*", daggers; empty counts. */
int text_is_footnote_mark(const char *s, size_t n);

/* A line of text, borrowed. */
struct line {
	const char *s;
	size_t n;
};

/* The next line of text (without its "\n"); 0 at the end. */
int text_next_line(const char *text, size_t len, size_t *pos, struct line *l);
int text_is_blank(const char *s, size_t n);
struct line text_trim_line(struct line l);

/* ---- Section builder (builder.c) ------------------------------------------------------------------------- */

/* Collects the sections of one document: keeps the current heading path and counts every byte kept (text,
 * questions and heading paths, which repeat per section) against max_text_bytes. */
struct builder {
	struct extract_doc *doc;
	size_t alloc;
	size_t total;
	size_t max;
	char *level[HEADING_LEVELS];
	struct buf path; /* the levels joined with " > " */
	int fresh;       /* level of the last heading set when no section followed it yet, else -1 */
	int fresh_page;
	struct fs_error *e;
};

void bld_init(struct builder *b, struct extract_doc *doc, const struct extract_limits *lim, struct fs_error *e);
void bld_release(struct builder *b);
/* A heading about to be replaced at level (or the document ending: level 0) with no text under it becomes a
 * section of its own words. */
int bld_orphan(struct builder *b, int level);
/* Records "extracted text larger than ..." in b->e; returns its code. */
int bld_too_large(struct builder *b);
/* Sets the heading at level (0..9), forgetting deeper ones; empty text only forgets. Text is cleaned and
 * squeezed to one line; past HEADING_MAX bytes it becomes a section of text instead. Callers add the text
 * gathered under the previous heading first. page is where the heading is (PDF). */
int bld_heading(struct builder *b, int level, const char *text, size_t len, int page);
/* Adds a section with the current heading path. text is cleaned and tidied; a section left without text (and
 * without a question) is dropped. Text without a question that writes Q/A pairs inline (faq_find) becomes
 * sections of its own: the text before each pair, and each pair as a Q/A section. */
int bld_section(struct builder *b, const char *text, size_t len, const char *question, size_t qlen, int page);
/* ---- Inline Q/A pairs (faq.c) ----------------------------------------------------------------------------- */

/* A question and its answer written in running text ("2. Question – …?" then a line "Answer – …"; also "Q:"
 * and "A:"): the pair starts at start (its question marker), the question's words are [q, q_end), the answer's
 * [a, end): its paragraph, and the next ones while it stays short, never the next question. */
struct faq_pair {
	size_t start, q, q_end, a, end;
};

/* The first pair whose question marker starts a line at or after from (text as bld_section tidies it: lines
 * end in "\n", paragraphs in "\n\n"); 1 when found, else 0. */
int faq_find(const char *text, size_t len, size_t from, struct faq_pair *p);

/* Sets a string in the document metadata, cleaned and trimmed; empty values are left out. */
void bld_meta_set(json_t *meta, const char *key, const char *val, size_t len);

/* ---- Text assembly for the tree formats (PDF, DOCX, HTML) ------------------------------------------------ */

/* A capped text buffer that turns white space and structure into at most one separator: breaks are recorded
 * as pending and written only before the next visible text, so no element boundary leaves stray blanks. */
struct tbuf {
	struct buf b;
	int pend;    /* TB_SPACE, TB_LINE or TB_PARA waiting to be written */
	int cellsep; /* a table cell began: write " | " instead of a space */
};

enum { TB_NONE, TB_SPACE, TB_LINE, TB_PARA };

void tb_init(struct tbuf *t, size_t max);
void tb_reset(struct tbuf *t);
void tb_break(struct tbuf *t, int level);
/* Width of the white space at s[i] (ASCII blanks and U+00A0), or 0. */
size_t text_space_at(const char *s, size_t n, size_t i);
/* Appends text whose white space is insignificant. With lines set, a newline is a line break and an empty
 * line a paragraph break; otherwise every blank run is one space. -1 at the cap. */
int tb_add_mode(struct tbuf *t, const char *s, size_t n, int lines);
int tb_add(struct tbuf *t, const char *s, size_t n);
/* Appends preformatted text as it is (HTML <pre>). */
int tb_add_raw(struct tbuf *t, const char *s, size_t n);
/* Moves the text gathered so far into a section; t is left empty. */
int tb_section(struct builder *b, struct tbuf *t, int page);

/* ---- Tables (builder.c) --------------------------------------------------------------------------------- */

/* Table rows as text that keeps the header's meaning: each row becomes one line "Header: cell; Header: cell"
 * instead of cells between "|" marks. The header is the row a reader marks as one (<th>, a Markdown pipe table's
 * first row), else a first row that looks like one (short labels, no sentences); a table without a header gives
 * its cells joined by "; ", a first cell that is a small number as "1. ...". */
struct table {
	struct buf row;    /* the current row's cells, each NUL-terminated */
	size_t ncells;
	struct buf hdr;    /* the header's cells, each NUL-terminated */
	size_t nhdr;
	size_t rows;       /* rows written */
	int header_marked; /* the reader marks headers: do not guess */
	int hdr_pending;   /* a header with no row after it yet */
};

void table_init(struct table *t, size_t max);
void table_release(struct table *t);
/* Forgets everything: a new table starts. */
void table_start(struct table *t);
/* Adds a cell (white space squeezed) to the current row; -1 at the cap. */
int table_cell(struct table *t, const char *s, size_t n);
/* Ends the row: as the header when header is set (or it looks like one), else appended to out as a line. */
int table_row_end(struct table *t, int header, struct buf *out);
/* Ends the table (a header never followed by rows is written as a row) and starts a new one. */
int table_end(struct table *t, struct buf *out);

/* ---- XML (xml.c) ----------------------------------------------------------------------------------------- */

/* libxml2's process-wide generic error handler, silenced while one document is parsed. */
struct xml_quiet {
	xmlGenericErrorFunc func;
	void *ctx;
};

/* Initialises libxml2 (once) and silences its generic handler; xml_quiet_end puts the previous one back. */
void xml_quiet_begin(struct xml_quiet *q);
void xml_quiet_end(const struct xml_quiet *q);

/* ---- Zip and names (zip.c, detect.c) --------------------------------------------------------------------- */

/* Opens an in-memory zip; NULL when the bytes are not one (*zerr, if given, says why). Close with
 * zip_discard. */
zip_t *extract_zip_from_memory(const void *data, size_t len, int *zerr);
int extract_is_markdown_name(const char *name);

#endif
