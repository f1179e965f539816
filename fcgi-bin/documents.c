/* documents.fcgi — the knowledge base's documents: upload, list, one, delete. Uploads are stored with a job;
 * `faqsurectl worker` extracts, chunks and embeds them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/page.h"
#include "core/util.h"
#include "extract/extract.h"
#include "vstore/vstore.h"
#include "web/app.h"
#include "web/multipart.h"
#include "core/banned.h"

#define METADATA_MAX_BYTES 65536

#define ISO(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"
#define DOC_COLUMNS                                                                                           \
	"id, filename, status, content_type, size_bytes, chunk_count, error, metadata, " ISO("created_at") ", "  \
	ISO("updated_at") ", UNIX_TIMESTAMP(created_at), tokens"

static json_t *doc_object(const struct db_res *r, size_t i)
{
	const char *meta = db_cell(r, i, 7), *err = db_cell(r, i, 6), *ctype = db_cell(r, i, 3);
	json_t *m = meta ? json_loads(meta, 0, NULL) : NULL;
	return json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:o, s:o, s:s, s:s}", "id", db_cell(r, i, 0),
			 "filename", db_cell(r, i, 1), "status", db_cell(r, i, 2), "content_type",
			 ctype ? json_string(ctype) : json_null(), "size_bytes", (json_int_t)db_cell_ll(r, i, 4, 0),
			 "chunk_count", (json_int_t)db_cell_ll(r, i, 5, 0), "tokens", (json_int_t)db_cell_ll(r, i, 11, 0),
			 "error", err ? json_string(err) : json_null(), "metadata", m ? m : json_object(), "created_at",
			 db_cell(r, i, 8), "updated_at", db_cell(r, i, 9));
}

/* One document of the key's account by id: FS_ENOTFOUND otherwise (another account's id included). */
static int find_document(struct request *req, const char *id, json_t **doc, struct fs_error *e)
{
	struct db_res r;
	if (!util_is_uuid(id))
		return fs_fail(e, FS_ENOTFOUND, "no document '%s'", id);
	int rc = db_exec(req->db, &r, e, "SELECT " DOC_COLUMNS " FROM documents WHERE id = ? AND account_id = ?", "si",
			 id, req->key.account_id);
	if (rc < 0)
		return rc;
	if (r.nrows == 0)
		rc = fs_fail(e, FS_ENOTFOUND, "no document '%s'", id);
	else
		*doc = doc_object(&r, 0);
	db_res_release(&r);
	return rc;
}

static int get_document(struct request *req, struct fs_error *e)
{
	json_t *doc;
	int rc = find_document(req, req->params[0], &doc, e);
	return rc < 0 ? rc : req_reply(req, 200, doc);
}

static int delete_document(struct request *req, struct fs_error *e)
{
	json_t *doc;
	int rc = find_document(req, req->params[0], &doc, e);
	if (rc < 0)
		return rc;
	json_decref(doc);
	/* Its bytes, job and chunks (with their vectors) go with it: foreign keys cascade. Searches in every
	 * process see the change at once (vector generation); an external store is told through the outbox. */
	if ((rc = db_begin(req->db, e)) < 0)
		return rc;
	if ((rc = db_exec(req->db, NULL, e, "DELETE FROM documents WHERE id = ? AND account_id = ?", "si",
			  req->params[0], req->key.account_id)) < 0 ||
	    (rc = vstore_changed(req->cfg, req->db, req->key.account_id, req->params[0], "delete", e)) < 0 ||
	    (rc = db_commit(req->db, e)) < 0) {
		db_rollback(req->db);
		return rc;
	}
	return req_reply(req, 200, json_pack("{s:s, s:b}", "id", req->params[0], "deleted", 1));
}

/* ---- upload ---- */

enum upload_field { FIELD_NONE, FIELD_FILE, FIELD_METADATA, FIELD_OTHER };

struct upload {
	enum upload_field in;
	int have_file;
	struct buf file; /* capped at upload.max_bytes */
	struct buf metadata;
	char *filename;
};

static int upload_begin(void *ctx, const char *name, const char *filename, const char *ctype, struct fs_error *e)
{
	struct upload *u = ctx;
	(void)ctype; /* the type comes from the content, never from the client */
	if (!strcmp(name, "file")) {
		if (u->have_file)
			return fs_fail(e, FS_EINVAL, "send one file per upload");
		u->have_file = 1;
		u->filename = multipart_safe_filename(filename);
		u->in = FIELD_FILE;
	} else {
		u->in = !strcmp(name, "metadata") ? FIELD_METADATA : FIELD_OTHER;
	}
	return 0;
}

static int upload_data(void *ctx, const char *data, size_t len, struct fs_error *e)
{
	struct upload *u = ctx;
	if (u->in == FIELD_FILE && buf_add(&u->file, data, len) < 0)
		return fs_fail(e, FS_ETOOLARGE, "the file is larger than the %zu bytes allowed", u->file.max);
	if (u->in == FIELD_METADATA && buf_add(&u->metadata, data, len) < 0)
		return fs_fail(e, FS_EINVAL, "metadata is larger than %d bytes", METADATA_MAX_BYTES);
	return 0;
}

static int upload_end(void *ctx, struct fs_error *e)
{
	(void)e;
	((struct upload *)ctx)->in = FIELD_NONE;
	return 0;
}

static const struct multipart_handler upload_parts = { upload_begin, upload_data, upload_end };

/* Streams the multipart body into u; nothing beyond the caps is kept. */
static int read_upload(struct request *req, struct upload *u, struct fs_error *e)
{
	char boundary[MULTIPART_MAX_BOUNDARY + 1], chunk[65536];
	long long max = req->cfg->upload_max_bytes;
	int rc = multipart_boundary(req_param(req, "CONTENT_TYPE"), boundary, sizeof(boundary), e);
	if (rc < 0)
		return rc;
	/* Room for the multipart framing and the metadata field beyond the file itself. */
	if (req->content_length > max + METADATA_MAX_BYTES + 65536)
		return fs_fail(e, FS_ETOOLARGE, "the upload is larger than the %lld bytes allowed", max);
	if (req->content_length == 0) /* mod_fcgid passes an empty body for one above its FcgidMaxRequestLen */
		return fs_fail(e, FS_EINVAL, "the request body is empty (or was larger than the web server accepts)");
	struct multipart *mp = multipart_new(boundary, &upload_parts, u);
	long n;
	long long total = 0;
	while (rc == 0 && (n = req_read(req, chunk, sizeof(chunk))) > 0) {
		rc = multipart_feed(mp, chunk, (size_t)n, e);
		total += n;
		if (req->content_length >= 0 && total >= req->content_length)
			break;
	}
	if (rc == 0)
		rc = multipart_finish(mp, e);
	multipart_free(mp);
	if (rc == 0 && !u->have_file)
		rc = fs_fail(e, FS_EINVAL, "missing the form field \"file\"");
	if (rc == 0 && u->file.len == 0)
		rc = fs_fail(e, FS_EINVAL, "the file is empty");
	return rc;
}

/* The id of the newest non-failed document of the account with these exact bytes, if any. */
static int find_duplicate(struct request *req, const unsigned char sha[32], json_t **doc, struct fs_error *e)
{
	struct db_res r;
	*doc = NULL;
	int rc = db_exec(req->db, &r, e,
			 "SELECT id, filename, status FROM documents WHERE account_id = ? AND sha256 = ?"
			 " AND status <> 'failed' ORDER BY created_at DESC LIMIT 1",
			 "ib", req->key.account_id, sha, (size_t)32);
	if (rc < 0)
		return rc;
	if (r.nrows)
		*doc = json_pack("{s:s, s:s, s:s, s:b}", "id", db_cell(&r, 0, 0), "filename", db_cell(&r, 0, 1),
				 "status", db_cell(&r, 0, 2), "duplicate", 1);
	db_res_release(&r);
	return 0;
}

/* Stores the document, its bytes and its job in one transaction. */
static int store_upload(struct request *req, const struct upload *u, const char *mime, const char *metadata,
			const unsigned char sha[32], char id[37], struct fs_error *e)
{
	struct db_res r;
	char replaces[37] = "";
	int rc = db_exec(req->db, &r, e,
			 "SELECT id FROM documents WHERE account_id = ? AND filename = ? ORDER BY created_at DESC LIMIT 1",
			 "is", req->key.account_id, u->filename);
	if (rc < 0)
		return rc;
	if (r.nrows)
		snprintf(replaces, sizeof(replaces), "%s", db_cell(&r, 0, 0));
	db_res_release(&r);
	util_uuid(id);
	if ((rc = db_begin(req->db, e)) < 0)
		return rc;
	if ((rc = db_exec(req->db, NULL, e,
			  "INSERT INTO documents (id, account_id, filename, status, content_type, size_bytes, metadata,"
			  " sha256, replaces_id) VALUES (?, ?, ?, 'processing', ?, ?, ?, ?, ?)",
			  "sissisbs", id, req->key.account_id, u->filename, mime, (long long)u->file.len, metadata, sha,
			  (size_t)32, replaces[0] ? replaces : NULL)) < 0 ||
	    (rc = db_exec(req->db, NULL, e, "INSERT INTO document_blobs (document_id, data) VALUES (?, ?)", "sb", id,
			  u->file.ptr, u->file.len)) < 0 ||
	    (rc = db_exec(req->db, NULL, e, "INSERT INTO ingest_jobs (document_id, account_id) VALUES (?, ?)", "si", id,
			  req->key.account_id)) < 0) {
		db_rollback(req->db);
		return rc;
	}
	return db_commit(req->db, e);
}

static int upload_document(struct request *req, struct fs_error *e)
{
	struct upload u = { 0 };
	json_t *meta = NULL, *dup = NULL;
	char *meta_text = NULL, mime[128], id[37];
	unsigned char sha[32];
	buf_init(&u.file, (size_t)req->cfg->upload_max_bytes);
	buf_init(&u.metadata, METADATA_MAX_BYTES);
	int rc = read_upload(req, &u, e);
	if (rc < 0)
		goto out;
	if (u.metadata.len) {
		json_error_t jerr;
		meta = json_loadb(u.metadata.ptr, u.metadata.len, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(meta)) {
			rc = fs_fail(e, FS_EINVAL, "metadata must be a JSON object");
			goto out;
		}
	}
	enum extract_kind kind = extract_detect(u.file.ptr, u.file.len, u.filename, mime, sizeof(mime));
	if (kind == EXTRACT_NONE) {
		rc = fs_fail(e, FS_EUNSUPPORTED,
			     "unsupported file type %s; upload PDF, DOCX, HTML, Markdown, plain text or CSV", mime);
		goto out;
	}
	util_sha256(u.file.ptr, u.file.len, sha);
	if ((rc = find_duplicate(req, sha, &dup, e)) < 0)
		goto out;
	if (dup) { /* the same bytes are already in the knowledge base: not indexed twice */
		rc = req_reply(req, 200, dup);
		goto out;
	}
	if (!meta)
		meta = json_object();
	meta_text = json_dumps(meta, JSON_COMPACT);
	if ((rc = store_upload(req, &u, extract_kind_mime(kind), meta_text, sha, id, e)) < 0)
		goto out;
	rc = req_reply(req, 200, json_pack("{s:s, s:s, s:s}", "id", id, "filename", u.filename, "status", "processing"));
out:
	json_decref(meta);
	free(meta_text);
	free(u.filename);
	buf_release(&u.file);
	buf_release(&u.metadata);
	return rc;
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
	{ "POST", "/api/v1/documents/upload", upload_document, ROUTE_SPENDS },
	{ "GET", "/api/v1/documents/{id}", get_document, 0 },
	{ "DELETE", "/api/v1/documents/{id}", delete_document, 0 },
};

int main(void)
{
	return app_main("documents", routes, sizeof(routes) / sizeof(routes[0]));
}
