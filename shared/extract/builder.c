/* The section builder every reader feeds, and the text helpers they share: UTF-8 cleaning, decoding of text
 * files, white-space tidying, and the tbuf that assembles text from tree formats (PDF, DOCX, HTML). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/banned.h"

void extract_limits_default(struct extract_limits *lim)
{
	lim->max_pages = 2000;
	lim->max_text_bytes = 20 * MIB;
	lim->max_unzipped_bytes = 100 * MIB;
	lim->max_zip_entries = 10000;
	lim->max_xml_depth = 256;
}

/* "20 MiB", "64 KiB" or "1000 bytes", for messages that quote a limit. */
const char *text_fmt_size(size_t n, char out[40])
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
size_t text_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
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

int text_utf8_put(struct buf *b, uint32_t cp)
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
int text_clean(struct buf *out, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;
	int replaced = 0;
	while (i < n) {
		uint32_t cp;
		size_t len = text_utf8_seq(s + i, n - i, &cp);
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
			if (!replaced && text_utf8_put(out, 0xfffd) < 0)
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
void text_decode(const unsigned char *p, size_t n, struct buf *out)
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
			text_utf8_put(out, u);
		}
		goto lines;
	}
	/* Runs of invalid bytes against valid multi-byte characters: Latin-1 text has the former only, UTF-8 text
	 * with a few damaged bytes has more of the latter. */
	size_t bad = 0, multi = 0;
	int in_bad = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = text_utf8_seq(p + i, n - i, &cp);
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
			text_utf8_put(out, p[i] < 0x80 ? p[i] : p[i] < 0xa0 ? cp1252_high[p[i] - 0x80] : p[i]);
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
void text_tidy(struct buf *b)
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
void text_squeeze(struct buf *b)
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


void bld_init(struct builder *b, struct extract_doc *doc, const struct extract_limits *lim,
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
int bld_orphan(struct builder *b, int level)
{
	int f = b->fresh;
	if (f < 0 || level > f || !b->level[f])
		return 0;
	b->fresh = -1;
	return bld_section(b, b->level[f], strlen(b->level[f]), NULL, 0, b->fresh_page);
}

void bld_release(struct builder *b)
{
	for (int i = 0; i < HEADING_LEVELS; i++)
		free(b->level[i]);
	buf_release(&b->path);
}

int bld_too_large(struct builder *b)
{
	char sz[40];
	return fs_fail(b->e, FS_EINVAL, "extracted text larger than %s", text_fmt_size(b->max, sz));
}

/* Sets the heading at level (0..9), forgetting deeper ones; empty text only forgets. Text is cleaned and
 * squeezed to one line; past HEADING_MAX bytes it becomes a section of text instead. Callers add the text
 * gathered under the previous heading first. page is where the heading is (PDF). */
int bld_heading(struct builder *b, int level, const char *text, size_t len, int page)
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
	if (text_clean(&h, text, len) < 0) {
		rc = bld_too_large(b);
		goto out;
	}
	text_squeeze(&h);
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

/* In place: a line that starts with a bullet glyph ("•", "●", "▪", "☐", ...) starts with "- " instead, so list
 * items read the same whatever glyph the author typed. */
static void unbullet(struct buf *t)
{
	static const char *const glyphs[] = { "\xe2\x80\xa2", "\xe2\x97\x8f", "\xe2\x96\xaa", "\xe2\x96\xa0",
					      "\xe2\x97\xa6", "\xe2\x97\x8b", "\xe2\x98\x90", "\xe2\x98\x91",
					      "\xe2\x98\x92", "\xe2\x80\xa3", "\xe2\x81\x83", "\xe2\x96\xa1",
					      "\xe2\x9e\xa2", "\xe2\x96\xba", "\xc2\xb7", NULL };
	size_t w = 0;
	for (size_t r = 0; r < t->len;) {
		if (r == 0 || t->ptr[r - 1] == '\n') {
			for (int g = 0; glyphs[g]; g++) {
				size_t n = strlen(glyphs[g]);
				if (t->len - r >= n && memcmp(t->ptr + r, glyphs[g], n) == 0) {
					r += n;
					while (r < t->len && (t->ptr[r] == ' ' || t->ptr[r] == '\t'))
						r++;
					/* "- " is as long as every glyph but the two-byte middle dot */
					if (r - w >= 2) {
						t->ptr[w++] = '-';
						t->ptr[w++] = ' ';
					}
					break;
				}
			}
		}
		if (r < t->len)
			t->ptr[w++] = t->ptr[r++];
	}
	t->len = w;
	if (t->ptr)
		t->ptr[w] = '\0';
}

/* Appends a section of the current heading path: text[0, len) and question[0, qlen) (NULL: none), already
 * cleaned and tidied; trims both and drops a section left with nothing. */
static int add_section(struct builder *b, const char *text, size_t len, const char *question, size_t qlen, int page)
{
	while (len && (*text == ' ' || *text == '\n'))
		text++, len--;
	while (len && (text[len - 1] == ' ' || text[len - 1] == '\n'))
		len--;
	while (qlen && (question[qlen - 1] == ' ' || question[qlen - 1] == '\n'))
		qlen--;
	if (len == 0 && (!question || qlen == 0))
		return 0;
	size_t add = len + qlen + b->path.len;
	if (add > b->max || b->total > b->max - add)
		return bld_too_large(b);
	b->total += add;
	b->fresh = -1;
	struct extract_doc *d = b->doc;
	if (d->nsections == b->alloc) {
		b->alloc = b->alloc ? b->alloc * 2 : 16;
		d->sections = xrealloc(d->sections, b->alloc * sizeof(*d->sections));
	}
	struct extract_section *s = &d->sections[d->nsections++];
	s->heading = xstrdup(buf_str(&b->path));
	s->text = xstrndup(text, len);
	s->question = question ? xstrndup(question, qlen) : NULL;
	if (s->question)
		for (char *c = s->question; *c; c++)
			if (*c == '\n')
				*c = ' '; /* a question wrapped over lines is one line */
	s->page = page;
	return 0;
}

int bld_section(struct builder *b, const char *text, size_t len, const char *question, size_t qlen, int page)
{
	struct buf t, q;
	int rc = 0;
	buf_init(&t, b->max);
	buf_init(&q, b->max);
	if (text_clean(&t, text, len) < 0 || (question && text_clean(&q, question, qlen) < 0)) {
		rc = bld_too_large(b);
		goto out;
	}
	unbullet(&t);
	text_tidy(&t);
	text_tidy(&q);
	const char *s = t.ptr ? t.ptr : "";
	size_t at = 0;
	struct faq_pair p;
	while (!question && rc == 0 && faq_find(s, t.len, at, &p)) {
		rc = add_section(b, s + at, p.start - at, NULL, 0, page);
		if (rc == 0)
			rc = add_section(b, s + p.a, p.end - p.a, s + p.q, p.q_end - p.q, page);
		at = p.end;
	}
	if (rc == 0)
		rc = add_section(b, s + at, t.len - at, question ? (q.ptr ? q.ptr : "") : NULL, q.len, page);
out:
	buf_release(&t);
	buf_release(&q);
	return rc;
}

/* Sets a string in the document metadata, cleaned and trimmed; empty values are left out. */
void bld_meta_set(json_t *meta, const char *key, const char *val, size_t len)
{
	struct buf k, v;
	buf_init(&k, 256);
	buf_init(&v, 64 * KIB);
	if (text_clean(&k, key, strlen(key)) < 0 || text_clean(&v, val, len) < 0)
		goto out;
	text_tidy(&k);
	text_tidy(&v);
	if (k.len && v.len)
		json_object_set_new(meta, buf_str(&k), json_stringn(v.ptr, v.len));
out:
	buf_release(&k);
	buf_release(&v);
}

/* ---- Text assembly for the tree formats (PDF, DOCX, HTML) ------------------------------------------------ */


void tb_init(struct tbuf *t, size_t max)
{
	buf_init(&t->b, max);
	t->pend = TB_NONE;
	t->cellsep = 0;
}

void tb_reset(struct tbuf *t)
{
	buf_reset(&t->b);
	t->pend = TB_NONE;
	t->cellsep = 0;
}

void tb_break(struct tbuf *t, int level)
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
size_t text_space_at(const char *s, size_t n, size_t i)
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
int tb_add_mode(struct tbuf *t, const char *s, size_t n, int lines)
{
	size_t i = 0;
	while (i < n) {
		size_t w = text_space_at(s, n, i);
		if (w) {
			if (lines && s[i] == '\n')
				tb_break(t, i > 0 && s[i - 1] == '\n' ? TB_PARA : TB_LINE);
			else
				tb_break(t, TB_SPACE);
			i += w;
			continue;
		}
		size_t j = i;
		while (j < n && !text_space_at(s, n, j))
			j++;
		if (tb_flush(t) < 0 || buf_add(&t->b, s + i, j - i) < 0)
			return -1;
		i = j;
	}
	return 0;
}

int tb_add(struct tbuf *t, const char *s, size_t n)
{
	return tb_add_mode(t, s, n, 0);
}

/* Appends preformatted text as it is (HTML <pre>). */
int tb_add_raw(struct tbuf *t, const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (tb_flush(t) < 0)
		return -1;
	return buf_add(&t->b, s, n);
}

/* Moves the text gathered so far into a section; t is left empty. */
int tb_section(struct builder *b, struct tbuf *t, int page)
{
	int rc = bld_section(b, t->b.ptr ? t->b.ptr : "", t->b.len, NULL, 0, page);
	tb_reset(t);
	return rc;
}


int text_next_line(const char *text, size_t len, size_t *pos, struct line *l)
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

int text_is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

struct line text_trim_line(struct line l)
{
	while (l.n && (l.s[0] == ' ' || l.s[0] == '\t'))
		l.s++, l.n--;
	while (l.n && (l.s[l.n - 1] == ' ' || l.s[l.n - 1] == '\t'))
		l.n--;
	return l;
}

/* Whether the text ends the way a sentence does (".", ",", ";", ":"), or is empty. */
int text_ends_like_sentence(const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n'))
		n--;
	return n == 0 || strchr(".,;:", s[n - 1]) != NULL;
}

/* Whether there is a letter (ASCII, or any character past U+00BF). */
int text_has_letter(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (unsigned char)s[i] >= 0xc0)
			return 1;
	return 0;
}

/* ---- Tables ---------------------------------------------------------------------------------------------- */

void table_init(struct table *t, size_t max)
{
	memset(t, 0, sizeof(*t));
	buf_init(&t->row, max);
	buf_init(&t->hdr, max);
}

void table_release(struct table *t)
{
	buf_release(&t->row);
	buf_release(&t->hdr);
}

void table_start(struct table *t)
{
	buf_reset(&t->row);
	buf_reset(&t->hdr);
	t->ncells = t->nhdr = t->rows = 0;
	t->header_marked = 0;
}

int table_cell(struct table *t, const char *s, size_t n)
{
	struct buf c;
	int rc = 0;
	buf_init(&c, BUF_NO_LIMIT);
	buf_add(&c, s, n);
	text_squeeze(&c);
	if (buf_add(&t->row, c.ptr ? c.ptr : "", c.len) < 0 || buf_add(&t->row, "", 1) < 0)
		rc = -1;
	else
		t->ncells++;
	buf_release(&c);
	return rc;
}

/* The k-th NUL-terminated string of b (holding count of them), or "". */
static const char *nth(const struct buf *b, size_t count, size_t k)
{
	const char *p = b->ptr;
	if (k >= count || !p)
		return "";
	while (k--)
		p += strlen(p) + 1;
	return p;
}

/* A first row reads as a header when it has two cells or more, each short and with a letter, none of them a
 * sentence: "Days off sick | Certificate needed", not "1 | Question – Does the project ...". */
static int looks_like_header(const struct table *t)
{
	if (t->ncells < 2)
		return 0;
	size_t filled = 0;
	for (size_t k = 0; k < t->ncells; k++) {
		const char *c = nth(&t->row, t->ncells, k);
		size_t n = strlen(c);
		if (n == 0)
			continue;
		if (n > 60 || !text_has_letter(c, n) || (n > 1 && c[n - 1] == '.'))
			return 0;
		filled++;
	}
	return filled >= 2;
}

int table_row_end(struct table *t, int header, struct buf *out)
{
	int rc = 0;
	size_t filled = 0;
	for (size_t k = 0; k < t->ncells; k++)
		filled += nth(&t->row, t->ncells, k)[0] != '\0';
	if (filled == 0)
		goto out;
	if (header)
		t->header_marked = 1;
	if ((header || (t->rows == 0 && !t->header_marked && looks_like_header(t))) && t->nhdr == 0) {
		/* kept, and written only if no row follows (a table that is all header) */
		buf_reset(&t->hdr);
		buf_add(&t->hdr, t->row.ptr, t->row.len);
		t->nhdr = t->ncells;
		t->hdr_pending = 1;
		goto out;
	}
	t->hdr_pending = 0;
	if (out->len && buf_add(out, "\n", 1) < 0)
		return -1;
	const char *sep = "";
	for (size_t k = 0; k < t->ncells; k++) {
		const char *c = nth(&t->row, t->ncells, k), *h = nth(&t->hdr, t->nhdr, k);
		if (!c[0])
			continue;
		/* a row numbered in its first cell reads "1. Question ..." */
		if (k == 0 && !t->nhdr && t->ncells > 1 && strspn(c, "0123456789") == strlen(c) && strlen(c) <= 3) {
			if (buf_addf(out, "%s.", c) < 0)
				return -1;
			sep = " ";
			continue;
		}
		if (buf_adds(out, sep) < 0 || (h[0] && strcmp(h, c) != 0 && buf_addf(out, "%s: ", h) < 0) ||
		    buf_adds(out, c) < 0)
			return -1;
		sep = "; ";
	}
	t->rows++;
out:
	buf_reset(&t->row);
	t->ncells = 0;
	return rc;
}

int table_end(struct table *t, struct buf *out)
{
	int rc = 0;
	if (t->hdr_pending && t->nhdr) {
		/* only a header: its cells as one row */
		for (size_t k = 0; k < t->nhdr && rc == 0; k++)
			rc = buf_addf(out, "%s%s", k ? (out->len ? "; " : "") : (out->len ? "\n" : ""),
				      nth(&t->hdr, t->nhdr, k));
	}
	table_start(t);
	t->hdr_pending = 0;
	return rc < 0 ? -1 : 0;
}

/* Whether superscript text is only a footnote mark: digits, brackets, "*", daggers (empty counts). */
int text_is_footnote_mark(const char *s, size_t n)
{
	if (n == 0 || n > 12)
		return n == 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789[]()*, ", s[i]) && !(i + 2 < n && !memcmp(s + i, "\xe2\x80\xa0", 3)) &&
		    !(i + 2 < n && !memcmp(s + i, "\xe2\x80\xa1", 3)))
			return 0;
	return 1;
}
