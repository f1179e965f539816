/* Markdown reader, hand-written: front matter to metadata, ATX, setext and one-line HTML headings to the
 * section path, inline syntax (links, emphasis, code, inline HTML, Liquid tags) to plain text. Every scan is
 * bounded (MD_WINDOW), so hostile input stays linear. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/banned.h"

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
	while (text_next_line(s, n, &pos, &l)) {
		int indented = l.n > 0 && (l.s[0] == ' ' || l.s[0] == '\t');
		struct line t = text_trim_line(l);
		if (block_fold >= 0) {
			if (indented || t.n == 0) {
				if (block.len)
					buf_add(&block, block_fold ? " " : "\n", 1);
				buf_add(&block, t.s, t.n);
				continue;
			}
			bld_meta_set(meta, key, buf_str(&block), block.len);
			buf_reset(&block);
			block_fold = -1;
		}
		if (t.n == 0 || t.s[0] == '#')
			continue;
		if (t.s[0] == '-' && (t.n == 1 || t.s[1] == ' ') && list_ok) {
			struct line item = { t.s + 1, t.n - 1 };
			item = text_trim_line(item);
			if (item.n >= 2 && (item.s[0] == '"' || item.s[0] == '\'') && item.s[item.n - 1] == item.s[0])
				item.s++, item.n -= 2;
			struct buf v;
			buf_init(&v, 64 * KIB);
			if (text_clean(&v, item.s, item.n) == 0 && v.len) {
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
		v = text_trim_line(v);
		list_ok = v.n == 0;
		if (v.n >= 1 && (v.s[0] == '|' || v.s[0] == '>') && (v.n == 1 || v.s[1] == '-' || v.s[1] == '+')) {
			block_fold = v.s[0] == '>';
			continue;
		}
		if (v.n >= 2 && (v.s[0] == '"' || v.s[0] == '\'') && v.s[v.n - 1] == v.s[0])
			v.s++, v.n -= 2;
		if (v.n)
			bld_meta_set(meta, key, v.s, v.n);
	}
	if (block_fold >= 0)
		bld_meta_set(meta, key, buf_str(&block), block.len);
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
		text_utf8_put(out, (uint32_t)cp);
		return len;
	}
	for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++)
		if (strlen(ents[i].name) == len - 2 && memcmp(ents[i].name, s + 1, len - 2) == 0) {
			text_utf8_put(out, ents[i].cp);
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

/* The destination of an inline link "(url "title")" or "(<url>)": offset and length within s (n bytes). */
static void link_target(const char *s, size_t n, size_t *off, size_t *len)
{
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n'))
		i++;
	if (i < n && s[i] == '<') {
		const char *gt = memchr(s + i, '>', n - i);
		*off = i + 1;
		*len = gt ? (size_t)(gt - s) - i - 1 : 0;
		return;
	}
	size_t j = i;
	while (j < n && s[j] != ' ' && s[j] != '\t' && s[j] != '\n')
		j++;
	*off = i;
	*len = j - i;
}

/* An address a reader can follow from anywhere: http(s) or mailto, no blanks, no template syntax. Relative
 * and anchor links ("#annual-leave", "../x.md") mean nothing outside the site and are dropped. */
static int is_web_address(const char *s, size_t n)
{
	if (!((n > 8 && strncasecmp(s, "https://", 8) == 0) || (n > 7 && strncasecmp(s, "http://", 7) == 0) ||
	      (n > 7 && strncasecmp(s, "mailto:", 7) == 0)))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == ' ' || s[i] == '{' || s[i] == '}' || s[i] == '<' || s[i] == '>' || s[i] == '"')
			return 0;
	return 1;
}

/* Markdown inline syntax to plain text: links and images keep their text, emphasis and code marks go, inline
 * HTML tags, comments and Liquid/Jinja tags ({% %}, {{ }}) go, entities and backslash escapes are decoded.
 * *in_comment carries an HTML comment across lines. Linear in n: see MD_WINDOW and struct md_memo. */
static int md_inline_at(const char *s, size_t n, struct buf *out, int *in_comment, int nesting, int keep_urls)
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
				size_t after = close + 1, url = 0, url_len = 0;
				if (after < n && s[after] == '(') {
					size_t end = match_bracket(s, n, after, '(', ')');
					if (end < n) {
						link_target(s + after + 1, end - after - 1, &url, &url_len);
						url += after + 1;
						after = end + 1;
					}
				} else if (after < n && s[after] == '[') {
					size_t end = match_bracket(s, n, after, '[', ']');
					if (end < n)
						after = end + 1;
				} else if (close > open + 1 && s[open + 1] == '^') {
					i = after; /* a footnote reference */
					continue;
				}
				size_t from = out->len;
				if (md_inline_at(s + open + 1, close - open - 1, out, in_comment, nesting + 1, keep_urls) < 0)
					return -1;
				for (size_t k = from; k < out->len; k++)
					if (out->ptr[k] == '\n')
						out->ptr[k] = ' ';
				/* an absolute address stays, after the text it belongs to (not for images, whose
				 * address is a picture, nor in headings) */
				if (url_len && c != '!' && keep_urls && is_web_address(s + url, url_len)) {
					size_t tl = out->len - from;
					int same = tl == url_len && memcmp(out->ptr + from, s + url, url_len) == 0;
					if (url_len > 7 && strncasecmp(s + url, "mailto:", 7) == 0)
						same = tl == url_len - 7 && memcmp(out->ptr + from, s + url + 7, tl) == 0;
					if (!same && (buf_adds(out, tl ? " (" : "") < 0 || buf_add(out, s + url, url_len) < 0 ||
						      buf_adds(out, tl ? ")" : "") < 0))
						return -1;
				}
				i = after;
				continue;
			}
		}
		if (c == '<' && n - i > 5 && strncasecmp(s + i, "<sup", 4) == 0 && (s[i + 4] == '>' || s[i + 4] == ' ')) {
			/* inline <sup>: a footnote mark ("<sup><a href="#fn2">2</a></sup>") goes, other text stays */
			size_t lim = n - i > MD_WINDOW ? i + MD_WINDOW : n;
			const char *gt = memchr(s + i, '>', lim - i);
			const char *end = gt ? memmem(gt, (size_t)(s + lim - gt), "</sup>", 6) : NULL;
			if (end && nesting < MD_MAX_NESTING) {
				struct buf inner;
				int ic = 0, rc;
				buf_init(&inner, BUF_NO_LIMIT);
				rc = md_inline_at(gt + 1, (size_t)(end - gt - 1), &inner, &ic, nesting + 1, 0);
				if (rc == 0 && !text_is_footnote_mark(inner.ptr ? inner.ptr : "", inner.len))
					rc = buf_add(out, inner.ptr ? inner.ptr : "", inner.len);
				buf_release(&inner);
				if (rc < 0)
					return -1;
				i = (size_t)(end - s) + 6;
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

/* keep_urls: a link to an absolute http(s) address keeps it, "text (https://...)" (body text, not headings). */
static int md_inline(const char *s, size_t n, struct buf *out, int *in_comment, int keep_urls)
{
	return md_inline_at(s, n, out, in_comment, 0, keep_urls);
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
	struct line t = text_trim_line(l);
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
	t = text_trim_line(t);
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
	*text = text_trim_line(t);
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
	struct buf sect;  /* the current section's paragraphs, plain text */
	struct buf para;  /* the current paragraph's source lines (inline syntax still in them), or a code block */
	int code;         /* para is a fenced code block: kept as it is */
	int in_comment;   /* an HTML comment is open at the end of para's last line */
	struct table tab; /* a pipe table being read */
	int in_table;
	struct buf rows;  /* the table's rows as text */
};

/* Whether an HTML comment is open after line l, given whether one was open before it. Inline parsing removes
 * the comment later; this only keeps a comment's blank lines and "#" lines from ending the paragraph. */
static int comment_open_after(struct line l, int open)
{
	const char *p = l.s, *e = l.s + l.n;
	for (;;) {
		const char *hit = open ? memmem(p, (size_t)(e - p), "-->", 3) : memmem(p, (size_t)(e - p), "<!--", 4);
		if (!hit)
			return open;
		p = hit + (open ? 3 : 4);
		open = !open;
	}
}

/* The paragraph's source to plain text, into the section: inline syntax is read across its lines (a link's
 * text may wrap), then each line is squeezed; line breaks stay. A code block is kept as it is. */
static int md_flush_para(struct md *m)
{
	struct buf t;
	int rc = 0, c = 0;
	if (m->para.len == 0)
		goto out;
	buf_init(&t, m->b->max);
	if (m->code) {
		rc = buf_add(&t, m->para.ptr, m->para.len);
	} else {
		struct buf raw;
		buf_init(&raw, BUF_NO_LIMIT);
		rc = md_inline(m->para.ptr, m->para.len, &raw, &c, 1);
		size_t pos = 0;
		struct line l;
		struct buf one;
		buf_init(&one, BUF_NO_LIMIT);
		while (rc == 0 && text_next_line(buf_str(&raw), raw.len, &pos, &l)) {
			buf_reset(&one);
			buf_add(&one, l.s, l.n);
			text_squeeze(&one);
			if (one.len && ((t.len && buf_add(&t, "\n", 1) < 0) || buf_add(&t, one.ptr, one.len) < 0))
				rc = -1;
		}
		buf_release(&one);
		buf_release(&raw);
	}
	text_tidy(&t);
	if (rc == 0 && t.len &&
	    ((m->sect.len && buf_add(&m->sect, "\n\n", 2) < 0) || buf_add(&m->sect, t.ptr, t.len) < 0))
		rc = -1;
	buf_release(&t);
	if (rc < 0)
		rc = bld_too_large(m->b);
out:
	buf_reset(&m->para);
	m->code = 0;
	return rc;
}

/* Cells of a pipe-table line: split at "|" outside code spans and escapes, outer pipes dropped; each cell's
 * inline syntax read. */
static int md_table_cells(struct md *m, struct line t)
{
	if (t.n && t.s[0] == '|')
		t.s++, t.n--;
	if (t.n && t.s[t.n - 1] == '|' && !(t.n >= 2 && t.s[t.n - 2] == '\\'))
		t.n--;
	size_t start = 0;
	int code = 0;
	for (size_t i = 0; i <= t.n; i++) {
		if (i < t.n && t.s[i] == '\\') {
			i++;
			continue;
		}
		if (i < t.n && t.s[i] == '`')
			code = !code;
		if (i < t.n && (t.s[i] != '|' || code))
			continue;
		struct buf c;
		int cm = 0, rc;
		buf_init(&c, m->b->max);
		rc = md_inline(t.s + start, i - start, &c, &cm, 1);
		if (rc == 0)
			rc = table_cell(&m->tab, c.ptr ? c.ptr : "", c.len);
		buf_release(&c);
		if (rc < 0)
			return bld_too_large(m->b);
		start = i + 1;
	}
	return 0;
}

static int md_table_end(struct md *m)
{
	int rc = 0;
	if (!m->in_table)
		return 0;
	m->in_table = 0;
	if (table_end(&m->tab, &m->rows) < 0 ||
	    (m->rows.len && ((m->sect.len && buf_add(&m->sect, "\n\n", 2) < 0) ||
			     buf_add(&m->sect, m->rows.ptr, m->rows.len) < 0)))
		rc = bld_too_large(m->b);
	buf_reset(&m->rows);
	return rc;
}

static int md_flush_section(struct md *m)
{
	if (md_table_end(m) < 0 || md_flush_para(m) < 0)
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
	if (md_inline(s, n, &h, &c, 0) < 0) {
		rc = bld_too_large(m->b);
	} else {
		text_squeeze(&h);
		rc = md_flush_section(m);
		if (rc == 0 && h.len)
			rc = bld_heading(m->b, level, h.ptr, h.len, 0);
	}
	buf_release(&h);
	return rc;
}

/* Appends a source line to the paragraph: blockquote marks dropped; a list item's marker ("*", "+", "-")
 * becomes "- " and a task box ("[ ]", "[x]") goes, so every item reads the same and no glyph is left; a
 * footnote definition's label ("[^1]:") goes. The line break stays. */
static int md_text_line(struct md *m, struct line l)
{
	struct line x = text_trim_line(l);
	int item = 0;
	if (!m->in_comment) {
		while (x.n && x.s[0] == '>') {
			x.s++, x.n--;
			x = text_trim_line(x);
		}
		if (x.n >= 2 && (x.s[0] == '*' || x.s[0] == '+' || x.s[0] == '-') && (x.s[1] == ' ' || x.s[1] == '\t')) {
			x.s += 2, x.n -= 2;
			x = text_trim_line(x);
			item = 1;
		}
		if (item && x.n >= 3 && x.s[0] == '[' && (x.s[1] == ' ' || x.s[1] == 'x' || x.s[1] == 'X') &&
		    x.s[2] == ']') {
			x.s += 3, x.n -= 3;
			x = text_trim_line(x);
		}
		if (x.n > 3 && x.s[0] == '[' && x.s[1] == '^') {
			const char *close = memchr(x.s, ']', x.n);
			if (close && close + 1 < x.s + x.n && close[1] == ':') {
				x.n -= (size_t)(close + 2 - x.s);
				x.s = close + 2;
				x = text_trim_line(x);
			}
		}
	}
	m->in_comment = comment_open_after(l, m->in_comment);
	if ((m->para.len && buf_add(&m->para, "\n", 1) < 0) || (item && buf_add(&m->para, "- ", 2) < 0) ||
	    buf_add(&m->para, x.s, x.n) < 0)
		return bld_too_large(m->b);
	return 0;
}

int extract_markdown_read(const char *text, size_t len, const struct extract_limits *lim, struct builder *b)
{
	struct md m;
	size_t pos = 0;
	struct line l;
	int rc = 0, fenced = 0;
	char fch = 0;
	size_t flen = 0;

	(void)lim;
	memset(&m, 0, sizeof(m));
	m.b = b;
	buf_init(&m.sect, b->max);
	buf_init(&m.para, b->max);
	buf_init(&m.rows, b->max);
	table_init(&m.tab, b->max);

	/* front matter: a first line "---" up to the next "---" or "..." */
	if (text_next_line(text, len, &pos, &l) && text_trim_line(l).n == 3 && memcmp(text_trim_line(l).s, "---", 3) == 0 &&
	    l.s[0] == '-') {
		size_t fm = pos, end = pos;
		struct line k;
		int closed = 0;
		while (text_next_line(text, len, &end, &k)) {
			struct line t = text_trim_line(k);
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

	while (text_next_line(text, len, &pos, &l)) {
		struct line t = text_trim_line(l), inner;
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
		if (m.in_table) {
			if (t.n > 0 && memchr(t.s, '|', t.n) && !is_table_rule(t)) {
				if ((rc = md_table_cells(&m, t)) < 0)
					goto out;
				if (table_row_end(&m.tab, 0, &m.rows) < 0) {
					rc = bld_too_large(b);
					goto out;
				}
				continue;
			}
			if ((rc = md_table_end(&m)) < 0)
				goto out;
		}
		if (is_table_rule(t) && m.para.len && !m.code) {
			/* the paragraph's last line is the header of a pipe table */
			const char *pp = buf_str(&m.para);
			const char *nl = memrchr(pp, '\n', m.para.len);
			struct line hdr = { nl ? nl + 1 : pp, 0 };
			hdr.n = m.para.len - (size_t)(hdr.s - pp);
			if (memchr(hdr.s, '|', hdr.n)) {
				struct buf h;
				buf_init(&h, BUF_NO_LIMIT);
				buf_add(&h, hdr.s, hdr.n);
				m.para.len = nl ? (size_t)(nl - pp) : 0;
				m.para.ptr[m.para.len] = '\0';
				rc = md_flush_para(&m);
				table_start(&m.tab);
				m.in_table = 1;
				if (rc == 0)
					rc = md_table_cells(&m, text_trim_line((struct line){ h.ptr, h.len }));
				if (rc == 0 && table_row_end(&m.tab, 1, &m.rows) < 0)
					rc = bld_too_large(b);
				buf_release(&h);
				if (rc < 0)
					goto out;
				continue;
			}
		}
		if (fence_open(l, &fch, &flen)) {
			if ((rc = md_flush_para(&m)) < 0)
				goto out;
			fenced = 1;
			m.code = 1;
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
			rc = md_heading(&m, level, buf_str(&h), h.len);
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
	buf_release(&m.rows);
	table_release(&m.tab);
	return rc;
}
