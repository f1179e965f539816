/* Keyset pagination shared by every list: newest first by (created_at, id); the cursor is the position of the
 * last row shown, "<unix seconds with 6 decimals>_<uuid>". */
#ifndef FAQSURE_PAGE_H
#define FAQSURE_PAGE_H

#include <stddef.h>

#include "core/db.h"
#include "core/err.h"

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

/* One page of an account's rows in keyset order:
 *   SELECT <columns> FROM <table> WHERE account_id = ? [AND past the cursor]
 *   ORDER BY created_at DESC, id DESC LIMIT limit + 1          (ASC, from the oldest, when oldest_first)
 * columns and table are SQL text of the program, never client data; the row's id must be the first column. r
 * gets up to limit + 1 rows (release it with db_res_release): page_shown says how many make the page and
 * page_next gives the next page's cursor from the column holding UNIX_TIMESTAMP(created_at). */
int page_select(struct db *db, struct db_res *r, const char *columns, const char *table, long long account_id,
		long long limit, const char *cursor, int oldest_first, struct fs_error *e);
/* The same, with further conditions (SQL text of the program, never client data) on the rows. */
int page_select_where(struct db *db, struct db_res *r, const char *columns, const char *table, const char *where,
		      long long account_id, long long limit, const char *cursor, int oldest_first, struct fs_error *e);
size_t page_shown(const struct db_res *r, long long limit);
/* A malloc'd cursor for the page after the rows shown, or NULL when they were the last. */
char *page_next(const struct db_res *r, long long limit, size_t when_col);

#endif
