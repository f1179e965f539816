/* documents.fcgi — the knowledge base's documents: upload, list, one, delete. Uploads are stored with a job;
 * `faqsurectl worker` extracts, chunks and embeds them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/page.h"
#include "core/util.h"
#include "extract/extract.h"
#include "ingest/ingest.h"
#include "kb/document.h"
#include "web/app.h"
#include "web/multipart.h"
#include "core/banned.h"

#define METADATA_MAX_BYTES 65536

static int get_document(struct request *req, struct fs_error *e)
{
	json_t *doc;
	int rc = document_get(req->db, req->key.account_id, req->params[0], &doc, e);
	return rc < 0 ? rc : req_reply(req, 200, doc);
}

/* Its bytes, job and chunks (with their vectors) go with it. */
static int delete_document(struct request *req, struct fs_error *e)
{
	int rc = db_begin(req->db, e);
	if (rc < 0)
		return rc;
	if ((rc = document_delete(req->db, req->cfg, req->key.account_id, req->params[0], e)) < 0 ||
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

struct store {
	long long account_id;
	const struct document_new *d;
	char *id;
};

static int store_once(struct db *db, void *arg, struct fs_error *e)
{
	struct store *st = arg;
	int rc = db_begin(db, e);
	if (rc < 0)
		return rc;
	if ((rc = document_insert(db, st->account_id, st->d, st->id, e)) < 0 ||
	    (rc = ingest_enqueue(db, st->account_id, st->id, e)) < 0 || (rc = db_commit(db, e)) < 0) {
		db_rollback(db);
		return rc;
	}
	return 0;
}

/* Stores the document, its bytes and its job in one transaction, run again when it loses to another writer (on a
 * Galera cluster, uploads on two nodes at once fail certification now and then). */
static int store_upload(struct request *req, const struct upload *u, const char *mime, const char *metadata,
			const unsigned char sha[32], char id[37], struct fs_error *e)
{
	const struct document_new d = { .filename = u->filename, .content_type = mime, .metadata = metadata,
					.data = u->file.ptr, .len = u->file.len, .sha256 = sha };
	struct store st = { req->key.account_id, &d, id };
	return db_retry(req->db, store_once, &st, e);
}

/* The same bytes again: the answer is the document that holds them, with its real status (processing or ready)
 * and "duplicate": true. Metadata sent with them replaces the document's (and its chunks'); without a metadata
 * part it stays. "metadata" is the document's metadata after the upload, "metadata_updated" whether it changed.
 * Steals dup. */
static int reply_duplicate(struct request *req, json_t *dup, json_t *meta, struct fs_error *e)
{
	int changed = 0, rc = 0;
	if (meta) {
		char *text = json_dumps(meta, JSON_COMPACT);
		rc = ingest_update_metadata(req->db, req->key.account_id,
					    json_string_value(json_object_get(dup, "id")), text, &changed, e);
		free(text);
		if (rc == FS_ENOTFOUND) /* deleted since it was found: say so rather than answer for it */
			rc = fs_fail(e, FS_ECONFLICT, "the document with these bytes was deleted meanwhile; upload again");
		if (rc < 0) {
			json_decref(dup);
			return rc;
		}
		json_object_set(dup, "metadata", meta);
	}
	json_object_set_new(dup, "metadata_updated", json_boolean(changed));
	return req_reply(req, 200, dup);
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
	if ((rc = document_same_bytes(req->db, req->key.account_id, sha, &dup, e)) < 0)
		goto out;
	if (dup) { /* the same bytes are already in the knowledge base: not indexed twice */
		rc = reply_duplicate(req, dup, meta, e);
		dup = NULL;
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
	char *cursor = NULL, *status = req_query_param(req, "status"), *next = NULL;
	struct page_pos pos;
	json_t *docs;
	int rc = req_page_params(req, &limit, &cursor, e);
	if (rc < 0)
		goto out;
	if (status && strcmp(status, "processing") && strcmp(status, "ready") && strcmp(status, "failed")) {
		rc = fs_fail(e, FS_EINVAL, "status must be one of processing, ready, failed");
		goto out;
	}
	if (cursor && (rc = page_cursor_parse(cursor, &pos, e)) < 0)
		goto out;
	if ((rc = document_list(req->db, req->key.account_id, status, limit, cursor ? &pos : NULL, &docs, &next, e)) == 0)
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
	static const struct app_program program = { "documents", routes, sizeof(routes) / sizeof(routes[0]), NULL,
						    NULL };
	return app_run(&program);
}
