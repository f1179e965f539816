/* Cursor encoding for keyset pagination. */
#include "page.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "util.h"
#include "banned.h"

int page_cursor_parse(const char *cursor, struct page_pos *pos, struct fs_error *e)
{
	const char *us = strchr(cursor, '_');
	size_t wl = us ? (size_t)(us - cursor) : 0;
	if (!us || wl == 0 || wl >= sizeof(pos->when) || strlen(us + 1) != 36 || !util_is_uuid(us + 1))
		goto bad;
	int dots = 0;
	for (size_t i = 0; i < wl; i++) {
		if (cursor[i] == '.')
			dots++;
		else if (!isdigit((unsigned char)cursor[i]))
			goto bad;
	}
	if (dots > 1 || cursor[0] == '.')
		goto bad;
	memcpy(pos->when, cursor, wl);
	pos->when[wl] = '\0';
	memcpy(pos->id, us + 1, 37);
	return 0;
bad:
	return fs_fail(e, FS_EINVAL, "cursor is not valid (use the next_cursor of the previous page)");
}

char *page_cursor_make(const char *when, const char *id)
{
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	buf_addf(&b, "%s_%s", when, id);
	return buf_take(&b, NULL);
}
