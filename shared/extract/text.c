/* Plain text reader. READMEs are often Markdown in all but name: their links and "* " items are read too. */
#include "internal.h"

#include <string.h>
#include <strings.h>

#include "core/banned.h"

/* A Markdown link to a web address, "[text](https://...)" (the text may wrap), at s[i]: its parts, or 0. */
static int web_link_at(const char *s, size_t n, size_t i, size_t *text_end, size_t *url, size_t *url_end)
{
	size_t j = i + 1;
	while (j < n && j - i < 300 && s[j] != ']' && s[j] != '[')
		j++;
	if (j >= n || s[j] != ']' || j + 1 >= n || s[j + 1] != '(')
		return 0;
	size_t u = j + 2, k = u;
	if (!(n - u > 8 && (strncasecmp(s + u, "https://", 8) == 0 || strncasecmp(s + u, "http://", 7) == 0)))
		return 0;
	while (k < n && k - u < 2048 && s[k] != ')' && s[k] != ' ' && s[k] != '\n')
		k++;
	if (k >= n || s[k] != ')')
		return 0;
	*text_end = j, *url = u, *url_end = k;
	return 1;
}

/* out's text with links as "text (url)" (the address alone when it is the text) and "* " items as "- ". */
static int text_links(const struct buf *in, struct buf *out)
{
	const char *s = in->ptr ? in->ptr : "";
	size_t n = in->len;
	for (size_t i = 0; i < n;) {
		size_t te, u, ue;
		if ((i == 0 || s[i - 1] == '\n') && n - i >= 2 && (s[i] == '*' || s[i] == '+') && s[i + 1] == ' ') {
			if (buf_add(out, "- ", 2) < 0)
				return -1;
			i += 2;
		} else if (s[i] == '[' && web_link_at(s, n, i, &te, &u, &ue)) {
			int same = te - i - 1 == ue - u && memcmp(s + i + 1, s + u, ue - u) == 0;
			if ((!same && (buf_add(out, s + i + 1, te - i - 1) < 0 || buf_add(out, " (", 2) < 0)) ||
			    buf_add(out, s + u, ue - u) < 0 || (!same && buf_add(out, ")", 1) < 0))
				return -1;
			i = ue + 1;
		} else {
			if (buf_add(out, s + i, 1) < 0)
				return -1;
			i++;
		}
	}
	return 0;
}

/* One section; paragraphs split at blank lines, line breaks inside a paragraph kept, blank runs squeezed. */
int extract_text_read(const char *text, size_t len, const struct extract_limits *lim, struct builder *b)
{
	struct buf out, line;
	size_t pos = 0;
	struct line l;
	int rc = 0, blank = 0;

	(void)lim;
	buf_init(&out, b->max);
	buf_init(&line, b->max);
	while (text_next_line(text, len, &pos, &l)) {
		if (text_is_blank(l.s, l.n)) {
			blank = 1;
			continue;
		}
		buf_reset(&line);
		if (buf_add(&line, l.s, l.n) < 0) {
			rc = bld_too_large(b);
			goto out;
		}
		text_squeeze(&line);
		if ((out.len && buf_add(&out, blank ? "\n\n" : "\n", blank ? 2 : 1) < 0) ||
		    buf_add(&out, line.ptr, line.len) < 0) {
			rc = bld_too_large(b);
			goto out;
		}
		blank = 0;
	}
	buf_reset(&line);
	if (text_links(&out, &line) < 0) {
		rc = bld_too_large(b);
		goto out;
	}
	rc = bld_section(b, buf_str(&line), line.len, NULL, 0, 0);
out:
	buf_release(&out);
	buf_release(&line);
	return rc;
}
