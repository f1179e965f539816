/* Cursor encoding for keyset pagination. */
#include "core/page.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"
#include "core/banned.h"

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

int page_select(struct db *db, struct db_res *r, const char *columns, const char *table, long long account_id,
		long long limit, const char *cursor, int oldest_first, struct fs_error *e)
{
	return page_select_where(db, r, columns, table, NULL, account_id, limit, cursor, oldest_first, e);
}

int page_select_where(struct db *db, struct db_res *r, const char *columns, const char *table, const char *where,
		      long long account_id, long long limit, const char *cursor, int oldest_first, struct fs_error *e)
{
	struct page_pos pos;
	struct buf sql;
	const char *after = oldest_first ? ">" : "<", *order = oldest_first ? "" : " DESC";
	int rc = cursor ? page_cursor_parse(cursor, &pos, e) : 0;
	if (rc < 0)
		return rc;
	buf_init(&sql, BUF_NO_LIMIT);
	buf_addf(&sql, "SELECT %s FROM %s WHERE account_id = ?", columns, table);
	if (where)
		buf_addf(&sql, " AND (%s)", where);
	if (cursor)
		buf_addf(&sql, " AND (created_at %s FROM_UNIXTIME(?) OR (created_at = FROM_UNIXTIME(?) AND id %s ?))", after,
			 after);
	buf_addf(&sql, " ORDER BY created_at%s, id%s LIMIT ?", order, order);
	if (cursor)
		rc = db_exec(db, r, e, buf_str(&sql), "isssi", account_id, pos.when, pos.when, pos.id, limit + 1);
	else
		rc = db_exec(db, r, e, buf_str(&sql), "ii", account_id, limit + 1);
	buf_release(&sql);
	return rc;
}

size_t page_shown(const struct db_res *r, long long limit)
{
	return r->nrows > (size_t)limit ? (size_t)limit : r->nrows;
}

char *page_next(const struct db_res *r, long long limit, size_t when_col)
{
	size_t shown = page_shown(r, limit);
	if (r->nrows <= shown || shown == 0)
		return NULL;
	return page_cursor_make(db_cell(r, shown - 1, when_col), db_cell(r, shown - 1, 0));
}
