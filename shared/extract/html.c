/* HTML and XHTML reader: libxml2's HTML parser driven as SAX, no tree, nothing fetched. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include "core/banned.h"

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
	int rc;               /* first failure; parsing stops there */
	/* tables: the outermost one is read row by row into tab; cells of nested tables are text of its cell */
	size_t table_depth;   /* open <table> elements */
	int in_cell;          /* inside a cell of the outermost table */
	int row_all_th;       /* every cell of the row so far is a <th> */
	struct tbuf cell;
	struct table tab;
	struct buf rows;
	/* links: an absolute address is written after the link's text */
	char *href;
	size_t href_depth;
	size_t href_mark;     /* length of the output buffer where the link's text began */
	/* <sup>: a footnote mark ("12", "[3]", "*") is dropped, other superscript kept */
	size_t sup_depth;
	struct tbuf sup;
};

/* Where text goes now. */
static struct tbuf *html_out(struct html *h)
{
	if (h->sup_depth)
		return &h->sup;
	if (h->heading)
		return &h->head;
	if (h->in_cell)
		return &h->cell;
	return &h->sect;
}

/* A break inside a heading, a cell or a superscript is a space: they are one line each. */
static void html_break(struct html *h, int level)
{
	struct tbuf *t = html_out(h);
	tb_break(t, t == &h->sect ? level : TB_SPACE);
}

static int is_web_href(const char *v)
{
	if (strncasecmp(v, "http://", 7) != 0 && strncasecmp(v, "https://", 8) != 0)
		return 0;
	for (const char *p = v; *p; p++)
		if (*p == ' ' || *p == '"' || *p == '<' || *p == '>')
			return 0;
	return strlen(v) < 2048;
}

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
			bld_meta_set(h->b->doc->metadata, key, c, strlen(c));
		}
	} else if (html_heading_level(name) && !h->heading) {
		h->heading = html_heading_level(name);
		tb_reset(&h->head);
	} else if (strcmp(name, "table") == 0 && h->table_depth++ == 0 && !h->heading) {
		tb_break(&h->sect, TB_PARA);
		table_start(&h->tab);
	} else if (strcmp(name, "tr") == 0 && h->table_depth == 1 && !h->heading) {
		h->row_all_th = 1;
	} else if ((strcmp(name, "td") == 0 || strcmp(name, "th") == 0) && h->table_depth == 1 && !h->heading) {
		h->in_cell = 1;
		h->row_all_th &= name[1] == 'h';
		tb_reset(&h->cell);
	} else if (strcmp(name, "br") == 0) {
		html_break(h, TB_LINE);
	} else if (in_list(html_block, name)) {
		html_break(h, TB_PARA);
		if (strcmp(name, "pre") == 0)
			h->pre++;
	} else if (in_list(html_line, name)) {
		html_break(h, TB_LINE);
	} else if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0) {
		html_break(h, TB_SPACE);
	} else if (strcmp(name, "img") == 0 || strcmp(name, "input") == 0) {
		html_break(h, TB_SPACE);
	} else if (strcmp(name, "a") == 0 && !h->href && !h->heading && !h->sup_depth) {
		const char *v = html_attr(atts, "href");
		if (v && is_web_href(v)) {
			h->href = xstrdup(v);
			h->href_depth = h->depth;
			h->href_mark = html_out(h)->b.len;
		}
	} else if (strcmp(name, "sup") == 0 && !h->sup_depth) {
		h->sup_depth = h->depth;
		tb_reset(&h->sup);
	}
}

/* The text of the link ending here gets its address, unless the text is the address. */
static int html_link_end(struct html *h, size_t mark)
{
	struct tbuf *t = html_out(h);
	int rc = 0;
	size_t n = strlen(h->href);
	while (mark < t->b.len && (t->b.ptr[mark] == ' ' || t->b.ptr[mark] == '\n'))
		mark++;
	if (t->b.len > mark) {
		if (!(t->b.len - mark == n && memcmp(t->b.ptr + mark, h->href, n) == 0)) {
			tb_break(t, TB_SPACE);
			if (tb_add(t, "(", 1) < 0 || buf_add(&t->b, h->href, n) < 0 || buf_add(&t->b, ")", 1) < 0)
				rc = -1;
		}
	}
	free(h->href);
	h->href = NULL;
	return rc;
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
	if (h->href && depth == h->href_depth && html_link_end(h, h->href_mark) < 0) {
		html_fail(h, bld_too_large(h->b));
		return;
	}
	if (h->sup_depth && depth == h->sup_depth) {
		h->sup_depth = 0;
		struct tbuf *t = html_out(h);
		if (!text_is_footnote_mark(h->sup.b.ptr ? h->sup.b.ptr : "", h->sup.b.len) &&
		    tb_add(t, h->sup.b.ptr, h->sup.b.len) < 0)
			html_fail(h, bld_too_large(h->b));
		tb_reset(&h->sup);
		return;
	}
	if (h->table_depth == 1 && !h->heading &&
	    (strcmp(name, "td") == 0 || strcmp(name, "th") == 0 || strcmp(name, "tr") == 0 ||
	     strcmp(name, "table") == 0)) {
		int rc = 0;
		if (h->in_cell) { /* a cell ends (also when its row or table ends without closing it) */
			h->in_cell = 0;
			rc = table_cell(&h->tab, h->cell.b.ptr ? h->cell.b.ptr : "", h->cell.b.len);
			tb_reset(&h->cell);
		}
		if (rc == 0 && name[0] == 't' && (name[1] == 'r' || name[1] == 'a'))
			rc = table_row_end(&h->tab, h->row_all_th, &h->rows);
		if (rc == 0 && strcmp(name, "table") == 0) {
			h->table_depth = 0;
			rc = table_end(&h->tab, &h->rows);
			tb_break(&h->sect, TB_PARA);
			if (rc == 0 && tb_add_mode(&h->sect, h->rows.ptr ? h->rows.ptr : "", h->rows.len, 1) < 0)
				rc = -1;
			tb_break(&h->sect, TB_PARA);
			buf_reset(&h->rows);
		}
		if (rc < 0)
			html_fail(h, bld_too_large(h->b));
		return;
	}
	if (strcmp(name, "table") == 0 && h->table_depth > 0)
		h->table_depth--;
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
		html_break(h, TB_PARA);
		if (strcmp(name, "pre") == 0 && h->pre > 0)
			h->pre--;
	} else if (in_list(html_line, name)) {
		html_break(h, TB_LINE);
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
	} else if (h->pre && html_out(h) == &h->sect) {
		rc = tb_add_raw(&h->sect, s, n);
	} else {
		rc = tb_add(html_out(h), s, n);
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
int extract_html_read(const char *data, size_t len, const struct extract_limits *lim, struct builder *b)
{
	struct html h;
	struct buf copy;
	struct xml_quiet quiet;
	int rc = 0;

	xml_quiet_begin(&quiet);

	memset(&h, 0, sizeof(h));
	buf_init(&copy, BUF_NO_LIMIT);
	h.b = b;
	h.lim = lim;
	tb_init(&h.sect, b->max);
	tb_init(&h.head, b->max);
	tb_init(&h.cell, b->max);
	tb_init(&h.sup, b->max);
	table_init(&h.tab, b->max);
	buf_init(&h.rows, b->max);
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
		bld_meta_set(b->doc->metadata, "title", h.title.ptr, h.title.len);
	rc = tb_section(b, &h.sect, 0);
out:
	if (h.ctxt)
		htmlFreeParserCtxt(h.ctxt);
	buf_release(&h.sect.b);
	buf_release(&h.head.b);
	buf_release(&h.cell.b);
	buf_release(&h.sup.b);
	buf_release(&h.rows);
	table_release(&h.tab);
	free(h.href);
	buf_release(&h.title);
	buf_release(&copy);
	xml_quiet_end(&quiet);
	return rc;
}
