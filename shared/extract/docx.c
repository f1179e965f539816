/* DOCX reader: libzip for the archive (every inflated byte counted against the limit), libxml2's streaming
 * reader for word/styles.xml, docProps/core.xml, the body, footnotes and endnotes. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/xmlreader.h>
#include <zip.h>

#include "core/banned.h"

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
		       text_fmt_size(dx->lim->max_unzipped_bytes, sz));
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
			bld_meta_set(dx->b->doc->metadata, fields[field].key, buf_str(&val), val.len);
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
	struct table tab;     /* the outermost table's rows */
	struct buf rows;      /* its rows as text, "Header: cell; ..." */
	int row_header;       /* the row repeats as a header on every page (w:tblHeader) */
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
	    text_has_letter(p->b.ptr, p->b.len) && !text_ends_like_sentence(p->b.ptr, p->b.len))
		level = d->style_level + 1;
	if (level >= 0) {
		if (d->para_level >= 0)
			d->style_level = level;
		if (tb_section(b, &d->sect, 0) < 0 || bld_heading(b, level, p->b.ptr, p->b.len, 0) < 0)
			rc = -1;
		if (level == 0 && !json_object_get(b->doc->metadata, "title"))
			bld_meta_set(b->doc->metadata, "title", p->b.ptr, p->b.len);
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
		if (d->tbl_depth++ == 0) {
			tb_break(&d->sect, TB_PARA);
			table_start(&d->tab);
		}
	} else if (strcmp(name, "tr") == 0 && d->tbl_depth == 1) {
		d->row_header = 0;
	} else if (strcmp(name, "tblHeader") == 0 && d->tbl_depth == 1) {
		d->row_header = xml_attr_on(r);
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
			if (table_cell(&d->tab, d->cell.b.ptr ? d->cell.b.ptr : "", d->cell.b.len) < 0)
				return bld_too_large(b);
			tb_reset(&d->cell);
		}
	} else if (strcmp(name, "tr") == 0 && d->tbl_depth == 1) {
		if (table_row_end(&d->tab, d->row_header, &d->rows) < 0)
			return bld_too_large(b);
	} else if (strcmp(name, "tbl") == 0 && d->tbl_depth > 0) {
		if (--d->tbl_depth == 0) {
			if (table_end(&d->tab, &d->rows) < 0)
				return bld_too_large(b);
			tb_break(&d->sect, TB_PARA);
			if (tb_add_mode(&d->sect, d->rows.ptr ? d->rows.ptr : "", d->rows.len, 1) < 0)
				return bld_too_large(b);
			tb_break(&d->sect, TB_PARA);
			buf_reset(&d->rows);
		}
	}
	return 0;
}

/* Whether s is nothing but private-use code points (symbol-font glyphs) and blanks, with at least one. */
static int only_private_use(const char *s, size_t n)
{
	int any = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = text_utf8_seq((const unsigned char *)s + i, n - i, &cp);
		if (len == 0)
			return 0;
		if (cp >= 0xe000 && cp <= 0xf8ff)
			any = 1;
		else if (cp != ' ')
			return 0;
		i += len;
	}
	return any;
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
	table_init(&d.tab, dx->b->max);
	buf_init(&d.rows, dx->b->max);
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
			/* a symbol-font glyph alone in a table cell (a Wingdings tick or lozenge) marks the cell: it
			 * reads "yes" rather than vanishing with the other private-use glyphs */
			if (d.tbl_depth > 0 && n > 0 && only_private_use(v, n))
				v = "yes", n = 3;
			if (tb_add(&d.para, v, n) < 0) {
				rc = bld_too_large(dx->b);
				goto out;
			}
			for (size_t i = 0; i < n; i++)
				if (!text_space_at(v, n, i)) {
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
	table_release(&d.tab);
	buf_release(&d.rows);
	return rc;
}

int extract_docx_read(const char *data, size_t len, const struct extract_limits *lim, struct builder *b)
{
	struct docx dx;
	struct xml_quiet quiet;
	int zerr = 0, rc;

	xml_quiet_begin(&quiet);

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
	xml_quiet_end(&quiet);
	return rc;
}
