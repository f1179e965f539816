/* Ingestion jobs: claim, extract, chunk, embed, store. */
#include "ingest/ingest.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "account/account.h"
#include "account/usage.h"
#include "core/buf.h"
#include "core/util.h"
#include "extract/extract.h"
#include "ingest/chunk.h"
#include "kb/document.h"
#include "text/terms.h"
#include "text/tokens.h"
#include "core/banned.h"

#define EMBED_BATCH 64
#define CHUNK_COLUMNS 13
#define CHUNK_ROWS_PER_INSERT 32

struct job {
	long long id;
	long long account_id;
	long long attempts;
	char document_id[37];
};

int ingest_enqueue(struct db *db, long long account_id, const char *document_id, struct fs_error *e)
{
	return db_exec(db, NULL, e, "INSERT INTO ingest_jobs (document_id, account_id) VALUES (?, ?)", "si", document_id,
		       account_id);
}

int ingest_worker_init(struct ingest_worker *w, const struct config *cfg, struct fs_error *e)
{
	char host[64] = "localhost";
	memset(w, 0, sizeof(*w));
	gethostname(host, sizeof(host) - 1);
	snprintf(w->id, sizeof(w->id), "%s:%ld", host, (long)getpid());
	w->cfg = cfg;
	int rc = embedder_new(cfg, &w->embedder, e);
	if (rc < 0)
		return rc;
	w->db = db_new(cfg);
	if ((rc = terms_new(&w->terms, e)) < 0 || (rc = vstore_new(cfg, w->db, w->embedder->dims, &w->vs, e)) < 0 ||
	    (rc = span_finder_new(&w->spans, cfg->answerer_sentence_model, e)) < 0) {
		ingest_worker_release(w);
		return rc;
	}
	return 0;
}

void ingest_worker_release(struct ingest_worker *w)
{
	if (w->embedder)
		embedder_free(w->embedder);
	vstore_free(w->vs);
	terms_free(w->terms);
	span_finder_free(w->spans);
	db_free(w->db);
	memset(w, 0, sizeof(*w));
}

/* Whether the worker id `other` (host:pid) names a process of this machine that is gone: the same host as this
 * worker's own id, and no process of that pid here. A pid taken again by another process reads as alive (the job
 * then waits for its lease, as on another machine). */
static int dead_here(const struct ingest_worker *w, const char *other)
{
	const char *mine = strrchr(w->id, ':'), *colon = strrchr(other, ':');
	if (!mine || !colon || colon - other != mine - w->id || memcmp(other, w->id, (size_t)(mine - w->id)) != 0 ||
	    !strcmp(other, w->id))
		return 0;
	char *end;
	errno = 0;
	long pid = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || pid <= 0 || pid > INT_MAX)
		return 0;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Queues again at once the jobs of workers of this machine that died holding them (killed, crashed, the machine's
 * worker restarted), instead of when their lease runs out ([worker] lease_seconds, minutes): their documents would
 * stay 'processing' that long for nothing. Should the guess be wrong (two machines with one host name), the cost is
 * work done twice, never a document stored twice: the first worker finds the job no longer its own (still_ours). */
static int requeue_dead_here(struct ingest_worker *w, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(w->db, &r, e, "SELECT DISTINCT worker FROM ingest_jobs WHERE state = 'running'", "");
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < r.nrows && rc >= 0; i++) {
		const char *other = db_cell(&r, i, 0);
		struct db_res u;
		if (!other || !dead_here(w, other))
			continue;
		rc = db_exec(w->db, &u, e,
			     "UPDATE ingest_jobs SET state = 'queued', worker = NULL WHERE state = 'running' AND worker = ?",
			     "s", other);
		if (rc < 0)
			break;
		if (u.affected)
			util_log("worker: %llu job(s) of worker %s, whose process is gone, queued again", u.affected,
				 other);
		db_res_release(&u);
	}
	db_res_release(&r);
	return rc < 0 ? rc : 0;
}

/* Queues again the job this worker let go of when the database went away (w->dropped_job), when the database still
 * shows it as this worker's. */
static int requeue_dropped(struct ingest_worker *w, struct fs_error *e)
{
	struct db_res u;
	if (!w->dropped_job)
		return 0;
	int rc = db_exec(w->db, &u, e,
			 "UPDATE ingest_jobs SET state = 'queued', worker = NULL"
			 " WHERE id = ? AND state = 'running' AND worker = ?",
			 "is", w->dropped_job, w->id);
	if (rc < 0)
		return rc;
	if (u.affected)
		util_log("worker: job %lld, cut off when the database went away, queued again", w->dropped_job);
	db_res_release(&u);
	w->dropped_job = 0;
	return 0;
}

/* Claims the oldest queued job: 1 with job filled in, 0 when the queue is empty. */
static int claim(struct ingest_worker *w, struct job *job, struct fs_error *e)
{
	struct db_res r;
	int rc = requeue_dropped(w, e);
	if (rc < 0 || (rc = requeue_dead_here(w, e)) < 0)
		return rc;
	rc = db_exec(w->db, NULL, e,
		     "UPDATE ingest_jobs SET state = 'queued', worker = NULL"
		     " WHERE state = 'running' AND lease_until < UTC_TIMESTAMP(6)",
		     "");
	if (rc < 0 || (rc = db_begin(w->db, e)) < 0)
		return rc;
	rc = db_exec(w->db, &r, e,
		     "SELECT id, account_id, attempts, document_id FROM ingest_jobs WHERE state = 'queued'"
		     " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
		     "");
	if (rc < 0) {
		db_rollback(w->db);
		return rc;
	}
	if (r.nrows == 0) {
		db_res_release(&r);
		db_rollback(w->db);
		return 0;
	}
	job->id = db_cell_ll(&r, 0, 0, 0);
	job->account_id = db_cell_ll(&r, 0, 1, 0);
	job->attempts = db_cell_ll(&r, 0, 2, 0) + 1;
	snprintf(job->document_id, sizeof(job->document_id), "%s", db_cell(&r, 0, 3));
	db_res_release(&r);
	rc = db_exec(w->db, NULL, e,
		     "UPDATE ingest_jobs SET state = 'running', attempts = attempts + 1, worker = ?,"
		     " lease_until = UTC_TIMESTAMP(6) + INTERVAL ? SECOND WHERE id = ?",
		     "sii", w->id, w->cfg->worker_lease_seconds, job->id);
	if (rc < 0) {
		db_rollback(w->db);
		return rc;
	}
	rc = db_commit(w->db, e);
	if (rc == FS_EUNAVAIL) /* the COMMIT may have happened: the job would be this worker's until its lease ran out */
		w->dropped_job = job->id;
	return rc < 0 ? rc : 1;
}

/* In a transaction: locks the job and checks this worker still holds it (its lease may have run out and
 * another worker taken it over, or the document been deleted). 1 if so, 0 if not (transaction rolled back). */
static int still_ours(struct ingest_worker *w, const struct job *job, struct fs_error *e)
{
	struct db_res r;
	int rc = db_begin(w->db, e);
	if (rc < 0)
		return rc;
	rc = db_exec(w->db, &r, e, "SELECT state, worker FROM ingest_jobs WHERE id = ? FOR UPDATE", "i", job->id);
	if (rc < 0) {
		db_rollback(w->db);
		return rc;
	}
	int ours = r.nrows == 1 && !strcmp(db_cell(&r, 0, 0), "running") && db_cell(&r, 0, 1) &&
		   !strcmp(db_cell(&r, 0, 1), w->id);
	db_res_release(&r);
	if (!ours)
		db_rollback(w->db);
	return ours;
}

static int fail_job(struct ingest_worker *w, const struct job *job, const char *reason, struct fs_error *e)
{
	int rc = still_ours(w, job, e);
	if (rc <= 0)
		return rc;
	if ((rc = document_set_failed(w->db, job->document_id, reason, e)) < 0 ||
	    (rc = db_exec(w->db, NULL, e, "UPDATE ingest_jobs SET state = 'failed', lease_until = NULL WHERE id = ?", "i",
			  job->id)) < 0) {
		db_rollback(w->db);
		return rc;
	}
	return db_commit(w->db, e);
}

/* What one chunk row needs beyond the chunk itself. */
struct chunk_row {
	char id[37];
	char *metadata;
	unsigned char *vector; /* dims * 4 bytes */
	struct buf sparse;     /* the keyword vector's stored form (terms.h) */
	long long tokens;
};

/* A chunk's metadata (malloc'd JSON text): the upload's, then the keys of the file's own (title, author) that the
 * upload does not give, then the chunk's own: its section, its page (when > 0) and its question (when it has
 * one). upload and file may be NULL. */
static char *compose_metadata(json_t *upload, json_t *file, const char *section, long long page,
			      const char *question)
{
	json_t *m = json_is_object(upload) ? json_deep_copy(upload) : json_object();
	if (json_is_object(file))
		json_object_update_missing(m, file);
	json_object_set_new(m, "section", util_json_text(section ? section : "", section ? strlen(section) : 0));
	if (page > 0)
		json_object_set_new(m, "page", json_integer(page));
	if (question)
		json_object_set_new(m, "question", util_json_text(question, strlen(question)));
	char *s = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	return s;
}

static json_t *parse_object(const char *text)
{
	json_t *o = text ? json_loads(text, 0, NULL) : NULL;
	if (!json_is_object(o)) {
		json_decref(o);
		o = json_object();
	}
	return o;
}

/* The title words of a file name into t, then a line break when there were any. */
static void add_title(struct buf *t, const char *filename)
{
	const char *base = filename ? strrchr(filename, '/') : NULL;
	base = base ? base + 1 : filename;
	if (!base)
		return;
	const char *dot = strrchr(base, '.'), *end = dot && dot != base ? dot : base + strlen(base);
	size_t before = t->len;
	for (const char *p = base; p < end;) {
		while (p < end && !isalnum((unsigned char)*p) && !((unsigned char)*p & 0x80))
			p++;
		const char *w = p;
		int digits = 0;
		while (p < end && (isalnum((unsigned char)*p) || ((unsigned char)*p & 0x80)))
			digits |= isdigit((unsigned char)*p++);
		if (p > w && !digits)
			buf_addf(t, "%s%.*s", t->len > before ? " " : "", (int)(p - w), w);
	}
	if (t->len > before)
		buf_adds(t, "\n");
}

char *ingest_embed_text(const char *filename, const char *section, const char *text)
{
	struct buf t;
	buf_init(&t, BUF_NO_LIMIT);
	add_title(&t, filename);
	if (section && *section)
		buf_addf(&t, "%s\n", section);
	buf_adds(&t, text);
	return buf_take(&t, NULL);
}

char *ingest_embed_lead(const char *question, const char *text)
{
	if (question && *question)
		return xstrdup(question);
	if (!text)
		return NULL;
	size_t len = strcspn(text, "\n");
	const char *rest = text + len;
	while (*rest == '\n' || *rest == '\r' || *rest == ' ' || *rest == '\t')
		rest++;
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\r' || text[len - 1] == '\t'))
		len--;
	if (!*rest || len == 0 || len > INGEST_LEAD_MAX)
		return NULL;
	return xstrndup(text, len);
}

/* Embeds the chunks (section heading and text together, with their leads) in batches. */
static int embed_chunks(struct ingest_worker *w, const char *filename, const struct chunk *chunks, size_t n,
			struct chunk_row *rows, long long *tokens, struct fs_error *e)
{
	size_t dims = w->embedder->dims;
	float *vec = xmalloc(EMBED_BATCH * dims * sizeof(float));
	char **texts = xcalloc(EMBED_BATCH, sizeof(char *)), **leads = xcalloc(EMBED_BATCH, sizeof(char *));
	struct sparse sp;
	int rc = 0;
	sparse_init(&sp);
	*tokens = 0;
	for (size_t at = 0; at < n && rc == 0; at += EMBED_BATCH) {
		size_t k = n - at < EMBED_BATCH ? n - at : EMBED_BATCH;
		for (size_t i = 0; i < k; i++) {
			const struct chunk *c = &chunks[at + i];
			free(texts[i]);
			texts[i] = ingest_embed_text(filename, c->section, c->text);
			free(leads[i]);
			leads[i] = ingest_embed_lead(c->question, c->text);
			rows[at + i].tokens = tokens_count(c->text);
			terms_doc_vector(w->terms, texts[i], &sp);
			buf_init(&rows[at + i].sparse, BUF_NO_LIMIT);
			sparse_to_blob(&sp, &rows[at + i].sparse);
		}
		long long used = 0;
		rc = embedder_embed_passages(w->embedder, (const char *const *)texts, (const char *const *)leads, k, vec,
					     &used, e);
		*tokens += used;
		for (size_t i = 0; rc == 0 && i < k; i++) {
			rows[at + i].vector = xmalloc(dims * 4);
			vstore_encode_vector(vec + i * dims, dims, rows[at + i].vector);
		}
	}
	for (size_t i = 0; i < EMBED_BATCH; i++) {
		free(texts[i]);
		free(leads[i]);
	}
	free(texts);
	free(leads);
	free(vec);
	sparse_release(&sp);
	return rc;
}

static int insert_chunks(struct ingest_worker *w, const struct job *job, const struct chunk *chunks,
			 const struct chunk_row *rows, size_t n, struct fs_error *e)
{
	size_t dims = w->embedder->dims;
	struct db_param *p = xcalloc(n * CHUNK_COLUMNS, sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		const struct chunk *c = &chunks[i];
		const struct chunk_row *row = &rows[i];
		struct db_param *q = p + i * CHUNK_COLUMNS;
		q[0] = (struct db_param){ .type = 's', .ptr = row->id };
		q[1] = (struct db_param){ .type = 'i', .i = job->account_id };
		q[2] = (struct db_param){ .type = 's', .ptr = job->document_id };
		q[3] = (struct db_param){ .type = 'i', .i = (long long)i };
		q[4] = (struct db_param){ .type = 's', .ptr = c->text };
		q[5] = (struct db_param){ .type = 's', .ptr = c->section ? c->section : "" };
		q[6] = (struct db_param){ .type = 'i', .i = c->page };
		q[7] = (struct db_param){ .type = 's', .ptr = row->metadata };
		q[8] = (struct db_param){ .type = 'i', .i = row->tokens };
		q[9] = (struct db_param){ .type = 's', .ptr = w->embedder->model };
		q[10] = (struct db_param){ .type = 'i', .i = (long long)dims };
		q[11] = (struct db_param){ .type = 'b', .ptr = row->vector, .len = dims * 4 };
		q[12] = (struct db_param){ .type = 'b', .ptr = row->sparse.ptr ? row->sparse.ptr : "", .len = row->sparse.len };
	}
	int rc = db_insert_rows(w->db,
				"INSERT INTO chunks (id, account_id, document_id, seq, text, section, page, metadata, tokens,"
				" embed_model, dims, embedding, sparse) VALUES ",
				"(?, ?, ?, ?, ?, ?, NULLIF(?, 0), ?, ?, ?, ?, ?, ?)", p, CHUNK_COLUMNS, n, CHUNK_ROWS_PER_INSERT,
				e);
	free(p);
	return rc;
}

struct finishing {
	struct ingest_worker *w;
	const struct job *job;
	const struct document_source *src;
	json_t *file_meta; /* what the file itself says (extract_doc.metadata), or NULL */
	const struct chunk *chunks;
	struct chunk_row *rows;
	size_t n;
	long long tokens;
	const struct account_hold *hold;
	int stored; /* the chunks were stored (and the hold taken into the debit) */
};

/* Stores the chunks and marks the document ready, in one transaction: the chunks' metadata from the upload's
 * as it is now (a re-upload of the same bytes may have brought new metadata: ingest_update_metadata), the tokens
 * taken from the balance (the hold released; FS_EBALANCE when it cannot cover them), the day's indexing counted;
 * then older documents of the same name (the versions this one replaces) go. Not ours any more (the job was
 * taken over, or the document or its account deleted): nothing is stored. */
static int finish_job(struct finishing *f, struct fs_error *e)
{
	struct ingest_worker *w = f->w;
	const struct job *job = f->job;
	char *upload_text = NULL, *file_text = NULL;
	json_t *upload = NULL;
	int rc = still_ours(w, job, e);
	if (rc <= 0)
		return rc;
	if ((rc = document_lock_metadata(w->db, 0, job->document_id, NULL, &upload_text, NULL, e)) < 0)
		goto fail;
	upload = parse_object(upload_text);
	for (size_t i = 0; i < f->n; i++) {
		const struct chunk *c = &f->chunks[i];
		free(f->rows[i].metadata);
		f->rows[i].metadata = compose_metadata(upload, f->file_meta, c->section, c->page, c->question);
	}
	if (json_is_object(f->file_meta))
		file_text = json_dumps(f->file_meta, JSON_COMPACT);
	if ((rc = db_exec(w->db, NULL, e, "DELETE FROM chunks WHERE document_id = ?", "s", job->document_id)) < 0 ||
	    (rc = insert_chunks(w, job, f->chunks, f->rows, f->n, e)) < 0 ||
	    (rc = document_set_ready(w->db, job->document_id, (long long)f->n, f->tokens, file_text, e)) < 0 ||
	    (rc = db_exec(w->db, NULL, e, "UPDATE ingest_jobs SET state = 'done', lease_until = NULL WHERE id = ?", "i",
			  job->id)) < 0 ||
	    (rc = account_debit(w->db, job->account_id, f->tokens, f->hold, 0, NULL, e)) < 0 ||
	    (rc = usage_record_indexing(w->db, job->account_id, f->tokens, e)) < 0 ||
	    (rc = vstore_changed(w->cfg, w->db, job->account_id, job->document_id, "upsert", e)) < 0 ||
	    (rc = document_delete_older(w->db, w->cfg, job->account_id, f->src->filename, job->document_id,
					f->src->created_at, e)) < 0 ||
	    (rc = db_commit(w->db, e)) < 0)
		goto fail;
	f->stored = 1;
	free(upload_text);
	free(file_text);
	json_decref(upload);
	/* The chunks are safe in MariaDB; an external store that is away gets them later from the outbox. */
	struct fs_error se = { 0 };
	if (vstore_sync(w->vs, w->db, 64, &se) < 0)
		fprintf(stderr, "faqsure worker: vector outbox: %s\n", se.msg);
	return 0;
fail:
	db_rollback(w->db);
	free(upload_text);
	free(file_text);
	json_decref(upload);
	return rc;
}

static int finish_once(struct db *db, void *arg, struct fs_error *e)
{
	(void)db; /* the worker's own */
	return finish_job(arg, e);
}

/* The most the document's indexing can cost, set aside before embedding: what embed_chunks embeds, by the
 * built-in count (exactly what a local embedder reports), twice for an upstream's own count. */
static long long indexing_bound(const struct ingest_worker *w, const char *filename, const struct chunk *chunks,
				size_t n)
{
	long long total = 0;
	for (size_t i = 0; i < n; i++) {
		char *text = ingest_embed_text(filename, chunks[i].section, chunks[i].text);
		total += tokens_count(text);
		free(text);
	}
	return w->embedder->ops->local ? total : 2 * total;
}

/* The job fails for want of tokens: the reason says how many and what to do. */
static int fail_for_balance(struct ingest_worker *w, const struct job *job, struct fs_error *e)
{
	char reason[700];
	snprintf(reason, sizeof(reason), "not indexed: %s, then upload the document again", e->msg);
	return fail_job(w, job, reason, e);
}

/* Extracts, chunks and embeds one claimed job. A problem with the document fails the job (0 is returned);
 * a problem of ours (database gone) is returned and the job's lease lets another worker retry it later. */
static int process(struct ingest_worker *w, const struct job *job, struct fs_error *e)
{
	struct document_source src;
	struct extract_doc doc = { 0 };
	struct extract_limits lim;
	struct chunk_opts opts;
	struct chunk *chunks = NULL;
	struct chunk_row *rows = NULL;
	size_t n = 0;
	long long tokens = 0;
	char mime[128];
	struct fs_error why;
	struct account_hold hold = { 0 };
	fs_error_clear(&why);

	if (job->attempts > INGEST_MAX_ATTEMPTS) {
		/* the last attempt's problem, when a worker could say it (an embedder that stayed away) */
		char last[1001], reason[1200];
		int lrc = document_last_problem(w->db, job->document_id, last, sizeof(last), e);
		if (lrc < 0)
			return lrc;
		if (last[0])
			snprintf(reason, sizeof(reason), "processing failed 3 times; the last attempt: %s", last);
		else
			snprintf(reason, sizeof(reason), "processing was interrupted 3 times (the worker stopped each time);"
				 " the file may be too large or malformed");
		return fail_job(w, job, reason, e);
	}
	int rc = document_source_load(w->db, job->document_id, &src, e);
	if (rc == FS_ENOTFOUND)
		return 0; /* deleted meanwhile: its job went with it */
	if (rc < 0)
		return rc;
	enum extract_kind kind = extract_detect(src.data, src.len, src.filename, mime, sizeof(mime));
	extract_limits_default(&lim);
	lim.max_pages = (size_t)w->cfg->extract_max_pages;
	lim.max_text_bytes = (size_t)w->cfg->extract_max_text_bytes;
	lim.max_unzipped_bytes = (size_t)w->cfg->extract_max_unzipped_bytes;
	lim.max_zip_entries = (size_t)w->cfg->extract_max_zip_entries;
	lim.max_xml_depth = (size_t)w->cfg->extract_max_xml_depth;
	chunk_opts_default(&opts); /* fields the configuration does not set keep their defaults */
	opts.target_chars = (size_t)w->cfg->chunk_target_chars;
	opts.max_chars = (size_t)w->cfg->chunk_max_chars;
	opts.overlap_chars = (size_t)w->cfg->chunk_overlap_chars;
	if (kind == EXTRACT_NONE) {
		rc = fail_job(w, job, "unsupported file type", e);
		goto out;
	}
	if (extract_document(kind, src.data, src.len, &lim, &doc, &why) < 0 ||
	    chunk_document(&doc, &opts, &chunks, &n, &why) < 0) {
		rc = fail_job(w, job, why.msg, e);
		goto out;
	}
	if (n == 0) {
		rc = fail_job(w, job, "the file holds no text", e);
		goto out;
	}
	rows = xcalloc(n, sizeof(*rows));
	for (size_t i = 0; i < n; i++)
		util_uuid(rows[i].id);
	/* the tokens first, so an account that cannot pay costs no embedding; a deleted one's job went with it */
	rc = account_hold(w->db, job->account_id, indexing_bound(w, src.filename, chunks, n),
			  w->cfg->worker_lease_seconds + 60, &hold, e);
	if (rc == FS_EBALANCE) {
		rc = fail_for_balance(w, job, e);
		goto out;
	}
	if (rc == FS_EAUTH) {
		rc = 0;
		goto out;
	}
	if (rc < 0 || (rc = embed_chunks(w, src.filename, chunks, n, rows, &tokens, e)) < 0)
		goto out;
	struct finishing f = { w, job, &src, doc.metadata, chunks, rows, n, tokens, &hold, 0 };
	rc = db_retry(w->db, finish_once, &f, e); /* workers finishing at once can deadlock */
	if (f.stored)
		hold.id[0] = '\0'; /* released by the debit */
	if (rc == FS_EBALANCE) /* an upstream counted more than the hold and the balance could not cover it */
		rc = fail_for_balance(w, job, e);
out:
	account_release(w->db, &hold);
	for (size_t i = 0; rows && i < n; i++) {
		free(rows[i].metadata);
		free(rows[i].vector);
		buf_release(&rows[i].sparse);
	}
	free(rows);
	chunk_list_free(chunks, n);
	extract_doc_release(&doc);
	document_source_release(&src);
	return rc;
}

struct claiming {
	struct ingest_worker *w;
	struct job *job;
};

static int claim_once(struct db *db, void *arg, struct fs_error *e)
{
	struct claiming *c = arg;
	(void)db; /* the worker's own */
	return claim(c->w, c->job, e);
}

/* One line per job for the operator: the document's id, what it became, its chunks and the time taken. problem:
 * why the attempt stopped when it is to be tried again (the document stays 'processing'). Never its content. */
static void log_outcome(struct ingest_worker *w, const struct job *job, const char *problem, double ms)
{
	struct db_res r;
	struct fs_error e;
	char status[32] = "deleted";
	long long chunks = 0;
	if (db_exec(w->db, &r, &e, "SELECT status, chunk_count FROM documents WHERE id = ?", "s", job->document_id) < 0) {
		snprintf(status, sizeof(status), "unknown");
	} else {
		if (r.nrows) {
			snprintf(status, sizeof(status), "%s", db_cell(&r, 0, 0));
			chunks = db_cell_ll(&r, 0, 1, 0);
		}
		db_res_release(&r);
	}
	util_log("worker: document %s (account %lld, attempt %lld): %s, %lld chunks, %.0f ms%s%s", job->document_id,
		 job->account_id, job->attempts, status, chunks, ms, problem ? "; to be tried again: " : "",
		 problem ? problem : "");
}

int ingest_run_one(struct ingest_worker *w, int *worked, struct fs_error *e)
{
	struct job job;
	struct claiming c = { w, &job };
	*worked = 0;
	/* Workers claiming and finishing at once can deadlock in InnoDB (db_retry). */
	int rc = db_retry(w->db, claim_once, &c, e);
	if (rc <= 0)
		return rc;
	*worked = 1;
	double started = util_now_ms();
	unsigned long long losses = db_losses(w->db);
	rc = process(w, &job, e);
	if (rc < 0) { /* kept on the document (still processing) so a person, and the final failure, can say why */
		document_note_problem(w->db, job.document_id, e->msg);
		/* The database went away meanwhile: the attempt was cut off, not refused (an embedder that fails waits
		 * for the lease, so as not to spend the attempts at once), and the next claim queues it again. */
		if (db_losses(w->db) != losses)
			w->dropped_job = job.id;
	}
	log_outcome(w, &job, rc < 0 ? e->msg : NULL, util_now_ms() - started);
	size_t i = 0;
	while (i < w->ntouched && w->touched[i] != job.account_id)
		i++;
	if (i == w->ntouched && w->ntouched < INGEST_TOUCHED_MAX)
		w->touched[w->ntouched++] = job.account_id;
	return rc;
}

int ingest_warm(struct ingest_worker *w, struct fs_error *e)
{
	int rc = 0;
	for (size_t i = 0; i < w->ntouched && rc == 0; i++)
		rc = vstore_warm(w->vs, w->touched[i], e);
	w->ntouched = 0;
	return rc;
}

void ingest_chunk_sentences(struct ingest_worker *w, const char *text, const char *metadata, struct buf *out)
{
	json_t *meta = json_loads(metadata ? metadata : "{}", 0, NULL);
	buf_reset(out);
	span_passage_vectors(w->spans, text, meta, out);
	json_decref(meta);
}

int ingest_fill_sentences(struct ingest_worker *w, long long account_id, int max, int *filled, struct fs_error *e)
{
	struct db_res r;
	*filled = 0;
	/* rows another worker is filling are skipped, not waited for or done twice */
	int rc = db_begin(w->db, e);
	if (rc < 0)
		return rc;
	if (account_id > 0)
		rc = db_exec(w->db, &r, e,
			     "SELECT id, text, metadata FROM chunks WHERE sentences_version < ? AND account_id = ?"
			     " LIMIT ? FOR UPDATE SKIP LOCKED",
			     "iii", (long long)SPAN_VECTORS_VERSION, account_id, (long long)max);
	else
		rc = db_exec(w->db, &r, e,
			     "SELECT id, text, metadata FROM chunks WHERE sentences_version < ? LIMIT ? FOR UPDATE SKIP LOCKED",
			     "ii", (long long)SPAN_VECTORS_VERSION, (long long)max);
	if (rc < 0) {
		db_rollback(w->db);
		return rc;
	}
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	for (size_t i = 0; i < r.nrows && rc == 0; i++) {
		ingest_chunk_sentences(w, db_cell(&r, i, 1), db_cell(&r, i, 2), &b);
		rc = db_exec(w->db, NULL, e, "UPDATE chunks SET sentences = ?, sentences_version = ? WHERE id = ?", "bis",
			     b.ptr, b.len, (long long)SPAN_VECTORS_VERSION, db_cell(&r, i, 0));
	}
	if (rc == 0 && (rc = db_commit(w->db, e)) == 0)
		*filled = (int)r.nrows;
	else if (rc < 0)
		db_rollback(w->db);
	buf_release(&b);
	db_res_release(&r);
	return rc;
}

/* ---- metadata of a document already stored; deleting an account ---- */

struct metadata_update {
	long long account_id;
	const char *document_id, *metadata;
	int changed;
};

/* A stored chunk's metadata made again with the upload's new metadata. Its own question is the one its metadata
 * shows unless that came from the old upload metadata; the file's own keys are file (NULL for a document stored
 * before they were kept apart: what the chunk shows besides the old upload's keys and its own). */
static char *remade_metadata(json_t *old, json_t *upload, json_t *file, const char *section, long long page,
			     const char *stored)
{
	json_t *m = parse_object(stored), *q = json_object_get(m, "question");
	const char *question = json_string_value(q);
	if (question && json_equal(q, json_object_get(old, "question")))
		question = NULL;
	json_t *guess = NULL;
	if (!file) {
		const char *key;
		json_t *v;
		guess = json_object();
		json_object_foreach(m, key, v)
			if (strcmp(key, "section") && strcmp(key, "page") && strcmp(key, "question") && !json_object_get(old, key))
				json_object_set(guess, key, v);
	}
	char *out = compose_metadata(upload, file ? file : guess, section, page, question);
	json_decref(guess);
	json_decref(m);
	return out;
}

static int update_metadata_once(struct db *db, void *arg, struct fs_error *e)
{
	struct metadata_update *u = arg;
	char *status = NULL, *old_text = NULL, *file_text = NULL;
	json_t *old = NULL, *upload = parse_object(u->metadata), *file = NULL;
	struct db_res r = { 0 };
	int rc = db_begin(db, e);
	if (rc < 0)
		goto out;
	if ((rc = document_lock_metadata(db, u->account_id, u->document_id, &status, &old_text, &file_text, e)) < 0)
		goto fail;
	old = parse_object(old_text);
	file = file_text ? parse_object(file_text) : NULL;
	u->changed = !json_equal(old, upload);
	if (!u->changed) {
		db_rollback(db);
		goto out;
	}
	if ((rc = document_set_metadata(db, u->document_id, u->metadata, e)) < 0)
		goto fail;
	/* processing: the worker reads the metadata when it stores the chunks (finish_job), under this lock */
	if (!strcmp(status, "ready")) {
		if ((rc = db_exec(db, &r, e, "SELECT id, section, page, metadata FROM chunks WHERE document_id = ?", "s",
				  u->document_id)) < 0)
			goto fail;
		for (size_t i = 0; i < r.nrows && rc == 0; i++) {
			char *m = remade_metadata(old, upload, file, db_cell(&r, i, 1), db_cell_ll(&r, i, 2, 0),
						  db_cell(&r, i, 3));
			rc = db_exec(db, NULL, e, "UPDATE chunks SET metadata = ? WHERE id = ?", "ss", m, db_cell(&r, i, 0));
			free(m);
		}
		db_res_release(&r);
		if (rc < 0)
			goto fail;
	}
	rc = db_commit(db, e);
	if (rc == 0)
		goto out;
fail:
	db_rollback(db);
out:
	free(status);
	free(old_text);
	free(file_text);
	json_decref(old);
	json_decref(upload);
	json_decref(file);
	return rc;
}

int ingest_update_metadata(struct db *db, long long account_id, const char *document_id, const char *metadata,
			   int *changed, struct fs_error *e)
{
	struct metadata_update u = { account_id, document_id, metadata, 0 };
	int rc = db_retry(db, update_metadata_once, &u, e);
	*changed = u.changed;
	return rc;
}

int ingest_purge_account(struct db *db, long long account_id, int apply, struct tally *t, struct fs_error *e)
{
	return db_purge_rows(db, "ingest_jobs", account_id, apply, t, "ingestion jobs", e);
}
