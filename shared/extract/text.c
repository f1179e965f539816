/* Plain text reader. */
#include "internal.h"

#include "banned.h"

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
	rc = bld_section(b, buf_str(&out), out.len, NULL, 0, 0);
out:
	buf_release(&out);
	buf_release(&line);
	return rc;
}
