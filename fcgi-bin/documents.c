/* documents.fcgi — the knowledge base's documents: GET /api/v1/documents (list). */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "page.h"
#include "banned.h"

#define ISO(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"
#define DOC_COLUMNS                                                                                           \
	"id, filename, status, content_type, size_bytes, chunk_count, error, metadata, " ISO("created_at") ", "  \
	ISO("updated_at") ", UNIX_TIMESTAMP(created_at)"

static json_t *doc_object(const struct db_res *r, size_t i)
{
	const char *meta = db_cell(r, i, 7), *err = db_cell(r, i, 6), *ctype = db_cell(r, i, 3);
	json_t *m = meta ? json_loads(meta, 0, NULL) : NULL;
	return json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:o, s:o, s:s, s:s}", "id", db_cell(r, i, 0), "filename",
			 db_cell(r, i, 1), "status", db_cell(r, i, 2), "content_type",
			 ctype ? json_string(ctype) : json_null(), "size_bytes", (json_int_t)db_cell_ll(r, i, 4, 0),
			 "chunk_count", (json_int_t)db_cell_ll(r, i, 5, 0), "error", err ? json_string(err) : json_null(),
			 "metadata", m ? m : json_object(), "created_at", db_cell(r, i, 8), "updated_at",
			 db_cell(r, i, 9));
}

static int list_documents(struct request *req, struct fs_error *e)
{
	long long limit;
	char *cursor = NULL, *status = req_query_param(req, "status");
	struct page_pos pos = { "", "" };
	struct db_res r;
	int rc = req_page_params(req, &limit, &cursor, e);
	if (rc < 0)
		goto out;
	if (status && strcmp(status, "processing") && strcmp(status, "ready") && strcmp(status, "failed")) {
		rc = fs_fail(e, FS_EINVAL, "status must be one of processing, ready, failed");
		goto out;
	}
	if (cursor && (rc = page_cursor_parse(cursor, &pos, e)) < 0)
		goto out;
	/* One statement for every combination: NULL parameters switch their condition off. */
	rc = db_exec(req->db, &r, e,
		     "SELECT " DOC_COLUMNS " FROM documents WHERE account_id = ? AND (? IS NULL OR status = ?)"
		     " AND (? IS NULL OR created_at < FROM_UNIXTIME(?) OR (created_at = FROM_UNIXTIME(?) AND id < ?))"
		     " ORDER BY created_at DESC, id DESC LIMIT ?",
		     "issssssi", req->key.account_id, status, status, cursor ? pos.when : NULL, pos.when, pos.when,
		     pos.id, limit + 1);
	if (rc < 0)
		goto out;
	json_t *docs = json_array();
	size_t shown = r.nrows > (size_t)limit ? (size_t)limit : r.nrows;
	for (size_t i = 0; i < shown; i++)
		json_array_append_new(docs, doc_object(&r, i));
	char *next = r.nrows > shown ? page_cursor_make(db_cell(&r, shown - 1, 10), db_cell(&r, shown - 1, 0)) : NULL;
	db_res_release(&r);
	rc = req_reply_page(req, "documents", docs, next);
out:
	free(cursor);
	free(status);
	return rc;
}

static const struct route routes[] = {
	{ "GET", "/api/v1/documents", list_documents, 0 },
};

int main(void)
{
	return app_main("documents", routes, sizeof(routes) / sizeof(routes[0]));
}
