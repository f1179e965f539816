/* Keyset pagination shared by every list: newest first by (created_at, id); the cursor is the position of the
 * last row shown, "<unix seconds with 6 decimals>_<uuid>". */
#ifndef FAQSURE_PAGE_H
#define FAQSURE_PAGE_H

#include "err.h"

#define PAGE_DEFAULT_LIMIT 20
#define PAGE_MAX_LIMIT 100

struct page_pos {
	char when[32]; /* decimal Unix time, e.g. "1764137138.123456" */
	char id[37];
};

/* Parses a client's cursor: FS_EINVAL when it is not one we made. */
int page_cursor_parse(const char *cursor, struct page_pos *pos, struct fs_error *e);
/* A malloc'd cursor for the row with these values. */
char *page_cursor_make(const char *when, const char *id);

#endif
