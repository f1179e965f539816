/* PDF reader (poppler-glib): the text layer page by page, paragraphs from line geometry, headings guessed from
 * font size and weight. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <poppler.h>

#include "core/banned.h"

/* One line of a PDF page's text layer, with the geometry and font that decide paragraphs and headings. */
struct pdf_line {
	const char *s; /* the line's text without bullet glyph and footnote marks (into the page's clean copy) */
	size_t len;
	size_t off;    /* of s in the clean copy, while it grows */
	int item;      /* the line began with a bullet glyph: a list item */
	double top, bottom; /* from the character boxes; top > bottom when the line has no boxes */
	double size;        /* font size of its first visible character, 0 when unknown */
	int bold;           /* every visible character is in a bold face */
};

static int font_is_symbol(const char *name)
{
	return name && (strcasestr(name, "symbol") || strcasestr(name, "wingding") || strcasestr(name, "dingbat"));
}

/* Whether the first character of a line is a list bullet rather than text: any character of a symbol font
 * (Wingdings and Symbol bullets come out as letters such as "x" or "§"), a private-use code point, the bullet,
 * square, circle, box and arrow glyphs, and Word's Courier "o". */
static int is_bullet(gunichar u, const char *font, const char *next)
{
	static const gunichar glyphs[] = { 0x2022, 0x2023, 0x2043, 0x2219, 0x00b7, 0x25aa, 0x25ab, 0x25a0, 0x25a1,
					   0x25cf, 0x25cb, 0x25e6, 0x25c6, 0x25c7, 0x25ba, 0x25b6, 0x2610, 0x2611,
					   0x2612, 0x274f, 0x2751, 0x27a2, 0x2794, 0x2713, 0x2714, 0x2717, 0x2718,
					   0xf0b7, 0xf0a7, 0xf0d8, 0xf0fc };
	if (font_is_symbol(font) || (u >= 0xe000 && u <= 0xf8ff))
		return 1;
	for (size_t i = 0; i < sizeof(glyphs) / sizeof(glyphs[0]); i++)
		if (u == glyphs[i])
			return 1;
	return u == 'o' && font && strcasestr(font, "courier") && (*next == ' ' || *next == '\0');
}

static int font_is_bold(const char *name)
{
	return name && (strcasestr(name, "bold") || strcasestr(name, "black") || strcasestr(name, "heavy"));
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
 * starting with a lower-case letter joins without the hyphen (a word split at the margin), and a list item
 * starts a line of its own, "- " in place of its bullet. */
static int pdf_join(struct buf *out, const struct pdf_line *ln, size_t from, size_t to)
{
	int joined = 0; /* the last line ended in a hyphen that was taken out */
	for (size_t i = from; i < to; i++) {
		const char *s = ln[i].s;
		size_t n = ln[i].len;
		while (n > 0 && s[n - 1] == ' ')
			n--;
		while (n > 0 && s[0] == ' ')
			s++, n--;
		if (n == 0)
			continue;
		if (out->len && !joined && buf_adds(out, ln[i].item ? "\n" : " ") < 0)
			return -1;
		if (ln[i].item && buf_adds(out, "- ") < 0)
			return -1;
		joined = 0;
		if (i + 1 < to && n >= 2 && s[n - 1] == '-' && s[n - 2] >= 'a' && s[n - 2] <= 'z' && !ln[i + 1].item) {
			const char *nx = ln[i + 1].s;
			size_t k = 0;
			while (k < ln[i + 1].len && nx[k] == ' ')
				k++;
			joined = k < ln[i + 1].len && nx[k] >= 'a' && nx[k] <= 'z';
		}
		if (buf_add(out, s, joined ? n - 1 : n) < 0)
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
	struct buf para, clean;
	int rc = 0;

	buf_init(&para, b->max);
	buf_init(&clean, b->max);
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

	/* Split into lines; character indexes follow the UTF-8 characters of the text. Each line is copied into
	 * clean without its bullet glyph and without footnote marks: digits set clearly smaller than the text they
	 * are glued to ("source code29"). */
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
		L->off = clean.len;
		L->item = 0;
		L->top = 1e9;
		L->bottom = -1e9;
		L->size = 0;
		L->bold = 1;
		int visible = 0, first = 1;
		double prev_size = 0; /* of the last character kept that is not a digit */
		for (const char *c = s; c < e; c = g_utf8_next_char(c), ci++) {
			const char *nx = g_utf8_next_char(c);
			if (*c == ' ') {
				if (!first && buf_add(&clean, " ", 1) < 0)
					goto too_large;
				continue;
			}
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
			if (first) {
				first = 0;
				if (is_bullet(g_utf8_get_char(c), a ? a->font_name : NULL, nx)) {
					L->item = 1;
					continue;
				}
			}
			int digit = *c >= '0' && *c <= '9';
			if (digit && a && prev_size > 0 && a->font_size < prev_size * 0.8 && clean.len > L->off &&
			    clean.ptr[clean.len - 1] != ' ')
				continue; /* a footnote mark */
			visible = 1;
			if (!digit && a)
				prev_size = a->font_size;
			if (a && L->size == 0)
				L->size = a->font_size;
			if (!a || !font_is_bold(a->font_name))
				L->bold = 0;
			if (buf_add(&clean, c, (size_t)(nx - c)) < 0)
				goto too_large;
		}
		if (!visible)
			L->bold = 0;
		L->len = clean.len - L->off;
		ci++; /* the newline */
		s = *e ? e + 1 : e;
	}
	for (size_t i = 0; i < nln; i++)
		ln[i].s = clean.ptr ? clean.ptr + ln[i].off : "";

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
			int heading = body > 0 && nlines <= 2 && !ln[start].item && para.len <= 150 && text_has_letter(para.ptr, para.len) &&
				      !(para.ptr[0] >= 'a' && para.ptr[0] <= 'z') &&
				      !text_ends_like_sentence(para.ptr, para.len) &&
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
				if (tb_add_mode(sect, para.ptr, para.len, 1) < 0) {
					rc = bld_too_large(b);
					goto out;
				}
			}
		}
		start = i;
	}
	rc = tb_section(b, sect, pageno);
	goto out;
too_large:
	rc = bld_too_large(b);
out:
	buf_release(&para);
	buf_release(&clean);
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
		bld_meta_set(meta, key, val, strlen(val));
		g_free(val);
	}
}

int extract_pdf_read(const char *data, size_t len, const struct extract_limits *lim, struct builder *b)
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
