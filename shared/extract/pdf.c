/* PDF reader (poppler-glib): the text layer page by page, paragraphs from line geometry, headings guessed from
 * font size and weight. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <poppler.h>

#include "banned.h"

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
			int heading = body > 0 && nlines <= 2 && para.len <= 150 && text_has_letter(para.ptr, para.len) &&
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
