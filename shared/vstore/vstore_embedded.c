/* The embedded vector store ("embedded", the default): the vectors are the chunk rows in MariaDB, scanned exactly
 * from an index of each account (struct vindex). Every search first reads the account's generation (one
 * primary-key lookup); when it moved, the index is brought up to date by comparing the chunk numbers (vec_seq) it
 * holds with the table's (an index-only scan), dropping what is gone and loading what is new.
 *
 * The index lives in a file per account in [vector] index_dir on the machine's local disk, mapped read-only by
 * every process that searches the account, so the machine holds one copy however many processes there are, and a
 * process started a moment ago answers at once. The file is labelled with the generation, epoch and stamp it
 * was built at; a process that finds it stale takes the account's lock file (flock), looks again (another may
 * have just rebuilt it), and otherwise builds the new one from the old and the table and puts it in place
 * atomically (vindex_write). Each machine keeps its own files, built from the one database: several web nodes
 * need nothing shared but MariaDB. When the folder cannot be used (not writable, disk full), the process keeps
 * its own copy in memory, as before the files existed, and says so once on stderr.
 *
 * Nothing needs to be written here on a change: upsert and delete are the chunk rows themselves. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "text/terms.h"
#include "vstore/vindex.h"
#include "vstore/vstore.h"
#include "core/banned.h"

/* Accounts kept (mapped or in memory) per process; the least recently searched goes first. */
#define MAX_ACCOUNTS 16
/* Chunks loaded per statement. */
#define LOAD_BATCH 500
/* The index files' permissions: the web server's processes and the worker (their group) read and replace them. */
#define FILE_MODE 0660
/* How long a search waits for another process that is rebuilding the account's file before it answers from the
 * index it already has (the same rows but those of the change that started the rebuild). A file of up to tens of
 * thousands of chunks is rebuilt well within it, even on a busy disk, so a search right after an upload finds the
 * new document; one of 100k chunks takes seconds, and the account's searches are not held up all that time: once
 * a search of this process went ahead, its next ones only look whether the new file is there, without waiting. */
#define REBUILD_WAIT_MS 2000
#define DIR_MODE 02770

struct cached {
	long long account_id;
	int loaded; /* ix holds the rows of label (0: never loaded, or its last refresh failed) */
	struct vindex_label label;
	unsigned long long last_used;
	struct vindex ix; /* mapped from the account's file, or this process's own */
	int behind; /* its searches answer from ix while another process rebuilds the file (REBUILD_WAIT_MS) */
};

struct embedded {
	struct vstore base;
	struct db *db;
	char *dir; /* the folder of the index files; NULL: this process keeps its own copies */
	struct cached accounts[MAX_ACCOUNTS];
	size_t naccounts;
	unsigned long long clock;
};

static int embedded_new(const struct config *cfg, struct db *db, size_t dims, struct vstore **out,
			 struct fs_error *e)
{
	(void)e;
	struct embedded *s = xcalloc(1, sizeof(*s));
	s->base.ops = &vstore_embedded_ops;
	s->base.cfg = cfg;
	s->base.dims = dims;
	s->db = db;
	if (cfg->vector_index_dir && cfg->vector_index_dir[0]) {
		s->dir = xstrdup(cfg->vector_index_dir);
		if (mkdir(s->dir, DIR_MODE) == 0)
			chmod(s->dir, DIR_MODE); /* whatever the umask: the setgid bit gives new files the folder's group */
	}
	*out = &s->base;
	return 0;
}

static void embedded_free(struct vstore *vs)
{
	struct embedded *s = (struct embedded *)vs;
	for (size_t i = 0; i < s->naccounts; i++)
		vindex_release(&s->accounts[i].ix);
	free(s->dir);
	free(s);
}

/* The rows live in MariaDB: nothing to write. */
static int embedded_upsert(struct vstore *vs, long long account_id, const struct vstore_point *pts, size_t n,
			   struct fs_error *e)
{
	(void)vs, (void)account_id, (void)pts, (void)n, (void)e;
	return 0;
}

static int embedded_delete_document(struct vstore *vs, long long account_id, const char *document_id,
				    struct fs_error *e)
{
	(void)vs, (void)account_id, (void)document_id, (void)e;
	return 0;
}

static int embedded_delete_account(struct vstore *vs, long long account_id, struct fs_error *e)
{
	(void)vs, (void)account_id, (void)e;
	return 0;
}

static int embedded_recreate(struct vstore *vs, struct fs_error *e)
{
	(void)vs, (void)e;
	return 0;
}

static struct cached *cache_for(struct embedded *s, long long account_id)
{
	struct cached *c = NULL;
	for (size_t i = 0; i < s->naccounts; i++)
		if (s->accounts[i].account_id == account_id)
			c = &s->accounts[i];
	if (!c) {
		if (s->naccounts < MAX_ACCOUNTS) {
			c = &s->accounts[s->naccounts++];
		} else {
			c = &s->accounts[0];
			for (size_t i = 1; i < s->naccounts; i++)
				if (s->accounts[i].last_used < c->last_used)
					c = &s->accounts[i];
			vindex_release(&c->ix);
		}
		c->account_id = account_id;
		c->loaded = 0;
		memset(&c->label, 0, sizeof(c->label));
		c->behind = 0;
		vindex_init(&c->ix, s->base.dims);
	}
	c->last_used = ++s->clock;
	return c;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int held(const uint64_t *sorted, size_t n, uint64_t seq)
{
	return bsearch(&seq, sorted, n, sizeof(*sorted), cmp_u64) != NULL;
}

/* Loads the chunks whose vec_seq is in want[0..n) (ascending) into ix. */
static int load_rows(struct embedded *s, long long account_id, struct vindex *ix, const uint64_t *want, size_t n,
		     struct fs_error *e)
{
	float *vec = xmalloc(s->base.dims * sizeof(float));
	struct sparse sp;
	int rc = 0;
	sparse_init(&sp);
	for (size_t at = 0; at < n && rc == 0; at += LOAD_BATCH) {
		size_t k = n - at < LOAD_BATCH ? n - at : LOAD_BATCH;
		struct db_res r;
		/* a range covers the batch; rows in it that are already held are skipped */
		rc = db_exec(s->db, &r, e,
			     "SELECT id, document_id, vec_seq, embedding, sparse FROM chunks"
			     " WHERE account_id = ? AND vec_seq BETWEEN ? AND ? AND dims = ? ORDER BY vec_seq",
			     "iiii", account_id, (long long)want[at], (long long)want[at + k - 1],
			     (long long)s->base.dims);
		if (rc < 0)
			break;
		for (size_t i = 0; i < r.nrows; i++) {
			uint64_t seq = (uint64_t)db_cell_ll(&r, i, 2, 0);
			if (!bsearch(&seq, want + at, k, sizeof(*want), cmp_u64))
				continue;
			if (vstore_decode_vector(db_cell(&r, i, 3), r.lens[i * r.ncols + 3], s->base.dims, vec) < 0 ||
			    sparse_from_blob(db_cell(&r, i, 4), r.lens[i * r.ncols + 4], &sp) < 0) {
				fprintf(stderr, "faqsure: chunk %s has a damaged vector; skipped\n", db_cell(&r, i, 0));
				continue;
			}
			vindex_add(ix, db_cell(&r, i, 0), db_cell(&r, i, 1), seq, vec, &sp);
		}
		db_res_release(&r);
	}
	sparse_release(&sp);
	free(vec);
	return rc;
}

/* ix against the account's rows in the table: which of its rows the table still has (keep), and the chunk numbers
 * of the table's rows it does not hold (want, ascending). */
struct row_diff {
	uint8_t *keep;
	uint64_t *want;
	size_t nwant;
};

static int diff_rows(struct embedded *s, long long account_id, const struct vindex *ix, struct row_diff *d,
		     struct fs_error *e)
{
	struct db_res r;
	memset(d, 0, sizeof(*d));
	int rc = db_exec(s->db, &r, e, "SELECT vec_seq FROM chunks WHERE account_id = ? AND dims = ? ORDER BY vec_seq",
			 "ii", account_id, (long long)s->base.dims);
	if (rc < 0)
		return rc;
	size_t n = r.nrows;
	uint64_t *table = xmalloc((n ? n : 1) * sizeof(*table));
	for (size_t i = 0; i < n; i++)
		table[i] = (uint64_t)db_cell_ll(&r, i, 0, 0);
	db_res_release(&r);
	d->keep = xmalloc(ix->n ? ix->n : 1);
	for (size_t i = 0; i < ix->n; i++)
		d->keep[i] = (uint8_t)held(table, n, ix->seq[i]);
	uint64_t *mine = xmalloc((ix->n ? ix->n : 1) * sizeof(*mine));
	if (ix->n) {
		memcpy(mine, ix->seq, ix->n * sizeof(*mine));
		qsort(mine, ix->n, sizeof(*mine), cmp_u64);
	}
	d->want = xmalloc((n ? n : 1) * sizeof(*d->want));
	for (size_t i = 0; i < n; i++) /* table order is ascending */
		if (!held(mine, ix->n, table[i]))
			d->want[d->nwant++] = table[i];
	free(mine);
	free(table);
	return 0;
}

static void diff_release(struct row_diff *d)
{
	free(d->keep);
	free(d->want);
}

/* Brings ix (in memory) up to date with the account's rows in the table. */
static int sync_rows(struct embedded *s, long long account_id, struct vindex *ix, struct fs_error *e)
{
	struct row_diff d;
	int rc = diff_rows(s, account_id, ix, &d, e);
	if (rc < 0)
		return rc;
	vindex_retain(ix, d.keep);
	rc = d.nwant ? load_rows(s, account_id, ix, d.want, d.nwant, e) : 0;
	diff_release(&d);
	return rc;
}

/* Whether two labels are of the same database (stamp) and vector epoch: the same vectors, rows may have come or
 * gone since one of them. */
static int same_vectors(const struct vindex_label *a, const struct vindex_label *b)
{
	return a->epoch == b->epoch && a->stamp == b->stamp;
}

static int same_label(const struct vindex_label *a, const struct vindex_label *b)
{
	return a->generation == b->generation && same_vectors(a, b);
}

/* The folder cannot be used: this process keeps its own copies from now on. */
static void give_up_files(struct embedded *s, const char *why)
{
	fprintf(stderr, "faqsure: %s; this process keeps its own copy of the vectors in memory instead ([vector]"
		" index_dir must be a folder on local disk that the web server's user and the worker may write)\n", why);
	free(s->dir);
	s->dir = NULL;
}

/* The account's file, or its lock file, in the folder. */
static int file_path(const struct embedded *s, long long account_id, const char *suffix, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/account-%lld-%zu.%s", s->dir, account_id, s->base.dims, suffix);
	return n > 0 && (size_t)n < size ? 0 : -1;
}

/* c's index becomes m (a mapped file, or one in memory), labelled got. */
static void adopt(struct cached *c, struct vindex *m, const struct vindex_label *got)
{
	vindex_release(&c->ix);
	c->ix = *m;
	c->label = *got;
	c->loaded = 1;
}

/* Maps the account's file into c when it holds exactly want; 1 when it did. */
static int take_file(struct embedded *s, struct cached *c, const char *path, const struct vindex_label *want)
{
	struct vindex m;
	struct vindex_label got;
	struct fs_error err = { 0 };
	if (vindex_peek(path, &got) == 0 && !same_label(&got, want))
		return 0; /* stale: not worth mapping (and checking) */
	int rc = vindex_map(&m, path, s->base.dims, &got, &err);
	if (rc == FS_EINVAL) /* damaged or of another format: rebuilt (and replaced) below */
		fprintf(stderr, "faqsure: %s; building it again\n", err.msg);
	if (rc < 0)
		return 0;
	if (!same_label(&got, want)) {
		vindex_release(&m);
		return 0;
	}
	adopt(c, &m, &got);
	c->behind = 0;
	return 1;
}

/* Takes the lock, waiting up to ms milliseconds; 1 when it has it. */
static int lock_within(int fd, int ms)
{
	for (int waited = 0;; waited += 5) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 1;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return 0;
		if (waited >= ms)
			return 0;
		struct timespec ts = { 0, 5 * 1000000L };
		nanosleep(&ts, NULL);
	}
}

/* Whether c holds an index that may answer while the file of want is being built: the same database and epoch
 * (the same vectors), an older generation. A process with none maps the file on disk when it is such a one. */
static int can_answer_meanwhile(struct embedded *s, struct cached *c, const char *path, const struct vindex_label *want)
{
	if (c->loaded && same_vectors(&c->label, want))
		return 1;
	struct vindex m;
	struct vindex_label got;
	if (vindex_map(&m, path, s->base.dims, &got, NULL) < 0)
		return 0;
	if (!same_vectors(&got, want)) {
		vindex_release(&m);
		return 0;
	}
	adopt(c, &m, &got);
	return 1;
}

/* The account's index in the folder, brought to want: mapped when the file is current, else rebuilt under the
 * account's lock. Returns a database error, or 0; *done is 0 when the folder failed (the caller falls back). */
static int refresh_file(struct embedded *s, struct cached *c, const struct vindex_label *want, int *done,
			struct fs_error *e)
{
	char path[PATH_MAX], lock[PATH_MAX];
	*done = 0;
	if (file_path(s, c->account_id, "index", path, sizeof(path)) < 0 ||
	    file_path(s, c->account_id, "lock", lock, sizeof(lock)) < 0) {
		give_up_files(s, "[vector] index_dir is too long a path");
		return 0;
	}
	if (take_file(s, c, path, want)) {
		*done = 1;
		return 0;
	}
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, FILE_MODE);
	if (fd >= 0)
		(void)fchmod(fd, FILE_MODE); /* whatever the umask (fails harmlessly when another user made it) */
	if (fd < 0) {
		char why[PATH_MAX + 64];
		snprintf(why, sizeof(why), "cannot open %s: %s", lock, strerror(errno));
		give_up_files(s, why);
		return 0;
	}
	if (!lock_within(fd, c->behind ? 0 : REBUILD_WAIT_MS)) {
		if (can_answer_meanwhile(s, c, path, want)) {
			c->behind = 1; /* the label stays the old one: the next search looks again */
			close(fd);
			*done = 1;
			return 0;
		}
		while (flock(fd, LOCK_EX) < 0 && errno == EINTR) /* nothing to answer from: wait for the builder */
			;
	}
	if (take_file(s, c, path, want)) { /* another process built it while this one waited */
		close(fd);
		*done = 1;
		return 0;
	}
	/* Build from what is at hand: this process's index or the file on disk, when of the same epoch and stamp
	 * (the rows are the same, only some came or went), else from nothing. The new file is written from the old
	 * one's rows that stay and the rows that came, read from the table; nothing else is copied. */
	struct vindex empty, old, add;
	struct vindex_label old_label;
	const struct vindex *base = &empty;
	int have_old = 0;
	vindex_init(&empty, s->base.dims);
	if (c->loaded && same_vectors(&c->label, want)) {
		if (!c->ix.map)
			vindex_prepare(&c->ix);
		base = &c->ix;
	} else if (vindex_map(&old, path, s->base.dims, &old_label, NULL) == 0) {
		have_old = 1;
		if (same_vectors(&old_label, want))
			base = &old;
	}
	struct row_diff d;
	vindex_init(&add, s->base.dims);
	int rc = diff_rows(s, c->account_id, base, &d, e);
	if (rc == 0 && d.nwant)
		rc = load_rows(s, c->account_id, &add, d.want, d.nwant, e);
	if (rc == 0) {
		struct fs_error werr = { 0 };
		if (vindex_write_merged(base, d.keep, &add, path, want, FILE_MODE, &werr) == 0 &&
		    take_file(s, c, path, want))
			*done = 1;
		else /* the caller builds this process's own copy instead */
			give_up_files(s, werr.msg[0] ? werr.msg : "the index file just written cannot be read back");
	}
	diff_release(&d);
	vindex_release(&add);
	if (have_old)
		vindex_release(&old);
	vindex_release(&empty);
	close(fd);
	return rc;
}

/* Brings the account's index up to date with the table. */
static int refresh(struct embedded *s, struct cached *c, struct fs_error *e)
{
	struct db_res r;
	int rc = db_exec(s->db, &r, e,
			 "SELECT generation, epoch, stamp FROM vector_generations WHERE account_id = ?", "i",
			 c->account_id);
	if (rc < 0)
		return rc;
	struct vindex_label want = { 0, 0, 0 };
	if (r.nrows) {
		want.generation = (uint64_t)db_cell_ll(&r, 0, 0, 0);
		want.epoch = (uint64_t)db_cell_ll(&r, 0, 1, 0);
		want.stamp = (uint64_t)db_cell_ll(&r, 0, 2, 0);
	}
	db_res_release(&r);
	if (c->loaded && same_label(&c->label, &want))
		return 0;
	if (s->dir) {
		int done;
		rc = refresh_file(s, c, &want, &done, e);
		if (rc < 0 || done)
			return rc;
	}
	/* this process's own copy */
	if (c->ix.map || !same_vectors(&c->label, &want)) {
		vindex_release(&c->ix); /* from a file, or of another epoch or database: start over */
		vindex_init(&c->ix, s->base.dims);
	}
	rc = sync_rows(s, c->account_id, &c->ix, e);
	if (rc == 0) {
		c->label = want;
		c->loaded = 1;
	}
	return rc;
}

/* The account's slot, brought up to date; a failed refresh leaves it to be looked at again next time. */
static int current(struct embedded *s, long long account_id, struct cached **out, struct fs_error *e)
{
	struct cached *c = cache_for(s, account_id);
	int rc = refresh(s, c, e);
	if (rc < 0)
		c->loaded = 0;
	*out = c;
	return rc;
}

static int embedded_search(struct vstore *vs, const struct vstore_query *q, struct vstore_hit *hits, size_t *nhits,
			   struct fs_error *e)
{
	struct cached *c;
	int rc = current((struct embedded *)vs, q->account_id, &c, e);
	if (rc == 0)
		*nhits = vindex_search(&c->ix, q, hits);
	return rc;
}

static int embedded_warm(struct vstore *vs, long long account_id, struct fs_error *e)
{
	struct embedded *s = (struct embedded *)vs;
	struct cached *c;
	if (!s->dir) /* without the files, a copy here helps no other process */
		return 0;
	return current(s, account_id, &c, e);
}

/* A temporary file older than this was left by a writer that died. */
#define STALE_TMP_SECONDS 3600

/* The folder's files of accounts without a generation row (deleted: `faqsurectl account delete` drops it; an
 * account that never had a chunk has none either, and its empty file costs nothing to build again), of another
 * vector size (the embedder changed), and temporary files a writer that died left behind. */
static int embedded_tidy(struct vstore *vs, struct fs_error *e)
{
	struct embedded *s = (struct embedded *)vs;
	if (!s->dir)
		return 0;
	DIR *d = opendir(s->dir);
	if (!d)
		return 0;
	int removed = 0, rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		long long account;
		size_t dims;
		int used = 0;
		char path[PATH_MAX], suffix[16];
		if (snprintf(path, sizeof(path), "%s/%s", s->dir, de->d_name) >= (int)sizeof(path))
			continue;
		if (strstr(de->d_name, ".tmp") && !strncmp(de->d_name, "account-", 8)) {
			struct stat st;
			if (stat(path, &st) == 0 && time(NULL) - st.st_mtime > STALE_TMP_SECONDS && unlink(path) == 0)
				removed++;
			continue;
		}
		if (sscanf(de->d_name, "account-%lld-%zu.%15[a-z]%n", &account, &dims, suffix, &used) != 3 ||
		    de->d_name[used] || (strcmp(suffix, "index") && strcmp(suffix, "lock")))
			continue;
		int gone = dims != s->base.dims;
		if (!gone) {
			struct db_res r;
			rc = db_exec(s->db, &r, e, "SELECT 1 FROM vector_generations WHERE account_id = ?", "i", account);
			if (rc < 0)
				break;
			gone = r.nrows == 0;
			db_res_release(&r);
		}
		if (gone && unlink(path) == 0)
			removed++;
	}
	closedir(d);
	return rc < 0 ? rc : removed;
}

const struct vstore_ops vstore_embedded_ops = {
	.name = "embedded",
	.external = 0,
	.new = embedded_new,
	.upsert = embedded_upsert,
	.delete_document = embedded_delete_document,
	.delete_account = embedded_delete_account,
	.recreate = embedded_recreate,
	.search = embedded_search,
	.warm = embedded_warm,
	.tidy = embedded_tidy,
	.free = embedded_free,
};
