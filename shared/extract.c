/* Text extraction: one reader per format (content sniffing is in extract_detect.c) (poppler for PDF, libzip and
 * libxml2's streaming reader for DOCX, libxml2's HTML parser in SAX mode, small hand-written readers for
 * Markdown, plain text and CSV), all feeding one section builder that cleans the text and enforces the limits. */
#include "extract.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/xmlreader.h>
#include <poppler.h>
#include <zip.h>

#include "buf.h"
#include "extract_internal.h"
#include "banned.h"

#define KIB ((size_t)1024)
#define MIB (KIB * 1024)

#define DOCX_MIME "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

/* Longest heading: anything longer is body text set in a heading style, and is kept as text (every chunk of a
 * section carries the whole heading path). */
#define HEADING_MAX 400
#define HEADING_LEVELS 10 /* 0 = a DOCX "Title" paragraph, 1..9 = heading levels */

void extract_limits_default(struct extract_limits *lim)
{
	lim->max_pages = 2000;
	lim->max_text_bytes = 20 * MIB;
	lim->max_unzipped_bytes = 100 * MIB;
	lim->max_zip_entries = 10000;
	lim->max_xml_depth = 256;
}

/* "20 MiB", "64 KiB" or "1000 bytes", for messages that quote a limit. */
static const char *fmt_size(size_t n, char out[40])
{
	if (n >= MIB && n % MIB == 0)
		snprintf(out, 40, "%zu MiB", n / MIB);
	else if (n >= KIB && n % KIB == 0)
		snprintf(out, 40, "%zu KiB", n / KIB);
	else
		snprintf(out, 40, "%zu bytes", n);
	return out;
}


/* ---- UTF-8 ---------------------------------------------------------------------------------------------- */

/* Length (1-4) of the well-formed UTF-8 sequence at s (no overlongs, surrogates or values past U+10FFFF), with
 * its code point in *cp; 0 when the bytes at s are not one. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t len;
	uint32_t v, min;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, v = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, v = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

static int utf8_put(struct buf *b, uint32_t cp)
{
	char s[4];
	size_t n;
	if (cp < 0x80) {
		s[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		s[0] = (char)(0xc0 | (cp >> 6)), s[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
	} else if (cp < 0x10000) {
		s[0] = (char)(0xe0 | (cp >> 12)), s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
	} else {
		s[0] = (char)(0xf0 | (cp >> 18)), s[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		s[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), s[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
	}
	return buf_add(b, s, n);
}

/* Appends s to out as clean UTF-8: invalid bytes become one U+FFFD per run, NUL and other control characters
 * are dropped (tab and newline stay; CR, FF and VT become newlines), as are C1 controls, byte-order marks and
 * private-use code points (symbol-font glyphs such as Wingdings bullets, meaningless outside their font).
 * -1 when out's cap is reached. */
static int utf8_clean(struct buf *out, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;
	int replaced = 0;
	while (i < n) {
		uint32_t cp;
		size_t len = utf8_seq(s + i, n - i, &cp);
		int keep = len > 0 && (cp >= 0x20 || cp == '\n' || cp == '\t') && cp != 0x7f &&
			   !(cp >= 0x80 && cp <= 0x9f) && cp != 0xfeff && !(cp >= 0xe000 && cp <= 0xf8ff);
		if (keep) {
			i += len;
			replaced = 0;
			continue;
		}
		if (buf_add(out, s + run, i - run) < 0)
			return -1;
		if (len == 0) {
			if (!replaced && utf8_put(out, 0xfffd) < 0)
				return -1;
			replaced = 1;
			len = 1;
		} else if (cp == '\r' || cp == '\f' || cp == '\v') {
			if (!(cp == '\r' && i + 1 < n && s[i + 1] == '\n') && buf_add(out, "\n", 1) < 0)
				return -1;
		}
		i += len;
		run = i;
	}
	return buf_add(out, s + run, n - run);
}

/* Windows-1252 for 0x80..0x9f; the rest of the range is Latin-1. */
static const uint16_t cp1252_high[32] = {
	0x20ac, 0xfffd, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
	0x2039, 0x0152, 0xfffd, 0x017d, 0xfffd, 0xfffd, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
	0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0xfffd, 0x017e, 0x0178,
};

/* Turns the bytes of a text file (Markdown, plain text, CSV) into UTF-8 with "\n" line ends and no NULs, into
 * out (uncapped: at most three times the input). Handles a UTF-8 or UTF-16 byte-order mark; bytes that are
 * mostly not UTF-8 are read as Windows-1252, the usual encoding of such files; a few stray bytes in otherwise
 * UTF-8 text become U+FFFD later. */
static void text_decode(const unsigned char *p, size_t n, struct buf *out)
{
	buf_init(out, BUF_NO_LIMIT);
	if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) {
		p += 3, n -= 3;
	} else if (n >= 2 && ((p[0] == 0xff && p[1] == 0xfe) || (p[0] == 0xfe && p[1] == 0xff))) {
		int le = p[0] == 0xff;
		for (size_t i = 2; i + 1 < n; i += 2) {
			uint32_t u = le ? (uint32_t)(p[i] | p[i + 1] << 8) : (uint32_t)(p[i] << 8 | p[i + 1]);
			if (u >= 0xd800 && u <= 0xdbff && i + 3 < n) {
				uint32_t lo = le ? (uint32_t)(p[i + 2] | p[i + 3] << 8)
						 : (uint32_t)(p[i + 2] << 8 | p[i + 3]);
				if (lo >= 0xdc00 && lo <= 0xdfff) {
					u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
					i += 2;
				}
			}
			if (u >= 0xd800 && u <= 0xdfff)
				u = 0xfffd;
			utf8_put(out, u);
		}
		goto lines;
	}
	/* Runs of invalid bytes against valid multi-byte characters: Latin-1 text has the former only, UTF-8 text
	 * with a few damaged bytes has more of the latter. */
	size_t bad = 0, multi = 0;
	int in_bad = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = utf8_seq(p + i, n - i, &cp);
		if (len == 0) {
			bad += !in_bad;
			in_bad = 1;
			i++;
		} else {
			multi += len > 1;
			in_bad = 0;
			i += len;
		}
	}
	if (bad > multi) {
		for (size_t i = 0; i < n; i++)
			utf8_put(out, p[i] < 0x80 ? p[i] : p[i] < 0xa0 ? cp1252_high[p[i] - 0x80] : p[i]);
	} else {
		buf_add(out, p, n);
	}
lines:;
	/* CRLF and lone CR become LF; NULs go. */
	size_t w = 0;
	for (size_t r = 0; r < out->len; r++) {
		char c = out->ptr[r];
		if (c == '\0')
			continue;
		if (c == '\r') {
			if (r + 1 < out->len && out->ptr[r + 1] == '\n')
				continue;
			c = '\n';
		}
		out->ptr[w++] = c;
	}
	out->len = w;
	if (out->ptr)
		out->ptr[w] = '\0';
}

/* In place: no trailing blanks on lines, no more than one empty line in a row, nothing blank at either end. */
static void tidy(struct buf *b)
{
	size_t w = 0, nl = 0;
	for (size_t r = 0; r < b->len; r++) {
		char c = b->ptr[r];
		if (c == '\n') {
			while (w > 0 && (b->ptr[w - 1] == ' ' || b->ptr[w - 1] == '\t'))
				w--;
			if (w == 0 || ++nl > 2)
				continue;
		} else {
			if ((c == ' ' || c == '\t') && w == 0)
				continue;
			nl = 0;
		}
		b->ptr[w++] = c;
	}
	while (w > 0 && (b->ptr[w - 1] == ' ' || b->ptr[w - 1] == '\t' || b->ptr[w - 1] == '\n'))
		w--;
	b->len = w;
	if (b->ptr)
		b->ptr[w] = '\0';
}

/* In place: every run of white space (newlines included) becomes one space; trimmed at both ends. */
static void squeeze(struct buf *b)
{
	size_t w = 0;
	int space = 0;
	for (size_t r = 0; r < b->len; r++) {
		char c = b->ptr[r];
		if (c == ' ' || c == '\t' || c == '\n') {
			space = w > 0;
			continue;
		}
		if (space)
			b->ptr[w++] = ' ';
		space = 0;
		b->ptr[w++] = c;
	}
	b->len = w;
	if (b->ptr)
		b->ptr[w] = '\0';
}

/* ---- Section builder ------------------------------------------------------------------------------------- */

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

static int bld_section(struct builder *b, const char *text, size_t len, const char *question, size_t qlen,
		       int page);

static void bld_init(struct builder *b, struct extract_doc *doc, const struct extract_limits *lim,
		     struct fs_error *e)
{
	memset(b, 0, sizeof(*b));
	b->doc = doc;
	b->max = lim->max_text_bytes;
	b->e = e;
	b->fresh = -1;
	buf_init(&b->path, BUF_NO_LIMIT);
}

/* A heading about to be replaced (or the document ending) with no text under it keeps its words as a section
 * of their own, so text set in heading styles ("FROM: Tony Scott, CIO") is not lost. */
static int bld_orphan(struct builder *b, int level)
{
	int f = b->fresh;
	if (f < 0 || level > f || !b->level[f])
		return 0;
	b->fresh = -1;
	return bld_section(b, b->level[f], strlen(b->level[f]), NULL, 0, b->fresh_page);
}

static void bld_release(struct builder *b)
{
	for (int i = 0; i < HEADING_LEVELS; i++)
		free(b->level[i]);
	buf_release(&b->path);
}

static int bld_too_large(struct builder *b)
{
	char sz[40];
	return fs_fail(b->e, FS_EINVAL, "extracted text larger than %s", fmt_size(b->max, sz));
}

/* Sets the heading at level (0..9), forgetting deeper ones; empty text only forgets. Text is cleaned and
 * squeezed to one line; past HEADING_MAX bytes it becomes a section of text instead. Callers add the text
 * gathered under the previous heading first. page is where the heading is (PDF). */
static int bld_heading(struct builder *b, int level, const char *text, size_t len, int page)
{
	struct buf h;
	int rc = 0;
	if (level < 0)
		level = 0;
	if (level >= HEADING_LEVELS)
		level = HEADING_LEVELS - 1;
	if (bld_orphan(b, level) < 0)
		return -1;
	buf_init(&h, b->max);
	if (utf8_clean(&h, text, len) < 0) {
		rc = bld_too_large(b);
		goto out;
	}
	squeeze(&h);
	/* documentation generators end headings with a permalink sign */
	while (h.len >= 2 && memcmp(h.ptr + h.len - 2, "\xc2\xb6", 2) == 0) {
		h.len -= 2;
		while (h.len > 0 && h.ptr[h.len - 1] == ' ')
			h.len--;
		h.ptr[h.len] = '\0';
	}
	if (h.len > HEADING_MAX) {
		rc = bld_section(b, h.ptr, h.len, NULL, 0, page);
		goto out;
	}
	for (int i = level; i < HEADING_LEVELS; i++) {
		free(b->level[i]);
		b->level[i] = NULL;
	}
	if (h.len > 0) {
		b->level[level] = buf_take(&h, NULL);
		b->fresh = level;
		b->fresh_page = page;
	}
	buf_reset(&b->path);
	for (int i = 0; i < HEADING_LEVELS; i++) {
		if (!b->level[i])
			continue;
		if (b->path.len)
			buf_adds(&b->path, " > ");
		buf_adds(&b->path, b->level[i]);
	}
out:
	buf_release(&h);
	return rc;
}

/* Adds a section with the current heading path. text is cleaned and tidied; a section left without text (and
 * without a question) is dropped. */
static int bld_section(struct builder *b, const char *text, size_t len, const char *question, size_t qlen,
		       int page)
{
	struct buf t, q;
	int rc = 0;
	buf_init(&t, b->max);
	buf_init(&q, b->max);
	if (utf8_clean(&t, text, len) < 0 || (question && utf8_clean(&q, question, qlen) < 0)) {
		rc = bld_too_large(b);
		goto out;
	}
	tidy(&t);
	tidy(&q);
	if (t.len == 0 && (!question || q.len == 0))
		goto out;
	size_t add = t.len + q.len + b->path.len;
	if (add > b->max || b->total > b->max - add) {
		rc = bld_too_large(b);
		goto out;
	}
	b->total += add;
	b->fresh = -1;
	struct extract_doc *d = b->doc;
	if (d->nsections == b->alloc) {
		b->alloc = b->alloc ? b->alloc * 2 : 16;
		d->sections = xrealloc(d->sections, b->alloc * sizeof(*d->sections));
	}
	struct extract_section *s = &d->sections[d->nsections++];
	s->heading = xstrdup(buf_str(&b->path));
	s->text = buf_take(&t, NULL);
	s->question = question ? buf_take(&q, NULL) : NULL;
	s->page = page;
out:
	buf_release(&t);
	buf_release(&q);
	return rc;
}

/* Sets a string in the document metadata, cleaned and trimmed; empty values are left out. */
static void meta_set(json_t *meta, const char *key, const char *val, size_t len)
{
	struct buf k, v;
	buf_init(&k, 256);
	buf_init(&v, 64 * KIB);
	if (utf8_clean(&k, key, strlen(key)) < 0 || utf8_clean(&v, val, len) < 0)
		goto out;
	tidy(&k);
	tidy(&v);
	if (k.len && v.len)
		json_object_set_new(meta, buf_str(&k), json_stringn(v.ptr, v.len));
out:
	buf_release(&k);
	buf_release(&v);
}

/* ---- Text assembly for the tree formats (PDF, DOCX, HTML) ------------------------------------------------ */

/* A capped text buffer that turns white space and structure into at most one separator: breaks are recorded
 * as pending and written only before the next visible text, so no element boundary leaves stray blanks. */
struct tbuf {
	struct buf b;
	int pend;    /* TB_SPACE, TB_LINE or TB_PARA waiting to be written */
	int cellsep; /* a table cell began: write " | " instead of a space */
};

enum { TB_NONE, TB_SPACE, TB_LINE, TB_PARA };

static void tb_init(struct tbuf *t, size_t max)
{
	buf_init(&t->b, max);
	t->pend = TB_NONE;
	t->cellsep = 0;
}

static void tb_reset(struct tbuf *t)
{
	buf_reset(&t->b);
	t->pend = TB_NONE;
	t->cellsep = 0;
}

static void tb_break(struct tbuf *t, int level)
{
	if (level > t->pend)
		t->pend = level;
}

static int tb_flush(struct tbuf *t)
{
	int rc = 0;
	if (t->b.len > 0) {
		if (t->pend == TB_PARA)
			rc = buf_add(&t->b, "\n\n", 2);
		else if (t->pend == TB_LINE)
			rc = buf_add(&t->b, "\n", 1);
		else if (t->cellsep)
			rc = buf_add(&t->b, " | ", 3);
		else if (t->pend == TB_SPACE)
			rc = buf_add(&t->b, " ", 1);
	}
	t->pend = TB_NONE;
	t->cellsep = 0;
	return rc;
}

/* Width of the white space at s[i] (ASCII blanks and U+00A0), or 0. */
static size_t space_at(const char *s, size_t n, size_t i)
{
	char c = s[i];
	if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
		return 1;
	if ((unsigned char)c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] == 0xa0)
		return 2;
	return 0;
}

/* Appends text whose white space is insignificant. With lines set, a newline is a line break and an empty
 * line a paragraph break (text already laid out by another tbuf); otherwise every blank run is one space. */
static int tb_add_mode(struct tbuf *t, const char *s, size_t n, int lines)
{
	size_t i = 0;
	while (i < n) {
		size_t w = space_at(s, n, i);
		if (w) {
			if (lines && s[i] == '\n')
				tb_break(t, i > 0 && s[i - 1] == '\n' ? TB_PARA : TB_LINE);
			else
				tb_break(t, TB_SPACE);
			i += w;
			continue;
		}
		size_t j = i;
		while (j < n && !space_at(s, n, j))
			j++;
		if (tb_flush(t) < 0 || buf_add(&t->b, s + i, j - i) < 0)
			return -1;
		i = j;
	}
	return 0;
}

static int tb_add(struct tbuf *t, const char *s, size_t n)
{
	return tb_add_mode(t, s, n, 0);
}

/* Appends preformatted text as it is (HTML <pre>). */
static int tb_add_raw(struct tbuf *t, const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (tb_flush(t) < 0)
		return -1;
	return buf_add(&t->b, s, n);
}

/* Moves the text gathered so far into a section; t is left empty. */
static int tb_section(struct builder *b, struct tbuf *t, int page)
{
	int rc = bld_section(b, t->b.ptr ? t->b.ptr : "", t->b.len, NULL, 0, page);
	tb_reset(t);
	return rc;
}

/* ---- PDF ------------------------------------------------------------------------------------------------- */

/* One line of a PDF page's text layer, with the geometry and font that decide paragraphs and headings. */
struct pdf_line {
	const char *s; /* into the page text */
	size_t len;
	double top, bottom; /* from the character boxes; top > bottom when the line has no boxes */
	double size;        /* font size of its first visible character, 0 when unknown */
	int bold;           /* every visible character is in a bold face */
};

static int font_is_bold(const char *name)
{
	return name && (strcasestr(name, "bold") || strcasestr(name, "black") || strcasestr(name, "heavy"));
}

static int ends_like_sentence(const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n'))
		n--;
	return n == 0 || strchr(".,;:", s[n - 1]) != NULL;
}

static int has_letter(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (unsigned char)s[i] >= 0xc0)
			return 1;
	return 0;
}

static int all_digits(const char *s, size_t n)
{
	size_t d = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			d++;
		else if (s[i] != ' ')
			return 0;
	}
	return d > 0;
}

/* Lines to paragraphs: consecutive lines join with a space, a line ending in "letter-" followed by one
 * starting with a lower-case letter joins without the hyphen (a word split at the margin). */
static int pdf_join(struct buf *out, const struct pdf_line *ln, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		const char *s = ln[i].s;
		size_t n = ln[i].len;
		while (n > 0 && s[n - 1] == ' ')
			n--;
		while (n > 0 && s[0] == ' ')
			s++, n--;
		if (n == 0)
			continue;
		int dehyphen = 0;
		if (i + 1 < to && n >= 2 && s[n - 1] == '-' && s[n - 2] >= 'a' && s[n - 2] <= 'z') {
			const char *nx = ln[i + 1].s;
			while (*nx == ' ')
				nx++;
			dehyphen = *nx >= 'a' && *nx <= 'z';
		}
		if (buf_add(out, s, dehyphen ? n - 1 : n) < 0 || (!dehyphen && i + 1 < to && buf_add(out, " ", 1) < 0))
			return -1;
	}
	return 0;
}

/* Reads one page: lines from the text layer, paragraphs where the vertical gap is larger than half a line (or
 * the text jumps up, to a new column, or changes font size or weight), and headings where a short paragraph is
 * set larger than the page's body text or entirely in bold. The heading path carries across pages. */
static int pdf_page(PopplerPage *page, int pageno, struct builder *b, struct tbuf *sect)
{
	char *text = poppler_page_get_text(page);
	PopplerRectangle *rects = NULL;
	guint nrects = 0;
	GList *attrs = NULL;
	struct pdf_line *ln = NULL;
	size_t nln = 0, alloc = 0;
	struct buf para;
	int rc = 0;

	buf_init(&para, b->max);
	if (!text || !*text)
		goto out;
	poppler_page_get_text_layout(page, &rects, &nrects);
	attrs = poppler_page_get_text_attributes(page);
	int geometry = rects && (glong)nrects == g_utf8_strlen(text, -1);

	/* The body size: the font size covering most characters on the page. */
	double body = 0;
	{
		double sizes[32];
		long count[32];
		int nsizes = 0;
		for (GList *l = attrs; l; l = l->next) {
			const PopplerTextAttributes *a = l->data;
			long chars = a->end_index - a->start_index + 1;
			int k;
			for (k = 0; k < nsizes; k++)
				if (sizes[k] > a->font_size - 0.25 && sizes[k] < a->font_size + 0.25)
					break;
			if (k == nsizes && nsizes < 32) {
				sizes[nsizes] = a->font_size;
				count[nsizes++] = 0;
			}
			if (k < nsizes)
				count[k] += chars;
		}
		long best = 0;
		for (int k = 0; k < nsizes; k++)
			if (count[k] > best)
				best = count[k], body = sizes[k];
	}

	/* Split into lines; character indexes follow the UTF-8 characters of the text. */
	const char *s = text;
	long ci = 0;
	GList *al = attrs;
	while (*s) {
		const char *e = strchr(s, '\n');
		if (!e)
			e = s + strlen(s);
		if (nln == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			ln = xrealloc(ln, alloc * sizeof(*ln));
		}
		struct pdf_line *L = &ln[nln++];
		L->s = s;
		L->len = (size_t)(e - s);
		L->top = 1e9;
		L->bottom = -1e9;
		L->size = 0;
		L->bold = 1;
		int visible = 0;
		for (const char *c = s; c < e; c = g_utf8_next_char(c), ci++) {
			if (*c == ' ')
				continue;
			visible = 1;
			if (geometry && ci < (long)nrects) {
				const PopplerRectangle *r = &rects[ci];
				if (r->y1 < L->top)
					L->top = r->y1;
				if (r->y2 > L->bottom)
					L->bottom = r->y2;
			}
			while (al && ((const PopplerTextAttributes *)al->data)->end_index < ci)
				al = al->next;
			const PopplerTextAttributes *a =
				al && ((const PopplerTextAttributes *)al->data)->start_index <= ci ? al->data : NULL;
			if (a && L->size == 0)
				L->size = a->font_size;
			if (!a || !font_is_bold(a->font_name))
				L->bold = 0;
		}
		if (!visible)
			L->bold = 0;
		ci++; /* the newline */
		s = *e ? e + 1 : e;
	}

	/* Paragraphs, then headings. */
	size_t start = 0;
	for (size_t i = 0; i <= nln; i++) {
		int brk = i == nln;
		if (!brk && i > start) {
			const struct pdf_line *p = &ln[i - 1], *c = &ln[i];
			double hp = p->bottom - p->top, hc = c->bottom - c->top, h = hp < hc ? hp : hc;
			if (c->len == 0 || p->len == 0)
				brk = 1;
			else if (geometry && h > 0 && (c->top - p->bottom > 0.5 * h || c->top < p->top - h))
				brk = 1;
			else if (c->size > 0 && p->size > 0 && (c->size > p->size + 1.5 || c->size < p->size - 1.5))
				brk = 1;
			else if (c->bold != p->bold)
				brk = 1;
		}
		if (!brk)
			continue;
		if (i > start) {
			buf_reset(&para);
			if (pdf_join(&para, ln, start, i) < 0) {
				rc = bld_too_large(b);
				goto out;
			}
			size_t nlines = i - start;
			double size = ln[start].size;
			int bold = ln[start].bold;
			/* Headings are guessed from looks alone, so they stay flat: each replaces the last one rather
			 * than nesting under a guess that may be wrong for the rest of the document. */
			int heading = body > 0 && nlines <= 2 && para.len <= 150 && has_letter(para.ptr, para.len) &&
				      !(para.ptr[0] >= 'a' && para.ptr[0] <= 'z') &&
				      !ends_like_sentence(para.ptr, para.len) &&
				      (size >= body * 1.15 || (bold && size >= body - 0.5));
			if (heading) {
				if (tb_section(b, sect, pageno) < 0 ||
				    bld_heading(b, 1, para.ptr, para.len, pageno) < 0) {
					rc = -1;
					goto out;
				}
			} else if (para.len > 0 && !all_digits(para.ptr, para.len)) {
				/* a paragraph of digits alone is a page number or a footnote mark */
				tb_break(sect, TB_PARA);
				if (tb_add(sect, para.ptr, para.len) < 0) {
					rc = bld_too_large(b);
					goto out;
				}
			}
		}
		start = i;
	}
	rc = tb_section(b, sect, pageno);
out:
	buf_release(&para);
	free(ln);
	if (attrs)
		poppler_page_free_text_attributes(attrs);
	g_free(rects);
	g_free(text);
	return rc;
}

static void pdf_meta(json_t *meta, const char *key, char *val)
{
	/* producers write "Untitled" when nobody set a title */
	if (val && strcmp(key, "title") == 0 && strncasecmp(val, "untitled", 8) == 0)
		val[0] = '\0';
	if (val) {
		meta_set(meta, key, val, strlen(val));
		g_free(val);
	}
}

static int pdf_extract(const void *data, size_t len, const struct extract_limits *lim, struct builder *b)
{
	GBytes *bytes = g_bytes_new_static(data, len);
	GError *gerr = NULL;
	PopplerDocument *pd = NULL;
	struct tbuf sect;
	int rc = 0;

	tb_init(&sect, b->max);
	/* the bytes are not copied; poppler reports damage at GLib's "info" level, silent unless debugging */
	pd = poppler_document_new_from_bytes(bytes, NULL, &gerr);
	if (!pd) {
		if (gerr && gerr->domain == POPPLER_ERROR && gerr->code == POPPLER_ERROR_ENCRYPTED)
			rc = fs_fail(b->e, FS_EINVAL,
				     "the PDF is encrypted (password-protected); upload an unprotected copy");
		else
			rc = fs_fail(b->e, FS_EINVAL, "the PDF cannot be read (damaged or not a PDF: %s)",
				     gerr ? gerr->message : "unknown error");
		goto out;
	}
	int n = poppler_document_get_n_pages(pd);
	if (n <= 0) {
		rc = fs_fail(b->e, FS_EINVAL, "the PDF has no pages");
		goto out;
	}
	if ((size_t)n > lim->max_pages) {
		rc = fs_fail(b->e, FS_EINVAL, "PDF has more than %zu pages", lim->max_pages);
		goto out;
	}
	json_t *meta = b->doc->metadata;
	pdf_meta(meta, "title", poppler_document_get_title(pd));
	pdf_meta(meta, "author", poppler_document_get_author(pd));
	pdf_meta(meta, "subject", poppler_document_get_subject(pd));
	json_object_set_new(meta, "pages", json_integer(n));

	for (int i = 0; i < n; i++) {
		PopplerPage *page = poppler_document_get_page(pd, i);
		if (!page)
			continue;
		rc = pdf_page(page, i + 1, b, &sect);
		g_object_unref(page);
		if (rc < 0)
			goto out;
	}
	if (b->doc->nsections == 0)
		rc = fs_fail(b->e, FS_EINVAL, "the PDF has no text layer (scanned pages?); run OCR first");
out:
	buf_release(&sect.b);
	if (pd)
		g_object_unref(pd);
	g_bytes_unref(bytes);
	if (gerr)
		g_error_free(gerr);
	return rc;
}

/* ---- XML helpers (DOCX, HTML) ---------------------------------------------------------------------------- */

/* libxml2 reports some errors (encoding conversion, I/O) without a parser context, through its process-wide
 * generic handler, which prints to stderr. While a document is parsed that handler is a silent one; the
 * previous handler is put back afterwards. */
struct xml_quiet {
	xmlGenericErrorFunc func;
	void *ctx;
};

static void xml_silent(void *ctx, const char *msg, ...)
{
	(void)ctx, (void)msg;
}

static void xml_quiet_begin(struct xml_quiet *q)
{
	q->func = xmlGenericError;
	q->ctx = xmlGenericErrorContext;
	xmlSetGenericErrorFunc(NULL, xml_silent);
}

static void xml_quiet_end(const struct xml_quiet *q)
{
	xmlSetGenericErrorFunc(q->ctx, q->func);
}

/* The first error libxml2 reports while reading one part, kept instead of printed. */
struct xml_err {
	int seen;
	int line;
	int code;
	char msg[200];
};

static void xml_err_record(void *arg, xmlErrorPtr err)
{
	struct xml_err *x = arg;
	if (x->seen || !err || err->level < XML_ERR_ERROR)
		return;
	x->seen = 1;
	x->line = err->line;
	x->code = err->code;
	snprintf(x->msg, sizeof(x->msg), "%s", err->message ? err->message : "error");
	size_t n = strlen(x->msg);
	while (n > 0 && (x->msg[n - 1] == '\n' || x->msg[n - 1] == ' '))
		x->msg[--n] = '\0';
}

/* The value of the attribute whose local name is local (any prefix), or NULL; xmlFree it. */
static xmlChar *xml_attr(xmlTextReaderPtr r, const char *local)
{
	xmlChar *v = NULL;
	if (xmlTextReaderMoveToFirstAttribute(r) != 1)
		return NULL;
	do {
		const xmlChar *name = xmlTextReaderConstLocalName(r);
		if (name && strcmp((const char *)name, local) == 0) {
			v = xmlTextReaderValue(r);
			break;
		}
	} while (xmlTextReaderMoveToNextAttribute(r) == 1);
	xmlTextReaderMoveToElement(r);
	return v;
}

/* OOXML on/off properties (<w:b/>, <w:b w:val="0"/>): on unless the value says otherwise. */
static int xml_attr_on(xmlTextReaderPtr r)
{
	xmlChar *v = xml_attr(r, "val");
	int on = !v || !(strcmp((char *)v, "0") == 0 || strcmp((char *)v, "false") == 0 ||
			 strcmp((char *)v, "off") == 0 || strcmp((char *)v, "none") == 0);
	xmlFree(v);
	return on;
}

/* ---- DOCX ------------------------------------------------------------------------------------------------ */

struct docx_style {
	char *id;
	char *based_on;
	int level; /* from the name ("heading 2" → 2, "Title" → 0) or outline level; -1 when neither */
	int bold;  /* -1 unset, 0/1 from the style's run properties */
};

struct docx {
	zip_t *za;
	const struct extract_limits *lim;
	struct builder *b;
	size_t unzipped; /* bytes inflated so far, all parts together */
	struct docx_style *styles;
	size_t nstyles;
};

/* One part being inflated; the read callback counts every byte against max_unzipped_bytes, so an entry that
 * lies about its size in the directory still cannot inflate past the cap. */
struct zpart {
	struct docx *dx;
	zip_file_t *zf;
	const char *name;
	int too_large;
	int io_error;
	struct xml_err err;
	xmlTextReaderPtr r;
};

static int zpart_read(void *ctx, char *out, int len)
{
	struct zpart *zp = ctx;
	zip_int64_t n = zip_fread(zp->zf, out, (zip_uint64_t)len);
	if (n < 0) {
		zp->io_error = 1;
		return -1;
	}
	zp->dx->unzipped += (size_t)n;
	if (zp->dx->unzipped > zp->dx->lim->max_unzipped_bytes) {
		zp->too_large = 1;
		return -1;
	}
	return (int)n;
}

static int zpart_close(void *ctx)
{
	(void)ctx; /* the zip file is closed by zpart_done, after the reader */
	return 0;
}

static int docx_too_large(struct docx *dx)
{
	char sz[40];
	return fs_fail(dx->b->e, FS_EINVAL, "DOCX archive too large when unpacked (over %s)",
		       fmt_size(dx->lim->max_unzipped_bytes, sz));
}

/* Opens part name for streaming XML: 0, 1 when the part is absent, or a negative error. Parsing options: no
 * network, no entity substitution, no DTD loading, no XML_PARSE_HUGE (libxml2 keeps its depth and
 * entity-amplification limits). */
static int zpart_open(struct docx *dx, const char *name, struct zpart *zp)
{
	memset(zp, 0, sizeof(*zp));
	zp->dx = dx;
	zp->name = name;
	zip_int64_t idx = zip_name_locate(dx->za, name, 0);
	if (idx < 0)
		return 1;
	zip_stat_t st;
	zip_stat_init(&st);
	if (zip_stat_index(dx->za, (zip_uint64_t)idx, 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE) &&
	    st.size > dx->lim->max_unzipped_bytes - dx->unzipped)
		return docx_too_large(dx);
	zp->zf = zip_fopen_index(dx->za, (zip_uint64_t)idx, 0);
	if (!zp->zf) {
		int ze = zip_error_code_zip(zip_get_error(dx->za));
		if (ze == ZIP_ER_NOPASSWD || ze == ZIP_ER_WRONGPASSWD || ze == ZIP_ER_ENCRNOTSUPP)
			return fs_fail(dx->b->e, FS_EINVAL, "the DOCX is encrypted; upload an unprotected copy");
		return fs_fail(dx->b->e, FS_EINVAL, "the DOCX cannot be read (%s: %s)", name,
			       zip_strerror(dx->za));
	}
	zp->r = xmlReaderForIO(zpart_read, zpart_close, zp, name, NULL, XML_PARSE_NONET | XML_PARSE_NOWARNING);
	if (!zp->r) {
		zip_fclose(zp->zf);
		zp->zf = NULL;
		if (zp->too_large)
			return docx_too_large(dx);
		return fs_fail(dx->b->e, FS_EINVAL, "the DOCX cannot be read (%s is not XML)", name);
	}
	xmlTextReaderSetStructuredErrorHandler(zp->r, xml_err_record, &zp->err);
	return 0;
}

static void zpart_done(struct zpart *zp)
{
	if (zp->r)
		xmlFreeTextReader(zp->r);
	if (zp->zf)
		zip_fclose(zp->zf);
	zp->r = NULL;
	zp->zf = NULL;
}

/* Reads the next node of a part: 1, 0 at the end, or a negative error with the reason (too large, too deep,
 * a DTD, or not well-formed). OOXML forbids DTDs, so a DOCTYPE is refused outright: that also keeps every
 * entity trick (billion laughs, external entities) out. */
static int zpart_next(struct zpart *zp)
{
	struct docx *dx = zp->dx;
	int ret = xmlTextReaderRead(zp->r);
	if (ret == 1) {
		int depth = xmlTextReaderDepth(zp->r);
		if (depth >= 0 && (size_t)depth >= dx->lim->max_xml_depth)
			return fs_fail(dx->b->e, FS_EINVAL, "XML nesting deeper than %zu levels",
				       dx->lim->max_xml_depth);
		if (xmlTextReaderNodeType(zp->r) == XML_READER_TYPE_DOCUMENT_TYPE)
			return fs_fail(dx->b->e, FS_EINVAL,
				       "the DOCX is not a valid Word document (%s declares a DTD)", zp->name);
		return 1;
	}
	if (ret == 0 && !zp->too_large && !zp->io_error && !zp->err.seen)
		return 0;
	if (zp->too_large)
		return docx_too_large(dx);
	if (zp->io_error)
		return fs_fail(dx->b->e, FS_EINVAL, "the DOCX cannot be read (%s: %s)", zp->name,
			       zip_file_strerror(zp->zf));
	if (zp->err.seen && zp->err.code == XML_ERR_ENTITY_LOOP)
		return fs_fail(dx->b->e, FS_EINVAL,
			       "the DOCX is not a valid Word document (%s declares entities that expand without end)",
			       zp->name);
	if (zp->err.seen && strstr(zp->err.msg, "Excessive depth"))
		return fs_fail(dx->b->e, FS_EINVAL, "XML nesting deeper than %zu levels",
			       dx->lim->max_xml_depth < 256 ? dx->lim->max_xml_depth : 256);
	if (zp->err.seen)
		return fs_fail(dx->b->e, FS_EINVAL, "the DOCX cannot be read (%s, line %d: %s)", zp->name,
			       zp->err.line, zp->err.msg);
	return fs_fail(dx->b->e, FS_EINVAL, "the DOCX cannot be read (%s is not well-formed XML)", zp->name);
}

static int style_level_from_name(const char *name)
{
	if (strncasecmp(name, "heading", 7) == 0) {
		const char *p = name + 7;
		while (*p == ' ')
			p++;
		if (*p >= '1' && *p <= '9' && p[1] == '\0')
			return *p - '0';
	}
	if (strcasecmp(name, "title") == 0)
		return 0;
	return -1;
}

static int style_cmp(const void *a, const void *b)
{
	return strcmp(((const struct docx_style *)a)->id, ((const struct docx_style *)b)->id);
}

/* word/styles.xml: paragraph styles with what makes them headings (name or outline level) and bold; sorted by
 * id for lookup (a paragraph names its style by id). */
static int docx_styles(struct docx *dx)
{
	struct zpart zp;
	struct docx_style *cur = NULL;
	int cur_depth = -1, in_rpr = 0, rc;
	size_t alloc = 0;

	rc = zpart_open(dx, "word/styles.xml", &zp);
	if (rc != 0)
		return rc > 0 ? 0 : rc;
	while ((rc = zpart_next(&zp)) == 1) {
		int type = xmlTextReaderNodeType(zp.r);
		int depth = xmlTextReaderDepth(zp.r);
		const char *name = (const char *)xmlTextReaderConstLocalName(zp.r);
		if (!name)
			continue;
		if (type == XML_READER_TYPE_END_ELEMENT) {
			if (depth == cur_depth)
				cur = NULL, cur_depth = -1;
			else if (strcmp(name, "rPr") == 0)
				in_rpr = 0;
			continue;
		}
		if (type != XML_READER_TYPE_ELEMENT)
			continue;
		if (strcmp(name, "style") == 0) {
			xmlChar *t = xml_attr(zp.r, "type"), *id = xml_attr(zp.r, "styleId");
			if (id && (!t || strcmp((char *)t, "paragraph") == 0) && dx->nstyles < 20000) {
				if (dx->nstyles == alloc) {
					alloc = alloc ? alloc * 2 : 64;
					dx->styles = xrealloc(dx->styles, alloc * sizeof(*dx->styles));
				}
				cur = &dx->styles[dx->nstyles++];
				cur->id = xstrdup((char *)id);
				cur->based_on = NULL;
				cur->level = -1;
				cur->bold = -1;
				cur_depth = xmlTextReaderIsEmptyElement(zp.r) ? -1 : depth;
				if (cur_depth < 0)
					cur = NULL;
			}
			xmlFree(t);
			xmlFree(id);
		} else if (cur && strcmp(name, "name") == 0) {
			xmlChar *v = xml_attr(zp.r, "val");
			if (v) {
				int lvl = style_level_from_name((char *)v);
				if (lvl >= 0)
					cur->level = lvl;
			}
			xmlFree(v);
		} else if (cur && strcmp(name, "basedOn") == 0) {
			xmlChar *v = xml_attr(zp.r, "val");
			if (v && !cur->based_on)
				cur->based_on = xstrdup((char *)v);
			xmlFree(v);
		} else if (cur && strcmp(name, "outlineLvl") == 0) {
			xmlChar *v = xml_attr(zp.r, "val");
			if (v && v[0] >= '0' && v[0] <= '8' && !v[1] && cur->level < 0)
				cur->level = v[0] - '0' + 1;
			xmlFree(v);
		} else if (cur && strcmp(name, "rPr") == 0) {
			in_rpr = !xmlTextReaderIsEmptyElement(zp.r);
		} else if (cur && in_rpr && strcmp(name, "b") == 0) {
			cur->bold = xml_attr_on(zp.r);
		}
	}
	zpart_done(&zp);
	if (dx->nstyles > 1)
		qsort(dx->styles, dx->nstyles, sizeof(*dx->styles), style_cmp);
	return rc < 0 ? rc : 0;
}

static const struct docx_style *docx_style(const struct docx *dx, const char *id)
{
	struct docx_style key = { .id = (char *)id };
	return dx->nstyles ? bsearch(&key, dx->styles, dx->nstyles, sizeof(*dx->styles), style_cmp) : NULL;
}

/* A paragraph style's heading level and boldness, following basedOn a few steps. Without styles.xml the
 * built-in ids ("Heading1", "Title") still count. */
static void docx_style_props(const struct docx *dx, const char *id, int *level, int *bold)
{
	*level = -1;
	*bold = 0;
	int bold_set = 0;
	for (int hop = 0; id && hop < 8; hop++) {
		const struct docx_style *s = docx_style(dx, id);
		if (!s) {
			if (hop == 0 && strncmp(id, "Heading", 7) == 0 && id[7] >= '1' && id[7] <= '9' && !id[8])
				*level = id[7] - '0';
			else if (hop == 0 && strcmp(id, "Title") == 0)
				*level = 0;
			return;
		}
		if (*level < 0 && s->level >= 0)
			*level = s->level;
		if (!bold_set && s->bold >= 0)
			*bold = s->bold, bold_set = 1;
		id = s->based_on;
	}
}

/* docProps/core.xml: dc:title, dc:creator, dc:subject into the metadata. */
static int docx_core(struct docx *dx)
{
	static const struct {
		const char *element, *key;
	} fields[] = { { "title", "title" }, { "creator", "author" }, { "subject", "subject" } };
	struct zpart zp;
	struct buf val;
	int field = -1, rc;

	rc = zpart_open(dx, "docProps/core.xml", &zp);
	if (rc != 0)
		return rc > 0 ? 0 : rc;
	buf_init(&val, 16 * KIB);
	while ((rc = zpart_next(&zp)) == 1) {
		int type = xmlTextReaderNodeType(zp.r);
		if (type == XML_READER_TYPE_ELEMENT && xmlTextReaderDepth(zp.r) == 1) {
			const char *name = (const char *)xmlTextReaderConstLocalName(zp.r);
			field = -1;
			for (int i = 0; i < 3 && name; i++)
				if (strcmp(name, fields[i].element) == 0 && !xmlTextReaderIsEmptyElement(zp.r))
					field = i;
			buf_reset(&val);
		} else if (field >= 0 && (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_CDATA)) {
			const char *v = (const char *)xmlTextReaderConstValue(zp.r);
			if (v)
				buf_adds(&val, v); /* past 16 KiB the rest is dropped: it is a title */
		} else if (field >= 0 && type == XML_READER_TYPE_END_ELEMENT) {
			meta_set(dx->b->doc->metadata, fields[field].key, buf_str(&val), val.len);
			field = -1;
		}
	}
	buf_release(&val);
	zpart_done(&zp);
	return rc < 0 ? rc : 0;
}

/* State while streaming word/document.xml. */
struct docx_body {
	struct docx *dx;
	struct tbuf sect;     /* the current section's text */
	struct tbuf para;     /* the paragraph being read */
	struct tbuf cell;     /* the cell being read, outermost table */
	struct tbuf row;      /* the row being assembled, cells joined by " | " */
	int row_text;         /* some cell of the row has text */
	int tbl_depth;
	int in_ppr, in_t;
	int run_depth, in_rpr; /* reader depth of the open run, -1 when none */
	int run_bold, run_hidden;
	int para_level;       /* heading level of the paragraph's style or outline level, -1 none */
	int para_style_bold;
	size_t bold_chars, plain_chars;
	int skip_depth;       /* inside a subtree that is skipped (mc:Fallback repeats mc:Choice), or -1 */
	int style_level;      /* level of the last heading set by a style; bold pseudo-headings go one below */
};

/* A paragraph is done: a heading when its style says so (or when it is short and entirely bold, the way many
 * documents mark headings without heading styles), a table cell's content, or body text. */
static int docx_para_end(struct docx_body *d)
{
	struct builder *b = d->dx->b;
	struct tbuf *p = &d->para;
	int rc = 0;

	if (p->b.len == 0)
		goto out;
	if (d->tbl_depth > 0) {
		tb_break(&d->cell, TB_SPACE);
		if (tb_add_mode(&d->cell, p->b.ptr, p->b.len, 0) < 0)
			rc = bld_too_large(b);
		goto out;
	}
	int level = d->para_level;
	if (level < 0 && d->bold_chars > 0 && d->plain_chars == 0 && p->b.len <= 120 &&
	    has_letter(p->b.ptr, p->b.len) && !ends_like_sentence(p->b.ptr, p->b.len))
		level = d->style_level + 1;
	if (level >= 0) {
		if (d->para_level >= 0)
			d->style_level = level;
		if (tb_section(b, &d->sect, 0) < 0 || bld_heading(b, level, p->b.ptr, p->b.len, 0) < 0)
			rc = -1;
		if (level == 0 && !json_object_get(b->doc->metadata, "title"))
			meta_set(b->doc->metadata, "title", p->b.ptr, p->b.len);
		goto out;
	}
	tb_break(&d->sect, TB_PARA);
	if (tb_add_mode(&d->sect, p->b.ptr, p->b.len, 1) < 0)
		rc = bld_too_large(b);
out:
	tb_reset(p);
	d->para_level = -1;
	d->para_style_bold = 0;
	d->bold_chars = d->plain_chars = 0;
	return rc;
}

static int docx_start(struct docx_body *d, xmlTextReaderPtr r, const char *name, int depth)
{
	struct builder *b = d->dx->b;
	if (strcmp(name, "p") == 0) {
		/* a paragraph inside a paragraph (a text box) ends the outer one's text so far */
		if (d->para.b.len > 0 && docx_para_end(d) < 0)
			return -1;
	} else if (strcmp(name, "pPr") == 0) {
		d->in_ppr = 1;
	} else if (d->in_ppr && strcmp(name, "pStyle") == 0) {
		xmlChar *v = xml_attr(r, "val");
		if (v)
			docx_style_props(d->dx, (char *)v, &d->para_level, &d->para_style_bold);
		xmlFree(v);
	} else if (d->in_ppr && d->run_depth < 0 && strcmp(name, "outlineLvl") == 0) {
		xmlChar *v = xml_attr(r, "val");
		if (v && v[0] >= '0' && v[0] <= '8' && !v[1])
			d->para_level = v[0] - '0' + 1;
		xmlFree(v);
	} else if (strcmp(name, "r") == 0) {
		d->run_depth = depth;
		d->run_bold = d->para_style_bold;
		d->run_hidden = 0;
	} else if (d->run_depth >= 0 && depth == d->run_depth + 1 && strcmp(name, "rPr") == 0) {
		d->in_rpr = 1;
	} else if (d->in_rpr && strcmp(name, "b") == 0) {
		d->run_bold = xml_attr_on(r);
	} else if (d->in_rpr && strcmp(name, "vanish") == 0) {
		d->run_hidden = xml_attr_on(r);
	} else if (strcmp(name, "t") == 0) {
		d->in_t = 1;
	} else if (!d->in_ppr && !d->in_rpr && strcmp(name, "tab") == 0) {
		tb_break(&d->para, TB_SPACE);
	} else if (!d->in_ppr && !d->in_rpr && (strcmp(name, "br") == 0 || strcmp(name, "cr") == 0)) {
		tb_break(&d->para, TB_LINE);
	} else if (strcmp(name, "noBreakHyphen") == 0) {
		if (tb_add(&d->para, "-", 1) < 0)
			return bld_too_large(b);
	} else if (strcmp(name, "tbl") == 0) {
		if (d->tbl_depth++ == 0)
			tb_break(&d->sect, TB_PARA);
	} else if (strcmp(name, "tr") == 0 && d->tbl_depth == 1) {
		tb_reset(&d->row);
		d->row_text = 0;
	} else if (strcmp(name, "tc") == 0 && d->tbl_depth == 1) {
		tb_reset(&d->cell);
	}
	return 0;
}

static int docx_end(struct docx_body *d, const char *name)
{
	struct builder *b = d->dx->b;
	if (strcmp(name, "p") == 0) {
		return docx_para_end(d);
	} else if (strcmp(name, "pPr") == 0) {
		d->in_ppr = 0;
	} else if (strcmp(name, "r") == 0) {
		d->run_depth = -1;
		d->in_rpr = 0;
	} else if (strcmp(name, "rPr") == 0) {
		d->in_rpr = 0;
	} else if (strcmp(name, "t") == 0) {
		d->in_t = 0;
	} else if (strcmp(name, "tc") == 0) {
		if (d->tbl_depth > 1) {
			tb_break(&d->cell, TB_SPACE);
		} else if (d->tbl_depth == 1) {
			if (d->cell.b.len > 0) {
				d->row.cellsep = d->row.b.len > 0;
				d->row_text = 1;
				if (tb_add(&d->row, d->cell.b.ptr, d->cell.b.len) < 0)
					return bld_too_large(b);
			}
			tb_reset(&d->cell);
		}
	} else if (strcmp(name, "tr") == 0 && d->tbl_depth == 1) {
		if (d->row_text) {
			tb_break(&d->sect, TB_LINE);
			if (tb_add_mode(&d->sect, d->row.b.ptr, d->row.b.len, 1) < 0)
				return bld_too_large(b);
		}
		tb_reset(&d->row);
		d->row_text = 0;
	} else if (strcmp(name, "tbl") == 0 && d->tbl_depth > 0) {
		if (--d->tbl_depth == 0)
			tb_break(&d->sect, TB_PARA);
	}
	return 0;
}

/* Streams a story part: word/document.xml (required), or the footnotes and endnotes (optional; they hold text
 * a PDF of the same document shows at the foot of its pages). */
static int docx_body(struct docx *dx, const char *part, int required)
{
	struct docx_body d;
	struct zpart zp;
	int rc;

	memset(&d, 0, sizeof(d));
	d.dx = dx;
	d.run_depth = -1;
	d.skip_depth = -1;
	d.para_level = -1;
	d.style_level = 0;
	tb_init(&d.sect, dx->b->max);
	tb_init(&d.para, dx->b->max);
	tb_init(&d.cell, dx->b->max);
	tb_init(&d.row, dx->b->max);
	rc = zpart_open(dx, part, &zp);
	if (rc > 0 && required)
		rc = fs_fail(dx->b->e, FS_EINVAL, "the DOCX has no %s (not a Word document?)", part);
	if (rc > 0) {
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	/* notes go under a heading of their own, which is forgotten if they hold no text */
	const char *label = strstr(part, "footnotes") ? "Footnotes" : "Endnotes";
	size_t before = dx->b->doc->nsections;
	if (!required && (rc = bld_heading(dx->b, 0, label, strlen(label), 0)) < 0)
		goto out;
	while ((rc = zpart_next(&zp)) == 1) {
		int type = xmlTextReaderNodeType(zp.r);
		int depth = xmlTextReaderDepth(zp.r);
		if (d.skip_depth >= 0) {
			if (type == XML_READER_TYPE_END_ELEMENT && depth == d.skip_depth)
				d.skip_depth = -1;
			continue;
		}
		if (type == XML_READER_TYPE_ELEMENT) {
			const char *name = (const char *)xmlTextReaderConstLocalName(zp.r);
			int empty = xmlTextReaderIsEmptyElement(zp.r);
			if (!name)
				continue;
			if (strcmp(name, "Fallback") == 0) {
				if (!empty)
					d.skip_depth = depth;
				continue;
			}
			if (docx_start(&d, zp.r, name, depth) < 0 || (empty && docx_end(&d, name) < 0)) {
				rc = -1;
				goto out;
			}
		} else if (type == XML_READER_TYPE_END_ELEMENT) {
			const char *name = (const char *)xmlTextReaderConstLocalName(zp.r);
			if (name && docx_end(&d, name) < 0) {
				rc = -1;
				goto out;
			}
		} else if (d.in_t && !d.run_hidden &&
			   (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE ||
			    type == XML_READER_TYPE_WHITESPACE || type == XML_READER_TYPE_CDATA)) {
			const char *v = (const char *)xmlTextReaderConstValue(zp.r);
			size_t n = v ? strlen(v) : 0;
			if (tb_add(&d.para, v, n) < 0) {
				rc = bld_too_large(dx->b);
				goto out;
			}
			for (size_t i = 0; i < n; i++)
				if (!space_at(v, n, i)) {
					if (d.run_bold)
						d.bold_chars++;
					else
						d.plain_chars++;
				}
		}
	}
	if (rc < 0)
		goto out;
	if (d.para.b.len > 0 && docx_para_end(&d) < 0) {
		rc = -1;
		goto out;
	}
	rc = tb_section(dx->b, &d.sect, 0);
	if (!required && dx->b->doc->nsections == before)
		dx->b->fresh = -1;
out:
	zpart_done(&zp);
	buf_release(&d.sect.b);
	buf_release(&d.para.b);
	buf_release(&d.cell.b);
	buf_release(&d.row.b);
	return rc;
}

static int docx_extract(const void *data, size_t len, const struct extract_limits *lim, struct builder *b)
{
	struct docx dx;
	int zerr = 0, rc;

	memset(&dx, 0, sizeof(dx));
	dx.lim = lim;
	dx.b = b;
	dx.za = extract_zip_from_memory(data, len, &zerr);
	if (!dx.za) {
		zip_error_t ze;
		zip_error_init_with_code(&ze, zerr);
		rc = fs_fail(b->e, FS_EINVAL, "the DOCX cannot be read (damaged zip archive: %s)",
			     zip_error_strerror(&ze));
		zip_error_fini(&ze);
		goto out;
	}
	zip_int64_t entries = zip_get_num_entries(dx.za, 0);
	if (entries < 0 || (zip_uint64_t)entries > lim->max_zip_entries) {
		rc = fs_fail(b->e, FS_EINVAL, "DOCX archive has more than %zu entries", lim->max_zip_entries);
		goto out;
	}
	rc = docx_styles(&dx);
	if (rc == 0)
		rc = docx_core(&dx);
	if (rc == 0)
		rc = docx_body(&dx, "word/document.xml", 1);
	if (rc == 0)
		rc = docx_body(&dx, "word/footnotes.xml", 0);
	if (rc == 0)
		rc = docx_body(&dx, "word/endnotes.xml", 0);
out:
	for (size_t i = 0; i < dx.nstyles; i++) {
		free(dx.styles[i].id);
		free(dx.styles[i].based_on);
	}
	free(dx.styles);
	if (dx.za)
		zip_discard(dx.za);
	return rc;
}

/* ---- HTML ------------------------------------------------------------------------------------------------ */

struct html {
	struct builder *b;
	const struct extract_limits *lim;
	htmlParserCtxtPtr ctxt;
	struct tbuf sect;
	struct tbuf head;     /* text of the heading being read */
	struct buf title;
	size_t depth;
	size_t skip_depth;    /* depth where a skipped subtree began, 0 when none */
	int in_head, in_title;
	int heading;          /* level of the open h1..h6, 0 when none */
	int pre;
	int row_cells;
	int rc;               /* first failure; parsing stops there */
};

/* Subtrees that are not visible text. */
static const char *const html_skip[] = { "script", "style", "noscript", "template", "svg", "math", "iframe",
					 "object", "canvas", "select", "datalist", NULL };
/* Elements that start and end a paragraph. */
static const char *const html_block[] = {
	"p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "blockquote", "pre", "ul",
	"ol", "dl", "table", "form", "fieldset", "figure", "address", "hr", "details", "center", "body", NULL
};
/* Elements that start and end a line. */
static const char *const html_line[] = { "li", "dt", "dd", "tr", "caption", "summary", "figcaption", "legend",
					 "option", "thead", "tbody", "tfoot", NULL };

static int in_list(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (strcmp(*list, name) == 0)
			return 1;
	return 0;
}

static int html_fail(struct html *h, int rc)
{
	if (h->rc == 0)
		h->rc = rc;
	xmlStopParser(h->ctxt);
	return rc;
}

static const char *html_attr(const xmlChar **atts, const char *name)
{
	for (size_t i = 0; atts && atts[i]; i += 2)
		if (strcasecmp((const char *)atts[i], name) == 0)
			return atts[i + 1] ? (const char *)atts[i + 1] : "";
	return NULL;
}

static int html_hidden(const xmlChar **atts)
{
	const char *v;
	if (html_attr(atts, "hidden"))
		return 1;
	if ((v = html_attr(atts, "aria-hidden")) && strcasecmp(v, "true") == 0)
		return 1;
	if ((v = html_attr(atts, "style"))) {
		/* "display:none" with any spacing */
		const char *p = strcasestr(v, "display");
		if (p) {
			p += 7;
			while (*p == ' ' || *p == ':')
				p++;
			if (strncasecmp(p, "none", 4) == 0)
				return 1;
		}
	}
	return 0;
}

static int html_heading_level(const char *name)
{
	return name[0] == 'h' && name[1] >= '1' && name[1] <= '6' && !name[2] ? name[1] - '0' : 0;
}

static void html_start(void *ctx, const xmlChar *xname, const xmlChar **atts)
{
	struct html *h = ctx;
	const char *name = (const char *)xname;
	if (h->rc)
		return;
	if (++h->depth > h->lim->max_xml_depth) {
		html_fail(h, fs_fail(h->b->e, FS_EINVAL, "HTML nesting deeper than %zu levels", h->lim->max_xml_depth));
		return;
	}
	if (h->skip_depth)
		return;
	if (in_list(html_skip, name) || html_hidden(atts)) {
		h->skip_depth = h->depth;
		return;
	}
	if (strcmp(name, "head") == 0) {
		h->in_head = 1;
	} else if (strcmp(name, "title") == 0) {
		h->in_title = 1;
	} else if (strcmp(name, "meta") == 0) {
		const char *n = html_attr(atts, "name"), *c = html_attr(atts, "content");
		if (n && c && (strcasecmp(n, "author") == 0 || strcasecmp(n, "description") == 0 ||
			       strcasecmp(n, "keywords") == 0)) {
			char key[16];
			snprintf(key, sizeof(key), "%s", n);
			for (char *k = key; *k; k++)
				*k = (char)(*k >= 'A' && *k <= 'Z' ? *k + 32 : *k);
			meta_set(h->b->doc->metadata, key, c, strlen(c));
		}
	} else if (html_heading_level(name) && !h->heading) {
		h->heading = html_heading_level(name);
		tb_reset(&h->head);
	} else if (strcmp(name, "br") == 0) {
		tb_break(h->heading ? &h->head : &h->sect, h->heading ? TB_SPACE : TB_LINE);
	} else if (in_list(html_block, name)) {
		tb_break(&h->sect, TB_PARA);
		if (strcmp(name, "pre") == 0)
			h->pre++;
	} else if (in_list(html_line, name)) {
		tb_break(&h->sect, TB_LINE);
		if (strcmp(name, "tr") == 0)
			h->row_cells = 0;
	} else if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0) {
		if (h->row_cells++ > 0)
			h->sect.cellsep = 1;
		tb_break(&h->sect, TB_SPACE);
	} else if (strcmp(name, "img") == 0 || strcmp(name, "input") == 0) {
		tb_break(h->heading ? &h->head : &h->sect, TB_SPACE);
	}
}

static void html_end(void *ctx, const xmlChar *xname)
{
	struct html *h = ctx;
	const char *name = (const char *)xname;
	if (h->rc)
		return;
	size_t depth = h->depth;
	if (h->depth > 0)
		h->depth--;
	if (h->skip_depth) {
		if (depth == h->skip_depth)
			h->skip_depth = 0;
		return;
	}
	int level = html_heading_level(name);
	if (level && level == h->heading) {
		h->heading = 0;
		if (h->head.b.len > 0) {
			if (tb_section(h->b, &h->sect, 0) < 0 ||
			    bld_heading(h->b, level, h->head.b.ptr, h->head.b.len, 0) < 0)
				html_fail(h, -1);
		}
		tb_reset(&h->head);
	} else if (strcmp(name, "head") == 0) {
		h->in_head = 0;
	} else if (strcmp(name, "title") == 0) {
		h->in_title = 0;
	} else if (in_list(html_block, name)) {
		tb_break(&h->sect, TB_PARA);
		if (strcmp(name, "pre") == 0 && h->pre > 0)
			h->pre--;
	} else if (in_list(html_line, name)) {
		tb_break(&h->sect, TB_LINE);
	}
}

static void html_text(void *ctx, const xmlChar *ch, int len)
{
	struct html *h = ctx;
	const char *s = (const char *)ch;
	size_t n = len > 0 ? (size_t)len : 0;
	int rc = 0;
	if (h->rc || h->skip_depth)
		return;
	if (h->in_title) {
		if (buf_add(&h->title, s, n) < 0)
			return; /* a title past 4 KiB is cut there */
	} else if (h->in_head) {
		return;
	} else if (h->heading) {
		rc = tb_add(&h->head, s, n);
	} else if (h->pre) {
		rc = tb_add_raw(&h->sect, s, n);
	} else {
		rc = tb_add(&h->sect, s, n);
	}
	if (rc < 0)
		html_fail(h, bld_too_large(h->b));
}

/* The HTML parser does not understand a DOCTYPE's internal subset ("<!DOCTYPE html [ <!ENTITY ...> ]>", seen
 * in XHTML): it would stop at the first '>' and show the rest as text. When the document opens with one, copy
 * holds the document with the subset blanked out; returns whether it did. */
static int html_blank_subset(const char *s, size_t n, struct buf *copy)
{
	size_t lim = n < 64 * KIB ? n : 64 * KIB;
	const char *doctype = NULL;
	for (size_t i = 0; i + 9 <= lim && !doctype; i++)
		if (s[i] == '<' && strncasecmp(s + i, "<!DOCTYPE", 9) == 0)
			doctype = s + i;
	if (!doctype)
		return 0;
	const char *gt = memchr(doctype, '>', n - (size_t)(doctype - s));
	const char *open = memchr(doctype, '[', n - (size_t)(doctype - s));
	if (!open || (gt && gt < open))
		return 0;
	const char *close = NULL;
	for (const char *p = open; p < s + n; p++) {
		if (*p == ']') {
			const char *q = p + 1;
			while (q < s + n && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
				q++;
			if (q < s + n && *q == '>') {
				close = p;
				break;
			}
		}
	}
	if (!close)
		close = s + n;
	buf_add(copy, s, n);
	memset(copy->ptr + (open - s), ' ', (size_t)(close - open) + (close < s + n));
	return 1;
}

/* Reads HTML and XHTML with libxml2's HTML parser driven as SAX: no tree is built, nothing is fetched
 * (HTML_PARSE_NONET), and the HTML parser never reads a DTD nor expands entities beyond HTML's own named
 * characters, so XHTML with an entity-laden internal subset yields its references as literal text. */
static int html_extract(const void *data, size_t len, const struct extract_limits *lim, struct builder *b)
{
	struct html h;
	struct buf copy;
	int rc = 0;

	memset(&h, 0, sizeof(h));
	buf_init(&copy, BUF_NO_LIMIT);
	h.b = b;
	h.lim = lim;
	tb_init(&h.sect, b->max);
	tb_init(&h.head, b->max);
	buf_init(&h.title, 4 * KIB);
	if (len > INT32_MAX) {
		rc = bld_too_large(b);
		goto out;
	}
	if (html_blank_subset(data, len, &copy))
		data = copy.ptr;
	h.ctxt = htmlCreateMemoryParserCtxt(data, (int)len);
	if (!h.ctxt) {
		rc = fs_fail(b->e, FS_EINVAL, "the HTML cannot be read");
		goto out;
	}
	memset(h.ctxt->sax, 0, sizeof(*h.ctxt->sax));
	h.ctxt->sax->startElement = html_start;
	h.ctxt->sax->endElement = html_end;
	h.ctxt->sax->characters = html_text;
	h.ctxt->sax->cdataBlock = html_text;
	h.ctxt->sax->ignorableWhitespace = html_text;
	h.ctxt->userData = &h;
	htmlCtxtUseOptions(h.ctxt, HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING);
	htmlParseDocument(h.ctxt);
	if (h.rc) {
		rc = h.rc;
		goto out;
	}
	if (h.heading && h.head.b.len > 0 && tb_add(&h.sect, h.head.b.ptr, h.head.b.len) < 0) {
		rc = bld_too_large(b); /* an unclosed heading at the very end is text */
		goto out;
	}
	if (h.title.len)
		meta_set(b->doc->metadata, "title", h.title.ptr, h.title.len);
	rc = tb_section(b, &h.sect, 0);
out:
	if (h.ctxt)
		htmlFreeParserCtxt(h.ctxt);
	buf_release(&h.sect.b);
	buf_release(&h.head.b);
	buf_release(&h.title);
	buf_release(&copy);
	return rc;
}

/* ---- Markdown -------------------------------------------------------------------------------------------- */

struct line {
	const char *s;
	size_t n;
};

/* The next line of text (without its "\n"); 0 at the end. */
static int next_line(const char *text, size_t len, size_t *pos, struct line *l)
{
	if (*pos >= len)
		return 0;
	const char *s = text + *pos;
	const char *e = memchr(s, '\n', len - *pos);
	l->s = s;
	l->n = e ? (size_t)(e - s) : len - *pos;
	*pos += l->n + (e ? 1 : 0);
	return 1;
}

static int is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

static struct line trim_line(struct line l)
{
	while (l.n && (l.s[0] == ' ' || l.s[0] == '\t'))
		l.s++, l.n--;
	while (l.n && (l.s[l.n - 1] == ' ' || l.s[l.n - 1] == '\t'))
		l.n--;
	return l;
}

/* Metadata is copied to every chunk of the document: only this much front matter is read. */
#define FRONT_MATTER_MAX (64 * KIB)

/* Front matter: "key: value" lines become strings, "- item" lines under an empty key an array of strings,
 * "|" and ">" blocks a string of their lines; anything else (nested maps) is left out. */
static void md_front_matter(const char *s, size_t n, json_t *meta)
{
	size_t pos = 0;
	struct line l;
	char key[128] = "";
	json_t *list = NULL;
	int list_ok = 0;     /* the last key had no value: "- item" lines may follow */
	struct buf block;
	int block_fold = -1; /* collecting a "|" (0) or ">" (1) block for key */

	if (n > FRONT_MATTER_MAX)
		n = FRONT_MATTER_MAX;
	buf_init(&block, 64 * KIB);
	while (next_line(s, n, &pos, &l)) {
		int indented = l.n > 0 && (l.s[0] == ' ' || l.s[0] == '\t');
		struct line t = trim_line(l);
		if (block_fold >= 0) {
			if (indented || t.n == 0) {
				if (block.len)
					buf_add(&block, block_fold ? " " : "\n", 1);
				buf_add(&block, t.s, t.n);
				continue;
			}
			meta_set(meta, key, buf_str(&block), block.len);
			buf_reset(&block);
			block_fold = -1;
		}
		if (t.n == 0 || t.s[0] == '#')
			continue;
		if (t.s[0] == '-' && (t.n == 1 || t.s[1] == ' ') && list_ok) {
			struct line item = { t.s + 1, t.n - 1 };
			item = trim_line(item);
			if (item.n >= 2 && (item.s[0] == '"' || item.s[0] == '\'') && item.s[item.n - 1] == item.s[0])
				item.s++, item.n -= 2;
			struct buf v;
			buf_init(&v, 64 * KIB);
			if (utf8_clean(&v, item.s, item.n) == 0 && v.len) {
				if (!list) {
					list = json_array();
					json_object_set_new(meta, key, list);
				}
				json_array_append_new(list, json_stringn(v.ptr, v.len));
			}
			buf_release(&v);
			continue;
		}
		if (indented)
			continue;
		const char *colon = memchr(t.s, ':', t.n);
		if (!colon || colon == t.s || (size_t)(colon - t.s) >= sizeof(key))
			continue;
		snprintf(key, sizeof(key), "%.*s", (int)(colon - t.s), t.s);
		list = NULL;
		struct line v = { colon + 1, t.n - (size_t)(colon + 1 - t.s) };
		v = trim_line(v);
		list_ok = v.n == 0;
		if (v.n >= 1 && (v.s[0] == '|' || v.s[0] == '>') && (v.n == 1 || v.s[1] == '-' || v.s[1] == '+')) {
			block_fold = v.s[0] == '>';
			continue;
		}
		if (v.n >= 2 && (v.s[0] == '"' || v.s[0] == '\'') && v.s[v.n - 1] == v.s[0])
			v.s++, v.n -= 2;
		if (v.n)
			meta_set(meta, key, v.s, v.n);
	}
	if (block_fold >= 0)
		meta_set(meta, key, buf_str(&block), block.len);
	buf_release(&block);
}

static int is_punct(char c)
{
	return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
}

static int is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (unsigned char)c >= 0x80;
}

/* Inline constructs span at most this many bytes (a link's text, a code span); searching further on every
 * opener would make a hostile line of openers quadratic. */
#define MD_WINDOW 1024
#define MD_MAX_NESTING 4

/* The closing bracket matching s[i] == open within MD_WINDOW and eight levels; n when none. */
static size_t match_bracket(const char *s, size_t n, size_t i, char open, char close)
{
	int depth = 0;
	size_t lim = n - i > MD_WINDOW ? i + MD_WINDOW : n;
	for (size_t j = i; j < lim; j++) {
		if (s[j] == '\\') {
			j++;
		} else if (s[j] == open) {
			if (++depth > 8)
				break;
		} else if (s[j] == close && --depth == 0) {
			return j;
		}
	}
	return n;
}

/* HTML's common named entities and numeric references; 0 when s is not one. */
static size_t decode_entity(const char *s, size_t n, struct buf *out)
{
	static const struct {
		const char *name;
		uint32_t cp;
	} ents[] = { { "amp", '&' },     { "lt", '<' },       { "gt", '>' },       { "quot", '"' },
		     { "apos", '\'' },   { "nbsp", ' ' },     { "mdash", 0x2014 }, { "ndash", 0x2013 },
		     { "hellip", 0x2026 }, { "copy", 0xa9 },  { "rsquo", 0x2019 }, { "lsquo", 0x2018 },
		     { "rdquo", 0x201d }, { "ldquo", 0x201c } };
	const char *semi = memchr(s, ';', n < 12 ? n : 12);
	if (!semi || n < 3)
		return 0;
	size_t len = (size_t)(semi - s) + 1;
	if (s[1] == '#') {
		char *end;
		char num[12];
		snprintf(num, sizeof(num), "%.*s", (int)(len - 3), s + 2 + (s[2] == 'x' || s[2] == 'X'));
		unsigned long cp = strtoul(num, &end, s[2] == 'x' || s[2] == 'X' ? 16 : 10);
		if (*end || !num[0] || cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		utf8_put(out, (uint32_t)cp);
		return len;
	}
	for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++)
		if (strlen(ents[i].name) == len - 2 && memcmp(ents[i].name, s + 1, len - 2) == 0) {
			utf8_put(out, ents[i].cp);
			return len;
		}
	return 0;
}

/* Closers known to be absent from a position to the end of the text being scanned. Absence is monotone (none
 * after p means none after any later q), so each closer is searched for in vain at most once per line. */
struct md_memo {
	const char *no_gt, *no_pct, *no_braces;
};

static const char *md_find(const char *from, const char *end, const char *needle, size_t len, const char **memo)
{
	if (*memo && from >= *memo)
		return NULL;
	const char *r = memmem(from, (size_t)(end - from), needle, len);
	if (!r)
		*memo = from;
	return r;
}

/* The length of an HTML tag at s ("<b>", "</a>", "<br/>", "<a href=...>"), or 0 when s does not start one;
 * *block says whether it is a tag that separates words (br, p, li, div, td...). */
static size_t html_tag_len(const char *s, size_t n, int *block, struct md_memo *memo)
{
	size_t i = 1;
	if (i < n && s[i] == '/')
		i++;
	size_t name = i;
	if (i >= n || !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
		return 0;
	while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
			 s[i] == '-'))
		i++;
	size_t name_len = i - name;
	if (i >= n || !(s[i] == '>' || s[i] == ' ' || s[i] == '/' || s[i] == '\t'))
		return 0;
	const char *gt = md_find(s + i, s + n, ">", 1, &memo->no_gt);
	if (!gt)
		return 0;
	static const char *const blocks[] = { "br", "p", "div", "li", "td", "th", "tr", "h1", "h2", "h3", "h4",
					      "h5", "h6", "ul", "ol", "table", "hr", "dt", "dd", NULL };
	*block = 0;
	for (int k = 0; blocks[k]; k++)
		if (strlen(blocks[k]) == name_len && strncasecmp(blocks[k], s + name, name_len) == 0)
			*block = 1;
	return (size_t)(gt - s) + 1;
}

/* Markdown inline syntax to plain text: links and images keep their text, emphasis and code marks go, inline
 * HTML tags, comments and Liquid/Jinja tags ({% %}, {{ }}) go, entities and backslash escapes are decoded.
 * *in_comment carries an HTML comment across lines. Linear in n: see MD_WINDOW and struct md_memo. */
static int md_inline_at(const char *s, size_t n, struct buf *out, int *in_comment, int nesting)
{
	struct md_memo memo = { NULL, NULL, NULL };
	size_t i = 0;
	while (i < n) {
		char c = s[i];
		if (*in_comment) {
			const char *end = memmem(s + i, n - i, "-->", 3);
			if (!end)
				return 0;
			*in_comment = 0;
			i = (size_t)(end - s) + 3;
			continue;
		}
		if (c == '<' && n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
			*in_comment = 1;
			i += 4;
			continue;
		}
		if (c == '\\' && i + 1 < n && is_punct(s[i + 1])) {
			if (buf_add(out, s + i + 1, 1) < 0)
				return -1;
			i += 2;
			continue;
		}
		if (c == '`') {
			size_t run = 0;
			while (i + run < n && s[i + run] == '`')
				run++;
			size_t lim = n - i > MD_WINDOW ? i + MD_WINDOW : n;
			for (size_t j = i + run; j + run <= lim; j++) {
				size_t k = 0;
				while (j + k < n && s[j + k] == '`')
					k++;
				if (k == run) {
					if (buf_add(out, s + i + run, j - i - run) < 0)
						return -1;
					i = j + run;
					goto next;
				}
				j += k;
			}
			if (buf_add(out, s + i, run) < 0)
				return -1;
			i += run;
			continue;
		}
		if (c == '{' && i + 1 < n && (s[i + 1] == '%' || s[i + 1] == '{')) {
			const char *end = s[i + 1] == '%' ? md_find(s + i + 2, s + n, "%}", 2, &memo.no_pct)
							   : md_find(s + i + 2, s + n, "}}", 2, &memo.no_braces);
			if (end) {
				i = (size_t)(end - s) + 2;
				continue;
			}
		}
		if ((c == '[' || (c == '!' && i + 1 < n && s[i + 1] == '[')) && nesting < MD_MAX_NESTING) {
			size_t open = c == '!' ? i + 1 : i;
			size_t close = match_bracket(s, n, open, '[', ']');
			if (close < n) {
				size_t after = close + 1;
				if (after < n && s[after] == '(') {
					size_t end = match_bracket(s, n, after, '(', ')');
					if (end < n)
						after = end + 1;
				} else if (after < n && s[after] == '[') {
					size_t end = match_bracket(s, n, after, '[', ']');
					if (end < n)
						after = end + 1;
				} else if (close > open + 1 && s[open + 1] == '^') {
					i = after; /* a footnote reference */
					continue;
				}
				if (md_inline_at(s + open + 1, close - open - 1, out, in_comment, nesting + 1) < 0)
					return -1;
				i = after;
				continue;
			}
		}
		if (c == '<') {
			int block = 0;
			size_t tag = html_tag_len(s + i, n - i, &block, &memo);
			if (tag) {
				if (block && buf_add(out, " ", 1) < 0)
					return -1;
				i += tag;
				continue;
			}
			if (n - i > 8 &&
			    (strncmp(s + i + 1, "http", 4) == 0 || strncmp(s + i + 1, "mailto:", 7) == 0)) {
				const char *gt = md_find(s + i, s + n, ">", 1, &memo.no_gt);
				if (gt) { /* an autolink: the address without its brackets */
					if (buf_add(out, s + i + 1, (size_t)(gt - s) - i - 1) < 0)
						return -1;
					i = (size_t)(gt - s) + 1;
					continue;
				}
			}
		}
		if (c == '&') {
			size_t e = decode_entity(s + i, n - i, out);
			if (e) {
				i += e;
				continue;
			}
		}
		if (c == '*' || c == '_' || c == '~') {
			size_t run = 0;
			while (i + run < n && s[i + run] == c)
				run++;
			char prev = i > 0 ? s[i - 1] : ' ', nxt = i + run < n ? s[i + run] : ' ';
			int prev_space = prev == ' ' || prev == '\t', next_space = nxt == ' ' || nxt == '\t';
			int opens = !next_space && (prev_space || is_punct(prev));
			int closes = !prev_space && (next_space || is_punct(nxt));
			int intraword = is_alnum(prev) && is_alnum(nxt);
			int mark = run <= 3 && (opens || closes) && !(intraword && c != '*') && !(c == '~' && run != 2);
			if (!mark && buf_add(out, s + i, run) < 0)
				return -1;
			i += run;
			continue;
		}
		if (buf_add(out, s + i, 1) < 0)
			return -1;
		i++;
next:;
	}
	return 0;
}

static int md_inline(const char *s, size_t n, struct buf *out, int *in_comment)
{
	return md_inline_at(s, n, out, in_comment, 0);
}

/* Whether the line is a setext underline ("===" or "---") and which level it makes. */
static int setext_level(struct line t)
{
	if (t.n == 0 || (t.s[0] != '=' && t.s[0] != '-'))
		return 0;
	for (size_t i = 0; i < t.n; i++)
		if (t.s[i] != t.s[0])
			return 0;
	return t.s[0] == '=' ? 1 : 2;
}

/* "***", "- - -", "___": a thematic break. */
static int is_rule(struct line t)
{
	if (t.n < 3 || (t.s[0] != '*' && t.s[0] != '-' && t.s[0] != '_'))
		return 0;
	size_t marks = 0;
	for (size_t i = 0; i < t.n; i++) {
		if (t.s[i] == t.s[0])
			marks++;
		else if (t.s[i] != ' ')
			return 0;
	}
	return marks >= 3;
}

/* "|---|:--:|" rows under a table header. */
static int is_table_rule(struct line t)
{
	int pipe = 0, dash = 0;
	for (size_t i = 0; i < t.n; i++) {
		char c = t.s[i];
		if (c == '|')
			pipe = 1;
		else if (c == '-')
			dash = 1;
		else if (c != ':' && c != ' ')
			return 0;
	}
	return pipe && dash;
}

/* "[label]: http://..." link reference definitions carry no text. */
static int is_link_def(struct line t)
{
	if (t.n < 4 || t.s[0] != '[' || t.s[1] == '^')
		return 0;
	size_t close = match_bracket(t.s, t.n, 0, '[', ']');
	return close + 1 < t.n && t.s[close + 1] == ':';
}

/* Opening code fence: "```lang" or "~~~"; its character and length. */
static int fence_open(struct line l, char *ch, size_t *len)
{
	size_t ind = 0;
	while (ind < l.n && ind < 4 && l.s[ind] == ' ')
		ind++;
	if (ind > 3 || ind + 3 > l.n || (l.s[ind] != '`' && l.s[ind] != '~'))
		return 0;
	size_t k = ind;
	while (k < l.n && l.s[k] == l.s[ind])
		k++;
	if (k - ind < 3)
		return 0;
	if (l.s[ind] == '`' && memchr(l.s + k, '`', l.n - k))
		return 0;
	*ch = l.s[ind];
	*len = k - ind;
	return 1;
}

/* Closing fence: at most three spaces, then at least as many fence characters as opened it, nothing else. */
static int fence_close(struct line l, char ch, size_t len)
{
	size_t ind = 0;
	while (ind < l.n && l.s[ind] == ' ')
		ind++;
	struct line t = trim_line(l);
	size_t k = 0;
	while (k < t.n && t.s[k] == ch)
		k++;
	return ind <= 3 && k >= len && k == t.n;
}

/* ATX heading "## Title ##": level and text, or 0. */
static int atx_heading(struct line l, struct line *text)
{
	size_t ind = 0;
	while (ind < l.n && l.s[ind] == ' ')
		ind++;
	if (ind > 3)
		return 0;
	size_t k = ind;
	while (k < l.n && l.s[k] == '#')
		k++;
	size_t level = k - ind;
	if (level < 1 || level > 6 || (k < l.n && l.s[k] != ' ' && l.s[k] != '\t'))
		return 0;
	struct line t = { l.s + k, l.n - k };
	t = trim_line(t);
	size_t e = t.n;
	while (e > 0 && t.s[e - 1] == '#')
		e--;
	if (e < t.n && (e == 0 || t.s[e - 1] == ' '))
		t.n = e;
	/* kramdown's "{#id}" / "{: .class}" attribute lists */
	if (t.n > 2 && t.s[t.n - 1] == '}') {
		const char *brace = NULL;
		for (size_t i = t.n; i-- > 0;)
			if (t.s[i] == '{') {
				brace = t.s + i;
				break;
			}
		if (brace && brace + 1 < t.s + t.n && (brace[1] == '#' || brace[1] == ':'))
			t.n = (size_t)(brace - t.s);
	}
	*text = trim_line(t);
	return (int)level;
}

/* An HTML heading written on one line of Markdown: "<h3>Text</h3>". */
static int html_heading_line(struct line t, struct line *inner)
{
	if (t.n < 9 || t.s[0] != '<' || (t.s[1] != 'h' && t.s[1] != 'H') || t.s[2] < '1' || t.s[2] > '6' ||
	    (t.s[3] != '>' && t.s[3] != ' '))
		return 0;
	const char *gt = memchr(t.s, '>', t.n);
	char close[6] = { '<', '/', t.s[1], t.s[2], '>', 0 };
	const char *end = memmem(t.s, t.n, close, 5);
	if (!end) {
		close[2] = (char)(t.s[1] == 'h' ? 'H' : 'h');
		end = memmem(t.s, t.n, close, 5);
	}
	if (!gt || !end || end < gt)
		return 0;
	inner->s = gt + 1;
	inner->n = (size_t)(end - gt - 1);
	return t.s[2] - '0';
}

struct md {
	struct builder *b;
	struct buf sect; /* the current section's paragraphs */
	struct buf para; /* the current paragraph's lines */
	int in_comment;
};

static int md_flush_para(struct md *m)
{
	tidy(&m->para);
	if (m->para.len == 0)
		return 0;
	if ((m->sect.len && buf_add(&m->sect, "\n\n", 2) < 0) || buf_add(&m->sect, m->para.ptr, m->para.len) < 0)
		return bld_too_large(m->b);
	buf_reset(&m->para);
	return 0;
}

static int md_flush_section(struct md *m)
{
	if (md_flush_para(m) < 0)
		return -1;
	int rc = bld_section(m->b, buf_str(&m->sect), m->sect.len, NULL, 0, 0);
	buf_reset(&m->sect);
	return rc;
}

static int md_heading(struct md *m, int level, const char *s, size_t n)
{
	struct buf h;
	int c = 0, rc;
	buf_init(&h, m->b->max);
	if (md_inline(s, n, &h, &c) < 0) {
		rc = bld_too_large(m->b);
	} else {
		squeeze(&h);
		rc = md_flush_section(m);
		if (rc == 0 && h.len)
			rc = bld_heading(m->b, level, h.ptr, h.len, 0);
	}
	buf_release(&h);
	return rc;
}

/* Appends a text line to the paragraph: blockquote marks dropped, inline syntax stripped, blanks squeezed;
 * the line break stays. */
static int md_text_line(struct md *m, struct line l)
{
	struct buf t;
	int rc = 0;
	buf_init(&t, m->b->max);
	struct line x = trim_line(l);
	while (x.n && x.s[0] == '>') {
		x.s++, x.n--;
		x = trim_line(x);
	}
	if (md_inline(x.s, x.n, &t, &m->in_comment) < 0) {
		rc = bld_too_large(m->b);
		goto out;
	}
	squeeze(&t);
	if (t.len == 0)
		goto out;
	if ((m->para.len && buf_add(&m->para, "\n", 1) < 0) || buf_add(&m->para, t.ptr, t.len) < 0)
		rc = bld_too_large(m->b);
out:
	buf_release(&t);
	return rc;
}

static int md_extract(const char *text, size_t len, struct builder *b)
{
	struct md m;
	size_t pos = 0;
	struct line l;
	int rc = 0, fenced = 0;
	char fch = 0;
	size_t flen = 0;

	memset(&m, 0, sizeof(m));
	m.b = b;
	buf_init(&m.sect, b->max);
	buf_init(&m.para, b->max);

	/* front matter: a first line "---" up to the next "---" or "..." */
	if (next_line(text, len, &pos, &l) && trim_line(l).n == 3 && memcmp(trim_line(l).s, "---", 3) == 0 &&
	    l.s[0] == '-') {
		size_t fm = pos, end = pos;
		struct line k;
		int closed = 0;
		while (next_line(text, len, &end, &k)) {
			struct line t = trim_line(k);
			if (k.n && k.s[0] != ' ' && t.n == 3 &&
			    (memcmp(t.s, "---", 3) == 0 || memcmp(t.s, "...", 3) == 0)) {
				md_front_matter(text + fm, (size_t)(k.s - text) - fm, b->doc->metadata);
				closed = 1;
				pos = end;
				break;
			}
		}
		if (!closed)
			pos = 0;
	} else {
		pos = 0;
	}

	while (next_line(text, len, &pos, &l)) {
		struct line t = trim_line(l), inner;
		int level;
		if (fenced) {
			if (fence_close(l, fch, flen)) {
				fenced = 0;
				if ((rc = md_flush_para(&m)) < 0)
					goto out;
			} else if ((m.para.len && buf_add(&m.para, "\n", 1) < 0) || buf_add(&m.para, l.s, l.n) < 0) {
				rc = bld_too_large(b);
				goto out;
			}
			continue;
		}
		if (m.in_comment) {
			if ((rc = md_text_line(&m, l)) < 0)
				goto out;
			continue;
		}
		if (fence_open(l, &fch, &flen)) {
			if ((rc = md_flush_para(&m)) < 0)
				goto out;
			fenced = 1;
		} else if (t.n == 0) {
			if ((rc = md_flush_para(&m)) < 0)
				goto out;
		} else if ((level = atx_heading(l, &inner)) > 0 || (level = html_heading_line(t, &inner)) > 0) {
			if ((rc = md_heading(&m, level, inner.s, inner.n)) < 0)
				goto out;
		} else if ((level = setext_level(t)) > 0 && m.para.len > 0 && t.s - l.s <= 3) {
			/* the paragraph above is the heading */
			struct buf h = m.para;
			buf_init(&m.para, b->max);
			rc = md_flush_section(&m);
			if (rc == 0) {
				squeeze(&h);
				rc = bld_heading(b, level, h.ptr, h.len, 0);
			}
			buf_release(&h);
			if (rc < 0)
				goto out;
		} else if (is_rule(t)) {
			if ((rc = md_flush_para(&m)) < 0)
				goto out;
		} else if (is_table_rule(t) || is_link_def(t)) {
			continue;
		} else if ((rc = md_text_line(&m, l)) < 0) {
			goto out;
		}
	}
	rc = md_flush_section(&m);
out:
	buf_release(&m.sect);
	buf_release(&m.para);
	return rc;
}

/* ---- Plain text ------------------------------------------------------------------------------------------ */

/* One section; paragraphs split at blank lines, line breaks inside a paragraph kept, blank runs squeezed. */
static int text_extract(const char *text, size_t len, struct builder *b)
{
	struct buf out, line;
	size_t pos = 0;
	struct line l;
	int rc = 0, blank = 0;

	buf_init(&out, b->max);
	buf_init(&line, b->max);
	while (next_line(text, len, &pos, &l)) {
		if (is_blank(l.s, l.n)) {
			blank = 1;
			continue;
		}
		buf_reset(&line);
		if (buf_add(&line, l.s, l.n) < 0) {
			rc = bld_too_large(b);
			goto out;
		}
		squeeze(&line);
		if ((out.len && buf_add(&out, blank ? "\n\n" : "\n", blank ? 2 : 1) < 0) ||
		    buf_add(&out, line.ptr, line.len) < 0) {
			rc = bld_too_large(b);
			goto out;
		}
		blank = 0;
	}
	rc = bld_section(b, buf_str(&out), out.len, NULL, 0, 0);
out:
	buf_release(&out);
	buf_release(&line);
	return rc;
}

/* ---- CSV ------------------------------------------------------------------------------------------------- */

#define CSV_MAX_FIELDS 256

/* One record's fields, unquoted, each NUL-terminated inside data. */
struct csv_row {
	struct buf data;
	size_t off[CSV_MAX_FIELDS];
	size_t n;
};

/* Reads one RFC 4180 record from *pos: quoted fields may hold the delimiter, newlines and doubled quotes; a
 * stray quote inside an unquoted field is kept as a character; an unterminated quote runs to the end. Fields
 * past CSV_MAX_FIELDS are dropped. 0 at the end of input, 1 otherwise, -1 when the cap is hit. */
static int csv_record(const char *s, size_t len, size_t *pos, char delim, struct csv_row *row)
{
	size_t i = *pos;
	if (i >= len)
		return 0;
	buf_reset(&row->data);
	row->n = 0;
	for (;;) {
		size_t start = row->data.len;
		int keep = row->n < CSV_MAX_FIELDS;
		if (i < len && s[i] == '"') {
			i++;
			while (i < len) {
				if (s[i] == '"') {
					if (i + 1 < len && s[i + 1] == '"') {
						if (keep && buf_add(&row->data, "\"", 1) < 0)
							return -1;
						i += 2;
						continue;
					}
					i++;
					break;
				}
				size_t j = i;
				while (j < len && s[j] != '"')
					j++;
				if (keep && buf_add(&row->data, s + i, j - i) < 0)
					return -1;
				i = j;
			}
		}
		/* unquoted part (or text after a closing quote, kept as is) */
		size_t j = i;
		while (j < len && s[j] != delim && s[j] != '\n')
			j++;
		if (keep && buf_add(&row->data, s + i, j - i) < 0)
			return -1;
		i = j;
		if (keep) {
			if (buf_add(&row->data, "", 1) < 0)
				return -1;
			row->off[row->n++] = start;
		}
		if (i < len && s[i] == delim) {
			i++;
			continue;
		}
		if (i < len && s[i] == '\n')
			i++;
		break;
	}
	*pos = i;
	return 1;
}

static const char *csv_field(const struct csv_row *row, size_t k)
{
	return k < row->n ? row->data.ptr + row->off[k] : "";
}

/* Field k without surrounding blanks. */
static struct line csv_cell(const struct csv_row *row, size_t k)
{
	const char *f = csv_field(row, k);
	return trim_line((struct line){ f, strlen(f) });
}

/* Delimiter from the header line: the most frequent of comma, semicolon and tab outside quotes. */
static char csv_sniff(const char *s, size_t len)
{
	size_t comma = 0, semi = 0, tab = 0;
	int quoted = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '"')
			quoted = !quoted;
		else if (!quoted && c == '\n')
			break;
		else if (!quoted && c == ',')
			comma++;
		else if (!quoted && c == ';')
			semi++;
		else if (!quoted && c == '\t')
			tab++;
	}
	if (tab > comma && tab >= semi)
		return '\t';
	if (semi > comma)
		return ';';
	return ',';
}

/* The first column whose trimmed, case-folded name is in names (earlier names win), or -1. */
static long csv_column(const struct csv_row *hdr, const char *const *names, long skip)
{
	for (; *names; names++)
		for (size_t k = 0; k < hdr->n; k++) {
			struct line t = csv_cell(hdr, k);
			if ((long)k != skip && t.n == strlen(*names) && strncasecmp(t.s, *names, t.n) == 0)
				return (long)k;
		}
	return -1;
}

static int csv_extract(const char *text, size_t len, struct builder *b)
{
	static const char *const qnames[] = { "question", "questions", "q", "faq", "query", "prompt", "title", NULL };
	static const char *const anames[] = { "answer", "answers", "a", "response", "reply", "content", "text",
					      "body", NULL };
	static const char *const cnames[] = { "category", "section", "topic", NULL };
	struct csv_row row;
	size_t pos = 0;
	int rc = 0, got;

	buf_init(&row.data, b->max);
	row.n = 0;
	char delim = csv_sniff(text, len);
	/* header: the first record that is not empty */
	while ((got = csv_record(text, len, &pos, delim, &row)) == 1 && row.n == 1 && csv_field(&row, 0)[0] == '\0')
		;
	if (got < 0) {
		rc = bld_too_large(b);
		goto out;
	}
	if (got == 0) {
		rc = fs_fail(b->e, FS_EINVAL, "the file holds no text");
		goto out;
	}
	long qc = csv_column(&row, qnames, -1);
	long ac = csv_column(&row, anames, qc);
	long cc = csv_column(&row, cnames, -1);
	if (qc < 0 || ac < 0) {
		struct buf found, clean;
		buf_init(&found, 300);
		buf_init(&clean, 400);
		for (size_t k = 0; k < row.n; k++) {
			struct line t = csv_cell(&row, k);
			if (buf_addf(&found, "%s%.*s", k ? ", " : "", (int)t.n, t.s) < 0) {
				buf_adds(&found, ", ...");
				break;
			}
		}
		utf8_clean(&clean, buf_str(&found), found.len);
		rc = fs_fail(b->e, FS_EINVAL, "CSV has no question and answer columns (found: %s)", buf_str(&clean));
		buf_release(&found);
		buf_release(&clean);
		goto out;
	}
	while ((got = csv_record(text, len, &pos, delim, &row)) == 1) {
		struct line q = csv_cell(&row, (size_t)qc), a = csv_cell(&row, (size_t)ac);
		if (q.n == 0 || a.n == 0)
			continue;
		if (cc >= 0) {
			struct line cat = csv_cell(&row, (size_t)cc);
			if (cat.n > HEADING_MAX) /* not a category */
				cat.n = 0;
			if ((rc = bld_heading(b, 1, cat.s, cat.n, 0)) < 0)
				goto out;
		}
		if ((rc = bld_section(b, a.s, a.n, q.s, q.n, 0)) < 0)
			goto out;
	}
	if (got < 0) {
		rc = bld_too_large(b);
		goto out;
	}
	if (b->doc->nsections == 0)
		rc = fs_fail(b->e, FS_EINVAL, "the file holds no text (no row has both a question and an answer)");
out:
	buf_release(&row.data);
	return rc;
}

/* ---- Entry points ---------------------------------------------------------------------------------------- */

int extract_document(enum extract_kind kind, const void *data, size_t len, const struct extract_limits *lim,
		     struct extract_doc *out, struct fs_error *e)
{
	struct extract_limits def;
	struct builder b;
	struct buf text;
	struct xml_quiet quiet;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	buf_init(&text, BUF_NO_LIMIT);
	if (!lim) {
		extract_limits_default(&def);
		lim = &def;
	}
	out->metadata = json_object();
	bld_init(&b, out, lim, e);
	if (kind != EXTRACT_NONE && len == 0) {
		rc = fs_fail(e, FS_EINVAL, "the file holds no text (it is empty)");
		goto out;
	}
	xmlInitParser();
	switch (kind) {
	case EXTRACT_PDF:
		rc = pdf_extract(data, len, lim, &b);
		break;
	case EXTRACT_DOCX:
		xml_quiet_begin(&quiet);
		rc = docx_extract(data, len, lim, &b);
		xml_quiet_end(&quiet);
		break;
	case EXTRACT_HTML:
		xml_quiet_begin(&quiet);
		rc = html_extract(data, len, lim, &b);
		xml_quiet_end(&quiet);
		break;
	case EXTRACT_MARKDOWN:
		text_decode(data, len, &text);
		rc = md_extract(buf_str(&text), text.len, &b);
		break;
	case EXTRACT_TEXT:
		text_decode(data, len, &text);
		rc = text_extract(buf_str(&text), text.len, &b);
		break;
	case EXTRACT_CSV:
		text_decode(data, len, &text);
		rc = csv_extract(buf_str(&text), text.len, &b);
		break;
	default:
		rc = fs_fail(e, FS_EUNSUPPORTED, "unsupported file type");
		break;
	}
	if (rc < 0)
		goto out;
	if ((rc = bld_orphan(&b, 0)) < 0)
		goto out;
	if (out->nsections == 0) {
		rc = fs_fail(e, FS_EINVAL, "the file holds no text");
		goto out;
	}
	json_t *title = json_object_get(out->metadata, "title");
	if (json_is_string(title))
		out->title = xstrdup(json_string_value(title));
out:
	if (rc < 0)
		extract_doc_release(out);
	bld_release(&b);
	buf_release(&text);
	return rc;
}

void extract_doc_release(struct extract_doc *doc)
{
	for (size_t i = 0; i < doc->nsections; i++) {
		free(doc->sections[i].heading);
		free(doc->sections[i].text);
		free(doc->sections[i].question);
	}
	free(doc->sections);
	json_decref(doc->metadata);
	free(doc->title);
	memset(doc, 0, sizeof(*doc));
}
