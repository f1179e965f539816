/* Documents (document.h): every statement on the documents and document_blobs tables. */
#include "kb/document.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"
#include "vstore/vstore.h"
#include "core/banned.h"

#define ISO(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"

/* The columns a document is shown with, in the order of enum shown. */
#define SHOWN_COLUMNS                                                                                         \
	"id, filename, status, content_type, size_bytes, chunk_count, tokens, error, metadata, " ISO("created_at") \
	", " ISO("updated_at") ", UNIX_TIMESTAMP(created_at)"
enum shown {
	SHOWN_ID,
	SHOWN_FILENAME,
	SHOWN_STATUS,
	SHOWN_CONTENT_TYPE,
	SHOWN_SIZE,
	SHOWN_CHUNKS,
	SHOWN_TOKENS,
	SHOWN_ERROR,
	SHOWN_METADATA,
	SHOWN_CREATED,
	SHOWN_UPDATED,
	SHOWN_CREATED_UNIX, /* the keyset cursor's time */
};

static json_t *text_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *shown(const struct db_res *r, size_t i)
{
	const char *meta = db_cell(r, i, SHOWN_METADATA);
	json_t *m = meta ? json_loads(meta, 0, NULL) : NULL;
	if (!json_is_object(m)) {
		json_decref(m);
		m = json_object();
	}
	return json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:o, s:o, s:s, s:s}", "id", db_cell(r, i, SHOWN_ID),
			 "filename", db_cell(r, i, SHOWN_FILENAME), "status", db_cell(r, i, SHOWN_STATUS),
			 "content_type", text_or_null(db_cell(r, i, SHOWN_CONTENT_TYPE)), "size_bytes",
			 (json_int_t)db_cell_ll(r, i, SHOWN_SIZE, 0), "chunk_count",
			 (json_int_t)db_cell_ll(r, i, SHOWN_CHUNKS, 0), "tokens",
			 (json_int_t)db_cell_ll(r, i, SHOWN_TOKENS, 0), "error", text_or_null(db_cell(r, i, SHOWN_ERROR)),
			 "metadata", m, "created_at", db_cell(r, i, SHOWN_CREATED), "updated_at",
			 db_cell(r, i, SHOWN_UPDATED));
}

int document_get(struct db *db, long long account_id, const char *id, json_t **out, struct fs_error *e)
{
	struct db_res r;
	if (!util_is_uuid(id))
		return fs_fail(e, FS_ENOTFOUND, "no document '%s'", id);
	int rc = db_exec(db, &r, e, "SELECT " SHOWN_COLUMNS " FROM documents WHERE id = ? AND account_id = ?", "si", id,
			 account_id);
	if (rc < 0)
		return rc;
	if (r.nrows == 0)
		rc = fs_fail(e, FS_ENOTFOUND, "no document '%s'", id);
	else
		*out = shown(&r, 0);
	db_res_release(&r);
	return rc;
}

int document_list(struct db *db, long long account_id, const char *status, long long limit,
		  const struct page_pos *after, json_t **items, char **next, struct fs_error *e)
{
	struct db_res r;
	/* One statement for every combination: NULL parameters switch their condition off. */
	int rc = db_exec(db, &r, e,
			 "SELECT " SHOWN_COLUMNS " FROM documents WHERE account_id = ? AND (? IS NULL OR status = ?)"
			 " AND (? IS NULL OR created_at < FROM_UNIXTIME(?) OR (created_at = FROM_UNIXTIME(?) AND id < ?))"
			 " ORDER BY created_at DESC, id DESC LIMIT ?",
			 "issssssi", account_id, status, status, after ? after->when : NULL, after ? after->when : NULL,
			 after ? after->when : NULL, after ? after->id : NULL, limit + 1);
	if (rc < 0)
		return rc;
	size_t n = r.nrows > (size_t)limit ? (size_t)limit : r.nrows;
	*items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(*items, shown(&r, i));
	*next = r.nrows > n ? page_cursor_make(db_cell(&r, n - 1, SHOWN_CREATED_UNIX), db_cell(&r, n - 1, SHOWN_ID))
			    : NULL;
	db_res_release(&r);
	return 0;
}

int document_counts(struct db *db, long long account_id, json_t **out, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e, "SELECT status, COUNT(*) FROM documents WHERE account_id = ? GROUP BY status", "i",
			 account_id);
	if (rc < 0)
		return rc;
	long long total = 0;
	*out = json_pack("{s:i, s:i, s:i}", "processing", 0, "ready", 0, "failed", 0);
	for (size_t i = 0; i < r.nrows; i++) {
		json_object_set_new(*out, db_cell(&r, i, 0), json_integer(db_cell_ll(&r, i, 1, 0)));
		total += db_cell_ll(&r, i, 1, 0);
	}
	json_object_set_new(*out, "total", json_integer(total));
	db_res_release(&r);
	return 0;
}

int document_same_bytes(struct db *db, long long account_id, const unsigned char sha256[32], json_t **out,
			struct fs_error *e)
{
	struct db_res r;
	*out = NULL;
	int rc = db_exec(db, &r, e,
			 "SELECT id, filename, status, metadata FROM documents WHERE account_id = ? AND sha256 = ?"
			 " AND status <> 'failed' ORDER BY created_at DESC LIMIT 1",
			 "ib", account_id, sha256, (size_t)32);
	if (rc < 0)
		return rc;
	if (r.nrows) {
		json_t *m = db_cell(&r, 0, 3) ? json_loads(db_cell(&r, 0, 3), 0, NULL) : NULL;
		if (!json_is_object(m)) {
			json_decref(m);
			m = json_object();
		}
		*out = json_pack("{s:s, s:s, s:s, s:b, s:o}", "id", db_cell(&r, 0, 0), "filename", db_cell(&r, 0, 1),
				 "status", db_cell(&r, 0, 2), "duplicate", 1, "metadata", m);
	}
	db_res_release(&r);
	return 0;
}

int document_insert(struct db *db, long long account_id, const struct document_new *d, char id[37],
		    struct fs_error *e)
{
	struct db_res r;
	char replaces[37] = "";
	long long packet;
	/* The bytes go to the server as one packet and come back to the worker as one row: a file the server's
	 * max_allowed_packet cannot hold would drop the connection (and be answered as an outage), so refuse it here
	 * with the limit named. */
	int rc = db_max_packet(db, &packet, e);
	if (rc < 0)
		return rc;
	if ((long long)d->len > packet - DOCUMENT_PACKET_MARGIN)
		return fs_fail(e, FS_ETOOLARGE,
			       "the file has %zu bytes; the database stores at most %lld bytes in one piece (its "
			       "max_allowed_packet is %lld bytes): upload a smaller file, or ask the administrator to raise "
			       "max_allowed_packet",
			       d->len, packet > DOCUMENT_PACKET_MARGIN ? packet - DOCUMENT_PACKET_MARGIN : 0, packet);
	rc = db_exec(db, &r, e,
			 "SELECT id FROM documents WHERE account_id = ? AND filename = ? ORDER BY created_at DESC LIMIT 1",
			 "is", account_id, d->filename);
	if (rc < 0)
		return rc;
	if (r.nrows)
		snprintf(replaces, sizeof(replaces), "%s", db_cell(&r, 0, 0));
	db_res_release(&r);
	util_uuid(id);
	if ((rc = db_exec(db, NULL, e,
			  "INSERT INTO documents (id, account_id, filename, status, content_type, size_bytes, metadata,"
			  " sha256, replaces_id) VALUES (?, ?, ?, 'processing', ?, ?, ?, ?, ?)",
			  "sissisbs", id, account_id, d->filename, d->content_type, (long long)d->len, d->metadata,
			  d->sha256, (size_t)32, replaces[0] ? replaces : NULL)) < 0)
		return rc;
	return db_exec(db, NULL, e, "INSERT INTO document_blobs (document_id, data) VALUES (?, ?)", "sb", id, d->data,
		       d->len);
}

int document_delete(struct db *db, const struct config *cfg, long long account_id, const char *id,
		    struct fs_error *e)
{
	struct db_res r;
	if (!util_is_uuid(id))
		return fs_fail(e, FS_ENOTFOUND, "no document '%s'", id);
	int rc = db_exec(db, &r, e, "DELETE FROM documents WHERE id = ? AND account_id = ?", "si", id, account_id);
	if (rc < 0)
		return rc;
	unsigned long long gone = r.affected;
	db_res_release(&r);
	if (gone == 0)
		return fs_fail(e, FS_ENOTFOUND, "no document '%s'", id);
	/* Searches in every process see the change at once (vector generation); an external store is told through
	 * the outbox. */
	return vstore_changed(cfg, db, account_id, id, "delete", e);
}

int document_source_load(struct db *db, const char *id, struct document_source *out, struct fs_error *e)
{
	int rc = db_exec(db, &out->r, e,
			 "SELECT d.filename, d.metadata, d.created_at, b.data FROM documents d"
			 " JOIN document_blobs b ON b.document_id = d.id WHERE d.id = ?",
			 "s", id);
	if (rc < 0)
		return rc;
	if (out->r.nrows == 0) {
		db_res_release(&out->r);
		return fs_fail(e, FS_ENOTFOUND, "document %s is gone", id);
	}
	out->filename = db_cell(&out->r, 0, 0);
	out->metadata = db_cell(&out->r, 0, 1);
	out->created_at = db_cell(&out->r, 0, 2);
	out->data = db_cell(&out->r, 0, 3);
	out->len = out->r.lens[3];
	return 0;
}

void document_source_release(struct document_source *s)
{
	db_res_release(&s->r);
}

int document_set_ready(struct db *db, const char *id, long long chunks, long long tokens, const char *file_metadata,
		       struct fs_error *e)
{
	return db_exec(db, NULL, e, "UPDATE documents SET status = 'ready', error = NULL, chunk_count = ?, tokens = ?,"
				    " file_metadata = ? WHERE id = ?",
		       "iiss", chunks, tokens, file_metadata, id);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

int document_lock_metadata(struct db *db, long long account_id, const char *id, char **status, char **metadata,
			   char **file_metadata, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e,
			 "SELECT status, metadata, file_metadata FROM documents WHERE id = ? AND (? = 0 OR account_id = ?)"
			 " FOR UPDATE",
			 "sii", id, account_id, account_id);
	if (rc < 0)
		return rc;
	if (r.nrows == 0) {
		db_res_release(&r);
		return fs_fail(e, FS_ENOTFOUND, "document %s is gone", id);
	}
	if (status)
		*status = dup_or_null(db_cell(&r, 0, 0));
	if (metadata)
		*metadata = dup_or_null(db_cell(&r, 0, 1));
	if (file_metadata)
		*file_metadata = dup_or_null(db_cell(&r, 0, 2));
	db_res_release(&r);
	return 0;
}

int document_set_metadata(struct db *db, const char *id, const char *metadata, struct fs_error *e)
{
	return db_exec(db, NULL, e, "UPDATE documents SET metadata = ? WHERE id = ?", "ss", metadata, id);
}

int document_set_failed(struct db *db, const char *id, const char *reason, struct fs_error *e)
{
	return db_exec(db, NULL, e, "UPDATE documents SET status = 'failed', error = ?, chunk_count = 0 WHERE id = ?",
		       "ss", reason, id);
}

void document_note_problem(struct db *db, const char *id, const char *problem)
{
	struct fs_error ignored;
	db_exec(db, NULL, &ignored, "UPDATE documents SET error = LEFT(?, 1000) WHERE id = ? AND status = 'processing'",
		"ss", problem, id);
}

int document_last_problem(struct db *db, const char *id, char *out, size_t size, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(db, &r, e, "SELECT error FROM documents WHERE id = ?", "s", id);
	if (rc < 0)
		return rc;
	snprintf(out, size, "%s", r.nrows && db_cell(&r, 0, 0) ? db_cell(&r, 0, 0) : "");
	db_res_release(&r);
	return 0;
}

int document_delete_older(struct db *db, const struct config *cfg, long long account_id, const char *filename,
			  const char *id, const char *created_at, struct fs_error *e)
{
	struct db_res old;
	int rc = db_exec(db, &old, e,
			 "SELECT id FROM documents WHERE account_id = ? AND filename = ? AND id <> ? AND created_at <= ?"
			 " FOR UPDATE",
			 "isss", account_id, filename, id, created_at);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < old.nrows && rc == 0; i++)
		if ((rc = db_exec(db, NULL, e, "DELETE FROM documents WHERE id = ?", "s", db_cell(&old, i, 0))) == 0)
			rc = vstore_changed(cfg, db, account_id, db_cell(&old, i, 0), "delete", e);
	db_res_release(&old);
	return rc;
}

#define PURGE_DOCUMENTS 100

/* A slice of purge: the account's first documents by id (locked), what hangs on them, then the documents. */
struct purge_slice {
	long long account_id;
	struct tally *t;
	int done;
};

static int purge_slice_once(struct db *db, void *arg, struct fs_error *e)
{
	struct purge_slice *p = arg;
	struct db_res ids, n;
	struct db_param params[PURGE_DOCUMENTS];
	struct buf in;
	int rc = db_begin(db, e);
	if (rc < 0)
		return rc;
	if ((rc = db_exec(db, &ids, e, "SELECT id FROM documents WHERE account_id = ? ORDER BY id LIMIT ? FOR UPDATE",
			  "ii", p->account_id, (long long)PURGE_DOCUMENTS)) < 0) {
		db_rollback(db);
		return rc;
	}
	p->done = ids.nrows == 0;
	buf_init(&in, BUF_NO_LIMIT);
	for (size_t i = 0; i < ids.nrows; i++) {
		params[i] = (struct db_param){ .type = 's', .ptr = db_cell(&ids, i, 0) };
		buf_adds(&in, i ? ", ?" : "(?");
	}
	buf_adds(&in, ")");
	long long chunks = 0, files = 0;
	static const char *const counts[] = { "SELECT COUNT(*) FROM chunks WHERE document_id IN ",
					      "SELECT COUNT(*) FROM document_blobs WHERE document_id IN " };
	for (size_t k = 0; k < 2 && ids.nrows && rc == 0; k++) {
		struct buf sql;
		buf_init(&sql, BUF_NO_LIMIT);
		buf_adds(&sql, counts[k]);
		buf_adds(&sql, buf_str(&in));
		if ((rc = db_exec_params(db, &n, e, buf_str(&sql), params, ids.nrows)) == 0) {
			*(k ? &files : &chunks) = db_cell_ll(&n, 0, 0, 0);
			db_res_release(&n);
		}
		buf_release(&sql);
	}
	if (rc == 0 && ids.nrows) {
		struct buf sql;
		buf_init(&sql, BUF_NO_LIMIT);
		buf_adds(&sql, "DELETE FROM documents WHERE id IN ");
		buf_adds(&sql, buf_str(&in));
		rc = db_exec_params(db, NULL, e, buf_str(&sql), params, ids.nrows);
		buf_release(&sql);
	}
	if (rc == 0)
		rc = db_commit(db, e);
	if (rc == 0) {
		tally_add(p->t, "documents", (long long)ids.nrows);
		tally_add(p->t, "stored files", files);
		tally_add(p->t, "chunks", chunks);
	} else {
		db_rollback(db);
	}
	buf_release(&in);
	db_res_release(&ids);
	return rc;
}

int document_purge_account(struct db *db, long long account_id, int apply, struct tally *t, struct fs_error *e)
{
	struct db_res r;
	int rc;
	if (!apply) {
		if ((rc = db_exec(db, &r, e,
				  "SELECT (SELECT COUNT(*) FROM documents WHERE account_id = ?),"
				  " (SELECT COUNT(*) FROM document_blobs b JOIN documents d ON d.id = b.document_id"
				  " WHERE d.account_id = ?), (SELECT COUNT(*) FROM chunks WHERE account_id = ?)",
				  "iii", account_id, account_id, account_id)) < 0)
			return rc;
		tally_add(t, "documents", db_cell_ll(&r, 0, 0, 0));
		tally_add(t, "stored files", db_cell_ll(&r, 0, 1, 0));
		tally_add(t, "chunks", db_cell_ll(&r, 0, 2, 0));
		db_res_release(&r);
		return 0;
	}
	struct purge_slice p = { account_id, t, 0 };
	while ((rc = db_retry(db, purge_slice_once, &p, e)) == 0 && !p.done)
		;
	return rc;
}

int document_ready(struct db *db, long long account_id, struct db_res *r, struct fs_error *e)
{
	if (account_id)
		return db_exec(db, r, e, "SELECT id, account_id FROM documents WHERE account_id = ? AND status = 'ready'"
					 " ORDER BY created_at",
			       "i", account_id);
	return db_exec(db, r, e, "SELECT id, account_id FROM documents WHERE status = 'ready' ORDER BY created_at", "");
}

int document_names(struct db *db, long long account_id, struct db_res *r, struct fs_error *e)
{
	return db_exec(db, r, e, "SELECT id, filename, status FROM documents WHERE account_id = ? ORDER BY created_at, id",
		       "i", account_id);
}

#define PASSAGES_SQL(sentences)                                                                                \
	"SELECT c.id, c.document_id, c.text, c.metadata, d.filename, " sentences                               \
	" FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.account_id = ? AND c.id IN ("

int document_passages(struct db *db, long long account_id, const char *const *chunk_ids, size_t n, int sentences,
		      struct db_res *r, struct fs_error *e)
{
	struct db_param *p = xcalloc(n + 1, sizeof(*p));
	struct buf sql;
	buf_init(&sql, BUF_NO_LIMIT);
	buf_adds(&sql, sentences ? PASSAGES_SQL("c.sentences") : PASSAGES_SQL("NULL"));
	p[0] = (struct db_param){ .type = 'i', .i = account_id };
	for (size_t i = 0; i < n; i++) {
		p[i + 1] = (struct db_param){ .type = 's', .ptr = chunk_ids[i] };
		buf_adds(&sql, i ? ", ?" : "?");
	}
	buf_adds(&sql, ")");
	int rc = db_exec_params(db, r, e, buf_str(&sql), p, n + 1);
	buf_release(&sql);
	free(p);
	return rc;
}

int document_chunks(struct db *db, const char *id, struct db_res *r, struct fs_error *e)
{
	return db_exec(db, r, e,
		       "SELECT c.id, c.section, c.text, d.filename, c.metadata FROM chunks c"
		       " JOIN documents d ON d.id = c.document_id WHERE c.document_id = ? ORDER BY c.seq",
		       "s", id);
}
